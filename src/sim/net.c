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
    n->q = q;
    n->cfg = *cfg;
    if (!n->cfg.max_nodes)
        n->cfg.max_nodes = 8192;
    if (!n->cfg.max_packets)
        n->cfg.max_packets = 4u << 20;
    if (!n->cfg.max_nat)
        n->cfg.max_nat = 65536;
    n->deliver = deliver;
    n->ctx = ctx;
    fb_rng_seed(&n->rng, cfg->seed, 0x6e6574); /* "net" */
    n->nodes = calloc(n->cfg.max_nodes, sizeof(*n->nodes));
    if (!n->nodes)
        return FB_ENOMEM;
    fb_pool_init(&n->pkts, sizeof(fb_pkt), n->cfg.max_packets);
    fb_pool_init(&n->bufs[0], FB_NET_SMALL, n->cfg.max_packets);
    fb_pool_init(&n->bufs[1], FB_NET_MEDIUM, n->cfg.max_packets);
    fb_pool_init(&n->bufs[2], FB_NET_MAX_PAYLOAD, n->cfg.max_packets);
    return 0;
}

void fb_net_fini(fb_net *n)
{
    for (uint32_t i = 0; i < n->n_nodes; i++) {
        free(n->nodes[i].map.keys);
        free(n->nodes[i].map.vals);
    }
    free(n->nodes);
    fb_pool_fini(&n->pkts);
    for (int i = 0; i < 3; i++)
        fb_pool_fini(&n->bufs[i]);
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
    nd->core_head = nd->core_tail = nd->down_head = nd->down_tail = FB_POOL_NONE;
    return (int)n->n_nodes++;
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

static void pkt_free(fb_net *n, uint32_t pi)
{
    fb_pkt *p = fb_pool_ptr(&n->pkts, pi);
    if (p->buf != FB_POOL_NONE)
        fb_pool_put(&n->bufs[p->buf_class], p->buf);
    fb_pool_put(&n->pkts, pi);
}

/* Puts packet pi on its sender's uplink and schedules its arrival at the receiver's downlink;
 * frees it when the uplink queue is full. */
static int pkt_launch(fb_net *n, uint32_t pi)
{
    fb_pkt *p = fb_pool_ptr(&n->pkts, pi);
    fb_net_node *s = &n->nodes[p->src], *d = &n->nodes[p->dst];
    uint64_t now = n->q->now;
    uint64_t left;
    if (!link_enqueue(&s->up, now, p->wire, &left)) {
        pkt_free(n, pi);
        return FB_EAGAIN;
    }
    p->sent_ns = now;
    p->at = left + s->half_lat + d->half_lat;
    p->next = FB_POOL_NONE;
    int rc = 0;
    if (s->core_tail == FB_POOL_NONE) {
        rc = fb_evq_push(n->q, p->at, FB_NET_EVK_CORE, p->src, 0);
        if (rc == 0)
            s->core_head = s->core_tail = pi;
    } else if (((fb_pkt *)fb_pool_ptr(&n->pkts, s->core_tail))->at <= p->at) {
        fb_pkt *tail = fb_pool_ptr(&n->pkts, s->core_tail);
        tail->next = pi;
        tail->next_at = p->at;
        s->core_tail = pi;
    } else {
        /* Arrives before the sender's last packet (a receiver closer than that one's): it gets
         * an event of its own. */
        rc = fb_evq_push(n->q, p->at, FB_NET_EVK_ARRIVE, pi, 0);
    }
    if (rc) {
        n->dropped_pool++;
        pkt_free(n, pi);
    }
    return rc;
}

static uint32_t pkt_new(fb_net *n)
{
    uint32_t pi = fb_pool_get(&n->pkts);
    if (pi == FB_POOL_NONE) {
        n->dropped_pool++;
        return pi;
    }
    fb_pkt *p = fb_pool_ptr(&n->pkts, pi);
    memset(p, 0, sizeof(*p));
    p->buf = FB_POOL_NONE;
    return pi;
}

int fb_net_send_udp(fb_net *n, uint32_t from, const fb_addr *forged, const fb_addr *to,
                    const uint8_t *data, size_t len)
{
    if (from >= n->n_nodes || len > FB_NET_MAX_PAYLOAD)
        return FB_EINVAL;
    fb_net_node *s = &n->nodes[from];
    if (!s->alive) {
        n->dropped_dead++;
        return FB_ENOENT;
    }
    int dst = fb_net_node_of(n, to);
    if (dst < 0) {
        n->dropped_noroute++;
        return FB_ENOENT;
    }
    uint64_t dkey = addr_key(addr_ip(to), to->port);
    uint16_t sport = FB_NET_PORT;
    if (forged) {
        /* A spoofer writes any source it likes; its own NAT is not consulted. */
    } else if (s->nat == FB_NAT_CONE) {
        if (!natmap_find(&s->map, dkey, NULL) && natmap_put(&s->map, dkey, 1, n->cfg.max_nat)) {
            n->dropped_nat_full++;
            return FB_ENOSPC;
        }
    } else if (s->nat == FB_NAT_SYMMETRIC) {
        uint32_t port;
        if (!natmap_find(&s->map, dkey, &port)) {
            /* A fresh external port for every new destination (ports wrap to 0: full). */
            if (s->next_port == 0 || natmap_put(&s->map, dkey, s->next_port, n->cfg.max_nat)) {
                n->dropped_nat_full++;
                return FB_ENOSPC;
            }
            port = s->next_port++;
        }
        sport = (uint16_t)port;
    }
    uint32_t pi = pkt_new(n);
    if (pi == FB_POOL_NONE)
        return FB_ENOSPC;
    fb_pkt *p = fb_pool_ptr(&n->pkts, pi);
    if (len) {
        int cls = len <= FB_NET_SMALL ? 0 : len <= FB_NET_MEDIUM ? 1 : 2;
        fb_pool *pool = &n->bufs[cls];
        p->buf = fb_pool_get(pool);
        if (p->buf == FB_POOL_NONE) {
            n->dropped_pool++;
            fb_pool_put(&n->pkts, pi);
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
    n->nodes[dst].udp_to_bytes += len;
    n->udp_pkts++;
    n->udp_wire_bytes += p->wire;
    return pkt_launch(n, pi);
}

int fb_net_send_tcp(fb_net *n, uint32_t from, uint32_t to, fb_pkt_kind kind, uint32_t flow,
                    uint32_t flow_gen, uint64_t seq, uint64_t tsecr, uint64_t sack, uint16_t len)
{
    if (from >= n->n_nodes || to >= n->n_nodes)
        return FB_EINVAL;
    if (!n->nodes[from].alive) {
        n->dropped_dead++;
        return FB_ENOENT;
    }
    uint32_t pi = pkt_new(n);
    if (pi == FB_POOL_NONE)
        return FB_ENOSPC;
    fb_pkt *p = fb_pool_ptr(&n->pkts, pi);
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
    n->tcp_pkts++;
    n->tcp_wire_bytes += p->wire;
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

/* Packet pi reaches its receiver's downlink now: loss, then the drop-tail queue. */
static void arrive(fb_net *n, uint32_t pi)
{
    fb_pkt *p = fb_pool_ptr(&n->pkts, pi);
    fb_net_node *d = &n->nodes[p->dst];
    uint64_t left;
    if (!d->alive) {
        n->dropped_dead++;
        goto drop;
    }
    if (n->cfg.loss > 0 && fb_rng_unit(&n->rng) < n->cfg.loss) {
        n->lost++;
        goto drop;
    }
    if (p->kind == FB_PKT_UDP) {
        d->udp_rx_bytes += p->len;
        d->udp_rx_pkts++;
    }
    if (!link_enqueue(&d->down, n->q->now, p->wire, &left))
        goto drop;
    /* A FIFO: departures from one downlink are in arrival order. */
    p->at = left;
    p->next = FB_POOL_NONE;
    if (d->down_tail == FB_POOL_NONE) {
        if (fb_evq_push(n->q, left, FB_NET_EVK_DELIVER, p->dst, 0)) {
            n->dropped_pool++;
            goto drop;
        }
        d->down_head = d->down_tail = pi;
    } else {
        fb_pkt *tail = fb_pool_ptr(&n->pkts, d->down_tail);
        tail->next = pi;
        tail->next_at = left;
        d->down_tail = pi;
    }
    return;
drop:
    pkt_free(n, pi);
}

/* Pops the head of a FIFO (whose time has come) and queues an event for the next one. */
static uint32_t fifo_pop(fb_net *n, uint32_t *head, uint32_t *tail, unsigned kind, uint32_t node)
{
    uint32_t pi = *head;
    fb_pkt *p = fb_pool_ptr(&n->pkts, pi);
    *head = p->next;
    if (*head == FB_POOL_NONE) {
        *tail = FB_POOL_NONE;
    } else {
        if (fb_evq_push(n->q, p->next_at, kind, node, 0)) {
            /* The event queue is full: the rest of this FIFO is lost. */
            while (*head != FB_POOL_NONE) {
                uint32_t k = *head;
                *head = ((fb_pkt *)fb_pool_ptr(&n->pkts, k))->next;
                n->dropped_pool++;
                pkt_free(n, k);
            }
            *tail = FB_POOL_NONE;
        }
    }
    return pi;
}

void fb_net_event(fb_net *n, const fb_ev *ev)
{
    switch (fb_ev_kind(ev)) {
    case FB_NET_EVK_ARRIVE:
        arrive(n, ev->a);
        return;
    case FB_NET_EVK_CORE: {
        fb_net_node *s = &n->nodes[ev->a];
        arrive(n, fifo_pop(n, &s->core_head, &s->core_tail, FB_NET_EVK_CORE, ev->a));
        return;
    }
    case FB_NET_EVK_DELIVER: {
        fb_net_node *d = &n->nodes[ev->a];
        uint32_t pi = fifo_pop(n, &d->down_head, &d->down_tail, FB_NET_EVK_DELIVER, ev->a);
        fb_pkt *p = fb_pool_ptr(&n->pkts, pi);
        if (!d->alive)
            n->dropped_dead++;
        else if (p->kind == FB_PKT_UDP && !nat_admits(d, p))
            d->nat_filtered++;
        else
            n->deliver(n->ctx, p);
        pkt_free(n, pi);
        return;
    }
    }
}

void fb_net_prefetch(const fb_net *n, const fb_ev *ev, int stage)
{
    uint32_t pi;
    unsigned kind = fb_ev_kind(ev);
    if (kind == FB_NET_EVK_ARRIVE) {
        pi = ev->a;
    } else if (kind == FB_NET_EVK_CORE || kind == FB_NET_EVK_DELIVER) {
        if (ev->a >= n->n_nodes)
            return;
        const fb_net_node *nd = &n->nodes[ev->a];
        if (stage == 0) {
            __builtin_prefetch(&nd->core_head);
            return;
        }
        pi = kind == FB_NET_EVK_CORE ? nd->core_head : nd->down_head;
    } else {
        return;
    }
    if (stage == 0 || pi == FB_POOL_NONE || (pi >> FB_POOL_SLAB_SHIFT) >= n->pkts.n_slabs)
        return;
    const fb_pkt *p = fb_pool_ptr(&n->pkts, pi);
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
