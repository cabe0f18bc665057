/* xoshiro256** (Blackman and Vigna) with a splitmix64 seeder, written from the published
 * recurrences. One generator per random stream of a run. */
#include "sim/rng.h"

#include <math.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void fb_rng_seed(fb_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull + 0x2545f4914f6cdd1dull);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = 1; /* the all-zero state is a fixed point */
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t fb_rng_next(fb_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t fb_rng_below(fb_rng *r, uint64_t n)
{
    /* Rejection sampling: draw until the value falls below the largest multiple of n. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do {
        v = fb_rng_next(r);
    } while (v >= limit);
    return v % n;
}

double fb_rng_unit(fb_rng *r)
{
    return (double)(fb_rng_next(r) >> 11) * 0x1.0p-53;
}

double fb_rng_exp(fb_rng *r, double mean)
{
    return -mean * log(1.0 - fb_rng_unit(r));
}

void fb_rng_bytes(fb_rng *r, uint8_t *buf, size_t len)
{
    while (len >= 8) {
        uint64_t v = fb_rng_next(r);
        memcpy(buf, &v, 8);
        buf += 8;
        len -= 8;
    }
    if (len) {
        uint64_t v = fb_rng_next(r);
        memcpy(buf, &v, len);
    }
}
