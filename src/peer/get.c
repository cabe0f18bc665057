/* `flashback get URL`: fetches a page through the swarm, like curl (docs/PEER.md). It owns one
 * run: a page (peer/page: the manifest, the swarm and the HTTP ranges that back it up), the plain
 * download when the origin has no manifest service, the output files, and the exit code.
 * Everything happens on one libuv loop. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "net/http_client.h"
#include "peer/cliargs.h"
#include "peer/cmdrun.h"
#include "peer/commands.h"
#include "peer/getstats.h"
#include "peer/outpath.h"
#include "peer/page.h"
#include "peer/urlmap.h"

/* Exit codes (documented in --help and docs/PEER.md): the page's codes (peer/page.h). */
enum {
    EXIT_OK = FB_PAGE_OK,
    EXIT_INTERNAL = FB_PAGE_INTERNAL,
    EXIT_USAGE = FB_PAGE_USAGE,
    EXIT_UNREACHABLE = FB_PAGE_UNREACHABLE,
    EXIT_HTTP = FB_PAGE_HTTP,
    EXIT_MANIFEST = FB_PAGE_MANIFEST,
    EXIT_STALLED = FB_PAGE_STALLED,
    EXIT_VERIFY = FB_PAGE_VERIFY,
    EXIT_WRITE = FB_PAGE_WRITE,
    EXIT_TOO_BIG = FB_PAGE_TOO_BIG,
};

#define CONNECT_TIMEOUT_MS 5000
#define NAME               "flashback get" /* the prefix of its lines on stderr */

typedef struct get_opts {
    const char *url;
    const char *out;     /* -o FILE ("-" for stdout); NULL: stdout unless --all */
    const char *all_dir; /* --all DIR */
    const char *bind;    /* --bind ADDR:PORT for the UDP socket */
    bool stats, quiet, no_swarm;
    uint32_t linger_ms, timeout_ms;
    uint64_t max_size;
    uint32_t origin_conns;
} get_opts;

/* One object to write: its manifest path and its verified bytes. */
typedef struct get_out {
    const char *path;
    const uint8_t *data;
    uint64_t size;
} get_out;

typedef struct get_run {
    get_opts o;
    uv_loop_t *loop;
    fb_http_client *http;
    fb_page *page;
    uv_timer_t deadline; /* the plain download's bound */
    uint64_t t0;         /* uv_hrtime at the start */
    bool finished;
    int exit_code;
    fb_get_stats stats; /* the page's at its end, plus the plain download's */
    char err[512];
} get_run;

/* Keeps the page's counters and frees it. */
static void drop_page(get_run *r)
{
    if (r->page == NULL)
        return;
    fb_page_stats(r->page, &r->stats);
    r->stats.url = r->o.url;
    fb_page_free(r->page);
    r->page = NULL;
}

/* Ends the run with `code` and a one-line message (the first call wins): frees the page and the
 * HTTP client (pending requests are cancelled) and closes the timer; the loop then ends. */
static void finish(get_run *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish(get_run *r, int code, const char *fmt, ...)
{
    va_list ap;
    char msg[sizeof(r->err)];
    if (r->finished)
        return;
    r->finished = true;
    r->exit_code = code;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap); /* the arguments may point into the page's message */
    va_end(ap);
    memcpy(r->err, msg, sizeof(msg));
    drop_page(r);
    fb_http_client_free(r->http);
    r->http = NULL;
    uv_timer_stop(&r->deadline);
    uv_close((uv_handle_t *)&r->deadline, NULL);
}

static uint32_t remaining_ms(const get_run *r)
{
    uint64_t t = fb_cmdrun_ms(r->t0);
    return t >= r->o.timeout_ms ? 1 : (uint32_t)(r->o.timeout_ms - t);
}

/* ---- outputs ------------------------------------------------------------------------------ */

/* The paths --all writes, checked before anything is downloaded. Returns 0 or an exit code. */
static int check_out_paths(get_run *r, const get_out *objs, uint32_t n)
{
    if (!r->o.all_dir)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        char rel[FB_OUTPATH_MAX + 1];
        if (fb_outpath_map(objs[i].path, strlen(objs[i].path), rel, sizeof(rel)) < 0) {
            snprintf(r->err, sizeof(r->err), "refusing to write '%.200s' under %s: unsafe path",
                     objs[i].path, r->o.all_dir);
            return EXIT_WRITE;
        }
    }
    return 0;
}

