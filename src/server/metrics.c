/* Prometheus text rendering of flashbackd's counters (metrics.h). Each metric is one help line,
 * one type line and its samples; names follow Prometheus conventions (counters end in _total,
 * units in the name). */
#include "server/metrics.h"

#include <stdio.h>
#include <unistd.h>

#include "core/http_resp.h"

static void head(fb_wbuf *b, const char *name, const char *type, const char *help)
{
    fb_wbuf_puts(b, "# HELP ");
    fb_wbuf_puts(b, name);
    fb_wbuf_puts(b, " ");
    fb_wbuf_puts(b, help);
    fb_wbuf_puts(b, "\n# TYPE ");
    fb_wbuf_puts(b, name);
    fb_wbuf_puts(b, " ");
    fb_wbuf_puts(b, type);
    fb_wbuf_puts(b, "\n");
}

static void sample(fb_wbuf *b, const char *name, const char *labels, uint64_t v)
{
    fb_wbuf_puts(b, name);
    if (labels) {
        fb_wbuf_puts(b, "{");
        fb_wbuf_puts(b, labels);
        fb_wbuf_puts(b, "}");
    }
    fb_wbuf_puts(b, " ");
    fb_wbuf_u64(b, v);
    fb_wbuf_puts(b, "\n");
}

static void counter(fb_wbuf *b, const char *name, const char *help, uint64_t v)
{
    head(b, name, "counter", help);
    sample(b, name, NULL, v);
}

static void gauge(fb_wbuf *b, const char *name, const char *help, uint64_t v)
{
    head(b, name, "gauge", help);
    sample(b, name, NULL, v);
}

/* A value in microseconds, written in seconds with six decimals. */
static void seconds(fb_wbuf *b, const char *name, const char *type, const char *help, uint64_t us)
{
    char v[160];
    head(b, name, type, help);
    snprintf(v, sizeof(v), "%s %llu.%06llu\n", name, (unsigned long long)(us / 1000000),
             (unsigned long long)(us % 1000000));
    fb_wbuf_puts(b, v);
}

static uint64_t resident_bytes(void)
{
    unsigned long long size = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &rss) != 2)
        rss = 0;
    fclose(f);
    return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void http(fb_wbuf *b, const fb_http_stats *h)
{
    static const char *cls[] = {
        NULL, "class=\"1xx\"", "class=\"2xx\"", "class=\"3xx\"", "class=\"4xx\"", "class=\"5xx\""};
    counter(b, "flashback_http_connections_accepted_total", "TCP connections accepted.",
            h->conns_accepted);
    counter(b, "flashback_http_connections_refused_total",
            "Connections answered 503 and closed because --max-conns were open.", h->conns_refused);
    gauge(b, "flashback_http_connections_active", "TCP connections open now.", h->conns_active);
    gauge(b, "flashback_http_connections_peak", "Most TCP connections open at once.",
          h->conns_peak);
    counter(b, "flashback_http_requests_total", "HTTP requests handled.", h->requests);
    head(b, "flashback_http_responses_total", "counter", "HTTP responses by status class.");
    for (int i = 1; i <= 5; i++)
        sample(b, "flashback_http_responses_total", cls[i], h->responses[i]);
    counter(b, "flashback_http_sent_bytes_total",
            "Bytes written to HTTP connections (status lines, headers and bodies).", h->bytes_sent);
    counter(b, "flashback_http_body_sent_bytes_total", "Body bytes written to HTTP connections.",
            h->body_bytes_sent);
    counter(b, "flashback_http_parse_errors_total", "Requests refused as malformed (4xx/5xx).",
            h->parse_errors);
    head(b, "flashback_http_timeouts_total", "counter", "Connections ended by a timeout.");
    sample(b, "flashback_http_timeouts_total", "kind=\"header\"", h->timeouts_header);
    sample(b, "flashback_http_timeouts_total", "kind=\"idle\"", h->timeouts_idle);
    sample(b, "flashback_http_timeouts_total", "kind=\"send\"", h->timeouts_send);
}

static void files(fb_wbuf *b, const fb_file_cache *c)
{
    counter(b, "flashback_file_cache_hits_total", "File lookups answered from the cache.", c->hits);
    counter(b, "flashback_file_cache_misses_total", "File lookups that opened the file.",
            c->misses);
    counter(b, "flashback_file_cache_evictions_total", "Cache entries dropped to make room.",
            c->evictions);
    counter(b, "flashback_file_cache_stale_total",
            "Cache entries dropped because the file changed.", c->stale);
    gauge(b, "flashback_file_cache_entries", "Files in the cache.", c->entries);
    gauge(b, "flashback_file_cache_bytes", "Memory the cache holds.", c->bytes);
}

