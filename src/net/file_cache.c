/* File cache: path -> open descriptor, identity, prebuilt headers and (for small files) content.
 * Resolution under the root uses openat2(RESOLVE_BENEATH), which makes the kernel refuse any
 * walk that leaves the root (through "..", an absolute symlink or a relative one that climbs out);
 * where openat2 is missing it falls back to realpath() and a prefix check. */
#include "net/file_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/http_date.h"
#include "core/http_resp.h"
#include "core/mime.h"

#define OPEN_FLAGS (O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)

static const char *relative(const char *path)
{
    return path[1] ? path + 1 : ".";
}

int fb_file_cache_init(fb_file_cache *c, const char *root, size_t max_entries, size_t max_bytes,
                       size_t max_file_mem)
{
    memset(c, 0, sizeof(*c));
    c->root_fd = -1;
    c->lru.lnext = c->lru.lprev = &c->lru;
    c->max_entries = max_entries ? max_entries : 1;
    c->max_bytes = max_bytes;
    c->max_file_mem = max_file_mem;
    c->use_openat2 = true;
    c->nbuckets = 16;
    while (c->nbuckets < c->max_entries * 2 && c->nbuckets < (1u << 24))
        c->nbuckets <<= 1;
    c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
    c->root_real = realpath(root, NULL);
    if (!c->buckets || !c->root_real) {
        int err = c->buckets ? -errno : -ENOMEM;
        fb_file_cache_fini(c);
        return err;
    }
    c->root_fd = open(c->root_real, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c->root_fd < 0) {
        int err = -errno;
        fb_file_cache_fini(c);
        return err;
    }
    return 0;
}

static void entry_free(fb_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    free(f);
}

static void unlink_entry(fb_file_cache *c, fb_file *f)
{
    fb_file **pp = &c->buckets[f->hash & (c->nbuckets - 1)];
    while (*pp != f)
        pp = &(*pp)->hnext;
    *pp = f->hnext;
    f->lprev->lnext = f->lnext;
    f->lnext->lprev = f->lprev;
    f->cached = false;
    c->entries--;
    c->bytes -= f->mem;
}

void fb_file_cache_fini(fb_file_cache *c)
{
    if (c->buckets) {
        while (c->lru.lnext != &c->lru) {
            fb_file *f = c->lru.lnext;
            unlink_entry(c, f);
            entry_free(f);
        }
    }
    free(c->buckets);
    free(c->root_real);
    if (c->root_fd >= 0)
        close(c->root_fd);
    memset(c, 0, sizeof(*c));
    c->root_fd = -1;
}

static int map_errno(int e);

/* Opens path (normalized, absolute within the root) without leaving the root.
 * Returns a descriptor or a negative errno. */
static int open_beneath(fb_file_cache *c, const char *path)
{
    if (c->use_openat2) {
        struct open_how how;
        memset(&how, 0, sizeof(how));
        how.flags = OPEN_FLAGS;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        long fd = syscall(SYS_openat2, c->root_fd, relative(path), &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno != ENOSYS)
            return -errno;
        c->use_openat2 = false; /* kernel before 5.6, or a filter: use the fallback from now on */
    }
    char full[PATH_MAX], resolved[PATH_MAX];
    size_t rlen = strlen(c->root_real);
    int n = snprintf(full, sizeof(full), "%s%s", rlen == 1 ? "" : c->root_real, path);
    if (n < 0 || (size_t)n >= sizeof(full))
        return -ENAMETOOLONG;
    if (!realpath(full, resolved))
        return -errno;
    if (rlen > 1 && (strncmp(resolved, c->root_real, rlen) != 0 ||
                     (resolved[rlen] != '/' && resolved[rlen] != '\0')))
        return -EXDEV;
    int fd = open(resolved, OPEN_FLAGS | O_NOFOLLOW);
    return fd >= 0 ? fd : -errno;
}

int fb_file_cache_open(fb_file_cache *c, const char *path)
{
    if (path[0] != '/')
        return FB_EINVAL;
    int fd = open_beneath(c, path);
    return fd >= 0 ? fd : map_errno(fd);
}

