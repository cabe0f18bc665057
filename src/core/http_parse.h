/* HTTP/1.1 request heads (RFC 9112), parsed strictly, and the chunked body decoder.
 * Pure: no allocation, no I/O; the parser returns pointers into the caller's buffer. It rejects
 * every ambiguity a request-smuggling attack relies on (bare CR or LF, obs-fold, whitespace before
 * a colon, conflicting framing headers) with the HTTP status the server must answer. */
#ifndef FB_HTTP_PARSE_H
#define FB_HTTP_PARSE_H

#include "core/fbstd.h"

typedef struct fb_http_header {
    const char *name;  /* field name as sent (case preserved), not NUL-terminated */
    const char *value; /* value without leading/trailing whitespace; may be empty */
    uint32_t name_len;
    uint32_t value_len;
} fb_http_header;

typedef enum { FB_HTTP_OTHER = 0, FB_HTTP_GET, FB_HTTP_HEAD } fb_http_method;

typedef enum {
    FB_HTTP_BODY_NONE = 0, /* no body (or Content-Length: 0) */
    FB_HTTP_BODY_LENGTH,   /* exactly content_length bytes follow the head */
    FB_HTTP_BODY_CHUNKED,  /* chunked coding: use fb_http_chunked */
} fb_http_body;

typedef struct fb_http_limits {
    size_t max_head;    /* request line + header lines + final CRLF, in bytes (> 0) */
    size_t max_headers; /* header fields; the capacity of the caller's `headers` array */
} fb_http_limits;

typedef struct fb_http_request {
    fb_http_header *headers; /* in: array of limits->max_headers entries; out: the fields */
    size_t num_headers;      /* out */
    const char *method;      /* token, case-sensitive */
    size_t method_len;
    fb_http_method meth;
    const char *target; /* request-target as sent: visible ASCII only */
    size_t target_len;
    int minor; /* HTTP/1.minor: 0 or 1 (HTTP/1.2..1.9 are treated as 1) */
    fb_http_body body;
    uint64_t content_length; /* for FB_HTTP_BODY_LENGTH */
    bool keep_alive;         /* from the version and any Connection tokens */
    const char *host;        /* Host value (NULL if absent, which HTTP/1.0 allows) */
    size_t host_len;
    int status; /* when the result is FB_EPROTO: 400, 414, 431, 501 or 505 */
} fb_http_request;

/* Parses the request head at the start of buf[0..len).
 * `prev_len` is the len of the previous call on the same (grown) buffer that returned FB_EAGAIN,
 * or 0: the parser then only scans the new bytes, so feeding a head byte by byte stays linear.
 * Leading empty lines (CRLF) are skipped and counted in the result.
 * Returns the head's length in bytes (> 0; the body, if any, starts there), FB_EAGAIN when the head
 * is incomplete and still within the limits, or FB_EPROTO with req->status set when the request is
 * invalid (400 syntax or framing, 414 request line longer than max_head, 431 head longer than
 * max_head or more than max_headers fields, 501 unsupported transfer coding, 505 HTTP major != 1).
 * On success every pointer in *req points into buf. */
int fb_http_parse_request(const char *buf, size_t len, size_t prev_len, const fb_http_limits *lim,
                          fb_http_request *req);

/* Finds the first header named `name` (ASCII case-insensitive); NULL when absent. */
const fb_http_header *fb_http_find_header(const fb_http_request *req, const char *name);

/* True when a and b (lengths given) are equal ignoring ASCII case. */
bool fb_http_ieq(const char *a, size_t alen, const char *b, size_t blen);

/* Chunked transfer coding (RFC 9112 section 7.1), decoded incrementally. The state is kept in the
 * struct, so the body can arrive in pieces of any size, down to one byte. */
typedef enum {
    FB_CHUNK_SIZE = 0,      /* reading hex digits of a chunk size */
    FB_CHUNK_SIZE_WS,       /* whitespace after the size: only ';' may follow */
    FB_CHUNK_EXT,           /* chunk extension, up to CR */
    FB_CHUNK_SIZE_LF,       /* the LF ending a size line */
    FB_CHUNK_DATA,          /* inside chunk data */
    FB_CHUNK_DATA_CR,       /* the CR after chunk data */
    FB_CHUNK_DATA_LF,       /* the LF after chunk data */
    FB_CHUNK_TRAILER,       /* at the start of a trailer line (or the final CRLF) */
    FB_CHUNK_TRAILER_LINE,  /* inside a trailer field name */
    FB_CHUNK_TRAILER_VALUE, /* inside a trailer field value */
    FB_CHUNK_TRAILER_LF,    /* the LF ending a trailer line */
    FB_CHUNK_FINAL_LF,      /* the LF of the final empty line */
    FB_CHUNK_DONE,
} fb_chunk_state;

typedef struct fb_http_chunked {
    fb_chunk_state state;
    uint64_t left;      /* bytes left in the current chunk (or the size being read) */
    uint64_t total;     /* data bytes decoded so far */
    uint64_t max_total; /* cap on data bytes: past it, FB_E2BIG */
    uint32_t digits;    /* hex digits read for the current size */
    uint32_t line;      /* bytes of the current extension or trailer line */
    uint32_t max_line;  /* cap on a size line's extension and on a trailer line */
} fb_http_chunked;

/* Starts decoding a chunked body of at most max_total data bytes; extension and trailer lines are
 * capped at max_line bytes each. */
void fb_http_chunked_init(fb_http_chunked *c, uint64_t max_total, uint32_t max_line);

/* Decodes from buf[0..len). Sets *consumed to the bytes used and returns:
 *   1            a span of chunk data: *data and *data_len point into buf (call again for more);
 *   0            the body ended (last chunk, trailers and the final CRLF were consumed);
 *   FB_EAGAIN    every byte was consumed and the body is not finished;
 *   FB_EPROTO    invalid syntax (bad chunk size, missing CRLF, bare CR or LF, bad trailer);
 *   FB_E2BIG     data beyond max_total, or an extension/trailer line beyond max_line. */
int fb_http_chunked_next(fb_http_chunked *c, const char *buf, size_t len, size_t *consumed,
                         const char **data, size_t *data_len);

#endif
