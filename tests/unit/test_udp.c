/* Unit tests for net/udp on a real libuv loop over loopback: bound-port reporting, two endpoints
 * exchanging datagrams (checked byte for byte, with counters), oversized and empty datagrams
 * dropped and counted, the port-in-use error, dual-stack IPv6, and freeing from a callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <unistd.h>

#include "net/sockaddr.h"
#include "net/udp.h"

#define N_EXCHANGE 200

typedef struct rx {
    fb_udp *self;
    unsigned count;
    size_t bytes;
    fb_addr last_from;
    size_t sizes[N_EXCHANGE + 8];
    bool echo;        /* send every datagram back */
    bool bad_content; /* a byte did not match the pattern */
    bool free_on_first;
} rx;

/* Datagram i has size 1 + (i * 37) % 1200 and bytes (i + k) & 0xff. */
static size_t dgram_size(unsigned i)
{
    return 1 + (i * 37u) % FB_UDP_MAX_DATAGRAM;
}

static void fill(uint8_t *buf, unsigned i, size_t len)
{
    for (size_t k = 0; k < len; k++)
        buf[k] = (uint8_t)(i + k);
}

static void on_rx(void *ctx, const fb_addr *from, const uint8_t *data, size_t len)
{
    rx *r = ctx;
    unsigned i = data[0]; /* the first byte is (i & 0xff) */
    if (r->count < FB_ARRAY_LEN(r->sizes))
        r->sizes[r->count] = len;
    for (size_t k = 0; k < len; k++)
        if (data[k] != (uint8_t)(i + k))
            r->bad_content = true;
    r->count++;
    r->bytes += len;
    r->last_from = *from;
    if (r->echo)
        assert_int_equal(fb_udp_send(r->self, from, data, len), 0);
    if (r->free_on_first) {
        fb_udp_free(r->self);
        r->self = NULL;
    }
}

/* Runs the loop until `*done` says so or `ms` pass. Returns true when done, false on timeout. */
typedef struct watch {
    uv_timer_t t;
    bool fired;
} watch;

static void on_watch(uv_timer_t *t)
{
    watch *w = t->data;
    w->fired = true;
    uv_stop(t->loop);
}

