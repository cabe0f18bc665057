/* flashbackd's /.flashback/metrics: every counter of the server (HTTP, file cache, seed and its
 * UDP socket, manifest service, hash cache, process memory) rendered in the Prometheus text
 * exposition format 0.0.4 (# HELP, # TYPE, then `name{labels} value` lines). docs/SEED.md lists
 * every metric and its meaning. */
#ifndef FB_SERVER_METRICS_H
#define FB_SERVER_METRICS_H

#include "net/http_server.h"
#include "server/manifests.h"
#include "server/proxy.h"
#include "server/seed.h"

typedef struct fb_metrics_sources {
    const fb_http_stats *http;
    const fb_file_cache *files;
    fb_seed *seed;           /* NULL when flashbackd runs without UDP */
    uint64_t seed_rate;      /* the seed's cap, bytes per second */
    fb_manifests *manifests; /* NULL: no manifest service */
    fb_proxy *proxy;         /* NULL: a static root (no flashback_proxy_* metrics) */
} fb_metrics_sources;

#define FB_METRICS_MAX (64 * 1024) /* the rendered text never needs more */

/* Renders the metrics into buf (cap bytes). Returns the length, or FB_E2BIG if cap is too small
 * (FB_METRICS_MAX always suffices). */
int fb_metrics_render(const fb_metrics_sources *src, char *buf, size_t cap);

#endif
