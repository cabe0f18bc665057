/* libcurl's multi interface on a libuv loop. curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION: one uv_poll per socket) and when to wake it
 * (CURLMOPT_TIMERFUNCTION: one uv_timer); we hand every readiness and every timeout back with
 * curl_multi_socket_action and then collect finished transfers. Bodies are checked as they
 * stream in (cap, range), so a bad answer is cut off early. */
#include "net/http_client.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HDR_MAX       256
#define MSG_MAX       512
#define GROW_MIN      16384
#define CAPNAME_MAX   64
#define LINE_MAX_SENT 8192 /* an extra request header line, at most */

typedef struct sockctx {
    uv_poll_t poll;
    fb_http_client *c;
    curl_socket_t fd;
    struct sockctx *prev, *next;
} sockctx;

struct fb_http_req {
    fb_http_client *c;
    CURL *easy;
    fb_http_req *prev, *next;
    fb_http_cb cb;
    void *ctx;
    char *url;
    size_t max_body;
    bool range;
    uint64_t first, last;
    /* The answer, reset at every status line (1xx and followed redirects come first). */
    long status;
    bool slicing;        /* a 200 answered a range request: keep [first, last] of its body */
    bool done_early;     /* slicing had every byte it needed and stopped the transfer */
    bool discard_capped; /* a non-2xx body ran past max_body and the transfer was stopped */
    uint64_t stream_off; /* body bytes received so far in this answer */
    int64_t clen;
    bool have_cr;
    uint64_t cr_first, cr_last;
    int64_t cr_total; /* -1 for "*" */
    char etag[HDR_MAX], ctype[HDR_MAX], crange[HDR_MAX];
    bool has_etag, has_ctype, has_crange;
    char capname[2][CAPNAME_MAX]; /* capture_header and capture_header2, "" for none */
    char capval[2][HDR_MAX];
    bool has_cap[2];
    struct curl_slist *hdrs; /* request headers we add (If-Range, the caller's) */
    bool any_status;         /* keep every status's body */
    char *rawh;              /* keep_headers: the answer's header lines */
    size_t rawh_len, rawh_cap;
    uint8_t *body;
    size_t len, alloc;
    int error;      /* set when one of our callbacks stopped the transfer */
    bool reporting; /* unlinked, its result callback is running */
    char msg[MSG_MAX];
    char curlerr[CURL_ERROR_SIZE];
};

struct fb_http_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    fb_http_req *reqs; /* requests in flight or queued */
    sockctx *socks;    /* sockets being watched */
    uint32_t n_reqs, max_reqs;
    unsigned open_handles; /* uv handles not yet closed: the client is freed at zero */
    int dispatching;       /* depth of calls into result callbacks */
    bool closing;          /* fb_http_client_free was called */
    bool torn_down;        /* the multi handle is gone */
    char *user_agent;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *fb_http_strerror(int error)
{
    switch (error) {
    case 0:
        return "ok";
    case FB_HTTP_ESTATUS:
        return "HTTP error status";
    case FB_HTTP_ETOOBIG:
        return "body larger than the cap";
    case FB_HTTP_ERANGE:
        return "range answer does not match";
    case FB_HTTP_ECONNECT:
        return "could not connect";
    case FB_HTTP_ETIMEOUT:
        return "timed out";
    case FB_HTTP_ECANCELED:
        return "cancelled";
    case FB_HTTP_ETRANSFER:
        return "transfer failed";
    case FB_ENOMEM:
        return "out of memory";
    default:
        return "error";
    }
}

/* ---- requests ---------------------------------------------------------------------------- */

