/* The sending side, for both roles: a bounded table of requests being served, a FIFO of those
 * waiting, tit-for-tat at admission (peer role), the sender window over unacknowledged bursts
 * (peer role) and the token bucket of the upload cap (seed role, or any capped engine)
 * (docs/PROTOCOL.md, "Sending"). */
#include "engine/internal.h"

#define UP_NONE UINT32_MAX

static uint32_t overhead(const fb_engine *e)
{
    return e->cfg.datagram_overhead == FB_OVERHEAD_NONE ? 0 : e->cfg.datagram_overhead;
}

static bool seed_role(const fb_engine *e)
{
    return e->cfg.role == FB_ROLE_SEED;
}

static void ring_push(fb_engine *e, uint32_t idx)
{
    e->ring[(e->ring_head + e->ring_len) % e->n_up] = idx;
    e->ring_len++;
    e->ring_blocks += e->up[idx].blocks;
}

static uint32_t ring_pop(fb_engine *e)
{
    uint32_t idx = e->ring[e->ring_head];
    e->ring_head = (e->ring_head + 1) % e->n_up;
    e->ring_len--;
    e->ring_blocks -= FB_MIN(e->ring_blocks, e->up[idx].blocks);
    return idx;
}

/* Removes idx from the waiting FIFO, keeping the order of the others. */
static void ring_remove(fb_engine *e, uint32_t idx)
{
    uint32_t w = 0;
    for (uint32_t r = 0; r < e->ring_len; r++) {
        uint32_t v = e->ring[(e->ring_head + r) % e->n_up];
        if (v != idx)
            e->ring[(e->ring_head + w++) % e->n_up] = v;
    }
    if (w < e->ring_len)
        e->ring_blocks -= FB_MIN(e->ring_blocks, e->up[idx].blocks);
    e->ring_len = w;
}

/* The requester's queued-count lives in its neighbour entry (peer) or tracker entry (seed). */
static uint8_t *owner_count(fb_engine *e, const fb_upreq *u)
{
    fb_swarm *s = &e->sw[u->swarm];
    if (s->state == SW_FREE)
        return NULL;
    if (!seed_role(e))
        return u->nb < s->n_nb ? &s->nb[u->nb].queued : NULL;
    fb_tracked *t = fb_seed_find(s, &u->to);
    return t ? &t->queued : NULL;
}

static void up_free(fb_engine *e, uint32_t idx)
{
    fb_upreq *u = &e->up[idx];
    if (u->state == UP_FREE)
        return;
    if (u->state == UP_QUEUED)
        ring_remove(e, idx);
    if (u->state == UP_SENT)
        e->up_inflight -= FB_MIN(e->up_inflight, u->blocks);
    if (e->up_cur == idx)
        e->up_cur = UP_NONE;
    uint8_t *q = owner_count(e, u);
    if (q && *q)
        (*q)--;
    u->state = UP_FREE;
    e->up_used--;
}

static void on_ack(fb_engine *e, int si, const fb_addr *from, uint32_t ack_id, uint8_t count)
{
    for (uint32_t i = 0; i < e->n_up; i++) {
        fb_upreq *u = &e->up[i];
        if (u->state != UP_SENT || u->req_id != ack_id || u->swarm != si ||
            !fb_addr_eq(&u->to, from))
            continue;
        uint64_t rtt = e->now - u->sent_us;
        fb_rtt_sample(&e->up_rtt, (uint32_t)FB_MIN(rtt, (uint64_t)UINT32_MAX));
        fb_upwin_ack(&e->win, u->blocks, count, e->now, e->up_rtt.srtt);
        up_free(e, i);
        return;
    }
}

/* Blocks a sender lets wait in its queue: about SEED_QUEUE_US at the cap for a capped sender,
 * one window for a peer (the window covers what is in flight; this keeps the pipe full without
 * making requests wait for seconds). */
