/* `flashback get --stats`: the run's counters as one line of JSON (see getstats.h). */
#include "peer/getstats.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

void fb_get_stats_init(fb_get_stats *s)
{
    memset(s, 0, sizeof(*s));
    s->mode = "none";
    s->error = "";
    s->ms_manifest = s->ms_first_byte = s->ms_complete = s->ms_total = -1;
}

/* An output buffer that remembers whether anything did not fit. */
typedef struct jbuf {
    char *p;
    size_t cap, len;
    bool over;
} jbuf;

static void put(jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(jbuf *b, const char *fmt, ...)
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

static void put_str(jbuf *b, const char *key, const char *v)
{
    put(b, "\"%s\":\"", key);
    for (const unsigned char *s = (const unsigned char *)(v ? v : ""); *s; s++) {
        if (*s == '"' || *s == '\\')
            put(b, "\\%c", *s);
        else if (*s < 0x20 || *s >= 0x7f)
            put(b, "\\u%04x", *s);
        else
            put(b, "%c", *s);
    }
    put(b, "\",");
}

static void put_u(jbuf *b, const char *key, uint64_t v)
{
    put(b, "\"%s\":%" PRIu64 ",", key, v);
}

static void put_ms(jbuf *b, const char *key, int64_t v)
{
    if (v < 0)
        put(b, "\"%s\":null,", key);
    else
        put(b, "\"%s\":%" PRId64 ",", key, v);
}

int fb_get_stats_json(const fb_get_stats *s, char *out, size_t cap)
{
    jbuf b = {out, cap, 0, cap == 0};
    put(&b, "{");
    put_str(&b, "url", s->url);
    put_str(&b, "mode", s->mode);
    put(&b, "\"exit\":%d,", s->exit_code);
    put_str(&b, "error", s->error);
    put_u(&b, "bytes_total", s->bytes_total);
    put_u(&b, "bytes_manifest", s->bytes_manifest);
    put_u(&b, "bytes_origin_http", s->bytes_origin_http);
    put_u(&b, "bytes_seed", s->bytes_seed);
    put_u(&b, "bytes_peers", s->bytes_peers);
    put_u(&b, "bytes_uploaded", s->bytes_uploaded);
    put_u(&b, "udp_bytes_in", s->udp_bytes_in);
    put_u(&b, "udp_bytes_out", s->udp_bytes_out);
    put_u(&b, "udp_dropped", s->udp_dropped);
    put_u(&b, "objects", s->objects);
    put_u(&b, "chunks", s->chunks);
    put_u(&b, "chunks_origin", s->chunks_origin);
    put_u(&b, "chunks_seed", s->chunks_seed);
    put_u(&b, "chunks_peers", s->chunks_peers);
    put_u(&b, "http_requests", s->http_requests);
    put_u(&b, "http_failures", s->http_failures);
    put_u(&b, "chunks_bad", s->chunks_bad);
    put_u(&b, "bans", s->bans);
    put_u(&b, "neighbours_added", s->neighbours_added);
    put_u(&b, "neighbours_max", s->neighbours_max);
    put_u(&b, "manifest_fetches", s->manifest_fetches);
    put_ms(&b, "ms_manifest", s->ms_manifest);
    put_ms(&b, "ms_first_byte", s->ms_first_byte);
    put_ms(&b, "ms_complete", s->ms_complete);
    put_ms(&b, "ms_total", s->ms_total);
    if (!b.over)
        b.p[--b.len] = '\0'; /* drop the last comma */
    put(&b, "}\n");
    if (b.over)
        return FB_E2BIG;
    return (int)b.len;
}
