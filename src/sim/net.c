/* The simulated network: links as virtual-finish-time FIFOs (a link remembers when its queue
 * drains; a packet's departure is max(now, busy_until) + its serialization time, and it is
 * dropped when the backlog would pass the cap), latency as a fixed delay per node, loss as one
 * Bernoulli draw per packet in the core, NAT as per-node filter tables. Two events per packet:
 * arrival at the receiver's downlink, and delivery after it. */
#include "sim/net.h"

#include <stdlib.h>
#include <string.h>

#include "core/fbstd.h"

#define NS 1000000000ull

/* ---- NAT tables: open addressing, uint64 keys (0 = empty), uint32 values. ---- */

static uint64_t addr_key(uint32_t ip, uint16_t port)
{
    return (uint64_t)ip << 16 | port;
}

static uint32_t key_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (uint32_t)k;
}

static int natmap_find(const fb_natmap *m, uint64_t key, uint32_t *val)
{
    if (!m->cap)
        return 0;
    for (uint32_t i = key_hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key) {
            if (val)
                *val = m->vals[i];
            return 1;
        }
        if (m->keys[i] == 0)
            return 0;
    }
}

static int natmap_put(fb_natmap *m, uint64_t key, uint32_t val, uint32_t max)
{
    if ((m->len + 1) * 4 > m->cap * 3) {
        if (m->len + 1 > max)
            return FB_ENOSPC;
        uint32_t ncap = m->cap ? m->cap * 2 : 16;
        uint64_t *nk = calloc(ncap, sizeof(*nk));
        uint32_t *nv = calloc(ncap, sizeof(*nv));
        if (!nk || !nv) {
            free(nk);
            free(nv);
            return FB_ENOMEM;
        }
        for (uint32_t i = 0; i < m->cap; i++) {
            if (!m->keys[i])
                continue;
            uint32_t j = key_hash(m->keys[i]) & (ncap - 1);
            while (nk[j])
                j = (j + 1) & (ncap - 1);
            nk[j] = m->keys[i];
            nv[j] = m->vals[i];
        }
        free(m->keys);
        free(m->vals);
        m->keys = nk;
        m->vals = nv;
        m->cap = ncap;
    }
    uint32_t i = key_hash(key) & (m->cap - 1);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->len++;
    m->keys[i] = key;
    m->vals[i] = val;
    return 0;
}

/* ---- Network ---- */

int fb_net_init(fb_net *n, fb_evq *q, const fb_net_config *cfg, fb_net_deliver_fn deliver,
                void *ctx)
{
    memset(n, 0, sizeof(*n));
    n->cfg = *cfg;
    if (!n->cfg.parts)
        n->cfg.parts = 1;
    if (n->cfg.parts > FB_NET_MAX_PARTS)
        return FB_EINVAL;
    if (!n->cfg.max_nodes)
        n->cfg.max_nodes = 8192;
    if (!n->cfg.max_packets || n->cfg.max_packets >= 1u << FB_NET_PART_SHIFT)
        n->cfg.max_packets = (1u << FB_NET_PART_SHIFT) - 1;
    if (!n->cfg.max_nat)
        n->cfg.max_nat = 65536;
    n->deliver = deliver;
    n->ctx = ctx;
    n->nodes = calloc(n->cfg.max_nodes, sizeof(*n->nodes));
    if (!n->nodes)
        return FB_ENOMEM;
    for (uint32_t k = 0; k < n->cfg.parts; k++) {
        fb_net_part *pt = &n->part[k];
        pt->q = q;
        if (fb_pool_init(&pt->pkts, sizeof(fb_pkt), n->cfg.max_packets) ||
            fb_pool_init(&pt->bufs[0], FB_NET_SMALL, n->cfg.max_packets) ||
            fb_pool_init(&pt->bufs[1], FB_NET_MEDIUM, n->cfg.max_packets) ||
            fb_pool_init(&pt->bufs[2], FB_NET_MAX_PAYLOAD, n->cfg.max_packets))
            return FB_ENOMEM;
    }
    return 0;
}

