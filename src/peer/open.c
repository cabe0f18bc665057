/* `flashback open URL`: the visitor's local site server, the Pygmy of the original system
 * (docs/PEER.md). A browser pointed at it gets the site's same-origin paths through the swarm:
 * a page-like request starts a page (peer/page: manifest, swarm, range fallback) and each of its
 * objects is answered once every byte of it has verified; a path outside every manifest is
 * fetched from the origin like a proxy. It owns the local HTTP server (deferred answers), the
 * pages it joined (a bounded set, least recently used retired first, seeding until then), the
 * browser's requests waiting on them, the proxy fetches, and the counters. One libuv loop. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/http_cond.h"
#include "core/manifest.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "peer/cliargs.h"
#include "peer/cmdrun.h"
#include "peer/commands.h"
#include "peer/openstats.h"
#include "peer/page.h"
#include "peer/urlmap.h"

#define MAX_WAITERS     4096 /* browser requests waiting at once; past it: 503 */
#define INM_MAX         1024 /* If-None-Match bytes kept for a waiting request */
#define RANGE_MAX       256  /* Range and If-Range bytes kept (longer: answered whole) */
#define HURRY_PERIOD_MS 100  /* how often waiting requests are checked against --patience */
#define STOP_GRACE_MS   1000 /* answers in flight get this long at exit */
#define STATS_MAX       4096
#define NAME            "flashback open" /* the prefix of its lines on stderr */

enum { EXIT_OK = 0, EXIT_INTERNAL = 1, EXIT_USAGE = 2 };

typedef struct open_opts {
    const char *url;
    const char *listen;
    bool quiet, stats, no_swarm;
    uint32_t max_pages;
    uint64_t max_size;
    uint32_t timeout_ms;
    uint32_t patience_ms;
    uint32_t origin_conns;
} open_opts;

typedef struct open_app open_app;

/* A page the server joined. */
typedef struct slot {
    open_app *a;
    fb_page *page;   /* NULL: the slot is free */
    char *path;      /* the page path it was started for ("/", "/about.html") */
    bool known;      /* its manifest arrived: its objects are listed */
    uint64_t used;   /* last time a request touched it (ms), for retiring the oldest */
    uint64_t serial; /* creation order */
} slot;

typedef enum wstate {
    W_NEW,    /* being routed by the handler */
    W_OBJECT, /* waiting for object `obj` of slot `s` to verify (obj -1: its manifest) */
    W_LOOKUP, /* waiting for the manifests being fetched, to know where the path belongs */
    W_PROXY,  /* waiting for the origin's answer */
} wstate;

/* One request from the browser, from the handler until its answer. */
typedef struct waiter {
    struct waiter *prev, *next; /* in the app's list once deferred */
    open_app *a;
    fb_http_exchange *x; /* the exchange (deferred once it waits) */
    bool deferred;
    wstate st;
    bool mark; /* scratch for walks that may free waiters */
    bool head, page_like, hurried;
    slot *s;
    int obj;
    fb_http_req *req; /* W_PROXY */
    uint64_t since;   /* ms */
    size_t path_len;  /* bytes of target before '?' */
    char *inm;        /* If-None-Match value, or NULL */
    char *range;      /* Range value (GET only), or NULL */
    char *if_range;   /* If-Range value, or NULL */
    char target[];    /* the request target, NUL-terminated */
} waiter;

struct open_app {
    open_opts o;
    uv_loop_t *loop;
    fb_http_client *http;
    fb_http_server *srv;
    uv_signal_t sigint, sigterm;
    uv_timer_t hurry;
    uint64_t t0;
    char origin[FB_URL_MAX + 1]; /* "scheme://authority" */
    char local[FB_URL_MAX + 80]; /* the URL the browser is given */
    slot *slots;
    uint64_t serial;
    waiter *waiters;
    uint32_t n_waiters;
    bool no_service; /* the origin serves no manifests at all: proxy everything */
    bool stopping;
    fb_open_stats st;
    fb_get_stats retired; /* swarm counters of pages already freed */
};

/* ---- waiters ------------------------------------------------------------------------------ */

static void waiter_unlink(waiter *w)
{
    open_app *a = w->a;
    if (!w->deferred)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        a->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    a->n_waiters--;
}

static void waiter_free(waiter *w)
{
    waiter_unlink(w);
    free(w->inm);
    free(w->range);
    free(w->if_range);
    free(w);
}

static void on_cancel(void *arg, fb_http_exchange *x)
{
    waiter *w = arg;
    (void)x;
    if (w->st == W_PROXY && w->req)
        fb_http_cancel(w->req);
    waiter_free(w);
}

/* Makes w wait (defers its exchange if it is not yet). Returns false when it cannot wait (too
 * many waiters, out of memory): w was answered 503 and freed. */
static bool waiter_wait(waiter *w, wstate st)
{
    open_app *a = w->a;
    if (!w->deferred) {
        fb_http_exchange *d = a->n_waiters < MAX_WAITERS ? fb_http_defer(w->x, on_cancel, w) : NULL;
        if (d == NULL) {
            a->st.errors++;
            fb_http_reply_status(w->x, 503, "Retry-After: 1\r\n", false);
            free(w->inm);
            free(w);
            return false;
        }
        w->x = d;
        w->deferred = true;
        w->next = a->waiters;
        if (a->waiters)
            a->waiters->prev = w;
        a->waiters = w;
        a->n_waiters++;
    }
    w->st = st;
    return true;
}

