/* Unit tests for core/intervals: merging, queries, removal, caps, the lossy add, the wire form
 * (top-k selection, validation), and a randomized comparison against a plain bitmap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "core/intervals.h"
#include "guard.h"

static void test_add_merge(void **state)
{
    (void)state;
    fb_iv st[8];
    fb_ivset s;
    fb_ivset_init(&s, st, 8);
    assert_int_equal(fb_ivset_add(&s, 10, 20), 0);
    assert_int_equal(fb_ivset_add(&s, 30, 40), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(fb_ivset_add(&s, 20, 30), 0); /* touches both: one interval */
    assert_int_equal(s.n, 1);
    assert_int_equal(s.v[0].start, 10);
    assert_int_equal(s.v[0].end, 40);
    assert_int_equal(s.count, 30);
    assert_int_equal(fb_ivset_add(&s, 5, 12), 0); /* overlaps the left end */
    assert_int_equal(fb_ivset_add(&s, 35, 50), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.count, 45);
    assert_int_equal(fb_ivset_add(&s, 0, 1), 0);
    assert_int_equal(fb_ivset_add(&s, 60, 61), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(fb_ivset_add(&s, 0, 100), 0); /* swallows all */
    assert_int_equal(s.n, 1);
    assert_int_equal(s.count, 100);
    assert_int_equal(fb_ivset_add(&s, 7, 7), FB_EINVAL);
    assert_int_equal(fb_ivset_add(&s, 9, 3), FB_EINVAL);
}

static void test_queries(void **state)
{
    (void)state;
    fb_iv st[8];
    fb_ivset s;
    fb_ivset_init(&s, st, 8);
    fb_ivset_add(&s, 2, 5);
    fb_ivset_add(&s, 8, 9);
    fb_ivset_add(&s, 20, 30);
    assert_false(fb_ivset_contains(&s, 1));
    assert_true(fb_ivset_contains(&s, 2));
    assert_true(fb_ivset_contains(&s, 4));
    assert_false(fb_ivset_contains(&s, 5));
    assert_true(fb_ivset_contains(&s, 8));
    assert_false(fb_ivset_contains(&s, 30));
    uint32_t y;
    assert_true(fb_ivset_next_in(&s, 0, &y));
    assert_int_equal(y, 2);
    assert_true(fb_ivset_next_in(&s, 5, &y));
    assert_int_equal(y, 8);
    assert_true(fb_ivset_next_in(&s, 25, &y));
    assert_int_equal(y, 25);
    assert_false(fb_ivset_next_in(&s, 30, &y));
    assert_true(fb_ivset_next_missing(&s, 2, 100, &y));
    assert_int_equal(y, 5);
    assert_true(fb_ivset_next_missing(&s, 0, 100, &y));
    assert_int_equal(y, 0);
    assert_false(fb_ivset_next_missing(&s, 20, 30, &y));
    assert_true(fb_ivset_next_missing(&s, 20, 31, &y));
    assert_int_equal(y, 30);
    assert_int_equal(fb_ivset_count_range(&s, 0, 100), 14);
    assert_int_equal(fb_ivset_count_range(&s, 3, 25), 2 + 1 + 5);
    assert_int_equal(fb_ivset_count_range(&s, 5, 8), 0);
    fb_iv st2[8];
    fb_ivset t;
    fb_ivset_init(&t, st2, 8);
    fb_ivset_add(&t, 4, 22);
    assert_int_equal(fb_ivset_count_inter(&s, &t), 1 + 1 + 2);
    assert_int_equal(fb_ivset_count_diff(&s, &t), 14 - 4);
    assert_int_equal(fb_ivset_count_diff(&t, &s), 18 - 4);
}