static void fail(fb_http_req *q, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(fb_http_req *q, int error, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (q->error)
        return; /* keep the first reason */
    q->error = error;
    n = snprintf(q->msg, sizeof(q->msg), "GET %s: ", q->url);
    if (n < 0 || (size_t)n >= sizeof(q->msg))
        return;
    va_start(ap, fmt);
    vsnprintf(q->msg + n, sizeof(q->msg) - (size_t)n, fmt, ap);
    va_end(ap);
}

static void reset_answer(fb_http_req *q)
{
    q->status = 0;
    q->slicing = false;
    q->stream_off = 0;
    q->clen = -1;
    q->have_cr = false;
    q->has_etag = q->has_ctype = q->has_crange = q->has_cap[0] = q->has_cap[1] = false;
    q->len = 0;
    q->rawh_len = 0;
}

/* True when the body of the answer being received is kept (2xx, or any with any_status). */
static bool keeps_body(const fb_http_req *q)
{
    return (q->status >= 200 && q->status <= 299) || (q->any_status && q->status >= 200);
}

/* Makes room for `need` bytes in total; need never exceeds max_body. Returns false on ENOMEM. */
static bool reserve(fb_http_req *q, size_t need)
{
    size_t n;
    uint8_t *p;
    if (need <= q->alloc)
        return true;
    n = FB_MAX(FB_MAX(q->alloc * 2, need), (size_t)GROW_MIN);
    n = FB_MIN(n, FB_MAX(need, q->max_body));
    p = realloc(q->body, n);
    if (p == NULL)
        return false;
    q->body = p;
    q->alloc = n;
    return true;
}

static bool append(fb_http_req *q, const char *p, size_t n)
{
    if (!reserve(q, q->len + n)) {
        fail(q, FB_ENOMEM, "out of memory");
        return false;
    }
    memcpy(q->body + q->len, p, n);
    q->len += n;
    return true;
}

/* Parses a decimal number of up to 19 digits from [*p, end). */
static bool parse_u64(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    while (s < end && *s >= '0' && *s <= '9' && s - *p < 19)
        v = v * 10 + (uint64_t)(*s++ - '0');
    if (s == *p || (s < end && *s >= '0' && *s <= '9'))
        return false;
    *p = s;
    *out = v;
    return true;
}

/* Parses "bytes FIRST-LAST/TOTAL", or with an unknown total "bytes FIRST-LAST/" and a star
 * (RFC 9110, section 14.4). */
static bool parse_content_range(fb_http_req *q)
{
    const char *p = q->crange, *end = q->crange + strlen(q->crange);
    uint64_t a, b, t;
    if (strncasecmp(p, "bytes ", 6) != 0)
        return false;
    p += 6;
    if (!parse_u64(&p, end, &a) || p == end || *p++ != '-' || !parse_u64(&p, end, &b) || p == end ||
        *p++ != '/' || b < a)
        return false;
    if (p + 1 == end && *p == '*') {
        q->cr_total = -1;
    } else {
        if (!parse_u64(&p, end, &t) || p != end || b >= t)
            return false;
        q->cr_total = (int64_t)t;
    }
    q->cr_first = a;
    q->cr_last = b;
    q->have_cr = true;
    return true;
}

/* Called at the blank line that ends a block of headers. Returns false to stop the transfer. */
static bool headers_done(fb_http_req *q)
{
    if (!keeps_body(q))
        return true; /* 1xx, a redirect being followed, or an error status: judged at the end */
    if (q->range) {
        if (q->status == 206) {
            if (!q->has_crange || !parse_content_range(q)) {
                fail(q, FB_HTTP_ERANGE, "206 with a missing or malformed Content-Range '%s'",
                     q->has_crange ? q->crange : "");
                return false;
            }
            /* The first byte must be the one asked for; the last may be clipped only at the end
             * of the resource. */
            if (q->cr_first != q->first || q->cr_last > q->last ||
                (q->cr_last < q->last &&
                 (q->cr_total < 0 || q->cr_last + 1 != (uint64_t)q->cr_total))) {
                fail(q, FB_HTTP_ERANGE,
                     "asked for bytes %" PRIu64 "-%" PRIu64 ", got Content-Range '%s'", q->first,
                     q->last, q->crange);
                return false;
            }
            if (!reserve(q, (size_t)(q->cr_last - q->cr_first + 1))) {
                fail(q, FB_ENOMEM, "out of memory");
                return false;
            }
        } else if (q->status == 200) {
            q->slicing = true; /* the server ignored Range: cut the bytes out of the whole */
        } else {
            fail(q, FB_HTTP_ERANGE, "asked for a range, got status %ld", q->status);
            return false;
        }
        return true;
    }
    if (q->clen >= 0 && (uint64_t)q->clen > q->max_body) {
        fail(q, FB_HTTP_ETOOBIG, "Content-Length %" PRId64 " is over the cap of %zu bytes", q->clen,
             q->max_body);
        return false;
    }
    if (q->clen > 0 && !reserve(q, (size_t)q->clen)) {
        fail(q, FB_ENOMEM, "out of memory");
        return false;
    }
    return true;
}

static void copy_value(char *dst, bool *has, const char *v, size_t n)
{
    if (n >= HDR_MAX)
        return; /* too long to be one we trust: treat as absent */
    memcpy(dst, v, n);
    dst[n] = '\0';
    *has = true;
}

/* Which of the request's captured headers (0, 1) a header name of len bytes is, or -1. */
static int captured_name(const fb_http_req *q, const char *name, size_t len)
{
    for (int k = 0; k < 2; k++)
        if (q->capname[k][0] && len == strlen(q->capname[k]) &&
            strncasecmp(name, q->capname[k], len) == 0)
            return k;
    return -1;
}

static size_t on_header(char *p, size_t size, size_t nitems, void *ud)
{
    fb_http_req *q = ud;
    size_t n = size * nitems;
    const char *colon, *v, *end = p + n;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        const char *s = memchr(p, ' ', n);
        uint64_t code = 0;
        reset_answer(q);
        if (s != NULL) {
            s++;
            if (parse_u64(&s, end, &code) && code < 1000)
                q->status = (long)code;
        }
        return n;
    }
    if (n <= 2 && (p[0] == '\r' || p[0] == '\n'))
        return headers_done(q) ? n : 0;
    if (q->rawh_cap) {
        if (q->rawh_len + n > q->rawh_cap) {
            fail(q, FB_HTTP_ETOOBIG, "response headers over %zu bytes", q->rawh_cap);
            return 0;
        }
        memcpy(q->rawh + q->rawh_len, p, n);
        q->rawh_len += n;
    }
    colon = memchr(p, ':', n);
    if (colon == NULL)
        return n;
    v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    int cap;
#define IS(name)                                                                                   \
    ((size_t)(colon - p) == sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0)
    if (IS("ETag")) {
        copy_value(q->etag, &q->has_etag, v, (size_t)(end - v));
    } else if (IS("Content-Type")) {
        copy_value(q->ctype, &q->has_ctype, v, (size_t)(end - v));
    } else if (IS("Content-Range")) {
        copy_value(q->crange, &q->has_crange, v, (size_t)(end - v));
    } else if ((cap = captured_name(q, p, (size_t)(colon - p))) >= 0) {
        copy_value(q->capval[cap], &q->has_cap[cap], v, (size_t)(end - v));
    } else if (IS("Content-Length")) {
        uint64_t cl;
        const char *s = v;
        if (parse_u64(&s, end, &cl) && s == end && cl <= INT64_MAX)
            q->clen = (int64_t)cl;
    }
#undef IS
    return n;
}

