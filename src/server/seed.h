/* flashbackd's seed: the protocol engine in the seed role (tracker, rendezvous, capped upload)
 * on a UDP socket of the server's loop (net/engine_host), and the swarms it serves. Each swarm is
 * one manifest and the filestore its chunks are read from; a swarm the manifest service no
 * longer publishes is retired: it keeps serving for a grace period (peers that fetched the old
 * manifest finish or notice the change), then it is removed and its files closed. */
#ifndef FB_SERVER_SEED_H
#define FB_SERVER_SEED_H

#include <uv.h>

#include "net/engine_host.h"
#include "net/filestore.h"

typedef struct fb_seed fb_seed;

typedef struct fb_seed_config {
    fb_addr bind;         /* the UDP address (port 0 picks one) */
    uint64_t rate;        /* upload cap in bytes per second (> 0), UDP/IP headers included */
    uint32_t max_swarms;  /* swarms at once, retiring ones included (default 128) */
    uint32_t max_tracked; /* peers tracked per swarm (default: the engine's, 4096) */
    uint32_t grace_ms;    /* a retired swarm is removed this long after (default 30000) */
} fb_seed_config;

/* Counters and gauges for /.flashback/metrics. */
typedef struct fb_seed_stats {
    fb_engine_stats engine;
    fb_udp_stats udp;
    fb_engine_host_stats host;
    uint32_t swarms;          /* swarms held, retiring ones included */
    uint32_t swarms_retiring; /* of which retired and waiting for removal */
    uint64_t swarms_added;    /* swarms added (a manifest identical to a held one is shared) */
    uint64_t swarms_removed;  /* swarms removed after their grace period, or to make room */
    uint64_t read_errors;     /* chunk reads refused because a file changed or vanished */
} fb_seed_stats;

/* Binds the socket and starts the engine on `loop`. Returns 0 and *out, FB_EINVAL, FB_ENOMEM
 * or the socket's error (UV_EADDRINUSE...). */
int fb_seed_new(uv_loop_t *loop, const fb_seed_config *cfg, fb_seed **out);

/* Removes every swarm, closes every file, the socket and the timers. The memory of the handles
 * is released in the loop's closing phase (run the loop once more). NULL is a no-op. */
void fb_seed_free(fb_seed *s);

/* Starts serving the manifest's swarm from the files of `fs` (whose chunks the manifest's hashes
 * describe). On success the seed owns fs (allocated with malloc, initialised) and returns a
 * handle >= 0 that stays valid until fb_seed_release; a manifest identical to one already held
 * shares its swarm (fs is then freed at once, and a retiring swarm is taken back). Returns
 * FB_EINVAL (the engine refused the manifest), FB_ENOSPC (every slot holds a live swarm) or
 * FB_ENOMEM; fs then stays the caller's. */
int fb_seed_add(fb_seed *s, const uint8_t *manifest, size_t len, fb_filestore *fs);

/* Gives up a handle from fb_seed_add. When no holder is left the swarm is retired: served
 * grace_ms longer, then removed. */
void fb_seed_release(fb_seed *s, int handle);

/* True when a file of the swarm changed since it was added (its chunks are no longer served). */
bool fb_seed_stale(const fb_seed *s, int handle);

/* The bound UDP address. */
int fb_seed_local_addr(const fb_seed *s, fb_addr *out);

/* The address token for a client whose address a TCP connection proved (fb_engine_address_token):
 * 32 lowercase hex digits and a NUL into out. Returns 0 or FB_EINVAL. */
int fb_seed_address_token(fb_seed *s, const fb_addr *client, char out[33]);

void fb_seed_stats_get(const fb_seed *s, fb_seed_stats *out);

#endif
