/* Unit tests for server/manifests (without a seed): what an HTML page's manifest lists and in
 * which order, the paths and ETags it gives, hashes that match the bytes, the caps, rebuilds
 * when a file changes, the hash cache shared between pages, and paths that must never be
 * listed (hidden, outside the root through a symlink, directories, missing files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/manifest.h"
#include "server/hashcache.c"
#include "server/manifests.c"
#include "server/seed.c"

static char base[64], root[128];

static void put(const char *rel, const char *content, size_t len)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", base, rel);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, len, f), len);
    fclose(f);
}

static void puts_file(const char *rel, const char *content)
{
    put(rel, content, strlen(content));
}

static void mkd(const char *rel)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", base, rel);
    assert_int_equal(mkdir(p, 0700), 0);
}

static const char page[] =
    "<!doctype html><html><head>\n"
    "<link rel=stylesheet href=\"css/a.css\">\n"
    "<link rel=icon href=/favicon.ico>\n"
    "<script src=\"https://elsewhere.example/x.js\"></script>\n"
    "<script src=\"/.hidden/x.js\"></script>\n"
    "<img src=\"missing.png\"><img src=\"/dir/\"><img src=\"/out.txt\">\n"
    "<img src=\"img/b%20c.png\"><img src=\"./css/a.css\"><img src=\"/big.bin\">\n"
    "<a href=\"/other.html\">not embedded</a>\n"
    "</head></html>\n";

static int setup(void **state)
{
    (void)state;
    snprintf(base, sizeof(base), "/tmp/fbman.XXXXXX");
    assert_non_null(mkdtemp(base));
    snprintf(root, sizeof(root), "%s/root", base);
    assert_int_equal(mkdir(root, 0700), 0);
    puts_file("secret.txt", "SECRET");
    mkd("root/css");
    mkd("root/img");
    mkd("root/dir");
    mkd("root/news");
    mkd("root/.hidden");
    puts_file("root/index.html", page);
    puts_file("root/css/a.css", "body{color:red}");
    put("root/favicon.ico", "\0\0\1\0", 4);
    puts_file("root/.hidden/x.js", "hidden");
    puts_file("root/dir/index.html", "dir");
    puts_file("root/news/index.html", "<img src=\"pic.png\"><img src=\"../css/a.css\">");
    puts_file("root/news/pic.png", "PIC");
    puts_file("root/other.html", "<link rel=stylesheet href=css/a.css>");
    puts_file("root/plain.txt", "just text");
    /* 40000 bytes: several chunks (40000 / chunk size, rounded up), the last one short. */
    static char img[40000];
    for (size_t i = 0; i < sizeof(img); i++)
        img[i] = (char)(i * 7 + i / 300);
    put("root/img/b c.png", img, sizeof(img));
    static char big[100000];
    memset(big, 'x', sizeof(big));
    put("root/big.bin", big, sizeof(big));
    char target[256], link[256];
    snprintf(target, sizeof(target), "%s/secret.txt", base);
    snprintf(link, sizeof(link), "%s/out.txt", root);
    assert_int_equal(symlink(target, link), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    assert_int_equal(system(cmd), 0);
    return 0;
}

typedef struct svc {
    fb_file_cache fc;
    fb_manifests *m;
} svc;

static void svc_open(svc *s, uint32_t max_objects, uint64_t max_bytes, uint32_t max_manifests)
{
    assert_int_equal(fb_file_cache_init(&s->fc, root, 64, 1 << 20, 4096), 0);
    fb_manifests_config cfg = {
        .max_manifests = max_manifests, .max_objects = max_objects, .max_bytes = max_bytes};
    assert_int_equal(fb_manifests_new(NULL, &s->fc, NULL, &cfg, &s->m), 0);
}

static void svc_close(svc *s)
{
    fb_manifests_free(s->m);
    fb_file_cache_fini(&s->fc);
}

