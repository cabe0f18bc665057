/* Unit tests for peer/urlmap: page URL -> manifest URL (the contract's table), object URLs,
 * page paths, hostile and malformed URLs, and the Flashback-Seed header forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "peer/urlmap.c"

static void test_manifest_url(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"http://example.org", "http://example.org/.flashback/manifest/"},
        {"http://example.org/", "http://example.org/.flashback/manifest/"},
        {"http://example.org/about.html", "http://example.org/.flashback/manifest/about.html"},
        {"http://example.org/news/", "http://example.org/.flashback/manifest/news/"},
        {"http://example.org/news", "http://example.org/.flashback/manifest/news"},
        {"https://example.org:8443/a/b.html?x=1&y=2#top",
         "https://example.org:8443/.flashback/manifest/a/b.html"},
        {"http://127.0.0.1:8080?q", "http://127.0.0.1:8080/.flashback/manifest/"},
        {"http://[::1]:8080/#frag", "http://[::1]:8080/.flashback/manifest/"},
        {"HTTP://Example.org/A%20B.html", "HTTP://Example.org/.flashback/manifest/A%20B.html"},
    };
    for (size_t i = 0; i < FB_ARRAY_LEN(cases); i++) {
        char out[256];
        int n = fb_url_manifest(cases[i].in, out, sizeof(out));
        assert_int_equal(n, (int)strlen(cases[i].out));
        assert_string_equal(out, cases[i].out);
    }
}

static void test_bad_urls(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "example.org/",
        "ftp://example.org/",
        "http://",
        "http:///path",
        "http://a b/",
        "http://host/pa th",
        "http://host/\x01",
        "file:///etc/passwd",
        "http:/host/",
        "https://",
        "http://host/\x7f",
    };
    char out[256];
    fb_url u;
    for (size_t i = 0; i < FB_ARRAY_LEN(bad); i++) {
        assert_int_equal(fb_url_split(bad[i], &u), FB_EINVAL);
        assert_int_equal(fb_url_manifest(bad[i], out, sizeof(out)), FB_EINVAL);
    }
    assert_int_equal(fb_url_split(NULL, &u), FB_EINVAL);
    /* Too long, and too small an output buffer. */
    char *longurl = malloc(FB_URL_MAX + 20);
    memcpy(longurl, "http://h/", 9);
    memset(longurl + 9, 'a', FB_URL_MAX);
    longurl[FB_URL_MAX + 9] = '\0';
    assert_int_equal(fb_url_split(longurl, &u), FB_E2BIG);
    free(longurl);
    assert_int_equal(fb_url_manifest("http://example.org/x", out, 10), FB_E2BIG);
    /* Exactly fitting: the NUL counts. */
    const char *want = "http://e/.flashback/manifest/";
    assert_int_equal(fb_url_manifest("http://e", out, strlen(want)), FB_E2BIG);
    assert_int_equal(fb_url_manifest("http://e", out, strlen(want) + 1), (int)strlen(want));
}

static void test_split(void **state)
{
    (void)state;
    fb_url u;
    assert_int_equal(fb_url_split("https://h.example:99/p/q?z", &u), 0);
    assert_true(u.https);
    assert_int_equal(u.origin_len, strlen("https://h.example:99"));
    assert_memory_equal(u.path, "/p/q", 4);
    assert_int_equal(u.path_len, 4);
    assert_int_equal(fb_url_split("http://h", &u), 0);
    assert_false(u.https);
    assert_int_equal(u.path_len, 0);
}

static void test_object_url(void **state)
{
    (void)state;
    char out[256];
    const char *page = "https://example.org:8443/news/?utm=1";
    assert_int_equal(fb_url_object(page, "/img/a.png", 10, out, sizeof(out)),
                     (int)strlen("https://example.org:8443/img/a.png"));
    assert_string_equal(out, "https://example.org:8443/img/a.png");
    /* The manifest path's own query is kept. */
    assert_true(fb_url_object(page, "/s.css?v=2", 10, out, sizeof(out)) > 0);
    assert_string_equal(out, "https://example.org:8443/s.css?v=2");
    /* Only the first path_len bytes count. */
    assert_true(fb_url_object(page, "/a.png trailing", 6, out, sizeof(out)) > 0);
    assert_string_equal(out, "https://example.org:8443/a.png");
    /* Paths must be absolute paths on the same origin, without spaces or fragments. */
    assert_int_equal(fb_url_object(page, "img/a.png", 9, out, sizeof(out)), FB_EINVAL);
    assert_int_equal(fb_url_object(page, "", 0, out, sizeof(out)), FB_EINVAL);
    assert_int_equal(fb_url_object(page, "/a b", 4, out, sizeof(out)), FB_EINVAL);
    assert_int_equal(fb_url_object(page, "/a#b", 4, out, sizeof(out)), FB_EINVAL);
    assert_int_equal(fb_url_object(page, "/a\nb", 4, out, sizeof(out)), FB_EINVAL);
    assert_int_equal(fb_url_object("mailto:x", "/a", 2, out, sizeof(out)), FB_EINVAL);
    assert_int_equal(fb_url_object(page, "/img/a.png", 10, out, 20), FB_E2BIG);
}

static void test_page_path(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(fb_url_page_path("http://h", out, sizeof(out)), 1);
    assert_string_equal(out, "/");
    assert_int_equal(fb_url_page_path("http://h/news/?x#y", out, sizeof(out)), 6);
    assert_string_equal(out, "/news/");
    assert_int_equal(fb_url_page_path("http://h/abc", out, 4), FB_E2BIG);
}

static void test_seed_addr(void **state)
{
    (void)state;
    fb_addr a;
    char s[FB_ADDR_STRLEN];
    assert_int_equal(fb_url_seed_addr("4242", "127.0.0.1", &a), 0);
    assert_string_equal(fb_addr_format(&a, s), "127.0.0.1:4242");
    assert_int_equal(fb_url_seed_addr(" 8080\t", "::1", &a), 0);
    assert_int_equal(a.family, 6);
    assert_string_equal(fb_addr_format(&a, s), "[::1]:8080");
    assert_int_equal(fb_url_seed_addr("192.0.2.7:9000", "127.0.0.1", &a), 0);
    assert_string_equal(fb_addr_format(&a, s), "192.0.2.7:9000");
    assert_int_equal(fb_url_seed_addr("[2001:db8::5]:443", "", &a), 0);
    assert_string_equal(fb_addr_format(&a, s), "[2001:db8::5]:443");
    static const char *const bad[] = {
        "",        "0",         "65536", "-1",           "80a",         "host:80",
        "1.2.3.4", "1.2.3.4:0", "[::1]", "1.2.3.4:80 x", "[::1]:99999", "99999999999999"};
    for (size_t i = 0; i < FB_ARRAY_LEN(bad); i++)
        assert_int_equal(fb_url_seed_addr(bad[i], "127.0.0.1", &a), FB_EINVAL);
    /* A bare port needs the address the request went to. */
    assert_int_equal(fb_url_seed_addr("80", "", &a), FB_EINVAL);
    assert_int_equal(fb_url_seed_addr("80", NULL, &a), FB_EINVAL);
    assert_int_equal(fb_url_seed_addr("80", "fe80::1%eth0", &a), FB_EINVAL);
    assert_int_equal(fb_url_seed_addr(NULL, "127.0.0.1", &a), FB_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_url), cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_split),        cmocka_unit_test(test_object_url),
        cmocka_unit_test(test_page_path),    cmocka_unit_test(test_seed_addr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
