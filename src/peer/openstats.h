/* What `flashback open` counts, for its local endpoint /.flashback/stats and for --stats: the
 * browser's requests and where their answers came from, plus the swarm counters of every page it
 * joined (live and retired), summed. Pure: no I/O, no allocation. */
#ifndef FB_PEER_OPENSTATS_H
#define FB_PEER_OPENSTATS_H

#include "peer/getstats.h"

typedef struct fb_open_stats {
    const char *origin;     /* "scheme://authority" (NUL-terminated; may be NULL) */
    const char *local;      /* the local URL the browser is given */
    uint64_t uptime_ms;     /* since the start */
    uint32_t pages;         /* pages (swarms) held now */
    uint64_t pages_started; /* manifests asked for */
    uint64_t pages_retired; /* pages left to make room (oldest first) or at exit */
    uint64_t pages_failed;  /* pages that ended in an error (their requests went to the proxy) */
    uint64_t pages_plain;   /* manifest asked for, but the origin has none for that path */
    uint64_t requests;      /* requests from the browser */
    uint64_t served_swarm;  /* answered with an object of a page, every byte verified */
    uint64_t served_proxy;  /* answered with what the origin sent (paths outside every manifest) */
    uint64_t not_modified;  /* 304 answers (from either) */
    uint64_t errors;        /* answers with a 4xx or 5xx status */
    uint64_t waited;        /* requests that waited for their object to verify */
    uint64_t hurried;       /* objects fetched over HTTP ranges for a browser that waited */
    uint64_t bytes_served;  /* body bytes answered */
    uint64_t bytes_proxy;   /* body bytes fetched from the origin by the proxy */
    uint64_t bytes_reused;  /* chunk bytes a page took from another page's verified copy */
    fb_get_stats swarm;     /* the sum over every page (fb_open_stats_add) */
} fb_open_stats;

/* Zeroes s (swarm included, through fb_get_stats_init). */
void fb_open_stats_init(fb_open_stats *s);

/* Adds the counters of one page to sum: byte, chunk, request and neighbour counts add up, bans
 * and neighbours_max take the larger value; times, url, mode and error are left alone. */
void fb_open_stats_add(fb_get_stats *sum, const fb_get_stats *page);

/* Renders s as one JSON object and a '\n', NUL-terminated, into out (cap bytes): the fields
 * above by name, the swarm sum's byte and chunk counters beside them (bytes_origin_http,
 * bytes_seed, bytes_peers, ...), and "origin_share_permille": the share of the bytes that came
 * from the origin (HTTP ranges, manifests, proxy, seed) among all the bytes received (those
 * plus peers'), or -1 when none were. Returns the length, or FB_E2BIG. */
int fb_open_stats_json(const fb_open_stats *s, char *out, size_t cap);

#endif