/* Answers with a status of our own and frees w. */
static void answer_status(waiter *w, int status, const char *headers)
{
    open_app *a = w->a;
    if (status >= 400)
        a->st.errors++;
    fb_http_reply_status(w->x, status, headers, false);
    waiter_free(w);
}

/* True when the request's If-None-Match matches etag (weak comparison). */
static bool inm_match(const waiter *w, const char *etag)
{
    size_t n = strlen(etag);
    if (w->inm == NULL || n == 0)
        return false;
    if (n > 2 && etag[0] == 'W' && etag[1] == '/')
        etag += 2, n -= 2; /* weak comparison ignores W/ */
    return fb_http_etag_match(w->inm, strlen(w->inm), etag, n, true);
}

/* The part of a 200 body that w's Range asks for: true with [*first, *last] for a 206, false
 * for the whole body (no Range, several ranges, an If-Range that does not name this version,
 * which must be a strong ETag equal to etag: a date cannot be checked here). Sets *unsat for
 * a Range that no byte satisfies (416). */
static bool wanted_range(const waiter *w, const char *etag, uint64_t len, uint64_t *first,
                         uint64_t *last, bool *unsat)
{
    *unsat = false;
    if (w->range == NULL || w->head)
        return false;
    if (w->if_range && (etag == NULL || etag[0] != '"' || strcmp(w->if_range, etag) != 0))
        return false;
    fb_range_result rr = fb_http_range_parse(w->range, strlen(w->range), len, first, last);
    *unsat = rr == FB_RANGE_UNSATISFIABLE;
    return rr == FB_RANGE_ONE;
}

/* Answers with a body (or 304 when the browser holds that version, or the part a Range asks
 * for) and frees w. */
static void answer_body(waiter *w, int status, const char *type, const char *etag,
                        const uint8_t *body, uint64_t len, const char *source)
{
    open_app *a = w->a;
    char hdr[1024], cr[96];
    int n;
    bool nm = status == 200 && etag && inm_match(w, etag);
    uint64_t first = 0, last = 0;
    bool unsat = false,
         part = status == 200 && !nm && wanted_range(w, etag, len, &first, &last, &unsat);
    if (unsat) {
        snprintf(cr, sizeof(cr), "Content-Range: bytes */%llu\r\n", (unsigned long long)len);
        answer_status(w, 416, cr);
        return;
    }
    cr[0] = '\0';
    if (part)
        snprintf(cr, sizeof(cr), "Content-Range: bytes %llu-%llu/%llu\r\n",
                 (unsigned long long)first, (unsigned long long)last, (unsigned long long)len);
    n = snprintf(hdr, sizeof(hdr),
                 "%s%s%s%s%s%s%s%sCache-Control: no-cache\r\nFlashback-Source: %s\r\n",
                 type && *type && !nm ? "Content-Type: " : "", type && *type && !nm ? type : "",
                 type && *type && !nm ? "\r\n" : "", etag && *etag ? "ETag: " : "",
                 etag && *etag ? etag : "", etag && *etag ? "\r\n" : "",
                 status == 200 && !nm ? "Accept-Ranges: bytes\r\n" : "", cr, source);
    if (n < 0 || (size_t)n >= sizeof(hdr)) {
        answer_status(w, 502, NULL);
        return;
    }
    if (part) {
        body += first;
        len = last - first + 1;
    }
    fb_http_reply r = {.status = nm     ? 304
                                 : part ? 206
                                        : status,
                       .headers = hdr,
                       .headers_len = (size_t)n};
    if (nm) {
        r.head_only = true;
        a->st.not_modified++;
    } else {
        r.has_length = true;
        r.length = len;
        r.body = (const char *)body;
        r.head_only = w->head;
        if (!w->head)
            a->st.bytes_served += len;
    }
    fb_http_reply_send(w->x, &r);
    waiter_free(w);
}

/* Answers with verified object `obj` of slot s (which must be ready) and frees w. */
static void answer_object(waiter *w, slot *s, uint32_t obj)
{
    fb_page_object po;
    if (fb_page_object_get(s->page, obj, &po) != 0 || !po.ready) {
        answer_status(w, 500, NULL); /* cannot happen: callers check */
        return;
    }
    /* The manifest writes parameters without spaces ("text/html;charset=utf-8"); answer them
     * as servers usually do ("text/html; charset=utf-8"). */
    char type[2 * FB_MANIFEST_FIELD_MAX + 1];
    size_t n = 0;
    for (const char *t = po.type; *t && n + 2 < sizeof(type); t++) {
        type[n++] = *t;
        if (*t == ';' && t[1] != ' ')
            type[n++] = ' ';
    }
    type[n] = '\0';
    w->a->st.served_swarm++;
    answer_body(w, 200, type, po.etag, po.data, po.size, "swarm");
}

/* ---- the proxy ---------------------------------------------------------------------------- */