/* Writes the outputs: object 0 to -o (or stdout), every object under --all. */
static int write_outputs(get_run *r, const get_out *objs, uint32_t n)
{
    int rc;
    const char *out = r->o.out;
    if (out == NULL && r->o.all_dir == NULL)
        out = "-";
    if (out && strcmp(out, "-") == 0) {
        size_t len = n ? (size_t)objs[0].size : 0;
        if ((len && fwrite(objs[0].data, 1, len, stdout) != len) || fflush(stdout) != 0) {
            snprintf(r->err, sizeof(r->err), "cannot write to stdout: %s", strerror(errno));
            return EXIT_WRITE;
        }
    } else if (out) {
        rc = fb_outpath_write_file(out, n ? objs[0].data : (const uint8_t *)"",
                                   n ? (size_t)objs[0].size : 0);
        if (rc) {
            snprintf(r->err, sizeof(r->err), "cannot write %s: %s", out, strerror(-rc));
            return EXIT_WRITE;
        }
    }
    if (r->o.all_dir == NULL)
        return 0;
    int dfd = fb_outpath_open_dir(r->o.all_dir);
    if (dfd < 0) {
        snprintf(r->err, sizeof(r->err), "cannot open %s: %s", r->o.all_dir, strerror(-dfd));
        return EXIT_WRITE;
    }
    char(*rel)[FB_OUTPATH_MAX + 1] = calloc(n ? n : 1, sizeof(*rel));
    bool *dup = calloc(n ? n : 1, sizeof(bool));
    int code = 0;
    if (rel == NULL || dup == NULL) {
        code = EXIT_INTERNAL;
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (fb_outpath_map(objs[i].path, strlen(objs[i].path), rel[i], sizeof(rel[i])) < 0) {
            snprintf(r->err, sizeof(r->err), "refusing to write '%.200s': unsafe path",
                     objs[i].path);
            code = EXIT_WRITE;
            goto out;
        }
    }
    if (fb_outpath_resolve(rel, dup, n) != 0) {
        snprintf(r->err, sizeof(r->err), "an output path is too long");
        code = EXIT_WRITE;
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (dup[i])
            continue;
        rc = fb_outpath_write_at(dfd, rel[i], objs[i].data, (size_t)objs[i].size);
        if (rc) {
            snprintf(r->err, sizeof(r->err), "cannot write %s/%s: %s", r->o.all_dir, rel[i],
                     strerror(-rc));
            code = EXIT_WRITE;
            goto out;
        }
    }
out:
    free(rel);
    free(dup);
    close(dfd);
    return code;
}

/* The page's objects as outputs (data NULL unless verified). NULL when out of memory. */
static get_out *page_outputs(const fb_page *p, uint32_t *n)
{
    *n = fb_page_n_objects(p);
    get_out *objs = calloc(*n ? *n : 1, sizeof(*objs));
    for (uint32_t i = 0; objs && i < *n; i++) {
        fb_page_object po;
        fb_page_object_get(p, i, &po);
        objs[i].path = po.path;
        objs[i].data = po.data;
        objs[i].size = po.size;
    }
    return objs;
}

/* ---- the plain download (no manifest service) --------------------------------------------- */

static void on_plain(void *ctx, const fb_http_result *res);

static void plain_deadline_cb(uv_timer_t *t)
{
    get_run *r = t->data;
    finish(r, EXIT_UNREACHABLE, "timed out after %.1f s waiting for the origin",
           r->o.timeout_ms / 1000.0);
}

static void fetch_plain(get_run *r, const char *why)
{
    fb_http_client_request req = {.url = r->o.url,
                                  .max_body = (size_t)r->o.max_size,
                                  .connect_timeout_ms = FB_MIN(CONNECT_TIMEOUT_MS, remaining_ms(r)),
                                  .timeout_ms = remaining_ms(r),
                                  .max_redirects = 5};
    r->stats.mode = "plain";
    fb_cmdrun_say(r->o.quiet, NAME, "no manifest service at the origin (%s): plain HTTP download",
                  why);
    uv_timer_start(&r->deadline, plain_deadline_cb, remaining_ms(r), 0);
    if (fb_http_get(r->http, &req, on_plain, r, NULL) != 0)
        finish(r, EXIT_INTERNAL, "cannot start the HTTP request");
}

