/* Edge cases of the handshake and the join (tests/unit/netsim.h, a fake clock): a HELLO that
 * names chunks past the page is dropped before any answer; a silent new neighbour gets our HELLO
 * again once, not at every tick; a draining peer takes no introductions; a keepalive JOIN whose
 * token expired stays a keepalive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/wire.h"
#include "engine/internal.h"
#include "netsim.h"

static const uint64_t sizes[] = {200000};

#define LAT_US 10000

/* A stranger's address, outside the world: what is sent there is never delivered. */
static fb_addr stranger(uint8_t last)
{
    fb_addr a;
    fb_addr_set_v4(&a, 0x0a090900u | last, 4000);
    return a;
}

/* Runs w in steps of half the latency until `until`, counting the datagrams of `type` sent from
 * `from` to `to` that arrive after `after` (each is seen in the queue at least once before it is
 * delivered; one seen twice, by its arrival time, is counted once). */
static int run_count(ns_world *w, const fb_addr *from, const fb_addr *to, uint8_t type,
                     uint64_t after, uint64_t until)
{
    uint64_t seen[64];
    int k = 0, n = 0;
    while (w->now < until) {
        ns_run(w, w->now + LAT_US / 2, NULL);
        for (size_t i = 0; i < w->n_pkts; i++) {
            const ns_pkt *p = &w->pkts[i];
            fb_wire_msg m;
            if (p->t <= after || !fb_addr_eq(&p->from, from) || !fb_addr_eq(&p->to, to) ||
                fb_wire_decode(p->data, p->len, &m) || m.type != type)
                continue;
            bool dup = false;
            for (int j = 0; j < k; j++)
                dup |= seen[j] == p->t;
            if (dup)
                continue;
            if (k < 64)
                seen[k++] = p->t;
            n++;
        }
    }
    return n;
}

/* A joined peer (linger forever, the seed slow so that it stays incomplete). */
static ns_node *joined_peer(ns_world *w, ns_node **seed_out)
{
    ns_init(w, LAT_US, 0);
    ns_page(w, sizes, 1);
    ns_node *seed = ns_add(w, true, 20000, NULL);
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *a = ns_add(w, false, 1000000, &stay);
    assert_int_equal(fb_engine_swarm_join(a->e, a->swarm, &seed->addr, w->now), 0);
    ns_tick(a);
    ns_run(w, w->now + 300000, NULL);
    assert_true(ns_swarm(a)->joined);
    *seed_out = seed;
    return a;
}

static void hello_of(fb_wire_msg *m, uint8_t flags)
{
    memset(m, 0, sizeof(*m));
    m->type = FB_MSG_HELLO;
    m->u.hello.flags = flags;
    memset(m->u.hello.node, 0x77, FB_NODE_LEN);
    memset(m->u.hello.token, 0x55, FB_TOKEN_LEN);
}

/* Writes into iv (16 bytes) the interval list of chunk c alone; returns its length. */
static size_t one_chunk(uint8_t *iv, uint32_t c)
{
    fb_iv store[1];
    fb_ivset set;
    fb_ivset_init(&set, store, 1);
    assert_int_equal(fb_ivset_add(&set, c, c + 1), 0);
    int len = fb_ivset_encode(&set, iv, 16, 1, NULL);
    assert_true(len > 0);
    return (size_t)len;
}

/* Datagrams sent to `to` since the world's log held `before` of them. */
static int sent_to(const ns_world *w, size_t before, const fb_addr *to)
{
    int n = 0;
    for (size_t i = before; i < w->n_pkts; i++)
        n += fb_addr_eq(&w->pkts[i].to, to);
    return n;
}

static void test_hello_past_the_page_dropped(void **state)
{
    (void)state;
    static ns_world w;
    ns_node *seed;
    ns_node *a = joined_peer(&w, &seed);
    fb_addr b = stranger(9);
    uint8_t iv[16];
    fb_wire_msg m;
    hello_of(&m, 0);
    m.u.hello.iv = iv;
    m.u.hello.iv_len = one_chunk(iv, ns_swarm(a)->n_chunks + 3);
    m.u.hello.have_count = 1;
    uint64_t invalid = ns_stats(a).dropped_invalid;
    size_t before = w.n_pkts;
    ns_feed(&w, a, &b, &m);
    assert_int_equal(ns_stats(a).dropped_invalid, invalid + 1);
    assert_int_equal(sent_to(&w, before, &b), 0); /* no answer, not even the stateless one */
    /* The same HELLO naming a chunk of the page is answered. */
    m.u.hello.iv_len = one_chunk(iv, 2);
    before = w.n_pkts;
    ns_feed(&w, a, &b, &m);
    assert_int_equal(sent_to(&w, before, &b), 1);
    ns_free(&w);
}

