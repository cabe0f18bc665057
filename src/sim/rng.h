/* The simulator's pseudo-random numbers: xoshiro256** seeded through splitmix64. Every random
 * choice of a run (arrivals, losses, NAT types, each engine's random callback) draws from one of
 * these generators, so a run is a pure function of its --seed. Not for cryptography. */
#ifndef FB_SIM_RNG_H
#define FB_SIM_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct fb_rng {
    uint64_t s[4];
} fb_rng;

/* Seeds r from a 64-bit seed and a stream number, so that generators derived from one run seed
 * (one per node, say) are independent of each other. */
void fb_rng_seed(fb_rng *r, uint64_t seed, uint64_t stream);

/* The next 64 random bits. */
uint64_t fb_rng_next(fb_rng *r);

/* A uniform integer in [0, n) (n > 0), without modulo bias. */
uint64_t fb_rng_below(fb_rng *r, uint64_t n);

/* A uniform double in [0, 1). */
double fb_rng_unit(fb_rng *r);

/* An exponentially distributed double with the given mean. */
double fb_rng_exp(fb_rng *r, double mean);

/* Fills buf with len random bytes. */
void fb_rng_bytes(fb_rng *r, uint8_t *buf, size_t len);

#endif
