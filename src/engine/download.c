/* The receiving side of the peer role: building requests (bursts) for each sender with the
 * picker, taking DATA blocks into per-chunk buffers, verifying each chunk's SHA-256 before it is
 * stored, counted or offered, banning senders of bad chunks, timeouts and the burst-size rule,
 * the endgame, and the origin fallback (docs/PROTOCOL.md, "Receiving" and "Origin fallback"). */
#include "engine/internal.h"

static uint16_t nbi(const fb_swarm *s, const fb_nb *n)
{
    return (uint16_t)(n - s->nb);
}

static uint32_t popc(uint32_t x)
{
    return (uint32_t)__builtin_popcount(x);
}

/* The lowest `need` set bits of m. */
static uint32_t low_bits(uint32_t m, uint32_t need)
{
    uint32_t out = 0;
    while (m && need) {
        uint32_t b = m & (~m + 1);
        out |= b;
        m &= m - 1;
        need--;
    }
    return out;
}

static fb_flight *fl_alloc(fb_swarm *s, uint16_t *slot)
{
    for (uint32_t i = 0; i < s->n_fl; i++)
        if (!s->fl[i].used) {
            *slot = (uint16_t)i;
            return &s->fl[i];
        }
    return NULL;
}

/* Binds flight f (fresh from fl_alloc) to chunk c from neighbour slot ni: nothing of it received
 * yet, started now, `answered` if its sender has already answered. The caller sets `asked` and
 * `last_us` and counts the chunk as asked (cs, want). */
static void fl_start(const fb_engine *e, fb_swarm *s, fb_flight *f, uint16_t ni, uint32_t c,
                     bool answered)
{
    f->used = true;
    f->nb = ni;
    f->chunk = c;
    f->len = fb_chunk_len(&s->map, c);
    f->full = fb_chunk_full_mask(f->len);
    f->got = 0;
    f->started_us = e->now;
    f->answered = answered;
    f->eta_us = 0;
}

/* Frees a flight, its buffer back to the engine's pool; its chunk becomes wanted again unless
 * held or asked of someone else. */
static void fl_release(fb_engine *e, fb_swarm *s, fb_flight *f)
{
    uint32_t c = f->chunk;
    e->st.partial_lost += popc(f->got);
    if (c != FB_CHUNK_NONE) {
        if (s->cs[c] & CS_REQ)
            s->cs[c]--;
        if (!(s->cs[c] & (CS_REQ | CS_HAVE)) && !fb_bit_get(s->want, c)) {
            fb_bit_set(s->want, c);
            s->n_want++;
        }
    }
    fb_eng_buf_put(e, f->buf, s->map.chunk_size);
    f->buf = NULL;
    f->used = false;
    f->chunk = FB_CHUNK_NONE;
    f->got = f->asked = f->full = 0;
}

/* How long a request waits for its first answer: from this sender's answer times, or for a
 * sender not heard yet, from the swarm's (a new neighbour is as far as the others). */
static uint64_t rto_of(const fb_swarm *s, const fb_nb *n)
{
    if (n->rtt.init || !s->answer_rtt.init)
        return fb_rtt_rto(&n->rtt, BURST_RTO_INIT_US, BURST_RTO_MIN_US, BURST_RTO_MAX_US);
    uint64_t r = 2 * (uint64_t)fb_rtt_rto(&s->answer_rtt, BURST_RTO_INIT_US, BURST_RTO_MIN_US,
                                          BURST_RTO_MAX_US);
    return FB_MIN(FB_MAX(r, 300 * T_MS), BURST_RTO_INIT_US);
}

static void answer_sample(fb_swarm *s, fb_nb *n, uint64_t us)
{
    uint32_t v = (uint32_t)FB_MIN(us, (uint64_t)UINT32_MAX);
    fb_rtt_sample(&n->rtt, v);
    fb_rtt_sample(&s->answer_rtt, v);
}

static uint64_t gapto(const fb_nb *n)
{
    return FB_MAX(BURST_GAP_MIN_US, 4 * (uint64_t)n->gap_us);
}

/* Marks burst b of n as no longer outstanding. */
static void burst_clear(fb_swarm *s, fb_nb *n, fb_burst *b)
{
    if (b->req_id && !n->is_seed && !b->push && s->req_out)
        s->req_out--;
    b->req_id = 0;
    b->push = false;
}

/* One more request after a burst that arrived whole, one fewer after any other (partial,
 * empty) and after a BUSY. */
static void budget(fb_swarm *s, bool whole)
{
    uint32_t hi = FB_MAX(REQ_BUDGET_INIT, 2 * s->n_active);
    if (whole) {
        s->req_budget = FB_MIN(s->req_budget + 1, hi);
        return;
    }
    s->budget_cut = true;
    if (s->req_budget > REQ_BUDGET_MIN)
        s->req_budget--;
}

/* Requests we may have outstanding at neighbours now. The budget grows by one per whole burst
 * (slow start); until it first shrinks, it is at least what fills the downlink for two round
 * trips, 2 x the smallest handshake round trip / (16 blocks x the smallest block gap),
 * at most 2 x active neighbours: on a fast downlink the slow start only delayed requests to idle
 * neighbours (broadband N=16 mean / T_min 1.253 -> 1.229); a slow one (dsl: 16 blocks take
 * 91 ms, more than two round trips of 40 ms) gets nothing more. */
uint32_t fb_dl_budget(const fb_swarm *s)
{
    if (s->budget_cut || !s->down_gap_us || !s->hs_rtt.init)
        return s->req_budget;
    uint64_t fill = 2 * (uint64_t)s->hs_rtt.min / ((uint64_t)FB_BURST_INIT * s->down_gap_us);
    return (uint32_t)FB_MAX(s->req_budget, FB_MIN(fill, 2 * (uint64_t)s->n_active));
}

/* The start window of our uploads (section 9): the blocks our downlink takes in a handshake
 * round trip, over START_ASYM, between FB_RATE_START_BLOCKS and START_WINDOW_MAX. Home uplinks
 * are a tenth to a quarter of their downlinks (dsl 384k / 1.5M: 16 blocks as before), and 16
 * blocks left a broadband uploader idle for most of its first round trips (16 blocks leave
 * in 7 ms, the report comes after 20): N=16 mean / T_min 1.227 -> 1.213, N=64 1.195 -> 1.185. */
uint32_t fb_dl_start_window(const fb_swarm *s)
{
    if (!s->down_gap_us || !s->hs_rtt.init)
        return FB_RATE_START_BLOCKS;
    uint64_t w = (uint64_t)s->hs_rtt.min / ((uint64_t)START_ASYM * s->down_gap_us);
    return (uint32_t)FB_MIN(FB_MAX(w, (uint64_t)FB_RATE_START_BLOCKS), (uint64_t)START_WINDOW_MAX);
}

static bool flight_of(const fb_swarm *s, const fb_burst *b, uint32_t i, uint16_t ni)
{
    const fb_flight *f = &s->fl[b->slot[i]];
    return f->used && f->nb == ni && f->chunk == b->chunk[i];
}

/* What our downlink takes per block at most: burst b's spread over its gaps, from bursts of a
 * chunk or more (one gap alone may be two blocks read in one batch); the smallest so far. Taken
 * when the burst ends, and when its last block came, before its chunk is verified: the pushes
 * that verification starts size themselves on it (section 9). */
