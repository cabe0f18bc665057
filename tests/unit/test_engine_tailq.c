/* A peer refuses (BUSY) a request of a neighbour in the last quarter of its page, not a
 * finisher, that would wait behind more than TAIL_QUEUE_US and TAIL_QUEUE_CHUNKS chunks of its
 * queue (docs/PROTOCOL.md section 9): the requester asks a neighbour with less queued. It takes
 * the same request with a short queue, from a finisher, or from a neighbour with more of its page
 * to get. Two peers on the in-test network of tests/unit/netsim.h; the queue's length and the
 * requester's progress are set through engine/internal.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/wire.h"
#include "engine/internal.h"
#include "netsim.h"

static const uint64_t sizes[] = {200000, 120000};
static void test_tail_request_refused_behind_long_queue(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, sizes, 2);
    ns_node *seed = ns_add(&w, true, 1000000, NULL);
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *a = ns_add(&w, false, 1000000, &stay);
    ns_node *b = ns_add(&w, false, 1000000, &stay);
    for (int i = 1; i < w.n; i++) {
        assert_int_equal(fb_engine_swarm_join(w.node[i].e, w.node[i].swarm, &seed->addr, w.now), 0);
        ns_tick(&w.node[i]);
    }
    ns_run(&w, 10000000, ns_all_complete);
    fb_nb *nb = ns_nb_of(a, b);
    assert_non_null(nb);
    fb_engine *e = a->e;
    fb_swarm *s = ns_swarm(a);
    uint32_t n = s->n_chunks;
    assert_int_equal(n, 40);
    /* The queue's length that refuses: over 80 ms and 16 chunks at a's pace; still under the
     * queue's own limit (300 ms), so nothing else refuses. */
    uint64_t rate = e->bucket.rate;
    assert_true(rate > 0);
    uint64_t bw = FB_BLOCK_SIZE + FB_WIRE_DATA_FIXED + fb_eng_overhead(e);
    uint64_t lim = FB_MAX(TAIL_QUEUE_US * rate / 1000000 / bw,
                          (uint64_t)TAIL_QUEUE_CHUNKS * (s->map.chunk_size / FB_BLOCK_SIZE));
    uint64_t qlim = FB_MAX(rate * (UP_QUEUE_US / T_MS) / 1000 / bw, 32u);
    assert_true(lim + 2 < qlim);
    uint32_t saved = e->ring_blocks;
    uint32_t id = 100;

    /* In its last quarter (30 of 40), not a finisher: refused behind a long queue... */
    nb->have_count = n - n / 4;
    e->ring_blocks = (uint32_t)lim + 2;
    assert_int_equal(ns_request_answer(&w, a, b, ++id), FB_MSG_BUSY);
    /* ...taken behind a short one. */
    e->ring_blocks = 0;
    uint8_t t = ns_request_answer(&w, a, b, ++id);
    assert_true(t == FB_MSG_DATA || t == FB_MSG_QUEUED);
    fb_up_cancel(e, a->swarm, (uint16_t)(nb - s->nb), &b->addr, id);
    /* A finisher is taken behind the long queue (it is served first). */
    nb->have_count = n - FINISH_CHUNKS(n);
    e->ring_blocks = (uint32_t)lim + 2;
    t = ns_request_answer(&w, a, b, ++id);
    assert_true(t == FB_MSG_DATA || t == FB_MSG_QUEUED);
    fb_up_cancel(e, a->swarm, (uint16_t)(nb - s->nb), &b->addr, id);
    /* So is a neighbour with more than a quarter of its page to get. */
    nb->have_count = n / 2;
    t = ns_request_answer(&w, a, b, ++id);
    assert_true(t == FB_MSG_DATA || t == FB_MSG_QUEUED);
    fb_up_cancel(e, a->swarm, (uint16_t)(nb - s->nb), &b->addr, id);
    e->ring_blocks = saved;
    nb->have_count = n;
    ns_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tail_request_refused_behind_long_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