/* A Location from the origin, made local when it points into the origin. */
static void local_location(const open_app *a, const char *loc, char *out, size_t cap)
{
    size_t n = strlen(a->origin);
    if (strncasecmp(loc, a->origin, n) == 0 && (loc[n] == '/' || loc[n] == '\0'))
        loc += n;
    snprintf(out, cap, "Location: %s%s\r\n", loc, *loc ? "" : "/");
}

static void on_proxy(void *ctx, const fb_http_result *res)
{
    waiter *w = ctx;
    open_app *a = w->a;
    w->req = NULL;
    a->st.bytes_proxy += res->len;
    if (res->error == 0) {
        a->st.served_proxy++;
        answer_body(w, (int)res->status, res->content_type, res->etag, res->body, res->len,
                    "origin");
        return;
    }
    if (res->error == FB_HTTP_ESTATUS && res->status >= 300 && res->status <= 599 &&
        res->status != 304) {
        char loc[600];
        a->st.served_proxy++;
        loc[0] = '\0';
        if (res->status < 400 && res->captured)
            local_location(a, res->captured, loc, sizeof(loc));
        answer_status(w, (int)res->status, loc[0] ? loc : NULL);
        return;
    }
    if (res->error != FB_HTTP_ECANCELED)
        fb_cmdrun_say(a->o.quiet, NAME, "proxy: %s", res->message);
    answer_status(w,
                  res->error == FB_HTTP_ETIMEOUT    ? 504
                  : res->error == FB_HTTP_ECANCELED ? 503
                                                    : 502,
                  NULL);
}

/* Fetches w's target from the origin and answers with what comes back. */
static void start_proxy(waiter *w)
{
    open_app *a = w->a;
    char url[2 * FB_URL_MAX + 2];
    if (a->stopping || a->http == NULL) {
        answer_status(w, 503, NULL);
        return;
    }
    snprintf(url, sizeof(url), "%s%s", a->origin, w->target);
    if (strlen(url) > FB_URL_MAX) {
        answer_status(w, 414, NULL);
        return;
    }
    if (!waiter_wait(w, W_PROXY))
        return;
    fb_http_client_request req = {.url = url,
                                  .max_body = (size_t)a->o.max_size,
                                  .timeout_ms = 30000,
                                  .capture_header = "Location"};
    if (fb_http_get(a->http, &req, on_proxy, w, &w->req) != 0) {
        w->req = NULL;
        answer_status(w, 503, "Retry-After: 1\r\n");
    }
}

/* ---- pages -------------------------------------------------------------------------------- */

static void on_page(void *ctx, fb_page *p, fb_page_event ev, uint32_t object);
static void route(waiter *w);

/* Adds a page's counters to the retired sum, frees it and clears its slot; requests waiting
 * on it go to the proxy. */
static void slot_clear(slot *s)
{
    open_app *a = s->a;
    fb_get_stats ps;
    waiter *w;
    if (s->page == NULL)
        return;
    fb_page_stats(s->page, &ps);
    fb_open_stats_add(&a->retired, &ps);
    fb_page_free(s->page);
    s->page = NULL;
    free(s->path);
    s->path = NULL;
    s->known = false;
    a->st.pages--;
    for (;;) {
        for (w = a->waiters; w && !(w->st == W_OBJECT && w->s == s); w = w->next)
            ;
        if (w == NULL)
            break;
        w->s = NULL;
        w->obj = -1;
        start_proxy(w);
    }
}

static bool slot_has_waiters(const open_app *a, const slot *s)
{
    for (const waiter *w = a->waiters; w; w = w->next)
        if (w->st == W_OBJECT && w->s == s)
            return true;
    return false;
}

/* A free slot, retiring the least recently used page when every slot is taken (one without
 * waiting requests if there is one). */
static slot *slot_take(open_app *a)
{
    slot *best = NULL;
    for (uint32_t i = 0; i < a->o.max_pages; i++)
        if (a->slots[i].page == NULL)
            return &a->slots[i];
    for (int pass = 0; pass < 2 && best == NULL; pass++)
        for (uint32_t i = 0; i < a->o.max_pages; i++) {
            slot *s = &a->slots[i];
            if (pass == 0 && (!s->known || slot_has_waiters(a, s)))
                continue;
            if (best == NULL || s->used < best->used)
                best = s;
        }
    fb_cmdrun_say(a->o.quiet, NAME, "retiring the page %s (least recently used) to make room",
                  best->path);
    a->st.pages_retired++;
    slot_clear(best);
    return best;
}

/* Starts the page at `path` (path_len bytes, no query). Returns its slot, or NULL. */
static slot *page_start(open_app *a, const char *path, size_t path_len)
{
    char url[FB_URL_MAX + 1];
    if (strlen(a->origin) + path_len > FB_URL_MAX)
        return NULL;
    snprintf(url, sizeof(url), "%s%.*s", a->origin, (int)path_len, path);
    slot *s = slot_take(a);
    fb_page_config pc = {.url = url,
                         .http = a->http,
                         .name = "flashback open",
                         .quiet = a->o.quiet,
                         .no_swarm = a->o.no_swarm,
                         .timeout_ms = a->o.timeout_ms,
                         .linger_ms = FB_LINGER_FOREVER,
                         .max_size = a->o.max_size,
                         .origin_conns = a->o.origin_conns,
                         .cb = on_page,
                         .ctx = s};
    s->path = strndup(path, path_len);
    if (s->path == NULL || fb_page_new(a->loop, &pc, &s->page) != 0) {
        free(s->path);
        s->path = NULL;
        s->page = NULL;
        return NULL;
    }
    s->known = false;
    s->used = fb_cmdrun_ms(a->t0);
    s->serial = ++a->serial;
    a->st.pages++;
    a->st.pages_started++;
    return s;
}

