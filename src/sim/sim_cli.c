/* `flashback sim`: command-line front end of the simulator. Parses the scenario flags into an
 * fb_sim_config, runs it, and prints a human summary or (--json) one JSON object. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/chunk.h"
#include "peer/commands.h"
#include "sim/sim.h"
#include "sim/thp.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: flashback sim [OPTIONS]\n"
               "Runs a flash crowd of real engines on a simulated network, on a virtual clock.\n\n"
               "  --n N              visitors (default 1)\n"
               "  --profile NAME     dsl (1.5M down, 384k up, 40 ms, origin 10M) or broadband\n"
               "                     (200M down, 20M up, 20 ms, origin 100M); default dsl\n"
               "  --seed S           seed of every random choice (default 1)\n"
               "  --arrivals KIND    burst (default) or poisson\n"
               "  --burst-ms MS      burst: arrivals spread over MS milliseconds (default 10)\n"
               "  --rate R           poisson: visitors per second (default 50)\n"
               "  --linger L         stay L seconds after completion (default 0: leave)\n"
               "  --corrupt F        fraction of visitors that corrupt what they serve\n"
               "  --loss P           packet loss probability (default 0)\n"
               "  --nat KIND         none (default), cone, or mixed (cone and symmetric)\n"
               "  --symmetric F      mixed: fraction behind symmetric NATs (default 0.2)\n"
               "  --tcp              run a long TCP flow on the first visitor's uplink and report\n"
               "                     its throughput against the same flow alone\n"
               "  --spoof K          add K nodes that forge a victim's source address\n"
               "  --time-limit S     stop at S virtual seconds (default 900)\n"
               "  --time-limit-x K   stop sooner, at K x T_min + 60 s, if that is less\n"
               "  --queue-ms MS      drop-tail queues hold MS ms of their link (default 250)\n"
               "  --chunk-size B     chunk size in bytes, a multiple of 1024 up to 32768\n"
               "                     (default: the engine's)\n"
               "  --seed-rate F      the seed's upload cap as a fraction of the origin uplink\n"
               "                     (default 1)\n"
               "  --trace MS         print a progress line to stderr every MS ms of virtual time\n"
               "  --threads T        run on T threads, 1 to 8 (default: one per core, at most 4,\n"
               "                     from 256 visitors); the result is the same for any T\n"
               "  --json             print one JSON object instead of the summary\n"
               "  -h, --help         this text\n\n"
               "exit status: 0 the run ended (its result says whether every visitor completed);\n"
               "1 the run could not be set up (out of memory); 2 bad usage or a scenario out of\n"
               "range.\n");
}

static int num(const char *flag, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= lo && d <= hi)) {
        fprintf(stderr, "flashback sim: %s wants a number in [%g, %g], not '%s'\n", flag, lo, hi,
                v);
        return -1;
    }
    *out = d;
    return 0;
}

/* One JSON member: 16 numbers indexed by the wire type. */
static void print_by_type(const char *name, const uint64_t *v)
{
    printf("\"%s\":[", name);
    for (int i = 0; i < 16; i++)
        printf("%s%llu", i ? "," : "", (unsigned long long)v[i]);
    printf("],");
}

