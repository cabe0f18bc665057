/* Unit tests for the loop plumbing of net/engine_host, with a scripted stand-in for the engine
 * (defined here, so the real one is not linked): the timer honours the time the engine asks for,
 * a burst of datagrams is one batch with one tick, sends reach the socket, events and chunk
 * storage pass through, SHA-256 and random are right, local addresses are filled, and freeing
 * from inside an engine callback is safe. The real engine's download test is test_engine_host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <unistd.h>

#include "net/engine_host.c"

/* ---- the scripted engine ----------------------------------------------------------------- */

#define MAX_TICKS 256

struct fb_engine {
    fb_host host;
    fb_engine_config cfg;
    uint64_t interval_us; /* tick returns now + interval_us */
    uint64_t tick_at[MAX_TICKS], deadline[MAX_TICKS];
    unsigned ticks;
    unsigned inputs;
    uint64_t last_input_us, last_tick_us;
    fb_addr last_from;
    bool freed_in_event; /* set by the test's event callback */
};

static fb_engine *the_engine;

fb_engine *fb_engine_new(const fb_engine_config *cfg, const fb_host *host, uint64_t now_us)
{
    fb_engine *e = calloc(1, sizeof(*e));
    (void)now_us;
    if (cfg->upload_rate == 999)
        return free(e), NULL; /* lets a test see a refused config */
    e->host = *host;
    e->cfg = *cfg;
    e->interval_us = 1000000;
    the_engine = e;
    return e;
}

void fb_engine_free(fb_engine *e)
{
    if (e == the_engine)
        the_engine = NULL;
    free(e);
}

uint64_t fb_engine_tick(fb_engine *e, uint64_t now_us)
{
    if (e->ticks < MAX_TICKS) {
        e->tick_at[e->ticks] = now_us;
        e->deadline[e->ticks] = now_us + e->interval_us;
    }
    e->ticks++;
    e->last_tick_us = now_us;
    return now_us + e->interval_us;
}

/* Commands, by first byte: 'p' answers "pong"; 'e' emits an event; 'r' reads chunk data[1]
 * (10 bytes from byte 0) and sends them back; 'w' stores chunk data[1] from the rest; 'h'
 * sends back the SHA-256 of the rest. */
void fb_engine_input(fb_engine *e, const fb_addr *from, const uint8_t *data, size_t len,
                     uint64_t now_us)
{
    uint8_t buf[64];
    e->inputs++;
    e->last_input_us = now_us;
    e->last_from = *from;
    switch (data[0]) {
    case 'p':
        e->host.send(e->host.ctx, from, (const uint8_t *)"pong", 4);
        break;
    case 'e': {
        fb_event ev = {.type = FB_EV_CHUNK_VERIFIED, .swarm = 2, .chunk = 7, .peer = *from};
        e->host.event(e->host.ctx, &ev);
        break;
    }
    case 'r':
        if (e->host.chunk_read(e->host.ctx, 0, data[1], 0, buf, 10) == 0)
            e->host.send(e->host.ctx, from, buf, 10);
        else
            e->host.send(e->host.ctx, from, (const uint8_t *)"none", 4);
        break;
    case 'w':
        e->host.chunk_write(e->host.ctx, 0, data[1], data + 2, len - 2);
        break;
    case 'h':
        e->host.sha256(e->host.ctx, data + 1, len - 1, buf);
        e->host.send(e->host.ctx, from, buf, 32);
        break;
    }
}

/* ---- helpers ----------------------------------------------------------------------------- */

typedef struct app {
    fb_engine_host *h;
    unsigned events;
    fb_event last;
    bool free_on_event;
} app;

static void on_event(void *ctx, const fb_event *ev)
{
    app *a = ctx;
    a->events++;
    a->last = *ev;
    if (a->free_on_event) {
        fb_engine_host_free(a->h);
        a->h = NULL;
    }
}

static int dummy_read(void *ctx, int swarm, uint32_t chunk, size_t off, uint8_t *buf, size_t len)
{
    (void)ctx, (void)swarm, (void)chunk, (void)off, (void)buf, (void)len;
    return FB_ENOENT;
}

