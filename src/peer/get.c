/* `flashback get URL`: fetches a page through the swarm, like curl (docs/PEER.md). It owns one
 * run: the manifest fetch over HTTP, the engine (peer role) on a UDP socket, the HTTP range
 * fetches that back the swarm up, the output files, and the exit code. Everything happens on
 * one libuv loop; engine events only note what happened, and `step` acts on it from a timer. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/manifest.h"
#include "net/engine_host.h"
#include "net/http_client.h"
#include "peer/commands.h"
#include "peer/getstats.h"
#include "peer/outpath.h"
#include "peer/urlmap.h"

/* Exit codes (documented in --help and docs/PEER.md). */
enum {
    EXIT_OK = 0,
    EXIT_INTERNAL = 1,    /* out of memory, no socket, ... */
    EXIT_USAGE = 2,       /* bad command line */
    EXIT_UNREACHABLE = 3, /* the origin could not be reached for the page or its manifest */
    EXIT_HTTP = 4,        /* the origin answered an HTTP error status */
    EXIT_MANIFEST = 5,    /* the manifest does not parse */
    EXIT_STALLED = 6,     /* no progress: the swarm stalled and the origin is down or failing,
                             or --timeout passed */
    EXIT_VERIFY = 7,      /* the origin's bytes do not match its manifest, even after
                             fetching the manifest again */
    EXIT_WRITE = 8,       /* an output could not be written */
    EXIT_TOO_BIG = 9,     /* the page or its manifest is over a cap (--max-size) */
};

#define MANIFEST_MAX       (8u << 20) /* bytes of manifest text we accept */
#define RANGE_CHUNKS       16         /* chunks per HTTP range request at most */
#define UDP_SILENCE_MS     4000       /* no datagram from anyone this long: fetch over HTTP */
#define BAD_DATA_CHUNKS    16         /* bad chunks since the last good one: the swarm is hostile */
#define STALL_MS           5000       /* no progress this long with the origin failing: give up */
#define ORIGIN_DOWN_FAILS  3          /* consecutive HTTP failures that mean "origin down" */
#define BACKOFF_MIN_MS     250
#define BACKOFF_MAX_MS     4000
#define POLICY_MS          200 /* the policy timer's period */
#define HTTP_TIMEOUT_MS    30000
#define CONNECT_TIMEOUT_MS 5000
#define LEAVE_GRACE_MS     3000 /* after completion (and lingering): leaving takes at most this */

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

/* One object of the manifest, as the run needs it. */
typedef struct get_obj {
    char *url;  /* the object's absolute URL */
    char *etag; /* strong entity tag for If-Range, or NULL */
    char *path; /* the manifest path (NUL-terminated copy), for messages */
    uint64_t size, page_off;
    uint32_t first_chunk, n_chunks;
} get_obj;

typedef enum get_state { ST_MANIFEST, ST_PLAIN, ST_SWARM, ST_DONE } get_state;

typedef struct get_run get_run;

/* An HTTP request in flight, for the run. */
typedef struct get_fetch {
    get_run *r;
    int kind;              /* FETCH_MANIFEST, FETCH_PLAIN, FETCH_RANGE */
    uint32_t first, count; /* chunks of a range fetch */
    uint32_t generation;   /* the swarm it was made for (a restart makes a new one) */
    fb_http_req *req;
} get_fetch;

enum { FETCH_MANIFEST = 1, FETCH_PLAIN, FETCH_RANGE };

struct get_run {
    get_opts o;
    uv_loop_t *loop;
    fb_http_client *http;
    uv_timer_t deadline, policy, act;
    uint64_t t0; /* uv_hrtime at the start */
    get_state st;
    int exit_code;
    bool finished;
    char origin_msg[512]; /* the last HTTP failure, for the final message */

    /* The manifest. */
    char murl[FB_URL_MAX + 1];
    uint8_t *mbuf;
    size_t mlen;
    fb_manifest m;
    get_obj *objs;
    uint32_t n_objs;
    bool have_seed;
    fb_addr seed;
    bool rechecking; /* fetching the manifest again after a mismatch */
    bool rechecked;  /* ... done once: the next mismatch is fatal */
    int recheck_exit;
    char recheck_msg[512];

    /* The swarm. */
    fb_engine_host *host;
    fb_memstore ms;
    bool ms_ready;
    int swarm;
    uint32_t generation;
    uint64_t *want, *busy; /* bitmaps over chunks: to fetch over HTTP; being fetched */
    uint32_t n_words;
    uint32_t inflight; /* range fetches in flight */
    bool all_http;     /* fetch every missing chunk over HTTP (no seed, UDP silent, ...) */
    bool joined;
    uint64_t join_ms, last_progress_ms, retry_at_ms;
    uint32_t backoff_ms, consec_fail;
    bool complete, written, left;
    uint64_t bad_at_progress; /* the engine's chunks_bad when the last chunk verified */

    fb_get_stats stats;
    char err[512];
};

/* ---- small helpers ------------------------------------------------------------------------ */

static uint64_t now_ms(const get_run *r)
{
    return (uv_hrtime() - r->t0) / 1000000;
}

