/* A flash-crowd simulation: the origin (seed role) and N visitors (peer role), each a real
 * fb_engine, on the simulated network of sim/net.h, driven by one event queue on a virtual clock.
 * fb_sim_run() builds the scenario from a config, runs it to the end (every peer gone, or the time
 * limit), and fills a result. A run is a pure function of its config: the same seed gives the same
 * result, except the wall-clock time, whatever the number of threads. */
#ifndef FB_SIM_SIM_H
#define FB_SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>

typedef enum fb_sim_arrivals {
    FB_ARRIVE_BURST = 0,   /* every peer within the first burst_ms */
    FB_ARRIVE_POISSON = 1, /* a Poisson process of `rate` peers per second */
} fb_sim_arrivals;

typedef enum fb_sim_nat {
    FB_SIMNAT_NONE = 0,  /* every peer public */
    FB_SIMNAT_CONE = 1,  /* every peer behind a port-restricted cone NAT */
    FB_SIMNAT_MIXED = 2, /* cone, except a `symmetric` fraction behind symmetric NATs */
} fb_sim_nat;

typedef struct fb_sim_config {
    uint32_t n;                      /* visitors */
    const char *profile;             /* name, for the report */
    uint64_t peer_up, peer_down;     /* bytes per second */
    uint64_t origin_up, origin_down; /* bytes per second */
    uint64_t rtt_us;                 /* round trip between any two nodes (each has half of half) */
    uint64_t seed;
    fb_sim_arrivals arrivals;
    double burst_ms; /* burst: arrivals spread uniformly over this many ms */
    double rate;     /* poisson: peers per second */
    double linger_s; /* stay this long after completion */
    double corrupt;  /* fraction of peers that corrupt what they serve */
    double loss;     /* packet loss probability */
    fb_sim_nat nat;
    double symmetric;    /* mixed: fraction of peers behind symmetric NATs */
    bool tcp;            /* run a competing long TCP flow on peer 1's uplink */
    uint32_t spoof;      /* spoofing nodes forging a victim's source address */
    double time_limit_s; /* virtual seconds; the run stops there */
    double time_limit_x; /* if > 0: stop at min(time_limit_s, x * t_min + 60 s) instead */
    double queue_ms;     /* drop-tail queue size in ms of the link's rate */
    uint32_t chunk_size; /* 0 = the engine's default */
    double seed_rate;    /* the seed's upload cap as a fraction of the origin uplink */
    double trace_ms;     /* > 0: print a progress line to stderr every trace_ms of virtual time */
    uint32_t threads;    /* 1..8; 0: one per core (at most 4) from 256 visitors, else 1 */
} fb_sim_config;

/* Sets the defaults: the dsl profile, one peer, a burst, leave on completion, no NAT. */
void fb_sim_config_default(fb_sim_config *c);

/* Applies a named profile ("dsl" or "broadband"). Returns 0 or FB_EINVAL. */
int fb_sim_profile(fb_sim_config *c, const char *name);

typedef struct fb_sim_result {
    uint32_t n, honest, completed, corrupt_peers;
    uint64_t bytes_per_page;
    uint32_t chunks, chunk_size;
    double t_min, t_client_server;
    double mean, p50, p95, max; /* completion times of honest peers, s */
    double completed_fraction;
    uint64_t origin_bytes; /* origin's UDP payload sent + HTTP fallback bytes sent */
    uint64_t origin_udp_bytes, origin_http_bytes;
    uint64_t peer_bytes; /* UDP payload bytes sent by visitors */
    double origin_share; /* origin_bytes / (origin_bytes + peer_bytes) */
    uint64_t data_from_peers, data_from_seed, data_from_origin; /* verified chunk bytes */
    uint64_t data_rx_peers, data_rx_seed; /* DATA block payload that reached visitors' engines */
    uint64_t data_rx_redundant;           /* of which for chunks the visitor held already */
    uint64_t http_fetches;
    uint64_t wrong_bytes_delivered;
    uint64_t bans, bans_of_honest;
    uint32_t corrupt_banned; /* corrupting peers banned by at least one peer */
    double max_turnover_10s, turnover_at;
    uint64_t datagrams, udp_wire_bytes, lost, queue_drops, nat_filtered;
    uint64_t uplink_drops, downlink_drops; /* queue_drops by where */
    uint64_t dropped_dead;                 /* packets that reached a node that had left */
    uint64_t events;
    uint64_t engine_inputs, engine_ticks; /* calls of fb_engine_input and fb_engine_tick */
    uint64_t forced_leaves;               /* visitors the host made leave (the engine did not) */
    double end_time;                      /* virtual seconds when the run ended */
    bool time_limit_hit;
    /* --tcp */
    double tcp_share, tcp_rate, tcp_rate_alone, tcp_window_s;
    double tcp_engine_rate; /* UDP payload rate the visitor's engine sent meanwhile */
    /* --spoof */
    uint64_t spoof_sent_bytes, victim_bytes;
    double spoof_amplification;
    /* Engine counters summed over the peers. */
    uint64_t dropped_unvalidated, dropped_invalid, chunks_bad;
    uint64_t peer_data_sent, chunks_dup, dropped_tft, bursts_timeout;
    uint64_t seed_data_sent, seed_busy; /* the seed's engine counters */
    /* Where received blocks went unused (visitors' engine counters, in blocks): late (for a
     * request cancelled or long given up), other unused (not asked, duplicate), abandoned
     * (blocks of partial chunks thrown away). */
    uint64_t blocks_unused, blocks_late, partial_lost;
    uint64_t pushes_sent, pushes_accepted, pushes_refused; /* unasked chunks (PROTOCOL.md 9) */
    /* UDP wire bytes (payload + 28) sent, by message type (index = wire type), visitors and
     * seed apart. */
    uint64_t msg_wire_peers[16], msg_wire_seed[16];
    uint64_t msg_count_peers[16], msg_count_seed[16]; /* datagrams by type */
    double wall_seconds;
    uint32_t threads; /* threads the run used (the result does not depend on it) */
} fb_sim_result;

/* Runs the scenario. Returns 0, or a negative code when it could not be set up (FB_ENOMEM,
 * FB_EINVAL for a config out of range, or the engine refusing the manifest); a message goes to
 * *err when err is not NULL. */
int fb_sim_run(const fb_sim_config *c, fb_sim_result *r, const char **err);

#endif
