/* Request routing and static files. Dispatch happens in one place, fb_origin_handle: normalize
 * the target, pick the first route whose prefix matches, check the method against the route,
 * call it. A path never reaches the file layer before normalization; the file layer then makes
 * sure the kernel never walks out of the root. */
#include "server/origin.h"

#include <errno.h>
#include <stdlib.h>

#include "core/http_cond.h"
#include "core/http_path.h"
#include "core/http_resp.h"
#include "server/metrics.h"
#include "server/proxy.h"

enum { M_GET = 1 << FB_HTTP_GET, M_HEAD = 1 << FB_HTTP_HEAD };

typedef void (*route_fn)(fb_origin *o, fb_http_exchange *x, const fb_http_request *req,
                         fb_http_path *p);

static void route_reserved(fb_origin *o, fb_http_exchange *x, const fb_http_request *req,
                           fb_http_path *p);
static void route_static(fb_origin *o, fb_http_exchange *x, const fb_http_request *req,
                         fb_http_path *p);

/* First match wins; "/" catches everything else. */
static const struct route {
    const char *prefix;
    unsigned methods;
    route_fn fn;
} routes[] = {
    {"/.flashback/", M_GET | M_HEAD, route_reserved}, /* manifests and metrics */
    {"/", M_GET | M_HEAD, route_static},
};

static const char allow[] = "Allow: GET, HEAD\r\n";

int fb_origin_init(fb_origin *o, const char *root, const fb_origin_config *cfg)
{
    memset(o, 0, sizeof(*o));
    o->path_cap = cfg->max_head + 16; /* + "index.html" */
    o->hdr_cap = 4 * cfg->max_head + 256;
    o->path = malloc(o->path_cap);
    o->hdr = malloc(o->hdr_cap);
    o->metrics = malloc(FB_METRICS_MAX);
    if (!o->path || !o->hdr || !o->metrics) {
        free(o->path);
        free(o->hdr);
        free(o->metrics);
        return -ENOMEM;
    }
    int rc = fb_file_cache_init(&o->cache, root, cfg->cache_entries, cfg->cache_bytes,
                                cfg->cache_file_max);
    if (rc != 0) {
        free(o->path);
        free(o->hdr);
        free(o->metrics);
    }
    return rc;
}

void fb_origin_fini(fb_origin *o)
{
    fb_file_cache_fini(&o->cache);
    free(o->path);
    free(o->hdr);
    free(o->metrics);
}

void fb_origin_handle(void *ctx, fb_http_exchange *x, const fb_http_request *req)
{
    fb_origin *o = ctx;
    fb_http_path p = {.path = o->path};
    if (fb_http_path_parse(req->target, req->target_len, &p, o->path_cap - 10) != 0) {
        fb_http_reply_status(x, 400, NULL, true);
        return;
    }
    for (size_t i = 0; i < FB_ARRAY_LEN(routes); i++) {
        size_t n = strlen(routes[i].prefix);
        if (p.len < n || memcmp(p.path, routes[i].prefix, n) != 0)
            continue;
        if (!(routes[i].methods & (1u << req->meth))) {
            fb_http_reply_status(x, 405, allow, false);
            return;
        }
        routes[i].fn(o, x, req, &p);
        return;
    }
    fb_http_reply_status(x, 404, NULL, false);
}

#define MANIFEST_PREFIX "/.flashback/manifest"

/* Answers a manifest request: the manifest, or the status for error rc. `req` (NULL for an
 * answer deferred past the request's life) gives the conditional headers: without it the
 * answer is a plain 200, which is always right. */
