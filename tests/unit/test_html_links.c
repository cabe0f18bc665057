/* Unit tests for core/html_links: what a page's manifest covers. Table-driven cases for each
 * rule (tags, attributes, quoting, comments, raw text, base, srcset, URL resolution, origins,
 * entities), hostile inputs placed right before a guard page, the caps, and the demo page
 * site/index.html, whose exact list of objects is checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/html_links.c"

#define PAGE   "/news/index.html"
#define ORIGIN "http://example.test:8080"

/* ---- helpers ---- */

/* A copy of src[0..n) that ends exactly at a PROT_NONE page, so that any read past the end
 * faults. Release it with guarded_free. */
typedef struct guarded {
    char *p;
    void *map;
    size_t map_len;
} guarded;

static guarded guarded_copy(const char *src, size_t n)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    size_t pages = (n + ps - 1) / ps + 1;
    guarded g;
    g.map_len = pages * ps;
    g.map = mmap(NULL, g.map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g.map != MAP_FAILED);
    char *guard = (char *)g.map + (pages - 1) * ps;
    assert_int_equal(mprotect(guard, ps, PROT_NONE), 0);
    g.p = guard - n;
    if (n > 0)
        memcpy(g.p, src, n);
    return g;
}

static void guarded_free(guarded *g)
{
    munmap(g->map, g->map_len);
}

enum { MAX_LINKS = 64, MAX_URL = 256 };

typedef struct result {
    fb_html_link links[MAX_LINKS];
    char text[FB_HTML_LINKS_TEXT_CAP(MAX_LINKS, MAX_URL)];
    fb_html_links hl;
    char joined[MAX_LINKS * (MAX_URL + 1) + 1];
    int rc;
} result;

/* Scans html[0..len) (copied before a guard page) and joins the paths with spaces. */
static void scan_into(result *r, const char *html, size_t len, const char *page, const char *origin,
                      size_t max_links, size_t text_cap, size_t max_url)
{
    guarded g = guarded_copy(html, len);
    guarded pg = guarded_copy(page, strlen(page));
    fb_html_links_init(&r->hl, r->links, max_links, r->text, text_cap, max_url);
    r->rc = fb_html_links_scan(&r->hl, g.p, len, pg.p, strlen(page), origin,
                               origin != NULL ? strlen(origin) : 0);
    size_t n = 0;
    r->joined[0] = '\0';
    for (size_t i = 0; i < r->hl.count; i++) {
        const fb_html_link *l = &r->hl.links[i];
        assert_int_equal(strlen(l->path), l->len); /* NUL-terminated, no NUL inside */
        n += (size_t)snprintf(r->joined + n, sizeof(r->joined) - n, "%s%s", i ? " " : "", l->path);
    }
    guarded_free(&g);
    guarded_free(&pg);
}

static result *scan_default(const char *html, const char *origin)
{
    static result r;
    scan_into(&r, html, strlen(html), PAGE, origin, MAX_LINKS, sizeof(r.text), MAX_URL);
    return &r;
}

typedef struct tcase {
    const char *html;
    const char *want; /* the expected paths in order, separated by single spaces */
} tcase;

static void run_table(const tcase *cases, size_t n, const char *origin)
{
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        result *r = scan_default(cases[i].html, origin);
        if (r->rc != 0 || strcmp(r->joined, cases[i].want) != 0) {
            print_message("case %zu: %s\n  got:  [%s] rc=%d\n  want: [%s]\n", i, cases[i].html,
                          r->joined, r->rc, cases[i].want);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* ---- the rules, as tables ---- */

static void test_tags_and_attributes(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"<img src=\"a.png\">", "/news/a.png"},
        {"<IMG SRC=\"A.png\">", "/news/A.png"},
        {"<iMg sRc='b.png'>", "/news/b.png"},
        {"<img src=c.png>", "/news/c.png"},
        {"<img src = \"d.png\" >", "/news/d.png"},
        {"<img\tsrc\n=\n'e.png'\f>", "/news/e.png"},
        {"<img src=f.png/>", "/news/f.png/"}, /* an unquoted value takes the '/' */
        {"<img src=\"g.png\"/>", "/news/g.png"},
        {"<img/src=h.png>", "/news/h.png"},
        {"<img alt src=i.png>", "/news/i.png"},
        {"<img src=\"j.png\"alt=\"x\">", "/news/j.png"},
        {"<img src=a.png src=b.png>", "/news/a.png"}, /* the first attribute wins */
        {"<img src>", ""},
        {"<img src=>", ""},
        {"<img src=''>", ""},
        {"<img data-src=no.png srcx=no2.png xsrc=no3.png src=k.png>", "/news/k.png"},
        {"<img =src=no.png>", ""}, /* "=src" is the attribute's name */
        {"<script src=\"/js/app.js\"></script>", "/js/app.js"},
        {"<script type=module src=m.js></script>", "/news/m.js"},
        {"<video poster=v.png src=movie.mp4><source src=m.webm></video>", "/news/v.png"},
        {"<picture><source srcset=p.webp type=image/webp><img src=p.png></picture>",
         "/news/p.webp /news/p.png"},
        {"<a href=page2.html>x</a><area href=map.html>", ""},
        {"<iframe src=f.html></iframe><embed src=e.swf><object data=o.pdf></object>", ""},
        {"<input type=image src=button.png><audio src=a.mp3></audio>", ""},
        {"<body background=bg.png><table background=t.png>", ""},
        {"<imgsrc=x.png><img-x src=y.png><image src=z.png>", ""},
        {"<svg><image href=s.png /></svg>", ""},
    };
    run_table(cases, FB_ARRAY_LEN(cases), ORIGIN);
}

