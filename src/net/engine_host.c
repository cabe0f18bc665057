/* The engine's host on a libuv loop. Input: every datagram the UDP endpoint delivers goes to
 * fb_engine_input at once; after the loop's poll phase (a uv_check handle) the engine is ticked
 * once for the whole batch and its timer re-armed to the time it asked for. Output: the engine's
 * datagrams are queued in the UDP endpoint and flushed together (sendmmsg, UDP_SEGMENT for runs
 * to one neighbour) after every tick and before the loop polls (a uv_prepare handle), so none
 * waits past the current loop turn; a full socket buffer drops, as UDP may. */
#include "net/engine_host.h"

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

#include "net/sockaddr.h"

#define MAX_SLEEP_MS (60 * 60 * 1000) /* the timer never sleeps longer, whatever is asked */

struct fb_engine_host {
    uv_loop_t *loop;
    fb_engine *engine;
    fb_udp *udp;
    uv_timer_t timer;
    uv_check_t check;
    uv_prepare_t prepare; /* flushes what engine calls from outside the host queued */
    fb_chunk_store store;
    fb_engine_host_event_cb on_event;
    void *ctx;
    EVP_MD *sha256;
    EVP_MD_CTX *md;
    bool input_pending;  /* datagrams went in since the last tick */
    int in_engine;       /* depth of our calls into the engine */
    bool free_requested; /* fb_engine_host_free was called from inside the engine */
    bool closing;
    unsigned open_handles;
    fb_engine_host_stats st;
};

uint64_t fb_engine_host_now(void)
{
    return uv_hrtime() / 1000;
}

/* ---- the engine's host callbacks --------------------------------------------------------- */

static void host_send(void *ctx, const fb_addr *to, const uint8_t *data, size_t len)
{
    fb_engine_host *h = ctx;
    fb_udp_stats a, b;
    fb_udp_stats_get(h->udp, &a);
    (void)fb_udp_queue(h->udp, to, data, len); /* a full queue flushes first */
    fb_udp_stats_get(h->udp, &b);
    h->st.send_full += b.drop_send_full - a.drop_send_full;
}

/* Sends what the engine queued. */
static void flush(fb_engine_host *h)
{
    fb_udp_stats a, b;
    if (h->udp == NULL || fb_udp_queued(h->udp) == 0)
        return;
    fb_udp_stats_get(h->udp, &a);
    fb_udp_flush(h->udp);
    fb_udp_stats_get(h->udp, &b);
    h->st.send_full += b.drop_send_full - a.drop_send_full;
}

static void host_event(void *ctx, const fb_event *ev)
{
    fb_engine_host *h = ctx;
    if (h->on_event)
        h->on_event(h->ctx, ev);
}

static void host_sha256(void *ctx, const uint8_t *data, size_t len, uint8_t out[32])
{
    fb_engine_host *h = ctx;
    unsigned n = 0;
    if (EVP_DigestInit_ex(h->md, h->sha256, NULL) == 1 && EVP_DigestUpdate(h->md, data, len) == 1 &&
        EVP_DigestFinal_ex(h->md, out, &n) == 1 && n == 32)
        return;
    /* Cannot happen with a working libcrypto; a wrong hash would ban honest peers, so stop. */
    fprintf(stderr, "flashback: OpenSSL SHA-256 failed\n");
    abort();
}

static void host_random(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    while (len > 0) {
        int n = len > INT_MAX ? INT_MAX : (int)len;
        if (RAND_bytes(buf, n) != 1) {
            /* No secure randomness: tokens would be guessable. Refuse to go on. */
            fprintf(stderr, "flashback: OpenSSL RAND_bytes failed\n");
            abort();
        }
        buf += n;
        len -= (size_t)n;
    }
}

static int host_chunk_read(void *ctx, int swarm, uint32_t chunk, size_t off, uint8_t *buf,
                           size_t len)
{
    fb_engine_host *h = ctx;
    return h->store.read(h->store.ctx, swarm, chunk, off, buf, len);
}