static int get(svc *s, const char *path, int64_t now, fb_manifest_view *v, fb_manifest *man)
{
    int rc = fb_manifests_get(s->m, path, strlen(path), now, v, NULL);
    if (rc == 0) {
        fb_manifest_caps caps;
        fb_manifest_caps_default(&caps);
        assert_int_equal(fb_manifest_parse(v->text, v->len, &caps, man), 0);
    }
    return rc;
}

/* The i-th object of a parsed manifest. */
static fb_manifest_object obj(const fb_manifest *m, uint32_t i)
{
    fb_manifest_iter it = {0, 0};
    fb_manifest_object o;
    for (uint32_t k = 0; k <= i; k++)
        assert_true(fb_manifest_next(m, &it, &o));
    return o;
}

static void assert_path(const fb_manifest_object *o, const char *want)
{
    if (o->path_len != strlen(want) || memcmp(o->path, want, o->path_len) != 0)
        fail_msg("object path '%.*s', want '%s'", (int)o->path_len, o->path, want);
}

/* Every chunk hash of o equals the SHA-256 of the file's bytes there. */
static void assert_hashes(const fb_manifest *m, const fb_manifest_object *o, const char *rel)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    uint8_t buf[FB_CHUNK_SIZE_MAX], want[32], got[32];
    for (uint32_t k = 0; k < o->n_chunks; k++) {
        size_t n = fread(buf, 1, m->chunk_size, f);
        assert_true(n > 0);
        EVP_Digest(buf, n, want, NULL, EVP_sha256(), NULL);
        fb_manifest_object_hash(o, k, got);
        assert_memory_equal(got, want, 32);
    }
    fclose(f);
}

static void test_page(void **state)
{
    (void)state;
    svc s;
    fb_manifest_view v;
    fb_manifest man;
    svc_open(&s, 256, 1 << 20, 8);
    assert_int_equal(get(&s, "/", 1000, &v, &man), 0);
    assert_false(v.seeded);
    assert_true(v.etag_len > 2 && v.etag[0] == '"');
    /* The page, then its embedded objects in document order: css/a.css (once), the icon,
     * "img/b c.png" (as the browser names it), big.bin. Not: the other site's script, the
     * hidden one, the missing image, the directory, the symlink out of the root, the link. */
    assert_int_equal(man.n_objects, 5);
    fb_manifest_object o = obj(&man, 0);
    assert_path(&o, "/");
    assert_int_equal(o.size, strlen(page));
    assert_memory_equal(o.type, "text/html;charset=utf-8", o.type_len);
    assert_hashes(&man, &o, "index.html");
    o = obj(&man, 1);
    assert_path(&o, "/css/a.css");
    assert_hashes(&man, &o, "css/a.css");
    o = obj(&man, 2);
    assert_path(&o, "/favicon.ico");
    o = obj(&man, 3);
    assert_path(&o, "/img/b%20c.png");
    assert_int_equal(o.n_chunks, (40000 + man.chunk_size - 1) / man.chunk_size);
    assert_true(o.n_chunks > 1 && 40000 % man.chunk_size != 0);
    assert_hashes(&man, &o, "img/b c.png");
    /* The ETag is the one a GET of the file answers. */
    fb_file *f;
    assert_int_equal(fb_file_cache_get(&s.fc, "/img/b c.png", 12, 1000, &f), 0);
    assert_int_equal(o.etag_len, f->etag_len);
    assert_memory_equal(o.etag, f->etag, f->etag_len);
    fb_file_release(&s.fc, f);
    o = obj(&man, 4);
    assert_path(&o, "/big.bin");
    fb_manifests_stats st;
    fb_manifests_stats_get(s.m, &st);
    assert_int_equal(st.builds, 1);
    assert_int_equal(st.objects_missing, 4); /* hidden, missing, directory, symlink out */
    /* The second request is a hit, and the same text. */
    const uint8_t *text = v.text;
    assert_int_equal(get(&s, "/", 1000, &v, &man), 0);
    assert_ptr_equal(v.text, text);
    fb_manifests_stats_get(s.m, &st);
    assert_int_equal(st.hits, 1);
    svc_close(&s);
}

