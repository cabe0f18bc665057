/* Fuzz target: the manifest parser, under small caps. A manifest that parses must rebuild,
 * through the builder, to exactly the same bytes (the format is canonical). */
#include <stdlib.h>
#include <string.h>

#include "core/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fb_manifest_caps caps = {16, 64, 128, 1 << 20};
    fb_manifest m;
    if (fb_manifest_parse(data, size, &caps, &m))
        return 0;
    static char strs[16][3][256];
    static fb_manifest_entry ent[16];
    static uint8_t hash[64][32];
    fb_manifest_iter it = {0, 0};
    fb_manifest_object o;
    uint32_t i = 0;
    while (fb_manifest_next(&m, &it, &o)) {
        memcpy(strs[i][0], o.path, o.path_len), strs[i][0][o.path_len] = 0;
        memcpy(strs[i][1], o.type, o.type_len), strs[i][1][o.type_len] = 0;
        memcpy(strs[i][2], o.etag, o.etag_len), strs[i][2][o.etag_len] = 0;
        ent[i] = (fb_manifest_entry){strs[i][0], o.size, strs[i][1], strs[i][2]};
        for (uint32_t k = 0; k < o.n_chunks; k++)
            fb_manifest_object_hash(&o, k, hash[o.first_chunk + k]);
        i++;
    }
    if (i != m.n_objects)
        abort();
    static uint8_t out[1 << 16];
    int n =
        fb_manifest_build(out, sizeof(out), m.chunk_size, ent, i, (const uint8_t(*)[32])hash, NULL);
    if (n != (int)size || memcmp(out, data, size) != 0)
        abort();
    return 0;
}
