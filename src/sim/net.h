/* The simulated network: nodes with an uplink and a downlink (a rate and a drop-tail queue each),
 * a one-way latency per node, random loss, and NAT in front of peers. A packet leaves its sender
 * through the sender's uplink queue, crosses the core (the two nodes' half-latencies), may be
 * lost, waits in the receiver's downlink queue, and then passes the receiver's NAT filter. UDP
 * datagrams carry engine bytes and 28 bytes of UDP/IP overhead on the links; TCP segments and
 * ACKs (sim/tcp.c) carry only sizes and use the same queues.
 *
 * The nodes are split into parts, each with its own event queue (sim/evq.h), packet pools and
 * totals, so that parts can run on different threads. A part touches only its own nodes' state;
 * the one thing that crosses is a packet entering the core, which reaches its receiver no sooner
 * than the lookahead (the shortest one-way latency) later. So time goes in windows no longer than
 * the lookahead: each part runs its events due before the window's end, then every part calls
 * fb_net_exchange, which turns the packets sent to it during the window into a *run* sorted by
 * (arrival time, sender, sender's count) and gives back the packets it freed that other parts
 * own. Same-part packets take the same path, so the result does not depend on how the nodes are
 * split, only on the windows. The queues hold only the head of each FIFO (a run, a receiver's
 * downlink), so they stay small; nothing here allocates per packet in the steady state. */
#ifndef FB_SIM_NET_H
#define FB_SIM_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "core/addr.h"
#include "sim/evq.h"
#include "sim/pool.h"
#include "sim/rng.h"

#define FB_NET_UDP_OVERHEAD 28          /* IPv4 + UDP headers */
#define FB_NET_TCP_OVERHEAD 40          /* IPv4 + TCP headers */
#define FB_NET_IP_BASE      0xc6120001u /* node i has the address 198.18.0.1 + i */
#define FB_NET_PORT         4433        /* every node's UDP port (before NAT) */
#define FB_NET_SYM_PORT0    20000       /* first external port a symmetric NAT hands out */
#define FB_NET_SMALL        160         /* payloads up to this size use the small pool */
#define FB_NET_MEDIUM       1216        /* ...up to this size the medium pool (engine datagrams) */
#define FB_NET_MAX_PAYLOAD  1472        /* the largest UDP payload in a 1500-byte MTU */

#define FB_NET_MAX_PARTS 8 /* parts (threads) at most */
#define FB_NET_PART_SHIFT                                                                          \
    22 /* a packet or flow index holds its part from this bit up (an event's a is 25 bits) */

/* Event kinds owned by the network (the host's kinds start at FB_NET_EVK_END). */
enum {
    FB_NET_EVK_RUN = 1, /* the head of a run reaches its receiver's downlink queue (a = run) */
    FB_NET_EVK_DELIVER, /* the head of a node's downlink FIFO leaves it (a = node) */
    FB_NET_EVK_END,
};

typedef enum fb_nat_type {
    FB_NAT_NONE = 0,      /* public address: accepts anything sent to its port */
    FB_NAT_CONE = 1,      /* port-restricted cone: one external port for every destination;
                             inbound from X passes only after the node sent to X */
    FB_NAT_SYMMETRIC = 2, /* a new external port per destination; inbound on a port passes
                             only from the destination that port was made for */
} fb_nat_type;

typedef enum fb_pkt_kind {
    FB_PKT_UDP = 0,
    FB_PKT_TCP_DATA = 1,
    FB_PKT_TCP_ACK = 2,
} fb_pkt_kind;

typedef struct fb_pkt {
    /* The first cache line: what the FIFOs and the queues touch. */
    uint64_t at;             /* when it reaches the next stage (downlink, or the host) */
    uint64_t next_at;        /* the next packet's `at`, so popping touches only the head */
    uint32_t next;           /* the next packet in the same FIFO */
    uint32_t sseq;           /* the sender's count of packets, which orders equal arrivals */
    uint32_t src, dst;       /* sending and receiving node */
    uint32_t wire;           /* bytes on the links (payload + headers) */
    uint16_t len;            /* UDP: payload bytes; TCP: segment payload bytes */
    uint8_t kind;            /* fb_pkt_kind */
    uint8_t forged;          /* UDP: the source address is not the sender's own */
    uint8_t buf_class;       /* which payload pool the block is from (index in fb_net.bufs) */
    uint32_t buf;            /* the payload block, FB_POOL_NONE when none */
    uint32_t src_ip, dst_ip; /* UDP addresses as they appear on the wire (after NAT) */
    uint16_t src_port, dst_port;
    uint8_t *data; /* UDP payload (len bytes), owned by a payload pool */
    /* TCP. */
    uint32_t flow;     /* flow index */
    uint32_t flow_gen; /* the flow's generation (a recycled index is not it) */
    uint64_t seq;      /* segment number (data) or cumulative ack (ack) */
    uint64_t tsecr;    /* ack: sent_ns of the segment that caused it */
    uint64_t sack;     /* ack: the segment that caused it (a one-block SACK) */
    uint64_t sent_ns;  /* when it entered the sender's uplink */
} fb_pkt;

