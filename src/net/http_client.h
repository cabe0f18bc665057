/* An HTTP(S) client on a libuv loop: libcurl's multi interface driven by the loop (curl's
 * sockets watched with uv_poll, curl's timeout kept in a uv_timer), so many GETs run at once on
 * one thread with connection reuse. Each GET lands in memory under a byte cap, optionally as a
 * verified byte range, and ends in exactly one result callback (or none, if cancelled). */
#ifndef FB_NET_HTTP_CLIENT_H
#define FB_NET_HTTP_CLIENT_H

#include <uv.h>

#include "core/fbstd.h"

/* Result codes beyond the FB_E* ones (distinct from every errno-style value). */
enum {
    FB_HTTP_ESTATUS = -200,   /* the server answered with a status other than 2xx (see status) */
    FB_HTTP_ETOOBIG = -201,   /* the body is larger than the request's max_body */
    FB_HTTP_ERANGE = -202,    /* a range answer did not hold the bytes asked for */
    FB_HTTP_ECONNECT = -203,  /* no connection: refused, unreachable, or the name did not resolve */
    FB_HTTP_ETIMEOUT = -204,  /* connect_timeout_ms or timeout_ms passed */
    FB_HTTP_ECANCELED = -205, /* the client was freed while the request was in flight */
    FB_HTTP_ETRANSFER = -206, /* any other failure: reset, malformed response, TLS, redirects */
};

typedef struct fb_http_client fb_http_client;
typedef struct fb_http_req fb_http_req;

/* What a finished request reports. Every pointer is valid for the duration of the callback
 * only; copy what must outlive it. */
typedef struct fb_http_result {
    int error;                /* 0, or FB_HTTP_E* / FB_ENOMEM */
    const char *message;      /* "" on success, else one line: method, URL and what went wrong */
    long status;              /* the last HTTP status received, 0 if none */
    const uint8_t *body;      /* the body, or with a range the requested bytes; never NULL */
    size_t len;               /* its length */
    const char *etag;         /* ETag header as sent, NULL when absent (or over 255 bytes) */
    const char *content_type; /* Content-Type header, NULL when absent (or over 255 bytes) */
    int64_t content_length;   /* Content-Length header, -1 when absent */
    int64_t total_size;       /* the whole resource's size when the answer tells it (a 200's
                                 body, or the "/total" of a Content-Range), else -1 */
    const char *primary_ip;   /* the server's address as connected ("" if no connection) */
    long primary_port;        /* and its port (0 if no connection) */
    const char *captured;     /* the value of the request's capture_header, NULL when it was
                                 not asked for, absent, or over 255 bytes */
    const char *captured2;    /* the same for capture_header2 */
    int64_t wire_len;         /* body bytes as they came over the wire (before any content
                                 decoding), -1 when unknown */
    const char *headers;      /* with keep_headers: the final answer's header lines as received
                                 ("Name: value\r\n" each, no status line), else NULL */
    size_t headers_len;
} fb_http_result;

/* Called once per request that was not cancelled, from the loop (never from inside
 * fb_http_get). It may start new requests, cancel other requests, and free the client. */
typedef void (*fb_http_cb)(void *ctx, const fb_http_result *r);

typedef struct fb_http_client_config {
    uint32_t max_requests;         /* requests in flight or queued at once (default 256) */
    uint32_t max_connections;      /* open connections in total (default 32); requests past it
                                      wait for a free connection */
    uint32_t max_host_connections; /* open connections to one host (default 8) */
    const char *user_agent;        /* copied; default "flashback/VERSION" */
} fb_http_client_config;

typedef struct fb_http_client_request {
    const char *url; /* http:// or https:// URL; copied */
    size_t max_body; /* cap on the bytes kept (required, > 0): a body over it fails
                        with FB_HTTP_ETOOBIG, early when Content-Length says so */
    bool range;      /* ask for bytes range_first..range_last (inclusive) only */
    uint64_t range_first;
    uint64_t range_last;         /* a range past the end of the resource is clipped to it, as
                                    HTTP does; one starting past the end is FB_HTTP_ERANGE */
    uint32_t connect_timeout_ms; /* default 5000 */
    uint32_t timeout_ms;         /* the whole request, waiting for a connection included
                                    (default 30000) */
    uint32_t max_redirects;      /* 0: a 3xx is reported as FB_HTTP_ESTATUS; else follow at
                                    most this many (http and https only) */
    const char *if_range;        /* with range: an entity tag sent as If-Range (copied), so a
                                    changed resource answers 200 (whole, then sliced) rather
                                    than a range of other bytes; NULL for none. At most 255
                                    bytes, no CR, LF or NUL (else FB_EINVAL) */
    const char *capture_header;  /* name of one more response header to report as
                                    result.captured (copied; a token of at most 63 bytes, else
                                    FB_EINVAL); NULL for none */
    const char *capture_header2; /* a second one, reported as result.captured2 */
    bool accept_gzip;            /* send Accept-Encoding: gzip; a gzipped body is decoded
                                    (max_body caps the decoded bytes) */
    const char *const *headers;  /* n_headers extra request header lines "Name: value" (copied;
                                    each a token, a colon and at most 8 KiB without CR, LF or
                                    NUL, else FB_EINVAL), e.g. If-None-Match */
    size_t n_headers;            /* at most 8 */
    bool any_status;             /* keep the body of every final status (not only 2xx) and
                                    report it with error 0: for relaying answers as they are */
    size_t keep_headers;         /* > 0: report the final answer's header lines in
                                    result.headers, at most this many bytes (more fails with
                                    FB_HTTP_ETOOBIG) */
} fb_http_client_request;

/* Creates a client on `loop`. cfg may be NULL for the defaults. Returns 0 and *out, or
 * FB_ENOMEM / FB_EINVAL. */
int fb_http_client_new(uv_loop_t *loop, const fb_http_client_config *cfg, fb_http_client **out);

/* Cancels every request in flight, calling each one's callback with FB_HTTP_ECANCELED (so
 * owners can release their ctx), then closes every connection and handle. The memory is
 * released in the loop's closing phase: run the loop once more. May be called from a result
 * callback. NULL is a no-op. */
void fb_http_client_free(fb_http_client *c);

/* Starts a GET. On success returns 0 and, if out is not NULL, a handle valid until the
 * callback returns or the request is cancelled. Returns FB_EINVAL (bad arguments, a range
 * larger than max_body, a client being freed), FB_ENOSPC (max_requests reached) or FB_ENOMEM.
 * The callback is never called when this returns an error. */
int fb_http_get(fb_http_client *c, const fb_http_client_request *req, fb_http_cb cb, void *ctx,
                fb_http_req **out);

/* Abandons a request: its callback is not called, its connection is closed or returned to the
 * pool. Must not be called for a request whose callback has started. */
void fb_http_cancel(fb_http_req *q);

/* Requests in flight or queued. */
uint32_t fb_http_client_pending(const fb_http_client *c);

/* A short static text for a result code. */
const char *fb_http_strerror(int error);

#endif
