/* flashbackd: the origin HTTP server, manifest service, and the seed, tracker and rendezvous on
 * UDP. This file only reads the command line, wires the file cache, the HTTP server, the access
 * log, the manifest service and the seed to one libuv loop, and turns signals into a graceful
 * stop (SIGTERM, SIGINT) or a log reopen (SIGHUP). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <uv.h>

#include "net/access_log.h"
#include "net/http_server.h"
#include "server/manifests.h"
#include "server/origin.h"
#include "server/proxy.h"
#include "server/seed.h"
#include "core/units.h"

typedef enum { OPT_STR, OPT_SIZE, OPT_DURATION, OPT_COUNT, OPT_FLAG, OPT_RATE } opt_kind;

typedef struct options {
    const char *root;
    const char *listen;
    const char *access_log;
    fb_http_config http;
    fb_origin_config origin;
    uint64_t shutdown_ms;
    const char *udp;     /* --udp HOST:PORT; NULL: the HTTP address's host and port */
    uint32_t no_udp;     /* --no-udp */
    uint64_t seed_rate;  /* bytes per second */
    uint32_t seed_peers; /* peers tracked per swarm */
    uint32_t grace_ms;   /* --swarm-grace */
    fb_manifests_config manifests;
    fb_proxy_config proxy; /* --upstream and its companions */
} options;

static options opts;

