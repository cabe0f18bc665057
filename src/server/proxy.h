/* flashbackd in front of an unchanged site (docs/PROXY.md): GET and HEAD requests are fetched
 * from an upstream HTTP(S) server with the loop's libcurl client, and cacheable answers are
 * written into a private mirror directory, which the origin's static route, the manifest
 * service and the seed then serve like any root. One upstream request per path at a time
 * (concurrent requests wait for it), freshness from the upstream's Cache-Control or a default
 * TTL, revalidation with the upstream's validators, and the stale copy when the upstream fails. */
#ifndef FB_SERVER_PROXY_H
#define FB_SERVER_PROXY_H

#include <uv.h>

#include "core/http_path.h"
#include "net/http_server.h"

struct fb_origin;
typedef struct fb_proxy fb_proxy;

typedef struct fb_proxy_config {
    const char *upstream;   /* "http(s)://HOST[:PORT][/PREFIX]" (fb_proxy_url_parse) */
    const char *mirror_dir; /* an empty or missing directory, kept at exit; NULL: a fresh one
                               under $TMPDIR (or /tmp), removed by fb_proxy_free */
    uint64_t max_body;      /* largest upstream body kept or relayed (default 64 MiB) */
    uint32_t ttl_ms;        /* freshness when the upstream gives none (default 1000) */
    uint32_t timeout_ms;    /* one upstream request, connecting included (default 10000) */
    uint32_t max_waiters;   /* requests waiting for one path's upstream answer (default 1024) */
    uint32_t max_paths;     /* paths tracked, each with at most one mirrored file (default
                               16384); the least recently used one without a fetch goes */
    uint32_t max_fetches;   /* upstream requests in flight (default 256) */
    uint64_t max_bytes;     /* bytes of the mirrored files in all (default 1 GiB); the least
                               recently used copies go to make room */
} fb_proxy_config;

typedef struct fb_proxy_stats {
    uint64_t requests;          /* GET/HEAD requests handled by the proxy */
    uint64_t hits;              /* answered from a fresh mirrored copy */
    uint64_t misses;            /* started an upstream fetch for a path with no copy */
    uint64_t revalidations;     /* started a conditional fetch for a stale copy */
    uint64_t not_modified;      /* of which the upstream answered 304 (the copy was kept) */
    uint64_t unchanged;         /* 200s whose bytes equal the copy's (the file was kept) */
    uint64_t coalesced;         /* requests that waited for another request's fetch */
    uint64_t upstream_requests; /* requests sent upstream */
    uint64_t upstream_errors;   /* no answer: refused, timeout, reset, too large */
    uint64_t upstream_5xx;      /* 5xx answers */
    uint64_t stale_served;      /* answers from a stale copy because the upstream failed */
    uint64_t stale_updating;    /* answers from a stale copy while it was being revalidated */
    uint64_t stored;            /* files written into the mirror */
    uint64_t relayed;           /* answers relayed (not stored) */
    uint64_t spooled;           /* large shared answers relayed through a file (sendfile) */
    uint64_t passed;            /* requests sent upstream on their own (private answers,
                                   Authorization, paths that cannot be mirrored) */
    uint64_t refused;           /* 503: too many waiters or fetches, or no free path slot */
    uint64_t evictions;         /* paths dropped to stay under max_paths or max_bytes */
    uint32_t paths;             /* tracked now */
    uint64_t mirror_bytes;      /* bytes of the mirrored files now */
    uint32_t in_flight;         /* fetches now */
} fb_proxy_stats;

/* Checks the configuration, creates or checks the mirror directory and the HTTP client on
 * `loop`. Returns 0 and *out, or a negative code with one line in err (errcap bytes). */
int fb_proxy_new(uv_loop_t *loop, const fb_proxy_config *cfg, fb_proxy **out, char *err,
                 size_t errcap);

/* The mirror directory (the origin's root in this mode). */
const char *fb_proxy_mirror(const fb_proxy *p);

/* Ties the proxy to the origin that serves the mirror: its file cache takes the upstream's
 * Content-Types from the proxy. The origin must outlive the proxy's use. */
void fb_proxy_attach(fb_proxy *p, struct fb_origin *o);

/* Answers a GET or HEAD for the normalized path (from the origin's static route): from the
 * mirror, or (deferred) after an upstream fetch. */
void fb_proxy_handle(fb_proxy *p, fb_http_exchange *x, const fb_http_request *req,
                     const fb_http_path *path);

/* Brings the page at path[0..len) and the same-origin objects its HTML embeds (at most
 * max_objects in all) into the mirror, each unless fresh there already. Returns 0 when nothing
 * had to be fetched, FB_EAGAIN when done(arg) will be called from the loop once every fetch
 * ended (whatever their outcome), or FB_ENOMEM. `*out` (with FB_EAGAIN) may be given to
 * fb_proxy_prepare_cancel before done is called. */
typedef struct fb_proxy_prep fb_proxy_prep;
int fb_proxy_prepare(fb_proxy *p, const char *path, size_t len, uint32_t max_objects,
                     void (*done)(void *arg), void *arg, fb_proxy_prep **out);
void fb_proxy_prepare_cancel(fb_proxy_prep *pp);

void fb_proxy_stats_get(const fb_proxy *p, fb_proxy_stats *out);

/* Cancels every fetch (their waiting requests must be gone: the server stopped), frees the
 * client (its memory goes in the loop's closing phase) and removes a mirror it created. */
void fb_proxy_free(fb_proxy *p);

#endif
