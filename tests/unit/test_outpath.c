/* Unit tests for peer/outpath: the mapping of untrusted URL paths to relative file paths (a
 * table of accepted and refused paths, including encoded traversal), clash resolution, and the
 * writers against an output directory an attacker prepared (symbolic links to the outside, a
 * file where a directory should be): nothing is ever written outside it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "peer/outpath.c"

static void test_map_accepts(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"/", "index.html"},
        {"/index.html", "index.html"},
        {"/news/", "news/index.html"},
        {"/news", "news"},
        {"/img/a.png", "img/a.png"},
        {"/a/b/c/d.css?v=2", "a/b/c/d.css"},
        {"/?x=1", "index.html"},
        {"/dir/?q#f", "dir/index.html"},
        {"/a%20b.png", "a b.png"},
        {"/%41%62c", "Abc"},
        {"/.well-known/x", ".well-known/x"},
        {"/...", "..."},
        {"/..a", "..a"},
        {"/caf%C3%A9.html", "caf\xc3\xa9.html"},
    };
    for (size_t i = 0; i < FB_ARRAY_LEN(cases); i++) {
        char out[FB_OUTPATH_MAX + 1];
        int n = fb_outpath_map(cases[i].in, strlen(cases[i].in), out, sizeof(out));
        if (n < 0)
            fail_msg("'%s' refused (%d)", cases[i].in, n);
        assert_int_equal(n, (int)strlen(cases[i].out));
        assert_string_equal(out, cases[i].out);
    }
}

static void test_map_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "index.html",   /* relative */
        "//etc/passwd", /* empty component */
        "/a//b",
        "/..",
        "/../etc/passwd",
        "/a/../../b",
        "/.",
        "/./a",
        "/a/.",
        "/%2e%2e/etc/passwd", /* encoded traversal */
        "/%2E%2E",
        "/.%2e/x",
        "/%2e",
        "/a%2fb", /* encoded slash */
        "/a%2F..%2Fb",
        "/a%00b", /* NUL */
        "/a\\b",  /* backslash */
        "/a%5cb",
        "/a%5C..%5Cb",
        "/a%0ab", /* control bytes */
        "/a\tb",
        "/a%7f",
        "/a%", /* malformed escapes */
        "/a%4",
        "/a%zz",
        "/a%4/",
    };
    for (size_t i = 0; i < FB_ARRAY_LEN(bad); i++) {
        char out[FB_OUTPATH_MAX + 1];
        int n = fb_outpath_map(bad[i], strlen(bad[i]), out, sizeof(out));
        if (n != FB_EINVAL)
            fail_msg("'%s' gave %d", bad[i], n);
    }
    char out[64];
    assert_int_equal(fb_outpath_map(NULL, 0, out, sizeof(out)), FB_EINVAL);
    /* A NUL inside the given length is refused too (only n bytes count). */
    assert_int_equal(fb_outpath_map("/a\0b", 4, out, sizeof(out)), FB_EINVAL);
}

static void test_map_caps(void **state)
{
    (void)state;
    char out[FB_OUTPATH_MAX + 1], in[2048];
    /* A component of 255 bytes is fine, 256 is not (NAME_MAX). */
    in[0] = '/';
    memset(in + 1, 'x', 256);
    assert_int_equal(fb_outpath_map(in, 256, out, sizeof(out)), 255);
    assert_int_equal(fb_outpath_map(in, 257, out, sizeof(out)), FB_EINVAL);
    /* Depth: 32 components, not 33. */
    size_t n = 0;
    for (int i = 0; i < 33; i++) {
        in[n++] = '/';
        in[n++] = 'd';
    }
    assert_int_equal(fb_outpath_map(in, 64, out, sizeof(out)), 63);
    assert_int_equal(fb_outpath_map(in, n, out, sizeof(out)), FB_EINVAL);
    /* The output cap, and the index name that must fit too. */
    assert_int_equal(fb_outpath_map("/abcdef", 7, out, 6), FB_E2BIG);
    assert_int_equal(fb_outpath_map("/abcdef", 7, out, 7), 6);
    assert_int_equal(fb_outpath_map("/", 1, out, 10), FB_E2BIG);
    assert_int_equal(fb_outpath_map("/", 1, out, 11), 10);
    /* Never longer than FB_OUTPATH_MAX, whatever cap says. */
    static char big[4096], bigout[4096];
    n = 0;
    for (int i = 0; i < 8; i++) {
        big[n++] = '/';
        memset(big + n, 'a' + i, 200);
        n += 200;
    }
    assert_int_equal(fb_outpath_map(big, n, bigout, sizeof(bigout)), FB_E2BIG);
}

