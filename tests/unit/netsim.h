/* A tiny in-test network for engine tests: nodes (one engine each) with an uplink rate, a fixed
 * latency and optional loss, a fake clock, and a store of page bytes per node. No sockets: the
 * engines' send callbacks put datagrams in a queue that the loop delivers in time order. Header
 * only, included by the engine tests. */
#ifndef FB_TEST_NETSIM_H
#define FB_TEST_NETSIM_H

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/chunk.h"
#include "core/manifest.h"
#include "core/wire.h"
#include "engine/engine.h"

#define NS_MAX_NODES 64
#define NS_MAX_PKTS  200000

typedef struct ns_node ns_node;
typedef struct ns_world ns_world;

struct ns_node {
    ns_world *w;
    int idx;
    fb_engine *e;
    fb_addr addr;
    int swarm;
    bool seed, corrupt, alive, auto_supply;
    uint8_t *store; /* the page, as this node holds it */
    uint8_t *held;  /* per chunk: written */
    uint64_t up_rate, busy_until;
    uint64_t rng;
    uint64_t wake;
    uint32_t verified, objects_done, completes, added, removed, banned, left;
    uint32_t need_origin;
    uint32_t origin_queue[64];
    uint32_t n_origin_queue;
    uint64_t complete_at;
    uint64_t bytes_sent, dgrams_sent;
    fb_addr banned_addr[8];
};

typedef struct ns_pkt {
    uint64_t t;
    fb_addr from, to;
    uint16_t len;
    uint8_t data[FB_MAX_DATAGRAM];
} ns_pkt;

struct ns_world {
    ns_node node[NS_MAX_NODES];
    int n;
    uint64_t now;
    uint64_t latency_us;
    uint32_t loss_ppm;
    uint64_t rng;
    ns_pkt *pkts;
    size_t n_pkts;
    /* The page. */
    uint8_t *page;
    uint64_t page_len;
    uint8_t manifest[1 << 16];
    size_t manifest_len;
    fb_chunk_map map;
    uint64_t sizes[16];
    uint32_t first[17];
    uint64_t obj_off[16];
    uint64_t dropped;
    /* Spoof observation: bytes sent to addresses in 198.51.100.0/24 (the "victims"). */
    uint64_t to_victims;
    /* A path that slows down: from slow_after_us on, datagrams node slow_node sends take
     * slow_extra_us longer (0: none). */
    int slow_node;
    uint64_t slow_after_us, slow_extra_us;
};

static uint64_t ns_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static ns_node *ns_by_addr(ns_world *w, const fb_addr *a)
{
    for (int i = 0; i < w->n; i++)
        if (fb_addr_eq(&w->node[i].addr, a))
            return &w->node[i];
    return NULL;
}

static void ns_send(void *ctx, const fb_addr *to, const uint8_t *data, size_t len)
{
    ns_node *n = ctx;
    ns_world *w = n->w;
    if (len > FB_MAX_DATAGRAM) {
        fprintf(stderr, "datagram too large: %zu\n", len);
        abort();
    }
    n->bytes_sent += len;
    n->dgrams_sent++;
    if (to->family == 4 && to->ip[0] == 198 && to->ip[1] == 51 && to->ip[2] == 100)
        w->to_victims += len;
    if (w->n_pkts >= NS_MAX_PKTS) {
        w->dropped++;
        return;
    }
    uint64_t t = w->now;
    if (n->up_rate) {
        uint64_t start = n->busy_until > t ? n->busy_until : t;
        n->busy_until = start + (len + 28) * 1000000ull / n->up_rate;
        t = n->busy_until;
    }
    if (w->loss_ppm && ns_rand(&w->rng) % 1000000 < w->loss_ppm)
        return;
    ns_pkt *p = &w->pkts[w->n_pkts++];
    p->t = t + w->latency_us;
    if (w->slow_extra_us && n->idx == w->slow_node && w->now >= w->slow_after_us)
        p->t += w->slow_extra_us;
    p->from = n->addr;
    p->to = *to;
    p->len = (uint16_t)len;
    memcpy(p->data, data, len);
}

