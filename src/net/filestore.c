/* The seed's file-backed chunk store: chunk -> (file, offset) by the page geometry, lazily
 * opened descriptors under a cap, and an identity check (fstat) before every read. */
#include "net/filestore.h"

#include "core/chunk.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fb_filestore_file {
    char *path;
    uint64_t size;
    uint32_t first_chunk; /* global index of its first chunk */
    int fd;               /* -1 when closed */
    dev_t dev;
    ino_t ino;
    struct timespec mtime;
} fs_file;

static bool same_identity(const fs_file *f, const struct stat *st)
{
    return S_ISREG(st->st_mode) && st->st_dev == f->dev && st->st_ino == f->ino &&
           (uint64_t)st->st_size == f->size && st->st_mtim.tv_sec == f->mtime.tv_sec &&
           st->st_mtim.tv_nsec == f->mtime.tv_nsec;
}

void fb_filestore_fini(fb_filestore *s)
{
    for (uint32_t i = 0; s->files && i < s->n_files; i++) {
        if (s->files[i].fd >= 0)
            close(s->files[i].fd);
        free(s->files[i].path);
    }
    free(s->files);
    s->files = NULL;
    s->n_files = s->n_chunks = s->n_open = 0;
    if (s->root_fd >= 0)
        close(s->root_fd);
    s->root_fd = -1;
}

/* Opens f's file: through the program's opener, or under the root. A descriptor or -1. */
static int open_file(fb_filestore *s, const fs_file *f)
{
    if (s->open_fn) {
        int fd = s->open_fn(s->open_ctx, f->path);
        return fd >= 0 ? fd : -1;
    }
    return openat(s->root_fd, f->path, O_RDONLY | O_CLOEXEC);
}

/* Records the identity of every object's file and lays out the chunks. */
static int init_files(fb_filestore *s, const fb_filestore_object *objs, uint32_t n_objects)
{
    uint64_t chunks = 0;
    int rc = 0;
    s->files = calloc(n_objects ? n_objects : 1, sizeof(fs_file));
    if (s->files == NULL) {
        rc = FB_ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < n_objects; i++) {
        fs_file *f = &s->files[i];
        struct stat st;
        f->fd = -1;
        s->n_files = i + 1;
        f->path = strdup(objs[i].path ? objs[i].path : "");
        if (f->path == NULL) {
            rc = FB_ENOMEM;
            goto out;
        }
        if (objs[i].path == NULL) {
            rc = FB_ENOENT;
            goto out;
        }
        if (s->open_fn) {
            /* Through the opener: stat the descriptor, and keep it open while under the cap. */
            int fd = open_file(s, f);
            if (fd < 0 || fstat(fd, &st) != 0) {
                if (fd >= 0)
                    close(fd);
                rc = FB_ENOENT;
                goto out;
            }
            if (s->n_open < s->max_open) {
                f->fd = fd;
                s->n_open++;
            } else {
                close(fd);
            }
        } else if (fstatat(s->root_fd, f->path, &st, 0) != 0) {
            rc = FB_ENOENT;
            goto out;
        }
        if (!S_ISREG(st.st_mode)) {
            rc = FB_ENOENT;
            goto out;
        }
        if ((uint64_t)st.st_size != objs[i].size) {
            rc = FB_EPROTO;
            goto out;
        }
        f->size = objs[i].size;
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        f->mtime = st.st_mtim;
        f->first_chunk = (uint32_t)chunks;
        chunks += fb_chunk_count(f->size, s->chunk_size);
        if (chunks >= UINT32_MAX) {
            rc = FB_E2BIG;
            goto out;
        }
    }
    s->n_chunks = (uint32_t)chunks;
out:
    if (rc != 0)
        fb_filestore_fini(s);
    return rc;
}

int fb_filestore_init(fb_filestore *s, const char *root, const fb_filestore_object *objs,
                      uint32_t n_objects, uint32_t chunk_size, uint32_t max_open)
{
    memset(s, 0, sizeof(*s));
    s->root_fd = -1;
    s->swarm = -1;
    if (root == NULL || (objs == NULL && n_objects > 0) || chunk_size == 0)
        return FB_EINVAL;
    s->chunk_size = chunk_size;
    s->max_open = max_open ? max_open : 64;
    s->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->root_fd < 0)
        return FB_ENOENT;
    return init_files(s, objs, n_objects);
}

