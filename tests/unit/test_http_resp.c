/* Unit tests for core/http_resp: reason phrases and the bounded buffer's overflow rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/http_resp.h"

static void test_reason(void **state)
{
    (void)state;
    assert_string_equal(fb_http_reason(200), "OK");
    assert_string_equal(fb_http_reason(206), "Partial Content");
    assert_string_equal(fb_http_reason(304), "Not Modified");
    assert_string_equal(fb_http_reason(404), "Not Found");
    assert_string_equal(fb_http_reason(416), "Range Not Satisfiable");
    assert_string_equal(fb_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(fb_http_reason(502), "Bad Gateway");
    assert_string_equal(fb_http_reason(504), "Gateway Timeout");
    assert_string_equal(fb_http_reason(308), "Permanent Redirect");
    assert_string_equal(fb_http_reason(999), "Unknown");
}

static void test_wbuf(void **state)
{
    (void)state;
    char mem[16];
    fb_wbuf b;
    fb_wbuf_init(&b, mem, sizeof(mem));
    fb_wbuf_puts(&b, "a=");
    fb_wbuf_u64(&b, 0);
    fb_wbuf_puts(&b, ",");
    fb_wbuf_u64(&b, 18446744073709551615u % 1000000);
    fb_wbuf_puts(&b, ",");
    fb_wbuf_hex(&b, 0xbeef);
    assert_false(b.overflow);
    assert_int_equal(b.len, 15);
    assert_memory_equal(mem, "a=0,551615,beef", 15);
    fb_wbuf_puts(&b, "xy"); /* does not fit: nothing is written, overflow is sticky */
    assert_true(b.overflow);
    assert_int_equal(b.len, 15);
    fb_wbuf_puts(&b, "");
    assert_true(b.overflow);
    fb_wbuf_init(&b, mem, sizeof(mem));
    fb_wbuf_u64(&b, 18446744073709551615u); /* 20 digits into 16 bytes */
    assert_true(b.overflow);
    assert_int_equal(b.len, 0);
    char big[32];
    fb_wbuf_init(&b, big, sizeof(big));
    fb_wbuf_u64(&b, 18446744073709551615u);
    assert_false(b.overflow);
    assert_int_equal(b.len, 20);
    assert_memory_equal(big, "18446744073709551615", 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason),
        cmocka_unit_test(test_wbuf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
