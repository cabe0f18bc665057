/* The in-memory chunk store of the peer role: a page buffer, chunk offsets and a bitmap. */
#include "net/chunkstore.h"

#include "core/chunk.h"
#include "core/manifest.h"

int fb_memstore_init(fb_memstore *s, const uint64_t *offsets, uint32_t n_chunks, uint64_t cap)
{
    memset(s, 0, sizeof(*s));
    s->swarm = -1;
    if (offsets == NULL || offsets[0] != 0)
        return FB_EINVAL;
    for (uint32_t i = 0; i < n_chunks; i++)
        if (offsets[i + 1] < offsets[i])
            return FB_EINVAL;
    if (offsets[n_chunks] > cap || offsets[n_chunks] > SIZE_MAX)
        return FB_E2BIG;
    s->total = offsets[n_chunks];
    s->n_chunks = n_chunks;
    s->off = malloc(((size_t)n_chunks + 1) * sizeof(uint64_t));
    s->have = calloc((size_t)n_chunks / 8 + 1, 1);
    s->page = malloc(s->total ? (size_t)s->total : 1);
    if (s->off == NULL || s->have == NULL || s->page == NULL) {
        fb_memstore_fini(s);
        return FB_ENOMEM;
    }
    memcpy(s->off, offsets, ((size_t)n_chunks + 1) * sizeof(uint64_t));
    return 0;
}

int fb_memstore_init_objects(fb_memstore *s, const uint64_t *sizes, uint32_t n_objects,
                             uint32_t chunk_size, uint64_t cap)
{
    uint64_t n = 0, pos = 0;
    uint64_t *offs;
    uint32_t k = 0;
    int rc;
    memset(s, 0, sizeof(*s));
    s->swarm = -1;
    if (chunk_size == 0 || (sizes == NULL && n_objects > 0))
        return FB_EINVAL;
    /* The page size against the cap first, so nothing is allocated for an oversized page. */
    for (uint32_t i = 0; i < n_objects; i++) {
        if (sizes[i] > cap - pos)
            return FB_E2BIG;
        pos += sizes[i];
        n += fb_chunk_count(sizes[i], chunk_size);
        if (n > UINT32_MAX - 1)
            return FB_E2BIG;
    }
    offs = malloc((size_t)(n + 1) * sizeof(uint64_t));
    if (offs == NULL)
        return FB_ENOMEM;
    offs[0] = 0;
    pos = 0;
    for (uint32_t i = 0; i < n_objects; i++) {
        uint64_t left = sizes[i];
        while (left > 0) {
            uint64_t len = FB_MIN(left, (uint64_t)chunk_size);
            pos += len;
            left -= len;
            offs[++k] = pos;
        }
    }
    rc = fb_memstore_init(s, offs, (uint32_t)n, cap);
    free(offs);
    return rc;
}

int fb_memstore_init_manifest(fb_memstore *s, const fb_manifest *m, uint64_t cap)
{
    fb_manifest_iter it = {0};
    fb_manifest_object o;
    uint64_t *sizes;
    uint32_t i = 0;
    int rc;
    memset(s, 0, sizeof(*s));
    s->swarm = -1;
    if (m->total_size > cap)
        return FB_E2BIG;
    sizes = malloc((m->n_objects ? m->n_objects : 1) * sizeof(uint64_t));
    if (sizes == NULL)
        return FB_ENOMEM;
    while (i < m->n_objects && fb_manifest_next(m, &it, &o))
        sizes[i++] = o.size;
    rc = i == m->n_objects ? fb_memstore_init_objects(s, sizes, i, m->chunk_size, cap) : FB_EINVAL;
    free(sizes);
    if (rc == 0 && s->n_chunks != m->n_chunks) {
        fb_memstore_fini(s);
        rc = FB_EINVAL;
    }
    return rc;
}

void fb_memstore_fini(fb_memstore *s)
{
    free(s->page);
    free(s->off);
    free(s->have);
    s->page = NULL;
    s->off = NULL;
    s->have = NULL;
    s->n_chunks = s->n_have = 0;
    s->total = 0;
}

bool fb_memstore_has(const fb_memstore *s, uint32_t c)
{
    return c < s->n_chunks && (s->have[c / 8] >> (c % 8) & 1);
}

int fb_memstore_put(fb_memstore *s, uint32_t c, const uint8_t *data, size_t len)
{
    if (c >= s->n_chunks || len != s->off[c + 1] - s->off[c])
        return FB_EINVAL;
    memcpy(s->page + s->off[c], data, len);
    if (!fb_memstore_has(s, c)) {
        s->have[c / 8] |= (uint8_t)(1u << (c % 8));
        s->n_have++;
    }
    return 0;
}

int fb_memstore_get(const fb_memstore *s, uint32_t c, size_t off, uint8_t *buf, size_t len)
{
    if (c >= s->n_chunks)
        return FB_EINVAL;
    uint64_t clen = s->off[c + 1] - s->off[c];
    if (off > clen || len > clen - off)
        return FB_EINVAL;
    if (!fb_memstore_has(s, c))
        return FB_ENOENT;
    memcpy(buf, s->page + s->off[c] + off, len);
    return 0;
}

/* The first chunk whose end is past byte `pos` (binary search over the offsets). */
static uint32_t chunk_at(const fb_memstore *s, uint64_t pos)
{
    uint32_t lo = 0, hi = s->n_chunks;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->off[mid + 1] <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool fb_memstore_range_complete(const fb_memstore *s, uint64_t off, uint64_t len)
{
    if (off > s->total || len > s->total - off)
        return false;
    for (uint32_t c = chunk_at(s, off); c < s->n_chunks && s->off[c] < off + len; c++)
        if (s->off[c + 1] > s->off[c] && !fb_memstore_has(s, c))
            return false;
    return true;
}

static int ms_read(void *ctx, int swarm, uint32_t chunk, size_t off, uint8_t *buf, size_t len)
{
    fb_memstore *s = ctx;
    if (s->swarm >= 0 && swarm != s->swarm)
        return FB_ENOENT;
    return fb_memstore_get(s, chunk, off, buf, len);
}

static void ms_write(void *ctx, int swarm, uint32_t chunk, const uint8_t *data, size_t len)
{
    fb_memstore *s = ctx;
    if ((s->swarm >= 0 && swarm != s->swarm) || fb_memstore_put(s, chunk, data, len) != 0)
        s->refused++;
}

fb_chunk_store fb_memstore_as_store(fb_memstore *s)
{
    fb_chunk_store st = {.ctx = s, .read = ms_read, .write = ms_write};
    return st;
}
