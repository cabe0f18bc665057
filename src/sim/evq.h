/* The simulator's virtual clock and event queue: a 4-ary min-heap of small fixed-size events
 * ordered by (time, sequence number). The sequence number is given at push time, so events due at
 * the same instant run in the order they were scheduled, and a run never depends on heap layout.
 * Times are nanoseconds of virtual time. The heap holds each event packed into one 16-byte key
 * (time, sequence, kind, a, b from the high bits down), so comparing keys orders events and the
 * four children of a slot fill one cache line. */
#ifndef FB_SIM_EVQ_H
#define FB_SIM_EVQ_H

#include <stddef.h>
#include <stdint.h>

/* Field widths of a packed event: a time past FB_EVQ_T_MAX (about 39 hours of virtual time) is
 * kept as FB_EVQ_T_MAX, a is below 2^25, b is kept modulo 2^17, a kind is below 16. */
#define FB_EVQ_T_BITS   47
#define FB_EVQ_SEQ_BITS 35
#define FB_EVQ_K_BITS   4
#define FB_EVQ_A_BITS   25
#define FB_EVQ_B_BITS   17
#define FB_EVQ_T_MAX    ((1ull << FB_EVQ_T_BITS) - 1)
#define FB_EVQ_B_MASK   ((1u << FB_EVQ_B_BITS) - 1)

typedef unsigned __int128 fb_evkey;

/* An event as popped (unpacked). */
typedef struct fb_ev {
    uint64_t t;       /* due time, ns */
    uint64_t seqkind; /* sequence number << 8 | kind: orders ties, and says what to do */
    uint32_t a, b;    /* the kind's arguments (a node, a packet, a flow and a generation...) */
} fb_ev;

static inline unsigned fb_ev_kind(const fb_ev *e)
{
    return (unsigned)(e->seqkind & 0xff);
}

typedef struct fb_evq {
    fb_evkey *heap;       /* heap[1..4] start a cache line, and so do the children of every slot */
    void *mem;            /* the allocation heap points into */
    size_t len, cap, max; /* cap: allocated; max: the hard cap given at init */
    uint64_t seq;         /* next sequence number */
    uint64_t now;         /* the virtual clock: the time of the last popped event */
    uint64_t pushed;      /* events pushed so far (a statistic) */
    uint64_t popped;      /* events popped so far (a statistic) */
} fb_evq;

/* Initializes an empty queue at time 0 that may hold up to max events (the array grows by
 * doubling up to it). Returns 0 or FB_ENOMEM. */
int fb_evq_init(fb_evq *q, size_t max);
void fb_evq_fini(fb_evq *q);

/* Schedules an event of `kind` (0..15) at time t (clamped to now, so time never goes back, and
 * to FB_EVQ_T_MAX), with arguments a (below 2^25) and b (kept modulo 2^17). Returns 0,
 * FB_EINVAL for a kind or an a out of range, or FB_ENOSPC when the queue holds `max` events
 * already (or has given 2^35 sequence numbers). */
int fb_evq_push(fb_evq *q, uint64_t t, unsigned kind, uint32_t a, uint32_t b);

/* Sets aside n sequence numbers and returns the first: events pushed later with
 * fb_evq_push_seq(base + i) order as if pushed now, one after the other (a batch scheduled at once
 * whose members are queued one at a time). */
uint64_t fb_evq_reserve(fb_evq *q, uint64_t n);

/* fb_evq_push with a sequence number from fb_evq_reserve (each used once). Returns 0, FB_EINVAL,
 * or FB_ENOSPC (the queue is full, or seq is past 2^35). */
int fb_evq_push_seq(fb_evq *q, uint64_t t, uint64_t seq, unsigned kind, uint32_t a, uint32_t b);

/* Removes the earliest event into *out and advances the clock to its time. Returns 0, or
 * FB_ENOENT when the queue is empty. */
int fb_evq_pop(fb_evq *q, fb_ev *out);

/* How many events fb_evq_upcoming returns at most. */
#define FB_EVQ_UPCOMING 3

/* Copies into out[0..k-1] the k = min(FB_EVQ_UPCOMING, len) earliest events, earliest first,
 * without removing them (for cache hints). Returns k. */
int fb_evq_upcoming(const fb_evq *q, fb_ev out[FB_EVQ_UPCOMING]);

/* The time of the earliest event, or UINT64_MAX when empty. */
static inline uint64_t fb_evq_peek_time(const fb_evq *q)
{
    return q->len ? (uint64_t)(q->heap[0] >> (128 - FB_EVQ_T_BITS)) : UINT64_MAX;
}

#endif
