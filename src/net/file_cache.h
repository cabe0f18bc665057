/* The origin's bounded open-file and content cache. It resolves a normalized path under the root
 * so that no path (dot segments, symlinks) can leave it, keeps an open descriptor for sendfile,
 * keeps small files' bytes in memory, and prebuilds their validator and type header lines. An
 * entry is checked against the file on disk (inode, size, mtime) at most once per second. */
#ifndef FB_FILE_CACHE_H
#define FB_FILE_CACHE_H

#include "core/fbstd.h"

#define FB_FILE_HDR_MAX  256 /* prebuilt header lines of one entry */
#define FB_FILE_ETAG_MAX 64  /* an entity-tag with its quotes and a NUL */

typedef struct fb_file {
    uint64_t dev, ino, size;
    int64_t mtime;      /* seconds */
    int64_t mtime_nsec; /* nanoseconds part */
    bool is_dir;
    bool cached;      /* in the table; otherwise freed when the last reference goes */
    int fd;           /* O_RDONLY descriptor for sendfile, or -1 (directory, or data held) */
    const char *data; /* the whole content when the file is small, else NULL */
    const char *mime; /* Content-Type (held in the entry) */
    char etag[FB_FILE_ETAG_MAX]; /* strong entity-tag with quotes (fb_file_etag) */
    uint32_t etag_len;
    /* "Last-Modified: ...\r\nETag: ...\r\n" (the first hdr304_len bytes, also what a 304 sends)
     * then "Content-Type: ...\r\nAccept-Ranges: bytes\r\n". */
    char hdr[FB_FILE_HDR_MAX];
    uint32_t hdr_len;
    uint32_t hdr304_len;
    /* bookkeeping */
    uint32_t refs;
    uint32_t hash;
    int64_t checked; /* the second of the last identity check */
    size_t mem;      /* bytes this entry counts against the cache */
    struct fb_file *hnext;
    struct fb_file *lprev, *lnext; /* LRU order, most recent first */
    char *path;                    /* the key: normalized path starting with "/" */
    size_t path_len;
} fb_file;

/* Gives the Content-Type of the file at path[0..len) (a normalized path), or NULL to let the
 * cache guess it by extension. The string need only live during the call. */
typedef const char *(*fb_file_type_fn)(void *ctx, const char *path, size_t len);

typedef struct fb_file_cache {
    int root_fd;      /* O_PATH descriptor of the root */
    char *root_real;  /* realpath of the root (for the fallback resolver) */
    bool use_openat2; /* resolve with openat2(RESOLVE_BENEATH); false: realpath + prefix check */
    fb_file **buckets;
    uint32_t nbuckets;
    fb_file lru; /* sentinel of the LRU list */
    size_t entries, bytes;
    size_t max_entries, max_bytes, max_file_mem;
    uint64_t hits, misses, evictions, stale; /* counters */
    fb_file_type_fn type_fn;                 /* NULL: types by extension only */
    void *type_ctx;
} fb_file_cache;

/* Opens the root directory and sizes the table. At most max_entries entries (each may hold one
 * descriptor) and max_bytes of memory (content and bookkeeping); files up to max_file_mem bytes
 * are held in memory. Returns 0, or a negative errno (e.g. -ENOENT, -ENOTDIR) for the root. */
int fb_file_cache_init(fb_file_cache *c, const char *root, size_t max_entries, size_t max_bytes,
                       size_t max_file_mem);

/* Lets fn name the Content-Type of the files it knows (the reverse proxy keeps its upstream's
 * types); entries loaded from then on use it. */
void fb_file_cache_set_types(fb_file_cache *c, fb_file_type_fn fn, void *ctx);

/* The Content-Type a file at path[0..len) is served with: the type function's answer, else
 * the guess by extension. Valid until the next call into the cache or the type function's
 * owner. */
const char *fb_file_cache_type(const fb_file_cache *c, const char *path, size_t len);

/* Closes every descriptor and frees every entry; no reference may be outstanding. */
void fb_file_cache_fini(fb_file_cache *c);

/* Looks up path[0..len) (a normalized path from fb_http_path_parse: starts with "/", no dot
 * segments). `now` is the current time in seconds, used to revalidate at most once per second.
 * On success sets *out to a referenced entry (a regular file or a directory) and returns 0; the
 * caller must fb_file_release it. Returns FB_ENOENT when there is nothing servable there (missing,
 * outside the root through a symlink, not a regular file or directory, permission denied),
 * FB_ENOSPC when out of descriptors, FB_ENOMEM, or FB_EINVAL for other I/O errors. */
int fb_file_cache_get(fb_file_cache *c, const char *path, size_t len, int64_t now, fb_file **out);

/* Opens the regular file or directory at path (normalized as for fb_file_cache_get) read-only,
 * with the same confinement to the root, without caching anything: for callers that read files
 * on their own (the seed's filestore). Returns a descriptor the caller closes, or FB_ENOENT,
 * FB_ENOSPC, FB_ENOMEM, FB_EINVAL as fb_file_cache_get does. */
int fb_file_cache_open(fb_file_cache *c, const char *path);

/* Writes the strong entity-tag the cache gives a file of that identity ("ino-size-mtime_ns" in
 * hex, quoted, NUL-terminated) into out and returns its length without the NUL. The manifest
 * service uses it so that a manifest's ETags match what a GET of the same file answers. */
size_t fb_file_etag(char out[FB_FILE_ETAG_MAX], uint64_t ino, uint64_t size, int64_t mtime,
                    int64_t mtime_nsec);

/* Takes a referenced entry out of the table (a later lookup of its path loads the file again);
 * the entry lives on, with its descriptor, until its last reference is released. For files
 * that are read once and unlinked (the reverse proxy's spooled answers). */
void fb_file_cache_forget(fb_file_cache *c, fb_file *f);

/* Drops a reference taken by fb_file_cache_get (or fb_file_ref). */
void fb_file_release(fb_file_cache *c, fb_file *f);

/* Takes one more reference on an entry the caller already holds. */
void fb_file_ref(fb_file *f);

#endif
