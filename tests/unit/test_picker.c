/* Unit tests for engine/picker, through its query structs only: rarest first among what the
 * sender holds and we want, tie-breaking by the start point, the work budget, the endgame,
 * and the seed's least-served choice with an exclusion list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/intervals.h"
#include "engine/picker.h"

enum { N = 200 };

static void test_rarest(void **state)
{
    (void)state;
    uint64_t theirs[4] = {0}, want[4] = {0};
    uint16_t avail[N];
    for (int c = 0; c < N; c++)
        avail[c] = 5;
    for (int c = 0; c < N; c += 2)
        fb_bit_set(want, (uint32_t)c); /* we want the even chunks */
    fb_bit_set(theirs, 10);
    fb_bit_set(theirs, 11); /* odd: not wanted */
    fb_bit_set(theirs, 150);
    fb_bit_set(theirs, 190);
    avail[11] = 1;
    avail[150] = 2;
    avail[190] = 2;
    fb_pick_query q = {N, theirs, want, avail, 0, 0};
    assert_int_equal(fb_pick_rarest(&q), 150); /* rarest wanted one; first from start 0 */
    q.start = 160;
    assert_int_equal(fb_pick_rarest(&q), 190); /* tie broken by the start point */
    q.start = 195;
    assert_int_equal(fb_pick_rarest(&q), 150); /* wraps around */
    /* NULL theirs: the sender holds everything; a chunk nobody else holds wins at once. */
    avail[64] = 0;
    q.theirs = NULL;
    q.start = 0;
    assert_int_equal(fb_pick_rarest(&q), 64);
    /* Budget: only the first candidate is looked at. */
    q.theirs = theirs;
    q.start = 0;
    q.budget = 1;
    assert_int_equal(fb_pick_rarest(&q), 10);
    /* Nothing wanted from this sender. */
    memset(want, 0, sizeof(want));
    q.budget = 0;
    assert_int_equal(fb_pick_rarest(&q), UINT32_MAX);
}

static void test_endgame(void **state)
{
    (void)state;
    uint64_t theirs[4] = {0};
    fb_bit_set(theirs, 7);
    fb_bit_set(theirs, 9);
    fb_pick_flight f[] = {
        {5, 16, true},  /* sender lacks it */
        {7, 4, true},   /* eligible */
        {9, 12, true},  /* eligible, more remaining */
        {9, 15, false}, /* already duplicated */
    };
    assert_int_equal(fb_pick_endgame(f, 4, theirs), 2);
    assert_int_equal(fb_pick_endgame(f, 4, NULL), 0);
    f[2].dup_ok = false;
    assert_int_equal(fb_pick_endgame(f, 4, theirs), 1);
    f[1].dup_ok = false;
    assert_int_equal(fb_pick_endgame(f, 4, theirs), -1);
}

static void test_least_served(void **state)
{
    (void)state;
    uint32_t served[10] = {3, 3, 1, 2, 1, 0, 4, 1, 9, 1};
    fb_iv st[4];
    fb_ivset ex;
    fb_ivset_init(&ex, st, 4);
    uint8_t buf[64];
    int n = fb_ivset_encode(&ex, buf, sizeof(buf), 4, NULL);
    assert_int_equal(fb_pick_least_served(served, 10, buf, (size_t)n, 0, 0), 5);
    fb_ivset_add(&ex, 4, 6); /* exclude 4 and 5 */
    n = fb_ivset_encode(&ex, buf, sizeof(buf), 4, NULL);
    assert_int_equal(fb_pick_least_served(served, 10, buf, (size_t)n, 0, 0), 2);
    assert_int_equal(fb_pick_least_served(served, 10, buf, (size_t)n, 3, 0), 7);
    assert_int_equal(fb_pick_least_served(served, 10, buf, (size_t)n, 8, 0), 9);
    fb_ivset_add(&ex, 0, 10);
    n = fb_ivset_encode(&ex, buf, sizeof(buf), 4, NULL);
    assert_int_equal(fb_pick_least_served(served, 10, buf, (size_t)n, 0, 0), UINT32_MAX);
    /* Budget: the first candidate only. */
    fb_ivset_clear(&ex);
    n = fb_ivset_encode(&ex, buf, sizeof(buf), 4, NULL);
    assert_int_equal(fb_pick_least_served(served, 10, buf, (size_t)n, 6, 1), 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rarest),
        cmocka_unit_test(test_endgame),
        cmocka_unit_test(test_least_served),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