static void info(const get_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void info(const get_run *r, const char *fmt, ...)
{
    va_list ap;
    if (r->o.quiet)
        return;
    va_start(ap, fmt);
    fprintf(stderr, "flashback get: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static void shutdown_run(get_run *r);

/* Ends the run with `code` and a one-line message (the first call wins). */
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
    vsnprintf(msg, sizeof(msg), fmt, ap); /* the arguments may point into r->err */
    va_end(ap);
    memcpy(r->err, msg, sizeof(msg));
    shutdown_run(r);
}

static void act_cb(uv_timer_t *t);

/* Asks for `step` to run from the loop soon (engine events may not act themselves). */
static void kick(get_run *r)
{
    if (!r->finished)
        uv_timer_start(&r->act, act_cb, 0, 0);
}

static bool bit_get(const uint64_t *b, uint32_t i)
{
    return (b[i >> 6] >> (i & 63)) & 1;
}

static void bit_set(uint64_t *b, uint32_t i)
{
    b[i >> 6] |= (uint64_t)1 << (i & 63);
}

static void bit_clear(uint64_t *b, uint32_t i)
{
    b[i >> 6] &= ~((uint64_t)1 << (i & 63));
}

static uint32_t remaining_ms(const get_run *r)
{
    uint64_t t = now_ms(r);
    return t >= r->o.timeout_ms ? 1 : (uint32_t)(r->o.timeout_ms - t);
}

/* ---- the swarm: setup and teardown ------------------------------------------------------- */

static void free_objs(get_run *r)
{
    for (uint32_t i = 0; i < r->n_objs; i++) {
        free(r->objs[i].url);
        free(r->objs[i].etag);
        free(r->objs[i].path);
    }
    free(r->objs);
    r->objs = NULL;
    r->n_objs = 0;
}

/* Adds the counters of the current engine to the run's totals, then frees the engine, the
 * store and the bitmaps (in-flight range fetches become stale by the generation number). */
static void swarm_stop(get_run *r)
{
    if (r->host) {
        fb_engine_stats es;
        fb_udp_stats us;
        fb_engine_stats_get(fb_engine_host_engine(r->host), &es);
        fb_engine_host_udp_stats(r->host, &us);
        r->stats.bytes_seed += es.bytes_in_seed;
        r->stats.bytes_peers += es.bytes_in_peer;
        r->stats.bytes_uploaded += es.bytes_out_data;
        r->stats.chunks_bad += es.chunks_bad;
        r->stats.bans = FB_MAX(r->stats.bans, es.bans);
        r->stats.udp_bytes_in += us.bytes_in;
        r->stats.udp_bytes_out += us.bytes_out;
        r->stats.udp_dropped += es.dropped_invalid + es.dropped_unknown + es.dropped_cap +
                                us.drop_oversize + us.drop_malformed;
        fb_engine_host_free(r->host);
        r->host = NULL;
    }
    if (r->ms_ready)
        fb_memstore_fini(&r->ms);
    r->ms_ready = false;
    free(r->want);
    free(r->busy);
    r->want = r->busy = NULL;
    r->generation++;
    r->inflight = 0;
}

static void on_engine_event(void *ctx, const fb_event *ev);

/* Reads the objects of the parsed manifest into r->objs. Returns 0 or an exit code. */
static int load_objects(get_run *r)
{
    fb_manifest_iter it = {0};
    fb_manifest_object o;
    uint64_t off = 0;
    r->objs = calloc(r->m.n_objects, sizeof(*r->objs));
    if (r->objs == NULL)
        return EXIT_INTERNAL;
    while (r->n_objs < r->m.n_objects && fb_manifest_next(&r->m, &it, &o)) {
        get_obj *g = &r->objs[r->n_objs++];
        char url[FB_URL_MAX + 1];
        if (fb_url_object(r->o.url, o.path, o.path_len, url, sizeof(url)) < 0) {
            snprintf(r->err, sizeof(r->err), "manifest: object path '%.*s' makes no URL",
                     (int)FB_MIN(o.path_len, 200), o.path);
            return EXIT_MANIFEST;
        }
        g->url = strdup(url);
        g->path = strndup(o.path, o.path_len);
        /* If-Range needs a strong validator (RFC 9110, 13.1.5). */
        if (o.etag_len >= 2 && o.etag[0] == '"')
            g->etag = strndup(o.etag, o.etag_len);
        if (g->url == NULL || g->path == NULL || (o.etag_len >= 2 && o.etag[0] == '"' && !g->etag))
            return EXIT_INTERNAL;
        g->size = o.size;
        g->page_off = off;
        g->first_chunk = o.first_chunk;
        g->n_chunks = o.n_chunks;
        off += o.size;
    }
    return r->n_objs == r->m.n_objects ? 0 : EXIT_MANIFEST;
}

/* The paths --all writes, checked before anything is downloaded. Returns 0 or an exit code. */
static int check_out_paths(get_run *r)
{
    if (!r->o.all_dir)
        return 0;
    for (uint32_t i = 0; i < r->n_objs; i++) {
        char rel[FB_OUTPATH_MAX + 1];
        if (fb_outpath_map(r->objs[i].path, strlen(r->objs[i].path), rel, sizeof(rel)) < 0) {
            snprintf(r->err, sizeof(r->err), "refusing to write '%.200s' under %s: unsafe path",
                     r->objs[i].path, r->o.all_dir);
            return EXIT_WRITE;
        }
    }
    return 0;
}

/* Starts the swarm for the manifest in r->mbuf (parsed into r->m). Returns 0 or an exit code
 * (r->err set). */
static int swarm_start(get_run *r)
{
    int rc;
    r->complete = r->written = r->left = false;
    r->bad_at_progress = 0;
    r->all_http = r->o.no_swarm || !r->have_seed;
    r->joined = false;
    r->consec_fail = 0;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->retry_at_ms = 0;
    rc = load_objects(r);
    if (rc == 0)
        rc = check_out_paths(r);
    if (rc)
        return rc;
    r->stats.objects = r->m.n_objects;
    r->stats.chunks = r->m.n_chunks;
    r->stats.bytes_total = r->m.total_size;
    rc = fb_memstore_init_manifest(&r->ms, &r->m, r->o.max_size);
    if (rc) {
        snprintf(r->err, sizeof(r->err), "the page (%" PRIu64 " bytes) is over --max-size",
                 r->m.total_size);
        return rc == FB_E2BIG ? EXIT_TOO_BIG : EXIT_INTERNAL;
    }
    r->ms_ready = true;
    r->n_words = (r->m.n_chunks + 63) / 64;
    r->want = calloc(r->n_words ? r->n_words : 1, sizeof(uint64_t));
    r->busy = calloc(r->n_words ? r->n_words : 1, sizeof(uint64_t));
    if (!r->want || !r->busy)
        return EXIT_INTERNAL;
    r->last_progress_ms = now_ms(r);
    if (r->m.n_chunks == 0) {
        r->complete = true; /* only empty objects: nothing to fetch */
        r->stats.ms_complete = (int64_t)now_ms(r);
        return 0;
    }

    fb_engine_host_config hc = {0};
    hc.engine.role = FB_ROLE_PEER;
    hc.engine.linger_ms = r->o.linger_ms;
    hc.engine.max_page_bytes = r->o.max_size;
    hc.engine.max_chunks = r->m.n_chunks;
    hc.engine.max_objects = FB_MAX(r->m.n_objects, 1u);
    if (r->o.bind) {
        if (fb_addr_parse(&hc.bind, r->o.bind, strlen(r->o.bind)) != 0) {
            snprintf(r->err, sizeof(r->err), "--bind: not an ADDR:PORT: %s", r->o.bind);
            return EXIT_USAGE;
        }
    } else if (r->have_seed && r->seed.family == 6) {
        hc.bind.family = 6; /* [::]:0 */
    } else {
        fb_addr_set_v4(&hc.bind, 0, 0);
    }
    hc.store = fb_memstore_as_store(&r->ms);
    hc.on_event = on_engine_event;
    hc.ctx = r;
    hc.find_local_addrs = true;
    rc = fb_engine_host_new(r->loop, &hc, &r->host);
    if (rc) {
        snprintf(r->err, sizeof(r->err), "cannot open the UDP socket: %s", uv_strerror(rc));
        return EXIT_INTERNAL;
    }
    fb_engine *e = fb_engine_host_engine(r->host);
    r->swarm = fb_engine_swarm_add(e, r->mbuf, r->mlen, fb_engine_host_now());
    if (r->swarm < 0) {
        snprintf(r->err, sizeof(r->err), "the engine refused the manifest (%d)", r->swarm);
        return EXIT_MANIFEST;
    }
    r->ms.swarm = r->swarm;
    if (!r->all_http) {
        rc = fb_engine_swarm_join(e, r->swarm, &r->seed, fb_engine_host_now());
        if (rc) {
            char a[FB_ADDR_STRLEN];
            info(r, "cannot join the seed at %s (%d): fetching from the origin over HTTP",
                 fb_addr_format(&r->seed, a), rc);
            r->all_http = true;
        } else {
            r->joined = true;
            r->join_ms = now_ms(r);
        }
    }
    fb_engine_host_kick(r->host);
    return 0;
}

/* ---- engine events ------------------------------------------------------------------------ */

static void on_engine_event(void *ctx, const fb_event *ev)
{
    get_run *r = ctx;
    fb_engine_stats es;
    if (r->finished || ev->swarm != r->swarm)
        return;
    switch (ev->type) {
    case FB_EV_CHUNK_VERIFIED:
        if (r->stats.ms_first_byte < 0)
            r->stats.ms_first_byte = (int64_t)now_ms(r);
        r->last_progress_ms = now_ms(r);
        fb_engine_stats_get(fb_engine_host_engine(r->host), &es);
        r->bad_at_progress = es.chunks_bad;
        if (ev->chunk < r->m.n_chunks)
            bit_clear(r->want, ev->chunk);
        if (ev->source == FB_SRC_PEER)
            r->stats.chunks_peers++;
        else if (ev->source == FB_SRC_SEED)
            r->stats.chunks_seed++;
        else
            r->stats.chunks_origin++;
        break;
    case FB_EV_SWARM_COMPLETE:
        r->complete = true;
        r->stats.ms_complete = (int64_t)now_ms(r);
        kick(r);
        break;
    case FB_EV_NEED_ORIGIN:
        if (ev->chunk < r->m.n_chunks && !fb_memstore_has(&r->ms, ev->chunk)) {
            bit_set(r->want, ev->chunk);
            kick(r);
        }
        break;
    case FB_EV_PEER_ADDED:
        r->stats.neighbours_added++;
        fb_engine_stats_get(fb_engine_host_engine(r->host), &es);
        r->stats.neighbours_max = FB_MAX(r->stats.neighbours_max, es.neighbours);
        break;
    case FB_EV_SWARM_LEFT:
        r->left = true;
        kick(r);
        break;
    default:
        break;
    }
}

/* ---- HTTP --------------------------------------------------------------------------------- */

static void on_http(void *ctx, const fb_http_result *res);

static int start_fetch(get_run *r, int kind, const fb_http_request *req, uint32_t first,
                       uint32_t count)
{
    get_fetch *f = calloc(1, sizeof(*f));
    int rc;
    if (f == NULL)
        return FB_ENOMEM;
    f->r = r;
    f->kind = kind;
    f->first = first;
    f->count = count;
    f->generation = r->generation;
    rc = fb_http_get(r->http, req, on_http, f, &f->req);
    if (rc)
        free(f);
    return rc;
}

static int fetch_manifest(get_run *r)
{
    fb_http_request req = {.url = r->murl,
                           .max_body = MANIFEST_MAX,
                           .connect_timeout_ms = FB_MIN(CONNECT_TIMEOUT_MS, remaining_ms(r)),
                           .timeout_ms = FB_MIN(HTTP_TIMEOUT_MS, remaining_ms(r)),
                           .capture_header = "Flashback-Seed"};
    return start_fetch(r, FETCH_MANIFEST, &req, 0, 0);
}

static void fetch_plain(get_run *r, const char *why)
{
    fb_http_request req = {.url = r->o.url,
                           .max_body = (size_t)r->o.max_size,
                           .connect_timeout_ms = FB_MIN(CONNECT_TIMEOUT_MS, remaining_ms(r)),
                           .timeout_ms = remaining_ms(r),
                           .max_redirects = 5};
    r->st = ST_PLAIN;
    r->stats.mode = "plain";
    info(r, "no manifest service at the origin (%s): plain HTTP download", why);
    if (start_fetch(r, FETCH_PLAIN, &req, 0, 0) != 0)
        finish(r, EXIT_INTERNAL, "cannot start the HTTP request");
}

/* The exit code for a failed manifest or page fetch. */
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

/* Writes the outputs from the verified bytes in `page` (the objects back to back). */
static int write_outputs(get_run *r, const uint8_t *page)
{
    int rc;
    const char *out = r->o.out;
    if (out == NULL && r->o.all_dir == NULL)
        out = "-";
    if (out && strcmp(out, "-") == 0) {
        size_t n = r->n_objs ? (size_t)r->objs[0].size : 0;
        if ((n && fwrite(page, 1, n, stdout) != n) || fflush(stdout) != 0) {
            snprintf(r->err, sizeof(r->err), "cannot write to stdout: %s", strerror(errno));
            return EXIT_WRITE;
        }
    } else if (out) {
        rc = fb_outpath_write_file(out, page, r->n_objs ? (size_t)r->objs[0].size : 0);
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
    char(*rel)[FB_OUTPATH_MAX + 1] = calloc(r->n_objs ? r->n_objs : 1, sizeof(*rel));
    bool *dup = calloc(r->n_objs ? r->n_objs : 1, sizeof(bool));
    int code = 0;
    if (rel == NULL || dup == NULL) {
        code = EXIT_INTERNAL;
        goto out;
    }
    for (uint32_t i = 0; i < r->n_objs; i++) {
        if (fb_outpath_map(r->objs[i].path, strlen(r->objs[i].path), rel[i], sizeof(rel[i])) < 0) {
            snprintf(r->err, sizeof(r->err), "refusing to write '%.200s': unsafe path",
                     r->objs[i].path);
            code = EXIT_WRITE;
            goto out;
        }
    }
    if (fb_outpath_resolve(rel, dup, r->n_objs) != 0) {
        snprintf(r->err, sizeof(r->err), "an output path is too long");
        code = EXIT_WRITE;
        goto out;
    }
    for (uint32_t i = 0; i < r->n_objs; i++) {
        if (dup[i])
            continue;
        rc = fb_outpath_write_at(dfd, rel[i], page + r->objs[i].page_off, (size_t)r->objs[i].size);
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

/* A range fetch failed in a way that says the origin's file is not the one the manifest
 * describes (a hash mismatch, a 4xx, a range that does not fit): fetch the manifest again,
 * once. `code` and `msg` are the error to report if that does not help. */
static void origin_mismatch(get_run *r, int code, const char *msg)
{
    if (r->rechecking)
        return;
    if (r->rechecked) {
        finish(r, code, "%s (the manifest was fetched again already)", msg);
        return;
    }
    r->rechecking = r->rechecked = true;
    r->recheck_exit = code;
    snprintf(r->recheck_msg, sizeof(r->recheck_msg), "%s", msg);
    info(r, "%s: fetching the manifest again", msg);
    if (fetch_manifest(r) != 0)
        finish(r, EXIT_INTERNAL, "cannot start the HTTP request");
}

static void transient_failure(get_run *r, const fb_http_result *res)
{
    r->stats.http_failures++;
    r->consec_fail++;
    r->retry_at_ms = now_ms(r) + r->backoff_ms;
    r->backoff_ms = FB_MIN(r->backoff_ms * 2, (uint32_t)BACKOFF_MAX_MS);
    snprintf(r->origin_msg, sizeof(r->origin_msg), "%s", res->message);
}

/* The object holding chunk c. */
static const get_obj *obj_of(const get_run *r, uint32_t c)
{
    uint32_t lo = 0, hi = r->n_objs;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->objs[mid].first_chunk <= c)
            lo = mid;
        else
            hi = mid;
    }
    /* Empty objects share a first_chunk with the next one: step past them. */
    while (lo + 1 < r->n_objs && r->objs[lo].n_chunks == 0)
        lo++;
    return &r->objs[lo];
}

/* Verified bytes so far. */
static uint64_t verified_bytes(const get_run *r)
{
    uint64_t b = 0;
    if (!r->ms_ready)
        return 0;
    for (uint32_t c = 0; c < r->ms.n_chunks; c++)
        if (fb_memstore_has(&r->ms, c))
            b += r->ms.off[c + 1] - r->ms.off[c];
    return b;
}

static void on_range(get_run *r, get_fetch *f, const fb_http_result *res)
{
    fb_engine *e = fb_engine_host_engine(r->host);
    r->inflight--;
    for (uint32_t k = 0; k < f->count; k++)
        bit_clear(r->busy, f->first + k);
    if (res->error) {
        bool changed = (res->error == FB_HTTP_ESTATUS && res->status >= 400 && res->status < 500 &&
                        res->status != 408 && res->status != 429) ||
                       res->error == FB_HTTP_ERANGE;
        if (changed) {
            r->stats.http_failures++;
            origin_mismatch(r, res->error == FB_HTTP_ESTATUS ? EXIT_HTTP : EXIT_VERIFY,
                            res->message);
        } else {
            transient_failure(r, res);
        }
        kick(r);
        return;
    }
    r->stats.bytes_origin_http += res->len;
    r->consec_fail = 0;
    r->backoff_ms = BACKOFF_MIN_MS;
    if (r->complete)
        return; /* the swarm was faster; the engine may have left already */
    size_t off = 0;
    for (uint32_t k = 0; k < f->count; k++) {
        uint32_t c = f->first + k;
        size_t len = (size_t)(r->ms.off[c + 1] - r->ms.off[c]);
        if (off + len > res->len)
            break; /* cannot happen: the client checked the range */
        if (fb_memstore_has(&r->ms, c)) {
            off += len; /* the swarm delivered it meanwhile */
            continue;
        }
        int rc = fb_engine_supply(e, r->swarm, c, res->body + off, len, fb_engine_host_now());
        off += len;
        if (r->finished)
            return;
        if (rc == FB_EPROTO || rc == FB_EINVAL) {
            char msg[600];
            const get_obj *o = obj_of(r, c);
            r->stats.chunks_bad++;
            snprintf(msg, sizeof(msg),
                     "GET %.400s: bytes %" PRIu64 "-%" PRIu64 " do not match the manifest", o->url,
                     r->ms.off[c] - o->page_off, r->ms.off[c + 1] - 1 - o->page_off);
            origin_mismatch(r, EXIT_VERIFY, msg);
            break;
        }
        bit_clear(r->want, c);
    }
    if (r->finished || r->host == NULL)
        return;
    fb_engine_host_kick(r->host);
    kick(r);
}

/* The manifest arrived (first fetch, or again after a mismatch). */
static void on_manifest(get_run *r, const fb_http_result *res)
{
    int rc;
    r->stats.manifest_fetches++;
    if (res->error) {
        if (r->rechecking) {
            finish(r, http_exit(res), "%s (while fetching the manifest again after: %s)",
                   res->message, r->recheck_msg);
            return;
        }
        long s = res->status;
        if (res->error == FB_HTTP_ESTATUS &&
            (s == 400 || s == 404 || s == 405 || s == 410 || s == 501 || (s >= 300 && s < 400))) {
            char why[32];
            snprintf(why, sizeof(why), "HTTP %ld", s);
            fetch_plain(r, why);
            return;
        }
        if (res->error == FB_HTTP_ETOOBIG) {
            finish(r, EXIT_TOO_BIG, "the manifest is over its cap of %u bytes", MANIFEST_MAX);
            return;
        }
        finish(r, http_exit(res), "%s", res->message);
        return;
    }
    r->stats.bytes_manifest += res->len;
    bool looks = res->len >= sizeof(FB_MANIFEST_MAGIC) &&
                 memcmp(res->body, FB_MANIFEST_MAGIC "\n", sizeof(FB_MANIFEST_MAGIC)) == 0;
    if (!looks && res->captured == NULL && !r->rechecking) {
        fetch_plain(r, "the manifest URL does not answer a manifest");
        return;
    }
    if (r->rechecking) {
        r->rechecking = false;
        if (res->len == r->mlen && memcmp(res->body, r->mbuf, r->mlen) == 0) {
            finish(r, r->recheck_exit, "%s, and the manifest has not changed", r->recheck_msg);
            return;
        }
        info(r, "the page changed at the origin: starting again with its new manifest");
        swarm_stop(r);
        free_objs(r);
    }
    free(r->mbuf);
    r->mbuf = malloc(res->len ? res->len : 1);
    if (r->mbuf == NULL) {
        finish(r, EXIT_INTERNAL, "out of memory");
        return;
    }
    memcpy(r->mbuf, res->body, res->len);
    r->mlen = res->len;
    fb_manifest_caps caps;
    fb_manifest_caps_default(&caps);
    caps.max_total = r->o.max_size;
    rc = fb_manifest_parse(r->mbuf, r->mlen, &caps, &r->m);
    if (rc == FB_E2BIG) {
        finish(r, EXIT_TOO_BIG,
               "the manifest at %s is over a cap (page over --max-size %" PRIu64
               " bytes, or too many objects or chunks)",
               r->murl, r->o.max_size);
        return;
    }
    if (rc || r->m.n_objects == 0) {
        finish(r, EXIT_MANIFEST, "the manifest at %s does not parse", r->murl);
        return;
    }
    r->have_seed = false;
    if (res->captured) {
        if (fb_url_seed_addr(res->captured, res->primary_ip, &r->seed) == 0)
            r->have_seed = true;
        else
            info(r, "ignoring a bad Flashback-Seed header '%.100s'", res->captured);
    }
    if (r->stats.ms_manifest < 0)
        r->stats.ms_manifest = (int64_t)now_ms(r);
    r->stats.mode = r->have_seed && !r->o.no_swarm ? "swarm" : "origin";
    {
        char a[FB_ADDR_STRLEN];
        info(r, "manifest: %u objects, %" PRIu64 " bytes in %u chunks; %s%s", r->m.n_objects,
             r->m.total_size, r->m.n_chunks,
             r->have_seed && !r->o.no_swarm ? "seed " : "no swarm: origin only",
             r->have_seed && !r->o.no_swarm ? fb_addr_format(&r->seed, a) : "");
    }
    r->st = ST_SWARM;
    rc = swarm_start(r);
    if (rc) {
        finish(r, rc, "%s", r->err[0] ? r->err : "cannot start the swarm");
        return;
    }
    kick(r);
}

static void on_plain(get_run *r, const fb_http_result *res)
{
    if (res->error) {
        finish(r, http_exit(res), "%s", res->message);
        return;
    }
    r->stats.bytes_origin_http += res->len;
    r->stats.bytes_total = res->len;
    r->stats.objects = 1;
    r->stats.ms_first_byte = r->stats.ms_complete = (int64_t)now_ms(r);
    /* One object: the page, at the path of the URL. */
    char path[FB_URL_MAX + 1];
    r->objs = calloc(1, sizeof(*r->objs));
    if (r->objs == NULL || fb_url_page_path(r->o.url, path, sizeof(path)) < 0 ||
        (r->objs[0].path = strdup(path)) == NULL) {
        finish(r, EXIT_INTERNAL, "out of memory");
        return;
    }
    r->n_objs = 1;
    r->objs[0].size = res->len;
    if (check_out_paths(r) != 0) {
        finish(r, EXIT_WRITE, "%s", r->err);
        return;
    }
    int code = write_outputs(r, res->body);
    if (code)
        finish(r, code, "%s", r->err);
    else
        finish(r, EXIT_OK, "%s", "");
}

static void on_http(void *ctx, const fb_http_result *res)
{
    get_fetch *f = ctx;
    get_run *r = f->r;
    if (!r->finished && res->error != FB_HTTP_ECANCELED) {
        if (f->kind == FETCH_MANIFEST)
            on_manifest(r, res);
        else if (f->kind == FETCH_PLAIN)
            on_plain(r, res);
        else if (f->generation == r->generation)
            on_range(r, f, res);
    }
    free(f);
}

/* ---- policy: what to fetch over HTTP, when to give up ------------------------------------- */

/* Starts range fetches for wanted chunks while there is room: each covers a run of up to
 * RANGE_CHUNKS consecutive wanted chunks of one object. */
static void pump_origin(get_run *r)
{
    uint32_t n = r->m.n_chunks, oi = 0;
    if (r->rechecking || r->host == NULL || now_ms(r) < r->retry_at_ms)
        return;
    for (uint32_t c = 0; c < n && r->inflight < r->o.origin_conns; c++) {
        uint32_t w = c >> 6;
        if ((c & 63) == 0 && (r->want[w] & ~r->busy[w]) == 0) {
            c += 63; /* nothing to start in this word */
            continue;
        }
        if (!bit_get(r->want, c) || bit_get(r->busy, c))
            continue;
        if (fb_memstore_has(&r->ms, c)) {
            bit_clear(r->want, c);
            continue;
        }
        while (oi + 1 < r->n_objs && r->objs[oi].first_chunk + r->objs[oi].n_chunks <= c)
            oi++;
        get_obj *o = &r->objs[oi];
        uint32_t count = 1;
        while (count < RANGE_CHUNKS && c + count < o->first_chunk + o->n_chunks &&
               bit_get(r->want, c + count) && !bit_get(r->busy, c + count) &&
               !fb_memstore_has(&r->ms, c + count))
            count++;
        uint64_t first = r->ms.off[c] - o->page_off;
        uint64_t len = r->ms.off[c + count] - r->ms.off[c];
        fb_http_request req = {.url = o->url,
                               .max_body = (size_t)len,
                               .range = true,
                               .range_first = first,
                               .range_last = first + len - 1,
                               .connect_timeout_ms = FB_MIN(CONNECT_TIMEOUT_MS, remaining_ms(r)),
                               .timeout_ms = FB_MIN(HTTP_TIMEOUT_MS, remaining_ms(r)),
                               .if_range = o->etag};
        if (start_fetch(r, FETCH_RANGE, &req, c, count) != 0)
            return;
        r->inflight++;
        r->stats.http_requests++;
        for (uint32_t k = 0; k < count; k++)
            bit_set(r->busy, c + k);
        c += count - 1;
    }
}

/* Marks every missing chunk as wanted over HTTP. */
static void want_all(get_run *r)
{
    for (uint32_t c = 0; c < r->m.n_chunks; c++)
        if (!fb_memstore_has(&r->ms, c))
            bit_set(r->want, c);
}

static void deadline_cb(uv_timer_t *t);

static void step(get_run *r)
{
    if (r->finished || r->st != ST_SWARM)
        return;
    uint64_t t = now_ms(r);
    if (r->complete) {
        if (!r->written) {
            r->written = true;
            int code = write_outputs(r, r->ms.page);
            if (code) {
                finish(r, code, "%s", r->err);
                return;
            }
            if (r->o.linger_ms)
                info(r, "complete; seeding for %.1f s", r->o.linger_ms / 1000.0);
            /* Lingering (and leaving) gets its own bound, after the download's. */
            uv_timer_start(&r->deadline, deadline_cb, (uint64_t)r->o.linger_ms + LEAVE_GRACE_MS, 0);
            if (r->host == NULL)
                r->left = true;
        }
        if (r->left)
            finish(r, EXIT_OK, "%s", "");
        return;
    }
    /* Host-side fallback policy (docs/PEER.md). */
    if (!r->all_http && r->joined && t - r->join_ms >= UDP_SILENCE_MS) {
        fb_udp_stats us;
        fb_engine_host_udp_stats(r->host, &us);
        if (us.dgrams_in == 0) {
            char a[FB_ADDR_STRLEN];
            info(r,
                 "no answer over UDP from the seed at %s in %d s: fetching from the origin "
                 "over HTTP",
                 fb_addr_format(&r->seed, a), UDP_SILENCE_MS / 1000);
            r->all_http = true;
        }
    }
    if (!r->all_http && r->host) {
        fb_engine_stats es;
        fb_engine_stats_get(fb_engine_host_engine(r->host), &es);
        if (es.chunks_bad - r->bad_at_progress >= BAD_DATA_CHUNKS) {
            info(r,
                 "%" PRIu64 " bad chunks from the swarm and none good since: fetching from the "
                 "origin over HTTP",
                 es.chunks_bad - r->bad_at_progress);
            r->all_http = true;
        }
    }
    if (!r->all_http && t >= r->o.timeout_ms / 2) {
        info(r, "half of --timeout spent: fetching the rest from the origin over HTTP");
        r->all_http = true;
    }
    if (r->all_http)
        want_all(r);
    if (r->consec_fail >= ORIGIN_DOWN_FAILS && t - r->last_progress_ms >= STALL_MS) {
        finish(r, EXIT_STALLED,
               "stalled: no chunk verified for %u s and the origin is failing (%s); %" PRIu64
               " of %" PRIu64 " bytes verified",
               (unsigned)((t - r->last_progress_ms) / 1000), r->origin_msg, verified_bytes(r),
               r->m.total_size);
        return;
    }
    pump_origin(r);
}

/* ---- timers and shutdown ------------------------------------------------------------------ */

static void deadline_cb(uv_timer_t *t)
{
    get_run *r = t->data;
    if (r->st == ST_SWARM && r->complete && r->written) {
        finish(r, EXIT_OK, "%s", ""); /* lingering is over */
        return;
    }
    if (r->st == ST_MANIFEST || r->st == ST_PLAIN) {
        finish(r, EXIT_UNREACHABLE, "timed out after %.1f s waiting for the origin",
               r->o.timeout_ms / 1000.0);
        return;
    }
    finish(r, EXIT_STALLED, "timed out after %.1f s: %" PRIu64 " of %" PRIu64 " bytes verified%s%s",
           r->o.timeout_ms / 1000.0, verified_bytes(r), r->m.total_size,
           r->origin_msg[0] ? "; last origin error: " : "", r->origin_msg);
}

static void policy_cb(uv_timer_t *t)
{
    step(t->data);
}

static void act_cb(uv_timer_t *t)
{
    step(t->data);
}

/* Stops everything: says goodbye to the swarm, collects the counters, frees the engine and the
 * HTTP client (pending requests are cancelled) and closes the timers. The loop then ends once
 * the closing callbacks ran. */
static void shutdown_run(get_run *r)
{
    r->st = ST_DONE;
    if (r->host && !r->left && r->swarm >= 0 && r->ms_ready && r->m.n_chunks) {
        fb_engine_swarm_leave(fb_engine_host_engine(r->host), r->swarm, fb_engine_host_now());
        fb_engine_host_kick(r->host);
    }
    swarm_stop(r);
    fb_http_client_free(r->http);
    r->http = NULL;
    uv_timer_stop(&r->deadline);
    uv_timer_stop(&r->policy);
    uv_timer_stop(&r->act);
    uv_close((uv_handle_t *)&r->deadline, NULL);
    uv_close((uv_handle_t *)&r->policy, NULL);
    uv_close((uv_handle_t *)&r->act, NULL);
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
            "  3  origin unreachable (connection refused, timed out, name not resolved)\n"
            "  4  the origin answered an HTTP error status (404, 500...)\n"
            "  5  the manifest does not parse\n"
            "  6  stalled: the swarm stopped delivering and the origin is down or failing, or\n"
            "     --timeout passed\n"
            "  7  the origin's bytes do not match its manifest, even after fetching it again\n"
            "  8  an output could not be written (or a path was unsafe to write)\n"
            "  9  the page or its manifest is over a cap (--max-size)\n");
}

/* Parses seconds (decimal, fraction allowed) into milliseconds in [min_ms, 86400000]. */
static bool parse_seconds(const char *s, uint32_t min_ms, uint32_t *out)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !(v >= 0) || v > 86400)
        return false;
    uint64_t ms = (uint64_t)(v * 1000 + 0.5);
    if (ms < min_ms)
        return false;
    *out = (uint32_t)ms;
    return true;
}

