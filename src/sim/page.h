/* The standard page of the scenarios: one HTML document of 30,000 bytes and 20 embedded objects,
 * 2,000,000 bytes in all, with deterministic synthetic bytes (the same for every run), laid out in
 * chunks and described by a manifest built with the engine's pure builder. Its canonical bytes
 * exist once per run; every simulated node refers to them. */
#ifndef FB_SIM_PAGE_H
#define FB_SIM_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/chunk.h"

#define FB_PAGE_OBJECTS 21
#define FB_PAGE_HTML    30000
#define FB_PAGE_TOTAL   2000000

typedef struct fb_page {
    uint8_t *bytes; /* the objects one after another */
    uint64_t size;  /* total bytes */
    uint32_t n_objects;
    uint64_t obj_size[FB_PAGE_OBJECTS];
    uint64_t obj_off[FB_PAGE_OBJECTS]; /* offset of each object in bytes */
    uint32_t first[FB_PAGE_OBJECTS + 1];
    fb_chunk_map map;
    uint32_t n_chunks;
    uint64_t *chunk_off; /* n_chunks offsets into bytes */
    uint32_t *chunk_len; /* n_chunks lengths */
    uint8_t *manifest;
    size_t manifest_len;
} fb_page;

/* Builds the standard page cut into chunks of chunk_size bytes. Returns 0, FB_ENOMEM, or the
 * error of the chunk map or the manifest builder. */
int fb_page_init(fb_page *p, uint32_t chunk_size);
void fb_page_fini(fb_page *p);

#endif
