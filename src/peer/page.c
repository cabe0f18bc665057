/* One page through its swarm (peer/page.h, docs/PEER.md): the manifest fetch over HTTP, the
 * engine (peer role) on a UDP socket, the HTTP range fetches that back the swarm up, and the
 * host's fallback policy. Engine events only note what happened; `step`, run from a zero-delay
 * timer after each event and every 200 ms, acts on it and reports to the owner. */
#include "peer/page.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/manifest.h"
#include "net/engine_host.h"
#include "peer/cmdrun.h"
#include "peer/urlmap.h"

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

/* One object of the manifest, as the page needs it. */
typedef struct page_obj {
    char *url;            /* the object's absolute URL */
    char *path;           /* the manifest path (NUL-terminated copy) */
    char *type;           /* content type as listed, "" when none */
    char *etag;           /* entity tag as listed, "" when none */
    const char *if_range; /* etag when strong (usable in If-Range), else NULL */
    uint64_t size, page_off;
    uint32_t first_chunk, n_chunks;
    bool done; /* every chunk verified (engine's OBJECT_COMPLETE, or empty) */
    bool told; /* the owner got FB_PAGE_EV_OBJECT for it */
} page_obj;

typedef enum page_state { ST_MANIFEST, ST_SWARM, ST_DONE } page_state;

/* An HTTP request in flight, for the page. */
typedef struct page_fetch {
    fb_page *p;
    int kind;              /* FETCH_MANIFEST or FETCH_RANGE */
    uint32_t first, count; /* chunks of a range fetch */
    uint32_t generation;   /* the swarm it was made for (a restart makes a new one) */
    fb_http_req *req;
    struct page_fetch *prev, *next; /* the page's list of requests in flight */
} page_fetch;

enum { FETCH_MANIFEST = 1, FETCH_RANGE };

struct fb_page {
    fb_page_config cfg; /* url, bind and name point at our copies below */
    char *url, *bind, *name;
    uv_loop_t *loop;
    uv_timer_t deadline, policy, act;
    int open_timers; /* timers not yet closed (the memory goes with the last) */
    uint64_t t0;     /* uv_hrtime at the start */
    page_state st;
    int code; /* -1 until DONE */
    bool finished, done_told, freed;
    char origin_msg[512]; /* the last HTTP failure, for the final message */
    page_fetch *fetches;  /* requests in flight */

    /* The manifest. */
    char murl[FB_URL_MAX + 1];
    uint8_t *mbuf;
    size_t mlen;
    fb_manifest m;
    page_obj *objs;
    uint32_t n_objs;
    bool have_seed;
    fb_addr seed;
    bool have_token; /* the seed's address token, from the manifest's Flashback-Token */
    uint8_t token[16];
    bool rechecking; /* fetching the manifest again after a mismatch */
    bool rechecked;  /* ... done once: the next mismatch is fatal */
    int recheck_code;
    char recheck_msg[512];
    bool tell_manifest; /* the owner is to get FB_PAGE_EV_MANIFEST */

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
    bool complete, complete_told, left;
    bool reusing; /* in fb_page_reuse: verified chunks are our own copies, not the origin's */
    uint64_t bad_at_progress; /* the engine's chunks_bad when the last chunk verified */

    fb_get_stats stats;
    char err[512];
};

/* ---- small helpers ------------------------------------------------------------------------ */

static void shutdown_page(fb_page *p);
static void act_cb(uv_timer_t *t);

/* Asks for `step` to run from the loop soon (engine events may not act themselves). */
static void kick(fb_page *p)
{
    if (!p->freed)
        uv_timer_start(&p->act, act_cb, 0, 0);
}

