/* The seed's tracker over time (tests/unit/netsim.h, a fake clock): peers that stay keep their
 * entry with their periodic JOIN (the keepalive that also holds their NAT binding); a peer that
 * vanished without a BYE is forgotten after TRACK_EXPIRE_US, and is never introduced again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine/internal.h"
#include "netsim.h"

static const uint64_t sizes[] = {40000, 20000};

static uint32_t tracked(ns_node *seed)
{
    fb_engine_stats st;
    fb_engine_stats_get(seed->e, &st);
    return st.tracked_peers;
}

/* A world with the standard page and a seed capped at `rate`; `id` gets the swarm's id. */
static ns_node *lone_seed(ns_world *w, uint64_t rate, uint8_t id[32])
{
    ns_init(w, 10000, 0);
    ns_page(w, sizes, 2);
    ns_node *seed = ns_add(w, true, rate, NULL);
    assert_int_equal(fb_engine_swarm_id(seed->e, seed->swarm, id), 0);
    return seed;
}

static void test_expiry(void **state)
{
    (void)state;
    static ns_world w;
    uint8_t id[32];
    ns_node *seed = lone_seed(&w, 1000000, id);
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *a = ns_add(&w, false, 1000000, &stay);
    ns_node *b = ns_add(&w, false, 1000000, &stay);
    fb_addr_set_v4(&b->addr, 0xc6336402u, 4000); /* 198.51.100.2: netsim counts bytes sent there */
    for (int i = 1; i < w.n; i++) {
        assert_int_equal(fb_engine_swarm_join(w.node[i].e, w.node[i].swarm, &seed->addr, w.now), 0);
        ns_tick(&w.node[i]);
    }
    ns_run(&w, 10000000, ns_all_complete);
    assert_int_equal(a->completes + b->completes, 2);
    assert_int_equal(tracked(seed), 2);
    /* b vanishes (no BYE). Well past the JOIN refresh but before the expiry, both are tracked. */
    ns_kill(b);
    uint64_t gone = w.now;
    ns_run(&w, gone + TRACK_EXPIRE_US - 5000000, NULL);
    assert_int_equal(tracked(seed), 2);
    /* Past the expiry (and a sweep), only a, which kept re-joining, is left. */
    ns_run(&w, gone + TRACK_EXPIRE_US + 3000000, NULL);
    assert_int_equal(tracked(seed), 1);
    ns_run(&w, gone + 3 * TRACK_EXPIRE_US, NULL);
    assert_int_equal(tracked(seed), 1);
    /* A newcomer is introduced to a only: from now on nothing is sent to b's address. */
    uint64_t to_b = w.to_victims;
    ns_node *c = ns_add(&w, false, 1000000, &stay);
    assert_int_equal(fb_engine_swarm_join(c->e, c->swarm, &seed->addr, w.now), 0);
    ns_tick(c);
    ns_run(&w, w.now + 10000000, ns_all_complete);
    assert_int_equal(c->completes, 1);
    assert_int_equal(tracked(seed), 2);
    assert_int_equal(w.to_victims, to_b);
    ns_free(&w);
}

/* A first JOIN (no echo, 8 peers wanted) for swarm `id`. */
static fb_wire_msg join_msg(const uint8_t *id)
{
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_JOIN;
    memcpy(m.swarm, id, 8);
    m.u.join.want = 8;
    return m;
}

/* JOINs from n distinct addresses in 198.51.100.0/24 (no echo) at the current time; returns
 * how many of the TOKEN answers invite a request. */
