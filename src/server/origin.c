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
    {"/.flashback/", M_GET | M_HEAD, route_reserved}, /* manifests and metrics (issue 4) */
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
    if (!o->path || !o->hdr) {
        free(o->path);
        free(o->hdr);
        return -ENOMEM;
    }
    int rc = fb_file_cache_init(&o->cache, root, cfg->cache_entries, cfg->cache_bytes,
                                cfg->cache_file_max);
    if (rc != 0) {
        free(o->path);
        free(o->hdr);
    }
    return rc;
}

void fb_origin_fini(fb_origin *o)
{
    fb_file_cache_fini(&o->cache);
    free(o->path);
    free(o->hdr);
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

static void route_reserved(fb_origin *o, fb_http_exchange *x, const fb_http_request *req,
                           fb_http_path *p)
{
    (void)o, (void)req, (void)p;
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

static void serve_file(fb_origin *o, fb_http_exchange *x, const fb_http_request *req, fb_file *f)
{
    fb_http_validators v = {f->etag, f->etag_len, f->mtime, f->size};
    fb_http_cond cond;
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
        r.head_only = req->meth == FB_HTTP_HEAD;
        break;
    }
    fb_http_reply_send(x, &r);
}

static void route_static(fb_origin *o, fb_http_exchange *x, const fb_http_request *req,
                         fb_http_path *p)
{
    fb_file *f = NULL;
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
    serve_file(o, x, req, f);
    fb_file_release(&o->cache, f);
}
