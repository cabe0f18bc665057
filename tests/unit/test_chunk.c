/* Unit tests for core/chunk: layout of objects in the global index space (empty objects, short
 * last chunks), locate, block arithmetic and caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/chunk.h"

static void test_layout(void **state)
{
    (void)state;
    static const uint64_t sizes[] = {30000, 0, 16384, 1, 0, 49153};
    uint32_t first[7];
    fb_chunk_map m;
    assert_int_equal(fb_chunk_map_init(&m, 16384, sizes, 6, first, 1000), 0);
    /* 2 + 0 + 1 + 1 + 0 + 4 chunks. */
    assert_int_equal(m.n_chunks, 8);
    static const uint32_t want_first[] = {0, 2, 2, 3, 4, 4, 8};
    for (int i = 0; i < 7; i++)
        assert_int_equal(first[i], want_first[i]);
    uint32_t obj, len;
    uint64_t off;
    assert_int_equal(fb_chunk_locate(&m, 0, &obj, &off, &len), 0);
    assert_int_equal(obj, 0);
    assert_int_equal(off, 0);
    assert_int_equal(len, 16384);
    assert_int_equal(fb_chunk_locate(&m, 1, &obj, &off, &len), 0);
    assert_int_equal(obj, 0);
    assert_int_equal(off, 16384);
    assert_int_equal(len, 30000 - 16384);
    assert_int_equal(fb_chunk_locate(&m, 2, &obj, &off, &len), 0);
    assert_int_equal(obj, 2); /* the empty object 1 is skipped */
    assert_int_equal(len, 16384);
    assert_int_equal(fb_chunk_locate(&m, 3, &obj, &off, &len), 0);
    assert_int_equal(obj, 3);
    assert_int_equal(len, 1);
    assert_int_equal(fb_chunk_locate(&m, 7, &obj, &off, &len), 0);
    assert_int_equal(obj, 5);
    assert_int_equal(off, 3 * 16384);
    assert_int_equal(len, 1);
    assert_int_equal(fb_chunk_locate(&m, 8, &obj, &off, &len), FB_EINVAL);
    assert_int_equal(fb_chunk_len(&m, 1), 13616);
    assert_int_equal(fb_chunk_len(&m, 99), 0);
}

static void test_blocks(void **state)
{
    (void)state;
    assert_int_equal(fb_chunk_blocks(16384), 16);
    assert_int_equal(fb_chunk_blocks(16385), 17);
    assert_int_equal(fb_chunk_blocks(1), 1);
    assert_int_equal(fb_block_len(13616, 0), 1024);
    assert_int_equal(fb_block_len(13616, 13), 13616 - 13 * 1024);
    assert_int_equal(fb_block_len(13616, 14), 0);
    assert_int_equal(fb_chunk_full_mask(16384), 0xffff);
    assert_int_equal(fb_chunk_full_mask(1), 1);
    assert_int_equal(fb_chunk_full_mask(32768), 0xffffffffu);
    assert_int_equal(fb_chunk_count(0, 16384), 0);
    assert_int_equal(fb_chunk_count(16384, 16384), 1);
    assert_int_equal(fb_chunk_count(16385, 16384), 2);
}

static void test_caps(void **state)
{
    (void)state;
    static const uint64_t sizes[] = {16384 * 10, 16384 * 10};
    uint32_t first[3];
    fb_chunk_map m;
    assert_int_equal(fb_chunk_map_init(&m, 16384, sizes, 2, first, 19), FB_E2BIG);
    assert_int_equal(fb_chunk_map_init(&m, 16384, sizes, 2, first, 20), 0);
    assert_int_equal(fb_chunk_map_init(&m, 1000, sizes, 2, first, 100), FB_EINVAL);
    assert_int_equal(fb_chunk_map_init(&m, 0, sizes, 2, first, 100), FB_EINVAL);
    assert_int_equal(fb_chunk_map_init(&m, 65536, sizes, 2, first, 100), FB_EINVAL);
    static const uint64_t huge[] = {(uint64_t)1 << 60};
    assert_int_equal(fb_chunk_map_init(&m, 1024, huge, 1, first, UINT32_MAX), FB_E2BIG);
    assert_int_equal(fb_chunk_map_init(&m, 16384, sizes, 0, first, 10), 0);
    assert_int_equal(m.n_chunks, 0);
    assert_int_equal(fb_chunk_locate(&m, 0, NULL, NULL, NULL), FB_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_blocks),
        cmocka_unit_test(test_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