/* Ends the page with `code` and a one-line message (the first call wins); DONE follows. */
static void finish(fb_page *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish(fb_page *p, int code, const char *fmt, ...)
{
    va_list ap;
    char msg[sizeof(p->err)];
    if (p->finished)
        return;
    p->finished = true;
    p->code = code;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap); /* the arguments may point into p->err */
    va_end(ap);
    memcpy(p->err, msg, sizeof(msg));
    shutdown_page(p);
    kick(p);
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

static uint32_t remaining_ms(const fb_page *p)
{
    uint64_t t = fb_cmdrun_ms(p->t0);
    return t >= p->cfg.timeout_ms ? 1 : (uint32_t)(p->cfg.timeout_ms - t);
}

/* ---- the swarm: setup and teardown ------------------------------------------------------- */

static void free_objs(fb_page *p)
{
    for (uint32_t i = 0; i < p->n_objs; i++) {
        free(p->objs[i].url);
        free(p->objs[i].path);
        free(p->objs[i].type);
        free(p->objs[i].etag);
    }
    free(p->objs);
    p->objs = NULL;
    p->n_objs = 0;
}

/* Adds the counters of the current engine to s. */
static void add_engine_counters(const fb_page *p, fb_get_stats *s)
{
    fb_engine_stats es;
    fb_udp_stats us;
    if (p->host == NULL)
        return;
    fb_engine_stats_get(fb_engine_host_engine(p->host), &es);
    fb_engine_host_udp_stats(p->host, &us);
    s->bytes_seed += es.bytes_in_seed;
    s->bytes_peers += es.bytes_in_peer;
    s->bytes_uploaded += es.bytes_out_data;
    s->chunks_bad += es.chunks_bad;
    s->bans = FB_MAX(s->bans, es.bans);
    s->udp_bytes_in += us.bytes_in;
    s->udp_bytes_out += us.bytes_out;
    s->udp_dgrams_in += us.dgrams_in;
    s->udp_dgrams_out += us.dgrams_out;
    s->udp_send_calls += us.send_calls;
    s->udp_gso_dgrams += us.gso_datagrams;
    fb_engine_host_stats hs;
    fb_engine_host_stats_get(p->host, &hs);
    s->engine_ticks += hs.ticks;
    s->udp_dropped += es.dropped_invalid + es.dropped_unknown + es.dropped_cap + us.drop_oversize +
                      us.drop_malformed;
}

/* Adds the counters of the current engine to the page's totals, then frees the engine, the
 * store and the bitmaps (in-flight range fetches become stale by the generation number). */
static void swarm_stop(fb_page *p)
{
    if (p->host) {
        add_engine_counters(p, &p->stats);
        fb_engine_host_free(p->host);
        p->host = NULL;
    }
    if (p->ms_ready)
        fb_memstore_fini(&p->ms);
    p->ms_ready = false;
    free(p->want);
    free(p->busy);
    p->want = p->busy = NULL;
    p->generation++;
    p->inflight = 0;
}

static void on_engine_event(void *ctx, const fb_event *ev);

/* Reads the objects of the parsed manifest into p->objs. Returns 0 or a code. */
static int load_objects(fb_page *p)
{
    fb_manifest_iter it = {0};
    fb_manifest_object o;
    uint64_t off = 0;
    p->objs = calloc(p->m.n_objects, sizeof(*p->objs));
    if (p->objs == NULL)
        return FB_PAGE_INTERNAL;
    while (p->n_objs < p->m.n_objects && fb_manifest_next(&p->m, &it, &o)) {
        page_obj *g = &p->objs[p->n_objs++];
        char url[FB_URL_MAX + 1];
        if (fb_url_object(p->url, o.path, o.path_len, url, sizeof(url)) < 0) {
            snprintf(p->err, sizeof(p->err), "manifest: object path '%.*s' makes no URL",
                     (int)FB_MIN(o.path_len, 200), o.path);
            return FB_PAGE_MANIFEST;
        }
        g->url = strdup(url);
        g->path = strndup(o.path, o.path_len);
        g->type = strndup(o.type ? o.type : "", o.type ? o.type_len : 0);
        g->etag = strndup(o.etag ? o.etag : "", o.etag ? o.etag_len : 0);
        if (g->url == NULL || g->path == NULL || g->type == NULL || g->etag == NULL)
            return FB_PAGE_INTERNAL;
        /* If-Range needs a strong validator (RFC 9110, 13.1.5). */
        if (o.etag_len >= 2 && o.etag[0] == '"')
            g->if_range = g->etag;
        g->size = o.size;
        g->page_off = off;
        g->first_chunk = o.first_chunk;
        g->n_chunks = o.n_chunks;
        g->done = o.n_chunks == 0; /* an empty object is complete from the start */
        off += o.size;
    }
    return p->n_objs == p->m.n_objects ? 0 : FB_PAGE_MANIFEST;
}

/* Starts the swarm for the manifest in p->mbuf (parsed into p->m). Returns 0 or a code (p->err
 * set). */
static int swarm_start(fb_page *p)
{
    int rc;
    p->complete = p->complete_told = p->left = false;
    p->bad_at_progress = 0;
    p->all_http = p->cfg.no_swarm || !p->have_seed;
    p->joined = false;
    p->consec_fail = 0;
    p->backoff_ms = BACKOFF_MIN_MS;
    p->retry_at_ms = 0;
    rc = load_objects(p);
    if (rc)
        return rc;
    p->stats.objects = p->m.n_objects;
    p->stats.chunks = p->m.n_chunks;
    p->stats.bytes_total = p->m.total_size;
    rc = fb_memstore_init_manifest(&p->ms, &p->m, p->cfg.max_size);
    if (rc) {
        snprintf(p->err, sizeof(p->err), "the page (%" PRIu64 " bytes) is over --max-size",
                 p->m.total_size);
        return rc == FB_E2BIG ? FB_PAGE_TOO_BIG : FB_PAGE_INTERNAL;
    }
    p->ms_ready = true;
    p->n_words = (p->m.n_chunks + 63) / 64;
    p->want = calloc(p->n_words ? p->n_words : 1, sizeof(uint64_t));
    p->busy = calloc(p->n_words ? p->n_words : 1, sizeof(uint64_t));
    if (!p->want || !p->busy)
        return FB_PAGE_INTERNAL;
    p->last_progress_ms = fb_cmdrun_ms(p->t0);
    p->tell_manifest = true;
    if (p->m.n_chunks == 0) {
        p->complete = true; /* only empty objects: nothing to fetch */
        p->stats.ms_complete = (int64_t)fb_cmdrun_ms(p->t0);
        return 0;
    }

    fb_engine_host_config hc = {0};
    hc.engine.role = FB_ROLE_PEER;
    hc.engine.linger_ms = p->cfg.linger_ms;
    hc.engine.max_page_bytes = p->cfg.max_size;
    hc.engine.max_chunks = p->m.n_chunks;
    hc.engine.max_objects = FB_MAX(p->m.n_objects, 1u);
    if (p->bind) {
        if (fb_addr_parse(&hc.bind, p->bind, strlen(p->bind)) != 0) {
            snprintf(p->err, sizeof(p->err), "--bind: not an ADDR:PORT: %s", p->bind);
            return FB_PAGE_USAGE;
        }
    } else if (p->have_seed && p->seed.family == 6) {
        hc.bind.family = 6; /* [::]:0 */
    } else {
        fb_addr_set_v4(&hc.bind, 0, 0);
    }
    hc.store = fb_memstore_as_store(&p->ms);
    hc.on_event = on_engine_event;
    hc.ctx = p;
    hc.find_local_addrs = true;
    rc = fb_engine_host_new(p->loop, &hc, &p->host);
    if (rc) {
        snprintf(p->err, sizeof(p->err), "cannot open the UDP socket: %s", uv_strerror(rc));
        return FB_PAGE_INTERNAL;
    }
    fb_engine *e = fb_engine_host_engine(p->host);
    p->swarm = fb_engine_swarm_add(e, p->mbuf, p->mlen, fb_engine_host_now());
    if (p->swarm < 0) {
        snprintf(p->err, sizeof(p->err), "the engine refused the manifest (%d)", p->swarm);
        return FB_PAGE_MANIFEST;
    }
    p->ms.swarm = p->swarm;
    if (!p->all_http) {
        rc = fb_engine_swarm_join_token(e, p->swarm, &p->seed, p->have_token ? p->token : NULL,
                                        fb_engine_host_now());
        if (rc) {
            char a[FB_ADDR_STRLEN];
            fb_cmdrun_say(p->cfg.quiet, p->name,
                          "cannot join the seed at %s (%d): fetching from the origin over HTTP",
                          fb_addr_format(&p->seed, a), rc);
            p->all_http = true;
        } else {
            p->joined = true;
            p->join_ms = fb_cmdrun_ms(p->t0);
        }
    }
    fb_engine_host_kick(p->host);
    return 0;
}

/* ---- engine events ------------------------------------------------------------------------ */

static void on_engine_event(void *ctx, const fb_event *ev)
{
    fb_page *p = ctx;
    fb_engine_stats es;
    if (p->finished || ev->swarm != p->swarm)
        return;
    switch (ev->type) {
    case FB_EV_CHUNK_VERIFIED:
        if (p->stats.ms_first_byte < 0)
            p->stats.ms_first_byte = (int64_t)fb_cmdrun_ms(p->t0);
        p->last_progress_ms = fb_cmdrun_ms(p->t0);
        fb_engine_stats_get(fb_engine_host_engine(p->host), &es);
        p->bad_at_progress = es.chunks_bad;
        if (ev->chunk < p->m.n_chunks)
            bit_clear(p->want, ev->chunk);
        if (ev->source == FB_SRC_PEER)
            p->stats.chunks_peers++;
        else if (ev->source == FB_SRC_SEED)
            p->stats.chunks_seed++;
        else if (!p->reusing)
            p->stats.chunks_origin++;
        break;
    case FB_EV_OBJECT_COMPLETE:
        if (ev->object < p->n_objs && !p->objs[ev->object].done) {
            p->objs[ev->object].done = true;
            kick(p);
        }
        break;
    case FB_EV_SWARM_COMPLETE:
        p->complete = true;
        p->stats.ms_complete = (int64_t)fb_cmdrun_ms(p->t0);
        kick(p);
        break;
    case FB_EV_NEED_ORIGIN:
        if (ev->chunk < p->m.n_chunks && !fb_memstore_has(&p->ms, ev->chunk)) {
            bit_set(p->want, ev->chunk);
            kick(p);
        }
        break;
    case FB_EV_PEER_ADDED:
        p->stats.neighbours_added++;
        fb_engine_stats_get(fb_engine_host_engine(p->host), &es);
        p->stats.neighbours_max = FB_MAX(p->stats.neighbours_max, es.neighbours);
        break;
    case FB_EV_SWARM_LEFT:
        p->left = true;
        kick(p);
        break;
    default:
        break;
    }
}

/* ---- HTTP --------------------------------------------------------------------------------- */

static void on_http(void *ctx, const fb_http_result *res);

static int start_fetch(fb_page *p, int kind, const fb_http_client_request *req, uint32_t first,
                       uint32_t count)
{
    page_fetch *f = calloc(1, sizeof(*f));
    int rc;
    if (f == NULL)
        return FB_ENOMEM;
    f->p = p;
    f->kind = kind;
    f->first = first;
    f->count = count;
    f->generation = p->generation;
    rc = fb_http_get(p->cfg.http, req, on_http, f, &f->req);
    if (rc) {
        free(f);
        return rc;
    }
    f->next = p->fetches;
    if (p->fetches)
        p->fetches->prev = f;
    p->fetches = f;
    return 0;
}

static void unlink_fetch(fb_page *p, page_fetch *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        p->fetches = f->next;
    if (f->next)
        f->next->prev = f->prev;
}

/* Cancels every request in flight (their callbacks are not called). */
static void cancel_fetches(fb_page *p)
{
    while (p->fetches) {
        page_fetch *f = p->fetches;
        unlink_fetch(p, f);
        fb_http_cancel(f->req);
        free(f);
    }
    p->inflight = 0;
}

static int fetch_manifest(fb_page *p)
{
    fb_http_client_request req = {.url = p->murl,
                                  .max_body = MANIFEST_MAX,
                                  .connect_timeout_ms = FB_MIN(CONNECT_TIMEOUT_MS, remaining_ms(p)),
                                  .timeout_ms = FB_MIN(HTTP_TIMEOUT_MS, remaining_ms(p)),
                                  .capture_header = "Flashback-Seed",
                                  .capture_header2 = "Flashback-Token",
                                  .accept_gzip = true};
    return start_fetch(p, FETCH_MANIFEST, &req, 0, 0);
}

/* The code for a failed manifest fetch. */
static int http_code(const fb_http_result *res)
{
    switch (res->error) {
    case FB_HTTP_ECONNECT:
    case FB_HTTP_ETIMEOUT:
    case FB_HTTP_ETRANSFER:
        return FB_PAGE_UNREACHABLE;
    case FB_HTTP_ESTATUS:
        return FB_PAGE_HTTP;
    case FB_HTTP_ETOOBIG:
        return FB_PAGE_TOO_BIG;
    default:
        return FB_PAGE_INTERNAL;
    }
}

/* A range fetch failed in a way that says the origin's file is not the one the manifest
 * describes (a hash mismatch, a 4xx, a range that does not fit): fetch the manifest again,
 * once. `code` and `msg` are the error to report if that does not help. */
static void origin_mismatch(fb_page *p, int code, const char *msg)
{
    if (p->rechecking)
        return;
    if (p->rechecked) {
        finish(p, code, "%s (the manifest was fetched again already)", msg);
        return;
    }
    p->rechecking = p->rechecked = true;
    p->recheck_code = code;
    snprintf(p->recheck_msg, sizeof(p->recheck_msg), "%s", msg);
    fb_cmdrun_say(p->cfg.quiet, p->name, "%s: fetching the manifest again", msg);
    if (fetch_manifest(p) != 0)
        finish(p, FB_PAGE_INTERNAL, "cannot start the HTTP request");
}

static void transient_failure(fb_page *p, const fb_http_result *res)
{
    p->stats.http_failures++;
    p->consec_fail++;
    p->retry_at_ms = fb_cmdrun_ms(p->t0) + p->backoff_ms;
    p->backoff_ms = FB_MIN(p->backoff_ms * 2, (uint32_t)BACKOFF_MAX_MS);
    snprintf(p->origin_msg, sizeof(p->origin_msg), "%s", res->message);
}

/* The object holding chunk c. */
static const page_obj *obj_of(const fb_page *p, uint32_t c)
{
    uint32_t lo = 0, hi = p->n_objs;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->objs[mid].first_chunk <= c)
            lo = mid;
        else
            hi = mid;
    }
    /* Empty objects share a first_chunk with the next one: step past them. */
    while (lo + 1 < p->n_objs && p->objs[lo].n_chunks == 0)
        lo++;
    return &p->objs[lo];
}