static size_t on_body(char *p, size_t size, size_t nitems, void *ud)
{
    fb_http_req *q = ud;
    size_t n = size * nitems;
    uint64_t start = q->stream_off, end = start + n;
    q->stream_off = end;
    if (!keeps_body(q)) {
        /* An error page: not kept, but not read forever either. */
        if (end > q->max_body) {
            q->discard_capped = true;
            return 0;
        }
        return n;
    }
    if (q->slicing) {
        uint64_t lo = FB_MAX(start, q->first), hi = FB_MIN(end, q->last + 1);
        if (lo < hi && !append(q, p + (lo - start), (size_t)(hi - lo)))
            return 0;
        if (end > q->last) {
            q->done_early = true; /* every byte asked for is here */
            return 0;
        }
        return n;
    }
    if (q->len + n > q->max_body) {
        fail(q, FB_HTTP_ETOOBIG, "body over the cap of %zu bytes", q->max_body);
        return 0;
    }
    return append(q, p, n) ? n : 0;
}

static void unlink_req(fb_http_req *q)
{
    fb_http_client *c = q->c;
    if (q->prev)
        q->prev->next = q->next;
    else
        c->reqs = q->next;
    if (q->next)
        q->next->prev = q->prev;
    q->prev = q->next = NULL;
    c->n_reqs--;
}

static void release_req(fb_http_req *q)
{
    if (q->easy)
        curl_easy_cleanup(q->easy);
    curl_slist_free_all(q->hdrs);
    free(q->rawh);
    free(q->body);
    free(q->url);
    free(q);
}

