/* Unit tests for core/fbstd.h's own helpers: fb_hexval over every byte value, as a char and as
 * an unsigned char, against the C library's isxdigit/strtol; fb_hex_encode and fb_hex_decode
 * round trips and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

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

static void test_hex_codec(void **state)
{
    (void)state;
    uint8_t in[16], out[16];
    char s[33];
    for (int i = 0; i < 16; i++)
        in[i] = (uint8_t)(i * 37 + 5);
    fb_hex_encode(in, 16, s);
    assert_int_equal(strlen(s), 32);
    assert_string_equal(s, "052a4f7499bee3082d52779cc1e60b30");
    assert_int_equal(fb_hex_decode(s, out, 16), 0);
    assert_memory_equal(in, out, 16);
    assert_int_equal(fb_hex_decode("052A4F7499BEE3082D52779CC1E60B30", out, 16), 0);
    assert_memory_equal(in, out, 16);
    /* Too short, too long, a byte that is not a digit, an empty string. */
    assert_int_equal(fb_hex_decode("052a4f7499bee3082d52779cc1e60b3", out, 16), FB_EINVAL);
    assert_int_equal(fb_hex_decode("052a4f7499bee3082d52779cc1e60b300", out, 16), FB_EINVAL);
    assert_int_equal(fb_hex_decode("052a4f7499bee3082d52779cc1e60b3g", out, 16), FB_EINVAL);
    assert_int_equal(fb_hex_decode(" 52a4f7499bee3082d52779cc1e60b30", out, 16), FB_EINVAL);
    assert_int_equal(fb_hex_decode("", out, 16), FB_EINVAL);
    assert_int_equal(fb_hex_decode("", out, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hexval_every_byte),
        cmocka_unit_test(test_hex_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
