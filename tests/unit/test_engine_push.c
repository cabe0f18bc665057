/* Pushes (docs/PROTOCOL.md section 9): a peer whose uplink would idle sends a chunk it just
 * verified, unasked, to a neighbour lacking it; the receiver takes it in like the answer to a
 * request of its own and verifies it, or refuses it with CANCEL (held, or asked of someone
 * else); a pushed chunk that fails its hash bans the sender. Two peers and a nearly silent seed
 * on the in-test network of tests/unit/netsim.h; the engines' state is read through
 * engine/internal.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine/internal.h"
#include "netsim.h"

static const uint64_t sizes[] = {100000, 30000};
static ns_node *pa, *pb;

static uint32_t neighbours(ns_node *n)
{
    fb_engine_stats st;
    fb_engine_stats_get(n->e, &st);
    return st.neighbours;
}

static bool paired(ns_world *w)
{
    (void)w;
    return neighbours(pa) == 1 && neighbours(pb) == 1;
}

/* The seed (2 KB/s: it hands out nearly nothing) and peers a and b (configs ca, cb; NULL: stay
 * forever), neighbours of each other. a's requests are taken to have been answered in 20 ms at
 * best (its round trip). */
static void setup(ns_world *w, const fb_engine_config *ca, const fb_engine_config *cb)
{
    ns_init(w, 10000, 0);
    ns_page(w, sizes, 2);
    ns_node *seed = ns_add(w, true, 2000, NULL);
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    pa = ns_add(w, false, 1000000, ca ? ca : &stay);
    pb = ns_add(w, false, 1000000, cb ? cb : &stay);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(fb_engine_swarm_join(w->node[i].e, w->node[i].swarm, &seed->addr, w->now),
                         0);
        ns_tick(&w->node[i]);
    }
    ns_run(w, 3000000, paired);
    assert_true(paired(w));
    fb_rtt_sample(&ns_swarm(pa)->answer_rtt, 20000);
}

static void supply(ns_world *w, ns_node *n, uint32_t c)
{
    uint32_t len;
    uint64_t off = ns_chunk_off(w, c, &len);
    assert_int_equal(fb_engine_supply(n->e, n->swarm, c, w->page + off, len, w->now), 0);
    ns_tick(n);
}

/* A chunk neither a nor b holds or has asked for. */
static uint32_t fresh_chunk(ns_world *w)
{
    for (uint32_t c = w->map.n_chunks; c-- > 0;)
        if (!pa->held[c] && !pb->held[c] && !(ns_swarm(pa)->cs[c] & CS_REQ) &&
            !(ns_swarm(pb)->cs[c] & CS_REQ))
            return c;
    fail();
    return 0;
}

/* Whether a datagram on its way from `from` to `to` is a `type` naming chunk c (DATA) or
 * request id (CANCEL). */
static bool in_flight(ns_world *w, ns_node *from, ns_node *to, uint8_t type, uint32_t v)
{
    for (size_t i = 0; i < w->n_pkts; i++) {
        fb_wire_msg m;
        if (!fb_addr_eq(&w->pkts[i].from, &from->addr) || !fb_addr_eq(&w->pkts[i].to, &to->addr) ||
            fb_wire_decode(w->pkts[i].data, w->pkts[i].len, &m) != 0 || m.type != type)
            continue;
        if (type == FB_MSG_DATA && m.u.data.chunk == v)
            return true;
        if (type == FB_MSG_CANCEL && m.u.cancel.req_id == v)
            return true;
    }
    return false;
}

/* A verified chunk goes, unasked, to the neighbour that lacks it while a's uplink is idle; b
 * takes it in and verifies it, and never asks for it. */
static void test_push_to_lacking_neighbour(void **state)
{
    (void)state;
    static ns_world w;
    setup(&w, NULL, NULL);
    uint32_t c = fresh_chunk(&w);
    assert_int_equal(ns_stats(pa).upload_queue, 0);
    supply(&w, pa, c);
    assert_int_equal(ns_stats(pa).pushes_sent, 1);
    assert_true(in_flight(&w, pa, pb, FB_MSG_DATA, c));
    ns_run(&w, w.now + 200000, NULL);
    assert_true(pb->held[c]);
    uint32_t len;
    uint64_t off = ns_chunk_off(&w, c, &len);
    assert_memory_equal(pb->store + off, w.page + off, len);
    fb_engine_stats sb = ns_stats(pb);
    assert_int_equal(sb.pushes_accepted, 1);
    assert_int_equal(sb.pushes_refused, 0);
    assert_true(sb.bytes_in_peer >= len);
    assert_int_equal(sb.chunks_bad, 0);
    /* a counted what it gave b (tit-for-tat) and b what it got from a. */
    assert_true(ns_swarm(pa)->nb[1].up >= len || ns_swarm(pa)->nb[2].up >= len);
    ns_free(&w);
}