static uint32_t queue_limit(const fb_engine *e)
{
    if (e->bucket.rate) {
        uint64_t per = FB_BLOCK_SIZE + FB_WIRE_DATA_FIXED + (uint64_t)overhead(e);
        uint64_t lim = e->bucket.rate * (SEED_QUEUE_US / T_MS) / 1000 / per;
        return (uint32_t)FB_MAX(lim, 32u);
    }
    return FB_MAX(fb_upwin_blocks(&e->win), 32u);
}

/* How long until the queue has room, in ms (for BUSY). */
static uint16_t busy_ms(const fb_engine *e)
{
    uint64_t ms;
    if (e->bucket.rate) {
        uint64_t per = FB_BLOCK_SIZE + FB_WIRE_DATA_FIXED + (uint64_t)overhead(e);
        ms = (uint64_t)e->ring_blocks * per * 1000 / e->bucket.rate;
    } else {
        uint64_t srtt = e->up_rtt.init ? e->up_rtt.srtt : 200000;
        uint64_t w = FB_MAX(fb_upwin_blocks(&e->win), 1u);
        ms = ((uint64_t)e->ring_blocks + e->up_inflight) * srtt / w / 1000;
    }
    return (uint16_t)FB_MIN(FB_MAX(ms, 50u), 4000u);
}

static void send_busy(fb_engine *e, fb_swarm *s, const fb_addr *to, uint32_t req_id)
{
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_BUSY;
    m.u.busy.req_id = req_id;
    m.u.busy.retry_ms = busy_ms(e);
    e->st.busy_sent++;
    fb_eng_send_msg(e, s, to, &m);
}

void fb_up_request(fb_engine *e, fb_swarm *s, fb_nb *n, fb_tracked *t, const fb_addr *from,
                   const fb_wire_msg *m)
{
    int si = fb_eng_swarm_index(e, s);
    if (m->u.request.ack_id && !seed_role(e))
        on_ack(e, si, from, m->u.request.ack_id, m->u.request.ack_count);
    if (!m->u.request.n) {
        fb_up_pump(e);
        return;
    }
    /* Tit-for-tat (Roulette): a neighbour too far in deficit is ignored while others wait;
     * a second refusal in a row removes it. A complete peer has nothing to gain and gives. */
    if (n && !s->complete && e->cfg.tft_credit != FB_TFT_OFF) {
        uint64_t deficit = n->up > n->down ? n->up - n->down : 0;
        bool contention = e->ring_len > 0 || e->up_inflight >= fb_upwin_blocks(&e->win);
        if (deficit > e->cfg.tft_credit && contention) {
            e->st.dropped_tft++;
            if (++n->tft_drops >= 2) {
                fb_wire_msg bye;
                memset(&bye, 0, sizeof(bye));
                bye.type = FB_MSG_BYE;
                bye.u.bye.reason = FB_BYE_REFUSED;
                fb_eng_send_msg(e, s, from, &bye);
                fb_peer_nb_remove(e, s, n, false);
            }
            return;
        }
        n->tft_drops = 0;
    }
    uint8_t *count = n ? &n->queued : &t->queued;
    uint32_t per_cap = n ? NB_BURSTS + 2 : SEED_PER_PEER;
    if (*count >= per_cap) {
        e->st.dropped_cap++;
        send_busy(e, s, from, m->u.request.req_id);
        return;
    }
    if (e->ring_blocks >= queue_limit(e)) {
        send_busy(e, s, from, m->u.request.req_id);
        return;
    }
    uint32_t idx = UP_NONE;
    if (e->up_used < e->n_up)
        for (uint32_t i = 0; i < e->n_up && idx == UP_NONE; i++)
            if (e->up[i].state == UP_FREE)
                idx = i;
    if (idx == UP_NONE) {
        e->st.dropped_cap++;
        send_busy(e, s, from, m->u.request.req_id);
        return;
    }
    fb_upreq u;
    memset(&u, 0, sizeof(u));
    for (uint8_t i = 0; i < m->u.request.n; i++) {
        uint32_t c = m->u.request.e[i].chunk, mask = m->u.request.e[i].mask;
        if (c == FB_WIRE_ANY) {
            if (!seed_role(e))
                return; /* only the seed chooses */
            c = fb_seed_choose(e, s, m);
            if (c == FB_CHUNK_NONE) {
                send_busy(e, s, from, m->u.request.req_id);
                return;
            }
            mask = UINT32_MAX;
        }
        if (c >= s->n_chunks) {
            e->st.dropped_invalid++;
            return;
        }
        if (!seed_role(e) && !fb_bit_get(s->mine, c))
            continue; /* we do not hold it (any more): the requester will time out */
        uint32_t len = fb_chunk_len(&s->map, c);
        mask &= fb_chunk_full_mask(len);
        if (!mask)
            continue;
        u.e[u.n].chunk = c;
        u.e[u.n].mask = mask;
        u.len[u.n] = len;
        u.blocks = (uint16_t)(u.blocks + __builtin_popcount(mask));
        u.n++;
    }
    if (!u.n)
        return;
    u.state = UP_QUEUED;
    u.swarm = (uint16_t)si;
    u.nb = n ? (uint16_t)(n - s->nb) : NB_NONE;
    u.to = *from;
    u.req_id = m->u.request.req_id;
    u.queued_us = e->now;
    e->up[idx] = u;
    e->up_used++;
    (*count)++;
    ring_push(e, idx);
    fb_up_pump(e);
}