static void test_link_rel(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"<link rel=stylesheet href=a.css>", "/news/a.css"},
        {"<link href=b.css rel=StyleSheet>", "/news/b.css"},
        {"<link rel=\"alternate stylesheet\" href=c.css>", "/news/c.css"},
        {"<link rel=icon href=/favicon.ico>", "/favicon.ico"},
        {"<link rel=\"shortcut icon\" href=/s.ico>", "/s.ico"},
        {"<link rel=apple-touch-icon href=t.png>", "/news/t.png"},
        {"<link rel=apple-touch-icon-precomposed href=u.png>", "/news/u.png"},
        {"<link rel=preload as=font href=/f.woff2 crossorigin>", "/f.woff2"},
        {"<link rel=modulepreload href=/m.js>", "/m.js"},
        {"<link rel=\"  preload \" href=x.png as=image imagesrcset=\"x1.png 1x, x2.png 2x\">",
         "/news/x.png /news/x1.png /news/x2.png"},
        {"<link rel=prefetch href=a><link rel=preconnect href=//example.test:8080>"
         "<link rel=dns-prefetch href=b><link rel=canonical href=c><link rel=manifest href=d>"
         "<link rel=alternate href=e><link rel=next href=f><link href=g.css>"
         "<link rel=stylesheets href=h><link rel=icons href=i>",
         ""},
        {"<link rel=stylesheet>", ""},
        {"<link rel=stylesheet href=a.css rel=prefetch>", "/news/a.css"},
        {"<link rel=prefetch rel=stylesheet href=a.css>", ""},
    };
    run_table(cases, FB_ARRAY_LEN(cases), ORIGIN);
}

static void test_paths(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"<img src=../img/x.png>", "/img/x.png"},
        {"<img src=./y.png>", "/news/y.png"},
        {"<img src=../../../../z.png>", "/z.png"}, /* never above the root */
        {"<img src=/../../r.png>", "/r.png"},
        {"<img src=a/./b/../c.png>", "/news/a/c.png"},
        {"<img src=%2e%2E/q.png><img src=.%2e/r.png><img src=%2e./s.png>", "/q.png /r.png /s.png"},
        {"<img src=%2e/t.png><img src=.../u.png>", "/news/t.png /news/.../u.png"},
        {"<img src=dir/..>", "/news/"},
        {"<img src=dir/.>", "/news/dir/"},
        {"<img src=..>", "/"},
        {"<img src=/img//double.png>", "/img//double.png"},
        {"<img src=a.png?v=3#frag>", "/news/a.png"},
        {"<img src=\"b.png#x?y\">", "/news/b.png"},
        {"<img src=\"c.png?../../x\">", "/news/c.png"},
        {"<img src=a.png><img src=./a.png><img src=/news/a.png><img src=a.png?x>", "/news/a.png"},
        {"<img src=a%20b.png><img src=%7Euser/x.png>", "/news/a%20b.png /news/%7Euser/x.png"},
        {"<img src=\"a b.png\">", "/news/a%20b.png"},
        {"<img src=\"  c.png \n\">", "/news/c.png"},
        {"<img src=\"d\n.p\tng\r\">", "/news/d.png"},
        {"<img src=\"e.png \?x\">", "/news/e.png%20"},
        {"<img src='x\"y.png'><img src=\"<w>{v}`u`.png\">",
         "/news/x%22y.png /news/%3Cw%3E%7Bv%7D%60u%60.png"},
        {"<img src=\"caf\xc3\xa9.png\">", "/news/caf%C3%A9.png"},
        {"<img src=\"\x01\x02k.png\x7f\">", "/news/k.png%7F"},
        {"<img src=..\\img\\y.png>", "/img/y.png"},
        {"<img src=index.html><img src=?q><img src=/news/index.html#x><img src=./>"
         "<img src=#top><img src=\"\"><img src=\" \">",
         "/news/"},
    };
    run_table(cases, FB_ARRAY_LEN(cases), ORIGIN);
}