typedef struct fb_link {
    uint64_t rate;       /* bytes per second; 0 = infinite */
    uint64_t cap;        /* queue cap in bytes (including the packet on the wire) */
    uint64_t busy_until; /* ns: when everything queued has left */
    uint64_t bytes, pkts, drops, bytes_dropped;
} fb_link;

typedef struct fb_natmap {
    uint64_t *keys; /* 0 = empty slot */
    uint32_t *vals;
    uint32_t cap, len;
} fb_natmap;

typedef struct fb_net_node {
    fb_link up, down;
    uint64_t half_lat;     /* ns: one-way latency of this node's access link */
    uint8_t nat;           /* fb_nat_type */
    uint8_t part;          /* the part that runs this node's events (default 0) */
    bool alive;            /* packets to a node that is not alive are dropped */
    uint32_t sseq;         /* packets sent so far */
    fb_rng loss;           /* its own stream for the losses of the packets it receives */
    uint16_t next_port;    /* symmetric NAT: the next external port */
    fb_natmap map;         /* cone: destinations sent to; symmetric: dest <-> external port */
    uint64_t udp_to_bytes; /* UDP payload bytes that left an uplink towards this node's ip */
    uint64_t udp_rx_bytes, udp_rx_pkts; /* UDP payload bytes that reached the downlink */
    uint64_t udp_tx_bytes, udp_tx_pkts; /* UDP payload bytes handed to the uplink */
    uint64_t forged_tx_bytes;           /* of which sent with a forged source address */
    uint64_t nat_filtered;              /* inbound datagrams the NAT dropped */
    /* Packets in the downlink, in order of departure: only the head is in the event queue. */
    uint32_t down_head, down_tail;
} fb_net_node;

typedef struct fb_net_config {
    double loss;          /* probability that a packet is lost in the core */
    uint64_t seed;        /* the run's seed (the network draws from its own streams) */
    uint32_t max_nodes;   /* cap on nodes */
    uint32_t max_packets; /* cap on packets in flight at once, per part (below 2^22) */
    uint32_t max_nat;     /* cap on NAT entries per node */
    uint32_t parts;       /* parts (1..FB_NET_MAX_PARTS; 0 is 1) */
} fb_net_config;

/* Totals of a part (fb_net_totals sums them over the parts). */
typedef struct fb_net_counts {
    uint64_t lost, dropped_dead, dropped_noroute, dropped_pool, dropped_nat_full;
    uint64_t udp_pkts, udp_wire_bytes, tcp_pkts, tcp_wire_bytes;
} fb_net_counts;

/* A packet sent during a window, on its way to another part (or its own). */
typedef struct fb_net_sent {
    uint64_t at;        /* when it reaches the receiver's downlink */
    uint32_t src, sseq; /* sender, and its count: the order of packets arriving at once */
    uint32_t pkt;       /* the packet (an index of the sending part) */
} fb_net_sent;

/* What one part sent to one part (or freed of its packets) during a window. */
typedef struct fb_net_box {
    fb_net_sent *sent;
    uint32_t n_sent, cap_sent;
    uint32_t *freed; /* packets of the other part this one is done with */
    uint32_t n_freed, cap_freed;
} fb_net_box;

/* A run: the packets that reached one part in one window, by (at, src, sseq); only its head is in
 * the event queue, with sequence numbers taken at the exchange. */
typedef struct fb_net_run {
    fb_net_sent *p;
    uint32_t len, cur, cap;
    uint64_t seq0; /* the queue's sequence number of p[0] */
} fb_net_run;

typedef struct fb_net_part {
    _Alignas(64) fb_evq *q; /* parts sit on cache lines of their own (threads write them) */
    fb_pool pkts;           /* fb_pkt headers */
    fb_pool bufs[3];        /* payloads of up to FB_NET_SMALL, FB_NET_MEDIUM, FB_NET_MAX_PAYLOAD */
    fb_net_box box[FB_NET_MAX_PARTS]; /* box[k]: sent to part k, and freed of part k's */
    fb_net_run *runs;
    uint32_t n_runs, cap_runs;
    fb_net_counts c;
} fb_net_part;

/* Called when a packet passes the receiver's NAT. The packet (and its data) is valid for the
 * duration of the call only; the network frees it afterwards. */
typedef void (*fb_net_deliver_fn)(void *ctx, const fb_pkt *p);

typedef struct fb_net {
    fb_net_config cfg;
    fb_net_deliver_fn deliver;
    void *ctx;
    fb_net_node *nodes;
    uint32_t n_nodes;
    fb_net_part part[FB_NET_MAX_PARTS];
} fb_net;