static fb_engine_host_config base_config(app *a, fb_memstore *ms)
{
    fb_engine_host_config c;
    memset(&c, 0, sizeof(c));
    c.engine.role = FB_ROLE_SEED;
    c.engine.upload_rate = 1000000;
    fb_addr_set_v4(&c.bind, 0x7f000001, 0);
    c.store = ms ? fb_memstore_as_store(ms) : (fb_chunk_store){.read = dummy_read};
    c.on_event = on_event;
    c.ctx = a;
    return c;
}

/* A plain UDP socket on 127.0.0.1 that talks to the host. */
typedef struct client {
    int fd;
    struct sockaddr_storage to;
    socklen_t tolen;
    fb_addr self;
} client;

static void client_open(client *c, fb_engine_host *h)
{
    fb_addr a;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t len = sizeof(sin);
    assert_int_equal(fb_engine_host_local_addr(h, &a), 0);
    assert_int_equal(fb_sockaddr_from_addr(&c->to, &c->tolen, &a, false), 0);
    c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(c->fd >= 0);
    assert_int_equal(bind(c->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(c->fd, (struct sockaddr *)&sin, &len), 0);
    assert_int_equal(fb_sockaddr_to_addr(&c->self, (struct sockaddr *)&sin), 0);
}

static void client_send(client *c, const void *data, size_t len)
{
    assert_int_equal(sendto(c->fd, data, len, 0, (struct sockaddr *)&c->to, c->tolen),
                     (ssize_t)len);
}

/* Runs the loop until the client has an answer (or 2 s pass); returns its length or -1. */
static ssize_t client_recv(client *c, uv_loop_t *loop, uint8_t *buf, size_t cap)
{
    uint64_t end = uv_hrtime() + 2000000000ull;
    while (uv_hrtime() < end) {
        ssize_t n = recv(c->fd, buf, cap, 0);
        if (n >= 0)
            return n;
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    return -1;
}

static void run_for(uv_loop_t *loop, unsigned ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000;
    while (uv_hrtime() < end)
        uv_run(loop, UV_RUN_ONCE); /* the host's timer keeps waking it */
}

static void finish(uv_loop_t *loop)
{
    for (int i = 0; i < 20; i++)
        uv_run(loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_timer_follows_engine(void **state)
{
    (void)state;
    uv_loop_t loop;
    app a = {0};
    fb_engine_host_config c = base_config(&a, NULL);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(fb_engine_host_new(&loop, &c, &a.h), 0);
    fb_engine *e = fb_engine_host_engine(a.h);
    assert_ptr_equal(e, the_engine);
    assert_int_equal(e->ticks, 1); /* ticked once at start */
    e->interval_us = 20000;        /* from now on, every 20 ms */
    fb_engine_host_kick(a.h);
    assert_int_equal(e->ticks, 2);
    run_for(&loop, 300);
    print_message("# %u ticks in 300 ms at a 20 ms interval\n", e->ticks);
    /* About 15 more; a loaded machine may deliver fewer, never more. */
    assert_true(e->ticks >= 2 + 3 && e->ticks <= 2 + 17); /* 300 / 18 + 1 */
    for (unsigned i = 2; i < e->ticks && i < MAX_TICKS; i++) {
        /* Never more than 2 ms before the time asked for (libuv's millisecond clock). */
        assert_true(e->tick_at[i] + 2000 >= e->deadline[i - 1]);
    }
    fb_engine_host_stats st;
    fb_engine_host_stats_get(a.h, &st);
    assert_int_equal(st.ticks, e->ticks);
    fb_engine_host_free(a.h);
    assert_null(the_engine);
    finish(&loop);
}

static void test_batch_and_send(void **state)
{
    (void)state;
    uv_loop_t loop;
    app a = {0};
    client cl;
    uint8_t buf[64];
    fb_engine_host_config c = base_config(&a, NULL);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(fb_engine_host_new(&loop, &c, &a.h), 0);
    fb_engine *e = fb_engine_host_engine(a.h);
    client_open(&cl, a.h);
    /* 60 datagrams before the loop runs: they arrive in a few batches, one tick each. */
    for (int i = 0; i < 60; i++)
        client_send(&cl, "x", 1);
    unsigned ticks0 = e->ticks;
    uint64_t end = uv_hrtime() + 2000000000ull;
    while (e->inputs < 60 && uv_hrtime() < end)
        uv_run(&loop, UV_RUN_ONCE);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(e->inputs, 60);
    fb_engine_host_stats st;
    fb_engine_host_stats_get(a.h, &st);
    print_message("# 60 datagrams in %" PRIu64 " batches, %u ticks\n", st.batches,
                  e->ticks - ticks0);
    assert_int_equal(st.inputs, 60);
    assert_true(st.batches >= 1 && st.batches <= 10);
    assert_true(e->ticks - ticks0 >= st.batches);
    assert_true(e->ticks - ticks0 < 60);
    assert_true(e->last_tick_us >= e->last_input_us); /* a tick followed the last input */
    assert_true(fb_addr_eq(&e->last_from, &cl.self));

    /* The engine's send reaches the sender. */
    client_send(&cl, "p", 1);
    assert_int_equal(client_recv(&cl, &loop, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "pong", 4);
    fb_udp_stats us;
    fb_engine_host_udp_stats(a.h, &us);
    assert_int_equal(us.dgrams_out, 1);
    assert_int_equal(us.dgrams_in, 61);

    /* Oversized datagrams never reach the engine. */
    static uint8_t big[1500];
    big[0] = 'p';
    client_send(&cl, big, sizeof(big));
    client_send(&cl, "p", 1);
    assert_int_equal(client_recv(&cl, &loop, buf, sizeof(buf)), 4);
    assert_int_equal(e->inputs, 62);
    fb_engine_host_udp_stats(a.h, &us);
    assert_int_equal(us.drop_oversize, 1);
    close(cl.fd);
    fb_engine_host_free(a.h);
    finish(&loop);
}

static void test_events_and_store(void **state)
{
    (void)state;
    uv_loop_t loop;
    app a = {0};
    client cl;
    fb_memstore ms;
    uint8_t buf[64], chunk[100];
    const uint64_t sizes[] = {100, 100};
    assert_int_equal(fb_memstore_init_objects(&ms, sizes, 2, 1024, 1000), 0);
    for (int i = 0; i < 100; i++)
        chunk[i] = (uint8_t)(i * 5);
    assert_int_equal(fb_memstore_put(&ms, 1, chunk, 100), 0);
    fb_engine_host_config c = base_config(&a, &ms);
    c.engine.role = FB_ROLE_PEER;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(fb_engine_host_new(&loop, &c, &a.h), 0);
    client_open(&cl, a.h);

    client_send(&cl, "e", 1);
    client_send(&cl, "p", 1);
    assert_int_equal(client_recv(&cl, &loop, buf, sizeof(buf)), 4);
    assert_int_equal(a.events, 1);
    assert_int_equal(a.last.type, FB_EV_CHUNK_VERIFIED);
    assert_int_equal(a.last.chunk, 7);
    assert_true(fb_addr_eq(&a.last.peer, &cl.self));

    client_send(&cl, "r\x01", 2); /* held */
    assert_int_equal(client_recv(&cl, &loop, buf, sizeof(buf)), 10);
    assert_memory_equal(buf, chunk, 10);
    client_send(&cl, "r\x00", 2); /* not held */
    assert_int_equal(client_recv(&cl, &loop, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "none", 4);

    uint8_t w[102] = {'w', 0};
    memset(w + 2, 0xab, 100);
    client_send(&cl, w, sizeof(w));
    client_send(&cl, "r\x00", 2);
    assert_int_equal(client_recv(&cl, &loop, buf, sizeof(buf)), 10);
    assert_true(fb_memstore_has(&ms, 0));
    assert_int_equal(buf[0], 0xab);

    /* SHA-256 through the host: FIPS 180-2's "abc" vector. */
    static const uint8_t abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                    0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                    0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    client_send(&cl, "habc", 4);
    assert_int_equal(client_recv(&cl, &loop, buf, sizeof(buf)), 32);
    assert_memory_equal(buf, abc, 32);
    close(cl.fd);
    fb_engine_host_free(a.h);
    finish(&loop);
    fb_memstore_fini(&ms);
}

static void test_sha256_and_random(void **state)
{
    (void)state;
    uv_loop_t loop;
    app a = {0};
    fb_engine_host_config c = base_config(&a, NULL);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(fb_engine_host_new(&loop, &c, &a.h), 0);
    /* The reused digest context gives the one-shot answer, call after call. */
    size_t n = 1 << 20;
    uint8_t *data = malloc(n), got[32], want[32];
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)(i ^ (i >> 8));
    for (int k = 0; k < 3; k++) {
        size_t len = n >> k;
        host_sha256(a.h, data, len, got);
        assert_int_equal(EVP_Digest(data, len, want, NULL, EVP_sha256(), NULL), 1);
        assert_memory_equal(got, want, 32);
    }
    free(data);
    uint8_t r1[32] = {0}, r2[32] = {0}, zero[32] = {0};
    host_random(a.h, r1, sizeof(r1));
    host_random(a.h, r2, sizeof(r2));
    assert_memory_not_equal(r1, zero, 32);
    assert_memory_not_equal(r1, r2, 32);
    fb_engine_host_free(a.h);
    finish(&loop);
}

static void test_local_addrs(void **state)
{
    (void)state;
    uv_loop_t loop;
    app a = {0};
    fb_addr bound, list[16];
    size_t n;
    assert_int_equal(uv_loop_init(&loop), 0);

    /* Bound to one address: that address is the only local one. */
    fb_engine_host_config c = base_config(&a, NULL);
    c.engine.role = FB_ROLE_PEER;
    c.store.write = NULL;
    assert_int_equal(fb_engine_host_new(&loop, &c, &a.h), FB_EINVAL); /* a peer must store */
    c = base_config(&a, NULL);
    c.find_local_addrs = true;
    assert_int_equal(fb_engine_host_new(&loop, &c, &a.h), 0);
    assert_int_equal(fb_engine_host_local_addr(a.h, &bound), 0);
    assert_int_equal(the_engine->cfg.n_local_addrs, 1);
    assert_true(fb_addr_eq(&the_engine->cfg.local_addrs[0], &bound));
    fb_engine_host_free(a.h);

    /* Bound to 0.0.0.0: the IPv4 interface addresses, with the bound port. */
    fb_addr_set_v4(&c.bind, 0, 0);
    assert_int_equal(fb_engine_host_new(&loop, &c, &a.h), 0);
    assert_int_equal(fb_engine_host_local_addr(a.h, &bound), 0);
    assert_int_not_equal(bound.port, 0);
    assert_int_equal(fb_sockaddr_local_addrs(list, 16, bound.port, &n), 0);
    size_t v4 = 0;
    for (size_t i = 0; i < n; i++)
        if (list[i].family == 4 && v4 < 4)
            assert_true(fb_addr_eq(&the_engine->cfg.local_addrs[v4++], &list[i]));
    assert_int_equal(the_engine->cfg.n_local_addrs, v4);
    fb_engine_host_free(a.h);

    /* An engine that refuses its config, and a port in use, fail cleanly. */
    fb_addr_set_v4(&c.bind, 0x7f000001, 0);
    c.engine.upload_rate = 999;
    assert_int_equal(fb_engine_host_new(&loop, &c, &a.h), FB_EINVAL);
    assert_null(a.h);
    c.engine.upload_rate = 1000;
    fb_engine_host *first;
    assert_int_equal(fb_engine_host_new(&loop, &c, &first), 0);
    assert_int_equal(fb_engine_host_local_addr(first, &c.bind), 0);
    assert_int_equal(fb_engine_host_new(&loop, &c, &a.h), UV_EADDRINUSE);
    fb_engine_host_free(first);
    finish(&loop);
}

static void test_free_from_event(void **state)
{
    (void)state;
    uv_loop_t loop;
    app a = {.free_on_event = true};
    client cl;
    fb_engine_host_config c = base_config(&a, NULL);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(fb_engine_host_new(&loop, &c, &a.h), 0);
    client_open(&cl, a.h);
    client_send(&cl, "e", 1);
    client_send(&cl, "e", 1); /* same batch: must not reach a freed engine */
    uint64_t end = uv_hrtime() + 2000000000ull;
    while (a.h != NULL && uv_hrtime() < end)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_null(a.h);
    assert_int_equal(a.events, 1);
    assert_null(the_engine);
    close(cl.fd);
    finish(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_follows_engine), cmocka_unit_test(test_batch_and_send),
        cmocka_unit_test(test_events_and_store),     cmocka_unit_test(test_sha256_and_random),
        cmocka_unit_test(test_local_addrs),          cmocka_unit_test(test_free_from_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
