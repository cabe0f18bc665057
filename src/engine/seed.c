/* The seed role: tracker and rendezvous (peers validated by an echoed token, kept in a capped
 * table with an address index), introductions (each side learns the other's observed address,
 * plus local addresses when both sit behind the same public address), and the seed's choice of
 * chunk for a request (the one handed out least: super-seeding). Serving itself is upload.c,
 * paced by the upload cap (docs/PROTOCOL.md, "Seed state machine"). */
#include "engine/internal.h"

#define FRESH_US (30000 * T_MS) /* only peers heard from within this are introduced */
#define SWEEP_US (1000 * T_MS)  /* expired peers are looked for at most this often */

/* Counts one more event in the window of JOIN_WINDOW_US that `start` began (a new window if that
 * one is over); returns the count in the window. */
static uint32_t window_count(uint64_t now, uint64_t *start, uint32_t *n)
{
    if (now - *start >= JOIN_WINDOW_US) {
        *start = now;
        *n = 0;
    }
    return ++*n;
}

/* True while the joins of the current window cost less than the bucket's depth (an uncapped
 * seed always has room). Counts this join. */
static bool join_room(fb_engine *e, fb_swarm *s)
{
    uint32_t n = window_count(e->now, &s->tok_win_us, &s->tok_win_n);
    return !e->bucket.rate || (uint64_t)n * JOIN_COST <= e->bucket.depth;
}

int fb_seed_swarm_init(fb_engine *e, fb_swarm *s)
{
    uint32_t cap = e->cfg.max_tracked_peers;
    uint32_t size = 1;
    while (size < 2 * cap)
        size <<= 1;
    s->tp = calloc(cap ? cap : 1, sizeof(fb_tracked));
    s->tp_idx = calloc(size, sizeof(uint32_t));
    s->served = calloc(s->n_chunks ? s->n_chunks : 1, sizeof(uint32_t));
    if (!s->tp || !s->tp_idx || !s->served)
        return FB_ENOMEM;
    s->tp_mask = size - 1;
    s->complete = true;
    s->have = s->n_chunks;
    s->expire_next_us = UINT64_MAX; /* no tracked peer to expire yet (track() arms it) */
    return 0;
}

static uint32_t slot_of(const fb_swarm *s, const fb_addr *a)
{
    return fb_addr_hash(a, 0x5eed) & s->tp_mask;
}

fb_tracked *fb_seed_find(fb_swarm *s, const fb_addr *a)
{
    if (!s->tp_idx)
        return NULL;
    for (uint32_t i = slot_of(s, a);; i = (i + 1) & s->tp_mask) {
        uint32_t v = s->tp_idx[i];
        if (!v)
            return NULL;
        if (fb_addr_eq(&s->tp[v - 1].addr, a))
            return &s->tp[v - 1];
    }
}

/* Index slot holding tracked entry k (which must be present). */
static uint32_t idx_slot(const fb_swarm *s, uint32_t k)
{
    uint32_t i = slot_of(s, &s->tp[k].addr);
    while (s->tp_idx[i] != k + 1)
        i = (i + 1) & s->tp_mask;
    return i;
}

/* Removes tracked entry k: backward-shift deletion in the index, then the last entry moves
 * into k's place. */
static void tracked_remove(fb_engine *e, fb_swarm *s, uint32_t k)
{
    uint32_t i = idx_slot(s, k);
    s->tp_idx[i] = 0;
    for (uint32_t j = (i + 1) & s->tp_mask; s->tp_idx[j]; j = (j + 1) & s->tp_mask) {
        uint32_t home = slot_of(s, &s->tp[s->tp_idx[j] - 1].addr);
        /* Move j back to the hole i if its home does not lie cyclically in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            s->tp_idx[i] = s->tp_idx[j];
            s->tp_idx[j] = 0;
            i = j;
        }
    }
    uint32_t last = s->n_tp - 1;
    if (k != last) {
        s->tp_idx[idx_slot(s, last)] = k + 1;
        s->tp[k] = s->tp[last];
    }
    s->n_tp--;
    e->st.tracked_peers--;
}

static fb_tracked *tracked_add(fb_engine *e, fb_swarm *s, const fb_addr *a)
{
    if (s->n_tp >= e->cfg.max_tracked_peers) {
        if (!s->n_tp)
            return NULL;
        /* Full: evict the stalest of four random entries. */
        uint32_t victim = fb_eng_rand32(e) % s->n_tp;
        for (int k = 0; k < 3; k++) {
            uint32_t j = fb_eng_rand32(e) % s->n_tp;
            if (s->tp[j].last_seen_us < s->tp[victim].last_seen_us)
                victim = j;
        }
        tracked_remove(e, s, victim);
        e->st.dropped_cap++;
    }
    uint32_t k = s->n_tp++;
    fb_tracked *t = &s->tp[k];
    memset(t, 0, sizeof(*t));
    t->addr = *a;
    uint32_t i = slot_of(s, a);
    while (s->tp_idx[i])
        i = (i + 1) & s->tp_mask;
    s->tp_idx[i] = k + 1;
    e->st.tracked_peers++;
    if (s->expire_next_us > e->now + TRACK_EXPIRE_US) {
        s->expire_next_us = e->now + TRACK_EXPIRE_US;
        fb_eng_arm(e, s->expire_next_us);
    }
    return t;
}