static void gap_sample(fb_swarm *s, const fb_burst *b)
{
    if (b->arrived < BUDGET_GAP_BLOCKS || b->last_us <= b->first_us)
        return;
    uint64_t g = (b->last_us - b->first_us) / (b->arrived - 1u);
    if (!s->down_gap_us || g < s->down_gap_us)
        s->down_gap_us = (uint32_t)FB_MIN(g, (uint64_t)UINT32_MAX);
}

/* Ends burst b of n: releases the blocks that did not come so they can be asked again, applies
 * the burst-size rule, and queues the acknowledgement. */
static void finish(fb_engine *e, fb_swarm *s, fb_nb *n, fb_burst *b, bool timeout)
{
    uint16_t ni = nbi(s, n);
    bool push = b->push; /* not our request: the burst size and the budget are left alone */
    if (timeout)
        e->st.bursts_timeout++;
    gap_sample(s, b);
    if (!push && (b->arrived > 0 || !timeout))
        n->burst = fb_flow_next_burst(n->burst, b->blocks, b->arrived);
    if (timeout && b->arrived == 0) {
        n->fails++;
        /* A new neighbour's first burst brought nothing and we heard nothing from it: our
         * last HELLO may have been lost. Repeated once, not at every tick after. */
        if (n->fails == 1 && !n->heard && !n->is_seed)
            fb_peer_rehello(e, s, n);
    } else if (!push)
        n->fails = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        if (!flight_of(s, b, i, ni))
            continue;
        fb_flight *f = &s->fl[b->slot[i]];
        f->asked &= ~(b->mask[i] & ~f->got);
        if (f->chunk == FB_CHUNK_NONE || (timeout && f->got == 0 && f->asked == 0))
            fl_release(e, s, f);
    }
    n->recent_seq[n->recent_next % 4] = b->seq;
    n->recent[n->recent_next++ % 4] = b->req_id;
    if (timeout && b->arrived == 0 && b->answered) {
        /* QUEUED, then nothing in time: its chunks go to other senders, so tell this one not
         * to send them late (they would be wasted on both sides). */
        fb_wire_msg m;
        memset(&m, 0, sizeof(m));
        m.type = FB_MSG_CANCEL;
        m.u.cancel.req_id = b->req_id;
        fb_eng_send_msg(e, s, &n->addr, &m);
    }
    if (b->arrived > 0 && !push)
        s->lossy = (uint16_t)((7u * s->lossy + (b->seq_max > b->arrived ? 256u : 0u)) / 8);
    if (!n->is_seed) {
        n->ack_id = b->req_id;
        n->ack_count = (uint8_t)FB_MIN(b->arrived, 255);
        n->ack_qd = (uint16_t)FB_MIN(b->arrived ? b->qd_min / 1000 : 0, 65535u);
        /* Loss: a block after a missing one came (senders send in order). A missing tail may
         * be slow, cancelled or lost: the queueing delay tells the sender about congestion. */
        n->ack_flags = b->seq_max > b->arrived ? FB_ACK_LOSS : 0;
        n->ack_spread =
            b->arrived >= 2 ? (uint32_t)FB_MIN(b->last_us - b->first_us, (uint64_t)UINT32_MAX) : 0;
        n->ack_pending = true;
    } else if (timeout && b->arrived == 0) {
        /* The seed is saturated or unreachable: back off. */
        n->backoff_us = FB_MIN(FB_MAX(n->backoff_us * 2, SEED_BACKOFF_MIN_US), SEED_BACKOFF_MAX_US);
        n->busy_until = e->now + n->backoff_us;
    } else {
        n->backoff_us = 0;
    }
    if (!n->is_seed && !push)
        budget(s, !timeout && b->arrived >= b->blocks);
    burst_clear(s, n, b);
}

static void add_entry(fb_burst *b, uint16_t slot, uint32_t chunk, uint32_t mask)
{
    b->slot[b->n] = slot;
    b->chunk[b->n] = chunk;
    b->mask[b->n] = mask;
    b->n++;
}

/* The first chunk of the focus (fb_engine_swarm_focus) that is wanted and, when theirs is not
 * NULL, held by the sender; FB_CHUNK_NONE when there is none. */
static uint32_t focus_pick(const fb_swarm *s, const uint64_t *theirs)
{
    for (uint32_t c = s->focus_first; c < s->focus_end && c < s->n_chunks; c++)
        if (fb_bit_get(s->want, c) && (!theirs || fb_bit_get(theirs, c)))
            return c;
    return FB_CHUNK_NONE;
}

/* Exclusion list for a seed's-choice request: every chunk not wanted (held or in flight),
 * as intervals (the shortest forgotten if there are too many; the seed may then pick a chunk
 * we hold, which only wastes a little). While the focus has wanted chunks, everything outside
 * it is excluded too, so the seed picks among those. Returns the encoded length. */
static int exclusion(const fb_swarm *s, uint8_t *out, size_t cap)
{
    fb_iv store[256];
    fb_ivset set;
    fb_ivset_init(&set, store, 256);
    uint32_t c = 0, n = s->n_chunks;
    if (focus_pick(s, NULL) != FB_CHUNK_NONE) {
        c = s->focus_first;
        if (c > 0)
            fb_ivset_add_lossy(&set, 0, c);
        if (s->focus_end < n)
            fb_ivset_add_lossy(&set, s->focus_end, n);
        n = s->focus_end;
    }
    while (c < n) {
        /* Skip a run of wanted chunks (ones), then take a run of zeros. Bits past n are zero. */
        while (c < n) {
            uint64_t w = s->want[c >> 6] >> (c & 63);
            if (!(w & 1))
                break;
            uint64_t inv = ~w;
            c += inv ? (uint32_t)__builtin_ctzll(inv) : 64 - (c & 63);
        }
        if (c >= n)
            break;
        uint32_t start = c;
        while (c < n) {
            uint64_t w = s->want[c >> 6] >> (c & 63);
            if (w & 1)
                break;
            c += w ? (uint32_t)__builtin_ctzll(w) : 64 - (c & 63);
        }
        fb_ivset_add_lossy(&set, start, FB_MIN(c, n));
    }
    return fb_ivset_encode(&set, out, cap, 0xffff, NULL);
}

/* The endgame's choice for sender ni (holding `theirs`, NULL: all): a chunk in flight from
 * someone else, asked of nobody else yet, with the most blocks still to come; or -1. With
 * seed_after nonzero, only a chunk the seed chose for us and queued (QUEUED named it) to start
 * after seed_after, of which nothing has come yet. */
