/* Flow control, as small pure state machines the engine drives (docs/PROTOCOL.md, "Flow
 * control"):
 * - the receiver's burst size per sender, the 2007 rule: start at 16 datagrams; after a burst that
 *   arrived whole, one more; otherwise the next burst is the number that arrived;
 * - the sender's pacing rate over all its receivers, from the arrival rates and queueing delays
 *   its receivers report, so its uplink queue stays short and a competing TCP flow keeps its
 *   share;
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

/* The sender's pacing rate (all receivers together). Receivers report, with each burst's
 * acknowledgement (an early one after 4 blocks, and a final one), the rate at which its blocks
 * arrived (count over the spread from first to last), whether some were lost, and the smallest
 * one-way queueing delay its blocks met (against the smallest delay seen from this sender, so
 * clock offsets cancel). Once per period (twice the acknowledgement round trip, 50 to 400 ms):
 * - losses in half the reports or more (two at least), or with a queueing delay over half the
 *   target, cut the
 *   rate to 3/4 (scattered losses without a queue are the path's own loss rate: slowing down
 *   would not cure them);
 * - else a delay above the target shrinks it by (delay - target) / target / 4 of itself;
 * - else if the period had 3 arrival reports or more and even the fastest arrived under 9/10 of
 *   the pace, the pace becomes that arrival rate (the path does not carry more; a quarter less
 *   at most);
 * - else, if the sender had more to send than the pace allowed and the fastest report arrived at
 *   19/20 of the pace at least (or there were too few to tell), it grows by
 *   (target - delay) / target / 16 of itself (/ 8 when the queue is empty), or doubles in the
 *   start phase (until the first signal).
 * The start phase ends when the fastest report of a period arrived under 4/5 of the pace (the
 * pace becomes that), and takes an arrival report under a quarter of the pace at once (an uplink
 * slower than the initial guess is found within a round trip). A competing TCP flow takes a share
 * of the uplink, so reports show a lower arrival rate and a standing queue, and the sender yields.
 */
#define FB_RATE_TARGET_US 60000

typedef struct fb_rate {
    uint64_t rate;     /* pace, bytes per second */
    uint64_t min, max; /* bounds */
    bool start;        /* start phase */
    bool limited;      /* the pace held data back in this period */
    bool loss;         /* a report in this period had losses */
    uint32_t loss_n;   /* reports with losses in this period */
    uint64_t qd_sum;   /* reported delays in this period, us */
    uint32_t qd_n;
    uint64_t arrival_max; /* fastest arrival rate reported in this period */
    uint32_t arrival_n;   /* reports with an arrival rate in this period */
    uint64_t period_start_us;
    uint32_t period_us;
} fb_rate;

void fb_rate_init(fb_rate *r, uint64_t initial, uint64_t min, uint64_t max, uint64_t now_us);

/* A report on one burst: its queueing delay, whether blocks were lost, and its arrival rate
 * (bytes/s, 0 if unknown). */
void fb_rate_report(fb_rate *r, uint32_t qd_us, bool loss, uint64_t arrival, uint64_t now_us);

/* The pace held data back (the sender is not idle). */
void fb_rate_limited(fb_rate *r);

/* Sets the period from the round trip of acknowledgements. */
void fb_rate_rtt(fb_rate *r, uint32_t rtt_us);

/* Closes the period if it is over and returns the pace. */
uint64_t fb_rate_pace(fb_rate *r, uint64_t now_us);

typedef struct fb_bucket {
    uint64_t rate;  /* bytes per second; 0 = unlimited */
    uint64_t depth; /* bytes the bucket holds at most */
    int64_t tokens; /* bytes x 1e6 (so refills are exact in microseconds); below zero after
                       fb_bucket_force */
    uint64_t last_us;
} fb_bucket;

/* depth is raised to at least FB_BUCKET_MIN_DEPTH so one datagram always fits. */
#define FB_BUCKET_MIN_DEPTH 2400
void fb_bucket_init(fb_bucket *b, uint64_t rate, uint64_t depth, uint64_t now_us);

/* Changes the rate (and depth) from now on; tokens earned so far at the old rate are kept. */
void fb_bucket_set(fb_bucket *b, uint64_t rate, uint64_t depth, uint64_t now_us);

/* Takes `bytes` if the bucket holds them now; false (nothing taken) otherwise. */
bool fb_bucket_take(fb_bucket *b, uint64_t bytes, uint64_t now_us);

/* Takes `bytes` whatever the bucket holds (it may go into debt, down to minus its depth), for
 * datagrams that must not wait; later takes wait for the debt to be paid. */
void fb_bucket_force(fb_bucket *b, uint64_t bytes, uint64_t now_us);

/* The earliest time at which `bytes` can be taken (now_us if already). */
uint64_t fb_bucket_when(fb_bucket *b, uint64_t bytes, uint64_t now_us);

#endif
