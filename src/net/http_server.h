/* HTTP/1.1 connections on a libuv loop: accept, read, parse, hand each request to one handler,
 * write the response (writev from memory, sendfile from a descriptor), keep-alive, pipelining,
 * timeouts, connection caps, access log and graceful shutdown. The socket descriptors are owned
 * here and watched with uv_poll_t, so responses can use sendfile(2) on the loop thread; an idle
 * connection holds no buffer. */
#ifndef FB_HTTP_SERVER_H
#define FB_HTTP_SERVER_H

#include <uv.h>

#include "core/http_parse.h"
#include "net/access_log.h"
#include "net/file_cache.h"

/* Limits, all fixed at start. */
typedef struct fb_http_config {
    size_t max_head;               /* request line + header bytes (414 / 431 past it) */
    size_t max_headers;            /* header fields per request (431 past it) */
    uint64_t max_body;             /* request body bytes read and discarded (413 past it) */
    uint32_t header_timeout_ms;    /* a request head must arrive within this (else 408) */
    uint32_t keepalive_timeout_ms; /* an idle keep-alive connection is closed after this */
    uint32_t send_timeout_ms;      /* a response that makes no progress this long is dropped */
    uint32_t linger_ms;            /* after a closing error response, input is drained this long */
    uint32_t max_conns;            /* open connections; past it new ones get 503 and are closed */
    uint32_t read_buf;             /* size of the loop-wide read buffer */
    uint32_t defer_timeout_ms;     /* a deferred request not answered within this gets 504 */
    const char *server_name;       /* Server header value (static storage); NULL: flashbackd */
} fb_http_config;

/* Fills c with the defaults: 8 KiB head, 64 fields, 1 MiB body, 10 s head, 30 s keep-alive,
 * 60 s send, 2 s linger, 10000 connections, 16 KiB read buffer, 60 s for a deferred answer. */
void fb_http_config_default(fb_http_config *c);

/* Counters, for logs and (later) a metrics endpoint. Plain integers owned by the server. */
typedef struct fb_http_stats {
    uint64_t conns_accepted;
    uint64_t conns_refused; /* over max_conns */
    uint64_t conns_active;
    uint64_t conns_peak;
    uint64_t requests;
    uint64_t responses[6]; /* by class: [2] = 2xx ... [5] = 5xx */
    uint64_t bytes_sent;   /* all bytes written to sockets */
    uint64_t body_bytes_sent;
    uint64_t parse_errors;
    uint64_t timeouts_header;
    uint64_t timeouts_idle;
    uint64_t timeouts_send;
    uint64_t timeouts_defer; /* deferred answers that did not come in time (504) */
} fb_http_stats;

typedef struct fb_http_server fb_http_server;
typedef struct fb_http_exchange fb_http_exchange;

/* Called once per complete request (head parsed, any body read and discarded). It must either
 * answer with exactly one fb_http_reply_send or fb_http_reply_status before returning, or defer
 * the answer with fb_http_defer. `req` and every pointer in it are valid only during the call. */
typedef void (*fb_http_handler)(void *ctx, fb_http_exchange *x, const fb_http_request *req);

/* One response. Header blocks are complete lines ("Name: value\r\n"); the server adds the status
 * line, Server, Date, Content-Length and Connection. */
typedef struct fb_http_reply {
    int status;
    const char *headers; /* extra header lines, or NULL */
    size_t headers_len;
    const char *headers2; /* a second block, or NULL */
    size_t headers2_len;
    bool has_length;  /* send Content-Length: length */
    uint64_t length;  /* body length (for HEAD, what GET would send) */
    const char *body; /* body bytes from memory (copied if they cannot all be sent at once) */
    fb_file *file;    /* or: the body is file bytes [offset, offset + length); the server takes
                         its own reference for as long as it needs one */
    uint64_t offset;
    bool head_only; /* send no body (HEAD, 304) */
    bool close;     /* close the connection after this response */
} fb_http_reply;

/* Creates a server on `loop`. The handler and ctx are called for every request. NULL on ENOMEM. */
fb_http_server *fb_http_server_new(uv_loop_t *loop, const fb_http_config *cfg, fb_http_handler h,
                                   void *ctx);

/* Binds and listens on "a.b.c.d:port" or "[v6]:port" (port 0 picks a free one). Writes the bound
 * address as "host:port" into bound (at least 64 bytes). Returns 0 or a negative errno (e.g.
 * -EADDRINUSE), or FB_EINVAL for an address that does not parse. */
int fb_http_server_listen(fb_http_server *s, const char *hostport, char *bound);

/* Logs every response to `log` (NULL: no log). The log must outlive the server. */
void fb_http_server_set_log(fb_http_server *s, fb_access_log *log);

/* The live counters. */
const fb_http_stats *fb_http_server_stats(const fb_http_server *s);

/* Graceful stop: stops accepting, closes idle connections, lets requests in flight finish
 * (answered with Connection: close) for at most deadline_ms, then closes the rest. Calls done(arg)
 * once every connection and the server's own handles are closed; the server may then be freed. */
void fb_http_server_shutdown(fb_http_server *s, uint32_t deadline_ms, void (*done)(void *arg),
                             void *arg);

/* Frees a server whose shutdown completed (or that never listened and has no connection). */
void fb_http_server_free(fb_http_server *s);

/* Answers the request being handled. */
void fb_http_reply_send(fb_http_exchange *x, const fb_http_reply *r);

/* Answers with a short text/plain body "<status> <reason>\n" and optional extra header lines. */
void fb_http_reply_status(fb_http_exchange *x, int status, const char *headers, bool close);

/* The wall-clock time (seconds) the server uses for Date on this request. */
int64_t fb_http_exchange_time(const fb_http_exchange *x);

/* The client's address (of its TCP connection; an IPv4-mapped IPv6 address is given as IPv4). */
const fb_addr *fb_http_exchange_peer(const fb_http_exchange *x);

/* Says that a deferred exchange will never be answered by its owner: its connection closed, it
 * waited past defer_timeout_ms (the server then answers 504 itself), or the server is stopping.
 * `x` is gone when this returns; the callback must not reply on it. */
typedef void (*fb_http_cancel_cb)(void *arg, fb_http_exchange *x);

/* Defers the answer to the request being handled (call from the handler, at most once). Returns
 * the exchange to answer later, from the loop, with one fb_http_reply_send or
 * fb_http_reply_status; it stays valid until then, or until `cancel` is called, whichever comes
 * first. Meanwhile the connection reads no further request (responses go out in order) but
 * notices when the client goes away. A deferred answer uses the request's method, version and
 * keep-alive as parsed; the request's own pointers are not kept. Returns NULL (and the handler
 * must answer at once) when out of memory. */
fb_http_exchange *fb_http_defer(fb_http_exchange *x, fb_http_cancel_cb cancel, void *arg);

#endif
