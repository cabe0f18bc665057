/* Unit tests for sim/turnover: hand-computed windows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "sim/turnover.c"

#define NEVER UINT64_MAX

static void test_cases(void **state)
{
    (void)state;
    uint64_t at;
    /* Nobody leaves: no change in any window after the arrivals. Windows straddling arrivals at
     * t = 5 change: at t = 0, M(0) = {a}, M(10) = {a, b}: 1 of 2 changed. */
    uint64_t ar1[] = {0, 5}, lv1[] = {NEVER, NEVER};
    assert_true(fabs(fb_turnover_max(ar1, lv1, 2, 20, 10, 1, 1, &at) - 0.5) < 1e-12);
    assert_int_equal(at, 0);
    /* Four members at 0; two leave at 12, one at 25; one stays. Window [10, 20]: M = 4 then 2:
     * 2 of 4 changed. Window [15, 25]: 2 then 1: 1/2. Window [0, 10]: none. Max 0.5 at 2 (the
     * first t whose window end reaches the departures: a member leaving at 12 is not in M(12)). */
    uint64_t ar2[] = {0, 0, 0, 0}, lv2[] = {12, 12, 25, NEVER};
    assert_true(fabs(fb_turnover_max(ar2, lv2, 4, 30, 10, 1, 1, &at) - 0.5) < 1e-12);
    assert_int_equal(at, 2);
    /* A full replacement: a, b leave at 8; c, d arrive at 9: 100% in [5, 15]. */
    uint64_t ar3[] = {0, 0, 9, 9}, lv3[] = {8, 8, NEVER, NEVER};
    assert_true(fabs(fb_turnover_max(ar3, lv3, 4, 20, 10, 1, 1, &at) - 1.0) < 1e-12);
    assert_true(at <= 7);
    /* The floor: a lone straggler leaving does not count when 2 members are required. */
    uint64_t ar4[] = {0, 0}, lv4[] = {5, 50};
    assert_true(fabs(fb_turnover_max(ar4, lv4, 2, 60, 10, 1, 2, &at) - 0.5) < 1e-12);
    assert_true(fabs(fb_turnover_max(ar4, lv4, 2, 60, 10, 1, 1, &at) - 1.0) < 1e-12);
    assert_true(fb_turnover_max(ar4, lv4, 0, 60, 10, 1, 1, &at) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cases)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
