/* The sending side, for both roles: a bounded table of requests being served and a FIFO of
 * those waiting, tit-for-tat at admission (peer role), QUEUED/BUSY answers so receivers know
 * where they stand, and pacing of every datagram through one token bucket: at the upload cap
 * (seed role), or at the rate the delay-based controller finds (peer role, under the cap if
 * one is set) (docs/PROTOCOL.md, "Sending" and "Flow control"). */
#include "engine/internal.h"

#define UP_NONE   UINT32_MAX
#define SEED_MARK (1u << 24) /* added to the served count of a chunk queued for the requester */

static bool seed_role(const fb_engine *e)
{
    return e->cfg.role == FB_ROLE_SEED;
}

static uint64_t block_wire(const fb_engine *e)
{
    return FB_BLOCK_SIZE + FB_WIRE_DATA_FIXED + (uint64_t)fb_eng_overhead(e);
}

/* Applies the controller's rate to the bucket (peer role), under the cap if any. */
static void set_pace(fb_engine *e)
{
    if (seed_role(e))
        return;
    uint64_t r = fb_rate_pace(&e->rate, e->now);
    if (r == e->paced)
        return;
    e->paced = r;
    if (e->cfg.upload_rate && r > e->cfg.upload_rate)
        r = e->cfg.upload_rate;
    /* Depth: 4 ms of sending, so blocks leave nearly evenly spaced. */
    fb_bucket_set(&e->bucket, r, r / 250, e->now);
}

void fb_up_init(fb_engine *e)
{
    fb_rate_init(&e->rate, UP_RATE_INIT, UP_RATE_MIN, (uint64_t)1 << 32, e->now);
    if (seed_role(e))
        fb_bucket_init(&e->bucket, e->cfg.upload_rate, e->cfg.upload_rate / 100, e->now);
    else {
        fb_bucket_init(&e->bucket, 1, 0, e->now);
        set_pace(e);
    }
}

static void ring_push(fb_engine *e, uint32_t idx)
{
    e->ring[(e->ring_head + e->ring_len) % e->n_up] = idx;
    e->ring_len++;
    e->ring_blocks += e->up[idx].blocks;
}

/* The waiting request to serve next: the lowest priority value (the requester with the fewest
 * chunks), the oldest among equals. A receiver's own requests keep their order, since its
 * progress only grows between them. */
