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
    /* Nobody leaves: arrivals alone are no turnover. */
    uint64_t ar1[] = {0, 5}, lv1[] = {NEVER, NEVER};
    assert_true(fb_turnover_max(ar1, lv1, 2, 20, 10, 1, 1, &at) == 0);
    /* Four members at 0; two leave at 12, one at 25; one stays. Window [2, 12]: 2 of 4 gone
     * (a member leaving at 12 is not in M(12)). Window [15, 25]: 1 of 2 gone. Max 0.5 at 2. */
    uint64_t ar2[] = {0, 0, 0, 0}, lv2[] = {12, 12, 25, NEVER};
    assert_true(fabs(fb_turnover_max(ar2, lv2, 4, 30, 10, 1, 1, &at) - 0.5) < 1e-12);
    assert_int_equal(at, 2);
    /* A full replacement: a, b leave at 8 while c, d arrive at 9: all of M(t) gone for t <= 7. */
    uint64_t ar3[] = {0, 0, 9, 9}, lv3[] = {8, 8, NEVER, NEVER};
    assert_true(fabs(fb_turnover_max(ar3, lv3, 4, 20, 10, 1, 1, &at) - 1.0) < 1e-12);
    assert_int_equal(at, 0);
    /* The floor: a lone straggler leaving does not count when 2 members are required; the
     * window where both are present and one leaves is 1/2. */
    uint64_t ar4[] = {0, 0}, lv4[] = {5, 50};
    assert_true(fabs(fb_turnover_max(ar4, lv4, 2, 60, 10, 1, 2, &at) - 0.5) < 1e-12);
    assert_true(fabs(fb_turnover_max(ar4, lv4, 2, 60, 10, 1, 1, &at) - 1.0) < 1e-12);
    assert_true(fb_turnover_max(ar4, lv4, 0, 60, 10, 1, 1, &at) == 0);
    /* A steady ramp: one arrival per second, each stays 4 s: all of M(t) is gone 10 s later. */
    uint64_t ar5[30], lv5[30];
    for (int i = 0; i < 30; i++) {
        ar5[i] = (uint64_t)i;
        lv5[i] = (uint64_t)i + 4;
    }
    assert_true(fabs(fb_turnover_max(ar5, lv5, 30, 40, 10, 1, 3, &at) - 1.0) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cases)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
