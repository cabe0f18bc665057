/* 4-ary min-heap of events keyed by (time, sequence). The array is allocated by doubling up to
 * the cap given at init, so pushing and popping never allocate in the steady state. */
#include "sim/evq.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/fbstd.h"

#define ARITY                                                                                      \
    4 /* a 4-ary heap: half the levels of a binary one, and siblings share cache lines             \
       */

int fb_evq_init(fb_evq *q, size_t max)
{
    memset(q, 0, sizeof(*q));
    q->max = max;
    q->cap = max < 1024 ? max : 1024;
    q->heap = malloc((q->cap ? q->cap : 1) * sizeof(fb_ev));
    return q->heap ? 0 : FB_ENOMEM;
}

void fb_evq_fini(fb_evq *q)
{
    free(q->heap);
    memset(q, 0, sizeof(*q));
}

/* (t, seqkind) as one 128-bit number: one compare without branches (the branches of a
 * two-field compare are mispredicted about half the time in a heap). */
static inline unsigned __int128 key(const fb_ev *x)
{
    return (unsigned __int128)x->t << 64 | x->seqkind;
}

static inline int before(const fb_ev *x, const fb_ev *y)
{
    return key(x) < key(y);
}

int fb_evq_push(fb_evq *q, uint64_t t, unsigned kind, uint32_t a, uint32_t b)
{
    if (q->len == q->cap) {
        if (q->cap >= q->max)
            return FB_ENOSPC;
        size_t ncap = q->cap * 2 > q->max ? q->max : q->cap * 2;
        fb_ev *nh = realloc(q->heap, ncap * sizeof(fb_ev));
        if (!nh)
            return FB_ENOMEM;
        q->heap = nh;
        q->cap = ncap;
    }
    fb_ev e = {t < q->now ? q->now : t, q->seq++ << 8 | (kind & 0xff), a, b};
    q->pushed++;
    size_t i = q->len++;
    while (i > 0) {
        size_t parent = (i - 1) / ARITY;
        if (!before(&e, &q->heap[parent]))
            break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = e;
    return 0;
}

/* The earliest of the four children c..c+3 (all present), and its key: a tournament of three
 * compares without branches. */
static inline size_t min4(const fb_ev *h, size_t c, unsigned __int128 *bk)
{
    unsigned __int128 k0 = key(&h[c]), k1 = key(&h[c + 1]);
    unsigned __int128 k2 = key(&h[c + 2]), k3 = key(&h[c + 3]);
    bool l01 = k1 < k0, l23 = k3 < k2;
    size_t a = l01 ? c + 1 : c, b = l23 ? c + 3 : c + 2;
    unsigned __int128 ka = l01 ? k1 : k0, kb = l23 ? k3 : k2;
    bool lt = kb < ka;
    *bk = lt ? kb : ka;
    return lt ? b : a;
}

int fb_evq_pop(fb_evq *q, fb_ev *out)
{
    if (q->len == 0)
        return FB_ENOENT;
    fb_ev *h = q->heap;
    *out = h[0];
    q->now = out->t;
    size_t n = --q->len, i = 0;
    if (n == 0)
        return 0;
    /* Sift the last event down from the root: every level but the deepest has all four
     * children, so the common case is one straight tournament per level. */
    fb_ev last = h[n];
    unsigned __int128 lk = key(&last);
    for (;;) {
        size_t c = ARITY * i + 1, best;
        unsigned __int128 bk;
        if (c + ARITY <= n) {
            /* The grandchildren are 16 consecutive events: start loading them while this
             * level's tournament runs (the lower levels of a big heap are out of cache). */
            size_t g = ARITY * c + 1;
            if (g < n) {
                const char *gp = (const char *)&h[g];
                for (size_t off = 0; off < ARITY * ARITY * sizeof(fb_ev); off += 64)
                    __builtin_prefetch(gp + off);
            }
            best = min4(h, c, &bk);
        } else if (c < n) {
            best = c;
            bk = key(&h[c]);
            for (size_t k = c + 1; k < n; k++) {
                unsigned __int128 kk = key(&h[k]);
                bool lt = kk < bk;
                best = lt ? k : best;
                bk = lt ? kk : bk;
            }
        } else {
            break;
        }
        if (bk >= lk)
            break;
        h[i] = h[best];
        i = best;
    }
    h[i] = last;
    return 0;
}

/* The root, the earliest of its children, then the earlier of its second-earliest child and the
 * earliest child of the first (a child is never earlier than its parent). */
int fb_evq_upcoming(const fb_evq *q, const fb_ev *out[FB_EVQ_UPCOMING])
{
    _Static_assert(FB_EVQ_UPCOMING == 3, "the selection below picks three");
    const fb_ev *h = q->heap;
    size_t n = q->len;
    if (n == 0)
        return 0;
    out[0] = &h[0];
    if (n == 1)
        return 1;
    size_t b1 = 1, b2 = 0; /* the two earliest children of the root (0: none) */
    for (size_t c = 2; c <= ARITY && c < n; c++) {
        if (before(&h[c], &h[b1])) {
            b2 = b1;
            b1 = c;
        } else if (!b2 || before(&h[c], &h[b2])) {
            b2 = c;
        }
    }
    out[1] = &h[b1];
    size_t b3 = b2;
    for (size_t c = ARITY * b1 + 1; c <= ARITY * b1 + ARITY && c < n; c++)
        if (!b3 || before(&h[c], &h[b3]))
            b3 = c;
    if (!b3)
        return 2;
    out[2] = &h[b3];
    return 3;
}
