/* Unit tests for core/wire: every message type round-trips, known bytes decode, every prefix
 * of a valid datagram is rejected (read right before a guard page), and the rules (caps,
 * version, padding, lengths, the 1200-byte limit) are enforced both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/chunk.h"
#include "core/intervals.h"
#include "core/wire.h"
#include "guard.h"

static const uint8_t sid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
static uint8_t ivbuf[64];
static uint8_t payload[FB_BLOCK_SIZE];

/* One sample of each type (no padding, so that every strict prefix is invalid). */
static int sample(int type, fb_wire_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->type = (uint8_t)type;
    memcpy(m->swarm, sid, 8);
    fb_iv st[4];
    fb_ivset s;
    fb_ivset_init(&s, st, 4);
    fb_ivset_add(&s, 3, 9);
    fb_ivset_add(&s, 200, 201);
    int ivn = fb_ivset_encode(&s, ivbuf, sizeof(ivbuf), 4, NULL);
    switch (type) {
    case FB_MSG_JOIN:
        m->u.join.flags = FB_JOIN_COMPLETE;
        m->u.join.want = 8;
        memset(m->u.join.node, 0xaa, FB_NODE_LEN);
        memset(m->u.join.echo, 0x55, FB_TOKEN_LEN);
        m->u.join.n_local = 2;
        fb_addr_set_v4(&m->u.join.local[0], 0xc0a80102, 4000);
        fb_addr_parse(&m->u.join.local[1], "[fe80::1]:4001", 14);
        break;
    case FB_MSG_TOKEN:
        memset(m->u.token.token, 9, FB_TOKEN_LEN);
        fb_addr_set_v4(&m->u.token.observed, 0xc0000201, 61000);
        m->u.token.flags = FB_TOKEN_REQUEST;
        break;
    case FB_MSG_PEERS:
        m->u.peers.flags = FB_PEERS_INTRO | FB_PEERS_TICKET;
        m->u.peers.count = 2;
        m->u.peers.peer[0].n = 1;
        memset(m->u.peers.peer[0].ticket, 0x71, FB_TICKET_LEN);
        memset(m->u.peers.peer[1].ticket, 0x72, FB_TICKET_LEN);
        fb_addr_set_v4(&m->u.peers.peer[0].addr[0], 0x01020304, 5);
        m->u.peers.peer[1].n = 2;
        fb_addr_set_v4(&m->u.peers.peer[1].addr[0], 0x05060708, 6);
        fb_addr_parse(&m->u.peers.peer[1].addr[1], "[2001:db8::1]:7", 15);
        break;
    case FB_MSG_HELLO:
        m->u.hello.flags = FB_HELLO_VALIDATED;
        memset(m->u.hello.node, 1, FB_NODE_LEN);
        memset(m->u.hello.token, 2, FB_TOKEN_LEN);
        memset(m->u.hello.echo, 3, FB_TOKEN_LEN);
        m->u.hello.have_count = 7;
        m->u.hello.iv = ivbuf;
        m->u.hello.iv_len = (size_t)ivn;
        break;
    case FB_MSG_HAVE:
        m->u.have.iv = ivbuf;
        m->u.have.iv_len = (size_t)ivn;
        break;
    case FB_MSG_REQUEST:
        m->u.request.ack_id = 0x11223344;
        m->u.request.ack_count = 15;
        m->u.request.ack_qd = 60;
        m->u.request.ack_spread = 330000;
        m->u.request.ack_flags = FB_ACK_PARTIAL;
        m->u.request.req_id = 0x55667788;
        m->u.request.n = 2;
        m->u.request.e[0].chunk = 10;
        m->u.request.e[0].mask = 0xffff;
        m->u.request.e[1].chunk = 11;
        m->u.request.e[1].mask = 0x3;
        break;
    case FB_MSG_DATA:
        m->u.data.req_id = 42;
        m->u.data.chunk = 99;
        m->u.data.block = 15;
        m->u.data.ts = 0x01020304;
        m->u.data.payload = payload;
        m->u.data.len = 700;
        break;
    case FB_MSG_BUSY:
        m->u.busy.req_id = 5;
        m->u.busy.retry_ms = 300;
        break;
    case FB_MSG_CANCEL:
        m->u.cancel.req_id = 6;
        break;
    case FB_MSG_REFER:
        m->u.refer.want = 2;
        break;
    case FB_MSG_BYE:
        m->u.bye.reason = FB_BYE_DONE;
        break;
    case FB_MSG_PING:
        break;
    case FB_MSG_QUEUED:
        m->u.queued.req_id = 77;
        m->u.queued.wait_ms = 1234;
        m->u.queued.chunk = 42;
        break;
    }
    return type;
}