/* Decides the outcome of a transfer that curl reported done with `rc`. */
static void judge(fb_http_req *q, CURLcode rc)
{
    bool ok_status = q->status >= 200 && q->status <= 299;
    if (q->done_early)
        return; /* a sliced 200 that had every byte: success */
    if (q->error)
        return;
    if (rc == CURLE_OK || q->discard_capped) {
        if (!ok_status && !(q->any_status && q->status >= 200)) {
            fail(q, FB_HTTP_ESTATUS, "HTTP %ld", q->status);
            return;
        }
        if (q->range && q->status == 206 && q->len != q->cr_last - q->cr_first + 1)
            fail(q, FB_HTTP_ERANGE, "206 body of %zu bytes for Content-Range '%s'", q->len,
                 q->crange);
        else if (q->range && q->slicing && q->stream_off <= q->first)
            fail(q, FB_HTTP_ERANGE,
                 "range starts at byte %" PRIu64 ", past the end of a %" PRIu64 "-byte body",
                 q->first, q->stream_off);
        return;
    }
    const char *detail = q->curlerr[0] ? q->curlerr : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        fail(q, FB_HTTP_ECONNECT, "could not connect: %s", detail);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        fail(q, FB_HTTP_ETIMEOUT, "timed out: %s", detail);
        break;
    case CURLE_OUT_OF_MEMORY:
        fail(q, FB_ENOMEM, "out of memory");
        break;
    default:
        fail(q, FB_HTTP_ETRANSFER, "%s", detail);
        break;
    }
}

/* Reports q (already unlinked and out of the multi handle) and frees it. */
static void report(fb_http_req *q, int cancel_error)
{
    fb_http_result r;
    char *ip = NULL;
    long port = 0;
    memset(&r, 0, sizeof(r));
    if (cancel_error)
        fail(q, cancel_error, "cancelled");
    r.error = q->error;
    r.message = q->error ? q->msg : "";
    r.status = q->status;
    r.body = q->body && !q->error ? q->body : (const uint8_t *)"";
    r.len = q->error ? 0 : q->len;
    r.etag = q->has_etag ? q->etag : NULL;
    r.content_type = q->has_ctype ? q->ctype : NULL;
    r.content_length = q->clen;
    r.total_size = -1;
    if (q->have_cr && q->cr_total >= 0)
        r.total_size = q->cr_total;
    else if (q->status == 200 && !q->done_early && !q->error)
        r.total_size = (int64_t)q->stream_off;
    else if (q->status == 200 && q->clen >= 0)
        r.total_size = q->clen;
    if (curl_easy_getinfo(q->easy, CURLINFO_PRIMARY_IP, &ip) != CURLE_OK || ip == NULL)
        ip = "";
    if (curl_easy_getinfo(q->easy, CURLINFO_PRIMARY_PORT, &port) != CURLE_OK)
        port = 0;
    r.primary_ip = ip;
    r.primary_port = port;
    curl_off_t wire = -1;
    if (curl_easy_getinfo(q->easy, CURLINFO_SIZE_DOWNLOAD_T, &wire) != CURLE_OK)
        wire = -1;
    r.wire_len = (int64_t)wire;
    r.captured = q->has_cap[0] ? q->capval[0] : NULL;
    r.captured2 = q->has_cap[1] ? q->capval[1] : NULL;
    if (q->rawh && !q->error) {
        r.headers = q->rawh;
        r.headers_len = q->rawh_len;
    }
    q->reporting = true;
    q->c->dispatching++;
    q->cb(q->ctx, &r);
    q->c->dispatching--;
    release_req(q);
}

/* ---- the multi handle on the loop -------------------------------------------------------- */

static void teardown(fb_http_client *c);

static void after_callbacks(fb_http_client *c)
{
    if (c->closing && c->dispatching == 0)
        teardown(c);
}

static void collect_done(fb_http_client *c)
{
    CURLMsg *m;
    int left;
    c->dispatching++;
    while (!c->closing && (m = curl_multi_info_read(c->multi, &left)) != NULL) {
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result;
        fb_http_req *q = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&q);
        /* Out of the multi handle first: the connection goes back to the pool, so the
         * callback's next request can reuse it. */
        curl_multi_remove_handle(c->multi, e);
        unlink_req(q);
        judge(q, rc);
        report(q, 0);
    }
    c->dispatching--;
    after_callbacks(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    fb_http_client *c = h->data;
    if (h->type == UV_POLL)
        free((sockctx *)h); /* the poll handle is the first member */
    if (--c->open_handles == 0 && c->torn_down) {
        free(c->user_agent);
        free(c);
    }
}

