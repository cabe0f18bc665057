/* Unit tests for core/addr: text round trips, equality, private ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/addr.h"

static void roundtrip(const char *in, const char *want)
{
    fb_addr a;
    char buf[FB_ADDR_STRLEN];
    assert_int_equal(fb_addr_parse(&a, in, strlen(in)), 0);
    assert_string_equal(fb_addr_format(&a, buf), want);
}

static void test_v4_roundtrip(void **state)
{
    (void)state;
    roundtrip("127.0.0.1:8080", "127.0.0.1:8080");
    roundtrip("192.0.2.11:0", "192.0.2.11:0");
    roundtrip("255.255.255.255:65535", "255.255.255.255:65535");
}

static void test_v6_roundtrip(void **state)
{
    (void)state;
    roundtrip("[::1]:80", "[::1]:80");
    roundtrip("[2001:db8:0:0:1:0:0:1]:443", "[2001:db8::1:0:0:1]:443");
    roundtrip("[fe80::]:9", "[fe80::]:9");
    roundtrip("[1:2:3:4:5:6:7:8]:1", "[1:2:3:4:5:6:7:8]:1");
}

static void test_rejects(void **state)
{
    (void)state;
    static const char *bad[] = {"",
                                "1.2.3.4",
                                "1.2.3:80",
                                "1.2.3.256:80",
                                "1.2.3.4:",
                                "1.2.3.4:65536",
                                "1.2.3.4:80x",
                                "[::1:80",
                                "[1::2::3]:80",
                                "[12345::]:1",
                                "[1:2:3:4:5:6:7:8:9]:1",
                                "a.b.c.d:1"};
    for (size_t i = 0; i < FB_ARRAY_LEN(bad); i++) {
        fb_addr a;
        assert_int_equal(fb_addr_parse(&a, bad[i], strlen(bad[i])), FB_EINVAL);
    }
}

static void test_eq_hash_private(void **state)
{
    (void)state;
    fb_addr a, b;
    fb_addr_set_v4(&a, 0x0a000102, 5000);
    assert_int_equal(fb_addr_parse(&b, "10.0.1.2:5000", 13), 0);
    assert_true(fb_addr_eq(&a, &b));
    assert_int_equal(fb_addr_hash(&a, 7), fb_addr_hash(&b, 7));
    assert_true(fb_addr_is_private(&a));
    b.port = 5001;
    assert_false(fb_addr_eq(&a, &b));
    fb_addr_set_v4(&a, 0xc000020b, 1); /* 192.0.2.11: documentation range, public */
    assert_false(fb_addr_is_private(&a));
    fb_addr_set_v4(&a, 0xac1f0001, 1); /* 172.31.0.1 */
    assert_true(fb_addr_is_private(&a));
    fb_addr_set_v4(&a, 0xac200001, 1); /* 172.32.0.1 */
    assert_false(fb_addr_is_private(&a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_roundtrip),
        cmocka_unit_test(test_v6_roundtrip),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_eq_hash_private),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
