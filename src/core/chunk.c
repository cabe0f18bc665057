/* Chunk geometry: prefix sums over object chunk counts and the arithmetic of blocks. */
#include "core/chunk.h"

uint64_t fb_chunk_count(uint64_t size, uint32_t chunk_size)
{
    return chunk_size ? (size + chunk_size - 1) / chunk_size : 0;
}

int fb_chunk_map_init(fb_chunk_map *m, uint32_t chunk_size, const uint64_t *size, uint32_t n,
                      uint32_t *first, uint32_t max_chunks)
{
    if (chunk_size == 0 || chunk_size % FB_BLOCK_SIZE || chunk_size > FB_CHUNK_SIZE_MAX)
        return FB_EINVAL;
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        first[i] = (uint32_t)total;
        total += fb_chunk_count(size[i], chunk_size);
        if (total > max_chunks || total >= FB_CHUNK_NONE)
            return FB_E2BIG;
    }
    first[n] = (uint32_t)total;
    m->chunk_size = chunk_size;
    m->n_objects = n;
    m->n_chunks = (uint32_t)total;
    m->size = size;
    m->first = first;
    return 0;
}

int fb_chunk_locate(const fb_chunk_map *m, uint32_t c, uint32_t *object, uint64_t *offset,
                    uint32_t *len)
{
    if (c >= m->n_chunks)
        return FB_EINVAL;
    /* The last object i with first[i] <= c; empty objects share their first with the next one,
     * and the search skips them because it takes the last such i. */
    uint32_t lo = 0, hi = m->n_objects - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        if (m->first[mid] <= c)
            lo = mid;
        else
            hi = mid - 1;
    }
    uint64_t off = (uint64_t)(c - m->first[lo]) * m->chunk_size;
    uint64_t rest = m->size[lo] - off;
    if (object)
        *object = lo;
    if (offset)
        *offset = off;
    if (len)
        *len = (uint32_t)(rest < m->chunk_size ? rest : m->chunk_size);
    return 0;
}

uint32_t fb_chunk_len(const fb_chunk_map *m, uint32_t c)
{
    uint32_t len;
    return fb_chunk_locate(m, c, NULL, NULL, &len) ? 0 : len;
}

uint32_t fb_chunk_blocks(uint32_t len)
{
    return (len + FB_BLOCK_SIZE - 1) / FB_BLOCK_SIZE;
}

uint32_t fb_block_len(uint32_t chunk_len, uint32_t b)
{
    uint64_t off = (uint64_t)b * FB_BLOCK_SIZE;
    if (off >= chunk_len)
        return 0;
    return chunk_len - off < FB_BLOCK_SIZE ? (uint32_t)(chunk_len - off) : FB_BLOCK_SIZE;
}

uint32_t fb_chunk_full_mask(uint32_t len)
{
    uint32_t nb = fb_chunk_blocks(len);
    return nb >= 32 ? UINT32_MAX : ((uint32_t)1 << nb) - 1;
}