static int endgame(const fb_swarm *s, uint16_t ni, const uint64_t *theirs, uint64_t stalled_since,
                   uint64_t silent_since, uint32_t max_req, uint64_t seed_after)
{
    fb_pick_flight cand[64];
    uint32_t nc = 0;
    for (uint32_t i = 0; i < s->n_fl && nc < 64; i++) {
        const fb_flight *f = &s->fl[i];
        if (!f->used || f->chunk == FB_CHUNK_NONE)
            continue;
        if (seed_after && (f->nb != NB_SEED || f->got || f->eta_us <= seed_after))
            continue;
        if (f->last_us > stalled_since && (f->answered || f->started_us > silent_since))
            continue;
        cand[nc].chunk = f->chunk;
        cand[nc].remaining = popc(f->full & ~f->got);
        cand[nc].dup_ok =
            f->nb != ni && (s->cs[f->chunk] & CS_REQ) <= max_req && !(s->cs[f->chunk] & CS_HAVE);
        nc++;
    }
    /* Not a chunk this sender is already asked for. */
    for (uint32_t i = 0; i < s->n_fl; i++)
        if (s->fl[i].used && s->fl[i].nb == ni)
            for (uint32_t j = 0; j < nc; j++)
                if (cand[j].chunk == s->fl[i].chunk)
                    cand[j].dup_ok = false;
    int k = fb_pick_endgame(cand, nc, theirs);
    return k < 0 ? -1 : (int)cand[k].chunk;
}

/* A request that no answer (QUEUED, BUSY or DATA) followed for this long went to a neighbour
 * that has gone (or was lost): a finisher asks the seed for its chunk then. */
static uint64_t silent_us(const fb_swarm *s)
{
    uint64_t t = s->answer_rtt.init
                     ? (uint64_t)s->answer_rtt.srtt + 4 * (uint64_t)s->answer_rtt.rttvar
                     : ENDGAME_SEED_US;
    return FB_MIN(FB_MAX(t, ENDGAME_SILENT_MIN_US), ENDGAME_SEED_US);
}

/* A peer with nothing asked of any neighbour while it wants chunks: the seed is its only hope,
 * so a BUSY's doubling does not apply (its own retry time does). */
static bool starving(const fb_swarm *s)
{
    return s->req_out == 0 && s->n_want > 0;
}

/* Starving after a start (it held an eighth of the page): its neighbours have left or have
 * nothing more for it, and the seed, which serves it at once, is asked for more. */
static bool stranded(const fb_swarm *s)
{
    if (!starving(s))
        return false;
    if (s->have >= s->n_chunks / 8)
        return true;
    /* Alone with the seed (no active neighbour): nobody else serves it. */
    return s->have > 0 && s->n_active == 0;
}

/* Few neighbours (2 at most) and a quarter of the page or more still to get: a crowd has left
 * it behind, and the seed must serve most of what remains, so a BUSY's doubling does not
 * apply either (its own retry time does). */
static bool thin(const fb_swarm *s)
{
    return s->n_active <= 2 && s->have > 0 && s->have + s->n_chunks / 4 <= s->n_chunks;
}

/* The peer misses at most FINISH_CHUNKS chunks. */
static bool finishing(const fb_swarm *s)
{
    return s->have + FINISH_CHUNKS(s->n_chunks) >= s->n_chunks;
}

/* The seed's copy of a chunk queued at a neighbour (n: the seed): with nothing else to ask it,
 * a chunk asked of a neighbour, nothing of it come, that the neighbour said it starts later than
 * the seed's round trip from now (its QUEUED wait), asked of nobody else; the latest of them. Only
 * when the seed is spare (our last request there met a queue of about nothing but ours) or we are
 * a finisher. Or -1. At the end of a small crowd the seed idled for the last 0.1 s while the last
 * chunks waited 80-150 ms in neighbours' queues (broadband N=16 mean / T_min 1.216 -> 1.207). */
static int queued_elsewhere(const fb_engine *e, const fb_swarm *s, const fb_nb *n)
{
    if (!(n->spare || finishing(s)) || !n->rtt.init)
        return -1;
    uint64_t after = e->now + n->rtt.srtt, latest = 0;
    int k = -1;
    for (uint32_t i = 0; i < s->n_fl; i++) {
        const fb_flight *f = &s->fl[i];
        if (!f->used || f->nb == NB_SEED || f->chunk == FB_CHUNK_NONE || f->got ||
            f->eta_us <= FB_MAX(after, latest) || (s->cs[f->chunk] & CS_REQ) > 1 ||
            (s->cs[f->chunk] & CS_HAVE))
            continue;
        latest = f->eta_us;
        k = (int)f->chunk;
    }
    return k;
}

