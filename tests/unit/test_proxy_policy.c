/* Unit tests for core/proxy_policy: the header scan (Cache-Control, Set-Cookie, Vary, content
 * codings, validators), the store / shared / private verdict, freshness, relayed lines, the
 * path -> mirror file mapping and the --upstream URL check. Inputs sit before a guard page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "core/proxy_policy.h"
#include "guard.h"

/* Copies s to end right before a guard page; valid until the next call. */
static const char *gcopy(const char *s)
{
    static guard last;
    if (last.map)
        guard_free(&last);
    return (const char *)guard_copy(&last, s, strlen(s));
}

static fb_proxy_answer scan(const char *hdr)
{
    fb_proxy_answer a;
    fb_proxy_scan(gcopy(hdr), strlen(hdr), &a);
    return a;
}

static fb_proxy_verdict decide(int status, const char *hdr, uint64_t len)
{
    fb_proxy_answer a = scan(hdr);
    return fb_proxy_decide(status, &a, len, 1000);
}

static void test_verdicts(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *hdr;
        uint64_t len;
        fb_proxy_verdict want;
    } cases[] = {
        {200, "Content-Type: text/html\r\n", 10, FB_PROXY_STORE},
        {200, "", 0, FB_PROXY_STORE},
        {200, "Cache-Control: public, max-age=60\r\n", 10, FB_PROXY_STORE},
        {200, "Vary: Accept-Encoding\r\n", 10, FB_PROXY_STORE},
        {200, "Vary: accept-encoding, ACCEPT-ENCODING\r\n", 10, FB_PROXY_STORE},
        {200, "Content-Encoding: identity\r\n", 10, FB_PROXY_STORE},
        {200, "Cache-Control: max-age=0\r\n", 10, FB_PROXY_STORE},
        {200, "Content-Type: text/html\r\n", 1000, FB_PROXY_STORE},
        {200, "Content-Type: text/html\r\n", 1001, FB_PROXY_SHARED},
        {200, "Set-Cookie: a=b\r\n", 10, FB_PROXY_PRIVATE},
        {200, "set-cookie:a=b\n", 10, FB_PROXY_PRIVATE},
        {404, "Set-Cookie: a=b\r\n", 10, FB_PROXY_PRIVATE},
        {200, "Cache-Control: no-store\r\n", 10, FB_PROXY_PRIVATE},
        {200, "Cache-Control: public\r\nCache-Control: PRIVATE\r\n", 10, FB_PROXY_PRIVATE},
        {200, "Cache-Control: private=\"Set-Cookie, X\"\r\n", 10, FB_PROXY_PRIVATE},
        {200, "Cache-Control: no-cache\r\n", 10, FB_PROXY_SHARED},
        {200, "Cache-Control: max-age=abc\r\n", 10, FB_PROXY_SHARED},
        {200, "Vary: Accept-Encoding, Cookie\r\n", 10, FB_PROXY_SHARED},
        {200, "Vary: *\r\n", 10, FB_PROXY_SHARED},
        {200, "Content-Encoding: gzip\r\n", 10, FB_PROXY_SHARED},
        {404, "Content-Type: text/html\r\n", 10, FB_PROXY_SHARED},
        {301, "Location: /x/\r\n", 10, FB_PROXY_SHARED},
        {206, "", 10, FB_PROXY_SHARED},
        /* a type too long for the mirror's table is relayed instead */
        {200,
         "Content-Type: text/html; charset=utf-8; a=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
         "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n",
         10, FB_PROXY_SHARED},
        /* a quoted comma does not split a directive */
        {200, "Cache-Control: x=\"a, no-store\", max-age=5\r\n", 10, FB_PROXY_STORE},
        /* a line with a control byte is ignored, the others still count */
        {200, "X: a\x01b\r\nSet-Cookie: c=d\r\n", 10, FB_PROXY_PRIVATE},
    };
    for (size_t i = 0; i < FB_ARRAY_LEN(cases); i++) {
        fb_proxy_verdict v = decide(cases[i].status, cases[i].hdr, cases[i].len);
        if (v != cases[i].want)
            fail_msg("case %zu (%d '%s'): verdict %d, want %d", i, cases[i].status, cases[i].hdr, v,
                     cases[i].want);
    }
}

