/* Unit tests for core/http_cond: Range sets, entity-tag lists, and the precedence of the
 * conditional headers, on requests parsed by the real parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "core/http_cond.h"
#include "guard.h"

/* Copies s[0..n) to end right before a guard page; valid until the next call. */
static char *gcopy(const void *s, size_t n)
{
    static guard last;
    if (last.map)
        guard_free(&last);
    return (char *)guard_copy(&last, s, n);
}

static fb_range_result range(const char *v, uint64_t size, uint64_t *f, uint64_t *l)
{
    return fb_http_range_parse(gcopy(v, strlen(v)), strlen(v), size, f, l);
}

static void test_range(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        uint64_t size;
        fb_range_result r;
        uint64_t first, last;
    } cases[] = {
        {"bytes=0-99", 1000, FB_RANGE_ONE, 0, 99},
        {"bytes=0-0", 1000, FB_RANGE_ONE, 0, 0},
        {"bytes=100-", 1000, FB_RANGE_ONE, 100, 999},
        {"bytes=-100", 1000, FB_RANGE_ONE, 900, 999},
        {"bytes=-5000", 1000, FB_RANGE_ONE, 0, 999},
        {"bytes=500-5000", 1000, FB_RANGE_ONE, 500, 999},
        {"bytes=999-999", 1000, FB_RANGE_ONE, 999, 999},
        {"Bytes=1-2", 1000, FB_RANGE_ONE, 1, 2},
        {"bytes= 1-2 ,", 1000, FB_RANGE_ONE, 1, 2},
        {"bytes=0-18446744073709551615999", 10, FB_RANGE_ONE, 0, 9},
        {"bytes=0-1,5-6", 1000, FB_RANGE_MULTI, 0, 0},
        {"bytes=0-0,-1", 1000, FB_RANGE_MULTI, 0, 0},
        {"bytes=5-6,2000-3000", 1000, FB_RANGE_ONE, 5, 6},
        {"bytes=1000-", 1000, FB_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=1000-2000", 1000, FB_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-0", 1000, FB_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=0-", 0, FB_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-1", 0, FB_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=99999999999999999999999-", 1000, FB_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=5-4", 1000, FB_RANGE_NONE, 0, 0},
        {"bytes=", 1000, FB_RANGE_NONE, 0, 0},
        {"bytes=a-b", 1000, FB_RANGE_NONE, 0, 0},
        {"bytes=1-2;x", 1000, FB_RANGE_NONE, 0, 0},
        {"bytes=--1", 1000, FB_RANGE_NONE, 0, 0},
        {"bytes 0-1", 1000, FB_RANGE_NONE, 0, 0},
        {"items=0-1", 1000, FB_RANGE_NONE, 0, 0},
        {"bytes=0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15,16-17,18-19,20-21,22-23,24-25,26-27,"
         "28-29,30-31,32-33",
         1000, FB_RANGE_NONE, 0, 0},
    };
    for (size_t i = 0; i < FB_ARRAY_LEN(cases); i++) {
        uint64_t f = 77, l = 77;
        fb_range_result r = range(cases[i].v, cases[i].size, &f, &l);
        if (r != cases[i].r)
            fail_msg("'%s': got %d want %d", cases[i].v, r, cases[i].r);
        if (r == FB_RANGE_ONE && (f != cases[i].first || l != cases[i].last))
            fail_msg("'%s': got %llu-%llu", cases[i].v, (unsigned long long)f,
                     (unsigned long long)l);
    }
}

static bool etag(const char *list, bool weak)
{
    return fb_http_etag_match(gcopy(list, strlen(list)), strlen(list), "\"abc\"", 5, weak);
}

static void test_etag(void **state)
{
    (void)state;
    assert_true(etag("\"abc\"", true));
    assert_true(etag("\"abc\"", false));
    assert_true(etag("*", false));
    assert_true(etag(" * ", true));
    assert_true(etag("\"x\", \"abc\"", true));
    assert_true(etag("\"x\",\"abc\" ", false));
    assert_true(etag("W/\"abc\"", true));
    assert_false(etag("W/\"abc\"", false)); /* strong comparison: weak tags never match */
    assert_false(etag("\"abcd\"", true));
    assert_false(etag("\"ab\"", true));
    assert_false(etag("abc", true));
    assert_false(etag("\"abc", true));
    assert_false(etag("\"x\" \"abc\"", true)); /* missing comma: malformed */
    assert_false(etag("*, \"abc\"", true));
    assert_false(etag("", true));
}

static bool gz(const char *v)
{
    return fb_http_accepts_coding(v, strlen(v), "gzip");
}