static void seed(fb_wbuf *b, fb_seed *s, uint64_t rate)
{
    fb_seed_stats st;
    if (s)
        fb_seed_stats_get(s, &st);
    else
        memset(&st, 0, sizeof(st));
    const fb_engine_stats *e = &st.engine;
    gauge(b, "flashback_seed_up", "1 when the seed runs on UDP, 0 with --no-udp.", s != NULL);
    gauge(b, "flashback_seed_rate_limit_bytes",
          "The seed's upload cap, bytes per second (UDP/IP headers included).", s ? rate : 0);
    counter(b, "flashback_seed_udp_sent_bytes_total",
            "UDP payload bytes the seed sent (every datagram: chunks and control).",
            st.udp.bytes_out);
    counter(b, "flashback_seed_udp_sent_datagrams_total", "Datagrams the seed sent.",
            st.udp.dgrams_out);
    counter(b, "flashback_seed_chunk_sent_bytes_total",
            "Chunk payload bytes the seed sent (DATA blocks only).", e->bytes_out_data);
    counter(b, "flashback_seed_udp_received_bytes_total", "UDP payload bytes the seed received.",
            st.udp.bytes_in);
    counter(b, "flashback_seed_udp_received_datagrams_total",
            "Datagrams the seed received, dropped ones included.", st.udp.dgrams_in);
    gauge(b, "flashback_seed_peers", "Peers tracked now, over all swarms.", e->tracked_peers);
    counter(b, "flashback_seed_joins_total",
            "Peers that joined a swarm (validated JOIN, first time).", e->joins);
    counter(b, "flashback_seed_introductions_total",
            "Pairs of peers introduced to each other for hole punching.", e->introductions);
    counter(b, "flashback_seed_bans_total", "Neighbours banned by the seed's engine for bad data.",
            e->bans);
    counter(b, "flashback_seed_busy_total",
            "Chunk requests answered BUSY because the upload queue was full.", e->busy_sent);
    head(b, "flashback_seed_dropped_datagrams_total", "counter",
         "Datagrams the seed received and refused, by reason.");
    sample(b, "flashback_seed_dropped_datagrams_total", "reason=\"malformed\"",
           e->dropped_invalid + st.udp.drop_malformed);
    sample(b, "flashback_seed_dropped_datagrams_total", "reason=\"oversize\"",
           st.udp.drop_oversize);
    sample(b, "flashback_seed_dropped_datagrams_total", "reason=\"unvalidated\"",
           e->dropped_unvalidated);
    sample(b, "flashback_seed_dropped_datagrams_total", "reason=\"cap\"", e->dropped_cap);
    sample(b, "flashback_seed_dropped_datagrams_total", "reason=\"unknown\"", e->dropped_unknown);
    head(b, "flashback_seed_send_dropped_total", "counter",
         "Datagrams the seed meant to send that the socket refused, by reason.");
    sample(b, "flashback_seed_send_dropped_total", "reason=\"buffer_full\"", st.udp.drop_send_full);
    sample(b, "flashback_seed_send_dropped_total", "reason=\"error\"", st.udp.drop_send_error);
    counter(b, "flashback_seed_udp_send_calls_total",
            "System calls that sent the seed's datagrams (sendmmsg batches them).",
            st.udp.send_calls);
    counter(b, "flashback_seed_udp_gso_datagrams_total",
            "Datagrams sent in runs to one peer as one UDP_SEGMENT message.", st.udp.gso_datagrams);
    gauge(b, "flashback_seed_upload_queue", "Chunk requests queued or being sent.",
          e->upload_queue);
    gauge(b, "flashback_seed_swarms", "Swarms the seed serves, retiring ones included.", st.swarms);
    gauge(b, "flashback_seed_swarms_retiring",
          "Swarms whose manifest was replaced, served until their grace period ends.",
          st.swarms_retiring);
    counter(b, "flashback_seed_swarms_added_total", "Swarms added.", st.swarms_added);
    counter(b, "flashback_seed_swarms_removed_total", "Swarms removed.", st.swarms_removed);
    counter(b, "flashback_seed_read_errors_total",
            "Chunk reads refused because the file changed or vanished.", st.read_errors);
}

