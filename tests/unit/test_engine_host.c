/* Unit tests for net/engine_host with the real engine: a seed and several peers, each an
 * engine_host on 127.0.0.1:0 on one real libuv loop, download a small page (three objects, a
 * short last chunk in each). Every peer must end with exactly the source bytes, all verified,
 * none from the origin. With a slow seed, the peers must also trade chunks among themselves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "core/manifest.h"
#include "engine/internal.h"
#include "net/engine_host.h"

#define CHUNK     16384
#define MAX_PEERS 4

static const fb_manifest_entry objects[] = {
    {"/index.html", 30000, "text/html", "\"i1\""},
    {"/img/a.png", 100000, "image/png", "\"a1\""},
    {"/b.css", 5000, "text/css", NULL},
};
#define N_OBJ FB_ARRAY_LEN(objects)

typedef struct node {
    fb_engine_host *h;
    fb_memstore ms;
    int swarm;
    unsigned verified, objects_done, complete, need_origin, banned;
} node;

static void on_event(void *ctx, const fb_event *ev)
{
    node *n = ctx;
    switch (ev->type) {
    case FB_EV_CHUNK_VERIFIED:
        n->verified++;
        break;
    case FB_EV_OBJECT_COMPLETE:
        n->objects_done++;
        break;
    case FB_EV_SWARM_COMPLETE:
        n->complete++;
        break;
    case FB_EV_NEED_ORIGIN:
        n->need_origin++; /* no origin here: the seed must carry the page */
        break;
    case FB_EV_PEER_BANNED:
        n->banned++;
        break;
    default:
        break;
    }
}

static uint8_t src_byte(size_t obj, size_t i)
{
    return (uint8_t)(obj * 101 + i * 13 + i / 509);
}

typedef struct result {
    uint64_t from_seed, from_peers; /* over all peers */
    double seconds;                 /* until the last peer completed */
} result;

/* Runs a seed (upload capped at seed_rate bytes/s) and n_peers peers until every peer has the
 * page (20 s at most), checks every peer's bytes and counters, and tears everything down. */