static bool parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    uint64_t mult = 1;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    if (*end == 'K' || *end == 'k')
        mult = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mult = 1024 * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        mult = 1024ull * 1024 * 1024, end++;
    if (*end != '\0' || v == 0 || v > ((uint64_t)1 << 40) / mult)
        return false;
    *out = v * mult;
    return true;
}

/* Returns -1 to go on, or an exit code (0 after --help). */
static int parse_args(int argc, char **argv, get_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->timeout_ms = 120000;
    o->max_size = 256ull << 20;
    o->origin_conns = 4;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL, *eqv = NULL;
        char name[32];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (o->url) {
                fprintf(stderr, "flashback get: one URL only (got '%s' and '%s')\n", o->url, a);
                return EXIT_USAGE;
            }
            o->url = a;
            continue;
        }
        /* --name=value or --name value. */
        snprintf(name, sizeof(name), "%s", a);
        if (strncmp(a, "--", 2) == 0 && (eqv = strchr(a, '=')) != NULL) {
            size_t n = (size_t)(eqv - a);
            if (n >= sizeof(name))
                n = sizeof(name) - 1;
            memcpy(name, a, n);
            name[n] = '\0';
            eqv++;
        }
        bool flag = strcmp(name, "--stats") == 0 || strcmp(name, "--quiet") == 0 ||
                    strcmp(name, "-q") == 0 || strcmp(name, "--no-swarm") == 0;
        if (flag) {
            if (eqv) {
                fprintf(stderr, "flashback get: %s takes no value\n", name);
                return EXIT_USAGE;
            }
            if (strcmp(name, "--stats") == 0)
                o->stats = true;
            else if (strcmp(name, "--no-swarm") == 0)
                o->no_swarm = true;
            else
                o->quiet = true;
            continue;
        }
        static const char *const valued[] = {"-o",        "--output",   "--all",  "--linger",
                                             "--timeout", "--max-size", "--bind", "--origin-conns"};
        bool known = false;
        for (size_t k = 0; k < FB_ARRAY_LEN(valued); k++)
            known = known || strcmp(name, valued[k]) == 0;
        if (!known) {
            fprintf(stderr, "flashback get: unknown option '%s' (try --help)\n", a);
            return EXIT_USAGE;
        }
        if (eqv) {
            v = eqv;
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            fprintf(stderr, "flashback get: %s needs a value\n", name);
            return EXIT_USAGE;
        }
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
            if (!parse_seconds(v, 0, &o->linger_ms)) {
                fprintf(stderr, "flashback get: --linger: not a number of seconds: '%s'\n", v);
                return EXIT_USAGE;
            }
        } else if (strcmp(name, "--timeout") == 0) {
            if (!parse_seconds(v, 1, &o->timeout_ms)) {
                fprintf(stderr,
                        "flashback get: --timeout: not a positive number of seconds: '%s'\n", v);
                return EXIT_USAGE;
            }
        } else if (strcmp(name, "--max-size") == 0) {
            if (!parse_size(v, &o->max_size)) {
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
            char *end;
            long n = strtol(v, &end, 10);
            if (end == v || *end || n < 1 || n > 64) {
                fprintf(stderr, "flashback get: --origin-conns: not in 1-64: '%s'\n", v);
                return EXIT_USAGE;
            }
            o->origin_conns = (uint32_t)n;
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
    signal(SIGPIPE, SIG_IGN); /* a closed stdout is a write error, not a death */
    r = calloc(1, sizeof(*r));
    if (r == NULL || uv_loop_init(&loop) != 0) {
        fprintf(stderr, "flashback get: out of memory\n");
        free(r);
        return EXIT_INTERNAL;
    }
    r->o = o;
    r->loop = &loop;
    r->t0 = uv_hrtime();
    r->swarm = -1;
    r->st = ST_MANIFEST;
    fb_get_stats_init(&r->stats);
    r->stats.url = o.url;
    uv_timer_init(&loop, &r->deadline);
    uv_timer_init(&loop, &r->policy);
    uv_timer_init(&loop, &r->act);
    r->deadline.data = r->policy.data = r->act.data = r;
    uv_timer_start(&r->deadline, deadline_cb, o.timeout_ms, 0);
    uv_timer_start(&r->policy, policy_cb, POLICY_MS, POLICY_MS);

    fb_http_config hc = {.max_requests = 64,
                         .max_connections = o.origin_conns + 2,
                         .max_host_connections = o.origin_conns + 1};
    if (fb_http_client_new(&loop, &hc, &r->http) != 0)
        finish(r, EXIT_INTERNAL, "cannot start the HTTP client");
    else if (fb_url_manifest(o.url, r->murl, sizeof(r->murl)) < 0)
        finish(r, EXIT_USAGE, "the URL is too long");
    else if (fetch_manifest(r) != 0)
        finish(r, EXIT_INTERNAL, "cannot start the HTTP request");

    uv_run(&loop, UV_RUN_DEFAULT);
    /* Everything is closed; a last pass releases what closed in the final iteration. */
    uv_run(&loop, UV_RUN_NOWAIT);
    if (uv_loop_close(&loop) != 0)
        fprintf(stderr, "flashback get: warning: handles left open at exit\n");

    code = r->exit_code;
    r->stats.exit_code = code;
    r->stats.error = r->err;
    r->stats.ms_total = (int64_t)now_ms(r);
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
    free_objs(r);
    free(r->mbuf);
    free(r);
    return code;
}