static void test_origins_and_schemes(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"<img src=http://example.test:8080/i/1.png>", "/i/1.png"},
        {"<img src=HTTP://EXAMPLE.TEST:8080/i/2.png>", "/i/2.png"},
        {"<img src=//example.test:8080/i/3.png>", "/i/3.png"},
        {"<img src=http://example.test:08080/i/4.png>", "/i/4.png"},
        {"<img src=http:////example.test:8080/i/5.png>", "/i/5.png"},
        {"<img src=\"http:\\\\example.test:8080\\i\\6.png\">", "/i/6.png"},
        {"<img src=http://example.test:8080><img src=http://example.test:8080?x>", "/"},
        {"<img src=http:rel.png><img src=http:/abs.png>", "/news/rel.png /abs.png"},
        {"<img src=http://other.test/x.png><img src=//other.test/y.png>"
         "<img src=https://example.test:8080/z.png><img src=http://example.test/w.png>"
         "<img src=http://user@example.test:8080/u.png><img src=http://example.test:8081/v>"
         "<img src=https:x.png><img src=http://example.test.:8080/t.png>"
         "<img src=\"\\\\other.test\\x.png\"><img src=///other.test/y.png>"
         "<img src=http://example.test:99999/p><img src=http://[::1]:8080/q>",
         ""},
        {"<img src=data:image/png;base64,AAAA><img src=DATA:x><img src=javascript:alert(1)>"
         "<img src=mailto:a@b><img src=blob:http://example.test:8080/x><img src=about:blank>"
         "<img src=ftp://example.test:8080/f><img src=a:b.png><img src=C:/x.png>"
         "<img src=file:///etc/passwd><img src=ws://example.test:8080/w>",
         ""},
        {"<img src=\"  javascript:x\"><img src=\"\tdata:x\">", ""},
    };
    run_table(cases, FB_ARRAY_LEN(cases), ORIGIN);

    /* Without an origin, only relative and path-absolute URLs count. */
    static const tcase no_origin[] = {
        {"<img src=a.png><img src=/b.png><img src=http://example.test:8080/c.png>"
         "<img src=//example.test:8080/d.png><img src=http:e.png>",
         "/news/a.png /b.png"},
    };
    run_table(no_origin, FB_ARRAY_LEN(no_origin), NULL);

    /* Default ports, https, IPv6 literals, a trailing slash on the origin. */
    static const tcase plain[] = {
        {"<img src=http://example.test:80/a.png><img src=http://EXAMPLE.test/b.png>"
         "<img src=http://example.test:/c.png><img src=https://example.test/d.png>",
         "/a.png /b.png /c.png"},
    };
    run_table(plain, FB_ARRAY_LEN(plain), "http://example.test/");
    static const tcase secure[] = {
        {"<img src=https://example.test:443/a.png><img src=//example.test/b.png>"
         "<img src=http://example.test/c.png>",
         "/a.png /b.png"},
    };
    run_table(secure, FB_ARRAY_LEN(secure), "HTTPS://Example.Test");
    static const tcase v6[] = {
        {"<img src=http://[::1]:8080/a.png><img src=http://[::2]:8080/b.png>"
         "<img src=//[::1]:8080/c.png>",
         "/a.png /c.png"},
    };
    run_table(v6, FB_ARRAY_LEN(v6), "http://[::1]:8080");
}

static void test_comments_and_raw_text(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"<!-- <img src=\"no.png\"> --><img src=yes.png>", "/news/yes.png"},
        {"<!--><img src=a.png>", "/news/a.png"},
        {"<!---><img src=b.png>", "/news/b.png"},
        {"<!-- x --!><img src=c.png>", "/news/c.png"},
        {"<!-- a -- b > <img src=no.png> --><img src=d.png>", "/news/d.png"},
        {"<!-- <img src=d.png>", ""},
        {"<!DOCTYPE html><?xml version=\"1.0\"?><img src=y.png>", "/news/y.png"},
        {"<![CDATA[ x ]]><img src=z.png>", "/news/z.png"},
        {"<script>document.write('<img src=\"no.png\">')</script><img src=yes.png>",
         "/news/yes.png"},
        {"<script src=s.js>var x = \"</scrip\"; var y = '</scripts>';</script ><img src=y.png>",
         "/news/s.js /news/y.png"},
        {"<SCRIPT>x='<img src=no.png>'</SCRIPT><img src=u.png>", "/news/u.png"},
        {"<script>x='<img src=no.png>'</script/><img src=v.png>", "/news/v.png"},
        {"<style>.a{background:url(no.png)} <img src=no.png></style><img src=ok.png>",
         "/news/ok.png"},
        {"<textarea><img src=no.png></textarea><title><img src=no.png></title>"
         "<noscript><img src=no.png></noscript><xmp><img src=no.png></xmp>"
         "<iframe><img src=no.png></iframe><noembed><img src=no.png></noembed>"
         "<noframes><img src=no.png></noframes><img src=w.png>",
         "/news/w.png"},
        {"<script><img src=never-closed.png>", ""},
        {"<plaintext><img src=no.png></plaintext><img src=no2.png>", ""},
        {"<template><img src=no.png><template><img src=no2.png></template>"
         "<img src=no3.png><base href=/evil/></template><img src=yes.png>",
         "/news/yes.png"},
        {"</template><img src=a.png>", "/news/a.png"},
        {"</div class=\">\"><img src=z.png></ ><img src=w.png></><img src=x.png>"
         "</3 <img src=no.png>><img src=v.png>",
         "/news/z.png /news/w.png /news/x.png /news/v.png"},
        {"a < b <img src=x.png> <3 <> <", "/news/x.png"},
        {"<img alt='<img src=\"no.png\">' src=e.png>", "/news/e.png"},
        {"<img src=\"a'b.png\"><img src='c\"d.png'>", "/news/a'b.png /news/c%22d.png"},
        {"<p title=\"<script>\"><img src=f.png>", "/news/f.png"},
    };
    run_table(cases, FB_ARRAY_LEN(cases), ORIGIN);
}