void fb_net_fini(fb_net *n)
{
    if (n->nodes)
        for (uint32_t i = 0; i < n->n_nodes; i++) {
            free(n->nodes[i].map.keys);
            free(n->nodes[i].map.vals);
        }
    free(n->nodes);
    for (uint32_t k = 0; k < FB_NET_MAX_PARTS; k++) {
        fb_net_part *pt = &n->part[k];
        fb_pool_fini(&pt->pkts);
        for (int i = 0; i < 3; i++)
            fb_pool_fini(&pt->bufs[i]);
        for (uint32_t j = 0; j < FB_NET_MAX_PARTS; j++) {
            free(pt->box[j].sent);
            free(pt->box[j].freed);
        }
        for (uint32_t r = 0; r < pt->cap_runs; r++)
            free(pt->runs[r].p);
        free(pt->runs);
    }
    memset(n, 0, sizeof(*n));
}

int fb_net_node_add(fb_net *n, uint64_t up_rate, uint64_t up_cap, uint64_t down_rate,
                    uint64_t down_cap, uint64_t half_lat_ns, fb_nat_type nat)
{
    if (n->n_nodes >= n->cfg.max_nodes)
        return FB_ENOSPC;
    fb_net_node *nd = &n->nodes[n->n_nodes];
    memset(nd, 0, sizeof(*nd));
    nd->up.rate = up_rate;
    nd->up.cap = up_cap;
    nd->down.rate = down_rate;
    nd->down.cap = down_cap;
    nd->half_lat = half_lat_ns;
    nd->nat = (uint8_t)nat;
    nd->next_port = FB_NET_SYM_PORT0;
    nd->down_head = nd->down_tail = FB_POOL_NONE;
    fb_rng_seed(&nd->loss, n->cfg.seed, 0x6e6574000000ull + n->n_nodes); /* "net", node */
    return (int)n->n_nodes++;
}

uint64_t fb_net_lookahead(const fb_net *n)
{
    /* The two smallest half latencies: no path is shorter than their sum. */
    uint64_t a = UINT64_MAX, b = UINT64_MAX;
    for (uint32_t i = 0; i < n->n_nodes; i++) {
        uint64_t h = n->nodes[i].half_lat;
        if (h < a) {
            b = a;
            a = h;
        } else if (h < b) {
            b = h;
        }
    }
    if (b == UINT64_MAX)
        b = a;
    uint64_t l = a == UINT64_MAX ? 0 : a + b;
    return l ? l : 1;
}

void fb_net_totals(const fb_net *n, fb_net_counts *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t k = 0; k < n->cfg.parts; k++) {
        const fb_net_counts *c = &n->part[k].c;
        out->lost += c->lost;
        out->dropped_dead += c->dropped_dead;
        out->dropped_noroute += c->dropped_noroute;
        out->dropped_pool += c->dropped_pool;
        out->dropped_nat_full += c->dropped_nat_full;
        out->udp_pkts += c->udp_pkts;
        out->udp_wire_bytes += c->udp_wire_bytes;
        out->tcp_pkts += c->tcp_pkts;
        out->tcp_wire_bytes += c->tcp_wire_bytes;
    }
}

void fb_net_node_addr(const fb_net *n, uint32_t node, fb_addr *out)
{
    (void)n;
    fb_addr_set_v4(out, FB_NET_IP_BASE + node, FB_NET_PORT);
}

static int node_of_ip(const fb_net *n, uint32_t ip)
{
    if (ip < FB_NET_IP_BASE || ip - FB_NET_IP_BASE >= n->n_nodes)
        return -1;
    return (int)(ip - FB_NET_IP_BASE);
}

static uint32_t addr_ip(const fb_addr *a)
{
    return (uint32_t)a->ip[0] << 24 | (uint32_t)a->ip[1] << 16 | (uint32_t)a->ip[2] << 8 | a->ip[3];
}

