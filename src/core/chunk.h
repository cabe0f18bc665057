/* Chunk geometry: a page's objects laid out in one global chunk index space. Object i owns the
 * chunks [first[i], first[i] + n_i) with n_i = ceil(size_i / chunk_size) (an empty object owns
 * none); every chunk is chunk_size bytes except the last chunk of each object, which holds the
 * rest. A chunk is the unit of hashing and is fetched whole from one sender; on the wire it
 * travels as blocks of FB_BLOCK_SIZE bytes (the last block of a chunk is short). A value module:
 * no allocation, the caller provides the prefix-sum array. */
#ifndef FB_CHUNK_H
#define FB_CHUNK_H

#include "core/fbstd.h"

#define FB_BLOCK_SIZE         1024       /* payload bytes of one DATA datagram */
#define FB_CHUNK_SIZE_DEFAULT 8192       /* 8 blocks (docs/PROTOCOL.md: measured against 16 KiB) */
#define FB_CHUNK_SIZE_MAX     32768      /* 32 blocks: a block mask is 32 bits */
#define FB_CHUNK_NONE         UINT32_MAX /* never a chunk index (the wire uses it for "any") */

typedef struct fb_chunk_map {
    uint32_t chunk_size; /* a multiple of FB_BLOCK_SIZE, <= FB_CHUNK_SIZE_MAX */
    uint32_t n_objects;
    uint32_t n_chunks;    /* total over all objects */
    const uint64_t *size; /* n_objects object sizes (caller storage) */
    uint32_t *first;      /* n_objects + 1 entries (caller storage): first[i] is object i's first
                             chunk, first[n_objects] == n_chunks */
} fb_chunk_map;

/* Chunks an object of `size` bytes needs. */
uint64_t fb_chunk_count(uint64_t size, uint32_t chunk_size);

/* Lays out n objects with the given sizes. `first` must hold n + 1 entries; `size` must stay
 * valid as long as the map is used. Returns 0, FB_EINVAL (bad chunk size), or FB_E2BIG (more than
 * max_chunks chunks in total). */
int fb_chunk_map_init(fb_chunk_map *m, uint32_t chunk_size, const uint64_t *size, uint32_t n,
                      uint32_t *first, uint32_t max_chunks);

/* The object owning chunk c, the chunk's byte offset in that object and its length.
 * Returns 0 or FB_EINVAL if c >= n_chunks. O(log n_objects). */
int fb_chunk_locate(const fb_chunk_map *m, uint32_t c, uint32_t *object, uint64_t *offset,
                    uint32_t *len);

/* Length of chunk c in bytes (0 if c is out of range). */
uint32_t fb_chunk_len(const fb_chunk_map *m, uint32_t c);

/* Blocks in a chunk of len bytes, and the length of block b of such a chunk (0 if b is past
 * the end). */
uint32_t fb_chunk_blocks(uint32_t len);
uint32_t fb_block_len(uint32_t chunk_len, uint32_t b);

/* Bit mask with one bit per block of a chunk of len bytes (bit b = block b). */
uint32_t fb_chunk_full_mask(uint32_t len);

#endif