/* Builds the next request for n into b. Returns false if there is nothing to ask. */
static bool build(fb_engine *e, fb_swarm *s, fb_nb *n, fb_burst *b, bool cont_only)
{
    uint16_t ni = nbi(s, n);
    uint32_t need = n->burst;
    memset(b, 0, sizeof(*b));
    /* 1. Blocks still missing from chunks this sender is already giving us. */
    for (uint32_t i = 0; i < s->n_fl && need && b->n < FB_WIRE_MAX_REQ; i++) {
        fb_flight *f = &s->fl[i];
        if (!f->used || f->nb != ni || f->chunk == FB_CHUNK_NONE)
            continue;
        uint32_t rem = f->full & ~f->got & ~f->asked;
        /* Over the budget, only chunks whose sender has sent nothing of them lately. */
        if (!rem || (cont_only && e->now - f->last_us < CONT_IDLE_US))
            continue;
        uint32_t take = low_bits(rem, need);
        f->asked |= take;
        add_entry(b, (uint16_t)i, f->chunk, take);
        need -= popc(take);
    }
    /* 2. New chunks. */
    if (cont_only) {
        /* Over the budget: only the rest of chunks started (step 1). */
    } else if (n->is_seed) {
        if (b->n == 0 && s->n_want == 0) {
            /* Endgame: everything missing is in flight elsewhere; ask the seed too for the
             * chunk with the most blocks still to come (a straggler's neighbours may be
             * leaving). */
            int k =
                e->now > ENDGAME_SEED_US && finishing(s)
                    ? endgame(s, ni, NULL, e->now - ENDGAME_SEED_US, e->now - silent_us(s), 2, 0)
                    : -1;
            if (k < 0)
                k = queued_elsewhere(e, s, n);
            if (k < 0)
                return false;
            uint16_t slot;
            fb_flight *f = fl_alloc(s, &slot);
            if (!f)
                return false;
            uint32_t c = (uint32_t)k;
            fl_start(e, s, f, ni, c, false);
            f->asked = f->full;
            f->last_us = e->now;
            if ((s->cs[c] & CS_REQ) < CS_REQ)
                s->cs[c]++;
            add_entry(b, slot, c, f->full);
        } else if (b->n == 0 && s->n_want > 0) {
            /* The seed's choice, as many chunks as this sender's burst size covers (1 to 4). */
            uint32_t bpc = s->map.chunk_size / FB_BLOCK_SIZE;
            uint32_t k = FB_MIN(FB_MAX(n->burst / bpc, 1u), (uint32_t)FB_WIRE_MAX_REQ);
            if (stranded(s))
                k = FB_WIRE_MAX_REQ; /* the seed is its only source */
            /* No more than are wanted beyond what the seed's earlier choices will bring
             * (chunks it has not named yet): it would choose the same ones again. */
            uint32_t free_fl = 0, unnamed = 0;
            for (uint32_t i = 0; i < s->n_fl; i++) {
                free_fl += !s->fl[i].used;
                unnamed += s->fl[i].used && s->fl[i].nb == ni && s->fl[i].chunk == FB_CHUNK_NONE;
            }
            if (unnamed >= s->n_want)
                return false;
            k = FB_MIN(k, s->n_want - unnamed);
            /* A peer holding nothing asks one chunk at a time: the seed's first pass over a
             * crowd then reaches every peer twice as soon, and each has something to trade. */
            if (!s->have)
                k = 1;
            /* Leave room for neighbours: half the free in-flight slots at most. */
            k = FB_MIN(k, FB_MAX(free_fl / 2, 1u));
            for (uint32_t j = 0; j < k; j++) {
                uint16_t slot;
                fb_flight *f = fl_alloc(s, &slot);
                if (!f)
                    break;
                f->used = true;
                f->nb = ni;
                f->chunk = FB_CHUNK_NONE;
                f->started_us = e->now;
                f->last_us = e->now;
                f->answered = false;
                f->eta_us = 0;
                add_entry(b, slot, FB_CHUNK_NONE, 0);
            }
            if (!b->n)
                return false;
            b->any = true;
            b->blocks = (uint16_t)(b->n * bpc);
            return true;
        }
    } else {
        while (need && b->n < FB_WIRE_MAX_REQ) {
            fb_pick_query q = {s->n_chunks,
                               n->complete ? NULL : n->have,
                               s->want,
                               s->avail,
                               s->n_chunks ? fb_eng_rand32(e) % s->n_chunks : 0,
                               4096};
            uint32_t c = s->n_want ? focus_pick(s, n->complete ? NULL : n->have) : FB_CHUNK_NONE;
            if (c == FB_CHUNK_NONE && s->n_want)
                c = fb_pick_rarest(&q);
            bool dup = false;
            /* Endgame (a finisher only: before, the copies cost uplinks more than they saved).
             * Before it, everything asked, a chunk the seed chose for us and queued to start
             * later than this sender would send SEED_COPY_CHUNKS chunks (at the gap between its
             * blocks), nothing of it here yet: the seed serves its queue least advanced first,
             * and such a chunk came last of all (broadband N=4096: named 0.28 s before it came,
             * nobody else asked until the peer was a finisher). */
            if (c == FB_CHUNK_NONE && s->n_want == 0 && (finishing(s) || n->gap_us)) {
                uint64_t after = finishing(s) ? 0
                                              : e->now + (uint64_t)SEED_COPY_CHUNKS * n->gap_us *
                                                             (s->map.chunk_size / FB_BLOCK_SIZE);
                int k = endgame(s, ni, n->complete ? NULL : n->have, UINT64_MAX, 0, 1, after);
                if (k >= 0) {
                    c = (uint32_t)k;
                    dup = true;
                }
            }
            if (c == FB_CHUNK_NONE)
                break;
            uint16_t slot;
            fb_flight *f = fl_alloc(s, &slot);
            if (!f)
                break;
            fl_start(e, s, f, ni, c, false);
            f->last_us = e->now;
            if (!dup && fb_bit_get(s->want, c)) {
                fb_bit_clear(s->want, c);
                s->n_want--;
            }
            if ((s->cs[c] & CS_REQ) < CS_REQ)
                s->cs[c]++;
            uint32_t take = low_bits(f->full, need);
            f->asked = take;
            add_entry(b, slot, c, take);
            need -= popc(take);
            if (dup)
                break; /* one duplicate per request is enough */
        }
    }
    if (!b->n)
        return false;
    b->blocks = 0;
    for (uint32_t i = 0; i < b->n; i++)
        b->blocks = (uint16_t)(b->blocks + popc(b->mask[i]));
    return true;
}

static void send_request(fb_engine *e, fb_swarm *s, fb_nb *n, fb_burst *b)
{
    fb_wire_msg m;
    uint8_t iv[FB_WIRE_MAX];
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_REQUEST;
    if (n->ack_pending) {
        m.u.request.ack_id = n->ack_id;
        m.u.request.ack_count = n->ack_count;
        m.u.request.ack_qd = n->ack_qd;
        m.u.request.ack_spread = n->ack_spread;
        m.u.request.ack_flags = n->ack_flags;
        n->ack_pending = false;
        n->last_ack_us = e->now;
    }
    uint32_t id;
    do
        id = fb_eng_rand32(e);
    while (!id);
    b->req_id = id;
    if (!n->is_seed)
        s->req_out++;
    m.u.request.req_id = id;
    m.u.request.n = b->any ? 1 : b->n;
    for (uint32_t i = 0; i < b->n && !b->any; i++) {
        m.u.request.e[i].chunk = b->chunk[i];
        m.u.request.e[i].mask = b->mask[i];
    }
    if (b->any) {
        m.u.request.e[0].chunk = FB_WIRE_ANY;
        m.u.request.e[0].mask = b->n; /* chunks wanted */
    }
    if (b->any) {
        int k = exclusion(s, iv, FB_WIRE_MAX - FB_WIRE_REQUEST_FIXED - 8);
        m.u.request.iv = iv;
        m.u.request.iv_len = k > 0 ? (size_t)k : 0;
    }
    b->sent_us = e->now;
    b->deadline_us = e->now + rto_of(s, n);
    b->seq = ++n->burst_seq;
    fb_eng_send_msg(e, s, &n->addr, &m);
    n->last_tx_us = e->now;
    fb_eng_arm(e, b->deadline_us);
}

static void send_ack(fb_engine *e, fb_swarm *s, fb_nb *n)
{
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_REQUEST;
    m.u.request.ack_id = n->ack_id;
    m.u.request.ack_count = n->ack_count;
    m.u.request.ack_qd = n->ack_qd;
    m.u.request.ack_spread = n->ack_spread;
    m.u.request.ack_flags = n->ack_flags;
    n->ack_pending = false;
    n->last_ack_us = e->now;
    fb_eng_send_msg(e, s, &n->addr, &m);
    n->last_tx_us = e->now;
}

/* An early report on a burst still arriving (after its 4th block), so the sender learns its
 * path's rate and queue within a round trip of starting. */
static void early_ack(fb_engine *e, fb_swarm *s, fb_nb *n, const fb_burst *b)
{
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_REQUEST;
    m.u.request.ack_id = b->req_id;
    m.u.request.ack_count = (uint8_t)b->arrived;
    m.u.request.ack_qd = (uint16_t)FB_MIN(b->qd_min / 1000, 65535u);
    m.u.request.ack_spread = (uint32_t)FB_MIN(b->last_us - b->first_us, (uint64_t)UINT32_MAX);
    m.u.request.ack_flags = FB_ACK_PARTIAL | (b->seq_max > b->arrived ? FB_ACK_LOSS : 0);
    fb_eng_send_msg(e, s, &n->addr, &m);
    n->last_ack_us = e->now;
    n->last_tx_us = e->now;
}