int fb_net_node_of(const fb_net *n, const fb_addr *a)
{
    if (a->family != 4)
        return -1;
    return node_of_ip(n, addr_ip(a));
}

uint64_t fb_link_backlog(const fb_link *l, uint64_t now)
{
    if (!l->rate || l->busy_until <= now)
        return 0;
    /* Bytes still to send = remaining time * rate, rounded up. */
    return ((l->busy_until - now) * l->rate + NS - 1) / NS;
}

/* Queues `wire` bytes on link l at time now. Returns true and sets *left to the time the last
 * bit leaves, or returns false when the drop-tail queue is full. */
static bool link_enqueue(fb_link *l, uint64_t now, uint32_t wire, uint64_t *left)
{
    if (!l->rate) {
        l->bytes += wire;
        l->pkts++;
        *left = now;
        return true;
    }
    if (fb_link_backlog(l, now) + wire > l->cap) {
        l->drops++;
        l->bytes_dropped += wire;
        return false;
    }
    uint64_t start = l->busy_until > now ? l->busy_until : now;
    l->busy_until = start + ((uint64_t)wire * NS + l->rate - 1) / l->rate;
    l->bytes += wire;
    l->pkts++;
    *left = l->busy_until;
    return true;
}

_Static_assert((uint64_t)FB_NET_MAX_PARTS << FB_NET_PART_SHIFT <= 1ull << FB_EVQ_A_BITS,
               "a flow index fits an event's a");

static fb_net_part *part_of(fb_net *n, uint32_t node)
{
    return &n->part[n->nodes[node].part];
}

/* Grows a vector of elements of `size` bytes to hold one more; 0 or FB_ENOMEM. */
static int grow(void **v, uint32_t *cap, uint32_t len, size_t size)
{
    if (len < *cap)
        return 0;
    uint32_t ncap = *cap ? *cap * 2 : 256;
    void *nv = realloc(*v, (size_t)ncap * size);
    if (!nv)
        return FB_ENOMEM;
    *v = nv;
    *cap = ncap;
    return 0;
}

/* Part k is done with packet pi: back to its pool if k owns it, else into the box that the owner
 * empties at the next exchange. */
static void pkt_free(fb_net *n, unsigned k, uint32_t pi)
{
    unsigned o = fb_net_owner(pi);
    if (o != k) {
        fb_net_box *b = &n->part[k].box[o];
        if (grow((void **)&b->freed, &b->cap_freed, b->n_freed, sizeof(uint32_t)) == 0) {
            b->freed[b->n_freed++] = pi;
            return;
        }
        /* Out of memory: the packet stays allocated (a leak, not a crash). */
        n->part[k].c.dropped_pool++;
        return;
    }
    fb_net_part *pt = &n->part[o];
    fb_pkt *p = fb_pool_ptr(&pt->pkts, fb_net_local(pi));
    if (p->buf != FB_POOL_NONE)
        fb_pool_put(&pt->bufs[p->buf_class], p->buf);
    fb_pool_put(&pt->pkts, fb_net_local(pi));
}

/* Puts packet pi (of the sender's part) on its sender's uplink and into the box of its
 * receiver's part, for the next exchange; frees it when the uplink queue is full. */
static int pkt_launch(fb_net *n, uint32_t pi)
{
    fb_pkt *p = fb_net_pkt(n, pi);
    fb_net_node *s = &n->nodes[p->src], *d = &n->nodes[p->dst];
    fb_net_part *pt = &n->part[s->part];
    uint64_t now = pt->q->now;
    uint64_t left;
    if (!link_enqueue(&s->up, now, p->wire, &left)) {
        pkt_free(n, s->part, pi);
        return FB_EAGAIN;
    }
    p->sent_ns = now;
    p->at = left + s->half_lat + d->half_lat;
    p->sseq = s->sseq++;
    fb_net_box *b = &pt->box[d->part];
    if (grow((void **)&b->sent, &b->cap_sent, b->n_sent, sizeof(fb_net_sent))) {
        pt->c.dropped_pool++;
        pkt_free(n, s->part, pi);
        return FB_ENOMEM;
    }
    b->sent[b->n_sent++] = (fb_net_sent){.at = p->at, .src = p->src, .sseq = p->sseq, .pkt = pi};
    return 0;
}