static void test_scan_fields(void **state)
{
    (void)state;
    fb_proxy_answer a =
        scan("Content-Type:  text/css; charset=utf-8 \r\nETag: \"v1\"\r\nLast-Modified: Sat, 28 "
             "Nov 2026 10:00:00 GMT\r\nETag: \"v2\"\r\nbroken line\r\n : x\r\n");
    assert_int_equal(a.content_type.n, strlen("text/css; charset=utf-8"));
    assert_memory_equal(a.content_type.p, "text/css; charset=utf-8", a.content_type.n);
    assert_int_equal(a.etag.n, 4);
    assert_memory_equal(a.etag.p, "\"v1\"", 4);
    assert_int_equal(a.last_modified.n, 29);
    assert_true(a.bad_line);
    a = scan("Content-Type: text/plain\r\n");
    assert_false(a.bad_line);
    assert_null(a.etag.p);
    /* whitespace before the colon is not a field */
    a = scan("Set-Cookie : a=b\r\n");
    assert_false(a.set_cookie);
    assert_true(a.bad_line);
}

static void test_ttl(void **state)
{
    (void)state;
    fb_proxy_answer a = scan("");
    assert_int_equal(fb_proxy_ttl_ms(&a, 1000), 1000);
    a = scan("Cache-Control: max-age=60\r\n");
    assert_int_equal(fb_proxy_ttl_ms(&a, 1000), 60000);
    a = scan("Cache-Control: max-age=60, s-maxage=5\r\n");
    assert_int_equal(fb_proxy_ttl_ms(&a, 1000), 5000);
    a = scan("Cache-Control: max-age=0\r\n");
    assert_int_equal(fb_proxy_ttl_ms(&a, 1000), 0);
    a = scan("Cache-Control: max-age=\"30\"\r\nCache-Control: max-age=10\r\n");
    assert_int_equal(fb_proxy_ttl_ms(&a, 1000), 10000); /* the smaller of two */
    a = scan("Cache-Control: max-age=99999999999999999999999\r\n");
    assert_int_equal(fb_proxy_ttl_ms(&a, 1000), (1ull << 32) * 1000);
}

static void test_relay(void **state)
{
    (void)state;
    char out[256];
    const char *in = "Content-Type: text/html\r\nServer: nginx\r\nSet-Cookie: a=1\r\n"
                     "Set-Cookie: b=2\nConnection: keep-alive\r\nLocation: /x/\r\n"
                     "Transfer-Encoding: chunked\r\nX-Bad: a\x7f\r\nCache-Control: no-store\r\n";
    int n = fb_proxy_relay_headers(gcopy(in), strlen(in), out, sizeof(out));
    const char *want = "Content-Type: text/html\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
                       "Location: /x/\r\nCache-Control: no-store\r\n";
    assert_int_equal(n, (int)strlen(want));
    assert_memory_equal(out, want, (size_t)n);
    assert_int_equal(fb_proxy_relay_headers(in, strlen(in), out, 30), FB_E2BIG);
}

static void test_mirror_path(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
        int rc;
    } cases[] = {
        {"/", "/index.html", 0},
        {"/a", "/a", 0},
        {"/a/", "/a/index.html", 0},
        {"/a/b.css", "/a/b.css", 0},
        {"/a b/c%", "/a b/c%", 0},
        {"/.flashback/x", NULL, FB_EINVAL},
        {"/a/.git/config", NULL, FB_EINVAL},
        {"/a//b", NULL, FB_EINVAL},
        {"a", NULL, FB_EINVAL},
        {"", NULL, FB_EINVAL},
    };
    char out[64];
    for (size_t i = 0; i < FB_ARRAY_LEN(cases); i++) {
        int rc = fb_proxy_mirror_path(gcopy(cases[i].in), strlen(cases[i].in), NULL, 0, out,
                                      sizeof(out));
        if (cases[i].out) {
            assert_int_equal(rc, (int)strlen(cases[i].out));
            assert_string_equal(out, cases[i].out);
        } else {
            assert_int_equal(rc, cases[i].rc);
        }
    }
    char longp[300] = "/";
    memset(longp + 1, 'x', 256);
    longp[257] = 0;
    assert_int_equal(fb_proxy_mirror_path(longp, strlen(longp), NULL, 0, out, sizeof(out)),
                     FB_E2BIG);
    longp[256] = 0; /* 255 bytes: fits a name, not this buffer */
    assert_int_equal(fb_proxy_mirror_path(longp, strlen(longp), NULL, 0, out, sizeof(out)),
                     FB_E2BIG);
    char big[300];
    assert_int_equal(fb_proxy_mirror_path(longp, strlen(longp), NULL, 0, big, sizeof(big)), 256);
    /* "/" needs 12 bytes */
    assert_int_equal(fb_proxy_mirror_path("/", 1, NULL, 0, out, 11), FB_E2BIG);
    assert_int_equal(fb_proxy_mirror_path("/", 1, NULL, 0, out, 12), 11);
}

