/* Unit tests for core/http_date: known dates, agreement with the C library's gmtime over a sweep,
 * the three accepted formats, two-digit years, and impossible dates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <cmocka.h>

#include "core/http_date.h"

static const int64_t now2026 = 1780000000; /* 2026-05-28 */

static int parse(const char *s, int64_t *t)
{
    return fb_http_date_parse(s, strlen(s), now2026, t);
}

static void test_format_known(void **state)
{
    (void)state;
    char out[FB_HTTP_DATE_LEN + 1];
    fb_http_date_format(0, out);
    assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    fb_http_date_format(784111777, out);
    assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    fb_http_date_format(951782400, out);
    assert_string_equal(out, "Tue, 29 Feb 2000 00:00:00 GMT");
    fb_http_date_format(-5, out); /* clamped */
    assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    fb_http_date_format(FB_HTTP_DATE_MAX + 100, out);
    assert_string_equal(out, "Fri, 31 Dec 9999 23:59:59 GMT");
    char log[FB_HTTP_LOGDATE_LEN + 1];
    fb_http_date_format_log(784111777, log);
    assert_string_equal(log, "06/Nov/1994:08:49:37 +0000");
}

/* Formatting agrees with strftime(gmtime()) and parsing inverts it, over 400+ years. */
static void test_sweep_against_libc(void **state)
{
    (void)state;
    for (int64_t t = 0; t < 14000000000LL; t += 9876543) {
        char out[FB_HTTP_DATE_LEN + 1], want[64];
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(want, sizeof(want), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        fb_http_date_format(t, out);
        assert_string_equal(out, want);
        int64_t back;
        assert_int_equal(fb_http_date_parse(out, FB_HTTP_DATE_LEN, now2026, &back), 0);
        assert_int_equal(back, t);
    }
}

static void test_three_formats(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(parse("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(parse("Sun Nov  6 08:49:37 1994", &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(parse("Sun Nov 16 08:49:37 1994", &t), 0);
    assert_int_equal(t, 784111777 + 10 * 86400);
    /* Two-digit years: more than 50 years ahead means the previous century (now is 2026). */
    assert_int_equal(parse("Thursday, 01-Jan-70 00:00:00 GMT", &t), 0);
    assert_int_equal(t, 3155760000LL); /* 2070 */
    assert_int_equal(parse("Friday, 01-Jan-77 00:00:00 GMT", &t), 0);
    assert_int_equal(t, 220924800); /* 1977 */
    assert_int_equal(parse("Saturday, 01-Jan-00 00:00:00 GMT", &t), 0);
    assert_int_equal(t, 946684800); /* 2000 */
    /* A leap second reads as the last second of the minute. */
    assert_int_equal(parse("Sat, 31 Dec 2016 23:59:60 GMT", &t), 0);
    assert_int_equal(t, 1483228799);
}

static void test_invalid(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        " Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 31 Apr 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 08:49:37 GMT",
        "Sun, 30 Feb 2000 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sunday 06-Nov-94 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "1994-11-06T08:49:37Z",
        "784111777",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t t;
        if (parse(bad[i], &t) != FB_EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
    }
    int64_t t;
    assert_int_equal(parse("Tue, 29 Feb 2000 00:00:00 GMT", &t), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_known),
        cmocka_unit_test(test_sweep_against_libc),
        cmocka_unit_test(test_three_formats),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
