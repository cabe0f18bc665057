/* Unit tests for net/filestore: chunks read from real files in a temporary directory (geometry
 * with short and empty files), the descriptor cap, and refusal once a file changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/filestore.h"

typedef struct dir {
    char path[64];
} dir;

static uint8_t byte_of(int file, size_t i)
{
    return (uint8_t)(file * 31 + i * 7 + i / 251);
}

static void write_file(dir *d, const char *name, int file, size_t size)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/%s", d->path, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < size; i++)
        fputc(byte_of(file, i), f);
    fclose(f);
}

static int setup(void **state)
{
    dir *d = calloc(1, sizeof(*d));
    snprintf(d->path, sizeof(d->path), "/tmp/fbfs.XXXXXX");
    assert_non_null(mkdtemp(d->path));
    char sub[96];
    snprintf(sub, sizeof(sub), "%s/img", d->path);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file(d, "index.html", 0, 2500);
    write_file(d, "empty.txt", 1, 0);
    write_file(d, "img/a.png", 2, 1024);
    write_file(d, "b.css", 3, 1);
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    dir *d = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
    assert_int_equal(system(cmd), 0);
    free(d);
    return 0;
}

static const fb_filestore_object page[] = {
    {"index.html", 2500}, {"empty.txt", 0}, {"img/a.png", 1024}, {"b.css", 1}};

static void check_chunk(fb_filestore *s, uint32_t c, int file, size_t file_off, size_t len)
{
    uint8_t buf[1024];
    assert_int_equal(fb_filestore_read(s, c, 0, buf, len), 0);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(buf[i], byte_of(file, file_off + i));
}

static void test_reads(void **state)
{
    dir *d = *state;
    fb_filestore s;
    uint8_t buf[1024];
    assert_int_equal(fb_filestore_init(&s, d->path, page, 4, 1024, 0), 0);
    assert_int_equal(s.n_chunks, 5);
    check_chunk(&s, 0, 0, 0, 1024);
    check_chunk(&s, 1, 0, 1024, 1024);
    check_chunk(&s, 2, 0, 2048, 452);
    check_chunk(&s, 3, 2, 0, 1024);
    check_chunk(&s, 4, 3, 0, 1);
    /* A part of a chunk, and the limits. */
    assert_int_equal(fb_filestore_read(&s, 2, 400, buf, 52), 0);
    assert_int_equal(buf[0], byte_of(0, 2448));
    assert_int_equal(fb_filestore_read(&s, 2, 400, buf, 53), FB_EINVAL);
    assert_int_equal(fb_filestore_read(&s, 5, 0, buf, 1), FB_EINVAL);
    assert_false(s.stale);
    fb_filestore_fini(&s);
}

static void test_fd_cap(void **state)
{
    dir *d = *state;
    fb_filestore s;
    assert_int_equal(fb_filestore_init(&s, d->path, page, 4, 1024, 1), 0);
    for (int round = 0; round < 3; round++) {
        check_chunk(&s, 0, 0, 0, 1024);
        assert_true(s.n_open <= 1);
        check_chunk(&s, 3, 2, 0, 1024);
        assert_true(s.n_open <= 1);
        check_chunk(&s, 4, 3, 0, 1);
        assert_true(s.n_open <= 1);
    }
    fb_filestore_fini(&s);
}

static void test_init_errors(void **state)
{
    dir *d = *state;
    fb_filestore s;
    const fb_filestore_object missing[] = {{"index.html", 2500}, {"nope.js", 10}};
    const fb_filestore_object wrong[] = {{"index.html", 2501}};
    const fb_filestore_object isdir[] = {{"img", 0}};
    assert_int_equal(fb_filestore_init(&s, d->path, missing, 2, 1024, 0), FB_ENOENT);
    assert_int_equal(fb_filestore_init(&s, d->path, wrong, 1, 1024, 0), FB_EPROTO);
    assert_int_equal(fb_filestore_init(&s, d->path, isdir, 1, 1024, 0), FB_ENOENT);
    assert_int_equal(fb_filestore_init(&s, "/nonexistent/fb", page, 4, 1024, 0), FB_ENOENT);
    assert_int_equal(fb_filestore_init(&s, d->path, page, 4, 0, 0), FB_EINVAL);
}

