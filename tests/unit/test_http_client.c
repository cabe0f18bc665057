/* Unit tests for net/http_client against a small HTTP/1.1 server that the test runs itself on
 * 127.0.0.1:0, on the same libuv loop: plain GET with headers, verified ranges (206, a 200 that
 * ignores Range, wrong and short answers), 404, the body cap (by Content-Length and while
 * streaming), connection refused, a server that never answers, redirects, many concurrent
 * requests over few connections, connection reuse, cancellation, and the reverse proxy's
 * options (extra request headers, bodies of every status, the raw header block). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <unistd.h>

#include "net/http_client.h"

#define DATA_LEN 100000

/* ---- the test server ---------------------------------------------------------------------- */

typedef struct conn {
    uv_tcp_t tcp;
    struct srv *s;
    char buf[8192];
    size_t len;
    bool closing;
    struct conn *next;
} conn;

typedef struct srv {
    uv_tcp_t listen;
    uv_loop_t *loop;
    int port;
    unsigned conns;    /* connections accepted */
    unsigned requests; /* requests parsed */
    conn *all;
} srv;

typedef struct wreq {
    uv_write_t w;
    char data[]; /* the response */
} wreq;

static uint8_t data_byte(size_t i)
{
    return (uint8_t)(i * 7 + i / 256);
}

static void on_conn_closed(uv_handle_t *h)
{
    conn *c = h->data;
    srv *s = c->s;
    for (conn **p = &s->all; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    free(c);
}

static void conn_close(conn *c)
{
    if (!c->closing) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    }
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void send_raw(conn *c, const char *head, const uint8_t *body, size_t blen)
{
    size_t hlen = strlen(head);
    wreq *w = malloc(sizeof(*w) + hlen + blen);
    assert_non_null(w);
    memcpy(w->data, head, hlen);
    if (blen)
        memcpy(w->data + hlen, body, blen);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)(hlen + blen));
    if (uv_write(&w->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0)
        free(w);
}

static void respond(conn *c, int status, const char *extra, const uint8_t *body, size_t blen)
{
    char head[512];
    snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status, blen,
             extra);
    send_raw(c, head, body, blen);
}

static uint8_t *data_body(size_t from, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = data_byte(from + i);
    return b;
}