void fb_up_cancel(fb_engine *e, int swarm, uint16_t nb, const fb_addr *from, uint32_t req_id)
{
    (void)nb;
    for (uint32_t i = 0; i < e->n_up; i++) {
        fb_upreq *u = &e->up[i];
        if (u->state != UP_FREE && u->req_id == req_id && u->swarm == swarm &&
            fb_addr_eq(&u->to, from)) {
            up_free(e, i); /* a CANCEL of a burst already sent also acknowledges it */
            return;
        }
    }
}

void fb_up_drop_nb(fb_engine *e, int swarm, uint16_t nb)
{
    for (uint32_t i = 0; i < e->n_up; i++) {
        fb_upreq *u = &e->up[i];
        if (u->state != UP_FREE && u->swarm == swarm && u->nb == nb) {
            /* The neighbour entry is going away: no need to count down into it. */
            if (e->up_cur == i)
                e->up_cur = UP_NONE;
            if (u->state == UP_QUEUED)
                ring_remove(e, i);
            if (u->state == UP_SENT)
                e->up_inflight -= FB_MIN(e->up_inflight, u->blocks);
            u->state = UP_FREE;
            e->up_used--;
        }
    }
}

void fb_up_drop_swarm(fb_engine *e, int swarm)
{
    for (uint32_t i = 0; i < e->n_up; i++) {
        fb_upreq *u = &e->up[i];
        if (u->state == UP_FREE || u->swarm != swarm)
            continue;
        if (e->up_cur == i)
            e->up_cur = UP_NONE;
        if (u->state == UP_QUEUED)
            ring_remove(e, i);
        if (u->state == UP_SENT)
            e->up_inflight -= FB_MIN(e->up_inflight, u->blocks);
        u->state = UP_FREE;
        e->up_used--;
    }
}

/* Sends one block of u. Returns false if the bytes could not be read (the entry is dropped). */
static bool send_block(fb_engine *e, fb_upreq *u, uint32_t ei, uint32_t b)
{
    fb_swarm *s = &e->sw[u->swarm];
    uint32_t chunk = u->e[ei].chunk;
    uint32_t blen = fb_block_len(u->len[ei], b);
    uint8_t *buf = e->scratch;
    fb_wire_data_header(buf, s->id, u->req_id, chunk, (uint8_t)b);
    int si = u->swarm;
    if (e->host.chunk_read(e->host.ctx, si, chunk, (size_t)b * FB_BLOCK_SIZE,
                           buf + FB_WIRE_DATA_FIXED, blen) != 0)
        return false;
    fb_eng_xmit(e, &u->to, buf, FB_WIRE_DATA_FIXED + blen);
    e->st.bytes_out_data += blen;
    if (u->nb != NB_NONE && u->nb < s->n_nb) {
        fb_nb *n = &s->nb[u->nb];
        n->up += blen;
        n->last_used_us = e->now;
        n->last_tx_us = e->now;
    }
    return true;
}