void fb_dl_pump(fb_engine *e, fb_swarm *s, fb_nb *n)
{
    if (s->state != SW_ACTIVE || n->state != NB_ACTIVE)
        return;
    bool sent = false;
    if (n->is_seed && n->busy_until > e->now && (starving(s) || thin(s))) {
        if (n->busy_min_until <= e->now)
            n->busy_until = e->now;
        else
            fb_eng_arm(e, n->busy_min_until);
    }
    if (!s->complete && n->busy_until <= e->now) {
        /* Two requests per sender; four at the seed for a starving peer (its neighbours have
         * nothing for it: the seed is its only source), eight for a lone one (no neighbour at
         * all) while its flow control has room (the seed admits them while its queue is under a
         * quarter full). */
        int slots = !n->is_seed || !stranded(s)                  ? NB_PEER_BURSTS
                    : !s->had_nb && n->burst >= FB_BURST_MAX / 2 ? NB_BURSTS
                                                                 : NB_STRANDED_BURSTS;
        /* The seed with little but ours in its queue, and what 4 requests of 4 chunks bring
         * arriving within a round trip (the path has room for more): as many as a lone peer. */
        if (n->is_seed && n->spare && n->gap_us && n->rtt.init &&
            (uint64_t)NB_STRANDED_BURSTS * FB_WIRE_MAX_REQ * (s->map.chunk_size / FB_BLOCK_SIZE) *
                    n->gap_us <
                n->rtt.srtt)
            slots = NB_BURSTS;
        /* Not joined yet (the request that follows the JOIN): one. */
        if (n->is_seed && !s->joined)
            slots = 1;
        for (int k = 0; k < slots; k++) {
            fb_burst *b = &n->out[k];
            if (b->req_id)
                continue;
            /* Over the budget, a sender that has a chunk of ours half sent (nothing of it for
             * CONT_IDLE_US) and no request of ours is still asked for the rest of it (and
             * nothing else): otherwise the blocks already here wait, and are lost when the
             * sender leaves or drops us. */
            bool over = !n->is_seed && s->req_out >= fb_dl_budget(s);
            bool idle = true;
            for (int j = 0; j < NB_BURSTS; j++)
                idle &= !n->out[j].req_id;
            if (over && !idle)
                break;
            if (!build(e, s, n, b, over))
                break;
            send_request(e, s, n, b);
            sent = true;
        }
    } else if (n->busy_until > e->now) {
        fb_eng_arm(e, n->busy_until);
    }
    if (!sent && n->ack_pending)
        send_ack(e, s, n);
}

void fb_dl_pump_all(fb_engine *e, fb_swarm *s)
{
    for (uint32_t i = 0; i < s->n_nb; i++)
        if (s->nb[i].state == NB_ACTIVE)
            fb_dl_pump(e, s, &s->nb[i]);
}

/* Another sender finished chunk c: drop our duplicate requests for it. */
static void cancel_dups(fb_engine *e, fb_swarm *s, uint32_t c)
{
    for (uint32_t i = 0; i < s->n_fl; i++) {
        fb_flight *f = &s->fl[i];
        if (!f->used || f->chunk != c)
            continue;
        fb_nb *o = &s->nb[f->nb];
        for (int k = 0; k < NB_BURSTS; k++) {
            fb_burst *b = &o->out[k];
            if (!b->req_id)
                continue;
            bool other = false, mine = false;
            for (uint32_t j = 0; j < b->n; j++) {
                if (b->slot[j] == i && b->chunk[j] == c)
                    mine = true;
                else
                    other = true;
            }
            if (mine && !other) { /* the request was only for this chunk: cancel it */
                fb_wire_msg m;
                memset(&m, 0, sizeof(m));
                m.type = FB_MSG_CANCEL;
                m.u.cancel.req_id = b->req_id;
                fb_eng_send_msg(e, s, &o->addr, &m);
                o->recent[o->recent_next++ % 4] = b->req_id;
                burst_clear(s, o, b);
            }
        }
        fl_release(e, s, f);
    }
}

/* A complete chunk: verify, then store and announce, or ban the sender. */
static void verify(fb_engine *e, fb_swarm *s, fb_nb *n, fb_flight *f)
{
    uint8_t h[32];
    uint32_t c = f->chunk;
    e->host.sha256(e->host.ctx, f->buf, f->len, h);
    if (memcmp(h, s->hash[c], 32) != 0) {
        e->st.chunks_bad++;
        fl_release(e, s, f);
        if (!n->is_seed)
            fb_peer_nb_remove(e, s, n, true);
        return;
    }
    n->down += f->len;
    if (s->cs[c] & CS_HAVE) {
        e->st.chunks_dup++;
        fl_release(e, s, f);
        return;
    }
    e->host.chunk_write(e->host.ctx, fb_eng_swarm_index(e, s), c, f->buf, f->len);
    f->got = 0; /* used, not abandoned */
    fl_release(e, s, f);
    cancel_dups(e, s, c);
    fb_peer_chunk_done(e, s, c, n->is_seed ? FB_SRC_SEED : FB_SRC_PEER, n);
}

/* The sender answered burst b: so much for its flights. */
static void flights_answered(fb_swarm *s, const fb_nb *n, const fb_burst *b)
{
    for (uint32_t i = 0; i < b->n; i++)
        if (flight_of(s, b, i, nbi(s, n)))
            s->fl[b->slot[i]].answered = true;
}

/* The seed named its choice c for entry i of ANY burst b (in QUEUED or the first DATA): the
 * flight takes it, and nobody else is asked for it. */
static void name_any(fb_swarm *s, fb_burst *b, uint32_t i, uint32_t c)
{
    fb_flight *g = &s->fl[b->slot[i]];
    g->chunk = c;
    g->len = fb_chunk_len(&s->map, c);
    g->full = fb_chunk_full_mask(g->len);
    g->asked = g->full;
    b->chunk[i] = c;
    b->mask[i] = g->full;
    /* The burst counted a full chunk for this entry; the last chunk of an object is shorter. */
    b->blocks = (uint16_t)(b->blocks - s->map.chunk_size / FB_BLOCK_SIZE + popc(g->full));
    if (fb_bit_get(s->want, c)) {
        fb_bit_clear(s->want, c);
        s->n_want--;
    }
    if ((s->cs[c] & CS_REQ) < CS_REQ)
        s->cs[c]++;
}

/* A block of request `id` came that is not outstanding (a revived request, or a push): binds the
 * free flight f (slot `slot`) and the free burst b to the whole of wanted chunk c from n, answered
 * and in place `seq` of n's order of sending, the chunk counted as asked. */
static void whole_burst(fb_engine *e, fb_swarm *s, fb_nb *n, fb_burst *b, fb_flight *f,
                        uint16_t slot, uint32_t id, uint32_t c, uint32_t seq, bool push)
{
    fl_start(e, s, f, nbi(s, n), c, true);
    f->asked = f->full;
    f->last_us = e->now;
    fb_bit_clear(s->want, c);
    s->n_want--;
    if ((s->cs[c] & CS_REQ) < CS_REQ)
        s->cs[c]++;
    memset(b, 0, sizeof(*b));
    b->req_id = id;
    b->push = push;
    add_entry(b, slot, c, f->full);
    b->blocks = (uint16_t)popc(f->full);
    b->answered = true;
    b->sent_us = e->now;
    b->seq = seq;
    b->deadline_us = e->now + gapto(n);
    fb_eng_arm(e, b->deadline_us);
}

/* A block for request `id`, which we gave up on lately (its answer was lost or slow), turns
 * up: if its chunk is still wanted and nobody else is asked for it, the request comes back to
 * life for the whole chunk instead of wasting what the sender is sending. It keeps its place
 * `seq` in the order of sending: the sender served it before our later requests, which are still
 * on their way (a fresh place would end them all as lost, and at the seed each such "timeout"
 * doubled the back-off: broadband N=8 peers stopped asking the seed for up to a second). */
