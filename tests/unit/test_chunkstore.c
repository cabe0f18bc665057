/* Unit tests for net/chunkstore: the in-memory page store of the peer role (geometry, exact
 * lengths, caps, what is held, the vtable adapter and its swarm check). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/manifest.h"
#include "net/chunkstore.h"

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seed + i * 3);
}

static void test_geometry(void **state)
{
    (void)state;
    fb_memstore s;
    /* Objects of 2500, 0, 1024 and 1 bytes with 1 KiB chunks: 3 + 0 + 1 + 1 chunks. */
    const uint64_t sizes[] = {2500, 0, 1024, 1};
    assert_int_equal(fb_memstore_init_objects(&s, sizes, 4, 1024, 1 << 20), 0);
    assert_int_equal(s.n_chunks, 5);
    assert_int_equal(s.total, 3525);
    const uint64_t want[] = {0, 1024, 2048, 2500, 3524, 3525};
    assert_memory_equal(s.off, want, sizeof(want));
    assert_int_equal(s.n_have, 0);
    fb_memstore_fini(&s);
}

static void test_put_get(void **state)
{
    (void)state;
    fb_memstore s;
    uint8_t a[1024], b[452], out[1024];
    const uint64_t sizes[] = {2500};
    assert_int_equal(fb_memstore_init_objects(&s, sizes, 1, 1024, 1 << 20), 0);
    fill(a, sizeof(a), 1);
    fill(b, sizeof(b), 2);
    /* Exact lengths only, known indexes only. */
    assert_int_equal(fb_memstore_put(&s, 0, a, 1023), FB_EINVAL);
    assert_int_equal(fb_memstore_put(&s, 2, a, 1024), FB_EINVAL);
    assert_int_equal(fb_memstore_put(&s, 3, a, 1024), FB_EINVAL);
    assert_int_equal(fb_memstore_get(&s, 0, 0, out, 10), FB_ENOENT);
    assert_int_equal(fb_memstore_put(&s, 0, a, 1024), 0);
    assert_int_equal(fb_memstore_put(&s, 2, b, 452), 0);
    assert_int_equal(fb_memstore_put(&s, 2, b, 452), 0); /* again: harmless */
    assert_int_equal(s.n_have, 2);
    assert_true(fb_memstore_has(&s, 0));
    assert_false(fb_memstore_has(&s, 1));
    assert_true(fb_memstore_has(&s, 2));
    assert_false(fb_memstore_has(&s, 3));
    assert_int_equal(fb_memstore_get(&s, 0, 100, out, 924), 0);
    assert_memory_equal(out, a + 100, 924);
    assert_int_equal(fb_memstore_get(&s, 0, 100, out, 925), FB_EINVAL);
    assert_int_equal(fb_memstore_get(&s, 2, 0, out, 452), 0);
    assert_memory_equal(out, b, 452);
    assert_int_equal(fb_memstore_get(&s, 1, 0, out, 1), FB_ENOENT);
    assert_memory_equal(s.page, a, 1024);
    assert_memory_equal(s.page + 2048, b, 452);
    assert_true(fb_memstore_range_complete(&s, 0, 1024));
    assert_true(fb_memstore_range_complete(&s, 2048, 452));
    assert_false(fb_memstore_range_complete(&s, 1000, 100));
    assert_false(fb_memstore_range_complete(&s, 0, 2500));
    assert_false(fb_memstore_range_complete(&s, 2048, 453)); /* past the end */
    fb_memstore_fini(&s);
}

static void test_caps(void **state)
{
    (void)state;
    fb_memstore s;
    const uint64_t sizes[] = {600, 600};
    assert_int_equal(fb_memstore_init_objects(&s, sizes, 2, 1024, 1199), FB_E2BIG);
    assert_null(s.page);
    assert_int_equal(fb_memstore_init_objects(&s, sizes, 2, 1024, 1200), 0);
    assert_int_equal(s.n_chunks, 2);
    fb_memstore_fini(&s);
    const uint64_t huge[] = {UINT64_MAX - 5, 10};
    assert_int_equal(fb_memstore_init_objects(&s, huge, 2, 1024, UINT64_MAX - 1), FB_E2BIG);
    const uint64_t bad[] = {0, 10, 5};
    assert_int_equal(fb_memstore_init(&s, bad, 2, 100), FB_EINVAL);
    const uint64_t notzero[] = {1, 10};
    assert_int_equal(fb_memstore_init(&s, notzero, 1, 100), FB_EINVAL);
    assert_int_equal(fb_memstore_init_objects(&s, sizes, 2, 0, 1200), FB_EINVAL);
}

static void test_adapter(void **state)
{
    (void)state;
    fb_memstore s;
    uint8_t a[100], out[100];
    const uint64_t sizes[] = {100};
    assert_int_equal(fb_memstore_init_objects(&s, sizes, 1, 1024, 1000), 0);
    fb_chunk_store st = fb_memstore_as_store(&s);
    fill(a, sizeof(a), 9);
    s.swarm = 3;
    st.write(st.ctx, 4, 0, a, 100); /* another swarm's chunk: refused */
    assert_false(fb_memstore_has(&s, 0));
    assert_int_equal(s.refused, 1);
    st.write(st.ctx, 3, 0, a, 99); /* wrong length: refused */
    assert_int_equal(s.refused, 2);
    st.write(st.ctx, 3, 0, a, 100);
    assert_true(fb_memstore_has(&s, 0));
    assert_int_equal(st.read(st.ctx, 4, 0, 0, out, 10), FB_ENOENT);
    assert_int_equal(st.read(st.ctx, 3, 0, 10, out, 90), 0);
    assert_memory_equal(out, a + 10, 90);
    fb_memstore_fini(&s);
}

/* From a parsed manifest: the same geometry as from the object sizes, and the cap holds. */
static void test_from_manifest(void **state)
{
    (void)state;
    const fb_manifest_entry objs[] = {{"/index.html", 40000, "text/html", "\"x\""},
                                      {"/empty", 0, "text/plain", NULL},
                                      {"/a.png", 16384, "image/png", NULL}};
    uint8_t hashes[5][32] = {{0}}, buf[4096];
    fb_manifest m;
    fb_memstore s, t;
    int len =
        fb_manifest_build(buf, sizeof(buf), 16384, objs, 3, (const uint8_t(*)[32])hashes, NULL);
    assert_true(len > 0);
    fb_manifest_caps caps;
    fb_manifest_caps_default(&caps);
    assert_int_equal(fb_manifest_parse(buf, (size_t)len, &caps, &m), 0);
    assert_int_equal(fb_memstore_init_manifest(&s, &m, 1 << 20), 0);
    const uint64_t sizes[] = {40000, 0, 16384};
    assert_int_equal(fb_memstore_init_objects(&t, sizes, 3, 16384, 1 << 20), 0);
    assert_int_equal(s.n_chunks, 4);
    assert_int_equal(s.n_chunks, t.n_chunks);
    assert_int_equal(s.total, 56384);
    assert_memory_equal(s.off, t.off, (s.n_chunks + 1) * sizeof(uint64_t));
    fb_memstore_fini(&s);
    fb_memstore_fini(&t);
    assert_int_equal(fb_memstore_init_manifest(&s, &m, 56383), FB_E2BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geometry),      cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_caps),          cmocka_unit_test(test_adapter),
        cmocka_unit_test(test_from_manifest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