static void host_chunk_write(void *ctx, int swarm, uint32_t chunk, const uint8_t *data, size_t len)
{
    fb_engine_host *h = ctx;
    if (h->store.write)
        h->store.write(h->store.ctx, swarm, chunk, data, len);
}

/* ---- driving the engine ------------------------------------------------------------------ */

static void do_free(fb_engine_host *h);

static void leave_engine(fb_engine_host *h)
{
    if (--h->in_engine == 0 && h->free_requested)
        do_free(h);
}

static void on_timer(uv_timer_t *t);

static void tick_and_arm(fb_engine_host *h)
{
    uint64_t now = fb_engine_host_now(), next, ms;
    if (h->closing || h->free_requested)
        return;
    h->in_engine++;
    next = fb_engine_tick(h->engine, now);
    h->st.ticks++;
    leave_engine(h);
    if (h->closing)
        return;
    flush(h);
    /* libuv timers count whole milliseconds from the loop's cached time (which may trail the
     * real time by up to 1 ms on kernels where libuv uses the coarse clock). Refresh that time
     * (the engine's work may have taken a while) and round up: a deadline less than 1 ms away
     * would otherwise make the loop spin until it passes. So a tick comes at most about 1 ms
     * after the time asked for (plus scheduling delays), and at most 2 ms before it. */
    ms = next <= now ? 0 : (next - now + 999) / 1000;
    uv_update_time(h->loop);
    uv_timer_start(&h->timer, on_timer, FB_MIN(ms, (uint64_t)MAX_SLEEP_MS), 0);
}

static void on_timer(uv_timer_t *t)
{
    tick_and_arm(t->data);
}

/* Runs after every poll phase: one tick for the whole batch of datagrams that came in. */
static void on_check(uv_check_t *c)
{
    fb_engine_host *h = c->data;
    if (!h->input_pending) {
        flush(h);
        return;
    }
    h->input_pending = false;
    h->st.batches++;
    tick_and_arm(h);
}

static void on_datagram(void *ctx, const fb_addr *from, const uint8_t *data, size_t len)
{
    fb_engine_host *h = ctx;
    if (h->closing || h->free_requested)
        return;
    h->st.inputs++;
    h->input_pending = true;
    h->in_engine++;
    fb_engine_input(h->engine, from, data, len, fb_engine_host_now());
    leave_engine(h);
}

/* Runs before the loop polls: nothing queued waits through the poll. */
static void on_prepare(uv_prepare_t *p)
{
    fb_engine_host *h = p->data;
    if (!h->closing && !h->in_engine)
        flush(h);
}

void fb_engine_host_kick(fb_engine_host *h)
{
    if (h->in_engine) {
        h->input_pending = true; /* from inside an engine callback: tick after the poll phase */
        return;
    }
    tick_and_arm(h);
}

/* ---- life cycle -------------------------------------------------------------------------- */

static void on_closed(uv_handle_t *handle)
{
    fb_engine_host *h = handle->data;
    if (--h->open_handles > 0)
        return;
    EVP_MD_CTX_free(h->md);
    EVP_MD_free(h->sha256);
    free(h);
}

static void do_free(fb_engine_host *h)
{
    h->closing = true;
    fb_engine_free(h->engine);
    h->engine = NULL;
    fb_udp_free(h->udp);
    h->udp = NULL;
    uv_close((uv_handle_t *)&h->timer, on_closed);
    uv_close((uv_handle_t *)&h->check, on_closed);
    uv_close((uv_handle_t *)&h->prepare, on_closed);
}

void fb_engine_host_free(fb_engine_host *h)
{
    if (h == NULL || h->closing || h->free_requested)
        return;
    if (h->in_engine) {
        h->free_requested = true; /* finish the engine call first */
        return;
    }
    do_free(h);
}

/* Fills the engine's local_addrs: the interface addresses when bound to a wildcard address,
 * else the bound address itself; only families the socket can reach. */