static fb_burst *revive(fb_engine *e, fb_swarm *s, fb_nb *n, uint32_t id, uint32_t seq, uint32_t c)
{
    if (!fb_bit_get(s->want, c) || s->complete)
        return NULL;
    fb_burst *b = NULL;
    /* Within the slots a sender in a crowd may have (the extra ones are a lone peer's). */
    for (int k = 0; k < NB_STRANDED_BURSTS && !b; k++)
        if (!n->out[k].req_id)
            b = &n->out[k];
    uint16_t slot;
    fb_flight *f = b ? fl_alloc(s, &slot) : NULL;
    if (!f)
        return NULL;
    whole_burst(e, s, n, b, f, slot, id, c, seq, false);
    if (!n->is_seed)
        s->req_out++;
    return b;
}

/* A block for request `id`, which n does not know: a chunk n pushed unasked (section 9). n's
 * earlier push, if still open, ends (n sends in order), so one push per sender is open at most.
 * The push is taken in when n is an active neighbour, we take pushes, and chunk c is wanted (not
 * held, not asked of anyone, not asked of the origin) and a flight slot is free: it then becomes
 * a flight bound to n and a burst with id `id` (returned), like a request of ours. Otherwise n
 * is told once (CANCEL) to stop, and NULL is returned. Either way n is taken to hold c. */
static fb_burst *accept_push(fb_engine *e, fb_swarm *s, fb_nb *n, uint32_t id, uint32_t c)
{
    if (n->is_seed || id == n->push_refused)
        return NULL; /* the seed pushes nothing: a late block; or refused already */
    /* n holds c (it is sending it): a claim, like a HAVE. */
    fb_peer_nb_has(s, n, c);
    /* n sends in order: its earlier push is over (what did not come of it was lost). */
    for (int k = 0; k < NB_BURSTS; k++)
        if (n->out[k].req_id && n->out[k].push)
            finish(e, s, n, &n->out[k], n->out[k].arrived < n->out[k].blocks);
    fb_burst *b = NULL;
    for (int k = NB_STRANDED_BURSTS; k < NB_BURSTS && !b; k++)
        if (!n->out[k].req_id)
            b = &n->out[k];
    uint16_t slot;
    fb_flight *f = NULL;
    if (b && n->state == NB_ACTIVE && e->cfg.push_max != FB_PUSH_OFF && !s->complete &&
        !s->draining && fb_bit_get(s->want, c) && !(s->cs[c] & (CS_REQ | CS_HAVE | CS_ORIGIN)))
        f = fl_alloc(s, &slot);
    if (!f) {
        fb_wire_msg m;
        memset(&m, 0, sizeof(m));
        m.type = FB_MSG_CANCEL;
        m.u.cancel.req_id = id;
        fb_eng_send_msg(e, s, &n->addr, &m);
        n->push_refused = id;
        e->st.pushes_refused++;
        return NULL;
    }
    /* Ordered after our requests to n sent so far, which its queue serves first. */
    whole_burst(e, s, n, b, f, slot, id, c, ++n->burst_seq, true);
    e->st.pushes_accepted++;
    return b;
}

void fb_dl_data(fb_engine *e, fb_swarm *s, fb_nb *n, const fb_wire_msg *m)
{
    uint16_t ni = nbi(s, n);
    uint32_t c = m->u.data.chunk, id = m->u.data.req_id;
    fb_burst *b = NULL;
    for (int k = 0; k < NB_BURSTS; k++)
        if (n->out[k].req_id == id)
            b = &n->out[k];
    if (c >= s->n_chunks) {
        e->st.dropped_invalid++;
        return;
    }
    if (!b) {
        int r = -1;
        for (int k = 0; k < 4; k++)
            if (n->recent[k] == id)
                r = k;
        if (r >= 0)
            b = revive(e, s, n, id, n->recent_seq[r], c);
        else if (!(b = accept_push(e, s, n, id, c))) {
            e->st.blocks_unused++;
            e->st.blocks_late++;
            if (n->state == NB_ACTIVE && !n->is_seed)
                fb_dl_pump(e, s, n); /* n holds c: it may be asked for it */
            return;
        }
    }
    fb_flight *f = NULL;
    uint32_t ent = 0;
    if (b) {
        for (uint32_t i = 0; i < b->n && !f; i++) {
            fb_flight *g = &s->fl[b->slot[i]];
            if (b->any && b->chunk[i] == FB_CHUNK_NONE && g->used && g->nb == ni &&
                g->chunk == FB_CHUNK_NONE)
                name_any(s, b, i, c);
            if (flight_of(s, b, i, ni) && g->chunk == c) {
                f = g;
                ent = i;
            }
        }
    } else {
        for (uint32_t i = 0; i < s->n_fl && !f; i++)
            if (s->fl[i].used && s->fl[i].nb == ni && s->fl[i].chunk == c)
                f = &s->fl[i];
    }
    if (!f) {
        e->st.blocks_unused++;
        return;
    }
    uint32_t bit = (uint32_t)1 << m->u.data.block;
    if (!(f->full & bit) || (f->got & bit) || (b && !(b->mask[ent] & bit))) {
        e->st.blocks_unused++; /* not asked, or a duplicate */
        return;
    }
    if (m->u.data.len != fb_block_len(f->len, m->u.data.block)) {
        e->st.dropped_invalid++;
        return;
    }
    if (!f->buf) {
        f->buf = fb_eng_buf_get(e, s->map.chunk_size);
        if (!f->buf) {
            e->st.dropped_cap++;
            return;
        }
    }
    memcpy(f->buf + (size_t)m->u.data.block * FB_BLOCK_SIZE, m->u.data.payload, m->u.data.len);
    f->got |= bit;
    f->last_us = e->now;
    n->last_used_us = e->now;
    if (n->is_seed) {
        s->seed_last_data_us = e->now;
        /* The seed is serving us: a back-off from requests that timed out was our deadline's
         * mistake (they were queued behind others, and their blocks come late), not a
         * saturated or unreachable seed. A BUSY's own retry time still holds. */
        if (n->backoff_us) {
            n->backoff_us = 0;
            n->busy_until = FB_MIN(n->busy_until, FB_MAX(e->now, n->busy_min_until));
        }
    }
    /* One-way queueing delay: this block's (arrival - stamp) over the smallest seen from n
     * (the clocks' offset cancels out). */
    uint32_t owd = (uint32_t)e->now - m->u.data.ts;
    int32_t over = (int32_t)(owd - n->owd_base);
    if (!n->owd_init || over < 0) {
        n->owd_base = owd;
        n->owd_init = true;
        over = 0;
    }
    if (b) {
        /* The smallest delay of the burst: a queue the sender keeps standing shows in every
         * block, a passing one (another sender's burst at our downlink) does not. */
        if (!b->got_first || (uint32_t)over < b->qd_min)
            b->qd_min = (uint32_t)over;
        /* The block's position in the order the sender sends (entries in order, blocks
         * ascending): a position past blocks not yet come means they were lost (FIFO). */
        uint32_t pos = popc(b->mask[ent] & (bit - 1));
        for (uint32_t i = 0; i < ent; i++)
            pos += popc(b->mask[i]);
        if (pos + 1 > b->seq_max)
            b->seq_max = (uint16_t)(pos + 1);
        if (!b->answered) {
            answer_sample(s, n, e->now - b->sent_us);
            b->answered = true;
            n->spare = n->is_seed; /* served at once: nothing was waiting */
            flights_answered(s, n, b);
        }
        if (!b->got_first) {
            b->got_first = true;
            b->first_us = e->now;
            n->busy_count = 0;
        } else if (b->last_us) {
            uint64_t g = e->now - b->last_us;
            if (g < 1000000)
                n->gap_us = (uint32_t)((7 * (uint64_t)n->gap_us + g) / 8);
        }
        b->last_us = e->now;
        b->arrived++;
        /* An early report when this sender has had none lately (a new sender, or a long
         * silence): it learns its path's rate within a round trip. */
        if (b->arrived == 4 && !n->is_seed && b->blocks > 8 &&
            e->now - n->last_ack_us >= EARLY_ACK_EVERY_US)
            early_ack(e, s, n, b);
        /* Senders serve a receiver's requests in order: an older request still incomplete
         * has lost its missing blocks. (Not told by a push: a sender queues it when its queue is
         * about empty, and our requests that reach it later are served after it.) */
        for (int k = 0; k < NB_BURSTS && !b->push; k++) {
            fb_burst *o = &n->out[k];
            if (o != b && o->req_id && o->seq < b->seq && o->arrived < o->blocks)
                finish(e, s, n, o, true);
        }
    }
    /* Data is flowing from n: the started burst may wait gapto for its next block; a burst
     * not started yet waits its turn behind it, so it gets a full rto from now. */
    for (int k = 0; k < NB_BURSTS; k++) {
        fb_burst *o = &n->out[k];
        if (!o->req_id)
            continue;
        uint64_t d = e->now + (o->got_first ? gapto(n) : rto_of(s, n));
        if (o->deadline_us < d) {
            o->deadline_us = d;
            fb_eng_arm(e, d);
        }
    }
    bool burst_done = b && b->arrived >= b->blocks;
    if (burst_done)
        gap_sample(s, b);
    if (f->got == f->full) {
        verify(e, s, n, f);
        if (n->state == NB_FREE || s->state != SW_ACTIVE)
            return; /* banned */
    }
    if (burst_done && b->req_id == id)
        finish(e, s, n, b, false);
    fb_dl_pump(e, s, n);
}

