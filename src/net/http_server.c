/* HTTP/1.1 connections on libuv, with the sockets owned here (uv_poll_t) so that responses go out
 * with sendmsg (head + memory body in one call) or send + sendfile (head, then file pages), on the
 * loop thread, without copies. The life of a connection:
 *
 *   accept -> ST_HEAD: read into the loop-wide buffer, parse; a partial head is copied into a
 *             per-connection buffer (freed as soon as it is consumed)
 *          -> ST_BODY: a request body is read and discarded (its head kept aside), then the
 *             request is dispatched
 *          -> dispatch: the handler answers; the response is written at once when the socket
 *             takes it, else the unsent head is copied and the connection waits for POLLOUT.
 *             Or the handler defers (fb_http_defer): the exchange moves to the heap, the
 *             connection reads nothing more (it only watches for the client going away) until
 *             the owner answers, then resumes from the loop (POLLOUT fires at once)
 *          -> ST_HEAD again (keep-alive, pipelined requests processed in order), or ST_LINGER
 *             (after an error: shut down our side, drain input briefly, close).
 *
 * Every connection sits in exactly one timeout list (header, idle, send, linger, defer). Each
 * list's timeout is a constant, so appending keeps it sorted by deadline and one timer serves them
 * all. */
#include "net/http_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/http_date.h"
#include "core/http_resp.h"
#include "net/sockaddr.h"

enum { ST_HEAD, ST_BODY, ST_LINGER };
enum { TL_HEADER, TL_IDLE, TL_SEND, TL_LINGER, TL_DEFER, TL_COUNT, TL_NONE = -1 };

#define SENDFILE_CHUNK (4u << 20) /* per sendfile call: fairness between large responses */
#define ACCEPT_BATCH   128

typedef struct conn conn;

/* The log fields of a response that did not complete at once, copied out of the read buffer. */
typedef struct pending_log {
    fb_access_entry e;
    char text[];
} pending_log;

struct conn {
    uv_poll_t poll;
    fb_http_server *srv;
    conn *tprev, *tnext; /* timeout list */
    uint64_t deadline;   /* loop time (ms) */
    int fd;
    int8_t tl;        /* which timeout list, or TL_NONE */
    uint8_t state;    /* ST_* */
    uint8_t events;   /* UV_READABLE / UV_WRITABLE currently watched */
    bool got_bytes;   /* part of the next request has arrived */
    bool close_after; /* close once the current response is out */
    bool closing;     /* fd closed; memory freed in the close callback */
    bool pending;     /* a response is being written */
    bool chunked;     /* ST_BODY: the body uses the chunked coding */
    int status;       /* of the response being written */
    fb_addr peer;
    /* Input kept across reads: a partial head or unprocessed pipelined requests (ST_HEAD), or
     * the head whose body is being discarded (ST_BODY: in[0..head_len)). NULL when empty. */
    char *in;
    uint32_t in_len, in_cap;
    uint32_t scanned;  /* bytes of `in` the parser has already seen (its prev_len) */
    uint32_t head_len; /* ST_BODY */
    uint64_t body_left;
    fb_http_chunked ch;
    /* Output in flight: out[out_off..out_len) (owned), then the file part. */
    char *out;
    uint32_t out_len, out_off;
    uint32_t hdr_left; /* bytes at the start of out[out_off..] that belong to the head */
    fb_file *file;
    uint64_t file_off, file_left;
    uint64_t body_sent;
    pending_log *plog;
    fb_http_exchange *deferred; /* the handler's deferred exchange, until answered */
};

struct fb_http_exchange {
    conn *c;
    const fb_http_request *req; /* NULL for errors found before a request was parsed, and once
                                   deferred (the fields below keep what the reply needs) */
    bool replied;
    bool deferred;   /* on the heap (fb_http_defer), owned by c->deferred */
    bool has_req;    /* a request was parsed */
    bool keep_alive; /* of the request */
    bool head;       /* a HEAD request */
    int minor;       /* HTTP/1.minor of the request */
    int64_t now;
    pending_log *dlog; /* deferred: the request's log fields, copied */
    fb_http_cancel_cb cancel;
    void *cancel_arg;
};

typedef struct tlist {
    conn *head, *tail;
} tlist;

struct fb_http_server {
    uv_loop_t *loop;
    fb_http_config cfg;
    fb_http_limits limits;
    fb_http_handler handler;
    void *ctx;
    uv_poll_t listen_poll;
    int listen_fd;
    bool listening;
    int spare_fd; /* kept open to shed a connection when out of descriptors */
    uv_timer_t timer;
    uint64_t timer_due;
    bool timer_armed;
    uv_prepare_t prepare; /* flushes the access log once per loop turn */
    uv_timer_t stop_timer;
    tlist lists[TL_COUNT];
    uint32_t list_ms[TL_COUNT];
    char *rbuf; /* loop-wide read buffer */
    size_t rbuf_cap;
    char *hbuf; /* response head scratch */
    size_t hbuf_cap;
    char *logline; /* FB_ACCESS_LINE_MAX scratch */
    fb_http_header *headers;
    fb_access_log *log;
    fb_http_stats stats;
    uint64_t conns_alloc; /* connections whose memory is not yet freed */
    int64_t date_sec;
    char date[FB_HTTP_DATE_LEN + 1];
    bool stopping;
    int handles_open; /* of listen_poll, timer, prepare, stop_timer */
    void (*done)(void *);
    void *done_arg;
};