/* The next block of u at or after (cur_e, cur_b): advances the cursor; false when done. */
static bool next_block(fb_upreq *u, uint32_t *ei, uint32_t *b)
{
    while (u->cur_e < u->n) {
        uint32_t mask = u->e[u->cur_e].mask;
        while (u->cur_b < 32) {
            uint32_t k = u->cur_b++;
            if (mask & ((uint32_t)1 << k)) {
                *ei = u->cur_e;
                *b = k;
                return true;
            }
        }
        u->cur_e++;
        u->cur_b = 0;
    }
    return false;
}

static void finish_entry(fb_engine *e, uint32_t idx)
{
    fb_upreq *u = &e->up[idx];
    if (e->up_cur == idx)
        e->up_cur = UP_NONE;
    if (seed_role(e)) {
        up_free(e, idx); /* the seed paces by its cap and does not wait for acks */
        return;
    }
    u->state = UP_SENT;
    u->sent_us = e->now;
    e->up_inflight += u->blocks;
}

uint64_t fb_up_pump(fb_engine *e)
{
    uint64_t ovh = overhead(e);
    if (e->bucket.rate) {
        uint64_t t = fb_eng_ctrl_drain(e);
        if (t != UINT64_MAX) {
            fb_eng_arm(e, t);
            return t;
        }
    }
    for (;;) {
        if (e->up_cur == UP_NONE) {
            if (!e->ring_len)
                return UINT64_MAX;
            uint32_t idx = e->ring[e->ring_head];
            fb_upreq *u = &e->up[idx];
            if (e->now - u->queued_us > UP_STALE_US) {
                up_free(e, idx); /* its requester has given up on it */
                continue;
            }
            if (!seed_role(e) && !fb_upwin_can_send(&e->win, e->up_inflight, u->blocks))
                return UINT64_MAX; /* an acknowledgement or a timeout will reopen it */
            ring_pop(e);
            u->state = UP_SENDING;
            e->up_cur = idx;
        }
        uint32_t idx = e->up_cur;
        fb_upreq *u = &e->up[idx];
        for (;;) {
            uint8_t save_e = u->cur_e, save_b = u->cur_b;
            uint32_t ei, b;
            if (!next_block(u, &ei, &b)) {
                finish_entry(e, idx);
                break;
            }
            if (e->bucket.rate) {
                uint64_t bytes = FB_WIRE_DATA_FIXED + fb_block_len(u->len[ei], b) + ovh;
                if (!fb_bucket_take(&e->bucket, bytes, e->now)) {
                    u->cur_e = save_e;
                    u->cur_b = save_b;
                    uint64_t t = fb_bucket_when(&e->bucket, bytes, e->now);
                    fb_eng_arm(e, t);
                    return t;
                }
            }
            if (!send_block(e, u, ei, b)) {
                e->up_cur = UP_NONE;
                u->state = UP_SENDING;
                up_free(e, idx);
                break;
            }
        }
    }
}

uint64_t fb_up_tick(fb_engine *e)
{
    uint64_t next = UINT64_MAX;
    if (!seed_role(e) && e->up_inflight) {
        uint64_t to = fb_rtt_rto(&e->up_rtt, UP_ACK_TIMEOUT_US, 500 * T_MS, 8000 * T_MS) * 2;
        for (uint32_t i = 0; i < e->n_up; i++) {
            fb_upreq *u = &e->up[i];
            if (u->state != UP_SENT)
                continue;
            if (e->now - u->sent_us >= to) {
                fb_upwin_timeout(&e->win, e->now, e->up_rtt.srtt);
                up_free(e, i);
            } else {
                next = FB_MIN(next, u->sent_us + to);
            }
        }
    }
    return FB_MIN(next, fb_up_pump(e));
}
