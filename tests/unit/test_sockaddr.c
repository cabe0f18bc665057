/* Unit tests for net/sockaddr: fb_addr <-> sockaddr round trips (IPv4, IPv6, IPv4-mapped),
 * rejected families, and the host's own interface addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include "net/sockaddr.h"

static fb_addr parse(const char *s)
{
    fb_addr a;
    assert_int_equal(fb_addr_parse(&a, s, strlen(s)), 0);
    return a;
}

static void test_v4_roundtrip(void **state)
{
    (void)state;
    fb_addr a = parse("192.0.2.11:5000"), b;
    struct sockaddr_storage ss;
    socklen_t len = 0;
    assert_int_equal(fb_sockaddr_from_addr(&ss, &len, &a, false), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 5000);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xc000020b);
    assert_int_equal(fb_sockaddr_to_addr(&b, (struct sockaddr *)&ss), 0);
    assert_true(fb_addr_eq(&a, &b));
}

static void test_v6_roundtrip(void **state)
{
    (void)state;
    fb_addr a = parse("[2001:db8::1:0:0:1]:443"), b;
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char text[INET6_ADDRSTRLEN];
    assert_int_equal(fb_sockaddr_from_addr(&ss, &len, &a, true), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(sin6->sin6_port), 443);
    assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text)));
    assert_string_equal(text, "2001:db8::1:0:0:1");
    assert_int_equal(fb_sockaddr_to_addr(&b, (struct sockaddr *)&ss), 0);
    assert_true(fb_addr_eq(&a, &b));
    /* An IPv6 address cannot go out of an IPv4 socket. */
    assert_int_equal(fb_sockaddr_from_addr(&ss, &len, &a, false), FB_EINVAL);
}

static void test_v4_mapped(void **state)
{
    (void)state;
    fb_addr a = parse("10.0.1.2:6000"), b;
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char text[INET6_ADDRSTRLEN];
    /* On a dual-stack socket an IPv4 peer is written ::ffff:a.b.c.d ... */
    assert_int_equal(fb_sockaddr_from_addr(&ss, &len, &a, true), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_non_null(
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, text, sizeof(text)));
    assert_string_equal(text, "::ffff:10.0.1.2");
    /* ... and read back as the plain IPv4 address, so one peer has one name. */
    assert_int_equal(fb_sockaddr_to_addr(&b, (struct sockaddr *)&ss), 0);
    assert_int_equal(b.family, 4);
    assert_true(fb_addr_eq(&a, &b));
}

static void test_rejects(void **state)
{
    (void)state;
    fb_addr a, none;
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&none, 0, sizeof(none));
    assert_int_equal(fb_sockaddr_from_addr(&ss, &len, &none, true), FB_EINVAL);
    none.family = 5;
    assert_int_equal(fb_sockaddr_from_addr(&ss, &len, &none, false), FB_EINVAL);
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_UNIX;
    assert_int_equal(fb_sockaddr_to_addr(&a, (struct sockaddr *)&ss), FB_EINVAL);
    assert_int_equal(fb_sockaddr_to_addr(&a, NULL), FB_EINVAL);
}

static void test_parse(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(fb_sockaddr_parse(&ss, &len, "127.0.0.1:8080"), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 8080);
    assert_int_equal(fb_sockaddr_parse(&ss, &len, "[::]:0"), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    assert_int_equal(fb_sockaddr_parse(&ss, &len, "localhost:80"), FB_EINVAL);
    assert_int_equal(fb_sockaddr_parse(&ss, &len, "1.2.3.4"), FB_EINVAL);
    assert_int_equal(fb_sockaddr_parse(&ss, &len, NULL), FB_EINVAL);
}

/* Every listed address must be one of ours (a UDP socket can bind to it), never loopback,
 * never IPv6 link-local, never twice, carry the given port, and the cap must hold. */
static void test_local_addrs(void **state)
{
    (void)state;
    fb_addr list[16];
    size_t n = 99;
    assert_int_equal(fb_sockaddr_local_addrs(list, FB_ARRAY_LEN(list), 4242, &n), 0);
    assert_true(n <= FB_ARRAY_LEN(list));
    bool seen_v6 = false;
    for (size_t i = 0; i < n; i++) {
        char buf[FB_ADDR_STRLEN];
        fb_addr a = list[i];
        print_message("# local address %s\n", fb_addr_format(&a, buf));
        assert_true(a.family == 4 || a.family == 6);
        assert_int_equal(a.port, 4242);
        if (a.family == 4) {
            assert_int_not_equal(a.ip[0], 127);
            assert_false(seen_v6); /* IPv4 first */
        } else {
            seen_v6 = true;
            assert_false(a.ip[0] == 0xfe && (a.ip[1] & 0xc0) == 0x80);
        }
        for (size_t j = 0; j < i; j++)
            assert_false(fb_addr_eq(&list[i], &list[j]));
        struct sockaddr_storage ss;
        socklen_t len;
        a.port = 0;
        assert_int_equal(fb_sockaddr_from_addr(&ss, &len, &a, a.family == 6), 0);
        int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
        close(fd);
    }
    if (n > 0) {
        fb_addr one[1];
        size_t m = 99;
        assert_int_equal(fb_sockaddr_local_addrs(one, 1, 1, &m), 0);
        assert_int_equal(m, 1);
        assert_int_equal(one[0].family, list[0].family);
        assert_memory_equal(one[0].ip, list[0].ip, 16);
    }
    size_t z = 99;
    assert_int_equal(fb_sockaddr_local_addrs(list, 0, 1, &z), 0);
    assert_int_equal(z, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_roundtrip), cmocka_unit_test(test_v6_roundtrip),
        cmocka_unit_test(test_v4_mapped),    cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_parse),        cmocka_unit_test(test_local_addrs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
