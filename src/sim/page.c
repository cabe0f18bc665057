/* Synthesis of the standard page: sizes from a fixed formula, bytes from a fixed-seed generator
 * (text-like for the HTML), SHA-256 per chunk with OpenSSL, and the manifest from
 * fb_manifest_build. */
#include "sim/page.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fbstd.h"
#include "core/manifest.h"
#include "sim/rng.h"

int fb_page_init(fb_page *p, uint32_t chunk_size)
{
    int rc = FB_ENOMEM;
    uint8_t(*hashes)[32] = NULL;
    memset(p, 0, sizeof(*p));
    p->n_objects = FB_PAGE_OBJECTS;
    /* Object sizes: the HTML, then 20 objects weighted 1..10 (varied order) sharing the rest. */
    uint64_t rest = FB_PAGE_TOTAL - FB_PAGE_HTML, wsum = 0, given = 0;
    uint32_t w[FB_PAGE_OBJECTS];
    for (uint32_t i = 1; i < FB_PAGE_OBJECTS; i++) {
        w[i] = 1 + (i * 7) % 10;
        wsum += w[i];
    }
    p->obj_size[0] = FB_PAGE_HTML;
    for (uint32_t i = 1; i < FB_PAGE_OBJECTS; i++) {
        p->obj_size[i] = i + 1 < FB_PAGE_OBJECTS ? rest * w[i] / wsum : rest - given;
        given += p->obj_size[i];
    }
    for (uint32_t i = 0; i < FB_PAGE_OBJECTS; i++) {
        p->obj_off[i] = p->size;
        p->size += p->obj_size[i];
    }
    p->bytes = malloc(p->size);
    if (!p->bytes)
        goto out;
    fb_rng r;
    fb_rng_seed(&r, 2007, 0x70616765); /* fixed: the page is the same in every run */
    fb_rng_bytes(&r, p->bytes, p->size);
    static const char text[] = "<p>Flashback turns the crowd into the CDN.</p>\n";
    for (uint64_t i = 0; i < FB_PAGE_HTML; i++)
        p->bytes[i] = (uint8_t)text[(i + p->bytes[i] % 3) % (sizeof(text) - 1)];
    rc = fb_chunk_map_init(&p->map, chunk_size, p->obj_size, p->n_objects, p->first, 1u << 20);
    if (rc)
        goto out;
    p->n_chunks = p->map.n_chunks;
    rc = FB_ENOMEM;
    p->chunk_off = calloc(p->n_chunks, sizeof(*p->chunk_off));
    p->chunk_len = calloc(p->n_chunks, sizeof(*p->chunk_len));
    hashes = calloc(p->n_chunks, 32);
    if (!p->chunk_off || !p->chunk_len || !hashes)
        goto out;
    for (uint32_t c = 0; c < p->n_chunks; c++) {
        uint32_t obj, len;
        uint64_t off;
        rc = fb_chunk_locate(&p->map, c, &obj, &off, &len);
        if (rc)
            goto out;
        p->chunk_off[c] = p->obj_off[obj] + off;
        p->chunk_len[c] = len;
        unsigned hl = 32;
        EVP_Digest(p->bytes + p->chunk_off[c], len, hashes[c], &hl, EVP_sha256(), NULL);
    }
    static const char *types[] = {"image/jpeg", "image/png", "text/css", "application/javascript"};
    fb_manifest_entry ents[FB_PAGE_OBJECTS];
    char paths[FB_PAGE_OBJECTS][32], etags[FB_PAGE_OBJECTS][24];
    for (uint32_t i = 0; i < FB_PAGE_OBJECTS; i++) {
        if (i == 0)
            snprintf(paths[i], sizeof(paths[i]), "/index.html");
        else
            snprintf(paths[i], sizeof(paths[i]), "/obj/%02u", i);
        snprintf(etags[i], sizeof(etags[i]), "\"sim-%u\"", i);
        ents[i].path = paths[i];
        ents[i].size = p->obj_size[i];
        ents[i].type = i == 0 ? "text/html;charset=utf-8" : types[i % 4];
        ents[i].etag = etags[i];
    }
    size_t need = 0;
    rc = fb_manifest_build(NULL, 0, chunk_size, ents, p->n_objects, (const uint8_t(*)[32])hashes,
                           &need);
    if (rc != FB_E2BIG || !need) {
        rc = rc >= 0 ? FB_EINVAL : rc;
        goto out;
    }
    p->manifest = malloc(need);
    if (!p->manifest) {
        rc = FB_ENOMEM;
        goto out;
    }
    rc = fb_manifest_build(p->manifest, need, chunk_size, ents, p->n_objects,
                           (const uint8_t(*)[32])hashes, NULL);
    if (rc < 0)
        goto out;
    p->manifest_len = (size_t)rc;
    rc = 0;
out:
    free(hashes);
    if (rc)
        fb_page_fini(p);
    return rc;
}

void fb_page_fini(fb_page *p)
{
    free(p->bytes);
    free(p->chunk_off);
    free(p->chunk_len);
    free(p->manifest);
    memset(p, 0, sizeof(*p));
}