/* Verified bytes so far. */
static uint64_t verified_bytes(const fb_page *p)
{
    uint64_t b = 0;
    if (!p->ms_ready)
        return 0;
    for (uint32_t c = 0; c < p->ms.n_chunks; c++)
        if (fb_memstore_has(&p->ms, c))
            b += p->ms.off[c + 1] - p->ms.off[c];
    return b;
}

static void on_range(fb_page *p, page_fetch *f, const fb_http_result *res)
{
    fb_engine *e = fb_engine_host_engine(p->host);
    p->inflight--;
    for (uint32_t k = 0; k < f->count; k++)
        bit_clear(p->busy, f->first + k);
    if (res->error) {
        bool changed = (res->error == FB_HTTP_ESTATUS && res->status >= 400 && res->status < 500 &&
                        res->status != 408 && res->status != 429) ||
                       res->error == FB_HTTP_ERANGE;
        if (changed) {
            p->stats.http_failures++;
            origin_mismatch(p, res->error == FB_HTTP_ESTATUS ? FB_PAGE_HTTP : FB_PAGE_VERIFY,
                            res->message);
        } else {
            transient_failure(p, res);
        }
        kick(p);
        return;
    }
    p->stats.bytes_origin_http += res->len;
    p->consec_fail = 0;
    p->backoff_ms = BACKOFF_MIN_MS;
    if (p->complete)
        return; /* the swarm was faster; the engine may have left already */
    size_t off = 0;
    for (uint32_t k = 0; k < f->count; k++) {
        uint32_t c = f->first + k;
        size_t len = (size_t)(p->ms.off[c + 1] - p->ms.off[c]);
        if (off + len > res->len)
            break; /* cannot happen: the client checked the range */
        if (fb_memstore_has(&p->ms, c)) {
            off += len; /* the swarm delivered it meanwhile */
            continue;
        }
        int rc = fb_engine_supply(e, p->swarm, c, res->body + off, len, fb_engine_host_now());
        off += len;
        if (p->finished)
            return;
        if (rc == FB_EPROTO || rc == FB_EINVAL) {
            char msg[600];
            const page_obj *o = obj_of(p, c);
            p->stats.chunks_bad++;
            snprintf(msg, sizeof(msg),
                     "GET %.400s: bytes %" PRIu64 "-%" PRIu64 " do not match the manifest", o->url,
                     p->ms.off[c] - o->page_off, p->ms.off[c + 1] - 1 - o->page_off);
            origin_mismatch(p, FB_PAGE_VERIFY, msg);
            break;
        }
        bit_clear(p->want, c);
    }
    if (p->finished || p->host == NULL)
        return;
    fb_engine_host_kick(p->host);
    kick(p);
}

