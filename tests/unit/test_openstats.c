/* Unit tests for peer/openstats: summing page counters (adds, maxima, what is left alone), the
 * JSON line (names, the swarm sum beside the request counters, the origin share with and without
 * bytes, escaping), and every output cap below the needed size failing cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "peer/getstats.c"
#include "peer/jsonbuf.c"
#include "peer/openstats.c"

static void test_add(void **state)
{
    (void)state;
    fb_get_stats sum, a, b;
    fb_get_stats_init(&sum);
    fb_get_stats_init(&a);
    fb_get_stats_init(&b);
    a.bytes_peers = 100, a.bytes_seed = 10, a.bans = 2, a.neighbours_max = 5, a.chunks = 7;
    a.ms_complete = 40, a.mode = "swarm";
    b.bytes_peers = 1, b.bytes_origin_http = 1000, b.bans = 1, b.neighbours_max = 9, b.chunks = 3;
    b.manifest_fetches = 2;
    fb_open_stats_add(&sum, &a);
    fb_open_stats_add(&sum, &b);
    assert_int_equal(sum.bytes_peers, 101);
    assert_int_equal(sum.bytes_seed, 10);
    assert_int_equal(sum.bytes_origin_http, 1000);
    assert_int_equal(sum.chunks, 10);
    assert_int_equal(sum.manifest_fetches, 2);
    assert_int_equal(sum.bans, 2);           /* the larger */
    assert_int_equal(sum.neighbours_max, 9); /* the larger */
    assert_int_equal(sum.ms_complete, -1);   /* times are not summed */
    assert_string_equal(sum.mode, "none");
}

static void test_json(void **state)
{
    (void)state;
    fb_open_stats s;
    char out[4096];
    fb_open_stats_init(&s);
    s.origin = "http://127.0.0.1:8080";
    s.local = "http://127.0.0.1:9/\"x\"";
    s.pages = 2;
    s.requests = 30;
    s.served_swarm = 25;
    s.served_proxy = 3;
    s.bytes_proxy = 100;
    s.swarm.bytes_peers = 1800;
    s.swarm.bytes_seed = 50;
    s.swarm.bytes_origin_http = 40;
    s.swarm.bytes_manifest = 10;
    int n = fb_open_stats_json(&s, out, sizeof(out));
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(out));
    assert_true(out[0] == '{' && out[n - 2] == '}' && out[n - 1] == '\n');
    assert_non_null(strstr(out, "\"origin\":\"http://127.0.0.1:8080\","));
    assert_non_null(strstr(out, "\"local\":\"http://127.0.0.1:9/\\\"x\\\"\","));
    assert_non_null(strstr(out, "\"pages\":2,"));
    assert_non_null(strstr(out, "\"served_swarm\":25,\"served_proxy\":3,"));
    assert_non_null(strstr(out, "\"bytes_peers\":1800,"));
    /* origin = 40 + 10 + 50 + 100 = 200 of 2000 received: 100 per mille */
    assert_non_null(strstr(out, "\"origin_share_permille\":100}"));
    assert_null(strstr(out, ",}"));

    fb_open_stats_init(&s);
    n = fb_open_stats_json(&s, out, sizeof(out));
    assert_true(n > 0);
    assert_non_null(strstr(out, "\"origin_share_permille\":-1}")); /* nothing received */
    assert_non_null(strstr(out, "\"origin\":\"\","));
}

static void test_caps(void **state)
{
    (void)state;
    fb_open_stats s;
    char full[4096], out[4096];
    fb_open_stats_init(&s);
    s.origin = "http://example.org";
    int n = fb_open_stats_json(&s, full, sizeof(full));
    assert_true(n > 0);
    for (size_t cap = 0; cap <= (size_t)n; cap++) {
        memset(out, 'Z', sizeof(out));
        assert_int_equal(fb_open_stats_json(&s, out, cap), FB_E2BIG);
        for (size_t i = cap; i < sizeof(out); i++)
            assert_int_equal(out[i], 'Z'); /* nothing written past the cap */
    }
    assert_int_equal(fb_open_stats_json(&s, out, (size_t)n + 1), n);
    assert_string_equal(out, full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
