/* A chunk the seed chose for us and queued (named in its QUEUED answer) to start later than a
 * neighbour holding it would send SEED_COPY_CHUNKS chunks, nothing of it come yet, while every
 * other missing chunk is asked of someone: that neighbour is asked for it too, before the peer is
 * a finisher (docs/PROTOCOL.md section 8, the endgame). Not a chunk of which blocks have come, nor
 * one the seed starts sooner, nor, until the peer is a finisher, one another neighbour was asked
 * for.
 * Three nodes on the in-test network of tests/unit/netsim.h; the engine's state is set and read
 * through engine/internal.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/wire.h"
#include "engine/internal.h"
#include "netsim.h"

static const uint64_t sizes[] = {200000, 120000}; /* 40 chunks: a finisher misses at most 4 */
static ns_node *a, *b;

static bool b_complete(ns_world *w)
{
    (void)w;
    return b->completes > 0;
}

static bool a_knows_b(ns_world *w)
{
    (void)w;
    fb_nb *n = ns_nb_of(a, b);
    return n && n->complete;
}

/* a's state at the end of a crowd: nothing wanted (every missing chunk asked of someone), no
 * request at b, b's blocks 1 ms apart (a chunk in 8 ms), and one chunk c in flight from `from`
 * (a neighbour slot), QUEUED there to start in `eta_ms`, with `got` blocks come. Returns c. */
static uint32_t stage(ns_world *w, uint16_t from, uint32_t got, uint64_t eta_ms)
{
    fb_swarm *s = ns_swarm(a);
    for (uint32_t i = 0; i < s->n_nb; i++)
        if (s->nb[i].state == NB_ACTIVE)
            fb_dl_release_nb(a->e, s, &s->nb[i]);
    memset(s->want, 0, (size_t)s->n_words * sizeof(uint64_t));
    s->n_want = 0;
    s->req_out = 0;
    uint32_t c = FB_CHUNK_NONE;
    for (uint32_t k = 0; k < s->n_chunks && c == FB_CHUNK_NONE; k++)
        if (!(s->cs[k] & CS_HAVE))
            c = k;
    assert_int_not_equal(c, FB_CHUNK_NONE);
    fb_flight *f = &s->fl[0];
    assert_false(f->used);
    memset(f, 0, sizeof(*f));
    f->used = true;
    f->nb = from;
    f->chunk = c;
    f->len = fb_chunk_len(&s->map, c);
    f->full = fb_chunk_full_mask(f->len);
    f->asked = f->full;
    f->got = got;
    f->answered = true;
    f->started_us = f->last_us = w->now;
    f->eta_us = w->now + eta_ms * 1000;
    ns_nb_of(a, b)->gap_us = 1000;
    s->cs[c] = (uint8_t)((s->cs[c] & ~CS_REQ) | 1);
    fb_burst *q = &s->nb[from].out[0];
    memset(q, 0, sizeof(*q));
    q->req_id = 4242;
    q->n = 1;
    q->slot[0] = 0;
    q->chunk[0] = c;
    q->mask[0] = f->full;
    q->blocks = (uint16_t)__builtin_popcount(f->full);
    q->answered = true;
    q->any = from == NB_SEED;
    q->sent_us = w->now;
    q->deadline_us = w->now + 10000000;
    if (from != NB_SEED)
        s->req_out = 1;
    return c;
}

/* Pumps a towards b; returns true if a REQUEST to b names chunk c. */
static bool asks_b_for(ns_world *w, uint32_t c)
{
    fb_swarm *s = ns_swarm(a);
    size_t before = w->n_pkts;
    fb_dl_pump(a->e, s, ns_nb_of(a, b));
    bool asked = false;
    for (size_t i = before; i < w->n_pkts; i++) {
        fb_wire_msg m;
        if (!fb_addr_eq(&w->pkts[i].to, &b->addr) ||
            fb_wire_decode(w->pkts[i].data, w->pkts[i].len, &m) != 0 || m.type != FB_MSG_REQUEST)
            continue;
        for (uint32_t k = 0; k < m.u.request.n; k++)
            asked |= m.u.request.e[k].chunk == c;
    }
    return asked;
}

static void setup_world(ns_world *w)
{
    ns_init(w, 10000, 0);
    ns_page(w, sizes, 2);
    ns_node *seed = ns_add(w, true, 1000000, NULL);
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    b = ns_add(w, false, 1000000, &stay);
    assert_int_equal(fb_engine_swarm_join(b->e, b->swarm, &seed->addr, w->now), 0);
    ns_tick(b);
    ns_run(w, 10000000, b_complete);
    assert_true(b_complete(w));
    a = ns_add(w, false, 1000000, &stay);
    assert_int_equal(fb_engine_swarm_join(a->e, a->swarm, &seed->addr, w->now), 0);
    ns_tick(a);
    ns_run(w, w->now + 2000000, a_knows_b);
    assert_true(a_knows_b(w));
    fb_swarm *s = ns_swarm(a);
    /* Not a finisher yet. */
    assert_true(s->have + FINISH_CHUNKS(s->n_chunks) < s->n_chunks);
    assert_true(s->nb[NB_SEED].is_seed);
}