static uint32_t invites(ns_world *w, ns_node *seed, const uint8_t *id, uint32_t first, uint32_t n)
{
    fb_wire_msg m = join_msg(id);
    uint8_t buf[FB_MAX_DATAGRAM];
    int len = fb_wire_encode(&m, buf, sizeof(buf));
    assert_true(len > 0);
    size_t before = w->n_pkts;
    for (uint32_t i = 0; i < n; i++) {
        fb_addr a;
        fb_addr_set_v4(&a, 0xc6336400u + ((first + i) & 0xff), (uint16_t)(5000 + first + i));
        fb_engine_input(seed->e, &a, buf, (size_t)len, w->now);
    }
    uint32_t tokens = 0, invited = 0;
    for (size_t i = before; i < w->n_pkts; i++) {
        fb_wire_msg r;
        assert_int_equal(fb_wire_decode(w->pkts[i].data, w->pkts[i].len, &r), 0);
        assert_int_equal(r.type, FB_MSG_TOKEN);
        tokens++;
        invited += (r.u.token.flags & FB_TOKEN_REQUEST) != 0;
    }
    assert_int_equal(tokens, n);
    return invited;
}

/* The seed invites the first request with the JOIN while the joins of the window cost less
 * than its bucket's depth, not beyond; a new window invites again. */
static void test_token_invites_request(void **state)
{
    (void)state;
    static ns_world w;
    uint8_t id[32];
    ns_node *seed = lone_seed(&w, 1000000, id);
    uint64_t depth = seed->e->bucket.depth;
    assert_true(depth / JOIN_COST >= 2 && depth / JOIN_COST < 60);
    assert_int_equal(invites(&w, seed, id, 0, 60), (uint32_t)(depth / JOIN_COST));
    assert_int_equal(invites(&w, seed, id, 60, 5), 0);
    w.now += JOIN_WINDOW_US;
    assert_int_equal(invites(&w, seed, id, 65, 1), 1);
    ns_free(&w);
}

/* What the seed answers a JOIN from `from` that echoes `echo`: the message type of its first
 * answer (FB_MSG_TOKEN for an address it does not take as validated, FB_MSG_PEERS else). */
static uint8_t answer_to(ns_world *w, ns_node *seed, const uint8_t *id, const fb_addr *from,
                         const uint8_t echo[FB_TOKEN_LEN])
{
    fb_wire_msg m = join_msg(id);
    memcpy(m.u.join.echo, echo, FB_TOKEN_LEN);
    uint8_t buf[FB_MAX_DATAGRAM];
    int len = fb_wire_encode(&m, buf, sizeof(buf));
    assert_true(len > 0);
    size_t before = w->n_pkts;
    fb_engine_input(seed->e, from, buf, (size_t)len, w->now);
    assert_true(w->n_pkts > before);
    fb_wire_msg r;
    assert_int_equal(fb_wire_decode(w->pkts[before].data, w->pkts[before].len, &r), 0);
    return r.type;
}

/* An address token (what flashbackd hands out with a manifest: the client's IP address proved by
 * TCP) validates a first JOIN from that address, whatever its port, for 30 to 60 s; not from
 * another address, not later, not a zero one; the seed's own TOKEN still works; a peer engine
 * makes none. And a peer given one echoes it in its first JOIN and is taken in at once. */
