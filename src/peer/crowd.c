/* `flashback crowd URL`: a flash crowd in one process (docs/PEER.md). N visitors arrive over a
 * window, each a page download of its own (peer/page: its own engine on its own UDP socket, its
 * own HTTP client), all on one libuv loop; each leaves when its page is complete (or after
 * --linger), and every byte it got is checked again against the manifest. It owns the arrival
 * schedule, the visitors, the live progress line, the fit check (descriptors and memory) and the
 * closing summary (peer/crowdsum), with flashbackd's metrics read before and after. */
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/manifest.h"
#include "core/units.h"
#include "net/http_client.h"
#include "peer/cliargs.h"
#include "peer/commands.h"
#include "peer/crowdplan.h"
#include "peer/crowdsum.h"
#include "peer/page.h"
#include "peer/urlmap.h"

enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1, /* a visitor failed (or an internal error) */
    EXIT_USAGE = 2,
    EXIT_ORIGIN = 3, /* the origin is unreachable or serves no manifest for URL */
    EXIT_NOFIT = 4,  /* the crowd does not fit the descriptor limit or the memory */
};

#define MAX_N              100000
#define MANIFEST_MAX       (8u << 20) /* as peer/page accepts */
#define METRICS_MAX        (1u << 20)
#define PREFLIGHT_MS       10000 /* the manifest and metrics fetches before the crowd */
#define SAMPLE_MS          250   /* progress: counters sampled, the terminal line redrawn */
#define PLAIN_PROGRESS_MS  1000  /* progress lines when stderr is not a terminal */
#define FD_RESERVE         48    /* descriptors left for the rest of the process */
#define WATCHDOG_GRACE_MS  15000 /* past the last visitor's own bounds: end the run anyway */
#define MAX_FAILURE_LINES  10
#define DEFAULT_ORIG_CONNS 2

typedef struct crowd_opts {
    const char *url;
    char bind[80]; /* "ADDR:0" for every visitor's socket, "" for the page's default */
    uint32_t n, over_ms, linger_ms, timeout_ms, origin_conns;
    fb_crowd_arrivals arrivals;
    uint64_t seed;
    uint64_t origin_rate; /* --origin-rate, 0 when not given */
    uint64_t max_size;
    bool json, quiet;
} crowd_opts;

typedef enum vstate { V_WAITING, V_ACTIVE, V_OK, V_FAILED } vstate;

typedef struct crowd crowd;

/* One visitor. */
typedef struct visitor {
    crowd *c;
    vstate st;
    fb_page *page;        /* while active */
    fb_http_client *http; /* while active: its own connections to the origin */
    int64_t start_ms;     /* when it arrived (ms since the crowd's start), -1 before */
    int64_t complete_ms;  /* when its page verified, -1 if never */
    bool verified;        /* the crowd's own check of every byte passed */
} visitor;

typedef enum phase { PH_MANIFEST, PH_METRICS, PH_CROWD, PH_METRICS_END, PH_END } phase;

struct crowd {
    crowd_opts o;
    uv_loop_t *loop;
    phase ph;
    fb_http_client *http; /* the crowd's own: manifest and metrics */
    uv_timer_t arrive_t, sample_t, watchdog_t;
    uv_signal_t sigint, sigterm;
    bool handles_open, interrupted;
    int exit_code;
    char err[512];
    bool tty;
    uint64_t t0_ns;   /* uv_hrtime at the crowd's start (after the preflight) */
    uint32_t samples; /* sample_cb calls so far */
    bool line_drawn;  /* a terminal progress line is on screen */

    /* The manifest fetched before the crowd: the reference every visitor is checked against. */
    uint8_t *mbuf;
    size_t mlen;
    fb_manifest m;
    bool have_seed;

    /* flashbackd's metrics at the start (valid when metrics_ok). */
    bool metrics_ok;
    uint64_t http_sent0, seed_sent0;

    visitor *v;
    uint32_t *at_ms;
    int64_t *done_ms; /* completion times of the completed visitors */
    uint32_t next, active, n_ok, n_failed, failure_lines;
    uint32_t n_complete; /* pages complete and verified (lingering ones included) */
    fb_get_stats gone;   /* counters of the visitors that have left, summed */
    fb_crowd_summary s;
};

/* ---- small helpers ------------------------------------------------------------------------ */

static uint64_t elapsed_ms(const crowd *c)
{
    return (uv_hrtime() - c->t0_ns) / 1000000;
}

/* Descriptors open now (entries of /proc/self/fd, less the one reading it); 0 if unknown. */
static uint64_t count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    uint64_t n = 0;
    struct dirent *e;
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n ? n - 1 : 0;
}

/* Resident memory in bytes (/proc/self/statm); 0 if unknown. */
static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, res = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &res) != 2)
        res = 0;
    fclose(f);
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* A number from a one-value file, or a "Key: N kB" line of /proc/meminfo; 0 if unknown. */
static uint64_t read_u64_file(const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%llu", &v) != 1)
        v = 0;
    fclose(f);
    return v;
}

static uint64_t meminfo_kb(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long v = 0;
    size_t kl = strlen(key);
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            sscanf(line + kl + 1, "%llu", &v);
            break;
        }
    fclose(f);
    return v;
}

/* Memory this process may still take: MemAvailable, or less when its cgroup (v2) has a limit
 * closer; 0 when unknown. */
static uint64_t mem_room(void)
{
    uint64_t avail = meminfo_kb("MemAvailable") * 1024;
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[512], path[700];
    if (f == NULL)
        return avail;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "0::", 3) != 0)
            continue;
        line[strcspn(line, "\n")] = '\0';
        snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.max", line + 3);
        uint64_t max = read_u64_file(path); /* "max" reads as 0: no limit */
        snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.current", line + 3);
        uint64_t cur = read_u64_file(path);
        if (max && cur < max && (avail == 0 || max - cur < avail))
            avail = max - cur;
        break;
    }
    fclose(f);
    return avail;
}

