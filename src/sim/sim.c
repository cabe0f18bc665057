/* The flash-crowd runner: builds the page, the network and one host per node, feeds the engines
 * their datagrams and timers from the event queues, serves their callbacks (datagrams into the
 * network, SHA-256 with OpenSSL, seeded random bytes, chunk storage against the one canonical
 * copy of the page, origin fetches as TCP transfers from the origin node), and measures. The
 * nodes are split into parts (sim/net.h), one thread each, that run in windows of the network's
 * lookahead: a host touches only its own node and its part's counters, so the split changes
 * nothing in the result. */
#include "sim/sim.h"

#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fbstd.h"
#include "core/wire.h"
#include "engine/engine.h"
#include "sim/bound.h"
#include "sim/evq.h"
#include "sim/net.h"
#include "sim/page.h"
#include "sim/rng.h"
#include "sim/tcp.h"
#include "sim/thp.h"
#include "sim/turnover.h"

#define US  1000ull
#define MS  1000000ull
#define SEC 1000000000ull

#define HTTP_REQUEST_BYTES   300 /* a GET with its headers */
#define HTTP_RESPONSE_HEADER 250 /* a 206 response's headers */

/* Event kinds of the runner (after the network's). */
enum {
    EVK_RTO = FB_NET_EVK_END, /* TCP retransmission timer (a = flow, b = generation) */
    EVK_ARRIVE,               /* a visitor arrives (a = node) */
    EVK_TICK,                 /* an engine asked for a tick (a = node) */
    EVK_LEAVE,                /* a visitor leaves (a = node) */
};

/* What a flow is for, in the top byte of its tag. */
enum { FLOW_HTTP_REQ = 1, FLOW_HTTP_RESP = 2, FLOW_LONG = 3 };

enum { H_SEED, H_PEER, H_SINK, H_SPOOFER };

typedef struct sim sim;
typedef struct part part;

/* What the hosts of a part count during the run (all uint64_t: parts are summed word by word). */
typedef struct tally {
    uint64_t data_rx_peers, data_rx_seed, data_rx_redundant;
    uint64_t http_fetches, origin_http_bytes, wrong_bytes_delivered;
    uint64_t bans, bans_of_honest, engine_inputs, engine_ticks, forced_leaves;
    uint64_t data_from_peers, data_from_seed, data_from_origin;
    uint64_t dropped_unvalidated, dropped_invalid, chunks_bad;
    uint64_t peer_data_sent, chunks_dup, dropped_tft, bursts_timeout;
    uint64_t blocks_unused, blocks_late, partial_lost;
    uint64_t pushes_sent, pushes_accepted, pushes_refused;
    uint64_t msg_wire_peers[16], msg_wire_seed[16], msg_count_peers[16], msg_count_seed[16];
} tally;

/* A part of the nodes: its event queue, its counters, and what its thread needs of its own (on
 * cache lines of its own: threads write these all the time). */
struct part {
    _Alignas(64) sim *s;
    unsigned id;
    fb_evq q;
    tally t;
    EVP_MD_CTX *md;      /* for cb_sha256 */
    uint32_t peers_left; /* its visitors that have not left yet */
    uint64_t last_leave; /* ns: when the last of them left */
    int rc;              /* an error that stops the run */
    /* --trace: visitor-seconds present, integrated as its visitors come and go. */
    uint32_t tr_present;
    uint64_t tr_changed, tr_cap_ns;
    pthread_t th;
    bool started;
};

typedef struct host {
    sim *s;
    part *p;
    fb_engine *e;
    int swarm;
    uint32_t id;
    uint8_t kind;
    bool corrupt, arrived, done, left, banned;
    uint64_t t_arrive, t_done, t_leave; /* ns */
    uint64_t arrive_at;                 /* ns: when it is due to arrive */
    uint8_t token[16]; /* the seed's address token, as with the manifest over HTTP */
    uint64_t tick_at;  /* ns of the queued tick that counts; UINT64_MAX none */
    fb_rng rng;
    uint64_t *held;     /* chunks stored (bitset) */
    uint64_t *fetching; /* chunks being fetched over HTTP (bitset) */
    uint32_t n_held;
    fb_addr forged; /* spoofer: the victim's address */
} host;

struct sim {
    const fb_sim_config *c;
    fb_sim_result *r;
    part part[FB_NET_MAX_PARTS];
    uint32_t n_parts;
    pthread_barrier_t bar;
    pthread_mutex_t go_mu; /* the threads wait on go_cv until go is set, then on bar */
    pthread_cond_t go_cv;
    bool go;
    uint64_t w_end; /* ns: the current window runs the events due before this */
    bool stop;      /* set between windows (or at the go): the threads return */
    uint64_t end;   /* ns: when the run ended */
    fb_net net;
    fb_tcp tcp;
    fb_page page;
    host *hosts;
    fb_engine **eng; /* n_nodes: each host's engine (or NULL), compact for the cache hints */
    uint32_t n_nodes, first_peer, sink, victim, first_spoofer;
    fb_addr seed_addr;
    EVP_MD *sha; /* fetched once (EVP_sha256() would fetch it again at every init) */
    /* Digests of the canonical chunks, and an open-addressing index of them by their first
     * bytes and length (chunk + 1; 0 = empty): cb_sha256 answers for bytes equal to a canonical
     * chunk without hashing them again. */
    uint8_t (*chunk_sha)[32];
    uint32_t *sha_idx;
    uint32_t sha_mask;
    uint32_t words; /* 64-bit words per chunk bitset */
    uint32_t long_flow;
    uint64_t long_start;
    uint64_t long_engine0; /* the TCP visitor's UDP bytes sent when its flow started */
    double tcp_window_s, tcp_rate, tcp_engine_rate; /* measured when the TCP visitor leaves */
    bool setup_failed;
    /* --trace: totals at the previous line. */
    uint64_t tr_peer_up, tr_peer_down, tr_seed_up;
    uint64_t tr_last, tr_drops;
    uint32_t tr_done_prev; /* visitors done at the previous line */
    bool tr_stragglers;    /* FB_SIM_STRAGGLERS set: detail the last 8 */
};

/* The clock of h's part, in ns and in the engines' microseconds. */
static uint64_t now_ns(const host *h)
{
    return h->p->q.now;
}

static uint64_t now_us(const host *h)
{
    return h->p->q.now / US;
}

static bool bit_get(const uint64_t *m, uint32_t i)
{
    return m[i / 64] >> (i % 64) & 1;
}

static void bit_set(uint64_t *m, uint32_t i, bool on)
{
    if (on)
        m[i / 64] |= 1ull << (i % 64);
    else
        m[i / 64] &= ~(1ull << (i % 64));
}

static void schedule_tick(host *h, uint64_t t)
{
    if (t < now_ns(h))
        t = now_ns(h);
    if (t >= h->tick_at)
        return;
    if (fb_evq_push(&h->p->q, t, EVK_TICK, h->id, 0) == 0)
        h->tick_at = t;
}

/* Ticks h's engine now and queues the tick it asks for next (at least 1 us ahead, so an engine
 * cannot spin the clock in place). A tick already queued for later stays: an early tick is
 * harmless. Called from the run loop only, never from inside an engine callback. */
