/* Slab-backed fixed-size block pool with an intrusive free list. */
#include "sim/pool.h"

#include <stdlib.h>
#include <string.h>

#include "core/fbstd.h"

int fb_pool_init(fb_pool *p, size_t size, uint32_t max)
{
    memset(p, 0, sizeof(*p));
    p->size = size < 4 ? 4 : (size + 7) & ~(size_t)7;
    if (p->size > 32)
        p->size = (p->size + 63) & ~(size_t)63; /* whole cache lines, line-aligned */
    if (max == FB_POOL_NONE)
        max--; /* an index is never FB_POOL_NONE */
    p->max = max;
    p->free_head = FB_POOL_NONE;
    p->slabs = calloc(((size_t)max >> FB_POOL_SLAB_SHIFT) + 1, sizeof(*p->slabs));
    return p->slabs ? 0 : FB_ENOMEM;
}

void fb_pool_fini(fb_pool *p)
{
    for (uint32_t i = 0; i < p->n_slabs; i++)
        free(p->slabs[i]);
    free(p->slabs);
    memset(p, 0, sizeof(*p));
}

uint32_t fb_pool_get(fb_pool *p)
{
    uint32_t i;
    if (p->free_head != FB_POOL_NONE) {
        i = p->free_head;
        memcpy(&p->free_head, fb_pool_ptr(p, i), 4);
        p->used++;
        return i;
    }
    if (p->made >= p->max)
        return FB_POOL_NONE;
    if ((p->made >> FB_POOL_SLAB_SHIFT) == p->n_slabs) {
        size_t bytes = p->size << FB_POOL_SLAB_SHIFT;
        uint8_t *slab = aligned_alloc(64, bytes);
        if (!slab)
            return FB_POOL_NONE;
        memset(slab, 0, bytes);
        p->slabs[p->n_slabs++] = slab;
    }
    i = p->made++;
    p->used++;
    return i;
}

void fb_pool_put(fb_pool *p, uint32_t i)
{
    memcpy(fb_pool_ptr(p, i), &p->free_head, 4);
    p->free_head = i;
    p->used--;
}
