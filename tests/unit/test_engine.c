/* End-to-end tests of the engine: a seed and a few peers wired together in-process by a tiny
 * network with a fake clock (tests/unit/netsim.h). Checks completion with the right bytes, peer
 * to peer trading, bans of a corrupting peer, the 3x rule and stateless tokens, the seed's rate
 * cap, the origin fallback, leaving, loss recovery and caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/wire.h"
#include "engine/flow.h"
#include "netsim.h"

static const uint64_t page_sizes[] = {30000, 100000, 0, 65536, 70001};

static void join_all(ns_world *w, ns_node *seed)
{
    for (int i = 0; i < w->n; i++)
        if (!w->node[i].seed)
            assert_int_equal(
                fb_engine_swarm_join(w->node[i].e, w->node[i].swarm, &seed->addr, w->now), 0);
    for (int i = 0; i < w->n; i++)
        ns_tick(&w->node[i]);
}

static void assert_page(ns_world *w, ns_node *n)
{
    assert_memory_equal(n->store, w->page, w->page_len);
}

static void test_one_peer(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, page_sizes, 5);
    ns_node *seed = ns_add(&w, true, 2000000, NULL);
    fb_engine_config c = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *p = ns_add(&w, false, 1000000, &c);
    join_all(&w, seed);
    ns_run(&w, 30000000, ns_all_complete);
    assert_int_equal(p->completes, 1);
    assert_page(&w, p);
    assert_int_equal(p->verified, w.map.n_chunks);
    assert_int_equal(p->objects_done, 5); /* the empty object is reported at join */
    fb_engine_stats st;
    fb_engine_stats_get(p->e, &st);
    assert_int_equal(st.bytes_in_seed, w.page_len);
    assert_int_equal(st.bytes_in_peer, 0);
    assert_int_equal(st.chunks_bad, 0);
    uint32_t have, total;
    fb_engine_swarm_progress(p->e, p->swarm, &have, &total);
    assert_int_equal(have, total);
    /* 2 MB/s seed: ~270 KB in well under a second plus the handshake. */
    assert_true(p->complete_at < 2000000);
    ns_free(&w);
}

static void test_swarm_trades(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 20000, 0);
    ns_page(&w, page_sizes, 5);
    /* A slow seed (100 KB/s) and 6 peers at 200 KB/s up: most bytes must come from peers. */
    ns_node *seed = ns_add(&w, true, 100000, NULL);
    for (int i = 0; i < 6; i++)
        ns_add(&w, false, 200000, NULL);
    join_all(&w, seed);
    ns_run(&w, 60000000, ns_all_complete);
    uint64_t from_peers = 0, from_seed = 0;
    for (int i = 1; i < w.n; i++) {
        ns_node *p = &w.node[i];
        assert_int_equal(p->completes, 1);
        assert_page(&w, p);
        fb_engine_stats st;
        fb_engine_stats_get(p->e, &st);
        from_peers += st.bytes_in_peer;
        from_seed += st.bytes_in_seed;
        assert_int_equal(st.bytes_in_peer + st.bytes_in_seed + st.bytes_in_origin, w.page_len);
        assert_true(p->added >= 1);
    }
    for (int i = 0; i < w.n; i++) {
        fb_engine_stats st;
        fb_engine_stats_get(w.node[i].e, &st);
        printf("# node %d: out %llu data %llu tft %llu to %llu dup %llu busy %llu inv %llu unk "
               "%llu unval %llu cap %llu rate %uK done %.2f\n",
               i, (unsigned long long)st.bytes_out_total, (unsigned long long)st.bytes_out_data,
               (unsigned long long)st.dropped_tft, (unsigned long long)st.bursts_timeout,
               (unsigned long long)st.chunks_dup, (unsigned long long)st.busy_sent,
               (unsigned long long)st.dropped_invalid, (unsigned long long)st.blocks_unused,
               (unsigned long long)st.dropped_unvalidated, (unsigned long long)st.dropped_cap,
               (unsigned)(st.upload_rate / 1000), w.node[i].complete_at / 1e6);
    }
    printf("# trades: from peers %llu, from seed %llu, makespan %.2f s\n",
           (unsigned long long)from_peers, (unsigned long long)from_seed, w.now / 1e6);
    assert_true(from_peers > from_seed);
    /* Client-server would need 6 x 270 KB / 100 KB/s = 16 s. */
    assert_true(w.now < 10000000);
    /* With linger 0, every peer leaves by itself with a BYE, once what it had accepted is
     * served (within 800 ms). */
    ns_run(&w, w.now + 1000000, NULL);
    for (int i = 1; i < w.n; i++)
        assert_int_equal(w.node[i].left, 1);
    ns_free(&w);
}

