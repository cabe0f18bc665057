/* Unit tests for sim/net: serialization rates, latency, drop-tail queues, UDP overhead, loss,
 * dead nodes, and the two NAT types (port-restricted cone: no entry before the node sent to the
 * peer; symmetric: a port per destination, so a third party's punch never enters). A test-only
 * traffic source sends datagrams straight into the model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sim/evq.c"
#include "sim/net.c"
#include "sim/pool.c"
#include "sim/rng.c"

#define MS 1000000ull

typedef struct got {
    uint64_t t;
    uint32_t src;
    fb_addr from;
    uint16_t len;
    uint8_t first;
} got;

static got log_[20000];
static int n_log;
static fb_evq q;
static fb_net net;

static void on_deliver(void *ctx, const fb_pkt *p)
{
    (void)ctx;
    got *g = &log_[n_log++];
    g->t = q.now;
    g->src = p->src;
    fb_addr_set_v4(&g->from, p->src_ip, p->src_port);
    g->len = p->len;
    g->first = p->len ? p->data[0] : 0;
}

static void setup(double loss)
{
    n_log = 0;
    assert_int_equal(fb_evq_init(&q, 1 << 20), 0);
    fb_net_config c = {.loss = loss, .seed = 7};
    assert_int_equal(fb_net_init(&net, &q, &c, on_deliver, NULL), 0);
}

static void run(void)
{
    fb_net_drain(&net, UINT64_MAX - 1, NULL, NULL, NULL);
}

static void teardown(void)
{
    /* Every packet went back to its pool. */
    const fb_net_part *pt = &net.part[0];
    assert_int_equal(pt->pkts.used, 0);
    assert_int_equal(pt->bufs[0].used + pt->bufs[1].used + pt->bufs[2].used, 0);
    fb_net_fini(&net);
    fb_evq_fini(&q);
}

static int add(uint64_t up, uint64_t upcap, uint64_t down, uint64_t downcap, uint64_t half,
               fb_nat_type nat)
{
    int i = fb_net_node_add(&net, up, upcap, down, downcap, half, nat);
    assert_true(i >= 0);
    net.nodes[i].alive = true;
    return i;
}

static int send_(int from, int to, size_t len, uint8_t mark)
{
    uint8_t buf[FB_NET_MAX_PAYLOAD];
    fb_addr a;
    memset(buf, mark, len);
    fb_net_node_addr(&net, (uint32_t)to, &a);
    return fb_net_send_udp(&net, (uint32_t)from, NULL, &a, buf, len);
}

/* One datagram: arrival = uplink serialization + both half-latencies + downlink serialization,
 * with 28 bytes of UDP/IP overhead on each link. */
static void test_latency_and_overhead(void **state)
{
    (void)state;
    setup(0);
    int a = add(125000, 1 << 20, 0, 0, 10 * MS, FB_NAT_NONE); /* 1 Mbit/s up, 10 ms */
    int b = add(0, 0, 250000, 1 << 20, 15 * MS, FB_NAT_NONE); /* 2 Mbit/s down, 15 ms */
    assert_int_equal(send_(a, b, 1222, 0xab), 0);
    run();
    assert_int_equal(n_log, 1);
    /* 1250 bytes: 10 ms on a's uplink, 25 ms of latency, 5 ms on b's downlink. */
    assert_int_equal(log_[0].t, 40 * MS);
    assert_int_equal(log_[0].len, 1222);
    assert_int_equal(log_[0].first, 0xab);
    assert_int_equal(net.nodes[a].up.bytes, 1250);
    assert_int_equal(net.nodes[b].down.bytes, 1250);
    teardown();
}

/* Back-to-back datagrams leave at the uplink rate; the queue cap drops the tail. */
static void test_rate_and_droptail(void **state)
{
    (void)state;
    setup(0);
    int a = add(125000, 10000, 0, 0, 0, FB_NAT_NONE);
    int b = add(0, 0, 0, 0, 0, FB_NAT_NONE);
    int ok = 0;
    for (int i = 0; i < 20; i++)
        ok += send_(a, b, 972, (uint8_t)i) == 0; /* 1000 bytes on the wire */
    assert_int_equal(ok, 10);                    /* 10 x 1000 <= 10000 < 11 x 1000 */
    assert_int_equal(net.nodes[a].up.drops, 10);
    run();
    assert_int_equal(n_log, 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(log_[i].t, (uint64_t)(i + 1) * 8 * MS); /* 8 ms per 1000 bytes */
        assert_int_equal(log_[i].first, i);                      /* FIFO */
    }
    /* Once the queue drains, the link takes packets again. */
    assert_int_equal(send_(a, b, 972, 99), 0);
    run();
    assert_int_equal(n_log, 11);
    teardown();
}