/* A file rewritten after init (same size, new content) is never served. */
static void test_changed_file(void **state)
{
    dir *d = *state;
    fb_filestore s;
    uint8_t buf[1024];
    assert_int_equal(fb_filestore_init(&s, d->path, page, 4, 1024, 0), 0);
    check_chunk(&s, 3, 2, 0, 1024); /* opens img/a.png */
    char p[128];
    snprintf(p, sizeof(p), "%s/img/a.png", d->path);
    int fd = open(p, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "XXXX", 4, 0), 4);
    struct timespec t[2] = {{.tv_sec = 1000000000, .tv_nsec = 0}, {.tv_sec = 1000000000}};
    assert_int_equal(futimens(fd, t), 0); /* a distinct mtime, even on a coarse clock */
    close(fd);
    assert_int_equal(fb_filestore_read(&s, 3, 0, buf, 10), FB_ENOENT);
    assert_true(s.stale);
    assert_int_equal(s.read_errors, 1);
    check_chunk(&s, 0, 0, 0, 1024); /* the other files are still fine */
    /* A file replaced by another one (new inode) is refused too. */
    snprintf(p, sizeof(p), "%s/b.css", d->path);
    assert_int_equal(unlink(p), 0);
    write_file(d, "b.css", 3, 1);
    assert_int_equal(fb_filestore_read(&s, 4, 0, buf, 1), FB_ENOENT);
    fb_filestore_fini(&s);
}

static void test_adapter(void **state)
{
    dir *d = *state;
    fb_filestore s;
    uint8_t buf[4];
    assert_int_equal(fb_filestore_init(&s, d->path, page, 4, 1024, 0), 0);
    fb_chunk_store st = fb_filestore_as_store(&s);
    assert_null(st.write);
    s.swarm = 1;
    assert_int_equal(st.read(st.ctx, 2, 0, 0, buf, 4), FB_ENOENT);
    assert_int_equal(st.read(st.ctx, 1, 0, 0, buf, 4), 0);
    assert_int_equal(buf[3], byte_of(0, 3));
    fb_filestore_fini(&s);
}

/* The opener variant: every open goes through the program's function (here it counts calls and
 * refuses one name, as a resolver refuses a path that leaves the root), and the identity
 * recorded at init is the file's. */
typedef struct opener {
    const char *root;
    int calls;
} opener;

static int open_counted(void *ctx, const char *path)
{
    opener *o = ctx;
    char p[256];
    o->calls++;
    if (strcmp(path, "escape") == 0)
        return FB_ENOENT;
    snprintf(p, sizeof(p), "%s/%s", o->root, path);
    return open(p, O_RDONLY | O_CLOEXEC);
}

static void test_opener(void **state)
{
    dir *d = *state;
    fb_filestore s;
    fb_file_id id;
    struct stat st;
    char p[128];
    opener o = {d->path, 0};
    const fb_filestore_object bad[] = {{"index.html", 2500}, {"escape", 1}};
    assert_int_equal(fb_filestore_init_with(&s, open_counted, &o, bad, 2, 1024, 0), FB_ENOENT);
    assert_int_equal(fb_filestore_init_with(&s, NULL, &o, page, 4, 1024, 0), FB_EINVAL);
    o.calls = 0;
    /* One descriptor at most: init keeps the first open, later reads reopen through o. */
    assert_int_equal(fb_filestore_init_with(&s, open_counted, &o, page, 4, 1024, 1), 0);
    assert_int_equal(o.calls, 4);
    assert_true(s.n_open <= 1);
    check_chunk(&s, 0, 0, 0, 1024);
    check_chunk(&s, 3, 2, 0, 1024);
    check_chunk(&s, 4, 3, 0, 1);
    assert_true(o.calls >= 6);
    assert_true(s.n_open <= 1);
    snprintf(p, sizeof(p), "%s/img/a.png", d->path);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(fb_filestore_identity(&s, 2, &id), 0);
    assert_int_equal(id.ino, st.st_ino);
    assert_int_equal(id.dev, st.st_dev);
    assert_int_equal(id.size, 1024);
    assert_int_equal(id.mtime_sec, st.st_mtim.tv_sec);
    assert_int_equal(id.mtime_nsec, st.st_mtim.tv_nsec);
    assert_int_equal(fb_filestore_identity(&s, 4, &id), FB_EINVAL);
    fb_filestore_fini(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fd_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adapter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_opener, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
