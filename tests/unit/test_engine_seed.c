/* The seed's tracker over time (tests/unit/netsim.h, a fake clock): peers that stay keep their
 * entry with their periodic JOIN (the keepalive that also holds their NAT binding); a peer that
 * vanished without a BYE is forgotten after TRACK_EXPIRE_US, and is never introduced again. A
 * capped seed answers a crowd's burst of JOINs, one per peer it may track, without dropping any. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine/internal.h"
#include "netsim.h"

static const uint64_t sizes[] = {40000, 20000};

static bool complete(ns_world *w)
{
    for (int i = 0; i < w->n; i++)
        if (!w->node[i].seed && w->node[i].alive && !w->node[i].completes)
            return false;
    return true;
}

static uint32_t tracked(ns_node *seed)
{
    fb_engine_stats st;
    fb_engine_stats_get(seed->e, &st);
    return st.tracked_peers;
}

static void test_expiry(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, sizes, 2);
    ns_node *seed = ns_add(&w, true, 1000000, NULL);
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *a = ns_add(&w, false, 1000000, &stay);
    ns_node *b = ns_add(&w, false, 1000000, &stay);
    fb_addr_set_v4(&b->addr, 0xc6336402u, 4000); /* 198.51.100.2: netsim counts bytes sent there */
    for (int i = 1; i < w.n; i++) {
        assert_int_equal(fb_engine_swarm_join(w.node[i].e, w.node[i].swarm, &seed->addr, w.now), 0);
        ns_tick(&w.node[i]);
    }
    ns_run(&w, 10000000, complete);
    assert_int_equal(a->completes + b->completes, 2);
    assert_int_equal(tracked(seed), 2);
    /* b vanishes (no BYE). Well past the JOIN refresh but before the expiry, both are tracked. */
    ns_kill(b);
    uint64_t gone = w.now;
    ns_run(&w, gone + TRACK_EXPIRE_US - 5000000, NULL);
    assert_int_equal(tracked(seed), 2);
    /* Past the expiry (and a sweep), only a, which kept re-joining, is left. */
    ns_run(&w, gone + TRACK_EXPIRE_US + 3000000, NULL);
    assert_int_equal(tracked(seed), 1);
    ns_run(&w, gone + 3 * TRACK_EXPIRE_US, NULL);
    assert_int_equal(tracked(seed), 1);
    /* A newcomer is introduced to a only: from now on nothing is sent to b's address. */
    uint64_t to_b = w.to_victims;
    ns_node *c = ns_add(&w, false, 1000000, &stay);
    assert_int_equal(fb_engine_swarm_join(c->e, c->swarm, &seed->addr, w.now), 0);
    ns_tick(c);
    ns_run(&w, w.now + 10000000, complete);
    assert_int_equal(c->completes, 1);
    assert_int_equal(tracked(seed), 2);
    assert_int_equal(w.to_victims, to_b);
    ns_free(&w);
}

/* 3000 JOINs (no token yet) in the same instant at a seed capped at 100 KB/s that may track 4096
 * peers: each gets its TOKEN (about 4.6 s of the cap), none is dropped for a full queue. With a
 * queue of max_pending (1024) answers, about 2000 were dropped and their peers waited a JOIN
 * retransmission. */
static void test_join_burst(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, sizes, 2);
    ns_node *seed = ns_add(&w, true, 100000, NULL);
    uint8_t id[32];
    assert_int_equal(fb_engine_swarm_id(seed->e, seed->swarm, id), 0);
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_JOIN;
    memcpy(m.swarm, id, 8);
    m.u.join.want = 8;
    uint8_t buf[FB_MAX_DATAGRAM];
    enum { N = 3000 };
    for (uint32_t i = 0; i < N; i++) {
        m.u.join.node[0] = (uint8_t)(i >> 8);
        m.u.join.node[1] = (uint8_t)i;
        int len = fb_wire_encode(&m, buf, sizeof(buf));
        assert_true(len > 0);
        fb_addr from;
        fb_addr_set_v4(&from, 0x0b000000u + i, 5000); /* 11.0.0.0/8: not a node */
        fb_engine_input(seed->e, &from, buf, (size_t)len, w.now);
    }
    ns_tick(seed);
    uint64_t before = seed->dgrams_sent;
    assert_true(before < N); /* the cap holds most of them back */
    ns_run(&w, w.now + 10000000, NULL);
    assert_int_equal(seed->dgrams_sent, N);
    fb_engine_stats st;
    fb_engine_stats_get(seed->e, &st);
    assert_int_equal(st.dropped_cap, 0);
    ns_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_join_burst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