static void test_base(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"<base href=/static/><img src=a.png>", "/static/a.png"},
        {"<base href=../assets/><img src=b.png>", "/assets/b.png"},
        {"<base href=/static/page.html><img src=c.png><img src=?q>",
         "/static/c.png /static/page.html"},
        {"<base href=http://example.test:8080/s/><img src=d.png>", "/s/d.png"},
        {"<base href=http://cdn.test/><img src=a.png><img src=/b.png>"
         "<img src=http://example.test:8080/c.png>",
         "/c.png"},
        {"<base href=javascript:void(0)><img src=a.png>", ""},
        {"<base href=/one/><base href=/two/><img src=a.png>", "/one/a.png"},
        {"<base target=_blank><base href=/x/><img src=a.png>", "/x/a.png"},
        {"<base href=\"\"><base href=/y/><img src=a.png>", "/news/a.png"},
        {"<img src=a.png><base href=/s/><img src=b.png>", "/news/a.png /s/b.png"},
        {"<base href=/s/?x#y><img src=c.png>", "/s/c.png"},
        {"<base href=/s><img src=d.png>", "/d.png"},
        {"<base href=http:><img src=e.png><base href=/no/>", "/news/e.png"},
        {"<base href=#top><img src=f.png>", "/news/f.png"},
        {"<base href=\"  \"><img src=g.png>", "/news/g.png"},
    };
    run_table(cases, FB_ARRAY_LEN(cases), ORIGIN);
}

static void test_srcset(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"<img srcset=\"s1.png 1x, s2.png 2x,s3.png 3x\">",
         "/news/s1.png /news/s2.png /news/s3.png"},
        {"<img srcset=\"w.png 100w, x.png, y.png,, z.png\">",
         "/news/w.png /news/x.png /news/y.png /news/z.png"},
        {"<img srcset=\"a.png (foo, bar) 1x, b.png\">", "/news/a.png /news/b.png"},
        {"<img srcset=\"c,d.png 1x\">", "/news/c,d.png"},
        {"<img srcset=\"  ,, e.png\t\n2x ,\">", "/news/e.png"},
        {"<img srcset=\"f.png?x=1,2 1x, data:image/png;base64,AAA 2x, //other.test/g.png 3x\">",
         "/news/f.png"},
        {"<img src=h.png srcset=\"h.png 1x, h2.png 2x\">", "/news/h.png /news/h2.png"},
        {"<img srcset=\"i&amp;j.png 1x, k&#44;l.png 2x\">", "/news/i&j.png /news/k,l.png"},
        {"<img srcset=\"\">", ""},
        {"<img srcset=\",,,\">", ""},
        {"<source srcset=\"/m.webp\" src=/no.mp4>", "/m.webp"},
    };
    run_table(cases, FB_ARRAY_LEN(cases), ORIGIN);
}

