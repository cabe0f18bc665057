/* Unit tests for sim/tcp: a NewReno flow fills a bottleneck link, recovers from random loss and
 * from drop-tail overflow, finishes finite transfers exactly once, and two flows share a link. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sim/evq.c"
#include "sim/net.c"
#include "sim/pool.c"
#include "sim/rng.c"
#include "sim/tcp.c"

#define MSEC    1000000ull
#define SEC     1000000000ull
#define EVK_RTO FB_NET_EVK_END

static fb_evq q;
static fb_net net;
static fb_tcp tcp;
static int n_done;
static uint32_t done_flow;

static void on_deliver(void *ctx, const fb_pkt *p)
{
    (void)ctx;
    if (p->kind != FB_PKT_UDP)
        fb_tcp_packet(&tcp, p);
}

static void on_done(void *ctx, uint32_t flow)
{
    (void)ctx;
    n_done++;
    done_flow = flow;
}

static void setup(double loss)
{
    n_done = 0;
    assert_int_equal(fb_evq_init(&q, 1 << 22), 0);
    fb_net_config c = {.loss = loss, .seed = 11};
    assert_int_equal(fb_net_init(&net, &q, &c, on_deliver, NULL), 0);
}

/* After the nodes: the model bounds a packet's age by their queues. */
static void tcp_up(void)
{
    assert_int_equal(fb_tcp_init(&tcp, &net, EVK_RTO, 16, on_done, NULL), 0);
}

static void teardown(void)
{
    fb_tcp_fini(&tcp);
    fb_net_fini(&net);
    fb_evq_fini(&q);
}

static void on_timer(void *ctx, const fb_ev *e)
{
    (void)ctx;
    if (fb_ev_kind(e) == EVK_RTO)
        fb_tcp_timer(&tcp, e);
}

static void on_exchanged(void *ctx)
{
    (void)ctx;
    fb_tcp_exchange(&tcp, 0);
}

static void run_until(uint64_t t)
{
    fb_net_drain(&net, t, on_timer, on_exchanged, NULL);
}

/* 1 Mbit/s uplink, 40 ms RTT, a 250 ms queue. */
static void two_nodes(int *a, int *b)
{
    *a = fb_net_node_add(&net, 125000, 31250, 0, 0, 10 * MSEC, FB_NAT_CONE);
    *b = fb_net_node_add(&net, 0, 0, 0, 0, 10 * MSEC, FB_NAT_NONE);
    net.nodes[*a].alive = net.nodes[*b].alive = true;
}

static void test_fills_link(void **state)
{
    (void)state;
    setup(0);
    int a, b;
    two_nodes(&a, &b);
    tcp_up();
    uint32_t f = fb_tcp_open(&tcp, (uint32_t)a, (uint32_t)b, 1000000, 5);
    assert_int_not_equal(f, FB_POOL_NONE);
    run_until(60 * SEC);
    assert_int_equal(n_done, 1);
    assert_int_equal(done_flow, f);
    fb_tcp_flow *fl = fb_tcp_get(&tcp, f);
    assert_int_equal(fb_tcp_delivered(fl), 1000000);
    assert_int_equal(fl->tag, 5);
    /* Ideal: 1000000 bytes + 40 bytes per 1460 at 125000 B/s = 8.22 s. Slow start, the RTT and
     * the losses when the window outgrows the queue may add some, not much. */
    double secs = (double)(fl->done_ns - fl->start_ns) / SEC;
    double ideal = (1000000.0 + 40.0 * 685) / 125000;
    assert_true(secs >= ideal);
    assert_true(secs < ideal * 1.15);
    teardown();
}

static void test_random_loss(void **state)
{
    (void)state;
    setup(0.02);
    int a, b;
    two_nodes(&a, &b);
    tcp_up();
    uint32_t f = fb_tcp_open(&tcp, (uint32_t)a, (uint32_t)b, 500000, 0);
    run_until(120 * SEC);
    assert_int_equal(n_done, 1);
    fb_tcp_flow *fl = fb_tcp_get(&tcp, f);
    assert_true(fl->retransmits + fl->timeouts > 0);
    assert_int_equal(fb_tcp_delivered(fl), 500000);
    /* Reno at 2% loss is well below the link rate, but it gets there. */
    assert_true(fl->done_ns - fl->start_ns < 60 * SEC);
    teardown();
}

/* An unlimited flow never completes; its rate is the link's once the window has grown. */
static void test_long_flow_and_close(void **state)
{
    (void)state;
    setup(0);
    int a, b;
    two_nodes(&a, &b);
    tcp_up();
    uint32_t f = fb_tcp_open(&tcp, (uint32_t)a, (uint32_t)b, 0, 0);
    run_until(5 * SEC);
    uint64_t d5 = fb_tcp_delivered(fb_tcp_get(&tcp, f));
    run_until(15 * SEC);
    uint64_t d15 = fb_tcp_delivered(fb_tcp_get(&tcp, f));
    double rate = (double)(d15 - d5) / 10; /* payload bytes per second */
    assert_true(rate > 0.9 * 125000 * 1460 / 1500);
    assert_true(rate <= 125000.0 * 1460 / 1500);
    assert_int_equal(n_done, 0);
    assert_true(net.nodes[a].up.drops > 0); /* the window outgrew the queue and was cut */
    fb_tcp_close(&tcp, 0, f);
    run_until(15 * SEC + 1); /* a window: the close takes effect at its exchange */
    /* Until every packet of it can have left the network (both queues and latencies, 271 ms
     * here), the slot is not reused; then it is. */
    uint32_t g = fb_tcp_open(&tcp, (uint32_t)a, (uint32_t)b, 1, 0);
    assert_int_not_equal(g, f);
    run_until(20 * SEC);
    assert_int_equal(n_done, 1); /* g, its one byte */
    assert_int_equal(fb_tcp_open(&tcp, (uint32_t)a, (uint32_t)b, 10000, 0), f);
    run_until(30 * SEC);
    assert_int_equal(n_done, 2);
    teardown();
}

/* Two long flows through one uplink share it, each getting a fair part of it. */
static void test_two_flows_share(void **state)
{
    (void)state;
    setup(0);
    int a, b;
    two_nodes(&a, &b);
    int c = fb_net_node_add(&net, 0, 0, 0, 0, 10 * MSEC, FB_NAT_NONE);
    net.nodes[c].alive = true;
    tcp_up();
    uint32_t f1 = fb_tcp_open(&tcp, (uint32_t)a, (uint32_t)b, 0, 0);
    uint32_t f2 = fb_tcp_open(&tcp, (uint32_t)a, (uint32_t)c, 0, 0);
    run_until(60 * SEC);
    double d1 = (double)fb_tcp_delivered(fb_tcp_get(&tcp, f1));
    double d2 = (double)fb_tcp_delivered(fb_tcp_get(&tcp, f2));
    assert_true(d1 / (d1 + d2) > 0.3 && d1 / (d1 + d2) < 0.7);
    assert_true((d1 + d2) / 60 > 0.85 * 125000 * 1460 / 1500);
    teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fills_link),
        cmocka_unit_test(test_random_loss),
        cmocka_unit_test(test_long_flow_and_close),
        cmocka_unit_test(test_two_flows_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