static void test_corrupt_peer_banned(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, page_sizes, 5);
    ns_node *seed = ns_add(&w, true, 150000, NULL);
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    /* Two corrupting peers that stay and claim chunks (they download honestly, then serve
     * garbage), and four honest peers. */
    for (int i = 0; i < 2; i++) {
        ns_node *bad = ns_add(&w, false, 400000, &stay);
        bad->corrupt = true;
    }
    for (int i = 0; i < 4; i++)
        ns_add(&w, false, 200000, &stay);
    join_all(&w, seed);
    ns_run(&w, 120000000, ns_all_complete);
    uint32_t bans = 0;
    for (int i = 1; i < w.n; i++) {
        ns_node *p = &w.node[i];
        if (p->corrupt)
            continue;
        assert_int_equal(p->completes, 1);
        assert_page(&w, p); /* no wrong byte delivered */
        fb_engine_stats st;
        fb_engine_stats_get(p->e, &st);
        assert_int_equal(st.bans, p->banned);
        for (uint32_t k = 0; k < p->banned && k < 8; k++) {
            ns_node *who = ns_by_addr(&w, &p->banned_addr[k]);
            assert_non_null(who);
            assert_true(who->corrupt); /* only corrupting peers are banned */
        }
        bans += p->banned;
    }
    printf("# corrupt: %u bans, makespan %.2f s\n", bans, w.now / 1e6);
    assert_true(bans >= 1);
    ns_free(&w);
}

static void test_loss(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 20000, 50000); /* 5% loss each way */
    ns_page(&w, page_sizes, 5);
    ns_node *seed = ns_add(&w, true, 300000, NULL);
    for (int i = 0; i < 5; i++)
        ns_add(&w, false, 200000, NULL);
    join_all(&w, seed);
    ns_run(&w, 120000000, ns_all_complete);
    for (int i = 1; i < w.n; i++) {
        assert_int_equal(w.node[i].completes, 1);
        assert_page(&w, &w.node[i]);
    }
    printf("# loss 5%%: makespan %.2f s\n", w.now / 1e6);
    ns_free(&w);
}

/* A sender whose answers suddenly come later than the rto learned so far (here the seed's
 * path gains 150 ms): its requests get one extension instead of being given up and asked
 * again. Only the burst cut by the jump times out (its gap), and only its tail arrives for
 * nothing; giving up at the first deadline made 9 timeouts and 198 unused blocks. */
static void test_slow_answers_wait(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, page_sizes, 5);
    ns_node *seed = ns_add(&w, true, 400000, NULL);
    fb_engine_config c = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *p = ns_add(&w, false, 1000000, &c);
    w.slow_node = seed->idx;
    w.slow_after_us = 150000;
    w.slow_extra_us = 150000;
    join_all(&w, seed);
    ns_run(&w, 30000000, ns_all_complete);
    assert_int_equal(p->completes, 1);
    assert_page(&w, p);
    fb_engine_stats st;
    fb_engine_stats_get(p->e, &st);
    printf("# slow answers: timeouts %llu, unused blocks %llu, done at %.2f s\n",
           (unsigned long long)st.bursts_timeout, (unsigned long long)st.blocks_unused,
           p->complete_at / 1e6);
    assert_true(p->verified > 8); /* the page was still coming when the path slowed down */
    assert_true(st.bursts_timeout <= 2);
    assert_true(st.blocks_unused <= 16);
    assert_int_equal(st.bytes_in_seed, w.page_len);
    ns_free(&w);
}