static void answer_manifest(fb_origin *o, fb_http_exchange *x, const fb_http_request *req,
                            bool head, bool gzip, int rc, const fb_manifest_view *v)
{
    if (rc != 0) {
        /* 501 for a page the service will not cover (over a cap): a peer then downloads it
         * plainly, as from a server without manifests. */
        int status = rc == FB_ENOENT ? 404 : rc == FB_E2BIG ? 501 : 503;
        fb_http_reply_status(x, status, NULL, false);
        return;
    }
    /* The gzipped manifest is another representation: its own ETag and length. */
    gzip = gzip && v->gz != NULL;
    const char *etag = gzip ? v->gz_etag : v->etag;
    size_t etag_len = gzip ? v->gz_etag_len : v->etag_len;
    size_t len = gzip ? v->gz_len : v->len;
    fb_http_cond cond = {.status = 200};
    if (req) {
        fb_http_validators val = {etag, etag_len, v->built, len};
        fb_http_cond_eval(req, &val, fb_http_exchange_time(x), &cond);
    }
    if (cond.status == 412) {
        fb_http_reply_status(x, 412, NULL, false);
        return;
    }
    fb_wbuf b;
    fb_wbuf_init(&b, o->hdr, o->hdr_cap);
    fb_wbuf_puts(&b, "ETag: ");
    fb_wbuf_put(&b, etag, etag_len);
    fb_wbuf_puts(&b, "\r\nCache-Control: no-cache\r\nVary: Accept-Encoding\r\n");
    if (cond.status != 304)
        fb_wbuf_puts(&b, "Content-Type: text/plain; charset=utf-8\r\n");
    if (gzip)
        fb_wbuf_puts(&b, "Content-Encoding: gzip\r\n");
    if (v->seeded) {
        fb_wbuf_puts(&b, o->seed_header);
        /* The client's address is proved (it answered our TCP handshake): a token for it lets
         * its first JOIN in, without the seed's TOKEN round trip (docs/PROTOCOL.md 5). */
        char tok[33];
        if (o->seed && fb_seed_address_token(o->seed, fb_http_exchange_peer(x), tok) == 0) {
            fb_wbuf_puts(&b, "Flashback-Token: ");
            fb_wbuf_puts(&b, tok);
            fb_wbuf_puts(&b, "\r\n");
        }
    }
    if (b.overflow) {
        fb_http_reply_status(x, 500, NULL, true);
        return;
    }
    /* A Range on a manifest is ignored (RFC 9110 allows it): the manifest is small. */
    fb_http_reply r = {.status = cond.status == 304 ? 304 : 200,
                       .headers = o->hdr,
                       .headers_len = b.len,
                       .has_length = cond.status != 304,
                       .length = len,
                       .body = (const char *)(gzip ? v->gz : v->text),
                       .head_only = cond.status == 304 || head};
    fb_http_reply_send(x, &r);
}

/* A manifest request waiting for its build (deferred). */
typedef struct manifest_wait {
    fb_manifests_wait w;
    fb_origin *o;
    fb_http_exchange *x;
    bool head;
    bool gzip;         /* the request accepted gzip */
    fb_proxy_prep *pp; /* proxy mode: the page is being brought into the mirror */
    char *page;        /* proxy mode: the page's path, for the build after that */
    size_t page_len;
} manifest_wait;

static void manifest_wait_free(manifest_wait *mw)
{
    free(mw->page);
    free(mw);
}

static void on_manifest_built(void *arg, int rc, const fb_manifest_view *v)
{
    manifest_wait *mw = arg;
    answer_manifest(mw->o, mw->x, NULL, mw->head, mw->gzip, rc, v);
    manifest_wait_free(mw);
}

static void on_manifest_cancel(void *arg, fb_http_exchange *x)
{
    manifest_wait *mw = arg;
    (void)x;
    if (mw->pp)
        fb_proxy_prepare_cancel(mw->pp);
    else
        fb_manifests_unwait(mw->o->manifests, &mw->w);
    manifest_wait_free(mw);
}

/* Proxy mode: the page and its objects are in the mirror (as far as they could be): build. */
static void on_page_prepared(void *arg)
{
    manifest_wait *mw = arg;
    fb_manifest_view v;
    mw->pp = NULL;
    int rc = fb_manifests_get(mw->o->manifests, mw->page, mw->page_len,
                              fb_http_exchange_time(mw->x), &v, &mw->w);
    if (rc == FB_EAGAIN)
        return; /* on_manifest_built answers */
    answer_manifest(mw->o, mw->x, NULL, mw->head, mw->gzip, rc, &v);
    manifest_wait_free(mw);
}

/* GET /.flashback/manifest<PAGE-PATH>: the page's manifest (docs/SEED.md). A manifest that is
 * cached, or quick to build, is answered at once; a large build goes on from the loop and the
 * answer is deferred until it is done. */
