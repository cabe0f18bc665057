/* Fuzz target: one engine (seed or peer by the first byte) fed a sequence of datagrams from
 * four addresses with advancing time. Input records: [flags][len hi][len lo][bytes]. flags: bits
 * 0-1 the sender, bits 2-4 time advance (0..7 x 37 ms), bit 5 patch in the real swarm id, bit 6
 * echo the last token the engine sent to that sender (to get past validation), bit 7 patch a
 * DATA with the last request id and chunk the engine asked of that sender. Checks: no crash,
 * no datagram over 1200 bytes, and the caps hold. */
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "core/manifest.h"
#include "core/wire.h"
#include "engine/engine.h"

static uint8_t page[512], tok[4][16], req[4][8], data[3072]; /* a page of zeros */
static int page_len;
static fb_addr who[4];
static uint64_t rng;

static void on_send(void *c, const fb_addr *to, const uint8_t *d, size_t n)
{
    fb_wire_msg m;
    (void)c;
    if (n > FB_MAX_DATAGRAM)
        abort();
    for (int i = 0; i < 4; i++)
        if (fb_addr_eq(to, &who[i]) && !fb_wire_decode(d, n, &m)) {
            if (m.type == FB_MSG_TOKEN || m.type == FB_MSG_HELLO)
                memcpy(tok[i], m.type == FB_MSG_TOKEN ? m.u.token.token : m.u.hello.token, 16);
            if (m.type == FB_MSG_REQUEST && m.u.request.n) {
                memcpy(req[i], d + 22, 4);     /* request id */
                memcpy(req[i] + 4, d + 27, 4); /* the first entry's chunk */
            }
        }
}
static void sha(void *c, const uint8_t *d, size_t n, uint8_t o[32])
{
    (void)c, SHA256(d, n, o);
}
static void rnd(void *c, uint8_t *b, size_t n)
{
    (void)c;
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)((rng = rng * 6364136223846793005ull + 1442695040888963407ull) >> 56);
}
static int rd(void *c, int s, uint32_t k, size_t off, uint8_t *b, size_t n)
{
    (void)c, (void)s;
    memcpy(b, data + k * 1024 + off, n);
    return 0;
}
static void wr(void *c, int s, uint32_t k, const uint8_t *d, size_t n)
{
    (void)c, (void)s, (void)k, (void)d, (void)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size < 1)
        return 0;
    if (!page_len) { /* 3072 zero bytes in 1 KiB chunks (one DATA completes a chunk) */
        uint8_t hh[3][32];
        SHA256(data, 1024, hh[0]);
        SHA256(data, 1024, hh[1]);
        SHA256(data, 1024, hh[2]);
        fb_manifest_entry o = {"/a", 3072, "text/html", NULL};
        page_len = fb_manifest_build(page, sizeof(page), 1024, &o, 1, hh, NULL);
    }
    rng = 1;
    memset(tok, 0, sizeof(tok));
    memset(req, 0, sizeof(req));
    for (int i = 0; i < 4; i++)
        fb_addr_set_v4(&who[i], 0x0a000001u + (uint32_t)i, 4000);
    fb_engine_config cfg = {.role = in[0] & 1 ? FB_ROLE_SEED : FB_ROLE_PEER,
                            .upload_rate = 100000,
                            .max_neighbours = 3,
                            .max_tracked_peers = 3,
                            .max_inflight = 8,
                            .max_pending = 8,
                            .max_candidates = 3,
                            .max_banned = 2};
    fb_host h = {NULL, on_send, NULL, sha, rnd, rd, wr};
    uint64_t now = 1000000;
    fb_engine *e = fb_engine_new(&cfg, &h, now);
    int s = fb_engine_swarm_add(e, page, (size_t)page_len, now);
    uint8_t id[32];
    fb_engine_swarm_id(e, s, id);
    if (cfg.role == FB_ROLE_PEER)
        fb_engine_swarm_join(e, s, &who[0], now);
    for (size_t off = 1; off + 3 <= size;) {
        uint8_t f = in[off];
        size_t n = (size_t)in[off + 1] << 8 | in[off + 2];
        off += 3;
        if (n > size - off)
            n = size - off;
        uint8_t d[1500];
        size_t len = n > sizeof(d) ? sizeof(d) : n;
        memcpy(d, in + off, len);
        off += n;
        int from = f & 3;
        if ((f & 0x20) && len >= 10 && d[1] != FB_MSG_DATA) /* DATA has no swarm id */
            memcpy(d + 2, id, 8);
        if ((f & 0x40) && len >= 36 && d[1] == FB_MSG_JOIN)
            memcpy(d + 20, tok[from], 16);
        if ((f & 0x40) && len >= 51 && d[1] == FB_MSG_HELLO)
            memcpy(d + 35, tok[from], 16);
        if ((f & 0x80) && len >= 10 && d[1] == FB_MSG_DATA)
            memcpy(d + 2, req[from], 8);
        now += (uint64_t)((f >> 2) & 7) * 37000;
        fb_engine_input(e, &who[from], d, len, now);
        fb_engine_tick(e, now);
        fb_engine_stats st;
        fb_engine_stats_get(e, &st);
        if (st.neighbours > cfg.max_neighbours || st.tracked_peers > cfg.max_tracked_peers ||
            st.upload_queue > cfg.max_pending)
            abort();
    }
    fb_engine_tick(e, now + 60000000);
    fb_engine_free(e);
    return 0;
}
