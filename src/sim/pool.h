/* Fixed-size blocks by index, allocated in slabs and recycled through a free list: the
 * simulator's packets, payloads and flows come from pools, so the steady state never calls
 * malloc. Indices stay valid until fb_pool_put; pointers stay valid until fb_pool_fini (slabs are
 * never moved, and the table of slabs is allocated whole at init, so another thread may read a
 * block it was handed while this one takes or returns others). */
#ifndef FB_SIM_POOL_H
#define FB_SIM_POOL_H

#include <stddef.h>
#include <stdint.h>

#define FB_POOL_NONE       UINT32_MAX
#define FB_POOL_SLAB_SHIFT 12 /* 4096 blocks per slab */

typedef struct fb_pool {
    size_t size;        /* bytes per block (at least 4: a free block holds the next index;
                           blocks over 32 bytes are whole 64-byte cache lines) */
    uint32_t max;       /* cap on blocks */
    uint32_t used;      /* blocks handed out */
    uint32_t made;      /* blocks carved from slabs so far */
    uint32_t free_head; /* FB_POOL_NONE when the free list is empty */
    uint8_t **slabs;
    uint32_t n_slabs;
} fb_pool;

/* Initializes an empty pool of blocks of `size` bytes, at most `max` of them. Allocates the
 * table of slabs (a pointer per 4096 blocks of max), no slab. Returns 0 or FB_ENOMEM. */
int fb_pool_init(fb_pool *p, size_t size, uint32_t max);
void fb_pool_fini(fb_pool *p);

/* Takes a block; returns its index, or FB_POOL_NONE when the pool holds `max` blocks already or
 * memory ran out. A block never handed out before is zeroed; a recycled block keeps what
 * its last user left, except its first 4 bytes (the free list link). */
uint32_t fb_pool_get(fb_pool *p);

/* Returns block i to the pool. */
void fb_pool_put(fb_pool *p, uint32_t i);

static inline void *fb_pool_ptr(const fb_pool *p, uint32_t i)
{
    return p->slabs[i >> FB_POOL_SLAB_SHIFT] +
           (size_t)(i & ((1u << FB_POOL_SLAB_SHIFT) - 1)) * p->size;
}

#endif