static void run_tick(host *h)
{
    if (!h->e)
        return;
    uint64_t at = fb_engine_tick(h->e, now_us(h)) * US;
    h->p->t.engine_ticks++;
    schedule_tick(h, at > now_ns(h) ? at : now_ns(h) + US);
}

/* ---- Host callbacks ---- */

static void cb_send(void *ctx, const fb_addr *to, const uint8_t *data, size_t len)
{
    host *h = ctx;
    if (len > 1) {
        tally *t = &h->p->t;
        uint64_t *w = h->kind == H_SEED ? t->msg_wire_seed : t->msg_wire_peers;
        w[data[1] & 15] += len + 28;
        uint64_t *c = h->kind == H_SEED ? t->msg_count_seed : t->msg_count_peers;
        c[data[1] & 15]++;
    }
    fb_net_send_udp(&h->s->net, h->id, h->kind == H_SPOOFER ? &h->forged : NULL, to, data, len);
}

static void start_fetch(sim *s, host *h, uint32_t chunk);

static void cb_event(void *ctx, const fb_event *ev)
{
    host *h = ctx;
    sim *s = h->s;
    switch (ev->type) {
    case FB_EV_SWARM_COMPLETE:
        if (h->kind == H_PEER && !h->done) {
            h->done = true;
            h->t_done = now_ns(h);
            /* The engine leaves by itself after linger_ms (FB_EV_SWARM_LEFT). Should it not,
             * the host makes it leave a second later, and counts it. */
            fb_evq_push(&h->p->q, now_ns(h) + (uint64_t)(s->c->linger_s * SEC) + SEC, EVK_LEAVE,
                        h->id, 1);
        }
        break;
    case FB_EV_SWARM_LEFT:
        /* It said goodbye already; free it from the run loop, not from inside its callback. */
        if (h->kind == H_PEER && !h->left) {
            h->left = true;
            h->t_leave = now_ns(h);
            fb_evq_push(&h->p->q, now_ns(h), EVK_LEAVE, h->id, 0);
        }
        break;
    case FB_EV_NEED_ORIGIN:
        if (h->kind == H_PEER && ev->chunk < s->page.n_chunks)
            start_fetch(s, h, ev->chunk);
        break;
    case FB_EV_PEER_BANNED: {
        h->p->t.bans++;
        int who = fb_net_node_of(&s->net, &ev->peer);
        if (who >= 0 && (uint32_t)who < s->n_nodes) {
            host *b = &s->hosts[who];
            if (b->corrupt) /* another node's flag, read only at the end: an atomic store */
                __atomic_store_n(&b->banned, true, __ATOMIC_RELAXED);
            else
                h->p->t.bans_of_honest++;
        }
        break;
    }
    default:
        break;
    }
}

static void sha256(sim *s, EVP_MD_CTX *md, const uint8_t *data, size_t len, uint8_t out[32])
{
    unsigned n = 32;
    EVP_DigestInit_ex(md, s->sha, NULL);
    EVP_DigestUpdate(md, data, len);
    EVP_DigestFinal_ex(md, out, &n);
}

/* The index key of a chunk's bytes: its length and first 32 bytes (or fewer). */
static uint32_t sha_key(const uint8_t *data, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull ^ len;
    for (size_t i = 0; i < len && i < 32; i++)
        h = (h ^ data[i]) * 0x100000001b3ull;
    return (uint32_t)(h ^ h >> 32);
}

/* SHA-256 of data, memoized for the page's canonical chunks: bytes equal to one (same length,
 * every byte compared) get its digest computed at setup; anything else (a corrupted chunk, a
 * manifest, a token) is hashed. The result is SHA-256(data) either way; a whole-chunk memcmp
 * costs a tenth of hashing it, and the crowd verifies about N x 2 MB. */
static void cb_sha256(void *ctx, const uint8_t *data, size_t len, uint8_t out[32])
{
    host *h = ctx;
    sim *s = h->s;
    if (s->sha_idx && len >= 64) {
        const fb_page *p = &s->page;
        for (uint32_t i = sha_key(data, len) & s->sha_mask; s->sha_idx[i];
             i = (i + 1) & s->sha_mask) {
            uint32_t c = s->sha_idx[i] - 1;
            if (p->chunk_len[c] == len && memcmp(data, p->bytes + p->chunk_off[c], len) == 0) {
                memcpy(out, s->chunk_sha[c], 32);
                return;
            }
        }
    }
    sha256(s, h->p->md, data, len, out);
}

/* Hashes every canonical chunk once and indexes them for cb_sha256. */
static int sha_memo_init(sim *s)
{
    const fb_page *p = &s->page;
    uint32_t cap = 16;
    while (cap < 2 * p->n_chunks)
        cap *= 2;
    s->chunk_sha = calloc(p->n_chunks ? p->n_chunks : 1, 32);
    s->sha_idx = calloc(cap, sizeof(uint32_t));
    if (!s->chunk_sha || !s->sha_idx)
        return FB_ENOMEM;
    s->sha_mask = cap - 1;
    for (uint32_t c = 0; c < p->n_chunks; c++) {
        const uint8_t *d = p->bytes + p->chunk_off[c];
        sha256(s, s->part[0].md, d, p->chunk_len[c], s->chunk_sha[c]);
        uint32_t i = sha_key(d, p->chunk_len[c]) & s->sha_mask;
        while (s->sha_idx[i])
            i = (i + 1) & s->sha_mask;
        s->sha_idx[i] = c + 1;
    }
    return 0;
}

static void cb_random(void *ctx, uint8_t *buf, size_t len)
{
    fb_rng_bytes(&((host *)ctx)->rng, buf, len);
}

static int cb_chunk_read(void *ctx, int swarm, uint32_t chunk, size_t off, uint8_t *buf, size_t len)
{
    host *h = ctx;
    const fb_page *p = &h->s->page;
    if (swarm != h->swarm || chunk >= p->n_chunks || off > p->chunk_len[chunk] ||
        len > p->chunk_len[chunk] - off)
        return FB_EINVAL;
    if (h->kind != H_SEED && !bit_get(h->held, chunk))
        return FB_ENOENT;
    memcpy(buf, p->bytes + p->chunk_off[chunk] + off, len);
    if (h->corrupt && len)
        buf[len / 2] ^= 0x5a; /* a corrupting peer flips a byte of everything it serves */
    return 0;
}

static void cb_chunk_write(void *ctx, int swarm, uint32_t chunk, const uint8_t *data, size_t len)
{
    host *h = ctx;
    sim *s = h->s;
    const fb_page *p = &s->page;
    if (swarm != h->swarm || chunk >= p->n_chunks) {
        h->p->t.wrong_bytes_delivered += len;
        return;
    }
    /* Any byte that differs from the canonical chunk is a wrong byte delivered. */
    const uint8_t *want = p->bytes + p->chunk_off[chunk];
    size_t n = len < p->chunk_len[chunk] ? len : p->chunk_len[chunk];
    if (len != p->chunk_len[chunk])
        h->p->t.wrong_bytes_delivered +=
            len > p->chunk_len[chunk] ? len - p->chunk_len[chunk] : p->chunk_len[chunk] - len;
    if (memcmp(data, want, n) != 0)
        for (size_t i = 0; i < n; i++)
            h->p->t.wrong_bytes_delivered += data[i] != want[i];
    if (!bit_get(h->held, chunk)) {
        bit_set(h->held, chunk, true);
        h->n_held++;
    }
}

