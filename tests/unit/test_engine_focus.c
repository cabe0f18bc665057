/* Unit tests for the engine's focus (fb_engine_swarm_focus): a peer that focuses on one object
 * gets that object's chunks first, from the seed (whose choice the exclusion list narrows to the
 * focus) and from a neighbour (whose chunks the picker takes from the focus first); clearing the
 * focus and focusing on a complete object change nothing else; bad calls are refused. On the
 * in-test network of tests/unit/netsim.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "netsim.h"

/* Chunks: 2, 7, 0, 4, 5 (16 KiB chunks). */
static const uint64_t sizes[] = {30000, 100000, 0, 65536, 70001};
static uint32_t focus_obj;
static ns_node *focus_node;

static uint32_t held_in(const ns_world *w, const ns_node *n, uint32_t lo, uint32_t hi)
{
    uint32_t k = 0;
    (void)w;
    for (uint32_t c = lo; c < hi; c++)
        k += n->held[c];
    return k;
}

static bool focus_done(ns_world *w)
{
    uint32_t lo = w->first[focus_obj], hi = w->first[focus_obj + 1];
    return held_in(w, focus_node, lo, hi) == hi - lo;
}

static bool page_done(ns_world *w)
{
    (void)w;
    return focus_node->completes > 0;
}

/* Chunks held outside the focused object when it completed. */
static uint32_t outside(ns_world *w, ns_node *n)
{
    uint32_t lo = w->first[focus_obj], hi = w->first[focus_obj + 1];
    return held_in(w, n, 0, w->map.n_chunks) - held_in(w, n, lo, hi);
}

/* From a slow seed alone: the focused object (the last, 5 chunks) comes first. */
static void test_focus_from_seed(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, sizes, 5);
    ns_node *seed = ns_add(&w, true, 100000, NULL);
    fb_engine_config c = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *p = ns_add(&w, false, 1000000, &c);
    focus_obj = 4;
    focus_node = p;
    assert_int_equal(fb_engine_swarm_focus(p->e, p->swarm, 4), 0);
    assert_int_equal(fb_engine_swarm_join(p->e, p->swarm, &seed->addr, w.now), 0);
    ns_tick(p);
    ns_run(&w, 30000000, focus_done);
    assert_true(focus_done(&w));
    /* The seed hands out one chunk per request; at most the requests already out when the focus
     * took effect (none here) may bring others. */
    assert_true(outside(&w, p) <= 1);
    ns_run(&w, 60000000, page_done);
    assert_int_equal(p->completes, 1);
    assert_memory_equal(p->store, w.page, w.page_len);
    ns_free(&w);
}

/* From a neighbour holding everything (the seed nearly silent): the focused object first, and
 * the focus moved to another object mid-way is followed. */
static void test_focus_from_peer(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 5000, 0);
    ns_page(&w, sizes, 5);
    ns_node *seed = ns_add(&w, true, 2000, NULL);
    fb_engine_config c = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *full = ns_add(&w, false, 2000000, &c);
    for (uint32_t k = 0; k < w.map.n_chunks; k++) { /* it got the page from the origin */
        uint32_t len;
        uint64_t off = ns_chunk_off(&w, k, &len);
        assert_int_equal(fb_engine_supply(full->e, full->swarm, k, w.page + off, len, w.now), 0);
    }
    assert_int_equal(full->completes, 1);
    assert_int_equal(fb_engine_swarm_join(full->e, full->swarm, &seed->addr, w.now), 0);
    ns_tick(full);
    ns_run(&w, 200000, NULL);
    ns_node *p = ns_add(&w, false, 1000000, &c);
    focus_obj = 1;
    focus_node = p;
    assert_int_equal(fb_engine_swarm_focus(p->e, p->swarm, 1), 0);
    assert_int_equal(fb_engine_swarm_join(p->e, p->swarm, &seed->addr, w.now), 0);
    ns_tick(p);
    ns_run(&w, 30000000, focus_done);
    assert_true(focus_done(&w));
    fb_engine_stats st;
    fb_engine_stats_get(p->e, &st);
    assert_true(st.bytes_in_peer > 0);
    /* Requests fill up from the focus before anything else: other chunks may only come in the
     * same bursts as the last focused ones. */
    uint32_t out1 = outside(&w, p);
    assert_true(out1 <= 4);
    /* Move the focus to object 3 (not yet complete unless it came in those bursts). */
    focus_obj = 3;
    uint32_t before = held_in(&w, p, 0, w.map.n_chunks);
    assert_int_equal(fb_engine_swarm_focus(p->e, p->swarm, 3), 0);
    ns_tick(p);
    ns_run(&w, 60000000, focus_done);
    assert_true(focus_done(&w));
    uint32_t got = held_in(&w, p, 0, w.map.n_chunks) - before;
    uint32_t obj3 = w.first[4] - w.first[3];
    assert_true(got <= obj3 + 4);
    ns_run(&w, 90000000, page_done);
    assert_int_equal(p->completes, 1);
    assert_memory_equal(p->store, w.page, w.page_len);
    ns_free(&w);
}

/* No focus, a cleared focus, and a focus on an object already held: the page completes. */
static void test_focus_cleared(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, sizes, 5);
    ns_node *seed = ns_add(&w, true, 1000000, NULL);
    fb_engine_config c = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *p = ns_add(&w, false, 1000000, &c);
    focus_node = p;
    assert_int_equal(fb_engine_swarm_focus(p->e, p->swarm, 2), 0); /* the empty object */
    assert_int_equal(fb_engine_swarm_focus(p->e, p->swarm, 0), 0);
    assert_int_equal(fb_engine_swarm_focus(p->e, p->swarm, FB_NO_FOCUS), 0);
    assert_int_equal(fb_engine_swarm_join(p->e, p->swarm, &seed->addr, w.now), 0);
    ns_tick(p);
    ns_run(&w, 30000000, page_done);
    assert_int_equal(p->completes, 1);
    assert_int_equal(fb_engine_swarm_focus(p->e, p->swarm, 1), 0); /* complete: harmless */
    ns_run(&w, w.now + 1000000, NULL);
    assert_memory_equal(p->store, w.page, w.page_len);
    ns_free(&w);
}

static void test_focus_errors(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, sizes, 5);
    ns_node *seed = ns_add(&w, true, 1000000, NULL);
    ns_node *p = ns_add(&w, false, 1000000, NULL);
    assert_int_equal(fb_engine_swarm_focus(p->e, p->swarm, 5), FB_EINVAL); /* no object 5 */
    assert_int_equal(fb_engine_swarm_focus(p->e, p->swarm + 1, 0), FB_EINVAL);
    assert_int_equal(fb_engine_swarm_focus(p->e, -1, 0), FB_EINVAL);
    assert_int_equal(fb_engine_swarm_focus(seed->e, seed->swarm, 0), FB_EINVAL); /* seed role */
    assert_int_equal(fb_engine_swarm_focus(NULL, 0, 0), FB_EINVAL);
    ns_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_focus_from_seed),
        cmocka_unit_test(test_focus_from_peer),
        cmocka_unit_test(test_focus_cleared),
        cmocka_unit_test(test_focus_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
