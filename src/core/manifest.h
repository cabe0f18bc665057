/* The manifest of a page: its objects (path, size, content type, ETag), the chunk size, and one
 * SHA-256 per chunk, in a line-oriented text format (docs/PROTOCOL.md, "Manifest"). The origin
 * publishes it over HTTP; its SHA-256 names the swarm. A pure builder (the caller supplies the
 * chunk hashes) and a pure parser that validates everything under caps and returns views into the
 * input without allocating. */
#ifndef FB_MANIFEST_H
#define FB_MANIFEST_H

#include "core/fbstd.h"

#define FB_MANIFEST_MAGIC     "flashback-manifest 1"
#define FB_MANIFEST_FIELD_MAX 255 /* content type and ETag bytes at most */

typedef struct fb_manifest_caps {
    uint32_t max_objects; /* default 1024 */
    uint32_t max_chunks;  /* default 65536 */
    uint32_t max_path;    /* bytes, default 1024 */
    uint64_t max_total;   /* bytes over all objects, default 1 GiB */
} fb_manifest_caps;

/* A parsed manifest: a view on the caller's bytes, which must outlive it. */
typedef struct fb_manifest {
    const uint8_t *buf;
    size_t len;
    uint32_t chunk_size;
    uint32_t n_objects;
    uint32_t n_chunks;
    uint64_t total_size;
    size_t body; /* offset of the first "object" line */
} fb_manifest;

/* One object, as views into the manifest bytes (not NUL-terminated). */
typedef struct fb_manifest_object {
    const char *path;
    size_t path_len;
    uint64_t size;
    const char *type; /* content type, e.g. "text/html;charset=utf-8" */
    size_t type_len;
    const char *etag; /* as in HTTP, quotes included; etag_len == 0 when there is none */
    size_t etag_len;
    uint32_t first_chunk; /* global index of its first chunk */
    uint32_t n_chunks;
    const char *hashes; /* n_chunks lines of 64 lowercase hex digits and '\n' */
} fb_manifest_object;

/* What the builder needs about one object. Strings are NUL-terminated; etag may be NULL or "". */
typedef struct fb_manifest_entry {
    const char *path;
    uint64_t size;
    const char *type;
    const char *etag;
} fb_manifest_entry;

/* Fills caps with the defaults above. */
void fb_manifest_caps_default(fb_manifest_caps *caps);

/* Validates len bytes of manifest text. Returns 0 and fills *m, or FB_EINVAL (malformed) or
 * FB_E2BIG (a cap is exceeded). Never reads outside [buf, buf + len). */
int fb_manifest_parse(const uint8_t *buf, size_t len, const fb_manifest_caps *caps, fb_manifest *m);

/* A position in the object list of a parsed manifest. */
typedef struct fb_manifest_iter {
    size_t off;     /* offset of the next "object" line */
    uint32_t chunk; /* global index of that object's first chunk */
} fb_manifest_iter;

/* Iterates the objects of a parsed manifest: zero *it first (or use {0}); each call fills *o and
 * returns true, or returns false after the last object. */
bool fb_manifest_next(const fb_manifest *m, fb_manifest_iter *it, fb_manifest_object *o);

/* Chunk k (0 <= k < o->n_chunks) of object o: its SHA-256 into out. */
void fb_manifest_object_hash(const fb_manifest_object *o, uint32_t k, uint8_t out[32]);

/* Writes the manifest of n objects into out (cap bytes). hashes holds one SHA-256 per chunk, in
 * global chunk order (object 0's chunks first). Returns the length written; FB_EINVAL if a field
 * is not valid in the format (a path not starting with '/', a space, a dot segment...); FB_E2BIG
 * if it needs more than cap bytes, with the size needed in *needed (if not NULL). */
int fb_manifest_build(uint8_t *out, size_t cap, uint32_t chunk_size, const fb_manifest_entry *objs,
                      uint32_t n, const uint8_t (*hashes)[32], size_t *needed);

/* True when the path is acceptable in a manifest (the rules of docs/PROTOCOL.md). */
bool fb_manifest_path_ok(const char *p, size_t len, uint32_t max_path);

#endif