/* ---- Origin fallback over HTTP ---- */

static uint64_t flow_tag(unsigned what, uint32_t node, uint32_t chunk)
{
    return (uint64_t)what << 56 | (uint64_t)node << 24 | chunk;
}

static void start_fetch(sim *s, host *h, uint32_t chunk)
{
    if (bit_get(h->fetching, chunk) || bit_get(h->held, chunk))
        return;
    uint32_t f =
        fb_tcp_open(&s->tcp, h->id, 0, HTTP_REQUEST_BYTES, flow_tag(FLOW_HTTP_REQ, h->id, chunk));
    if (f != FB_POOL_NONE)
        bit_set(h->fetching, chunk, true);
}

/* A flow's last byte reached its receiver (in the receiver's part). */
static void on_flow_done(void *ctx, uint32_t flow)
{
    sim *s = ctx;
    fb_tcp_flow *f = fb_tcp_get(&s->tcp, flow);
    uint64_t tag = f->tag;
    unsigned what = (unsigned)(tag >> 56);
    uint32_t node = (uint32_t)(tag >> 24 & 0xffffffff), chunk = (uint32_t)(tag & 0xffffff);
    if (what == FLOW_LONG)
        return;
    part *p = s->hosts[f->dst].p;
    fb_tcp_close(&s->tcp, p->id, flow);
    if (what == FLOW_HTTP_REQ) {
        /* At the origin. The visitor is another part's: if it has left, the response goes to
         * a dead node. Were no flow free (2^20 open), its chunk stays marked as being fetched,
         * and the visitor gets it from the swarm or not at all. */
        uint64_t bytes = HTTP_RESPONSE_HEADER + s->page.chunk_len[chunk];
        fb_tcp_open(&s->tcp, 0, node, bytes, flow_tag(FLOW_HTTP_RESP, node, chunk));
        return;
    }
    /* The response arrived at the visitor: hand the chunk to the engine. */
    host *h = &s->hosts[node];
    p->t.origin_http_bytes += HTTP_RESPONSE_HEADER + s->page.chunk_len[chunk];
    p->t.http_fetches++;
    bit_set(h->fetching, chunk, false);
    if (!h->e || h->left || bit_get(h->held, chunk))
        return;
    fb_engine_supply(h->e, h->swarm, chunk, s->page.bytes + s->page.chunk_off[chunk],
                     s->page.chunk_len[chunk], now_us(h));
    run_tick(h);
}

/* ---- Nodes ---- */

static int host_start(sim *s, host *h)
{
    const fb_sim_config *c = s->c;
    fb_host cb = {
        .ctx = h,
        .send = cb_send,
        .event = cb_event,
        .sha256 = cb_sha256,
        .random = cb_random,
        .chunk_read = cb_chunk_read,
        .chunk_write = cb_chunk_write,
    };
    fb_engine_config ec;
    memset(&ec, 0, sizeof(ec));
    if (h->kind == H_SEED) {
        ec.role = FB_ROLE_SEED;
        ec.upload_rate = (uint64_t)((double)c->origin_up * c->seed_rate);
        ec.max_tracked_peers = c->n + c->spoof + 64;
    } else {
        ec.role = FB_ROLE_PEER;
        ec.linger_ms = (uint32_t)(c->linger_s * 1000);
        fb_net_node_addr(&s->net, h->id, &ec.local_addrs[0]);
        ec.n_local_addrs = 1;
    }
    h->e = fb_engine_new(&ec, &cb, now_us(h));
    s->eng[h->id] = h->e;
    if (!h->e)
        return FB_ENOMEM;
    h->swarm = fb_engine_swarm_add(h->e, s->page.manifest, s->page.manifest_len, now_us(h));
    if (h->swarm < 0)
        return h->swarm;
    s->net.nodes[h->id].alive = true;
    if (h->kind != H_SEED) {
        int rc = fb_engine_swarm_join_token(h->e, h->swarm, &s->seed_addr, h->token, now_us(h));
        if (rc)
            return rc;
    }
    run_tick(h);
    return 0;
}

static void add_stats(host *h)
{
    fb_engine_stats st;
    fb_engine_stats_get(h->e, &st);
    tally *r = &h->p->t;
    r->data_from_peers += st.bytes_in_peer;
    r->data_from_seed += st.bytes_in_seed;
    r->data_from_origin += st.bytes_in_origin;
    r->dropped_unvalidated += st.dropped_unvalidated;
    r->dropped_invalid += st.dropped_invalid;
    r->chunks_bad += st.chunks_bad;
    r->peer_data_sent += st.bytes_out_data;
    r->chunks_dup += st.chunks_dup;
    r->dropped_tft += st.dropped_tft;
    r->bursts_timeout += st.bursts_timeout;
    r->blocks_unused += st.blocks_unused;
    r->blocks_late += st.blocks_late;
    r->partial_lost += st.partial_lost;
    r->pushes_sent += st.pushes_sent;
    r->pushes_accepted += st.pushes_accepted;
    r->pushes_refused += st.pushes_refused;
}

/* --trace: visitor-seconds present in part p, integrated up to `now` as visitors come and go. */
static void trace_present(part *p, uint64_t now, int delta)
{
    p->tr_cap_ns += (uint64_t)p->tr_present * (now - p->tr_changed);
    p->tr_changed = now;
    p->tr_present = (uint32_t)((int)p->tr_present + delta);
}

/* h leaves the crowd now: says goodbye through its engine (unless the engine left by itself,
 * when `forced` is false) and goes dark. */
static void host_leave(sim *s, host *h, bool forced)
{
    if (!h->e)
        return;
    if (forced && h->left)
        return; /* the engine left by itself in the meantime */
    part *p = h->p;
    if (forced)
        p->t.forced_leaves++;
    h->left = true;
    if (forced)
        h->t_leave = now_ns(h);
    if (h->kind == H_PEER) {
        add_stats(h);
        p->peers_left--;
        p->last_leave = now_ns(h);
        trace_present(p, now_ns(h), -1);
    }
    if (forced && h->kind != H_SEED)
        fb_engine_swarm_leave(h->e, h->swarm, now_us(h));
    fb_engine_free(h->e);
    h->e = NULL;
    s->eng[h->id] = NULL;
    s->net.nodes[h->id].alive = false;
    if (h->id == s->first_peer && s->c->tcp && s->long_flow != FB_POOL_NONE) {
        /* The flow's receiver, the sink, is in this part too. */
        fb_tcp_flow *f = fb_tcp_get(&s->tcp, s->long_flow);
        s->tcp_window_s = (double)(now_ns(h) - s->long_start) / SEC;
        s->tcp_rate = s->tcp_window_s > 0 ? (double)fb_tcp_delivered(f) / s->tcp_window_s : 0;
        /* What the engine sent from the same uplink meanwhile (UDP payload). */
        uint64_t eng = s->net.nodes[h->id].udp_tx_bytes - s->long_engine0;
        s->tcp_engine_rate = s->tcp_window_s > 0 ? (double)eng / s->tcp_window_s : 0;
        fb_tcp_close(&s->tcp, p->id, s->long_flow);
        s->long_flow = FB_POOL_NONE;
    }
}

