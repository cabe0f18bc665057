/* flashbackd's manifest service: the manifest of a page (docs/SEED.md, "Manifest service"),
 * built on first request and cached per page path. An HTML page's manifest covers the page and
 * the same-origin objects it embeds (core/html_links) that resolve to regular files under the
 * root, in document order; any other file's manifest covers that file alone. Every path is
 * resolved with the origin's confined resolver (net/file_cache), chunks are hashed with OpenSSL
 * through the filestore the seed will serve them from, and hashes are cached per file identity
 * (server/hashcache) so an object shared by many pages is hashed once. A build that needs more
 * hashing than one slice goes on from the loop, a slice per turn, while the requests that want
 * it wait (the loop never stalls for long). A cached manifest is checked against its files at
 * most once per second and rebuilt when one changed; its swarm is handed to the seed
 * (server/seed), which retires the old one after a grace period. */
#ifndef FB_SERVER_MANIFESTS_H
#define FB_SERVER_MANIFESTS_H

#include <uv.h>

#include "net/file_cache.h"
#include "server/hashcache.h"
#include "server/seed.h"

typedef struct fb_manifests fb_manifests;

typedef struct fb_manifests_config {
    uint32_t max_manifests;  /* pages whose manifests are cached (default 64) */
    uint32_t max_objects;    /* objects per manifest, the page included (default 256, <= 1024) */
    uint64_t max_bytes;      /* bytes one manifest covers (default 64 MiB, <= 1 GiB); embedded
                                objects past it are left out, a page over it alone has none */
    uint32_t chunk_size;     /* default FB_CHUNK_SIZE_DEFAULT (16 KiB) */
    size_t hash_cache_bytes; /* memory of the hash cache (default 16 MiB) */
    size_t hash_cache_files; /* files in the hash cache (default 65536) */
    size_t max_html;         /* bytes of an HTML page scanned for embedded objects (default
                                4 MiB; objects embedded past it are not listed) */
    size_t slice_bytes;      /* bytes hashed per loop turn; a build needing more goes on from the
                                loop while its requests wait (default 1 MiB) */
} fb_manifests_config;

/* A manifest as served: valid until the next call into the service. */
typedef struct fb_manifest_view {
    const uint8_t *text;
    size_t len;
    const char *etag; /* strong entity-tag of the manifest text, with its quotes */
    size_t etag_len;
    const uint8_t *gz; /* the same text gzipped (Content-Encoding: gzip), NULL when not smaller */
    size_t gz_len;
    const char *gz_etag; /* the gzipped representation's entity-tag ("...-gz") */
    size_t gz_etag_len;
    int64_t built; /* wall-clock second it was built (Last-Modified) */
    bool seeded;   /* the seed serves its swarm (else no Flashback-Seed header) */
} fb_manifest_view;

typedef struct fb_manifests_stats {
    uint64_t requests;        /* fb_manifests_get calls */
    uint64_t hits;            /* answered from the cache */
    uint64_t builds;          /* manifests built (first time, after a change or an eviction) */
    uint64_t rebuilds;        /* of which because a file of a cached manifest changed */
    uint64_t build_failures;  /* builds that failed (missing page, over a cap, I/O) */
    uint64_t retries;         /* builds started again because a file changed meanwhile */
    uint64_t evictions;       /* cached manifests dropped to make room */
    uint64_t objects_capped;  /* embedded objects left out by max_objects or max_bytes */
    uint64_t objects_missing; /* embedded objects left out: missing, hidden, not a file */
    uint64_t bytes_hashed;    /* file bytes read and hashed */
    uint64_t seed_refused;    /* built manifests the seed could not take (no Flashback-Seed) */
    uint64_t deferred;        /* requests that waited for a build going on from the loop */
    uint64_t slices;          /* loop turns that hashed a slice of such a build */
    uint64_t build_us_total;  /* time the loop spent building, microseconds */
    uint64_t build_us_max;    /* longest the loop was held by one build or slice, microseconds */
    uint32_t building;        /* builds going on from the loop now */
    uint32_t cached;          /* manifests cached now */
    uint64_t cached_bytes;    /* their memory: text, paths, identities */
    fb_hashcache *hash_cache; /* its counters */
} fb_manifests_stats;

/* A request waiting for a build: the caller's storage, enlisted by fb_manifests_get. `cb` is
 * called once, from the loop, with 0 and the manifest (valid during the call) or an error code
 * as fb_manifests_get returns them; the wait is over when it is called. */
typedef void (*fb_manifests_cb)(void *arg, int rc, const fb_manifest_view *v);
typedef struct fb_manifests_wait {
    fb_manifests_cb cb;
    void *arg;
    struct fb_manifests_wait *next, **pprev; /* private */
} fb_manifests_wait;

/* Creates the service over the origin's file cache (its root and resolver) and the seed (NULL:
 * manifests without a seed), on `loop` (NULL: every build is done at once, whatever its size).
 * All must outlive the service. Returns 0 and *out, or FB_ENOMEM / FB_EINVAL (a cap out of
 * range). */
int fb_manifests_new(uv_loop_t *loop, fb_file_cache *files, fb_seed *seed,
                     const fb_manifests_config *cfg, fb_manifests **out);

/* Releases every cached manifest (and its swarm's hold on the seed), drops the builds going on
 * (their waiters are not called: they must be gone already), and frees the service; with a
 * loop, the memory goes in the loop's closing phase. */
void fb_manifests_free(fb_manifests *m);

/* The manifest of the page at `path` (len bytes: a normalized path as fb_http_path_parse gives,
 * e.g. "/", "/news", "/a b.html"; a directory means its index.html). `now` is the wall-clock
 * second (cached manifests are re-checked once per second). Returns 0 and *out; FB_EAGAIN when
 * the manifest is being built from the loop and `w` (with its cb and arg set) now waits for it
 * (only with a loop and a non-NULL w; without w the build is done at once); FB_ENOENT (no such
 * page, or a hidden one); FB_E2BIG (the page alone is over max_bytes, or its path cannot be
 * written in a manifest); FB_EPROTO (its files kept changing while it was built); FB_ENOSPC (out
 * of descriptors); FB_ENOMEM. */
int fb_manifests_get(fb_manifests *m, const char *path, size_t len, int64_t now,
                     fb_manifest_view *out, fb_manifests_wait *w);

/* Stops waiting (the request went away): w's callback will not be called. Harmless when w
 * waits for nothing. */
void fb_manifests_unwait(fb_manifests *m, fb_manifests_wait *w);

void fb_manifests_stats_get(fb_manifests *m, fb_manifests_stats *out);

#endif