/* Hands the new page s every object another page already holds verified under the same path,
 * size and entity tag (the engine checks each chunk's hash all the same). */
static void reuse_objects(open_app *a, slot *s)
{
    uint32_t n = fb_page_n_objects(s->page);
    for (uint32_t i = 0; i < n; i++) {
        fb_page_object mine;
        fb_page_object_get(s->page, i, &mine);
        if (mine.ready || mine.etag[0] == '\0')
            continue;
        for (uint32_t k = 0; k < a->o.max_pages; k++) {
            slot *o = &a->slots[k];
            fb_page_object theirs;
            int j;
            if (o == s || o->page == NULL || !o->known)
                continue;
            j = fb_page_find(o->page, mine.path, strlen(mine.path));
            if (j < 0 || fb_page_object_get(o->page, (uint32_t)j, &theirs) != 0 || !theirs.ready ||
                theirs.size != mine.size || strcmp(theirs.etag, mine.etag) != 0)
                continue;
            a->st.bytes_reused += fb_page_reuse(s->page, i, theirs.data, theirs.size);
            break;
        }
    }
}

/* Points the page's engine at the object the longest-waiting request of slot s wants (the
 * browser asks for the page first, then for what it embeds), or at nothing. */
static void refocus(open_app *a, slot *s)
{
    const waiter *oldest = NULL;
    if (s == NULL || s->page == NULL)
        return;
    for (const waiter *w = a->waiters; w; w = w->next)
        if (w->st == W_OBJECT && w->s == s && w->obj >= 0 && (!oldest || w->since < oldest->since))
            oldest = w;
    fb_page_focus(s->page, oldest ? (uint32_t)oldest->obj : FB_NO_FOCUS);
}

/* Runs `fn` on every waiter for which `pred` holds, one at a time: fn may answer (free) any
 * waiter, so the walk starts over after each call, marking the ones already seen. */
static void each_waiter(open_app *a, bool (*pred)(const waiter *w, const void *arg),
                        const void *arg, void (*fn)(waiter *w, const void *arg))
{
    for (waiter *w = a->waiters; w; w = w->next)
        w->mark = pred(w, arg);
    for (;;) {
        waiter *w = a->waiters;
        while (w && !w->mark)
            w = w->next;
        if (w == NULL)
            return;
        w->mark = false;
        fn(w, arg);
    }
}

static bool on_slot(const waiter *w, const void *arg)
{
    return w->st == W_OBJECT && w->s == arg;
}

static bool is_lookup(const waiter *w, const void *arg)
{
    (void)arg;
    return w->st == W_LOOKUP;
}

/* A waiter of a slot whose manifest arrived (again): find its object, answer if it is ready. */
static void settle_waiter(waiter *w, const void *arg)
{
    const slot *s = arg;
    fb_page_object po;
    w->obj = fb_page_find(s->page, w->target, w->path_len);
    if (w->obj < 0) {
        w->s = NULL;
        start_proxy(w); /* the page's manifest does not list what was asked (cannot be object 0
                           unless the origin disagrees with itself): ask the origin */
        return;
    }
    if (fb_page_object_get(s->page, (uint32_t)w->obj, &po) == 0 && po.ready)
        answer_object(w, (slot *)s, (uint32_t)w->obj);
}

static void reroute(waiter *w, const void *arg)
{
    (void)arg;
    route(w);
}

/* Routes the requests that waited for manifests to arrive. */
static void lookups_again(open_app *a)
{
    each_waiter(a, is_lookup, NULL, reroute);
}

typedef struct obj_key {
    const slot *s;
    int obj;
} obj_key;

static bool on_object(const waiter *w, const void *arg)
{
    const obj_key *k = arg;
    return w->st == W_OBJECT && w->s == k->s && w->obj == k->obj;
}

static void serve_ready(waiter *w, const void *arg)
{
    const obj_key *k = arg;
    answer_object(w, (slot *)k->s, (uint32_t)k->obj);
}

