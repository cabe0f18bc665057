/* Unit tests for core/manifest: build -> parse round trip, object iteration and hashes, the
 * exact text, caps, and rejection of malformed manifests (read right before a guard page). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>

#include "core/chunk.h"
#include "core/manifest.h"
#include "guard.h"

static const fb_manifest_entry objs[] = {
    {"/", 20000, "text/html;charset=utf-8", "\"abc-1\""},
    {"/img/a.png", 0, "image/png", NULL},
    {"/style.css?v=2", 16384, "text/css", "W/\"x\""},
};

static uint8_t hashes[3][32];

static int build(uint8_t *out, size_t cap)
{
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 32; i++)
            hashes[c][i] = (uint8_t)(c * 32 + i);
    return fb_manifest_build(out, cap, 16384, objs, 3, (const uint8_t(*)[32])hashes, NULL);
}

static void test_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[4096];
    int n = build(buf, sizeof(buf));
    assert_true(n > 0);
    fb_manifest_caps caps;
    fb_manifest_caps_default(&caps);
    fb_manifest m;
    guard g;
    uint8_t *p = guard_copy(&g, buf, (size_t)n);
    assert_int_equal(fb_manifest_parse(p, (size_t)n, &caps, &m), 0);
    assert_int_equal(m.n_objects, 3);
    assert_int_equal(m.n_chunks, 3);
    assert_int_equal(m.chunk_size, 16384);
    assert_int_equal(m.total_size, 36384);
    fb_manifest_iter it = {0, 0};
    fb_manifest_object o;
    uint32_t k = 0;
    while (fb_manifest_next(&m, &it, &o)) {
        assert_int_equal(o.path_len, strlen(objs[k].path));
        assert_memory_equal(o.path, objs[k].path, o.path_len);
        assert_int_equal(o.size, objs[k].size);
        assert_memory_equal(o.type, objs[k].type, o.type_len);
        if (objs[k].etag) {
            assert_int_equal(o.etag_len, strlen(objs[k].etag));
            assert_memory_equal(o.etag, objs[k].etag, o.etag_len);
        } else {
            assert_int_equal(o.etag_len, 0);
        }
        for (uint32_t c = 0; c < o.n_chunks; c++) {
            uint8_t h[32];
            fb_manifest_object_hash(&o, c, h);
            assert_memory_equal(h, hashes[o.first_chunk + c], 32);
        }
        k++;
    }
    assert_int_equal(k, 3);
    guard_free(&g);
}

static void test_exact_text(void **state)
{
    (void)state;
    uint8_t buf[4096];
    static const uint8_t h[1][32] = {{0xde, 0xad}};
    static const fb_manifest_entry one[] = {{"/a", 5, "text/plain", NULL}};
    int n = fb_manifest_build(buf, sizeof(buf), 16384, one, 1, h, NULL);
    const char *want = "flashback-manifest 1\nchunk-size 16384\nobjects 1\n"
                       "object /a 5 text/plain -\n"
                       "dead000000000000000000000000000000000000000000000000000000000000\n"
                       "end\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, (size_t)n);
    size_t need = 0;
    assert_int_equal(fb_manifest_build(buf, 10, 16384, one, 1, h, &need), FB_E2BIG);
    assert_int_equal(need, strlen(want));
}

static void test_build_rejects(void **state)
{
    (void)state;
    uint8_t buf[1024];
    static const uint8_t h[4][32];
    static const fb_manifest_entry bad[][1] = {
        {{"a", 1, "t/p", NULL}},     {{"/a b", 1, "t/p", NULL}},        {{"/../x", 1, "t/p", NULL}},
        {{"/a//b", 1, "t/p", NULL}}, {{"/a", 1, "text/html; x", NULL}}, {{"/a", 1, "", NULL}},
        {{"/./a", 1, "t/p", NULL}},  {{"/a", 1, "t/p", "\"a b\""}},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(fb_manifest_build(buf, sizeof(buf), 16384, bad[i], 1, h, NULL), FB_EINVAL);
    static const fb_manifest_entry ok[] = {{"/a", 1, "t/p", NULL}};
    assert_int_equal(fb_manifest_build(buf, sizeof(buf), 1000, ok, 1, h, NULL), FB_EINVAL);
}

static int parse_str(const char *s)
{
    fb_manifest_caps caps;
    fb_manifest_caps_default(&caps);
    fb_manifest m;
    guard g;
    size_t n = strlen(s);
    uint8_t *p = guard_copy(&g, s, n);
    int rc = fb_manifest_parse(p, n, &caps, &m);
    guard_free(&g);
    return rc;
}

#define H64  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
#define HEAD "flashback-manifest 1\nchunk-size 16384\n"

static void test_parse_rejects(void **state)
{
    (void)state;
    assert_int_equal(parse_str(HEAD "objects 1\nobject /a 5 t/p -\n" H64 "end\n"), 0);
    static const char *bad[] = {
        "",
        "flashback-manifest 2\nchunk-size 16384\nobjects 0\nend\n",
        HEAD "objects 1\nobject /a 5 t/p -\n" H64 "end",       /* no final newline */
        HEAD "objects 1\nobject /a 5 t/p -\n" H64 "end\nx",    /* trailing bytes */
        HEAD "objects 1\nobject /a 5 t/p -\n" H64,             /* no end */
        HEAD "objects 2\nobject /a 5 t/p -\n" H64 "end\n",     /* count mismatch */
        HEAD "objects 1\nobject /a 5 t/p -\nend\n",            /* missing hash */
        HEAD "objects 1\nobject /a 5 t/p -\n" H64 H64 "end\n", /* extra hash */
        HEAD "objects 1\nobject /a 05 t/p -\n" H64 "end\n",    /* leading zero */
        HEAD "objects 1\nobject /a 5  t/p -\n" H64 "end\n",    /* double space */
        HEAD "objects 1\nobject /a 5 t/p - x\n" H64 "end\n",   /* extra field */
        HEAD "objects 1\nobject /a 5 t/p\n" H64 "end\n",       /* missing field */
        HEAD "objects 1\nobject a 5 t/p -\n" H64 "end\n",      /* relative path */
        HEAD "objects 1\nobject /../a 5 t/p -\n" H64 "end\n",  /* dot segment */
        HEAD "objects 1\nobject /a 5 t/p -\n"
             "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\nend\n",
        HEAD "objects 2\nobject /a 5 t/p -\n" H64 "object /a 5 t/p -\n" H64 "end\n", /* dup */
        "flashback-manifest 1\nchunk-size 1000\nobjects 0\nend\n",
        "flashback-manifest 1\nchunk-size 0\nobjects 0\nend\n",
        "flashback-manifest 1\r\nchunk-size 16384\nobjects 0\nend\n",
        HEAD "objects 1\nobject /a 99999999999999999 t/p -\nend\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse_str(bad[i]);
        if (rc == 0)
            fail_msg("accepted bad manifest %zu", i);
    }
    /* Every prefix of a valid manifest fails, and never reads past its end. */
    uint8_t buf[4096];
    int n = build(buf, sizeof(buf));
    fb_manifest_caps caps;
    fb_manifest_caps_default(&caps);
    for (int len = 0; len < n; len++) {
        guard g;
        uint8_t *p = guard_copy(&g, buf, (size_t)len);
        fb_manifest m;
        assert_int_not_equal(fb_manifest_parse(p, (size_t)len, &caps, &m), 0);
        guard_free(&g);
    }
}

