/* Unit tests for engine/flow: the 2007 burst rule, the RTT estimator, the sender window
 * (slow start, additive increase, one halving per round trip) and the token bucket (never more
 * than rate x time + depth, debt from forced takes is paid back). */
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

static void test_rate(void **state)
{
    (void)state;
    fb_rate r;
    uint64_t t = 0, T = FB_RATE_TARGET_US;
    fb_rate_init(&r, 262144, 4096, 1 << 30, t);
    fb_rate_rtt(&r, 50000); /* period 100 ms */
    assert_int_equal(r.period_us, 100000);
    assert_int_equal(fb_rate_pace(&r, t), 262144);
    /* Start phase: an arrival report under a quarter of the pace sets it (plus 1/8). */
    fb_rate_report(&r, 0, false, 48000, t + 1000);
    assert_int_equal(fb_rate_pace(&r, t + 1000), 54000);
    assert_false(r.start);
    /* The path carries the pace (3 reports, the fastest at the pace), the queue is empty, the
     * sender is limited: +(t - qd) / t / 8. */
    t = 200000;
    for (int i = 0; i < 3; i++)
        fb_rate_report(&r, 5000, false, 54000, t + (uint64_t)i);
    fb_rate_limited(&r);
    uint64_t p = fb_rate_pace(&r, t + 100000);
    assert_int_equal(p, 54000 + 54000ull * (T - 5000) / T / 8);
    /* Not limited (idle sender): no growth. */
    t += 100000;
    fb_rate_report(&r, 5000, false, 0, t + 1);
    assert_int_equal(fb_rate_pace(&r, t + 100001), p);
    /* Above target: shrinks in proportion, an eighth at most. */
    t += 100001;
    fb_rate_report(&r, 2 * T + 50000, false, 0, t + 1);
    assert_int_equal(fb_rate_pace(&r, t + 100001), p - p / 8);
    p = p - p / 8;
    /* The path carried much less than the pace while a queue stands: the pace becomes what
     * arrived (a quarter less at most). */
    t += 100001;
    for (int i = 0; i < 3; i++)
        fb_rate_report(&r, T, false, p / 2, t + 1 + (uint64_t)i);
    assert_int_equal(fb_rate_pace(&r, t + 100001), p / 4 * 3);
    p = p / 4 * 3;
    /* One lossy report among several, without a queue: the path's own loss, no cut. */
    t += 100001;
    fb_rate_report(&r, 0, true, 0, t + 1);
    fb_rate_report(&r, 0, false, 0, t + 2);
    fb_rate_report(&r, 0, false, 0, t + 3);
    assert_int_equal(fb_rate_pace(&r, t + 100001), p);
    /* Losses in most reports: congestion, 3/4. */
    t += 100001;
    fb_rate_report(&r, 0, true, 0, t + 1);
    fb_rate_report(&r, 0, true, 0, t + 2);
    assert_int_equal(fb_rate_pace(&r, t + 100001), p * 3 / 4);
    /* A loss with a standing queue: congestion too. */
    t += 100001;
    fb_rate_report(&r, T, true, 0, t + 1);
    assert_int_equal(fb_rate_pace(&r, t + 100001), p * 3 / 4 * 3 / 4);
    p = p * 3 / 4 * 3 / 4;
    /* No report in a period: no change. */
    t += 100001;
    assert_int_equal(fb_rate_pace(&r, t + 300000), p);
    /* Floor. */
    for (int i = 0; i < 100; i++) {
        t += 100001;
        fb_rate_report(&r, 0, true, 0, t + 1);
        fb_rate_report(&r, 0, true, 0, t + 2);
        fb_rate_pace(&r, t + 100001);
    }
    assert_int_equal(fb_rate_pace(&r, t + 200002), 4096);
    /* The start phase doubles per period while the delay stays under half the target, and
     * ends when the fastest report arrived under 4/5 of the pace. */
    fb_rate_init(&r, 100000, 4096, 1 << 30, 0);
    fb_rate_rtt(&r, 50000);
    fb_rate_report(&r, 1000, false, 0, 10);
    fb_rate_limited(&r);
    assert_int_equal(fb_rate_pace(&r, 100010), 200000);
    assert_true(r.start);
    fb_rate_report(&r, 1000, false, 150000, 100020);
    assert_int_equal(fb_rate_pace(&r, 200030), 150000 + 150000 / 8);
    assert_false(r.start);
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
    /* Forced takes go into debt, which later takes pay back. */
    fb_bucket_init(&b, 1000, 2400, 0);
    fb_bucket_force(&b, 3400, 0); /* 1000 bytes of debt */
    assert_false(fb_bucket_take(&b, 100, 1000000));
    assert_int_equal(fb_bucket_when(&b, 100, 1000000), 1100000);
    assert_true(fb_bucket_take(&b, 100, 1100000));
    /* Rate 0: no cap. */
    fb_bucket_init(&b, 0, 0, 0);
    assert_true(fb_bucket_take(&b, 1000000, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_rule),
        cmocka_unit_test(test_rtt),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_bucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
