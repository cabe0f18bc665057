/* Unit tests for core/mime: every listed extension, case, paths with dots, and the default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/mime.h"

static const char *mt(const char *p)
{
    return fb_mime_type(p, strlen(p));
}

static void test_table(void **state)
{
    (void)state;
    static const struct {
        const char *path, *type;
    } cases[] = {
        {"/index.html", "text/html; charset=utf-8"},
        {"/a/style.css", "text/css; charset=utf-8"},
        {"/app.js", "text/javascript; charset=utf-8"},
        {"/mod.mjs", "text/javascript; charset=utf-8"},
        {"/d.json", "application/json"},
        {"/i.svg", "image/svg+xml"},
        {"/i.png", "image/png"},
        {"/i.jpg", "image/jpeg"},
        {"/i.jpeg", "image/jpeg"},
        {"/i.gif", "image/gif"},
        {"/i.webp", "image/webp"},
        {"/i.avif", "image/avif"},
        {"/favicon.ico", "image/vnd.microsoft.icon"},
        {"/f.woff2", "font/woff2"},
        {"/m.wasm", "application/wasm"},
        {"/r.txt", "text/plain; charset=utf-8"},
        {"/s.xml", "text/xml; charset=utf-8"},
        {"/d.pdf", "application/pdf"},
        {"/v.mp4", "video/mp4"},
        {"/v.webm", "video/webm"},
        {"/UPPER.HTML", "text/html; charset=utf-8"},
        {"/Mixed.Png", "image/png"},
        {"/a.tar.gz", "application/octet-stream"},
        {"/noext", "application/octet-stream"},
        {"/dir.html/file", "application/octet-stream"},
        {"/trailing.", "application/octet-stream"},
        {"/x.htmlx", "application/octet-stream"},
        {"/x.woff", "application/octet-stream"},
        {"", "application/octet-stream"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(mt(cases[i].path), cases[i].type);
}

static void test_is_html(void **state)
{
    (void)state;
    assert_true(fb_mime_is_html("text/html"));
    assert_true(fb_mime_is_html("text/html; charset=utf-8"));
    assert_true(fb_mime_is_html("Text/HTML;charset=iso-8859-1"));
    assert_true(fb_mime_is_html(fb_mime_type("/a/index.HTM", 12)));
    assert_false(fb_mime_is_html("text/htmlx"));
    assert_false(fb_mime_is_html("text/plain"));
    assert_false(fb_mime_is_html("application/xhtml+xml"));
    assert_false(fb_mime_is_html("text/htm"));
    assert_false(fb_mime_is_html(""));
    assert_false(fb_mime_is_html(fb_mime_type("/a/page.txt", 11)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_table),
                                       cmocka_unit_test(test_is_html)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