static void test_seed_named_chunk_asked_of_neighbour(void **state)
{
    (void)state;
    static ns_world w;
    setup_world(&w);
    /* The seed starts it in 300 ms; b would send 16 chunks in 128 ms. */
    uint32_t c = stage(&w, NB_SEED, 0, 300);
    assert_true(asks_b_for(&w, c));
    /* Asked twice now (the seed and b), still not wanted. */
    fb_swarm *s = ns_swarm(a);
    assert_int_equal(s->cs[c] & CS_REQ, 2);
    assert_false(fb_bit_get(s->want, c));
    ns_free(&w);
}

static void test_started_seed_chunk_not_copied(void **state)
{
    (void)state;
    static ns_world w;
    setup_world(&w);
    /* A block of it came from the seed: the seed is sending it, no copy. */
    uint32_t c = stage(&w, NB_SEED, 1, 300);
    assert_false(asks_b_for(&w, c));
    ns_free(&w);
}

static void test_seed_chunk_soon_not_copied(void **state)
{
    (void)state;
    static ns_world w;
    setup_world(&w);
    /* The seed starts it in 100 ms, before b would have sent 16 chunks: no copy (on dsl a
     * neighbour's chunk takes longer than the seed's whole queue). */
    uint32_t c = stage(&w, NB_SEED, 0, 100);
    assert_false(asks_b_for(&w, c));
    ns_free(&w);
}

static void test_neighbour_chunk_copied_only_by_finisher(void **state)
{
    (void)state;
    static ns_world w;
    setup_world(&w);
    /* The chunk is asked of another neighbour (a slot b is not in): no copy before the
     * peer is a finisher (the endgame, as before), one then. */
    fb_swarm *s = ns_swarm(a);
    uint16_t other = 0;
    for (uint32_t i = 1; i < s->n_nb && !other; i++)
        if (s->nb[i].state == NB_FREE)
            other = (uint16_t)i;
    assert_true(other > 0);
    uint32_t c = stage(&w, other, 0, 300);
    assert_false(asks_b_for(&w, c));
    uint32_t have = s->have;
    s->have = s->n_chunks - FINISH_CHUNKS(s->n_chunks);
    assert_true(asks_b_for(&w, c));
    s->have = have;
    memset(&s->nb[other].out[0], 0, sizeof(fb_burst));
    ns_free(&w);
}

/* Pumps a towards the seed (spare or not, a round trip of 20 ms); true if a REQUEST to the
 * seed names chunk c. */
static bool asks_seed_for(ns_world *w, uint32_t c, bool spare)
{
    fb_swarm *s = ns_swarm(a);
    fb_nb *seed = &s->nb[NB_SEED];
    seed->spare = spare;
    seed->rtt.init = true;
    seed->rtt.srtt = 20000;
    seed->busy_until = 0;
    size_t before = w->n_pkts;
    fb_dl_pump(a->e, s, seed);
    bool asked = false;
    for (size_t i = before; i < w->n_pkts; i++) {
        fb_wire_msg m;
        if (!fb_addr_eq(&w->pkts[i].to, &w->node[0].addr) ||
            fb_wire_decode(w->pkts[i].data, w->pkts[i].len, &m) != 0 || m.type != FB_MSG_REQUEST)
            continue;
        for (uint32_t k = 0; k < m.u.request.n; k++)
            asked |= m.u.request.e[k].chunk == c;
    }
    return asked;
}

/* The other way: a chunk queued at b (QUEUED to start in 300 ms, longer than the seed's round
 * trip), nothing of it come, everything else asked: the seed is asked for it too when it is
 * spare. Not when it is not (and we are not a finisher), nor when b starts it within the seed's
 * round trip, nor once blocks of it came. */
static void test_neighbour_queued_chunk_asked_of_spare_seed(void **state)
{
    (void)state;
    static ns_world w;
    setup_world(&w);
    fb_swarm *s = ns_swarm(a);
    uint16_t from = (uint16_t)(ns_nb_of(a, b) - s->nb);
    uint32_t c = stage(&w, from, 0, 300);
    assert_false(asks_seed_for(&w, c, false));
    assert_true(asks_seed_for(&w, c, true));
    assert_int_equal(s->cs[c] & CS_REQ, 2);
    ns_free(&w);
    setup_world(&w);
    s = ns_swarm(a);
    c = stage(&w, from, 0, 10);
    assert_false(asks_seed_for(&w, c, true));
    ns_free(&w);
    setup_world(&w);
    s = ns_swarm(a);
    c = stage(&w, from, 1, 300);
    assert_false(asks_seed_for(&w, c, true));
    ns_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_named_chunk_asked_of_neighbour),
        cmocka_unit_test(test_started_seed_chunk_not_copied),
        cmocka_unit_test(test_seed_chunk_soon_not_copied),
        cmocka_unit_test(test_neighbour_chunk_copied_only_by_finisher),
        cmocka_unit_test(test_neighbour_queued_chunk_asked_of_spare_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