static void test_remove(void **state)
{
    (void)state;
    fb_iv st[3];
    fb_ivset s;
    fb_ivset_init(&s, st, 3);
    fb_ivset_add(&s, 0, 10);
    fb_ivset_add(&s, 20, 30);
    assert_int_equal(fb_ivset_remove(&s, 4, 6), 0); /* split */
    assert_int_equal(s.n, 3);
    assert_int_equal(s.count, 18);
    assert_int_equal(fb_ivset_remove(&s, 25, 27), FB_ENOSPC); /* would need a 4th */
    assert_int_equal(s.count, 18);
    assert_int_equal(fb_ivset_remove(&s, 2, 25), 0); /* trims and deletes */
    assert_int_equal(s.n, 2);
    assert_int_equal(s.v[0].start, 0);
    assert_int_equal(s.v[0].end, 2);
    assert_int_equal(s.v[1].start, 25);
    assert_int_equal(s.count, 7);
    assert_int_equal(fb_ivset_remove(&s, 100, 200), 0);
    assert_int_equal(s.count, 7);
}

static void test_caps_and_lossy(void **state)
{
    (void)state;
    fb_iv st[2];
    fb_ivset s;
    fb_ivset_init(&s, st, 2);
    fb_ivset_add(&s, 0, 1);
    fb_ivset_add(&s, 10, 15);
    assert_int_equal(fb_ivset_add(&s, 20, 22), FB_ENOSPC);
    assert_int_equal(s.count, 6);
    assert_int_equal(fb_ivset_add(&s, 1, 3), 0);         /* merging needs no slot */
    assert_int_equal(fb_ivset_add_lossy(&s, 20, 30), 0); /* drops [0,3) */
    assert_int_equal(s.n, 2);
    assert_false(fb_ivset_contains(&s, 0));
    assert_true(fb_ivset_contains(&s, 25));
    assert_int_equal(s.count, 15);
    assert_int_equal(fb_ivset_add_lossy(&s, 40, 41), 0); /* shorter than all: itself dropped */
    assert_false(fb_ivset_contains(&s, 40));
    assert_int_equal(s.count, 15);
}

static void test_wire_roundtrip_topk(void **state)
{
    (void)state;
    fb_iv st[16];
    fb_ivset s;
    fb_ivset_init(&s, st, 16);
    fb_ivset_add(&s, 0, 3);       /* len 3 */
    fb_ivset_add(&s, 10, 11);     /* len 1 */
    fb_ivset_add(&s, 20, 30);     /* len 10 */
    fb_ivset_add(&s, 40, 42);     /* len 2 */
    fb_ivset_add(&s, 1000, 1300); /* len 300 */
    uint8_t buf[64];
    uint64_t cov;
    int n = fb_ivset_encode(&s, buf, sizeof(buf), 100, &cov);
    assert_true(n > 2);
    assert_int_equal(cov, s.count);
    assert_int_equal(fb_ivwire_check(buf, (size_t)n, 2000), n);
    assert_int_equal(fb_ivwire_check(buf, (size_t)n, 1299), FB_EINVAL); /* past the limit */
    fb_ivwire w;
    fb_ivwire_begin(&w, buf, (size_t)n);
    uint32_t a, b, k = 0;
    while (fb_ivwire_next(&w, &a, &b)) {
        assert_int_equal(a, s.v[k].start);
        assert_int_equal(b, s.v[k].end);
        k++;
    }
    assert_int_equal(k, 5);
    /* Top 3: lengths 300, 10, 3 in start order. */
    n = fb_ivset_encode(&s, buf, sizeof(buf), 3, &cov);
    assert_int_equal(cov, 313);
    fb_ivwire_begin(&w, buf, (size_t)n);
    assert_true(fb_ivwire_next(&w, &a, &b));
    assert_int_equal(a, 0);
    assert_true(fb_ivwire_next(&w, &a, &b));
    assert_int_equal(a, 20);
    assert_true(fb_ivwire_next(&w, &a, &b));
    assert_int_equal(a, 1000);
    assert_int_equal(b, 1300);
    assert_false(fb_ivwire_next(&w, &a, &b));
    /* A tiny buffer: fewer intervals, still valid. */
    n = fb_ivset_encode(&s, buf, 6, 100, &cov);
    assert_true(n >= 2 && n <= 6);
    assert_int_equal(fb_ivwire_check(buf, (size_t)n, 2000), n);
    assert_int_equal(fb_ivset_encode(&s, buf, 1, 100, &cov), FB_E2BIG);
}