static void test_silent_neighbour_rehello_once(void **state)
{
    (void)state;
    static ns_world w;
    ns_node *seed;
    ns_node *a = joined_peer(&w, &seed);
    fb_addr b = stranger(10);
    /* b's HELLO, a's stateless answer carries a's token for b. */
    fb_wire_msg m;
    hello_of(&m, FB_HELLO_COMPLETE);
    size_t before = w.n_pkts;
    ns_feed(&w, a, &b, &m);
    uint8_t tok[FB_TOKEN_LEN];
    bool got = false;
    for (size_t i = before; i < w.n_pkts; i++) {
        fb_wire_msg r;
        if (fb_addr_eq(&w.pkts[i].to, &b) && !fb_wire_decode(w.pkts[i].data, w.pkts[i].len, &r) &&
            r.type == FB_MSG_HELLO) {
            memcpy(tok, r.u.hello.token, FB_TOKEN_LEN);
            got = true;
        }
    }
    assert_true(got);
    /* Step 3 from b (VALIDATED, the echo): a adds b, which holds one chunk, and asks it. */
    hello_of(&m, FB_HELLO_VALIDATED);
    memcpy(m.u.hello.echo, tok, FB_TOKEN_LEN);
    static const uint8_t one[] = {0, 1, 20, 0}; /* the list: chunk 20 only */
    m.u.hello.iv = one;
    m.u.hello.iv_len = sizeof(one);
    m.u.hello.have_count = 1;
    uint32_t active = ns_swarm(a)->n_active;
    ns_feed(&w, a, &b, &m);
    ns_tick(a);
    assert_int_equal(ns_swarm(a)->n_active, active + 1);
    /* b never answers: the request times out and a repeats its HELLO (the last one may have
     * been lost), once, not at every tick while it waits for b. (The stateless answer above is
     * still on its way: only what arrives after it counts.) */
    int hellos = run_count(&w, &a->addr, &b, FB_MSG_HELLO, w.now + LAT_US * 2, w.now + 3000000);
    assert_int_equal(hellos, 1);
    ns_free(&w);
}

static bool first_complete(ns_world *w)
{
    return w->node[1].completes > 0;
}

static void test_draining_takes_no_introduction(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, LAT_US, 0);
    ns_page(&w, sizes, 1);
    ns_node *seed = ns_add(&w, true, 2000000, NULL);
    ns_node *a = ns_add(&w, false, 1000000, NULL); /* linger 0: drains once complete */
    assert_int_equal(fb_engine_swarm_join(a->e, a->swarm, &seed->addr, w.now), 0);
    ns_tick(a);
    ns_run(&w, w.now + 5000000, first_complete);
    assert_true(a->completes > 0);
    assert_true(ns_swarm(a)->draining);
    /* The seed introduces a newcomer: a draining peer would refuse its answer, so it sends it
     * nothing. */
    fb_addr c = stranger(11);
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_PEERS;
    m.u.peers.flags = FB_PEERS_INTRO;
    m.u.peers.count = 1;
    m.u.peers.peer[0].n = 1;
    m.u.peers.peer[0].addr[0] = c;
    size_t before = w.n_pkts;
    ns_feed(&w, a, &seed->addr, &m);
    ns_tick(a);
    assert_int_equal(sent_to(&w, before, &c), 0);
    assert_int_equal(run_count(&w, &a->addr, &c, FB_MSG_HELLO, 0, w.now + 1000000), 0);
    ns_free(&w);
}

/* The HELLO a sent to `to` since the log held `before` datagrams (the last one); false if none. */
static bool last_hello_to(const ns_world *w, size_t before, const fb_addr *to, fb_wire_msg *out)
{
    bool found = false;
    for (size_t i = before; i < w->n_pkts; i++) {
        fb_wire_msg m;
        if (fb_addr_eq(&w->pkts[i].to, to) &&
            fb_wire_decode(w->pkts[i].data, w->pkts[i].len, &m) == 0 && m.type == FB_MSG_HELLO) {
            *out = m;
            found = true;
        }
    }
    return found;
}

/* PEERS naming `who` (with a ticket, if not NULL), fed to a as from `from`. */
static void feed_peers(ns_world *w, ns_node *a, const fb_addr *from, const fb_addr *who,
                       const uint8_t *ticket)
{
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_PEERS;
    m.u.peers.flags = FB_PEERS_INTRO | (ticket ? FB_PEERS_TICKET : 0);
    m.u.peers.count = 1;
    m.u.peers.peer[0].n = 1;
    m.u.peers.peer[0].addr[0] = *who;
    if (ticket)
        memcpy(m.u.peers.peer[0].ticket, ticket, FB_TICKET_LEN);
    ns_feed(w, a, from, &m);
}

/* The seed's introduction ticket: a's HELLO to the peer named echoes it, and that peer's HELLO
 * echoing it is validated at once (a adds it and answers VALIDATED: a round trip less than the
 * token exchange); a wrong ticket gets the stateless answer, and a ticket in a neighbour's PEERS
 * counts for nothing. */