/* Handles one request; returns false for "never answer". */
static bool handle(conn *c, const char *req)
{
    char path[256] = "";
    uint64_t a = 0, b = 0;
    bool has_range = false;
    const char *r = strstr(req, "\r\nRange: bytes=");
    sscanf(req, "GET %255s", path);
    if (r && sscanf(r, "\r\nRange: bytes=%" SCNu64 "-%" SCNu64, &a, &b) == 2)
        has_range = true;
    /* If-Range: a range is served only while the entity tag still matches ("d1"). */
    const char *ir = strstr(req, "\r\nIf-Range: ");
    if (ir && strncmp(ir + 12, "\"d1\"\r\n", 6) != 0)
        has_range = false;
    if (strcmp(path, "/hello") == 0) {
        respond(c, 200,
                "ETag: \"abc\"\r\nContent-Type: text/plain\r\nFlashback-Seed: [::1]:4242\r\n"
                "Flashback-Token: 00ff\r\n",
                (const uint8_t *)"hello, world", 12);
    } else if (strcmp(path, "/data") == 0 && has_range) {
        if (a >= DATA_LEN) {
            respond(c, 416, "Content-Range: bytes */100000\r\n", NULL, 0);
            return true;
        }
        uint64_t last = b < DATA_LEN ? b : DATA_LEN - 1;
        char extra[128];
        snprintf(extra, sizeof(extra), "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%d\r\n", a,
                 last, DATA_LEN);
        uint8_t *body = data_body(a, last - a + 1);
        respond(c, 206, extra, body, last - a + 1);
        free(body);
    } else if (strcmp(path, "/data") == 0 || strcmp(path, "/data-norange") == 0) {
        uint8_t *body = data_body(0, DATA_LEN);
        respond(c, 200, "ETag: \"d1\"\r\n", body, DATA_LEN);
        free(body);
    } else if (strcmp(path, "/bad-range") == 0) {
        uint8_t *body = data_body(0, 10);
        respond(c, 206, "Content-Range: bytes 0-9/100000\r\n", body, 10);
        free(body);
    } else if (strcmp(path, "/short-range") == 0) {
        char extra[128];
        snprintf(extra, sizeof(extra), "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%d\r\n", a, b,
                 DATA_LEN);
        uint8_t *body = data_body(a, 5);
        respond(c, 206, extra, body, 5); /* says b-a+1 bytes, sends 5 */
        free(body);
    } else if (strcmp(path, "/big-chunked") == 0) {
        /* 1 MiB in 64 KiB chunks, no Content-Length. */
        static uint8_t chunk[65536];
        send_raw(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", NULL, 0);
        for (int i = 0; i < 16; i++) {
            send_raw(c, "10000\r\n", chunk, sizeof(chunk));
            send_raw(c, "\r\n", NULL, 0);
        }
        send_raw(c, "0\r\n\r\n", NULL, 0);
    } else if (strcmp(path, "/redirect") == 0) {
        respond(c, 301, "Location: /hello\r\n", NULL, 0);
    } else if (strcmp(path, "/echo") == 0) {
        /* the request's X-T header lines, as the body */
        char body[1024] = "";
        for (const char *h = strstr(req, "\r\nX-T"); h; h = strstr(h + 2, "\r\nX-T")) {
            const char *e = strstr(h + 2, "\r\n");
            strncat(body, h + 2, (size_t)(e - h));
        }
        respond(c, 200, "X-Seen: yes\r\n", (const uint8_t *)body, strlen(body));
    } else if (strcmp(path, "/silent") == 0) {
        return false;
    } else {
        respond(c, 404, "Content-Type: text/plain\r\n", (const uint8_t *)"not found", 9);
    }
    return true;
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *out)
{
    conn *c = h->data;
    (void)sz;
    *out = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len - 1));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    conn *c = st->data;
    (void)b;
    if (n < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    char *end;
    while ((end = strstr(c->buf, "\r\n\r\n")) != NULL) {
        size_t used = (size_t)(end + 4 - c->buf);
        char req[8192];
        memcpy(req, c->buf, used);
        req[used] = '\0';
        memmove(c->buf, c->buf + used, c->len - used + 1);
        c->len -= used;
        c->s->requests++;
        if (!handle(c, req)) {
            uv_read_stop(st); /* never answer, never read again */
            return;
        }
    }
    if (c->len >= sizeof(c->buf) - 1)
        conn_close(c);
}