static void print_json(const fb_sim_config *c, const fb_sim_result *r)
{
    double tm = r->t_min > 0 ? r->t_min : 1;
    printf("{\"n\":%u,\"profile\":\"%s\",\"seed\":%llu,\"arrivals\":\"%s\",\"linger\":%.3f,"
           "\"corrupt\":%.4f,\"loss\":%.4f,\"nat\":\"%s\",\"bytes_per_page\":%llu,"
           "\"chunks\":%u,\"chunk_size\":%u,",
           r->n, c->profile, (unsigned long long)c->seed, c->arrivals == 0 ? "burst" : "poisson",
           c->linger_s, c->corrupt, c->loss,
           c->nat == 0   ? "none"
           : c->nat == 1 ? "cone"
                         : "mixed",
           (unsigned long long)r->bytes_per_page, r->chunks, r->chunk_size);
    printf("\"t_min\":%.6f,\"t_client_server\":%.6f,\"mean\":%.6f,\"p50\":%.6f,\"p95\":%.6f,"
           "\"max\":%.6f,\"makespan_over_tmin\":%.4f,\"mean_over_tmin\":%.4f,",
           r->t_min, r->t_client_server, r->mean, r->p50, r->p95, r->max, r->max / tm,
           r->mean / tm);
    printf("\"honest\":%u,\"completed\":%u,\"completed_fraction\":%.6f,\"corrupt_peers\":%u,"
           "\"origin_bytes\":%llu,\"origin_udp_bytes\":%llu,\"origin_http_bytes\":%llu,"
           "\"http_fetches\":%llu,\"peer_bytes\":%llu,\"origin_share\":%.6f,",
           r->honest, r->completed, r->completed_fraction, r->corrupt_peers,
           (unsigned long long)r->origin_bytes, (unsigned long long)r->origin_udp_bytes,
           (unsigned long long)r->origin_http_bytes, (unsigned long long)r->http_fetches,
           (unsigned long long)r->peer_bytes, r->origin_share);
    printf("\"data_rx_peers\":%llu,\"data_rx_seed\":%llu,\"data_rx_redundant\":%llu,",
           (unsigned long long)r->data_rx_peers, (unsigned long long)r->data_rx_seed,
           (unsigned long long)r->data_rx_redundant);
    printf("\"data_from_peers\":%llu,\"data_from_seed\":%llu,\"data_from_origin\":%llu,"
           "\"wrong_bytes_delivered\":%llu,\"bans\":%llu,\"bans_of_honest\":%llu,"
           "\"corrupt_banned\":%u,\"chunks_bad\":%llu,\"dropped_unvalidated\":%llu,"
           "\"dropped_invalid\":%llu,\"peer_data_sent\":%llu,\"seed_data_sent\":%llu,"
           "\"chunks_dup\":%llu,\"dropped_tft\":%llu,\"bursts_timeout\":%llu,\"seed_busy\":%llu,",
           (unsigned long long)r->data_from_peers, (unsigned long long)r->data_from_seed,
           (unsigned long long)r->data_from_origin, (unsigned long long)r->wrong_bytes_delivered,
           (unsigned long long)r->bans, (unsigned long long)r->bans_of_honest, r->corrupt_banned,
           (unsigned long long)r->chunks_bad, (unsigned long long)r->dropped_unvalidated,
           (unsigned long long)r->dropped_invalid, (unsigned long long)r->peer_data_sent,
           (unsigned long long)r->seed_data_sent, (unsigned long long)r->chunks_dup,
           (unsigned long long)r->dropped_tft, (unsigned long long)r->bursts_timeout,
           (unsigned long long)r->seed_busy);
    printf("\"max_turnover_10s\":%.6f,\"turnover_at\":%.1f,\"datagrams\":%llu,"
           "\"udp_wire_bytes\":%llu,\"lost\":%llu,\"queue_drops\":%llu,\"uplink_drops\":%llu,"
           "\"downlink_drops\":%llu,\"dropped_dead\":%llu,\"nat_filtered\":%llu,"
           "\"events\":%llu,\"engine_inputs\":%llu,\"engine_ticks\":%llu,\"forced_leaves\":%llu,"
           "\"end_time\":%.6f,\"time_limit_hit\":%s,",
           r->max_turnover_10s, r->turnover_at, (unsigned long long)r->datagrams,
           (unsigned long long)r->udp_wire_bytes, (unsigned long long)r->lost,
           (unsigned long long)r->queue_drops, (unsigned long long)r->uplink_drops,
           (unsigned long long)r->downlink_drops, (unsigned long long)r->dropped_dead,
           (unsigned long long)r->nat_filtered, (unsigned long long)r->events,
           (unsigned long long)r->engine_inputs, (unsigned long long)r->engine_ticks,
           (unsigned long long)r->forced_leaves, r->end_time, r->time_limit_hit ? "true" : "false");
    printf("\"blocks_unused\":%llu,\"blocks_late\":%llu,\"partial_lost\":%llu,",
           (unsigned long long)r->blocks_unused, (unsigned long long)r->blocks_late,
           (unsigned long long)r->partial_lost);
    printf("\"pushes_sent\":%llu,\"pushes_accepted\":%llu,\"pushes_refused\":%llu,",
           (unsigned long long)r->pushes_sent, (unsigned long long)r->pushes_accepted,
           (unsigned long long)r->pushes_refused);
    for (int k = 0; k < 2; k++) {
        print_by_type(k ? "msg_wire_seed" : "msg_wire_peers",
                      k ? r->msg_wire_seed : r->msg_wire_peers);
        print_by_type(k ? "msg_count_seed" : "msg_count_peers",
                      k ? r->msg_count_seed : r->msg_count_peers);
    }
    if (c->tcp)
        printf("\"tcp_share\":%.6f,\"tcp_rate\":%.1f,\"tcp_rate_alone\":%.1f,"
               "\"tcp_window_s\":%.6f,\"tcp_engine_rate\":%.1f,",
               r->tcp_share, r->tcp_rate, r->tcp_rate_alone, r->tcp_window_s, r->tcp_engine_rate);
    if (c->spoof)
        printf("\"spoof_sent_bytes\":%llu,\"victim_bytes\":%llu,\"spoof_amplification\":%.6f,",
               (unsigned long long)r->spoof_sent_bytes, (unsigned long long)r->victim_bytes,
               r->spoof_amplification);
    printf("\"threads\":%u,\"wall_seconds\":%.3f}\n", r->threads, r->wall_seconds);
}