/* The manifest arrived (first fetch, or again after a mismatch). */
static void on_manifest(fb_page *p, const fb_http_result *res)
{
    int rc;
    p->stats.manifest_fetches++;
    if (res->error) {
        if (p->rechecking) {
            finish(p, http_code(res), "%s (while fetching the manifest again after: %s)",
                   res->message, p->recheck_msg);
            return;
        }
        long s = res->status;
        if (res->error == FB_HTTP_ESTATUS &&
            (s == 400 || s == 404 || s == 405 || s == 410 || s == 501 || (s >= 300 && s < 400))) {
            finish(p, FB_PAGE_NO_SERVICE, "HTTP %ld", s);
            return;
        }
        if (res->error == FB_HTTP_ETOOBIG) {
            finish(p, FB_PAGE_TOO_BIG, "the manifest is over its cap of %u bytes", MANIFEST_MAX);
            return;
        }
        finish(p, http_code(res), "%s", res->message);
        return;
    }
    /* What crossed the origin's link: the gzipped size when the origin compressed it. */
    p->stats.bytes_manifest += res->wire_len >= 0 ? (uint64_t)res->wire_len : res->len;
    bool looks = res->len >= sizeof(FB_MANIFEST_MAGIC) &&
                 memcmp(res->body, FB_MANIFEST_MAGIC "\n", sizeof(FB_MANIFEST_MAGIC)) == 0;
    if (!looks && res->captured == NULL && !p->rechecking) {
        finish(p, FB_PAGE_NO_SERVICE, "the manifest URL does not answer a manifest");
        return;
    }
    if (p->rechecking) {
        p->rechecking = false;
        if (res->len == p->mlen && memcmp(res->body, p->mbuf, p->mlen) == 0) {
            finish(p, p->recheck_code, "%s, and the manifest has not changed", p->recheck_msg);
            return;
        }
        fb_cmdrun_say(p->cfg.quiet, p->name,
                      "the page changed at the origin: starting again with its new manifest");
        swarm_stop(p);
        free_objs(p);
    }
    free(p->mbuf);
    p->mbuf = malloc(res->len ? res->len : 1);
    if (p->mbuf == NULL) {
        finish(p, FB_PAGE_INTERNAL, "out of memory");
        return;
    }
    memcpy(p->mbuf, res->body, res->len);
    p->mlen = res->len;
    fb_manifest_caps caps;
    fb_manifest_caps_default(&caps);
    caps.max_total = p->cfg.max_size;
    rc = fb_manifest_parse(p->mbuf, p->mlen, &caps, &p->m);
    if (rc == FB_E2BIG) {
        finish(p, FB_PAGE_TOO_BIG,
               "the manifest at %s is over a cap (page over --max-size %" PRIu64
               " bytes, or too many objects or chunks)",
               p->murl, p->cfg.max_size);
        return;
    }
    if (rc || p->m.n_objects == 0) {
        finish(p, FB_PAGE_MANIFEST, "the manifest at %s does not parse", p->murl);
        return;
    }
    p->have_seed = false;
    /* A token is only an optimisation: a bad one is dropped, and the seed then asks for an echo. */
    p->have_token =
        res->captured2 && fb_hex_decode(res->captured2, p->token, sizeof(p->token)) == 0;
    if (res->captured) {
        if (fb_url_seed_addr(res->captured, res->primary_ip, &p->seed) == 0)
            p->have_seed = true;
        else
            fb_cmdrun_say(p->cfg.quiet, p->name, "ignoring a bad Flashback-Seed header '%.100s'",
                          res->captured);
    }
    if (p->stats.ms_manifest < 0)
        p->stats.ms_manifest = (int64_t)fb_cmdrun_ms(p->t0);
    p->stats.mode = p->have_seed && !p->cfg.no_swarm ? "swarm" : "origin";
    {
        char a[FB_ADDR_STRLEN];
        fb_cmdrun_say(p->cfg.quiet, p->name,
                      "manifest: %u objects, %" PRIu64 " bytes in %u chunks; %s%s", p->m.n_objects,
                      p->m.total_size, p->m.n_chunks,
                      p->have_seed && !p->cfg.no_swarm ? "seed " : "no swarm: origin only",
                      p->have_seed && !p->cfg.no_swarm ? fb_addr_format(&p->seed, a) : "");
    }
    p->st = ST_SWARM;
    rc = swarm_start(p);
    if (rc) {
        finish(p, rc, "%s", p->err[0] ? p->err : "cannot start the swarm");
        return;
    }
    kick(p);
}