static void test_paths(void **state)
{
    (void)state;
    svc s;
    fb_manifest_view v;
    fb_manifest man;
    fb_manifest_object o;
    svc_open(&s, 256, 1 << 20, 8);
    /* A directory with or without its slash: object 0 is the slash form; relative links
     * resolve against it. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(get(&s, i ? "/news" : "/news/", 1000, &v, &man), 0);
        assert_int_equal(man.n_objects, 3);
        o = obj(&man, 0);
        assert_path(&o, "/news/");
        o = obj(&man, 1);
        assert_path(&o, "/news/pic.png");
        o = obj(&man, 2);
        assert_path(&o, "/css/a.css");
    }
    /* A file that is not HTML is its own manifest. */
    assert_int_equal(get(&s, "/img/b c.png", 1000, &v, &man), 0);
    assert_int_equal(man.n_objects, 1);
    o = obj(&man, 0);
    assert_path(&o, "/img/b%20c.png");
    assert_int_equal(get(&s, "/plain.txt", 1000, &v, &man), 0);
    assert_int_equal(man.n_objects, 1);
    /* Nothing there, hidden, outside the root, a directory without index.html. */
    static const char *none[] = {"/missing.html", "/.hidden/x.js", "/out.txt",
                                 "/img",          "/img/",         "/css/a.css/"};
    for (size_t i = 0; i < FB_ARRAY_LEN(none); i++)
        if (fb_manifests_get(s.m, none[i], strlen(none[i]), 1000, &v, NULL) != FB_ENOENT)
            fail_msg("%s got a manifest", none[i]);
    svc_close(&s);
}

static void test_caps(void **state)
{
    (void)state;
    svc s;
    fb_manifest_view v;
    fb_manifest man;
    fb_manifests_stats st;
    /* 3 objects at most: the page and its first two. */
    svc_open(&s, 3, 1 << 20, 8);
    assert_int_equal(get(&s, "/", 1000, &v, &man), 0);
    assert_int_equal(man.n_objects, 3);
    fb_manifests_stats_get(s.m, &st);
    assert_true(st.objects_capped >= 1);
    svc_close(&s);
    /* 50000 bytes: big.bin (100000) is left out, the rest fits; a page over it alone gets none. */
    svc_open(&s, 256, 50000, 8);
    assert_int_equal(get(&s, "/", 1000, &v, &man), 0);
    assert_int_equal(man.n_objects, 4);
    assert_true(man.total_size <= 50000);
    assert_int_equal(fb_manifests_get(s.m, "/big.bin", 8, 1000, &v, NULL), FB_E2BIG);
    svc_close(&s);
    /* Two manifests cached at most: a third evicts the least recently used. */
    svc_open(&s, 256, 1 << 20, 2);
    assert_int_equal(get(&s, "/", 1000, &v, &man), 0);
    assert_int_equal(get(&s, "/news/", 1000, &v, &man), 0);
    assert_int_equal(get(&s, "/", 1000, &v, &man), 0);
    assert_int_equal(get(&s, "/other.html", 1000, &v, &man), 0);
    fb_manifests_stats_get(s.m, &st);
    assert_int_equal(st.cached, 2);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(get(&s, "/", 1000, &v, &man), 0); /* still cached */
    fb_manifests_stats_get(s.m, &st);
    assert_int_equal(st.builds, 3);
    svc_close(&s);
}