static void on_conn_poll(uv_poll_t *h, int status, int events);
static void process(conn *c, char *data, size_t len, bool saved);

void fb_http_config_default(fb_http_config *c)
{
    c->max_head = 8192;
    c->max_headers = 64;
    c->max_body = 1 << 20;
    c->header_timeout_ms = 10000;
    c->keepalive_timeout_ms = 30000;
    c->send_timeout_ms = 60000;
    c->linger_ms = 2000;
    c->max_conns = 10000;
    c->read_buf = 16 * 1024;
    c->defer_timeout_ms = 60000;
    c->server_name = "flashbackd";
}

static int64_t now_sec(fb_http_server *s)
{
    int64_t t = (int64_t)time(NULL);
    if (t != s->date_sec) {
        s->date_sec = t;
        fb_http_date_format(t, s->date);
    }
    return t;
}

/* ---- timeout lists ---- */

static void timer_arm(fb_http_server *s, uint64_t due);

static void tl_remove(conn *c)
{
    if (c->tl == TL_NONE)
        return;
    tlist *l = &c->srv->lists[c->tl];
    if (c->tprev)
        c->tprev->tnext = c->tnext;
    else
        l->head = c->tnext;
    if (c->tnext)
        c->tnext->tprev = c->tprev;
    else
        l->tail = c->tprev;
    c->tprev = c->tnext = NULL;
    c->tl = TL_NONE;
}

/* Moves c to the tail of list `which` with a deadline of now + that list's timeout. */
static void tl_set(conn *c, int which)
{
    fb_http_server *s = c->srv;
    tl_remove(c);
    tlist *l = &s->lists[which];
    c->tprev = l->tail;
    c->tnext = NULL;
    if (l->tail)
        l->tail->tnext = c;
    else
        l->head = c;
    l->tail = c;
    c->tl = (int8_t)which;
    c->deadline = uv_now(s->loop) + s->list_ms[which];
    timer_arm(s, c->deadline);
}

/* ---- connection basics ---- */

static void set_events(conn *c, int ev)
{
    if (c->events == ev || c->closing)
        return;
    c->events = (uint8_t)ev;
    uv_poll_start(&c->poll, ev, on_conn_poll);
}

static void maybe_done(fb_http_server *s);

static void free_input(conn *c)
{
    free(c->in);
    c->in = NULL;
    c->in_len = c->in_cap = c->scanned = c->head_len = 0;
}

static void write_log(conn *c, const fb_access_entry *e)
{
    fb_http_server *s = c->srv;
    size_t n = fb_access_log_format(e, s->logline);
    fb_access_log_append(s->log, s->logline, n);
}

static void log_pending(conn *c)
{
    if (!c->plog)
        return;
    if (c->srv->log) {
        c->plog->e.bytes = c->body_sent;
        write_log(c, &c->plog->e);
    }
    free(c->plog);
    c->plog = NULL;
}

static void on_conn_closed(uv_handle_t *h)
{
    conn *c = h->data;
    fb_http_server *s = c->srv;
    free(c->in);
    free(c->out);
    free(c);
    s->conns_alloc--;
    maybe_done(s);
}

static void free_exchange(fb_http_exchange *d)
{
    free(d->dlog);
    free(d);
}

/* Tells the owner of the connection's deferred exchange that it will never be answered, and
 * frees it. */
static void defer_drop(conn *c)
{
    fb_http_exchange *d = c->deferred;
    if (!d)
        return;
    c->deferred = NULL;
    if (d->cancel)
        d->cancel(d->cancel_arg, d);
    free_exchange(d);
}

/* Closes the socket now; memory goes in the close callback. Idempotent. */
static void conn_close(conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    defer_drop(c);
    log_pending(c);
    tl_remove(c);
    if (c->file) {
        fb_file_release(NULL, c->file);
        c->file = NULL;
    }
    uv_close((uv_handle_t *)&c->poll, on_conn_closed);
    close(c->fd);
    c->srv->stats.conns_active--;
}

/* Closes with a reset: whatever the kernel still buffers for this peer is dropped instead of
 * trickling out after we gave up on it (send timeout, shutdown deadline). */
static void conn_abort(conn *c)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    if (!c->closing)
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    conn_close(c);
}

static void begin_linger(conn *c)
{
    fb_http_server *s = c->srv;
    if (s->cfg.linger_ms == 0 || shutdown(c->fd, SHUT_WR) != 0) {
        conn_close(c);
        return;
    }
    c->state = ST_LINGER;
    set_events(c, UV_READABLE);
    tl_set(c, TL_LINGER);
}

/* ---- writing ---- */

static void account(conn *c, size_t n)
{
    size_t h = FB_MIN((size_t)c->hdr_left, n);
    c->hdr_left -= (uint32_t)h;
    c->body_sent += n - h;
    c->srv->stats.bytes_sent += n;
    c->srv->stats.body_bytes_sent += n - h;
}

