/* Chunk selection, seen only through small query structs so it is testable without an engine
 * (docs/PROTOCOL.md, "Picker"):
 * - rarest first: among the chunks a sender holds that we still want (missing, not requested),
 *   the one the fewest neighbours hold, ties broken by a random starting point;
 * - endgame: when nothing is left to request, a chunk already in flight from someone else, the
 *   one with the most blocks still to come, is asked from an idle sender too;
 * - least served (the seed's choice, super-seeding): among the chunks a peer does not exclude,
 *   the one the seed has handed out least. */
#ifndef FB_PICKER_H
#define FB_PICKER_H

#include "core/fbstd.h"

typedef struct fb_pick_query {
    uint32_t n_chunks;
    const uint64_t *theirs; /* bitmap of the sender's chunks; NULL: it holds all */
    const uint64_t *want;   /* bitmap of chunks we may request (missing, none in flight) */
    const uint16_t *avail;  /* per chunk: how many neighbours hold it */
    uint32_t start;         /* first chunk examined (the caller draws it at random) */
    uint32_t budget;        /* candidates examined at most (bounds the work on huge pages) */
} fb_pick_query;

/* The rarest candidate, or UINT32_MAX if there is none. */
uint32_t fb_pick_rarest(const fb_pick_query *q);

/* An in-flight chunk, as the endgame sees it. */
typedef struct fb_pick_flight {
    uint32_t chunk;
    uint32_t remaining; /* blocks not yet received */
    bool dup_ok;        /* not from this sender, and no second request yet */
} fb_pick_flight;

/* The endgame choice among n in-flight chunks for a sender holding `theirs` (NULL: all): the
 * eligible one with the most blocks remaining (first among equals). Returns its index in f, or
 * -1. */
int fb_pick_endgame(const fb_pick_flight *f, uint32_t n, const uint64_t *theirs);

/* The seed's choice: the chunk in [0, n_chunks) outside the excluded interval list (wire form,
 * already validated) handed out least so far (served[c]); ties go to the first one at or after
 * `start` (wrapping). At most `budget` candidates are examined. Returns UINT32_MAX if every chunk
 * is excluded. */
uint32_t fb_pick_least_served(const uint32_t *served, uint32_t n_chunks, const uint8_t *excl,
                              size_t excl_len, uint32_t start, uint32_t budget);

static inline bool fb_bit_get(const uint64_t *b, uint32_t i)
{
    return (b[i >> 6] >> (i & 63)) & 1;
}
static inline void fb_bit_set(uint64_t *b, uint32_t i)
{
    b[i >> 6] |= (uint64_t)1 << (i & 63);
}
static inline void fb_bit_clear(uint64_t *b, uint32_t i)
{
    b[i >> 6] &= ~((uint64_t)1 << (i & 63));
}

#endif