static void on_http(void *ctx, const fb_http_result *res)
{
    page_fetch *f = ctx;
    fb_page *p = f->p;
    unlink_fetch(p, f);
    if (!p->finished && res->error != FB_HTTP_ECANCELED) {
        if (f->kind == FETCH_MANIFEST)
            on_manifest(p, res);
        else if (f->generation == p->generation)
            on_range(p, f, res);
    }
    free(f);
}

/* ---- policy: what to fetch over HTTP, when to give up ------------------------------------- */

/* Starts range fetches for wanted chunks while there is room: each covers a run of up to
 * RANGE_CHUNKS consecutive wanted chunks of one object. */
static void pump_origin(fb_page *p)
{
    uint32_t n = p->m.n_chunks, oi = 0;
    if (p->rechecking || p->host == NULL || fb_cmdrun_ms(p->t0) < p->retry_at_ms)
        return;
    for (uint32_t c = 0; c < n && p->inflight < p->cfg.origin_conns; c++) {
        uint32_t w = c >> 6;
        if ((c & 63) == 0 && (p->want[w] & ~p->busy[w]) == 0) {
            c += 63; /* nothing to start in this word */
            continue;
        }
        if (!bit_get(p->want, c) || bit_get(p->busy, c))
            continue;
        if (fb_memstore_has(&p->ms, c)) {
            bit_clear(p->want, c);
            continue;
        }
        while (oi + 1 < p->n_objs && p->objs[oi].first_chunk + p->objs[oi].n_chunks <= c)
            oi++;
        page_obj *o = &p->objs[oi];
        uint32_t count = 1;
        while (count < RANGE_CHUNKS && c + count < o->first_chunk + o->n_chunks &&
               bit_get(p->want, c + count) && !bit_get(p->busy, c + count) &&
               !fb_memstore_has(&p->ms, c + count))
            count++;
        uint64_t first = p->ms.off[c] - o->page_off;
        uint64_t len = p->ms.off[c + count] - p->ms.off[c];
        fb_http_client_request req = {.url = o->url,
                                      .max_body = (size_t)len,
                                      .range = true,
                                      .range_first = first,
                                      .range_last = first + len - 1,
                                      .connect_timeout_ms =
                                          FB_MIN(CONNECT_TIMEOUT_MS, remaining_ms(p)),
                                      .timeout_ms = FB_MIN(HTTP_TIMEOUT_MS, remaining_ms(p)),
                                      .if_range = o->if_range};
        if (start_fetch(p, FETCH_RANGE, &req, c, count) != 0)
            return;
        p->inflight++;
        p->stats.http_requests++;
        for (uint32_t k = 0; k < count; k++)
            bit_set(p->busy, c + k);
        c += count - 1;
    }
}

