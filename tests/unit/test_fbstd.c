/* Unit tests for core/fbstd.h's own helpers: fb_hexval over every byte value, as a char and as
 * an unsigned char, against the C library's isxdigit/strtol. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdlib.h>

#include "core/fbstd.h"

static void test_hexval_every_byte(void **state)
{
    (void)state;
    int digits = 0;
    for (int b = 0; b < 256; b++) {
        int want = -1;
        if (b < 128 && isxdigit(b)) {
            char s[2] = {(char)b, '\0'};
            want = (int)strtol(s, NULL, 16);
            digits++;
        }
        if (fb_hexval(b) != want)
            fail_msg("byte 0x%02x: got %d, want %d", b, fb_hexval(b), want);
        /* A byte read through a signed char is negative past 0x7f: never a digit. */
        if (fb_hexval((char)b) != want)
            fail_msg("char 0x%02x: got %d, want %d", b, fb_hexval((char)b), want);
    }
    assert_int_equal(digits, 22);
    assert_int_equal(fb_hexval('0'), 0);
    assert_int_equal(fb_hexval('9'), 9);
    assert_int_equal(fb_hexval('a'), 10);
    assert_int_equal(fb_hexval('F'), 15);
    assert_int_equal(fb_hexval('g'), -1);
    assert_int_equal(fb_hexval(-1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hexval_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
