/* The flash-crowd runner: builds the page, the network and one host per node, feeds the engines
 * their datagrams and timers from the event queue, serves their callbacks (datagrams into the
 * network, SHA-256 with OpenSSL, seeded random bytes, chunk storage against the one canonical
 * copy of the page, origin fetches as TCP transfers from the origin node), and measures. */
#include "sim/sim.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    EVK_TRACE,                /* --trace: print a progress line */
};

/* What a flow is for, in the top byte of its tag. */
enum { FLOW_HTTP_REQ = 1, FLOW_HTTP_RESP = 2, FLOW_LONG = 3 };

enum { H_SEED, H_PEER, H_SINK, H_SPOOFER };

typedef struct sim sim;

typedef struct host {
    sim *s;
    fb_engine *e;
    int swarm;
    uint32_t id;
    uint8_t kind;
    bool corrupt, arrived, done, left, banned;
    uint64_t t_arrive, t_done, t_leave; /* ns */
    uint64_t tick_at;                   /* ns of the queued tick that counts; UINT64_MAX none */
    fb_rng rng;
    uint64_t *held;     /* chunks stored (bitset) */
    uint64_t *fetching; /* chunks being fetched over HTTP (bitset) */
    uint32_t n_held;
    fb_addr forged; /* spoofer: the victim's address */
} host;

struct sim {
    const fb_sim_config *c;
    fb_sim_result *r;
    fb_evq q;
    fb_net net;
    fb_tcp tcp;
    fb_page page;
    host *hosts;
    fb_engine **eng; /* n_nodes: each host's engine (or NULL), compact for the cache hints */
    uint32_t n_nodes, first_peer, sink, victim, first_spoofer;
    uint32_t peers_left; /* visitors that have not left yet */
    fb_addr seed_addr;
    EVP_MD_CTX *md;
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
    bool setup_failed;
    /* --trace: totals at the previous line. */
    uint64_t tr_peer_up, tr_peer_down, tr_seed_up, tr_peer_cap_ns;
    uint64_t tr_last, tr_drops;
    uint32_t tr_done_prev; /* visitors done at the previous line */
    bool tr_stragglers;    /* FB_SIM_STRAGGLERS set: detail the last 8 */
    uint32_t tr_present;   /* visitors with an engine */
    uint64_t tr_changed;   /* when tr_present last changed */
};

static uint64_t now_us(const sim *s)
{
    return s->q.now / US;
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

static void schedule_tick(sim *s, host *h, uint64_t t)
{
    if (t < s->q.now)
        t = s->q.now;
    if (t >= h->tick_at)
        return;
    if (fb_evq_push(&s->q, t, EVK_TICK, h->id, 0) == 0)
        h->tick_at = t;
}

/* Ticks h's engine now and queues the tick it asks for next (at least 1 us ahead, so an engine
 * cannot spin the clock in place). A tick already queued for later stays: an early tick is
 * harmless. Called from the run loop only, never from inside an engine callback. */
static void run_tick(sim *s, host *h)
{
    if (!h->e)
        return;
    uint64_t at = fb_engine_tick(h->e, now_us(s)) * US;
    s->r->engine_ticks++;
    schedule_tick(s, h, at > s->q.now ? at : s->q.now + US);
}

/* ---- Host callbacks ---- */

static void cb_send(void *ctx, const fb_addr *to, const uint8_t *data, size_t len)
{
    host *h = ctx;
    if (len > 1) {
        uint64_t *w = h->kind == H_SEED ? h->s->r->msg_wire_seed : h->s->r->msg_wire_peers;
        w[data[1] & 15] += len + 28;
        uint64_t *c = h->kind == H_SEED ? h->s->r->msg_count_seed : h->s->r->msg_count_peers;
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
            h->t_done = s->q.now;
            /* The engine leaves by itself after linger_ms (FB_EV_SWARM_LEFT). Should it not,
             * the host makes it leave a second later, and counts it. */
            fb_evq_push(&s->q, s->q.now + (uint64_t)(s->c->linger_s * SEC) + SEC, EVK_LEAVE, h->id,
                        1);
        }
        break;
    case FB_EV_SWARM_LEFT:
        /* It said goodbye already; free it from the run loop, not from inside its callback. */
        if (h->kind == H_PEER && !h->left) {
            h->left = true;
            h->t_leave = s->q.now;
            fb_evq_push(&s->q, s->q.now, EVK_LEAVE, h->id, 0);
        }
        break;
    case FB_EV_NEED_ORIGIN:
        if (h->kind == H_PEER && ev->chunk < s->page.n_chunks)
            start_fetch(s, h, ev->chunk);
        break;
    case FB_EV_PEER_BANNED: {
        s->r->bans++;
        int who = fb_net_node_of(&s->net, &ev->peer);
        if (who >= 0 && (uint32_t)who < s->n_nodes) {
            host *b = &s->hosts[who];
            if (b->corrupt)
                b->banned = true;
            else
                s->r->bans_of_honest++;
        }
        break;
    }
    default:
        break;
    }
}