/* Forgets tracked entry k: its queued requests are cancelled, then it leaves the table (the
 * last entry moves into k). */
static void forget(fb_engine *e, fb_swarm *s, uint32_t k)
{
    int si = fb_eng_swarm_index(e, s);
    fb_addr a = s->tp[k].addr;
    for (uint32_t i = 0; i < e->n_up; i++)
        if (e->up[i].state != UP_FREE && e->up[i].swarm == si && fb_addr_eq(&e->up[i].to, &a))
            fb_up_cancel(e, si, NB_NONE, &a, e->up[i].req_id);
    tracked_remove(e, s, k);
}

uint64_t fb_seed_tick(fb_engine *e, fb_swarm *s)
{
    if (e->now < s->expire_next_us)
        return s->expire_next_us;
    /* Live peers re-JOIN every JOIN_REFRESH_US (a keepalive for us and their NAT); one silent
     * for TRACK_EXPIRE_US is gone. The next sweep is due when the stalest one would expire. */
    uint64_t oldest = UINT64_MAX;
    for (uint32_t k = 0; k < s->n_tp;) {
        if (e->now - s->tp[k].last_seen_us >= TRACK_EXPIRE_US) {
            forget(e, s, k);
            continue;
        }
        oldest = FB_MIN(oldest, s->tp[k].last_seen_us);
        k++;
    }
    s->expire_next_us =
        oldest == UINT64_MAX ? UINT64_MAX : FB_MAX(oldest + TRACK_EXPIRE_US, e->now + SWEEP_US);
    return s->expire_next_us;
}

static bool same_ip(const fb_addr *a, const fb_addr *b)
{
    return a->family == b->family && memcmp(a->ip, b->ip, 16) == 0;
}

/* The addresses of t to give to `to`: observed first, local ones too when both share a
 * public address (then they are behind the same NAT and may not reach each other through it). */
static void entry_of(const fb_tracked *t, const fb_tracked *to, fb_wire_peer *p)
{
    p->n = 1;
    p->addr[0] = t->addr;
    if (same_ip(&t->addr, &to->addr))
        for (uint8_t i = 0; i < t->n_local && p->n < FB_WIRE_MAX_ADDRS; i++)
            p->addr[p->n++] = t->local[i];
}

/* Does the JOIN's echo validate `from`: our TOKEN's (address and port), or an address token
 * (fb_engine_address_token: the address alone, its host proved it)? */
static bool join_valid(fb_engine *e, const fb_addr *from, const fb_wire_msg *m)
{
    if (fb_token_check(&e->key, from, TOKEN_TAG_JOIN, e->now, m->u.join.echo))
        return true;
    fb_addr ip = *from;
    ip.port = 0;
    return fb_token_check(&e->key, &ip, TOKEN_TAG_ADDR, e->now, m->u.join.echo);
}

bool fb_seed_join_burst(const fb_engine *e, const fb_swarm *s)
{
    return s->join_win_n >= JOIN_BURST && e->now - s->join_win_us < JOIN_WINDOW_US;
}