static uint32_t pkt_new(fb_net *n, unsigned k)
{
    fb_net_part *pt = &n->part[k];
    uint32_t li = fb_pool_get(&pt->pkts);
    if (li == FB_POOL_NONE) {
        pt->c.dropped_pool++;
        return li;
    }
    fb_pkt *p = fb_pool_ptr(&pt->pkts, li);
    memset(p, 0, sizeof(*p));
    p->buf = FB_POOL_NONE;
    return li | (uint32_t)k << FB_NET_PART_SHIFT;
}

int fb_net_send_udp(fb_net *n, uint32_t from, const fb_addr *forged, const fb_addr *to,
                    const uint8_t *data, size_t len)
{
    if (from >= n->n_nodes || len > FB_NET_MAX_PAYLOAD)
        return FB_EINVAL;
    fb_net_node *s = &n->nodes[from];
    fb_net_part *pt = &n->part[s->part];
    if (!s->alive) {
        pt->c.dropped_dead++;
        return FB_ENOENT;
    }
    int dst = fb_net_node_of(n, to);
    if (dst < 0) {
        pt->c.dropped_noroute++;
        return FB_ENOENT;
    }
    uint64_t dkey = addr_key(addr_ip(to), to->port);
    uint16_t sport = FB_NET_PORT;
    if (forged) {
        /* A spoofer writes any source it likes; its own NAT is not consulted. */
    } else if (s->nat == FB_NAT_CONE) {
        if (!natmap_find(&s->map, dkey, NULL) && natmap_put(&s->map, dkey, 1, n->cfg.max_nat)) {
            pt->c.dropped_nat_full++;
            return FB_ENOSPC;
        }
    } else if (s->nat == FB_NAT_SYMMETRIC) {
        uint32_t port;
        if (!natmap_find(&s->map, dkey, &port)) {
            /* A fresh external port for every new destination (ports wrap to 0: full). */
            if (s->next_port == 0 || natmap_put(&s->map, dkey, s->next_port, n->cfg.max_nat)) {
                pt->c.dropped_nat_full++;
                return FB_ENOSPC;
            }
            port = s->next_port++;
        }
        sport = (uint16_t)port;
    }
    uint32_t pi = pkt_new(n, s->part);
    if (pi == FB_POOL_NONE)
        return FB_ENOSPC;
    fb_pkt *p = fb_net_pkt(n, pi);
    if (len) {
        int cls = len <= FB_NET_SMALL ? 0 : len <= FB_NET_MEDIUM ? 1 : 2;
        fb_pool *pool = &pt->bufs[cls];
        p->buf = fb_pool_get(pool);
        if (p->buf == FB_POOL_NONE) {
            pt->c.dropped_pool++;
            fb_pool_put(&pt->pkts, fb_net_local(pi));
            return FB_ENOSPC;
        }
        p->buf_class = (uint8_t)cls;
        p->data = fb_pool_ptr(pool, p->buf);
        memcpy(p->data, data, len);
    }
    p->src = from;
    p->dst = (uint32_t)dst;
    p->kind = FB_PKT_UDP;
    p->len = (uint16_t)len;
    p->wire = (uint32_t)len + FB_NET_UDP_OVERHEAD;
    if (forged) {
        p->forged = 1;
        p->src_ip = addr_ip(forged);
        p->src_port = forged->port;
        s->forged_tx_bytes += len;
    } else {
        p->src_ip = FB_NET_IP_BASE + from;
        p->src_port = sport;
    }
    p->dst_ip = addr_ip(to);
    p->dst_port = to->port;
    s->udp_tx_bytes += len;
    s->udp_tx_pkts++;
    pt->c.udp_pkts++;
    pt->c.udp_wire_bytes += p->wire;
    return pkt_launch(n, pi);
}

