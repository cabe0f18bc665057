/* Unit tests for peer/crowdsum: completion-time statistics (nearest-rank percentiles), the
 * origin's share, the plain server's time, memory per visitor, and the exact JSON of a known
 * summary (field names are an interface: docs/PEER.md), with every too-small buffer refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "peer/crowdsum.c"
#include "peer/jsonbuf.c"

static void test_times(void **state)
{
    (void)state;
    fb_crowd_times t;
    int64_t five[] = {5000, 1000, 3000, 2000, 4001};
    fb_crowd_times_of(five, 5, &t);
    assert_int_equal(t.n, 5);
    assert_int_equal(t.mean, 3000); /* 15001 / 5, rounded */
    assert_int_equal(t.p50, 3000);
    assert_int_equal(t.p95, 5000);
    assert_int_equal(t.max, 5000);
    assert_int_equal(five[0], 1000); /* sorted in place */

    int64_t twenty[20];
    for (int i = 0; i < 20; i++)
        twenty[i] = (20 - i) * 100; /* 2000, 1900, ... 100 */
    fb_crowd_times_of(twenty, 20, &t);
    assert_int_equal(t.p50, 1000); /* the 10th smallest */
    assert_int_equal(t.p95, 1900); /* the 19th */
    assert_int_equal(t.max, 2000);
    assert_int_equal(t.mean, 1050);

    int64_t one[] = {42};
    fb_crowd_times_of(one, 1, &t);
    assert_int_equal(t.p50, 42);
    assert_int_equal(t.p95, 42);

    fb_crowd_times_of(NULL, 0, &t);
    assert_int_equal(t.n, 0);
    assert_int_equal(t.mean, -1);
    assert_int_equal(t.p95, -1);
    assert_int_equal(t.max, -1);
}

static void test_shares(void **state)
{
    (void)state;
    fb_crowd_summary s;
    fb_crowd_summary_init(&s);
    assert_int_equal(fb_crowd_origin_share_ppm(&s), -1);
    s.bytes_manifest = 10;
    s.bytes_origin_http = 5;
    s.bytes_seed = 10;
    s.bytes_peers = 75;
    assert_int_equal(fb_crowd_origin_bytes(&s), 25);
    assert_int_equal(fb_crowd_origin_share_ppm(&s), 250000);
    s.bytes_peers = 0;
    assert_int_equal(fb_crowd_origin_share_ppm(&s), 1000000);
    /* Huge counts do not overflow. */
    s.bytes_seed = UINT64_MAX / 4;
    s.bytes_peers = UINT64_MAX / 4;
    int64_t ppm = fb_crowd_origin_share_ppm(&s);
    assert_true(ppm > 499000 && ppm < 501000);
}

static void test_plain(void **state)
{
    (void)state;
    fb_crowd_summary s;
    fb_crowd_summary_init(&s);
    s.n = 100;
    s.page_bytes = 1964725;
    assert_int_equal(fb_crowd_plain_ms(&s), -1); /* the rate unknown */
    assert_int_equal(fb_crowd_one_page_ms(&s), -1);
    s.origin_rate = 1250000; /* 10mbit */
    assert_int_equal(fb_crowd_plain_ms(&s), 157178);
    assert_int_equal(fb_crowd_one_page_ms(&s), 1572);
    s.n = 1000;
    assert_int_equal(fb_crowd_plain_ms(&s), 1571780);

    assert_int_equal(fb_crowd_mem_per_visitor_seen(&s), 0);
    s.rss_start = 10000000;
    s.rss_peak = 250000000;
    assert_int_equal(fb_crowd_mem_per_visitor_seen(&s), 0); /* nobody active */
    s.active_peak = 100;
    assert_int_equal(fb_crowd_mem_per_visitor_seen(&s), 2400000);
    s.rss_peak = 5000000; /* below the start: unknown, not negative */
    assert_int_equal(fb_crowd_mem_per_visitor_seen(&s), 0);
}