static void sha256(sim *s, const uint8_t *data, size_t len, uint8_t out[32])
{
    unsigned n = 32;
    EVP_DigestInit_ex(s->md, s->sha, NULL);
    EVP_DigestUpdate(s->md, data, len);
    EVP_DigestFinal_ex(s->md, out, &n);
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
    sim *s = ((host *)ctx)->s;
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
    sha256(s, data, len, out);
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
        sha256(s, d, p->chunk_len[c], s->chunk_sha[c]);
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
        s->r->wrong_bytes_delivered += len;
        return;
    }
    /* Any byte that differs from the canonical chunk is a wrong byte delivered. */
    const uint8_t *want = p->bytes + p->chunk_off[chunk];
    size_t n = len < p->chunk_len[chunk] ? len : p->chunk_len[chunk];
    if (len != p->chunk_len[chunk])
        s->r->wrong_bytes_delivered +=
            len > p->chunk_len[chunk] ? len - p->chunk_len[chunk] : p->chunk_len[chunk] - len;
    if (memcmp(data, want, n) != 0)
        for (size_t i = 0; i < n; i++)
            s->r->wrong_bytes_delivered += data[i] != want[i];
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

static void on_flow_done(void *ctx, uint32_t flow)
{
    sim *s = ctx;
    fb_tcp_flow *f = fb_tcp_get(&s->tcp, flow);
    uint64_t tag = f->tag;
    unsigned what = (unsigned)(tag >> 56);
    uint32_t node = (uint32_t)(tag >> 24 & 0xffffffff), chunk = (uint32_t)(tag & 0xffffff);
    if (what == FLOW_LONG)
        return;
    fb_tcp_close(&s->tcp, flow);
    host *h = &s->hosts[node];
    if (what == FLOW_HTTP_REQ) {
        if (h->left) {
            bit_set(h->fetching, chunk, false);
            return;
        }
        uint64_t bytes = HTTP_RESPONSE_HEADER + s->page.chunk_len[chunk];
        if (fb_tcp_open(&s->tcp, 0, node, bytes, flow_tag(FLOW_HTTP_RESP, node, chunk)) ==
            FB_POOL_NONE)
            bit_set(h->fetching, chunk, false);
        return;
    }
    /* The response arrived: hand the chunk to the engine. */
    s->r->origin_http_bytes += HTTP_RESPONSE_HEADER + s->page.chunk_len[chunk];
    s->r->http_fetches++;
    bit_set(h->fetching, chunk, false);
    if (!h->e || h->left || bit_get(h->held, chunk))
        return;
    fb_engine_supply(h->e, h->swarm, chunk, s->page.bytes + s->page.chunk_off[chunk],
                     s->page.chunk_len[chunk], now_us(s));
    run_tick(s, h);
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
    h->e = fb_engine_new(&ec, &cb, now_us(s));
    s->eng[h->id] = h->e;
    if (!h->e)
        return FB_ENOMEM;
    h->swarm = fb_engine_swarm_add(h->e, s->page.manifest, s->page.manifest_len, now_us(s));
    if (h->swarm < 0)
        return h->swarm;
    s->net.nodes[h->id].alive = true;
    if (h->kind != H_SEED) {
        int rc = fb_engine_swarm_join(h->e, h->swarm, &s->seed_addr, now_us(s));
        if (rc)
            return rc;
    }
    run_tick(s, h);
    return 0;
}