static void ns_event(void *ctx, const fb_event *ev)
{
    ns_node *n = ctx;
    switch (ev->type) {
    case FB_EV_CHUNK_VERIFIED:
        n->verified++;
        break;
    case FB_EV_OBJECT_COMPLETE:
        n->objects_done++;
        break;
    case FB_EV_SWARM_COMPLETE:
        n->completes++;
        n->complete_at = n->w->now;
        break;
    case FB_EV_PEER_ADDED:
        n->added++;
        break;
    case FB_EV_PEER_REMOVED:
        n->removed++;
        break;
    case FB_EV_PEER_BANNED:
        if (n->banned < 8)
            n->banned_addr[n->banned] = ev->peer;
        n->banned++;
        break;
    case FB_EV_SWARM_LEFT:
        n->left++;
        break;
    case FB_EV_NEED_ORIGIN:
        n->need_origin++;
        if (n->n_origin_queue < 64)
            n->origin_queue[n->n_origin_queue++] = ev->chunk;
        break;
    }
}

static void ns_sha256(void *ctx, const uint8_t *data, size_t len, uint8_t out[32])
{
    (void)ctx;
    SHA256(data, len, out);
}

static void ns_random(void *ctx, uint8_t *buf, size_t len)
{
    ns_node *n = ctx;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)ns_rand(&n->rng);
}

static uint64_t ns_chunk_off(ns_world *w, uint32_t chunk, uint32_t *len)
{
    uint32_t obj;
    uint64_t off;
    if (fb_chunk_locate(&w->map, chunk, &obj, &off, len))
        abort();
    return w->obj_off[obj] + off;
}

static int ns_chunk_read(void *ctx, int swarm, uint32_t chunk, size_t off, uint8_t *buf, size_t len)
{
    ns_node *n = ctx;
    (void)swarm;
    uint32_t clen;
    uint64_t base = ns_chunk_off(n->w, chunk, &clen);
    if (off + len > clen) {
        fprintf(stderr, "chunk_read past the chunk\n");
        abort();
    }
    if (!n->seed && !n->held[chunk]) {
        fprintf(stderr, "chunk_read of a chunk not held\n");
        abort();
    }
    if (n->corrupt) {
        memset(buf, 0xab, len);
        return 0;
    }
    memcpy(buf, n->store + base + off, len);
    return 0;
}

static void ns_chunk_write(void *ctx, int swarm, uint32_t chunk, const uint8_t *data, size_t len)
{
    ns_node *n = ctx;
    (void)swarm;
    uint32_t clen;
    uint64_t base = ns_chunk_off(n->w, chunk, &clen);
    if (len != clen || n->held[chunk]) {
        fprintf(stderr, "chunk_write: bad length or written twice\n");
        abort();
    }
    memcpy(n->store + base, data, len);
    n->held[chunk] = 1;
}

/* Builds the page: n_obj objects of the given sizes with pseudo-random bytes. */
static void ns_page(ns_world *w, const uint64_t *sizes, uint32_t n_obj)
{
    fb_manifest_entry ent[16];
    char paths[16][32];
    w->page_len = 0;
    for (uint32_t i = 0; i < n_obj; i++) {
        w->sizes[i] = sizes[i];
        w->obj_off[i] = w->page_len;
        w->page_len += sizes[i];
        snprintf(paths[i], sizeof(paths[i]), "/obj%u.bin", i);
        ent[i].path = paths[i];
        ent[i].size = sizes[i];
        ent[i].type = i == 0 ? "text/html" : "image/png";
        ent[i].etag = "\"e\"";
    }
    w->page = malloc(w->page_len ? w->page_len : 1);
    uint64_t r = 12345;
    for (uint64_t i = 0; i < w->page_len; i++)
        w->page[i] = (uint8_t)(ns_rand(&r) >> 24);
    if (fb_chunk_map_init(&w->map, FB_CHUNK_SIZE_DEFAULT, w->sizes, n_obj, w->first, 1 << 20))
        abort();
    uint8_t(*h)[32] = calloc(w->map.n_chunks + 1, 32);
    for (uint32_t c = 0; c < w->map.n_chunks; c++) {
        uint32_t len;
        uint64_t off = ns_chunk_off(w, c, &len);
        SHA256(w->page + off, len, h[c]);
    }
    int rc = fb_manifest_build(w->manifest, sizeof(w->manifest), FB_CHUNK_SIZE_DEFAULT, ent, n_obj,
                               (const uint8_t(*)[32])h, NULL);
    if (rc < 0)
        abort();
    w->manifest_len = (size_t)rc;
    free(h);
}