/* A fast sender into a slow downlink: the downlink queue paces and drops. */
static void test_downlink_bottleneck(void **state)
{
    (void)state;
    setup(0);
    int a = add(0, 0, 0, 0, 1 * MS, FB_NAT_NONE);
    int b = add(0, 0, 50000, 5000, 1 * MS, FB_NAT_NONE); /* 400 kbit/s, 5000-byte queue */
    for (int i = 0; i < 8; i++)
        assert_int_equal(send_(a, b, 972, (uint8_t)i), 0);
    run();
    assert_int_equal(n_log, 5);
    assert_int_equal(net.nodes[b].down.drops, 3);
    assert_int_equal(log_[4].t, 2 * MS + 5 * 20 * MS);
    teardown();
}

static void test_loss(void **state)
{
    (void)state;
    setup(0.1);
    int a = add(0, 0, 0, 0, 0, FB_NAT_NONE);
    int b = add(0, 0, 0, 0, 0, FB_NAT_NONE);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(send_(a, b, 10, 1), 0);
    run();
    assert_int_equal((int)net.part[0].c.lost + n_log, 10000);
    assert_true(net.part[0].c.lost > 900 && net.part[0].c.lost < 1100);
    teardown();
}

static void test_dead_nodes(void **state)
{
    (void)state;
    setup(0);
    int a = add(0, 0, 0, 0, 5 * MS, FB_NAT_NONE);
    int b = add(0, 0, 0, 0, 5 * MS, FB_NAT_NONE);
    net.nodes[b].alive = false;
    assert_int_equal(send_(a, b, 10, 1), 0);
    run();
    assert_int_equal(n_log, 0);
    net.nodes[a].alive = false;
    net.nodes[b].alive = true;
    assert_true(send_(a, b, 10, 1) < 0); /* a dead node sends nothing */
    /* A packet in flight when its receiver leaves is dropped. */
    net.nodes[a].alive = true;
    assert_int_equal(send_(a, b, 10, 1), 0);
    net.nodes[b].alive = false;
    run();
    assert_int_equal(n_log, 0);
    assert_int_equal(net.part[0].c.dropped_dead, 3);
    fb_addr nowhere;
    fb_addr_set_v4(&nowhere, 0x0a000001, 1);
    assert_true(fb_net_send_udp(&net, (uint32_t)a, NULL, &nowhere, (const uint8_t *)"x", 1) < 0);
    assert_int_equal(net.part[0].c.dropped_noroute, 1);
    teardown();
}

/* Port-restricted cone: b (behind NAT) accepts from a only after b sent to a. */
static void test_cone_nat(void **state)
{
    (void)state;
    setup(0);
    int a = add(0, 0, 0, 0, MS, FB_NAT_NONE);
    int b = add(0, 0, 0, 0, MS, FB_NAT_CONE);
    int c = add(0, 0, 0, 0, MS, FB_NAT_CONE);
    assert_int_equal(send_(a, b, 10, 1), 0);
    run();
    assert_int_equal(n_log, 0);
    assert_int_equal(net.nodes[b].nat_filtered, 1);
    assert_int_equal(send_(b, a, 10, 2), 0); /* b opens its NAT towards a */
    run();
    assert_int_equal(n_log, 1);
    fb_addr want;
    fb_net_node_addr(&net, (uint32_t)b, &want);
    assert_true(fb_addr_eq(&log_[0].from, &want)); /* cone: the same port for everyone */
    assert_int_equal(send_(a, b, 10, 3), 0);
    run();
    assert_int_equal(n_log, 2);
    assert_int_equal(log_[1].first, 3);
    /* c has not been opened by b: filtered. A punch is b and c sending to each other. */
    assert_int_equal(send_(c, b, 10, 4), 0);
    run();
    assert_int_equal(n_log, 2);
    assert_int_equal(send_(b, c, 10, 5), 0);
    run();
    assert_int_equal(n_log, 3); /* c sent to b before: b's punch enters c */
    assert_int_equal(send_(c, b, 10, 6), 0);
    run();
    assert_int_equal(n_log, 4);
    /* Port-restricted: a's ip from another port does not enter b. */
    fb_addr forged, to;
    fb_addr_set_v4(&forged, FB_NET_IP_BASE + (uint32_t)a, 9999);
    fb_net_node_addr(&net, (uint32_t)b, &to);
    assert_int_equal(fb_net_send_udp(&net, (uint32_t)a, &forged, &to, (const uint8_t *)"x", 1), 0);
    run();
    assert_int_equal(n_log, 4);
    teardown();
}

