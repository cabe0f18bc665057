/* Unit tests for server/hashcache: hits only for the same identity and chunk size, LRU eviction
 * under both caps, replacement, and refusal of an entry over the byte cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "server/hashcache.c"

static fb_file_id ident(uint64_t ino)
{
    fb_file_id id = {.dev = 7, .ino = ino, .size = 100, .mtime_sec = 1700000000, .mtime_nsec = 5};
    return id;
}

static void fill(uint8_t *h, uint32_t n, uint8_t v)
{
    memset(h, v, (size_t)n * 32);
}

static void test_get_put(void **state)
{
    (void)state;
    fb_hashcache c;
    uint8_t h[4 * 32];
    assert_int_equal(fb_hashcache_init(&c, 8, 1 << 20), 0);
    fb_file_id a = ident(1);
    assert_null(fb_hashcache_get(&c, &a, 16384, 4));
    fill(h, 4, 0xab);
    assert_int_equal(fb_hashcache_put(&c, &a, 16384, h, 4), 0);
    const uint8_t *got = fb_hashcache_get(&c, &a, 16384, 4);
    assert_non_null(got);
    assert_memory_equal(got, h, sizeof(h));
    /* Any change of identity or geometry misses. */
    fb_file_id b = a;
    b.mtime_nsec++;
    assert_null(fb_hashcache_get(&c, &b, 16384, 4));
    b = a;
    b.size++;
    assert_null(fb_hashcache_get(&c, &b, 16384, 4));
    b = a;
    b.dev++;
    assert_null(fb_hashcache_get(&c, &b, 16384, 4));
    assert_null(fb_hashcache_get(&c, &a, 8192, 4));
    assert_null(fb_hashcache_get(&c, &a, 16384, 3));
    assert_int_equal(c.hits, 1);
    assert_int_equal(c.misses, 6);
    /* Replacement keeps one entry. */
    fill(h, 4, 0xcd);
    assert_int_equal(fb_hashcache_put(&c, &a, 16384, h, 4), 0);
    assert_int_equal(c.entries, 1);
    assert_int_equal(fb_hashcache_get(&c, &a, 16384, 4)[0], 0xcd);
    /* An empty file has no hashes but is cached all the same. */
    fb_file_id e = ident(99);
    assert_int_equal(fb_hashcache_put(&c, &e, 16384, NULL, 0), 0);
    assert_non_null(fb_hashcache_get(&c, &e, 16384, 0));
    fb_hashcache_fini(&c);
}

static void test_caps(void **state)
{
    (void)state;
    fb_hashcache c;
    uint8_t h[64 * 32];
    size_t one = sizeof(fb_hashcache_entry) + 32;
    assert_int_equal(fb_hashcache_init(&c, 3, 10 * one), 0);
    for (uint64_t i = 1; i <= 3; i++) {
        fb_file_id id = ident(i);
        fill(h, 1, (uint8_t)i);
        assert_int_equal(fb_hashcache_put(&c, &id, 1024, h, 1), 0);
    }
    fb_file_id first = ident(1);
    assert_non_null(fb_hashcache_get(&c, &first, 1024, 1)); /* 1 is now the most recent */
    fb_file_id four = ident(4);
    assert_int_equal(fb_hashcache_put(&c, &four, 1024, h, 1), 0);
    assert_int_equal(c.entries, 3);
    assert_int_equal(c.evictions, 1);
    fb_file_id two = ident(2);
    assert_null(fb_hashcache_get(&c, &two, 1024, 1)); /* the least recently used went */
    assert_non_null(fb_hashcache_get(&c, &first, 1024, 1));
    /* The byte cap: a large entry evicts as many as it needs; one over the cap alone is refused. */
    fb_file_id big = ident(5);
    assert_int_equal(fb_hashcache_put(&c, &big, 1024, h, 8), 0);
    assert_true(c.bytes <= 10 * one);
    fb_file_id huge = ident(6);
    assert_int_equal(fb_hashcache_put(&c, &huge, 1024, h, 64), FB_E2BIG);
    assert_int_equal(c.refused, 1);
    assert_null(fb_hashcache_get(&c, &huge, 1024, 64));
    assert_true(c.bytes <= 10 * one && c.entries <= 3);
    fb_hashcache_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_put),
        cmocka_unit_test(test_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
