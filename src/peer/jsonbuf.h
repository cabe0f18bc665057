/* A bounded writer for one JSON object of flat fields, as the peer's --stats and its local
 * stats endpoint print them: keys and values appended into caller memory, strings escaped, and
 * overflow remembered rather than written past the end. Pure: no I/O, no allocation. */
#ifndef FB_PEER_JSONBUF_H
#define FB_PEER_JSONBUF_H

#include "core/fbstd.h"

typedef struct fb_jbuf {
    char *p;
    size_t cap, len;
    bool over; /* something did not fit: the output is unusable */
} fb_jbuf;

/* Starts an object ("{") in out[0..cap). */
void fb_jbuf_begin(fb_jbuf *b, char *out, size_t cap);

/* printf-style raw text. */
void fb_jbuf_put(fb_jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "key":"value", with quotes and backslashes escaped and control and non-ASCII bytes as \u00XX
 * (NULL is ""). */
void fb_jbuf_str(fb_jbuf *b, const char *key, const char *v);

/* "key":value for an unsigned or signed integer. */
void fb_jbuf_u64(fb_jbuf *b, const char *key, uint64_t v);
void fb_jbuf_i64(fb_jbuf *b, const char *key, int64_t v);

/* "key":value, or "key":null when v < 0 (a time that did not happen). */
void fb_jbuf_ms(fb_jbuf *b, const char *key, int64_t v);

/* Ends the object with "}\n" and a NUL. Returns the length, or FB_E2BIG if anything did not fit. */
int fb_jbuf_end(fb_jbuf *b);

#endif