static bool would_block(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* Writes the file part. Returns 0 when done, 1 when the socket is full, -1 on error. */
static int flush_file(conn *c)
{
    while (c->file_left > 0) {
        ssize_t n;
        size_t want;
        if (c->file->data) {
            want = (size_t)c->file_left;
            n = send(c->fd, c->file->data + c->file_off, want, MSG_NOSIGNAL);
        } else {
            off_t off = (off_t)c->file_off;
            want = (size_t)FB_MIN(c->file_left, (uint64_t)SENDFILE_CHUNK);
            n = sendfile(c->fd, c->file->fd, &off, want);
            if (n == 0)
                return -1; /* the file shrank under us: the promised length cannot be met */
        }
        if (n < 0)
            return would_block() ? 1 : -1;
        account(c, (size_t)n);
        c->file_off += (uint64_t)n;
        c->file_left -= (uint64_t)n;
        if ((size_t)n < want)
            return c->file_left ? 1 : 0; /* short write: the socket buffer is full */
    }
    return 0;
}

/* Writes pending output. Returns 0 when the response is complete, 1 when the socket is full, -1
 * on error. */
static int flush(conn *c)
{
    while (c->out_off < c->out_len) {
        int more = c->file && c->file_left && !c->file->data ? MSG_MORE : 0;
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | more);
        if (n < 0)
            return would_block() ? 1 : -1;
        account(c, (size_t)n);
        c->out_off += (uint32_t)n;
    }
    if (c->file && c->file_left)
        return flush_file(c);
    return 0;
}

static void finish_response(conn *c)
{
    c->pending = false;
    if (c->file) {
        fb_file_release(NULL, c->file);
        c->file = NULL;
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = c->hdr_left = 0;
    c->file_off = c->file_left = 0;
    if (c->close_after)
        begin_linger(c);
}

/* The output could not all be written now: keep the unsent head bytes (and, for a memory body
 * that no file entry pins, the unsent body bytes) and wait for the socket. */
static bool go_pending(conn *c, const char *hdr, size_t hlen, const char *mem, size_t mlen,
                       size_t sent)
{
    size_t hrest = sent < hlen ? hlen - sent : 0;
    size_t mdone = sent > hlen ? sent - hlen : 0;
    size_t mrest = mlen - mdone;
    size_t n = hrest + mrest;
    if (n > 0) {
        c->out = malloc(n);
        if (!c->out)
            return false;
        memcpy(c->out, hdr + hlen - hrest, hrest);
        if (mem)
            memcpy(c->out + hrest, mem + mdone, mrest);
    }
    c->out_len = (uint32_t)n;
    c->out_off = 0;
    c->hdr_left = (uint32_t)hrest;
    c->pending = true;
    set_events(c, UV_WRITABLE);
    tl_set(c, TL_SEND);
    return true;
}

/* Sends head + body. The body is either mem[0..mlen) (not pinned: copied if it has to wait) or
 * the file part already set up in c->file/file_off/file_left (pinned by a reference).
 * Returns 0 when complete, 1 when pending, -1 when the connection failed. */
static int start_output(conn *c, const char *hdr, size_t hlen, const char *mem, size_t mlen)
{
    struct iovec iov[2];
    struct msghdr msg;
    int niov = 0;
    bool file_mem = c->file && c->file->data && c->file_left;
    bool file_fd = c->file && !c->file->data && c->file_left;

    iov[niov].iov_base = (void *)hdr;
    iov[niov++].iov_len = hlen;
    if (mem && mlen) {
        iov[niov].iov_base = (void *)mem;
        iov[niov++].iov_len = mlen;
    } else if (file_mem) {
        mem = NULL;
        mlen = (size_t)c->file_left;
        iov[niov].iov_base = (void *)(c->file->data + c->file_off);
        iov[niov++].iov_len = mlen;
    }
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t)niov;
    c->hdr_left = (uint32_t)hlen;
    ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | (file_fd ? MSG_MORE : 0));
    if (n < 0) {
        if (!would_block())
            return -1;
        n = 0;
    }
    account(c, (size_t)n);
    size_t total = hlen + mlen;
    if ((size_t)n < total) {
        if (file_mem) {
            size_t mdone = (size_t)n > hlen ? (size_t)n - hlen : 0;
            c->file_off += mdone;
            c->file_left -= mdone;
            mlen = 0;
        }
        size_t sent = file_mem ? FB_MIN((size_t)n, hlen) : (size_t)n;
        return go_pending(c, hdr, hlen, mem, mlen, sent) ? 1 : -1;
    }
    if (file_mem) {
        c->file_off += c->file_left;
        c->file_left = 0;
    }
    if (file_fd) {
        c->hdr_left = 0;
        int rc = flush_file(c);
        if (rc == 1)
            return go_pending(c, NULL, 0, NULL, 0, 0) ? 1 : -1;
        return rc;
    }
    return 0;
}

