/* Unit tests for engine/flow: the 2007 burst rule, the RTT estimator, the sender window
 * (start phase, what counts as a bottleneck report, bottleneck rate and ceiling, growth, cuts once
 * per loss episode) and the token bucket (never more than rate x time + depth, debt from forced
 * takes is paid back). */
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

/* A report is a bottleneck when its blocks arrived spread over more than the span they left
 * in, by more than 1/24: a pace 5% over the path's rate builds a queue that must count (with
 * 1/8, broadband uplinks kept 20-50 ms of standing queue in front of every control datagram). */
static void test_bottleneck(void **state)
{
    (void)state;
    assert_true(fb_rate_bottleneck(105000, 100000)); /* 5% over: a queue grew */
    assert_true(fb_rate_bottleneck(112000, 100000)); /* 12% over: under 1/8, missed before */
    assert_true(fb_rate_bottleneck(250000, 100000));
    /* Within 1/24: the jitter of the datagrams sent between the blocks. */
    assert_false(fb_rate_bottleneck(104000, 100000));
    assert_false(fb_rate_bottleneck(100000, 100000));
    assert_false(fb_rate_bottleneck(60000, 100000)); /* faster: a queue drained on the way */
    assert_false(fb_rate_bottleneck(0, 0));
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
    assert_true(fb_rate_window_open(&r, 16, FB_RATE_START_BLOCKS, 0));
    fb_rate_sent(&r, 16, 0);
    assert_false(fb_rate_window_open(&r, 1, FB_RATE_START_BLOCKS, 500));
    /* A report of a burst that met a growing queue at under half the pace sets it at once. */
    fb_rate_report(&r, 0, false, 48000, true, 0, t + 1000);
    assert_int_equal(fb_rate_pace(&r, t + 1000), 48000);
    assert_false(r.start);
    assert_true(fb_rate_window_open(&r, 64, FB_RATE_START_BLOCKS,
                                    t + 1001)); /* the rate is known: no window */
    fb_rate_sent(&r, 64, t + 1001);
    assert_true(fb_rate_window_open(&r, 64, FB_RATE_START_BLOCKS, t + 1002));
    /* At the period's end the bottleneck's rate, less 1/32 to drain the queue, is the pace and
     * a ceiling for 5 s. */
    assert_int_equal(fb_rate_pace(&r, t + 101000), 48000 - 48000 / 32);
    assert_int_equal(r.ceil, 48000);
    uint64_t p = 48000 - 48000 / 32;
    /* Limited, short queue, at the ceiling less 1/32 already: probe gently (1/64). */
    t = 201000;
    for (int i = 0; i < 3; i++)
        fb_rate_report(&r, 5000, false, p, false, t, t + (uint64_t)i);
    fb_rate_limited(&r);
    assert_int_equal(fb_rate_pace(&r, t + 100000), p + p / 64);
    p += p / 64;
    /* Not limited (idle sender): no growth. */
    t += 100000;
    fb_rate_report(&r, 5000, false, 0, false, t, t + 1);
    assert_int_equal(fb_rate_pace(&r, t + 100001), p);
    /* The ceiling forgotten (5 s on): +(target - delay) / target / 8. */
    t = 6000000;
    fb_rate_pace(&r, t);
    fb_rate_report(&r, 5000, false, p, false, t, t + 1);
    fb_rate_limited(&r);
    assert_int_equal(fb_rate_pace(&r, t + 100001), p + p * (T - 5000) / T / 8);
    p += p * (T - 5000) / T / 8;
    /* Above target: shrinks in proportion, a sixteenth at most. */
    t += 100001;
    fb_rate_report(&r, T + T / 2, false, 0, false, t, t + 1);
    assert_int_equal(fb_rate_pace(&r, t + 100001), p - p / 32);
    p = p - p / 32;
    t += 100001;
    fb_rate_report(&r, 2 * T + 50000, false, 0, false, t, t + 1);
    assert_int_equal(fb_rate_pace(&r, t + 100001), p - p / 16);
    p = p - p / 16;
    /* One lossy report among several, without a queue: the path's own loss, no cut. */
    t += 100001;
    fb_rate_report(&r, 0, true, 0, false, t, t + 1);
    fb_rate_report(&r, 0, false, 0, false, t, t + 2);
    fb_rate_report(&r, 0, false, 0, false, t, t + 3);
    assert_int_equal(fb_rate_pace(&r, t + 100001), p);
    /* Losses in most reports: congestion, 3/4. */
    t += 100001;
    fb_rate_report(&r, 0, true, 0, false, t, t + 1);
    fb_rate_report(&r, 0, true, 0, false, t, t + 2);
    assert_int_equal(fb_rate_pace(&r, t + 100001), p * 3 / 4);
    p = p * 3 / 4;
    /* Reports on blocks sent before that cut are answered already: no second cut. */
    uint64_t cut = t + 100001;
    t += 100001;
    fb_rate_report(&r, 0, true, 0, false, cut - 1, t + 1);
    fb_rate_report(&r, 0, true, 0, false, cut - 1, t + 2);
    assert_int_equal(fb_rate_pace(&r, t + 100001), p);
    /* A loss with a standing queue on blocks sent after it: congestion again. */
    t += 100001;
    fb_rate_report(&r, T, true, 0, false, t, t + 1);
    assert_int_equal(fb_rate_pace(&r, t + 100001), p * 3 / 4);
    p = p * 3 / 4;
    /* No report in a period: no change. */
    t += 100001;
    assert_int_equal(fb_rate_pace(&r, t + 300000), p);
    /* Floor. */
    for (int i = 0; i < 100; i++) {
        t += 100001;
        fb_rate_report(&r, 0, true, 0, false, t, t + 1);
        fb_rate_report(&r, 0, true, 0, false, t, t + 2);
        fb_rate_pace(&r, t + 100001);
    }
    assert_int_equal(fb_rate_pace(&r, t + 200002), 4096);
    /* The start phase doubles per period while the delay stays under half the target, and
     * ends with the rate of the first report that met a growing queue. */
    fb_rate_init(&r, 100000, 4096, 1 << 30, 0);
    fb_rate_rtt(&r, 50000);
    fb_rate_report(&r, 1000, false, 0, false, 0, 10);
    fb_rate_limited(&r);
    assert_int_equal(fb_rate_pace(&r, 100010), 200000);
    assert_true(r.start);
    fb_rate_report(&r, 1000, false, 150000, true, 100010, 100020);
    assert_int_equal(fb_rate_pace(&r, 200030), 150000);
    assert_false(r.start);
    /* Or with 3/4 when a queue stands without such a report. */
    fb_rate_init(&r, 100000, 4096, 1 << 30, 0);
    fb_rate_rtt(&r, 50000);
    fb_rate_report(&r, T, false, 0, false, 0, 10);
    assert_int_equal(fb_rate_pace(&r, 100010), 75000);
    assert_false(r.start);
    /* Start phase: requests of FB_RATE_START_BLOCKS blocks in all (or one larger request)
     * until a report gives a rate; the next opens on a report or FB_RATE_START_WAIT_US after the
     * last one started. */
    fb_rate_init(&r, 100000, 4096, 1 << 30, 0);
    assert_true(fb_rate_window_open(&r, 16, FB_RATE_START_BLOCKS, 0));
    fb_rate_sent(&r, 16, 0);
    assert_false(fb_rate_window_open(&r, 1, FB_RATE_START_BLOCKS, 500));
    assert_true(fb_rate_window_open(&r, 16, FB_RATE_START_BLOCKS, FB_RATE_START_WAIT_US));
    fb_rate_sent(&r, 16, FB_RATE_START_WAIT_US);
    assert_false(fb_rate_window_open(&r, 8, FB_RATE_START_BLOCKS, FB_RATE_START_WAIT_US + 1));
    fb_rate_report(&r, 0, false, 0, false, FB_RATE_START_WAIT_US, FB_RATE_START_WAIT_US + 2);
    assert_true(fb_rate_window_open(&r, 8, FB_RATE_START_BLOCKS,
                                    FB_RATE_START_WAIT_US + 3)); /* a report, no rate */
    fb_rate_sent(&r, 8, FB_RATE_START_WAIT_US + 3);
    /* Two one-chunk requests of 8 blocks fill the window, a third waits. */
    assert_true(fb_rate_window_open(&r, 8, FB_RATE_START_BLOCKS, FB_RATE_START_WAIT_US + 4));
    assert_false(fb_rate_window_open(&r, 9, FB_RATE_START_BLOCKS, FB_RATE_START_WAIT_US + 4));
    fb_rate_sent(&r, 8, FB_RATE_START_WAIT_US + 4);
    assert_false(fb_rate_window_open(&r, 1, FB_RATE_START_BLOCKS, FB_RATE_START_WAIT_US + 5));
    /* A wider window (a fast downlink's, fb_dl_start_window) lets more go; a narrower one than
     * FB_RATE_START_BLOCKS counts as that. */
    assert_true(fb_rate_window_open(&r, 40, 56, FB_RATE_START_WAIT_US + 5));
    assert_false(fb_rate_window_open(&r, 41, 56, FB_RATE_START_WAIT_US + 5));
    assert_false(fb_rate_window_open(&r, 1, 4, FB_RATE_START_WAIT_US + 5));
    /* One request larger than the window still goes alone. */
    fb_rate_report(&r, 0, false, 0, false, FB_RATE_START_WAIT_US, FB_RATE_START_WAIT_US + 6);
    assert_true(fb_rate_window_open(&r, 40, FB_RATE_START_BLOCKS, FB_RATE_START_WAIT_US + 7));
    fb_rate_sent(&r, 40, FB_RATE_START_WAIT_US + 7);
    assert_false(fb_rate_window_open(&r, 1, FB_RATE_START_BLOCKS, FB_RATE_START_WAIT_US + 8));
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
        cmocka_unit_test(test_burst_rule), cmocka_unit_test(test_rtt),
        cmocka_unit_test(test_bottleneck), cmocka_unit_test(test_rate),
        cmocka_unit_test(test_bucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
