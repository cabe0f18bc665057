/* Unit tests for sim/bound: the Kumar-Ross bound and the client-server time on the standard
 * profiles, where each term of the max takes its turn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "sim/bound.c"

#define F    2000000.0
#define KBIT (1000.0 / 8)

static void test_dsl(void **state)
{
    (void)state;
    double us = 10000 * KBIT, u = 384 * KBIT, d = 1500 * KBIT;
    /* N = 1: the peer's downlink limits (F/d = 10.67 s); the origin could do it in 1.6 s. */
    assert_true(fabs(fb_bound_tmin(F, us, 1, u, d) - F / d) < 1e-9);
    assert_true(fabs(fb_bound_client_server(F, us, 1, d) - F / d) < 1e-9);
    /* N = 4096: the crowd's total upload limits: N F / (u_s + N u) = 41.4 s. */
    double t = fb_bound_tmin(F, us, 4096, 4096 * u, d);
    assert_true(fabs(t - 4096 * F / (us + 4096 * u)) < 1e-9);
    assert_true(t > 41.3 && t < 41.5);
    /* Client-server: N F / u_s = 6553.6 s. */
    assert_true(fabs(fb_bound_client_server(F, us, 4096, d) - 6553.6) < 1e-6);
    /* Where the crossing lies: N F/(u_s + N u) = F/d at N = u_s / (d - u) = 8.96. */
    assert_true(fabs(fb_bound_tmin(F, us, 8, 8 * u, d) - F / d) < 1e-9);
    assert_true(fb_bound_tmin(F, us, 9, 9 * u, d) > F / d);
}

static void test_broadband_and_edges(void **state)
{
    (void)state;
    double us = 100e6 / 8, u = 20e6 / 8, d = 200e6 / 8;
    /* N = 1: F / u_s = 0.16 s beats F / d = 0.08 s. */
    assert_true(fabs(fb_bound_tmin(F, us, 1, u, d) - F / us) < 1e-9);
    /* N = 1024: 1024 F / (u_s + 1024 u) = 0.795 s. */
    assert_true(fabs(fb_bound_tmin(F, us, 1024, 1024 * u, d) - 1024 * F / (us + 1024 * u)) < 1e-9);
    assert_true(fb_bound_tmin(F, us, 0, 0, d) == 0);
    assert_true(isinf(fb_bound_tmin(F, 0, 1, 0, d)));
    /* The bound never exceeds client-server. */
    for (uint32_t n = 1; n <= 4096; n *= 2)
        assert_true(fb_bound_tmin(F, us, n, n * u, d) <= fb_bound_client_server(F, us, n, d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dsl),
        cmocka_unit_test(test_broadband_and_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