static void fill(fb_crowd_summary *s)
{
    fb_crowd_summary_init(s);
    s->url = "http://127.0.0.1:8080/";
    s->n = 20;
    s->over_ms = 2000;
    s->timeout_ms = 60000;
    s->arrived = 20;
    s->completed = 19;
    s->failed = 1;
    s->verify_failures = 1;
    s->exit_code = 1;
    s->error = "visitor 7: \"bad\"";
    s->page_bytes = 1964725;
    s->manifest_bytes = 17890;
    s->objects = 22;
    s->chunks = 249;
    s->times = (fb_crowd_times){.n = 19, .mean = 1080, .p50 = 870, .p95 = 1810, .max = 2030};
    s->ms_makespan = 2670;
    s->ms_run = 2700;
    s->bytes_manifest = 357800;
    s->bytes_seed = 2300000;
    s->bytes_peers = 37000000;
    s->bytes_uploaded = 37000000;
    s->server_http_bytes = 373200;
    s->server_seed_bytes = 2600000;
    s->origin_rate = 1250000;
    s->rate_source = "metrics";
    s->active_peak = 19;
    s->fds_start = 14;
    s->fds_peak = 90;
    s->fd_limit = 20000;
    s->rss_start = 11000000;
    s->rss_peak = 57000000;
}

static void test_json(void **state)
{
    (void)state;
    fb_crowd_summary s;
    char out[4096];
    fill(&s);
    const char *want =
        "{\"url\":\"http://127.0.0.1:8080/\",\"n\":20,\"arrivals\":\"poisson\",\"over_ms\":2000,"
        "\"linger_ms\":0,\"timeout_ms\":60000,\"arrived\":20,\"completed\":19,\"failed\":1,"
        "\"verify_failures\":1,\"exit\":1,\"error\":\"visitor 7: \\\"bad\\\"\","
        "\"page_bytes\":1964725,\"manifest_bytes\":17890,\"objects\":22,\"chunks\":249,"
        "\"ms_mean\":1080,\"ms_p50\":870,\"ms_p95\":1810,\"ms_max\":2030,\"ms_makespan\":2670,"
        "\"ms_run\":2700,\"bytes_origin\":2657800,\"bytes_manifest\":357800,"
        "\"bytes_origin_http\":0,\"bytes_seed\":2300000,\"bytes_peers\":37000000,"
        "\"bytes_uploaded\":37000000,\"chunks_bad\":0,\"origin_share\":0.067018,"
        "\"server_http_bytes\":373200,\"server_seed_bytes\":2600000,\"origin_rate\":1250000,"
        "\"origin_rate_source\":\"metrics\",\"plain_ms\":31436,\"one_page_ms\":1572,"
        "\"active_peak\":19,\"fds_start\":14,\"fds_peak\":90,\"fd_limit\":20000,"
        "\"rss_start\":11000000,\"rss_peak\":57000000,\"mem_per_visitor\":2421052}\n";
    int n = fb_crowd_summary_json(&s, out, sizeof(out));
    assert_string_equal(out, want);
    assert_int_equal(n, (int)strlen(want));
}

static void test_json_unknowns(void **state)
{
    (void)state;
    fb_crowd_summary s;
    char out[4096];
    fb_crowd_summary_init(&s);
    s.n = 3;
    assert_true(fb_crowd_summary_json(&s, out, sizeof(out)) > 0);
    assert_non_null(strstr(out, "\"ms_mean\":null,\"ms_p50\":null,\"ms_p95\":null,"
                                "\"ms_max\":null,\"ms_makespan\":null,\"ms_run\":null,"));
    assert_non_null(strstr(out, "\"origin_share\":null,"));
    assert_non_null(strstr(out, "\"server_http_bytes\":-1,\"server_seed_bytes\":-1,"));
    assert_non_null(strstr(out, "\"origin_rate\":0,\"origin_rate_source\":\"none\","
                                "\"plain_ms\":null,\"one_page_ms\":null,"));
    s.bytes_peers = 1; /* a share of exactly 0 */
    assert_true(fb_crowd_summary_json(&s, out, sizeof(out)) > 0);
    assert_non_null(strstr(out, "\"origin_share\":0.000000,"));
}

static void test_caps(void **state)
{
    (void)state;
    fb_crowd_summary s;
    char full[4096];
    fill(&s);
    int need = fb_crowd_summary_json(&s, full, sizeof(full));
    assert_true(need > 0);
    for (int cap = 0; cap <= need; cap++) {
        char *buf = malloc((size_t)cap + 16);
        memset(buf, 'Z', (size_t)cap + 16);
        assert_int_equal(fb_crowd_summary_json(&s, buf, (size_t)cap), FB_E2BIG);
        for (int i = cap; i < cap + 16; i++)
            assert_int_equal(buf[i], 'Z');
        free(buf);
    }
    char exact[4096];
    assert_int_equal(fb_crowd_summary_json(&s, exact, (size_t)need + 1), need);
    assert_string_equal(exact, full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_times),         cmocka_unit_test(test_shares),
        cmocka_unit_test(test_plain),         cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_unknowns), cmocka_unit_test(test_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