static void find_local_addrs(fb_engine_config *ec, const fb_addr *bound, const fb_addr *req,
                             bool ipv6_only)
{
    static const uint8_t zero[16];
    fb_addr found[16];
    size_t n = 0;
    ec->n_local_addrs = 0;
    if (memcmp(req->ip, zero, 16) != 0) {
        ec->local_addrs[ec->n_local_addrs++] = *bound;
        return;
    }
    if (fb_sockaddr_local_addrs(found, FB_ARRAY_LEN(found), bound->port, &n) != 0)
        return;
    for (size_t i = 0; i < n && ec->n_local_addrs < FB_ARRAY_LEN(ec->local_addrs); i++) {
        bool ok = req->family == 6 ? (found[i].family == 6 || !ipv6_only) : found[i].family == 4;
        if (ok)
            ec->local_addrs[ec->n_local_addrs++] = found[i];
    }
}

int fb_engine_host_new(uv_loop_t *loop, const fb_engine_host_config *cfg, fb_engine_host **out)
{
    fb_engine_host *h;
    fb_engine_config ec;
    fb_host host;
    fb_addr bound;
    int rc;
    *out = NULL;
    if (loop == NULL || cfg == NULL || cfg->store.read == NULL ||
        (cfg->engine.role == FB_ROLE_PEER && cfg->store.write == NULL))
        return FB_EINVAL;
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return FB_ENOMEM;
    h->loop = loop;
    h->store = cfg->store;
    h->on_event = cfg->on_event;
    h->ctx = cfg->ctx;
    h->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->md = EVP_MD_CTX_new();
    if (h->sha256 == NULL || h->md == NULL) {
        rc = FB_ENOMEM;
        goto fail;
    }
    rc = fb_udp_new(loop, &cfg->udp, &cfg->bind, on_datagram, h, &h->udp);
    if (rc != 0)
        goto fail;
    rc = fb_udp_local_addr(h->udp, &bound);
    if (rc != 0)
        goto fail;
    ec = cfg->engine;
    /* The engine counts UDP/IP headers against its cap: 48 bytes over IPv6 (an IPv6 socket
     * may also carry IPv4; counting more never exceeds the cap). */
    if (!ec.datagram_overhead && bound.family == 6)
        ec.datagram_overhead = 48;
    if (cfg->find_local_addrs && ec.n_local_addrs == 0)
        find_local_addrs(&ec, &bound, &cfg->bind, cfg->udp.ipv6_only);
    host = (fb_host){
        .ctx = h,
        .send = host_send,
        .event = host_event,
        .sha256 = host_sha256,
        .random = host_random,
        .chunk_read = host_chunk_read,
        .chunk_write = host_chunk_write,
    };
    h->engine = fb_engine_new(&ec, &host, fb_engine_host_now());
    if (h->engine == NULL) {
        rc = FB_EINVAL;
        goto fail;
    }
    uv_timer_init(loop, &h->timer);
    uv_check_init(loop, &h->check);
    uv_prepare_init(loop, &h->prepare);
    h->timer.data = h;
    h->check.data = h;
    h->prepare.data = h;
    h->open_handles = 3;
    uv_check_start(&h->check, on_check);
    uv_unref((uv_handle_t *)&h->check); /* the socket and the timer keep the loop alive */
    uv_prepare_start(&h->prepare, on_prepare);
    uv_unref((uv_handle_t *)&h->prepare);
    tick_and_arm(h);
    *out = h;
    return 0;
fail:
    fb_udp_free(h->udp);
    EVP_MD_CTX_free(h->md);
    EVP_MD_free(h->sha256);
    free(h);
    return rc;
}

fb_engine *fb_engine_host_engine(const fb_engine_host *h)
{
    return h->engine;
}

int fb_engine_host_local_addr(const fb_engine_host *h, fb_addr *out)
{
    return fb_udp_local_addr(h->udp, out);
}

void fb_engine_host_udp_stats(const fb_engine_host *h, fb_udp_stats *out)
{
    fb_udp_stats_get(h->udp, out);
}

void fb_engine_host_stats_get(const fb_engine_host *h, fb_engine_host_stats *out)
{
    *out = h->st;
}