static void on_connection(uv_stream_t *l, int status)
{
    srv *s = l->data;
    assert_int_equal(status, 0);
    conn *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->s = s;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
    c->next = s->all;
    s->all = c;
    s->conns++;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void srv_start(srv *s, uv_loop_t *loop)
{
    struct sockaddr_in sin;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    assert_int_equal(uv_tcp_init(loop, &s->listen), 0);
    s->listen.data = s;
    uv_ip4_addr("127.0.0.1", 0, &sin);
    assert_int_equal(uv_tcp_bind(&s->listen, (struct sockaddr *)&sin, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->listen, 128, on_connection), 0);
    assert_int_equal(uv_tcp_getsockname(&s->listen, (struct sockaddr *)&ss, &len), 0);
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void srv_stop(srv *s)
{
    for (conn *c = s->all; c; c = c->next)
        conn_close(c);
    uv_close((uv_handle_t *)&s->listen, NULL);
}

/* ---- fixture and helpers ------------------------------------------------------------------ */

typedef struct got {
    int calls;
    int error;
    long status;
    uint8_t *body;
    size_t len;
    bool has_etag, has_ctype, has_captured, has_captured2, has_headers;
    char headers[1024];
    char etag[256], ctype[256], ip[64], msg[512], captured[256], captured2[256];
    int64_t clen, total;
    long port;
    struct fx *fx;     /* for callbacks that act on the client */
    int action;        /* 1: free the client; 2: start /hello again */
    struct got *chain; /* result of the request started by action 2 */
} got;

typedef struct fx {
    uv_loop_t loop;
    srv s;
    fb_http_client *c;
    char base[64];
} fx;

static void on_result(void *ctx, const fb_http_result *r);

static void start(fx *f, const char *path, got *g, const fb_http_client_request *tmpl)
{
    char url[128];
    fb_http_client_request req = {.max_body = 1 << 20, .timeout_ms = 5000};
    if (tmpl)
        req = *tmpl;
    snprintf(url, sizeof(url), "%s%s", f->base, path);
    req.url = url;
    g->fx = f;
    assert_int_equal(fb_http_get(f->c, &req, on_result, g, NULL), 0);
}

static void on_result(void *ctx, const fb_http_result *r)
{
    got *g = ctx;
    g->calls++;
    g->error = r->error;
    g->status = r->status;
    free(g->body);
    g->body = malloc(r->len + 1);
    memcpy(g->body, r->body, r->len);
    g->len = r->len;
    g->has_etag = r->etag != NULL;
    g->has_ctype = r->content_type != NULL;
    snprintf(g->etag, sizeof(g->etag), "%s", r->etag ? r->etag : "");
    snprintf(g->ctype, sizeof(g->ctype), "%s", r->content_type ? r->content_type : "");
    snprintf(g->ip, sizeof(g->ip), "%s", r->primary_ip);
    snprintf(g->msg, sizeof(g->msg), "%s", r->message);
    g->has_captured = r->captured != NULL;
    snprintf(g->captured, sizeof(g->captured), "%s", r->captured ? r->captured : "");
    g->has_captured2 = r->captured2 != NULL;
    snprintf(g->captured2, sizeof(g->captured2), "%s", r->captured2 ? r->captured2 : "");
    g->has_headers = r->headers != NULL;
    snprintf(g->headers, sizeof(g->headers), "%.*s", (int)r->headers_len,
             r->headers ? r->headers : "");
    g->clen = r->content_length;
    g->total = r->total_size;
    g->port = r->primary_port;
    if (r->error)
        print_message("# %s\n", r->message);
    if (g->action == 1) {
        fb_http_client_free(g->fx->c);
        g->fx->c = NULL;
    } else if (g->action == 2) {
        start(g->fx, "/hello", g->chain, NULL);
    }
}

typedef struct watch {
    uv_timer_t t;
    bool fired;
} watch;

static void on_watch(uv_timer_t *t)
{
    ((watch *)t->data)->fired = true;
}

/* Runs the loop until every got in gs[0..n) has been called once, or `ms` pass. */
static bool wait_all(fx *f, got **gs, size_t n, unsigned ms)
{
    watch w = {.fired = false};
    bool done = false;
    uv_timer_init(&f->loop, &w.t);
    w.t.data = &w;
    uv_timer_start(&w.t, on_watch, ms, 0);
    while (!done && !w.fired) {
        uv_run(&f->loop, UV_RUN_ONCE);
        done = true;
        for (size_t i = 0; i < n; i++)
            if (gs[i]->calls == 0)
                done = false;
    }
    uv_close((uv_handle_t *)&w.t, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return done;
}

static bool wait1(fx *f, got *g, unsigned ms)
{
    return wait_all(f, &g, 1, ms);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    fb_http_client_config cfg = {.max_connections = 4, .max_host_connections = 4};
    assert_int_equal(uv_loop_init(&f->loop), 0);
    srv_start(&f->s, &f->loop);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->s.port);
    assert_int_equal(fb_http_client_new(&f->loop, &cfg, &f->c), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    fb_http_client_free(f->c);
    srv_stop(&f->s);
    /* Everything must close by itself: the loop ends with no handle left. */
    for (int i = 0; i < 100 && uv_run(&f->loop, UV_RUN_NOWAIT) != 0; i++)
        ;
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

static void got_free(got *g)
{
    free(g->body);
    g->body = NULL;
}

static void assert_data(const got *g, size_t from, size_t n)
{
    assert_int_equal(g->len, n);
    for (size_t i = 0; i < n; i++)
        if (g->body[i] != data_byte(from + i))
            fail_msg("byte %zu of the range differs", i);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_plain_get(void **state)
{
    fx *f = *state;
    got g = {0};
    start(f, "/hello", &g, NULL);
    assert_true(wait1(f, &g, 5000));
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.error, 0);
    assert_string_equal(g.msg, "");
    assert_int_equal(g.status, 200);
    assert_int_equal(g.len, 12);
    assert_memory_equal(g.body, "hello, world", 12);
    assert_string_equal(g.etag, "\"abc\"");
    assert_string_equal(g.ctype, "text/plain");
    assert_int_equal(g.clen, 12);
    assert_int_equal(g.total, 12);
    assert_string_equal(g.ip, "127.0.0.1");
    assert_int_equal(g.port, f->s.port);
    got_free(&g);
}

static void test_range_206(void **state)
{
    fx *f = *state;
    got g = {0}, end = {0};
    fb_http_client_request req = {
        .max_body = 4096, .range = true, .range_first = 1000, .range_last = 2999};
    start(f, "/data", &g, &req);
    /* Past the end: HTTP clips it to the last byte, and so do we. */
    fb_http_client_request req2 = {.max_body = 4096,
                                   .range = true,
                                   .range_first = DATA_LEN - 10,
                                   .range_last = DATA_LEN + 100};
    start(f, "/data", &end, &req2);
    got *gs[] = {&g, &end};
    assert_true(wait_all(f, gs, 2, 5000));
    assert_int_equal(g.error, 0);
    assert_int_equal(g.status, 206);
    assert_data(&g, 1000, 2000);
    assert_int_equal(g.total, DATA_LEN);
    assert_int_equal(end.error, 0);
    assert_data(&end, DATA_LEN - 10, 10);
    got_free(&g);
    got_free(&end);
}

/* If-Range: a matching entity tag keeps the range (206); another one makes the server answer
 * 200 with the whole resource, of which the client keeps the slice asked for. */
static void test_if_range(void **state)
{
    fx *f = *state;
    got same = {0}, changed = {0};
    fb_http_client_request req = {.max_body = 4096,
                                  .range = true,
                                  .range_first = 3000,
                                  .range_last = 3999,
                                  .if_range = "\"d1\""};
    start(f, "/data", &same, &req);
    req.if_range = "\"old\"";
    start(f, "/data", &changed, &req);
    got *gs[] = {&same, &changed};
    assert_true(wait_all(f, gs, 2, 5000));
    assert_int_equal(same.error, 0);
    assert_int_equal(same.status, 206);
    assert_data(&same, 3000, 1000);
    assert_int_equal(changed.error, 0);
    assert_int_equal(changed.status, 200);
    assert_data(&changed, 3000, 1000);
    got_free(&same);
    got_free(&changed);
}

/* capture_header (and capture_header2) report one more response header (two), matched without
 * regard to case. */
static void test_capture_header(void **state)
{
    fx *f = *state;
    got g = {0}, none = {0}, absent = {0};
    fb_http_client_request req = {
        .max_body = 100, .capture_header = "flashback-seed", .capture_header2 = "FLASHBACK-TOKEN"};
    start(f, "/hello", &g, &req);
    start(f, "/hello", &none, NULL);
    start(f, "/data", &absent,
          &(fb_http_client_request){.max_body = DATA_LEN, .capture_header = "Flashback-Seed"});
    got *gs[] = {&g, &none, &absent};
    assert_true(wait_all(f, gs, 3, 5000));
    assert_int_equal(g.error, 0);
    assert_true(g.has_captured);
    assert_string_equal(g.captured, "[::1]:4242");
    assert_true(g.has_captured2);
    assert_string_equal(g.captured2, "00ff");
    assert_false(none.has_captured);
    assert_false(none.has_captured2);
    assert_int_equal(absent.error, 0);
    assert_false(absent.has_captured);
    /* Bad names and values are refused up front. */
    got x = {0};
    fb_http_client_request bad = {
        .url = "http://127.0.0.1:1/", .max_body = 10, .capture_header = "a:b"};
    assert_int_equal(fb_http_get(f->c, &bad, on_result, &x, NULL), FB_EINVAL);
    bad.capture_header = "";
    assert_int_equal(fb_http_get(f->c, &bad, on_result, &x, NULL), FB_EINVAL);
    bad.capture_header = NULL;
    bad.capture_header2 = "a b";
    assert_int_equal(fb_http_get(f->c, &bad, on_result, &x, NULL), FB_EINVAL);
    bad.capture_header2 = NULL;
    bad.range = true;
    bad.range_last = 5;
    bad.if_range = "\"a\"\r\nX-Injected: 1";
    assert_int_equal(fb_http_get(f->c, &bad, on_result, &x, NULL), FB_EINVAL);
    assert_int_equal(x.calls, 0);
    got_free(&g);
    got_free(&none);
    got_free(&absent);
}

static void test_range_from_200(void **state)
{
    fx *f = *state;
    got g = {0}, past = {0};
    fb_http_client_request req = {
        .max_body = 5000, .range = true, .range_first = 50000, .range_last = 54999};
    /* The whole body (100 KB) is over the cap, but only the slice is kept. */
    start(f, "/data-norange", &g, &req);
    assert_true(wait1(f, &g, 5000));
    assert_int_equal(g.error, 0);
    assert_int_equal(g.status, 200);
    assert_data(&g, 50000, 5000);
    /* A range that starts past the end of a 200's body is an error. */
    fb_http_client_request req2 = {
        .max_body = 5000, .range = true, .range_first = DATA_LEN, .range_last = DATA_LEN + 10};
    start(f, "/data-norange", &past, &req2);
    assert_true(wait1(f, &past, 5000));
    assert_int_equal(past.error, FB_HTTP_ERANGE);
    assert_int_equal(past.len, 0);
    got_free(&g);
    got_free(&past);
}

static void test_range_wrong(void **state)
{
    fx *f = *state;
    got g = {0}, s = {0}, e416 = {0};
    fb_http_client_request req = {
        .max_body = 4096, .range = true, .range_first = 100, .range_last = 199};
    start(f, "/bad-range", &g, &req);   /* 206 for bytes 0-9 */
    start(f, "/short-range", &s, &req); /* 206 for 100-199, but only 5 bytes */
    fb_http_client_request req3 = {
        .max_body = 4096, .range = true, .range_first = DATA_LEN + 5, .range_last = DATA_LEN + 6};
    start(f, "/data", &e416, &req3);
    got *gs[] = {&g, &s, &e416};
    assert_true(wait_all(f, gs, 3, 5000));
    assert_int_equal(g.error, FB_HTTP_ERANGE);
    assert_non_null(strstr(g.msg, "bytes 0-9/100000"));
    assert_int_equal(g.len, 0);
    assert_int_equal(s.error, FB_HTTP_ERANGE);
    assert_int_equal(s.len, 0);
    assert_int_equal(e416.error, FB_HTTP_ESTATUS);
    assert_int_equal(e416.status, 416);
    got_free(&g);
    got_free(&s);
    got_free(&e416);
}

static void test_404(void **state)
{
    fx *f = *state;
    got g = {0};
    start(f, "/missing", &g, NULL);
    assert_true(wait1(f, &g, 5000));
    assert_int_equal(g.error, FB_HTTP_ESTATUS);
    assert_int_equal(g.status, 404);
    assert_int_equal(g.len, 0);
    assert_non_null(strstr(g.msg, "HTTP 404"));
    assert_non_null(strstr(g.msg, "/missing"));
    got_free(&g);
}

static void test_over_cap(void **state)
{
    fx *f = *state;
    got g = {0}, ch = {0}, ok = {0};
    fb_http_client_request req = {.max_body = 5000};
    start(f, "/data", &g, &req);         /* Content-Length 100000: refused at the headers */
    start(f, "/big-chunked", &ch, &req); /* no length: refused while streaming */
    fb_http_client_request exact = {.max_body = 12};
    start(f, "/hello", &ok, &exact); /* exactly at the cap is fine */
    got *gs[] = {&g, &ch, &ok};
    assert_true(wait_all(f, gs, 3, 5000));
    assert_int_equal(g.error, FB_HTTP_ETOOBIG);
    assert_non_null(strstr(g.msg, "cap"));
    assert_int_equal(g.len, 0);
    assert_int_equal(ch.error, FB_HTTP_ETOOBIG);
    assert_int_equal(ch.len, 0);
    assert_int_equal(ok.error, 0);
    assert_int_equal(ok.len, 12);
    got_free(&g);
    got_free(&ch);
    got_free(&ok);
}

static void test_refused(void **state)
{
    fx *f = *state;
    got g = {0};
    char url[64];
    /* A bound socket that does not listen holds the port: connecting to it is refused. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t len = sizeof(sin);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", ntohs(sin.sin_port));
    fb_http_client_request req = {.url = url, .max_body = 100};
    g.fx = f;
    assert_int_equal(fb_http_get(f->c, &req, on_result, &g, NULL), 0);
    assert_true(wait1(f, &g, 5000));
    close(fd);
    assert_int_equal(g.error, FB_HTTP_ECONNECT);
    assert_int_equal(g.status, 0);
    assert_non_null(strstr(g.msg, url));
    got_free(&g);
}

static void test_timeout(void **state)
{
    fx *f = *state;
    got g = {0};
    fb_http_client_request req = {.max_body = 100, .timeout_ms = 300};
    uint64_t t0 = uv_hrtime();
    start(f, "/silent", &g, &req);
    assert_true(wait1(f, &g, 5000));
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    assert_int_equal(g.error, FB_HTTP_ETIMEOUT);
    assert_true(ms >= 250 && ms < 3000);
    assert_int_equal(f->s.requests, 1); /* it did reach the server */
    got_free(&g);
}

static void test_redirects(void **state)
{
    fx *f = *state;
    got off = {0}, on = {0};
    start(f, "/redirect", &off, NULL);
    fb_http_client_request req = {.max_body = 100, .max_redirects = 2};
    start(f, "/redirect", &on, &req);
    got *gs[] = {&off, &on};
    assert_true(wait_all(f, gs, 2, 5000));
    assert_int_equal(off.error, FB_HTTP_ESTATUS);
    assert_int_equal(off.status, 301);
    assert_int_equal(on.error, 0);
    assert_int_equal(on.status, 200);
    assert_memory_equal(on.body, "hello, world", 12);
    got_free(&off);
    got_free(&on);
}

/* The reverse proxy's options: extra request header lines, every status's body with error 0,
 * the raw header block and its cap, and header lines that are refused. */
static void test_proxy_options(void **state)
{
    fx *f = *state;
    got echo = {0}, miss = {0}, moved = {0}, capped = {0}, plain = {0};
    const char *lines[] = {"X-T1: one", "X-T2: two words"};
    fb_http_client_request req = {.max_body = 1000,
                                  .headers = lines,
                                  .n_headers = 2,
                                  .any_status = true,
                                  .keep_headers = 4096};
    start(f, "/echo", &echo, &req);
    start(f, "/missing", &miss, &req);
    start(f, "/redirect", &moved, &req);
    fb_http_client_request small = req;
    small.keep_headers = 20; /* "Content-Length: 12\r\n" alone is 20 bytes */
    start(f, "/hello", &capped, &small);
    start(f, "/hello", &plain, NULL);
    got *gs[] = {&echo, &miss, &moved, &capped, &plain};
    assert_true(wait_all(f, gs, 5, 5000));
    assert_int_equal(echo.error, 0);
    assert_int_equal(echo.len, strlen("X-T1: one\r\nX-T2: two words\r\n"));
    assert_memory_equal(echo.body, "X-T1: one\r\nX-T2: two words\r\n", echo.len);
    assert_non_null(strstr(echo.headers, "X-Seen: yes\r\n"));
    assert_null(strstr(echo.headers, "HTTP/1.1")); /* no status line */
    assert_int_equal(miss.error, 0);
    assert_int_equal(miss.status, 404);
    assert_int_equal(miss.len, 9);
    assert_memory_equal(miss.body, "not found", 9);
    assert_non_null(strstr(miss.headers, "Content-Type: text/plain\r\n"));
    assert_int_equal(moved.error, 0); /* reported, not followed */
    assert_int_equal(moved.status, 301);
    assert_non_null(strstr(moved.headers, "Location: /hello\r\n"));
    assert_int_equal(capped.error, FB_HTTP_ETOOBIG);
    assert_false(capped.has_headers);
    assert_int_equal(plain.error, 0);
    assert_false(plain.has_headers);
    static const char *const bad[] = {"NoColon", "X Bad: v", ": empty name", "X: a\r\nY: b",
                                      "X: \x01"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fb_http_client_request b = {
            .url = f->base, .max_body = 10, .headers = &bad[i], .n_headers = 1};
        assert_int_equal(fb_http_get(f->c, &b, on_result, &plain, NULL), FB_EINVAL);
    }
    const char *nine[9] = {"A: 1", "A: 1", "A: 1", "A: 1", "A: 1", "A: 1", "A: 1", "A: 1", "A: 1"};
    fb_http_client_request many = {.url = f->base, .max_body = 10, .headers = nine, .n_headers = 9};
    assert_int_equal(fb_http_get(f->c, &many, on_result, &plain, NULL), FB_EINVAL);
    got_free(&echo);
    got_free(&miss);
    got_free(&moved);
    got_free(&capped);
    got_free(&plain);
}

/* 50 range requests at once over at most 4 connections (max_connections in the fixture). */
static void test_concurrent(void **state)
{
    fx *f = *state;
    enum { N = 50 };
    got g[N];
    got *gs[N];
    memset(g, 0, sizeof(g));
    for (int i = 0; i < N; i++) {
        fb_http_client_request req = {.max_body = 2000,
                                      .range = true,
                                      .range_first = (uint64_t)i * 1999,
                                      .range_last = (uint64_t)i * 1999 + 1999};
        start(f, "/data", &g[i], &req);
        gs[i] = &g[i];
    }
    assert_int_equal(fb_http_client_pending(f->c), N);
    assert_true(wait_all(f, gs, N, 10000));
    for (int i = 0; i < N; i++) {
        assert_int_equal(g[i].calls, 1);
        assert_int_equal(g[i].error, 0);
        assert_data(&g[i], (size_t)i * 1999, 2000);
        got_free(&g[i]);
    }
    print_message("# %u requests over %u connections\n", f->s.requests, f->s.conns);
    assert_int_equal(f->s.requests, N);
    assert_true(f->s.conns >= 1 && f->s.conns <= 4);
    assert_int_equal(fb_http_client_pending(f->c), 0);
}

/* A request started from the previous one's callback reuses its connection. */
static void test_reuse(void **state)
{
    fx *f = *state;
    got second = {0}, first = {.action = 2, .chain = &second};
    start(f, "/hello", &first, NULL);
    assert_true(wait1(f, &second, 5000));
    assert_int_equal(first.error, 0);
    assert_int_equal(second.error, 0);
    assert_int_equal(f->s.requests, 2);
    assert_int_equal(f->s.conns, 1);
    got_free(&first);
    got_free(&second);
}

static void test_caps_and_args(void **state)
{
    fx *f = *state;
    uv_loop_t *loop = &f->loop;
    fb_http_client *c;
    fb_http_client_config cfg = {.max_requests = 2};
    got a = {0}, b = {0}, x = {0};
    fb_http_client_request req = {.url = "http://127.0.0.1:1/", .max_body = 10};
    assert_int_equal(fb_http_client_new(loop, &cfg, &c), 0);
    assert_int_equal(fb_http_get(c, &req, on_result, &a, NULL), 0);
    assert_int_equal(fb_http_get(c, &req, on_result, &b, NULL), 0);
    assert_int_equal(fb_http_get(c, &req, on_result, &x, NULL), FB_ENOSPC);
    fb_http_client_request bad = req;
    bad.max_body = 0;
    assert_int_equal(fb_http_get(c, &bad, on_result, &x, NULL), FB_EINVAL);
    bad = req;
    bad.range = true;
    bad.range_first = 0;
    bad.range_last = 10; /* 11 bytes > max_body */
    assert_int_equal(fb_http_get(c, &bad, on_result, &x, NULL), FB_EINVAL);
    bad.range_first = 5;
    bad.range_last = 4;
    assert_int_equal(fb_http_get(c, &bad, on_result, &x, NULL), FB_EINVAL);
    fb_http_client_free(c);
    /* Freeing reported both requests as cancelled, and never the refused ones. */
    assert_int_equal(a.error, FB_HTTP_ECANCELED);
    assert_int_equal(b.error, FB_HTTP_ECANCELED);
    assert_int_equal(x.calls, 0);
    got_free(&a);
    got_free(&b);
}

static void test_cancel(void **state)
{
    fx *f = *state;
    got a = {0}, b = {0}, h = {0};
    fb_http_req *qa;
    char url[96];
    snprintf(url, sizeof(url), "%s/silent", f->base);
    fb_http_client_request req = {.url = url, .max_body = 100, .timeout_ms = 5000};
    assert_int_equal(fb_http_get(f->c, &req, on_result, &a, &qa), 0);
    start(f, "/silent", &b, NULL);
    start(f, "/hello", &h, NULL);
    assert_true(wait1(f, &h, 5000));
    fb_http_cancel(qa);
    assert_int_equal(fb_http_client_pending(f->c), 1);
    /* A little time for anything wrongly still alive to call back. */
    for (int i = 0; i < 20; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(a.calls, 0);
    assert_int_equal(b.calls, 0);
    fb_http_client_free(f->c);
    f->c = NULL;
    assert_int_equal(a.calls, 0);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.error, FB_HTTP_ECANCELED);
    assert_int_equal(h.error, 0);
    got_free(&a);
    got_free(&b);
    got_free(&h);
}

/* A program that shuts down from a result callback: the other request is cancelled. */
static void test_free_from_callback(void **state)
{
    fx *f = *state;
    got slow = {0}, h = {.action = 1};
    start(f, "/silent", &slow, NULL);
    start(f, "/hello", &h, NULL);
    assert_true(wait1(f, &h, 5000));
    assert_null(f->c);
    assert_int_equal(h.error, 0);
    assert_int_equal(slow.calls, 1);
    assert_int_equal(slow.error, FB_HTTP_ECANCELED);
    got_free(&slow);
    got_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_206, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_from_200, setup, teardown),
        cmocka_unit_test_setup_teardown(test_if_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capture_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_wrong, setup, teardown),
        cmocka_unit_test_setup_teardown(test_404, setup, teardown),
        cmocka_unit_test_setup_teardown(test_over_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxy_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caps_and_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_from_callback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