static void test_entities(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"<img src=\"a.png?x=1&amp;y=2\">", "/news/a.png"},
        {"<img src=\"a&amp;b.png\">", "/news/a&b.png"},
        {"<img src=\"caf&#233;.png\">", "/news/caf%C3%A9.png"},
        {"<img src=\"&#x2F;abs.png\">", "/abs.png"},
        {"<img src=\"&#X2f;&#x2F;other.test/x.png\">", ""},
        {"<img src=\"&lt;x&gt;.png\">", "/news/%3Cx%3E.png"},
        {"<img src=\"&quot;q&apos;.png\">", "/news/%22q'.png"},
        {"<img src=\"&copy;.png\"><img src=\"&amp.png\"><img src=\"&#;.png\">",
         "/news/&copy;.png /news/&.png /news/&"}, /* in "&#;.png", "#;.png" is a fragment */
        {"<img src=\"&ampx.png\"><img src=\"&amp=1.png\"><img src=\"&lt\">",
         "/news/&ampx.png /news/&amp=1.png /news/%3C"},
        {"<img src=\"&apos.png\"><img src=\"&AMP;.png\">", "/news/&apos.png /news/&AMP;.png"},
        {"<img src=\"&#0;.png\"><img src=\"&#xD800;.png\">", "/news/%EF%BF%BD.png"},
        {"<img src=\"&#1114112;x.png\"><img src=\"&#99999999999999999999;y.png\">",
         "/news/%EF%BF%BDx.png /news/%EF%BF%BDy.png"},
        {"<img src=\"&#128512;.png\">", "/news/%F0%9F%98%80.png"},
        {"<img src=\"&#46;&#46;/up.png\">", "/up.png"},
        {"<img src=&#47;u.png>", "/u.png"},
        {"<img src=\"&#35;frag\"><img src=\"&#x3f;q\">", ""},
        {"<img src=\"v&#x3f;q.png\">", "/news/v"},
    };
    run_table(cases, FB_ARRAY_LEN(cases), ORIGIN);
}

/* ---- hostile inputs ---- */

static void test_unterminated(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"<img src=a.png", ""},
        {"<img src=\"a.png>", ""},
        {"<img src='a.png>", ""},
        {"<img src=\"a.png\"><img src='b.png", "/news/a.png"},
        {"<img src=", ""},
        {"<img src", ""},
        {"<img ", ""},
        {"<img", ""},
        {"<", ""},
        {"</", ""},
        {"<!", ""},
        {"<!-", ""},
        {"<!--", ""},
        {"<img src=c.png><!-- never closed <img src=d.png>", "/news/c.png"},
        {"<img src=\"e.png\"></script", "/news/e.png"},
        {"<script src=f.js></script", "/news/f.js"},
        {"<script src=g.js></scrip", "/news/g.js"},
        {"<img src=h.png></img class=\"", "/news/h.png"},
    };
    run_table(cases, FB_ARRAY_LEN(cases), ORIGIN);
}

static void test_nul_bytes(void **state)
{
    (void)state;
    result *r = malloc(sizeof(*r));
    assert_non_null(r);
    static const char a[] = "<img src=\"a\0b.png\">\0<img src=y.png><im\0g src=z.png>"
                            "<img s\0rc=w.png><img src=v.png\0x>";
    scan_into(r, a, sizeof(a) - 1, PAGE, ORIGIN, MAX_LINKS, sizeof(r->text), MAX_URL);
    assert_int_equal(r->rc, 0);
    assert_string_equal(r->joined, "/news/a%EF%BF%BDb.png /news/y.png /news/v.png%EF%BF%BDx");
    /* A page path with a NUL byte is refused. */
    fb_html_links_init(&r->hl, r->links, MAX_LINKS, r->text, sizeof(r->text), MAX_URL);
    assert_int_equal(fb_html_links_scan(&r->hl, "", 0, "/a\0b", 4, NULL, 0), FB_EINVAL);
    free(r);
}

