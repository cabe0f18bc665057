/* The crowd's summary (crowdsum.h): statistics, shares, the plain server's time, JSON. */
#include "peer/crowdsum.h"

#include <stdlib.h>

#include "peer/jsonbuf.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The nearest-rank percentile of sorted ms[0..n): the ceil(pct/100 * n)-th smallest. */
static int64_t rank(const int64_t *ms, uint32_t n, uint32_t pct)
{
    uint64_t r = ((uint64_t)pct * n + 99) / 100;
    return ms[r ? r - 1 : 0];
}

void fb_crowd_times_of(int64_t *ms, uint32_t n, fb_crowd_times *out)
{
    int64_t sum = 0;
    out->n = n;
    out->mean = out->p50 = out->p95 = out->max = -1;
    if (n == 0)
        return;
    qsort(ms, n, sizeof(*ms), cmp_i64);
    for (uint32_t i = 0; i < n; i++)
        sum += ms[i];
    out->mean = (sum + n / 2) / n;
    out->p50 = rank(ms, n, 50);
    out->p95 = rank(ms, n, 95);
    out->max = ms[n - 1];
}

void fb_crowd_summary_init(fb_crowd_summary *s)
{
    memset(s, 0, sizeof(*s));
    s->url = s->error = "";
    s->arrivals = "poisson";
    s->rate_source = "none";
    s->times.mean = s->times.p50 = s->times.p95 = s->times.max = -1;
    s->ms_makespan = s->ms_run = -1;
    s->server_http_bytes = s->server_seed_bytes = -1;
}

uint64_t fb_crowd_origin_bytes(const fb_crowd_summary *s)
{
    return s->bytes_manifest + s->bytes_origin_http + s->bytes_seed;
}

int64_t fb_crowd_origin_share_ppm(const fb_crowd_summary *s)
{
    uint64_t o = fb_crowd_origin_bytes(s), all = o + s->bytes_peers;
    if (all == 0)
        return -1;
    /* o <= all < 2^64; the product fits as long as o < 1.8e13 (18 TB): beyond, divide first. */
    if (o < UINT64_MAX / 1000000)
        return (int64_t)((o * 1000000 + all / 2) / all);
    return (int64_t)(o / (all / 1000000 ? all / 1000000 : 1));
}

int64_t fb_crowd_plain_ms(const fb_crowd_summary *s)
{
    if (s->origin_rate == 0)
        return -1;
    double ms = (double)s->n * (double)s->page_bytes * 1000.0 / (double)s->origin_rate;
    return (int64_t)(ms + 0.5);
}

int64_t fb_crowd_one_page_ms(const fb_crowd_summary *s)
{
    if (s->origin_rate == 0)
        return -1;
    return (int64_t)((double)s->page_bytes * 1000.0 / (double)s->origin_rate + 0.5);
}

uint64_t fb_crowd_mem_per_visitor_seen(const fb_crowd_summary *s)
{
    if (s->active_peak == 0 || s->rss_peak <= s->rss_start)
        return 0;
    return (s->rss_peak - s->rss_start) / s->active_peak;
}

int fb_crowd_summary_json(const fb_crowd_summary *s, char *out, size_t cap)
{
    fb_jbuf b;
    int64_t share = fb_crowd_origin_share_ppm(s);
    fb_jbuf_begin(&b, out, cap);
    fb_jbuf_str(&b, "url", s->url);
    fb_jbuf_u64(&b, "n", s->n);
    fb_jbuf_str(&b, "arrivals", s->arrivals);
    fb_jbuf_u64(&b, "over_ms", s->over_ms);
    fb_jbuf_u64(&b, "linger_ms", s->linger_ms);
    fb_jbuf_u64(&b, "timeout_ms", s->timeout_ms);
    fb_jbuf_u64(&b, "arrived", s->arrived);
    fb_jbuf_u64(&b, "completed", s->completed);
    fb_jbuf_u64(&b, "failed", s->failed);
    fb_jbuf_u64(&b, "verify_failures", s->verify_failures);
    fb_jbuf_i64(&b, "exit", s->exit_code);
    fb_jbuf_str(&b, "error", s->error);
    fb_jbuf_u64(&b, "page_bytes", s->page_bytes);
    fb_jbuf_u64(&b, "manifest_bytes", s->manifest_bytes);
    fb_jbuf_u64(&b, "objects", s->objects);
    fb_jbuf_u64(&b, "chunks", s->chunks);
    fb_jbuf_ms(&b, "ms_mean", s->times.mean);
    fb_jbuf_ms(&b, "ms_p50", s->times.p50);
    fb_jbuf_ms(&b, "ms_p95", s->times.p95);
    fb_jbuf_ms(&b, "ms_max", s->times.max);
    fb_jbuf_ms(&b, "ms_makespan", s->ms_makespan);
    fb_jbuf_ms(&b, "ms_run", s->ms_run);
    fb_jbuf_u64(&b, "bytes_origin", fb_crowd_origin_bytes(s));
    fb_jbuf_u64(&b, "bytes_manifest", s->bytes_manifest);
    fb_jbuf_u64(&b, "bytes_origin_http", s->bytes_origin_http);
    fb_jbuf_u64(&b, "bytes_seed", s->bytes_seed);
    fb_jbuf_u64(&b, "bytes_peers", s->bytes_peers);
    fb_jbuf_u64(&b, "bytes_uploaded", s->bytes_uploaded);
    fb_jbuf_u64(&b, "chunks_bad", s->chunks_bad);
    if (share < 0)
        fb_jbuf_put(&b, "\"origin_share\":null,");
    else
        fb_jbuf_put(&b, "\"origin_share\":%d.%06d,", (int)(share / 1000000),
                    (int)(share % 1000000));
    fb_jbuf_i64(&b, "server_http_bytes", s->server_http_bytes);
    fb_jbuf_i64(&b, "server_seed_bytes", s->server_seed_bytes);
    fb_jbuf_u64(&b, "origin_rate", s->origin_rate);
    fb_jbuf_str(&b, "origin_rate_source", s->rate_source);
    fb_jbuf_ms(&b, "plain_ms", fb_crowd_plain_ms(s));
    fb_jbuf_ms(&b, "one_page_ms", fb_crowd_one_page_ms(s));
    fb_jbuf_u64(&b, "active_peak", s->active_peak);
    fb_jbuf_u64(&b, "fds_start", s->fds_start);
    fb_jbuf_u64(&b, "fds_peak", s->fds_peak);
    fb_jbuf_u64(&b, "fd_limit", s->fd_limit);
    fb_jbuf_u64(&b, "rss_start", s->rss_start);
    fb_jbuf_u64(&b, "rss_peak", s->rss_peak);
    fb_jbuf_u64(&b, "mem_per_visitor", fb_crowd_mem_per_visitor_seen(s));
    return fb_jbuf_end(&b);
}