int fb_net_send_tcp(fb_net *n, uint32_t from, uint32_t to, fb_pkt_kind kind, uint32_t flow,
                    uint32_t flow_gen, uint64_t seq, uint64_t tsecr, uint64_t sack, uint16_t len)
{
    if (from >= n->n_nodes || to >= n->n_nodes)
        return FB_EINVAL;
    fb_net_part *pt = part_of(n, from);
    if (!n->nodes[from].alive) {
        pt->c.dropped_dead++;
        return FB_ENOENT;
    }
    uint32_t pi = pkt_new(n, n->nodes[from].part);
    if (pi == FB_POOL_NONE)
        return FB_ENOSPC;
    fb_pkt *p = fb_net_pkt(n, pi);
    p->src = from;
    p->dst = to;
    p->kind = (uint8_t)kind;
    p->flow = flow;
    p->flow_gen = flow_gen;
    p->seq = seq;
    p->tsecr = tsecr;
    p->sack = sack;
    p->len = kind == FB_PKT_TCP_DATA ? len : 0;
    p->wire = (uint32_t)p->len + FB_NET_TCP_OVERHEAD;
    pt->c.tcp_pkts++;
    pt->c.tcp_wire_bytes += p->wire;
    return pkt_launch(n, pi);
}

/* The receiver's NAT: may datagram p enter? */
static int nat_admits(const fb_net_node *d, const fb_pkt *p)
{
    uint64_t skey = addr_key(p->src_ip, p->src_port);
    switch (d->nat) {
    case FB_NAT_NONE:
        return p->dst_port == FB_NET_PORT;
    case FB_NAT_CONE:
        return p->dst_port == FB_NET_PORT && natmap_find(&d->map, skey, NULL);
    case FB_NAT_SYMMETRIC: {
        uint32_t port;
        return natmap_find(&d->map, skey, &port) && port == p->dst_port;
    }
    }
    return 0;
}

/* Packet pi reaches its receiver's downlink now (in the receiver's part k): loss, then the
 * drop-tail queue. */
static void arrive(fb_net *n, unsigned k, uint32_t pi)
{
    fb_net_part *pt = &n->part[k];
    fb_pkt *p = fb_net_pkt(n, pi);
    fb_net_node *d = &n->nodes[p->dst];
    uint64_t left;
    if (p->kind == FB_PKT_UDP)
        d->udp_to_bytes += p->len;
    if (!d->alive) {
        pt->c.dropped_dead++;
        goto drop;
    }
    if (n->cfg.loss > 0 && fb_rng_unit(&d->loss) < n->cfg.loss) {
        pt->c.lost++;
        goto drop;
    }
    if (p->kind == FB_PKT_UDP) {
        d->udp_rx_bytes += p->len;
        d->udp_rx_pkts++;
    }
    if (!link_enqueue(&d->down, pt->q->now, p->wire, &left))
        goto drop;
    /* A FIFO: departures from one downlink are in arrival order. */
    p->at = left;
    p->next = FB_POOL_NONE;
    if (d->down_tail == FB_POOL_NONE) {
        if (fb_evq_push(pt->q, left, FB_NET_EVK_DELIVER, p->dst, 0)) {
            pt->c.dropped_pool++;
            goto drop;
        }
        d->down_head = d->down_tail = pi;
    } else {
        fb_pkt *tail = fb_net_pkt(n, d->down_tail);
        tail->next = pi;
        tail->next_at = left;
        d->down_tail = pi;
    }
    return;
drop:
    pkt_free(n, k, pi);
}