static void add_stats(sim *s, host *h)
{
    fb_engine_stats st;
    fb_engine_stats_get(h->e, &st);
    fb_sim_result *r = s->r;
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

/* --trace: visitor-seconds present, integrated as visitors come and go. */
static void trace_present(sim *s, int delta)
{
    s->tr_peer_cap_ns += (uint64_t)s->tr_present * (s->q.now - s->tr_changed);
    s->tr_changed = s->q.now;
    s->tr_present = (uint32_t)((int)s->tr_present + delta);
}

/* h leaves the crowd now: says goodbye through its engine (unless the engine left by itself,
 * when `forced` is false) and goes dark. */
static void host_leave(sim *s, host *h, bool forced)
{
    if (!h->e)
        return;
    if (forced && h->left)
        return; /* the engine left by itself in the meantime */
    if (forced)
        s->r->forced_leaves++;
    h->left = true;
    if (forced)
        h->t_leave = s->q.now;
    if (h->kind == H_PEER) {
        add_stats(s, h);
        s->peers_left--;
        trace_present(s, -1);
    }
    if (forced && h->kind != H_SEED)
        fb_engine_swarm_leave(h->e, h->swarm, now_us(s));
    fb_engine_free(h->e);
    h->e = NULL;
    s->eng[h->id] = NULL;
    s->net.nodes[h->id].alive = false;
    if (h->id == s->first_peer && s->c->tcp && s->long_flow != FB_POOL_NONE) {
        fb_tcp_flow *f = fb_tcp_get(&s->tcp, s->long_flow);
        s->r->tcp_window_s = (double)(s->q.now - s->long_start) / SEC;
        s->r->tcp_rate =
            s->r->tcp_window_s > 0 ? (double)fb_tcp_delivered(f) / s->r->tcp_window_s : 0;
        /* What the engine sent from the same uplink meanwhile (UDP payload). */
        uint64_t eng = s->net.nodes[h->id].udp_tx_bytes - s->long_engine0;
        s->r->tcp_engine_rate = s->r->tcp_window_s > 0 ? (double)eng / s->r->tcp_window_s : 0;
        fb_tcp_close(&s->tcp, s->long_flow);
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
    /* Audit of the data blocks (the host's view, not the engine's): where they came from, and
     * whether the chunk was held already when the block arrived (a redundant transfer). */
    fb_wire_msg m;
    if (p->len > 1 && p->data[1] == FB_MSG_DATA && fb_wire_decode(p->data, p->len, &m) == 0 &&
        m.type == FB_MSG_DATA) {
        bool from_seed = p->src == 0;
        if (from_seed)
            s->r->data_rx_seed += m.u.data.len;
        else
            s->r->data_rx_peers += m.u.data.len;
        if (m.u.data.chunk < s->page.n_chunks && bit_get(h->held, m.u.data.chunk))
            s->r->data_rx_redundant += m.u.data.len;
    }
    fb_addr from;
    fb_addr_set_v4(&from, p->src_ip, p->src_port);
    fb_engine_input(h->e, &from, p->data, p->len, now_us(s));
    s->r->engine_inputs++;
    run_tick(s, h); /* "call tick after input before sleeping" */
}

/* ---- Cache hints ----
 * The run is bound by memory latency: each event touches a node, a packet, an engine that were
 * last used thousands of events ago. Before running an event, the loop starts loading what the
 * next three will touch, one level of pointers further for each event closer to its turn. Only
 * hints: nothing is written, so the run is the same with or without them. */

/* Events prefetched ahead: the next LOOKAHEAD, at stages 0 (the farthest) to LOOKAHEAD - 1 (the
 * next one); each stage follows the pointers the previous one loaded, one event earlier. */
#define LOOKAHEAD FB_EVQ_UPCOMING

static void prefetch_event(const sim *s, const fb_ev *ev, int stage)
{
    unsigned kind = fb_ev_kind(ev);
    if (kind < FB_NET_EVK_END)
        fb_net_prefetch(&s->net, ev, stage);
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

static void prefetch_upcoming(const sim *s)
{
    fb_ev up[LOOKAHEAD];
    int k = fb_evq_upcoming(&s->q, up);
    for (int i = k - 1; i >= 0; i--)
        prefetch_event(s, &up[i], LOOKAHEAD - 1 - i);
}

/* ---- Setup ---- */

static uint64_t queue_cap(uint64_t rate, double ms)
{
    if (!rate)
        return 0;
    double b = (double)rate * ms / 1000;
    return (uint64_t)fmin(fmax(b, 16384), 1 << 20);
}

static int add_node(sim *s, uint64_t up, uint64_t down, fb_nat_type nat, uint8_t kind)
{
    uint64_t half = s->c->rtt_us * US / 4;
    int i = fb_net_node_add(&s->net, up, queue_cap(up, s->c->queue_ms), down,
                            queue_cap(down, s->c->queue_ms), half, nat);
    if (i < 0)
        return i;
    host *h = &s->hosts[i];
    h->s = s;
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
    if ((rc = fb_evq_init(&s->q, 1u << 28)) != 0)
        return rc;
    fb_net_config nc = {.loss = c->loss,
                        .seed = c->seed,
                        .max_nodes = s->n_nodes,
                        .max_packets = 1u << 24,
                        .max_nat = 65536};
    if ((rc = fb_net_init(&s->net, &s->q, &nc, on_deliver, s)) != 0)
        return rc;
    fb_tcp_init(&s->tcp, &s->net, &s->q, EVK_RTO, 1u << 20, on_flow_done, s);
    s->long_flow = FB_POOL_NONE;
    s->md = EVP_MD_CTX_new();
    s->sha = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!s->md || !s->sha)
        return FB_ENOMEM;
    if ((rc = sha_memo_init(s)) != 0)
        return rc;

    /* Node 0: the origin (public). */
    if ((rc = add_node(s, c->origin_up, c->origin_down, FB_NAT_NONE, H_SEED)) < 0)
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
        if ((rc = add_node(s, c->peer_up, c->peer_down, nat, H_PEER)) < 0)
            return rc;
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
        if ((rc = fb_evq_push(&s->q, (uint64_t)(t * SEC), EVK_ARRIVE, s->first_peer + i, 0)))
            return rc;
    }
    s->peers_left = c->n;
    if (c->tcp) {
        /* The far end of the competing flow: a well-connected public server. */
        if ((rc = add_node(s, 125000000, 125000000, FB_NAT_NONE, H_SINK)) < 0)
            return rc;
        s->sink = (uint32_t)rc;
        s->net.nodes[s->sink].alive = true;
    }
    if (c->spoof) {
        if ((rc = add_node(s, c->peer_up, c->peer_down, FB_NAT_NONE, H_SINK)) < 0)
            return rc;
        s->victim = (uint32_t)rc;
        s->net.nodes[s->victim].alive = true;
        fb_addr va;
        fb_net_node_addr(&s->net, s->victim, &va);
        s->first_spoofer = s->victim + 1;
        for (uint32_t i = 0; i < c->spoof; i++) {
            if ((rc = add_node(s, c->peer_up, c->peer_down, FB_NAT_NONE, H_SPOOFER)) < 0)
                return rc;
            s->hosts[rc].forged = va;
            if ((rc = fb_evq_push(&s->q, 0, EVK_ARRIVE, (uint32_t)rc, 0)))
                return rc;
        }
    }
    if ((rc = host_start(s, &s->hosts[0])) != 0) {
        *err = "the seed engine refused the page";
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
            fb_turnover_max(ar, lv, n, s->q.now, 10 * SEC, 100 * MS, (s->c->n + 9) / 10, &at);
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
    if (fb_net_init(&net, &q, &nc, NULL, NULL) == 0) {
        fb_tcp_init(&tcp, &net, &q, EVK_RTO, 4, NULL, NULL);
        net.deliver = alone_deliver;
        net.ctx = &tcp;
        uint64_t half = c->rtt_us * US / 4;
        int a = fb_net_node_add(&net, c->peer_up, queue_cap(c->peer_up, c->queue_ms), c->peer_down,
                                queue_cap(c->peer_down, c->queue_ms), half, FB_NAT_NONE);
        int b = fb_net_node_add(&net, 125000000, queue_cap(125000000, c->queue_ms), 125000000,
                                queue_cap(125000000, c->queue_ms), half, FB_NAT_NONE);
        net.nodes[a].alive = net.nodes[b].alive = true;
        uint32_t f = fb_tcp_open(&tcp, (uint32_t)a, (uint32_t)b, 0, 0);
        uint64_t end = (uint64_t)(window_s * SEC);
        fb_ev e;
        while (fb_evq_peek_time(&q) <= end && fb_evq_pop(&q, &e) == 0) {
            if (fb_ev_kind(&e) == EVK_RTO)
                fb_tcp_timer(&tcp, &e);
            else
                fb_net_event(&net, &e);
        }
        if (f != FB_POOL_NONE && window_s > 0)
            rate = (double)fb_tcp_delivered(fb_tcp_get(&tcp, f)) / window_s;
        fb_tcp_fini(&tcp);
        fb_net_fini(&net);
    }
    fb_evq_fini(&q);
    return rate;
}

static void measure(sim *s)
{
    const fb_sim_config *c = s->c;
    fb_sim_result *r = s->r;
    double *ct = malloc((c->n + 1) * sizeof(double));
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        host *h = &s->hosts[s->first_peer + i];
        if (h->e && h->kind == H_PEER)
            add_stats(s, h); /* still there at the end */
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
    r->datagrams = s->net.udp_pkts;
    r->udp_wire_bytes = s->net.udp_wire_bytes;
    r->lost = s->net.lost;
    r->dropped_dead = s->net.dropped_dead;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        r->uplink_drops += s->net.nodes[i].up.drops;
        r->downlink_drops += s->net.nodes[i].down.drops;
        r->queue_drops += s->net.nodes[i].up.drops + s->net.nodes[i].down.drops;
        r->nat_filtered += s->net.nodes[i].nat_filtered;
    }
    r->events = s->q.pushed;
    r->end_time = (double)s->q.now / SEC;
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
static void trace_line(sim *s)
{
    trace_present(s, 0);
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
    double dt = (double)(s->q.now - s->tr_last) / SEC;
    double cap_s = (double)s->tr_peer_cap_ns / SEC; /* visitor-seconds present */
    fprintf(stderr,
            "t=%7.2f present=%5u done=%5u held=%.3f peer_up=%.3f peer_down=%.3f seed_up=%.3f "
            "pace/up=%.3f drops=%llu\n",
            (double)s->q.now / SEC, present, done,
            present ? (double)held / present / s->page.n_chunks : 0,
            cap_s > 0 ? (double)(up - s->tr_peer_up) / (cap_s * (double)c->peer_up) : 0,
            cap_s > 0 ? (double)(down - s->tr_peer_down) / (cap_s * (double)c->peer_down) : 0,
            dt > 0 ? (double)(seed_up - s->tr_seed_up) / (dt * (double)c->origin_up * c->seed_rate)
                   : 0,
            present ? (double)pace / present / (double)c->peer_up : 0,
            (unsigned long long)(drops - s->tr_drops));
    s->tr_drops = drops;
    s->tr_peer_up = up;
    s->tr_peer_down = down;
    s->tr_seed_up = seed_up;
    s->tr_peer_cap_ns = 0;
    s->tr_last = s->q.now;
}

/* ---- The run ---- */

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
    uint64_t limit = (uint64_t)(limit_s * SEC);
    if (c->trace_ms > 0)
        fb_evq_push(&s->q, (uint64_t)(c->trace_ms * MS), EVK_TRACE, 0, 0);
    fb_ev ev;
    uint32_t n_ev = 0;
    fb_thp_heap_follow();
    while (s->peers_left > 0 && fb_evq_pop(&s->q, &ev) == 0) {
        prefetch_upcoming(s);
        if ((++n_ev & 1023) == 0)
            fb_thp_heap_follow(); /* mark what the heap grew by (engines, packets) */
        if (ev.t > limit) {
            r->time_limit_hit = true;
            s->q.now = limit;
            break;
        }
        host *h;
        switch (fb_ev_kind(&ev)) {
        case FB_NET_EVK_ARRIVE:
        case FB_NET_EVK_CORE:
        case FB_NET_EVK_DELIVER:
            fb_net_event(&s->net, &ev);
            break;
        case EVK_RTO:
            fb_tcp_timer(&s->tcp, &ev);
            break;
        case EVK_TICK:
            h = &s->hosts[ev.a];
            if (ev.t != h->tick_at || !h->e)
                break; /* superseded by an earlier tick */
            h->tick_at = UINT64_MAX;
            run_tick(s, h);
            break;
        case EVK_ARRIVE:
            h = &s->hosts[ev.a];
            h->arrived = true;
            h->t_arrive = s->q.now;
            fb_thp_heap_follow(); /* before the engine's tables are touched */
            if (h->kind == H_PEER)
                trace_present(s, 1);
            if ((rc = host_start(s, h)) != 0) {
                *err = "an engine could not start";
                goto out;
            }
            if (h->id == s->first_peer && c->tcp) {
                s->long_flow = fb_tcp_open(&s->tcp, h->id, s->sink, 0, flow_tag(FLOW_LONG, 0, 0));
                s->long_start = s->q.now;
                s->long_engine0 = s->net.nodes[h->id].udp_tx_bytes;
            }
            break;
        case EVK_LEAVE:
            host_leave(s, &s->hosts[ev.a], ev.b != 0);
            break;
        case EVK_TRACE:
            trace_line(s);
            fb_evq_push(&s->q, s->q.now + (uint64_t)(c->trace_ms * MS), EVK_TRACE, 0, 0);
            break;
        }
    }
    measure(s);
out:
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
    if (s->md)
        EVP_MD_CTX_free(s->md);
    EVP_MD_free(s->sha);
    free(s->chunk_sha);
    free(s->sha_idx);
    if (s->tcp.q)
        fb_tcp_fini(&s->tcp);
    if (s->net.nodes)
        fb_net_fini(&s->net);
    if (s->q.heap)
        fb_evq_fini(&s->q);
    fb_page_fini(&s->page);
    r->wall_seconds = wall_now() - w0;
    return rc;
}