static void on_deliver(void *ctx, const fb_pkt *p)
{
    sim *s = ctx;
    if (p->kind != FB_PKT_UDP) {
        fb_tcp_packet(&s->tcp, p);
        return;
    }
    host *h = &s->hosts[p->dst];
    if (!h->e)
        return; /* sinks, victims, and nodes gone */
    tally *t = &h->p->t;
    /* Audit of the data blocks (the host's view, not the engine's): where they came from, and
     * whether the chunk was held already when the block arrived (a redundant transfer). */
    fb_wire_msg m;
    if (p->len > 1 && p->data[1] == FB_MSG_DATA && fb_wire_decode(p->data, p->len, &m) == 0 &&
        m.type == FB_MSG_DATA) {
        bool from_seed = p->src == 0;
        if (from_seed)
            t->data_rx_seed += m.u.data.len;
        else
            t->data_rx_peers += m.u.data.len;
        if (m.u.data.chunk < s->page.n_chunks && bit_get(h->held, m.u.data.chunk))
            t->data_rx_redundant += m.u.data.len;
    }
    fb_addr from;
    fb_addr_set_v4(&from, p->src_ip, p->src_port);
    fb_engine_input(h->e, &from, p->data, p->len, now_us(h));
    t->engine_inputs++;
    run_tick(h); /* "call tick after input before sleeping" */
}

/* ---- Cache hints ----
 * The run is bound by memory latency: each event touches a node, a packet, an engine that were
 * last used thousands of events ago. Before running an event, the loop starts loading what the
 * next three will touch, one level of pointers further for each event closer to its turn. Only
 * hints: nothing is written, so the run is the same with or without them. */

/* Events prefetched ahead: the next LOOKAHEAD, at stages 0 (the farthest) to LOOKAHEAD - 1 (the
 * next one); each stage follows the pointers the previous one loaded, one event earlier. */
#define LOOKAHEAD FB_EVQ_UPCOMING

static void prefetch_event(const part *p, const fb_ev *ev, int stage)
{
    const sim *s = p->s;
    unsigned kind = fb_ev_kind(ev);
    if (kind < FB_NET_EVK_END)
        fb_net_prefetch(&s->net, p->id, ev, stage);
    if ((kind != EVK_TICK && kind != FB_NET_EVK_DELIVER) || ev->a >= s->n_nodes)
        return;
    const fb_engine *e = s->eng[ev->a];
    if (stage == 0) {
        __builtin_prefetch(&s->hosts[ev->a]);
        __builtin_prefetch(e);
    } else {
        fb_engine_prefetch(e, stage - 1);
    }
}

static void prefetch_upcoming(const part *p)
{
    fb_ev up[LOOKAHEAD];
    int k = fb_evq_upcoming(&p->q, up);
    for (int i = k - 1; i >= 0; i--)
        prefetch_event(p, &up[i], LOOKAHEAD - 1 - i);
}

/* ---- Setup ---- */

static uint64_t queue_cap(uint64_t rate, double ms)
{
    if (!rate)
        return 0;
    double b = (double)rate * ms / 1000;
    return (uint64_t)fmin(fmax(b, 16384), 1 << 20);
}

/* Adds a node in part pt. The parts take the visitors in equal blocks of consecutive nodes (the
 * seed, node 0, in part 0): a thread's nodes, hosts and engines then share no cache line with
 * another's but at the blocks' ends. */
static int add_node(sim *s, uint64_t up, uint64_t down, fb_nat_type nat, uint8_t kind, unsigned pt)
{
    uint64_t half = s->c->rtt_us * US / 4;
    int i = fb_net_node_add(&s->net, up, queue_cap(up, s->c->queue_ms), down,
                            queue_cap(down, s->c->queue_ms), half, nat);
    if (i < 0)
        return i;
    s->net.nodes[i].part = (uint8_t)pt;
    host *h = &s->hosts[i];
    h->s = s;
    h->p = &s->part[pt];
    h->id = (uint32_t)i;
    h->kind = kind;
    h->tick_at = UINT64_MAX;
    h->swarm = -1;
    fb_rng_seed(&h->rng, s->c->seed, 1000 + (uint64_t)i);
    h->held = calloc(s->words, 8);
    h->fetching = calloc(s->words, 8);
    if (!h->held || !h->fetching)
        return FB_ENOMEM;
    return i;
}

