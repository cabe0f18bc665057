/* `flashback get --stats`: the run's counters as one line of JSON (see getstats.h). */
#include "peer/getstats.h"

#include "peer/jsonbuf.h"

void fb_get_stats_init(fb_get_stats *s)
{
    memset(s, 0, sizeof(*s));
    s->mode = "none";
    s->error = "";
    s->ms_manifest = s->ms_first_byte = s->ms_complete = s->ms_total = -1;
}

int fb_get_stats_json(const fb_get_stats *s, char *out, size_t cap)
{
    fb_jbuf b;
    fb_jbuf_begin(&b, out, cap);
    fb_jbuf_str(&b, "url", s->url);
    fb_jbuf_str(&b, "mode", s->mode);
    fb_jbuf_i64(&b, "exit", s->exit_code);
    fb_jbuf_str(&b, "error", s->error);
    fb_jbuf_u64(&b, "bytes_total", s->bytes_total);
    fb_jbuf_u64(&b, "bytes_manifest", s->bytes_manifest);
    fb_jbuf_u64(&b, "bytes_origin_http", s->bytes_origin_http);
    fb_jbuf_u64(&b, "bytes_seed", s->bytes_seed);
    fb_jbuf_u64(&b, "bytes_peers", s->bytes_peers);
    fb_jbuf_u64(&b, "bytes_uploaded", s->bytes_uploaded);
    fb_jbuf_u64(&b, "udp_bytes_in", s->udp_bytes_in);
    fb_jbuf_u64(&b, "udp_bytes_out", s->udp_bytes_out);
    fb_jbuf_u64(&b, "udp_dropped", s->udp_dropped);
    fb_jbuf_u64(&b, "udp_dgrams_in", s->udp_dgrams_in);
    fb_jbuf_u64(&b, "udp_dgrams_out", s->udp_dgrams_out);
    fb_jbuf_u64(&b, "udp_send_calls", s->udp_send_calls);
    fb_jbuf_u64(&b, "udp_gso_dgrams", s->udp_gso_dgrams);
    fb_jbuf_u64(&b, "engine_ticks", s->engine_ticks);
    fb_jbuf_u64(&b, "objects", s->objects);
    fb_jbuf_u64(&b, "chunks", s->chunks);
    fb_jbuf_u64(&b, "chunks_origin", s->chunks_origin);
    fb_jbuf_u64(&b, "chunks_seed", s->chunks_seed);
    fb_jbuf_u64(&b, "chunks_peers", s->chunks_peers);
    fb_jbuf_u64(&b, "http_requests", s->http_requests);
    fb_jbuf_u64(&b, "http_failures", s->http_failures);
    fb_jbuf_u64(&b, "chunks_bad", s->chunks_bad);
    fb_jbuf_u64(&b, "bans", s->bans);
    fb_jbuf_u64(&b, "neighbours_added", s->neighbours_added);
    fb_jbuf_u64(&b, "neighbours_max", s->neighbours_max);
    fb_jbuf_u64(&b, "manifest_fetches", s->manifest_fetches);
    fb_jbuf_ms(&b, "ms_manifest", s->ms_manifest);
    fb_jbuf_ms(&b, "ms_first_byte", s->ms_first_byte);
    fb_jbuf_ms(&b, "ms_complete", s->ms_complete);
    fb_jbuf_ms(&b, "ms_total", s->ms_total);
    return fb_jbuf_end(&b);
}
