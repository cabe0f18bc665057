/* Interval sets over chunk indices (the 2007 paper's "NOIS"): a sorted array of disjoint,
 * non-adjacent half-open intervals [start, end) on caller storage with a cap fixed at init, plus
 * the compact wire form that carries the "top k" intervals of a set in a datagram.
 *
 * Wire form (docs/PROTOCOL.md, "Interval lists"): u16 n (big-endian), then n pairs of LEB128
 * varints (gap, len - 1). The first interval starts at gap; each later one starts gap chunks after
 * the previous end (gap >= 1, so intervals never touch); len >= 1; every end stays <= 2^32 - 1. */
#ifndef FB_INTERVALS_H
#define FB_INTERVALS_H

#include "core/fbstd.h"

typedef struct fb_iv {
    uint32_t start, end; /* half-open: start < end */
} fb_iv;

typedef struct fb_ivset {
    fb_iv *v;       /* caller storage, cap entries, sorted by start */
    uint32_t n;     /* intervals in use */
    uint32_t cap;   /* storage size, fixed at init */
    uint64_t count; /* elements covered (sum of lengths) */
} fb_ivset;

#define FB_IV_WIRE_MAX_PAIR 10 /* bytes of one (gap, len-1) pair at most */

/* Makes s an empty set on storage (cap entries, cap >= 1). */
void fb_ivset_init(fb_ivset *s, fb_iv *storage, uint32_t cap);
void fb_ivset_clear(fb_ivset *s);

/* Adds [start, end) to s, merging with neighbours. Returns 0; FB_EINVAL if start >= end;
 * FB_ENOSPC (s unchanged) if the result needs one interval more than cap. */
int fb_ivset_add(fb_ivset *s, uint32_t start, uint32_t end);

/* Like fb_ivset_add, but when the set is full it first drops its shortest interval (the first
 * one among equals), so the set may forget elements but never claims ones not added. Used for
 * what neighbours say they hold, where forgetting is safe. Returns 0 or FB_EINVAL. */
int fb_ivset_add_lossy(fb_ivset *s, uint32_t start, uint32_t end);

/* Removes [start, end) from s. Returns 0; FB_EINVAL if start >= end; FB_ENOSPC (s unchanged) if
 * it would split an interval while the set is full. */
int fb_ivset_remove(fb_ivset *s, uint32_t start, uint32_t end);

bool fb_ivset_contains(const fb_ivset *s, uint32_t x);

/* Smallest element >= x in s into *out; false if none. */
bool fb_ivset_next_in(const fb_ivset *s, uint32_t x, uint32_t *out);

/* Smallest y >= x not in s, within [x, limit): into *out; false if every one is in s. */
bool fb_ivset_next_missing(const fb_ivset *s, uint32_t x, uint32_t limit, uint32_t *out);

/* Number of elements of s in [start, end). */
uint64_t fb_ivset_count_range(const fb_ivset *s, uint32_t start, uint32_t end);

/* |a \ b|: elements of a that b lacks (what a neighbour holding a could give to one holding b).
 * O(a.n + b.n). */
uint64_t fb_ivset_count_diff(const fb_ivset *a, const fb_ivset *b);

/* |a n b|. O(a.n + b.n). */
uint64_t fb_ivset_count_inter(const fb_ivset *a, const fb_ivset *b);

/* Encodes at most max_k intervals of s into buf (cap bytes): the longest ones (ties: lower
 * start first), in increasing order, in the wire form, also stopping when the next pair would not
 * fit. Returns the bytes written (>= 2 when cap >= 2), or FB_E2BIG when cap < 2. If it stops
 * early the receiver simply learns less. *covered (if not NULL) gets the elements encoded. */
int fb_ivset_encode(const fb_ivset *s, uint8_t *buf, size_t cap, uint32_t max_k, uint64_t *covered);

/* A cursor over an interval list in wire form, for decoding without a set. */
typedef struct fb_ivwire {
    const uint8_t *p;
    size_t len;    /* bytes of the list (exactly) */
    size_t off;    /* next byte */
    uint32_t left; /* intervals not yet read */
    uint64_t prev; /* end of the previous interval; 0 before the first */
    bool first;
} fb_ivwire;

/* Validates the list at buf (at most len bytes) and returns the bytes it occupies, or FB_EINVAL.
 * Each interval must satisfy the rules above and end <= limit. */
int fb_ivwire_check(const uint8_t *buf, size_t len, uint64_t limit);

/* Starts a cursor on a list already checked with fb_ivwire_check (used bytes = len). */
void fb_ivwire_begin(fb_ivwire *w, const uint8_t *buf, size_t len);

/* Next interval into *start and *end; false at the end. */
bool fb_ivwire_next(fb_ivwire *w, uint32_t *start, uint32_t *end);

/* LEB128 helpers shared with the wire codec. fb_varint_put returns bytes written (1..5);
 * fb_varint_get returns bytes read, or 0 if the input ends or the value exceeds 32 bits. */
size_t fb_varint_put(uint8_t *p, uint32_t v);
size_t fb_varint_get(const uint8_t *p, size_t len, uint32_t *v);

#endif