static bool run_until(uv_loop_t *loop, const unsigned *count, unsigned want, unsigned ms)
{
    watch w = {.fired = false};
    uv_timer_init(loop, &w.t);
    w.t.data = &w;
    uv_timer_start(&w.t, on_watch, ms, 0);
    while (*count < want && !w.fired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&w.t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *count >= want;
}

static void drain(uv_loop_t *loop)
{
    for (int i = 0; i < 10; i++)
        uv_run(loop, UV_RUN_NOWAIT);
}

static fb_addr loop4(void)
{
    fb_addr a;
    fb_addr_set_v4(&a, 0x7f000001, 0);
    return a;
}

static void test_bound_port(void **state)
{
    (void)state;
    uv_loop_t loop;
    rx r = {0};
    fb_udp *u;
    fb_addr bind = loop4(), local;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(fb_udp_new(&loop, NULL, &bind, on_rx, &r, &u), 0);
    r.self = u;
    assert_int_equal(fb_udp_local_addr(u, &local), 0);
    assert_int_equal(local.family, 4);
    assert_memory_equal(local.ip, bind.ip, 4);
    assert_int_not_equal(local.port, 0);
    assert_true(fb_udp_using_mmsg(u));

    /* The reported port is the real one: a plain socket's datagram to it arrives. */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(fb_sockaddr_from_addr(&ss, &len, &local, false), 0);
    uint8_t msg[3] = {7, 8, 9};
    assert_int_equal(sendto(fd, msg, 3, 0, (struct sockaddr *)&ss, len), 3);
    assert_true(run_until(&loop, &r.count, 1, 2000));
    assert_int_equal(r.sizes[0], 3);
    close(fd);

    /* The socket buffers were raised (Linux reports twice the request, capped by rmem_max). */
    fb_udp_stats st;
    fb_udp_stats_get(u, &st);
    print_message("# rcvbuf %d sndbuf %d\n", st.rcvbuf, st.sndbuf);
    assert_true(st.rcvbuf > 256 * 1024);
    assert_true(st.sndbuf > 256 * 1024);

    /* The port is ours alone. */
    fb_udp *again = NULL;
    assert_int_equal(fb_udp_new(&loop, NULL, &local, on_rx, &r, &again), UV_EADDRINUSE);
    assert_null(again);
    fb_udp_free(u);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_exchange(void **state)
{
    (void)state;
    uv_loop_t loop;
    rx ra = {0}, rb = {.echo = true};
    fb_udp *a, *b;
    fb_addr bind = loop4(), addr_a, addr_b;
    uint8_t buf[FB_UDP_MAX_DATAGRAM];
    size_t sent_bytes = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(fb_udp_new(&loop, NULL, &bind, on_rx, &ra, &a), 0);
    assert_int_equal(fb_udp_new(&loop, NULL, &bind, on_rx, &rb, &b), 0);
    ra.self = a;
    rb.self = b;
    assert_int_equal(fb_udp_local_addr(a, &addr_a), 0);
    assert_int_equal(fb_udp_local_addr(b, &addr_b), 0);
    assert_int_not_equal(addr_a.port, addr_b.port);

    /* A burst larger than one recvmmsg batch, sent before the loop runs. */
    for (unsigned i = 0; i < N_EXCHANGE; i++) {
        size_t len = dgram_size(i);
        fill(buf, i, len);
        assert_int_equal(fb_udp_send(a, &addr_b, buf, len), 0);
        sent_bytes += len;
    }
    assert_true(run_until(&loop, &ra.count, N_EXCHANGE, 5000));
    assert_int_equal(rb.count, N_EXCHANGE);
    assert_false(ra.bad_content);
    assert_false(rb.bad_content);
    for (unsigned i = 0; i < N_EXCHANGE; i++) {
        assert_int_equal(rb.sizes[i], dgram_size(i)); /* loopback keeps the order */
        assert_int_equal(ra.sizes[i], dgram_size(i));
    }
    assert_true(fb_addr_eq(&rb.last_from, &addr_a));
    assert_true(fb_addr_eq(&ra.last_from, &addr_b));

    fb_udp_stats sa, sb;
    fb_udp_stats_get(a, &sa);
    fb_udp_stats_get(b, &sb);
    assert_int_equal(sa.dgrams_out, N_EXCHANGE);
    assert_int_equal(sa.bytes_out, sent_bytes);
    assert_int_equal(sb.dgrams_in, N_EXCHANGE);
    assert_int_equal(sb.bytes_in, sent_bytes);
    assert_int_equal(sb.dgrams_out, N_EXCHANGE);
    assert_int_equal(sa.dgrams_in, N_EXCHANGE);
    assert_int_equal(sa.bytes_in, sent_bytes);
    assert_int_equal(sa.drop_oversize + sa.drop_malformed + sa.drop_send_full, 0);
    assert_int_equal(sb.drop_oversize + sb.drop_malformed + sb.drop_send_full, 0);

    /* Sends the endpoint refuses: over the cap, and IPv6 from an IPv4 socket. */
    uint8_t big[FB_UDP_MAX_DATAGRAM + 1] = {0};
    fb_addr v6;
    assert_int_equal(fb_addr_parse(&v6, "[::1]:9", 7), 0);
    assert_int_equal(fb_udp_send(a, &addr_b, big, sizeof(big)), FB_E2BIG);
    assert_int_equal(fb_udp_send(a, &v6, big, 10), FB_EINVAL);
    fb_udp_stats_get(a, &sa);
    assert_int_equal(sa.drop_send_error, 2);
    assert_int_equal(sa.dgrams_out, N_EXCHANGE);

    fb_udp_free(a);
    fb_udp_free(b);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Queued sends: runs to one address go as UDP_SEGMENT messages, yet every receiver sees the
 * same datagrams, in order, as separate datagrams; a full queue flushes itself; no_gso sends
 * the same datagrams without coalescing. */
static void queue_exchange(bool no_gso)
{
    uv_loop_t loop;
    rx rb = {0}, rc = {0};
    fb_udp *a, *b, *c;
    fb_addr bind = loop4(), addr_b, addr_c;
    uint8_t buf[FB_UDP_MAX_DATAGRAM];
    fb_udp_config cfg = {.no_gso = no_gso};
    size_t want_b[N_EXCHANGE], want_c[N_EXCHANGE];
    unsigned nb = 0, nc = 0, i = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(fb_udp_new(&loop, &cfg, &bind, on_rx, NULL, &a), 0);
    assert_int_equal(fb_udp_new(&loop, NULL, &bind, on_rx, &rb, &b), 0);
    assert_int_equal(fb_udp_new(&loop, NULL, &bind, on_rx, &rc, &c), 0);
    rb.self = b;
    rc.self = c;
    assert_int_equal(fb_udp_local_addr(b, &addr_b), 0);
    assert_int_equal(fb_udp_local_addr(c, &addr_c), 0);
    /* To b: 10 of 1047 bytes and a short one (one run), to c: 5 of 1047, to b: 3 of 1047,
     * then 2 growing ones (a longer datagram starts a new run), then 1 byte. */
    static const size_t plan[][2] = {{1047, 10}, {400, 1}, {1047, 5}, {1047, 3},
                                     {600, 1},   {900, 1}, {1, 1}};
    static const int to_c[] = {0, 0, 1, 0, 0, 0, 0};
    for (unsigned p = 0; p < FB_ARRAY_LEN(plan); p++) {
        for (unsigned k = 0; k < plan[p][1]; k++, i++) {
            fill(buf, i, plan[p][0]);
            assert_int_equal(fb_udp_queue(a, to_c[p] ? &addr_c : &addr_b, buf, plan[p][0]), 0);
            if (to_c[p])
                want_c[nc++] = plan[p][0];
            else
                want_b[nb++] = plan[p][0];
        }
    }
    assert_int_equal(fb_udp_queued(a), i);
    fb_udp_stats sa;
    fb_udp_stats_get(a, &sa);
    assert_int_equal(sa.dgrams_out, 0); /* nothing left before the flush */
    fb_udp_flush(a);
    assert_int_equal(fb_udp_queued(a), 0);
    fb_udp_flush(a); /* empty: a no-op */
    assert_true(run_until(&loop, &rb.count, nb, 5000));
    assert_true(run_until(&loop, &rc.count, nc, 5000));
    assert_int_equal(rb.count, nb);
    assert_int_equal(rc.count, nc);
    for (unsigned k = 0; k < nb; k++)
        assert_int_equal(rb.sizes[k], want_b[k]);
    for (unsigned k = 0; k < nc; k++)
        assert_int_equal(rc.sizes[k], want_c[k]);
    assert_false(rb.bad_content);
    assert_false(rc.bad_content);
    fb_udp_stats_get(a, &sa);
    assert_int_equal(sa.dgrams_out, i);
    print_message("# %u datagrams: %" PRIu64 " system calls, %" PRIu64
                  " GSO messages carrying %" PRIu64 "%s\n",
                  i, sa.send_calls, sa.gso_sends, sa.gso_datagrams, sa.gso_off ? " (GSO off)" : "");
    if (no_gso) {
        assert_true(sa.gso_off);
        assert_int_equal(sa.gso_datagrams, 0);
    } else if (!sa.gso_off) {
        /* Runs: b 10 x 1047 + 400; c 5 x 1047; b 3 x 1047 + 600; b 900 + 1. */
        assert_int_equal(sa.gso_sends, 4);
        assert_int_equal(sa.gso_datagrams, 22);
        assert_int_equal(sa.send_calls, 1); /* one sendmmsg for the four messages */
    }
    assert_true(sa.send_calls >= 1);

    /* More than the queue holds: it flushes by itself, nothing is lost. */
    unsigned before = rb.count;
    for (unsigned k = 0; k < 3 * FB_UDP_QUEUE + 1; k++) {
        fill(buf, k, 1047);
        assert_int_equal(fb_udp_queue(a, &addr_b, buf, 1047), 0);
    }
    assert_true(fb_udp_queued(a) <= FB_UDP_QUEUE);
    fb_udp_flush(a);
    assert_true(run_until(&loop, &rb.count, before + 3 * FB_UDP_QUEUE + 1, 5000));
    assert_false(rb.bad_content);

    /* Refused at once, as fb_udp_send refuses. */
    uint8_t big[FB_UDP_MAX_DATAGRAM + 1] = {0};
    assert_int_equal(fb_udp_queue(a, &addr_b, big, sizeof(big)), FB_E2BIG);
    /* Queued and not flushed: fb_udp_free still sends it. */
    fill(buf, 7, 20);
    assert_int_equal(fb_udp_queue(a, &addr_b, buf, 20), 0);
    before = rb.count;
    fb_udp_free(a);
    assert_true(run_until(&loop, &rb.count, before + 1, 5000));
    fb_udp_free(b);
    fb_udp_free(c);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_queue_gso(void **state)
{
    (void)state;
    queue_exchange(false);
}

static void test_queue_no_gso(void **state)
{
    (void)state;
    queue_exchange(true);
}

static void test_oversize_dropped(void **state)
{
    (void)state;
    uv_loop_t loop;
    rx r = {0};
    fb_udp *u;
    fb_addr bind = loop4(), local;
    struct sockaddr_storage ss;
    socklen_t len;
    static uint8_t big[9000];
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(fb_udp_new(&loop, NULL, &bind, on_rx, &r, &u), 0);
    r.self = u;
    assert_int_equal(fb_udp_local_addr(u, &local), 0);
    assert_int_equal(fb_sockaddr_from_addr(&ss, &len, &local, false), 0);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    const size_t sizes[] = {1201, 1300, 9000, 0, 1200, 100};
    size_t total = 0;
    for (size_t i = 0; i < FB_ARRAY_LEN(sizes); i++) {
        fill(big, 0, sizes[i]);
        assert_int_equal(sendto(fd, big, sizes[i], 0, (struct sockaddr *)&ss, len),
                         (ssize_t)sizes[i]);
        total += sizes[i];
    }
    assert_true(run_until(&loop, &r.count, 2, 2000));
    /* Give any wrongly delivered datagram a chance to show up. */
    for (int i = 0; i < 5; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(r.count, 2);
    assert_int_equal(r.sizes[0], 1200);
    assert_int_equal(r.sizes[1], 100);
    assert_false(r.bad_content);
    fb_udp_stats st;
    fb_udp_stats_get(u, &st);
    assert_int_equal(st.dgrams_in, FB_ARRAY_LEN(sizes));
    assert_int_equal(st.bytes_in, total);
    assert_int_equal(st.drop_oversize, 3);
    assert_int_equal(st.drop_malformed, 1);
    close(fd);
    fb_udp_free(u);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A smaller cap given in the config is honoured too, and plain recvmsg (batch 1) works. */
static void test_config_cap_and_batch1(void **state)
{
    (void)state;
    uv_loop_t loop;
    rx r = {0};
    fb_udp *u, *s;
    fb_addr bind = loop4(), local;
    fb_udp_config cfg = {.max_datagram = 100, .batch = 1, .sock_buf = -1};
    uint8_t buf[200];
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(fb_udp_new(&loop, &cfg, &bind, on_rx, &r, &u), 0);
    assert_false(fb_udp_using_mmsg(u));
    assert_int_equal(fb_udp_new(&loop, NULL, &bind, on_rx, &r, &s), 0);
    assert_int_equal(fb_udp_local_addr(u, &local), 0);
    fill(buf, 5, 200);
    assert_int_equal(fb_udp_send(s, &local, buf, 101), 0);
    fill(buf, 6, 200);
    assert_int_equal(fb_udp_send(s, &local, buf, 100), 0);
    assert_true(run_until(&loop, &r.count, 1, 2000));
    for (int i = 0; i < 5; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.sizes[0], 100);
    fb_udp_stats st;
    fb_udp_stats_get(u, &st);
    assert_int_equal(st.drop_oversize, 1);
    fb_udp_config bad = {.batch = FB_UDP_BATCH_MAX + 1};
    fb_udp *x = NULL;
    assert_int_equal(fb_udp_new(&loop, &bad, &bind, on_rx, &r, &x), FB_EINVAL);
    fb_udp_free(u);
    fb_udp_free(s);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A dual-stack endpoint names an IPv4 sender as plain IPv4 and can answer it; ::1 works. */
static void test_ipv6_dual_stack(void **state)
{
    (void)state;
    uv_loop_t loop;
    rx r6 = {.echo = true}, r4 = {0};
    fb_udp *u6, *u4;
    fb_addr any6, local6, b4 = loop4(), local4, to;
    uint8_t buf[64];
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(fb_addr_parse(&any6, "[::]:0", 6), 0);
    int rc = fb_udp_new(&loop, NULL, &any6, on_rx, &r6, &u6);
    if (rc == UV_EAFNOSUPPORT || rc == UV_EADDRNOTAVAIL) {
        uv_loop_close(&loop);
        skip(); /* this host has no IPv6 at all */
    }
    assert_int_equal(rc, 0);
    r6.self = u6;
    assert_int_equal(fb_udp_new(&loop, NULL, &b4, on_rx, &r4, &u4), 0);
    r4.self = u4;
    assert_int_equal(fb_udp_local_addr(u6, &local6), 0);
    assert_int_equal(fb_udp_local_addr(u4, &local4), 0);
    assert_int_equal(local6.family, 6);
    fb_addr_set_v4(&to, 0x7f000001, local6.port);
    fill(buf, 3, 64);
    assert_int_equal(fb_udp_send(u4, &to, buf, 64), 0);
    assert_true(run_until(&loop, &r4.count, 1, 2000)); /* the echo came back over v4 */
    assert_int_equal(r6.count, 1);
    assert_int_equal(r6.last_from.family, 4);
    assert_true(fb_addr_eq(&r6.last_from, &local4));
    assert_true(fb_addr_eq(&r4.last_from, &to));

    /* And over real IPv6 loopback. */
    rx r7 = {0};
    fb_udp *u7;
    fb_addr lo6;
    assert_int_equal(fb_addr_parse(&lo6, "[::1]:0", 7), 0);
    assert_int_equal(fb_udp_new(&loop, NULL, &lo6, on_rx, &r7, &u7), 0);
    r7.self = u7;
    fb_addr_set_v4(&to, 0, 0);
    assert_int_equal(fb_addr_parse(&to, "[::1]:0", 7), 0);
    to.port = local6.port;
    assert_int_equal(fb_udp_send(u7, &to, buf, 64), 0);
    assert_true(run_until(&loop, &r7.count, 1, 2000));
    assert_int_equal(r6.last_from.family, 6);
    assert_int_equal(r7.last_from.family, 6);
    assert_int_equal(r7.last_from.port, local6.port);
    fb_udp_free(u6);
    fb_udp_free(u4);
    fb_udp_free(u7);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Freeing the endpoint from its own callback, in the middle of a batch, stops delivery. */
static void test_free_in_callback(void **state)
{
    (void)state;
    uv_loop_t loop;
    rx r = {.free_on_first = true}, rs = {0};
    fb_udp *u, *s;
    fb_addr bind = loop4(), local;
    uint8_t buf[10];
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(fb_udp_new(&loop, NULL, &bind, on_rx, &r, &u), 0);
    r.self = u;
    assert_int_equal(fb_udp_new(&loop, NULL, &bind, on_rx, &rs, &s), 0);
    assert_int_equal(fb_udp_local_addr(u, &local), 0);
    for (unsigned i = 0; i < 10; i++) {
        fill(buf, i, sizeof(buf));
        assert_int_equal(fb_udp_send(s, &local, buf, sizeof(buf)), 0);
    }
    assert_true(run_until(&loop, &r.count, 1, 2000));
    drain(&loop);
    assert_int_equal(r.count, 1);
    assert_null(r.self);
    fb_udp_free(s);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_port),       cmocka_unit_test(test_exchange),
        cmocka_unit_test(test_oversize_dropped), cmocka_unit_test(test_config_cap_and_batch1),
        cmocka_unit_test(test_ipv6_dual_stack),  cmocka_unit_test(test_free_in_callback),
        cmocka_unit_test(test_queue_gso),        cmocka_unit_test(test_queue_no_gso),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
