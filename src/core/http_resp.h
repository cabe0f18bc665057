/* Pieces for writing HTTP responses: reason phrases and a bounded output buffer that records
 * overflow instead of writing past its end. Pure. */
#ifndef FB_HTTP_RESP_H
#define FB_HTTP_RESP_H

#include "core/fbstd.h"

/* The reason phrase for a status code ("Not Found"); "Unknown" for codes we never send. */
const char *fb_http_reason(int status);

/* Appends into caller memory; once something does not fit, `overflow` is set and later appends
 * do nothing, so a caller checks once at the end. */
typedef struct fb_wbuf {
    char *p;
    size_t len;
    size_t cap;
    bool overflow;
} fb_wbuf;

void fb_wbuf_init(fb_wbuf *b, char *mem, size_t cap);
void fb_wbuf_put(fb_wbuf *b, const void *s, size_t n);
void fb_wbuf_puts(fb_wbuf *b, const char *s);
void fb_wbuf_u64(fb_wbuf *b, uint64_t v); /* decimal */
void fb_wbuf_hex(fb_wbuf *b, uint64_t v); /* lowercase hex, no prefix */

#endif