static void test_resolve(void **state)
{
    (void)state;
    static char paths[6][FB_OUTPATH_MAX + 1];
    bool dup[6];
    const char *in[6] = {"news", "news/a.png", "index.html", "news/index.html", "x.css", "x.css"};
    for (int i = 0; i < 6; i++)
        strcpy(paths[i], in[i]);
    assert_int_equal(fb_outpath_resolve(paths, dup, 6), 0);
    assert_string_equal(paths[0], "news/index.html"); /* a directory of another path */
    assert_string_equal(paths[1], "news/a.png");
    assert_string_equal(paths[2], "index.html");
    assert_false(dup[0] || dup[1] || dup[2] || dup[4]);
    assert_true(dup[3]); /* now the same as paths[0] */
    assert_true(dup[5]);
}

/* ---- the writers -------------------------------------------------------------------------- */

typedef struct fx {
    char base[64]; /* a fresh temporary directory holding out/ and outside/ */
    char out[96], outside[96];
    int dfd;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    strcpy(f->base, "/tmp/fbtest-outpath.XXXXXX");
    assert_non_null(mkdtemp(f->base));
    snprintf(f->out, sizeof(f->out), "%s/out", f->base);
    snprintf(f->outside, sizeof(f->outside), "%s/outside", f->base);
    assert_int_equal(mkdir(f->outside, 0755), 0);
    f->dfd = fb_outpath_open_dir(f->out);
    assert_true(f->dfd >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[160];
    close(f->dfd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->base);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void assert_file(const char *path, const char *content)
{
    char buf[256];
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        fail_msg("%s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    assert_int_equal(n, strlen(content));
    assert_memory_equal(buf, content, n);
}

static void test_write_tree(void **state)
{
    fx *f = *state;
    char p[256];
    assert_int_equal(fb_outpath_write_at(f->dfd, "index.html", (const uint8_t *)"page", 4), 0);
    assert_int_equal(fb_outpath_write_at(f->dfd, "img/sub/a.png", (const uint8_t *)"png", 3), 0);
    assert_int_equal(fb_outpath_write_at(f->dfd, "img/b.png", (const uint8_t *)"", 0), 0);
    /* Writing again replaces the file. */
    assert_int_equal(fb_outpath_write_at(f->dfd, "index.html", (const uint8_t *)"page2", 5), 0);
    snprintf(p, sizeof(p), "%s/index.html", f->out);
    assert_file(p, "page2");
    snprintf(p, sizeof(p), "%s/img/sub/a.png", f->out);
    assert_file(p, "png");
    snprintf(p, sizeof(p), "%s/img/b.png", f->out);
    assert_file(p, "");
    /* No temporary file is left behind. */
    assert_int_equal(count_entries(f->out), 2);
    snprintf(p, sizeof(p), "%s/img", f->out);
    assert_int_equal(count_entries(p), 2);
    /* Paths that fb_outpath_map never produces are refused. */
    assert_int_equal(fb_outpath_write_at(f->dfd, "../x", (const uint8_t *)"x", 1), -EINVAL);
    assert_int_equal(fb_outpath_write_at(f->dfd, "a/../../x", (const uint8_t *)"x", 1), -EINVAL);
    assert_int_equal(fb_outpath_write_at(f->dfd, "/etc/x", (const uint8_t *)"x", 1), -EINVAL);
    assert_int_equal(fb_outpath_write_at(f->dfd, "a//b", (const uint8_t *)"x", 1), -EINVAL);
    assert_int_equal(fb_outpath_write_at(f->dfd, "", (const uint8_t *)"x", 1), -EINVAL);
    assert_int_equal(count_entries(f->outside), 0);
}

/* An attacker's symbolic links in the output directory lead nowhere. */
static void test_write_symlinks(void **state)
{
    fx *f = *state;
    char p[256], q[256];
    /* A directory link to the outside: refused, nothing written there. */
    snprintf(p, sizeof(p), "%s/img", f->out);
    assert_int_equal(symlink(f->outside, p), 0);
    int rc = fb_outpath_write_at(f->dfd, "img/a.png", (const uint8_t *)"evil", 4);
    assert_true(rc == -ELOOP || rc == -ENOTDIR);
    assert_int_equal(count_entries(f->outside), 0);
    /* A file link to the outside: replaced by a file; the target is untouched. */
    snprintf(q, sizeof(q), "%s/victim", f->outside);
    FILE *fp = fopen(q, "w");
    fputs("safe", fp);
    fclose(fp);
    snprintf(p, sizeof(p), "%s/page.html", f->out);
    assert_int_equal(symlink(q, p), 0);
    assert_int_equal(fb_outpath_write_at(f->dfd, "page.html", (const uint8_t *)"new", 3), 0);
    assert_file(q, "safe");
    assert_file(p, "new");
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    /* A regular file where a directory should be: refused. */
    assert_int_equal(fb_outpath_write_at(f->dfd, "page.html/x", (const uint8_t *)"x", 1), -ENOTDIR);
    /* A directory where the file should be: refused, the directory kept. */
    snprintf(p, sizeof(p), "%s/adir", f->out);
    assert_int_equal(mkdir(p, 0755), 0);
    assert_int_equal(fb_outpath_write_at(f->dfd, "adir", (const uint8_t *)"x", 1), -EISDIR);
    assert_int_equal(count_entries(p), 0);
    assert_int_equal(count_entries(f->outside), 1);
}

static void test_write_file(void **state)
{
    fx *f = *state;
    char p[256];
    snprintf(p, sizeof(p), "%s/plain.html", f->base);
    assert_int_equal(fb_outpath_write_file(p, (const uint8_t *)"one", 3), 0);
    assert_file(p, "one");
    assert_int_equal(fb_outpath_write_file(p, (const uint8_t *)"two!", 4), 0);
    assert_file(p, "two!");
    assert_int_equal(count_entries(f->base), 3); /* out, outside, plain.html: no temporary */
    assert_int_equal(fb_outpath_write_file(f->out, (const uint8_t *)"x", 1), -EISDIR);
    snprintf(p, sizeof(p), "%s/missing/x", f->base);
    assert_int_equal(fb_outpath_write_file(p, (const uint8_t *)"x", 1), -ENOENT);
    snprintf(p, sizeof(p), "%s/", f->base);
    assert_int_equal(fb_outpath_write_file(p, (const uint8_t *)"x", 1), -EISDIR);
    assert_int_equal(fb_outpath_write_file("", (const uint8_t *)"x", 1), -EINVAL);
    /* The output directory: created one level deep, not more. */
    snprintf(p, sizeof(p), "%s/a/b", f->base);
    assert_int_equal(fb_outpath_open_dir(p), -ENOENT);
    snprintf(p, sizeof(p), "%s/plain.html", f->base);
    assert_int_equal(fb_outpath_open_dir(p), -ENOTDIR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_accepts),
        cmocka_unit_test(test_map_refuses),
        cmocka_unit_test(test_map_caps),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test_setup_teardown(test_write_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
