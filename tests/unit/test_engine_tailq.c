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

static const uint64_t sizes[] = {200000, 120000}; /* 40 chunks: a finisher misses at most 4 */

/* Feeds `a` a REQUEST from b for the whole of chunk 0 (id req_id) and returns the type of a's
 * answer to it (BUSY, QUEUED or DATA), or 0 if none was sent. */
static uint8_t request_answer(ns_world *w, ns_node *a, ns_node *b, uint32_t req_id)
{
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_REQUEST;
    m.u.request.req_id = req_id;
    m.u.request.n = 1;
    m.u.request.e[0].chunk = 0;
    m.u.request.e[0].mask = fb_chunk_full_mask(fb_chunk_len(&w->map, 0));
    size_t before = w->n_pkts;
    ns_feed(w, a, &b->addr, &m);
    uint8_t type = 0;
    for (size_t i = before; i < w->n_pkts && !type; i++) {
        fb_wire_msg r;
        if (!fb_addr_eq(&w->pkts[i].to, &b->addr) ||
            fb_wire_decode(w->pkts[i].data, w->pkts[i].len, &r) != 0)
            continue;
        if ((r.type == FB_MSG_BUSY && r.u.busy.req_id == req_id) ||
            (r.type == FB_MSG_QUEUED && r.u.queued.req_id == req_id) ||
            (r.type == FB_MSG_DATA && r.u.data.req_id == req_id))
            type = r.type;
    }
    return type;
}

static fb_nb *nb_of(ns_node *self, const ns_node *other)
{
    fb_swarm *s = ns_swarm(self);
    for (uint32_t i = 1; i < s->n_nb; i++)
        if (s->nb[i].state == NB_ACTIVE && fb_addr_eq(&s->nb[i].addr, &other->addr))
            return &s->nb[i];
    return NULL;
}

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
    fb_nb *nb = nb_of(a, b);
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
    assert_int_equal(request_answer(&w, a, b, ++id), FB_MSG_BUSY);
    /* ...taken behind a short one. */
    e->ring_blocks = 0;
    uint8_t t = request_answer(&w, a, b, ++id);
    assert_true(t == FB_MSG_DATA || t == FB_MSG_QUEUED);
    fb_up_cancel(e, a->swarm, (uint16_t)(nb - s->nb), &b->addr, id);
    /* A finisher is taken behind the long queue (it is served first). */
    nb->have_count = n - FINISH_CHUNKS(n);
    e->ring_blocks = (uint32_t)lim + 2;
    t = request_answer(&w, a, b, ++id);
    assert_true(t == FB_MSG_DATA || t == FB_MSG_QUEUED);
    fb_up_cancel(e, a->swarm, (uint16_t)(nb - s->nb), &b->addr, id);
    /* So is a neighbour with more than a quarter of its page to get. */
    nb->have_count = n / 2;
    t = request_answer(&w, a, b, ++id);
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