static void on_page(void *ctx, fb_page *p, fb_page_event ev, uint32_t object)
{
    slot *s = ctx;
    open_app *a = s->a;
    (void)p;
    switch (ev) {
    case FB_PAGE_EV_MANIFEST:
        s->known = true;
        reuse_objects(a, s);
        each_waiter(a, on_slot, s, settle_waiter);
        refocus(a, s);
        lookups_again(a);
        break;
    case FB_PAGE_EV_OBJECT: {
        obj_key k = {s, (int)object};
        each_waiter(a, on_object, &k, serve_ready);
        refocus(a, s);
        break;
    }
    case FB_PAGE_EV_COMPLETE: {
        fb_get_stats ps;
        fb_page_stats(s->page, &ps);
        fb_cmdrun_say(a->o.quiet, NAME,
                      "%s: complete, %" PRIu64 " bytes (origin HTTP %" PRIu64 ", seed %" PRIu64
                      ", peers %" PRIu64 "); seeding",
                      s->path, ps.bytes_total, ps.bytes_origin_http, ps.bytes_seed, ps.bytes_peers);
        break;
    }
    case FB_PAGE_EV_DONE: {
        int code = fb_page_code(s->page);
        const char *msg = fb_page_message(s->page);
        if (code == FB_PAGE_NO_SERVICE) {
            a->st.pages_plain++;
            /* 404 and 410 are about this page; anything else says there is no service. */
            if (strcmp(msg, "HTTP 404") != 0 && strcmp(msg, "HTTP 410") != 0) {
                if (!a->no_service)
                    fb_cmdrun_say(a->o.quiet, NAME,
                                  "the origin serves no manifests (%s): proxying everything", msg);
                a->no_service = true;
            }
        } else if (code != FB_PAGE_OK) {
            a->st.pages_failed++;
            fb_cmdrun_say(a->o.quiet, NAME, "%s: %s; its requests go to the origin", s->path, msg);
        }
        slot_clear(s); /* its waiters go to the proxy */
        lookups_again(a);
        break;
    }
    }
}

/* The slot whose page lists path as one of its objects (the most recently used first, a ready
 * copy before one still downloading); -1 in *obj when there is none. */
static slot *find_object(open_app *a, const char *path, size_t len, int *obj)
{
    slot *best = NULL;
    bool best_ready = false;
    *obj = -1;
    for (uint32_t i = 0; i < a->o.max_pages; i++) {
        slot *s = &a->slots[i];
        fb_page_object po;
        if (s->page == NULL || !s->known)
            continue;
        int j = fb_page_find(s->page, path, len);
        if (j < 0)
            continue;
        bool ready = fb_page_object_get(s->page, (uint32_t)j, &po) == 0 && po.ready;
        if (best == NULL || (ready && !best_ready) ||
            (ready == best_ready && s->used > best->used)) {
            best = s;
            best_ready = ready;
            *obj = j;
        }
    }
    return best;
}

/* A page started for exactly this path whose manifest has not arrived yet. */
static slot *find_pending(open_app *a, const char *path, size_t len)
{
    for (uint32_t i = 0; i < a->o.max_pages; i++) {
        slot *s = &a->slots[i];
        if (s->page && !s->known && strlen(s->path) == len && memcmp(s->path, path, len) == 0)
            return s;
    }
    return NULL;
}

static bool any_pending(const open_app *a)
{
    for (uint32_t i = 0; i < a->o.max_pages; i++)
        if (a->slots[i].page && !a->slots[i].known)
            return true;
    return false;
}

/* Decides where w's answer comes from: a verified object (now, or once it verified), a new
 * page, or the origin through the proxy. */
static void route(waiter *w)
{
    open_app *a = w->a;
    const char *path = w->target;
    size_t len = w->path_len;
    int obj;
    slot *s = find_object(a, path, len, &obj);
    if (s) {
        fb_page_object po;
        s->used = fb_cmdrun_ms(a->t0);
        w->s = s;
        w->obj = obj;
        if (fb_page_object_get(s->page, (uint32_t)obj, &po) == 0 && po.ready) {
            answer_object(w, s, (uint32_t)obj);
            return;
        }
        w->since = fb_cmdrun_ms(a->t0);
        a->st.waited++;
        if (waiter_wait(w, W_OBJECT))
            refocus(a, s);
        return;
    }
    s = find_pending(a, path, len);
    if (s == NULL && w->page_like && !a->no_service && !a->stopping)
        s = page_start(a, path, len);
    if (s) {
        w->s = s;
        w->obj = -1;
        w->since = fb_cmdrun_ms(a->t0);
        a->st.waited++;
        waiter_wait(w, W_OBJECT);
        return;
    }
    /* An object of a page whose manifest is on its way is asked for before the manifest came
     * (another tab): wait for it rather than go around the swarm. */
    if (any_pending(a) && !a->stopping) {
        waiter_wait(w, W_LOOKUP);
        return;
    }
    start_proxy(w);
}

/* ---- the local server --------------------------------------------------------------------- */

/* Navigations and HTML: what starts a page (its manifest covers what it embeds). */
static bool page_like(const fb_http_request *req, const char *path, size_t len)
{
    const fb_http_header *h = fb_http_find_header(req, "sec-fetch-dest");
    if (h && (fb_http_ieq(h->value, h->value_len, "document", 8) ||
              fb_http_ieq(h->value, h->value_len, "iframe", 6) ||
              fb_http_ieq(h->value, h->value_len, "frame", 5)))
        return true;
    if (len > 0 && path[len - 1] == '/')
        return true;
    return (len >= 5 && strncasecmp(path + len - 5, ".html", 5) == 0) ||
           (len >= 4 && strncasecmp(path + len - 4, ".htm", 4) == 0);
}

