/* Chunk-hash cache (hashcache.h): chained hash table on the identity, doubly linked LRU list,
 * one allocation per entry (header and hashes together). */
#include "server/hashcache.h"

struct fb_hashcache_entry {
    fb_file_id id;
    uint32_t chunk_size, n_chunks;
    uint32_t hash;
    size_t mem;
    fb_hashcache_entry *hnext;
    fb_hashcache_entry *prev, *next;
    uint8_t hashes[]; /* n_chunks * 32 */
};

static uint32_t mix(uint32_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (uint8_t)(v >> (8 * i));
        h *= 16777619u;
    }
    return h;
}

static uint32_t key_hash(const fb_file_id *id, uint32_t chunk_size)
{
    uint32_t h = 2166136261u;
    h = mix(h, id->dev);
    h = mix(h, id->ino);
    h = mix(h, id->size);
    h = mix(h, (uint64_t)id->mtime_sec);
    h = mix(h, (uint64_t)id->mtime_nsec);
    return mix(h, chunk_size);
}

static bool same_key(const fb_hashcache_entry *e, const fb_file_id *id, uint32_t chunk_size)
{
    return e->id.dev == id->dev && e->id.ino == id->ino && e->id.size == id->size &&
           e->id.mtime_sec == id->mtime_sec && e->id.mtime_nsec == id->mtime_nsec &&
           e->chunk_size == chunk_size;
}

int fb_hashcache_init(fb_hashcache *c, size_t max_entries, size_t max_bytes)
{
    memset(c, 0, sizeof(*c));
    c->max_entries = max_entries ? max_entries : 1;
    c->max_bytes = max_bytes;
    c->n_buckets = 16;
    while (c->n_buckets < 2 * c->max_entries && c->n_buckets < (1u << 20))
        c->n_buckets <<= 1;
    c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
    return c->buckets ? 0 : FB_ENOMEM;
}

static void lru_unlink(fb_hashcache *c, fb_hashcache_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(fb_hashcache *c, fb_hashcache_entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

static void entry_remove(fb_hashcache *c, fb_hashcache_entry *e)
{
    fb_hashcache_entry **pp = &c->buckets[e->hash & (c->n_buckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(c, e);
    c->entries--;
    c->bytes -= e->mem;
    free(e);
}

void fb_hashcache_fini(fb_hashcache *c)
{
    while (c->head)
        entry_remove(c, c->head);
    free(c->buckets);
    memset(c, 0, sizeof(*c));
}

static fb_hashcache_entry *find(fb_hashcache *c, const fb_file_id *id, uint32_t chunk_size,
                                uint32_t h)
{
    fb_hashcache_entry *e = c->buckets[h & (c->n_buckets - 1)];
    while (e && !(e->hash == h && same_key(e, id, chunk_size)))
        e = e->hnext;
    return e;
}

const uint8_t *fb_hashcache_get(fb_hashcache *c, const fb_file_id *id, uint32_t chunk_size,
                                uint32_t n_chunks)
{
    fb_hashcache_entry *e = find(c, id, chunk_size, key_hash(id, chunk_size));
    if (!e || e->n_chunks != n_chunks) {
        c->misses++;
        return NULL;
    }
    c->hits++;
    lru_unlink(c, e);
    lru_push(c, e);
    return e->hashes;
}

int fb_hashcache_put(fb_hashcache *c, const fb_file_id *id, uint32_t chunk_size,
                     const uint8_t *hashes, uint32_t n_chunks)
{
    uint32_t h = key_hash(id, chunk_size);
    size_t mem = sizeof(fb_hashcache_entry) + (size_t)n_chunks * 32;
    fb_hashcache_entry *old = find(c, id, chunk_size, h);
    if (old)
        entry_remove(c, old);
    if (mem > c->max_bytes) {
        c->refused++;
        return FB_E2BIG;
    }
    while (c->tail && (c->entries >= c->max_entries || c->bytes + mem > c->max_bytes)) {
        entry_remove(c, c->tail);
        c->evictions++;
    }
    fb_hashcache_entry *e = malloc(mem);
    if (!e)
        return FB_ENOMEM;
    memset(e, 0, sizeof(*e));
    e->id = *id;
    e->chunk_size = chunk_size;
    e->n_chunks = n_chunks;
    e->hash = h;
    e->mem = mem;
    if (n_chunks)
        memcpy(e->hashes, hashes, (size_t)n_chunks * 32);
    e->hnext = c->buckets[h & (c->n_buckets - 1)];
    c->buckets[h & (c->n_buckets - 1)] = e;
    lru_push(c, e);
    c->entries++;
    c->bytes += mem;
    return 0;
}