/* Marks every missing chunk of [first, first + count) as wanted over HTTP. */
static void want_range(fb_page *p, uint32_t first, uint32_t count)
{
    for (uint32_t c = first; c < first + count && c < p->m.n_chunks; c++)
        if (!fb_memstore_has(&p->ms, c))
            bit_set(p->want, c);
}

static void deadline_cb(uv_timer_t *t);

/* Tells the owner what happened since the last call: the manifest, objects that verified, the
 * whole page. Returns false when the owner ended or freed the page meanwhile. */
static bool report(fb_page *p)
{
    fb_page_cb cb = p->cfg.cb;
    if (p->tell_manifest) {
        p->tell_manifest = false;
        if (cb)
            cb(p->cfg.ctx, p, FB_PAGE_EV_MANIFEST, 0);
        if (p->freed || p->finished)
            return false;
    }
    for (uint32_t i = 0; i < p->n_objs; i++) {
        if (!p->objs[i].done || p->objs[i].told)
            continue;
        p->objs[i].told = true;
        if (cb)
            cb(p->cfg.ctx, p, FB_PAGE_EV_OBJECT, i);
        if (p->freed || p->finished)
            return false;
    }
    if (p->complete && !p->complete_told) {
        p->complete_told = true;
        if (cb)
            cb(p->cfg.ctx, p, FB_PAGE_EV_COMPLETE, 0);
        if (p->freed || p->finished)
            return false;
        if (p->cfg.linger_ms == FB_LINGER_FOREVER) {
            uv_timer_stop(&p->deadline); /* seeding until the owner frees the page */
        } else {
            if (p->cfg.linger_ms)
                fb_cmdrun_say(p->cfg.quiet, p->name, "complete; seeding for %.1f s",
                              p->cfg.linger_ms / 1000.0);
            /* Lingering (and leaving) gets its own bound, after the download's. */
            uv_timer_start(&p->deadline, deadline_cb, (uint64_t)p->cfg.linger_ms + LEAVE_GRACE_MS,
                           0);
        }
        if (p->host == NULL)
            p->left = true;
    }
    return true;
}