void fb_dl_busy(fb_engine *e, fb_swarm *s, fb_nb *n, const fb_wire_msg *m)
{
    if (!m->u.busy.req_id) {
        /* The seed's invitation (its queue has room again): a wait it imposed ends now. It
         * only shortens a wait a BUSY or a timeout began (one request round each at most). */
        if (n->is_seed && n->busy_until > e->now) {
            n->busy_until = e->now;
            n->busy_min_until = e->now;
            n->busy_count = 0;
            fb_dl_pump(e, s, n);
        }
        return;
    }
    uint16_t ni = nbi(s, n);
    for (int k = 0; k < NB_BURSTS; k++) {
        fb_burst *b = &n->out[k];
        if (!b->req_id || b->req_id != m->u.busy.req_id)
            continue;
        if (!b->answered)
            answer_sample(s, n, e->now - b->sent_us);
        /* Sent before the last BUSY from n came: the same refusal as that one (a batch of
         * requests sent together and refused together), not one more in a row. */
        bool again = b->sent_us >= n->busy_at_us;
        for (uint32_t i = 0; i < b->n; i++) {
            if (!flight_of(s, b, i, ni))
                continue;
            fb_flight *f = &s->fl[b->slot[i]];
            f->asked &= ~(b->mask[i] & ~f->got);
            if (f->chunk == FB_CHUNK_NONE || (f->got == 0 && f->asked == 0))
                fl_release(e, s, f);
        }
        burst_clear(s, n, b);
        n->spare = false;
        if (finishing(s))
            fb_eng_arm(e, e->now); /* its chunks go to another sender (the seed) at once */
        if (again && !n->is_seed)
            budget(s, false);
        /* Wait what the sender said, doubled for each BUSY in a row (many receivers may be
         * asking the same sender), with jitter. Four BUSYs for four requests a peer sent the
         * seed together doubled its wait three times, to 400 ms, while the seed idled. */
        uint64_t ms = FB_MIN(FB_MAX(m->u.busy.retry_ms, 50u), 10000u);
        uint32_t row = again || !n->busy_count ? n->busy_count : n->busy_count - 1u;
        uint64_t wait =
            FB_MIN(ms * T_MS << (finishing(s) || thin(s) ? 0 : FB_MIN(row, 4u)), 2000 * T_MS);
        if (again && n->busy_count < 255)
            n->busy_count++;
        if (again)
            n->busy_at_us = e->now;
        wait += fb_eng_rand32(e) % (wait / 2 + 1);
        n->busy_until = e->now + wait;
        n->busy_min_until = e->now + ms * T_MS;
        fb_eng_arm(e, n->busy_until);
    }
}

/* How long the blocks of our requests to n sent before b, not yet arrived, take at the gap
 * we see between n's blocks: the part of a QUEUED wait that is ours. */
static uint64_t own_ahead_us(const fb_nb *n, const fb_burst *b)
{
    uint64_t blocks = 0;
    for (int k = 0; k < NB_BURSTS; k++) {
        const fb_burst *o = &n->out[k];
        if (o != b && o->req_id && o->seq < b->seq && o->blocks > o->arrived)
            blocks += o->blocks - o->arrived;
    }
    return blocks * n->gap_us;
}

void fb_dl_queued(fb_engine *e, fb_swarm *s, fb_nb *n, const fb_wire_msg *m)
{
    for (int k = 0; k < NB_BURSTS; k++) {
        fb_burst *b = &n->out[k];
        if (!b->req_id || b->req_id != m->u.queued.req_id || b->got_first)
            continue;
        if (!b->answered) {
            answer_sample(s, n, e->now - b->sent_us);
            b->answered = true;
        }
        flights_answered(s, n, b);
        uint32_t c = m->u.queued.chunk;
        if (b->any && b->chunk[0] == FB_CHUNK_NONE && c < s->n_chunks && s->fl[b->slot[0]].used &&
            s->fl[b->slot[0]].chunk == FB_CHUNK_NONE)
            name_any(s, b, 0, c);
        /* Accepted behind others: wait what the sender expects, and some more. */
        uint64_t wait = (uint64_t)m->u.queued.wait_ms * T_MS;
        for (uint32_t i = 0; i < b->n; i++)
            if (flight_of(s, b, i, nbi(s, n)))
                s->fl[b->slot[i]].eta_us = e->now + wait;
        if (n->is_seed)
            n->spare = wait <= own_ahead_us(n, b) + n->rtt.srtt / 2;
        uint64_t d = e->now + wait + wait / 2 + rto_of(s, n);
        if (d > b->deadline_us) {
            b->deadline_us = d;
            fb_eng_arm(e, d);
        }
    }
}