static void test_huge_inputs(void **state)
{
    (void)state;
    result *r = malloc(sizeof(*r));
    assert_non_null(r);
    size_t big = 1 << 20;
    char *html = malloc(2 * big + 256);
    assert_non_null(html);

    /* A 1 MiB attribute value before a real one: skipped, then the next tag is found. */
    size_t n = (size_t)sprintf(html, "<img alt=\"");
    memset(html + n, 'x', big);
    n += big;
    n += (size_t)sprintf(html + n, "\" src=a.png><img src=b.png>");
    scan_into(r, html, n, PAGE, ORIGIN, MAX_LINKS, sizeof(r->text), MAX_URL);
    assert_int_equal(r->rc, 0);
    assert_string_equal(r->joined, "/news/a.png /news/b.png");

    /* A 1 MiB data: URL is not ours and is not "too long". */
    n = (size_t)sprintf(html, "<img src=\"data:image/png;base64,");
    memset(html + n, 'A', big);
    n += big;
    n += (size_t)sprintf(html + n, "\"><img src=c.png>");
    scan_into(r, html, n, PAGE, ORIGIN, MAX_LINKS, sizeof(r->text), MAX_URL);
    assert_int_equal(r->rc, 0);
    assert_int_equal(r->hl.too_long, 0);
    assert_string_equal(r->joined, "/news/c.png");

    /* A 1 MiB same-origin URL is left out and counted; the scan goes on. */
    n = (size_t)sprintf(html, "<img src=\"/");
    memset(html + n, 'p', big);
    n += big;
    n += (size_t)sprintf(html + n, "\"><img src=d.png>");
    scan_into(r, html, n, PAGE, ORIGIN, MAX_LINKS, sizeof(r->text), MAX_URL);
    assert_int_equal(r->rc, FB_ENOSPC);
    assert_int_equal(r->hl.too_long, 1);
    assert_false(r->hl.truncated);
    assert_string_equal(r->joined, "/news/d.png");

    /* A 1 MiB run of '<' and of tag openings: linear, no link. */
    memset(html, '<', big);
    scan_into(r, html, big, PAGE, ORIGIN, MAX_LINKS, sizeof(r->text), MAX_URL);
    assert_int_equal(r->rc, 0);
    assert_int_equal(r->hl.count, 0);
    for (size_t i = 0; i + 5 <= big; i += 5)
        memcpy(html + i, "<img ", 5);
    scan_into(r, html, big - big % 5, PAGE, ORIGIN, MAX_LINKS, sizeof(r->text), MAX_URL);
    assert_int_equal(r->hl.count, 0);

    /* A srcset of 100,000 candidates that all resolve to the same two paths. */
    n = (size_t)sprintf(html, "<img srcset=\"");
    for (int i = 0; i < 100000; i++)
        n += (size_t)sprintf(html + n, i % 2 ? "q.png %dw," : "./p.png?%d 1x,", i);
    n += (size_t)sprintf(html + n, "\">");
    assert_true(n < 2 * big + 256);
    scan_into(r, html, n, PAGE, ORIGIN, MAX_LINKS, sizeof(r->text), MAX_URL);
    assert_int_equal(r->rc, 0);
    assert_string_equal(r->joined, "/news/p.png /news/q.png");

    /* Trailing spaces past max_url are trimmed, not counted as too long. */
    n = (size_t)sprintf(html, "<img src=\"e.png");
    memset(html + n, ' ', 4 * MAX_URL);
    n += 4 * MAX_URL;
    n += (size_t)sprintf(html + n, "\">");
    scan_into(r, html, n, PAGE, ORIGIN, MAX_LINKS, sizeof(r->text), MAX_URL);
    assert_int_equal(r->rc, 0);
    assert_string_equal(r->joined, "/news/e.png");
    free(html);
    free(r);
}

/* ---- caps and errors ---- */