static void print_human(const fb_sim_config *c, const fb_sim_result *r)
{
    double tm = r->t_min > 0 ? r->t_min : 1;
    printf("flash crowd: %u visitors, profile %s, %s arrivals, seed %llu\n", r->n, c->profile,
           c->arrivals == 0 ? "burst" : "poisson", (unsigned long long)c->seed);
    printf("page: %llu bytes in %u chunks of %u\n", (unsigned long long)r->bytes_per_page,
           r->chunks, r->chunk_size);
    printf("bound: T_min %.2f s, client-server %.2f s\n", r->t_min, r->t_client_server);
    printf("completed: %u of %u honest visitors (%.1f%%)%s\n", r->completed, r->honest,
           100 * r->completed_fraction, r->time_limit_hit ? " (time limit hit)" : "");
    printf("completion: mean %.2f s, p50 %.2f, p95 %.2f, max %.2f "
           "(makespan/T_min %.2f, mean/T_min %.2f)\n",
           r->mean, r->p50, r->p95, r->max, r->max / tm, r->mean / tm);
    printf("bytes: origin %llu (UDP %llu, HTTP %llu in %llu fetches), visitors %llu; "
           "origin share %.1f%%\n",
           (unsigned long long)r->origin_bytes, (unsigned long long)r->origin_udp_bytes,
           (unsigned long long)r->origin_http_bytes, (unsigned long long)r->http_fetches,
           (unsigned long long)r->peer_bytes, 100 * r->origin_share);
    printf("safety: %llu wrong bytes delivered, %llu bans (%u of %u corrupting visitors "
           "banned, %llu bans of honest ones)\n",
           (unsigned long long)r->wrong_bytes_delivered, (unsigned long long)r->bans,
           r->corrupt_banned, r->corrupt_peers, (unsigned long long)r->bans_of_honest);
    printf("overlay: max turnover in 10 s %.1f%% (window at %.1f s)\n", 100 * r->max_turnover_10s,
           r->turnover_at);
    printf("network: %llu datagrams, %llu lost, %llu queue drops, %llu NAT-filtered\n",
           (unsigned long long)r->datagrams, (unsigned long long)r->lost,
           (unsigned long long)r->queue_drops, (unsigned long long)r->nat_filtered);
    if (c->tcp)
        printf("tcp: %.0f B/s with the crowd, %.0f B/s alone over %.2f s: share %.2f; the "
               "engine sent %.0f B/s from the same uplink\n",
               r->tcp_rate, r->tcp_rate_alone, r->tcp_window_s, r->tcp_share, r->tcp_engine_rate);
    if (c->spoof)
        printf("spoofing: %llu bytes forged, victim received %llu (x%.2f)\n",
               (unsigned long long)r->spoof_sent_bytes, (unsigned long long)r->victim_bytes,
               r->spoof_amplification);
    printf("run: %.2f virtual s, %llu events, %.2f wall s on %u thread%s\n", r->end_time,
           (unsigned long long)r->events, r->wall_seconds, r->threads, r->threads == 1 ? "" : "s");
}