static void fill_log_entry(conn *c, const fb_http_request *req, int64_t now, fb_access_entry *e)
{
    memset(e, 0, sizeof(*e));
    e->peer = &c->peer;
    e->time = now;
    e->status = c->status;
    if (!req)
        return;
    /* method SP target SP HTTP/x.y is contiguous in the request head */
    e->request_line = req->method;
    e->request_line_len = (size_t)(req->target + req->target_len + 9 - req->method);
    const fb_http_header *h = fb_http_find_header(req, "referer");
    if (h) {
        e->referer = h->value;
        e->referer_len = h->value_len;
    }
    h = fb_http_find_header(req, "user-agent");
    if (h) {
        e->agent = h->value;
        e->agent_len = h->value_len;
    }
}

/* Copies the log fields of a response that is still being written. */
static pending_log *save_log(const fb_access_entry *e)
{
    size_t rl = FB_MIN(e->request_line_len, (size_t)FB_ACCESS_FIELD_MAX);
    size_t rf = FB_MIN(e->referer_len, (size_t)FB_ACCESS_FIELD_MAX);
    size_t ag = FB_MIN(e->agent_len, (size_t)FB_ACCESS_FIELD_MAX);
    pending_log *p = malloc(sizeof(*p) + rl + rf + ag + 1);
    if (!p)
        return NULL;
    p->e = *e;
    char *t = p->text;
    if (e->request_line) {
        memcpy(t, e->request_line, rl);
        p->e.request_line = t;
        p->e.request_line_len = rl;
        t += rl;
    }
    if (e->referer) {
        memcpy(t, e->referer, rf);
        p->e.referer = t;
        p->e.referer_len = rf;
        t += rf;
    }
    if (e->agent) {
        memcpy(t, e->agent, ag);
        p->e.agent = t;
        p->e.agent_len = ag;
    }
    return p;
}

