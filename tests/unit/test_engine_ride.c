/* DATA without a swarm id, and a HAVE riding on DATA (docs/PROTOCOL.md sections 4 and 6): a
 * chunk verified while a DATA goes to a neighbour is announced in that DATA, not in a HAVE
 * datagram; a DATA reaches the swarm whose request it answers when its sender is a neighbour in
 * two swarms, and a block no swarm can claim is dropped. Peers and a silent seed on the in-test
 * network of tests/unit/netsim.h; the engines' state is read through engine/internal.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine/internal.h"
#include "netsim.h"

static const uint64_t sizes[] = {100000, 30000};
static ns_node *pa, *pb;
static uint32_t c_ride; /* the chunk that should ride */

static bool paired(ns_world *w)
{
    (void)w;
    return ns_stats(pa).neighbours == 1 && ns_stats(pb).neighbours == 1;
}

/* b's entry for a (its only neighbour). */
static fb_nb *nb_of(ns_node *n, ns_node *other)
{
    fb_nb *x = fb_peer_nb_find(ns_swarm(n), &other->addr);
    assert_non_null(x);
    return x;
}

static bool b_knows_ride(ns_world *w)
{
    (void)w;
    return fb_bit_get(nb_of(pb, pa)->have, c_ride);
}

static bool b_holds(ns_world *w)
{
    for (uint32_t c = 0; c < w->map.n_chunks; c++)
        if (pb->held[c])
            return true;
    return false;
}

static void supply(ns_world *w, ns_node *n, uint32_t c)
{
    uint32_t len;
    uint64_t off = ns_chunk_off(w, c, &len);
    assert_int_equal(fb_engine_supply(n->e, n->swarm, c, w->page + off, len, w->now), 0);
    ns_tick(n);
}

/* a verifies chunk 0 and announces it; b asks a for it; while b's request is on its way a verifies
 * chunk 1, whose batch is not due before the DATA of chunk 0 leaves: b learns of chunk 1 from that
 * DATA, and a sends no HAVE datagram for it. */
static void test_have_rides_on_data(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, sizes, 2);
    ns_node *seed = ns_add(&w, true, 2000, NULL); /* hands out next to nothing */
    fb_engine_config ca = {.linger_ms = FB_LINGER_FOREVER, .push_max = FB_PUSH_OFF};
    fb_engine_config cb = {.linger_ms = FB_LINGER_FOREVER};
    pa = ns_add(&w, false, 1000000, &ca);
    pb = ns_add(&w, false, 1000000, &cb);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(fb_engine_swarm_join(w.node[i].e, w.node[i].swarm, &seed->addr, w.now), 0);
        ns_tick(&w.node[i]);
    }
    ns_run(&w, 3000000, paired);
    assert_true(paired(&w));
    supply(&w, pa, 0);               /* announced at once (a's uplink is idle) */
    ns_run(&w, w.now + 12000, NULL); /* one way: 10 ms */
    assert_true(fb_bit_get(nb_of(pb, pa)->have, 0));
    /* Early HAVEs are spent: the next one waits for its batch (tens of ms). */
    fb_swarm *sa = ns_swarm(pa);
    sa->have_early_us = UINT64_MAX;
    c_ride = 1;
    supply(&w, pa, c_ride);
    uint64_t haves = ns_stats(pa).msgs_out[FB_MSG_HAVE];
    uint64_t batch_due = sa->have_flush_us;
    assert_true(batch_due > w.now);
    assert_false(b_knows_ride(&w));
    ns_run(&w, batch_due, b_knows_ride);
    assert_true(b_knows_ride(&w)); /* before the batch was due */
    assert_true(w.now < batch_due);
    assert_int_equal(ns_stats(pa).msgs_out[FB_MSG_HAVE], haves); /* no HAVE datagram for it */
    assert_int_equal(nb_of(pa, pb)->ann, sa->have);
    /* The rest of the exchange is undisturbed: b gets chunk 0 from a, and the batch, when due,
     * has nothing left to tell b. */
    ns_run(&w, w.now + 500000, b_holds);
    assert_true(pb->held[0]);
    ns_run(&w, batch_due + 1000, NULL);
    assert_int_equal(ns_stats(pa).msgs_out[FB_MSG_HAVE], haves);
    assert_int_equal(ns_stats(pb).dropped_invalid, 0);
    ns_free(&w);
}

/* Makes address a an active neighbour in swarm s of engine e (the handshake's result). */
static fb_nb *fake_nb(fb_swarm *s, const fb_addr *a)
{
    for (uint32_t i = 1; i < s->n_nb; i++) {
        fb_nb *n = &s->nb[i];
        if (n->state != NB_FREE)
            continue;
        n->state = NB_ACTIVE;
        n->addr = *a;
        n->burst = FB_BURST_INIT;
        fb_peer_nb_index(s, n);
        s->n_active++;
        return n;
    }
    fail();
    return NULL;
}

