/* Chunk selection policies (see picker.h). The rarest-first scan walks 64-bit words of
 * theirs & want, so a sender with nothing we want costs n_chunks / 64 word tests. */
#include "engine/picker.h"

#include "core/intervals.h"

/* Scans chunks [from, to) for the rarest candidate; updates *best and *best_avail and the
 * remaining budget. Returns true when it can stop (budget spent or rarity 0 found). */
static bool scan(const fb_pick_query *q, uint32_t from, uint32_t to, uint32_t *best,
                 uint32_t *best_avail, uint32_t *budget)
{
    uint32_t i = from;
    while (i < to) {
        uint32_t wi = i >> 6;
        uint64_t w = q->want[wi] & (q->theirs ? q->theirs[wi] : ~(uint64_t)0);
        w &= ~(uint64_t)0 << (i & 63); /* drop bits below i */
        uint32_t word_end = (wi + 1) * 64;
        if (word_end > to) {
            w &= ((uint64_t)1 << (to & 63)) - 1; /* drop bits at or past `to` */
            word_end = to;
        }
        while (w) {
            uint32_t c = wi * 64 + (uint32_t)__builtin_ctzll(w);
            w &= w - 1;
            uint32_t a = q->avail[c];
            if (a < *best_avail) {
                *best_avail = a;
                *best = c;
                if (a == 0)
                    return true;
            }
            if (--*budget == 0)
                return true;
        }
        i = word_end;
    }
    return false;
}

uint32_t fb_pick_rarest(const fb_pick_query *q)
{
    uint32_t best = UINT32_MAX, best_avail = UINT32_MAX;
    uint32_t budget = q->budget ? q->budget : UINT32_MAX;
    uint32_t start = q->n_chunks ? q->start % q->n_chunks : 0;
    if (!scan(q, start, q->n_chunks, &best, &best_avail, &budget))
        scan(q, 0, start, &best, &best_avail, &budget);
    return best;
}

int fb_pick_endgame(const fb_pick_flight *f, uint32_t n, const uint64_t *theirs)
{
    int best = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (!f[i].dup_ok || (theirs && !fb_bit_get(theirs, f[i].chunk)))
            continue;
        if (best < 0 || f[i].remaining > f[best].remaining)
            best = (int)i;
    }
    return best;
}

uint32_t fb_pick_least_served(const uint32_t *served, uint32_t n_chunks, const uint8_t *excl,
                              size_t excl_len, uint32_t start, uint32_t budget)
{
    uint32_t best = UINT32_MAX, best_n = UINT32_MAX;
    if (!n_chunks)
        return best;
    start %= n_chunks;
    if (!budget)
        budget = UINT32_MAX;
    /* Two passes over the gaps of the exclusion list: [start, n) then [0, start). */
    for (int pass = 0; pass < 2 && budget; pass++) {
        uint32_t lo = pass ? 0 : start, hi = pass ? start : n_chunks;
        fb_ivwire w;
        fb_ivwire_begin(&w, excl, excl_len);
        uint32_t cur = 0, s, e;
        bool more = excl_len >= 2;
        while (budget && cur < hi) {
            uint32_t gap_end = hi;
            bool have_iv = more && fb_ivwire_next(&w, &s, &e);
            if (!have_iv)
                more = false;
            else
                gap_end = FB_MIN(s, hi);
            for (uint32_t c = FB_MAX(cur, lo); c < gap_end && budget; c++, budget--) {
                if (served[c] < best_n) {
                    best_n = served[c];
                    best = c;
                    if (best_n == 0)
                        return best;
                }
            }
            if (!have_iv)
                break;
            cur = e;
        }
    }
    return best;
}
