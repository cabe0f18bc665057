/* flashbackd: the origin HTTP server (later also seed, tracker and rendezvous). This file only
 * reads the command line, wires the file cache, the HTTP server and the access log to one libuv
 * loop, and turns signals into a graceful stop (SIGTERM, SIGINT) or a log reopen (SIGHUP). */
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
#include "server/origin.h"

typedef enum { OPT_STR, OPT_SIZE, OPT_DURATION, OPT_COUNT } opt_kind;

typedef struct options {
    const char *root;
    const char *listen;
    const char *access_log;
    fb_http_config http;
    fb_origin_config origin;
    uint64_t shutdown_ms;
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
};

static void usage(FILE *f)
{
    fprintf(f, "usage: flashbackd [OPTIONS]\n\nServes a directory over HTTP/1.1.\n\noptions:\n");
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        fprintf(f, "  --%-18s %s\n", table[i].name, table[i].help);
    fprintf(f, "  --%-18s %s\n  --%-18s %s\n", "help", "this text", "version", "print the version");
    fprintf(f, "\nTIME is seconds, or milliseconds with an 'ms' suffix (e.g. 500ms); BYTES may end "
               "in k, m or g.\n");
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
    if (!parse_value(o->kind, value, &v) || v < o->min || v > o->max)
        die("bad value '%s' for --%s (try --help)", value, o->name);
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
    uv_signal_t sigterm, sigint, sighup;
} app;

static void on_stopped(void *arg)
{
    app *a = arg;
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

int main(int argc, char **argv)
{
    static app a;
    opts.root = FB_SOURCE_DIR "/site";
    opts.listen = "127.0.0.1:8080";
    fb_http_config_default(&opts.http);
    opts.origin.cache_entries = 1024;
    opts.origin.cache_bytes = 64u << 20;
    opts.origin.cache_file_max = 64u << 10;
    opts.shutdown_ms = 10000;
    parse_args(argc, argv);
    opts.origin.max_head = opts.http.max_head;

    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    struct stat st;
    if (stat(opts.root, &st) != 0)
        die("root '%s': %s", opts.root, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        die("root '%s': %s", opts.root, strerror(ENOTDIR));
    int rc = fb_origin_init(&a.origin, opts.root, &opts.origin);
    if (rc != 0)
        die("root '%s': %s", opts.root, strerror(-rc));

    a.loop = uv_default_loop();
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

    printf("flashbackd: serving %s on http://%s/\n", a.origin.cache.root_real, bound);
    fflush(stdout);
    uv_run(a.loop, UV_RUN_DEFAULT);

    const fb_http_stats *st2 = fb_http_server_stats(a.http);
    fprintf(stderr, "flashbackd: stopped after %llu requests\n", (unsigned long long)st2->requests);
    fb_http_server_free(a.http);
    if (a.has_log)
        fb_access_log_close(&a.log);
    fb_origin_fini(&a.origin);
    uv_loop_close(a.loop);
    return 0;
}
