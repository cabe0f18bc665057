/* 4-ary min-heap of events packed into 16-byte keys (time, sequence, kind, a, b). The array is
 * allocated by doubling up to the cap given at init, so pushing and popping never allocate in the
 * steady state. */
#include "sim/evq.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/fbstd.h"

#define ARITY                                                                                      \
    4 /* a 4-ary heap: half the levels of a binary one, and siblings share a cache line            \
       */

/* Bit positions of the fields in a key. */
#define B_SHIFT   0
#define A_SHIFT   (B_SHIFT + FB_EVQ_B_BITS)
#define K_SHIFT   (A_SHIFT + FB_EVQ_A_BITS)
#define SEQ_SHIFT (K_SHIFT + FB_EVQ_K_BITS)
#define T_SHIFT   (SEQ_SHIFT + FB_EVQ_SEQ_BITS)
_Static_assert(T_SHIFT + FB_EVQ_T_BITS == 128, "a key is 128 bits");

/* Slots before heap[0] in the allocation, so that heap[1] (and every group of four children
 * 4i+1..4i+4) starts a 64-byte line. */
#define LEAD 3

static fb_evkey *place(void *mem)
{
    return (fb_evkey *)mem + LEAD;
}

/* A line-aligned array of cap slots (plus the lead), or NULL. */
static void *alloc_slots(size_t cap)
{
    size_t bytes = (cap + LEAD) * sizeof(fb_evkey);
    return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
}

int fb_evq_init(fb_evq *q, size_t max)
{
    memset(q, 0, sizeof(*q));
    q->max = max;
    q->cap = max < 1024 ? max : 1024;
    q->mem = alloc_slots(q->cap ? q->cap : 1);
    if (!q->mem)
        return FB_ENOMEM;
    q->heap = place(q->mem);
    return 0;
}

void fb_evq_fini(fb_evq *q)
{
    free(q->mem);
    memset(q, 0, sizeof(*q));
}

static inline fb_ev unpack(fb_evkey k)
{
    fb_ev e;
    e.t = (uint64_t)(k >> T_SHIFT);
    uint64_t seq = (uint64_t)(k >> SEQ_SHIFT) & ((1ull << FB_EVQ_SEQ_BITS) - 1);
    unsigned kind = (unsigned)(k >> K_SHIFT) & ((1u << FB_EVQ_K_BITS) - 1);
    e.seqkind = seq << 8 | kind;
    e.a = (uint32_t)(k >> A_SHIFT) & ((1u << FB_EVQ_A_BITS) - 1);
    e.b = (uint32_t)(k >> B_SHIFT) & FB_EVQ_B_MASK;
    return e;
}

