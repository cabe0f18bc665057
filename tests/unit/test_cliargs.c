/* Unit tests for peer/cliargs: seconds (fractions, rounding, bounds, junk), sizes (suffixes,
 * case, zero, overflow, junk) and counts, as `flashback get` and `flashback open` read them, and
 * the splitting of a command line into operands, flags and valued options. */
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

static void test_count(void **state)
{
    (void)state;
    uint32_t v = 7;
    assert_true(fb_cli_count("1", 1, 64, &v));
    assert_int_equal(v, 1);
    assert_true(fb_cli_count("64", 1, 64, &v));
    assert_int_equal(v, 64);
    assert_true(fb_cli_count("+5", 1, 64, &v)); /* as strtol reads it */
    assert_int_equal(v, 5);
    v = 7;
    assert_false(fb_cli_count("0", 1, 64, &v));
    assert_false(fb_cli_count("65", 1, 64, &v));
    assert_false(fb_cli_count("-1", 1, 64, &v));
    assert_false(fb_cli_count("4x", 1, 64, &v));
    assert_false(fb_cli_count("", 1, 64, &v));
    assert_false(fb_cli_count("99999999999999999999999", 1, 64, &v));
    assert_int_equal(v, 7);
}

static const char *const flags[] = {"--stats", "-q", NULL};
static const char *const valued[] = {"-o", "--timeout", NULL};

/* Splits argv (NULL-terminated, argv[0] the program) and writes one token per element read:
 * "K:name=value" with K the kind's number; returns how many. */
static int split(char **argv, char out[][128])
{
    int argc = 0, n = 0;
    while (argv[argc])
        argc++;
    for (int i = 1; i < argc; i++) {
        fb_cli_arg a;
        fb_cli_kind k = fb_cli_next(argc, argv, &i, flags, valued, &a);
        snprintf(out[n++], 128, "%d:%s=%s", (int)k, a.name, a.value ? a.value : "(null)");
    }
    return n;
}

static void test_next(void **state)
{
    (void)state;
    char out[16][128];
    char *l1[] = {"fb", "http://h/", "--stats", "-o", "f", "--timeout=2", "-", "-q", NULL};
    assert_int_equal(split(l1, out), 6);
    assert_string_equal(out[0], "1:http://h/=http://h/"); /* FB_CLI_OPERAND */
    assert_string_equal(out[1], "2:--stats=(null)");      /* FB_CLI_FLAG */
    assert_string_equal(out[2], "3:-o=f");                /* FB_CLI_VALUED, next element */
    assert_string_equal(out[3], "3:--timeout=2");         /* FB_CLI_VALUED, "=" */
    assert_string_equal(out[4], "1:-=-");                 /* a lone "-" is an operand */
    assert_string_equal(out[5], "2:-q=(null)");

    char *l2[] = {"fb", "--stats=1", "--bogus=3", "-x", "-h", "--help", "--timeout", NULL};
    assert_int_equal(split(l2, out), 6);
    assert_string_equal(out[0], "5:--stats=(null)");    /* FB_CLI_FLAG_VALUE */
    assert_string_equal(out[1], "4:--bogus=--bogus=3"); /* FB_CLI_UNKNOWN: as given */
    assert_string_equal(out[2], "4:-x=-x");
    assert_string_equal(out[3], "0:-h=(null)"); /* FB_CLI_HELP */
    assert_string_equal(out[4], "0:--help=(null)");
    assert_string_equal(out[5], "6:--timeout=(null)"); /* FB_CLI_MISSING_VALUE */

    /* "=" only splits a "--" option; a name is cut to 31 bytes, never overflowing. */
    char *l3[] = {"fb", "-o=x", "--timeout=", "--a-very-long-option-name-past-32-bytes=1", NULL};
    assert_int_equal(split(l3, out), 3);
    assert_string_equal(out[0], "4:-o=x=-o=x");
    assert_string_equal(out[1], "3:--timeout="); /* an empty value is the caller's to refuse */
    assert_string_equal(
        out[2], "4:--a-very-long-option-name-past-=--a-very-long-option-name-past-32-bytes=1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seconds),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