/* The seed never sends more than its cap: bytes <= rate * time + bucket depth; and while the
 * peers still need the page it uses its cap (measured until they complete: the page is only
 * about 300 KB of the seed's sending, less than 3 s of its cap). */
static void test_seed_rate_cap(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, page_sizes, 5);
    uint64_t rate = 200000;
    ns_node *seed = ns_add(&w, true, 0, NULL); /* no link limit: only the engine's cap */
    fb_engine_free(seed->e);
    fb_engine_config c = {.role = FB_ROLE_SEED, .upload_rate = rate};
    fb_host h = {seed, ns_send, ns_event, ns_sha256, ns_random, ns_chunk_read, ns_chunk_write};
    seed->e = fb_engine_new(&c, &h, 0);
    seed->swarm = fb_engine_swarm_add(seed->e, w.manifest, w.manifest_len, 0);
    for (int i = 0; i < 8; i++)
        ns_add(&w, false, 0, NULL); /* unlimited peers: they would take everything */
    join_all(&w, seed);
    uint64_t t0 = w.now;
    ns_run(&w, 3000000, ns_all_complete);
    uint64_t elapsed = w.now - t0;
    assert_true(ns_all_complete(&w));
    uint64_t wire = seed->bytes_sent + 28 * seed->dgrams_sent;
    printf("# seed cap: %llu bytes on the wire in %.3f s at cap %llu B/s\n",
           (unsigned long long)wire, elapsed / 1e6, (unsigned long long)rate);
    assert_true(wire <= rate * elapsed / 1000000 + FB_BUCKET_MIN_DEPTH + rate / 100);
    assert_true(wire >= rate * elapsed / 1000000 * 3 / 4); /* and it is used */
    ns_free(&w);
}

