/* The manifest service's cache of chunk hashes, keyed by file identity (device, inode, size,
 * modification time) and chunk size: an object shared by many pages (a stylesheet, a logo), or a
 * page rebuilt because another of its objects changed, is hashed once. Bounded by entries and
 * bytes, least recently used first out. No I/O: the caller hashes and puts. */
#ifndef FB_SERVER_HASHCACHE_H
#define FB_SERVER_HASHCACHE_H

#include "net/filestore.h"

typedef struct fb_hashcache_entry fb_hashcache_entry;

typedef struct fb_hashcache {
    fb_hashcache_entry **buckets;
    uint32_t n_buckets;
    fb_hashcache_entry *head, *tail; /* LRU list, most recent first */
    size_t entries, bytes;
    size_t max_entries, max_bytes;
    uint64_t hits, misses, evictions, refused; /* refused: larger than max_bytes alone */
} fb_hashcache;

/* Sets up an empty cache of at most max_entries files and max_bytes of hashes and bookkeeping.
 * Returns 0 or FB_ENOMEM. */
int fb_hashcache_init(fb_hashcache *c, size_t max_entries, size_t max_bytes);
void fb_hashcache_fini(fb_hashcache *c);

/* The n_chunks hashes (32 bytes each, chunk order) of the file with identity id cut into chunks
 * of chunk_size bytes, or NULL when not cached. The pointer stays valid until the next
 * fb_hashcache_put or fini. Counts a hit or a miss. */
const uint8_t *fb_hashcache_get(fb_hashcache *c, const fb_file_id *id, uint32_t chunk_size,
                                uint32_t n_chunks);

/* Stores a copy of n_chunks hashes for (id, chunk_size), replacing any older entry for it and
 * evicting the least recently used entries to stay under the caps. Returns 0, FB_E2BIG when the
 * entry alone is over max_bytes (not stored), or FB_ENOMEM. */
int fb_hashcache_put(fb_hashcache *c, const fb_file_id *id, uint32_t chunk_size,
                     const uint8_t *hashes, uint32_t n_chunks);

#endif