/* Pushes an event with sequence number seq (below 2^35, not given to another event). */
static int push(fb_evq *q, uint64_t t, uint64_t seq, unsigned kind, uint32_t a, uint32_t b)
{
    if (kind >> FB_EVQ_K_BITS || a >> FB_EVQ_A_BITS)
        return FB_EINVAL;
    if (q->len == q->cap) {
        if (q->cap >= q->max)
            return FB_ENOSPC;
        size_t ncap = q->cap * 2 > q->max ? q->max : q->cap * 2;
        void *nm = alloc_slots(ncap);
        if (!nm)
            return FB_ENOMEM;
        memcpy(place(nm), q->heap, q->len * sizeof(fb_evkey));
        free(q->mem);
        q->mem = nm;
        q->heap = place(nm);
        q->cap = ncap;
    }
    if (t < q->now)
        t = q->now;
    if (t > FB_EVQ_T_MAX)
        t = FB_EVQ_T_MAX;
    fb_evkey e = (fb_evkey)t << T_SHIFT | (fb_evkey)seq << SEQ_SHIFT | (fb_evkey)kind << K_SHIFT |
                 (fb_evkey)a << A_SHIFT | (fb_evkey)(b & FB_EVQ_B_MASK) << B_SHIFT;
    q->pushed++;
    fb_evkey *h = q->heap;
    size_t i = q->len++;
    while (i > 0) {
        size_t parent = (i - 1) / ARITY;
        if (e >= h[parent])
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = e;
    return 0;
}

int fb_evq_push(fb_evq *q, uint64_t t, unsigned kind, uint32_t a, uint32_t b)
{
    if (q->seq >> FB_EVQ_SEQ_BITS)
        return FB_ENOSPC;
    int rc = push(q, t, q->seq, kind, a, b);
    if (rc == 0)
        q->seq++;
    return rc;
}

uint64_t fb_evq_reserve(fb_evq *q, uint64_t n)
{
    uint64_t base = q->seq;
    q->seq += n;
    return base;
}

int fb_evq_push_seq(fb_evq *q, uint64_t t, uint64_t seq, unsigned kind, uint32_t a, uint32_t b)
{
    if (seq >> FB_EVQ_SEQ_BITS)
        return FB_ENOSPC;
    return push(q, t, seq, kind, a, b);
}

/* The earliest of the four children c..c+3 (all present), and its key: a tournament of three
 * compares without branches (the branches of a key compare are mispredicted about half the
 * time in a heap). */
static inline size_t min4(const fb_evkey *h, size_t c, fb_evkey *bk)
{
    fb_evkey k0 = h[c], k1 = h[c + 1], k2 = h[c + 2], k3 = h[c + 3];
    bool l01 = k1 < k0, l23 = k3 < k2;
    size_t a = l01 ? c + 1 : c, b = l23 ? c + 3 : c + 2;
    fb_evkey ka = l01 ? k1 : k0, kb = l23 ? k3 : k2;
    bool lt = kb < ka;
    *bk = lt ? kb : ka;
    return lt ? b : a;
}

int fb_evq_pop(fb_evq *q, fb_ev *out)
{
    if (q->len == 0)
        return FB_ENOENT;
    fb_evkey *h = q->heap;
    *out = unpack(h[0]);
    q->now = out->t;
    q->popped++;
    size_t n = --q->len, i = 0;
    if (n == 0)
        return 0;
    /* Sift the last event down from the root: every level but the deepest has all four
     * children, so the common case is one straight tournament per level. */
    fb_evkey last = h[n];
    for (;;) {
        size_t c = ARITY * i + 1, best;
        fb_evkey bk;
        if (c + ARITY <= n) {
            /* The grandchildren are 16 consecutive keys (four lines): start loading them while
             * this level's tournament runs (the lower levels of a big heap are out of cache). */
            size_t g = ARITY * c + 1;
            if (g < n) {
                const char *gp = (const char *)&h[g];
                for (size_t off = 0; off < ARITY * ARITY * sizeof(fb_evkey); off += 64)
                    __builtin_prefetch(gp + off);
            }
            best = min4(h, c, &bk);
        } else if (c < n) {
            best = c;
            bk = h[c];
            for (size_t k = c + 1; k < n; k++) {
                bool lt = h[k] < bk;
                best = lt ? k : best;
                bk = lt ? h[k] : bk;
            }
        } else {
            break;
        }
        if (bk >= last)
            break;
        h[i] = bk;
        i = best;
    }
    h[i] = last;
    return 0;
}

/* The root, the earliest of its children, then the earlier of its second-earliest child and the
 * earliest child of the first (a child is never earlier than its parent). */
int fb_evq_upcoming(const fb_evq *q, fb_ev out[FB_EVQ_UPCOMING])
{
    _Static_assert(FB_EVQ_UPCOMING == 3, "the selection below picks three");
    const fb_evkey *h = q->heap;
    size_t n = q->len;
    if (n == 0)
        return 0;
    out[0] = unpack(h[0]);
    if (n == 1)
        return 1;
    size_t b1 = 1, b2 = 0; /* the two earliest children of the root (0: none) */
    for (size_t c = 2; c <= ARITY && c < n; c++) {
        if (h[c] < h[b1]) {
            b2 = b1;
            b1 = c;
        } else if (!b2 || h[c] < h[b2]) {
            b2 = c;
        }
    }
    out[1] = unpack(h[b1]);
    size_t b3 = b2;
    for (size_t c = ARITY * b1 + 1; c <= ARITY * b1 + ARITY && c < n; c++)
        if (!b3 || h[c] < h[b3])
            b3 = c;
    if (!b3)
        return 2;
    out[2] = unpack(h[b3]);
    return 3;
}