static void ns_init(ns_world *w, uint64_t latency_us, uint32_t loss_ppm)
{
    memset(w, 0, sizeof(*w));
    w->latency_us = latency_us;
    w->loss_ppm = loss_ppm;
    w->rng = 0x9e3779b97f4a7c15ull;
    w->pkts = calloc(NS_MAX_PKTS, sizeof(ns_pkt));
}

/* Adds a node; cfg may be NULL for defaults of the role. */
static ns_node *ns_add(ns_world *w, bool seed, uint64_t up_rate, const fb_engine_config *cfg)
{
    ns_node *n = &w->node[w->n];
    memset(n, 0, sizeof(*n));
    n->w = w;
    n->idx = w->n++;
    n->seed = seed;
    n->alive = true;
    n->up_rate = up_rate;
    n->rng = 0x1234567ull * (uint64_t)(n->idx + 1) + 99;
    fb_addr_set_v4(&n->addr, 0x0a000001u + (uint32_t)n->idx, 4000);
    n->store = calloc(w->page_len ? w->page_len : 1, 1);
    n->held = calloc(w->map.n_chunks + 1, 1);
    if (seed)
        memcpy(n->store, w->page, w->page_len);
    fb_engine_config c;
    memset(&c, 0, sizeof(c));
    if (cfg)
        c = *cfg;
    c.role = seed ? FB_ROLE_SEED : FB_ROLE_PEER;
    if (seed && !c.upload_rate)
        c.upload_rate = up_rate ? up_rate : 1000000;
    fb_host h = {n, ns_send, ns_event, ns_sha256, ns_random, ns_chunk_read, ns_chunk_write};
    n->e = fb_engine_new(&c, &h, w->now);
    if (!n->e)
        abort();
    n->swarm = fb_engine_swarm_add(n->e, w->manifest, w->manifest_len, w->now);
    if (n->swarm < 0)
        abort();
    n->wake = 0;
    return n;
}

/* Inline: a test that kills no node leaves it unused without a warning. */
/* The node's engine counters. */
static inline fb_engine_stats ns_stats(const ns_node *n)
{
    fb_engine_stats st;
    fb_engine_stats_get(n->e, &st);
    return st;
}

#ifdef FB_ENGINE_INTERNAL_H
/* The node's swarm (for tests that include engine/internal.h first and look inside). */
static inline fb_swarm *ns_swarm(const ns_node *n)
{
    return &n->e->sw[n->swarm];
}

/* self's active neighbour entry for `other`, or NULL. */
static inline fb_nb *ns_nb_of(ns_node *self, const ns_node *other)
{
    fb_swarm *s = ns_swarm(self);
    for (uint32_t i = 1; i < s->n_nb; i++)
        if (s->nb[i].state == NB_ACTIVE && fb_addr_eq(&s->nb[i].addr, &other->addr))
            return &s->nb[i];
    return NULL;
}
#endif

static inline void ns_kill(ns_node *n)
{
    n->alive = false;
}

/* Hands node `to` message m as if it came from `from` now: m's swarm id is set to to's swarm,
 * m is encoded (an encoding error aborts the test) and fed to the engine. */
static inline void ns_feed(ns_world *w, ns_node *to, const fb_addr *from, fb_wire_msg *m)
{
    uint8_t id[32];
    uint8_t buf[FB_MAX_DATAGRAM];
    if (fb_engine_swarm_id(to->e, to->swarm, id) != 0)
        abort();
    memcpy(m->swarm, id, FB_SWARM_ID_LEN);
    int len = fb_wire_encode(m, buf, sizeof(buf));
    if (len <= 0)
        abort();
    fb_engine_input(to->e, from, buf, (size_t)len, w->now);
}

