/* The seed's invitation (a BUSY with req_id 0, tests/unit/netsim.h, a fake clock): a peer that
 * waits out a BUSY from its seed asks it again at once; one that is not waiting, or a neighbour
 * that is not its seed, changes nothing. And a peer with few neighbours and much of the page left
 * waits a BUSY's own retry time, undoubled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/wire.h"
#include "engine/internal.h"
#include "netsim.h"

static const uint64_t sizes[] = {40000, 20000};

/* A slow seed (so the peer is still downloading) and one peer joined to it; *nb gets the
 * peer's entry for the seed. */
static ns_node *joined_peer(ns_world *w, fb_nb **nb)
{
    ns_init(w, 10000, 0);
    ns_page(w, sizes, 2);
    ns_node *seed = ns_add(w, true, 20000, NULL);
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *p = ns_add(w, false, 1000000, &stay);
    assert_int_equal(fb_engine_swarm_join(p->e, p->swarm, &seed->addr, w->now), 0);
    ns_tick(p);
    ns_run(w, w->now + 1000000, NULL);
    fb_swarm *s = &p->e->sw[p->swarm];
    assert_false(s->complete);
    assert_true(s->have > 0);
    *nb = NULL;
    for (uint32_t i = 0; i < s->n_nb; i++)
        if (s->nb[i].state == NB_ACTIVE && s->nb[i].is_seed)
            *nb = &s->nb[i];
    assert_non_null(*nb);
    return p;
}

/* Feeds p a BUSY (req_id, retry_ms) in swarm p's, from `from`. */
static void busy_from(ns_world *w, ns_node *p, const fb_addr *from, uint32_t req_id, uint16_t ms)
{
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_BUSY;
    m.u.busy.req_id = req_id;
    m.u.busy.retry_ms = ms;
    ns_feed(w, p, from, &m);
}

static void test_invite_ends_wait(void **state)
{
    (void)state;
    static ns_world w;
    fb_nb *nb;
    ns_node *p = joined_peer(&w, &nb);
    ns_node *seed = &w.node[0];
    /* Not waiting: nothing changes. */
    nb->busy_until = w.now;
    nb->busy_count = 3;
    busy_from(&w, p, &seed->addr, 0, 0);
    assert_int_equal(nb->busy_count, 3);
    /* Waiting out a BUSY (1 s, the 4th in a row): the wait ends now, the doubling restarts. */
    nb->busy_until = w.now + 1000000;
    nb->busy_min_until = w.now + 500000;
    busy_from(&w, p, &seed->addr, 0, 0);
    assert_int_equal(nb->busy_until, w.now);
    assert_int_equal(nb->busy_min_until, w.now);
    assert_int_equal(nb->busy_count, 0);
    ns_free(&w);
}

static void test_invite_from_stranger_ignored(void **state)
{
    (void)state;
    static ns_world w;
    fb_nb *nb;
    ns_node *p = joined_peer(&w, &nb);
    nb->busy_until = w.now + 1000000;
    nb->busy_count = 3;
    fb_addr other;
    fb_addr_set_v4(&other, 0x0b000001u, 5000); /* not the seed, not a neighbour */
    busy_from(&w, p, &other, 0, 0);
    assert_int_equal(nb->busy_until, w.now + 1000000);
    assert_int_equal(nb->busy_count, 3);
    ns_free(&w);
}

/* A BUSY for a request of ours, the 4th in a row: a peer with no neighbour and most of the page
 * left waits the retry (plus at most half of it), not the retry doubled. */
static void test_thin_peer_no_doubling(void **state)
{
    (void)state;
    static ns_world w;
    fb_nb *nb;
    ns_node *p = joined_peer(&w, &nb);
    fb_swarm *s = &p->e->sw[p->swarm];
    assert_true(s->n_active <= 2 && s->have + s->n_chunks / 4 <= s->n_chunks);
    uint32_t req_id = 0;
    for (int k = 0; k < NB_BURSTS && !req_id; k++)
        req_id = nb->out[k].req_id;
    assert_true(req_id != 0);
    nb->busy_count = 3;
    busy_from(&w, p, &w.node[0].addr, req_id, 100);
    assert_true(nb->busy_until >= w.now + 100000);
    assert_true(nb->busy_until <= w.now + 150000);
    ns_free(&w);
}

/* BUSYs for requests sent together (before the first BUSY came) are one refusal: the wait is
 * the retry's, not doubled for each; a BUSY for a request sent after that one came is one more
 * in a row, and doubles it. (The seed refused four requests a peer sent at once, and the peer
 * waited 400 ms while the seed idled.) */
static void test_batch_refused_once(void **state)
{
    (void)state;
    static ns_world w;
    fb_nb *nb;
    ns_node *p = joined_peer(&w, &nb);
    fb_swarm *s = &p->e->sw[p->swarm];
    uint32_t ids[NB_BURSTS], n = 0;
    for (int k = 0; k < NB_BURSTS; k++)
        if (nb->out[k].req_id && nb->out[k].sent_us < w.now)
            ids[n++] = nb->out[k].req_id;
    assert_true(n >= 2);
    uint32_t active = s->n_active;
    s->n_active = 3; /* not thin: BUSYs in a row double */
    for (uint32_t i = 0; i < n; i++)
        busy_from(&w, p, &w.node[0].addr, ids[i], 100);
    s->n_active = active;
    assert_int_equal(nb->busy_count, 1);
    assert_true(nb->busy_until >= w.now + 100000);
    assert_true(nb->busy_until <= w.now + 150000);
    /* After the wait the peer asks again; that request refused too: 200 ms and more. */
    uint64_t refused = w.now;
    ns_run(&w, nb->busy_until + 1000, NULL);
    uint32_t again = 0;
    for (int k = 0; k < NB_BURSTS && !again; k++)
        if (nb->out[k].req_id && nb->out[k].sent_us > refused)
            again = nb->out[k].req_id;
    assert_true(again != 0);
    s->n_active = 3;
    busy_from(&w, p, &w.node[0].addr, again, 100);
    s->n_active = active;
    assert_int_equal(nb->busy_count, 2);
    assert_true(nb->busy_until >= w.now + 200000);
    ns_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invite_ends_wait),
        cmocka_unit_test(test_invite_from_stranger_ignored),
        cmocka_unit_test(test_thin_peer_no_doubling),
        cmocka_unit_test(test_batch_refused_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
