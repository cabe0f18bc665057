/* The seed's chunk store: a page's chunks read from the files they came from. */
#ifndef FB_NET_FILESTORE_H
#define FB_NET_FILESTORE_H

#include "net/chunkstore.h"

/* The seed's store: a page's chunks read from the files they came from (pread on the loop
 * thread: the files are small and hot in the page cache). Each file's identity (device, inode,
 * size, modification time) is taken at init and checked before every read; a file that changed
 * makes its reads fail and the store `stale`, so the seed never sends bytes that no longer match
 * the manifest's hashes (peers would ban it). The program then builds a new manifest and store.
 * To make the manifest's hashes and the recorded identities describe the same file versions,
 * create the store first and compute the hashes by reading through it (fb_filestore_read). */
typedef struct fb_filestore_object {
    const char *path; /* relative to root (or absolute); resolved safely by the caller */
    uint64_t size;    /* as in the manifest */
} fb_filestore_object;

/* Opens `path` (an object's path as given at init) read-only and returns a descriptor, or a
 * negative code. Lets a program resolve paths its own safe way (flashbackd: the origin's
 * resolver, which never leaves the root) instead of openat(root, path). */
typedef int (*fb_filestore_open_fn)(void *ctx, const char *path);

/* A file's identity: what changes when its content may have changed. */
typedef struct fb_file_id {
    uint64_t dev, ino, size;
    int64_t mtime_sec, mtime_nsec;
} fb_file_id;

typedef struct fb_filestore {
    struct fb_filestore_file *files;
    uint32_t n_files;
    uint32_t n_chunks;
    uint32_t chunk_size;
    uint32_t max_open; /* file descriptors kept open at most */
    uint32_t n_open;
    uint32_t next_evict;
    int root_fd;
    fb_filestore_open_fn open_fn; /* NULL: openat(root_fd, path) */
    void *open_ctx;
    int swarm;  /* as in fb_memstore: -1 answers for any */
    bool stale; /* a file changed since init */
    uint64_t read_errors;
} fb_filestore;

/* Opens `root` and checks that every object exists as a regular file of the given size (the
 * files are opened again lazily, at most max_open at a time; 0 means 64). Chunk geometry as in
 * fb_memstore_init_objects. Returns 0; FB_ENOENT (a file is missing or not regular, or the
 * root); FB_EPROTO (a file's size differs from the manifest's); FB_EINVAL; FB_ENOMEM. */
int fb_filestore_init(fb_filestore *s, const char *root, const fb_filestore_object *objs,
                      uint32_t n_objects, uint32_t chunk_size, uint32_t max_open);
/* The same, opening every file through open_fn(open_ctx, path) instead of under a root (the
 * paths are then whatever open_fn understands). The descriptor is checked to be a regular file
 * and its identity recorded. Returns as fb_filestore_init, with FB_ENOENT also for any error
 * open_fn reports. */
int fb_filestore_init_with(fb_filestore *s, fb_filestore_open_fn open_fn, void *open_ctx,
                           const fb_filestore_object *objs, uint32_t n_objects, uint32_t chunk_size,
                           uint32_t max_open);

void fb_filestore_fini(fb_filestore *s);

/* The identity recorded at init for object i (the hashes of a manifest must describe that
 * version). Returns 0 or FB_EINVAL for a bad index. */
int fb_filestore_identity(const fb_filestore *s, uint32_t i, fb_file_id *out);

/* Copies len bytes of chunk c from byte off. Returns 0; FB_EINVAL (out of range); FB_ENOENT
 * (the file changed, vanished or could not be read: counted, and `stale` set if it changed). */
int fb_filestore_read(fb_filestore *s, uint32_t c, size_t off, uint8_t *buf, size_t len);

/* An fb_chunk_store whose ctx is the fb_filestore (read only). */
fb_chunk_store fb_filestore_as_store(fb_filestore *s);

#endif