static void run_swarm(int n_peers, uint64_t seed_rate, uint32_t linger_ms, result *res)
{
    uv_loop_t loop;
    uint64_t sizes[N_OBJ], total = 0;
    uint8_t *page, (*hashes)[32], manifest[16384];
    uint32_t n_chunks = 0;
    node seed = {0}, peers[MAX_PEERS];
    memset(peers, 0, sizeof(peers));
    memset(res, 0, sizeof(*res));
    assert_true(n_peers <= MAX_PEERS);

    /* The page's bytes, its chunk hashes and its manifest. */
    for (size_t i = 0; i < N_OBJ; i++) {
        sizes[i] = objects[i].size;
        total += sizes[i];
        n_chunks += (uint32_t)((sizes[i] + CHUNK - 1) / CHUNK);
    }
    page = malloc(total);
    hashes = malloc(n_chunks * sizeof(*hashes));
    for (size_t i = 0, off = 0, c = 0; i < N_OBJ; i++) {
        for (size_t k = 0; k < sizes[i]; k++)
            page[off + k] = src_byte(i, k);
        for (size_t k = 0; k < sizes[i]; k += CHUNK, c++) {
            size_t len = FB_MIN((size_t)CHUNK, sizes[i] - k);
            assert_int_equal(EVP_Digest(page + off + k, len, hashes[c], NULL, EVP_sha256(), NULL),
                             1);
        }
        off += sizes[i];
    }
    int mlen = fb_manifest_build(manifest, sizeof(manifest), CHUNK, objects, N_OBJ,
                                 (const uint8_t(*)[32])hashes, NULL);
    assert_true(mlen > 0);

    assert_int_equal(uv_loop_init(&loop), 0);

    /* The seed holds every chunk. */
    assert_int_equal(fb_memstore_init_objects(&seed.ms, sizes, N_OBJ, CHUNK, 1 << 20), 0);
    assert_int_equal(seed.ms.n_chunks, n_chunks);
    for (uint32_t c = 0; c < n_chunks; c++)
        assert_int_equal(fb_memstore_put(&seed.ms, c, page + seed.ms.off[c],
                                         seed.ms.off[c + 1] - seed.ms.off[c]),
                         0);
    fb_engine_host_config sc = {0};
    sc.engine.role = FB_ROLE_SEED;
    sc.engine.upload_rate = seed_rate;
    fb_addr_set_v4(&sc.bind, 0x7f000001, 0);
    sc.store = fb_memstore_as_store(&seed.ms);
    sc.on_event = on_event;
    sc.ctx = &seed;
    assert_int_equal(fb_engine_host_new(&loop, &sc, &seed.h), 0);
    seed.swarm = fb_engine_swarm_add(fb_engine_host_engine(seed.h), manifest, (size_t)mlen,
                                     fb_engine_host_now());
    assert_true(seed.swarm >= 0);
    fb_engine_host_kick(seed.h);
    fb_addr seed_addr;
    assert_int_equal(fb_engine_host_local_addr(seed.h, &seed_addr), 0);

    /* The peers start empty and join. */
    uint64_t t0 = uv_hrtime();
    for (int p = 0; p < n_peers; p++) {
        node *n = &peers[p];
        assert_int_equal(fb_memstore_init_objects(&n->ms, sizes, N_OBJ, CHUNK, 1 << 20), 0);
        fb_engine_host_config pc = {0};
        pc.engine.role = FB_ROLE_PEER;
        pc.engine.linger_ms = linger_ms;
        fb_addr_set_v4(&pc.bind, 0x7f000001, 0);
        pc.store = fb_memstore_as_store(&n->ms);
        pc.on_event = on_event;
        pc.ctx = n;
        pc.find_local_addrs = true;
        assert_int_equal(fb_engine_host_new(&loop, &pc, &n->h), 0);
        fb_engine *e = fb_engine_host_engine(n->h);
        n->swarm = fb_engine_swarm_add(e, manifest, (size_t)mlen, fb_engine_host_now());
        assert_true(n->swarm >= 0);
        n->ms.swarm = n->swarm;
        assert_int_equal(fb_engine_swarm_join(e, n->swarm, &seed_addr, fb_engine_host_now()), 0);
        fb_engine_host_kick(n->h);
    }

    /* Run until every peer completed, 20 s at most. */
    uint64_t end = uv_hrtime() + 20000000000ull;
    bool all = false;
    while (!all && uv_hrtime() < end) {
        uv_run(&loop, UV_RUN_ONCE);
        all = true;
        for (int p = 0; p < n_peers; p++)
            all = all && peers[p].complete > 0;
    }
    res->seconds = (double)(uv_hrtime() - t0) / 1e9;
    assert_true(all);

    for (int p = 0; p < n_peers; p++) {
        node *n = &peers[p];
        fb_engine_stats st;
        uint32_t have, tot;
        fb_engine *e = fb_engine_host_engine(n->h);
        assert_int_equal(n->complete, 1);
        assert_int_equal(n->objects_done, N_OBJ);
        assert_int_equal(n->banned, 0);
        assert_int_equal(n->ms.n_have, n_chunks);
        assert_memory_equal(n->ms.page, page, total); /* every byte, verified */
        assert_int_equal(n->ms.refused, 0);
        fb_engine_swarm_progress(e, n->swarm, &have, &tot);
        assert_int_equal(have, n_chunks);
        assert_int_equal(tot, n_chunks);
        fb_engine_stats_get(e, &st);
        assert_int_equal(st.bytes_in_origin, 0);
        assert_int_equal(st.chunks_bad, 0);
        /* Each chunk verified and counted once (endgame duplicates are only in chunks_dup). */
        assert_int_equal(n->verified, n_chunks);
        assert_int_equal(st.bytes_in_seed + st.bytes_in_peer, total);
        res->from_seed += st.bytes_in_seed;
        res->from_peers += st.bytes_in_peer;
        print_message("# peer %d: %" PRIu64 " bytes from the seed, %" PRIu64 " from peers, "
                      "%u origin requests\n",
                      p, st.bytes_in_seed, st.bytes_in_peer, n->need_origin);
        fb_engine_swarm_leave(e, n->swarm, fb_engine_host_now());
        fb_engine_host_kick(n->h);
    }
    fb_engine_stats ss;
    fb_engine_stats_get(fb_engine_host_engine(seed.h), &ss);
    assert_int_equal(ss.joins, (uint64_t)n_peers);
    fb_udp_stats us;
    fb_engine_host_udp_stats(seed.h, &us);
    assert_true(us.dgrams_out > 0);
    assert_int_equal(us.drop_oversize, 0);
    print_message("# %d peers, seed at %" PRIu64 " B/s: %.2f s, %" PRIu64
                  " bytes from the seed, %" PRIu64 " from peers\n",
                  n_peers, seed_rate, res->seconds, res->from_seed, res->from_peers);

    for (int p = 0; p < n_peers; p++)
        fb_engine_host_free(peers[p].h);
    fb_engine_host_free(seed.h);
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&loop), 0);
    for (int p = 0; p < n_peers; p++)
        fb_memstore_fini(&peers[p].ms);
    fb_memstore_fini(&seed.ms);
    free(page);
    free(hashes);
}

/* A fast seed: two peers complete from it. */
static void test_download(void **state)
{
    (void)state;
    result r;
    run_swarm(2, 50 * 1000 * 1000, 0, &r);
    assert_true(r.from_seed > 0);
}

/* A slow seed (135 KB page at 100 KB/s: 4 copies would take 5.4 s from the seed alone), peers
 * that stay: they must trade chunks among themselves over real UDP. */
static void test_download_swarm(void **state)
{
    (void)state;
    result r;
    run_swarm(4, 100 * 1000, FB_LINGER_FOREVER, &r);
    assert_true(r.from_peers > 0);
}

/* The seed's cap counts each datagram's UDP/IP headers: 28 bytes bound to IPv4, 48 to IPv6. */
static void test_overhead_by_family(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    node n[2];
    memset(n, 0, sizeof(n));
    const char *bind[2] = {"127.0.0.1:0", "[::1]:0"};
    const uint32_t want[2] = {28, 48};
    for (int i = 0; i < 2; i++) {
        fb_engine_host_config c = {0};
        c.engine.role = FB_ROLE_SEED;
        c.engine.upload_rate = 100000;
        assert_int_equal(fb_addr_parse(&c.bind, bind[i], strlen(bind[i])), 0);
        const uint64_t size = 1000;
        assert_int_equal(fb_memstore_init_objects(&n[i].ms, &size, 1, CHUNK, 1 << 20), 0);
        c.store = fb_memstore_as_store(&n[i].ms);
        c.on_event = on_event;
        c.ctx = &n[i];
        assert_int_equal(fb_engine_host_new(&loop, &c, &n[i].h), 0);
        assert_int_equal(fb_engine_host_engine(n[i].h)->cfg.datagram_overhead, want[i]);
    }
    for (int i = 0; i < 2; i++) {
        fb_engine_host_free(n[i].h);
        fb_memstore_fini(&n[i].ms);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overhead_by_family),
        cmocka_unit_test(test_download),
        cmocka_unit_test(test_download_swarm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