/* No push to a neighbour that holds the chunk (b's HAVE came; b itself never pushes). */
static void test_no_push_held(void **state)
{
    (void)state;
    static ns_world w;
    fb_engine_config no_push = {.linger_ms = FB_LINGER_FOREVER, .push_max = FB_PUSH_OFF};
    setup(&w, NULL, &no_push);
    uint32_t c = fresh_chunk(&w);
    supply(&w, pb, c);
    ns_run(&w, w.now + 15000, NULL); /* b's HAVE is at a (10 ms), a has not got c yet */
    assert_true(fb_bit_get(ns_swarm(pa)->nb[1].have, c) || fb_bit_get(ns_swarm(pa)->nb[2].have, c));
    assert_false(pa->held[c]);
    supply(&w, pa, c);
    assert_int_equal(ns_stats(pa).pushes_sent, 0);
    /* The control: a chunk b lacks is pushed (b refuses it: it takes no push). */
    uint32_t d = fresh_chunk(&w);
    supply(&w, pa, d);
    assert_int_equal(ns_stats(pa).pushes_sent, 1);
    ns_run(&w, w.now + 50000, NULL);
    assert_int_equal(ns_stats(pb).pushes_refused, 1);
    ns_free(&w);
}

static bool backlog_over_rtt(ns_world *w)
{
    (void)w;
    fb_swarm *s = ns_swarm(pa);
    return fb_up_backlog_us(pa->e) >= 200000 && !s->nb[1].push_id && !s->nb[2].push_id;
}

/* None while the uplink has a round trip of data queued: a (capped at 100 KB/s, a round trip of
 * 200 ms) serves b's requests for 200 ms or more when a chunk b lacks verifies. */
static void test_no_push_busy(void **state)
{
    (void)state;
    static ns_world w;
    fb_engine_config capped = {.linger_ms = FB_LINGER_FOREVER, .upload_rate = 100000};
    setup(&w, &capped, NULL);
    ns_swarm(pa)->answer_rtt.min = 200000;
    for (int k = 0; k < 6; k++)
        supply(&w, pa, fresh_chunk(&w)); /* the first is pushed; b asks for the others */
    assert_int_equal(ns_stats(pa).pushes_sent, 1);
    ns_run(&w, w.now + 1000000, backlog_over_rtt);
    assert_true(backlog_over_rtt(&w));
    ns_swarm(pa)->answer_rtt.min = 200000;
    uint32_t c = fresh_chunk(&w);
    supply(&w, pa, c);
    assert_int_equal(ns_stats(pa).pushes_sent, 1);
    assert_false(in_flight(&w, pa, pb, FB_MSG_DATA, c));
    ns_free(&w);
}

/* b is sent DATA from a for a request it never made: refused with one CANCEL when b holds the
 * chunk or has asked someone else for it, and nothing is stored. */
static void push_block(ns_world *w, ns_node *from, ns_node *to, uint32_t req_id, uint32_t c,
                       uint8_t block, bool corrupt)
{
    uint32_t len;
    uint64_t off = ns_chunk_off(w, c, &len);
    uint8_t payload[FB_BLOCK_SIZE];
    uint32_t blen = fb_block_len(len, block);
    memcpy(payload, w->page + off + (size_t)block * FB_BLOCK_SIZE, blen);
    if (corrupt)
        payload[0] ^= 0x5a;
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_DATA;
    m.u.data.req_id = req_id;
    m.u.data.chunk = c;
    m.u.data.block = block;
    m.u.data.ts = (uint32_t)w->now;
    m.u.data.payload = payload;
    m.u.data.len = blen;
    ns_feed(w, to, &from->addr, &m);
}