static void test_accepts_coding(void **state)
{
    (void)state;
    assert_true(gz("gzip"));
    assert_true(gz("GZip"));
    assert_true(gz("x-gzip"));
    assert_true(gz("deflate, gzip"));
    assert_true(gz("br;q=1.0, gzip;q=0.8, *;q=0.1"));
    assert_true(gz("gzip ; q=0.001"));
    assert_true(gz("gzip;q=1"));
    assert_true(gz("*"));
    assert_true(gz("identity, *;q=0.5"));
    assert_true(gz(" , gzip ,"));
    assert_false(gz(""));
    assert_false(gz("identity"));
    assert_false(gz("deflate, br"));
    assert_false(gz("gzip;q=0"));
    assert_false(gz("gzip;q=0.000"));
    assert_false(gz("*;q=0"));
    assert_false(gz("gzip;q=0, *")); /* named and refused: the star does not bring it back */
    assert_false(gz("gzipx"));
    assert_false(gz("gzi"));
    /* malformed: nothing is accepted */
    assert_false(gz("gzip;q=2"));
    assert_false(gz("gzip;q=1.5"));
    assert_false(gz("gzip;q=0.1234"));
    assert_false(gz("gzip;q="));
    assert_false(gz("gzip;q"));
    assert_false(gz("gzip deflate"));
    assert_false(gz("gzip;q=0.5 x"));
    assert_false(gz("\"gzip\""));
    assert_true(fb_http_accepts_coding("deflate", 7, "deflate"));
    assert_true(fb_http_accepts_coding("gzip", 3 + 1, "gzip"));
    assert_false(fb_http_accepts_coding("gzip", 3, "gzip")); /* only len bytes are read */
}

static fb_http_header hdrs[16];

static void eval(const char *head, uint64_t size, fb_http_cond *c)
{
    static const fb_http_limits lim = {.max_head = 4096, .max_headers = 16};
    fb_http_request r;
    memset(&r, 0, sizeof(r));
    r.headers = hdrs;
    char *buf = gcopy(head, strlen(head));
    assert_true(fb_http_parse_request(buf, strlen(head), 0, &lim, &r) > 0);
    fb_http_validators v = {.etag = "\"e1\"", .etag_len = 4, .mtime = 784111777, .size = size};
    fb_http_cond_eval(&r, &v, 1780000000, c);
}

#define LM      "Sun, 06 Nov 1994 08:49:37 GMT"
#define LATER   "Sun, 06 Nov 1994 08:49:38 GMT"
#define EARLIER "Sun, 06 Nov 1994 08:49:36 GMT"

static void test_eval(void **state)
{
    (void)state;
    static const struct {
        const char *head;
        int status;
        uint64_t first, last;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 200, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"e1\"\r\n\r\n", 304, 0, 0},
        {"HEAD / HTTP/1.1\r\nHost: a\r\nIf-None-Match: W/\"e1\"\r\n\r\n", 304, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"e2\"\r\n\r\n", 200, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: " LM "\r\n\r\n", 304, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: " LATER "\r\n\r\n", 304, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: " EARLIER "\r\n\r\n", 200, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: garbage\r\n\r\n", 200, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: Sunday, 06-Nov-94 08:49:37 GMT\r\n\r\n",
         304, 0, 0},
        /* If-None-Match wins over If-Modified-Since. */
        {"GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"e2\"\r\nIf-Modified-Since: " LATER
         "\r\n\r\n",
         200, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nIf-Match: \"e2\"\r\n\r\n", 412, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nIf-Match: W/\"e1\"\r\n\r\n", 412, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nIf-Match: \"e1\"\r\n\r\n", 200, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nIf-Unmodified-Since: " EARLIER "\r\n\r\n", 412, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nIf-Unmodified-Since: " LM "\r\n\r\n", 200, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=10-19\r\n\r\n", 206, 10, 19},
        {"HEAD / HTTP/1.1\r\nHost: a\r\nRange: bytes=10-19\r\n\r\n", 200, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=100-\r\n\r\n", 416, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1,3-4\r\n\r\n", 200, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=-10\r\nIf-Range: \"e1\"\r\n\r\n", 206, 90, 99},
        {"GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=-10\r\nIf-Range: \"e2\"\r\n\r\n", 200, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=-10\r\nIf-Range: W/\"e1\"\r\n\r\n", 200, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=-10\r\nIf-Range: " LM "\r\n\r\n", 206, 90, 99},
        {"GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=-10\r\nIf-Range: " LATER "\r\n\r\n", 200, 0, 0},
        /* A 304 takes precedence over a Range. */
        {"GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\nIf-None-Match: *\r\n\r\n", 304, 0, 0},
    };
    for (size_t i = 0; i < FB_ARRAY_LEN(cases); i++) {
        fb_http_cond c;
        eval(cases[i].head, 100, &c);
        if (c.status != cases[i].status)
            fail_msg("case %zu: got %d want %d", i, c.status, cases[i].status);
        if (c.status == 206 && (c.first != cases[i].first || c.last != cases[i].last))
            fail_msg("case %zu: wrong range", i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_etag),
        cmocka_unit_test(test_accepts_coding),
        cmocka_unit_test(test_eval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
