/* The crowd's plan (crowdplan.h): arrival times, the cost of one visitor, how many fit, and
 * reading flashbackd's metrics. */
#include "peer/crowdplan.h"

#include <math.h>
#include <stdlib.h>

#include "sim/rng.h"

#define RANGE_CHUNKS 16 /* chunks per range request at most (peer/page.c) */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void fb_crowd_arrivals_fill(uint32_t *at_ms, uint32_t n, uint32_t over_ms, fb_crowd_arrivals kind,
                            uint64_t seed)
{
    fb_rng r;
    if (n == 0)
        return;
    if (over_ms == 0) {
        memset(at_ms, 0, n * sizeof(*at_ms));
        return;
    }
    if (kind == FB_ARRIVE_EVEN) {
        for (uint32_t i = 0; i < n; i++)
            at_ms[i] = (uint32_t)((uint64_t)i * over_ms / n);
        return;
    }
    fb_rng_seed(&r, seed, 0);
    for (uint32_t i = 0; i < n; i++)
        at_ms[i] = (uint32_t)fb_rng_below(&r, over_ms);
    qsort(at_ms, n, sizeof(*at_ms), cmp_u32);
}

uint32_t fb_crowd_fds_per_visitor(uint32_t origin_conns)
{
    return FB_CROWD_FDS_FIXED + origin_conns + 1;
}

uint64_t fb_crowd_mem_per_visitor(uint64_t page_bytes, uint64_t manifest_bytes, uint32_t n_chunks,
                                  uint32_t chunk_size, uint32_t origin_conns)
{
    uint64_t ranges = (uint64_t)origin_conns * RANGE_CHUNKS * chunk_size;
    /* Per chunk: the store's offset (8) and bitmaps, the page's want/busy bits, the engine's
     * chunk state and hash: 64 bytes covers them with room. */
    return page_bytes + 3 * manifest_bytes + (uint64_t)n_chunks * 64 + ranges + FB_CROWD_MEM_FIXED;
}

uint32_t fb_crowd_max_visitors(const fb_crowd_room *room, uint32_t fds_per_visitor,
                               uint64_t mem_per_visitor, bool *by_fds)
{
    uint64_t by_f = fds_per_visitor ? room->fds / fds_per_visitor : UINT64_MAX;
    uint64_t by_m = room->mem && mem_per_visitor ? room->mem / mem_per_visitor : UINT64_MAX;
    uint64_t n = FB_MIN(by_f, by_m);
    *by_fds = by_f <= by_m;
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

int fb_crowd_metric(const char *text, size_t len, const char *name, uint64_t *out)
{
    size_t nl = strlen(name), i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && text[end] != '\n')
            end++;
        /* A sample line: "name value" (one or more spaces or tabs between). */
        if (end - i > nl && memcmp(text + i, name, nl) == 0 &&
            (text[i + nl] == ' ' || text[i + nl] == '\t')) {
            size_t v = i + nl;
            char num[64];
            size_t k = 0;
            while (v < end && (text[v] == ' ' || text[v] == '\t'))
                v++;
            while (v < end && text[v] != ' ' && text[v] != '\t' && text[v] != '\r' &&
                   k + 1 < sizeof(num))
                num[k++] = text[v++];
            num[k] = '\0';
            char *stop;
            double d = k ? strtod(num, &stop) : -1;
            if (k == 0 || *stop != '\0' || !(d >= 0) || d >= 1.8e19)
                return FB_EINVAL;
            *out = (uint64_t)floor(d);
            return 0;
        }
        i = end + 1;
    }
    return FB_ENOENT;
}