static void test_caps(void **state)
{
    (void)state;
    result *r = malloc(sizeof(*r));
    assert_non_null(r);
    const char *html = "<img src=a><img src=b><img src=a><img src=c><img src=d>";

    /* max_links: a duplicate needs no slot; the first new path past the cap stops the scan. */
    scan_into(r, html, strlen(html), PAGE, ORIGIN, 2, sizeof(r->text), MAX_URL);
    assert_int_equal(r->rc, FB_ENOSPC);
    assert_true(r->hl.truncated);
    assert_string_equal(r->joined, "/news/a /news/b");
    scan_into(r, "<img src=a><img src=b><img src=a>", 33, PAGE, ORIGIN, 2, sizeof(r->text),
              MAX_URL);
    assert_int_equal(r->rc, 0);
    assert_false(r->hl.truncated);
    assert_int_equal(r->hl.count, 2);
    scan_into(r, html, strlen(html), PAGE, ORIGIN, 0, sizeof(r->text), MAX_URL);
    assert_int_equal(r->rc, FB_ENOSPC);
    assert_int_equal(r->hl.count, 0);

    /* max_url: counted per URL, the rest is listed; the limit is inclusive. */
    html = "<img src=/12345678><img src=/1234567><img src=/123456789>";
    scan_into(r, html, strlen(html), "/p.html", ORIGIN, MAX_LINKS, sizeof(r->text), 9);
    assert_int_equal(r->rc, FB_ENOSPC);
    assert_int_equal(r->hl.too_long, 1);
    assert_false(r->hl.truncated);
    assert_string_equal(r->joined, "/12345678 /1234567");

    /* A text buffer that runs out stops the scan with what fitted: "/i", "/a", "/b" and "/c"
     * take 12 bytes with their NULs; "/d" finds no room. */
    html = "<img src=a><img src=b><img src=a><img src=c><img src=d>";
    scan_into(r, html, strlen(html), "/i", ORIGIN, MAX_LINKS, 12, MAX_URL);
    assert_int_equal(r->rc, FB_ENOSPC);
    assert_true(r->hl.truncated);
    assert_string_equal(r->joined, "/a /b /c");
    for (size_t i = 0; i < r->hl.count; i++)
        assert_true(r->hl.links[i].path + r->hl.links[i].len < r->text + 12);

    /* FB_HTML_LINKS_TEXT_CAP is enough for a page path and a base of max_url bytes, max_links
     * links of max_url bytes and a duplicate of the last one: no truncation. */
    char big[16 * 48];
    size_t n = (size_t)sprintf(big, "<base href=/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/>");
    for (int i = 0; i < 8; i++)
        n += (size_t)sprintf(big + n, "<img src=/%030d>", i);
    n += (size_t)sprintf(big + n, "<img src=/%030d>", 7);
    scan_into(r, big, n, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/", ORIGIN, 8,
              FB_HTML_LINKS_TEXT_CAP(8, 31), 31);
    assert_int_equal(r->rc, 0);
    assert_int_equal(r->hl.count, 8);
    n += (size_t)sprintf(big + n, "<img src=/%030d>", 8);
    scan_into(r, big, n, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/", ORIGIN, 8,
              FB_HTML_LINKS_TEXT_CAP(8, 31), 31);
    assert_int_equal(r->rc, FB_ENOSPC);
    assert_true(r->hl.truncated);
    assert_int_equal(r->hl.count, 8);
    free(r);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    fb_html_link links[4];
    char text[256];
    fb_html_links hl;
    fb_html_links_init(&hl, links, 4, text, sizeof(text), 64);
    const char *h = "<img src=a.png>";
    size_t hn = strlen(h);
    assert_int_equal(fb_html_links_scan(&hl, h, hn, "", 0, NULL, 0), FB_EINVAL);
    assert_int_equal(fb_html_links_scan(&hl, h, hn, "news/x.html", 11, NULL, 0), FB_EINVAL);
    static const char *bad_origins[] = {"",
                                        "example.test",
                                        "ftp://example.test",
                                        "http://",
                                        "http:///",
                                        "http://example.test/path",
                                        "http://user@example.test",
                                        "http://example.test:http",
                                        "http://example.test:65536",
                                        "http://[::1",
                                        "http://[::1]x",
                                        "http:/example.test"};
    for (size_t i = 0; i < FB_ARRAY_LEN(bad_origins); i++) {
        assert_int_equal(
            fb_html_links_scan(&hl, h, hn, "/", 1, bad_origins[i], strlen(bad_origins[i])),
            FB_EINVAL);
    }
    char longpath[100];
    memset(longpath, 'a', sizeof(longpath));
    longpath[0] = '/';
    assert_int_equal(fb_html_links_scan(&hl, h, hn, longpath, sizeof(longpath), NULL, 0), FB_E2BIG);
    fb_html_links_init(&hl, links, 4, text, 8, 64);
    assert_int_equal(fb_html_links_scan(&hl, h, hn, "/news/x.html", 12, NULL, 0), FB_E2BIG);

    /* Page paths are normalized; a rescan replaces the earlier result. */
    fb_html_links_init(&hl, links, 4, text, sizeof(text), 64);
    assert_int_equal(fb_html_links_scan(&hl, h, hn, "/a/../news/./x.html?q=1", 23, NULL, 0), 0);
    assert_int_equal(hl.count, 1);
    assert_string_equal(hl.links[0].path, "/news/a.png");
    assert_int_equal(
        fb_html_links_scan(&hl, "<img src=/news/x.html>", 22, "/news/x.html", 12, NULL, 0), 0);
    assert_int_equal(hl.count, 0);
    assert_int_equal(fb_html_links_scan(&hl, h, hn, "/", 1, "http://e.test", 13), 0);
    assert_string_equal(hl.links[0].path, "/a.png");
}

/* ---- internals ---- */

static void test_remove_dots(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"/", "/"},
        {"/a", "/a"},
        {"/a/", "/a/"},
        {"/./", "/"},
        {"/.", "/"},
        {"/..", "/"},
        {"/../..", "/"},
        {"/a/..", "/"},
        {"/a/../", "/"},
        {"/a/b/../c", "/a/c"},
        {"/a/./b", "/a/b"},
        {"/a/b/..", "/a/"},
        {"/a//../b", "/a/b"},
        {"//", "//"},
        {"/a/%2E%2e/b", "/b"},
        {"/a/%2e", "/a/"},
        {"/a/.%2E", "/"},
        {"/a/%2e%2e%2e", "/a/%2e%2e%2e"},
        {"/a/..b", "/a/..b"},
    };
    for (size_t i = 0; i < FB_ARRAY_LEN(cases); i++) {
        char buf[64];
        size_t n = strlen(cases[i].in);
        memcpy(buf, cases[i].in, n);
        n = remove_dots(buf, n);
        buf[n] = '\0';
        if (strcmp(buf, cases[i].want) != 0)
            print_message("remove_dots(%s) = %s, want %s\n", cases[i].in, buf, cases[i].want);
        assert_string_equal(buf, cases[i].want);
    }
}

/* Random tag soup from a deterministic generator: whatever the input, every listed path is
 * absolute, normalized, free of query, fragment and unsafe bytes, and listed once. */
