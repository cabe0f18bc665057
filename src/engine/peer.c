/* The peer role's overlay: joining through the seed, candidates and the HELLO handshake with
 * address validation, the neighbour table, referrals, HAVE updates, bans, leaving, and the
 * per-swarm timers (docs/PROTOCOL.md, "Peer state machine"). Data transfer is in download.c
 * (receiving) and upload.c (sending). */
#include "engine/internal.h"

static uint16_t nb_index(const fb_swarm *s, const fb_nb *n)
{
    return (uint16_t)(n - s->nb);
}

fb_nb *fb_peer_nb_find(fb_swarm *s, const fb_addr *a)
{
    uint32_t h = fb_addr_hash(a, 0) | 1; /* never 0, which marks a free slot */
    for (uint32_t i = 0; i < s->n_nb; i++) {
        if (s->nb_hash[i] != h)
            continue;
        fb_nb *n = &s->nb[i];
        if (n->state != NB_FREE && fb_addr_eq(&n->addr, a))
            return n;
    }
    return NULL;
}

void fb_peer_nb_index(fb_swarm *s, fb_nb *n)
{
    s->nb_hash[n - s->nb] = n->state == NB_FREE ? 0 : fb_addr_hash(&n->addr, 0) | 1;
}

bool fb_peer_is_banned(const fb_swarm *s, const fb_addr *a)
{
    for (uint32_t i = 0; i < s->n_ban; i++)
        if (fb_addr_eq(&s->ban[i], a))
            return true;
    return false;
}

static void ban_add(fb_engine *e, fb_swarm *s, const fb_addr *a)
{
    /* A ring: when full, the oldest ban is forgotten. */
    s->ban[s->ban_next] = *a;
    s->ban_next = (s->ban_next + 1) % e->cfg.max_banned;
    if (s->n_ban < e->cfg.max_banned)
        s->n_ban++;
}

static bool is_seed_addr(const fb_swarm *s, const fb_addr *a)
{
    return s->nb[NB_SEED].state != NB_FREE && fb_addr_eq(&s->nb[NB_SEED].addr, a);
}

/* HELLO to `to`. echo: the recipient's token to echo, or NULL. limit: the largest datagram
 * allowed (the 3x rule for an unvalidated recipient). */
static void send_hello(fb_engine *e, fb_swarm *s, const fb_addr *to, const uint8_t *echo,
                       uint8_t flags, size_t limit)
{
    fb_wire_msg m;
    uint8_t iv[FB_WIRE_MAX];
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_HELLO;
    m.u.hello.flags = flags | (s->complete ? FB_HELLO_COMPLETE : 0);
    memcpy(m.u.hello.node, s->node, FB_NODE_LEN);
    fb_token_make(&e->key, to, TOKEN_TAG_HELLO, e->now, m.u.hello.token);
    if (echo)
        memcpy(m.u.hello.echo, echo, FB_TOKEN_LEN);
    m.u.hello.have_count = s->have;
    if (!s->complete) {
        size_t room = FB_MIN(limit, (size_t)FB_WIRE_MAX);
        if (room < FB_WIRE_HELLO_FIXED + 2)
            return;
        int n = fb_ivset_encode(&s->mine_iv, iv, room - FB_WIRE_HELLO_FIXED, 0xffff, NULL);
        if (n < 0)
            return;
        m.u.hello.iv = iv;
        m.u.hello.iv_len = (size_t)n;
    } else if (limit < FB_WIRE_HELLO_FIXED) {
        return;
    }
    fb_eng_send_msg(e, s, to, &m);
}

static void send_join(fb_engine *e, fb_swarm *s, uint8_t want)
{
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_JOIN;
    m.u.join.flags = s->complete ? FB_JOIN_COMPLETE : 0;
    m.u.join.want = want;
    s->join_want = want;
    memcpy(m.u.join.node, s->node, FB_NODE_LEN);
    if (s->seed_token_ok)
        memcpy(m.u.join.echo, s->seed_token, FB_TOKEN_LEN);
    m.u.join.n_local = (uint8_t)e->cfg.n_local_addrs;
    for (uint32_t i = 0; i < e->cfg.n_local_addrs; i++)
        m.u.join.local[i] = e->cfg.local_addrs[i];
    fb_eng_send_msg(e, s, &s->nb[NB_SEED].addr, &m);
    s->nb[NB_SEED].last_tx_us = e->now;
}

static void send_simple(fb_engine *e, fb_swarm *s, const fb_addr *to, uint8_t type, uint8_t arg)
{
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    if (type == FB_MSG_BYE)
        m.u.bye.reason = arg;
    else if (type == FB_MSG_REFER)
        m.u.refer.want = arg;
    fb_eng_send_msg(e, s, to, &m);
}

