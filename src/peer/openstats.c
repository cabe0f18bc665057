/* `flashback open`'s counters as one line of JSON (see openstats.h). */
#include "peer/openstats.h"

#include "peer/jsonbuf.h"

void fb_open_stats_init(fb_open_stats *s)
{
    memset(s, 0, sizeof(*s));
    fb_get_stats_init(&s->swarm);
}

void fb_open_stats_add(fb_get_stats *sum, const fb_get_stats *p)
{
    sum->bytes_total += p->bytes_total;
    sum->bytes_manifest += p->bytes_manifest;
    sum->bytes_origin_http += p->bytes_origin_http;
    sum->bytes_seed += p->bytes_seed;
    sum->bytes_peers += p->bytes_peers;
    sum->bytes_uploaded += p->bytes_uploaded;
    sum->udp_bytes_in += p->udp_bytes_in;
    sum->udp_bytes_out += p->udp_bytes_out;
    sum->udp_dropped += p->udp_dropped;
    sum->objects += p->objects;
    sum->chunks += p->chunks;
    sum->chunks_origin += p->chunks_origin;
    sum->chunks_seed += p->chunks_seed;
    sum->chunks_peers += p->chunks_peers;
    sum->http_requests += p->http_requests;
    sum->http_failures += p->http_failures;
    sum->chunks_bad += p->chunks_bad;
    sum->bans = FB_MAX(sum->bans, p->bans);
    sum->neighbours_added += p->neighbours_added;
    sum->neighbours_max = FB_MAX(sum->neighbours_max, p->neighbours_max);
    sum->manifest_fetches += p->manifest_fetches;
}

int fb_open_stats_json(const fb_open_stats *s, char *out, size_t cap)
{
    const fb_get_stats *w = &s->swarm;
    fb_jbuf b;
    uint64_t origin = w->bytes_origin_http + w->bytes_manifest + w->bytes_seed + s->bytes_proxy;
    uint64_t all = origin + w->bytes_peers;
    fb_jbuf_begin(&b, out, cap);
    fb_jbuf_str(&b, "origin", s->origin);
    fb_jbuf_str(&b, "local", s->local);
    fb_jbuf_u64(&b, "uptime_ms", s->uptime_ms);
    fb_jbuf_u64(&b, "pages", s->pages);
    fb_jbuf_u64(&b, "pages_started", s->pages_started);
    fb_jbuf_u64(&b, "pages_retired", s->pages_retired);
    fb_jbuf_u64(&b, "pages_failed", s->pages_failed);
    fb_jbuf_u64(&b, "pages_plain", s->pages_plain);
    fb_jbuf_u64(&b, "requests", s->requests);
    fb_jbuf_u64(&b, "served_swarm", s->served_swarm);
    fb_jbuf_u64(&b, "served_proxy", s->served_proxy);
    fb_jbuf_u64(&b, "not_modified", s->not_modified);
    fb_jbuf_u64(&b, "errors", s->errors);
    fb_jbuf_u64(&b, "waited", s->waited);
    fb_jbuf_u64(&b, "hurried", s->hurried);
    fb_jbuf_u64(&b, "bytes_served", s->bytes_served);
    fb_jbuf_u64(&b, "bytes_proxy", s->bytes_proxy);
    fb_jbuf_u64(&b, "bytes_reused", s->bytes_reused);
    fb_jbuf_u64(&b, "bytes_total", w->bytes_total);
    fb_jbuf_u64(&b, "bytes_manifest", w->bytes_manifest);
    fb_jbuf_u64(&b, "bytes_origin_http", w->bytes_origin_http);
    fb_jbuf_u64(&b, "bytes_seed", w->bytes_seed);
    fb_jbuf_u64(&b, "bytes_peers", w->bytes_peers);
    fb_jbuf_u64(&b, "bytes_uploaded", w->bytes_uploaded);
    fb_jbuf_u64(&b, "udp_bytes_in", w->udp_bytes_in);
    fb_jbuf_u64(&b, "udp_bytes_out", w->udp_bytes_out);
    fb_jbuf_u64(&b, "udp_dropped", w->udp_dropped);
    fb_jbuf_u64(&b, "chunks_origin", w->chunks_origin);
    fb_jbuf_u64(&b, "chunks_seed", w->chunks_seed);
    fb_jbuf_u64(&b, "chunks_peers", w->chunks_peers);
    fb_jbuf_u64(&b, "http_requests", w->http_requests);
    fb_jbuf_u64(&b, "http_failures", w->http_failures);
    fb_jbuf_u64(&b, "chunks_bad", w->chunks_bad);
    fb_jbuf_u64(&b, "bans", w->bans);
    fb_jbuf_u64(&b, "neighbours_added", w->neighbours_added);
    fb_jbuf_u64(&b, "manifest_fetches", w->manifest_fetches);
    fb_jbuf_i64(&b, "origin_share_permille", all ? (int64_t)(origin * 1000 / all) : -1);
    return fb_jbuf_end(&b);
}