static void close_sock(fb_http_client *c, sockctx *sc)
{
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        c->socks = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    uv_close((uv_handle_t *)&sc->poll, on_handle_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    sockctx *sc = (sockctx *)h;
    fb_http_client *c = sc->c;
    int flags = 0, running;
    if (c->torn_down)
        return;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(c->multi, sc->fd, flags, &running);
    collect_done(c);
}

static void on_timer(uv_timer_t *t)
{
    fb_http_client *c = t->data;
    int running;
    if (c->torn_down)
        return;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_done(c);
}

/* CURLMOPT_SOCKETFUNCTION: watch `s` for what curl wants, or stop watching it. */
static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    fb_http_client *c = userp;
    sockctx *sc = socketp;
    int events = 0;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (sc != NULL) {
            close_sock(c, sc);
            if (!c->torn_down)
                curl_multi_assign(c->multi, s, NULL);
        }
        return 0;
    }
    if (sc == NULL) {
        sc = calloc(1, sizeof(*sc));
        if (sc == NULL)
            return -1;
        if (uv_poll_init_socket(c->loop, &sc->poll, s) != 0) {
            free(sc);
            return -1;
        }
        sc->poll.data = c;
        sc->c = c;
        sc->fd = s;
        sc->next = c->socks;
        if (c->socks)
            c->socks->prev = sc;
        c->socks = sc;
        c->open_handles++;
        curl_multi_assign(c->multi, s, sc);
    }
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&sc->poll, events, on_poll);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: curl wants socket_action(TIMEOUT) in `ms` (never from in here). */
static int on_curl_timer(CURLM *m, long ms, void *userp)
{
    fb_http_client *c = userp;
    (void)m;
    if (c->torn_down)
        return 0;
    if (ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, (uint64_t)ms, 0);
    return 0;
}

static void teardown(fb_http_client *c)
{
    if (c->torn_down)
        return;
    c->torn_down = true;
    curl_multi_cleanup(c->multi); /* closes the pooled connections */
    c->multi = NULL;
    while (c->socks)
        close_sock(c, c->socks);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

int fb_http_client_new(uv_loop_t *loop, const fb_http_client_config *cfg, fb_http_client **out)
{
    fb_http_client_config d = {0};
    fb_http_client *c;
    *out = NULL;
    if (cfg)
        d = *cfg;
    if (d.max_requests == 0)
        d.max_requests = 256;
    if (d.max_connections == 0)
        d.max_connections = 32;
    if (d.max_host_connections == 0)
        d.max_host_connections = 8;
    if (loop == NULL)
        return FB_EINVAL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return FB_ENOMEM;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return FB_ENOMEM;
    c->loop = loop;
    c->max_reqs = d.max_requests;
    c->user_agent = strdup(d.user_agent ? d.user_agent : "flashback/" FB_VERSION);
    c->multi = curl_multi_init();
    if (c->user_agent == NULL || c->multi == NULL) {
        if (c->multi)
            curl_multi_cleanup(c->multi);
        free(c->user_agent);
        free(c);
        return FB_ENOMEM;
    }
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 1;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)d.max_connections);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)d.max_host_connections);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)d.max_connections);
    *out = c;
    return 0;
}

void fb_http_client_free(fb_http_client *c)
{
    if (c == NULL || c->closing)
        return;
    c->closing = true;
    c->dispatching++;
    while (c->reqs) {
        fb_http_req *q = c->reqs;
        curl_multi_remove_handle(c->multi, q->easy);
        unlink_req(q);
        report(q, FB_HTTP_ECANCELED);
    }
    c->dispatching--;
    after_callbacks(c);
}

uint32_t fb_http_client_pending(const fb_http_client *c)
{
    return c->n_reqs;
}

/* An If-Range value we are willing to send: printable, no CR/LF, short. */
static bool header_value_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n >= HDR_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return false;
    return true;
}

static bool header_name_ok(const char *v);

/* A request header line: a token, a colon, then a value we are willing to send. */
static bool header_line_ok(const char *line)
{
    const char *colon = strchr(line, ':');
    char name[CAPNAME_MAX];
    size_t n = colon ? (size_t)(colon - line) : 0;
    if (n == 0 || n >= CAPNAME_MAX || strlen(colon) > LINE_MAX_SENT)
        return false;
    memcpy(name, line, n);
    name[n] = '\0';
    if (!header_name_ok(name))
        return false;
    for (const char *v = colon + 1; *v; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7f)
            return false;
    return true;
}