static void test_wire_rejects(void **state)
{
    (void)state;
    /* n=2: [0,1) then gap 0 (touching): invalid. */
    static const uint8_t touch[] = {0, 2, 0, 0, 0, 0};
    assert_int_equal(fb_ivwire_check(touch, sizeof(touch), 100), FB_EINVAL);
    static const uint8_t ok[] = {0, 2, 0, 0, 1, 0};
    assert_int_equal(fb_ivwire_check(ok, sizeof(ok), 100), 6);
    static const uint8_t trunc[] = {0, 2, 0, 0, 1};
    assert_int_equal(fb_ivwire_check(trunc, sizeof(trunc), 100), FB_EINVAL);
    static const uint8_t overflow[] = {0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x05};
    assert_int_equal(fb_ivwire_check(overflow, sizeof(overflow), UINT64_MAX), FB_EINVAL);
    static const uint8_t longvar[] = {0, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00};
    assert_int_equal(fb_ivwire_check(longvar, sizeof(longvar), UINT64_MAX), FB_EINVAL);
    assert_int_equal(fb_ivwire_check(ok, 1, 100), FB_EINVAL);
    /* Every prefix of a valid list is rejected, read right before a guard page. */
    for (size_t len = 0; len < sizeof(ok); len++) {
        guard g;
        uint8_t *p = guard_copy(&g, ok, len);
        assert_int_equal(fb_ivwire_check(p, len, 100), FB_EINVAL);
        guard_free(&g);
    }
}

static void test_varint(void **state)
{
    (void)state;
    static const uint32_t vals[] = {0, 1, 127, 128, 16383, 16384, 0xfffffff, UINT32_MAX};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        uint8_t b[5];
        size_t n = fb_varint_put(b, vals[i]);
        uint32_t v;
        assert_int_equal(fb_varint_get(b, n, &v), n);
        assert_int_equal(v, vals[i]);
        assert_int_equal(fb_varint_get(b, n - 1, &v), 0);
    }
}

/* Random operations checked against a bitmap model. */
static void test_random_model(void **state)
{
    (void)state;
    enum { U = 300 };
    fb_iv st[U];
    fb_ivset s;
    fb_ivset_init(&s, st, U);
    uint8_t model[U] = {0};
    srand(42);
    for (int it = 0; it < 20000; it++) {
        uint32_t a = (uint32_t)rand() % U, len = 1 + (uint32_t)rand() % 12;
        uint32_t b = a + len > U ? U : a + len;
        if (a >= b)
            continue;
        if (rand() % 3) {
            assert_int_equal(fb_ivset_add(&s, a, b), 0);
            memset(model + a, 1, b - a);
        } else {
            assert_int_equal(fb_ivset_remove(&s, a, b), 0);
            memset(model + a, 0, b - a);
        }
        if (it % 97 == 0) {
            uint64_t cnt = 0;
            for (uint32_t x = 0; x < U; x++) {
                assert_int_equal(fb_ivset_contains(&s, x), model[x]);
                cnt += model[x];
            }
            assert_int_equal(s.count, cnt);
            for (uint32_t k = 0; k + 1 < s.n; k++)
                assert_true(s.v[k].end < s.v[k + 1].start); /* merged, never touching */
            uint8_t buf[2048];
            int n = fb_ivset_encode(&s, buf, sizeof(buf), 0xffff, NULL);
            fb_iv st2[U];
            fb_ivset t;
            fb_ivset_init(&t, st2, U);
            fb_ivwire w;
            assert_int_equal(fb_ivwire_check(buf, (size_t)n, U), n);
            fb_ivwire_begin(&w, buf, (size_t)n);
            uint32_t x0, x1;
            while (fb_ivwire_next(&w, &x0, &x1))
                fb_ivset_add(&t, x0, x1);
            assert_int_equal(t.count, s.count);
            assert_int_equal(fb_ivset_count_inter(&s, &t), s.count);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_merge),
        cmocka_unit_test(test_queries),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_caps_and_lossy),
        cmocka_unit_test(test_wire_roundtrip_topk),
        cmocka_unit_test(test_wire_rejects),
        cmocka_unit_test(test_varint),
        cmocka_unit_test(test_random_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
