/* Unit tests for engine/token: a token checks for its address and tag only, lives through the
 * next epoch and not beyond, the all-zero token is never valid, and secrets differ. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <openssl/sha.h>

#include "engine/token.h"

static void sha(void *ctx, const uint8_t *d, size_t n, uint8_t out[32])
{
    (void)ctx;
    SHA256(d, n, out);
}

static void test_tokens(void **state)
{
    (void)state;
    uint8_t secret[32] = {1, 2, 3};
    fb_token_key k;
    fb_token_key_init(&k, secret, sha, NULL);
    fb_addr a, b;
    fb_addr_set_v4(&a, 0xc0000201, 4000);
    fb_addr_set_v4(&b, 0xc0000201, 4001);
    uint8_t t[FB_TOKEN_LEN];
    uint64_t now = 5 * FB_TOKEN_EPOCH_US + 123;
    fb_token_make(&k, &a, 1, now, t);
    assert_true(fb_token_check(&k, &a, 1, now, t));
    assert_false(fb_token_check(&k, &b, 1, now, t));                         /* other port */
    assert_false(fb_token_check(&k, &a, 2, now, t));                         /* other tag */
    assert_true(fb_token_check(&k, &a, 1, now + FB_TOKEN_EPOCH_US, t));      /* next epoch */
    assert_false(fb_token_check(&k, &a, 1, now + 2 * FB_TOKEN_EPOCH_US, t)); /* expired */
    t[3] ^= 1;
    assert_false(fb_token_check(&k, &a, 1, now, t));
    uint8_t zero[FB_TOKEN_LEN] = {0};
    assert_false(fb_token_check(&k, &a, 1, now, zero));
    /* Another secret: another token. */
    uint8_t secret2[32] = {9};
    fb_token_key k2;
    fb_token_key_init(&k2, secret2, sha, NULL);
    uint8_t t2[FB_TOKEN_LEN];
    fb_token_make(&k, &a, 1, now, t);
    fb_token_make(&k2, &a, 1, now, t2);
    assert_memory_not_equal(t, t2, FB_TOKEN_LEN);
    assert_false(fb_token_check(&k2, &a, 1, now, t));
    /* IPv6 addresses differ in the last bytes. */
    fb_addr v6a, v6b;
    fb_addr_parse(&v6a, "[2001:db8::1]:1", 15);
    fb_addr_parse(&v6b, "[2001:db8::2]:1", 15);
    fb_token_make(&k, &v6a, 1, now, t);
    assert_true(fb_token_check(&k, &v6a, 1, now, t));
    assert_false(fb_token_check(&k, &v6b, 1, now, t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