void fb_http_reply_send(fb_http_exchange *x, const fb_http_reply *r)
{
    conn *c = x->c;
    fb_http_server *s = c->srv;
    const fb_http_request *req = x->req;
    static const char fallback[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                                   "Connection: close\r\n\r\n";
    if (x->replied || c->closing)
        return;
    x->replied = true;
    if (x->deferred) {
        c->deferred = NULL; /* answered: x is freed below */
        x->now = now_sec(s);
    }

    bool close = r->close || c->close_after || s->stopping || !x->has_req || !x->keep_alive;
    fb_wbuf b;
    fb_wbuf_init(&b, s->hbuf, s->hbuf_cap);
    fb_wbuf_puts(&b, "HTTP/1.1 ");
    fb_wbuf_u64(&b, (uint64_t)r->status);
    fb_wbuf_puts(&b, " ");
    fb_wbuf_puts(&b, fb_http_reason(r->status));
    fb_wbuf_puts(&b, "\r\nServer: ");
    fb_wbuf_puts(&b, s->cfg.server_name ? s->cfg.server_name : "flashbackd");
    fb_wbuf_puts(&b, "\r\nDate: ");
    fb_wbuf_put(&b, s->date, FB_HTTP_DATE_LEN);
    fb_wbuf_puts(&b, "\r\n");
    if (r->headers)
        fb_wbuf_put(&b, r->headers, r->headers_len);
    if (r->headers2)
        fb_wbuf_put(&b, r->headers2, r->headers2_len);
    if (r->has_length) {
        fb_wbuf_puts(&b, "Content-Length: ");
        fb_wbuf_u64(&b, r->length);
        fb_wbuf_puts(&b, "\r\n");
    }
    if (close)
        fb_wbuf_puts(&b, "Connection: close\r\n");
    else if (x->minor == 0)
        fb_wbuf_puts(&b, "Connection: keep-alive\r\n");
    fb_wbuf_puts(&b, "\r\n");

    const char *hdr = s->hbuf;
    size_t hlen = b.len;
    const char *mem = NULL;
    size_t mlen = 0;
    c->status = r->status;
    if (b.overflow) {
        hdr = fallback;
        hlen = sizeof(fallback) - 1;
        close = true;
        c->status = 500;
    } else if (!r->head_only && r->length > 0) {
        if (r->file) {
            fb_file_ref(r->file);
            c->file = r->file;
            c->file_off = r->offset;
            c->file_left = r->length;
        } else {
            mem = r->body;
            mlen = (size_t)r->length;
        }
    }
    c->close_after = close;
    c->body_sent = 0;
    s->stats.responses[c->status / 100 % 6]++;

    int rc = start_output(c, hdr, hlen, mem, mlen);
    fb_access_entry e;
    if (s->log) {
        if (x->dlog) {
            e = x->dlog->e;
            e.time = x->now;
            e.status = c->status;
        } else {
            fill_log_entry(c, req, x->now, &e);
        }
    }
    if (rc == 1) {
        if (s->log)
            c->plog = save_log(&e);
    } else {
        if (s->log) {
            e.bytes = c->body_sent;
            write_log(c, &e);
        }
        if (rc < 0)
            conn_close(c);
        else
            finish_response(c);
    }
    if (x->deferred) {
        free_exchange(x);
        /* The connection waited for this answer: go on with it from the loop, not from the
         * owner's call (which may be in the middle of its own work). A pending write resumes
         * by itself when the socket drains. */
        if (rc == 0 && !c->closing && c->state == ST_HEAD) {
            tl_set(c, TL_IDLE);
            set_events(c, UV_READABLE | UV_WRITABLE);
        }
    }
}

void fb_http_reply_status(fb_http_exchange *x, int status, const char *headers, bool close)
{
    static const char plain[] = "Content-Type: text/plain; charset=utf-8\r\n";
    char body[64];
    fb_wbuf b;
    fb_wbuf_init(&b, body, sizeof(body));
    fb_wbuf_u64(&b, (uint64_t)status);
    fb_wbuf_puts(&b, " ");
    fb_wbuf_puts(&b, fb_http_reason(status));
    fb_wbuf_puts(&b, "\n");
    fb_http_reply r = {
        .status = status,
        .headers = plain,
        .headers_len = sizeof(plain) - 1,
        .headers2 = headers,
        .headers2_len = headers ? strlen(headers) : 0,
        .has_length = true,
        .length = b.len,
        .body = body,
        .head_only = x->head,
        .close = close,
    };
    fb_http_reply_send(x, &r);
}

int64_t fb_http_exchange_time(const fb_http_exchange *x)
{
    return x->now;
}

const fb_addr *fb_http_exchange_peer(const fb_http_exchange *x)
{
    return &x->c->peer;
}

/* An answer to something that never became a request (bad head, timeout, oversized body). */
static void reply_error(conn *c, int status)
{
    fb_http_exchange x = {.c = c, .req = NULL, .now = now_sec(c->srv)};
    fb_http_reply_status(&x, status, NULL, true);
}

static void dispatch(conn *c, const fb_http_request *req)
{
    fb_http_server *s = c->srv;
    fb_http_exchange x = {.c = c,
                          .req = req,
                          .has_req = true,
                          .keep_alive = req->keep_alive,
                          .head = req->meth == FB_HTTP_HEAD,
                          .minor = req->minor,
                          .now = now_sec(s)};
    s->stats.requests++;
    s->handler(s->ctx, &x, req);
    if (!x.replied)
        fb_http_reply_status(&x, 500, NULL, true);
}

fb_http_exchange *fb_http_defer(fb_http_exchange *x, fb_http_cancel_cb cancel, void *arg)
{
    conn *c = x->c;
    fb_http_server *s = c->srv;
    if (x->replied || x->deferred || !x->req || c->deferred || c->closing)
        return NULL;
    fb_http_exchange *d = malloc(sizeof(*d));
    if (!d)
        return NULL;
    *d = *x;
    d->deferred = true;
    d->cancel = cancel;
    d->cancel_arg = arg;
    d->dlog = NULL;
    if (s->log) {
        fb_access_entry e;
        fill_log_entry(c, x->req, x->now, &e);
        d->dlog = save_log(&e);
        if (!d->dlog) {
            free(d);
            return NULL;
        }
    }
    d->req = NULL;
    x->replied = true; /* the stack exchange is done with; d answers */
    c->deferred = d;
    c->status = 0;
    tl_set(c, TL_DEFER);
    set_events(c, UV_READABLE); /* to notice the client going away */
    return d;
}

/* ---- reading ---- */

/* Keeps data[0..n) as the connection's saved input. With `saved`, data already lies in c->in. */
static bool save_input(conn *c, const char *data, size_t n, bool saved)
{
    if (saved) {
        memmove(c->in, data, n);
        c->in_len = (uint32_t)n;
        return true;
    }
    size_t need = FB_MAX(n, c->srv->cfg.max_head + 1);
    if (c->in_cap < need) {
        char *p = realloc(c->in, need);
        if (!p)
            return false;
        c->in = p;
        c->in_cap = (uint32_t)need;
    }
    memcpy(c->in, data, n);
    c->in_len = (uint32_t)n;
    return true;
}

/* Feeds body bytes to the discarder. Returns 0 when the body is complete, FB_EAGAIN when every
 * byte was used and more are needed, or FB_EPROTO / FB_E2BIG. */
static int body_feed(conn *c, const char *p, size_t n, size_t *used)
{
    if (!c->chunked) {
        size_t k = (size_t)FB_MIN((uint64_t)n, c->body_left);
        c->body_left -= k;
        *used = k;
        return c->body_left ? FB_EAGAIN : 0;
    }
    size_t off = 0;
    for (;;) {
        size_t u = 0, dl;
        const char *d;
        int rc = fb_http_chunked_next(&c->ch, p + off, n - off, &u, &d, &dl);
        off += u;
        if (rc != 1) {
            *used = off;
            return rc;
        }
    }
}

static void body_error(conn *c, int rc)
{
    c->state = ST_HEAD;
    c->srv->stats.parse_errors++;
    reply_error(c, rc == FB_E2BIG ? 413 : 400);
}

/* The body of the saved head is complete: dispatch it. */
static void dispatch_saved(conn *c)
{
    fb_http_server *s = c->srv;
    fb_http_request req;
    memset(&req, 0, sizeof(req));
    req.headers = s->headers;
    c->state = ST_HEAD;
    if (fb_http_parse_request(c->in, c->head_len, 0, &s->limits, &req) != (int)c->head_len) {
        reply_error(c, 500); /* cannot happen: the same bytes parsed before */
        return;
    }
    dispatch(c, &req);
}

/* Processes data[0..len): heads, bodies and dispatches, in order, until the data is used up, a
 * response has to wait for the socket, or the connection is closing. Whatever is left is kept in
 * c->in. With `saved`, data is c->in itself. */
static void process(conn *c, char *data, size_t len, bool saved)
{
    fb_http_server *s = c->srv;
    size_t off = 0;
    while (off < len && !c->pending && !c->deferred && !c->closing && c->state != ST_LINGER) {
        if (c->state == ST_BODY) {
            size_t used = 0;
            int rc = body_feed(c, data + off, len - off, &used);
            off += used;
            if (rc == FB_EAGAIN)
                break;
            if (rc < 0) {
                body_error(c, rc);
                break;
            }
            dispatch_saved(c);
            /* data is the loop buffer here (ST_BODY reads there), so c->in can go. */
            if (!saved)
                free_input(c);
            continue;
        }
        fb_http_request req;
        memset(&req, 0, sizeof(req));
        req.headers = s->headers;
        size_t prev = saved && off == 0 ? c->scanned : 0;
        int r = fb_http_parse_request(data + off, len - off, prev, &s->limits, &req);
        if (r == FB_EAGAIN) {
            if (!c->got_bytes) {
                c->got_bytes = true;
                tl_set(c, TL_HEADER);
            }
            break;
        }
        if (r < 0) {
            s->stats.parse_errors++;
            reply_error(c, req.status);
            break;
        }
        c->got_bytes = false;
        c->scanned = 0;
        off += (size_t)r;
        if (req.body == FB_HTTP_BODY_NONE) {
            dispatch(c, &req);
            continue;
        }
        if (req.body == FB_HTTP_BODY_LENGTH && req.content_length > s->cfg.max_body) {
            s->stats.parse_errors++;
            reply_error(c, 413);
            break;
        }
        c->chunked = req.body == FB_HTTP_BODY_CHUNKED;
        c->body_left = req.content_length;
        if (c->chunked)
            fb_http_chunked_init(&c->ch, s->cfg.max_body, 4096);
        size_t used = 0;
        int rc = body_feed(c, data + off, len - off, &used);
        if (rc == 0) {
            off += used;
            dispatch(c, &req);
            continue;
        }
        if (rc != FB_EAGAIN) {
            body_error(c, rc);
            break;
        }
        /* The body continues in later reads: keep the head, discard body bytes as they come. */
        char *head = data + off - r;
        if (!save_input(c, head, (size_t)r, saved)) {
            conn_close(c);
            return;
        }
        c->head_len = (uint32_t)r;
        c->state = ST_BODY;
        tl_set(c, TL_HEADER);
        return; /* every byte was used */
    }
    if (c->closing)
        return;
    if (c->state == ST_LINGER) {
        free_input(c); /* nothing more is read from this connection */
        return;
    }
    if (c->state == ST_BODY)
        return; /* the saved head stays */
    if (off < len) {
        if (!save_input(c, data + off, len - off, saved)) {
            conn_close(c);
            return;
        }
        c->scanned = c->pending || c->deferred ? 0 : c->in_len;
    } else if (saved || c->in) {
        free_input(c);
    }
}

/* After input was processed or a response completed: watch for the next thing to happen. */
static void settle(conn *c)
{
    if (c->closing || c->pending || c->deferred || c->state != ST_HEAD)
        return;
    if (c->in_len == 0 && !c->got_bytes) {
        if (c->srv->stopping) {
            conn_close(c);
            return;
        }
        tl_set(c, TL_IDLE); /* the keep-alive timeout starts again */
    }
    set_events(c, UV_READABLE);
}

/* A connection whose request is deferred is readable: the client closed it (or reset it), or
 * sent more (pipelining), which stays in the socket until the answer is out. */
static void deferred_readable(conn *c)
{
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK);
    if (n == 0 || (n < 0 && !would_block()))
        conn_close(c); /* tells the owner */
    else if (n > 0)
        set_events(c, 0); /* level-triggered: stop watching until the answer is out */
}

