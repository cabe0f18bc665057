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

/* The sender's pacing rate (all receivers together), docs/PROTOCOL.md section 9. Each
 * acknowledgement (an early one after 4 blocks, and a final one) gives a report: the smallest
 * one-way queueing delay of its blocks (against the smallest seen from this sender, so clock
 * offsets cancel), whether some were lost, the rate they arrived at (never above the rate they
 * were sent at) and whether they met a growing queue on the way (a bottleneck: the path carried
 * no more than that rate). Once per period (twice the acknowledgement round trip, 50 to 400 ms):
 * - start phase: a bottleneck rate ends it (pace = that rate, at once if under half the pace),
 *   a queue or congestion ends it at 3/4, else the pace doubles if it held the sender back;
 *   until a report gives a rate, the sender serves one request at a time (fb_rate_window_open);
 * - then a bottleneck report sets the pace to 31/32 of the fastest rate of the last
 *   FB_RATE_WINDOW periods and remembers it as a ceiling for FB_RATE_CEIL_US;
 * - losses in half the reports or more (two at least), or with a delay over half the target,
 *   cut to 3/4 (reports on blocks sent before a cut are ignored for delay and loss);
 * - else a delay above the target shrinks it by (delay - target) / target / FB_RATE_SHRINK of
 *   itself;
 * - else, if the pace held the sender back, it grows by (target - delay) / target / 32 of itself
 *   (/ 8 when the queue is empty), up to 31/32 of a recent ceiling, then by 1/64 per period.
 * A competing TCP flow fills the uplink queue: reports show bottleneck rates and a standing
 * queue, and the sender yields. */
#define FB_RATE_TARGET_US 60000
#define FB_RATE_BN_SLACK  24      /* a spread over span + span / 24 is a bottleneck report */
#define FB_RATE_SHRINK    16      /* over the target: (delay - target) / target / 16 less */
#define FB_RATE_WINDOW    4       /* periods over which the fastest report counts */
#define FB_RATE_CEIL_US   5000000 /* the last rate a queue grew at is a ceiling this long */

/* Whether a report's blocks met a growing queue: they arrived spread over `spread_us`, having
 * left the sender over `span_us` (both over the same blocks), and the spread is longer by more
 * than 1/FB_RATE_BN_SLACK of the span. A queue that grows because the pace is a few percent
 * over the path's rate counts (1/8 let a pace 6-8% over a broadband uplink build a standing
 * queue of 20-50 ms in front of every request and announcement). */
bool fb_rate_bottleneck(uint64_t spread_us, uint64_t span_us);

typedef struct fb_rate {
    uint64_t rate;     /* pace, bytes per second */
    uint64_t min, max; /* bounds */
    bool start;        /* start phase */
    bool limited;      /* the pace held data back in this period */
    bool loss;         /* a report in this period had losses */
    uint32_t loss_n;   /* reports with losses in this period */
    uint64_t qd_sum;   /* reported delays in this period, us */
    uint32_t qd_n;
    uint64_t bn_max;   /* fastest rate among this period's reports that met a growing queue */
    uint32_t bn_n;     /* such reports in this period */
    uint64_t rate_max; /* fastest rate reported in this period */
    uint64_t win[FB_RATE_WINDOW]; /* fastest rate reported in each of the last periods */
    uint32_t win_next;
    bool known;          /* a report gave a rate */
    uint32_t start_sent; /* blocks of the requests started since the last report, while !known */
    uint64_t window_us;  /* when the last one started */
    uint64_t ceil;       /* the path's rate when a queue last grew under a burst */
    uint64_t ceil_us;    /* when */
    uint64_t cut_us;     /* when the pace was last cut for congestion: reports on blocks sent
                            before it tell of the old pace and cut nothing more */
    uint64_t period_start_us;
    uint32_t period_us;
} fb_rate;

void fb_rate_init(fb_rate *r, uint64_t initial, uint64_t min, uint64_t max, uint64_t now_us);

/* A report on one burst: its queueing delay, whether blocks were lost, the rate its blocks
 * arrived at (bytes/s, 0 if unknown; never more than they were sent at), whether they met a
 * growing queue on the way (they arrived slower than they were sent: the path carried no more
 * than `rate`), and when its first block was sent. */
void fb_rate_report(fb_rate *r, uint32_t qd_us, bool loss, uint64_t rate, bool bottleneck,
                    uint64_t sent_us, uint64_t now_us);

/* Start phase: until a report gives the path's rate, the requests started since the last
 * report hold at most `window` blocks (FB_RATE_START_BLOCKS at least: the first burst's size,
 * what a home router's queue holds), or one request if it is larger; the next waits for a
 * report (or FB_RATE_START_WAIT_US without one). fb_rate_window_open says whether the sender may
 * start a request of `blocks` blocks now; fb_rate_sent says it did. */
#define FB_RATE_START_WAIT_US 1000000
#define FB_RATE_START_BLOCKS  FB_BURST_INIT
bool fb_rate_window_open(fb_rate *r, uint32_t blocks, uint32_t window, uint64_t now_us);
void fb_rate_sent(fb_rate *r, uint32_t blocks, uint64_t now_us);

/* Start phase: the receiver of a request started since the last report cancelled it (a push it
 * refused, a chunk it got elsewhere): no report on it will come, and the receiver is there, so
 * the next request may start at once rather than after FB_RATE_START_WAIT_US. */
void fb_rate_cancelled(fb_rate *r);

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
