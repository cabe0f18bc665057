/* Stateless address-validation tokens: HMAC-SHA-256(secret, epoch || address) truncated to
 * FB_TOKEN_LEN bytes. A receiver hands one to an address it has not validated; an address that
 * echoes it back proves it receives datagrams there. Nothing is stored per address, so a flood of
 * spoofed datagrams costs no state. A token is accepted during its own epoch and the next one. */
#ifndef FB_TOKEN_H
#define FB_TOKEN_H

#include "core/addr.h"
#include "core/wire.h"

#define FB_TOKEN_EPOCH_US 30000000ull /* 30 s: a token lives 30 to 60 s */

typedef void (*fb_sha256_fn)(void *ctx, const uint8_t *data, size_t len, uint8_t out[32]);

typedef struct fb_token_key {
    uint8_t ipad[64], opad[64]; /* the secret xored with the HMAC pads */
    fb_sha256_fn sha256;
    void *ctx;
} fb_token_key;

/* Sets up a key from 32 secret bytes (from the host's random) and the host's SHA-256. */
void fb_token_key_init(fb_token_key *k, const uint8_t secret[32], fb_sha256_fn sha256, void *ctx);

/* The token for `a` at time now_us (and a tag that separates uses: seed JOIN vs peer HELLO). */
void fb_token_make(const fb_token_key *k, const fb_addr *a, uint8_t tag, uint64_t now_us,
                   uint8_t out[FB_TOKEN_LEN]);

/* True when t is the token of `a` for this epoch or the previous one. An all-zero t is never
 * valid. */
bool fb_token_check(const fb_token_key *k, const fb_addr *a, uint8_t tag, uint64_t now_us,
                    const uint8_t t[FB_TOKEN_LEN]);

#endif