static void collect_stats(open_app *a, fb_open_stats *out)
{
    *out = a->st;
    out->origin = a->origin;
    out->local = a->local;
    out->uptime_ms = fb_cmdrun_ms(a->t0);
    out->swarm = a->retired;
    for (uint32_t i = 0; i < a->o.max_pages; i++)
        if (a->slots[i].page) {
            fb_get_stats ps;
            fb_page_stats(a->slots[i].page, &ps);
            fb_open_stats_add(&out->swarm, &ps);
        }
}

static void serve_stats(open_app *a, fb_http_exchange *x, bool head)
{
    static const char hdr[] = "Content-Type: application/json\r\nCache-Control: no-store\r\n";
    char buf[STATS_MAX];
    fb_open_stats st;
    collect_stats(a, &st);
    int n = fb_open_stats_json(&st, buf, sizeof(buf));
    if (n < 0) {
        fb_http_reply_status(x, 500, NULL, false);
        return;
    }
    fb_http_reply r = {.status = 200,
                       .headers = hdr,
                       .headers_len = sizeof(hdr) - 1,
                       .has_length = true,
                       .length = (uint64_t)n,
                       .body = buf,
                       .head_only = head};
    fb_http_reply_send(x, &r);
}

static void handle(void *ctx, fb_http_exchange *x, const fb_http_request *req)
{
    open_app *a = ctx;
    const char *t = req->target;
    size_t tl = req->target_len, pl = 0;
    a->st.requests++;
    if (req->meth != FB_HTTP_GET && req->meth != FB_HTTP_HEAD) {
        a->st.errors++;
        fb_http_reply_status(x, 405, "Allow: GET, HEAD\r\n", false);
        return;
    }
    if (tl == 0 || t[0] != '/' || tl > FB_URL_MAX - strlen(a->origin)) {
        a->st.errors++;
        fb_http_reply_status(x, tl > FB_URL_MAX / 2 ? 414 : 400, NULL, false);
        return;
    }
    while (pl < tl && t[pl] != '?')
        pl++;
    if (pl >= 12 && memcmp(t, "/.flashback/", 12) == 0) {
        if (pl == 17 && memcmp(t, "/.flashback/stats", 17) == 0) {
            serve_stats(a, x, req->meth == FB_HTTP_HEAD);
            return;
        }
        a->st.errors++;
        fb_http_reply_status(x, 404, NULL, false); /* the origin's own service paths stay there */
        return;
    }
    if (a->stopping) {
        a->st.errors++;
        fb_http_reply_status(x, 503, NULL, true);
        return;
    }
    const fb_http_header *h = fb_http_find_header(req, "if-none-match");
    waiter *w = calloc(1, sizeof(*w) + tl + 1);
    if (w == NULL) {
        a->st.errors++;
        fb_http_reply_status(x, 503, NULL, true);
        return;
    }
    w->a = a;
    w->x = x;
    w->st = W_NEW;
    w->head = req->meth == FB_HTTP_HEAD;
    w->path_len = pl;
    w->obj = -1;
    memcpy(w->target, t, tl);
    w->target[tl] = '\0';
    w->page_like = page_like(req, t, pl);
    if (h && h->value_len <= INM_MAX)
        w->inm = strndup(h->value, h->value_len); /* NULL when out of memory: no 304 */
    /* Range for GET only (RFC 9110 14.2); NULL when out of memory or too long: the whole. */
    if (!w->head && (h = fb_http_find_header(req, "range")) && h->value_len <= RANGE_MAX) {
        w->range = strndup(h->value, h->value_len);
        if ((h = fb_http_find_header(req, "if-range")) != NULL) {
            w->if_range = h->value_len <= RANGE_MAX ? strndup(h->value, h->value_len) : NULL;
            if (w->if_range == NULL) { /* a condition we cannot keep: no Range either */
                free(w->range);
                w->range = NULL;
            }
        }
    }
    route(w);
}

/* Every HURRY_PERIOD_MS: a request that has waited --patience for its object gets it over HTTP
 * ranges (fb_page_hurry). */
static void hurry_cb(uv_timer_t *t)
{
    open_app *a = t->data;
    uint64_t now = fb_cmdrun_ms(a->t0);
    for (waiter *w = a->waiters; w; w = w->next) {
        if (w->st != W_OBJECT || w->hurried || w->obj < 0 || w->s == NULL ||
            now - w->since < a->o.patience_ms)
            continue;
        w->hurried = true;
        a->st.hurried++;
        fb_page_hurry(w->s->page, (uint32_t)w->obj);
    }
}

/* ---- start and stop ----------------------------------------------------------------------- */

static void on_server_stopped(void *arg)
{
    open_app *a = arg;
    fb_http_server_free(a->srv);
    a->srv = NULL;
}

static bool not_proxy(const waiter *w, const void *arg)
{
    (void)arg;
    return w->st != W_PROXY;
}

static void refuse(waiter *w, const void *arg)
{
    (void)arg;
    answer_status(w, 503, NULL);
}

/* Ctrl-C or SIGTERM: pages say goodbye to their swarms, waiting requests get 503, the server
 * finishes what it is writing (STOP_GRACE_MS at most), and the loop ends. */