static void manifests(fb_wbuf *b, fb_manifests *m)
{
    fb_manifests_stats st;
    if (m)
        fb_manifests_stats_get(m, &st);
    else
        memset(&st, 0, sizeof(st));
    counter(b, "flashback_manifest_requests_total", "Manifest lookups.", st.requests);
    counter(b, "flashback_manifest_hits_total", "Manifest lookups answered from the cache.",
            st.hits);
    counter(b, "flashback_manifests_built_total", "Manifests built.", st.builds);
    counter(b, "flashback_manifest_rebuilds_total",
            "Manifests rebuilt because one of their files changed.", st.rebuilds);
    counter(b, "flashback_manifest_build_failures_total",
            "Manifest builds that failed (missing page, over a cap, I/O).", st.build_failures);
    counter(b, "flashback_manifest_build_retries_total",
            "Builds started again because a file changed meanwhile.", st.retries);
    counter(b, "flashback_manifest_evictions_total",
            "Cached manifests dropped to stay under --manifests.", st.evictions);
    counter(b, "flashback_manifest_objects_capped_total",
            "Embedded objects left out by --manifest-objects or --manifest-bytes.",
            st.objects_capped);
    counter(b, "flashback_manifest_objects_missing_total",
            "Embedded objects left out: missing, hidden, not a regular file, bad path.",
            st.objects_missing);
    counter(b, "flashback_manifest_hashed_bytes_total", "File bytes read and hashed (SHA-256).",
            st.bytes_hashed);
    counter(b, "flashback_manifest_seed_refused_total",
            "Manifests served without Flashback-Seed because the seed had no room.",
            st.seed_refused);
    counter(b, "flashback_manifest_deferred_total",
            "Manifest requests that waited for a build going on from the loop.", st.deferred);
    counter(b, "flashback_manifest_build_slices_total",
            "Loop turns that hashed a slice of such a build.", st.slices);
    gauge(b, "flashback_manifest_building", "Builds going on from the loop now.", st.building);
    seconds(b, "flashback_manifest_build_seconds_total", "counter",
            "Time the event loop spent building manifests.", st.build_us_total);
    seconds(b, "flashback_manifest_build_seconds_max", "gauge",
            "The longest the loop was held by one build or one slice of a build.", st.build_us_max);
    gauge(b, "flashback_manifests_cached", "Manifests cached now.", st.cached);
    gauge(b, "flashback_manifests_cached_bytes", "Memory of the cached manifests.",
          st.cached_bytes);
    const fb_hashcache *h = st.hash_cache;
    counter(b, "flashback_hash_cache_hits_total", "Files whose chunk hashes were cached.",
            h ? h->hits : 0);
    counter(b, "flashback_hash_cache_misses_total", "Files that had to be hashed.",
            h ? h->misses : 0);
    counter(b, "flashback_hash_cache_evictions_total", "Hash entries dropped to make room.",
            h ? h->evictions : 0);
    gauge(b, "flashback_hash_cache_entries", "Files whose hashes are cached.", h ? h->entries : 0);
    gauge(b, "flashback_hash_cache_bytes", "Memory of the hash cache.", h ? h->bytes : 0);
}

/* Reverse-proxy mode only (docs/PROXY.md). */
static void proxy(fb_wbuf *b, const fb_proxy *p)
{
    fb_proxy_stats st;
    if (!p)
        return;
    fb_proxy_stats_get(p, &st);
    counter(b, "flashback_proxy_requests_total", "GET/HEAD requests handled by the proxy.",
            st.requests);
    counter(b, "flashback_proxy_hits_total", "Requests answered from a fresh mirrored copy.",
            st.hits);
    counter(b, "flashback_proxy_misses_total", "Upstream fetches for a path with no copy.",
            st.misses);
    counter(b, "flashback_proxy_revalidations_total",
            "Conditional upstream fetches for a stale copy.", st.revalidations);
    counter(b, "flashback_proxy_not_modified_total",
            "Revalidations the upstream answered 304 (the copy was kept).", st.not_modified);
    counter(b, "flashback_proxy_unchanged_total",
            "200 answers whose bytes equal the copy's (the file was kept).", st.unchanged);
    counter(b, "flashback_proxy_coalesced_total",
            "Requests that waited for another request's upstream fetch.", st.coalesced);
    counter(b, "flashback_proxy_upstream_requests_total", "Requests sent to the upstream.",
            st.upstream_requests);
    counter(b, "flashback_proxy_upstream_errors_total",
            "Upstream requests without an answer (refused, timeout, reset, too large).",
            st.upstream_errors);
    counter(b, "flashback_proxy_upstream_5xx_total", "Upstream answers with a 5xx status.",
            st.upstream_5xx);
    counter(b, "flashback_proxy_stale_served_total",
            "Answers from a stale copy because the upstream failed.", st.stale_served);
    counter(b, "flashback_proxy_stale_updating_total",
            "Answers from a stale copy while another request revalidated it.", st.stale_updating);
    counter(b, "flashback_proxy_stored_total", "Files written into the mirror.", st.stored);
    counter(b, "flashback_proxy_relayed_total", "Upstream answers relayed without storing.",
            st.relayed);
    counter(b, "flashback_proxy_spooled_total",
            "Large shared answers relayed through a file of the mirror (sendfile).", st.spooled);
    counter(b, "flashback_proxy_passed_total",
            "Requests sent upstream on their own (private answers, Authorization, odd paths).",
            st.passed);
    counter(b, "flashback_proxy_refused_total",
            "Requests refused with 503 (waiter, fetch or path caps).", st.refused);
    counter(b, "flashback_proxy_evictions_total", "Mirrored paths dropped to make room.",
            st.evictions);
    gauge(b, "flashback_proxy_paths", "Paths tracked now.", st.paths);
    gauge(b, "flashback_proxy_mirror_bytes", "Bytes of the mirrored files now.", st.mirror_bytes);
    gauge(b, "flashback_proxy_fetches", "Upstream requests in flight now.", st.in_flight);
}

int fb_metrics_render(const fb_metrics_sources *src, char *buf, size_t cap)
{
    fb_wbuf b;
    fb_wbuf_init(&b, buf, cap);
    http(&b, src->http);
    files(&b, src->files);
    seed(&b, src->seed, src->seed_rate);
    manifests(&b, src->manifests);
    proxy(&b, src->proxy);
    gauge(&b, "process_resident_memory_bytes", "Resident memory of flashbackd.", resident_bytes());
    return b.overflow ? FB_E2BIG : (int)b.len;
}
