/* mkmanifest: writes the manifest (docs/PROTOCOL.md) of a list of files served under a root, for
 * tests that put a plain web server (nginx) in the origin's place. Each URL path maps to a file
 * under ROOT ("/" and ".../" to index.html); the ETag is the one nginx sends ("MTIME-SIZE" in
 * hex), so If-Range matches.
 * Usage: mkmanifest [-c CHUNK_SIZE] [--no-etag] ROOT URL-PATH... > manifest */
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/chunk.h"
#include "core/manifest.h"

#define MAX_OBJECTS 1024

static const char *mime(const char *path)
{
    static const struct {
        const char *ext, *type;
    } t[] = {{".html", "text/html"}, {".css", "text/css"},      {".js", "text/javascript"},
             {".png", "image/png"},  {".svg", "image/svg+xml"}, {".ico", "image/x-icon"},
             {".txt", "text/plain"}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(dot, t[i].ext) == 0)
            return t[i].type;
    return "application/octet-stream";
}

static uint8_t *read_file(const char *path, size_t *len, struct stat *st)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p = NULL;
    if (f == NULL || fstat(fileno(f), st) != 0 || !S_ISREG(st->st_mode))
        goto out;
    p = malloc(st->st_size ? (size_t)st->st_size : 1);
    if (p && fread(p, 1, (size_t)st->st_size, f) != (size_t)st->st_size) {
        free(p);
        p = NULL;
    }
    *len = (size_t)st->st_size;
out:
    if (f)
        fclose(f);
    return p;
}

int main(int argc, char **argv)
{
    uint32_t chunk = FB_CHUNK_SIZE_DEFAULT;
    int i = 1, n = 0;
    bool etags = true;
    static fb_manifest_entry e[MAX_OBJECTS];
    static char etag[MAX_OBJECTS][64];
    uint8_t(*hashes)[32] = NULL;
    size_t n_hashes = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            chunk = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--no-etag") == 0)
            etags = false;
        else
            break;
    }
    if (argc - i < 2 || argc - i - 1 > MAX_OBJECTS) {
        fprintf(stderr, "usage: mkmanifest [-c CHUNK_SIZE] [--no-etag] ROOT URL-PATH...\n");
        return 2;
    }
    const char *root = argv[i++];
    for (; i < argc; i++, n++) {
        char file[4096];
        const char *p = argv[i];
        size_t len;
        struct stat st;
        snprintf(file, sizeof(file), "%s%s%s", root, p,
                 p[strlen(p) - 1] == '/' ? "index.html" : "");
        uint8_t *data = read_file(file, &len, &st);
        if (data == NULL) {
            fprintf(stderr, "mkmanifest: cannot read %s\n", file);
            return 1;
        }
        snprintf(etag[n], sizeof(etag[n]), "\"%llx-%llx\"", (unsigned long long)st.st_mtime,
                 (unsigned long long)st.st_size);
        e[n].path = p;
        e[n].size = len;
        e[n].type = mime(file);
        e[n].etag = etags ? etag[n] : NULL;
        for (size_t off = 0; off < len; off += chunk) {
            hashes = realloc(hashes, (n_hashes + 1) * sizeof(*hashes));
            if (hashes == NULL)
                return 1;
            EVP_Digest(data + off, len - off < chunk ? len - off : chunk, hashes[n_hashes++], NULL,
                       EVP_sha256(), NULL);
        }
        free(data);
    }
    size_t need = 0;
    fb_manifest_build(NULL, 0, chunk, e, (uint32_t)n, (const uint8_t(*)[32])hashes, &need);
    uint8_t *out = malloc(need + 1);
    int len = out ? fb_manifest_build(out, need, chunk, e, (uint32_t)n,
                                      (const uint8_t(*)[32])hashes, NULL)
                  : -1;
    if (len < 0) {
        fprintf(stderr, "mkmanifest: cannot build the manifest (%d)\n", len);
        return 1;
    }
    fwrite(out, 1, (size_t)len, stdout);
    free(out);
    free(hashes);
    return 0;
}