int fb_filestore_init_with(fb_filestore *s, fb_filestore_open_fn open_fn, void *open_ctx,
                           const fb_filestore_object *objs, uint32_t n_objects, uint32_t chunk_size,
                           uint32_t max_open)
{
    memset(s, 0, sizeof(*s));
    s->root_fd = -1;
    s->swarm = -1;
    if (open_fn == NULL || (objs == NULL && n_objects > 0) || chunk_size == 0)
        return FB_EINVAL;
    s->open_fn = open_fn;
    s->open_ctx = open_ctx;
    s->chunk_size = chunk_size;
    s->max_open = max_open ? max_open : 64;
    return init_files(s, objs, n_objects);
}

int fb_filestore_identity(const fb_filestore *s, uint32_t i, fb_file_id *out)
{
    if (i >= s->n_files)
        return FB_EINVAL;
    const fs_file *f = &s->files[i];
    out->dev = (uint64_t)f->dev;
    out->ino = (uint64_t)f->ino;
    out->size = f->size;
    out->mtime_sec = (int64_t)f->mtime.tv_sec;
    out->mtime_nsec = (int64_t)f->mtime.tv_nsec;
    return 0;
}

/* The file holding chunk c: the last one whose first chunk is <= c and which has chunks. */
static fs_file *locate(fb_filestore *s, uint32_t c)
{
    uint32_t lo = 0, hi = s->n_files;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->files[mid].first_chunk <= c)
            lo = mid;
        else
            hi = mid;
    }
    /* Empty files share their first_chunk with the next file: skip forward to the owner. */
    while (lo + 1 < s->n_files && s->files[lo + 1].first_chunk <= c)
        lo++;
    return &s->files[lo];
}

static int ensure_open(fb_filestore *s, fs_file *f)
{
    if (f->fd >= 0)
        return 0;
    while (s->n_open >= s->max_open) {
        /* Close another descriptor, round robin: cheap and fair enough for a page's files. */
        fs_file *v = &s->files[s->next_evict++ % s->n_files];
        if (v->fd >= 0 && v != f) {
            close(v->fd);
            v->fd = -1;
            s->n_open--;
        }
    }
    f->fd = open_file(s, f);
    if (f->fd < 0)
        return FB_ENOENT;
    s->n_open++;
    return 0;
}

int fb_filestore_read(fb_filestore *s, uint32_t c, size_t off, uint8_t *buf, size_t len)
{
    fs_file *f;
    struct stat st;
    uint64_t chunk_off, chunk_len, pos;
    if (c >= s->n_chunks)
        return FB_EINVAL;
    f = locate(s, c);
    chunk_off = (uint64_t)(c - f->first_chunk) * s->chunk_size;
    chunk_len = FB_MIN((uint64_t)s->chunk_size, f->size - chunk_off);
    if (off > chunk_len || len > chunk_len - off)
        return FB_EINVAL;
    if (ensure_open(s, f) != 0 || fstat(f->fd, &st) != 0)
        goto bad;
    if (!same_identity(f, &st)) {
        s->stale = true;
        goto bad;
    }
    pos = chunk_off + off;
    while (len > 0) {
        ssize_t n = pread(f->fd, buf, len, (off_t)pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto bad; /* an error, or the file shrank under us */
        buf += n;
        pos += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
bad:
    s->read_errors++;
    return FB_ENOENT;
}

static int fs_read(void *ctx, int swarm, uint32_t chunk, size_t off, uint8_t *buf, size_t len)
{
    fb_filestore *s = ctx;
    if (s->swarm >= 0 && swarm != s->swarm)
        return FB_ENOENT;
    return fb_filestore_read(s, chunk, off, buf, len);
}

fb_chunk_store fb_filestore_as_store(fb_filestore *s)
{
    fb_chunk_store st = {.ctx = s, .read = fs_read, .write = NULL};
    return st;
}
