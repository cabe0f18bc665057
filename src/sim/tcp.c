/* Reno with SACK recovery over the simulated network (RFC 5681 and 6675 in spirit; RTO after
 * RFC 6298 with a RTO of at least SRTT + 200 ms as in Linux). Segments are numbered, not
 * byte-addressed; every data segment is answered with a cumulative ACK that echoes the segment's
 * send time (an RTT sample per ACK without Karn's ambiguity) and names the segment itself (a
 * one-block SACK). */
#include "sim/tcp.h"

#include <stdlib.h>
#include <string.h>

#include "core/fbstd.h"

#define MS       1000000ull
#define RTO_MIN  (200 * MS)
#define RTO_MAX  (60000 * MS)
#define RTO_INIT (1000 * MS)

/* The longest a packet can take through the network: both queues full and both latencies. */
static uint64_t max_age(const fb_net *n)
{
    uint64_t up = 0, down = 0, lat = 0;
    for (uint32_t i = 0; i < n->n_nodes; i++) {
        const fb_net_node *nd = &n->nodes[i];
        uint64_t u = nd->up.rate ? nd->up.cap * 1000000000ull / nd->up.rate : 0;
        uint64_t d = nd->down.rate ? nd->down.cap * 1000000000ull / nd->down.rate : 0;
        up = u > up ? u : up;
        down = d > down ? d : down;
        lat = nd->half_lat > lat ? nd->half_lat : lat;
    }
    return up + down + 2 * lat + MS;
}

int fb_tcp_init(fb_tcp *t, fb_net *net, unsigned evk_rto, uint32_t max_flows, fb_tcp_done_fn done,
                void *ctx)
{
    memset(t, 0, sizeof(*t));
    t->net = net;
    t->evk_rto = evk_rto;
    t->done = done;
    t->ctx = ctx;
    t->max_age = max_age(net);
    if (max_flows >= 1u << FB_NET_PART_SHIFT)
        max_flows = (1u << FB_NET_PART_SHIFT) - 1;
    for (uint32_t k = 0; k < net->cfg.parts; k++)
        if (fb_pool_init(&t->part[k].flows, sizeof(fb_tcp_flow), max_flows))
            return FB_ENOMEM;
    return 0;
}

void fb_tcp_fini(fb_tcp *t)
{
    for (uint32_t k = 0; k < FB_NET_MAX_PARTS; k++) {
        fb_tcp_part *tp = &t->part[k];
        fb_pool_fini(&tp->flows);
        for (uint32_t j = 0; j < FB_NET_MAX_PARTS; j++)
            free(tp->closed[j]);
        free(tp->cooling.flow);
        free(tp->cooling.until);
    }
    memset(t, 0, sizeof(*t));
}

/* The clock of node i's part. */
static uint64_t now_of(const fb_tcp *t, uint32_t node)
{
    return fb_net_now(t->net, node);
}

static fb_evq *q_of(const fb_tcp *t, uint32_t node)
{
    return t->net->part[t->net->nodes[node].part].q;
}

static uint32_t seg_len(const fb_tcp_flow *f, uint64_t seg)
{
    if (f->bytes && seg == f->segs - 1)
        return (uint32_t)(f->bytes - seg * FB_TCP_MSS);
    return FB_TCP_MSS;
}

/* Ring bitmaps over segment numbers. */
static int bit_get(const uint64_t *m, uint64_t s)
{
    uint32_t i = (uint32_t)(s % FB_TCP_RWND);
    return (int)(m[i / 64] >> (i % 64) & 1);
}

static void bit_put(uint64_t *m, uint64_t s, int on)
{
    uint32_t i = (uint32_t)(s % FB_TCP_RWND);
    if (on)
        m[i / 64] |= 1ull << (i % 64);
    else
        m[i / 64] &= ~(1ull << (i % 64));
}

static void transmit(fb_tcp *t, uint32_t id, fb_tcp_flow *f, uint64_t seg)
{
    fb_net_send_tcp(t->net, f->src, f->dst, FB_PKT_TCP_DATA, id, f->gen, seg, 0, 0,
                    (uint16_t)seg_len(f, seg));
}

static void arm(fb_tcp *t, uint32_t id, fb_tcp_flow *f)
{
    f->rto_at = now_of(t, f->src) + f->rto;
    if (!f->timer_queued && fb_evq_push(q_of(t, f->src), f->rto_at, t->evk_rto, id, f->gen) == 0)
        f->timer_queued = true;
}