static void conn_read(conn *c)
{
    fb_http_server *s = c->srv;
    if (c->deferred) {
        deferred_readable(c);
        return;
    }
    bool saved = c->state == ST_HEAD && c->in_len > 0;
    char *dst = saved ? c->in + c->in_len : s->rbuf;
    size_t cap = saved ? c->in_cap - c->in_len : s->rbuf_cap;
    if (cap == 0) {
        /* cannot happen: a saved head is shorter than max_head < in_cap */
        reply_error(c, 431);
        return;
    }
    ssize_t n = recv(c->fd, dst, cap, 0);
    if (n < 0) {
        if (!would_block())
            conn_close(c);
        return;
    }
    if (n == 0) {
        conn_close(c); /* the peer is done; nothing of ours is pending while we read */
        return;
    }
    if (c->state == ST_LINGER)
        return; /* drained and dropped */
    if (saved) {
        c->in_len += (uint32_t)n;
        process(c, c->in, c->in_len, true);
    } else {
        process(c, dst, (size_t)n, false);
    }
    settle(c);
}

static void conn_writable(conn *c)
{
    uint64_t before = c->srv->stats.bytes_sent;
    int rc = flush(c);
    if (rc < 0) {
        conn_close(c);
        return;
    }
    if (rc == 1) {
        if (c->srv->stats.bytes_sent != before)
            tl_set(c, TL_SEND); /* progress: the send timeout starts again */
        return;
    }
    log_pending(c);
    finish_response(c);
    if (c->closing || c->state == ST_LINGER)
        return;
    if (c->in_len > 0)
        process(c, c->in, c->in_len, true);
    settle(c);
}