static void test_refused_held_or_asked(void **state)
{
    (void)state;
    static ns_world w;
    setup(&w, NULL, NULL);
    uint32_t c = fresh_chunk(&w);
    supply(&w, pb, c);
    ns_run(&w, w.now + 200000, NULL);
    uint64_t refused = ns_stats(pb).pushes_refused;
    push_block(&w, pa, pb, 0x1234567u, c, 0, false); /* b holds c */
    assert_int_equal(ns_stats(pb).pushes_refused, refused + 1);
    assert_true(in_flight(&w, pb, pa, FB_MSG_CANCEL, 0x1234567u));
    push_block(&w, pa, pb, 0x1234567u, c, 1, false); /* the next block: no second CANCEL */
    assert_int_equal(ns_stats(pb).pushes_refused, refused + 1);
    /* A chunk b has asked of the seed (held by b's flight bound to the seed). */
    fb_swarm *s = ns_swarm(pb);
    uint32_t d = fresh_chunk(&w);
    fb_bit_clear(s->want, d);
    s->n_want--;
    s->cs[d]++;
    push_block(&w, pa, pb, 0x7654321u, d, 0, false);
    assert_int_equal(ns_stats(pb).pushes_refused, refused + 2);
    assert_true(in_flight(&w, pb, pa, FB_MSG_CANCEL, 0x7654321u));
    assert_int_equal(ns_stats(pb).pushes_accepted, 0);
    assert_false(pb->held[d]);
    ns_free(&w);
}

/* Every block of a pushed chunk, one of them corrupt: the hash fails, a is banned, nothing is
 * stored. */
static void test_corrupt_push_bans(void **state)
{
    (void)state;
    static ns_world w;
    setup(&w, NULL, NULL);
    uint32_t c = fresh_chunk(&w);
    uint32_t len;
    (void)ns_chunk_off(&w, c, &len);
    uint32_t blocks = (len + FB_BLOCK_SIZE - 1) / FB_BLOCK_SIZE;
    for (uint32_t k = 0; k < blocks; k++)
        push_block(&w, pa, pb, 0x2468ace0u, c, (uint8_t)k, k == blocks - 1);
    fb_engine_stats sb = ns_stats(pb);
    assert_int_equal(sb.pushes_accepted, 1);
    assert_int_equal(sb.chunks_bad, 1);
    assert_int_equal(sb.bans, 1);
    assert_int_equal(pb->banned, 1);
    assert_true(fb_addr_eq(&pb->banned_addr[0], &pa->addr));
    assert_false(pb->held[c]);
    assert_int_equal(neighbours(pb), 0);
    ns_free(&w);
}

/* A new uploader's first requests were two pushes, refused (b got each chunk at the same
 * moment): no report on them will come, and the start window (16 blocks until the first
 * report) is full. Their CANCELs end the wait for one, so b's request is served at once, not
 * a second later. */
static void test_refused_push_opens_start_window(void **state)
{
    (void)state;
    static ns_world w;
    setup(&w, NULL, NULL);
    assert_false(pa->e->rate.known);
    for (int k = 0; k < 2; k++) {
        uint32_t c = fresh_chunk(&w);
        supply(&w, pb, c);
        supply(&w, pa, c); /* b's HAVE is on its way: a pushes c */
        assert_int_equal(ns_stats(pa).pushes_sent, (uint64_t)k + 1);
        ns_run(&w, w.now + 8000, NULL); /* sent: the next push may go */
    }
    assert_true(pa->e->rate.start_sent > 8);
    ns_run(&w, w.now + 50000, NULL);
    assert_int_equal(ns_stats(pb).pushes_refused, 2);
    assert_false(pa->e->rate.known);
    assert_int_equal(pa->e->rate.start_sent, 0);
    pa->e->cfg.push_max = FB_PUSH_OFF;
    uint32_t d = fresh_chunk(&w);
    supply(&w, pa, d);
    ns_run(&w, w.now + 100000, NULL);
    assert_true(pb->held[d]);
    ns_free(&w);
}

static bool three_neighbours(ns_world *w)
{
    (void)w;
    return neighbours(pa) == 3;
}

/* The neighbour a push goes to is the one holding the fewest chunks; among equals (at the start
 * of a crowd, all of them holding nothing) a random one: the first in the table took every new
 * holder's push, and its downlink was saturated. a's neighbours b, c, d refuse pushes (and so
 * stay at nothing held); six pushes of fresh chunks go to more than one of them. */
/* The seed (2 KB/s), a, and b, c, d that refuse pushes (so they stay at nothing held), all
 * neighbours of a. */