/* Symmetric NAT: a new external port per destination. The seed sees port P; a third party that
 * learns P from the seed cannot get in, and what b sends it comes from another port. */
static void test_symmetric_nat(void **state)
{
    (void)state;
    setup(0);
    int s = add(0, 0, 0, 0, MS, FB_NAT_NONE);
    int b = add(0, 0, 0, 0, MS, FB_NAT_SYMMETRIC);
    int c = add(0, 0, 0, 0, MS, FB_NAT_CONE);
    assert_int_equal(send_(b, s, 10, 1), 0);
    run();
    assert_int_equal(n_log, 1);
    fb_addr b_at_s = log_[0].from;
    assert_int_equal(b_at_s.port, FB_NET_SYM_PORT0);
    /* The seed answers to the port it saw: it enters. */
    assert_int_equal(fb_net_send_udp(&net, (uint32_t)s, NULL, &b_at_s, (const uint8_t *)"y", 1), 0);
    run();
    assert_int_equal(n_log, 2);
    /* c punches towards the address the seed saw; b punches towards c. Neither enters. */
    assert_int_equal(fb_net_send_udp(&net, (uint32_t)c, NULL, &b_at_s, (const uint8_t *)"z", 1), 0);
    assert_int_equal(send_(b, c, 10, 2), 0);
    run();
    assert_int_equal(n_log, 2);
    assert_int_equal(net.nodes[b].nat_filtered, 1);
    assert_int_equal(net.nodes[c].nat_filtered, 1);
    /* b's datagrams to c come from a second port; repeated sends reuse it. */
    assert_int_equal(net.nodes[b].next_port, FB_NET_SYM_PORT0 + 2);
    assert_int_equal(send_(b, c, 10, 3), 0);
    run();
    assert_int_equal(net.nodes[b].next_port, FB_NET_SYM_PORT0 + 2);
    assert_int_equal(n_log, 2); /* c opened itself to b's first port only */
    assert_int_equal(net.nodes[c].nat_filtered, 2);
    teardown();
}

/* ---- Parts: the same traffic split over 1 or 3 parts gives every node the same deliveries ----
 * Eight nodes of mixed rates, latencies (the lookahead is the two smallest), small queues and
 * 5% loss bounce datagrams: each delivery is answered, to a node the payload picks, until its
 * hop count runs out. The parts run one after the other within a window (as threads would side
 * by side: a part touches only its nodes), then exchange. */

#define P_NODES 8
#define P_LOG   4000

typedef struct hop {
    uint64_t t;
    uint32_t src;
    uint8_t a, b;
} hop;

static fb_evq pq[3];
static fb_net pnet;
static hop plog[P_NODES][P_LOG];
static int pn[P_NODES];

static void on_bounce(void *ctx, const fb_pkt *p)
{
    (void)ctx;
    uint32_t d = p->dst;
    assert_true(pn[d] < P_LOG);
    hop *h = &plog[d][pn[d]++];
    h->t = fb_net_now(&pnet, d);
    h->src = p->src;
    h->a = p->data[0];
    h->b = p->data[1];
    if (p->data[0] == 0)
        return;
    uint8_t buf[700];
    memset(buf, 0, sizeof(buf));
    buf[0] = (uint8_t)(p->data[0] - 1);
    buf[1] = (uint8_t)(p->data[1] * 5 + d + 1);
    fb_addr to;
    fb_net_node_addr(&pnet, (buf[1] + d) % P_NODES, &to);
    fb_net_send_udp(&pnet, d, NULL, &to, buf, 100 + buf[1] * 2u);
}