static void test_changes(void **state)
{
    (void)state;
    svc s;
    fb_manifest_view v;
    fb_manifest man;
    fb_manifests_stats st;
    svc_open(&s, 256, 1 << 20, 8);
    assert_int_equal(get(&s, "/", 1000, &v, &man), 0);
    char etag1[64];
    memcpy(etag1, v.etag, v.etag_len + 1);
    uint64_t hashed = 0;
    fb_manifests_stats_get(s.m, &st);
    hashed = st.bytes_hashed;
    /* The stylesheet changes: within the same second the cached manifest stands, the next
     * second it is rebuilt, with the new hash, and only that file is hashed again. */
    puts_file("root/css/a.css", "body{color:blue}");
    struct timespec t[2] = {{.tv_sec = 1500000000}, {.tv_sec = 1500000000}};
    char p[256];
    snprintf(p, sizeof(p), "%s/css/a.css", root);
    assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
    assert_int_equal(get(&s, "/", 1000, &v, &man), 0);
    assert_string_equal(v.etag, etag1);
    assert_int_equal(get(&s, "/", 1001, &v, &man), 0);
    assert_string_not_equal(v.etag, etag1);
    fb_manifest_object o = obj(&man, 1);
    assert_hashes(&man, &o, "css/a.css");
    fb_manifests_stats_get(s.m, &st);
    assert_int_equal(st.rebuilds, 1);
    assert_int_equal(st.bytes_hashed - hashed, strlen("body{color:blue}"));
    /* Another page sharing the stylesheet hashes only what it does not share. */
    hashed = st.bytes_hashed;
    assert_int_equal(get(&s, "/other.html", 1001, &v, &man), 0);
    fb_manifests_stats_get(s.m, &st);
    assert_int_equal(st.bytes_hashed - hashed, strlen("<link rel=stylesheet href=css/a.css>"));
    /* The page disappears: 404, and the cached manifest goes. */
    snprintf(p, sizeof(p), "%s/other.html", root);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(fb_manifests_get(s.m, "/other.html", 11, 1002, &v, NULL), FB_ENOENT);
    fb_manifests_stats_get(s.m, &st);
    assert_int_equal(st.cached, 1);
    svc_close(&s);
}

/* Builds in slices, from a loop: requests wait (the first slice is done at once), a waiter that
 * went away is not called, the result is the same manifest a build at once gives, and a file
 * that changes in the middle makes the build start again. */
typedef struct waiter {
    fb_manifests_wait w;
    int calls, rc;
    uint8_t text[4096];
    size_t len;
    char *change; /* a file to rewrite when called (for the next build) */
} waiter;

static void on_built(void *arg, int rc, const fb_manifest_view *v)
{
    waiter *wt = arg;
    wt->calls++;
    wt->rc = rc;
    if (rc == 0) {
        assert_true(v->len <= sizeof(wt->text));
        memcpy(wt->text, v->text, v->len);
        wt->len = v->len;
    }
}

static void wait_init(waiter *wt)
{
    memset(wt, 0, sizeof(*wt));
    wt->w.cb = on_built;
    wt->w.arg = wt;
}

/* A check that runs after each loop turn: rewrites a file once the build is under way. */
typedef struct changer {
    uv_check_t check;
    fb_manifests *m;
    const char *rel;
    bool done;
} changer;

static void on_check(uv_check_t *c)
{
    changer *ch = c->data;
    fb_manifests_stats st;
    fb_manifests_stats_get(ch->m, &st);
    if (!ch->done && st.slices >= 2) {
        ch->done = true;
        char p[256];
        snprintf(p, sizeof(p), "%s/%s", root, ch->rel);
        FILE *f = fopen(p, "r+b");
        assert_non_null(f);
        fputc('Z', f); /* same size, new bytes, new mtime */
        fclose(f);
        struct timespec t[2] = {{.tv_sec = 1600000000}, {.tv_sec = 1600000000}};
        assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
    }
}

