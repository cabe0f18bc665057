/* Unit tests for peer/getstats: the exact JSON line for known counters (field names and order
 * are an interface: docs/PEER.md), escaping of hostile strings, null times, and every output
 * cap below the needed size failing cleanly without writing past it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "peer/getstats.c"
#include "peer/jsonbuf.c"

static void test_init(void **state)
{
    (void)state;
    fb_get_stats s;
    memset(&s, 0x55, sizeof(s));
    fb_get_stats_init(&s);
    assert_string_equal(s.mode, "none");
    assert_string_equal(s.error, "");
    assert_int_equal(s.bytes_peers, 0);
    assert_int_equal(s.ms_manifest, -1);
    assert_int_equal(s.ms_total, -1);
}

static void test_json(void **state)
{
    (void)state;
    fb_get_stats s;
    char out[4096];
    fb_get_stats_init(&s);
    s.url = "http://127.0.0.1:8080/";
    s.mode = "swarm";
    s.bytes_total = 2000000;
    s.bytes_manifest = 9000;
    s.bytes_origin_http = 16384;
    s.bytes_seed = 500000;
    s.bytes_peers = 1483616;
    s.bytes_uploaded = 1200000;
    s.udp_bytes_in = 2100000;
    s.udp_bytes_out = 1300000;
    s.udp_dropped = 7;
    s.udp_dgrams_in = 2050;
    s.udp_dgrams_out = 1300;
    s.udp_send_calls = 400;
    s.udp_gso_dgrams = 900;
    s.engine_ticks = 3000;
    s.objects = 22;
    s.chunks = 134;
    s.chunks_origin = 1;
    s.chunks_seed = 40;
    s.chunks_peers = 93;
    s.http_requests = 1;
    s.http_failures = 0;
    s.chunks_bad = 2;
    s.bans = 1;
    s.neighbours_added = 17;
    s.neighbours_max = 12;
    s.manifest_fetches = 1;
    s.ms_manifest = 3;
    s.ms_first_byte = 15;
    s.ms_complete = 812;
    s.ms_total = 815;
    const char *want =
        "{\"url\":\"http://127.0.0.1:8080/\",\"mode\":\"swarm\",\"exit\":0,\"error\":\"\","
        "\"bytes_total\":2000000,\"bytes_manifest\":9000,\"bytes_origin_http\":16384,"
        "\"bytes_seed\":500000,\"bytes_peers\":1483616,\"bytes_uploaded\":1200000,"
        "\"udp_bytes_in\":2100000,\"udp_bytes_out\":1300000,\"udp_dropped\":7,"
        "\"udp_dgrams_in\":2050,\"udp_dgrams_out\":1300,\"udp_send_calls\":400,"
        "\"udp_gso_dgrams\":900,\"engine_ticks\":3000,\"objects\":22,"
        "\"chunks\":134,"
        "\"chunks_origin\":1,\"chunks_seed\":40,\"chunks_peers\":93,\"http_requests\":1,"
        "\"http_failures\":0,\"chunks_bad\":2,\"bans\":1,\"neighbours_added\":17,"
        "\"neighbours_max\":12,\"manifest_fetches\":1,\"ms_manifest\":3,\"ms_first_byte\":15,"
        "\"ms_complete\":812,\"ms_total\":815}\n";
    int n = fb_get_stats_json(&s, out, sizeof(out));
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(out, want);
}

static void test_escaping_and_nulls(void **state)
{
    (void)state;
    fb_get_stats s;
    char out[4096];
    fb_get_stats_init(&s);
    s.url = "http://h/\"quoted\"\\back\x01\x1f\xc3\xa9";
    s.exit_code = 6;
    s.error = "stalled:\n\"x\"";
    int n = fb_get_stats_json(&s, out, sizeof(out));
    assert_true(n > 0);
    assert_non_null(strstr(out, "\"url\":\"http://h/\\\"quoted\\\"\\\\back\\u0001\\u001f"
                                "\\u00c3\\u00a9\""));
    assert_non_null(strstr(out, "\"error\":\"stalled:\\u000a\\\"x\\\"\""));
    assert_non_null(strstr(out, "\"exit\":6,"));
    assert_non_null(strstr(out, "\"mode\":\"none\""));
    assert_non_null(strstr(out, "\"ms_manifest\":null,\"ms_first_byte\":null,"
                                "\"ms_complete\":null,\"ms_total\":null}\n"));
    /* Nothing but printable ASCII and the final newline. */
    for (int i = 0; i < n - 1; i++)
        assert_true(out[i] >= 0x20 && out[i] < 0x7f);
    s.url = NULL;
    assert_true(fb_get_stats_json(&s, out, sizeof(out)) > 0);
    assert_non_null(strstr(out, "{\"url\":\"\","));
}

static void test_caps(void **state)
{
    (void)state;
    fb_get_stats s;
    char full[4096];
    fb_get_stats_init(&s);
    s.url = "http://example.org/";
    int need = fb_get_stats_json(&s, full, sizeof(full));
    assert_true(need > 0);
    /* Every smaller buffer fails, and nothing is written past its end. */
    for (int cap = 0; cap <= need; cap++) {
        char *buf = malloc((size_t)cap + 16);
        memset(buf, 'Z', (size_t)cap + 16);
        assert_int_equal(fb_get_stats_json(&s, buf, (size_t)cap), FB_E2BIG);
        for (int i = cap; i < cap + 16; i++)
            assert_int_equal(buf[i], 'Z');
        free(buf);
    }
    char exact[4096];
    assert_int_equal(fb_get_stats_json(&s, exact, (size_t)need + 1), need);
    assert_string_equal(exact, full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_escaping_and_nulls),
        cmocka_unit_test(test_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