static void test_roundtrip_all(void **state)
{
    (void)state;
    for (int i = 0; i < (int)sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7);
    for (int t = 1; t <= FB_MSG_MAX; t++) {
        fb_wire_msg m, d;
        sample(t, &m);
        uint8_t buf[FB_WIRE_MAX];
        int n = fb_wire_encode(&m, buf, sizeof(buf));
        assert_true(n >= FB_WIRE_HDR);
        assert_int_equal(buf[0], FB_WIRE_VERSION);
        assert_int_equal(buf[1], t);
        static const uint8_t zero[8];
        if (t != FB_MSG_DATA)
            assert_memory_equal(buf + 2, sid, 8);
        else
            assert_int_equal(fb_get32(buf + 2), 42); /* DATA: the req id follows the type */
        guard g;
        uint8_t *p = guard_copy(&g, buf, (size_t)n);
        assert_int_equal(fb_wire_decode(p, (size_t)n, &d), 0);
        assert_int_equal(d.type, t);
        assert_memory_equal(d.swarm, t == FB_MSG_DATA ? zero : sid, 8);
        /* Re-encoding the decoded message gives the same bytes. */
        uint8_t again[FB_WIRE_MAX];
        int n2 = fb_wire_encode(&d, again, sizeof(again));
        assert_int_equal(n2, n);
        assert_memory_equal(again, buf, (size_t)n);
        /* Every strict prefix is invalid (DATA's payload length is the datagram's, so only
         * its header prefixes are), and is read without overrun. */
        int upto = t == FB_MSG_DATA ? FB_WIRE_DATA_FIXED + 1 : n;
        for (int len = 0; len < upto; len++) {
            guard g2;
            uint8_t *q = guard_copy(&g2, buf, (size_t)len);
            if (fb_wire_decode(q, (size_t)len, &d) == 0)
                fail_msg("type %d: prefix of %d bytes accepted", t, len);
            guard_free(&g2);
        }
        /* An extra byte is rejected too (JOIN and HELLO accept only zero padding). */
        buf[n] = 1;
        assert_int_equal(fb_wire_decode(buf, (size_t)n + 1, &d), t == FB_MSG_DATA ? 0 : FB_EINVAL);
        guard_free(&g);
    }
}