static int map_errno(int e)
{
    switch (e) {
    case -EMFILE:
    case -ENFILE:
        return FB_ENOSPC;
    case -ENOMEM:
        return FB_ENOMEM;
    case -ENOENT:
    case -ENOTDIR:
    case -ELOOP:
    case -EXDEV:
    case -EACCES:
    case -EPERM:
    case -ENAMETOOLONG:
    case -ENXIO:
    case -ENODEV:
        return FB_ENOENT;
    default:
        return FB_EINVAL;
    }
}

static bool same_identity(const fb_file *f, const struct stat *st)
{
    return f->dev == (uint64_t)st->st_dev && f->ino == (uint64_t)st->st_ino &&
           f->size == (uint64_t)st->st_size && f->mtime == (int64_t)st->st_mtim.tv_sec &&
           f->mtime_nsec == (int64_t)st->st_mtim.tv_nsec && f->is_dir == S_ISDIR(st->st_mode);
}

static bool read_all(int fd, char *dst, size_t size)
{
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, dst + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    char extra;
    return pread(fd, &extra, 1, (off_t)size) == 0; /* the file did not grow meanwhile */
}

size_t fb_file_etag(char out[FB_FILE_ETAG_MAX], uint64_t ino, uint64_t size, int64_t mtime,
                    int64_t mtime_nsec)
{
    fb_wbuf b;
    fb_wbuf_init(&b, out, FB_FILE_ETAG_MAX);
    fb_wbuf_puts(&b, "\"");
    fb_wbuf_hex(&b, ino);
    fb_wbuf_puts(&b, "-");
    fb_wbuf_hex(&b, size);
    fb_wbuf_puts(&b, "-");
    fb_wbuf_hex(&b, (uint64_t)mtime * 1000000000u + (uint64_t)mtime_nsec);
    fb_wbuf_puts(&b, "\"");
    fb_wbuf_put(&b, "", 1);
    return b.len - 1; /* 3 * 16 hex digits, 2 dashes, 2 quotes and a NUL always fit */
}

static void build_headers(fb_file *f)
{
    char date[FB_HTTP_DATE_LEN + 1];
    fb_wbuf b;
    f->etag_len = (uint32_t)fb_file_etag(f->etag, f->ino, f->size, f->mtime, f->mtime_nsec);

    fb_http_date_format(f->mtime, date);
    fb_wbuf_init(&b, f->hdr, sizeof(f->hdr));
    fb_wbuf_puts(&b, "Last-Modified: ");
    fb_wbuf_put(&b, date, FB_HTTP_DATE_LEN);
    fb_wbuf_puts(&b, "\r\nETag: ");
    fb_wbuf_put(&b, f->etag, f->etag_len);
    fb_wbuf_puts(&b, "\r\n");
    f->hdr304_len = (uint32_t)b.len;
    fb_wbuf_puts(&b, "Content-Type: ");
    fb_wbuf_puts(&b, f->mime);
    fb_wbuf_puts(&b, "\r\nAccept-Ranges: bytes\r\n");
    f->hdr_len = (uint32_t)b.len;
}

/* Makes room for an entry of `mem` bytes by evicting unreferenced entries from the LRU tail.
 * Returns false when the caps cannot be met. */
static bool make_room(fb_file_cache *c, size_t mem)
{
    fb_file *f = c->lru.lprev;
    while ((c->entries >= c->max_entries || c->bytes + mem > c->max_bytes) && f != &c->lru) {
        fb_file *prev = f->lprev;
        if (f->refs == 0) {
            unlink_entry(c, f);
            entry_free(f);
            c->evictions++;
        }
        f = prev;
    }
    return c->entries < c->max_entries && c->bytes + mem <= c->max_bytes;
}

void fb_file_cache_set_types(fb_file_cache *c, fb_file_type_fn fn, void *ctx)
{
    c->type_fn = fn;
    c->type_ctx = ctx;
}

const char *fb_file_cache_type(const fb_file_cache *c, const char *path, size_t len)
{
    const char *t = c->type_fn ? c->type_fn(c->type_ctx, path, len) : NULL;
    return t ? t : fb_mime_type(path, len);
}