void fb_peer_join(fb_engine *e, fb_swarm *s, const uint8_t *token)
{
    fb_nb *seed = &s->nb[NB_SEED];
    seed->state = NB_JOINING;
    seed->is_seed = true;
    seed->complete = true;
    seed->hash = fb_addr_hash(&seed->addr, 0);
    seed->burst = FB_BURST_INIT;
    seed->added_us = e->now;
    fb_peer_nb_index(s, seed);
    s->joined = false;
    /* A token from the seed's host (with the manifest) rides on the first JOIN. */
    s->seed_token_ok = token != NULL;
    if (token)
        memcpy(s->seed_token, token, FB_TOKEN_LEN);
    s->join_rto_us = JOIN_RTO_US;
    s->join_next_us = e->now + s->join_rto_us;
    s->last_progress_us = e->now;
    s->seed_last_rx_us = e->now;
    s->rejoin_next_us = e->now + REJOIN_NODATA_US;
    s->rejoin_backoff_us = REJOIN_NODATA_US;
    s->refer_next_us = e->now + REFER_EVERY_US;
    s->stall_check_us = e->now + ORIGIN_STALL_US;
    send_join(e, s, 8);
    fb_eng_arm(e, s->join_next_us);
    /* With an address token the seed validates the JOIN on arrival and tracks us: the first
     * request goes right behind it, a round trip before the PEERS answer (were the token stale,
     * the seed drops the request and answers TOKEN, on_token). */
    if (token) {
        seed->state = NB_ACTIVE;
        fb_dl_pump(e, s, seed);
    }
    /* Empty objects own no chunk: they are complete from the start. */
    int si = fb_eng_swarm_index(e, s);
    for (uint32_t i = 0; i < s->map.n_objects; i++)
        if (s->map.first[i + 1] == s->map.first[i] && !s->empty_done)
            fb_eng_emit(e, FB_EV_OBJECT_COMPLETE, si, i, FB_CHUNK_NONE, FB_SRC_ORIGIN, NULL);
    s->empty_done = true;
}

void fb_peer_leave(fb_engine *e, fb_swarm *s, uint8_t reason)
{
    for (uint32_t i = 0; i < s->n_nb; i++) {
        fb_nb *n = &s->nb[i];
        if (n->state == NB_FREE)
            continue;
        if (n->state == NB_ACTIVE || n->is_seed)
            send_simple(e, s, &n->addr, FB_MSG_BYE, reason);
        fb_dl_release_nb(e, s, n);
        fb_up_drop_nb(e, fb_eng_swarm_index(e, s), (uint16_t)i);
        if (!n->is_seed)
            e->st.neighbours--;
        n->state = NB_FREE;
        fb_peer_nb_index(s, n);
    }
    s->n_active = 0;
    s->state = SW_LEFT;
}

/* The echo of our HELLO to candidate c: the seed's ticket for the pair (then zeros), or none. */
static const uint8_t *cand_echo(const fb_cand *c, uint8_t buf[FB_TOKEN_LEN])
{
    if (!c->has_ticket)
        return NULL;
    memset(buf, 0, FB_TOKEN_LEN);
    memcpy(buf, c->ticket, FB_TICKET_LEN);
    return buf;
}

static void cand_hello(fb_engine *e, fb_swarm *s, const fb_cand *c)
{
    uint8_t echo[FB_TOKEN_LEN];
    for (uint8_t k = 0; k < c->n; k++)
        send_hello(e, s, &c->addr[k], cand_echo(c, echo), 0, FB_WIRE_MAX);
}

/* Adds a candidate and says HELLO to each of its addresses. ticket: the seed's introduction
 * ticket for the pair, or NULL. */
static void cand_add(fb_engine *e, fb_swarm *s, const fb_wire_peer *p, const uint8_t *ticket)
{
    for (uint8_t k = 0; k < p->n; k++)
        if (fb_peer_is_banned(s, &p->addr[k]) || fb_peer_nb_find(s, &p->addr[k]) ||
            is_seed_addr(s, &p->addr[k]))
            return;
    fb_cand *free_c = NULL;
    for (uint32_t i = 0; i < e->cfg.max_candidates; i++) {
        fb_cand *c = &s->cand[i];
        if (!c->used) {
            if (!free_c)
                free_c = c;
            continue;
        }
        if (fb_addr_eq(&c->addr[0], &p->addr[0])) { /* known: just try again now */
            if (ticket) {
                c->has_ticket = true;
                memcpy(c->ticket, ticket, FB_TICKET_LEN);
            }
            c->tries = 0;
            c->sent_us = 0;
            c->next_us = e->now;
            fb_eng_arm(e, e->now);
            return;
        }
    }
    if (!free_c) {
        e->st.dropped_cap++;
        return;
    }
    free_c->used = true;
    free_c->n = p->n;
    memcpy(free_c->addr, p->addr, sizeof(fb_addr) * p->n);
    free_c->tries = 1;
    free_c->next_us = e->now + HELLO_RTO_US;
    free_c->sent_us = e->now;
    free_c->has_ticket = ticket != NULL;
    if (ticket)
        memcpy(free_c->ticket, ticket, FB_TICKET_LEN);
    cand_hello(e, s, free_c);
    fb_eng_arm(e, free_c->next_us);
}

/* Forgets the candidate with address a; returns when we first said HELLO to it, 0 if that
 * HELLO was repeated since or there is no such candidate. */
static uint64_t cand_drop_addr(fb_engine *e, fb_swarm *s, const fb_addr *a)
{
    for (uint32_t i = 0; i < e->cfg.max_candidates; i++) {
        fb_cand *c = &s->cand[i];
        if (!c->used)
            continue;
        for (uint8_t k = 0; k < c->n; k++)
            if (fb_addr_eq(&c->addr[k], a)) {
                c->used = false;
                return c->sent_us;
            }
    }
    return 0;
}

/* Does `echo` carry the seed's ticket of the candidate whose observed address is `from`? The
 * seed sent it only to that address and ours, both of which it validated. */
static bool ticket_valid(const fb_engine *e, const fb_swarm *s, const fb_addr *from,
                         const uint8_t echo[FB_TOKEN_LEN])
{
    for (uint32_t i = 0; i < e->cfg.max_candidates; i++) {
        const fb_cand *c = &s->cand[i];
        if (!c->used || !c->has_ticket || !fb_addr_eq(&c->addr[0], from))
            continue;
        uint8_t d = 0, any = 0; /* constant time, like a token's check */
        for (int k = 0; k < FB_TICKET_LEN; k++) {
            d |= echo[k] ^ c->ticket[k];
            any |= echo[k];
        }
        for (int k = FB_TICKET_LEN; k < FB_TOKEN_LEN; k++)
            d |= echo[k];
        return d == 0 && any != 0;
    }
    return false;
}