static void test_slices(void **state)
{
    (void)state;
    uv_loop_t loop;
    fb_file_cache fc;
    fb_manifests *m, *ref;
    fb_manifest_view v;
    waiter a, b, gone;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(fb_file_cache_init(&fc, root, 64, 1 << 20, 4096), 0);
    fb_manifests_config cfg = {.max_bytes = 1 << 20, .slice_bytes = 16384};
    assert_int_equal(fb_manifests_new(&loop, &fc, NULL, &cfg, &m), 0);
    assert_int_equal(fb_manifests_new(NULL, &fc, NULL, &cfg, &ref), 0);
    wait_init(&a);
    wait_init(&b);
    wait_init(&gone);
    /* The page holds about 140 KB: far more than one 16 KiB slice. */
    assert_int_equal(fb_manifests_get(m, "/", 1, 1000, &v, &a.w), FB_EAGAIN);
    assert_int_equal(fb_manifests_get(m, "/", 1, 1000, &v, &b.w), FB_EAGAIN);
    assert_int_equal(fb_manifests_get(m, "/", 1, 1000, &v, &gone.w), FB_EAGAIN);
    fb_manifests_unwait(m, &gone.w);
    /* A missing page is answered at once, builds going on or not. */
    assert_int_equal(fb_manifests_get(m, "/missing.html", 13, 1000, &v, &gone.w), FB_ENOENT);
    fb_manifests_stats st;
    fb_manifests_stats_get(m, &st);
    assert_int_equal(st.building, 1);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(gone.calls, 0);
    assert_int_equal(a.rc, 0);
    fb_manifests_stats_get(m, &st);
    assert_true(st.slices >= 5);
    assert_int_equal(st.deferred, 3);
    assert_int_equal(st.building, 0);
    /* The same manifest a build at once makes. */
    assert_int_equal(fb_manifests_get(ref, "/", 1, 1000, &v, NULL), 0);
    assert_int_equal(v.len, a.len);
    assert_memory_equal(v.text, a.text, a.len);
    assert_memory_equal(b.text, a.text, a.len);
    /* Now cached: answered at once. */
    assert_int_equal(fb_manifests_get(m, "/", 1, 1000, &v, &b.w), 0);
    /* A file rewritten while its page is being built: the build starts again and the manifest
     * describes the new bytes. */
    fb_manifests_free(ref);
    assert_int_equal(fb_manifests_new(NULL, &fc, NULL, &cfg, &ref), 0);
    changer ch = {.m = m, .rel = "img/b c.png"};
    uv_check_init(&loop, &ch.check);
    ch.check.data = &ch;
    uv_check_start(&ch.check, on_check);
    uv_unref((uv_handle_t *)&ch.check);
    wait_init(&a);
    assert_int_equal(fb_manifests_get(m, "/news/", 6, 1000, &v, &a.w), 0); /* small: at once */
    assert_int_equal(fb_manifests_get(m, "/", 1, 1001, &v, &a.w), 0);      /* nothing changed */
    /* Touch the page's big image so the cached manifest goes stale, then ask in the next second:
     * a new build, in slices, during which the image changes again. */
    char p[256];
    snprintf(p, sizeof(p), "%s/img/b c.png", root);
    struct timespec t[2] = {{.tv_sec = 1550000000}, {.tv_sec = 1550000000}};
    assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
    uint64_t retries0 = st.retries;
    assert_int_equal(fb_manifests_get(m, "/", 1, 1002, &v, &a.w), FB_EAGAIN);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_true(ch.done);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.rc, 0);
    fb_manifests_stats_get(m, &st);
    assert_true(st.retries > retries0);
    assert_int_equal(fb_manifests_get(ref, "/", 1, 1002, &v, NULL), 0);
    assert_int_equal(v.len, a.len);
    assert_memory_equal(v.text, a.text, a.len);
    uv_close((uv_handle_t *)&ch.check, NULL);
    fb_manifests_free(ref);
    fb_manifests_free(m);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    fb_file_cache_fini(&fc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page),    cmocka_unit_test(test_paths),  cmocka_unit_test(test_caps),
        cmocka_unit_test(test_changes), cmocka_unit_test(test_slices),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