/* The exit code for a failed plain download. */
static int http_exit(const fb_http_result *res)
{
    switch (res->error) {
    case FB_HTTP_ECONNECT:
    case FB_HTTP_ETIMEOUT:
    case FB_HTTP_ETRANSFER:
        return EXIT_UNREACHABLE;
    case FB_HTTP_ESTATUS:
        return EXIT_HTTP;
    case FB_HTTP_ETOOBIG:
        return EXIT_TOO_BIG;
    default:
        return EXIT_INTERNAL;
    }
}

static void on_plain(void *ctx, const fb_http_result *res)
{
    get_run *r = ctx;
    if (r->finished || res->error == FB_HTTP_ECANCELED)
        return;
    if (res->error) {
        finish(r, http_exit(res), "%s", res->message);
        return;
    }
    r->stats.bytes_origin_http += res->len;
    r->stats.bytes_total = res->len;
    r->stats.objects = 1;
    r->stats.ms_first_byte = r->stats.ms_complete = (int64_t)fb_cmdrun_ms(r->t0);
    /* One object: the page, at the path of the URL. */
    char path[FB_URL_MAX + 1];
    if (fb_url_page_path(r->o.url, path, sizeof(path)) < 0) {
        finish(r, EXIT_INTERNAL, "out of memory");
        return;
    }
    get_out obj = {.path = path, .data = res->body, .size = res->len};
    int code = check_out_paths(r, &obj, 1);
    if (code == 0)
        code = write_outputs(r, &obj, 1);
    if (code)
        finish(r, code, "%s", r->err);
    else
        finish(r, EXIT_OK, "%s", "");
}

/* ---- the page ----------------------------------------------------------------------------- */

static void on_page(void *ctx, fb_page *p, fb_page_event ev, uint32_t object)
{
    get_run *r = ctx;
    uint32_t n;
    get_out *objs;
    int code;
    (void)object;
    switch (ev) {
    case FB_PAGE_EV_MANIFEST: /* refuse unsafe --all paths before downloading anything */
    case FB_PAGE_EV_COMPLETE: /* every byte verified: write */
        objs = page_outputs(p, &n);
        code = objs ? check_out_paths(r, objs, n) : EXIT_INTERNAL;
        if (code == 0 && ev == FB_PAGE_EV_COMPLETE)
            code = write_outputs(r, objs, n);
        free(objs);
        if (code)
            fb_page_fail(p, code, code == EXIT_INTERNAL ? "out of memory" : r->err);
        break;
    case FB_PAGE_EV_DONE:
        code = fb_page_code(p);
        if (code == FB_PAGE_NO_SERVICE) {
            char why[128];
            snprintf(why, sizeof(why), "%s", fb_page_message(p));
            drop_page(r);
            fetch_plain(r, why);
        } else {
            finish(r, code, "%s", fb_page_message(p));
        }
        break;
    default:
        break;
    }
}