static void test_address_token(void **state)
{
    (void)state;
    static ns_world w;
    uint8_t id[32], tok[16], zero[16] = {0};
    ns_node *seed = lone_seed(&w, 1000000, id);
    fb_addr a, a2, b, a6;
    fb_addr_set_v4(&a, 0xc6336401u, 40000);
    fb_addr_set_v4(&a2, 0xc6336401u, 40001);
    fb_addr_set_v4(&b, 0xc6336402u, 40000);
    static const char v6[] = "[2001:db8::1]:40000";
    assert_int_equal(fb_addr_parse(&a6, v6, sizeof(v6) - 1), 0);
    assert_int_equal(fb_engine_address_token(seed->e, &a, w.now, tok), 0);
    assert_int_equal(answer_to(&w, seed, id, &b, tok), FB_MSG_TOKEN);
    assert_int_equal(answer_to(&w, seed, id, &a6, tok), FB_MSG_TOKEN);
    assert_int_equal(answer_to(&w, seed, id, &a, zero), FB_MSG_TOKEN);
    assert_int_equal(answer_to(&w, seed, id, &a2, tok), FB_MSG_PEERS);
    assert_int_equal(answer_to(&w, seed, id, &a, tok), FB_MSG_PEERS);
    uint32_t joined = tracked(seed);
    assert_int_equal(joined, 2);
    w.now += 61 * 1000000ull; /* two epochs later: stale */
    fb_addr c;
    fb_addr_set_v4(&c, 0xc6336403u, 40000);
    uint8_t old[16];
    assert_int_equal(fb_engine_address_token(seed->e, &c, w.now - 61 * 1000000ull, old), 0);
    assert_int_equal(answer_to(&w, seed, id, &c, old), FB_MSG_TOKEN);
    /* Only a seed makes them; only an address. */
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *p = ns_add(&w, false, 1000000, &stay);
    assert_int_equal(fb_engine_address_token(p->e, &a, w.now, tok), FB_EINVAL);
    fb_addr none;
    memset(&none, 0, sizeof(none));
    assert_int_equal(fb_engine_address_token(seed->e, &none, w.now, tok), FB_EINVAL);
    /* The peer echoes the token in its first JOIN: the seed answers PEERS, no TOKEN. */
    assert_int_equal(fb_engine_address_token(seed->e, &p->addr, w.now, tok), 0);
    size_t before = w.n_pkts;
    assert_int_equal(fb_engine_swarm_join_token(p->e, p->swarm, &seed->addr, tok, w.now), 0);
    assert_true(w.n_pkts > before);
    fb_wire_msg j;
    assert_int_equal(fb_wire_decode(w.pkts[before].data, w.pkts[before].len, &j), 0);
    assert_int_equal(j.type, FB_MSG_JOIN);
    assert_memory_equal(j.u.join.echo, tok, 16);
    ns_free(&w);
}

static bool holds_a_chunk(const ns_node *n)
{
    return ns_stats(n).bytes_in_seed > 0;
}

/* Runs w until n holds a chunk or `until`; returns when it got it (UINT64_MAX: not by then). */
static uint64_t first_chunk(ns_world *w, ns_node *n, uint64_t until)
{
    while (w->now < until && !holds_a_chunk(n))
        ns_run(w, w->now + 500, NULL);
    return holds_a_chunk(n) ? w->now : UINT64_MAX;
}

/* With an address token the first request goes right behind the JOIN, and its chunk comes a
 * round trip (20 ms here) after the JOIN instead of two (a request sent on the PEERS answer).
 * With a stale token the seed answers TOKEN and drops that request unread: the peer forgets it
 * (no timeout, no back-off) and asks again right behind the JOIN that echoes the TOKEN. */
static void test_request_behind_tokened_join(void **state)
{
    (void)state;
    static ns_world w;
    uint8_t id[32], tok[16];
    ns_node *seed = lone_seed(&w, 1000000, id);
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *p = ns_add(&w, false, 1000000, &stay);
    assert_int_equal(fb_engine_address_token(seed->e, &p->addr, w.now, tok), 0);
    size_t before = w.n_pkts;
    uint64_t t0 = w.now;
    assert_int_equal(fb_engine_swarm_join_token(p->e, p->swarm, &seed->addr, tok, w.now), 0);
    assert_int_equal(w.n_pkts, before + 2);
    fb_wire_msg m;
    assert_int_equal(fb_wire_decode(w.pkts[before].data, w.pkts[before].len, &m), 0);
    assert_int_equal(m.type, FB_MSG_JOIN);
    assert_int_equal(fb_wire_decode(w.pkts[before + 1].data, w.pkts[before + 1].len, &m), 0);
    assert_int_equal(m.type, FB_MSG_REQUEST);
    assert_true(fb_addr_eq(&w.pkts[before + 1].to, &seed->addr));
    /* 10 ms there, 8 blocks at 1 MB/s, 10 ms back: before the PEERS answer's request could. */
    assert_true(first_chunk(&w, p, t0 + 100000) < t0 + 35000);
    /* A stale token (two epochs old). */
    w.now += 61 * 1000000ull;
    ns_node *q = ns_add(&w, false, 1000000, &stay);
    uint8_t old[16];
    assert_int_equal(fb_engine_address_token(seed->e, &q->addr, w.now - 61 * 1000000ull, old), 0);
    uint64_t t1 = w.now;
    assert_int_equal(fb_engine_swarm_join_token(q->e, q->swarm, &seed->addr, old, w.now), 0);
    /* TOKEN at 20 ms, its JOIN and the request again: the chunk by 50 ms, not after a timeout
     * or after the PEERS answer (60 ms and more). */
    assert_true(first_chunk(&w, q, t1 + 200000) < t1 + 55000);
    assert_int_equal(ns_stats(q).bursts_timeout, 0);
    ns_free(&w);
}