static void test_introduction_ticket(void **state)
{
    (void)state;
    static ns_world w;
    ns_node *seed;
    ns_node *a = joined_peer(&w, &seed);
    fb_addr b = stranger(9), c = stranger(10);
    const uint8_t ticket[FB_TICKET_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
    size_t before = w.n_pkts;
    feed_peers(&w, a, &seed->addr, &b, ticket);
    fb_wire_msg out;
    assert_true(last_hello_to(&w, before, &b, &out));
    assert_memory_equal(out.u.hello.echo, ticket, FB_TICKET_LEN);
    static const uint8_t zero[FB_TOKEN_LEN];
    assert_memory_equal(out.u.hello.echo + FB_TICKET_LEN, zero, FB_TOKEN_LEN - FB_TICKET_LEN);
    /* A wrong ticket: the stateless answer (our token to echo, theirs echoed), no neighbour. */
    fb_wire_msg m;
    hello_of(&m, 0);
    memcpy(m.u.hello.echo, ticket, FB_TICKET_LEN);
    m.u.hello.echo[7] ^= 1;
    m.u.hello.flags = FB_HELLO_COMPLETE;
    before = w.n_pkts;
    ns_feed(&w, a, &b, &m);
    assert_int_equal(ns_swarm(a)->n_active, 0);
    assert_true(last_hello_to(&w, before, &b, &out));
    assert_int_equal(out.u.hello.flags & FB_HELLO_VALIDATED, 0);
    assert_memory_equal(out.u.hello.echo, m.u.hello.token, FB_TOKEN_LEN);
    /* The right one: b is a neighbour now, answered with VALIDATED. */
    m.u.hello.echo[7] ^= 1;
    before = w.n_pkts;
    ns_feed(&w, a, &b, &m);
    assert_int_equal(ns_swarm(a)->n_active, 1);
    assert_true(last_hello_to(&w, before, &b, &out));
    assert_true(out.u.hello.flags & FB_HELLO_VALIDATED);
    assert_memory_equal(out.u.hello.echo, m.u.hello.token, FB_TOKEN_LEN);
    /* b, a neighbour, names c with a ticket: c's HELLO echoing it is not validated. */
    feed_peers(&w, a, &b, &c, ticket);
    hello_of(&m, FB_HELLO_COMPLETE);
    memset(m.u.hello.node, 0x78, FB_NODE_LEN);
    memcpy(m.u.hello.echo, ticket, FB_TICKET_LEN);
    before = w.n_pkts;
    ns_feed(&w, a, &c, &m);
    assert_int_equal(ns_swarm(a)->n_active, 1);
    assert_true(last_hello_to(&w, before, &c, &out));
    assert_int_equal(out.u.hello.flags & FB_HELLO_VALIDATED, 0);
    ns_free(&w);
}

static void test_keepalive_stays_keepalive(void **state)
{
    (void)state;
    static ns_world w;
    ns_init(&w, LAT_US, 0);
    ns_page(&w, sizes, 1);
    ns_node *seed = ns_add(&w, true, 2000000, NULL);
    fb_engine_config stay = {.linger_ms = FB_LINGER_FOREVER};
    ns_node *a = ns_add(&w, false, 1000000, &stay);
    assert_int_equal(fb_engine_swarm_join(a->e, a->swarm, &seed->addr, w.now), 0);
    ns_tick(a);
    ns_run(&w, w.now + 5000000, first_complete);
    assert_true(a->completes > 0);
    /* Complete and lingering: JOIN(want 0) every 20 s keeps the tracker entry. Over 3 minutes
     * the seed's tokens expire (30 to 60 s), so some keepalives get a TOKEN; the JOIN that
     * echoes it wants no peers either. */
    int want = 0, tokens = 0, joins = 0;
    uint64_t until = w.now + 180000000;
    uint64_t seen[128];
    int k = 0;
    while (w.now < until) {
        ns_run(&w, w.now + LAT_US / 2, NULL);
        for (size_t i = 0; i < w.n_pkts; i++) {
            const ns_pkt *p = &w.pkts[i];
            fb_wire_msg m;
            if (fb_wire_decode(p->data, p->len, &m))
                continue;
            bool dup = false;
            for (int j = 0; j < k; j++)
                dup |= seen[j] == p->t;
            if (dup)
                continue;
            if (fb_addr_eq(&p->from, &a->addr) && m.type == FB_MSG_JOIN) {
                joins++;
                want += m.u.join.want > 0;
            } else if (fb_addr_eq(&p->from, &seed->addr) && m.type == FB_MSG_TOKEN) {
                tokens++;
            } else {
                continue;
            }
            if (k < 128)
                seen[k++] = p->t;
        }
    }
    assert_true(joins >= 8);
    assert_true(tokens >= 1);
    assert_int_equal(want, 0);
    ns_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_past_the_page_dropped),
        cmocka_unit_test(test_silent_neighbour_rehello_once),
        cmocka_unit_test(test_draining_takes_no_introduction),
        cmocka_unit_test(test_introduction_ticket),
        cmocka_unit_test(test_keepalive_stays_keepalive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