static void route_manifest(fb_origin *o, fb_http_exchange *x, const fb_http_request *req,
                           const char *page, size_t len)
{
    fb_manifest_view v;
    const fb_http_header *ae = fb_http_find_header(req, "Accept-Encoding");
    bool gzip = ae && fb_http_accepts_coding(ae->value, ae->value_len, "gzip");
    manifest_wait *mw = calloc(1, sizeof(*mw)); /* NULL: the build is done at once */
    if (mw) {
        mw->gzip = gzip;
        mw->w.cb = on_manifest_built;
        mw->w.arg = mw;
        mw->o = o;
        mw->head = req->meth == FB_HTTP_HEAD;
    }
    if (o->proxy && mw && (mw->page = malloc(len + 1)) != NULL) {
        memcpy(mw->page, page, len);
        mw->page[len] = '\0';
        mw->page_len = len;
        int prc = fb_proxy_prepare(o->proxy, page, len, o->manifest_objects, on_page_prepared, mw,
                                   &mw->pp);
        if (prc == FB_EAGAIN) {
            mw->x = fb_http_defer(x, on_manifest_cancel, mw);
            if (mw->x)
                return;
            fb_proxy_prepare_cancel(mw->pp);
            manifest_wait_free(mw);
            fb_http_reply_status(x, 503, NULL, false);
            return;
        }
    }
    int rc =
        fb_manifests_get(o->manifests, page, len, fb_http_exchange_time(x), &v, mw ? &mw->w : NULL);
    if (rc == FB_EAGAIN) {
        mw->x = fb_http_defer(x, on_manifest_cancel, mw);
        if (mw->x)
            return;
        fb_manifests_unwait(o->manifests, &mw->w);
        rc = FB_ENOMEM;
    }
    if (mw)
        free(mw->page);
    free(mw);
    answer_manifest(o, x, req, req->meth == FB_HTTP_HEAD, gzip, rc, &v);
}

/* GET /.flashback/metrics: every counter, Prometheus text format 0.0.4. */
static void route_metrics(fb_origin *o, fb_http_exchange *x, const fb_http_request *req)
{
    fb_metrics_sources src = {
        fb_http_server_stats(o->http), &o->cache, o->seed, o->seed_rate, o->manifests, o->proxy};
    int n = fb_metrics_render(&src, o->metrics, FB_METRICS_MAX);
    if (n < 0) {
        fb_http_reply_status(x, 500, NULL, false);
        return;
    }
    static const char hdr[] = "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                              "Cache-Control: no-store\r\n";
    fb_http_reply r = {.status = 200,
                       .headers = hdr,
                       .headers_len = sizeof(hdr) - 1,
                       .has_length = true,
                       .length = (uint64_t)n,
                       .body = o->metrics,
                       .head_only = req->meth == FB_HTTP_HEAD};
    fb_http_reply_send(x, &r);
}

static void route_reserved(fb_origin *o, fb_http_exchange *x, const fb_http_request *req,
                           fb_http_path *p)
{
    size_t n = strlen(MANIFEST_PREFIX);
    if (o->manifests && p->len >= n && memcmp(p->path, MANIFEST_PREFIX, n) == 0 &&
        (p->len == n || p->path[n] == '/')) {
        /* "/.flashback/manifest" and "/.flashback/manifest/" both name the page "/". */
        if (p->len == n)
            route_manifest(o, x, req, "/", 1);
        else
            route_manifest(o, x, req, p->path + n, p->len - n);
        return;
    }
    if (p->len == strlen("/.flashback/metrics") &&
        memcmp(p->path, "/.flashback/metrics", p->len) == 0 && o->http) {
        route_metrics(o, x, req);
        return;
    }
    fb_http_reply_status(x, 404, NULL, false);
}

/* True when a segment of the path starts with '.': hidden files are not served. */
static bool hidden(const fb_http_path *p)
{
    for (size_t i = 0; i + 1 < p->len; i++)
        if (p->path[i] == '/' && p->path[i + 1] == '.')
            return true;
    return false;
}

static void redirect_slash(fb_origin *o, fb_http_exchange *x, const fb_http_path *p)
{
    fb_wbuf b;
    fb_wbuf_init(&b, o->hdr, o->hdr_cap);
    fb_wbuf_puts(&b, "Location: ");
    int n = fb_http_path_encode(p->path, p->len, o->hdr + b.len, b.cap - b.len);
    if (n < 0) {
        fb_http_reply_status(x, 500, NULL, true);
        return;
    }
    b.len += (size_t)n;
    fb_wbuf_puts(&b, "/");
    if (p->query) {
        fb_wbuf_puts(&b, "?");
        fb_wbuf_put(&b, p->query, p->query_len);
    }
    fb_wbuf_puts(&b, "\r\n");
    fb_wbuf_put(&b, "", 1);
    if (b.overflow) {
        fb_http_reply_status(x, 500, NULL, true);
        return;
    }
    fb_http_reply_status(x, 301, o->hdr, false);
}