static void step(fb_page *p)
{
    if (p->freed)
        return;
    if (p->finished) {
        if (!p->done_told) {
            p->done_told = true;
            if (p->cfg.cb)
                p->cfg.cb(p->cfg.ctx, p, FB_PAGE_EV_DONE, 0);
        }
        return;
    }
    if (p->st != ST_SWARM)
        return;
    if (!report(p))
        return;
    uint64_t t = fb_cmdrun_ms(p->t0);
    if (p->complete) {
        if (p->left)
            finish(p, FB_PAGE_OK, "%s", "");
        return;
    }
    /* Host-side fallback policy (docs/PEER.md). */
    if (!p->all_http && p->joined && t - p->join_ms >= UDP_SILENCE_MS) {
        fb_udp_stats us;
        fb_engine_host_udp_stats(p->host, &us);
        if (us.dgrams_in == 0) {
            char a[FB_ADDR_STRLEN];
            fb_cmdrun_say(
                p->cfg.quiet, p->name,
                "no answer over UDP from the seed at %s in %d s: fetching from the origin "
                "over HTTP",
                fb_addr_format(&p->seed, a), UDP_SILENCE_MS / 1000);
            p->all_http = true;
        }
    }
    if (!p->all_http && p->host) {
        fb_engine_stats es;
        fb_engine_stats_get(fb_engine_host_engine(p->host), &es);
        if (es.chunks_bad - p->bad_at_progress >= BAD_DATA_CHUNKS) {
            fb_cmdrun_say(p->cfg.quiet, p->name,
                          "%" PRIu64
                          " bad chunks from the swarm and none good since: fetching from the "
                          "origin over HTTP",
                          es.chunks_bad - p->bad_at_progress);
            p->all_http = true;
        }
    }
    if (!p->all_http && t >= p->cfg.timeout_ms / 2) {
        fb_cmdrun_say(p->cfg.quiet, p->name,
                      "half of --timeout spent: fetching the rest from the origin over HTTP");
        p->all_http = true;
    }
    if (p->all_http)
        want_range(p, 0, p->m.n_chunks);
    if (p->consec_fail >= ORIGIN_DOWN_FAILS && t - p->last_progress_ms >= STALL_MS) {
        finish(p, FB_PAGE_STALLED,
               "stalled: no chunk verified for %u s and the origin is failing (%s); %" PRIu64
               " of %" PRIu64 " bytes verified",
               (unsigned)((t - p->last_progress_ms) / 1000), p->origin_msg, verified_bytes(p),
               p->m.total_size);
        return;
    }
    pump_origin(p);
}

/* ---- timers and shutdown ------------------------------------------------------------------ */

static void deadline_cb(uv_timer_t *t)
{
    fb_page *p = t->data;
    if (p->st == ST_SWARM && p->complete) {
        finish(p, FB_PAGE_OK, "%s", ""); /* lingering is over */
        return;
    }
    if (p->st == ST_MANIFEST) {
        finish(p, FB_PAGE_UNREACHABLE, "timed out after %.1f s waiting for the origin",
               p->cfg.timeout_ms / 1000.0);
        return;
    }
    finish(p, FB_PAGE_STALLED,
           "timed out after %.1f s: %" PRIu64 " of %" PRIu64 " bytes verified%s%s",
           p->cfg.timeout_ms / 1000.0, verified_bytes(p), p->m.total_size,
           p->origin_msg[0] ? "; last origin error: " : "", p->origin_msg);
}

static void policy_cb(uv_timer_t *t)
{
    step(t->data);
}

static void act_cb(uv_timer_t *t)
{
    step(t->data);
}

/* Stops the work: says goodbye to the swarm, collects the counters, frees the engine and
 * cancels the HTTP requests. The timers stay (DONE is reported from `act`). */
static void shutdown_page(fb_page *p)
{
    p->st = ST_DONE;
    if (p->host && !p->left && p->swarm >= 0 && p->ms_ready && p->m.n_chunks) {
        fb_engine_swarm_leave(fb_engine_host_engine(p->host), p->swarm, fb_engine_host_now());
        fb_engine_host_kick(p->host);
    }
    swarm_stop(p);
    cancel_fetches(p);
    uv_timer_stop(&p->deadline);
    uv_timer_stop(&p->policy);
}

/* ---- the interface ------------------------------------------------------------------------ */

