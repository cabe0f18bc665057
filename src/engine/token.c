/* Stateless tokens (see token.h): HMAC over the host's one-shot SHA-256. */
#include "engine/token.h"

void fb_token_key_init(fb_token_key *k, const uint8_t secret[32], fb_sha256_fn sha256, void *ctx)
{
    memset(k->ipad, 0x36, sizeof(k->ipad));
    memset(k->opad, 0x5c, sizeof(k->opad));
    for (int i = 0; i < 32; i++) {
        k->ipad[i] ^= secret[i];
        k->opad[i] ^= secret[i];
    }
    k->sha256 = sha256;
    k->ctx = ctx;
}

static void mac(const fb_token_key *k, const fb_addr *a, uint8_t tag, uint64_t epoch,
                uint8_t out[FB_TOKEN_LEN])
{
    /* inner = H(ipad || epoch(8) || tag || family || ip(16) || port(2)) */
    uint8_t in[64 + 8 + 1 + 1 + 16 + 2];
    uint8_t h[32];
    memcpy(in, k->ipad, 64);
    for (int i = 0; i < 8; i++)
        in[64 + i] = (uint8_t)(epoch >> (56 - 8 * i));
    in[72] = tag;
    in[73] = a->family;
    memcpy(in + 74, a->ip, 16);
    fb_put16(in + 90, a->port);
    k->sha256(k->ctx, in, sizeof(in), h);
    uint8_t outer[64 + 32];
    memcpy(outer, k->opad, 64);
    memcpy(outer + 64, h, 32);
    k->sha256(k->ctx, outer, sizeof(outer), h);
    memcpy(out, h, FB_TOKEN_LEN);
}

void fb_token_make(const fb_token_key *k, const fb_addr *a, uint8_t tag, uint64_t now_us,
                   uint8_t out[FB_TOKEN_LEN])
{
    mac(k, a, tag, now_us / FB_TOKEN_EPOCH_US, out);
}

/* Constant-time comparison, so the check leaks nothing about the right token. */
static bool same(const uint8_t *a, const uint8_t *b)
{
    uint8_t d = 0;
    for (int i = 0; i < FB_TOKEN_LEN; i++)
        d |= a[i] ^ b[i];
    return d == 0;
}

bool fb_token_check(const fb_token_key *k, const fb_addr *a, uint8_t tag, uint64_t now_us,
                    const uint8_t t[FB_TOKEN_LEN])
{
    static const uint8_t zero[FB_TOKEN_LEN];
    if (same(t, zero))
        return false;
    uint64_t epoch = now_us / FB_TOKEN_EPOCH_US;
    uint8_t want[FB_TOKEN_LEN];
    mac(k, a, tag, epoch, want);
    if (same(t, want))
        return true;
    if (epoch == 0)
        return false;
    mac(k, a, tag, epoch - 1, want);
    return same(t, want);
}