static uint32_t ring_best(const fb_engine *e)
{
    uint32_t best = e->ring[e->ring_head];
    for (uint32_t r = 1; r < e->ring_len; r++) {
        uint32_t v = e->ring[(e->ring_head + r) % e->n_up];
        if (e->up[v].prio < e->up[best].prio)
            best = v;
    }
    return best;
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

/* A free entry of the upload queue, or UP_NONE when all are used. */
static uint32_t up_slot(const fb_engine *e)
{
    if (e->up_used >= e->n_up)
        return UP_NONE;
    for (uint32_t i = 0; i < e->n_up; i++)
        if (e->up[i].state == UP_FREE)
            return i;
    return UP_NONE;
}

static void invite_send(fb_engine *e);

static void up_free(fb_engine *e, uint32_t idx, bool count_down)
{
    fb_upreq *u = &e->up[idx];
    if (u->state == UP_FREE)
        return;
    if (u->state == UP_QUEUED)
        ring_remove(e, idx);
    if (e->up_cur == idx)
        e->up_cur = UP_NONE;
    if (count_down && !u->push) {
        uint8_t *q = owner_count(e, u);
        if (q && *q)
            (*q)--;
    }
    if (count_down && u->push) { /* a push does not count as a request; it is no longer under way */
        fb_swarm *s = &e->sw[u->swarm];
        if (s->state != SW_FREE && u->nb < s->n_nb && s->nb[u->nb].push_id == u->req_id)
            s->nb[u->nb].push_id = 0;
    }
    u->state = UP_FREE;
    e->up_used--;
    invite_send(e);
}

/* An acknowledgement (early or final) of a request we serve or served: feeds the rate
 * controller (peer role). */
static void on_ack(fb_engine *e, int si, const fb_addr *from, const fb_wire_msg *m)
{
    if (seed_role(e))
        return;
    uint32_t id = m->u.request.ack_id;
    bool partial = m->u.request.ack_flags & FB_ACK_PARTIAL;
    bool found = false;
    /* What the sender knows of the reported blocks: when the first and the last of them left,
     * the wire bytes sent in between (blocks and any datagram between them), and how many. */
    uint64_t sent_us = 0, sent_span = 0, sent_bytes = 0;
    uint32_t sent_blocks = 0;
    for (uint32_t i = 0; i < FB_ARRAY_LEN(e->sent) && !found; i++) {
        fb_sent *t = &e->sent[i];
        if (t->req_id != id || t->swarm != si || !fb_addr_eq(&t->to, from))
            continue;
        found = true;
        sent_us = t->first_us;
        sent_span = t->last_us - t->first_us;
        sent_bytes = t->w_last - t->w_first;
        sent_blocks = t->blocks;
        if (!partial) {
            t->req_id = 0;
            uint64_t rtt = e->now - t->last_us;
            fb_rtt_sample(&e->up_rtt, (uint32_t)FB_MIN(rtt, (uint64_t)UINT32_MAX));
            fb_rate_rtt(&e->rate, e->up_rtt.srtt);
        }
    }
    for (uint32_t i = 0; i < e->n_up && !found; i++) {
        const fb_upreq *u = &e->up[i];
        found =
            u->state == UP_SENDING && u->req_id == id && u->swarm == si && fb_addr_eq(&u->to, from);
        if (found && u->sent >= 4) {
            sent_us = u->first_us;
            sent_span = u->fourth_us - u->first_us;
            sent_bytes = u->w_fourth - u->w_first;
            sent_blocks = 4;
        }
    }
    if (!found)
        return;
    uint32_t arrived = FB_MIN(m->u.request.ack_count, sent_blocks);
    uint64_t rate = 0;
    bool bottleneck = false;
    if (arrived >= 4 && m->u.request.ack_spread && sent_blocks >= 2) {
        /* The link carried sent_bytes between the first and the last block; if some were
         * lost, about the share of the blocks that came. */
        uint64_t bytes = sent_bytes * (arrived - 1) / (sent_blocks - 1);
        uint64_t span = sent_span * (arrived - 1) / (sent_blocks - 1);
        uint64_t spread = m->u.request.ack_spread;
        /* Slower than sent, by more than the jitter of the datagrams between blocks: a queue
         * grew on the way, whose link carried no more than this. Faster than sent: a queue
         * drained on the way (the receiver's downlink), which says nothing of our link. */
        bottleneck = fb_rate_bottleneck(spread, span);
        rate = bytes * 1000000 / FB_MAX(spread, FB_MAX(span, 1u));
    }
    fb_rate_report(&e->rate, (uint32_t)m->u.request.ack_qd * 1000,
                   m->u.request.ack_flags & FB_ACK_LOSS, rate, bottleneck, sent_us, e->now);
    set_pace(e);
}

/* Blocks a sender lets wait in its queue: about UP_QUEUE_US at its pace, two bursts at least. */
static uint32_t queue_limit(const fb_engine *e)
{
    uint64_t lim = e->bucket.rate * (UP_QUEUE_US / T_MS) / 1000 / block_wire(e);
    return (uint32_t)FB_MAX(lim, 32u);
}

/* How long `blocks` take at the current pace, in ms. */
static uint16_t drain_ms(const fb_engine *e, uint64_t blocks)
{
    uint64_t ms = e->bucket.rate ? blocks * block_wire(e) * 1000 / e->bucket.rate : 100;
    return (uint16_t)FB_MIN(ms, 60000u);
}

static uint32_t cur_left(const fb_engine *e)
{
    if (e->up_cur == UP_NONE)
        return 0;
    const fb_upreq *u = &e->up[e->up_cur];
    return u->blocks > u->sent ? u->blocks - u->sent : 0;
}

static void send_answer(fb_engine *e, fb_swarm *s, const fb_addr *to, uint8_t type, uint32_t req_id,
                        uint16_t ms, uint32_t chunk)
{
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    if (type == FB_MSG_BUSY) {
        m.u.busy.req_id = req_id;
        m.u.busy.retry_ms = ms;
        e->st.busy_sent++;
    } else {
        m.u.queued.req_id = req_id;
        m.u.queued.wait_ms = ms;
        m.u.queued.chunk = chunk;
    }
    fb_eng_send_msg(e, s, to, &m);
}

static void send_busy(fb_engine *e, fb_swarm *s, const fb_addr *to, uint32_t req_id)
{
    uint64_t ahead = (uint64_t)e->ring_blocks + cur_left(e);
    uint64_t over = ahead > queue_limit(e) / 2 ? ahead - queue_limit(e) / 2 : 0;
    uint16_t ms = drain_ms(e, over);
    send_answer(e, s, to, FB_MSG_BUSY, req_id, (uint16_t)FB_MIN(FB_MAX(ms, 50u), 8000u),
                FB_CHUNK_NONE);
}

/* Seed role: remembers `to` (swarm si, holding `covered` chunks), refused for a full queue, to
 * tell it when the queue has room: the SEED_INVITES least advanced such requesters (those a
 * crowd leaves behind, with few neighbours and much left), each once. */
static void invite_note(fb_engine *e, int si, const fb_addr *to, uint32_t covered)
{
    uint32_t worst = 0;
    for (uint32_t i = 0; i < e->n_invite; i++) {
        if (e->invite[i].swarm == si && fb_addr_eq(&e->invite[i].to, to)) {
            e->invite[i].covered = covered;
            return;
        }
        if (e->invite[i].covered > e->invite[worst].covered)
            worst = i;
    }
    uint32_t i = e->n_invite;
    if (i < SEED_INVITES)
        e->n_invite++;
    else if (e->invite[worst].covered > covered)
        i = worst;
    else
        return;
    e->invite[i].to = *to;
    e->invite[i].swarm = (uint16_t)si;
    e->invite[i].covered = covered;
}

/* Seed role: once the queue waiting to start holds less than a quarter of its limit, tells the
 * requesters refused for a full queue (invite_note) that it has room: a BUSY with req_id 0 (no
 * request of theirs) and retry 0. A refused straggler otherwise waits the BUSY's retry, a guess
 * made while the crowd's requests filled the queue, and the seed idles meanwhile when those
 * requests go (their requesters completed, cancelled or left). */
static void invite_send(fb_engine *e)
{
    if (!e->n_invite || e->ring_blocks >= queue_limit(e) / 4)
        return;
    uint32_t n = e->n_invite;
    e->n_invite = 0;
    for (uint32_t i = 0; i < n; i++) {
        fb_swarm *s = &e->sw[e->invite[i].swarm];
        if (s->state == SW_FREE)
            continue;
        fb_wire_msg m;
        memset(&m, 0, sizeof(m));
        m.type = FB_MSG_BUSY;
        fb_eng_send_msg(e, s, &e->invite[i].to, &m);
    }
}

/* Seed role: the chunks queued or being sent to `to` in swarm si (*n_queued of them), then those
 * sent lately (in the last FB_ARRAY_LEN(e->sent) requests served), into out (at most cap): the
 * requester may not have learnt which they are yet. Returns how many. */
static uint32_t seed_queued_chunks(const fb_engine *e, int si, const fb_addr *to, uint32_t *out,
                                   uint32_t cap, uint32_t *n_queued)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < e->n_up && k < cap; i++) {
        const fb_upreq *u = &e->up[i];
        if (u->state == UP_FREE || u->swarm != si || !fb_addr_eq(&u->to, to))
            continue;
        for (uint8_t q = 0; q < u->n && k < cap; q++)
            out[k++] = u->e[q].chunk;
    }
    *n_queued = k;
    for (uint32_t i = 0; i < FB_ARRAY_LEN(e->sent) && k < cap; i++) {
        const fb_sent *t = &e->sent[i];
        if (!t->req_id || t->swarm != si || !fb_addr_eq(&t->to, to))
            continue;
        for (uint8_t q = 0; q < t->n && k < cap; q++)
            out[k++] = t->chunk[q];
    }
    return k;
}

