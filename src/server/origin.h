/* flashbackd's request handling: one route table that maps a normalized path to a handler, and
 * the static file handler (directories, index.html, conditional and range requests) on top of
 * the file cache. Later routes (/.flashback/ manifests and metrics) plug into the same table. */
#ifndef FB_ORIGIN_H
#define FB_ORIGIN_H

#include "net/file_cache.h"
#include "net/http_server.h"

typedef struct fb_origin_config {
    size_t cache_entries;  /* entries in the file cache (each may hold a descriptor) */
    size_t cache_bytes;    /* memory of the file cache */
    size_t cache_file_max; /* files up to this size are served from memory */
    size_t max_head;       /* the server's head limit: bounds the targets we normalize */
} fb_origin_config;

typedef struct fb_origin {
    fb_file_cache cache;
    fb_http_server *http; /* for the counters a metrics route will show */
    char *path;           /* scratch: the normalized path of the current request */
    size_t path_cap;
    char *hdr; /* scratch: per-response header lines (Location, Content-Range) */
    size_t hdr_cap;
} fb_origin;

/* Opens the root and sizes the cache. Returns 0 or a negative errno for the root. */
int fb_origin_init(fb_origin *o, const char *root, const fb_origin_config *cfg);
void fb_origin_fini(fb_origin *o);

/* The fb_http_handler: ctx is the fb_origin. */
void fb_origin_handle(void *ctx, fb_http_exchange *x, const fb_http_request *req);

#endif