/* ---- command line ------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: flashback get URL [-o FILE] [--all DIR] [--stats] [--linger SECONDS]\n"
            "                         [--timeout SECONDS] [--quiet] [options]\n"
            "\n"
            "Fetches a page through the swarm of its visitors, with the origin as fallback.\n"
            "The page's manifest comes from URL's origin over HTTP(S); every chunk is checked\n"
            "against it before use; nothing is written before every byte verified. An origin\n"
            "without a manifest service gets a plain HTTP download.\n"
            "\n"
            "  -o, --output FILE     write the page to FILE ('-': stdout; the default, unless\n"
            "                        --all is given)\n"
            "  --all DIR             also write every object of the page under DIR, at its URL\n"
            "                        path (DIR/index.html for '/', DIR/img/a.png, ...)\n"
            "  --stats               print one JSON object of counters and times on stderr at\n"
            "                        the end (fields in docs/PEER.md)\n"
            "  --linger SECONDS      keep uploading to other peers this long after completion\n"
            "                        (default 0)\n"
            "  --timeout SECONDS     give up after this long (default 120; lingering comes on\n"
            "                        top)\n"
            "  -q, --quiet           print errors only\n"
            "  --max-size SIZE       refuse pages larger than SIZE bytes (K, M, G suffixes;\n"
            "                        default 256M)\n"
            "  --origin-conns N      HTTP range requests to the origin at once (1-64, default 4)\n"
            "  --bind ADDR:PORT      UDP address for the swarm (default 0.0.0.0:0, or [::]:0\n"
            "                        for an IPv6 seed)\n"
            "  --no-swarm            fetch every chunk from the origin over HTTP (verified all\n"
            "                        the same); for comparisons\n"
            "  -h, --help            this text\n"
            "\n"
            "exit status:\n"
            "  0  every byte verified and written\n"
            "  1  internal error (out of memory, no UDP socket)\n"
            "  2  bad usage\n"
            "  3  origin unreachable (connection refused, timed out, name not resolved), or a\n"
            "     plain download (no manifest service) still running at --timeout\n"
            "  4  the origin answered an HTTP error status (404, 500...)\n"
            "  5  the manifest does not parse\n"
            "  6  stalled: the swarm stopped delivering and the origin is down or failing, or\n"
            "     --timeout passed during a download through the swarm\n"
            "  7  the origin's bytes do not match its manifest, even after fetching it again\n"
            "  8  an output could not be written (or a path was unsafe to write)\n"
            "  9  the page or its manifest is over a cap (--max-size; a manifest of 8 MiB,\n"
            "     1024 objects or 65536 chunks)\n");
}

/* Returns -1 to go on, or an exit code (0 after --help). */
static int parse_args(int argc, char **argv, get_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->timeout_ms = 120000;
    o->max_size = 256ull << 20;
    o->origin_conns = 4;
    static const char *const flags[] = {"--stats", "--quiet", "-q", "--no-swarm", NULL};
    static const char *const valued[] = {"-o",       "--output",       "--all",
                                         "--linger", "--timeout",      "--max-size",
                                         "--bind",   "--origin-conns", NULL};
    for (int i = 1; i < argc; i++) {
        fb_cli_arg arg;
        const char *name = arg.name, *v;
        switch (fb_cli_next(argc, argv, &i, flags, valued, &arg)) {
        case FB_CLI_HELP:
            usage(stdout);
            return 0;
        case FB_CLI_OPERAND:
            if (o->url) {
                fprintf(stderr, "flashback get: one URL only (got '%s' and '%s')\n", o->url,
                        arg.value);
                return EXIT_USAGE;
            }
            o->url = arg.value;
            continue;
        case FB_CLI_FLAG_VALUE:
            fprintf(stderr, "flashback get: %s takes no value\n", name);
            return EXIT_USAGE;
        case FB_CLI_FLAG:
            if (strcmp(name, "--stats") == 0)
                o->stats = true;
            else if (strcmp(name, "--no-swarm") == 0)
                o->no_swarm = true;
            else
                o->quiet = true;
            continue;
        case FB_CLI_UNKNOWN:
            fprintf(stderr, "flashback get: unknown option '%s' (try --help)\n", arg.value);
            return EXIT_USAGE;
        case FB_CLI_MISSING_VALUE:
            fprintf(stderr, "flashback get: %s needs a value\n", name);
            return EXIT_USAGE;
        case FB_CLI_VALUED:
            break;
        }
        v = arg.value;
        if (strcmp(name, "-o") == 0 || strcmp(name, "--output") == 0) {
            if (!*v) {
                fprintf(stderr, "flashback get: -o needs a file name\n");
                return EXIT_USAGE;
            }
            o->out = v;
        } else if (strcmp(name, "--all") == 0) {
            if (!*v) {
                fprintf(stderr, "flashback get: --all needs a directory\n");
                return EXIT_USAGE;
            }
            o->all_dir = v;
        } else if (strcmp(name, "--linger") == 0) {
            if (!fb_cli_seconds(v, 0, &o->linger_ms)) {
                fprintf(stderr, "flashback get: --linger: not a number of seconds: '%s'\n", v);
                return EXIT_USAGE;
            }
        } else if (strcmp(name, "--timeout") == 0) {
            if (!fb_cli_seconds(v, 1, &o->timeout_ms)) {
                fprintf(stderr,
                        "flashback get: --timeout: not a positive number of seconds: '%s'\n", v);
                return EXIT_USAGE;
            }
        } else if (strcmp(name, "--max-size") == 0) {
            if (!fb_cli_size(v, &o->max_size)) {
                fprintf(stderr, "flashback get: --max-size: not a size: '%s'\n", v);
                return EXIT_USAGE;
            }
        } else if (strcmp(name, "--bind") == 0) {
            fb_addr tmp;
            if (fb_addr_parse(&tmp, v, strlen(v)) != 0) {
                fprintf(stderr, "flashback get: --bind: not ADDR:PORT: '%s'\n", v);
                return EXIT_USAGE;
            }
            o->bind = v;
        } else { /* --origin-conns */
            if (!fb_cli_count(v, 1, 64, &o->origin_conns)) {
                fprintf(stderr, "flashback get: --origin-conns: not in 1-64: '%s'\n", v);
                return EXIT_USAGE;
            }
        }
    }
    if (o->url == NULL) {
        fprintf(stderr, "flashback get: missing URL (try --help)\n");
        return EXIT_USAGE;
    }
    fb_url u;
    int rc = fb_url_split(o->url, &u);
    if (rc) {
        fprintf(stderr, "flashback get: not an http:// or https:// URL: '%s'\n", o->url);
        return EXIT_USAGE;
    }
    return -1;
}