/* The next packet of run r of part k reaches its receiver: queues the one after it. */
static void run_step(fb_net *n, unsigned k, uint32_t r)
{
    fb_net_part *pt = &n->part[k];
    fb_net_run *run = &pt->runs[r];
    uint32_t pi = run->p[run->cur++].pkt;
    if (run->cur < run->len) {
        if (fb_evq_push_seq(pt->q, run->p[run->cur].at, run->seq0 + run->cur, FB_NET_EVK_RUN, r,
                            0)) {
            /* The event queue is full: the rest of the run is lost. */
            while (run->cur < run->len) {
                pt->c.dropped_pool++;
                pkt_free(n, k, run->p[run->cur++].pkt);
            }
        }
    }
    arrive(n, k, pi);
}

static int sent_cmp(const void *a, const void *b)
{
    const fb_net_sent *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    return x->sseq < y->sseq ? -1 : x->sseq > y->sseq;
}

void fb_net_exchange(fb_net *n, unsigned k)
{
    fb_net_part *pt = &n->part[k];
    uint32_t total = 0;
    for (uint32_t j = 0; j < n->cfg.parts; j++) {
        fb_net_box *b = &n->part[j].box[k];
        /* Part k's packets that part j is done with. */
        for (uint32_t i = 0; i < b->n_freed; i++) {
            uint32_t pi = b->freed[i];
            fb_pkt *p = fb_pool_ptr(&pt->pkts, fb_net_local(pi));
            if (p->buf != FB_POOL_NONE)
                fb_pool_put(&pt->bufs[p->buf_class], p->buf);
            fb_pool_put(&pt->pkts, fb_net_local(pi));
        }
        b->n_freed = 0;
        total += b->n_sent;
    }
    if (!total)
        return;
    /* A run slot: a finished one, or a new one. */
    uint32_t r = 0;
    while (r < pt->n_runs && pt->runs[r].cur < pt->runs[r].len)
        r++;
    if (r == pt->n_runs) {
        if (grow((void **)&pt->runs, &pt->cap_runs, pt->n_runs, sizeof(fb_net_run)))
            goto lost;
        memset(&pt->runs[pt->n_runs], 0, (pt->cap_runs - pt->n_runs) * sizeof(fb_net_run));
        pt->n_runs++;
    }
    fb_net_run *run = &pt->runs[r];
    if (run->cap < total) {
        fb_net_sent *np = realloc(run->p, (size_t)total * sizeof(*np));
        if (!np)
            goto lost;
        run->p = np;
        run->cap = total;
    }
    run->len = 0;
    run->cur = 0;
    for (uint32_t j = 0; j < n->cfg.parts; j++) {
        fb_net_box *b = &n->part[j].box[k];
        if (!b->n_sent)
            continue;
        memcpy(run->p + run->len, b->sent, (size_t)b->n_sent * sizeof(fb_net_sent));
        run->len += b->n_sent;
        b->n_sent = 0;
    }
    qsort(run->p, run->len, sizeof(fb_net_sent), sent_cmp);
    run->seq0 = fb_evq_reserve(pt->q, run->len);
    if (fb_evq_push_seq(pt->q, run->p[0].at, run->seq0, FB_NET_EVK_RUN, r, 0)) {
        for (uint32_t i = 0; i < run->len; i++) {
            pt->c.dropped_pool++;
            pkt_free(n, k, run->p[i].pkt);
        }
        run->cur = run->len;
    }
    return;
lost:
    /* Out of memory: what was sent to part k this window is lost. */
    for (uint32_t j = 0; j < n->cfg.parts; j++) {
        fb_net_box *b = &n->part[j].box[k];
        for (uint32_t i = 0; i < b->n_sent; i++) {
            pt->c.dropped_pool++;
            pkt_free(n, k, b->sent[i].pkt);
        }
        b->n_sent = 0;
    }
}

