/* A complete peer that drains before leaving (tests/unit/netsim.h, a fake clock): it still
 * serves a neighbour's request that its uplink sends before the drain deadline, behind what it
 * had queued, and refuses with BUSY one that would not leave in time; it leaves once nothing is
 * queued and nobody asked it anything for DRAIN_IDLE_US. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/wire.h"
#include "engine/internal.h"
#include "netsim.h"

static const uint64_t sizes[] = {40000, 20000};

/* A seed and two peers that stay, all complete; *a and *b are neighbours. */
static void completed_pair(ns_world *w, ns_node **a, ns_node **b)
{
    ns_init(w, 10000, 0);
    ns_page(w, sizes, 2);
    ns_node *seed = ns_add(w, true, 1000000, NULL);
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    *a = ns_add(w, false, 1000000, &stay);
    *b = ns_add(w, false, 1000000, &stay);
    for (int i = 1; i < w->n; i++) {
        assert_int_equal(fb_engine_swarm_join(w->node[i].e, w->node[i].swarm, &seed->addr, w->now),
                         0);
        ns_tick(&w->node[i]);
    }
    ns_run(w, 10000000, ns_all_complete);
    assert_int_equal((*a)->completes + (*b)->completes, 2);
    fb_swarm *s = &(*a)->e->sw[(*a)->swarm];
    bool nb = false;
    for (uint32_t i = 1; i < s->n_nb; i++)
        nb |= s->nb[i].state == NB_ACTIVE && fb_addr_eq(&s->nb[i].addr, &(*b)->addr);
    assert_true(nb);
}

static void test_draining_serves_what_fits(void **state)
{
    (void)state;
    static ns_world w;
    ns_node *a, *b;
    completed_pair(&w, &a, &b);
    fb_swarm *s = &a->e->sw[a->swarm];
    /* a drains (as after completing with linger 0), 800 ms left: the request is served. */
    s->draining = true;
    s->leave_at_us = w.now + DRAIN_MAX_US;
    uint32_t pending = fb_up_pending(a->e, a->swarm);
    uint8_t t = ns_request_answer(&w, a, b, 77);
    assert_true(t == FB_MSG_DATA || t == FB_MSG_QUEUED);
    assert_int_equal(fb_up_pending(a->e, a->swarm), pending + 1);
    /* 1 ms left: the chunk (and what is queued before it) cannot leave in time: BUSY. */
    s->leave_at_us = w.now + 1000;
    assert_int_equal(ns_request_answer(&w, a, b, 78), FB_MSG_BUSY);
    assert_int_equal(fb_up_pending(a->e, a->swarm), pending + 1);
    ns_free(&w);
}

/* A draining peer with nothing queued stays while asked: it leaves DRAIN_IDLE_US after the
 * last request came, not at once. */
static void test_draining_stays_while_asked(void **state)
{
    (void)state;
    static ns_world w;
    ns_node *a, *b;
    completed_pair(&w, &a, &b);
    fb_swarm *s = &a->e->sw[a->swarm];
    assert_int_equal(fb_up_pending(a->e, a->swarm), 0);
    uint64_t t0 = w.now;
    s->draining = true;
    s->leave_at_us = t0 + DRAIN_MAX_US;
    s->drain_req_us = t0;
    fb_eng_arm(a->e, t0);
    ns_tick(a);
    ns_run(&w, t0 + DRAIN_IDLE_US / 2, NULL);
    assert_int_equal(a->left, 0);
    /* A request half way: served, and the peer stays DRAIN_IDLE_US past it. */
    uint8_t t = ns_request_answer(&w, a, b, 79);
    assert_true(t == FB_MSG_DATA || t == FB_MSG_QUEUED);
    ns_tick(a);
    ns_run(&w, t0 + DRAIN_IDLE_US + DRAIN_IDLE_US / 4, NULL);
    assert_int_equal(a->left, 0);
    /* Then idle: gone well before the drain deadline. */
    ns_run(&w, t0 + 4 * DRAIN_IDLE_US, NULL);
    assert_int_equal(a->left, 1);
    assert_true(w.now < s->leave_at_us);
    ns_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_draining_serves_what_fits),
        cmocka_unit_test(test_draining_stays_while_asked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
