/* fbseed: a stand-in for flashbackd's seed, for tests of `flashback get` that run before (or
 * apart from) the server's own manifest service: it builds the manifest of a list of files under
 * a root (ETags as nginx sends them, so a plain nginx can serve the files and the manifest, with
 * a Flashback-Seed header naming this seed), writes it to a file, then runs the engine in the
 * seed role on a UDP socket with a capped upload rate until SIGTERM or SIGINT. It prints
 * "port N" on stdout once ready, and its counters as one JSON line on stderr at exit.
 * With --corrupt it is a hostile seed: every chunk it sends has one byte flipped.
 * Usage: fbseed [--rate BYTES_PER_S] [--listen ADDR:PORT] [--chunk N] [--corrupt 1] ROOT MANIFEST
 *        URL-PATH...
 */
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/manifest.h"
#include "net/engine_host.h"
#include "net/filestore.h"

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

/* --corrupt: reads through the filestore, then flips the first byte of every chunk. */
static int corrupt_read(void *ctx, int swarm, uint32_t chunk, size_t off, uint8_t *buf, size_t len)
{
    int rc = fb_filestore_read(ctx, chunk, off, buf, len);
    (void)swarm;
    if (rc == 0 && off == 0 && len > 0)
        buf[0] ^= 0x5a;
    return rc;
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    uv_stop(s->loop);
}

int main(int argc, char **argv)
{
    uint64_t rate = 10 * 1000 * 1000;
    uint32_t chunk = 16384;
    const char *listen = "127.0.0.1:0";
    bool corrupt = false;
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "--rate") == 0)
            rate = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--listen") == 0)
            listen = argv[i + 1];
        else if (strcmp(argv[i], "--chunk") == 0)
            chunk = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--corrupt") == 0)
            corrupt = strcmp(argv[i + 1], "0") != 0;
        else
            break;
    }
    if (argc - i < 3 || argc - i - 2 > MAX_OBJECTS || rate == 0) {
        fprintf(stderr, "usage: fbseed [--rate BYTES_PER_S] [--listen ADDR:PORT] [--chunk N] "
                        "ROOT MANIFEST URL-PATH...\n");
        return 2;
    }
    const char *root = argv[i], *mpath = argv[i + 1];
    int n = argc - i - 2;
    static fb_filestore_object fo[MAX_OBJECTS];
    static fb_manifest_entry me[MAX_OBJECTS];
    static char rel[MAX_OBJECTS][1024], etag[MAX_OBJECTS][64];
    for (int k = 0; k < n; k++) {
        const char *p = argv[i + 2 + k];
        struct stat st;
        char full[2048];
        snprintf(rel[k], sizeof(rel[k]), "%s%s", p + 1,
                 p[strlen(p) - 1] == '/' ? "index.html" : "");
        snprintf(full, sizeof(full), "%s/%s", root, rel[k]);
        if (stat(full, &st) != 0) {
            fprintf(stderr, "fbseed: cannot stat %s\n", full);
            return 1;
        }
        snprintf(etag[k], sizeof(etag[k]), "\"%llx-%llx\"", (unsigned long long)st.st_mtime,
                 (unsigned long long)st.st_size);
        fo[k].path = rel[k];
        fo[k].size = (uint64_t)st.st_size;
        me[k].path = p;
        me[k].size = (uint64_t)st.st_size;
        me[k].type = mime(rel[k]);
        me[k].etag = etag[k];
    }
    fb_filestore fs;
    if (fb_filestore_init(&fs, root, fo, (uint32_t)n, chunk, 64) != 0) {
        fprintf(stderr, "fbseed: cannot open the files\n");
        return 1;
    }
    /* Hash through the store, so the manifest describes the versions it will serve. */
    uint8_t(*hashes)[32] = calloc(fs.n_chunks ? fs.n_chunks : 1, 32);
    uint8_t *buf = malloc(chunk);
    uint32_t c = 0;
    for (int k = 0; k < n; k++) {
        for (uint64_t off = 0; off < fo[k].size; off += chunk, c++) {
            size_t len = (size_t)(fo[k].size - off < chunk ? fo[k].size - off : chunk);
            if (fb_filestore_read(&fs, c, 0, buf, len) != 0) {
                fprintf(stderr, "fbseed: cannot read chunk %u\n", c);
                return 1;
            }
            EVP_Digest(buf, len, hashes[c], NULL, EVP_sha256(), NULL);
        }
    }
    size_t need = 0;
    fb_manifest_build(NULL, 0, chunk, me, (uint32_t)n, (const uint8_t(*)[32])hashes, &need);
    uint8_t *man = malloc(need);
    int mlen =
        fb_manifest_build(man, need, chunk, me, (uint32_t)n, (const uint8_t(*)[32])hashes, NULL);
    FILE *mf = fopen(mpath, "wb");
    if (mlen < 0 || mf == NULL || fwrite(man, 1, (size_t)mlen, mf) != (size_t)mlen ||
        fclose(mf) != 0) {
        fprintf(stderr, "fbseed: cannot write the manifest to %s\n", mpath);
        return 1;
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    fb_engine_host_config hc = {0};
    hc.engine.role = FB_ROLE_SEED;
    hc.engine.upload_rate = rate;
    if (fb_addr_parse(&hc.bind, listen, strlen(listen)) != 0) {
        fprintf(stderr, "fbseed: bad --listen %s\n", listen);
        return 2;
    }
    hc.store = fb_filestore_as_store(&fs);
    if (corrupt)
        hc.store.read = corrupt_read;
    fb_engine_host *h;
    int rc = fb_engine_host_new(&loop, &hc, &h);
    if (rc) {
        fprintf(stderr, "fbseed: cannot start the seed: %s\n", uv_strerror(rc));
        return 1;
    }
    fb_engine *e = fb_engine_host_engine(h);
    int sw = fb_engine_swarm_add(e, man, (size_t)mlen, fb_engine_host_now());
    if (sw < 0) {
        fprintf(stderr, "fbseed: the engine refused the manifest (%d)\n", sw);
        return 1;
    }
    fs.swarm = sw;
    fb_engine_host_kick(h);
    fb_addr local;
    fb_engine_host_local_addr(h, &local);
    printf("port %u\n", local.port);
    fflush(stdout);

    uv_signal_t sterm, sint;
    uv_signal_init(&loop, &sterm);
    uv_signal_init(&loop, &sint);
    uv_signal_start(&sterm, on_signal, SIGTERM);
    uv_signal_start(&sint, on_signal, SIGINT);
    uv_run(&loop, UV_RUN_DEFAULT);

    fb_engine_stats st;
    fb_udp_stats us;
    fb_engine_stats_get(e, &st);
    fb_engine_host_udp_stats(h, &us);
    fprintf(stderr,
            "{\"bytes_out_data\":%" PRIu64 ",\"bytes_out_total\":%" PRIu64
            ",\"udp_bytes_out\":%" PRIu64 ",\"udp_bytes_in\":%" PRIu64 ",\"joins\":%" PRIu64
            ",\"introductions\":%" PRIu64 ",\"busy_sent\":%" PRIu64 ",\"dropped_cap\":%" PRIu64
            "}\n",
            st.bytes_out_data, st.bytes_out_total, us.bytes_out, us.bytes_in, st.joins,
            st.introductions, st.busy_sent, st.dropped_cap);
    fb_engine_host_free(h);
    uv_close((uv_handle_t *)&sterm, NULL);
    uv_close((uv_handle_t *)&sint, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    fb_filestore_fini(&fs);
    free(man);
    free(buf);
    free(hashes);
    return 0;
}