/* Feeds the seed a REQUEST for 4 chunks of its choice (ANY) from `from` in swarm `id`. */
static void request_any(ns_world *w, ns_node *seed, const uint8_t *id, const fb_addr *from,
                        uint32_t req_id)
{
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_REQUEST;
    memcpy(m.swarm, id, 8);
    m.u.request.req_id = req_id;
    m.u.request.n = 1;
    m.u.request.e[0].chunk = FB_WIRE_ANY;
    m.u.request.e[0].mask = 4;
    uint8_t iv[2] = {0, 0}; /* an empty exclusion list */
    m.u.request.iv = iv;
    m.u.request.iv_len = sizeof(iv);
    uint8_t buf[FB_MAX_DATAGRAM];
    int len = fb_wire_encode(&m, buf, sizeof(buf));
    assert_true(len > 0);
    fb_engine_input(seed->e, from, buf, (size_t)len, w->now);
}

/* The BUSY answers sent so far for requests first .. first + n - 1. */
static int busy_for(const ns_world *w, uint32_t first, uint32_t n)
{
    int busy = 0;
    for (size_t i = 0; i < w->n_pkts; i++) {
        fb_wire_msg r;
        if (fb_wire_decode(w->pkts[i].data, w->pkts[i].len, &r) == 0 && r.type == FB_MSG_BUSY &&
            r.u.busy.req_id >= first && r.u.busy.req_id < first + n)
            busy++;
    }
    return busy;
}

/* In a join burst (JOIN_BURST fresh joins in a window) a request that finds the seed's queue full
 * gets no BUSY (the seed's uplink is worth more than the answer); it gets one outside a burst,
 * and a window of fewer joins is no burst. */
static void test_join_burst_quiet(void **state)
{
    (void)state;
    static ns_world w;
    uint8_t id[32], buf[FB_MAX_DATAGRAM];
    ns_node *seed = lone_seed(&w, 1000000, id);
    fb_wire_msg j = join_msg(id);
    fb_addr a[JOIN_BURST];
    for (uint32_t i = 0; i < JOIN_BURST; i++)
        fb_addr_set_v4(&a[i], 0xc6336500u + i, 41000);
    /* Validated joins (their answers wait in the seed's paced control queue). */
    for (uint32_t i = 0; i < JOIN_BURST; i++) {
        if (i == JOIN_BURST - 1) {
            /* JOIN_BURST - 1 fresh joins: not a burst. The first requests fill the small
             * queue; the next meet it full. */
            assert_int_equal(tracked(seed), JOIN_BURST - 1);
            for (uint32_t k = 0; k < 14; k++)
                request_any(&w, seed, id, &a[k], 101 + k);
        }
        assert_int_equal(fb_engine_address_token(seed->e, &a[i], w.now, j.u.join.echo), 0);
        int len = fb_wire_encode(&j, buf, sizeof(buf));
        assert_true(len > 0);
        fb_engine_input(seed->e, &a[i], buf, (size_t)len, w.now);
    }
    /* One more join made the window a burst: the same refusal is silent. */
    assert_int_equal(tracked(seed), JOIN_BURST);
    for (uint32_t k = 0; k < 14; k++)
        request_any(&w, seed, id, &a[14 + k], 201 + k);
    /* A window later the burst is over (the queue is still full). */
    w.now += JOIN_WINDOW_US;
    for (uint32_t k = 0; k < 14; k++)
        request_any(&w, seed, id, &a[28 + k], 301 + k);
    /* The answers leave through the paced control queue: tick the seed for 3 s (nothing is
     * delivered: the datagrams stay in the world's log). */
    for (int k = 0; k < 3000; k++) {
        w.now += 1000;
        ns_tick(seed);
    }
    int before = busy_for(&w, 101, 14), during = busy_for(&w, 201, 14),
        after = busy_for(&w, 301, 14);
    printf("# BUSY answers: %d before the burst, %d in it, %d after\n", before, during, after);
    assert_true(before >= 3);
    assert_int_equal(during, 0);
    assert_int_equal(after, 14);
    ns_free(&w);
}