static int setup(sim *s, const char **err)
{
    const fb_sim_config *c = s->c;
    int rc;
    uint32_t chunk = c->chunk_size ? c->chunk_size : FB_CHUNK_SIZE_DEFAULT;
    if ((rc = fb_page_init(&s->page, chunk)) != 0) {
        *err = "cannot build the page and its manifest";
        return rc;
    }
    s->words = (s->page.n_chunks + 63) / 64;
    s->n_nodes = 1 + c->n + (c->tcp ? 1 : 0) + (c->spoof ? 1 + c->spoof : 0);
    s->hosts = calloc(s->n_nodes, sizeof(*s->hosts));
    s->eng = calloc(s->n_nodes, sizeof(*s->eng));
    if (!s->hosts || !s->eng)
        return FB_ENOMEM;
    for (uint32_t k = 0; k < s->n_parts; k++) {
        part *p = &s->part[k];
        p->s = s;
        p->id = k;
        if ((rc = fb_evq_init(&p->q, 1u << 28)) != 0)
            return rc;
        if (!(p->md = EVP_MD_CTX_new()))
            return FB_ENOMEM;
    }
    fb_net_config nc = {.loss = c->loss,
                        .seed = c->seed,
                        .max_nodes = s->n_nodes,
                        .max_packets = 1u << 22,
                        .max_nat = 65536,
                        .parts = s->n_parts};
    if ((rc = fb_net_init(&s->net, &s->part[0].q, &nc, on_deliver, s)) != 0)
        return rc;
    for (uint32_t k = 1; k < s->n_parts; k++)
        s->net.part[k].q = &s->part[k].q;
    s->long_flow = FB_POOL_NONE;
    s->sha = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!s->sha)
        return FB_ENOMEM;
    if ((rc = sha_memo_init(s)) != 0)
        return rc;

    /* Node 0: the origin (public). */
    if ((rc = add_node(s, c->origin_up, c->origin_down, FB_NAT_NONE, H_SEED, 0)) < 0)
        return rc;
    fb_net_node_addr(&s->net, 0, &s->seed_addr);
    /* Nodes 1..n: the visitors, their NATs and who corrupts drawn from their own streams. */
    fb_rng natr, corr, arr;
    fb_rng_seed(&natr, c->seed, 0x6e6174);
    fb_rng_seed(&corr, c->seed, 0x636f7272);
    fb_rng_seed(&arr, c->seed, 0x617272);
    s->first_peer = 1;
    for (uint32_t i = 0; i < c->n; i++) {
        fb_nat_type nat = FB_NAT_NONE;
        if (c->nat == FB_SIMNAT_CONE)
            nat = FB_NAT_CONE;
        else if (c->nat == FB_SIMNAT_MIXED)
            nat = fb_rng_unit(&natr) < c->symmetric ? FB_NAT_SYMMETRIC : FB_NAT_CONE;
        unsigned pt = (unsigned)((uint64_t)i * s->n_parts / c->n);
        if ((rc = add_node(s, c->peer_up, c->peer_down, nat, H_PEER, pt)) < 0)
            return rc;
        s->hosts[rc].p->peers_left++;
    }
    /* Exactly round(corrupt * n) corrupting peers, picked by a partial Fisher-Yates shuffle. */
    uint32_t n_corrupt = (uint32_t)llround(c->corrupt * c->n);
    uint32_t *perm = malloc((c->n ? c->n : 1) * sizeof(*perm));
    if (!perm)
        return FB_ENOMEM;
    for (uint32_t i = 0; i < c->n; i++)
        perm[i] = i;
    for (uint32_t i = 0; i < n_corrupt; i++) {
        uint32_t j = i + (uint32_t)fb_rng_below(&corr, c->n - i);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        s->hosts[s->first_peer + perm[i]].corrupt = true;
    }
    free(perm);
    s->r->corrupt_peers = n_corrupt;
    /* Arrivals. */
    double t = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->arrivals == FB_ARRIVE_BURST)
            t = c->burst_ms > 0 ? fb_rng_unit(&arr) * c->burst_ms / 1000 : 0;
        else
            t += fb_rng_exp(&arr, 1.0 / c->rate);
        host *h = &s->hosts[s->first_peer + i];
        h->arrive_at = (uint64_t)(t * SEC);
        if ((rc = fb_evq_push(&h->p->q, h->arrive_at, EVK_ARRIVE, h->id, 0)))
            return rc;
    }
    if (c->tcp) {
        /* The far end of the competing flow: a well-connected public server, in the TCP
         * visitor's part (the visitor reads the flow's receiver side when it leaves). */
        if ((rc = add_node(s, 125000000, 125000000, FB_NAT_NONE, H_SINK,
                           s->hosts[s->first_peer].p->id)) < 0)
            return rc;
        s->sink = (uint32_t)rc;
        s->net.nodes[s->sink].alive = true;
    }
    if (c->spoof) {
        if ((rc = add_node(s, c->peer_up, c->peer_down, FB_NAT_NONE, H_SINK, s->n_parts - 1)) < 0)
            return rc;
        s->victim = (uint32_t)rc;
        s->net.nodes[s->victim].alive = true;
        fb_addr va;
        fb_net_node_addr(&s->net, s->victim, &va);
        s->first_spoofer = s->victim + 1;
        for (uint32_t i = 0; i < c->spoof; i++) {
            if ((rc = add_node(s, c->peer_up, c->peer_down, FB_NAT_NONE, H_SPOOFER,
                               (s->first_spoofer + i) % s->n_parts)) < 0)
                return rc;
            host *h = &s->hosts[rc];
            h->forged = va;
            if ((rc = fb_evq_push(&h->p->q, 0, EVK_ARRIVE, h->id, 0)))
                return rc;
        }
    }
    /* Every node is in: the TCP model bounds a packet's age by their queues. */
    if ((rc = fb_tcp_init(&s->tcp, &s->net, EVK_RTO, 1u << 20, on_flow_done, s)) != 0)
        return rc;
    if ((rc = host_start(s, &s->hosts[0])) != 0) {
        *err = "the seed engine refused the page";
        return rc;
    }
    /* Each visitor fetched the manifest over HTTP just before it arrives, and the answer carried
     * the seed's token for its address (a spoofer's: its own, not the one it forges). */
    for (uint32_t i = 1; i < s->n_nodes; i++) {
        host *h = &s->hosts[i];
        fb_addr a;
        fb_net_node_addr(&s->net, i, &a);
        if ((h->kind == H_PEER || h->kind == H_SPOOFER) &&
            (rc = fb_engine_address_token(s->hosts[0].e, &a, h->arrive_at / US, h->token)) != 0)
            return rc;
    }
    return 0;
}

/* ---- Measures ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, uint32_t n, double p)
{
    if (!n)
        return 0;
    /* Nearest rank. */
    uint32_t k = (uint32_t)ceil(p * n);
    return v[k ? k - 1 : 0];
}

/* The overlay's turnover over 10 s windows in 100 ms steps, counting windows that start with at
 * least a tenth of the crowd in the overlay (docs/SIMULATOR.md). */
static void turnover(sim *s)
{
    uint32_t n = 0;
    uint64_t *ar = malloc((s->c->n + 1) * sizeof(uint64_t));
    uint64_t *lv = malloc((s->c->n + 1) * sizeof(uint64_t));
    if (ar && lv) {
        for (uint32_t i = 0; i < s->c->n; i++) {
            host *h = &s->hosts[s->first_peer + i];
            if (!h->arrived)
                continue;
            ar[n] = h->t_arrive;
            lv[n] = h->left ? h->t_leave : UINT64_MAX;
            n++;
        }
        uint64_t at;
        s->r->max_turnover_10s =
            fb_turnover_max(ar, lv, n, s->end, 10 * SEC, 100 * MS, (s->c->n + 9) / 10, &at);
        s->r->turnover_at = (double)at / SEC;
    }
    free(ar);
    free(lv);
}

static void alone_deliver(void *ctx, const fb_pkt *p)
{
    if (p->kind != FB_PKT_UDP)
        fb_tcp_packet(ctx, p);
}

static void alone_timer(void *ctx, const fb_ev *ev)
{
    if (fb_ev_kind(ev) == EVK_RTO)
        fb_tcp_timer(ctx, ev);
}

/* The competing flow alone on the same link for the same time: the reference for its share. */
static double tcp_alone(const fb_sim_config *c, double window_s)
{
    fb_evq q;
    fb_net net;
    fb_tcp tcp;
    double rate = 0;
    if (fb_evq_init(&q, 1u << 22))
        return 0;
    fb_net_config nc = {.loss = c->loss, .seed = c->seed};
    if (fb_net_init(&net, &q, &nc, alone_deliver, &tcp) == 0) {
        uint64_t half = c->rtt_us * US / 4;
        int a = fb_net_node_add(&net, c->peer_up, queue_cap(c->peer_up, c->queue_ms), c->peer_down,
                                queue_cap(c->peer_down, c->queue_ms), half, FB_NAT_NONE);
        int b = fb_net_node_add(&net, 125000000, queue_cap(125000000, c->queue_ms), 125000000,
                                queue_cap(125000000, c->queue_ms), half, FB_NAT_NONE);
        net.nodes[a].alive = net.nodes[b].alive = true;
        if (fb_tcp_init(&tcp, &net, EVK_RTO, 4, NULL, NULL) == 0) {
            uint32_t f = fb_tcp_open(&tcp, (uint32_t)a, (uint32_t)b, 0, 0);
            fb_net_drain(&net, (uint64_t)(window_s * SEC), alone_timer, NULL, &tcp);
            if (f != FB_POOL_NONE && window_s > 0)
                rate = (double)fb_tcp_delivered(fb_tcp_get(&tcp, f)) / window_s;
        }
        fb_tcp_fini(&tcp);
    }
    fb_net_fini(&net);
    fb_evq_fini(&q);
    return rate;
}

