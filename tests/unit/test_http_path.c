/* Unit tests for core/http_path: decoding, dot segments that never climb above the root,
 * rejected targets, query splitting, and Location encoding. Inputs sit before a guard page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "core/http_path.h"
#include "guard.h"

/* Copies s[0..n) to end right before a guard page; valid until the next call. */
static char *gcopy(const void *s, size_t n)
{
    static guard last;
    if (last.map)
        guard_free(&last);
    return (char *)guard_copy(&last, s, n);
}

static int norm(const char *target, fb_http_path *p, char *buf, size_t cap)
{
    p->path = buf;
    return fb_http_path_parse(gcopy(target, strlen(target)), strlen(target), p, cap);
}

static void test_normalize(void **state)
{
    (void)state;
    static const struct {
        const char *in, *path, *query;
    } cases[] = {
        {"/", "/", NULL},
        {"/a/b", "/a/b", NULL},
        {"/a/b/", "/a/b/", NULL},
        {"/a/./b", "/a/b", NULL},
        {"/a/../b", "/b", NULL},
        {"/a/.", "/a/", NULL},
        {"/a/..", "/", NULL},
        {"/..", "/", NULL},
        {"/../a", "/a", NULL},
        {"/../../etc/passwd", "/etc/passwd", NULL},
        {"/a/b/../../../../c", "/c", NULL},
        {"/%2e%2e/%2e%2e/etc/passwd", "/etc/passwd", NULL},
        {"/%2E%2E%2F%2E%2E%2Fetc/passwd", "/etc/passwd", NULL},
        {"/a/%2e%2e%2f..%2f..%2fb", "/b", NULL},
        {"/..%2f", "/", NULL},
        {"/.%2e/x", "/x", NULL},
        {"/a%2fb", "/a/b", NULL},
        {"//a//b//", "/a/b/", NULL},
        {"///evil.example/", "/evil.example/", NULL},
        {"/.../x", "/.../x", NULL},
        {"/a..b/.c", "/a..b/.c", NULL},
        {"/%41%62c", "/Abc", NULL},
        {"/a%20b", "/a b", NULL},
        {"/caf%C3%A9", "/caf\xc3\xa9", NULL},
        {"/x?y=1&z=%00", "/x", "y=1&z=%00"},
        {"/x?", "/x", ""},
        {"/d/?a?b", "/d/", "a?b"},
        {"http://host/a/../b?q", "/b", "q"},
        {"http://host", "/", NULL},
        {"http://host?q", "/", "q"},
        {"HTTPS://host:443/x", "/x", NULL},
    };
    for (size_t i = 0; i < FB_ARRAY_LEN(cases); i++) {
        char buf[256];
        fb_http_path p;
        int rc = norm(cases[i].in, &p, buf, sizeof(buf));
        if (rc != 0)
            fail_msg("'%s': rc %d", cases[i].in, rc);
        if (strcmp(p.path, cases[i].path) != 0)
            fail_msg("'%s': got '%s' want '%s'", cases[i].in, p.path, cases[i].path);
        assert_int_equal(p.len, strlen(cases[i].path));
        assert_int_equal(p.trailing_slash, cases[i].path[p.len - 1] == '/');
        if (cases[i].query == NULL) {
            assert_null(p.query);
        } else {
            assert_non_null(p.query);
            assert_int_equal(p.query_len, strlen(cases[i].query));
            assert_memory_equal(p.query, cases[i].query, p.query_len);
        }
    }
}

static void test_reject(void **state)
{
    (void)state;
    static const char *bad[] = {
        "/%00",    "/a%00.html", "/%0a",         "/%0D%0A", "/%7f",
        "/%zz",    "/%4",        "/%",           "/a%g0",   "*",
        "a/b",     "",           "/a#frag",      "#",       "example.com:443",
        "http://", "http:///x",  "ftp://host/x",
    };
    for (size_t i = 0; i < FB_ARRAY_LEN(bad); i++) {
        char buf[256];
        fb_http_path p;
        if (norm(bad[i], &p, buf, sizeof(buf)) != FB_EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
    }
    char buf[8];
    fb_http_path p;
    assert_int_equal(norm("/abcdefgh", &p, buf, sizeof(buf)), FB_E2BIG);
    assert_int_equal(norm("/abcde", &p, buf, sizeof(buf)), 0); /* len + 2 <= cap */
}

/* Random targets made of risky pieces: whatever comes out is rooted, has no empty, "." or ".."
 * segment, and no NUL. */
static void test_random_never_climbs(void **state)
{
    (void)state;
    static const char *pieces[] = {"/", ".",   "..",  "%2e", "%2E", "%2f", "%2F",
                                   "a", "%00", "%5c", "\\",  "%",   "?",   "%25"};
    uint32_t seed = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        char in[128];
        size_t n = 0;
        in[n++] = '/';
        int k = (int)(seed % 12);
        for (int j = 0; j < k; j++) {
            seed = seed * 1103515245u + 12345u;
            const char *pc = pieces[(seed >> 16) % FB_ARRAY_LEN(pieces)];
            memcpy(in + n, pc, strlen(pc));
            n += strlen(pc);
        }
        in[n] = '\0';
        seed = seed * 1103515245u + 12345u;
        char buf[256];
        fb_http_path p;
        if (norm(in, &p, buf, sizeof(buf)) != 0)
            continue;
        assert_true(p.path[0] == '/');
        assert_int_equal(strlen(p.path), p.len);
        for (size_t s = 1; s < p.len;) {
            size_t e = s;
            while (e < p.len && p.path[e] != '/')
                e++;
            size_t len = e - s;
            if (len == 0 || (len == 1 && p.path[s] == '.') ||
                (len == 2 && p.path[s] == '.' && p.path[s + 1] == '.'))
                fail_msg("'%s' -> '%s' keeps a bad segment", in, p.path);
            s = e + 1;
        }
    }
}

static void test_encode(void **state)
{
    (void)state;
    char out[64];
    int n = fb_http_path_encode("/a b/caf\xc3\xa9/%?#x~", 16, out, sizeof(out));
    assert_int_equal(n, (int)strlen("/a%20b/caf%C3%A9/%25%3F%23x~"));
    assert_memory_equal(out, "/a%20b/caf%C3%A9/%25%3F%23x~", (size_t)n);
    assert_int_equal(fb_http_path_encode("/  ", 3, out, 6), FB_E2BIG);
    assert_int_equal(fb_http_path_encode("/  ", 3, out, 7), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_reject),
        cmocka_unit_test(test_random_never_climbs),
        cmocka_unit_test(test_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