/* Pops the head of a downlink FIFO (whose time has come) and queues an event for the next one. */
static uint32_t fifo_pop(fb_net *n, fb_net_part *pt, unsigned k, fb_net_node *d, uint32_t node)
{
    uint32_t pi = d->down_head;
    fb_pkt *p = fb_net_pkt(n, pi);
    d->down_head = p->next;
    if (d->down_head == FB_POOL_NONE) {
        d->down_tail = FB_POOL_NONE;
    } else if (fb_evq_push(pt->q, p->next_at, FB_NET_EVK_DELIVER, node, 0)) {
        /* The event queue is full: the rest of this FIFO is lost. */
        while (d->down_head != FB_POOL_NONE) {
            uint32_t x = d->down_head;
            d->down_head = fb_net_pkt(n, x)->next;
            pt->c.dropped_pool++;
            pkt_free(n, k, x);
        }
        d->down_tail = FB_POOL_NONE;
    }
    return pi;
}

void fb_net_event(fb_net *n, unsigned k, const fb_ev *ev)
{
    fb_net_part *pt = &n->part[k];
    switch (fb_ev_kind(ev)) {
    case FB_NET_EVK_RUN:
        run_step(n, k, ev->a);
        return;
    case FB_NET_EVK_DELIVER: {
        fb_net_node *d = &n->nodes[ev->a];
        uint32_t pi = fifo_pop(n, pt, k, d, ev->a);
        fb_pkt *p = fb_net_pkt(n, pi);
        if (!d->alive)
            pt->c.dropped_dead++;
        else if (p->kind == FB_PKT_UDP && !nat_admits(d, p))
            d->nat_filtered++;
        else
            n->deliver(n->ctx, p);
        pkt_free(n, k, pi);
        return;
    }
    }
}

void fb_net_drain(fb_net *n, uint64_t until, void (*other)(void *ctx, const fb_ev *ev),
                  void (*exchanged)(void *ctx), void *ctx)
{
    fb_evq *q = n->part[0].q;
    uint64_t la = fb_net_lookahead(n);
    fb_net_exchange(n, 0); /* what was sent before (outside a window) */
    if (exchanged)
        exchanged(ctx);
    for (;;) {
        uint64_t t0 = fb_evq_peek_time(q);
        if (t0 == UINT64_MAX || t0 > until)
            return;
        uint64_t end = t0 + la;
        if (end > until + 1)
            end = until + 1;
        fb_ev e;
        while (fb_evq_peek_time(q) < end && fb_evq_pop(q, &e) == 0) {
            if (fb_ev_kind(&e) < FB_NET_EVK_END)
                fb_net_event(n, 0, &e);
            else if (other)
                other(ctx, &e);
        }
        fb_net_exchange(n, 0);
        if (exchanged)
            exchanged(ctx);
    }
}

void fb_net_prefetch(const fb_net *n, unsigned k, const fb_ev *ev, int stage)
{
    uint32_t pi;
    unsigned kind = fb_ev_kind(ev);
    const fb_net_part *pt = &n->part[k];
    if (kind == FB_NET_EVK_RUN) {
        if (ev->a >= pt->n_runs)
            return;
        const fb_net_run *run = &pt->runs[ev->a];
        if (stage == 0) {
            __builtin_prefetch(run);
            return;
        }
        if (run->cur >= run->len)
            return;
        pi = run->p[run->cur].pkt;
    } else if (kind == FB_NET_EVK_DELIVER) {
        if (ev->a >= n->n_nodes)
            return;
        const fb_net_node *nd = &n->nodes[ev->a];
        if (stage == 0) {
            __builtin_prefetch(&nd->down_head);
            return;
        }
        pi = nd->down_head;
    } else {
        return;
    }
    /* pi is a packet in flight: its slab exists (it was made before the packet). */
    if (pi == FB_POOL_NONE)
        return;
    const fb_pkt *p = fb_net_pkt(n, pi);
    if (stage == 1) {
        __builtin_prefetch(p);
        return;
    }
    if (kind == FB_NET_EVK_DELIVER) {
        if (p->data) {
            __builtin_prefetch(p->data);
            __builtin_prefetch(p->data + 64);
        }
    } else if (p->dst < n->n_nodes) {
        __builtin_prefetch(&n->nodes[p->dst].down);
        __builtin_prefetch(&n->nodes[p->dst].down_head);
    }
}