/* The parts' tallies, word by word, into the result. */
static void sum_tallies(sim *s)
{
    _Static_assert(sizeof(tally) % sizeof(uint64_t) == 0, "a tally is words");
    tally t;
    memset(&t, 0, sizeof(t));
    uint64_t *to = (uint64_t *)&t;
    for (uint32_t k = 0; k < s->n_parts; k++) {
        const uint64_t *from = (const uint64_t *)&s->part[k].t;
        for (size_t i = 0; i < sizeof(tally) / sizeof(uint64_t); i++)
            to[i] += from[i];
    }
    fb_sim_result *r = s->r;
    r->data_rx_peers = t.data_rx_peers;
    r->data_rx_seed = t.data_rx_seed;
    r->data_rx_redundant = t.data_rx_redundant;
    r->http_fetches = t.http_fetches;
    r->origin_http_bytes = t.origin_http_bytes;
    r->wrong_bytes_delivered = t.wrong_bytes_delivered;
    r->bans = t.bans;
    r->bans_of_honest = t.bans_of_honest;
    r->engine_inputs = t.engine_inputs;
    r->engine_ticks = t.engine_ticks;
    r->forced_leaves = t.forced_leaves;
    r->data_from_peers = t.data_from_peers;
    r->data_from_seed = t.data_from_seed;
    r->data_from_origin = t.data_from_origin;
    r->dropped_unvalidated = t.dropped_unvalidated;
    r->dropped_invalid = t.dropped_invalid;
    r->chunks_bad = t.chunks_bad;
    r->peer_data_sent = t.peer_data_sent;
    r->chunks_dup = t.chunks_dup;
    r->dropped_tft = t.dropped_tft;
    r->bursts_timeout = t.bursts_timeout;
    r->blocks_unused = t.blocks_unused;
    r->blocks_late = t.blocks_late;
    r->partial_lost = t.partial_lost;
    r->pushes_sent = t.pushes_sent;
    r->pushes_accepted = t.pushes_accepted;
    r->pushes_refused = t.pushes_refused;
    memcpy(r->msg_wire_peers, t.msg_wire_peers, sizeof(t.msg_wire_peers));
    memcpy(r->msg_wire_seed, t.msg_wire_seed, sizeof(t.msg_wire_seed));
    memcpy(r->msg_count_peers, t.msg_count_peers, sizeof(t.msg_count_peers));
    memcpy(r->msg_count_seed, t.msg_count_seed, sizeof(t.msg_count_seed));
    r->tcp_window_s = s->tcp_window_s;
    r->tcp_rate = s->tcp_rate;
    r->tcp_engine_rate = s->tcp_engine_rate;
    r->events = 0; /* run (how many were queued depends on the split: a run's next is queued) */
    for (uint32_t k = 0; k < s->n_parts; k++)
        r->events += s->part[k].q.popped;
}

static void measure(sim *s)
{
    const fb_sim_config *c = s->c;
    fb_sim_result *r = s->r;
    for (uint32_t i = 0; i < c->n; i++) {
        host *h = &s->hosts[s->first_peer + i];
        if (h->e && h->kind == H_PEER)
            add_stats(h); /* still there at the end */
    }
    sum_tallies(s);
    double *ct = malloc((c->n + 1) * sizeof(double));
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        host *h = &s->hosts[s->first_peer + i];
        if (h->corrupt) {
            r->corrupt_banned += h->banned;
            continue;
        }
        r->honest++;
        if (h->done && ct)
            ct[k++] = (double)(h->t_done - h->t_arrive) / SEC;
        r->peer_bytes += s->net.nodes[h->id].udp_tx_bytes;
    }
    for (uint32_t i = 0; i < c->n; i++)
        if (s->hosts[s->first_peer + i].corrupt)
            r->peer_bytes += s->net.nodes[s->first_peer + i].udp_tx_bytes;
    r->completed = k;
    r->completed_fraction = r->honest ? (double)k / r->honest : 1;
    if (ct && k) {
        double sum = 0;
        for (uint32_t i = 0; i < k; i++)
            sum += ct[i];
        qsort(ct, k, sizeof(double), cmp_double);
        r->mean = sum / k;
        r->p50 = pct(ct, k, 0.5);
        r->p95 = pct(ct, k, 0.95);
        r->max = ct[k - 1];
    }
    free(ct);
    if (s->hosts[0].e) {
        fb_engine_stats st;
        fb_engine_stats_get(s->hosts[0].e, &st);
        r->seed_data_sent = st.bytes_out_data;
        r->seed_busy = st.busy_sent;
    }
    r->origin_udp_bytes = s->net.nodes[0].udp_tx_bytes;
    r->origin_bytes = r->origin_udp_bytes + r->origin_http_bytes;
    uint64_t all = r->origin_bytes + r->peer_bytes;
    r->origin_share = all ? (double)r->origin_bytes / (double)all : 0;
    fb_net_counts nt;
    fb_net_totals(&s->net, &nt);
    r->datagrams = nt.udp_pkts;
    r->udp_wire_bytes = nt.udp_wire_bytes;
    r->lost = nt.lost;
    r->dropped_dead = nt.dropped_dead;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        r->uplink_drops += s->net.nodes[i].up.drops;
        r->downlink_drops += s->net.nodes[i].down.drops;
        r->queue_drops += s->net.nodes[i].up.drops + s->net.nodes[i].down.drops;
        r->nat_filtered += s->net.nodes[i].nat_filtered;
    }
    r->end_time = (double)s->end / SEC;
    turnover(s);
    if (c->spoof) {
        for (uint32_t i = 0; i < c->spoof; i++)
            r->spoof_sent_bytes += s->net.nodes[s->first_spoofer + i].forged_tx_bytes;
        r->victim_bytes = s->net.nodes[s->victim].udp_to_bytes;
        r->spoof_amplification =
            r->spoof_sent_bytes ? (double)r->victim_bytes / (double)r->spoof_sent_bytes : 0;
    }
    if (c->tcp && r->tcp_window_s > 0) {
        r->tcp_rate_alone = tcp_alone(c, r->tcp_window_s);
        r->tcp_share = r->tcp_rate_alone > 0 ? r->tcp_rate / r->tcp_rate_alone : 0;
    }
}

/* --trace: one line per interval on stderr: visitors present and done, their mean progress,
 * how busy their uplinks, downlinks and the seed's uplink were over the interval (wire bytes over
 * capacity), and the visitors' mean pacing rate over their uplink rate. A diagnostic only. */