/* Address validation: strangers get at most 3x their bytes and no peer list or chunk. */
static void test_three_x_rule(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, page_sizes, 5);
    ns_node *seed = ns_add(&w, true, 1000000, NULL);
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *p = ns_add(&w, false, 1000000, &stay);
    join_all(&w, seed);
    ns_run(&w, 5000000, ns_all_complete);
    assert_int_equal(p->completes, 1);
    uint8_t id[32];
    assert_int_equal(fb_engine_swarm_id(seed->e, seed->swarm, id), 0);
    fb_addr victim;
    fb_addr_set_v4(&victim, 0xc6336401u, 9999); /* 198.51.100.1, not a node */
    uint8_t buf[FB_MAX_DATAGRAM];
    uint64_t sent = 0;
    /* JOIN from a spoofed address (no valid token). */
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_JOIN;
    memcpy(m.swarm, id, 8);
    m.u.join.want = 16;
    int len = fb_wire_encode(&m, buf, sizeof(buf));
    assert_true(len > 0);
    for (int i = 0; i < 100; i++) {
        fb_engine_input(seed->e, &victim, buf, (size_t)len, w.now);
        sent += (uint64_t)len;
    }
    /* JOIN with a forged token. */
    memset(m.u.join.echo, 0x42, FB_TOKEN_LEN);
    len = fb_wire_encode(&m, buf, sizeof(buf));
    fb_engine_input(seed->e, &victim, buf, (size_t)len, w.now);
    sent += (uint64_t)len;
    /* REQUEST for data from the stranger. */
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_REQUEST;
    memcpy(m.swarm, id, 8);
    m.u.request.req_id = 7;
    m.u.request.n = 1;
    m.u.request.e[0].chunk = 0;
    m.u.request.e[0].mask = 0xffff;
    len = fb_wire_encode(&m, buf, sizeof(buf));
    fb_engine_input(seed->e, &victim, buf, (size_t)len, w.now);
    fb_engine_input(p->e, &victim, buf, (size_t)len, w.now);
    sent += 2 * (uint64_t)len;
    /* HELLO to the complete peer without an echo, and REFER. */
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_HELLO;
    memcpy(m.swarm, id, 8);
    uint8_t iv[2] = {0, 0};
    m.u.hello.iv = iv;
    m.u.hello.iv_len = 2;
    memset(m.u.hello.node, 7, FB_NODE_LEN);
    len = fb_wire_encode(&m, buf, sizeof(buf));
    for (int i = 0; i < 50; i++) {
        fb_engine_input(p->e, &victim, buf, (size_t)len, w.now);
        sent += (uint64_t)len;
    }
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_REFER;
    memcpy(m.swarm, id, 8);
    m.u.refer.want = 16;
    len = fb_wire_encode(&m, buf, sizeof(buf));
    fb_engine_input(p->e, &victim, buf, (size_t)len, w.now);
    sent += (uint64_t)len;
    ns_tick(seed);
    ns_tick(p);
    printf("# 3x: %llu bytes in from the spoofer, %llu bytes out to it\n", (unsigned long long)sent,
           (unsigned long long)w.to_victims);
    assert_true(w.to_victims <= 3 * sent);
    /* Nothing but TOKEN and HELLO went to the victim: scan the queue. */
    for (size_t i = 0; i < w.n_pkts; i++) {
        if (!fb_addr_eq(&w.pkts[i].to, &victim))
            continue;
        fb_wire_msg r;
        assert_int_equal(fb_wire_decode(w.pkts[i].data, w.pkts[i].len, &r), 0);
        assert_true(r.type == FB_MSG_TOKEN || r.type == FB_MSG_HELLO);
    }
    fb_engine_stats st;
    fb_engine_stats_get(seed->e, &st);
    assert_int_equal(st.tracked_peers, 1); /* the spoofer was never tracked */
    assert_true(st.dropped_unvalidated >= 1);
    ns_free(&w);
}

/* No seed reachable: after the stall time the engine asks the host for chunks from the
 * origin, and completes with them. */
static void test_origin_fallback(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, page_sizes, 5);
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *p = ns_add(&w, false, 1000000, &stay);
    p->auto_supply = true;
    fb_addr nowhere;
    fb_addr_set_v4(&nowhere, 0x0a0000feu, 4000);
    assert_int_equal(fb_engine_swarm_join(p->e, p->swarm, &nowhere, w.now), 0);
    ns_tick(p);
    ns_run(&w, 3000000, NULL);
    assert_int_equal(p->need_origin, 0); /* not before the stall time */
    ns_run(&w, 200000000, ns_all_complete);
    assert_int_equal(p->completes, 1);
    assert_page(&w, p);
    fb_engine_stats st;
    fb_engine_stats_get(p->e, &st);
    assert_int_equal(st.bytes_in_origin, w.page_len);
    assert_int_equal(st.origin_requests, w.map.n_chunks);
    /* A wrong supply is refused. */
    uint8_t junk[16384] = {0};
    assert_int_equal(fb_engine_supply(p->e, p->swarm, 0, junk, fb_chunk_len(&w.map, 0), w.now),
                     FB_EPROTO);
    assert_int_equal(fb_engine_supply(p->e, p->swarm, 0, junk, 5, w.now), FB_EINVAL);
    ns_free(&w);
}