/* Feeds `a` a REQUEST from b for the whole of chunk 0 (id req_id) and returns the type of a's
 * answer to it (BUSY, QUEUED or DATA), or 0 if none was sent. */
static inline uint8_t ns_request_answer(ns_world *w, ns_node *a, ns_node *b, uint32_t req_id)
{
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_REQUEST;
    m.u.request.req_id = req_id;
    m.u.request.n = 1;
    m.u.request.e[0].chunk = 0;
    m.u.request.e[0].mask = fb_chunk_full_mask(fb_chunk_len(&w->map, 0));
    size_t before = w->n_pkts;
    ns_feed(w, a, &b->addr, &m);
    uint8_t type = 0;
    for (size_t i = before; i < w->n_pkts && !type; i++) {
        fb_wire_msg r;
        if (!fb_addr_eq(&w->pkts[i].to, &b->addr) ||
            fb_wire_decode(w->pkts[i].data, w->pkts[i].len, &r) != 0)
            continue;
        if ((r.type == FB_MSG_BUSY && r.u.busy.req_id == req_id) ||
            (r.type == FB_MSG_QUEUED && r.u.queued.req_id == req_id) ||
            (r.type == FB_MSG_DATA && r.u.data.req_id == req_id))
            type = r.type;
    }
    return type;
}

/* ns_run's stop condition: every live visitor that does not corrupt what it serves has
 * completed its page. */
static inline bool ns_all_complete(ns_world *w)
{
    for (int i = 0; i < w->n; i++)
        if (!w->node[i].seed && w->node[i].alive && !w->node[i].corrupt && !w->node[i].completes)
            return false;
    return true;
}

static void ns_tick(ns_node *n)
{
    if (!n->alive)
        return;
    n->wake = fb_engine_tick(n->e, n->w->now);
    /* Supply origin requests at once (a test host with the whole page at hand). */
    while (n->auto_supply && n->n_origin_queue) {
        uint32_t c = n->origin_queue[--n->n_origin_queue];
        uint32_t len;
        uint64_t off = ns_chunk_off(n->w, c, &len);
        fb_engine_supply(n->e, n->swarm, c, n->w->page + off, len, n->w->now);
        n->wake = fb_engine_tick(n->e, n->w->now);
    }
}

/* Runs until `until` (us) or until done(w) is true. Returns the final time. */
static uint64_t ns_run(ns_world *w, uint64_t until, bool (*done)(ns_world *))
{
    while (w->now < until) {
        if (done && done(w))
            break;
        uint64_t t = until;
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < w->n_pkts; i++)
            if (w->pkts[i].t < t || (best == SIZE_MAX && w->pkts[i].t == t)) {
                t = w->pkts[i].t;
                best = i;
            }
        for (int i = 0; i < w->n; i++)
            if (w->node[i].alive && w->node[i].wake < t) {
                t = w->node[i].wake;
                best = SIZE_MAX;
            }
        if (t > w->now)
            w->now = t;
        if (best != SIZE_MAX && w->pkts[best].t <= w->now) {
            ns_pkt p = w->pkts[best];
            w->pkts[best] = w->pkts[--w->n_pkts];
            ns_node *to = ns_by_addr(w, &p.to);
            if (to && to->alive) {
                fb_engine_input(to->e, &p.from, p.data, p.len, w->now);
                ns_tick(to);
            }
        }
        for (int i = 0; i < w->n; i++)
            if (w->node[i].alive && w->node[i].wake <= w->now)
                ns_tick(&w->node[i]);
    }
    return w->now;
}

static void ns_free(ns_world *w)
{
    for (int i = 0; i < w->n; i++) {
        fb_engine_free(w->node[i].e);
        free(w->node[i].store);
        free(w->node[i].held);
    }
    free(w->pkts);
    free(w->page);
}

#endif
