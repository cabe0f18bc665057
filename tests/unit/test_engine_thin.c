/* A peer under half its neighbour target asks the seed for neighbours (tests/unit/netsim.h, a
 * fake clock): a lone peer sends JOINs that want the rest of its target, backing off 0.5, 1, 2 s;
 * peers with half their target or more send none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/wire.h"
#include "engine/internal.h"
#include "netsim.h"

static const uint64_t sizes[] = {40000, 20000};

#define LAT_US 10000

/* Runs w in steps of the latency until `until`, recording, for every JOIN from `from` to `to`
 * that asks for peers, its arrival time and `want` (the steps are one latency long, so a
 * datagram is seen before it is delivered; one seen twice is counted once). Returns how many
 * (at most cap). */
static int run_joins(ns_world *w, const ns_node *from, const ns_node *to, uint64_t until,
                     uint64_t *at, uint8_t *want, int cap)
{
    int k = 0;
    while (w->now < until) {
        ns_run(w, w->now + LAT_US, NULL);
        for (size_t i = 0; i < w->n_pkts; i++) {
            const ns_pkt *p = &w->pkts[i];
            if (!fb_addr_eq(&p->from, &from->addr) || !fb_addr_eq(&p->to, &to->addr))
                continue;
            fb_wire_msg m;
            if (fb_wire_decode(p->data, p->len, &m) || m.type != FB_MSG_JOIN || !m.u.join.want)
                continue;
            bool seen = false;
            for (int j = 0; j < k; j++)
                seen |= at[j] == p->t;
            if (!seen && k < cap) {
                at[k] = p->t;
                want[k] = m.u.join.want;
                k++;
            }
        }
    }
    return k;
}

static void test_lone_peer_asks_seed(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, LAT_US, 0);
    ns_page(&w, sizes, 2);
    ns_node *seed = ns_add(&w, true, 5000, NULL); /* slow: the peer stays incomplete */
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *p = ns_add(&w, false, 1000000, &stay);
    assert_int_equal(fb_engine_swarm_join(p->e, p->swarm, &seed->addr, w.now), 0);
    ns_tick(p);
    uint64_t at[16];
    uint8_t want[16];
    int n = run_joins(&w, p, seed, w.now + 4200000, at, want, 16);
    fb_swarm *s = &p->e->sw[p->swarm];
    assert_true(s->joined);
    assert_false(s->complete);
    assert_int_equal(s->n_active, 0);
    /* The first JOINs (want 8) join; then JOINs for the whole target (12), 0.5, 1, 2 s apart
     * (and the partition JOIN, want 4, on its own schedule: the slow seed's chunks are 1.6 s
     * apart). */
    int thin = 0;
    uint64_t t[8];
    for (int i = 0; i < n; i++) {
        assert_true(want[i] == 8 || want[i] == 4 || want[i] == 12);
        if (want[i] == 12 && thin < 8)
            t[thin++] = at[i];
    }
    assert_int_equal(thin, 4);
    for (int i = 1; i < thin; i++) {
        uint64_t gap = t[i] - t[i - 1], expect = 500000ull << (i - 1);
        assert_true(gap + LAT_US >= expect && gap <= expect + 2 * LAT_US);
    }
    ns_free(&w);
}

static void test_enough_neighbours_no_join(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, LAT_US, 0);
    ns_page(&w, sizes, 2);
    ns_node *seed = ns_add(&w, true, 20000, NULL);
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *p[7];
    for (int i = 0; i < 7; i++) {
        p[i] = ns_add(&w, false, 1000000, &stay);
        assert_int_equal(fb_engine_swarm_join(p[i]->e, p[i]->swarm, &seed->addr, w.now), 0);
        ns_tick(p[i]);
    }
    ns_run(&w, w.now + 400000, NULL);
    for (int i = 0; i < 7; i++)
        assert_int_equal(p[i]->e->sw[p[i]->swarm].n_active, 6); /* half the target of 12 */
    uint64_t end = w.now + 1000000;
    uint64_t at[16];
    uint8_t want[16];
    /* One peer's JOINs over the window (the others run alongside in the same world): only
     * partition JOINs (want 4: the slow seed's chunks are far apart), none for neighbours
     * (which would want 12 - 6). */
    int n = run_joins(&w, p[0], seed, end, at, want, 16);
    for (int i = 0; i < n; i++)
        assert_int_equal(want[i], 4);
    for (int i = 0; i < 7; i++) {
        const fb_swarm *s = &p[i]->e->sw[p[i]->swarm];
        assert_false(s->complete);
        assert_int_equal(s->n_active, 6);
        assert_int_equal(s->thin_backoff_us, 0);
    }
    ns_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lone_peer_asks_seed),
        cmocka_unit_test(test_enough_neighbours_no_join),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