/* Bad manifests and handles are refused; caps are honoured. */
static void test_api_errors(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, page_sizes, 5);
    ns_node *p = ns_add(&w, false, 0, NULL);
    assert_int_equal(fb_engine_swarm_add(p->e, w.manifest, w.manifest_len, 0), FB_EEXIST);
    assert_int_equal(fb_engine_swarm_add(p->e, (const uint8_t *)"junk", 4, 0), FB_EINVAL);
    fb_addr a;
    fb_addr_set_v4(&a, 1, 1);
    assert_int_equal(fb_engine_swarm_join(p->e, 99, &a, 0), FB_EINVAL);
    /* A seed needs a rate. */
    fb_engine_config c = {.role = FB_ROLE_SEED};
    fb_host h = {p, ns_send, ns_event, ns_sha256, ns_random, ns_chunk_read, ns_chunk_write};
    assert_null(fb_engine_new(&c, &h, 0));
    /* max_swarms = 1: a second page does not fit. */
    fb_engine_config c1 = {.role = FB_ROLE_PEER, .max_swarms = 1};
    fb_engine *e = fb_engine_new(&c1, &h, 0);
    assert_non_null(e);
    assert_true(fb_engine_swarm_add(e, w.manifest, w.manifest_len, 0) >= 0);
    static const uint64_t other[] = {5};
    ns_world w2;
    memset(&w2, 0, sizeof(w2));
    ns_page(&w2, other, 1);
    assert_int_equal(fb_engine_swarm_add(e, w2.manifest, w2.manifest_len, 0), FB_ENOSPC);
    free(w2.page);
    fb_engine_free(e);
    ns_free(&w);
}

/* fb_engine_prefetch is a cache hint: NULL is allowed, and on a live engine (mid-transfer) it
 * changes nothing the engine reports, nor when it wants its next tick. */
static void test_prefetch_changes_nothing(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, page_sizes, 5);
    ns_node *seed = ns_add(&w, true, 2000000, NULL);
    fb_engine_config c = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *p = ns_add(&w, false, 1000000, &c);
    fb_engine_prefetch(NULL, 0);
    fb_engine_prefetch(NULL, 1);
    join_all(&w, seed);
    ns_run(&w, 200000, NULL); /* part of the way */
    for (int i = 0; i < w.n; i++) {
        fb_engine *e = w.node[i].e;
        fb_engine_stats a, b;
        fb_engine_stats_get(e, &a);
        uint64_t t0 = fb_engine_tick(e, w.now);
        fb_engine_prefetch(e, 0);
        fb_engine_prefetch(e, 1);
        fb_engine_stats_get(e, &b);
        assert_memory_equal(&a, &b, sizeof(a));
        assert_int_equal(fb_engine_tick(e, w.now), t0);
    }
    ns_run(&w, 30000000, ns_all_complete);
    assert_int_equal(p->completes, 1);
    assert_page(&w, p);
    ns_free(&w);
}

/* Peers that leave at once: their neighbours get a BYE and carry on. */
static void test_churn(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 20000, 0);
    ns_page(&w, page_sizes, 5);
    ns_node *seed = ns_add(&w, true, 150000, NULL);
    for (int i = 0; i < 4; i++)
        ns_add(&w, false, 150000, NULL);
    join_all(&w, seed);
    ns_run(&w, 800000, NULL);
    /* Two peers vanish without a word in mid-transfer; two more arrive. */
    ns_kill(&w.node[1]);
    ns_kill(&w.node[2]);
    for (int i = 0; i < 2; i++) {
        ns_node *n = ns_add(&w, false, 150000, NULL);
        assert_int_equal(fb_engine_swarm_join(n->e, n->swarm, &seed->addr, w.now), 0);
        ns_tick(n);
    }
    ns_run(&w, 120000000, ns_all_complete);
    for (int i = 3; i < w.n; i++) {
        assert_int_equal(w.node[i].completes, 1);
        assert_page(&w, &w.node[i]);
    }
    printf("# churn: makespan %.2f s\n", w.now / 1e6);
    ns_free(&w);
}

/* A peer that answered a stranger's HELLO, then filled its neighbour table, refuses the
 * stranger's validated HELLO with a BYE (the stranger proved its address, and would otherwise
 * count the peer as a neighbour and request from it in vain); the BYE is smaller than the HELLO
 * and no neighbour is added. */
