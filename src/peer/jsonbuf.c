/* The flat JSON object writer (see jsonbuf.h). Every field is written with a trailing comma; the
 * last one is dropped when the object ends. */
#include "peer/jsonbuf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

void fb_jbuf_begin(fb_jbuf *b, char *out, size_t cap)
{
    b->p = out;
    b->cap = cap;
    b->len = 0;
    b->over = cap == 0;
    fb_jbuf_put(b, "{");
}

void fb_jbuf_put(fb_jbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (b->over)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->over = true;
        return;
    }
    b->len += (size_t)n;
}

void fb_jbuf_str(fb_jbuf *b, const char *key, const char *v)
{
    fb_jbuf_put(b, "\"%s\":\"", key);
    for (const unsigned char *s = (const unsigned char *)(v ? v : ""); *s; s++) {
        if (*s == '"' || *s == '\\')
            fb_jbuf_put(b, "\\%c", *s);
        else if (*s < 0x20 || *s >= 0x7f)
            fb_jbuf_put(b, "\\u%04x", *s);
        else
            fb_jbuf_put(b, "%c", *s);
    }
    fb_jbuf_put(b, "\",");
}

void fb_jbuf_u64(fb_jbuf *b, const char *key, uint64_t v)
{
    fb_jbuf_put(b, "\"%s\":%" PRIu64 ",", key, v);
}

void fb_jbuf_i64(fb_jbuf *b, const char *key, int64_t v)
{
    fb_jbuf_put(b, "\"%s\":%" PRId64 ",", key, v);
}

void fb_jbuf_ms(fb_jbuf *b, const char *key, int64_t v)
{
    if (v < 0)
        fb_jbuf_put(b, "\"%s\":null,", key);
    else
        fb_jbuf_i64(b, key, v);
}

int fb_jbuf_end(fb_jbuf *b)
{
    if (!b->over && b->len > 1 && b->p[b->len - 1] == ',')
        b->p[--b->len] = '\0'; /* drop the last comma */
    fb_jbuf_put(b, "}\n");
    if (b->over)
        return FB_E2BIG;
    return (int)b->len;
}