/* The flags, their kinds and limits; --help prints this table. */
static const struct opt {
    const char *name;
    opt_kind kind;
    void *dst;
    size_t dst_size; /* of the integer behind dst */
    uint64_t min, max;
    const char *help;
} table[] = {
    {"root", OPT_STR, &opts.root, 0, 0, 0, "DIR: directory to serve (default: the demo site)"},
    {"upstream", OPT_STR, &opts.proxy.upstream, 0, 0, 0,
     "URL: run in front of this site, http(s)://HOST[:PORT][/PREFIX], instead of --root "
     "(GET/HEAD)"},
    {"mirror-dir", OPT_STR, &opts.proxy.mirror_dir, 0, 0, 0,
     "DIR: with --upstream, an empty directory for the cached copies (default: a fresh one "
     "under $TMPDIR, removed at exit)"},
    {"upstream-ttl", OPT_DURATION, &opts.proxy.ttl_ms, sizeof(uint32_t), 0, 86400000,
     "TIME: a copy is fresh this long when the upstream's Cache-Control says nothing (default "
     "1s)"},
    {"upstream-timeout", OPT_DURATION, &opts.proxy.timeout_ms, sizeof(uint32_t), 1, 3600000,
     "TIME: one upstream request (default 10s; 504 past it)"},
    {"upstream-max-body", OPT_SIZE, &opts.proxy.max_body, sizeof(uint64_t), 1, 1ull << 32,
     "BYTES: largest upstream body kept or relayed (default 64m; 502 past it)"},
    {"mirror-bytes", OPT_SIZE, &opts.proxy.max_bytes, sizeof(uint64_t), 1, 1ull << 50,
     "BYTES: with --upstream, the mirrored copies in all, least recently used out (default 1g)"},
    {"upstream-waiters", OPT_COUNT, &opts.proxy.max_waiters, sizeof(uint32_t), 1, 1000000,
     "N: requests waiting for one path's upstream answer (default 1024; 503 past it)"},
    {"upstream-paths", OPT_COUNT, &opts.proxy.max_paths, sizeof(uint32_t), 16, 10000000,
     "N: paths tracked and mirrored, least recently used out (default 16384)"},
    {"listen", OPT_STR, &opts.listen, 0, 0, 0,
     "HOST:PORT: address to listen on, [v6]:PORT for IPv6 (default 127.0.0.1:8080)"},
    {"access-log", OPT_STR, &opts.access_log, 0, 0, 0,
     "FILE|-: combined-format access log (default: none); SIGHUP reopens it"},
    {"max-head", OPT_SIZE, &opts.http.max_head, sizeof(size_t), 256, 1 << 20,
     "BYTES: request line and headers (default 8k; 414/431 past it)"},
    {"max-headers", OPT_COUNT, &opts.http.max_headers, sizeof(size_t), 1, 10000,
     "N: header fields per request (default 64; 431 past it)"},
    {"max-body", OPT_SIZE, &opts.http.max_body, sizeof(uint64_t), 0, 1ull << 40,
     "BYTES: request body read and discarded (default 1m; 413 past it)"},
    {"header-timeout", OPT_DURATION, &opts.http.header_timeout_ms, sizeof(uint32_t), 1, 86400000,
     "TIME: a request head must arrive within it (default 10s; 408 past it)"},
    {"keepalive-timeout", OPT_DURATION, &opts.http.keepalive_timeout_ms, sizeof(uint32_t), 1,
     86400000, "TIME: idle keep-alive connections close after it (default 30s)"},
    {"send-timeout", OPT_DURATION, &opts.http.send_timeout_ms, sizeof(uint32_t), 1, 86400000,
     "TIME: a response without progress for this long is dropped (default 60s)"},
    {"linger-timeout", OPT_DURATION, &opts.http.linger_ms, sizeof(uint32_t), 0, 60000,
     "TIME: input drained after an error response before closing (default 2s)"},
    {"shutdown-timeout", OPT_DURATION, &opts.shutdown_ms, sizeof(uint64_t), 0, 86400000,
     "TIME: on SIGTERM/SIGINT, responses in flight get this long (default 10s)"},
    {"max-conns", OPT_COUNT, &opts.http.max_conns, sizeof(uint32_t), 1, 1000000,
     "N: open connections; past it new ones get 503 and are closed (default 10000)"},
    {"cache-entries", OPT_COUNT, &opts.origin.cache_entries, sizeof(size_t), 1, 1000000,
     "N: files in the open-file cache (default 1024)"},
    {"cache-bytes", OPT_SIZE, &opts.origin.cache_bytes, sizeof(size_t), 0, 1ull << 40,
     "BYTES: memory of the file cache (default 64m)"},
    {"cache-file-max", OPT_SIZE, &opts.origin.cache_file_max, sizeof(size_t), 0, 1ull << 30,
     "BYTES: files up to this size are served from memory, larger with sendfile (default 64k)"},
    {"udp", OPT_STR, &opts.udp, 0, 0, 0,
     "HOST:PORT: the seed's UDP address (default: the HTTP host and port number)"},
    {"no-udp", OPT_FLAG, &opts.no_udp, sizeof(uint32_t), 0, 1,
     "no seed: a plain origin (manifests still served, without Flashback-Seed)"},
    {"seed-rate", OPT_RATE, &opts.seed_rate, sizeof(uint64_t), FB_RATE_MIN, FB_RATE_MAX,
     "RATE: the seed's upload cap, UDP/IP headers included (default 10mbit)"},
    {"seed-peers", OPT_COUNT, &opts.seed_peers, sizeof(uint32_t), 2, 1u << 20,
     "N: peers tracked per swarm; past it the stalest of 4 random ones goes (default 4096)"},
    {"swarm-grace", OPT_DURATION, &opts.grace_ms, sizeof(uint32_t), 1, 86400000,
     "TIME: a replaced manifest's swarm is served this long after (default 30s)"},
    {"manifests", OPT_COUNT, &opts.manifests.max_manifests, sizeof(uint32_t), 1, 2048,
     "N: pages whose manifests (and swarms) are kept, least recently used out (default 64)"},
    {"manifest-objects", OPT_COUNT, &opts.manifests.max_objects, sizeof(uint32_t), 1, 1024,
     "N: objects in one manifest, the page included (default 256)"},
    {"manifest-bytes", OPT_SIZE, &opts.manifests.max_bytes, sizeof(uint64_t), 1024, 1ull << 30,
     "BYTES: bytes one manifest covers; a page over it gets 501, no manifest (default 64m)"},
    {"hash-cache", OPT_SIZE, &opts.manifests.hash_cache_bytes, sizeof(size_t), 4096, 1ull << 34,
     "BYTES: memory for chunk hashes kept per file identity (default 16m)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: flashbackd [OPTIONS]\n\nServes a directory over HTTP/1.1, with the "
               "manifests of its pages, and seeds their\nswarms over UDP (tracker and "
               "rendezvous for the peers). With --upstream it runs in front of\nan unchanged "
               "site instead: GET and HEAD go to the upstream, cacheable answers are kept\nin a "
               "mirror directory and served (and seeded) from there; other methods get 405\n"
               "(docs/PROXY.md).\n\noptions:\n");
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        fprintf(f, "  --%-18s %s\n", table[i].name, table[i].help);
    fprintf(f, "  --%-18s %s\n  --%-18s %s\n", "help", "this text", "version", "print the version");
    fprintf(f, "\nTIME is seconds, or milliseconds with an 'ms' suffix (e.g. 500ms); BYTES may end "
               "in k, m or g.\nRATE is bits per second with bit, kbit, mbit or gbit (10mbit, "
               "1.5mbit), or bytes per second\nwith B, kB, MB, GB (powers of 1000) or KiB, MiB, "
               "GiB (powers of 1024); a bare number is bytes.\n");
}