static void human_bytes(uint64_t b, char *out, size_t cap)
{
    if (b >= 10000000000ull)
        snprintf(out, cap, "%.1f GB", b / 1e9);
    else if (b >= 1000000)
        snprintf(out, cap, "%.1f MB", b / 1e6);
    else if (b >= 1000)
        snprintf(out, cap, "%.1f kB", b / 1e3);
    else
        snprintf(out, cap, "%" PRIu64 " B", b);
}

/* Clears the terminal progress line, so that a message can be printed on stderr. */
static void clear_line(crowd *c)
{
    if (c->line_drawn) {
        fputs("\r\033[K", stderr);
        c->line_drawn = false;
    }
}

static void say(crowd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(crowd *c, const char *fmt, ...)
{
    va_list ap;
    clear_line(c);
    fprintf(stderr, "flashback crowd: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void add_stats(fb_get_stats *to, const fb_get_stats *s)
{
    to->bytes_manifest += s->bytes_manifest;
    to->bytes_origin_http += s->bytes_origin_http;
    to->bytes_seed += s->bytes_seed;
    to->bytes_peers += s->bytes_peers;
    to->bytes_uploaded += s->bytes_uploaded;
    to->chunks_bad += s->chunks_bad;
}

/* The counters of every visitor so far: those gone plus the live ones. */
static void totals(const crowd *c, fb_get_stats *t)
{
    *t = c->gone;
    for (uint32_t i = 0; i < c->next; i++) {
        if (c->v[i].page) {
            fb_get_stats s;
            fb_page_stats(c->v[i].page, &s);
            add_stats(t, &s);
        }
    }
}

/* ---- the end ------------------------------------------------------------------------------ */

static void close_handles(crowd *c)
{
    if (!c->handles_open)
        return;
    c->handles_open = false;
    uv_close((uv_handle_t *)&c->arrive_t, NULL);
    uv_close((uv_handle_t *)&c->sample_t, NULL);
    uv_close((uv_handle_t *)&c->watchdog_t, NULL);
    uv_close((uv_handle_t *)&c->sigint, NULL);
    uv_close((uv_handle_t *)&c->sigterm, NULL);
}

/* Ends the run: the first error (if any) is kept; the loop then runs dry. */
static void end_run(crowd *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void end_run(crowd *c, int code, const char *fmt, ...)
{
    va_list ap;
    if (c->ph == PH_END)
        return;
    c->ph = PH_END;
    if (c->exit_code == EXIT_OK)
        c->exit_code = code;
    if (c->err[0] == '\0' && fmt) {
        va_start(ap, fmt);
        vsnprintf(c->err, sizeof(c->err), fmt, ap);
        va_end(ap);
    }
    fb_http_client_free(c->http);
    c->http = NULL;
    close_handles(c);
}

static void on_metrics(void *ctx, const fb_http_result *res);

static void fetch_metrics(crowd *c)
{
    char url[FB_URL_MAX + 1];
    static const char path[] = "/.flashback/metrics";
    fb_http_client_request req = {.url = url,
                                  .max_body = METRICS_MAX,
                                  .connect_timeout_ms = PREFLIGHT_MS,
                                  .timeout_ms = PREFLIGHT_MS};
    if (fb_url_object(c->o.url, path, sizeof(path) - 1, url, sizeof(url)) < 0 ||
        fb_http_get(c->http, &req, on_metrics, c, NULL) != 0) {
        fb_http_result none = {.error = FB_EINVAL, .message = "cannot make the request"};
        on_metrics(c, &none);
    }
}

/* Every visitor has left (or never came, after an interrupt): read the metrics again. */
static void crowd_over(crowd *c)
{
    if (c->ph != PH_CROWD)
        return;
    c->s.ms_run = (int64_t)elapsed_ms(c);
    uv_timer_stop(&c->arrive_t);
    uv_timer_stop(&c->sample_t);
    uv_timer_stop(&c->watchdog_t);
    if (c->line_drawn) {
        fputc('\n', stderr); /* leave the last progress line on screen */
        c->line_drawn = false;
    }
    c->ph = PH_METRICS_END;
    if (c->metrics_ok)
        fetch_metrics(c);
    else
        end_run(c, EXIT_OK, NULL);
}

/* ---- visitors ----------------------------------------------------------------------------- */

/* Checks every byte of a complete page against the manifest fetched before the crowd, with a
 * SHA-256 of our own per chunk (the engine has hashed each chunk already: this is the crowd's
 * independent proof). Returns true, or false with the reason in why. */
static bool verify_page(const crowd *c, const fb_page *p, char *why, size_t cap)
{
    fb_manifest_iter it = {0};
    fb_manifest_object o;
    uint32_t i = 0;
    if (fb_page_n_objects(p) != c->m.n_objects) {
        snprintf(why, cap, "the page has %u objects, the manifest %u (the page changed?)",
                 fb_page_n_objects(p), c->m.n_objects);
        return false;
    }
    while (fb_manifest_next(&c->m, &it, &o)) {
        fb_page_object po;
        if (fb_page_object_get(p, i++, &po) != 0 || strlen(po.path) != o.path_len ||
            memcmp(po.path, o.path, o.path_len) != 0 || po.size != o.size) {
            snprintf(why, cap, "object %u is not the manifest's '%.*s' (the page changed?)", i - 1,
                     (int)FB_MIN(o.path_len, 200), o.path);
            return false;
        }
        if (!po.ready) {
            snprintf(why, cap, "object %.*s is not complete", (int)FB_MIN(o.path_len, 200), o.path);
            return false;
        }
        for (uint32_t k = 0; k < o.n_chunks; k++) {
            uint64_t off = (uint64_t)k * c->m.chunk_size;
            size_t len = (size_t)FB_MIN((uint64_t)c->m.chunk_size, o.size - off);
            uint8_t got[32], want[32];
            unsigned int glen = 0;
            fb_manifest_object_hash(&o, k, want);
            if (EVP_Digest(po.data + off, len, got, &glen, EVP_sha256(), NULL) != 1 || glen != 32 ||
                memcmp(got, want, 32) != 0) {
                snprintf(why, cap, "%.*s bytes %" PRIu64 "-%" PRIu64 " do not match the manifest",
                         (int)FB_MIN(o.path_len, 200), o.path, off, off + len - 1);
                return false;
            }
        }
    }
    return true;
}

static void visitor_failed_line(crowd *c, uint32_t idx, const char *msg)
{
    if (c->failure_lines < MAX_FAILURE_LINES)
        say(c, "visitor %u failed: %s", idx + 1, msg);
    else if (c->failure_lines == MAX_FAILURE_LINES)
        say(c, "(further failures not shown)");
    c->failure_lines++;
    if (c->err[0] == '\0')
        snprintf(c->err, sizeof(c->err), "visitor %u: %s", idx + 1, msg);
}

static void on_page(void *ctx, fb_page *p, fb_page_event ev, uint32_t object)
{
    visitor *v = ctx;
    crowd *c = v->c;
    uint32_t idx = (uint32_t)(v - c->v);
    char why[512];
    (void)object;
    switch (ev) {
    case FB_PAGE_EV_COMPLETE:
        v->complete_ms = (int64_t)elapsed_ms(c);
        if (verify_page(c, p, why, sizeof(why))) {
            v->verified = true;
            c->n_complete++;
        } else {
            c->s.verify_failures++;
            fb_page_fail(p, FB_PAGE_VERIFY, why);
        }
        break;
    case FB_PAGE_EV_DONE: {
        int code = fb_page_code(p);
        fb_get_stats s;
        fb_page_stats(p, &s);
        add_stats(&c->gone, &s);
        if (code == FB_PAGE_OK && v->verified) {
            v->st = V_OK;
            c->done_ms[c->n_ok++] = v->complete_ms - v->start_ms;
        } else {
            v->st = V_FAILED;
            c->n_failed++;
            if (code == FB_PAGE_NO_SERVICE)
                snprintf(why, sizeof(why), "no manifest service at the origin (%s)",
                         fb_page_message(p));
            else
                snprintf(why, sizeof(why), "%s",
                         fb_page_message(p)[0] ? fb_page_message(p) : "failed");
            visitor_failed_line(c, idx, why);
        }
        fb_page_free(p);
        v->page = NULL;
        fb_http_client_free(v->http);
        v->http = NULL;
        c->active--;
        if (c->active == 0 && (c->next == c->o.n || c->interrupted))
            crowd_over(c);
        break;
    }
    default:
        break;
    }
}

/* Visitor idx arrives: its own HTTP client and page. */
static void start_visitor(crowd *c, uint32_t idx)
{
    visitor *v = &c->v[idx];
    fb_http_client_config hc = {.max_requests = 64,
                                .max_connections = c->o.origin_conns + 1,
                                .max_host_connections = c->o.origin_conns + 1};
    fb_page_config pc = {.url = c->o.url,
                         .bind = c->o.bind[0] ? c->o.bind : NULL,
                         .name = "flashback crowd",
                         .quiet = true,
                         .timeout_ms = c->o.timeout_ms,
                         .linger_ms = c->o.linger_ms,
                         .max_size = c->o.max_size,
                         .origin_conns = c->o.origin_conns,
                         .cb = on_page,
                         .ctx = v};
    v->start_ms = (int64_t)elapsed_ms(c);
    if (fb_http_client_new(c->loop, &hc, &v->http) != 0) {
        v->st = V_FAILED;
        c->n_failed++;
        visitor_failed_line(c, idx, "cannot start its HTTP client");
        return;
    }
    pc.http = v->http;
    if (fb_page_new(c->loop, &pc, &v->page) != 0) {
        fb_http_client_free(v->http);
        v->http = NULL;
        v->st = V_FAILED;
        c->n_failed++;
        visitor_failed_line(c, idx, "out of memory");
        return;
    }
    v->st = V_ACTIVE;
    c->active++;
    c->s.active_peak = FB_MAX(c->s.active_peak, c->active);
}

static void arrive_cb(uv_timer_t *t)
{
    crowd *c = t->data;
    uint64_t now = elapsed_ms(c);
    while (c->next < c->o.n && c->at_ms[c->next] <= now && !c->interrupted)
        start_visitor(c, c->next++);
    c->s.arrived = c->next;
    if (c->next < c->o.n && !c->interrupted)
        uv_timer_start(&c->arrive_t, arrive_cb, c->at_ms[c->next] - now, 0);
    else if (c->active == 0)
        crowd_over(c); /* the last arrivals failed to start */
}

/* ---- progress ----------------------------------------------------------------------------- */

static void sample_cb(uv_timer_t *t)
{
    crowd *c = t->data;
    fb_get_stats tot;
    uint64_t now = elapsed_ms(c), fds = count_fds(), rss = rss_bytes();
    c->s.fds_peak = FB_MAX(c->s.fds_peak, fds);
    c->s.rss_peak = FB_MAX(c->s.rss_peak, rss);
    c->samples++;
    if (c->o.quiet || (!c->tty && c->samples % (PLAIN_PROGRESS_MS / SAMPLE_MS) != 0))
        return;
    totals(c, &tot);
    uint64_t http = tot.bytes_manifest + tot.bytes_origin_http;
    char line[256];
    int len = snprintf(line, sizeof(line),
                       "%5.1fs  arrived %u/%u  active %u  completed %u  failed %u  origin %.1f MB "
                       "(HTTP %.1f + seed %.1f)  peers %.1f MB",
                       now / 1000.0, c->next, c->o.n, c->active, c->n_complete, c->n_failed,
                       (http + tot.bytes_seed) / 1e6, http / 1e6, tot.bytes_seed / 1e6,
                       tot.bytes_peers / 1e6);
    /* A line longer than the terminal would wrap, and \r would redraw only its last row. */
    struct winsize ws;
    if (c->tty && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && len > 0 &&
        (size_t)len >= ws.ws_col && ws.ws_col < sizeof(line))
        line[ws.ws_col - 1] = '\0';
    if (c->tty) {
        fprintf(stderr, "\r%s\033[K", line);
        c->line_drawn = true;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

static void watchdog_cb(uv_timer_t *t)
{
    crowd *c = t->data;
    say(c, "the run passed its bound: ending the %u visitors still active", c->active);
    for (uint32_t i = 0; i < c->next; i++)
        if (c->v[i].page)
            fb_page_fail(c->v[i].page, FB_PAGE_STALLED, "still running at the crowd's bound");
}

static void on_signal(uv_signal_t *s, int signum)
{
    crowd *c = s->data;
    if (c->interrupted)
        return;
    c->interrupted = true;
    say(c, "interrupted (signal %d): the %u active visitors leave", signum, c->active);
    if (c->ph != PH_CROWD) {
        end_run(c, EXIT_FAILED, "interrupted");
        return;
    }
    snprintf(c->err, sizeof(c->err), "interrupted");
    uv_timer_stop(&c->arrive_t);
    for (uint32_t i = 0; i < c->next; i++)
        if (c->v[i].page)
            fb_page_fail(c->v[i].page, FB_PAGE_INTERNAL, "interrupted");
    if (c->active == 0)
        crowd_over(c);
}

/* ---- before the crowd: the manifest, the fit, the metrics --------------------------------- */

static void start_crowd(crowd *c)
{
    c->ph = PH_CROWD;
    c->t0_ns = uv_hrtime();
    c->s.fds_start = c->s.fds_peak = count_fds();
    c->s.rss_start = c->s.rss_peak = rss_bytes();
    fb_crowd_arrivals_fill(c->at_ms, c->o.n, c->o.over_ms, c->o.arrivals, c->o.seed);
    uv_timer_start(&c->sample_t, sample_cb, SAMPLE_MS, SAMPLE_MS);
    uv_timer_start(&c->watchdog_t, watchdog_cb,
                   (uint64_t)c->o.over_ms + c->o.timeout_ms + c->o.linger_ms + WATCHDOG_GRACE_MS,
                   0);
    arrive_cb(&c->arrive_t);
}

static void on_metrics(void *ctx, const fb_http_result *res)
{
    crowd *c = ctx;
    uint64_t rate = 0, http = 0, seed = 0;
    const char *text = (const char *)res->body;
    bool ok = res->error == 0 &&
              fb_crowd_metric(text, res->len, "flashback_http_sent_bytes_total", &http) == 0 &&
              fb_crowd_metric(text, res->len, "flashback_seed_udp_sent_bytes_total", &seed) == 0;
    if (res->error == FB_HTTP_ECANCELED)
        return;
    if (c->ph == PH_METRICS) {
        c->metrics_ok = ok;
        if (ok) {
            c->http_sent0 = http;
            c->seed_sent0 = seed;
            uint64_t up = 0;
            if (c->o.origin_rate == 0 &&
                fb_crowd_metric(text, res->len, "flashback_seed_up", &up) == 0 && up == 1 &&
                fb_crowd_metric(text, res->len, "flashback_seed_rate_limit_bytes", &rate) == 0 &&
                rate > 0) {
                c->s.origin_rate = rate;
                c->s.rate_source = "metrics";
            }
        } else if (!c->o.quiet) {
            say(c, "no metrics from the origin (%s): the origin's own counts are not shown",
                res->error ? res->message : "not flashbackd's");
        }
        start_crowd(c);
        return;
    }
    if (c->ph == PH_METRICS_END) {
        if (ok && http >= c->http_sent0 && seed >= c->seed_sent0) {
            c->s.server_http_bytes = (int64_t)(http - c->http_sent0);
            c->s.server_seed_bytes = (int64_t)(seed - c->seed_sent0);
        }
        end_run(c, EXIT_OK, NULL);
    }
}

/* The manifest fetched before the crowd: the page's size for the fit check, and the reference
 * for checking every visitor's bytes. */
static void on_manifest(void *ctx, const fb_http_result *res)
{
    crowd *c = ctx;
    fb_manifest_caps caps;
    if (res->error == FB_HTTP_ECANCELED)
        return;
    if (res->error == FB_HTTP_ESTATUS) {
        end_run(c, EXIT_ORIGIN,
                "the origin has no manifest for %s (HTTP %ld): a crowd needs flashbackd (or "
                "another server of manifests)",
                c->o.url, res->status);
        return;
    }
    if (res->error) {
        end_run(c, EXIT_ORIGIN, "cannot reach the origin for the page's manifest: %s",
                res->message);
        return;
    }
    c->mbuf = malloc(res->len ? res->len : 1);
    if (c->mbuf == NULL) {
        end_run(c, EXIT_FAILED, "out of memory");
        return;
    }
    memcpy(c->mbuf, res->body, res->len);
    c->mlen = res->len;
    fb_manifest_caps_default(&caps);
    caps.max_total = c->o.max_size;
    int rc = fb_manifest_parse(c->mbuf, c->mlen, &caps, &c->m);
    if (rc == FB_E2BIG) {
        end_run(c, EXIT_NOFIT,
                "the page is over a cap (--max-size %" PRIu64 " bytes, 1024 objects, 65536 chunks)",
                c->o.max_size);
        return;
    }
    if (rc || c->m.n_objects == 0) {
        end_run(c, EXIT_ORIGIN, "the origin's answer for the manifest of %s is not a manifest",
                c->o.url);
        return;
    }
    c->have_seed = res->captured != NULL;
    c->s.page_bytes = c->m.total_size;
    c->s.manifest_bytes = c->mlen;
    c->s.objects = c->m.n_objects;
    c->s.chunks = c->m.n_chunks;

    /* Memory: every visitor active at once must fit. */
    fb_crowd_room room = {.fds = UINT64_MAX, .mem = mem_room() / 4 * 3};
    uint64_t per = fb_crowd_mem_per_visitor(c->m.total_size, c->mlen, c->m.n_chunks,
                                            c->m.chunk_size, c->o.origin_conns);
    bool by_fds;
    uint32_t most = fb_crowd_max_visitors(&room, 1, per, &by_fds);
    if (c->o.n > most) {
        char pb[32], rb[32];
        human_bytes(per, pb, sizeof(pb));
        human_bytes(room.mem, rb, sizeof(rb));
        end_run(c, EXIT_NOFIT,
                "%u visitors do not fit in memory: each may hold up to %s (the page of %" PRIu64
                " bytes and its bookkeeping) and %s is free (3/4 of what the system has "
                "available): at most %u visitors",
                c->o.n, pb, c->m.total_size, rb, most);
        return;
    }
    if (!c->o.quiet) {
        char pb[32];
        human_bytes(c->m.total_size, pb, sizeof(pb));
        say(c, "%s: %u objects, %s in %u chunks; %s; %u visitors arriving over %.1f s (%s)%s",
            c->o.url, c->m.n_objects, pb, c->m.n_chunks,
            c->have_seed ? "seeded by the origin" : "no seed: every visitor uses HTTP ranges",
            c->o.n, c->o.over_ms / 1000.0,
            c->o.arrivals == FB_ARRIVE_POISSON ? "Poisson" : "evenly spaced",
            c->o.linger_ms ? ", lingering after completion" : ", leaving when complete");
    }
    c->ph = PH_METRICS;
    fetch_metrics(c);
}

/* ---- command line ------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: flashback crowd URL [--n N] [--over SECONDS] [--linger SECONDS] [--json]\n"
        "                           [--quiet] [--timeout SECONDS] [--bind ADDR] [options]\n"
        "\n"
        "Runs a flash crowd against URL in one process: N visitors, each with its own\n"
        "engine, UDP socket and HTTP connections (the page download of `flashback get`),\n"
        "arriving over SECONDS; each leaves when its page is complete (or after --linger),\n"
        "and every byte it got is checked against the page's manifest. Prints a progress\n"
        "line on stderr and a summary: completion times, the origin's share of the bytes,\n"
        "and what a plain server would have needed for the same crowd.\n"
        "\n"
        "  --n N                 visitors (default 100; 1-%u, and what fits: each holds up to\n"
        "                        %u descriptors with the default --origin-conns, and the page)\n"
        "  --over SECONDS        arrivals spread over this window (default 5; 0: all at once)\n"
        "  --arrivals KIND       poisson (default: a Poisson process given N arrivals in the\n"
        "                        window, i.e. N uniform random times) or even (evenly spaced)\n"
        "  --seed N              seed of the random arrival times (default 1)\n"
        "  --linger SECONDS      each visitor keeps uploading this long after completion\n"
        "                        (default 0: it leaves at once)\n"
        "  --timeout SECONDS     each visitor's download must end within this (default 60;\n"
        "                        half-way, what is missing comes over HTTP)\n"
        "  --bind ADDR           the address of every visitor's UDP socket, each on a port\n"
        "                        of its own (default 0.0.0.0, or :: for an IPv6 seed)\n"
        "  --origin-conns N      each visitor's HTTP range requests at once (1-64, default %u)\n"
        "  --origin-rate RATE    the origin's rate for the plain-server figure (flashbackd's\n"
        "                        units: 10mbit, 2MB...; default: the seed's cap, read from\n"
        "                        flashbackd's metrics)\n"
        "  --max-size SIZE       refuse a page larger than SIZE bytes (default 256M)\n"
        "  --json                the summary as one JSON object on stdout (the text summary\n"
        "                        goes to stderr)\n"
        "  -q, --quiet           no progress lines, no text summary; errors only\n"
        "  -h, --help            this text\n"
        "\n"
        "exit status: 0 every visitor completed and every byte verified; 1 a visitor failed\n"
        "(or was interrupted); 2 bad usage; 3 the origin is unreachable or has no manifest\n"
        "for URL; 4 the page is over a cap (--max-size, 1024 objects, 65536 chunks) or the\n"
        "crowd does not fit the descriptor limit or the memory.\n",
        MAX_N, fb_crowd_fds_per_visitor(DEFAULT_ORIG_CONNS), DEFAULT_ORIG_CONNS);
}

/* The visitors' --bind: "ADDR" or "ADDR:0" ("[v6]" or "[v6]:0") into "ADDR:0". */
static bool parse_bind(const char *v, char *out, size_t cap)
{
    fb_addr a;
    char tmp[96];
    if (strlen(v) > 64)
        return false;
    if (fb_addr_parse(&a, v, strlen(v)) == 0)
        return a.port == 0 && snprintf(out, cap, "%s", v) < (int)cap;
    if (strchr(v, ':') && v[0] != '[')
        snprintf(tmp, sizeof(tmp), "[%s]:0", v);
    else
        snprintf(tmp, sizeof(tmp), "%s:0", v);
    if (fb_addr_parse(&a, tmp, strlen(tmp)) != 0)
        return false;
    return snprintf(out, cap, "%s", tmp) < (int)cap;
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "flashback crowd: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try --help)\n");
    return EXIT_USAGE;
}

static bool parse_u32(const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
    char *end;
    unsigned long long n;
    if (*v < '0' || *v > '9')
        return false;
    n = strtoull(v, &end, 10);
    if (*end || n < lo || n > hi)
        return false;
    *out = (uint32_t)n;
    return true;
}

/* Returns -1 to go on, or an exit code (0 after --help). */
static int parse_args(int argc, char **argv, crowd_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->n = 100;
    o->over_ms = 5000;
    o->timeout_ms = 60000;
    o->origin_conns = DEFAULT_ORIG_CONNS;
    o->max_size = 256ull << 20;
    o->seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL, *eqv = NULL;
        char name[32];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (o->url)
                return bad("one URL only (got '%s' and '%s')", o->url, a);
            o->url = a;
            continue;
        }
        snprintf(name, sizeof(name), "%s", a);
        if (strncmp(a, "--", 2) == 0 && (eqv = strchr(a, '=')) != NULL) {
            size_t n = FB_MIN((size_t)(eqv - a), sizeof(name) - 1);
            memcpy(name, a, n);
            name[n] = '\0';
            eqv++;
        }
        if (strcmp(name, "--json") == 0 || strcmp(name, "--quiet") == 0 ||
            strcmp(name, "-q") == 0) {
            if (eqv)
                return bad("%s takes no value", name);
            if (strcmp(name, "--json") == 0)
                o->json = true;
            else
                o->quiet = true;
            continue;
        }
        static const char *const valued[] = {
            "--n",    "--over",         "--linger",      "--timeout",  "--bind",
            "--seed", "--origin-conns", "--origin-rate", "--max-size", "--arrivals"};
        bool known = false;
        for (size_t k = 0; k < FB_ARRAY_LEN(valued); k++)
            known = known || strcmp(name, valued[k]) == 0;
        if (!known)
            return bad("unknown option '%s'", a);
        if (eqv)
            v = eqv;
        else if (i + 1 < argc)
            v = argv[++i];
        else
            return bad("%s needs a value", name);
        if (strcmp(name, "--n") == 0) {
            if (!parse_u32(v, 1, MAX_N, &o->n))
                return bad("--n: not a number of visitors in 1-%u: '%s'", MAX_N, v);
        } else if (strcmp(name, "--over") == 0) {
            if (!fb_cli_seconds(v, 0, &o->over_ms) || o->over_ms > 3600000)
                return bad("--over: not a number of seconds in 0-3600: '%s'", v);
        } else if (strcmp(name, "--linger") == 0) {
            if (!fb_cli_seconds(v, 0, &o->linger_ms) || o->linger_ms > 3600000)
                return bad("--linger: not a number of seconds in 0-3600: '%s'", v);
        } else if (strcmp(name, "--timeout") == 0) {
            if (!fb_cli_seconds(v, 1, &o->timeout_ms) || o->timeout_ms > 3600000)
                return bad("--timeout: not a positive number of seconds up to 3600: '%s'", v);
        } else if (strcmp(name, "--bind") == 0) {
            if (!parse_bind(v, o->bind, sizeof(o->bind)))
                return bad("--bind: not an address (ADDR, or ADDR:0: each visitor takes a port "
                           "of its own): '%s'",
                           v);
        } else if (strcmp(name, "--seed") == 0) {
            char *end;
            if (*v < '0' || *v > '9')
                return bad("--seed: not a number: '%s'", v);
            o->seed = strtoull(v, &end, 10);
            if (*end)
                return bad("--seed: not a number: '%s'", v);
        } else if (strcmp(name, "--origin-conns") == 0) {
            if (!parse_u32(v, 1, 64, &o->origin_conns))
                return bad("--origin-conns: not in 1-64: '%s'", v);
        } else if (strcmp(name, "--origin-rate") == 0) {
            if (fb_rate_parse(v, &o->origin_rate) != 0)
                return bad("--origin-rate: not a rate (10mbit, 1.5mbit, 2MB, 500kB...): '%s'", v);
        } else if (strcmp(name, "--max-size") == 0) {
            if (!fb_cli_size(v, &o->max_size))
                return bad("--max-size: not a size: '%s'", v);
        } else { /* --arrivals */
            if (strcmp(v, "poisson") == 0)
                o->arrivals = FB_ARRIVE_POISSON;
            else if (strcmp(v, "even") == 0)
                o->arrivals = FB_ARRIVE_EVEN;
            else
                return bad("--arrivals: poisson or even, not '%s'", v);
        }
    }
    if (o->url == NULL)
        return bad("missing URL");
    fb_url u;
    if (fb_url_split(o->url, &u) != 0)
        return bad("not an http:// or https:// URL: '%s'", o->url);
    return -1;
}

/* Raises the descriptor limit to its hard limit and checks that N visitors fit under it.
 * Returns 0, or EXIT_NOFIT with the message printed. */
static int check_fds(crowd *c)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit up = rl;
        up.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up;
    }
    if (rl.rlim_cur == RLIM_INFINITY)
        return 0;
    c->s.fd_limit = rl.rlim_cur;
    uint64_t open_now = count_fds();
    uint32_t per = fb_crowd_fds_per_visitor(c->o.origin_conns);
    fb_crowd_room room = {
        .fds = rl.rlim_cur > open_now + FD_RESERVE ? rl.rlim_cur - open_now - FD_RESERVE : 0,
        .mem = 0};
    bool by_fds;
    uint32_t most = fb_crowd_max_visitors(&room, per, 0, &by_fds);
    if (c->o.n <= most)
        return 0;
    fprintf(stderr,
            "flashback crowd: %u visitors do not fit in the descriptor limit: each may hold up to "
            "%u (its UDP socket, its HTTP client's %u, %u connections to the origin) and the "
            "limit is %" PRIu64 " (ulimit -n; %" PRIu64
            " open, %u kept in reserve): at most %u visitors; lower --n or --origin-conns, or "
            "raise ulimit -n\n",
            c->o.n, per, FB_CROWD_FDS_FIXED - 1, c->o.origin_conns + 1, (uint64_t)rl.rlim_cur,
            open_now, FD_RESERVE, most);
    return EXIT_NOFIT;
}

/* ---- the summary -------------------------------------------------------------------------- */

static void print_summary(crowd *c, FILE *f)
{
    const fb_crowd_summary *s = &c->s;
    char a[32], b[32], d[32], e[32];
    fprintf(f, "flashback crowd: %u visitors, %s arrivals over %.1f s, %s\n", s->n,
            c->o.arrivals == FB_ARRIVE_POISSON ? "Poisson" : "evenly spaced", s->over_ms / 1000.0,
            s->linger_ms ? "each lingering after completion" : "each leaving when complete");
    fprintf(f, "  completed     %u of %u, %u failed%s\n", s->completed, s->n, s->n - s->completed,
            s->completed == s->n ? "; every byte verified against the manifest (SHA-256)" : "");
    if (s->linger_ms)
        fprintf(f, "  lingering     each lingered %.1f s after completion\n",
                s->linger_ms / 1000.0);
    human_bytes(s->page_bytes, a, sizeof(a));
    fprintf(f, "  page          %" PRIu64 " bytes (%s): %u objects, %u chunks\n", s->page_bytes, a,
            s->objects, s->chunks);
    if (s->times.n)
        fprintf(f,
                "  completion    mean %.2f s  p50 %.2f s  p95 %.2f s  max %.2f s  (arrival to last "
                "byte)\n",
                s->times.mean / 1000.0, s->times.p50 / 1000.0, s->times.p95 / 1000.0,
                s->times.max / 1000.0);
    if (s->ms_makespan >= 0)
        fprintf(f, "  makespan      %.2f s (first arrival to last completion)\n",
                s->ms_makespan / 1000.0);
    uint64_t origin = fb_crowd_origin_bytes(s);
    human_bytes(origin, a, sizeof(a));
    human_bytes(s->bytes_manifest, b, sizeof(b));
    human_bytes(s->bytes_origin_http, d, sizeof(d));
    human_bytes(s->bytes_seed, e, sizeof(e));
    fprintf(f, "  from origin   %s: manifests %s, HTTP ranges %s, seed %s\n", a, b, d, e);
    human_bytes(s->bytes_peers, a, sizeof(a));
    fprintf(f, "  from peers    %s\n", a);
    int64_t share = fb_crowd_origin_share_ppm(s);
    if (share >= 0) {
        human_bytes(origin + s->bytes_peers, a, sizeof(a));
        fprintf(f, "  origin share  %.1f%% of the %s the visitors received\n", share / 1e4, a);
    }
    if (s->server_http_bytes >= 0) {
        human_bytes((uint64_t)(s->server_http_bytes + s->server_seed_bytes), a, sizeof(a));
        human_bytes((uint64_t)s->server_http_bytes, b, sizeof(b));
        human_bytes((uint64_t)s->server_seed_bytes, d, sizeof(d));
        fprintf(f, "  origin sent   %s by its own count (HTTP %s, seed UDP %s; its metrics)\n", a,
                b, d);
    }
    int64_t plain = fb_crowd_plain_ms(s), one = fb_crowd_one_page_ms(s);
    if (plain >= 0) {
        bool from_metrics = strcmp(s->rate_source, "metrics") == 0;
        fprintf(f,
                "  plain server  %.1f s: %u x %" PRIu64 " bytes at %" PRIu64
                " bytes/s (%.1f Mbit/s),\n",
                plain / 1000.0, s->n, s->page_bytes, s->origin_rate, s->origin_rate * 8 / 1e6);
        fprintf(f, "                %s",
                from_metrics ? "the seed's cap in flashbackd's metrics"
                             : "the rate given by --origin-rate");
        if (s->ms_makespan > 0 && s->completed == s->n)
            fprintf(f, "; the crowd took %.2f s, %.1f times less", s->ms_makespan / 1000.0,
                    (double)plain / (double)s->ms_makespan);
        fputc('\n', f);
        fprintf(f, "  lower bound   %.2f s: one page at that rate", one / 1000.0);
        if (s->ms_makespan > 0 && one > 0 && s->completed == s->n)
            fprintf(f, "; the makespan is %.1fx it", (double)s->ms_makespan / (double)one);
        fputc('\n', f);
    } else {
        fprintf(f,
                "  plain server  unknown: the origin's rate is not known (give --origin-rate)\n");
    }
    human_bytes(fb_crowd_mem_per_visitor_seen(s), a, sizeof(a));
    human_bytes(s->rss_peak, b, sizeof(b));
    fprintf(f,
            "  resources     %u visitors active at most, about %s each (%s resident at the peak)\n",
            s->active_peak, a, b);
    fprintf(f,
            "                %" PRIu64 " descriptors open at the peak, of a limit of %" PRIu64 "\n",
            s->fds_peak, s->fd_limit);
}

int fb_cmd_crowd(int argc, char **argv)
{
    uv_loop_t loop;
    crowd *c;
    crowd_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    signal(SIGPIPE, SIG_IGN);
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        fprintf(stderr, "flashback crowd: out of memory\n");
        return EXIT_FAILED;
    }
    c->o = o;
    fb_crowd_summary_init(&c->s);
    rc = check_fds(c);
    if (rc) {
        free(c);
        return rc;
    }
    c->v = calloc(o.n, sizeof(*c->v));
    c->at_ms = calloc(o.n, sizeof(*c->at_ms));
    c->done_ms = calloc(o.n, sizeof(*c->done_ms));
    if (c->v == NULL || c->at_ms == NULL || c->done_ms == NULL || uv_loop_init(&loop) != 0) {
        fprintf(stderr, "flashback crowd: out of memory\n");
        free(c->v);
        free(c->at_ms);
        free(c->done_ms);
        free(c);
        return EXIT_FAILED;
    }
    for (uint32_t i = 0; i < o.n; i++) {
        c->v[i].c = c;
        c->v[i].start_ms = c->v[i].complete_ms = -1;
    }
    c->loop = &loop;
    c->tty = isatty(STDERR_FILENO);
    fb_get_stats_init(&c->gone);
    c->s.url = o.url;
    c->s.n = o.n;
    c->s.over_ms = o.over_ms;
    c->s.linger_ms = o.linger_ms;
    c->s.timeout_ms = o.timeout_ms;
    c->s.arrivals = o.arrivals == FB_ARRIVE_POISSON ? "poisson" : "even";
    if (o.origin_rate) {
        c->s.origin_rate = o.origin_rate;
        c->s.rate_source = "flag";
    }
    uv_timer_init(&loop, &c->arrive_t);
    uv_timer_init(&loop, &c->sample_t);
    uv_timer_init(&loop, &c->watchdog_t);
    uv_signal_init(&loop, &c->sigint);
    uv_signal_init(&loop, &c->sigterm);
    c->arrive_t.data = c->sample_t.data = c->watchdog_t.data = c;
    c->sigint.data = c->sigterm.data = c;
    c->handles_open = true;
    uv_signal_start(&c->sigint, on_signal, SIGINT);
    uv_signal_start(&c->sigterm, on_signal, SIGTERM);

    /* Before the crowd: the page's manifest (and the origin's metrics). */
    char murl[FB_URL_MAX + 1];
    fb_http_client_config hc = {.max_requests = 4, .max_connections = 2, .max_host_connections = 2};
    c->ph = PH_MANIFEST;
    if (fb_url_manifest(o.url, murl, sizeof(murl)) < 0) {
        end_run(c, EXIT_USAGE, "the URL is too long");
    } else if (fb_http_client_new(&loop, &hc, &c->http) != 0) {
        end_run(c, EXIT_FAILED, "cannot start the HTTP client");
    } else {
        fb_http_client_request req = {.url = murl,
                                      .max_body = MANIFEST_MAX,
                                      .connect_timeout_ms = PREFLIGHT_MS,
                                      .timeout_ms = PREFLIGHT_MS,
                                      .capture_header = "Flashback-Seed"};
        if (fb_http_get(c->http, &req, on_manifest, c, NULL) != 0)
            end_run(c, EXIT_FAILED, "cannot start the HTTP request");
    }

    uv_run(&loop, UV_RUN_DEFAULT);
    uv_run(&loop, UV_RUN_NOWAIT);
    if (uv_loop_close(&loop) != 0)
        fprintf(stderr, "flashback crowd: warning: handles left open at exit\n");

    int code = c->exit_code;
    bool ran = c->t0_ns != 0;
    if (ran) {
        c->s.arrived = c->next;
        c->s.completed = c->n_ok;
        c->s.failed = c->o.n - c->n_ok;
        fb_crowd_times_of(c->done_ms, c->n_ok, &c->s.times);
        int64_t first = -1, last = -1;
        for (uint32_t i = 0; i < o.n; i++) {
            if (c->v[i].start_ms >= 0 && (first < 0 || c->v[i].start_ms < first))
                first = c->v[i].start_ms;
            if (c->v[i].st == V_OK && c->v[i].complete_ms > last)
                last = c->v[i].complete_ms;
        }
        if (first >= 0 && last >= 0)
            c->s.ms_makespan = last - first;
        c->s.bytes_manifest = c->gone.bytes_manifest;
        c->s.bytes_origin_http = c->gone.bytes_origin_http;
        c->s.bytes_seed = c->gone.bytes_seed;
        c->s.bytes_peers = c->gone.bytes_peers;
        c->s.bytes_uploaded = c->gone.bytes_uploaded;
        c->s.chunks_bad = c->gone.chunks_bad;
        if (code == EXIT_OK && (c->n_ok != o.n || c->interrupted)) {
            code = EXIT_FAILED;
            if (c->err[0] == '\0')
                snprintf(c->err, sizeof(c->err), "%u of %u visitors did not complete",
                         o.n - c->n_ok, o.n);
        }
    }
    c->s.exit_code = code;
    c->s.error = c->err;
    if (code != EXIT_OK && c->err[0])
        fprintf(stderr, "flashback crowd: %s\n", c->err);
    if (ran) {
        if (!o.quiet)
            print_summary(c, o.json ? stderr : stdout);
        if (o.json) {
            char buf[4096 + FB_URL_MAX * 2];
            if (fb_crowd_summary_json(&c->s, buf, sizeof(buf)) > 0)
                fputs(buf, stdout);
        }
    }
    fflush(stdout);
    free(c->mbuf);
    free(c->v);
    free(c->at_ms);
    free(c->done_ms);
    free(c);
    return code;
}