/* RFC 6675's IsLost, simplified: a hole with three or more segments above it up to the highest
 * SACKed one is taken as lost. */
static int is_lost(const fb_tcp_flow *f, uint64_t s)
{
    return !bit_get(f->sacked, s) && s + 3 < f->high_sacked;
}

/* Segments believed in flight: not SACKed and not lost, plus retransmissions. */
static uint64_t pipe_of(const fb_tcp_flow *f)
{
    if (!f->in_recovery)
        return f->snd_nxt - f->snd_una - f->sacked_n;
    uint64_t pipe = 0;
    for (uint64_t s = f->snd_una; s < f->snd_nxt; s++) {
        if (!bit_get(f->sacked, s) && !is_lost(f, s))
            pipe++;
        if (bit_get(f->rtxed, s))
            pipe++;
    }
    return pipe;
}

static void send_more(fb_tcp *t, uint32_t id, fb_tcp_flow *f)
{
    double w = f->cwnd < FB_TCP_RWND ? f->cwnd : FB_TCP_RWND;
    uint64_t win = w < 1 ? 1 : (uint64_t)w;
    uint64_t pipe = pipe_of(f);
    uint64_t hole = f->snd_una;
    while (pipe < win) {
        if (f->in_recovery) {
            /* The first lost segment not yet retransmitted, if any. */
            while (hole < f->snd_nxt && !(is_lost(f, hole) && !bit_get(f->rtxed, hole)))
                hole++;
            if (hole < f->snd_nxt) {
                transmit(t, id, f, hole);
                bit_put(f->rtxed, hole, 1);
                f->retransmits++;
                pipe++;
                continue;
            }
        }
        if (f->snd_nxt >= f->segs || f->snd_nxt - f->snd_una >= FB_TCP_RWND)
            break;
        transmit(t, id, f, f->snd_nxt++);
        if (f->snd_nxt > f->snd_max)
            f->snd_max = f->snd_nxt;
        pipe++;
    }
    if (f->snd_una < f->segs && f->snd_nxt > f->snd_una && !f->rto_at)
        arm(t, id, f);
}

uint32_t fb_tcp_open(fb_tcp *t, uint32_t src, uint32_t dst, uint64_t bytes, uint64_t tag)
{
    if (src >= t->net->n_nodes || dst >= t->net->n_nodes)
        return FB_POOL_NONE;
    unsigned k = t->net->nodes[src].part;
    uint32_t li = fb_pool_get(&t->part[k].flows);
    if (li == FB_POOL_NONE)
        return li;
    uint32_t id = li | (uint32_t)k << FB_NET_PART_SHIFT;
    fb_tcp_flow *f = fb_tcp_get(t, id);
    uint32_t gen = f->gen; /* survives recycling: the pool reuses only the first 4 bytes */
    memset(f, 0, sizeof(*f));
    f->gen = gen + 1;
    f->open = true;
    f->src = src;
    f->dst = dst;
    f->bytes = bytes;
    f->segs = bytes ? (bytes + FB_TCP_MSS - 1) / FB_TCP_MSS : UINT64_MAX;
    f->tag = tag;
    f->cwnd = FB_TCP_IW;
    f->ssthresh = 1e12;
    f->rto = RTO_INIT;
    f->start_ns = now_of(t, src);
    send_more(t, id, f);
    return id;
}

void fb_tcp_close(fb_tcp *t, unsigned k, uint32_t id)
{
    fb_tcp_part *tp = &t->part[k];
    unsigned o = fb_net_owner(id);
    if (o >= t->net->cfg.parts)
        return;
    uint32_t n = tp->n_closed[o];
    for (uint32_t i = 0; i < n; i++)
        if (tp->closed[o][i] == id)
            return;
    if (n == tp->cap_closed[o]) {
        uint32_t ncap = n ? n * 2 : 64;
        uint32_t *nv = realloc(tp->closed[o], ncap * sizeof(*nv));
        if (!nv)
            return; /* out of memory: the flow stays open (it costs events, not correctness) */
        tp->closed[o] = nv;
        tp->cap_closed[o] = ncap;
    }
    tp->closed[o][tp->n_closed[o]++] = id;
}

