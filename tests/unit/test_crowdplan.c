/* Unit tests for peer/crowdplan: arrival times (the window, the order, the seed, the shape of
 * the gaps: exponential for Poisson, constant when even), the cost of a visitor and how many fit
 * (descriptors or memory as the bound), and reading samples from a Prometheus scrape. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "peer/crowdplan.c"
#include "sim/rng.c"

#define BIG 20000

/* The coefficient of variation (stddev / mean) of the gaps between consecutive times. */
static double gap_cv(const uint32_t *t, uint32_t n)
{
    double sum = 0, sq = 0;
    for (uint32_t i = 1; i < n; i++) {
        double g = (double)t[i] - t[i - 1];
        sum += g;
        sq += g * g;
    }
    double mean = sum / (n - 1), var = sq / (n - 1) - mean * mean;
    return sqrt(var > 0 ? var : 0) / mean;
}

static void test_even(void **state)
{
    (void)state;
    uint32_t t[4];
    fb_crowd_arrivals_fill(t, 4, 1000, FB_ARRIVE_EVEN, 1);
    assert_int_equal(t[0], 0);
    assert_int_equal(t[1], 250);
    assert_int_equal(t[2], 500);
    assert_int_equal(t[3], 750);
    static uint32_t big[BIG];
    fb_crowd_arrivals_fill(big, BIG, 60000, FB_ARRIVE_EVEN, 1);
    assert_true(gap_cv(big, BIG) < 0.01);
}

static void test_burst(void **state)
{
    (void)state;
    uint32_t t[5];
    memset(t, 0xff, sizeof(t));
    fb_crowd_arrivals_fill(t, 5, 0, FB_ARRIVE_POISSON, 7);
    for (int i = 0; i < 5; i++)
        assert_int_equal(t[i], 0);
    fb_crowd_arrivals_fill(t, 0, 1000, FB_ARRIVE_POISSON, 7); /* a no-op */
}

static void test_poisson(void **state)
{
    (void)state;
    static uint32_t a[BIG], b[BIG], c[BIG];
    const uint32_t over = 100000;
    fb_crowd_arrivals_fill(a, BIG, over, FB_ARRIVE_POISSON, 1);
    fb_crowd_arrivals_fill(b, BIG, over, FB_ARRIVE_POISSON, 1);
    fb_crowd_arrivals_fill(c, BIG, over, FB_ARRIVE_POISSON, 2);
    /* Ascending, inside the window, the same for the same seed, not for another. */
    double sum = 0;
    for (uint32_t i = 0; i < BIG; i++) {
        assert_true(a[i] < over);
        if (i)
            assert_true(a[i - 1] <= a[i]);
        sum += a[i];
    }
    assert_memory_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, c, sizeof(a));
    /* Uniform over the window: the mean is near the middle, each tenth holds about a tenth. */
    assert_true(fabs(sum / BIG - over / 2.0) < over * 0.01);
    uint32_t tenth[10] = {0};
    for (uint32_t i = 0; i < BIG; i++)
        tenth[a[i] * 10 / over]++;
    for (int k = 0; k < 10; k++)
        assert_true(tenth[k] > BIG / 10 * 9 / 10 && tenth[k] < BIG / 10 * 11 / 10);
    /* Exponential gaps: their coefficient of variation is about 1 (0 for even arrivals). */
    double cv = gap_cv(a, BIG);
    assert_true(cv > 0.9 && cv < 1.1);
}

static void test_costs(void **state)
{
    (void)state;
    /* A UDP socket, curl's wake-up pair, origin_conns + 1 connections. */
    assert_int_equal(fb_crowd_fds_per_visitor(2), 6);
    assert_int_equal(fb_crowd_fds_per_visitor(4), 8);
    uint64_t page = 1964725, man = 17890;
    uint64_t m = fb_crowd_mem_per_visitor(page, man, 249, 8192, 2);
    assert_true(m >= page + 3 * man + 2 * 16 * 8192 + FB_CROWD_MEM_FIXED);
    assert_true(m < page + 3 * man + 2 * 16 * 8192 + FB_CROWD_MEM_FIXED + 249 * 64 + 1);
    assert_true(fb_crowd_mem_per_visitor(2 * page, man, 249, 8192, 2) == m + page);
}