static void trace_line(sim *s, uint64_t now)
{
    uint64_t cap_ns = 0; /* visitor-ns present since the last line */
    for (uint32_t k = 0; k < s->n_parts; k++) {
        trace_present(&s->part[k], now, 0);
        cap_ns += s->part[k].tr_cap_ns;
        s->part[k].tr_cap_ns = 0;
    }
    const fb_sim_config *c = s->c;
    uint64_t up = 0, down = 0, pace = 0, held = 0, drops = 0;
    uint32_t present = 0, done = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        host *h = &s->hosts[s->first_peer + i];
        const fb_net_node *nd = &s->net.nodes[h->id];
        up += nd->up.bytes;
        down += nd->down.bytes;
        drops += nd->up.drops + nd->down.drops;
        done += h->done;
        if (!h->e)
            continue;
        fb_engine_stats st;
        fb_engine_stats_get(h->e, &st);
        present++;
        pace += st.upload_rate;
        held += h->n_held;
        if (s->tr_stragglers && !h->done && s->tr_done_prev + 8 >= c->n)
            fprintf(stderr,
                    "  straggler %u: held %u/%u nb %u from seed %llu peers %llu timeouts %llu "
                    "busy-in %llu unused %llu\n",
                    i, h->n_held, s->page.n_chunks, st.neighbours,
                    (unsigned long long)st.bytes_in_seed, (unsigned long long)st.bytes_in_peer,
                    (unsigned long long)st.bursts_timeout, (unsigned long long)st.busy_sent,
                    (unsigned long long)st.blocks_unused);
    }
    s->tr_done_prev = done;
    uint64_t seed_up = s->net.nodes[0].up.bytes;
    double dt = (double)(now - s->tr_last) / SEC;
    double cap_s = (double)cap_ns / SEC; /* visitor-seconds present */
    fprintf(
        stderr,
        "t=%7.2f present=%5u done=%5u held=%.3f peer_up=%.3f peer_down=%.3f seed_up=%.3f "
        "pace/up=%.3f drops=%llu\n",
        (double)now / SEC, present, done, present ? (double)held / present / s->page.n_chunks : 0,
        cap_s > 0 ? (double)(up - s->tr_peer_up) / (cap_s * (double)c->peer_up) : 0,
        cap_s > 0 ? (double)(down - s->tr_peer_down) / (cap_s * (double)c->peer_down) : 0,
        dt > 0 ? (double)(seed_up - s->tr_seed_up) / (dt * (double)c->origin_up * c->seed_rate) : 0,
        present ? (double)pace / present / (double)c->peer_up : 0,
        (unsigned long long)(drops - s->tr_drops));
    s->tr_drops = drops;
    s->tr_peer_up = up;
    s->tr_peer_down = down;
    s->tr_seed_up = seed_up;
    s->tr_last = now;
}

/* ---- The run ---- */

/* ---- The run: windows, one thread per part ---- */

/* Runs one event of part p. */
static void dispatch(part *p, const fb_ev *ev)
{
    sim *s = p->s;
    host *h;
    switch (fb_ev_kind(ev)) {
    case FB_NET_EVK_RUN:
    case FB_NET_EVK_DELIVER:
        fb_net_event(&s->net, p->id, ev);
        break;
    case EVK_RTO:
        fb_tcp_timer(&s->tcp, ev);
        break;
    case EVK_TICK:
        h = &s->hosts[ev->a];
        if (ev->t != h->tick_at || !h->e)
            break; /* superseded by an earlier tick */
        h->tick_at = UINT64_MAX;
        run_tick(h);
        break;
    case EVK_ARRIVE:
        h = &s->hosts[ev->a];
        h->arrived = true;
        h->t_arrive = now_ns(h);
        fb_thp_heap_follow(); /* before the engine's tables are touched */
        if (h->kind == H_PEER)
            trace_present(p, now_ns(h), 1);
        if (host_start(s, h) != 0) {
            p->rc = FB_ENOMEM;
            break;
        }
        if (h->id == s->first_peer && s->c->tcp) {
            s->long_flow = fb_tcp_open(&s->tcp, h->id, s->sink, 0, flow_tag(FLOW_LONG, 0, 0));
            s->long_start = now_ns(h);
            s->long_engine0 = s->net.nodes[h->id].udp_tx_bytes;
        }
        break;
    case EVK_LEAVE:
        host_leave(s, &s->hosts[ev->a], ev->b != 0);
        break;
    }
}

/* Part p's share of a window: its events due before s->w_end, then (after every part's) its
 * exchange. */
static void run_window(part *p)
{
    sim *s = p->s;
    fb_ev ev;
    while (fb_evq_peek_time(&p->q) < s->w_end && fb_evq_pop(&p->q, &ev) == 0) {
        prefetch_upcoming(p);
        dispatch(p, &ev);
    }
}

static void sync_parts(sim *s)
{
    if (s->n_parts > 1)
        pthread_barrier_wait(&s->bar);
}

static void exchange(part *p)
{
    fb_net_exchange(&p->s->net, p->id);
    fb_tcp_exchange(&p->s->tcp, p->id);
}

/* The thread of part k > 0: a window whenever part 0 has chosen one, until told to stop. */
static void *part_thread(void *arg)
{
    part *p = arg;
    sim *s = p->s;
    pthread_mutex_lock(&s->go_mu);
    while (!s->go)
        pthread_cond_wait(&s->go_cv, &s->go_mu);
    pthread_mutex_unlock(&s->go_mu);
    if (s->stop)
        return NULL; /* another thread could not start */
    for (;;) {
        pthread_barrier_wait(&s->bar); /* the window is chosen */
        if (s->stop)
            return NULL;
        run_window(p);
        pthread_barrier_wait(&s->bar); /* every part ran it */
        exchange(p);
        pthread_barrier_wait(&s->bar); /* every part exchanged */
    }
}

/* Runs the crowd from part 0's thread until every visitor left, nothing is left to do, or the
 * time limit (events due after `limit` do not run). Between windows only this thread runs: it
 * reads every part, prints --trace lines, and picks the next window: from the earliest event
 * due anywhere, the network's lookahead long, cut at the next trace line and at the limit. The
 * windows do not depend on how many parts there are, so neither does the result. */
static int run(sim *s, uint64_t limit)
{
    uint64_t look = fb_net_lookahead(&s->net);
    uint64_t trace_step = s->c->trace_ms > 0 ? (uint64_t)(s->c->trace_ms * MS) : 0;
    uint64_t next_trace = trace_step ? trace_step : UINT64_MAX;
    fb_thp_heap_follow();
    if (s->n_parts > 1) {
        /* Start every thread, then let them go: into the windows, or home if one failed. */
        int rc = pthread_barrier_init(&s->bar, NULL, s->n_parts) ? FB_ENOMEM : 0;
        pthread_mutex_init(&s->go_mu, NULL);
        pthread_cond_init(&s->go_cv, NULL);
        for (uint32_t k = 1; k < s->n_parts && !rc; k++) {
            if (pthread_create(&s->part[k].th, NULL, part_thread, &s->part[k]))
                rc = FB_ENOMEM;
            else
                s->part[k].started = true;
        }
        pthread_mutex_lock(&s->go_mu);
        s->stop = rc != 0;
        s->go = true;
        pthread_cond_broadcast(&s->go_cv);
        pthread_mutex_unlock(&s->go_mu);
        if (rc)
            return rc;
    }
    for (uint32_t k = 0; k < s->n_parts; k++)
        exchange(&s->part[k]); /* what setup sent, if anything */
    for (;;) {
        uint64_t t0 = UINT64_MAX, last = 0;
        uint32_t left = 0;
        for (uint32_t k = 0; k < s->n_parts; k++) {
            part *p = &s->part[k];
            if (p->rc)
                return p->rc;
            uint64_t t = fb_evq_peek_time(&p->q);
            t0 = t < t0 ? t : t0;
            left += p->peers_left;
            last = p->last_leave > last ? p->last_leave : last;
        }
        while (next_trace <= t0 && next_trace <= limit && left > 0) {
            trace_line(s, next_trace);
            next_trace += trace_step;
        }
        if (left == 0) {
            s->end = last;
            return 0;
        }
        if (t0 == UINT64_MAX) { /* nothing left to happen */
            for (uint32_t k = 0; k < s->n_parts; k++)
                s->end = s->part[k].q.now > s->end ? s->part[k].q.now : s->end;
            return 0;
        }
        if (t0 > limit) {
            s->r->time_limit_hit = true;
            s->end = limit;
            return 0;
        }
        uint64_t end = t0 + look;
        if (end > limit + 1)
            end = limit + 1;
        if (end > next_trace)
            end = next_trace;
        s->w_end = end;
        sync_parts(s);
        run_window(&s->part[0]);
        sync_parts(s);
        exchange(&s->part[0]);
        sync_parts(s);
        fb_thp_heap_follow(); /* mark what the heap grew by (engines, packets) */
    }
}