/* A packet's or a flow's index: the part that owns it, and its index in that part's pool. */
static inline uint32_t fb_net_owner(uint32_t i)
{
    return i >> FB_NET_PART_SHIFT;
}

static inline uint32_t fb_net_local(uint32_t i)
{
    return i & ((1u << FB_NET_PART_SHIFT) - 1);
}

/* The packet with index pi (of any part). */
static inline fb_pkt *fb_net_pkt(const fb_net *n, uint32_t pi)
{
    return (fb_pkt *)fb_pool_ptr(&n->part[fb_net_owner(pi)].pkts, fb_net_local(pi));
}

/* A cache hint for the network event ev, queued and not yet run, in three stages called in
 * turn as ev comes closer (each when the previous one's loads have likely arrived): 0 starts
 * loading the node or run it names, 1 the packet at the head of its FIFO, 2 that packet's payload
 * (a delivery) or its receiver's downlink (a run). Changes nothing. */
void fb_net_prefetch(const fb_net *n, unsigned k, const fb_ev *ev, int stage);

/* Initializes a network with no node, every part scheduling on q (give part k its own queue by
 * setting n->part[k].q before anything runs); deliver(ctx, packet) receives every packet that
 * reaches its destination, in the receiver's part. Returns 0, FB_EINVAL (parts) or FB_ENOMEM. */
int fb_net_init(fb_net *n, fb_evq *q, const fb_net_config *cfg, fb_net_deliver_fn deliver,
                void *ctx);
void fb_net_fini(fb_net *n);

/* The longest window: the shortest one-way latency between two nodes (ns; at least 1). */
uint64_t fb_net_lookahead(const fb_net *n);

/* After every part ran its events of a window (none due before the window's end remains, and
 * the window was no longer than the lookahead), and before any part runs on: schedules on part
 * k's queue what the window sent to it, and takes back part k's packets that others freed. Reads
 * the other parts' boxes for part k and writes only those and part k: the parts may call it at
 * once, from their threads. */
void fb_net_exchange(fb_net *n, unsigned k);

/* A one-part network's loop (tests, small runs): runs events due up to `until` in windows,
 * network events itself and every other kind through other(ctx, ev) (may be NULL), exchanging
 * after each window and then calling exchanged(ctx) (may be NULL; for fb_tcp_exchange). */
void fb_net_drain(fb_net *n, uint64_t until, void (*other)(void *ctx, const fb_ev *ev),
                  void (*exchanged)(void *ctx), void *ctx);

/* The totals over every part. */
void fb_net_totals(const fb_net *n, fb_net_counts *out);

/* The part's queue's clock, for node i. */
static inline uint64_t fb_net_now(const fb_net *n, uint32_t i)
{
    return n->part[n->nodes[i].part].q->now;
}

/* Adds a node (not alive yet, in part 0: set nodes[i].part before it sends or receives) with the
 * given link rates (bytes/s, 0 = infinite), queue caps in bytes, one-way half latency in ns and
 * NAT type. Returns its index, or FB_ENOSPC. */
int fb_net_node_add(fb_net *n, uint64_t up_rate, uint64_t up_cap, uint64_t down_rate,
                    uint64_t down_cap, uint64_t half_lat_ns, fb_nat_type nat);

/* The node's address as its own engine knows it (ip, FB_NET_PORT). */
void fb_net_node_addr(const fb_net *n, uint32_t node, fb_addr *out);

/* The node whose address this is (by ip), or -1. */
int fb_net_node_of(const fb_net *n, const fb_addr *a);

/* Sends a UDP datagram of len <= FB_NET_MAX_PAYLOAD bytes from node `from` to `to`, now. The NAT
 * in front of the sender picks the source port; `forged`, if not NULL, replaces the source
 * address instead (a spoofing node). Returns 0 when the packet entered the uplink queue, or a
 * negative code when it was dropped (dead sender, full queue, no route, pool exhausted): like
 * UDP, a drop is silent to the protocol. */
int fb_net_send_udp(fb_net *n, uint32_t from, const fb_addr *forged, const fb_addr *to,
                    const uint8_t *data, size_t len);

/* Sends a TCP segment (kind FB_PKT_TCP_DATA with `len` payload bytes, or FB_PKT_TCP_ACK) of flow
 * `flow` from node `from` to node `to`. TCP packets pass NATs (the connection is tracked). */
int fb_net_send_tcp(fb_net *n, uint32_t from, uint32_t to, fb_pkt_kind kind, uint32_t flow,
                    uint32_t flow_gen, uint64_t seq, uint64_t tsecr, uint64_t sack, uint16_t len);

/* Handles an event of a network kind (below FB_NET_EVK_END) popped from part k's queue. */
void fb_net_event(fb_net *n, unsigned k, const fb_ev *ev);

/* Bytes queued on a link at time now (ns), including the packet being sent. */
uint64_t fb_link_backlog(const fb_link *l, uint64_t now);

#endif