static void test_known_bytes(void **state)
{
    (void)state;
    /* REQUEST, one entry, ack 0: the layout of docs/PROTOCOL.md. */
    static const uint8_t req[] = {1,    6,    1,    2,    3, 4, 5, 6, 7, 8, /* header */
                                  0,    0,    0,    0,                      /* ack id */
                                  0,                                        /* ack count */
                                  0,    0,                                  /* ack qd */
                                  0,    0,    0,    0,                      /* ack spread */
                                  0,                                        /* ack flags */
                                  0xde, 0xad, 0xbe, 0xef,                   /* req id */
                                  1,                                        /* n */
                                  0,    0,    1,    0,                      /* chunk 256 */
                                  0,    0,    0xff, 0xff};                  /* mask */
    fb_wire_msg m;
    assert_int_equal(fb_wire_decode(req, sizeof(req), &m), 0);
    assert_int_equal(m.type, FB_MSG_REQUEST);
    assert_int_equal(m.u.request.req_id, 0xdeadbeef);
    assert_int_equal(m.u.request.n, 1);
    assert_int_equal(m.u.request.e[0].chunk, 256);
    assert_int_equal(m.u.request.e[0].mask, 0xffff);
    /* DATA header helper == encoder. */
    uint8_t a[FB_WIRE_MAX], b[FB_WIRE_MAX];
    fb_wire_msg d;
    sample(FB_MSG_DATA, &d);
    int n = fb_wire_encode(&d, a, sizeof(a));
    assert_int_equal(fb_wire_data_header(b, 42, 99, 15, 0x01020304, NULL, 0), FB_WIRE_DATA_FIXED);
    memcpy(b + FB_WIRE_DATA_FIXED, payload, 700);
    assert_int_equal(n, FB_WIRE_DATA_FIXED + 700);
    assert_memory_equal(a, b, (size_t)n);
    /* DATA: no swarm id; block 2 with a HAVE of chunks [3, 5) riding before a 3-byte payload. */
    static const uint8_t data[] = {1,    7,            /* version, type */
                                   0,    0,    0,   9, /* req id */
                                   0,    0,    1,   0, /* chunk 256 */
                                   0x82,               /* HAVE flag | block 2 */
                                   0,    0,    0,   5, /* ts */
                                   0,    1,    3,   1, /* list: 1 interval, gap 3, len 2 */
                                   0xaa, 0xbb, 0xcc};  /* payload */
    assert_int_equal(fb_wire_decode(data, sizeof(data), &m), 0);
    assert_int_equal(m.type, FB_MSG_DATA);
    assert_int_equal(m.u.data.req_id, 9);
    assert_int_equal(m.u.data.chunk, 256);
    assert_int_equal(m.u.data.block, 2);
    assert_int_equal(m.u.data.ts, 5);
    assert_int_equal(m.u.data.iv_len, 4);
    assert_ptr_equal(m.u.data.iv, data + 15);
    assert_int_equal(m.u.data.len, 3);
    assert_ptr_equal(m.u.data.payload, data + 19);
    fb_ivwire w;
    uint32_t lo, hi;
    fb_ivwire_begin(&w, m.u.data.iv, m.u.data.iv_len);
    assert_true(fb_ivwire_next(&w, &lo, &hi));
    assert_int_equal(lo, 3);
    assert_int_equal(hi, 5);
    assert_false(fb_ivwire_next(&w, &lo, &hi));
    /* The helper writes the same header and list. */
    assert_int_equal(fb_wire_data_header(b, 9, 256, 2, 5, data + 15, 4), 19);
    assert_memory_equal(b, data, 19);
    /* Without the flag the same bytes are a 7-byte payload. */
    memcpy(b, data, sizeof(data));
    b[10] = 2;
    assert_int_equal(fb_wire_decode(b, sizeof(data), &m), 0);
    assert_null(m.u.data.iv);
    assert_int_equal(m.u.data.len, 7);
}

/* DATA with a HAVE riding along: round trip, every prefix up to the payload's first byte rejected
 * (read right before a guard page), a bad list or stray block bits rejected both ways. */