uint64_t fb_dl_tick(fb_engine *e, fb_swarm *s, fb_nb *n)
{
    uint64_t next = UINT64_MAX;
    for (int k = 0; k < NB_BURSTS; k++) {
        fb_burst *b = &n->out[k];
        if (!b->req_id || b->deadline_us > e->now)
            continue;
        /* The first deadline is a guess: answers wait in our downlink queue behind the data
         * we asked of others, and a sender serves its queue by priority, not in the order its
         * QUEUED wait assumed. Nearly every answer later than it came within another rto,
         * and giving up wasted what then arrived. So a request gets one extension: with no
         * answer at all, an rto, unless blocks are being lost (more than 1 burst in 10 lost
         * one lately: then the request or its answer was probably lost too); QUEUED and
         * nothing yet while its sender is still heard from, as long again as it waited (2 s
         * at most). */
        bool alive = b->answered && b->arrived == 0 && n->last_rx_us > b->sent_us;
        bool silent = !b->answered && s->lossy < LOSSY_EXTEND;
        if (!b->extended && (silent || alive)) {
            b->extended = true;
            b->deadline_us =
                e->now + (alive ? FB_MIN(e->now - b->sent_us, 2000 * T_MS) : rto_of(s, n));
            continue;
        }
        finish(e, s, n, b, true);
    }
    if (!n->is_seed && n->fails >= 2) {
        /* A failed re-request (tit-for-tat at the other end, or it is gone): drop it, and say
         * so: a sender that is only slow then stops serving what we no longer wait for. */
        fb_wire_msg bye;
        memset(&bye, 0, sizeof(bye));
        bye.type = FB_MSG_BYE;
        bye.u.bye.reason = FB_BYE_REFUSED;
        fb_eng_send_msg(e, s, &n->addr, &bye);
        fb_peer_nb_remove(e, s, n, false);
        return UINT64_MAX;
    }
    fb_dl_pump(e, s, n);
    for (int k = 0; k < NB_BURSTS; k++)
        if (n->out[k].req_id)
            next = FB_MIN(next, n->out[k].deadline_us);
    /* A finisher asks the seed for a chunk whose sender stalled: wake when one would have. */
    if (n->is_seed && !s->complete && s->n_want == 0 && finishing(s))
        for (uint32_t i = 0; i < s->n_fl; i++) {
            const fb_flight *f = &s->fl[i];
            if (!f->used || f->chunk == FB_CHUNK_NONE || f->nb == nbi(s, n))
                continue;
            if (f->last_us + ENDGAME_SEED_US > e->now)
                next = FB_MIN(next, f->last_us + ENDGAME_SEED_US + 1);
            if (!f->answered && f->started_us + silent_us(s) > e->now)
                next = FB_MIN(next, f->started_us + silent_us(s) + 1);
        }
    if (n->busy_until > e->now)
        next = FB_MIN(next, n->busy_until);
    return next;
}

void fb_dl_release_nb(fb_engine *e, fb_swarm *s, fb_nb *n)
{
    (void)e;
    uint16_t ni = nbi(s, n);
    for (uint32_t i = 0; i < s->n_fl; i++)
        if (s->fl[i].used && s->fl[i].nb == ni)
            fl_release(e, s, &s->fl[i]);
    for (int k = 0; k < NB_BURSTS; k++)
        burst_clear(s, n, &n->out[k]);
    n->ack_pending = false;
}

/* The origin fallback (docs/PROTOCOL.md): when neither the peers nor the seed delivered a
 * chunk for ORIGIN_STALL_US, ask the host for up to ORIGIN_MAX chunks over HTTP, preferring
 * chunks no neighbour holds; an unanswered request is re-issued after ORIGIN_EXPIRE_US. */
uint64_t fb_dl_origin_tick(fb_engine *e, fb_swarm *s)
{
    uint64_t now = e->now;
    if (s->complete || s->state != SW_ACTIVE)
        return UINT64_MAX;
    uint32_t outstanding = 0;
    for (int i = 0; i < ORIGIN_MAX; i++) {
        if (!s->origin_exp[i])
            continue;
        uint32_t c = s->origin_chunk[i];
        if ((s->cs[c] & CS_HAVE) || now >= s->origin_exp[i]) {
            s->cs[c] &= (uint8_t)~CS_ORIGIN;
            s->origin_exp[i] = 0;
        } else {
            outstanding++;
        }
    }
    if (now < s->stall_check_us)
        return s->stall_check_us;
    s->stall_check_us = now + 1000 * T_MS;
    bool stalled = now - s->last_progress_us >= ORIGIN_STALL_US &&
                   now - s->seed_last_data_us >= ORIGIN_STALL_US;
    if (!stalled || outstanding >= ORIGIN_MAX || !s->n_chunks)
        return s->stall_check_us;
    uint32_t start = fb_eng_rand32(e) % s->n_chunks;
    uint32_t pick = FB_CHUNK_NONE, fallback = FB_CHUNK_NONE;
    for (uint32_t k = 0; k < s->n_chunks; k++) {
        uint32_t c = (start + k) % s->n_chunks;
        if (s->cs[c] & (CS_HAVE | CS_ORIGIN))
            continue;
        if (!s->avail[c] && !(s->cs[c] & CS_REQ)) {
            pick = c;
            break;
        }
        if (fallback == FB_CHUNK_NONE)
            fallback = c;
    }
    if (pick == FB_CHUNK_NONE)
        pick = fallback;
    if (pick == FB_CHUNK_NONE)
        return s->stall_check_us;
    for (int i = 0; i < ORIGIN_MAX; i++) {
        if (s->origin_exp[i])
            continue;
        s->origin_chunk[i] = pick;
        s->origin_exp[i] = now + ORIGIN_EXPIRE_US;
        s->cs[pick] |= CS_ORIGIN;
        e->st.origin_requests++;
        uint32_t obj = 0;
        fb_chunk_locate(&s->map, pick, &obj, NULL, NULL);
        fb_eng_emit(e, FB_EV_NEED_ORIGIN, fb_eng_swarm_index(e, s), obj, pick, FB_SRC_ORIGIN, NULL);
        break;
    }
    return s->stall_check_us;
}

int fb_dl_supply(fb_engine *e, fb_swarm *s, uint32_t c, const uint8_t *data, size_t len)
{
    if (s->state != SW_ACTIVE || c >= s->n_chunks || len != fb_chunk_len(&s->map, c))
        return FB_EINVAL;
    uint8_t h[32];
    e->host.sha256(e->host.ctx, data, len, h);
    if (memcmp(h, s->hash[c], 32) != 0) {
        e->st.chunks_bad++;
        return FB_EPROTO;
    }
    for (int i = 0; i < ORIGIN_MAX; i++)
        if (s->origin_exp[i] && s->origin_chunk[i] == c)
            s->origin_exp[i] = 0;
    s->cs[c] &= (uint8_t)~CS_ORIGIN;
    if (s->cs[c] & CS_HAVE)
        return 0;
    e->host.chunk_write(e->host.ctx, fb_eng_swarm_index(e, s), c, data, len);
    cancel_dups(e, s, c);
    fb_peer_chunk_done(e, s, c, FB_SRC_ORIGIN, NULL);
    return 0;
}