static void test_full_refuses_validated_hello(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, 10000, 0);
    ns_page(&w, page_sizes, 5);
    ns_node *seed = ns_add(&w, true, 1000000, NULL);
    fb_engine_config one = {.linger_ms = FB_LINGER_FOREVER, .max_neighbours = 1};
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *p = ns_add(&w, false, 1000000, &one);
    ns_add(&w, false, 1000000, &stay);
    join_all(&w, seed);
    uint8_t id[32];
    assert_int_equal(fb_engine_swarm_id(p->e, p->swarm, id), 0);
    fb_addr x;
    fb_addr_set_v4(&x, 0xc6336402u, 7777); /* 198.51.100.2, not a node */
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_HELLO;
    memcpy(m.swarm, id, 8);
    uint8_t iv[2] = {0, 0};
    m.u.hello.iv = iv;
    m.u.hello.iv_len = 2;
    memset(m.u.hello.node, 9, FB_NODE_LEN);
    memset(m.u.hello.token, 0x33, FB_TOKEN_LEN);
    uint8_t buf[FB_MAX_DATAGRAM];
    int len = fb_wire_encode(&m, buf, sizeof(buf));
    assert_true(len > 0);
    /* P has no neighbour yet: a stateless HELLO answer carries its token for x. */
    fb_engine_input(p->e, &x, buf, (size_t)len, w.now);
    uint8_t token[FB_TOKEN_LEN];
    bool got = false;
    for (size_t i = 0; i < w.n_pkts; i++) {
        fb_wire_msg r;
        if (!fb_addr_eq(&w.pkts[i].to, &x) ||
            fb_wire_decode(w.pkts[i].data, w.pkts[i].len, &r) != 0 || r.type != FB_MSG_HELLO)
            continue;
        memcpy(token, r.u.hello.token, FB_TOKEN_LEN);
        got = true;
    }
    assert_true(got);
    /* P and the other peer become neighbours: P is full. */
    ns_run(&w, 5000000, ns_all_complete);
    fb_engine_stats st;
    fb_engine_stats_get(p->e, &st);
    assert_int_equal(st.neighbours, 1);
    /* The stranger completes the handshake: refused with a BYE, nothing added. */
    m.u.hello.flags = FB_HELLO_VALIDATED;
    memcpy(m.u.hello.echo, token, FB_TOKEN_LEN);
    len = fb_wire_encode(&m, buf, sizeof(buf));
    size_t before = w.n_pkts;
    uint64_t to_x = w.to_victims;
    fb_engine_input(p->e, &x, buf, (size_t)len, w.now);
    bool bye = false;
    for (size_t i = before; i < w.n_pkts; i++) {
        fb_wire_msg r;
        if (!fb_addr_eq(&w.pkts[i].to, &x))
            continue;
        assert_int_equal(fb_wire_decode(w.pkts[i].data, w.pkts[i].len, &r), 0);
        assert_int_equal(r.type, FB_MSG_BYE);
        assert_int_equal(r.u.bye.reason, FB_BYE_REFUSED);
        bye = true;
    }
    assert_true(bye);
    assert_true(w.to_victims - to_x <= (uint64_t)len);
    fb_engine_stats_get(p->e, &st);
    assert_int_equal(st.neighbours, 1);
    ns_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_peer),
        cmocka_unit_test(test_swarm_trades),
        cmocka_unit_test(test_corrupt_peer_banned),
        cmocka_unit_test(test_loss),
        cmocka_unit_test(test_slow_answers_wait),
        cmocka_unit_test(test_seed_rate_cap),
        cmocka_unit_test(test_three_x_rule),
        cmocka_unit_test(test_origin_fallback),
        cmocka_unit_test(test_api_errors),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_prefetch_changes_nothing),
        cmocka_unit_test(test_full_refuses_validated_hello),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
