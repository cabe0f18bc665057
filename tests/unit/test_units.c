/* Unit tests for core/units: the rate flag's units, exact fractions, and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/units.c"

static void test_rates(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t v;
    } ok[] = {{"10mbit", 1250000},
              {"10Mbit", 1250000},
              {"500kbit", 62500},
              {"1.5mbit", 187500},
              {"2MB", 2000000},
              {"2MB/s", 2000000},
              {"1MiB/s", 1048576},
              {"1.5KiB", 1536},
              {"250kB", 250000},
              {"250KB", 250000},
              {"1gbit", 125000000},
              {"8000bit", 1000},
              {"1000", 1000},
              {"1000B", 1000},
              {"0.5GB", 500000000},
              {"1.0000000001mbit", 125000},
              {"100GB", 100000000000ull}};
    for (size_t i = 0; i < FB_ARRAY_LEN(ok); i++) {
        uint64_t v = 0;
        if (fb_rate_parse(ok[i].s, &v) != 0 || v != ok[i].v)
            fail_msg("%s: got %llu, want %llu", ok[i].s, (unsigned long long)v,
                     (unsigned long long)ok[i].v);
    }
}

static void test_refused(void **state)
{
    (void)state;
    static const char *bad[] = {"",         "mbit",    "10mb",    "10 mbit",
                                "-10mbit",  "+10mbit", "10mbps",  "10.mbit",
                                ".5mbit x", "1e6",     "10mbit/", "10/s/s",
                                "7999bit",  "999",     "101GB",   "99999999999999999999999",
                                "10kib",    "10mbitx", "0"};
    for (size_t i = 0; i < FB_ARRAY_LEN(bad); i++) {
        uint64_t v = 12345;
        if (fb_rate_parse(bad[i], &v) != FB_EINVAL)
            fail_msg("'%s' was accepted as %llu", bad[i], (unsigned long long)v);
        assert_int_equal(v, 12345);
    }
    assert_int_equal(fb_rate_parse(NULL, NULL), FB_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