/* Handshakes under way (candidates not yet answered). */
static uint32_t cand_pending(const fb_engine *e, const fb_swarm *s)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < e->cfg.max_candidates; i++)
        k += s->cand[i].used;
    return k;
}

static uint64_t cand_tick(fb_engine *e, fb_swarm *s)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < e->cfg.max_candidates; i++) {
        fb_cand *c = &s->cand[i];
        if (!c->used)
            continue;
        if (c->next_us <= e->now) {
            if (c->tries >= HELLO_TRIES || s->n_active >= e->cfg.max_neighbours) {
                c->used = false;
                continue;
            }
            cand_hello(e, s, c);
            c->sent_us = 0;
            c->next_us = e->now + (HELLO_RTO_US << c->tries);
            c->tries++;
        }
        next = FB_MIN(next, c->next_us);
    }
    return next;
}

/* Marks chunk c held by neighbour n (rarity bookkeeping). */
static void nb_has(fb_swarm *s, fb_nb *n, uint32_t c)
{
    if (fb_bit_get(n->have, c))
        return;
    fb_bit_set(n->have, c);
    n->have_count++;
    if (s->avail[c] < UINT16_MAX)
        s->avail[c]++;
    if (n->have_count == s->n_chunks)
        n->complete = true;
}

void fb_peer_nb_has(fb_swarm *s, fb_nb *n, uint32_t c)
{
    if (c < s->n_chunks && !n->is_seed)
        nb_has(s, n, c);
}

/* Applies an interval list (validated by the decoder) to n's holdings. Returns false if it
 * names chunks past the end of the page. */
static bool nb_apply_iv(fb_swarm *s, fb_nb *n, const uint8_t *iv, size_t iv_len)
{
    fb_ivwire w;
    uint32_t a, b;
    if (fb_ivwire_check(iv, iv_len, s->n_chunks) < 0)
        return false;
    fb_ivwire_begin(&w, iv, iv_len);
    while (fb_ivwire_next(&w, &a, &b))
        for (uint32_t c = a; c < b; c++)
            nb_has(s, n, c);
    return true;
}

static void nb_set_complete(fb_swarm *s, fb_nb *n)
{
    for (uint32_t c = 0; c < s->n_chunks; c++)
        nb_has(s, n, c);
    n->complete = true;
}