/* The peers named in the PEERS answer (not an introduction) sent to `to`, or -1 if none. */
static int peers_named(const ns_world *w, const fb_addr *to)
{
    for (size_t i = 0; i < w->n_pkts; i++) {
        fb_wire_msg r;
        if (fb_addr_eq(&w->pkts[i].to, to) &&
            fb_wire_decode(w->pkts[i].data, w->pkts[i].len, &r) == 0 && r.type == FB_MSG_PEERS &&
            !(r.u.peers.flags & FB_PEERS_INTRO))
            return r.u.peers.count;
    }
    return -1;
}

/* In a join burst the seed names JOIN_BURST_PEERS peers per answer, not the 8 a joiner asks
 * for; before the burst, and a window after it, it names 8. */
static void test_join_burst_fewer_peers(void **state)
{
    (void)state;
    static ns_world w;
    uint8_t id[32], buf[FB_MAX_DATAGRAM];
    ns_node *seed = lone_seed(&w, 10000000, id);
    fb_wire_msg j = join_msg(id);
    enum { N = JOIN_BURST + 8 };
    fb_addr a[N + 1];
    for (uint32_t i = 0; i <= N; i++)
        fb_addr_set_v4(&a[i], 0xc6336500u + i, 41000);
    for (uint32_t i = 0; i <= N; i++) {
        if (i == N)
            w.now += JOIN_WINDOW_US; /* the last one joins a window later */
        assert_int_equal(fb_engine_address_token(seed->e, &a[i], w.now, j.u.join.echo), 0);
        j.u.join.node[0] = (uint8_t)(i + 1); /* distinct peers (one node id is one peer) */
        int len = fb_wire_encode(&j, buf, sizeof(buf));
        assert_true(len > 0);
        fb_engine_input(seed->e, &a[i], buf, (size_t)len, w.now);
    }
    assert_int_equal(tracked(seed), N + 1);
    for (int k = 0; k < 1000; k++) { /* the answers leave through the paced control queue */
        w.now += 1000;
        ns_tick(seed);
    }
    for (uint32_t i = 0; i <= N; i++) {
        int named = peers_named(&w, &a[i]);
        if (i >= 16 && i < JOIN_BURST - 1)
            assert_int_equal(named, 8); /* 8 drawn among 16 or more */
        else if (i >= JOIN_BURST - 1 && i < N)
            assert_int_equal(named, JOIN_BURST_PEERS); /* the 64th fresh join on */
        else if (i == N)
            assert_int_equal(named, 8);
    }
    ns_free(&w);
}

/* A peer answers an inviting TOKEN with its JOIN and, right behind it, its first REQUEST to
 * the seed (before any PEERS); a plain TOKEN gets the JOIN only. Both then complete. */