void fb_tcp_exchange(fb_tcp *t, unsigned k)
{
    fb_tcp_part *tp = &t->part[k];
    fb_tcp_cooling *c = &tp->cooling;
    uint64_t now = t->net->part[k].q->now;
    /* Slots whose flow closed long enough ago that none of its packets is left. */
    while (c->len && c->until[c->head] <= now) {
        fb_pool_put(&tp->flows, fb_net_local(c->flow[c->head]));
        c->head = (c->head + 1) % c->cap;
        c->len--;
    }
    for (uint32_t j = 0; j < t->net->cfg.parts; j++) {
        fb_tcp_part *from = &t->part[j];
        for (uint32_t i = 0; i < from->n_closed[k]; i++) {
            uint32_t id = from->closed[k][i];
            fb_tcp_flow *f = fb_tcp_get(t, id);
            if (!f->open)
                continue; /* closed from both ends in one window */
            f->open = false;
            f->gen++;
            if (c->len == c->cap) {
                uint32_t ncap = c->cap ? c->cap * 2 : 64;
                uint32_t *nf = malloc(ncap * sizeof(*nf));
                uint64_t *nu = malloc(ncap * sizeof(*nu));
                if (!nf || !nu) {
                    free(nf);
                    free(nu);
                    continue; /* out of memory: the slot is not reused */
                }
                for (uint32_t x = 0; x < c->len; x++) {
                    nf[x] = c->flow[(c->head + x) % c->cap];
                    nu[x] = c->until[(c->head + x) % c->cap];
                }
                free(c->flow);
                free(c->until);
                c->flow = nf;
                c->until = nu;
                c->head = 0;
                c->cap = ncap;
            }
            uint32_t tail = (c->head + c->len) % c->cap;
            c->flow[tail] = id;
            c->until[tail] = now + t->max_age;
            c->len++;
        }
        from->n_closed[k] = 0;
    }
}

uint64_t fb_tcp_delivered(const fb_tcp_flow *f)
{
    uint64_t b = f->rcv_nxt * FB_TCP_MSS;
    return f->bytes && b > f->bytes ? f->bytes : b;
}

static void on_data(fb_tcp *t, uint32_t id, fb_tcp_flow *f, const fb_pkt *p)
{
    uint64_t s = p->seq;
    if (s == f->rcv_nxt) {
        f->rcv_nxt++;
        while (bit_get(f->ooo, f->rcv_nxt)) {
            bit_put(f->ooo, f->rcv_nxt, 0);
            f->rcv_nxt++;
        }
    } else if (s > f->rcv_nxt && s < f->rcv_nxt + FB_TCP_RWND) {
        bit_put(f->ooo, s, 1);
    }
    fb_net_send_tcp(t->net, f->dst, f->src, FB_PKT_TCP_ACK, id, f->gen, f->rcv_nxt, p->sent_ns, s,
                    0);
    if (f->bytes && f->rcv_nxt >= f->segs && !f->done_ns) {
        f->done_ns = now_of(t, f->dst);
        if (t->done)
            t->done(t->ctx, id); /* may close the flow */
    }
}

static void rtt_sample(fb_tcp *t, fb_tcp_flow *f, uint64_t tsecr)
{
    uint64_t now = now_of(t, f->src);
    if (tsecr > now)
        return;
    uint64_t r = now - tsecr;
    if (!f->srtt) {
        f->srtt = r;
        f->rttvar = r / 2;
    } else {
        uint64_t d = r > f->srtt ? r - f->srtt : f->srtt - r;
        f->rttvar = (3 * f->rttvar + d) / 4;
        f->srtt = (7 * f->srtt + r) / 8;
    }
    /* As Linux does: the variance term is at least the 200 ms floor. */
    f->rto = f->srtt + (4 * f->rttvar > RTO_MIN ? 4 * f->rttvar : RTO_MIN);
    if (f->rto > RTO_MAX)
        f->rto = RTO_MAX;
}

