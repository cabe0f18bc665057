/* Drives one protocol engine (engine/engine.h) on a libuv loop: it owns the engine, the UDP
 * endpoint the engine talks through, and a timer that calls fb_engine_tick when the engine asks.
 * It supplies the engine's host callbacks (send -> UDP, SHA-256 -> OpenSSL EVP, random ->
 * RAND_bytes, time -> uv_hrtime) and leaves chunk storage and events to the program. */
#ifndef FB_NET_ENGINE_HOST_H
#define FB_NET_ENGINE_HOST_H

#include <uv.h>

#include "engine/engine.h"
#include "net/chunkstore.h"
#include "net/udp.h"

typedef struct fb_engine_host fb_engine_host;

/* Receives the engine's events, as fb_host.event does: `ev` is valid for the call only, and
 * the callback may call the engine's query functions only (fb_engine_stats_get,
 * fb_engine_swarm_progress). To act on an event (leave the swarm, fetch from the origin), note
 * it and act from the loop: for example from a uv_idle or uv_async, or from the result callback
 * of the HTTP fetch it started, then call fb_engine_host_kick. */
typedef void (*fb_engine_host_event_cb)(void *ctx, const fb_event *ev);

typedef struct fb_engine_host_config {
    fb_engine_config engine; /* role, rate and caps (copied) */
    fb_addr bind;            /* the UDP address; port 0 picks a free one */
    fb_udp_config udp;       /* zero for the defaults (1200-byte cap, 4 MiB buffers) */
    fb_chunk_store store;    /* where chunk bytes live (read required; write in the peer role) */
    fb_engine_host_event_cb on_event; /* may be NULL */
    void *ctx;                        /* passed to on_event */
    bool find_local_addrs;            /* when engine.n_local_addrs is 0: fill local_addrs with this
                                         host's interface addresses and the bound port (peer role, so
                                         peers behind the same NAT reach each other) */
} fb_engine_host_config;

/* Binds the socket, creates the engine, ticks it once and arms its timer. Returns 0 and *out,
 * FB_EINVAL (bad config, or the engine refused it), FB_ENOMEM, or the socket's error
 * (UV_EADDRINUSE...). On failure nothing is left that the next uv_run does not release. */
int fb_engine_host_new(uv_loop_t *loop, const fb_engine_host_config *cfg, fb_engine_host **out);

/* Frees the engine (without sending anything: call fb_engine_swarm_leave first to say goodbye)
 * and closes the socket and the timer. The memory is released in the loop's closing phase: run
 * the loop once more. Must not be called from inside an engine callback. NULL is a no-op. */
void fb_engine_host_free(fb_engine_host *h);

/* The engine, for the calls only the program knows to make (fb_engine_swarm_add, _join,
 * _supply, _leave, stats). After any call that may change what the engine wants to send or
 * when it wants to wake, call fb_engine_host_kick. */
fb_engine *fb_engine_host_engine(const fb_engine_host *h);

/* Ticks the engine now and re-arms its timer. Must not be called from inside an engine
 * callback. */
void fb_engine_host_kick(fb_engine_host *h);

/* The clock the host gives the engine: uv_hrtime() in microseconds (monotonic). */
uint64_t fb_engine_host_now(void);

/* The bound UDP address (with the port the OS chose), and the endpoint's counters. */
int fb_engine_host_local_addr(const fb_engine_host *h, fb_addr *out);
void fb_engine_host_udp_stats(const fb_engine_host *h, fb_udp_stats *out);

/* Host-side counters. */
typedef struct fb_engine_host_stats {
    uint64_t ticks;     /* fb_engine_tick calls */
    uint64_t inputs;    /* datagrams handed to fb_engine_input */
    uint64_t batches;   /* loop iterations that delivered input */
    uint64_t send_full; /* datagrams the engine sent that the socket dropped (buffer full) */
} fb_engine_host_stats;

void fb_engine_host_stats_get(const fb_engine_host *h, fb_engine_host_stats *out);

#endif
