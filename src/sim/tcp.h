/* A TCP-like transfer over the simulated network: Reno congestion control (slow start from an
 * initial window of 10 segments, additive increase of one segment per RTT, halving on loss) with
 * SACK-based loss recovery in the manner of RFC 6675 (a scoreboard of what the receiver holds,
 * retransmission of the holes while the data in flight stays under the window) and a
 * retransmission timeout with exponential backoff, ACK-clocked through the same drop-tail queues
 * as the engines' datagrams. The receiver ACKs every segment (no delayed ACK) and buffers
 * out-of-order segments within its window. Used for the origin's HTTP fallback transfers and for
 * the competing long flow of --tcp. */
#ifndef FB_SIM_TCP_H
#define FB_SIM_TCP_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/evq.h"
#include "sim/net.h"
#include "sim/pool.h"

#define FB_TCP_MSS  1460
#define FB_TCP_RWND 1024 /* receive window, segments (also the out-of-order buffer) */
#define FB_TCP_IW   10   /* initial window, segments */

typedef struct fb_tcp_flow {
    uint32_t src, dst; /* sending and receiving node */
    uint32_t gen;      /* generation of this pool slot */
    bool open;
    uint64_t bytes; /* bytes to transfer; 0 = unlimited (a long flow) */
    uint64_t segs;  /* segments to transfer (UINT64_MAX when unlimited) */
    uint64_t tag;   /* the host's, untouched */
    /* Sender. */
    uint64_t snd_una, snd_nxt, recover;
    uint64_t snd_max; /* one past the highest segment ever sent */
    double cwnd, ssthresh;
    uint32_t dupacks;
    bool in_recovery;
    uint64_t high_sacked;              /* one past the highest segment SACKed */
    uint32_t sacked_n;                 /* segments SACKed above snd_una */
    uint64_t sacked[FB_TCP_RWND / 64]; /* scoreboard (ring over snd_una..snd_una+RWND) */
    uint64_t rtxed[FB_TCP_RWND / 64];  /* retransmitted during this recovery */
    uint64_t srtt, rttvar, rto;        /* ns */
    uint64_t rto_at;                   /* ns: when the retransmission timer fires; 0 = stopped */
    bool timer_queued;                 /* an RTO event is in the queue */
    /* Receiver. */
    uint64_t rcv_nxt;
    uint64_t ooo[FB_TCP_RWND / 64]; /* segments rcv_nxt+1.. received out of order (ring) */
    /* Statistics. */
    uint64_t start_ns, done_ns;
    uint64_t retransmits, timeouts;
} fb_tcp_flow;

/* Called at the receiver when every byte of a finite flow has arrived in order. The flow stays
 * open (the sender still sees the last ACKs) until the host closes it. */
typedef void (*fb_tcp_done_fn)(void *ctx, uint32_t flow);

/* A closed flow's slot is not reused before every packet of it has left the network. */
typedef struct fb_tcp_cooling {
    uint32_t *flow;
    uint64_t *until; /* ns */
    uint32_t head, len, cap;
} fb_tcp_cooling;

/* The flows of one part of the network (those its nodes opened), and the flows of any part that
 * its nodes closed during the current window. */
typedef struct fb_tcp_part {
    fb_pool flows;
    uint32_t *closed[FB_NET_MAX_PARTS]; /* closed[k]: part k's flows closed here */
    uint32_t n_closed[FB_NET_MAX_PARTS], cap_closed[FB_NET_MAX_PARTS];
    fb_tcp_cooling cooling;
} fb_tcp_part;

/* A flow belongs to the part of its sender, which runs its sender's half (sending, ACKs, the
 * timer); the receiver's part runs the receiver's half. A flow closes at the next exchange of
 * the network (fb_tcp_exchange), so both halves see it open or closed at the same moments
 * whatever the split. */
typedef struct fb_tcp {
    fb_net *net;
    unsigned evk_rto; /* the event kind the host routes to fb_tcp_timer */
    fb_tcp_done_fn done;
    void *ctx;
    uint64_t max_age; /* ns: the longest a packet can be in the network */
    fb_tcp_part part[FB_NET_MAX_PARTS];
} fb_tcp;

/* Initializes the TCP model on net (with its nodes added: their queues bound how long a packet
 * stays in the network) with room for max_flows flows per part; the host routes events of kind
 * evk_rto to fb_tcp_timer and TCP packets to fb_tcp_packet. Returns 0 or FB_ENOMEM. */
int fb_tcp_init(fb_tcp *t, fb_net *net, unsigned evk_rto, uint32_t max_flows, fb_tcp_done_fn done,
                void *ctx);
void fb_tcp_fini(fb_tcp *t);

/* Opens a flow of `bytes` (0: unlimited) from node src to node dst and starts sending now (from
 * src's part). Returns the flow index, or FB_POOL_NONE when max_flows are open. */
uint32_t fb_tcp_open(fb_tcp *t, uint32_t src, uint32_t dst, uint64_t bytes, uint64_t tag);

/* Stops a flow, from either end's part: at the next fb_tcp_exchange it is closed, and its packets
 * still in the network are ignored from then on. Closing twice is harmless. */
void fb_tcp_close(fb_tcp *t, unsigned k, uint32_t flow);

/* With fb_net_exchange, for part k: closes the flows of part k that were closed anywhere during
 * the window, and frees the slots that have cooled. Same rules as fb_net_exchange. */
void fb_tcp_exchange(fb_tcp *t, unsigned k);

static inline fb_tcp_flow *fb_tcp_get(const fb_tcp *t, uint32_t flow)
{
    return (fb_tcp_flow *)fb_pool_ptr(&t->part[fb_net_owner(flow)].flows, fb_net_local(flow));
}

/* Bytes the receiver has in order so far. */
uint64_t fb_tcp_delivered(const fb_tcp_flow *f);

/* Handles a delivered TCP packet (data at the receiver, ack at the sender). */
void fb_tcp_packet(fb_tcp *t, const fb_pkt *p);

/* Handles an RTO event (a = flow, b = generation). */
void fb_tcp_timer(fb_tcp *t, const fb_ev *ev);

#endif
