/* Unit tests for engine/flow: the 2007 burst rule, the RTT estimator, the sender window
 * (slow start, additive increase, one halving per round trip) and the token bucket (never more
 * than rate x time + depth). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine/flow.h"

static void test_burst_rule(void **state)
{
    (void)state;
    assert_int_equal(fb_flow_next_burst(16, 16, 16), 17); /* whole: +1 */
    assert_int_equal(fb_flow_next_burst(17, 17, 12), 12); /* else: what arrived */
    assert_int_equal(fb_flow_next_burst(16, 16, 0), 1);   /* never below 1 */
    assert_int_equal(fb_flow_next_burst(16, 5, 5), 16);   /* a short burst does not grow it */
    assert_int_equal(fb_flow_next_burst(FB_BURST_MAX, FB_BURST_MAX, FB_BURST_MAX), FB_BURST_MAX);
    uint16_t b = FB_BURST_INIT;
    for (int i = 0; i < 10; i++)
        b = fb_flow_next_burst(b, b, b);
    assert_int_equal(b, 26);
}

static void test_rtt(void **state)
{
    (void)state;
    fb_rtt r = {0};
    assert_int_equal(fb_rtt_rto(&r, 1000000, 200000, 8000000), 1000000);
    fb_rtt_sample(&r, 100000);
    assert_int_equal(r.srtt, 100000);
    assert_int_equal(fb_rtt_rto(&r, 1000000, 200000, 8000000), 300000); /* 100 + 4 * 50 ms */
    for (int i = 0; i < 50; i++)
        fb_rtt_sample(&r, 40000);
    assert_true(r.srtt < 45000);
    assert_int_equal(r.min, 40000);
    assert_int_equal(fb_rtt_rto(&r, 1000000, 200000, 8000000), 200000); /* clamped */
}

static void test_window(void **state)
{
    (void)state;
    fb_upwin u;
    fb_upwin_init(&u, 32, 16, 1024);
    assert_int_equal(fb_upwin_blocks(&u), 32);
    assert_true(fb_upwin_can_send(&u, 0, 500)); /* nothing in flight: always */
    assert_true(fb_upwin_can_send(&u, 16, 16));
    assert_false(fb_upwin_can_send(&u, 17, 16));
    /* Slow start: +blocks per ack. */
    fb_upwin_ack(&u, 16, 16, 1000, 50000);
    assert_int_equal(fb_upwin_blocks(&u), 48);
    /* Loss: halve, once per round trip. */
    fb_upwin_ack(&u, 16, 10, 2000, 50000);
    assert_int_equal(fb_upwin_blocks(&u), 24);
    fb_upwin_ack(&u, 16, 10, 3000, 50000);
    assert_int_equal(fb_upwin_blocks(&u), 24);
    fb_upwin_ack(&u, 16, 10, 60000, 50000);
    assert_int_equal(fb_upwin_blocks(&u), 16); /* not below min */
    /* Congestion avoidance: about one block per window acknowledged. */
    uint32_t w0 = fb_upwin_blocks(&u);
    for (uint32_t i = 0; i < w0; i += 16)
        fb_upwin_ack(&u, 16, 16, 100000, 50000);
    assert_int_equal(fb_upwin_blocks(&u), w0 + 1);
    fb_upwin_timeout(&u, 500000, 50000);
    assert_int_equal(fb_upwin_blocks(&u), 16);
}

static void test_bucket(void **state)
{
    (void)state;
    fb_bucket b;
    fb_bucket_init(&b, 100000, 10000, 0); /* 100 KB/s, 10 KB deep, starts full */
    uint64_t sent = 0;
    uint64_t t = 0;
    /* Try to send 1100-byte datagrams every 100 us for 5 s. */
    for (; t <= 5000000; t += 100)
        if (fb_bucket_take(&b, 1100, t))
            sent += 1100;
    assert_true(sent <= 100000ull * 5 + 10000);
    assert_true(sent >= 100000ull * 5 - 1100);
    /* when(): exact refill time. */
    fb_bucket_init(&b, 1000, 2400, 0);
    assert_true(fb_bucket_take(&b, 2400, 0));
    assert_false(fb_bucket_take(&b, 100, 0));
    assert_int_equal(fb_bucket_when(&b, 100, 0), 100000);
    assert_false(fb_bucket_take(&b, 100, 99999));
    assert_true(fb_bucket_take(&b, 100, 100000));
    /* A long idle time does not overflow and only fills to depth. */
    assert_true(fb_bucket_take(&b, 2400, UINT64_MAX / 2));
    assert_false(fb_bucket_take(&b, 1, UINT64_MAX / 2));
    /* Rate 0: no cap. */
    fb_bucket_init(&b, 0, 0, 0);
    assert_true(fb_bucket_take(&b, 1000000, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_rule),
        cmocka_unit_test(test_rtt),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_bucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