int fb_cmd_get(int argc, char **argv)
{
    uv_loop_t loop;
    get_run *r;
    int rc, code;
    get_opts o;

    rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    r = fb_cmdrun_start(&loop, sizeof(*r), NAME);
    if (r == NULL)
        return EXIT_INTERNAL;
    r->o = o;
    r->loop = &loop;
    r->t0 = uv_hrtime();
    fb_get_stats_init(&r->stats);
    r->stats.url = o.url;
    uv_timer_init(&loop, &r->deadline);
    r->deadline.data = r;

    fb_http_client_config hc = {.max_requests = 64,
                                .max_connections = o.origin_conns + 2,
                                .max_host_connections = o.origin_conns + 1};
    fb_page_config pc = {.url = o.url,
                         .bind = o.bind,
                         .name = "flashback get",
                         .quiet = o.quiet,
                         .no_swarm = o.no_swarm,
                         .timeout_ms = o.timeout_ms,
                         .linger_ms = o.linger_ms,
                         .max_size = o.max_size,
                         .origin_conns = o.origin_conns,
                         .cb = on_page,
                         .ctx = r};
    if (fb_http_client_new(&loop, &hc, &r->http) != 0) {
        finish(r, EXIT_INTERNAL, "cannot start the HTTP client");
    } else {
        pc.http = r->http;
        rc = fb_page_new(&loop, &pc, &r->page);
        if (rc == FB_EINVAL)
            finish(r, EXIT_USAGE, "the URL is too long");
        else if (rc)
            finish(r, EXIT_INTERNAL, "out of memory");
    }

    fb_cmdrun_loop(&loop, NAME);

    code = r->exit_code;
    r->stats.exit_code = code;
    r->stats.error = r->err;
    r->stats.ms_total = (int64_t)fb_cmdrun_ms(r->t0);
    if (code != EXIT_OK) {
        fprintf(stderr, "flashback get: %s\n", r->err[0] ? r->err : "failed");
    } else if (!o.quiet) {
        fprintf(stderr,
                "flashback get: done: %" PRIu64 " bytes in %.2f s (origin HTTP %" PRIu64
                ", seed %" PRIu64 ", peers %" PRIu64 ")\n",
                r->stats.bytes_total, r->stats.ms_total / 1000.0, r->stats.bytes_origin_http,
                r->stats.bytes_seed, r->stats.bytes_peers);
    }
    if (o.stats) {
        char buf[4096 + 2 * FB_URL_MAX];
        if (fb_get_stats_json(&r->stats, buf, sizeof(buf)) > 0)
            fputs(buf, stderr);
    }
    free(r);
    return code;
}