void fb_sim_config_default(fb_sim_config *c)
{
    memset(c, 0, sizeof(*c));
    fb_sim_profile(c, "dsl");
    c->n = 1;
    c->seed = 1;
    c->arrivals = FB_ARRIVE_BURST;
    c->burst_ms = 10;
    c->rate = 50;
    c->symmetric = 0.2;
    c->time_limit_s = 900;
    c->queue_ms = 250;
    c->seed_rate = 1.0;
}

int fb_sim_profile(fb_sim_config *c, const char *name)
{
    if (strcmp(name, "dsl") == 0) {
        c->profile = "dsl";
        c->peer_down = 1500000 / 8;
        c->peer_up = 384000 / 8;
        c->rtt_us = 40000;
        c->origin_up = 10000000 / 8;
    } else if (strcmp(name, "broadband") == 0) {
        c->profile = "broadband";
        c->peer_down = 200000000 / 8;
        c->peer_up = 20000000 / 8;
        c->rtt_us = 20000;
        c->origin_up = 100000000 / 8;
    } else {
        return FB_EINVAL;
    }
    c->origin_down = 1000000000 / 8;
    return 0;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int check_config(const fb_sim_config *c, const char **err)
{
    if (c->n < 1 || c->n > 100000)
        *err = "--n must be between 1 and 100000";
    else if (!c->peer_up || !c->peer_down || !c->origin_up)
        *err = "link rates must be positive";
    else if (c->corrupt < 0 || c->corrupt >= 1)
        *err = "--corrupt must be in [0, 1)";
    else if (c->loss < 0 || c->loss >= 1)
        *err = "--loss must be in [0, 1)";
    else if (c->symmetric < 0 || c->symmetric > 1)
        *err = "--symmetric must be in [0, 1]";
    else if (c->threads > FB_NET_MAX_PARTS)
        *err = "--threads must be between 1 and 8";
    else if (c->rtt_us < 4)
        *err = "the round trip must be at least 4 us (the threads' windows are a one-way latency)";
    else if (c->arrivals == FB_ARRIVE_POISSON && !(c->rate > 0))
        *err = "--rate must be positive";
    else if (!(c->time_limit_s > 0) || c->time_limit_s > 86400)
        *err = "--time-limit must be in (0, 86400] seconds";
    else if (c->linger_s < 0 || c->linger_s > 86400)
        *err = "--linger must be in [0, 86400] seconds";
    else if (c->burst_ms < 0 || c->queue_ms <= 0 || c->spoof > 1000)
        *err = "bad --burst-ms, --queue-ms or --spoof";
    else if (!(c->seed_rate > 0) || c->seed_rate > 1)
        *err = "--seed-rate must be in (0, 1]";
    else
        return 0;
    return FB_EINVAL;
}

int fb_sim_run(const fb_sim_config *c, fb_sim_result *r, const char **err)
{
    const char *dummy;
    if (!err)
        err = &dummy;
    *err = NULL;
    double w0 = wall_now();
    memset(r, 0, sizeof(*r));
    int rc = check_config(c, err);
    if (rc)
        return rc;
    sim S, *s = &S;
    memset(s, 0, sizeof(S));
    s->c = c;
    s->n_parts = c->threads;
    if (!s->n_parts) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        s->n_parts = c->n < 256 || cpus < 2 ? 1 : cpus > 4 ? 4 : (uint32_t)cpus;
    }
    r->threads = s->n_parts;
    s->tr_stragglers = getenv("FB_SIM_STRAGGLERS") != NULL;
    s->r = r;
    rc = setup(s, err);
    if (rc)
        goto out;
    r->n = c->n;
    r->bytes_per_page = s->page.size;
    r->chunks = s->page.n_chunks;
    r->chunk_size = s->page.map.chunk_size;
    double F = (double)s->page.size;
    r->t_min = fb_bound_tmin(F, (double)c->origin_up, c->n, (double)c->peer_up * c->n,
                             (double)c->peer_down);
    r->t_client_server =
        fb_bound_client_server(F, (double)c->origin_up, c->n, (double)c->peer_down);

    double limit_s = c->time_limit_s;
    if (c->time_limit_x > 0 && c->time_limit_x * r->t_min + 60 < limit_s)
        limit_s = c->time_limit_x * r->t_min + 60;
    rc = run(s, (uint64_t)(limit_s * SEC));
    if (rc) {
        *err = "an engine could not start";
        goto out;
    }
    measure(s);
out:
    if (s->go && s->n_parts > 1) {
        if (!s->stop) {
            s->stop = true;
            pthread_barrier_wait(&s->bar); /* the threads wait for a window: they return */
        }
        for (uint32_t k = 1; k < s->n_parts; k++)
            if (s->part[k].started)
                pthread_join(s->part[k].th, NULL);
        pthread_barrier_destroy(&s->bar);
        pthread_mutex_destroy(&s->go_mu);
        pthread_cond_destroy(&s->go_cv);
    }
    if (s->hosts) {
        for (uint32_t i = 0; i < s->n_nodes; i++) {
            if (s->hosts[i].e)
                fb_engine_free(s->hosts[i].e);
            free(s->hosts[i].held);
            free(s->hosts[i].fetching);
        }
        free(s->hosts);
    }
    free(s->eng);
    for (uint32_t k = 0; k < s->n_parts; k++)
        if (s->part[k].md)
            EVP_MD_CTX_free(s->part[k].md);
    EVP_MD_free(s->sha);
    free(s->chunk_sha);
    free(s->sha_idx);
    fb_tcp_fini(&s->tcp);
    fb_net_fini(&s->net);
    for (uint32_t k = 0; k < s->n_parts; k++)
        if (s->part[k].q.heap)
            fb_evq_fini(&s->part[k].q);
    fb_page_fini(&s->page);
    r->wall_seconds = wall_now() - w0;
    return rc;
}
