/* Conditional and range requests (RFC 9110 sections 13 and 14) evaluated against a file's
 * validators: which status a GET or HEAD gets (200, 206, 304, 412, 416) and which byte range.
 * Pure: the request's headers and the current time come in, a decision comes out. */
#ifndef FB_HTTP_COND_H
#define FB_HTTP_COND_H

#include "core/http_parse.h"

typedef enum {
    FB_RANGE_NONE = 0,      /* no usable Range: send the whole representation (200) */
    FB_RANGE_ONE,           /* one satisfiable range: 206 */
    FB_RANGE_MULTI,         /* several satisfiable ranges: we send the whole (200), as allowed */
    FB_RANGE_UNSATISFIABLE, /* 416 with Content-Range: bytes * / size */
} fb_range_result;

#define FB_RANGE_MAX_PARTS 16 /* more ranges than this: the header is ignored */

/* Parses a Range value for a representation of `size` bytes. For FB_RANGE_ONE, sets *first and
 * *last (inclusive, last < size). A syntax error or a unit other than "bytes" gives
 * FB_RANGE_NONE: RFC 9110 says to ignore such a header. */
fb_range_result fb_http_range_parse(const char *v, size_t len, uint64_t size, uint64_t *first,
                                    uint64_t *last);

/* True when the entity-tag list (an If-Match or If-None-Match value) holds "*" or a tag equal to
 * `etag` (a quoted strong tag such as "\"abc\""). With weak_cmp, W/ prefixes are ignored (weak
 * comparison, for If-None-Match); otherwise a weak tag never matches (strong comparison). A
 * malformed list matches nothing. */
bool fb_http_etag_match(const char *list, size_t len, const char *etag, size_t etag_len,
                        bool weak_cmp);

/* True when the Accept-Encoding value v[0..len) accepts the content coding `coding` (a lowercase
 * token such as "gzip"; "x-gzip" counts as "gzip"): named with a weight above 0, or not named
 * while "*" has a weight above 0. Names compare case-insensitively. A malformed value accepts
 * nothing (the server then sends the identity). */
bool fb_http_accepts_coding(const char *v, size_t len, const char *coding);

/* What the server knows about the selected file. */
typedef struct fb_http_validators {
    const char *etag; /* strong entity-tag, with its quotes */
    size_t etag_len;
    int64_t mtime; /* Last-Modified, seconds since the epoch */
    uint64_t size;
} fb_http_validators;

typedef struct fb_http_cond {
    int status;     /* 200, 206, 304, 412 or 416 */
    uint64_t first; /* for 206: the inclusive byte range */
    uint64_t last;
} fb_http_cond;

/* Evaluates If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since, then If-Range and
 * Range, in the order RFC 9110 13.2.2 gives, for a GET or HEAD request (Range is honoured for GET
 * only). `now` reads two-digit years in obsolete dates. */
void fb_http_cond_eval(const fb_http_request *req, const fb_http_validators *v, int64_t now,
                       fb_http_cond *out);

#endif