static void on_join(fb_engine *e, fb_swarm *s, const fb_addr *from, const fb_wire_msg *m)
{
    if (!join_valid(e, from, m)) {
        /* Not validated: only a token, smaller than the JOIN itself. */
        fb_wire_msg r;
        memset(&r, 0, sizeof(r));
        r.type = FB_MSG_TOKEN;
        fb_token_make(&e->key, from, TOKEN_TAG_JOIN, e->now, r.u.token.token);
        r.u.token.observed = *from;
        if (join_room(e, s))
            r.u.token.flags = FB_TOKEN_REQUEST;
        e->st.dropped_unvalidated++;
        fb_eng_send_msg(e, s, from, &r);
        return;
    }
    fb_tracked *t = fb_seed_find(s, from);
    bool fresh_join = !t;
    if (!t) {
        t = tracked_add(e, s, from);
        if (!t)
            return;
    }
    t->last_seen_us = e->now;
    t->complete = m->u.join.flags & FB_JOIN_COMPLETE;
    memcpy(t->node, m->u.join.node, FB_NODE_LEN);
    t->n_local = m->u.join.n_local;
    memcpy(t->local, m->u.join.local, sizeof(fb_addr) * t->n_local);
    if (fresh_join) {
        e->st.joins++;
        window_count(e->now, &s->join_win_us, &s->join_win_n);
    }
    uint32_t want = m->u.join.want;
    /* In a join burst the seed's uplink is the crowd's only source, and each peer named costs
     * it about 60 bytes (the entry, and the introduction to that peer): JOIN_BURST_PEERS then.
     * The joiner is in turn named to about as many later joiners, and its thin JOINs and
     * referrals find more. At N = 4096 the answers and introductions were 686 KB of the seed's
     * first 0.2 s (55 ms of its uplink), ahead of any data. */
    if (want > JOIN_BURST_PEERS && fb_seed_join_burst(e, s))
        want = JOIN_BURST_PEERS;
    fb_wire_msg out, intro;
    memset(&out, 0, sizeof(out));
    memset(&intro, 0, sizeof(intro));
    out.type = FB_MSG_PEERS;
    out.u.peers.flags = FB_PEERS_TICKET;
    intro.type = FB_MSG_PEERS;
    intro.u.peers.flags = FB_PEERS_INTRO | FB_PEERS_TICKET;
    intro.u.peers.count = 1;
    uint32_t picked[FB_WIRE_MAX_PEERS];
    uint32_t self = (uint32_t)(t - s->tp);
    for (uint32_t tries = 0; out.u.peers.count < want && tries < 4 * want && s->n_tp > 1; tries++) {
        uint32_t k = fb_eng_rand32(e) % s->n_tp;
        fb_tracked *p = &s->tp[k];
        if (k == self || e->now - p->last_seen_us > FRESH_US)
            continue;
        if (memcmp(p->node, t->node, FB_NODE_LEN) == 0)
            continue;
        bool dup = false;
        for (uint32_t j = 0; j < out.u.peers.count; j++)
            dup |= picked[j] == k;
        if (dup)
            continue;
        picked[out.u.peers.count] = k;
        fb_wire_peer *o = &out.u.peers.peer[out.u.peers.count++];
        entry_of(p, t, o);
        /* The pair's ticket: both sides get it, and each takes the other's HELLO that echoes
         * it as validated (we validated both addresses). */
        fb_eng_randbytes(e, o->ticket, FB_TICKET_LEN);
    }
    /* Answer every JOIN that wants peers, even with none yet: the PEERS tells the peer it
     * is tracked (and may request chunks). A JOIN with want 0 is a keepalive. */
    if (want)
        fb_eng_send_msg(e, s, from, &out);
    /* Introduce the joiner to each, so both sides punch (a complete peer that lingers is told
     * too: it uploads). Only while the control queue is under half full: in a burst of joins
     * the answers to the joiners come first (a lost one costs a JOIN timeout, a lost
     * introduction only a direct path through a NAT, which the joiner's HELLO may open). */
    for (uint32_t j = 0; j < out.u.peers.count && fb_eng_ctrl_room(e); j++) {
        fb_tracked *p = &s->tp[picked[j]];
        entry_of(t, p, &intro.u.peers.peer[0]);
        memcpy(intro.u.peers.peer[0].ticket, out.u.peers.peer[j].ticket, FB_TICKET_LEN);
        fb_eng_send_msg(e, s, &p->addr, &intro);
        e->st.introductions++;
    }
}

uint32_t fb_seed_choose(fb_engine *e, fb_swarm *s, const fb_wire_msg *m)
{
    uint32_t start = s->n_chunks ? fb_eng_rand32(e) % s->n_chunks : 0;
    uint32_t c = fb_pick_least_served(s->served, s->n_chunks, m->u.request.iv, m->u.request.iv_len,
                                      start, 4096);
    if (c != FB_CHUNK_NONE)
        s->served[c]++;
    return c;
}

void fb_seed_input(fb_engine *e, fb_swarm *s, const fb_addr *from, const fb_wire_msg *m, size_t len)
{
    (void)len;
    if (m->type == FB_MSG_JOIN) {
        on_join(e, s, from, m);
        return;
    }
    fb_tracked *t = fb_seed_find(s, from);
    if (!t) {
        e->st.dropped_unvalidated++;
        return;
    }
    t->last_seen_us = e->now;
    switch (m->type) {
    case FB_MSG_REQUEST:
        fb_up_request(e, s, NULL, t, from, m);
        break;
    case FB_MSG_CANCEL:
        fb_up_cancel(e, fb_eng_swarm_index(e, s), NB_NONE, from, m->u.cancel.req_id);
        break;
    case FB_MSG_BYE:
        forget(e, s, (uint32_t)(t - s->tp));
        break;
    case FB_MSG_PING:
        break;
    default:
        e->st.dropped_unknown++;
        break;
    }
}