static void test_fit(void **state)
{
    (void)state;
    bool by_fds = false;
    /* ulimit -n 256 with a few open and the reserve: 200 free, 6 each. */
    fb_crowd_room r = {.fds = 200, .mem = 0};
    assert_int_equal(fb_crowd_max_visitors(&r, 6, 2500000, &by_fds), 33);
    assert_true(by_fds);
    /* Memory the tighter bound. */
    r.fds = 19900;
    r.mem = 1000000000;
    assert_int_equal(fb_crowd_max_visitors(&r, 6, 2500000, &by_fds), 400);
    assert_false(by_fds);
    /* Nothing free. */
    r.fds = 0;
    assert_int_equal(fb_crowd_max_visitors(&r, 6, 2500000, &by_fds), 0);
    /* Unknown memory and no descriptor bound: no limit but the type's. */
    r.fds = UINT64_MAX;
    r.mem = 0;
    assert_int_equal(fb_crowd_max_visitors(&r, 1, 2500000, &by_fds), UINT32_MAX);
}

static void test_metric(void **state)
{
    (void)state;
    const char *text = "# HELP flashback_seed_up 1 when the seed runs\n"
                       "# TYPE flashback_seed_up gauge\n"
                       "flashback_seed_upload_queue 17\n"
                       "flashback_seed_up 1\n"
                       "flashback_http_responses_total{class=\"2xx\"} 40\n"
                       "flashback_seed_rate_limit_bytes\t1.25e+06\n"
                       "flashback_http_sent_bytes_total 123456789012\r\n"
                       "flashback_bad -3\n"
                       "flashback_nan NaN\n"
                       "flashback_empty \n"
                       "flashback_last 99";
    size_t len = strlen(text);
    uint64_t v = 0;
    assert_int_equal(fb_crowd_metric(text, len, "flashback_seed_up", &v), 0);
    assert_int_equal(v, 1); /* not the _upload_queue line before it */
    assert_int_equal(fb_crowd_metric(text, len, "flashback_seed_upload_queue", &v), 0);
    assert_int_equal(v, 17);
    assert_int_equal(fb_crowd_metric(text, len, "flashback_seed_rate_limit_bytes", &v), 0);
    assert_int_equal(v, 1250000);
    assert_int_equal(fb_crowd_metric(text, len, "flashback_http_sent_bytes_total", &v), 0);
    assert_true(v == 123456789012ull);
    assert_int_equal(fb_crowd_metric(text, len, "flashback_last", &v), 0);
    assert_int_equal(v, 99);
    /* A labelled sample is not the bare name; absent names; bad values. */
    assert_int_equal(fb_crowd_metric(text, len, "flashback_http_responses_total", &v), FB_ENOENT);
    assert_int_equal(fb_crowd_metric(text, len, "flashback_seed", &v), FB_ENOENT);
    assert_int_equal(fb_crowd_metric(text, len, "flashback_bad", &v), FB_EINVAL);
    assert_int_equal(fb_crowd_metric(text, len, "flashback_nan", &v), FB_EINVAL);
    assert_int_equal(fb_crowd_metric(text, len, "flashback_empty", &v), FB_EINVAL);
    /* The length is honoured: the last line cut short reads what is inside. */
    assert_int_equal(fb_crowd_metric(text, len - 1, "flashback_last", &v), 0);
    assert_int_equal(v, 9);
    assert_int_equal(fb_crowd_metric(text, 10, "flashback_seed_up", &v), FB_ENOENT);
    assert_int_equal(fb_crowd_metric("", 0, "x", &v), FB_ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_even),  cmocka_unit_test(test_burst), cmocka_unit_test(test_poisson),
        cmocka_unit_test(test_costs), cmocka_unit_test(test_fit),   cmocka_unit_test(test_metric),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