/* A header name: an RFC 9110 token of 1..CAPNAME_MAX-1 bytes. */
static bool header_name_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n >= CAPNAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch <= 0x20 || ch >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", ch))
            return false;
    }
    return true;
}

int fb_http_get(fb_http_client *c, const fb_http_client_request *req, fb_http_cb cb, void *ctx,
                fb_http_req **out)
{
    fb_http_req *q;
    CURL *e;
    char range[48];
    uint32_t cto, to;
    if (out)
        *out = NULL;
    if (c == NULL || c->closing || req == NULL || req->url == NULL || cb == NULL ||
        req->max_body == 0)
        return FB_EINVAL;
    if (req->range &&
        (req->range_first > req->range_last || req->range_last - req->range_first >= req->max_body))
        return FB_EINVAL;
    if (req->if_range && !header_value_ok(req->if_range))
        return FB_EINVAL;
    if ((req->capture_header && !header_name_ok(req->capture_header)) ||
        (req->capture_header2 && !header_name_ok(req->capture_header2)))
        return FB_EINVAL;
    if (req->n_headers > 8 || (req->n_headers && !req->headers))
        return FB_EINVAL;
    for (size_t i = 0; i < req->n_headers; i++)
        if (!header_line_ok(req->headers[i]))
            return FB_EINVAL;
    if (c->n_reqs >= c->max_reqs)
        return FB_ENOSPC;
    q = calloc(1, sizeof(*q));
    if (q == NULL)
        return FB_ENOMEM;
    q->c = c;
    q->cb = cb;
    q->ctx = ctx;
    q->max_body = req->max_body;
    q->range = req->range;
    q->first = req->range_first;
    q->last = req->range_last;
    q->url = strdup(req->url);
    q->easy = e = curl_easy_init();
    q->any_status = req->any_status;
    if (req->keep_headers) {
        q->rawh_cap = req->keep_headers;
        q->rawh = malloc(q->rawh_cap);
    }
    if (q->url == NULL || e == NULL || (req->keep_headers && q->rawh == NULL)) {
        release_req(q);
        return FB_ENOMEM;
    }
    reset_answer(q);
    cto = req->connect_timeout_ms ? req->connect_timeout_ms : 5000;
    to = req->timeout_ms ? req->timeout_ms : 30000;
    curl_easy_setopt(e, CURLOPT_URL, q->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, q);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, req->max_redirects ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)req->max_redirects);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)cto);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)to);
    curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->curlerr);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
    if (q->range) {
        snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, q->first, q->last);
        curl_easy_setopt(e, CURLOPT_RANGE, range); /* curl copies it */
        if (req->if_range) {
            char line[HDR_MAX + 16];
            struct curl_slist *l;
            snprintf(line, sizeof(line), "If-Range: %s", req->if_range);
            l = curl_slist_append(NULL, line); /* copies the line */
            if (l == NULL) {
                release_req(q);
                return FB_ENOMEM;
            }
            q->hdrs = l;
        }
    }
    for (size_t i = 0; i < req->n_headers; i++) {
        struct curl_slist *l = curl_slist_append(q->hdrs, req->headers[i]); /* copies */
        if (l == NULL) {
            release_req(q);
            return FB_ENOMEM;
        }
        q->hdrs = l;
    }
    if (q->hdrs)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->hdrs);
    if (req->capture_header)
        snprintf(q->capname[0], sizeof(q->capname[0]), "%s", req->capture_header);
    if (req->capture_header2)
        snprintf(q->capname[1], sizeof(q->capname[1]), "%s", req->capture_header2);
    if (req->accept_gzip)
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip"); /* curl decodes the body */
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        release_req(q);
        return FB_ENOMEM;
    }
    q->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = q;
    c->reqs = q;
    c->n_reqs++;
    if (out)
        *out = q;
    return 0;
}

void fb_http_cancel(fb_http_req *q)
{
    if (q == NULL || q->reporting)
        return;
    curl_multi_remove_handle(q->c->multi, q->easy);
    unlink_req(q);
    release_req(q);
}
