/* Unit tests for net/file_cache, on a temp directory: lookups, both resolvers (openat2 with
 * RESOLVE_BENEATH and the realpath fallback) refusing every way out of the root, revalidation by
 * identity, the entry and byte caps, references keeping evicted entries alive, the type
 * function (a reverse proxy's upstream types) and forgetting an entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "net/file_cache.c"

static char base[64];
static char root[128];

static void put(const char *rel, const char *content)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", base, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void link_to(const char *target, const char *rel)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", base, rel);
    assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(base, sizeof(base), "/tmp/fbcache.XXXXXX");
    assert_non_null(mkdtemp(base));
    snprintf(root, sizeof(root), "%s/root", base);
    assert_int_equal(mkdir(root, 0755), 0);
    char p[256];
    snprintf(p, sizeof(p), "%s/dir", root);
    assert_int_equal(mkdir(p, 0755), 0);
    put("secret.txt", "SECRET");
    put("root/a.txt", "aaaa");
    put("root/b.txt", "bbbbbbbb");
    put("root/c.html", "<p>c</p>");
    put("root/dir/index.html", "index");
    char abs[256];
    snprintf(abs, sizeof(abs), "%s/secret.txt", base);
    link_to("../secret.txt", "root/rel.txt");
    link_to(abs, "root/abs.txt");
    link_to("..", "root/up");
    link_to("a.txt", "root/inside.txt");
    link_to("dir", "root/dirlink");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
    return system(cmd) == 0 ? 0 : -1;
}

static int get(fb_file_cache *c, const char *path, int64_t now, fb_file **f)
{
    return fb_file_cache_get(c, path, strlen(path), now, f);
}

static void lookups(bool openat2)
{
    fb_file_cache c;
    fb_file *f;
    assert_int_equal(fb_file_cache_init(&c, root, 16, 1 << 20, 1024), 0);
    c.use_openat2 = openat2;

    assert_int_equal(get(&c, "/a.txt", 100, &f), 0);
    assert_false(f->is_dir);
    assert_int_equal(f->size, 4);
    assert_non_null(f->data); /* small: held in memory */
    assert_memory_equal(f->data, "aaaa", 4);
    assert_string_equal(f->mime, "text/plain; charset=utf-8");
    assert_true(f->etag_len > 2 && f->etag[0] == '"' && f->etag[f->etag_len - 1] == '"');
    assert_memory_equal(f->hdr, "Last-Modified: ", 15);
    assert_memory_equal(f->hdr + f->hdr304_len, "Content-Type: text/plain", 24);
    fb_file_release(&c, f);

    assert_int_equal(get(&c, "/", 100, &f), 0);
    assert_true(f->is_dir);
    fb_file_release(&c, f);
    assert_int_equal(get(&c, "/dir", 100, &f), 0);
    assert_true(f->is_dir);
    fb_file_release(&c, f);
    assert_int_equal(get(&c, "/inside.txt", 100, &f), 0); /* symlink inside the root */
    assert_memory_equal(f->data, "aaaa", 4);
    fb_file_release(&c, f);
    assert_int_equal(get(&c, "/dirlink/index.html", 100, &f), 0);
    fb_file_release(&c, f);

    /* Every way out of the root is refused, whichever resolver is used; fb_file_cache_open
     * (the seed's reads) refuses the same paths. */
    static const char *out[] = {"/rel.txt", "/abs.txt",       "/up/secret.txt",
                                "/up",      "/../secret.txt", "/dir/../../secret.txt",
                                "/missing", "/a.txt/"};
    for (size_t i = 0; i < FB_ARRAY_LEN(out); i++) {
        f = NULL;
        if (get(&c, out[i], 100, &f) != FB_ENOENT)
            fail_msg("%s (openat2=%d) was not refused", out[i], openat2);
        assert_null(f);
        if (fb_file_cache_open(&c, out[i]) != FB_ENOENT)
            fail_msg("%s (openat2=%d) was opened", out[i], openat2);
    }
    int fd = fb_file_cache_open(&c, "/inside.txt");
    char buf[8] = {0};
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "aaaa", 4);
    close(fd);
    assert_int_equal(fb_file_cache_open(&c, "a.txt"), FB_EINVAL);

    /* fb_file_etag gives the tag the cache serves. */
    char tag[FB_FILE_ETAG_MAX];
    assert_int_equal(get(&c, "/a.txt", 100, &f), 0);
    size_t n = fb_file_etag(tag, f->ino, f->size, f->mtime, f->mtime_nsec);
    assert_int_equal(n, f->etag_len);
    assert_memory_equal(tag, f->etag, n);
    fb_file_release(&c, f);
    fb_file_cache_fini(&c);
}

static void test_openat2(void **state)
{
    (void)state;
    lookups(true);
}

static void test_realpath_fallback(void **state)
{
    (void)state;
    lookups(false);
}

