/* Flow control, as small pure state machines the engine drives (docs/PROTOCOL.md, "Flow
 * control"):
 * - the receiver's burst size per sender, the 2007 rule: start at 16 datagrams; after a burst that
 *   arrived whole, one more; otherwise the next burst is the number that arrived;
 * - the sender's window over all its receivers, in blocks sent and not yet acknowledged: slow
 *   start, then one block more per window acknowledged, halved on loss at most once per round
 *   trip, like TCP Reno, so a competing TCP flow keeps its share of the uplink;
 * - a round-trip estimator (RFC 6298) for timeouts;
 * - a token bucket for a hard upload cap (the seed's rate). */
#ifndef FB_FLOW_H
#define FB_FLOW_H

#include "core/fbstd.h"

#define FB_BURST_INIT 16
#define FB_BURST_MAX  64

/* The next burst size after a burst of `asked` blocks of which `arrived` came (size is the
 * current burst size; a burst smaller than size because there was nothing more to ask does not
 * grow it). Result in [1, FB_BURST_MAX]. */
uint16_t fb_flow_next_burst(uint16_t size, uint16_t asked, uint16_t arrived);

typedef struct fb_rtt {
    uint32_t srtt, rttvar; /* microseconds */
    uint32_t min;          /* smallest sample seen */
    bool init;
} fb_rtt;

void fb_rtt_sample(fb_rtt *r, uint32_t sample_us);

/* Retransmission timeout: srtt + 4 rttvar clamped to [lo, hi], or `initial` before any sample. */
uint32_t fb_rtt_rto(const fb_rtt *r, uint32_t initial, uint32_t lo, uint32_t hi);

typedef struct fb_upwin {
    uint32_t w;        /* window in blocks, x256 fixed point */
    uint32_t min, max; /* blocks */
    bool slow_start;
    uint64_t last_cut_us;
} fb_upwin;

void fb_upwin_init(fb_upwin *u, uint32_t init, uint32_t min, uint32_t max);

/* Window in blocks. */
uint32_t fb_upwin_blocks(const fb_upwin *u);

/* A burst of `blocks` was acknowledged with `arrived` of them received, at now_us; rtt_us is the
 * sender's round-trip estimate (for "at most one cut per round trip"). */
void fb_upwin_ack(fb_upwin *u, uint32_t blocks, uint32_t arrived, uint64_t now_us, uint32_t rtt_us);

/* A burst was never acknowledged: treat as a loss. */
void fb_upwin_timeout(fb_upwin *u, uint64_t now_us, uint32_t rtt_us);

/* May a burst of `blocks` start with `inflight` blocks unacknowledged? (Always when none is.) */
bool fb_upwin_can_send(const fb_upwin *u, uint32_t inflight, uint32_t blocks);

typedef struct fb_bucket {
    uint64_t rate;   /* bytes per second; 0 = unlimited */
    uint64_t depth;  /* bytes the bucket holds at most */
    uint64_t tokens; /* bytes x 1e6 (so refills are exact in microseconds) */
    uint64_t last_us;
} fb_bucket;

/* depth is raised to at least FB_BUCKET_MIN_DEPTH so one datagram always fits. */
#define FB_BUCKET_MIN_DEPTH 2400
void fb_bucket_init(fb_bucket *b, uint64_t rate, uint64_t depth, uint64_t now_us);

/* Takes `bytes` if the bucket holds them now; false (nothing taken) otherwise. */
bool fb_bucket_take(fb_bucket *b, uint64_t bytes, uint64_t now_us);

/* The earliest time at which `bytes` can be taken (now_us if already). */
uint64_t fb_bucket_when(fb_bucket *b, uint64_t bytes, uint64_t now_us);

#endif