static _Noreturn void die(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "flashbackd: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    exit(2);
}

/* Parses a number with an optional suffix: sizes k/m/g (binary), durations s/ms (to ms). */
static bool parse_value(opt_kind kind, const char *s, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    uint64_t mul = 1;
    if (kind == OPT_SIZE) {
        if (*end == 'k' || *end == 'K')
            mul = 1024, end++;
        else if (*end == 'm' || *end == 'M')
            mul = 1024 * 1024, end++;
        else if (*end == 'g' || *end == 'G')
            mul = 1024 * 1024 * 1024, end++;
    } else if (kind == OPT_DURATION) {
        if (strcmp(end, "ms") == 0)
            end += 2;
        else {
            mul = 1000;
            if (*end == 's')
                end++;
        }
    }
    if (*end || v > UINT64_MAX / mul)
        return false;
    *out = v * mul;
    return true;
}

static void set_option(const struct opt *o, const char *value)
{
    if (o->kind == OPT_STR) {
        if (!*value)
            die("--%s needs a value", o->name, "");
        *(const char **)o->dst = value;
        return;
    }
    uint64_t v;
    if (o->kind == OPT_RATE) {
        if (fb_rate_parse(value, &v) != 0)
            die("bad value '%s' for --%s (try --help)", value, o->name);
    } else if (!parse_value(o->kind, value, &v)) {
        die("bad value '%s' for --%s (try --help)", value, o->name);
    } else if (v < o->min || v > o->max) {
        const char *unit = o->kind == OPT_DURATION ? "ms" : o->kind == OPT_SIZE ? " bytes" : "";
        char range[96];
        snprintf(range, sizeof(range), "%llu%s to %llu%s", (unsigned long long)o->min, unit,
                 (unsigned long long)o->max, unit);
        fprintf(stderr, "flashbackd: --%s: '%s' is out of range (%s)\n", o->name, value, range);
        exit(2);
    }
    if (o->dst_size == sizeof(uint32_t))
        *(uint32_t *)o->dst = (uint32_t)v;
    else
        *(uint64_t *)o->dst = v;
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(a, "--version") == 0) {
            printf("flashbackd %s\n", FB_VERSION);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0)
            die("unexpected argument '%s' (try --help)", a, "");
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *o = NULL;
        for (size_t k = 0; k < sizeof(table) / sizeof(table[0]); k++)
            if (strlen(table[k].name) == nlen && strncmp(table[k].name, name, nlen) == 0)
                o = &table[k];
        if (!o)
            die("unknown option '%s' (try --help)", a, "");
        const char *value = eq ? eq + 1 : NULL;
        if (o->kind == OPT_FLAG) {
            if (value)
                die("--%s takes no value", o->name, "");
            *(uint32_t *)o->dst = 1;
            continue;
        }
        if (!value) {
            if (i + 1 >= argc)
                die("--%s needs a value", o->name, "");
            value = argv[++i];
        }
        set_option(o, value);
    }
}

typedef struct app {
    uv_loop_t *loop;
    fb_http_server *http;
    fb_origin origin;
    fb_access_log log;
    bool has_log;
    fb_seed *seed;
    fb_manifests *manifests;
    fb_proxy *proxy;
    uv_signal_t sigterm, sigint, sighup;
} app;