/* Does a draining peer (complete, leaving) still take neighbour n's request m? Yes when its
 * blocks leave, behind what is queued, before the drain deadline: the peer leaves no later for
 * it. At the end of a crowd the last visitors miss a chunk or two that every neighbour holds,
 * and their neighbours were all draining: each refused them (BUSY) and they waited on a busy
 * seed. (Any neighbour: a complete peer gets no HAVE, so it cannot tell who is a finisher.) */
static bool drain_serves(const fb_engine *e, const fb_swarm *s, const fb_nb *n,
                         const fb_wire_msg *m)
{
    if (!n || !e->bucket.rate || s->leave_at_us <= e->now)
        return false;
    uint64_t blocks = 0;
    for (uint8_t i = 0; i < m->u.request.n; i++)
        blocks += (uint64_t)__builtin_popcount(m->u.request.e[i].mask);
    uint64_t us = blocks * block_wire(e) * 1000000 / e->bucket.rate;
    return fb_up_backlog_us(e) + us < s->leave_at_us - e->now;
}

void fb_up_request(fb_engine *e, fb_swarm *s, fb_nb *n, fb_tracked *t, const fb_addr *from,
                   const fb_wire_msg *m)
{
    int si = fb_eng_swarm_index(e, s);
    if (m->u.request.ack_id)
        on_ack(e, si, from, m);
    if (!m->u.request.n) {
        fb_up_pump(e);
        return;
    }
    if (s->draining)
        s->drain_req_us = e->now; /* asked: it stays a little longer (DRAIN_IDLE_US) */
    if (s->draining && !drain_serves(e, s, n, m)) {
        send_busy(e, s, from, m->u.request.req_id); /* leaving: finishing, taking nothing new */
        return;
    }
    /* Tit-for-tat (Roulette): a neighbour too far in deficit is ignored while others wait;
     * a second refusal in a row removes it. A complete peer has nothing to gain and gives. */
    if (n && !s->complete && e->cfg.tft_credit != FB_TFT_OFF) {
        uint64_t deficit = n->up > n->down ? n->up - n->down : 0;
        bool contention = e->ring_len > 0 || e->up_cur != UP_NONE;
        /* The rest of a chunk we were giving it is not new credit: refusing it would waste
         * the blocks it already has. */
        bool continues = false;
        for (uint8_t i = 0; i < m->u.request.n; i++)
            continues |= n->served_chunk && m->u.request.e[i].chunk == n->served_chunk - 1;
        if (deficit > e->cfg.tft_credit && contention && !continues) {
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
    /* The requester's progress (what it holds; for the seed, what its exclusion list covers;
     * a request to the seed for named chunks finishes a chunk or is an endgame copy). */
    uint32_t covered = 0;
    if (n) {
        covered = n->have_count;
    } else if (m->u.request.iv) {
        fb_ivwire w;
        uint32_t a, b;
        fb_ivwire_begin(&w, m->u.request.iv, m->u.request.iv_len);
        while (fb_ivwire_next(&w, &a, &b))
            covered += b - a;
    } else if (m->u.request.e[0].chunk != FB_WIRE_ANY) {
        covered = s->n_chunks;
    }
    bool finisher = covered + FINISH_CHUNKS(s->n_chunks) >= s->n_chunks;
    uint8_t *count = n ? &n->queued : &t->queued;
    uint32_t idx = UP_NONE;
    uint32_t qcap = queue_limit(e) * (finisher ? 2 : 1);
    /* A neighbour in the last quarter of its page, not a finisher, whose request would wait
     * behind more than TAIL_QUEUE_US (and TAIL_QUEUE_CHUNKS chunks at our pace): refused, it
     * asks a neighbour with less queued. At the end of a broadband crowd the last requests were
     * committed to queues of 70-120 ms while a fifth of the uplinks idled with nothing asked. */
    if (n && !finisher && covered + s->n_chunks / 4 >= s->n_chunks) {
        uint64_t ahead = (uint64_t)e->ring_blocks + cur_left(e);
        uint64_t chunks = (uint64_t)TAIL_QUEUE_CHUNKS * (s->map.chunk_size / FB_BLOCK_SIZE);
        if (ahead > chunks && fb_up_backlog_us(e) > TAIL_QUEUE_US) {
            send_busy(e, s, from, m->u.request.req_id);
            return;
        }
    }
    /* The seed with spare capacity takes more from one peer (a straggler whose neighbours
     * have left has only the seed; a peer alone with an idle seed asks up to 8 at once). */
    uint32_t per_cap = n                           ? NB_PEER_BURSTS + 1
                       : e->ring_blocks < qcap / 4 ? SEED_PER_PEER_FREE
                       : e->ring_blocks < qcap / 2 ? SEED_PER_PEER_IDLE
                                                   : SEED_PER_PEER;
    if (*count < per_cap && e->ring_blocks < qcap)
        idx = up_slot(e);
    if (idx == UP_NONE) {
        if (e->up_used >= e->n_up)
            e->st.dropped_cap++;
        if (!n && seed_role(e) && e->ring_blocks >= qcap) {
            invite_note(e, si, from, covered);
            /* In a join burst the seed's uplink is worth more than the answer: thousands of
             * first requests meet a queue that their own crowd filled 10-20 ms before (N=4096:
             * 7,738 BUSYs in the first 0.1 s, 340 KB, more than the DATA). Unanswered, a
             * request times out like a lost one, and its requester is invited later. */
            if (fb_seed_join_burst(e, s))
                return;
        }
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
            /* The seed's choice: `mask` chunks (1 to 4), the least served, distinct, and none
             * already queued for this requester (its exclusion list cannot name those yet:
             * a straggler's requests sent together would all get the same few chunks). */
            uint32_t k = FB_MIN(FB_MAX(mask, 1u), (uint32_t)FB_WIRE_MAX_REQ);
            uint32_t mine[(NB_BURSTS + FB_ARRAY_LEN(e->sent)) * FB_WIRE_MAX_REQ];
            uint32_t n_queued = 0;
            uint32_t n_mine = seed_queued_chunks(e, si, from, mine, FB_ARRAY_LEN(mine), &n_queued);
            for (uint32_t q = 0; q < n_mine; q++)
                s->served[mine[q]] += SEED_MARK; /* chosen last (undone below) */
            bool taken = false;
            for (uint32_t j = 0; j < k; j++) {
                uint32_t pick = fb_seed_choose(e, s, m);
                if (pick == FB_CHUNK_NONE)
                    break;
                bool dup = false;
                for (uint8_t q = 0; q < u.n; q++)
                    dup |= u.e[q].chunk == pick;
                for (uint32_t q = 0; q < n_queued; q++)
                    taken |= mine[q] == pick; /* (one only sent lately may have been lost) */
                if (dup || taken) {
                    s->served[pick]--; /* everything left is taken already */
                    break;
                }
                s->served[pick] += 1u << 30; /* not again in this request (undone below) */
                u.e[u.n].chunk = pick;
                u.e[u.n].mask = fb_chunk_full_mask(fb_chunk_len(&s->map, pick));
                u.len[u.n] = fb_chunk_len(&s->map, pick);
                u.blocks = (uint16_t)(u.blocks + __builtin_popcount(u.e[u.n].mask));
                u.n++;
            }
            for (uint8_t q = 0; q < u.n; q++)
                s->served[u.e[q].chunk] -= 1u << 30;
            for (uint32_t q = 0; q < n_mine; q++)
                s->served[mine[q]] -= SEED_MARK;
            if (!u.n) {
                /* Nothing left, or all of it on its way to this requester: ask again when
                 * that has been sent. */
                uint16_t ms =
                    taken ? (uint16_t)FB_MAX(drain_ms(e, e->ring_blocks + cur_left(e)), 50u) : 4000;
                send_answer(e, s, from, FB_MSG_BUSY, m->u.request.req_id, ms, FB_CHUNK_NONE);
                return;
            }
            break;
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
    /* Priority: finishers first (they need little and then leave or serve everyone), then the
     * requester's progress, so those behind catch up and a crowd finishes together. */
    /* At the seed a peer's requests already queued count as progress (4 chunks each: an ANY
     * request is not in its exclusion list yet), so a crowd's first requests go round before
     * anyone's second. */
    u.prio = finisher ? 0 : covered + 1 + (n ? 0 : (uint32_t)*count * FB_WIRE_MAX_REQ);
    uint64_t ahead = (uint64_t)e->ring_blocks + cur_left(e);
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
    /* Behind others: say so, with the expected wait, so the receiver does not time out, and
     * name the seed's choice at once, so the receiver does not ask someone else for it. */
    if (ahead)
        send_answer(e, s, from, FB_MSG_QUEUED, u.req_id, drain_ms(e, ahead),
                    m->u.request.e[0].chunk == FB_WIRE_ANY ? u.e[0].chunk : FB_CHUNK_NONE);
    fb_up_pump(e);
}

/* How many neighbours a chunk verified now is pushed to: the chunks the uplink sends in the
 * round trip a HAVE and its REQUEST take (the smallest answer time seen), rounded down (5 at
 * broadband: 20 ms / 3.4 ms; 0 at dsl once the pace is known: 40 ms / 170 ms), cfg.push_max
 * at most. While the peer holds PUSH_START_CHUNKS chunks or fewer (a new holder, whose
 * neighbours learn of it a round trip later), that round trip's worth whatever cfg.push_max
 * says, timed before the first report with an uplink of a quarter of the downlink (START_ASYM, as
 * the start window; none before the downlink is measured): broadband N=1024 mean / T_min 1.314
 * -> 1.298, N=4096 1.389 -> 1.377; on dsl that guess gives none, and the one push a new dsl
 * holder makes (its start pace of 2.5 MB/s allows it) stays. */
static uint32_t push_count(const fb_engine *e, const fb_swarm *s)
{
    if (e->cfg.push_max == FB_PUSH_OFF || !s->answer_rtt.init || !e->bucket.rate)
        return 0;
    uint64_t chunk_us =
        (uint64_t)s->map.chunk_size / FB_BLOCK_SIZE * block_wire(e) * 1000000 / e->bucket.rate;
    uint64_t k = (uint64_t)s->answer_rtt.min / FB_MAX(chunk_us, 1u);
    uint32_t n = (uint32_t)FB_MIN(k, FB_MIN(e->cfg.push_max, (uint32_t)PUSH_CAP));
    if (s->have <= PUSH_START_CHUNKS) {
        uint64_t guess = (uint64_t)s->map.chunk_size / FB_BLOCK_SIZE * START_ASYM * s->down_gap_us;
        uint64_t start = e->rate.known ? k : guess ? (uint64_t)s->answer_rtt.min / guess : 0;
        n = (uint32_t)FB_MAX(n, FB_MIN(start, (uint64_t)PUSH_CAP));
    }
    return n;
}

uint32_t fb_up_push(fb_engine *e, fb_swarm *s, uint32_t c)
{
    if (seed_role(e) || s->complete || s->draining || c >= s->n_chunks)
        return 0;
    uint32_t want = push_count(e, s);
    /* Only a chunk no neighbour holds (one fresh from the seed, mostly): pushes of chunks that
     * neighbours also announce crossed each other's HAVEs and were refused (broadband N=256:
     * 7,749 of 12,096 refused, mean / T_min 1.34 -> 1.51). */
    if (s->avail[c])
        return 0;
    uint64_t rtt = s->answer_rtt.min;
    uint32_t len = fb_chunk_len(&s->map, c);
    uint32_t mask = fb_chunk_full_mask(len);
    int si = fb_eng_swarm_index(e, s);
    uint32_t done = 0;
    while (done < want && fb_up_backlog_us(e) < rtt && e->up_used < e->n_up) {
        /* The neighbour that holds the fewest chunks, among those lacking c, not complete, with
         * no push of ours under way, and within tit-for-tat's credit; a tie goes to a random one
         * of them. (The first of them, at the start of a crowd when they all hold nothing, made
         * every new holder push to the same neighbour: its downlink saturated, and each pusher
         * took its share there for its uplink's rate, a third of it, for the rest of the run:
         * dsl N=16, 3 seeds in 12.) */
        fb_nb *best = NULL;
        uint32_t ties = 0;
        for (uint32_t i = 1; i < s->n_nb; i++) {
            fb_nb *n = &s->nb[i];
            if (n->state != NB_ACTIVE || n->is_seed || n->complete || n->push_id ||
                fb_bit_get(n->have, c))
                continue;
            if (e->cfg.tft_credit != FB_TFT_OFF && n->up > n->down + e->cfg.tft_credit)
                continue;
            /* Not to a neighbour of another swarm too: it could not tell which one the push
             * (an id it did not choose, in a DATA without swarm id) is for. */
            if ((best && n->have_count > best->have_count) || fb_eng_nb_elsewhere(e, s, &n->addr))
                continue;
            if (!best || n->have_count < best->have_count)
                ties = 0;
            if (fb_eng_rand32(e) % ++ties == 0)
                best = n;
        }
        if (!best)
            break;
        uint32_t idx = up_slot(e);
        if (idx == UP_NONE)
            break;
        fb_upreq u;
        memset(&u, 0, sizeof(u));
        u.state = UP_QUEUED;
        u.push = true;
        u.swarm = (uint16_t)si;
        u.nb = (uint16_t)(best - s->nb);
        u.to = best->addr;
        do
            u.req_id = fb_eng_rand32(e);
        while (!u.req_id);
        u.n = 1;
        u.e[0].chunk = c;
        u.e[0].mask = mask;
        u.len[0] = len;
        u.blocks = (uint16_t)__builtin_popcount(mask);
        bool finisher = best->have_count + FINISH_CHUNKS(s->n_chunks) >= s->n_chunks;
        u.prio = finisher ? 0 : best->have_count + 1;
        u.queued_us = e->now;
        e->up[idx] = u;
        e->up_used++;
        best->push_id = u.req_id;
        best->push_chunk = c + 1;
        ring_push(e, idx);
        e->st.pushes_sent++;
        done++;
    }
    if (done)
        fb_up_pump(e);
    return done;
}

uint64_t fb_up_backlog_us(const fb_engine *e)
{
    uint64_t blocks = (uint64_t)e->ring_blocks + cur_left(e);
    return e->bucket.rate ? blocks * block_wire(e) * 1000000 / e->bucket.rate : 0;
}

uint32_t fb_up_pending(const fb_engine *e, int swarm)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < e->n_up; i++)
        n += e->up[i].state != UP_FREE && e->up[i].swarm == swarm;
    return n;
}

/* Did we start sending request req_id of `to` (being sent, or among the sent records)? */
static bool began(const fb_engine *e, int swarm, const fb_addr *to, uint32_t req_id)
{
    for (uint32_t i = 0; i < FB_ARRAY_LEN(e->sent); i++)
        if (e->sent[i].req_id == req_id && e->sent[i].swarm == swarm &&
            fb_addr_eq(&e->sent[i].to, to))
            return true;
    for (uint32_t i = 0; i < e->n_up; i++)
        if (e->up[i].state == UP_SENDING && e->up[i].req_id == req_id && e->up[i].swarm == swarm &&
            fb_addr_eq(&e->up[i].to, to))
            return true;
    return false;
}

void fb_up_cancel(fb_engine *e, int swarm, uint16_t nb, const fb_addr *from, uint32_t req_id)
{
    (void)nb;
    if (!seed_role(e) && !e->rate.known && began(e, swarm, from, req_id)) {
        /* Before the first report: one that will not come must not hold the uplink for a
         * second (a refused push was a new uploader's first request, and its next waited). */
        fb_rate_cancelled(&e->rate);
        fb_eng_arm_up(e, e->now);
    }
    for (uint32_t i = 0; i < e->n_up; i++) {
        fb_upreq *u = &e->up[i];
        if (u->state != UP_FREE && u->req_id == req_id && u->swarm == swarm &&
            fb_addr_eq(&u->to, from)) {
            up_free(e, i, true);
            return;
        }
    }
}

void fb_up_drop_nb(fb_engine *e, int swarm, uint16_t nb)
{
    /* The neighbour entry is going away: no need to count down into it. */
    for (uint32_t i = 0; i < e->n_up; i++)
        if (e->up[i].state != UP_FREE && e->up[i].swarm == swarm && e->up[i].nb == nb)
            up_free(e, i, false);
}

void fb_up_drop_swarm(fb_engine *e, int swarm)
{
    for (uint32_t i = 0; i < e->n_up; i++)
        if (e->up[i].state != UP_FREE && e->up[i].swarm == swarm)
            up_free(e, i, false);
    for (uint32_t i = 0; i < FB_ARRAY_LEN(e->sent); i++)
        if (e->sent[i].swarm == swarm)
            e->sent[i].req_id = 0;
}

/* Sends one block of u. Returns false if the bytes could not be read (the entry is dropped). */
static bool send_block(fb_engine *e, fb_upreq *u, uint32_t ei, uint32_t b)
{
    fb_swarm *s = &e->sw[u->swarm];
    uint32_t chunk = u->e[ei].chunk;
    uint32_t blen = fb_block_len(u->len[ei], b);
    uint8_t *buf = e->scratch;
    fb_nb *n = u->nb != NB_NONE && u->nb < s->n_nb ? &s->nb[u->nb] : NULL;
    /* Chunks verified since our last HAVE to the receiver ride along, in the room the block
     * leaves (a HAVE datagram's headers cost more than the list). */
    uint8_t iv[FB_WIRE_MAX - FB_WIRE_DATA_FIXED];
    size_t iv_len = 0;
    if (n && !seed_role(e))
        iv_len = fb_peer_have_ride(e, s, n, iv, FB_WIRE_MAX - FB_WIRE_DATA_FIXED - blen);
    size_t hdr =
        fb_wire_data_header(buf, u->req_id, chunk, (uint8_t)b, (uint32_t)e->now, iv, iv_len);
    if (e->host.chunk_read(e->host.ctx, u->swarm, chunk, (size_t)b * FB_BLOCK_SIZE, buf + hdr,
                           blen) != 0)
        return false;
    if (iv_len) /* the bucket took the block's bytes: the list's go like control */
        fb_bucket_force(&e->bucket, iv_len, e->now);
    fb_eng_xmit(e, &u->to, buf, hdr + blen);
    e->st.bytes_out_data += blen;
    if (u->sent == 0) {
        u->first_us = e->now;
        u->w_first = e->wire_out;
    }
    if (u->sent == 3) {
        u->fourth_us = e->now;
        u->w_fourth = e->wire_out;
    }
    u->sent++;
    if (n) {
        n->up += blen;
        n->served_chunk = chunk + 1;
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

/* All blocks of idx went out: remember it for its acknowledgement, free it. */
static void finish_entry(fb_engine *e, uint32_t idx)
{
    fb_upreq *u = &e->up[idx];
    fb_sent *t = &e->sent[e->sent_next++ % FB_ARRAY_LEN(e->sent)];
    t->req_id = u->req_id;
    t->swarm = u->swarm;
    t->blocks = u->blocks;
    t->to = u->to;
    t->first_us = u->first_us;
    t->last_us = e->now;
    t->w_first = u->w_first;
    t->w_last = e->wire_out;
    t->n = u->n;
    for (uint8_t q = 0; q < u->n; q++)
        t->chunk[q] = u->e[q].chunk;
    up_free(e, idx, true);
}

uint64_t fb_up_pump(fb_engine *e)
{
    invite_send(e);
    uint64_t ovh = fb_eng_overhead(e);
    uint64_t t = fb_eng_ctrl_drain(e);
    if (t != UINT64_MAX) {
        fb_eng_arm_up(e, t);
        return t;
    }
    for (;;) {
        if (e->up_cur == UP_NONE) {
            if (!e->ring_len)
                return UINT64_MAX;
            uint32_t idx = ring_best(e);
            fb_upreq *u = &e->up[idx];
            if (e->now - u->queued_us > UP_STALE_US) {
                up_free(e, idx, true); /* its requester has given up on it */
                continue;
            }
            /* Until a report tells the path's rate, a window of blocks at a time, the next after
             * the report on them (a home router's queue may hold only 16 KB). */
            if (!seed_role(e) &&
                !fb_rate_window_open(&e->rate, u->blocks, fb_dl_start_window(&e->sw[u->swarm]),
                                     e->now)) {
                t = e->rate.window_us + FB_RATE_START_WAIT_US;
                fb_eng_arm_up(e, t);
                return t;
            }
            ring_remove(e, idx);
            u->state = UP_SENDING;
            e->up_cur = idx;
            if (!seed_role(e))
                fb_rate_sent(&e->rate, u->blocks, e->now);
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
            uint64_t bytes = FB_WIRE_DATA_FIXED + fb_block_len(u->len[ei], b) + ovh;
            if (!fb_bucket_take(&e->bucket, bytes, e->now)) {
                u->cur_e = save_e;
                u->cur_b = save_b;
                fb_rate_limited(&e->rate);
                t = fb_bucket_when(&e->bucket, bytes, e->now);
                fb_eng_arm_up(e, t);
                return t;
            }
            if (!send_block(e, u, ei, b)) {
                up_free(e, idx, true);
                break;
            }
        }
    }
}

uint64_t fb_up_tick(fb_engine *e)
{
    set_pace(e); /* the gain cycles with time */
    uint64_t t = fb_up_pump(e);
    if (!seed_role(e) && e->up_cur != UP_NONE)
        t = FB_MIN(t, e->rate.period_start_us + e->rate.period_us);
    return t;
}