/* With a query: a file under "/.q", distinct for every (path, query). */
static void test_mirror_path_query(void **state)
{
    (void)state;
    static const struct {
        const char *path, *query, *out;
    } cases[] = {
        {"/a/b", "x=1", "/.q/a/b/.f783d31"},
        {"/a/b/", "x=1", "/.q/a/b/.s783d31"},
        {"/", "", "/.q/.s"},
        {"/", "a", "/.q/.s61"},
        {"/index.html", "a", "/.q/index.html/.f61"},
        {"/a", "", "/.q/a/.f"},
    };
    char out[128], prev[8][128];
    for (size_t i = 0; i < FB_ARRAY_LEN(cases); i++) {
        int rc = fb_proxy_mirror_path(cases[i].path, strlen(cases[i].path), cases[i].query,
                                      strlen(cases[i].query), out, sizeof(out));
        assert_int_equal(rc, (int)strlen(cases[i].out));
        assert_string_equal(out, cases[i].out);
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(out, prev[k]);
        snprintf(prev[i], sizeof(prev[i]), "%s", out);
    }
    /* never a file a path without a query maps to: those have no hidden segment */
    assert_int_equal(fb_proxy_mirror_path("/.q/a", 5, NULL, 0, out, sizeof(out)), FB_EINVAL);
    assert_int_equal(fb_proxy_mirror_path("/.q/a", 5, "x", 1, out, sizeof(out)), FB_EINVAL);
    char q[200];
    memset(q, 'q', sizeof(q));
    assert_int_equal(fb_proxy_mirror_path("/a", 2, q, 126, out, sizeof(out)), FB_E2BIG); /* cap */
    char big[400];
    assert_int_equal(fb_proxy_mirror_path("/a", 2, q, 126, big, sizeof(big)), 3 + 2 + 1 + 254);
    assert_int_equal(fb_proxy_mirror_path("/a", 2, q, 127, big, sizeof(big)), FB_E2BIG); /* name */
}

static void test_url(void **state)
{
    (void)state;
    fb_proxy_url u;
    const char *why;
    const char *s = "http://127.0.0.1:8081/base/";
    assert_int_equal(fb_proxy_url_parse(gcopy(s), strlen(s), &u, &why), 0);
    assert_false(u.https);
    assert_int_equal(u.port, 8081);
    assert_int_equal(u.host.n, 9);
    assert_memory_equal(u.host.p, "127.0.0.1", 9);
    assert_int_equal(u.prefix.n, 5);
    assert_memory_equal(u.prefix.p, "/base", 5);
    s = "HTTPS://example.org";
    assert_int_equal(fb_proxy_url_parse(gcopy(s), strlen(s), &u, &why), 0);
    assert_true(u.https);
    assert_int_equal(u.port, 443);
    assert_int_equal(u.prefix.n, 0);
    s = "http://[::1]:80/";
    assert_int_equal(fb_proxy_url_parse(gcopy(s), strlen(s), &u, &why), 0);
    assert_int_equal(u.host.n, 5);
    static const char *const bad[] = {
        "",
        "ftp://x/",
        "http://",
        "http:///a",
        "http://x:0/",
        "http://x:65536/",
        "http://x:8a/",
        "http://x:/",
        "http://u:p@x/",
        "http://x/a?b",
        "http://x/#f",
        "http://x?b",
        "http://x/a b",
        "http://[::1/",
        "http://[::1]x/",
        "127.0.0.1:8080",
    };
    for (size_t i = 0; i < FB_ARRAY_LEN(bad); i++) {
        int rc = fb_proxy_url_parse(gcopy(bad[i]), strlen(bad[i]), &u, &why);
        if (rc != FB_EINVAL || !*why)
            fail_msg("'%s' accepted (rc %d)", bad[i], rc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdicts),    cmocka_unit_test(test_scan_fields),
        cmocka_unit_test(test_ttl),         cmocka_unit_test(test_relay),
        cmocka_unit_test(test_mirror_path), cmocka_unit_test(test_mirror_path_query),
        cmocka_unit_test(test_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