int fb_cmd_sim(int argc, char **argv)
{
    fb_sim_config c;
    fb_sim_config_default(&c);
    bool json = false;
    double d;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (strcmp(a, "--tcp") == 0) {
            c.tcp = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "flashback sim: unknown option or missing value: %s\n", a);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--n") == 0) {
            if (num(a, v, 1, 100000, &d))
                return 2;
            c.n = (uint32_t)d;
        } else if (strcmp(a, "--profile") == 0) {
            if (fb_sim_profile(&c, v)) {
                fprintf(stderr, "flashback sim: --profile is dsl or broadband, not '%s'\n", v);
                return 2;
            }
        } else if (strcmp(a, "--seed") == 0) {
            char *end;
            errno = 0;
            c.seed = strtoull(v, &end, 10);
            /* strtoull takes a sign (and "-1" as 2^64 - 1): digits only. */
            if (errno || end == v || *end || *v < '0' || *v > '9') {
                fprintf(stderr, "flashback sim: --seed wants an integer, not '%s'\n", v);
                return 2;
            }
        } else if (strcmp(a, "--arrivals") == 0) {
            if (strcmp(v, "burst") == 0)
                c.arrivals = FB_ARRIVE_BURST;
            else if (strcmp(v, "poisson") == 0)
                c.arrivals = FB_ARRIVE_POISSON;
            else {
                fprintf(stderr, "flashback sim: --arrivals is burst or poisson\n");
                return 2;
            }
        } else if (strcmp(a, "--nat") == 0) {
            if (strcmp(v, "none") == 0)
                c.nat = FB_SIMNAT_NONE;
            else if (strcmp(v, "cone") == 0)
                c.nat = FB_SIMNAT_CONE;
            else if (strcmp(v, "mixed") == 0)
                c.nat = FB_SIMNAT_MIXED;
            else {
                fprintf(stderr, "flashback sim: --nat is none, cone or mixed\n");
                return 2;
            }
        } else if (strcmp(a, "--burst-ms") == 0) {
            if (num(a, v, 0, 600000, &c.burst_ms))
                return 2;
        } else if (strcmp(a, "--rate") == 0) {
            if (num(a, v, 1e-3, 1e6, &c.rate))
                return 2;
        } else if (strcmp(a, "--linger") == 0) {
            if (num(a, v, 0, 86400, &c.linger_s))
                return 2;
        } else if (strcmp(a, "--corrupt") == 0) {
            if (num(a, v, 0, 0.99, &c.corrupt))
                return 2;
        } else if (strcmp(a, "--loss") == 0) {
            if (num(a, v, 0, 0.99, &c.loss))
                return 2;
        } else if (strcmp(a, "--symmetric") == 0) {
            if (num(a, v, 0, 1, &c.symmetric))
                return 2;
        } else if (strcmp(a, "--spoof") == 0) {
            if (num(a, v, 0, 1000, &d))
                return 2;
            c.spoof = (uint32_t)d;
        } else if (strcmp(a, "--time-limit") == 0) {
            if (num(a, v, 0.001, 86400, &c.time_limit_s))
                return 2;
        } else if (strcmp(a, "--time-limit-x") == 0) {
            if (num(a, v, 1, 1000, &c.time_limit_x))
                return 2;
        } else if (strcmp(a, "--queue-ms") == 0) {
            if (num(a, v, 1, 10000, &c.queue_ms))
                return 2;
        } else if (strcmp(a, "--chunk-size") == 0) {
            if (num(a, v, FB_BLOCK_SIZE, FB_CHUNK_SIZE_MAX, &d))
                return 2;
            if ((uint32_t)d != d || (uint32_t)d % FB_BLOCK_SIZE) {
                fprintf(stderr, "flashback sim: --chunk-size wants a multiple of %d, not '%s'\n",
                        FB_BLOCK_SIZE, v);
                return 2;
            }
            c.chunk_size = (uint32_t)d;
        } else if (strcmp(a, "--trace") == 0) {
            if (num(a, v, 1, 3600000, &c.trace_ms))
                return 2;
        } else if (strcmp(a, "--seed-rate") == 0) {
            if (num(a, v, 0.01, 1, &c.seed_rate))
                return 2;
        } else if (strcmp(a, "--threads") == 0) {
            if (num(a, v, 1, 8, &d))
                return 2;
            if ((uint32_t)d != d) {
                fprintf(stderr, "flashback sim: --threads wants a whole number, not '%s'\n", v);
                return 2;
            }
            c.threads = (uint32_t)d;
        } else {
            fprintf(stderr, "flashback sim: unknown option %s (try --help)\n", a);
            return 2;
        }
    }
    fb_sim_result r;
    const char *err = NULL;
    /* This process runs one big simulation: its heap on huge pages (sim/thp.h). */
    fb_thp_heap_begin(256u << 20);
    int rc = fb_sim_run(&c, &r, &err);
    if (rc) {
        fprintf(stderr, "flashback sim: %s (error %d)\n", err ? err : "setup failed", rc);
        return rc == -22 ? 2 : 1;
    }
    if (json)
        print_json(&c, &r);
    else
        print_human(&c, &r);
    return 0;
}
