/* A request we gave up on whose blocks then come (docs/PROTOCOL.md section 8, "revives"): it
 * keeps its place in the order of sending, so our later requests to that sender, still queued
 * there, go on waiting instead of being ended as lost; and blocks from the seed undo the back-off
 * its timeouts started (the seed is serving, our deadline was short). A lone peer and a slow seed
 * on the in-test network of tests/unit/netsim.h; the engine's state is read through
 * engine/internal.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine/internal.h"
#include "netsim.h"

static const uint64_t sizes[] = {200000, 60000};
static ns_node *peer;
static uint32_t watch_id; /* the request whose revival the run waits for */

static fb_nb *seed_nb(void)
{
    fb_swarm *s = ns_swarm(peer);
    for (uint32_t i = 0; i < s->n_nb; i++)
        if (s->nb[i].state == NB_ACTIVE && s->nb[i].is_seed)
            return &s->nb[i];
    return NULL;
}

static fb_burst *out_by_id(fb_nb *n, uint32_t id)
{
    for (int k = 0; k < NB_BURSTS; k++)
        if (n->out[k].req_id && n->out[k].req_id == id)
            return &n->out[k];
    return NULL;
}

/* At least two requests at the seed not started yet (queued there behind one being served). */
static bool two_waiting(ns_world *w)
{
    (void)w;
    fb_nb *n = seed_nb();
    int waiting = 0;
    for (int k = 0; n && k < NB_BURSTS; k++)
        waiting += n->out[k].req_id && !n->out[k].got_first;
    return waiting >= 2;
}

static bool revived(ns_world *w)
{
    (void)w;
    fb_nb *n = seed_nb();
    return n && out_by_id(n, watch_id) && out_by_id(n, watch_id)->got_first;
}

static void test_revive_keeps_place(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, sizes, 2);
    ns_node *seed = ns_add(&w, true, 150000, NULL);
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    peer = ns_add(&w, false, 1000000, &stay);
    assert_int_equal(fb_engine_swarm_join(peer->e, peer->swarm, &seed->addr, w.now), 0);
    ns_tick(peer);
    ns_run(&w, 3000000, two_waiting);
    assert_true(two_waiting(&w));
    fb_nb *n = seed_nb();
    /* The oldest request not started (o) and one sent after it (later). */
    fb_burst *o = NULL, *later = NULL;
    for (int k = 0; k < NB_BURSTS; k++) {
        fb_burst *b = &n->out[k];
        if (b->req_id && !b->got_first && (!o || b->seq < o->seq))
            o = b;
    }
    for (int k = 0; k < NB_BURSTS; k++) {
        fb_burst *b = &n->out[k];
        if (b->req_id && !b->got_first && b != o && (!later || b->seq < later->seq))
            later = b;
    }
    assert_non_null(o);
    assert_non_null(later);
    assert_true(later->seq > o->seq);
    watch_id = o->req_id;
    uint32_t later_id = later->req_id;
    /* We give up on o (as if its QUEUED had been lost, so no CANCEL tells the seed): its deadline
     * passes, twice (the first one is extended once). */
    o->answered = false;
    /* Not starving (as if a neighbour had a request of ours): a starving peer asks the seed
     * whatever its back-off. */
    ns_swarm(peer)->req_out++;
    for (int i = 0; i < 4 && out_by_id(n, watch_id); i++) {
        out_by_id(n, watch_id)->deadline_us = w.now;
        fb_eng_arm(peer->e, w.now);
        ns_tick(peer);
    }
    assert_null(out_by_id(n, watch_id));
    assert_true(n->backoff_us > 0); /* a timeout with nothing received: the seed back-off */
    assert_true(n->busy_until > w.now);
    assert_non_null(out_by_id(n, later_id));
    /* The seed sends o's blocks anyway: o comes back to life, at its old place. */
    ns_run(&w, w.now + 3000000, revived);
    assert_true(revived(&w));
    /* later was sent after o: the seed serves it next; it is not ended as lost. */
    fb_burst *l = out_by_id(n, later_id);
    assert_non_null(l);
    assert_true(l->seq > out_by_id(n, watch_id)->seq);
    /* The seed is serving: the back-off is over. */
    assert_int_equal(n->backoff_us, 0);
    assert_true(n->busy_until <= w.now);
    ns_swarm(peer)->req_out--;
    ns_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_revive_keeps_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