static void test_invited_peer_requests_early(void **state)
{
    (void)state;
    static ns_world w;
    uint8_t id[32];
    ns_node *seed = lone_seed(&w, 1000000, id);
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *p[2] = {ns_add(&w, false, 1000000, &stay), ns_add(&w, false, 1000000, &stay)};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(fb_engine_swarm_join(p[k]->e, p[k]->swarm, &seed->addr, w.now), 0);
        fb_wire_msg m;
        memset(&m, 0, sizeof(m));
        m.type = FB_MSG_TOKEN;
        memcpy(m.swarm, id, 8);
        memset(m.u.token.token, 0x5a + k, FB_TOKEN_LEN);
        m.u.token.observed = p[k]->addr;
        m.u.token.flags = k == 0 ? FB_TOKEN_REQUEST : 0;
        uint8_t buf[FB_MAX_DATAGRAM];
        int len = fb_wire_encode(&m, buf, sizeof(buf));
        assert_true(len > 0);
        size_t before = w.n_pkts;
        fb_engine_input(p[k]->e, &seed->addr, buf, (size_t)len, w.now);
        bool join = false, request = false;
        for (size_t i = before; i < w.n_pkts; i++) {
            fb_wire_msg r;
            assert_true(fb_addr_eq(&w.pkts[i].to, &seed->addr));
            assert_int_equal(fb_wire_decode(w.pkts[i].data, w.pkts[i].len, &r), 0);
            if (r.type == FB_MSG_JOIN) {
                assert_false(request); /* the JOIN goes first: the seed tracks us, then serves */
                assert_memory_equal(r.u.join.echo, m.u.token.token, FB_TOKEN_LEN);
                join = true;
            } else {
                assert_int_equal(r.type, FB_MSG_REQUEST);
                assert_true(r.u.request.n > 0);
                request = true;
            }
        }
        assert_true(join);
        assert_int_equal(request, k == 0);
    }
    /* The forged tokens do not validate at the seed: the peers join again and complete. */
    ns_run(&w, 10000000, ns_all_complete);
    assert_int_equal(p[0]->completes + p[1]->completes, 2);
    ns_free(&w);
}

/* 3000 JOINs (no token yet) in the same instant at a seed capped at 100 KB/s that may track 4096
 * peers: each gets its TOKEN (about 4.6 s of the cap), none is dropped for a full queue. With a
 * queue of max_pending (1024) answers, about 2000 were dropped and their peers waited a JOIN
 * retransmission. */
static void test_join_burst(void **state)
{
    (void)state;
    static ns_world w;
    uint8_t id[32];
    ns_node *seed = lone_seed(&w, 100000, id);
    fb_wire_msg m = join_msg(id);
    uint8_t buf[FB_MAX_DATAGRAM];
    enum { N = 3000 };
    for (uint32_t i = 0; i < N; i++) {
        m.u.join.node[0] = (uint8_t)(i >> 8);
        m.u.join.node[1] = (uint8_t)i;
        int len = fb_wire_encode(&m, buf, sizeof(buf));
        assert_true(len > 0);
        fb_addr from;
        fb_addr_set_v4(&from, 0x0b000000u + i, 5000); /* 11.0.0.0/8: not a node */
        fb_engine_input(seed->e, &from, buf, (size_t)len, w.now);
    }
    ns_tick(seed);
    uint64_t before = seed->dgrams_sent;
    assert_true(before < N); /* the cap holds most of them back */
    ns_run(&w, w.now + 10000000, NULL);
    assert_int_equal(seed->dgrams_sent, N);
    fb_engine_stats st;
    fb_engine_stats_get(seed->e, &st);
    assert_int_equal(st.dropped_cap, 0);
    ns_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_join_burst),
        cmocka_unit_test(test_token_invites_request),
        cmocka_unit_test(test_invited_peer_requests_early),
        cmocka_unit_test(test_address_token),
        cmocka_unit_test(test_request_behind_tokened_join),
        cmocka_unit_test(test_join_burst_quiet),
        cmocka_unit_test(test_join_burst_fewer_peers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