static void on_stopped(void *arg)
{
    app *a = arg;
    /* No request runs any more: the manifests go first (they release their swarms), then the
     * seed closes its socket. */
    fb_manifests_free(a->manifests);
    a->manifests = a->origin.manifests = NULL;
    fb_proxy_free(a->proxy);
    a->proxy = a->origin.proxy = NULL;
    fb_seed_free(a->seed);
    a->seed = a->origin.seed = NULL;
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sighup, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    app *a = h->data;
    if (signum == SIGHUP) {
        if (a->has_log && fb_access_log_reopen(&a->log) != 0)
            fprintf(stderr, "flashbackd: cannot reopen the access log: %s\n", strerror(errno));
        return;
    }
    fb_http_server_shutdown(a->http, (uint32_t)opts.shutdown_ms, on_stopped, a);
}

/* Lets the process hold as many descriptors as its hard limit allows (connections and cache). */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static bool is_wildcard(const fb_addr *a)
{
    static const uint8_t zero[16];
    return memcmp(a->ip, zero, 16) == 0;
}

/* Starts the seed: on --udp, or on the HTTP address's host and port number (when HTTP took a
 * port of the OS's choice and that number is taken for UDP, on another free port). Sets the
 * Flashback-Seed header: the port alone when the seed answers on the host the HTTP request went
 * to, else HOST:PORT. */
static void start_seed(app *a, const char *http_bound)
{
    fb_addr http_addr, want;
    if (fb_addr_parse(&http_addr, http_bound, strlen(http_bound)) != 0)
        die("cannot read the bound address '%s'", http_bound, "");
    if (opts.udp) {
        if (fb_addr_parse(&want, opts.udp, strlen(opts.udp)) != 0)
            die("bad --udp address '%s' (want HOST:PORT, [v6]:PORT)", opts.udp, "");
    } else {
        want = http_addr;
    }
    fb_seed_config sc = {.bind = want,
                         .rate = opts.seed_rate,
                         .max_swarms =
                             2 * (opts.manifests.max_manifests ? opts.manifests.max_manifests : 64),
                         .max_tracked = opts.seed_peers,
                         .grace_ms = opts.grace_ms};
    int rc = fb_seed_new(a->loop, &sc, &a->seed);
    bool any_port =
        !opts.udp && strstr(opts.listen, ":0") && strcmp(strrchr(opts.listen, ':'), ":0") == 0;
    if (rc == UV_EADDRINUSE && any_port) {
        sc.bind.port = 0;
        rc = fb_seed_new(a->loop, &sc, &a->seed);
    }
    if (rc != 0) {
        char s[FB_ADDR_STRLEN];
        die("cannot bind the seed's UDP socket to %s: %s", fb_addr_format(&sc.bind, s),
            rc == FB_EINVAL ? "invalid" : uv_strerror(rc));
    }
    fb_addr got;
    char hs[FB_ADDR_STRLEN];
    fb_seed_local_addr(a->seed, &got);
    a->origin.seed = a->seed;
    a->origin.seed_rate = opts.seed_rate;
    bool same_host = is_wildcard(&got) ||
                     (got.family == http_addr.family && memcmp(got.ip, http_addr.ip, 16) == 0);
    if (same_host)
        snprintf(a->origin.seed_header, sizeof(a->origin.seed_header), "Flashback-Seed: %u\r\n",
                 got.port);
    else
        snprintf(a->origin.seed_header, sizeof(a->origin.seed_header), "Flashback-Seed: %s\r\n",
                 fb_addr_format(&got, hs));
}

