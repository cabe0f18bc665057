/* Unit tests for sim/evq (the event heap and virtual clock), sim/rng and sim/pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sim/evq.c"
#include "sim/pool.c"
#include "sim/rng.c"

static void test_order_and_ties(void **state)
{
    (void)state;
    fb_evq q;
    assert_int_equal(fb_evq_init(&q, 100), 0);
    assert_int_equal(fb_evq_push(&q, 50, 1, 0, 0), 0);
    assert_int_equal(fb_evq_push(&q, 10, 2, 1, 0), 0);
    assert_int_equal(fb_evq_push(&q, 50, 3, 2, 0), 0);
    assert_int_equal(fb_evq_push(&q, 10, 4, 3, 0), 0);
    assert_int_equal(fb_evq_push(&q, 30, 5, 4, 0), 0);
    /* Ties at 10 and 50 come out in push order. */
    static const uint32_t want[] = {1, 3, 4, 0, 2};
    static const uint64_t wt[] = {10, 10, 30, 50, 50};
    fb_ev e;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(fb_evq_pop(&q, &e), 0);
        assert_int_equal(e.a, want[i]);
        assert_int_equal(e.t, wt[i]);
        assert_int_equal(q.now, wt[i]);
    }
    assert_int_equal(fb_evq_pop(&q, &e), FB_ENOENT);
    /* The clock never goes back: a push into the past is due now. */
    assert_int_equal(fb_evq_push(&q, 5, 7, 9, 0), 0);
    assert_int_equal(fb_evq_pop(&q, &e), 0);
    assert_int_equal(e.t, 50);
    assert_int_equal(fb_ev_kind(&e), 7);
    fb_evq_fini(&q);
}

/* Reserved sequence numbers: a batch reserved now and queued one member at a time orders, at
 * equal times, after what was pushed before the reservation and before what was pushed after,
 * in its own order. */
static void test_reserved_seq(void **state)
{
    (void)state;
    fb_evq q;
    assert_int_equal(fb_evq_init(&q, 100), 0);
    assert_int_equal(fb_evq_push(&q, 20, 1, 100, 0), 0); /* before the batch */
    uint64_t base = fb_evq_reserve(&q, 3);
    assert_int_equal(fb_evq_push(&q, 20, 1, 200, 0), 0); /* after it */
    assert_int_equal(fb_evq_push_seq(&q, 20, base + 2, 1, 12, 0), 0);
    assert_int_equal(fb_evq_push_seq(&q, 20, base + 0, 1, 10, 0), 0);
    assert_int_equal(fb_evq_push_seq(&q, 10, base + 1, 1, 11, 0), 0);
    static const uint32_t want[] = {11, 100, 10, 12, 200};
    fb_ev e;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(fb_evq_pop(&q, &e), 0);
        assert_int_equal(e.a, want[i]);
    }
    assert_int_equal(q.popped, 5);
    assert_int_equal(fb_evq_push_seq(&q, 30, 1ull << FB_EVQ_SEQ_BITS, 1, 0, 0), FB_ENOSPC);
    fb_evq_fini(&q);
}

static void test_cap(void **state)
{
    (void)state;
    fb_evq q;
    assert_int_equal(fb_evq_init(&q, 3), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(fb_evq_push(&q, (uint64_t)i, 1, 0, 0), 0);
    assert_int_equal(fb_evq_push(&q, 9, 1, 0, 0), FB_ENOSPC);
    fb_evq_fini(&q);
}

/* Each field survives the packing at its widest; b is kept modulo 2^17; out-of-range kinds and
 * a are refused; a time past FB_EVQ_T_MAX comes out as FB_EVQ_T_MAX, after the earlier ones;
 * the children of the root start a cache line. */
static void test_packing(void **state)
{
    (void)state;
    fb_evq q;
    assert_int_equal(fb_evq_init(&q, 16), 0);
    assert_int_equal((uintptr_t)&q.heap[1] % 64, 0);
    uint32_t amax = (1u << FB_EVQ_A_BITS) - 1;
    assert_int_equal(fb_evq_push(&q, FB_EVQ_T_MAX + 5, 15, amax, 0xffffffffu), 0);
    assert_int_equal(fb_evq_push(&q, FB_EVQ_T_MAX - 1, 3, 0, FB_EVQ_B_MASK), 0);
    assert_int_equal(fb_evq_push(&q, 7, 16, 0, 0), FB_EINVAL);
    assert_int_equal(fb_evq_push(&q, 7, 1, amax + 1, 0), FB_EINVAL);
    fb_ev e;
    assert_int_equal(fb_evq_pop(&q, &e), 0);
    assert_true(e.t == FB_EVQ_T_MAX - 1);
    assert_int_equal(fb_ev_kind(&e), 3);
    assert_int_equal(e.a, 0);
    assert_int_equal(e.b, FB_EVQ_B_MASK);
    assert_int_equal(e.seqkind >> 8, 1);
    assert_int_equal(fb_evq_pop(&q, &e), 0);
    assert_true(e.t == FB_EVQ_T_MAX);
    assert_int_equal(fb_ev_kind(&e), 15);
    assert_int_equal(e.a, amax);
    assert_int_equal(e.b, 0xffffffffu & FB_EVQ_B_MASK);
    assert_int_equal(e.seqkind >> 8, 0);
    fb_evq_fini(&q);
}

/* Against a reference: 20000 random pushes interleaved with pops come out sorted by
 * (time, push order), and the array grows past its first allocation. */
static void test_random_against_sort(void **state)
{
    (void)state;
    enum { N = 20000 };
    fb_evq q;
    fb_rng r;
    fb_rng_seed(&r, 42, 0);
    assert_int_equal(fb_evq_init(&q, N), 0);
    uint64_t last_t = 0, last_seq = 0;
    int popped = 0;
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(fb_evq_push(&q, q.now + fb_rng_below(&r, 100), 1, i, 0), 0);
        if (fb_rng_below(&r, 3) == 0) {
            fb_ev e;
            assert_int_equal(fb_evq_pop(&q, &e), 0);
            assert_true(e.t > last_t || (e.t == last_t && (e.seqkind >> 8) > last_seq) ||
                        popped == 0);
            last_t = e.t;
            last_seq = e.seqkind >> 8;
            popped++;
        }
    }
    fb_ev e;
    while (fb_evq_pop(&q, &e) == 0) {
        assert_true(e.t > last_t || (e.t == last_t && (e.seqkind >> 8) > last_seq));
        last_t = e.t;
        last_seq = e.seqkind >> 8;
        popped++;
    }
    assert_int_equal(popped, N);
    assert_true(q.cap > 1024);
    fb_evq_fini(&q);
}