static void test_data_have(void **state)
{
    (void)state;
    fb_wire_msg m, d;
    sample(FB_MSG_DATA, &m);
    m.u.data.iv = ivbuf;
    fb_iv st[4];
    fb_ivset set;
    fb_ivset_init(&set, st, 4);
    fb_ivset_add(&set, 3, 9);
    fb_ivset_add(&set, 200, 201);
    m.u.data.iv_len = (size_t)fb_ivset_encode(&set, ivbuf, sizeof(ivbuf), 4, NULL);
    m.u.data.len = FB_BLOCK_SIZE;
    uint8_t buf[FB_WIRE_MAX + 64];
    int n = fb_wire_encode(&m, buf, sizeof(buf));
    assert_int_equal(n, FB_WIRE_DATA_FIXED + (int)m.u.data.iv_len + FB_BLOCK_SIZE);
    assert_int_equal(buf[FB_WIRE_DATA_HDR + 8], FB_DATA_HAVE | 15);
    guard g;
    uint8_t *p = guard_copy(&g, buf, (size_t)n);
    assert_int_equal(fb_wire_decode(p, (size_t)n, &d), 0);
    assert_int_equal(d.u.data.block, 15);
    assert_int_equal(d.u.data.iv_len, m.u.data.iv_len);
    assert_memory_equal(d.u.data.iv, ivbuf, m.u.data.iv_len);
    assert_int_equal(d.u.data.len, FB_BLOCK_SIZE);
    assert_memory_equal(d.u.data.payload, payload, FB_BLOCK_SIZE);
    uint8_t again[FB_WIRE_MAX];
    assert_int_equal(fb_wire_encode(&d, again, sizeof(again)), n);
    assert_memory_equal(again, buf, (size_t)n);
    guard_free(&g);
    for (size_t len = 0; len <= FB_WIRE_DATA_FIXED + m.u.data.iv_len; len++) {
        guard g2;
        uint8_t *q = guard_copy(&g2, buf, len);
        if (fb_wire_decode(q, len, &d) == 0)
            fail_msg("DATA with HAVE: prefix of %zu bytes accepted", len);
        guard_free(&g2);
    }
    /* The limit counts the list: a full block and a list past 1200 bytes is refused. */
    uint8_t big[200];
    fb_iv st2[64];
    fb_ivset set2;
    fb_ivset_init(&set2, st2, 64);
    for (uint32_t c = 0; c < 64; c++)
        fb_ivset_add(&set2, c * 1000, c * 1000 + 1);
    m.u.data.iv = big;
    m.u.data.iv_len = (size_t)fb_ivset_encode(&set2, big, sizeof(big), 64, NULL);
    assert_true(FB_WIRE_DATA_FIXED + m.u.data.iv_len + FB_BLOCK_SIZE > FB_WIRE_MAX);
    assert_int_equal(fb_wire_encode(&m, buf, sizeof(buf)), FB_E2BIG);
    /* A malformed list (a 6-byte varint) is refused by both sides. */
    static const uint8_t bad_iv[] = {0, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0, 0};
    m.u.data.iv = bad_iv;
    m.u.data.iv_len = sizeof(bad_iv);
    m.u.data.len = 10;
    assert_int_equal(fb_wire_encode(&m, buf, sizeof(buf)), FB_EINVAL);
    fb_wire_data_header(buf, 42, 99, 15, 0, NULL, 0);
    buf[FB_WIRE_DATA_HDR + 8] |= FB_DATA_HAVE;
    memcpy(buf + FB_WIRE_DATA_FIXED, bad_iv, sizeof(bad_iv));
    memset(buf + FB_WIRE_DATA_FIXED + sizeof(bad_iv), 0, 10);
    assert_int_equal(fb_wire_decode(buf, FB_WIRE_DATA_FIXED + sizeof(bad_iv) + 10, &d), FB_EINVAL);
    /* Bits 5 and 6 of the block byte are not a block. */
    fb_wire_data_header(buf, 42, 99, 15, 0, NULL, 0);
    buf[FB_WIRE_DATA_HDR + 8] = 0x40 | 3;
    assert_int_equal(fb_wire_decode(buf, FB_WIRE_DATA_FIXED + 10, &d), FB_EINVAL);
    /* A DATA is never shorter than its header and one payload byte, swarm id or not. */
    assert_int_equal(fb_wire_decode(buf, FB_WIRE_DATA_FIXED, &d), FB_EINVAL);
}