static void run_parts(unsigned parts)
{
    memset(pn, 0, sizeof(pn));
    for (unsigned k = 0; k < parts; k++)
        assert_int_equal(fb_evq_init(&pq[k], 1 << 16), 0);
    fb_net_config c = {.loss = 0.05, .seed = 3, .parts = parts};
    assert_int_equal(fb_net_init(&pnet, &pq[0], &c, on_bounce, NULL), 0);
    for (unsigned k = 1; k < parts; k++)
        pnet.part[k].q = &pq[k];
    for (uint32_t i = 0; i < P_NODES; i++) {
        uint64_t up = 50000 + 30000 * i, half = (2 + i % 3) * MS;
        int n = fb_net_node_add(&pnet, up, 4000 + 500 * i, 400000, 6000, half, FB_NAT_NONE);
        assert_int_equal(n, (int)i);
        pnet.nodes[i].part = (uint8_t)(i % parts);
        pnet.nodes[i].alive = true;
    }
    assert_int_equal(fb_net_lookahead(&pnet), 4 * MS);
    /* Every node starts three bounces of 12 hops. */
    for (uint32_t i = 0; i < P_NODES; i++)
        for (uint8_t j = 0; j < 3; j++) {
            uint8_t buf[200] = {12, (uint8_t)(i * 3 + j)};
            fb_addr to;
            fb_net_node_addr(&pnet, (i + j + 1) % P_NODES, &to);
            fb_net_send_udp(&pnet, i, NULL, &to, buf, sizeof(buf));
        }
    for (unsigned k = 0; k < parts; k++)
        fb_net_exchange(&pnet, k);
    for (;;) {
        uint64_t t0 = UINT64_MAX;
        for (unsigned k = 0; k < parts; k++) {
            uint64_t t = fb_evq_peek_time(&pq[k]);
            t0 = t < t0 ? t : t0;
        }
        if (t0 == UINT64_MAX)
            break;
        uint64_t end = t0 + fb_net_lookahead(&pnet);
        for (unsigned k = 0; k < parts; k++) {
            fb_ev e;
            while (fb_evq_peek_time(&pq[k]) < end && fb_evq_pop(&pq[k], &e) == 0) {
                assert_true(fb_ev_kind(&e) < FB_NET_EVK_END);
                fb_net_event(&pnet, k, &e);
            }
        }
        for (unsigned k = 0; k < parts; k++)
            fb_net_exchange(&pnet, k);
    }
    for (unsigned k = 0; k < parts; k++) {
        assert_int_equal(pnet.part[k].pkts.used, 0); /* every packet back to its own pool */
        fb_evq_fini(&pq[k]);
    }
    fb_net_fini(&pnet);
}

static void test_parts_same_result(void **state)
{
    (void)state;
    static hop one[P_NODES][P_LOG];
    static int n_one[P_NODES];
    run_parts(1);
    memcpy(one, plog, sizeof(one));
    memcpy(n_one, pn, sizeof(n_one));
    int total = 0, drops = 0;
    for (int i = 0; i < P_NODES; i++)
        total += n_one[i];
    run_parts(3);
    for (int i = 0; i < P_NODES; i++) {
        assert_int_equal(pn[i], n_one[i]);
        for (int j = 0; j < pn[i]; j++) {
            assert_int_equal(plog[i][j].t, one[i][j].t);
            assert_int_equal(plog[i][j].src, one[i][j].src);
            assert_int_equal(plog[i][j].a, one[i][j].a);
            assert_int_equal(plog[i][j].b, one[i][j].b);
        }
    }
    /* The traffic did something: hops were lost (loss, queues), and many arrived. */
    drops = P_NODES * 3 * 13 - total;
    assert_true(total > 100);
    assert_true(drops > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_same_result),
        cmocka_unit_test(test_latency_and_overhead),
        cmocka_unit_test(test_rate_and_droptail),
        cmocka_unit_test(test_downlink_bottleneck),
        cmocka_unit_test(test_loss),
        cmocka_unit_test(test_dead_nodes),
        cmocka_unit_test(test_cone_nat),
        cmocka_unit_test(test_symmetric_nat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
