/* The request budget's start (docs/PROTOCOL.md section 8): until it first shrinks, a peer may
 * have outstanding what fills its downlink for two handshake round trips, measured by the
 * smallest gap per block over a burst of 8 blocks or more, at most 2 per active neighbour; a slow
 * downlink, a budget cut or no measure yet leave the budget as it grew. The rule is fb_dl_budget,
 * fed a swarm's state through engine/internal.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine/internal.h"
#include "netsim.h"

static fb_swarm swarm(uint32_t budget, uint32_t gap_us, uint32_t rtt_us, uint32_t active)
{
    fb_swarm s;
    memset(&s, 0, sizeof(s));
    s.req_budget = budget;
    s.down_gap_us = gap_us;
    s.hs_rtt.init = rtt_us != 0;
    s.hs_rtt.min = rtt_us;
    s.hs_rtt.srtt = rtt_us;
    /* Answer times queued behind others do not count: only the handshake's round trip. */
    s.answer_rtt.init = true;
    s.answer_rtt.min = 400000;
    s.answer_rtt.srtt = 400000;
    s.n_active = active;
    return s;
}

static void test_fast_downlink_fills_it(void **state)
{
    (void)state;
    /* Broadband: 85 us a block, 20 ms: 40000 / (16 x 85) = 29 requests, capped at 2 x 12. */
    fb_swarm s = swarm(REQ_BUDGET_INIT, 85, 20000, 12);
    assert_int_equal(fb_dl_budget(&s), 24);
    /* Fewer neighbours: 2 each. */
    s.n_active = 3;
    assert_int_equal(fb_dl_budget(&s), 6);
    /* A longer round trip with a slower downlink: 2 x 30000 / (16 x 500) = 7. */
    s = swarm(REQ_BUDGET_INIT, 500, 30000, 12);
    assert_int_equal(fb_dl_budget(&s), 7);
    /* The grown budget when it is more. */
    s.req_budget = 11;
    assert_int_equal(fb_dl_budget(&s), 11);
}

static void test_slow_or_unknown_keeps_the_budget(void **state)
{
    (void)state;
    /* dsl: 16 blocks take 91 ms, more than two round trips of 40 ms: nothing more. */
    fb_swarm s = swarm(REQ_BUDGET_INIT, 5700, 40000, 12);
    assert_int_equal(fb_dl_budget(&s), REQ_BUDGET_INIT);
    /* No gap measured yet, or no handshake yet. */
    s = swarm(REQ_BUDGET_INIT, 0, 20000, 12);
    assert_int_equal(fb_dl_budget(&s), REQ_BUDGET_INIT);
    s = swarm(REQ_BUDGET_INIT, 85, 0, 12);
    assert_int_equal(fb_dl_budget(&s), REQ_BUDGET_INIT);
    /* Once the budget has shrunk (a BUSY, a burst not whole), only the budget counts. */
    s = swarm(3, 85, 20000, 12);
    s.budget_cut = true;
    assert_int_equal(fb_dl_budget(&s), 3);
    /* No neighbour: nothing to fill. */
    s = swarm(REQ_BUDGET_INIT, 85, 20000, 0);
    assert_int_equal(fb_dl_budget(&s), REQ_BUDGET_INIT);
}

/* The start window of our uploads: what the downlink takes in a handshake round trip, over 4,
 * between 16 and 128 blocks. */
static void test_start_window(void **state)
{
    (void)state;
    fb_swarm s = swarm(REQ_BUDGET_INIT, 85, 20000, 12); /* broadband: 20000 / (4 x 85) */
    assert_int_equal(fb_dl_start_window(&s), 58);
    s = swarm(REQ_BUDGET_INIT, 5700, 40000, 12); /* dsl: under 2, so 16 */
    assert_int_equal(fb_dl_start_window(&s), FB_RATE_START_BLOCKS);
    s = swarm(REQ_BUDGET_INIT, 10, 20000, 12); /* 500: capped */
    assert_int_equal(fb_dl_start_window(&s), START_WINDOW_MAX);
    s = swarm(REQ_BUDGET_INIT, 0, 20000, 12); /* not measured yet */
    assert_int_equal(fb_dl_start_window(&s), FB_RATE_START_BLOCKS);
    s = swarm(REQ_BUDGET_INIT, 85, 0, 12);
    assert_int_equal(fb_dl_start_window(&s), FB_RATE_START_BLOCKS);
}

/* The handshake's round trip is measured from our first HELLO to the answer that makes the
 * candidate a neighbour: on the in-test network (10 ms each way, no queue) it is 20 ms. */
static bool both_have_a_neighbour(ns_world *w)
{
    return ns_swarm(&w->node[1])->n_active > 0 && ns_swarm(&w->node[2])->n_active > 0;
}

static void test_handshake_round_trip(void **state)
{
    (void)state;
    static ns_world w;
    static const uint64_t sizes[] = {60000};
    ns_init(&w, 10000, 0);
    ns_page(&w, sizes, 1);
    ns_node *seed = ns_add(&w, true, 1000000, NULL);
    ns_add(&w, false, 1000000, NULL);
    ns_add(&w, false, 1000000, NULL);
    for (int i = 1; i < w.n; i++) {
        assert_int_equal(fb_engine_swarm_join(w.node[i].e, w.node[i].swarm, &seed->addr, w.now), 0);
        ns_tick(&w.node[i]);
    }
    ns_run(&w, 2000000, both_have_a_neighbour);
    /* Introduced with a ticket, each side adds the other on its first HELLO, and measures the
     * round trip when the answer to its own comes, a one-way trip later. */
    ns_run(&w, w.now + 3 * 10000, NULL);
    uint32_t measured = 0;
    for (int i = 1; i < w.n; i++) {
        const fb_swarm *s = ns_swarm(&w.node[i]);
        if (!s->hs_rtt.init)
            continue;
        assert_true(s->hs_rtt.min >= 20000);
        assert_true(s->hs_rtt.min < 21000);
        measured++;
    }
    assert_int_equal(measured, 2);
    ns_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_downlink_fills_it),
        cmocka_unit_test(test_slow_or_unknown_keeps_the_budget),
        cmocka_unit_test(test_handshake_round_trip),
        cmocka_unit_test(test_start_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