static void stop(open_app *a)
{
    if (a->stopping)
        return;
    a->stopping = true;
    fb_cmdrun_say(a->o.quiet, NAME, "stopping");
    for (uint32_t i = 0; i < a->o.max_pages; i++)
        if (a->slots[i].page) {
            a->st.pages_retired++;
            slot_clear(&a->slots[i]); /* their waiters turn into proxies, refused below */
        }
    each_waiter(a, not_proxy, NULL, refuse);
    fb_http_client_free(a->http); /* proxy waiters get ECANCELED: 503 */
    a->http = NULL;
    uv_timer_stop(&a->hurry);
    uv_close((uv_handle_t *)&a->hurry, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    if (a->srv)
        fb_http_server_shutdown(a->srv, STOP_GRACE_MS, on_server_stopped, a);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    stop(s->data);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: flashback open URL [--listen ADDR:PORT] [--quiet] [--stats] [options]\n"
            "\n"
            "Serves the site at URL to your browser through the swarm of its visitors: a local\n"
            "HTTP server answers the site's paths with bytes that verified against the origin's\n"
            "manifests, fetched from peers, the seed, or the origin when the swarm lacks them;\n"
            "paths outside every manifest are fetched from the origin like a proxy. It prints\n"
            "the local URL to open, keeps seeding the pages it fetched while it runs, and stops\n"
            "on Ctrl-C or SIGTERM. /.flashback/stats on the local server shows its counters.\n"
            "\n"
            "  --listen ADDR:PORT    the local server's address (default 127.0.0.1:0, a free\n"
            "                        port)\n"
            "  -q, --quiet           print errors only (and the URL line)\n"
            "  --stats               print the counters as one JSON object on stderr at exit\n"
            "  --max-pages N         pages (swarms) held at once, least recently used retired\n"
            "                        first (1-64, default 8)\n"
            "  --max-size SIZE       largest page, and largest proxied answer (K, M, G;\n"
            "                        default 64M)\n"
            "  --timeout SECONDS     a page must complete within this (default 60); its\n"
            "                        requests then go to the origin\n"
            "  --patience SECONDS    a request that waited this long for its object gets it\n"
            "                        over HTTP ranges from the origin (default 1)\n"
            "  --origin-conns N      HTTP range requests per page at once (1-64, default 4)\n"
            "  --no-swarm            every chunk from the origin over HTTP (for comparisons)\n"
            "  -h, --help            this text\n"
            "\n"
            "exit status: 0 after Ctrl-C or SIGTERM, 1 when the server cannot start, 2 bad "
            "usage\n");
}

static int usage_error(const char *fmt, const char *v)
{
    fprintf(stderr, "flashback open: ");
    fprintf(stderr, fmt, v);
    fprintf(stderr, "\n");
    return EXIT_USAGE;
}

/* Returns -1 to go on, or an exit code (0 after --help). */
static int parse_args(int argc, char **argv, open_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->listen = "127.0.0.1:0";
    o->max_pages = 8;
    o->max_size = 64ull << 20;
    o->timeout_ms = 60000;
    o->patience_ms = 1000;
    o->origin_conns = 4;
    static const char *const flags[] = {"--quiet", "-q", "--stats", "--no-swarm", NULL};
    static const char *const valued[] = {"--listen",   "--max-pages",    "--max-size", "--timeout",
                                         "--patience", "--origin-conns", NULL};
    for (int i = 1; i < argc; i++) {
        fb_cli_arg arg;
        const char *name = arg.name, *v;
        switch (fb_cli_next(argc, argv, &i, flags, valued, &arg)) {
        case FB_CLI_HELP:
            usage(stdout);
            return 0;
        case FB_CLI_OPERAND:
            if (strcmp(arg.value, "-") == 0) /* no stdin here: "-" is no URL, nor an option */
                return usage_error("unknown option '%s' (try --help)", arg.value);
            if (o->url)
                return usage_error("one URL only (got a second: '%s')", arg.value);
            o->url = arg.value;
            continue;
        case FB_CLI_FLAG_VALUE:
            return usage_error("%s takes no value", name);
        case FB_CLI_FLAG:
            if (strcmp(name, "--stats") == 0)
                o->stats = true;
            else if (strcmp(name, "--no-swarm") == 0)
                o->no_swarm = true;
            else
                o->quiet = true;
            continue;
        case FB_CLI_UNKNOWN:
            return usage_error("unknown option '%s' (try --help)", arg.value);
        case FB_CLI_MISSING_VALUE:
            return usage_error("%s needs a value", name);
        case FB_CLI_VALUED:
            break;
        }
        v = arg.value;
        if (strcmp(name, "--listen") == 0) {
            fb_addr tmp;
            if (fb_addr_parse(&tmp, v, strlen(v)) != 0)
                return usage_error("--listen: not ADDR:PORT: '%s'", v);
            o->listen = v;
        } else if (strcmp(name, "--max-size") == 0) {
            if (!fb_cli_size(v, &o->max_size))
                return usage_error("--max-size: not a size: '%s'", v);
        } else if (strcmp(name, "--timeout") == 0) {
            if (!fb_cli_seconds(v, 1, &o->timeout_ms))
                return usage_error("--timeout: not a positive number of seconds: '%s'", v);
        } else if (strcmp(name, "--patience") == 0) {
            if (!fb_cli_seconds(v, 0, &o->patience_ms))
                return usage_error("--patience: not a number of seconds: '%s'", v);
        } else if (strcmp(name, "--max-pages") == 0) {
            if (!fb_cli_count(v, 1, 64, &o->max_pages))
                return usage_error("--max-pages: not in 1-64: '%s'", v);
        } else if (!fb_cli_count(v, 1, 64, &o->origin_conns)) {
            return usage_error("--origin-conns: not in 1-64: '%s'", v);
        }
    }
    if (o->url == NULL)
        return usage_error("%s", "missing URL (try --help)");
    fb_url u;
    if (fb_url_split(o->url, &u) != 0)
        return usage_error("not an http:// or https:// URL: '%s'", o->url);
    if (u.origin_len + u.path_len + 1 > FB_URL_MAX / 2)
        return usage_error("the URL is too long: '%.100s'", o->url);
    return -1;
}