static void serve_file(fb_origin *o, fb_http_exchange *x, const fb_http_request *req, bool head,
                       fb_file *f)
{
    fb_http_validators v = {f->etag, f->etag_len, f->mtime, f->size};
    fb_http_cond cond = {.status = 200};
    if (req)
        fb_http_cond_eval(req, &v, fb_http_exchange_time(x), &cond);
    fb_http_reply r = {.status = cond.status, .headers2 = f->hdr, .headers2_len = f->hdr_len};
    fb_wbuf b;
    fb_wbuf_init(&b, o->hdr, o->hdr_cap);
    switch (cond.status) {
    case 304:
        r.headers2_len = f->hdr304_len; /* Last-Modified and ETag only */
        r.head_only = true;
        break;
    case 412:
        fb_http_reply_status(x, 412, NULL, false);
        return;
    case 416:
        fb_wbuf_puts(&b, "Content-Range: bytes */");
        fb_wbuf_u64(&b, f->size);
        fb_wbuf_puts(&b, "\r\n");
        fb_wbuf_put(&b, "", 1);
        fb_http_reply_status(x, 416, o->hdr, false);
        return;
    case 206:
        fb_wbuf_puts(&b, "Content-Range: bytes ");
        fb_wbuf_u64(&b, cond.first);
        fb_wbuf_puts(&b, "-");
        fb_wbuf_u64(&b, cond.last);
        fb_wbuf_puts(&b, "/");
        fb_wbuf_u64(&b, f->size);
        fb_wbuf_puts(&b, "\r\n");
        r.headers = o->hdr;
        r.headers_len = b.len;
        r.has_length = true;
        r.length = cond.last - cond.first + 1;
        r.file = f;
        r.offset = cond.first;
        break;
    default:
        r.has_length = true;
        r.length = f->size;
        r.file = f;
        r.head_only = head;
        break;
    }
    fb_http_reply_send(x, &r);
}

int fb_origin_serve_file_at(fb_origin *o, fb_http_exchange *x, const fb_http_request *req,
                            bool head, const char *path, size_t len)
{
    fb_file *f = NULL;
    int rc = fb_file_cache_get(&o->cache, path, len, fb_http_exchange_time(x), &f);
    if (rc != 0)
        return rc;
    if (f->is_dir) {
        fb_file_release(&o->cache, f);
        return FB_ENOENT;
    }
    serve_file(o, x, req, head, f);
    fb_file_release(&o->cache, f);
    return 0;
}

static void route_static(fb_origin *o, fb_http_exchange *x, const fb_http_request *req,
                         fb_http_path *p)
{
    fb_file *f = NULL;
    if (o->proxy) {
        fb_proxy_handle(o->proxy, x, req, p);
        return;
    }
    if (hidden(p)) {
        fb_http_reply_status(x, 404, NULL, false);
        return;
    }
    int64_t now = fb_http_exchange_time(x);
    int rc = fb_file_cache_get(&o->cache, p->path, p->len, now, &f);
    if (rc == 0 && f->is_dir) {
        fb_file_release(&o->cache, f);
        f = NULL;
        if (!p->trailing_slash) {
            redirect_slash(o, x, p);
            return;
        }
        memcpy(p->path + p->len, "index.html", 11); /* path_cap leaves room for it */
        p->len += 10;
        rc = fb_file_cache_get(&o->cache, p->path, p->len, now, &f);
        if (rc == 0 && f->is_dir) {
            fb_file_release(&o->cache, f);
            f = NULL;
            rc = FB_ENOENT;
        }
    }
    if (rc != 0) {
        int status = rc == FB_ENOENT ? 404 : rc == FB_ENOSPC ? 503 : 500;
        fb_http_reply_status(x, status, NULL, false);
        return;
    }
    serve_file(o, x, req, req->meth == FB_HTTP_HEAD, f);
    fb_file_release(&o->cache, f);
}
