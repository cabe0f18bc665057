/* Unit tests for peer/cliargs: seconds (fractions, rounding, bounds, junk) and sizes (suffixes,
 * case, zero, overflow, junk), as `flashback get` and `flashback open` read them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "peer/cliargs.c"

static void test_seconds(void **state)
{
    (void)state;
    uint32_t ms = 7;
    assert_true(fb_cli_seconds("2.5", 1, &ms));
    assert_int_equal(ms, 2500);
    assert_true(fb_cli_seconds("0", 0, &ms));
    assert_int_equal(ms, 0);
    assert_true(fb_cli_seconds("0.0004", 0, &ms));
    assert_int_equal(ms, 0); /* rounds to the millisecond */
    assert_true(fb_cli_seconds("86400", 1, &ms));
    assert_int_equal(ms, 86400000);
    ms = 7;
    assert_false(fb_cli_seconds("0", 1, &ms)); /* under the minimum */
    assert_false(fb_cli_seconds("0.0004", 1, &ms));
    assert_false(fb_cli_seconds("86401", 0, &ms));
    assert_false(fb_cli_seconds("-1", 0, &ms));
    assert_false(fb_cli_seconds("", 0, &ms));
    assert_false(fb_cli_seconds("1s", 0, &ms));
    assert_false(fb_cli_seconds("nan", 0, &ms));
    assert_false(fb_cli_seconds("abc", 0, &ms));
    assert_int_equal(ms, 7); /* untouched on failure */
}

static void test_size(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_true(fb_cli_size("100", &v));
    assert_int_equal(v, 100);
    assert_true(fb_cli_size("64M", &v));
    assert_int_equal(v, 64ull << 20);
    assert_true(fb_cli_size("2k", &v));
    assert_int_equal(v, 2048);
    assert_true(fb_cli_size("1G", &v));
    assert_int_equal(v, 1ull << 30);
    assert_true(fb_cli_size("1024G", &v));
    assert_int_equal(v, 1ull << 40);
    v = 7;
    assert_false(fb_cli_size("1025G", &v)); /* over 1 TiB */
    assert_false(fb_cli_size("0", &v));
    assert_false(fb_cli_size("12Q", &v));
    assert_false(fb_cli_size("1MB", &v));
    assert_false(fb_cli_size("-1", &v));
    assert_false(fb_cli_size(" 1", &v));
    assert_false(fb_cli_size("", &v));
    assert_false(fb_cli_size("99999999999999999999999", &v));
    assert_int_equal(v, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seconds),
        cmocka_unit_test(test_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