static void test_rules(void **state)
{
    (void)state;
    fb_wire_msg m, d;
    uint8_t buf[2048];
    /* Version and type. */
    sample(FB_MSG_PING, &m);
    int n = fb_wire_encode(&m, buf, sizeof(buf));
    buf[0] = 2;
    assert_int_equal(fb_wire_decode(buf, (size_t)n, &d), FB_EINVAL);
    buf[0] = 1;
    buf[1] = 0;
    assert_int_equal(fb_wire_decode(buf, (size_t)n, &d), FB_EINVAL);
    buf[1] = FB_MSG_MAX + 1;
    assert_int_equal(fb_wire_decode(buf, (size_t)n, &d), FB_EINVAL);
    /* JOIN padding: zeros are fine and counted, nonzero is not; never over 1200 bytes. */
    sample(FB_MSG_JOIN, &m);
    m.u.join.pad = 900;
    n = fb_wire_encode(&m, buf, sizeof(buf));
    assert_true(n > 900);
    assert_int_equal(fb_wire_decode(buf, (size_t)n, &d), 0);
    assert_int_equal(d.u.join.pad, 900);
    buf[n - 1] = 1;
    assert_int_equal(fb_wire_decode(buf, (size_t)n, &d), FB_EINVAL);
    m.u.join.pad = 1200;
    assert_int_equal(fb_wire_encode(&m, buf, sizeof(buf)), FB_E2BIG);
    memset(buf, 0, sizeof(buf));
    buf[0] = 1;
    buf[1] = FB_MSG_JOIN;
    assert_int_equal(fb_wire_decode(buf, 1201, &d), FB_EINVAL);
    /* Caps. */
    sample(FB_MSG_JOIN, &m);
    m.u.join.n_local = 5;
    assert_int_equal(fb_wire_encode(&m, buf, sizeof(buf)), FB_EINVAL);
    sample(FB_MSG_PEERS, &m);
    m.u.peers.count = 17;
    assert_int_equal(fb_wire_encode(&m, buf, sizeof(buf)), FB_EINVAL);
    sample(FB_MSG_PEERS, &m);
    m.u.peers.peer[0].addr[0].family = 5;
    assert_int_equal(fb_wire_encode(&m, buf, sizeof(buf)), FB_EINVAL);
    sample(FB_MSG_REQUEST, &m);
    m.u.request.e[1].mask = 0;
    assert_int_equal(fb_wire_encode(&m, buf, sizeof(buf)), FB_EINVAL);
    sample(FB_MSG_REQUEST, &m);
    m.u.request.e[1].chunk = FB_WIRE_ANY; /* ANY must be alone */
    assert_int_equal(fb_wire_encode(&m, buf, sizeof(buf)), FB_EINVAL);
    sample(FB_MSG_REQUEST, &m);
    m.u.request.req_id = 0;
    assert_int_equal(fb_wire_encode(&m, buf, sizeof(buf)), FB_EINVAL);
    /* A pure acknowledgement (n = 0) needs no request id. */
    m.u.request.n = 0;
    n = fb_wire_encode(&m, buf, sizeof(buf));
    assert_int_equal(n, FB_WIRE_REQUEST_FIXED);
    assert_int_equal(fb_wire_decode(buf, (size_t)n, &d), 0);
    /* ANY carries an exclusion list. */
    sample(FB_MSG_REQUEST, &m);
    m.u.request.n = 1;
    m.u.request.e[0].chunk = FB_WIRE_ANY;
    m.u.request.iv = ivbuf;
    uint8_t empty[2] = {0, 0};
    m.u.request.iv = empty;
    m.u.request.iv_len = 2;
    n = fb_wire_encode(&m, buf, sizeof(buf));
    assert_int_equal(fb_wire_decode(buf, (size_t)n, &d), 0);
    assert_int_equal(d.u.request.iv_len, 2);
    assert_int_equal(fb_wire_decode(buf, (size_t)n - 1, &d), FB_EINVAL);
    /* DATA payload sizes. */
    sample(FB_MSG_DATA, &m);
    m.u.data.len = FB_BLOCK_SIZE + 1;
    assert_int_equal(fb_wire_encode(&m, buf, sizeof(buf)), FB_EINVAL);
    m.u.data.len = FB_BLOCK_SIZE;
    n = fb_wire_encode(&m, buf, sizeof(buf));
    assert_true(n <= FB_WIRE_MAX);
    assert_int_equal(fb_wire_decode(buf, (size_t)n, &d), 0);
    assert_int_equal(d.u.data.len, FB_BLOCK_SIZE);
    assert_int_equal(fb_wire_decode(buf, FB_WIRE_DATA_FIXED, &d), FB_EINVAL); /* empty */
    m.u.data.block = 32;
    m.u.data.len = 10;
    assert_int_equal(fb_wire_encode(&m, buf, sizeof(buf)), FB_EINVAL);
    /* HELLO: COMPLETE has no list; the list must be valid. */
    sample(FB_MSG_HELLO, &m);
    m.u.hello.flags = FB_HELLO_COMPLETE;
    n = fb_wire_encode(&m, buf, sizeof(buf));
    assert_int_equal(n, FB_WIRE_HELLO_FIXED);
    assert_int_equal(fb_wire_decode(buf, (size_t)n, &d), 0);
    sample(FB_MSG_HELLO, &m);
    uint8_t badiv[] = {0, 2, 0, 0, 0, 0};
    m.u.hello.iv = badiv;
    m.u.hello.iv_len = sizeof(badiv);
    assert_int_equal(fb_wire_encode(&m, buf, sizeof(buf)), FB_EINVAL);
    /* REFER want range. */
    sample(FB_MSG_REFER, &m);
    m.u.refer.want = 0;
    assert_int_equal(fb_wire_encode(&m, buf, sizeof(buf)), FB_EINVAL);
    /* A small output buffer. */
    sample(FB_MSG_PEERS, &m);
    assert_int_equal(fb_wire_encode(&m, buf, 12), FB_E2BIG);
}

