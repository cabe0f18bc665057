/* The summary of a `flashback crowd` run (docs/PEER.md): completion-time statistics, the bytes
 * from the origin against the bytes from peers, what a plain server would have needed for the
 * same crowd, and the one-line JSON that `--json` prints. Pure: no I/O, no allocation. */
#ifndef FB_PEER_CROWDSUM_H
#define FB_PEER_CROWDSUM_H

#include "core/fbstd.h"

/* Completion times in milliseconds (each visitor's arrival to its last verified byte). */
typedef struct fb_crowd_times {
    uint32_t n;                  /* how many times; the rest is -1 when 0 */
    int64_t mean, p50, p95, max; /* percentiles by nearest rank: the ceil(p * n)-th smallest */
} fb_crowd_times;

/* Computes the statistics of ms[0..n) (sorts ms in place). */
void fb_crowd_times_of(int64_t *ms, uint32_t n, fb_crowd_times *out);

typedef struct fb_crowd_summary {
    const char *url;
    const char *arrivals; /* "poisson" or "even" */
    uint32_t n;           /* visitors planned */
    uint32_t over_ms, linger_ms, timeout_ms;
    uint32_t arrived;         /* visitors started */
    uint32_t completed;       /* visitors whose every byte verified (twice: engine and crowd) */
    uint32_t failed;          /* visitors that ended otherwise */
    uint32_t verify_failures; /* of the failed: bytes that did not match the manifest */
    int exit_code;
    const char *error; /* "" on success, else the first reason */

    /* The page (from the manifest fetched before the crowd). */
    uint64_t page_bytes, manifest_bytes;
    uint32_t objects, chunks;

    /* Times, ms: completion statistics; the first arrival to the last completion; the run. */
    fb_crowd_times times;
    int64_t ms_makespan, ms_run;

    /* Bytes as the visitors counted them, summed over all (peer/getstats fields). */
    uint64_t bytes_manifest, bytes_origin_http, bytes_seed, bytes_peers, bytes_uploaded;
    uint64_t chunks_bad;
    /* What flashbackd's metrics said it sent during the run (-1: not read): HTTP bytes
     * (headers included) and the seed's UDP payload bytes (control included). */
    int64_t server_http_bytes, server_seed_bytes;

    /* The origin's rate in bytes per second (0: unknown) and where it came from: "metrics"
     * (flashbackd's seed cap), "flag" (--origin-rate) or "none". */
    uint64_t origin_rate;
    const char *rate_source;

    /* Resources: most visitors active at once; descriptors and resident bytes at the start and
     * at their peak (0 when unknown). */
    uint32_t active_peak;
    uint64_t fds_start, fds_peak, rss_start, rss_peak;
    uint64_t fd_limit; /* the descriptor limit the run had (0: none or unknown) */
} fb_crowd_summary;

/* Sets every count to 0, times and server bytes to -1, strings to "". */
void fb_crowd_summary_init(fb_crowd_summary *s);

/* Bytes the visitors got from the origin: manifests, HTTP ranges and the seed's chunks. */
uint64_t fb_crowd_origin_bytes(const fb_crowd_summary *s);

/* The origin's share of what the visitors received, in parts per million (origin / (origin +
 * peers)); -1 before any byte. */
int64_t fb_crowd_origin_share_ppm(const fb_crowd_summary *s);

/* The time a plain server at origin_rate bytes/s needs to send every visitor the page
 * (n * page_bytes / rate), ms; and the time it needs for one page (the bound no system beats when
 * peers' links are not the limit); -1 when the rate is unknown. */
int64_t fb_crowd_plain_ms(const fb_crowd_summary *s);
int64_t fb_crowd_one_page_ms(const fb_crowd_summary *s);

/* Memory per active visitor at the peak: (rss_peak - rss_start) / active_peak, 0 when unknown. */
uint64_t fb_crowd_mem_per_visitor_seen(const fb_crowd_summary *s);

/* Renders s as one JSON object and '\n', NUL-terminated, into out (cap bytes); the fields are
 * docs/PEER.md's. Returns the length, or FB_E2BIG when it does not fit. */
int fb_crowd_summary_json(const fb_crowd_summary *s, char *out, size_t cap);

#endif