static void on_ack(fb_tcp *t, uint32_t id, fb_tcp_flow *f, const fb_pkt *p)
{
    uint64_t a = p->seq;
    if (a > f->snd_max)
        return; /* acknowledges what was never sent: ignore */
    /* The SACK block: the segment that caused this ACK, when it is above the cumulative ACK. */
    if (p->sack >= a && p->sack < f->snd_max && p->sack >= f->snd_una &&
        !bit_get(f->sacked, p->sack)) {
        bit_put(f->sacked, p->sack, 1);
        f->sacked_n++;
        if (p->sack + 1 > f->high_sacked)
            f->high_sacked = p->sack + 1;
    }
    if (a > f->snd_una) {
        uint64_t newly = a - f->snd_una;
        rtt_sample(t, f, p->tsecr);
        for (uint64_t s = f->snd_una; s < a; s++) {
            if (bit_get(f->sacked, s)) {
                bit_put(f->sacked, s, 0);
                f->sacked_n--;
            }
            bit_put(f->rtxed, s, 0);
        }
        f->snd_una = a;
        if (f->snd_nxt < a)
            f->snd_nxt = a; /* after a timeout: the receiver held more than we resent */
        if (f->high_sacked < a)
            f->high_sacked = a;
        if (f->in_recovery) {
            if (a > f->recover) {
                f->in_recovery = false;
                f->cwnd = f->ssthresh;
            }
        } else if (f->cwnd < f->ssthresh) {
            f->cwnd += (double)newly;
        } else {
            f->cwnd += (double)newly / f->cwnd;
        }
        if (f->cwnd > FB_TCP_RWND)
            f->cwnd = FB_TCP_RWND;
        f->dupacks = 0;
        f->rto_at = 0;
        if (f->snd_una < f->segs)
            arm(t, id, f);
    } else if (a == f->snd_una && f->snd_nxt > f->snd_una) {
        f->dupacks++;
    }
    if (!f->in_recovery && f->snd_nxt > f->snd_una && (f->dupacks >= 3 || is_lost(f, f->snd_una))) {
        /* Loss: halve the window once per window of data, and repair the holes. */
        double flight = (double)(f->snd_nxt - f->snd_una);
        f->ssthresh = flight / 2 > 2 ? flight / 2 : 2;
        f->cwnd = f->ssthresh;
        f->in_recovery = true;
        f->recover = f->snd_nxt - 1;
        if (f->high_sacked < f->snd_una + 4)
            f->high_sacked = f->snd_una + 4 < f->snd_nxt ? f->snd_una + 4 : f->snd_nxt;
    }
    send_more(t, id, f);
}

void fb_tcp_packet(fb_tcp *t, const fb_pkt *p)
{
    /* p->flow was a flow when p was sent (the network makes no packet of its own), and its slot
     * is not reused while p is in the network. */
    if (fb_net_owner(p->flow) >= t->net->cfg.parts)
        return;
    fb_tcp_flow *f = fb_tcp_get(t, p->flow);
    if (!f->open || f->gen != p->flow_gen)
        return;
    if (p->kind == FB_PKT_TCP_DATA)
        on_data(t, p->flow, f, p);
    else
        on_ack(t, p->flow, f, p);
}

void fb_tcp_timer(fb_tcp *t, const fb_ev *ev)
{
    uint32_t id = ev->a;
    fb_tcp_flow *f = fb_tcp_get(t, id);
    /* The queue keeps b modulo 2^17: a stale timer would need 2^17 reuses of the slot within
     * one rto to pass for the current one. */
    if (!f->open || (f->gen & FB_EVQ_B_MASK) != ev->b)
        return;
    f->timer_queued = false;
    if (!f->rto_at || f->snd_una >= f->segs)
        return;
    if (now_of(t, f->src) < f->rto_at) {
        if (fb_evq_push(q_of(t, f->src), f->rto_at, t->evk_rto, id, f->gen) == 0)
            f->timer_queued = true;
        return;
    }
    /* Timeout: collapse the window, forget the scoreboard and go back to the first
     * unacknowledged segment. */
    double flight = (double)(f->snd_nxt - f->snd_una);
    f->ssthresh = flight / 2 > 2 ? flight / 2 : 2;
    f->cwnd = 1;
    f->snd_nxt = f->snd_una;
    f->in_recovery = false;
    f->dupacks = 0;
    memset(f->sacked, 0, sizeof(f->sacked));
    memset(f->rtxed, 0, sizeof(f->rtxed));
    f->sacked_n = 0;
    f->high_sacked = f->snd_una;
    f->timeouts++;
    f->rto = f->rto * 2 > RTO_MAX ? RTO_MAX : f->rto * 2;
    f->rto_at = 0;
    transmit(t, id, f, f->snd_nxt++);
    if (f->snd_nxt > f->snd_max)
        f->snd_max = f->snd_nxt;
    arm(t, id, f);
}