int main(int argc, char **argv)
{
    static app a;
    opts.listen = "127.0.0.1:8080";
    fb_http_config_default(&opts.http);
    opts.origin.cache_entries = 1024;
    opts.origin.cache_bytes = 64u << 20;
    opts.origin.cache_file_max = 64u << 10;
    opts.shutdown_ms = 10000;
    opts.seed_rate = 1250000; /* 10mbit */
    opts.grace_ms = 30000;
    opts.proxy.ttl_ms = 1000;
    parse_args(argc, argv);
    opts.origin.max_head = opts.http.max_head;
    if (opts.proxy.upstream && opts.root)
        die("--upstream and --root exclude each other%s%s", "", "");
    if (!opts.proxy.upstream && opts.proxy.mirror_dir)
        die("--mirror-dir needs --upstream%s%s", "", "");
    if (!opts.root)
        opts.root = FB_SOURCE_DIR "/site";

    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    a.loop = uv_default_loop();
    if (opts.proxy.upstream) {
        char err[512];
        if (fb_proxy_new(a.loop, &opts.proxy, &a.proxy, err, sizeof(err)) != 0)
            die("%s%s", err, "");
        opts.root = fb_proxy_mirror(a.proxy);
    }
    struct stat st;
    if (stat(opts.root, &st) != 0)
        die("root '%s': %s", opts.root, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        die("root '%s': %s", opts.root, strerror(ENOTDIR));
    int rc = fb_origin_init(&a.origin, opts.root, &opts.origin);
    if (rc != 0)
        die("root '%s': %s", opts.root, strerror(-rc));

    if (a.proxy) {
        fb_proxy_attach(a.proxy, &a.origin);
        a.origin.proxy = a.proxy;
        a.origin.manifest_objects = opts.manifests.max_objects ? opts.manifests.max_objects : 256;
    }
    a.http = fb_http_server_new(a.loop, &opts.http, fb_origin_handle, &a.origin);
    if (!a.http)
        die("%s%s", "out of memory", "");
    a.origin.http = a.http;
    char bound[64];
    rc = fb_http_server_listen(a.http, opts.listen, bound);
    if (rc == FB_EINVAL)
        die("bad listen address '%s' (want HOST:PORT, [v6]:PORT)", opts.listen, "");
    if (rc != 0)
        die("cannot listen on %s: %s", opts.listen, uv_strerror(rc));
    if (!opts.no_udp)
        start_seed(&a, bound);
    rc = fb_manifests_new(a.loop, &a.origin.cache, a.seed, &opts.manifests, &a.manifests);
    if (rc != 0)
        die("cannot start the manifest service: %s", strerror(-rc), "");
    a.origin.manifests = a.manifests;
    if (opts.access_log) {
        rc = fb_access_log_open(&a.log, opts.access_log);
        if (rc != 0)
            die("access log '%s': %s", opts.access_log, strerror(-rc));
        a.has_log = true;
        fb_http_server_set_log(a.http, &a.log);
    }
    uv_signal_t *sigs[] = {&a.sigterm, &a.sigint, &a.sighup};
    int signums[] = {SIGTERM, SIGINT, SIGHUP};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(a.loop, sigs[i]);
        sigs[i]->data = &a;
        uv_signal_start(sigs[i], on_signal, signums[i]);
    }

    if (a.proxy)
        printf("flashbackd: serving %s (mirror %s) on http://%s/\n", opts.proxy.upstream,
               a.origin.cache.root_real, bound);
    else
        printf("flashbackd: serving %s on http://%s/\n", a.origin.cache.root_real, bound);
    if (a.seed) {
        fb_addr u;
        char us[FB_ADDR_STRLEN];
        fb_seed_local_addr(a.seed, &u);
        printf("flashbackd: seeding on udp://%s at %llu bytes/s\n", fb_addr_format(&u, us),
               (unsigned long long)opts.seed_rate);
    }
    fflush(stdout);
    uv_run(a.loop, UV_RUN_DEFAULT);

    const fb_http_stats *st2 = fb_http_server_stats(a.http);
    fprintf(stderr, "flashbackd: stopped after %llu requests\n", (unsigned long long)st2->requests);
    fb_manifests_free(a.manifests); /* if the loop ended without a stop (it does not) */
    fb_proxy_free(a.proxy);
    fb_seed_free(a.seed);
    fb_http_server_free(a.http);
    if (a.has_log)
        fb_access_log_close(&a.log);
    fb_origin_fini(&a.origin);
    uv_loop_close(a.loop);
    return 0;
}