/* fb_evq_upcoming names the three events the next pops return, in order, whatever the heap's
 * shape (sizes 0 to 5 and large, ties included), and changes nothing. */
static void test_upcoming(void **state)
{
    (void)state;
    fb_evq q;
    fb_rng r;
    fb_rng_seed(&r, 7, 0);
    assert_int_equal(fb_evq_init(&q, 4096), 0);
    fb_ev up[FB_EVQ_UPCOMING];
    assert_int_equal(fb_evq_upcoming(&q, up), 0);
    for (int round = 0; round < 3000; round++) {
        /* Grow and shrink: mostly pushes early on, then mostly pops. */
        if (q.len < 3 || fb_rng_below(&r, 100) < (round < 1500 ? 70u : 30u))
            assert_int_equal(fb_evq_push(&q, q.now + fb_rng_below(&r, 50), 1, (uint32_t)round, 0),
                             0);
        int k = fb_evq_upcoming(&q, up);
        assert_int_equal(k, q.len < 3 ? (int)q.len : 3);
        fb_ev want[FB_EVQ_UPCOMING];
        for (int i = 0; i < k; i++)
            want[i] = up[i];
        fb_ev got[FB_EVQ_UPCOMING];
        for (int i = 0; i < k; i++)
            assert_int_equal(fb_evq_pop(&q, &got[i]), 0);
        for (int i = 0; i < k; i++) {
            assert_true(got[i].t == want[i].t && got[i].seqkind == want[i].seqkind);
            assert_int_equal(got[i].a, want[i].a);
        }
        /* Put them back (new sequence numbers, same times): the order among them holds. */
        for (int i = 0; i < k; i++)
            assert_int_equal(fb_evq_push(&q, got[i].t, 1, got[i].a, 0), 0);
    }
    fb_evq_fini(&q);
}

static void test_rng(void **state)
{
    (void)state;
    fb_rng a, b, c;
    fb_rng_seed(&a, 1, 0);
    fb_rng_seed(&b, 1, 0);
    fb_rng_seed(&c, 1, 1);
    int same_c = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = fb_rng_next(&a), y = fb_rng_next(&b), z = fb_rng_next(&c);
        assert_true(x == y);
        same_c += x == z;
    }
    assert_int_equal(same_c, 0);
    /* Uniformity, roughly: 100000 draws below 10 land 10000 +- 500 in each bucket. */
    int hist[10] = {0};
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        hist[fb_rng_below(&a, 10)]++;
        double u = fb_rng_unit(&a);
        assert_true(u >= 0 && u < 1);
        sum += fb_rng_exp(&a, 2.0);
    }
    for (int i = 0; i < 10; i++)
        assert_true(hist[i] > 9500 && hist[i] < 10500);
    assert_true(sum / 100000 > 1.95 && sum / 100000 < 2.05);
}

static void test_pool(void **state)
{
    (void)state;
    fb_pool p;
    fb_pool_init(&p, 24, 5000);
    uint32_t ids[5000];
    for (int i = 0; i < 5000; i++) {
        ids[i] = fb_pool_get(&p);
        assert_int_equal(ids[i], (uint32_t)i);
        uint64_t *blk = fb_pool_ptr(&p, ids[i]);
        assert_int_equal(blk[1], 0); /* fresh blocks are zeroed */
        blk[1] = (uint64_t)i;
    }
    assert_int_equal(fb_pool_get(&p), FB_POOL_NONE); /* the cap */
    fb_pool_put(&p, ids[17]);
    fb_pool_put(&p, ids[4200]);
    assert_int_equal(p.used, 4998);
    assert_int_equal(fb_pool_get(&p), 4200); /* LIFO reuse */
    assert_int_equal(fb_pool_get(&p), 17);
    assert_int_equal(((uint64_t *)fb_pool_ptr(&p, 17))[1], 17); /* beyond the link: kept */
    assert_int_equal(((uint64_t *)fb_pool_ptr(&p, 4999))[1], 4999);
    fb_pool_fini(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_ties),
        cmocka_unit_test(test_reserved_seq),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_packing),
        cmocka_unit_test(test_random_against_sort),
        cmocka_unit_test(test_upcoming),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