static void on_conn_poll(uv_poll_t *h, int status, int events)
{
    conn *c = h->data;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->pending) {
        if (events & UV_WRITABLE)
            conn_writable(c);
        return;
    }
    if (!c->deferred && (c->events & UV_WRITABLE)) {
        /* A deferred answer went out whole: process what arrived meanwhile, then read on. */
        set_events(c, UV_READABLE);
        if (c->in_len > 0)
            process(c, c->in, c->in_len, true);
        settle(c);
        return;
    }
    if (events & UV_READABLE)
        conn_read(c);
}

/* ---- accepting ---- */

static void refuse(fb_http_server *s, int fd)
{
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n";
    ssize_t n = send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)n;
    close(fd);
    s->stats.conns_refused++;
}

static void conn_new(fb_http_server *s, int fd, const struct sockaddr_storage *ss)
{
    conn *c = calloc(1, sizeof(*c));
    if (!c || uv_poll_init_socket(s->loop, &c->poll, fd) != 0) {
        free(c);
        refuse(s, fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->poll.data = c;
    c->srv = s;
    c->fd = fd;
    c->tl = TL_NONE;
    c->state = ST_HEAD;
    fb_sockaddr_to_addr(&c->peer, (const struct sockaddr *)ss);
    s->conns_alloc++;
    s->stats.conns_accepted++;
    if (++s->stats.conns_active > s->stats.conns_peak)
        s->stats.conns_peak = s->stats.conns_active;
    set_events(c, UV_READABLE);
    tl_set(c, TL_HEADER);
}

static void on_listen(uv_poll_t *h, int status, int events)
{
    fb_http_server *s = h->data;
    (void)events;
    if (status < 0)
        return;
    for (int i = 0; i < ACCEPT_BATCH && s->listening; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if ((errno == EMFILE || errno == ENFILE) && s->spare_fd >= 0) {
                /* Out of descriptors: use the spare one to take the connection off the queue
                 * and refuse it, rather than spin on a listen socket that stays readable. */
                close(s->spare_fd);
                fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd >= 0)
                    refuse(s, fd);
                s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                continue;
            }
            break;
        }
        if (s->stats.conns_active >= s->cfg.max_conns) {
            refuse(s, fd);
            continue;
        }
        conn_new(s, fd, &ss);
    }
}

/* ---- timers ---- */

static void expire(conn *c)
{
    fb_http_server *s = c->srv;
    switch (c->tl) {
    case TL_HEADER:
        if (c->got_bytes || c->state == ST_BODY) {
            s->stats.timeouts_header++;
            c->state = ST_HEAD;
            reply_error(c, 408);
        } else {
            conn_close(c); /* a connection that never sent anything: close quietly */
        }
        break;
    case TL_IDLE:
        s->stats.timeouts_idle++;
        conn_close(c);
        break;
    case TL_SEND:
        s->stats.timeouts_send++;
        conn_abort(c);
        break;
    case TL_DEFER: {
        /* The owner did not answer in time: it is told, and the client gets 504. */
        fb_http_exchange *d = c->deferred;
        s->stats.timeouts_defer++;
        if (d && d->cancel) {
            fb_http_cancel_cb cb = d->cancel;
            d->cancel = NULL;
            cb(d->cancel_arg, d);
        }
        if (c->deferred)
            fb_http_reply_status(c->deferred, 504, NULL, true);
        else
            conn_close(c);
        break;
    }
    default:
        conn_close(c);
        break;
    }
    if (!c->closing && c->deadline <= uv_now(s->loop))
        conn_close(c); /* whatever expire did, it must leave the expired list */
}

static void on_timer(uv_timer_t *t)
{
    fb_http_server *s = t->data;
    uint64_t now = uv_now(s->loop);
    s->timer_armed = false;
    for (int i = 0; i < TL_COUNT; i++)
        while (s->lists[i].head && s->lists[i].head->deadline <= now)
            expire(s->lists[i].head);
    uint64_t due = UINT64_MAX;
    for (int i = 0; i < TL_COUNT; i++)
        if (s->lists[i].head && s->lists[i].head->deadline < due)
            due = s->lists[i].head->deadline;
    if (due != UINT64_MAX)
        timer_arm(s, due);
}

static void timer_arm(fb_http_server *s, uint64_t due)
{
    if (s->timer_armed && s->timer_due <= due)
        return;
    uint64_t now = uv_now(s->loop);
    s->timer_due = due;
    s->timer_armed = true;
    uv_timer_start(&s->timer, on_timer, due > now ? due - now : 0, 0);
}

static void on_prepare(uv_prepare_t *p)
{
    fb_http_server *s = p->data;
    if (s->log && s->log->len)
        fb_access_log_flush(s->log);
}

