/* The arithmetic of a `flashback crowd` run before it starts (docs/PEER.md): when each visitor
 * arrives, what one visitor costs in descriptors and memory and so how many fit, and the few
 * numbers read from flashbackd's metrics. Pure: no I/O; the command supplies what it measured. */
#ifndef FB_PEER_CROWDPLAN_H
#define FB_PEER_CROWDPLAN_H

#include "core/fbstd.h"

typedef enum fb_crowd_arrivals {
    FB_ARRIVE_POISSON = 0, /* a Poisson process conditioned on n arrivals within the window */
    FB_ARRIVE_EVEN,        /* evenly spaced */
} fb_crowd_arrivals;

/* Fills at_ms[0..n) with arrival times, ascending, in [0, over_ms] milliseconds after the start.
 * POISSON: n independent uniform times in [0, over_ms), sorted; these are exactly the arrival
 * times of a Poisson process of rate n / over_ms given that it had n arrivals in the window, so
 * gaps are exponential but the crowd is sure to fit the window. Drawn from `seed` (the same seed
 * gives the same times). EVEN: visitor i at i * over_ms / n. over_ms 0: everyone at 0 (a burst).
 * n 0 is a no-op. */
void fb_crowd_arrivals_fill(uint32_t *at_ms, uint32_t n, uint32_t over_ms, fb_crowd_arrivals kind,
                            uint64_t seed);

/* Descriptors one visitor may hold at once: its UDP socket, its HTTP client's own (curl's
 * wake-up socket pair) and its connections to the origin (origin_conns for ranges, one more
 * for the manifest). */
#define FB_CROWD_FDS_FIXED 3u
uint32_t fb_crowd_fds_per_visitor(uint32_t origin_conns);

/* Memory one visitor may hold at once, bytes, for a page of page_bytes in n_chunks chunks with a
 * manifest of manifest_bytes: the page itself, the manifest three times (the HTTP body, the
 * page's copy, the engine's), per-chunk tables, origin_conns range bodies of up to 16 chunks of
 * chunk_size, and FB_CROWD_MEM_FIXED for the engine, the socket's receive buffer, the HTTP
 * client and the timers (measured: docs/PEER.md). */
#define FB_CROWD_MEM_FIXED (384u * 1024)
uint64_t fb_crowd_mem_per_visitor(uint64_t page_bytes, uint64_t manifest_bytes, uint32_t n_chunks,
                                  uint32_t chunk_size, uint32_t origin_conns);

/* What the process has room for: descriptors below the limit not yet open (minus a reserve the
 * caller chose), and bytes of memory it may use (0: unknown, not checked). */
typedef struct fb_crowd_room {
    uint64_t fds;
    uint64_t mem;
} fb_crowd_room;

/* The largest crowd that fits `room` if every visitor were active at once (a burst, or a crowd
 * that stalls until its timeout): min(room.fds / fds_per_visitor, room.mem / mem_per_visitor),
 * capped at UINT32_MAX. Sets *by_fds to whether descriptors are the tighter bound. */
uint32_t fb_crowd_max_visitors(const fb_crowd_room *room, uint32_t fds_per_visitor,
                               uint64_t mem_per_visitor, bool *by_fds);

/* Reads sample `name` (no labels) from a Prometheus text scrape text[0..len): the value on the
 * line "name value" (comment lines and other metrics skipped; a name is matched whole). Returns
 * 0 and *out (a non-negative integer, decimal or in exponent form as Prometheus may print it,
 * rounded down), FB_ENOENT when absent, FB_EINVAL when the value is not a non-negative number. */
int fb_crowd_metric(const char *text, size_t len, const char *name, uint64_t *out);

#endif