static void four_nodes(ns_world *w)
{
    ns_init(w, 10000, 0);
    ns_page(w, sizes, 2);
    ns_node *seed = ns_add(w, true, 2000, NULL);
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    fb_engine_config no_push = {.linger_ms = FB_LINGER_FOREVER, .push_max = FB_PUSH_OFF};
    pa = ns_add(w, false, 1000000, &stay);
    for (int i = 0; i < 3; i++)
        ns_add(w, false, 1000000, &no_push);
    for (int i = 1; i < w->n; i++) {
        assert_int_equal(fb_engine_swarm_join(w->node[i].e, w->node[i].swarm, &seed->addr, w->now),
                         0);
        ns_tick(&w->node[i]);
    }
    ns_run(w, 3000000, three_neighbours);
    assert_true(three_neighbours(w));
}

/* A chunk none of the four holds or has asked for. */
static uint32_t fresh4(ns_world *w)
{
    for (uint32_t j = w->map.n_chunks; j-- > 0;) {
        bool fresh = true;
        for (int i = 1; i < w->n; i++)
            fresh &= !w->node[i].held[j] && !(ns_swarm(&w->node[i])->cs[j] & CS_REQ);
        if (fresh)
            return j;
    }
    fail();
    return 0;
}

static void test_push_ties_spread(void **state)
{
    (void)state;
    static ns_world w;
    four_nodes(&w);
    uint64_t base = ns_stats(pa).pushes_sent, refused[4] = {0};
    for (int i = 2; i < w.n; i++)
        refused[i - 1] = ns_stats(&w.node[i]).pushes_refused;
    fb_rtt_sample(&ns_swarm(pa)->answer_rtt, 20000);
    uint32_t got[4] = {0};
    for (int k = 0; k < 6; k++) {
        uint32_t c = fresh4(&w);
        /* One push per chunk (push_max): a's pace not known yet, its downlink not measured (b,
         * c and d ask a for the chunks they refused, and a report would make it known). */
        pa->e->rate.known = false;
        ns_swarm(pa)->down_gap_us = 0;
        supply(&w, pa, c);
        assert_int_equal(ns_stats(pa).pushes_sent, base + (uint64_t)k + 1);
        ns_run(&w, w.now + 50000, NULL); /* refused: the next push may go anywhere again */
    }
    for (int i = 2; i < w.n; i++) /* each push was refused by the neighbour it went to */
        got[i - 1] = (uint32_t)(ns_stats(&w.node[i]).pushes_refused - refused[i - 1]);
    assert_int_equal(got[1] + got[2] + got[3], 6);
    int takers = (got[1] > 0) + (got[2] > 0) + (got[3] > 0);
    assert_true(takers >= 2);
    ns_free(&w);
}

/* A new holder (PUSH_START_CHUNKS chunks or fewer) pushes a fresh chunk to as many neighbours
 * as its uplink serves in a round trip, push_max or not: with its pace known (2.5 MB/s: 5 in 20
 * ms; here the 3 neighbours), or before, guessed from its downlink (a quarter of it: at 85 us a
 * block, 7); a dsl downlink's guess (5.7 ms a block) gives none, and push_max's one push stays. */
static void test_start_pushes_fill_round_trip(void **state)
{
    (void)state;
    static ns_world w;
    four_nodes(&w);
    fb_swarm *s = ns_swarm(pa);
    fb_rtt_sample(&s->answer_rtt, 20000);
    assert_true(s->have <= PUSH_START_CHUNKS);
    static const struct {
        bool known;
        uint32_t gap_us, pushes;
    } cases[] = {{true, 0, 3}, {false, 85, 3}, {false, 5700, 1}, {false, 0, 1}};
    for (size_t k = 0; k < FB_ARRAY_LEN(cases); k++) {
        pa->e->rate.known = cases[k].known;
        s->down_gap_us = cases[k].gap_us;
        uint64_t before = ns_stats(pa).pushes_sent;
        supply(&w, pa, fresh4(&w));
        assert_int_equal(ns_stats(pa).pushes_sent - before, cases[k].pushes);
        ns_run(&w, w.now + 50000, NULL); /* refused, all of them */
    }
    ns_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_to_lacking_neighbour),
        cmocka_unit_test(test_no_push_held),
        cmocka_unit_test(test_no_push_busy),
        cmocka_unit_test(test_refused_held_or_asked),
        cmocka_unit_test(test_corrupt_push_bans),
        cmocka_unit_test(test_refused_push_opens_start_window),
        cmocka_unit_test(test_push_ties_spread),
        cmocka_unit_test(test_start_pushes_fill_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
