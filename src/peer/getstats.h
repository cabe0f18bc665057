/* What `flashback get --stats` reports: the counters of one run, and their rendering as one line
 * of JSON (the field names are documented in docs/PEER.md). Pure: no I/O, no allocation. */
#ifndef FB_PEER_GETSTATS_H
#define FB_PEER_GETSTATS_H

#include "core/fbstd.h"

typedef struct fb_get_stats {
    const char *url;   /* the page URL (NUL-terminated; may be NULL) */
    const char *mode;  /* "swarm", "origin" (manifest but no seed), "plain" (no manifest), or
                          "none" (failed before knowing) */
    int exit_code;     /* the process exit status */
    const char *error; /* short reason ("" on success) */

    uint64_t bytes_total;       /* bytes of every object of the page */
    uint64_t bytes_manifest;    /* manifest body bytes fetched over HTTP */
    uint64_t bytes_origin_http; /* chunk (or plain download) body bytes fetched over HTTP,
                                   duplicates and failed hashes included */
    uint64_t bytes_seed;        /* verified chunk bytes from the seed over UDP */
    uint64_t bytes_peers;       /* verified chunk bytes from other peers over UDP */
    uint64_t bytes_uploaded;    /* chunk bytes sent to other peers */
    uint64_t udp_bytes_in;      /* every UDP byte received */
    uint64_t udp_bytes_out;     /* every UDP byte sent */
    uint64_t udp_dropped;       /* datagrams refused: malformed, oversize, from strangers or for
                                   unknown swarms, or over a cap */
    uint64_t udp_dgrams_in;     /* datagrams received */
    uint64_t udp_dgrams_out;    /* datagrams sent */
    uint64_t udp_send_calls;    /* system calls that sent them (batched: sendmmsg, GSO) */
    uint64_t udp_gso_dgrams;    /* datagrams sent in UDP_SEGMENT runs */
    uint64_t engine_ticks;      /* times the engine was ticked (timer or input batch) */

    uint32_t objects;          /* objects in the manifest (1 in plain mode) */
    uint32_t chunks;           /* chunks in the manifest */
    uint32_t chunks_origin;    /* chunks that verified from HTTP first */
    uint32_t chunks_seed;      /* ... from the seed */
    uint32_t chunks_peers;     /* ... from peers */
    uint64_t http_requests;    /* range requests made for chunks */
    uint64_t http_failures;    /* of those, how many failed */
    uint64_t chunks_bad;       /* chunks that failed their hash (any source) */
    uint64_t bans;             /* neighbours banned for bad data */
    uint64_t neighbours_added; /* handshakes completed with other peers */
    uint32_t neighbours_max;   /* most neighbours at once */
    uint32_t manifest_fetches; /* 1, or 2 after the origin changed under us */

    /* Milliseconds since the start, -1 when it did not happen. */
    int64_t ms_manifest;   /* the manifest was fetched and parsed */
    int64_t ms_first_byte; /* the first chunk verified (plain mode: the body arrived) */
    int64_t ms_complete;   /* every byte verified */
    int64_t ms_total;      /* the run ended (lingering included) */
} fb_get_stats;

/* Sets every counter to 0, every time to -1, mode "none", error "". */
void fb_get_stats_init(fb_get_stats *s);

/* Renders s as one JSON object and a '\n', NUL-terminated, into out (cap bytes). Strings are
 * escaped (quotes, backslashes, control and non-ASCII bytes as \u00XX). Returns the length, or
 * FB_E2BIG if it does not fit (out then holds nothing useful). */
int fb_get_stats_json(const fb_get_stats *s, char *out, size_t cap);

#endif