static void test_caps(void **state)
{
    (void)state;
    uint8_t buf[4096];
    int n = build(buf, sizeof(buf));
    fb_manifest m;
    fb_manifest_caps caps;
    fb_manifest_caps_default(&caps);
    caps.max_objects = 2;
    assert_int_equal(fb_manifest_parse(buf, (size_t)n, &caps, &m), FB_E2BIG);
    fb_manifest_caps_default(&caps);
    caps.max_chunks = 2;
    assert_int_equal(fb_manifest_parse(buf, (size_t)n, &caps, &m), FB_E2BIG);
    fb_manifest_caps_default(&caps);
    caps.max_total = 36383;
    assert_int_equal(fb_manifest_parse(buf, (size_t)n, &caps, &m), FB_E2BIG);
    fb_manifest_caps_default(&caps);
    caps.max_path = 5;
    assert_int_equal(fb_manifest_parse(buf, (size_t)n, &caps, &m), FB_E2BIG);
    fb_manifest_caps_default(&caps);
    assert_int_equal(fb_manifest_parse(buf, (size_t)n, &caps, &m), 0);
}

static void test_paths(void **state)
{
    (void)state;
    static const char *ok[] = {"/", "/a", "/a/", "/a/b.c", "/a?x=/../y", "/%20", "/~u/x@y"};
    static const char *bad[] = {"", "a", "/a//b", "/..", "/a/./b", "/a\\b", "/a b", "/\x01"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_true(fb_manifest_path_ok(ok[i], strlen(ok[i]), 1024));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(fb_manifest_path_ok(bad[i], strlen(bad[i]), 1024));
    assert_false(fb_manifest_path_ok("/abcdef", 7, 6));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),     cmocka_unit_test(test_exact_text),
        cmocka_unit_test(test_build_rejects), cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_caps),          cmocka_unit_test(test_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