/* ---- server lifecycle ---- */

fb_http_server *fb_http_server_new(uv_loop_t *loop, const fb_http_config *cfg, fb_http_handler h,
                                   void *ctx)
{
    fb_http_server *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->loop = loop;
    s->cfg = *cfg;
    s->limits.max_head = cfg->max_head;
    s->limits.max_headers = cfg->max_headers;
    s->handler = h;
    s->ctx = ctx;
    s->listen_fd = -1;
    s->spare_fd = -1;
    s->rbuf_cap = FB_MAX(cfg->read_buf, 4096u);
    s->hbuf_cap = 3 * cfg->max_head + 4096; /* room for a Location built from a long target */
    s->rbuf = malloc(s->rbuf_cap);
    s->hbuf = malloc(s->hbuf_cap);
    s->logline = malloc(FB_ACCESS_LINE_MAX);
    s->headers = calloc(FB_MAX(cfg->max_headers, 1u), sizeof(fb_http_header));
    if (!s->rbuf || !s->hbuf || !s->logline || !s->headers) {
        fb_http_server_free(s);
        return NULL;
    }
    s->list_ms[TL_HEADER] = cfg->header_timeout_ms;
    s->list_ms[TL_IDLE] = cfg->keepalive_timeout_ms;
    s->list_ms[TL_SEND] = cfg->send_timeout_ms;
    s->list_ms[TL_LINGER] = cfg->linger_ms;
    s->list_ms[TL_DEFER] = cfg->defer_timeout_ms ? cfg->defer_timeout_ms : 60000;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    uv_prepare_init(loop, &s->prepare);
    s->prepare.data = s;
    uv_prepare_start(&s->prepare, on_prepare);
    uv_timer_init(loop, &s->stop_timer);
    s->stop_timer.data = s;
    s->handles_open = 3;
    now_sec(s);
    return s;
}

int fb_http_server_listen(fb_http_server *s, const char *hostport, char *bound)
{
    const char *hp = hostport;
    char tmp[64];
    if (strncmp(hp, "localhost:", 10) == 0 && strlen(hp) < sizeof(tmp) - 10) {
        snprintf(tmp, sizeof(tmp), "127.0.0.1:%s", hp + 10);
        hp = tmp;
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    if (fb_sockaddr_parse(&ss, &sl, hp) != 0)
        return FB_EINVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 4096) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    fb_addr a;
    fb_sockaddr_to_addr(&a, (const struct sockaddr *)&ss);
    fb_addr_format(&a, bound);
    int rc = uv_poll_init_socket(s->loop, &s->listen_poll, fd);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    s->listen_poll.data = s;
    s->listen_fd = fd;
    s->listening = true;
    s->handles_open++;
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    uv_poll_start(&s->listen_poll, UV_READABLE, on_listen);
    return 0;
}

void fb_http_server_set_log(fb_http_server *s, fb_access_log *log)
{
    s->log = log;
}

const fb_http_stats *fb_http_server_stats(const fb_http_server *s)
{
    return &s->stats;
}

static void on_handle_closed(uv_handle_t *h)
{
    fb_http_server *s = h->data;
    if (--s->handles_open == 0 && s->done)
        s->done(s->done_arg);
}

static void maybe_done(fb_http_server *s)
{
    if (!s->stopping || s->conns_alloc > 0 || uv_is_closing((uv_handle_t *)&s->timer))
        return;
    if (s->log)
        fb_access_log_flush(s->log);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->prepare, on_handle_closed);
    uv_close((uv_handle_t *)&s->stop_timer, on_handle_closed);
}

static void close_all(fb_http_server *s, bool only_idle)
{
    for (int i = 0; i < TL_COUNT; i++) {
        conn *c = s->lists[i].head;
        while (c) {
            conn *next = c->tnext;
            bool idle = c->state == ST_HEAD && !c->pending && !c->deferred && !c->got_bytes &&
                        c->in_len == 0;
            if (!only_idle)
                conn_abort(c);
            else if (idle)
                conn_close(c);
            else
                c->close_after = true; /* its current response is the last */
            c = next;
        }
    }
}

static void on_stop_deadline(uv_timer_t *t)
{
    close_all(t->data, false);
}

void fb_http_server_shutdown(fb_http_server *s, uint32_t deadline_ms, void (*done)(void *arg),
                             void *arg)
{
    if (s->stopping)
        return;
    s->stopping = true;
    s->done = done;
    s->done_arg = arg;
    if (s->listening) {
        s->listening = false;
        uv_close((uv_handle_t *)&s->listen_poll, on_handle_closed);
        close(s->listen_fd);
        s->listen_fd = -1;
    }
    if (s->spare_fd >= 0) {
        close(s->spare_fd);
        s->spare_fd = -1;
    }
    close_all(s, true);
    uv_timer_start(&s->stop_timer, on_stop_deadline, deadline_ms, 0);
    maybe_done(s);
}

void fb_http_server_free(fb_http_server *s)
{
    if (!s)
        return;
    free(s->rbuf);
    free(s->hbuf);
    free(s->logline);
    free(s->headers);
    free(s);
}