static void test_invariants_on_soup(void **state)
{
    (void)state;
    static const char *const atoms[] = {"<img src=",
                                        "<IMG SRC='",
                                        "<link rel=stylesheet href=",
                                        "<link rel=icon href=\"",
                                        "<script src=",
                                        "<source srcset=\"",
                                        "<video poster=",
                                        "<base href=",
                                        "<template>",
                                        "</template>",
                                        "<!--",
                                        "-->",
                                        "<script>",
                                        "</script>",
                                        "<style>",
                                        "</style>",
                                        "\"",
                                        "'",
                                        ">",
                                        " ",
                                        ",",
                                        "/",
                                        "./",
                                        "../",
                                        "..",
                                        ".",
                                        "%2e",
                                        "a.png",
                                        "b",
                                        "?q",
                                        "#f",
                                        "&amp;",
                                        "&#47;",
                                        "&#0;",
                                        "\\",
                                        "//example.test:8080/",
                                        "http://example.test:8080",
                                        "data:",
                                        "http://other/",
                                        "\t",
                                        "\n",
                                        "1x",
                                        "<",
                                        "=",
                                        "\x01",
                                        "\xff",
                                        "&lt;",
                                        "<a href=",
                                        "</",
                                        "<!DOCTYPE html>",
                                        "<plaintext>",
                                        "%"};
    uint32_t seed = 12345;
    result *r = malloc(sizeof(*r));
    assert_non_null(r);
    char html[2048];
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = 0;
        while (n < sizeof(html) - 64) {
            seed = seed * 1103515245u + 12345u;
            const char *a = atoms[(seed >> 8) % FB_ARRAY_LEN(atoms)];
            size_t an = strlen(a);
            memcpy(html + n, a, an);
            n += an;
            if (((seed >> 20) & 63) == 0)
                break;
        }
        scan_into(r, html, n, PAGE, ORIGIN, 16, sizeof(r->text), 48);
        assert_true(r->rc == 0 || r->rc == FB_ENOSPC);
        assert_true(r->hl.count <= 16);
        for (size_t i = 0; i < r->hl.count; i++) {
            const fb_html_link *l = &r->hl.links[i];
            assert_true(l->len >= 1 && l->len <= 48);
            assert_int_equal(l->path[0], '/');
            for (size_t k = 0; k < l->len; k++) {
                unsigned char c = (unsigned char)l->path[k];
                assert_true(c > 0x20 && c < 0x7f && c != '?' && c != '#' && c != '\\');
            }
            assert_null(strstr(l->path, "/./"));
            assert_null(strstr(l->path, "/../"));
            assert_false(l->len == strlen(PAGE) && memcmp(l->path, PAGE, l->len) == 0);
            for (size_t j = 0; j < i; j++)
                assert_false(r->hl.links[j].len == l->len &&
                             memcmp(r->hl.links[j].path, l->path, l->len) == 0);
        }
    }
    free(r);
}

/* ---- the demo page ---- */

static void test_demo_site(void **state)
{
    (void)state;
    static const char *const want =
        "/img/favicon.ico /img/touch-icon.png /css/main.css /css/print.css /img/hero.png "
        "/js/page.js /js/gallery.js /img/logo.svg /img/hero-wide.png /img/photo-01.png "
        "/img/photo-02.png /img/chart.svg /img/photo-03.png /img/poster.png /img/photo-04.png "
        "/img/photo-05.png /img/photo-06.png /img/photo-07.png /img/photo-08.png "
        "/img/photo-09.png /img/photo-10.png";
    static const char *const want_about =
        "/img/favicon.ico /css/main.css /js/page.js /img/logo.svg /img/team.png /img/photo-03.png";
    static const struct {
        const char *file, *page, *want;
    } pages[] = {{"/site/index.html", "/index.html", NULL},
                 {"/site/about.html", "/about.html", NULL}};
    for (size_t p = 0; p < FB_ARRAY_LEN(pages); p++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s%s", FB_SOURCE_DIR, pages[p].file);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        static char html[1 << 17];
        size_t n = fread(html, 1, sizeof(html), f);
        fclose(f);
        assert_true(n > 1000 && n < sizeof(html));
        result *r = malloc(sizeof(*r));
        assert_non_null(r);
        scan_into(r, html, n, pages[p].page, "http://127.0.0.1:8080", MAX_LINKS, sizeof(r->text),
                  MAX_URL);
        assert_int_equal(r->rc, 0);
        assert_string_equal(r->joined, p == 0 ? want : want_about);
        free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tags_and_attributes),
        cmocka_unit_test(test_link_rel),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_origins_and_schemes),
        cmocka_unit_test(test_comments_and_raw_text),
        cmocka_unit_test(test_base),
        cmocka_unit_test(test_srcset),
        cmocka_unit_test(test_entities),
        cmocka_unit_test(test_unterminated),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_huge_inputs),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_remove_dots),
        cmocka_unit_test(test_invariants_on_soup),
        cmocka_unit_test(test_demo_site),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