static int load(fb_file_cache *c, const char *path, size_t len, uint32_t h, int64_t now,
                fb_file **out)
{
    int fd = open_beneath(c, path);
    if (fd < 0)
        return map_errno(fd);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = -errno;
        close(fd);
        return map_errno(e);
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        close(fd);
        return FB_ENOENT;
    }
    const char *type = fb_file_cache_type(c, path, len);
    size_t tlen = strlen(type) + 1;
    bool in_mem = S_ISREG(st.st_mode) && (uint64_t)st.st_size <= c->max_file_mem;
    size_t mem = sizeof(fb_file) + len + 1 + tlen + (in_mem ? (size_t)st.st_size : 0);
    if (in_mem && mem > c->max_bytes) {
        in_mem = false;
        mem = sizeof(fb_file) + len + 1 + tlen;
    }
    fb_file *f = malloc(mem);
    if (!f) {
        close(fd);
        return FB_ENOMEM;
    }
    memset(f, 0, sizeof(*f));
    f->path = (char *)(f + 1);
    memcpy(f->path, path, len);
    f->path[len] = '\0';
    f->path_len = len;
    f->hash = h;
    f->mem = mem;
    f->dev = (uint64_t)st.st_dev;
    f->ino = (uint64_t)st.st_ino;
    f->size = (uint64_t)st.st_size;
    f->mtime = (int64_t)st.st_mtim.tv_sec;
    f->mtime_nsec = (int64_t)st.st_mtim.tv_nsec;
    f->is_dir = S_ISDIR(st.st_mode);
    f->checked = now;
    f->fd = fd;
    f->mime = memcpy(f->path + len + 1, type, tlen);
    if (f->is_dir) {
        close(fd);
        f->fd = -1;
    } else if (in_mem) {
        char *data = f->path + len + 1 + tlen;
        if (read_all(fd, data, f->size)) {
            f->data = data;
            close(fd);
            f->fd = -1;
        }
        /* else the file changed while we read it: serve it through the descriptor */
    }
    build_headers(f);
    f->refs = 1;
    if (make_room(c, f->mem)) {
        f->cached = true;
        f->hnext = c->buckets[h & (c->nbuckets - 1)];
        c->buckets[h & (c->nbuckets - 1)] = f;
        f->lnext = c->lru.lnext;
        f->lprev = &c->lru;
        c->lru.lnext->lprev = f;
        c->lru.lnext = f;
        c->entries++;
        c->bytes += f->mem;
    }
    *out = f;
    return 0;
}

int fb_file_cache_get(fb_file_cache *c, const char *path, size_t len, int64_t now, fb_file **out)
{
    uint32_t h = fb_hash_bytes(path, len);
    fb_file *f = c->buckets[h & (c->nbuckets - 1)];
    while (f && !(f->hash == h && f->path_len == len && memcmp(f->path, path, len) == 0))
        f = f->hnext;
    if (f && f->checked != now) {
        struct stat st;
        if (fstatat(c->root_fd, relative(f->path), &st, 0) == 0 && same_identity(f, &st)) {
            f->checked = now;
        } else {
            /* Changed or gone: drop it; in-flight responses keep their reference. */
            unlink_entry(c, f);
            if (f->refs == 0)
                entry_free(f);
            c->stale++;
            f = NULL;
        }
    }
    if (!f) {
        c->misses++;
        return load(c, path, len, h, now, out);
    }
    c->hits++;
    f->refs++;
    /* Move to the front of the LRU list. */
    f->lprev->lnext = f->lnext;
    f->lnext->lprev = f->lprev;
    f->lnext = c->lru.lnext;
    f->lprev = &c->lru;
    c->lru.lnext->lprev = f;
    c->lru.lnext = f;
    *out = f;
    return 0;
}

void fb_file_ref(fb_file *f)
{
    f->refs++;
}

void fb_file_cache_forget(fb_file_cache *c, fb_file *f)
{
    if (f->cached)
        unlink_entry(c, f);
}

void fb_file_release(fb_file_cache *c, fb_file *f)
{
    (void)c;
    if (--f->refs == 0 && !f->cached)
        entry_free(f);
}