static void test_revalidate(void **state)
{
    (void)state;
    fb_file_cache c;
    fb_file *f, *g;
    assert_int_equal(fb_file_cache_init(&c, root, 16, 1 << 20, 1024), 0);
    put("root/v.txt", "version 1");
    assert_int_equal(get(&c, "/v.txt", 100, &f), 0);
    fb_file_release(&c, f);
    /* Replaced (a new inode) within the same second: still the cached bytes. */
    put("root/v2.tmp", "version 2!");
    char from[256], to[256];
    snprintf(from, sizeof(from), "%s/v2.tmp", root);
    snprintf(to, sizeof(to), "%s/v.txt", root);
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(get(&c, "/v.txt", 100, &f), 0);
    assert_memory_equal(f->data, "version 1", 9);
    assert_int_equal(c.hits, 1);
    /* A second later the identity check notices; the old entry lives on while referenced. */
    assert_int_equal(get(&c, "/v.txt", 101, &g), 0);
    assert_ptr_not_equal(f, g);
    assert_memory_equal(g->data, "version 2!", 10);
    assert_memory_equal(f->data, "version 1", 9);
    assert_false(f->cached);
    assert_int_equal(c.stale, 1);
    fb_file_release(&c, f); /* frees the detached entry (ASan checks) */
    fb_file_release(&c, g);
    /* Removed: gone at the next check. */
    assert_int_equal(unlink(to), 0);
    assert_int_equal(get(&c, "/v.txt", 102, &f), FB_ENOENT);
    fb_file_cache_fini(&c);
}

static void test_caps(void **state)
{
    (void)state;
    fb_file_cache c;
    fb_file *f, *keep;
    /* Two entries at most: a third lookup evicts the least recently used unreferenced one. */
    assert_int_equal(fb_file_cache_init(&c, root, 2, 1 << 20, 1024), 0);
    assert_int_equal(get(&c, "/a.txt", 100, &keep), 0); /* held */
    assert_int_equal(get(&c, "/b.txt", 100, &f), 0);
    fb_file_release(&c, f);
    assert_int_equal(get(&c, "/c.html", 100, &f), 0);
    fb_file_release(&c, f);
    assert_int_equal(c.entries, 2);
    assert_int_equal(c.evictions, 1);
    assert_int_equal(get(&c, "/b.txt", 100, &f), 0); /* b was evicted: a miss */
    fb_file_release(&c, f);
    assert_int_equal(c.misses, 4);
    assert_true(keep->cached); /* the referenced entry was never evicted */
    fb_file_release(&c, keep);
    fb_file_cache_fini(&c);

    /* Files above max_file_mem are not held in memory but keep a descriptor. */
    assert_int_equal(fb_file_cache_init(&c, root, 16, 1 << 20, 4), 0);
    assert_int_equal(get(&c, "/b.txt", 100, &f), 0);
    assert_null(f->data);
    assert_true(f->fd >= 0);
    fb_file_release(&c, f);
    fb_file_cache_fini(&c);

    /* A byte cap smaller than any entry: lookups still work, nothing is kept. */
    assert_int_equal(fb_file_cache_init(&c, root, 16, 16, 1024), 0);
    assert_int_equal(get(&c, "/a.txt", 100, &f), 0);
    assert_false(f->cached);
    assert_int_equal(c.entries, 0);
    assert_true(c.bytes <= 16);
    fb_file_release(&c, f);
    fb_file_cache_fini(&c);
}

static const char *proxy_types(void *ctx, const char *path, size_t len)
{
    (void)ctx;
    if (len == 6 && memcmp(path, "/a.txt", 6) == 0)
        return "application/x-upstream; charset=koi8-r";
    return NULL;
}

static void test_types_and_forget(void **state)
{
    (void)state;
    fb_file_cache c;
    fb_file *f, *g;
    assert_int_equal(fb_file_cache_init(&c, root, 16, 1 << 20, 1024), 0);
    fb_file_cache_set_types(&c, proxy_types, NULL);
    assert_string_equal(fb_file_cache_type(&c, "/a.txt", 6),
                        "application/x-upstream; charset=koi8-r");
    assert_string_equal(fb_file_cache_type(&c, "/b.txt", 6), "text/plain; charset=utf-8");
    assert_int_equal(get(&c, "/a.txt", 100, &f), 0);
    assert_string_equal(f->mime, "application/x-upstream; charset=koi8-r");
    assert_memory_equal(f->hdr + f->hdr304_len,
                        "Content-Type: application/x-upstream; charset=koi8-r\r\n", 54);
    assert_memory_equal(f->data, "aaaa", 4); /* the type sits beside, not over, the bytes */
    /* Forgotten: out of the table at once, alive while referenced. */
    fb_file_cache_forget(&c, f);
    assert_false(f->cached);
    assert_int_equal(c.entries, 0);
    assert_int_equal(get(&c, "/a.txt", 100, &g), 0); /* loaded again, within the same second */
    assert_ptr_not_equal(f, g);
    assert_int_equal(c.misses, 2);
    assert_memory_equal(f->data, "aaaa", 4);
    fb_file_release(&c, f); /* freed here (ASan checks) */
    fb_file_release(&c, g);
    fb_file_cache_set_types(&c, NULL, NULL);
    assert_string_equal(fb_file_cache_type(&c, "/a.txt", 6), "text/plain; charset=utf-8");
    fb_file_cache_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openat2),          cmocka_unit_test(test_realpath_fallback),
        cmocka_unit_test(test_revalidate),       cmocka_unit_test(test_caps),
        cmocka_unit_test(test_types_and_forget),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