static void feed_data(ns_world *w, ns_node *to, const fb_addr *from, uint32_t id, uint32_t c)
{
    uint8_t payload[FB_BLOCK_SIZE];
    memset(payload, 0, sizeof(payload));
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_DATA;
    m.u.data.req_id = id;
    m.u.data.chunk = c;
    m.u.data.block = 0;
    m.u.data.payload = payload;
    m.u.data.len = FB_BLOCK_SIZE;
    ns_feed(w, to, from, &m); /* the swarm id it sets is not on DATA's wire */
}

/* A peer in two swarms (two manifests) with the same neighbour x in both: a DATA for a request
 * id x owes in the second swarm reaches the second; one for an id nobody owes is dropped as
 * unknown (a push from x could be for either), and x is a neighbour "elsewhere" for pushes. */
static void test_data_finds_its_swarm(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, sizes, 2);
    fb_engine_config cp = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *p = ns_add(&w, false, 0, &cp);
    /* The second manifest: the same chunks under other paths (another swarm id). */
    fb_manifest_entry ent[2] = {{"/other0", sizes[0], "text/html", "\"e\""},
                                {"/other1", sizes[1], "image/png", "\"e\""}};
    uint8_t(*h)[32] = calloc(w.map.n_chunks, 32);
    for (uint32_t c = 0; c < w.map.n_chunks; c++) {
        uint32_t len;
        uint64_t off = ns_chunk_off(&w, c, &len);
        SHA256(w.page + off, len, h[c]);
    }
    static uint8_t man2[1 << 16];
    int len2 = fb_manifest_build(man2, sizeof(man2), FB_CHUNK_SIZE_DEFAULT, ent, 2,
                                 (const uint8_t(*)[32])h, NULL);
    free(h);
    assert_true(len2 > 0);
    int s2 = fb_engine_swarm_add(p->e, man2, (size_t)len2, w.now);
    assert_true(s2 >= 0 && s2 != p->swarm);
    fb_swarm *one = &p->e->sw[p->swarm], *two = &p->e->sw[s2];
    fb_addr x, y;
    fb_addr_set_v4(&x, 0x0a0000f0u, 4000);
    fb_addr_set_v4(&y, 0x0a0000f1u, 4000);
    fb_nb *x1 = fake_nb(one, &x), *x2 = fake_nb(two, &x), *y1 = fake_nb(one, &y);
    x2->out[0].req_id = 0xabcdef01u; /* a request of swarm two to x */
    w.now += 1000;
    feed_data(&w, p, &x, 0xabcdef01u, 3);
    assert_int_equal(x2->last_rx_us, w.now);
    assert_int_equal(x1->last_rx_us, 0);
    /* Among the last four ended ones: still swarm two's. */
    x2->out[0].req_id = 0;
    x2->recent[2] = 0x5555aaaau;
    w.now += 1000;
    feed_data(&w, p, &x, 0x5555aaaau, 3);
    assert_int_equal(x2->last_rx_us, w.now);
    assert_int_equal(x1->last_rx_us, 0);
    /* An id x owes in no swarm: which one it is for cannot be told. */
    uint64_t unknown = ns_stats(p).dropped_unknown, t2 = x2->last_rx_us;
    w.now += 1000;
    feed_data(&w, p, &x, 0x77777777u, 3);
    assert_int_equal(ns_stats(p).dropped_unknown, unknown + 1);
    assert_int_equal(x2->last_rx_us, t2);
    assert_int_equal(x1->last_rx_us, 0);
    /* y is a neighbour in swarm one only: its push goes there. */
    w.now += 1000;
    feed_data(&w, p, &y, 0x12121212u, 3);
    assert_int_equal(y1->last_rx_us, w.now);
    /* A stranger's DATA is dropped as unvalidated, not taken by any swarm. */
    fb_addr z;
    fb_addr_set_v4(&z, 0x0a0000f2u, 4000);
    uint64_t unval = ns_stats(p).dropped_unvalidated;
    feed_data(&w, p, &z, 0xabcdef01u, 3);
    assert_int_equal(ns_stats(p).dropped_unvalidated, unval + 1);
    /* A sender does not push to x (a neighbour in both), and may push to y. */
    assert_true(fb_eng_nb_elsewhere(p->e, one, &x));
    assert_true(fb_eng_nb_elsewhere(p->e, two, &x));
    assert_false(fb_eng_nb_elsewhere(p->e, one, &y));
    ns_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_have_rides_on_data),
        cmocka_unit_test(test_data_finds_its_swarm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