/* Sets up the server, the client and the first page. Returns 0 or an exit code. */
static int start(open_app *a)
{
    fb_url u;
    char bound[64];
    fb_http_config sc;
    fb_url_split(a->o.url, &u);
    snprintf(a->origin, sizeof(a->origin), "%.*s", (int)u.origin_len, u.origin);
    a->slots = calloc(a->o.max_pages, sizeof(*a->slots));
    if (a->slots == NULL)
        return EXIT_INTERNAL;
    for (uint32_t i = 0; i < a->o.max_pages; i++)
        a->slots[i].a = a;
    fb_http_client_config hc = {
        .max_requests = 512, .max_connections = 32, .max_host_connections = 16};
    if (fb_http_client_new(a->loop, &hc, &a->http) != 0) {
        fprintf(stderr, "flashback open: cannot start the HTTP client\n");
        return EXIT_INTERNAL;
    }
    fb_http_config_default(&sc);
    sc.max_conns = 1024;
    sc.server_name = "flashback";
    sc.defer_timeout_ms = a->o.timeout_ms + 30000; /* a page's timeout, then the proxy's */
    a->srv = fb_http_server_new(a->loop, &sc, handle, a);
    if (a->srv == NULL)
        return EXIT_INTERNAL;
    int rc = fb_http_server_listen(a->srv, a->o.listen, bound);
    if (rc != 0) {
        fprintf(stderr, "flashback open: cannot listen on %s: %s\n", a->o.listen,
                rc == FB_EINVAL ? "not an address" : strerror(-rc));
        fb_http_server_shutdown(a->srv, 0, on_server_stopped, a); /* closes its handles */
        return EXIT_INTERNAL;
    }
    const char *rest = u.path; /* path and query as given, without the fragment */
    size_t rl = 0;
    while (rest[rl] && rest[rl] != '#')
        rl++;
    snprintf(a->local, sizeof(a->local), "http://%s%.*s", bound, (int)rl, u.path_len ? rest : "/");
    if (u.path_len == 0 && rl > 0) /* "http://host?q": the page is "/" */
        snprintf(a->local, sizeof(a->local), "http://%s/%.*s", bound, (int)rl, rest);
    /* The page asked for starts at once: its swarm is under way before the browser asks. */
    char path[FB_URL_MAX + 1];
    if (fb_url_page_path(a->o.url, path, sizeof(path)) > 0 && !page_start(a, path, strlen(path)))
        fb_cmdrun_say(a->o.quiet, NAME, "cannot start the page %s", path);
    uv_signal_init(a->loop, &a->sigint);
    uv_signal_init(a->loop, &a->sigterm);
    a->sigint.data = a->sigterm.data = a;
    uv_signal_start(&a->sigint, on_signal, SIGINT);
    uv_signal_start(&a->sigterm, on_signal, SIGTERM);
    uv_timer_init(a->loop, &a->hurry);
    a->hurry.data = a;
    uv_timer_start(&a->hurry, hurry_cb, HURRY_PERIOD_MS, HURRY_PERIOD_MS);
    printf("flashback: open %s in your browser\n", a->local);
    fflush(stdout);
    return 0;
}

int fb_cmd_open(int argc, char **argv)
{
    uv_loop_t loop;
    open_app *a;
    open_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    a = fb_cmdrun_start(&loop, sizeof(*a), NAME);
    if (a == NULL)
        return EXIT_INTERNAL;
    a->o = o;
    a->loop = &loop;
    a->t0 = uv_hrtime();
    fb_open_stats_init(&a->st);
    fb_get_stats_init(&a->retired);
    rc = start(a);
    if (rc != 0) {
        fb_http_client_free(a->http);
        a->http = NULL;
        for (uint32_t i = 0; a->slots && i < a->o.max_pages; i++)
            fb_page_free(a->slots[i].page);
    }
    fb_cmdrun_loop(&loop, NAME);
    if (rc == 0 && o.stats) {
        char buf[STATS_MAX];
        fb_open_stats st;
        collect_stats(a, &st);
        if (fb_open_stats_json(&st, buf, sizeof(buf)) > 0)
            fputs(buf, stderr);
    }
    for (uint32_t i = 0; a->slots && i < a->o.max_pages; i++)
        free(a->slots[i].path);
    free(a->slots);
    free(a);
    return rc;
}