int fb_page_new(uv_loop_t *loop, const fb_page_config *cfg, fb_page **out)
{
    fb_page *p;
    fb_url u;
    if (cfg->url == NULL || cfg->http == NULL || fb_url_split(cfg->url, &u) != 0 ||
        cfg->origin_conns == 0 || cfg->timeout_ms == 0 || cfg->max_size == 0)
        return FB_EINVAL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return FB_ENOMEM;
    p->cfg = *cfg;
    p->url = strdup(cfg->url);
    p->name = strdup(cfg->name ? cfg->name : "flashback");
    p->bind = cfg->bind ? strdup(cfg->bind) : NULL;
    if (p->url == NULL || p->name == NULL || (cfg->bind && p->bind == NULL) ||
        fb_url_manifest(p->url, p->murl, sizeof(p->murl)) < 0) {
        int rc = p->url && p->name && (!cfg->bind || p->bind) ? FB_EINVAL : FB_ENOMEM;
        free(p->url);
        free(p->name);
        free(p->bind);
        free(p);
        return rc;
    }
    p->cfg.url = p->url;
    p->cfg.name = p->name;
    p->cfg.bind = p->bind;
    p->loop = loop;
    p->t0 = uv_hrtime();
    p->swarm = -1;
    p->code = -1;
    p->st = ST_MANIFEST;
    fb_get_stats_init(&p->stats);
    p->stats.url = p->url;
    uv_timer_init(loop, &p->deadline);
    uv_timer_init(loop, &p->policy);
    uv_timer_init(loop, &p->act);
    p->open_timers = 3;
    p->deadline.data = p->policy.data = p->act.data = p;
    uv_timer_start(&p->deadline, deadline_cb, cfg->timeout_ms, 0);
    uv_timer_start(&p->policy, policy_cb, POLICY_MS, POLICY_MS);
    if (fetch_manifest(p) != 0)
        finish(p, FB_PAGE_INTERNAL, "cannot start the HTTP request");
    *out = p;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    fb_page *p = h->data;
    if (--p->open_timers > 0)
        return;
    free_objs(p);
    free(p->mbuf);
    free(p->url);
    free(p->name);
    free(p->bind);
    free(p);
}

void fb_page_free(fb_page *p)
{
    if (p == NULL || p->freed)
        return;
    if (!p->finished) {
        p->finished = true;
        p->code = FB_PAGE_OK;
        shutdown_page(p);
    }
    p->freed = true;
    uv_close((uv_handle_t *)&p->deadline, on_timer_closed);
    uv_close((uv_handle_t *)&p->policy, on_timer_closed);
    uv_close((uv_handle_t *)&p->act, on_timer_closed);
}

void fb_page_fail(fb_page *p, int code, const char *msg)
{
    finish(p, code, "%s", msg);
}

int fb_page_code(const fb_page *p)
{
    return p->finished ? p->code : -1;
}

const char *fb_page_message(const fb_page *p)
{
    return p->err;
}

void fb_page_stats(const fb_page *p, fb_get_stats *out)
{
    *out = p->stats;
    add_engine_counters(p, out);
}

const char *fb_page_url(const fb_page *p)
{
    return p->url;
}

uint32_t fb_page_n_objects(const fb_page *p)
{
    return p->n_objs;
}

/* True when object o's bytes are all held (verified) in the store. */
static bool obj_ready(const fb_page *p, const page_obj *o)
{
    if (o->size == 0)
        return true;
    return p->ms_ready && fb_memstore_range_complete(&p->ms, o->page_off, o->size);
}

int fb_page_object_get(const fb_page *p, uint32_t i, fb_page_object *out)
{
    if (i >= p->n_objs)
        return FB_ENOENT;
    const page_obj *o = &p->objs[i];
    out->path = o->path;
    out->type = o->type;
    out->etag = o->etag;
    out->size = o->size;
    out->ready = obj_ready(p, o);
    out->data = out->ready ? (o->size ? p->ms.page + o->page_off : (const uint8_t *)"") : NULL;
    return 0;
}

int fb_page_find(const fb_page *p, const char *path, size_t len)
{
    for (uint32_t i = 0; i < p->n_objs; i++)
        if (strlen(p->objs[i].path) == len && memcmp(p->objs[i].path, path, len) == 0)
            return (int)i;
    return -1;
}

bool fb_page_complete(const fb_page *p)
{
    return p->st == ST_SWARM && p->complete;
}

void fb_page_hurry(fb_page *p, uint32_t i)
{
    if (p->finished || p->st != ST_SWARM || i >= p->n_objs || p->want == NULL ||
        obj_ready(p, &p->objs[i]))
        return;
    want_range(p, p->objs[i].first_chunk, p->objs[i].n_chunks);
    kick(p);
}

void fb_page_focus(fb_page *p, uint32_t i)
{
    if (p->finished || p->st != ST_SWARM || p->host == NULL || (i != FB_NO_FOCUS && i >= p->n_objs))
        return;
    if (fb_engine_swarm_focus(fb_engine_host_engine(p->host), p->swarm, i) == 0)
        fb_engine_host_kick(p->host);
}

uint64_t fb_page_reuse(fb_page *p, uint32_t i, const uint8_t *data, uint64_t size)
{
    uint64_t taken = 0;
    if (p->finished || p->st != ST_SWARM || p->host == NULL || i >= p->n_objs ||
        size != p->objs[i].size || p->complete)
        return 0;
    const page_obj *o = &p->objs[i];
    fb_engine *e = fb_engine_host_engine(p->host);
    p->reusing = true;
    for (uint32_t c = o->first_chunk; c < o->first_chunk + o->n_chunks; c++) {
        if (fb_memstore_has(&p->ms, c))
            continue;
        uint64_t off = p->ms.off[c] - o->page_off, len = p->ms.off[c + 1] - p->ms.off[c];
        if (fb_engine_supply(e, p->swarm, c, data + off, (size_t)len, fb_engine_host_now()) != 0)
            break; /* another version: the swarm will deliver this one */
        bit_clear(p->want, c);
        taken += len;
        if (p->finished)
            break;
    }
    p->reusing = false;
    if (taken && !p->finished) {
        fb_engine_host_kick(p->host);
        kick(p);
    }
    return taken;
}