/* The largest PEERS fits in one datagram. */
static void test_max_sizes(void **state)
{
    (void)state;
    fb_wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type = FB_MSG_PEERS;
    m.u.peers.flags = FB_PEERS_TICKET;
    m.u.peers.count = FB_WIRE_MAX_PEERS;
    for (int i = 0; i < FB_WIRE_MAX_PEERS; i++) {
        m.u.peers.peer[i].n = 3;
        memset(m.u.peers.peer[i].ticket, i + 1, FB_TICKET_LEN);
        for (int k = 0; k < 3; k++)
            fb_addr_set_v4(&m.u.peers.peer[i].addr[k], (uint32_t)(i * 3 + k), 1);
    }
    uint8_t buf[FB_WIRE_MAX];
    int n = fb_wire_encode(&m, buf, sizeof(buf));
    assert_true(n > 0 && n <= FB_WIRE_MAX);
    fb_wire_msg d;
    assert_int_equal(fb_wire_decode(buf, (size_t)n, &d), 0);
    assert_int_equal(d.u.peers.count, FB_WIRE_MAX_PEERS);
    assert_true(fb_addr_eq(&d.u.peers.peer[15].addr[2], &m.u.peers.peer[15].addr[2]));
    assert_memory_equal(d.u.peers.peer[15].ticket, m.u.peers.peer[15].ticket, FB_TICKET_LEN);
    /* Without the flag the same entries come without tickets: 8 bytes fewer each. */
    m.u.peers.flags = 0;
    assert_int_equal(fb_wire_encode(&m, buf, sizeof(buf)), n - FB_WIRE_MAX_PEERS * FB_TICKET_LEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all), cmocka_unit_test(test_known_bytes),
        cmocka_unit_test(test_data_have),     cmocka_unit_test(test_rules),
        cmocka_unit_test(test_max_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