void fb_peer_nb_remove(fb_engine *e, fb_swarm *s, fb_nb *n, bool banned)
{
    if (n->state == NB_FREE || n->is_seed)
        return;
    uint16_t idx = nb_index(s, n);
    fb_addr addr = n->addr;
    fb_dl_release_nb(e, s, n);
    if (s->have + FINISH_CHUNKS(s->n_chunks) >= s->n_chunks)
        fb_eng_arm(e, e->now); /* a finisher asks the others (the seed) for its chunks at once */
    else if (s->refer_next_us > e->now + REFER_LOST_US) {
        /* A neighbour lost halfway: look for another soon (the page may take less than a second).
         */
        s->refer_next_us = e->now + REFER_LOST_US;
        fb_eng_arm(e, s->refer_next_us);
    }
    fb_up_drop_nb(e, fb_eng_swarm_index(e, s), idx);
    for (uint32_t w = 0; w < s->n_words; w++) {
        uint64_t bits = n->have[w];
        while (bits) {
            uint32_t c = w * 64 + (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            if (s->avail[c])
                s->avail[c]--;
        }
        n->have[w] = 0;
    }
    uint64_t *have = n->have;
    bool was_active = n->state == NB_ACTIVE;
    memset(n, 0, sizeof(*n));
    n->have = have;
    fb_peer_nb_index(s, n);
    if (was_active) {
        s->n_active--;
        e->st.neighbours--;
    }
    if (banned) {
        ban_add(e, s, &addr);
        e->st.bans++;
        fb_eng_emit(e, FB_EV_PEER_BANNED, fb_eng_swarm_index(e, s), 0, 0, 0, &addr);
    } else {
        fb_eng_emit(e, FB_EV_PEER_REMOVED, fb_eng_swarm_index(e, s), 0, 0, 0, &addr);
    }
}

static bool node_known(const fb_swarm *s, const uint8_t *node)
{
    for (uint32_t i = 1; i < s->n_nb; i++)
        if (s->nb[i].state == NB_ACTIVE && memcmp(s->nb[i].node, node, FB_NODE_LEN) == 0)
            return true;
    return false;
}

/* The handshake's round trip: our first HELLO (sent at `sent`, 0: repeated, not to measure) to
 * the answer that echoes our token, now. */
static void hs_sample(fb_engine *e, fb_swarm *s, uint64_t sent)
{
    if (sent && e->now > sent)
        fb_rtt_sample(&s->hs_rtt, (uint32_t)FB_MIN(e->now - sent, (uint64_t)UINT32_MAX));
}

/* Adds the sender of HELLO m as a neighbour. ticket: validated by the seed's ticket (its HELLO
 * crossed ours: the answer to ours, later, measures the round trip). */
static fb_nb *nb_add(fb_engine *e, fb_swarm *s, const fb_addr *a, const fb_wire_msg *m, bool ticket)
{
    fb_nb *n = NULL;
    for (uint32_t i = 1; i < s->n_nb && !n; i++)
        if (s->nb[i].state == NB_FREE)
            n = &s->nb[i];
    if (!n || s->n_active >= e->cfg.max_neighbours) {
        e->st.dropped_cap++;
        return NULL;
    }
    uint64_t *have = n->have;
    memset(n, 0, sizeof(*n));
    n->have = have;
    n->state = NB_ACTIVE;
    n->addr = *a;
    n->hash = fb_addr_hash(a, 0);
    fb_peer_nb_index(s, n);
    memcpy(n->node, m->u.hello.node, FB_NODE_LEN);
    memcpy(n->their_token, m->u.hello.token, FB_TOKEN_LEN);
    n->burst = FB_BURST_INIT;
    n->added_us = e->now;
    n->ann = s->have - s->n_fresh; /* the next HAVE tells it of the chunks since the last */
    n->last_rx_us = e->now;
    n->last_tx_us = e->now;
    n->gap_us = 20000;
    s->n_active++;
    s->had_nb = true;
    e->st.neighbours++;
    /* Our HELLO's answer: a round trip of control datagrams, no data queued on the way. */
    uint64_t sent = cand_drop_addr(e, s, a);
    if (ticket)
        n->hs_sent_us = sent;
    else
        hs_sample(e, s, sent);
    fb_eng_emit(e, FB_EV_PEER_ADDED, fb_eng_swarm_index(e, s), 0, 0, 0, a);
    return n;
}

/* The slot of `a` among the handshakes we refused lately, or -1. */
static int refused_find(const fb_swarm *s, const fb_addr *a)
{
    for (int i = 0; i < (int)FB_ARRAY_LEN(s->refused); i++)
        if (s->refused[i].family && fb_addr_eq(&s->refused[i], a))
            return i;
    return -1;
}

static void on_hello(fb_engine *e, fb_swarm *s, const fb_addr *from, const fb_wire_msg *m,
                     size_t len)
{
    if (fb_peer_is_banned(s, from) || is_seed_addr(s, from)) {
        e->st.dropped_unknown++;
        return;
    }
    if (memcmp(m->u.hello.node, s->node, FB_NODE_LEN) == 0)
        return; /* ourselves, through some address of ours */
    if (!(m->u.hello.flags & FB_HELLO_COMPLETE) &&
        fb_ivwire_check(m->u.hello.iv, m->u.hello.iv_len, s->n_chunks) < 0) {
        e->st.dropped_invalid++; /* names chunks past the page, as a HAVE or a DATA would */
        return;
    }
    bool valid = fb_token_check(&e->key, from, TOKEN_TAG_HELLO, e->now, m->u.hello.echo);
    fb_nb *n = fb_peer_nb_find(s, from);
    if (n && valid && n->hs_sent_us) {
        /* The answer to our first HELLO, of a neighbour we added on the seed's ticket. */
        hs_sample(e, s, n->hs_sent_us);
        n->hs_sent_us = 0;
    }
    /* Introduced by the seed: a HELLO echoing its ticket is validated as ours would be (the
     * handshake a round trip shorter). */
    bool ticket = !valid && !n && ticket_valid(e, s, from, m->u.hello.echo);
    valid |= ticket;
    if (!n && s->draining) {
        /* Complete and leaving: a new neighbour would ask us for chunks we will not send
         * and wait a timeout for them. */
        send_simple(e, s, from, FB_MSG_BYE, FB_BYE_DONE);
        return;
    }
    if (!n && !valid) {
        /* Stateless answer, at most 3x the bytes received: our token to echo, theirs echoed. */
        if (s->n_active >= e->cfg.max_neighbours) {
            /* Full: say so in 11 bytes, so it stops trying (less than it sent: no amplification).
             */
            e->st.dropped_cap++;
            send_simple(e, s, from, FB_MSG_BYE, FB_BYE_REFUSED);
            return;
        }
        int r = refused_find(s, from);
        if (r >= 0)
            s->refused[r].family = 0; /* a new handshake */
        send_hello(e, s, from, m->u.hello.token, 0, 3 * len);
        return;
    }
    if (!n) {
        if (node_known(s, m->u.hello.node))
            return; /* the same peer through another address: keep the first path */
        /* Step 4 from a peer we refused at step 3: it sent this before our BYE reached it,
         * and has dropped us since. */
        bool refused = (m->u.hello.flags & FB_HELLO_VALIDATED) && refused_find(s, from) >= 0;
        n = refused ? NULL : nb_add(e, s, from, m, ticket);
        if (!n) {
            /* Full: say so, or the other side, which may have added us already, would count
             * us as a neighbour that never sends it anything. */
            send_simple(e, s, from, FB_MSG_BYE, FB_BYE_REFUSED);
            if (!refused)
                s->refused[s->refused_next++ % FB_ARRAY_LEN(s->refused)] = *from;
            return;
        }
    }
    n->last_rx_us = e->now;
    memcpy(n->their_token, m->u.hello.token, FB_TOKEN_LEN);
    if (m->u.hello.flags & FB_HELLO_COMPLETE) {
        if (!n->complete)
            nb_set_complete(s, n);
    } else {
        nb_apply_iv(s, n, m->u.hello.iv, m->u.hello.iv_len); /* checked above */
    }
    if (!(m->u.hello.flags & FB_HELLO_VALIDATED))
        send_hello(e, s, from, m->u.hello.token, FB_HELLO_VALIDATED, FB_WIRE_MAX);
    fb_dl_pump(e, s, n);
}

static void on_peers(fb_engine *e, fb_swarm *s, const fb_addr *from, const fb_wire_msg *m)
{
    bool from_seed = is_seed_addr(s, from);
    fb_nb *n = from_seed ? NULL : fb_peer_nb_find(s, from);
    if (!from_seed && (!n || n->state != NB_ACTIVE)) {
        e->st.dropped_unknown++;
        return;
    }
    if (from_seed) {
        s->seed_last_rx_us = e->now;
        if (!s->joined) {
            s->joined = true;
            s->nb[NB_SEED].state = NB_ACTIVE;
            s->join_refresh_us = e->now + JOIN_REFRESH_US;
            fb_eng_arm(e, s->join_refresh_us);
            fb_dl_pump(e, s, &s->nb[NB_SEED]);
        }
    } else {
        n->last_rx_us = e->now;
    }
    /* A complete peer that will leave looks for no new neighbours, but while it lingers it
     * still answers an introduction: the newcomer behind a NAT can reach it only if it punches
     * back. A draining one would refuse the newcomer's answer (on_hello): it answers none. */
    if (s->state != SW_ACTIVE || s->draining ||
        (s->complete && s->leave_at_us != UINT64_MAX && !(m->u.peers.flags & FB_PEERS_INTRO)))
        return;
    /* Tickets count only from the seed: a neighbour's referral validated nobody. */
    bool tickets = from_seed && (m->u.peers.flags & FB_PEERS_TICKET);
    for (uint8_t i = 0; i < m->u.peers.count; i++)
        cand_add(e, s, &m->u.peers.peer[i], tickets ? m->u.peers.peer[i].ticket : NULL);
}

static void on_token(fb_engine *e, fb_swarm *s, const fb_addr *from, const fb_wire_msg *m)
{
    if (!is_seed_addr(s, from)) {
        e->st.dropped_unknown++;
        return;
    }
    s->seed_last_rx_us = e->now;
    /* Answer at most one TOKEN per half JOIN timeout, so forged TOKENs cannot make us
     * hammer the seed. */
    bool fresh = memcmp(s->seed_token, m->u.token.token, FB_TOKEN_LEN) != 0;
    if (!fresh && e->now - s->nb[NB_SEED].last_tx_us < JOIN_RTO_US / 2)
        return;
    memcpy(s->seed_token, m->u.token.token, FB_TOKEN_LEN);
    s->seed_token_ok = true;
    /* The JOIN it answers, again with the echo: a keepalive stays a keepalive (want 0) when
     * our token expired, rather than asking for peers we do not need. */
    send_join(e, s, s->joined ? s->join_want : 8);
    s->join_next_us = e->now + s->join_rto_us;
    fb_eng_arm(e, s->join_next_us);
    if (!s->joined) {
        /* Our JOIN was not validated: a request that followed it (an address token's) was
         * dropped unread, not queued. Invited (the seed has room), the first request follows
         * this JOIN, a round trip before the PEERS answer (the seed tracks us once the JOIN
         * arrives, just before it). */
        fb_nb *seed = &s->nb[NB_SEED];
        fb_dl_release_nb(e, s, seed);
        seed->state = (m->u.token.flags & FB_TOKEN_REQUEST) ? NB_ACTIVE : NB_JOINING;
        fb_dl_pump(e, s, seed);
    }
}

static void on_have(fb_engine *e, fb_swarm *s, fb_nb *n, const fb_wire_msg *m)
{
    if (!nb_apply_iv(s, n, m->u.have.iv, m->u.have.iv_len)) {
        e->st.dropped_invalid++;
        return;
    }
    fb_dl_pump(e, s, n);
}

/* A referral: a random pick among our most recently used neighbours (up to 8 of them); we tell
 * both sides about each other, since only we hold NAT bindings with both. */
static void on_refer(fb_engine *e, fb_swarm *s, fb_nb *req, const fb_wire_msg *m)
{
    uint16_t mru[8];
    uint32_t k = 0;
    for (uint32_t i = 1; i < s->n_nb; i++) {
        fb_nb *n = &s->nb[i];
        if (n->state != NB_ACTIVE || n == req)
            continue;
        /* Insert by last use, most recent first, keeping the top 8. */
        uint32_t pos = k < 8 ? k : 8;
        while (pos > 0 && s->nb[mru[pos - 1]].last_used_us < n->last_used_us)
            pos--;
        if (pos >= 8)
            continue;
        uint32_t end = k < 8 ? k : 7;
        for (uint32_t j = end; j > pos; j--)
            mru[j] = mru[j - 1];
        mru[pos] = (uint16_t)i;
        if (k < 8)
            k++;
    }
    if (!k)
        return;
    fb_wire_msg out, intro;
    memset(&out, 0, sizeof(out));
    memset(&intro, 0, sizeof(intro));
    out.type = FB_MSG_PEERS;
    intro.type = FB_MSG_PEERS;
    intro.u.peers.flags = FB_PEERS_INTRO;
    intro.u.peers.count = 1;
    intro.u.peers.peer[0].n = 1;
    intro.u.peers.peer[0].addr[0] = req->addr;
    uint32_t want = FB_MIN(m->u.refer.want, k);
    for (uint32_t j = 0; j < want; j++) {
        uint32_t r = j + fb_eng_rand32(e) % (k - j); /* partial Fisher-Yates */
        uint16_t t = mru[r];
        mru[r] = mru[j];
        mru[j] = t;
        fb_nb *p = &s->nb[t];
        out.u.peers.peer[out.u.peers.count].n = 1;
        out.u.peers.peer[out.u.peers.count].addr[0] = p->addr;
        out.u.peers.count++;
        fb_eng_send_msg(e, s, &p->addr, &intro);
    }
    fb_eng_send_msg(e, s, &req->addr, &out);
}

void fb_peer_input(fb_engine *e, fb_swarm *s, const fb_addr *from, const fb_wire_msg *m, size_t len)
{
    switch (m->type) {
    case FB_MSG_HELLO:
        on_hello(e, s, from, m, len);
        return;
    case FB_MSG_PEERS:
        on_peers(e, s, from, m);
        return;
    case FB_MSG_TOKEN:
        on_token(e, s, from, m);
        return;
    default:
        break;
    }
    fb_nb *n = fb_peer_nb_find(s, from);
    if (!n || n->state == NB_FREE) {
        if (m->type == FB_MSG_BYE)
            cand_drop_addr(e, s, from); /* a candidate that is full, or leaving */
        e->st.dropped_unvalidated++;
        return;
    }
    n->last_rx_us = e->now;
    n->heard = true;
    if (n->is_seed) {
        s->seed_last_rx_us = e->now;
        switch (m->type) {
        case FB_MSG_DATA:
            fb_dl_data(e, s, n, m);
            break;
        case FB_MSG_BUSY:
            fb_dl_busy(e, s, n, m);
            break;
        case FB_MSG_QUEUED:
            fb_dl_queued(e, s, n, m);
            break;
        case FB_MSG_BYE: /* the seed dropped us (page gone?): join again later */
            s->joined = false;
            s->seed_token_ok = false;
            n->state = NB_JOINING;
            fb_dl_release_nb(e, s, n);
            s->join_next_us = e->now + s->join_rto_us;
            fb_eng_arm(e, s->join_next_us);
            break;
        default:
            e->st.dropped_unknown++;
            break;
        }
        return;
    }
    switch (m->type) {
    case FB_MSG_HAVE:
        on_have(e, s, n, m);
        break;
    case FB_MSG_REQUEST:
        fb_up_request(e, s, n, NULL, from, m);
        break;
    case FB_MSG_DATA: {
        /* A HAVE riding along first: the pump after the block sees what it says. */
        uint32_t had = n->have_count;
        if (m->u.data.iv && !nb_apply_iv(s, n, m->u.data.iv, m->u.data.iv_len)) {
            e->st.dropped_invalid++;
            break;
        }
        fb_dl_data(e, s, n, m);
        if (n->have_count != had && n->state == NB_ACTIVE)
            fb_dl_pump(e, s, n);
        break;
    }
    case FB_MSG_CANCEL:
        fb_up_cancel(e, fb_eng_swarm_index(e, s), nb_index(s, n), from, m->u.cancel.req_id);
        break;
    case FB_MSG_BUSY:
        fb_dl_busy(e, s, n, m);
        break;
    case FB_MSG_QUEUED:
        fb_dl_queued(e, s, n, m);
        break;
    case FB_MSG_REFER:
        on_refer(e, s, n, m);
        break;
    case FB_MSG_BYE:
        fb_peer_nb_remove(e, s, n, false);
        break;
    case FB_MSG_PING:
        break;
    default:
        e->st.dropped_unknown++;
        break;
    }
}

/* Encodes, into buf (cap bytes), the chunks verified since the last announcement to nb,
 * leaving out the chunk we push to it (the DATA tells it; a HAVE that overtook the DATA would
 * draw a REQUEST for the chunk on its way). Chunks it holds are listed too: its count of ours
 * ranks our requests at its uplink (section 9). Returns the bytes, 0 when there is nothing to
 * say (or, with need_lack, nothing it lacks), or -1 when the list does not fit in cap. */
static int ann_list(fb_swarm *s, fb_nb *nb, uint8_t *buf, size_t cap, bool need_lack)
{
    fb_iv store[64];
    fb_ivset set;
    fb_ivset_init(&set, store, 64);
    uint32_t skip = nb->push_chunk ? nb->push_chunk - 1 : FB_CHUNK_NONE;
    uint64_t count = 0;
    bool lacks = false;
    for (uint32_t k = nb->ann; k < s->have; k++) {
        uint32_t c = s->vlog[k];
        if (c == skip)
            continue;
        lacks |= !fb_bit_get(nb->have, c);
        if (fb_ivset_add(&set, c, c + 1) < 0)
            return -1; /* over 64 intervals: a HAVE's cap */
        count++;
    }
    if (!count || (need_lack && !lacks))
        return 0;
    uint64_t covered = 0;
    int n = fb_ivset_encode(&set, buf, cap, 64, &covered);
    return n > 0 && covered == count ? n : -1;
}

/* Marks everything verified so far as announced to nb. */
static void ann_done(const fb_swarm *s, fb_nb *nb)
{
    nb->ann = s->have;
    nb->push_chunk = 0;
}

size_t fb_peer_have_ride(fb_engine *e, fb_swarm *s, fb_nb *n, uint8_t *buf, size_t cap)
{
    (void)e;
    if (n->ann >= s->have || n->state != NB_ACTIVE || n->is_seed || n->complete)
        return 0;
    int k = ann_list(s, n, buf, cap, false);
    if (k < 0)
        return 0;
    ann_done(s, n);
    return (size_t)k;
}

/* Sends the chunks verified since the last announcement to every neighbour that lacks some (a
 * HAVE riding on DATA may have told it already). */
static void have_flush(fb_engine *e, fb_swarm *s)
{
    if (!s->n_fresh)
        return;
    uint8_t iv[FB_WIRE_MAX];
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_HAVE;
    m.u.have.iv = iv;
    uint64_t bytes = 0;
    for (uint32_t i = 1; i < s->n_nb; i++) {
        fb_nb *nb = &s->nb[i];
        if (nb->state != NB_ACTIVE || nb->complete || nb->ann >= s->have)
            continue;
        int n = ann_list(s, nb, iv, FB_WIRE_MAX - FB_WIRE_HDR, true);
        ann_done(s, nb);
        if (n <= 0)
            continue;
        m.u.have.iv_len = (size_t)n;
        fb_eng_send_msg(e, s, &nb->addr, &m);
        bytes += FB_WIRE_HDR + (uint64_t)n + fb_eng_overhead(e);
        nb->last_tx_us = e->now;
    }
    s->n_fresh = 0;
    /* Early flushes cost at most 1/HAVE_EARLY_SHARE of the pace (a dsl uplink would otherwise
     * spend a third of itself on HAVEs and crowd a competing TCP flow out). */
    uint64_t pace = e->bucket.rate ? e->bucket.rate : 1;
    s->have_early_us = e->now + bytes * HAVE_EARLY_SHARE * 1000000 / pace;
}

void fb_peer_chunk_done(fb_engine *e, fb_swarm *s, uint32_t c, fb_source src, fb_nb *from)
{
    int si = fb_eng_swarm_index(e, s);
    fb_bit_set(s->mine, c);
    fb_ivset_add(&s->mine_iv, c, c + 1); /* cannot fail: the cap covers every pattern */
    s->cs[c] |= CS_HAVE;
    s->cs[c] &= (uint8_t)~CS_ORIGIN;
    if (fb_bit_get(s->want, c)) {
        fb_bit_clear(s->want, c);
        s->n_want--;
    }
    if (s->have < s->n_chunks)
        s->vlog[s->have++] = c;
    s->last_progress_us = e->now;
    if (s->have + FINISH_CHUNKS(s->n_chunks) == s->n_chunks && s->nb[NB_SEED].is_seed) {
        /* A finisher: the seed serves it first and without a queue, so ask it now. */
        fb_nb *sd = &s->nb[NB_SEED];
        sd->busy_until = FB_MIN(sd->busy_until, e->now);
        sd->busy_count = 0;
        sd->backoff_us = 0;
    }
    s->rejoin_backoff_us = REJOIN_NODATA_US;
    s->rejoin_next_us = e->now + REJOIN_NODATA_US;
    uint32_t len = fb_chunk_len(&s->map, c);
    if (src == FB_SRC_PEER)
        e->st.bytes_in_peer += len;
    else if (src == FB_SRC_SEED)
        e->st.bytes_in_seed += len;
    else
        e->st.bytes_in_origin += len;
    if (from)
        from->last_used_us = e->now;
    /* HAVE batching: wait about six chunk arrivals (10 ms to 1 s), so a fast peer tells its
     * neighbours quickly and a slow one does not flood them... */
    if (s->last_verify_us) {
        uint64_t g = FB_MIN(e->now - s->last_verify_us, (uint64_t)HAVE_FLUSH_US);
        s->verify_gap_us = (uint32_t)((3 * (uint64_t)s->verify_gap_us + g) / 4);
    } else {
        s->verify_gap_us = 5 * T_MS; /* the first chunks are announced at once */
    }
    s->last_verify_us = e->now;
    if (!s->n_fresh) {
        uint64_t d = FB_MIN(FB_MAX(6 * (uint64_t)s->verify_gap_us, 10 * T_MS), HAVE_FLUSH_US);
        s->have_flush_us = e->now + d;
        fb_eng_arm(e, s->have_flush_us);
    }
    s->n_fresh++;
    /* An uplink that would idle for a round trip pushes the chunk, unasked, to neighbours that
     * lack it (before the HAVE: its first block leaves first). */
    fb_up_push(e, s, c);
    /* Unless our uplink is about to run dry: then what we have is announced at once, since
     * its requests take a round trip to come. A batch holds 64 chunks at most (a HAVE's cap). */
    if (s->n_fresh >= 64 || (fb_up_backlog_us(e) < HAVE_IDLE_US && e->now >= s->have_early_us))
        have_flush(e, s);
    fb_eng_emit(e, FB_EV_CHUNK_VERIFIED, si, 0, c, src, from ? &from->addr : NULL);
    uint32_t obj;
    if (fb_chunk_locate(&s->map, c, &obj, NULL, NULL) == 0 && s->obj_left[obj] &&
        --s->obj_left[obj] == 0)
        fb_eng_emit(e, FB_EV_OBJECT_COMPLETE, si, obj, c, src, NULL);
    if (s->have == s->n_chunks && !s->complete) {
        s->complete = true;
        have_flush(e, s);
        fb_eng_emit(e, FB_EV_SWARM_COMPLETE, si, 0, 0, src, NULL);
        if (s->state != SW_ACTIVE)
            return; /* the host removed or left the swarm from its event callback */
        uint32_t linger = e->cfg.linger_ms;
        s->leave_at_us =
            linger == FB_LINGER_FOREVER ? UINT64_MAX : e->now + (uint64_t)linger * T_MS;
        if (!linger) {
            /* Leave once the requests already accepted are served (DRAIN_MAX_US at most):
             * cutting them off would waste what their receivers already have of them. */
            s->draining = true;
            s->leave_at_us = e->now + DRAIN_MAX_US;
            s->drain_req_us = e->now;
        }
        fb_eng_arm(e, s->leave_at_us);
        /* Tell the seed we are complete, so it can point newcomers at us. */
        if (s->joined && !s->draining)
            send_join(e, s, 0);
    }
}

/* Asks a random active neighbour for a referral. */
static void refer(fb_engine *e, fb_swarm *s)
{
    if (!s->n_active)
        return;
    uint32_t pick = fb_eng_rand32(e) % s->n_active;
    for (uint32_t i = 1; i < s->n_nb; i++) {
        fb_nb *n = &s->nb[i];
        if (n->state != NB_ACTIVE)
            continue;
        if (pick-- == 0) {
            send_simple(e, s, &n->addr, FB_MSG_REFER, 2);
            n->last_tx_us = e->now;
            return;
        }
    }
}

static uint32_t target_neighbours(const fb_engine *e)
{
    return FB_MIN(e->cfg.max_neighbours, 12u);
}

/* Does some neighbour hold a chunk we still want? */
static bool useful_neighbour(const fb_swarm *s)
{
    for (uint32_t i = 1; i < s->n_nb; i++) {
        const fb_nb *n = &s->nb[i];
        if (n->state != NB_ACTIVE)
            continue;
        for (uint32_t w = 0; w < s->n_words; w++)
            if (n->have[w] & s->want[w])
                return true;
    }
    return false;
}

uint64_t fb_peer_tick(fb_engine *e, fb_swarm *s)
{
    uint64_t now = e->now, next = UINT64_MAX;
    int si = fb_eng_swarm_index(e, s);
    /* Draining: leave when nothing is queued and no request came for DRAIN_IDLE_US (a
     * neighbour still missing chunks is asking), DRAIN_MAX_US at most. */
    if (s->complete && (s->leave_at_us <= now || (s->draining && !fb_up_pending(e, si) &&
                                                  now >= s->drain_req_us + DRAIN_IDLE_US))) {
        fb_peer_leave(e, s, FB_BYE_DONE);
        fb_eng_emit(e, FB_EV_SWARM_LEFT, si, 0, 0, 0, NULL);
        return UINT64_MAX;
    }
    if (s->complete)
        next = FB_MIN(next, s->draining ? FB_MIN(s->leave_at_us, now + 20 * T_MS) : s->leave_at_us);
    fb_nb *seed = &s->nb[NB_SEED];
    if (seed->state != NB_FREE) {
        /* JOIN: retransmit until the seed answers, then refresh now and then. */
        if (!s->joined && now >= s->join_next_us) {
            send_join(e, s, 8);
            s->join_rto_us = FB_MIN(s->join_rto_us * 2, JOIN_RTO_MAX_US);
            s->join_next_us = now + s->join_rto_us;
        }
        if (!s->joined)
            next = FB_MIN(next, s->join_next_us);
        if (s->joined && now >= s->join_refresh_us) {
            send_join(e, s, 0);
            s->join_refresh_us = now + JOIN_REFRESH_US;
        }
        if (s->joined)
            next = FB_MIN(next, s->join_refresh_us);
        /* No new data for a while: the overlay may be partitioned, ask the seed. */
        if (s->joined && !s->complete) {
            if (now - s->last_progress_us >= REJOIN_NODATA_US && now >= s->rejoin_next_us &&
                (s->n_active < target_neighbours(e) || !useful_neighbour(s))) {
                send_join(e, s, 4);
                s->rejoin_backoff_us = FB_MIN(s->rejoin_backoff_us * 2, REJOIN_MAX_US);
                s->rejoin_next_us = now + s->rejoin_backoff_us;
            }
            uint64_t due = FB_MAX(s->rejoin_next_us, s->last_progress_us + REJOIN_NODATA_US);
            next = FB_MIN(next, due > now ? due : now + REJOIN_NODATA_US);
            /* Under half the target with no handshake under way: the peers we were given
             * refused us (full) or left, and a referral names its referrer's busiest peers,
             * full too: ask the seed, whose pick is at random (backing off 500 ms, 1, 2 ... 8 s;
             * reset once back at half). */
            uint32_t half = target_neighbours(e) / 2;
            if (s->n_active >= half) {
                s->thin_backoff_us = 0;
            } else if (!cand_pending(e, s)) {
                if (now >= s->thin_next_us) {
                    send_join(e, s, (uint8_t)(target_neighbours(e) - s->n_active));
                    s->thin_backoff_us =
                        FB_MIN(FB_MAX(s->thin_backoff_us * 2, REJOIN_NODATA_US), REJOIN_MAX_US);
                    s->thin_next_us = now + s->thin_backoff_us;
                }
                next = FB_MIN(next, s->thin_next_us);
            }
        }
    }
    next = FB_MIN(next, cand_tick(e, s));
    for (uint32_t i = 0; i < s->n_nb; i++) {
        fb_nb *n = &s->nb[i];
        if (n->state != NB_ACTIVE)
            continue;
        if (!n->is_seed && now - n->last_rx_us >= NB_IDLE_US) {
            fb_peer_nb_remove(e, s, n, false);
            continue;
        }
        if (!n->is_seed)
            next = FB_MIN(next, n->last_rx_us + NB_IDLE_US);
        if (!n->is_seed && now - n->last_tx_us >= NB_PING_US) {
            send_simple(e, s, &n->addr, FB_MSG_PING, 0);
            n->last_tx_us = now;
        }
        if (!n->is_seed)
            next = FB_MIN(next, n->last_tx_us + NB_PING_US);
        next = FB_MIN(next, fb_dl_tick(e, s, n));
        if (s->state != SW_ACTIVE)
            return UINT64_MAX;
    }
    if (!s->complete && s->joined && s->n_active < target_neighbours(e)) {
        if (now >= s->refer_next_us) {
            refer(e, s);
            s->refer_next_us = now + REFER_EVERY_US;
        }
        next = FB_MIN(next, s->refer_next_us);
    }
    if (s->n_fresh) {
        if (now >= s->have_flush_us)
            have_flush(e, s);
        else
            next = FB_MIN(next, s->have_flush_us);
    }
    if (seed->state != NB_FREE)
        next = FB_MIN(next, fb_dl_origin_tick(e, s));
    return next;
}

void fb_peer_rehello(fb_engine *e, fb_swarm *s, fb_nb *n)
{
    send_hello(e, s, &n->addr, n->their_token, FB_HELLO_VALIDATED, FB_WIRE_MAX);
    n->last_tx_us = e->now;
}
