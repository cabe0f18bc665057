/* Tests of the engine's chunk-buffer pool (fb_eng_buf_get/put in src/engine/engine.c): a
 * returned buffer is handed out again, sizes do not mix, the pool keeps its cap, and in a real
 * download (tests/unit/netsim.h) a finished flight's buffer goes to the next flight. Leaks show
 * under ASan (the suite's build). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine/internal.h"
#include "netsim.h"

static const uint64_t page_sizes[] = {30000, 100000, 65536, 70001};

static ns_world gw;

/* A peer engine in a fresh world (owned by the world: ns_free frees it). */
static fb_engine *new_peer(uint32_t max_inflight)
{
    ns_init(&gw, 10000, 0);
    ns_page(&gw, page_sizes, 4);
    fb_engine_config c = {.max_inflight = max_inflight};
    return ns_add(&gw, false, 1000000, &c)->e;
}

static void test_get_put(void **state)
{
    (void)state;
    fb_engine *e = new_peer(2);
    assert_non_null(e);
    assert_int_equal(e->pool_cap, 2);
    uint8_t *a = fb_eng_buf_get(e, 8192), *b = fb_eng_buf_get(e, 8192);
    uint8_t *c = fb_eng_buf_get(e, 16384);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal(e->pool_len, 0);
    memset(c, 1, 16384); /* the full size is usable (ASan checks) */
    fb_eng_buf_put(e, a, 8192);
    fb_eng_buf_put(e, c, 16384);
    assert_int_equal(e->pool_len, 2);
    fb_eng_buf_put(e, b, 8192); /* the pool is full: b is freed, not kept */
    assert_int_equal(e->pool_len, 2);
    fb_eng_buf_put(e, NULL, 8192);
    assert_int_equal(e->pool_len, 2);
    /* Same size: the one returned; another size never hands out a smaller buffer. */
    assert_ptr_equal(fb_eng_buf_get(e, 8192), a);
    assert_int_equal(e->pool_len, 1);
    uint8_t *d = fb_eng_buf_get(e, 8192); /* none of that size left: a new one */
    assert_non_null(d);
    assert_ptr_not_equal(d, c);
    assert_int_equal(e->pool_len, 1);
    assert_ptr_equal(fb_eng_buf_get(e, 16384), c);
    assert_int_equal(e->pool_len, 0);
    /* The last returned comes out first (warm in cache). */
    fb_eng_buf_put(e, a, 8192);
    fb_eng_buf_put(e, d, 8192);
    assert_ptr_equal(fb_eng_buf_get(e, 8192), d);
    fb_eng_buf_put(e, d, 8192);
    fb_eng_buf_put(e, c, 16384); /* full again: freed */
    assert_int_equal(e->pool_len, 2);
    ns_free(&gw); /* the engine frees a and d from its pool (ASan: no leak) */
}

static ns_node *g_peer;
static uint8_t *g_buf;

static fb_swarm *peer_swarm(void)
{
    return &g_peer->e->sw[g_peer->swarm];
}

static bool first_verified(ns_world *w)
{
    (void)w;
    return g_peer->verified >= 1;
}

static bool buf_taken_again(ns_world *w)
{
    (void)w;
    fb_swarm *s = peer_swarm();
    for (uint32_t i = 0; i < s->n_fl; i++)
        if (s->fl[i].used && s->fl[i].buf == g_buf)
            return true;
    return false;
}

static bool done(ns_world *w)
{
    (void)w;
    return g_peer->completes > 0;
}

/* Buffers live in flights (with data) or in the pool, never more than max_inflight of them
 * for one swarm. */
static void assert_accounted(fb_engine *e, fb_swarm *s)
{
    uint32_t held = 0;
    for (uint32_t i = 0; i < s->n_fl; i++) {
        if (!s->fl[i].used)
            assert_null(s->fl[i].buf);
        held += s->fl[i].buf != NULL;
    }
    assert_true(held + e->pool_len <= s->n_fl);
    assert_true(e->pool_len <= e->pool_cap);
}

static void test_flight_reuses_buffer(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, page_sizes, 4);
    ns_node *seed = ns_add(&w, true, 2000000, NULL);
    fb_engine_config c = {.linger_ms = FB_LINGER_FOREVER, .max_inflight = 4};
    g_peer = ns_add(&w, false, 1000000, &c);
    assert_true(w.map.n_chunks > 4 * 4); /* many more chunks than flights */
    assert_int_equal(fb_engine_swarm_join(g_peer->e, g_peer->swarm, &seed->addr, w.now), 0);
    ns_tick(g_peer);
    fb_swarm *s = peer_swarm();
    assert_int_equal(g_peer->e->pool_len, 0); /* nothing allocated before data */

    ns_run(&w, 30000000, first_verified);
    assert_true(g_peer->verified >= 1);
    /* The finished flight gave its buffer back. */
    assert_true(g_peer->e->pool_len >= 1);
    assert_accounted(g_peer->e, s);
    g_buf = g_peer->e->pool[g_peer->e->pool_len - 1].p;

    ns_run(&w, 30000000, buf_taken_again);
    assert_true(buf_taken_again(&w)); /* a later flight got that very buffer */
    assert_int_equal(g_peer->completes, 0);
    assert_accounted(g_peer->e, s);

    ns_run(&w, 30000000, done);
    assert_int_equal(g_peer->completes, 1);
    assert_memory_equal(g_peer->store, w.page, w.page_len);
    /* Finished: no flight holds a buffer; the pool holds at most max_inflight. */
    assert_accounted(g_peer->e, s);
    for (uint32_t i = 0; i < s->n_fl; i++)
        assert_null(s->fl[i].buf);
    assert_true(g_peer->e->pool_len >= 1);
    ns_free(&w); /* engine free releases the pool (ASan: no leak) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_put),
        cmocka_unit_test(test_flight_reuses_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
