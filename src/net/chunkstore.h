/* Where an engine host keeps chunk bytes. The engine reads and writes chunks only through the
 * host callbacks; the programs decide where the bytes live through this small vtable.
 * fb_memstore is the peer's store: one page's chunks in one buffer, bounded by the page's size
 * and a cap (pure code). The seed's store, reading files, is net/filestore.h. */
#ifndef FB_NET_CHUNKSTORE_H
#define FB_NET_CHUNKSTORE_H

#include "core/fbstd.h"

/* The storage callbacks, with the contracts of fb_host's chunk_read and chunk_write
 * (engine/engine.h): read copies len bytes of a held chunk from byte off into buf and returns 0
 * or a negative code; write stores a verified chunk (peer role). Pointers are valid for the
 * duration of the call only. `write` may be NULL in the seed role. */
typedef struct fb_chunk_store {
    void *ctx;
    int (*read)(void *ctx, int swarm, uint32_t chunk, size_t off, uint8_t *buf, size_t len);
    void (*write)(void *ctx, int swarm, uint32_t chunk, const uint8_t *data, size_t len);
} fb_chunk_store;

/* One page's chunks in memory. The page is its objects back to back in manifest order; chunk c
 * covers bytes [off[c], off[c + 1]) of it. */
typedef struct fb_memstore {
    uint8_t *page; /* total bytes */
    uint64_t *off; /* n_chunks + 1 offsets, off[0] == 0, off[n_chunks] == total */
    uint8_t *have; /* one bit per chunk */
    uint32_t n_chunks;
    uint32_t n_have;  /* chunks held */
    uint64_t total;   /* page bytes */
    int swarm;        /* the engine swarm handle this store answers for; -1 (the initial value)
                         answers for any */
    uint64_t refused; /* writes refused (bad index or length, wrong swarm) */
} fb_memstore;

/* Sets up a store for n_chunks chunks with the given n_chunks + 1 offsets (copied), which must
 * start at 0 and never decrease. Returns 0; FB_EINVAL for bad offsets; FB_E2BIG when the page
 * (offsets[n_chunks]) is larger than cap bytes; FB_ENOMEM. */
int fb_memstore_init(fb_memstore *s, const uint64_t *offsets, uint32_t n_chunks, uint64_t cap);

/* Same, for the chunk geometry of docs/PROTOCOL.md: objects of the given sizes, each cut into
 * chunks of chunk_size bytes with a short last one (an empty object has no chunk). */
int fb_memstore_init_objects(fb_memstore *s, const uint64_t *sizes, uint32_t n_objects,
                             uint32_t chunk_size, uint64_t cap);

/* Same, for the page a parsed manifest describes (core/manifest.h); the swarm is the engine's
 * handle for that manifest once added. */
struct fb_manifest;
int fb_memstore_init_manifest(fb_memstore *s, const struct fb_manifest *m, uint64_t cap);

void fb_memstore_fini(fb_memstore *s);

/* Stores chunk c (len must be its exact length). Storing it again is harmless. Returns 0 or
 * FB_EINVAL. */
int fb_memstore_put(fb_memstore *s, uint32_t c, const uint8_t *data, size_t len);

/* Copies len bytes of held chunk c from byte off. Returns 0, FB_ENOENT (not held) or FB_EINVAL
 * (out of range). */
int fb_memstore_get(const fb_memstore *s, uint32_t c, size_t off, uint8_t *buf, size_t len);

bool fb_memstore_has(const fb_memstore *s, uint32_t c);

/* True when every chunk covering page bytes [off, off + len) is held: the bytes at
 * s->page + off are then the verified content. */
bool fb_memstore_range_complete(const fb_memstore *s, uint64_t off, uint64_t len);

/* An fb_chunk_store whose ctx is the fb_memstore. */
fb_chunk_store fb_memstore_as_store(fb_memstore *s);

#endif
