/* flashbackd's request handling: one route table that maps a normalized path to a handler, the
 * static file handler (directories, index.html, conditional and range requests) on top of the
 * file cache, and the reserved /.flashback/ routes: manifests (server/manifests) and metrics
 * (server/metrics). */
#ifndef FB_ORIGIN_H
#define FB_ORIGIN_H

#include "net/file_cache.h"
#include "net/http_server.h"
#include "server/manifests.h"
#include "server/seed.h"

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
    /* Set by the program after init; NULL leaves the route answering 404. */
    fb_manifests *manifests;   /* /.flashback/manifest<PAGE-PATH> */
    fb_seed *seed;             /* for metrics */
    uint64_t seed_rate;        /* for metrics: the seed's cap, bytes per second */
    char seed_header[96];      /* "Flashback-Seed: PORT\r\n" (or HOST:PORT); "" without a seed */
    char *metrics;             /* scratch: the rendered metrics (FB_METRICS_MAX bytes) */
    struct fb_proxy *proxy;    /* reverse-proxy mode (server/proxy): "/" goes through it and a
                                  manifest's page is brought into the mirror first; NULL: a
                                  static root */
    uint32_t manifest_objects; /* the manifest service's object cap (for the proxy) */
} fb_origin;

/* Opens the root and sizes the cache. Returns 0 or a negative errno for the root. */
int fb_origin_init(fb_origin *o, const char *root, const fb_origin_config *cfg);
void fb_origin_fini(fb_origin *o);

/* Serves the regular file at path[0..len) (normalized, under the root) with the static route's
 * conditional and range handling of req (which may be NULL: a plain 200), without a body when
 * head. Returns 0 when answered; FB_ENOENT (not a regular file there), FB_ENOSPC or FB_ENOMEM
 * when nothing was sent. */
int fb_origin_serve_file_at(fb_origin *o, fb_http_exchange *x, const fb_http_request *req,
                            bool head, const char *path, size_t len);

/* The fb_http_handler: ctx is the fb_origin. */
void fb_origin_handle(void *ctx, fb_http_exchange *x, const fb_http_request *req);

#endif
