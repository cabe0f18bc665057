/* The Flashback protocol engine: one swarm participant (a visitor's peer, or the origin's seed,
 * tracker and rendezvous), without I/O of its own, in the manner of libutp.
 *
 * The host owns the socket and the clock. It feeds every received datagram to
 * fb_engine_input() and calls fb_engine_tick() no later than the time the engine last asked for;
 * the engine sends datagrams, reads and stores chunk bytes, hashes and draws random bytes only
 * through the callbacks in fb_host, and reports what happened as events. The same code runs in
 * flashbackd (seed role), in `flashback get/open` (peer role), in the simulator (thousands of
 * engines on a virtual clock) and, compiled to wasm32, in the browser.
 *
 * Threading: an engine is not thread-safe; one host thread drives it. Re-entrancy: callbacks must
 * not call back into the same engine, except that the `event` callback may call the query
 * functions (fb_engine_stats, fb_engine_swarm_*_get). Times are microseconds on any monotonic
 * clock the host chooses; they must never go backwards. */
#ifndef FB_ENGINE_H
#define FB_ENGINE_H

#include "core/addr.h"
#include "core/fbstd.h"

#define FB_MAX_DATAGRAM 1200 /* no datagram the engine sends or accepts is larger */

typedef struct fb_engine fb_engine;

typedef enum fb_role {
    FB_ROLE_PEER = 0, /* a visitor: downloads a page, uploads to its neighbours */
    FB_ROLE_SEED = 1, /* the origin: holds every chunk, tracks peers, introduces them */
} fb_role;

typedef enum fb_event_type {
    FB_EV_CHUNK_VERIFIED = 1, /* a chunk's hash matched and it was stored (chunk, peer, source) */
    FB_EV_OBJECT_COMPLETE,    /* every chunk of an object verified (object) */
    FB_EV_SWARM_COMPLETE,     /* every chunk of the page verified */
    FB_EV_NEED_ORIGIN,        /* the swarm cannot deliver `chunk` soon: fetch it over HTTP and
                                 hand it to fb_engine_supply() (the fallback policy is in
                                 docs/PROTOCOL.md) */
    FB_EV_PEER_ADDED,         /* a neighbour completed the handshake (peer) */
    FB_EV_PEER_REMOVED,       /* a neighbour left, timed out or was dropped (peer) */
    FB_EV_PEER_BANNED,        /* a neighbour sent a chunk that failed its hash (peer) */
    FB_EV_SWARM_LEFT,         /* peer role: the engine left the swarm by itself (complete and
                                 linger_ms over; BYE sent): the host may remove it now */
} fb_event_type;

typedef enum fb_source {
    FB_SRC_PEER = 0,   /* a chunk from another visitor */
    FB_SRC_SEED = 1,   /* a chunk from the seed over UDP */
    FB_SRC_ORIGIN = 2, /* a chunk the host fetched over HTTP (fb_engine_supply) */
} fb_source;

typedef struct fb_event {
    fb_event_type type;
    int swarm;        /* swarm handle from fb_engine_swarm_add */
    uint32_t object;  /* object index in the manifest, where it applies */
    uint32_t chunk;   /* chunk index in the swarm, where it applies */
    fb_source source; /* for FB_EV_CHUNK_VERIFIED */
    fb_addr peer;     /* the neighbour concerned, where it applies */
} fb_event;

/* What the host provides. Pointers passed to a callback are valid for the duration of the
 * callback only. */
typedef struct fb_host {
    void *ctx; /* passed back as the first argument of every callback */

    /* Sends one datagram of len <= FB_MAX_DATAGRAM bytes. Best effort, like UDP: the host may
     * drop it (full queue); the protocol recovers. */
    void (*send)(void *ctx, const fb_addr *to, const uint8_t *data, size_t len);

    /* Reports an event. */
    void (*event)(void *ctx, const fb_event *ev);

    /* SHA-256 of len bytes into out. */
    void (*sha256)(void *ctx, const uint8_t *data, size_t len, uint8_t out[32]);

    /* Fills buf with len random bytes (a CSPRNG in real hosts; seeded in the simulator). */
    void (*random)(void *ctx, uint8_t *buf, size_t len);

    /* Copies len bytes of a chunk the engine holds, starting at byte off of the chunk, into buf.
     * The engine asks only for chunks it holds: every chunk in the seed role, and in the peer role
     * the chunks it stored with chunk_write. Returns 0, or a negative code if the bytes are gone
     * (the engine then stops offering that chunk). */
    int (*chunk_read)(void *ctx, int swarm, uint32_t chunk, size_t off, uint8_t *buf, size_t len);

    /* Stores a verified chunk (peer role). Called once per chunk, before CHUNK_VERIFIED. */
    void (*chunk_write)(void *ctx, int swarm, uint32_t chunk, const uint8_t *data, size_t len);
} fb_host;

/* Start-up settings. Every table and queue in the engine has a cap given here; zero means the
 * documented default. */
typedef struct fb_engine_config {
    fb_role role;
    uint64_t upload_rate;       /* bytes per second the engine may send; 0 = no cap (peers use
                                   flow control), required for the seed */
    uint32_t max_swarms;        /* swarms held at once (default 64 seed, 8 peer) */
    uint32_t max_neighbours;    /* per swarm (default 16) */
    uint32_t max_tracked_peers; /* seed: peers remembered per swarm (default 4096) */
    uint32_t max_inflight;      /* peer: chunks being received at once (default 32) */
    uint32_t linger_ms;         /* peer: stay and upload this long after completion (default 0:
                                   leave at once; FB_LINGER_FOREVER: until swarm_leave) */
    fb_addr local_addrs[4];     /* peer: this host's own addresses, sent to the seed so peers
                                   behind the same NAT can reach each other directly */
    uint32_t n_local_addrs;
    /* Added by the engine (0 = default, as above). */
    uint32_t max_pending;       /* upload queue: requests queued or in flight (default 64 peer,
                                   1024 seed) */
    uint32_t max_candidates;    /* peer: addresses being contacted per swarm (default 32) */
    uint32_t max_banned;        /* peer: banned addresses remembered per swarm (default 256) */
    uint32_t max_chunks;        /* manifest caps: chunks (default 65536) */
    uint32_t max_objects;       /* objects (default 1024) */
    uint64_t max_page_bytes;    /* bytes of a page (default 1 GiB) */
    uint64_t tft_credit;        /* peer: bytes a neighbour may download from us beyond what it
                                   uploaded before tit-for-tat drops its requests (default
                                   262144; FB_TFT_OFF disables tit-for-tat) */
    uint32_t datagram_overhead; /* bytes the link adds to every datagram (UDP/IP), counted
                                   against upload_rate (default 28; FB_OVERHEAD_NONE for 0) */
    uint32_t push_max;          /* peer: neighbours a freshly verified chunk is pushed to, unasked,
                                   while the uplink would idle (default 1; FB_PUSH_OFF: no push
                                   sent, none accepted) */
} fb_engine_config;

#define FB_LINGER_FOREVER UINT32_MAX
#define FB_TFT_OFF        UINT64_MAX
#define FB_OVERHEAD_NONE  UINT32_MAX
#define FB_PUSH_OFF       UINT32_MAX

/* Creates an engine. Returns NULL if allocation fails or the config is invalid. The host struct
 * is copied. */
fb_engine *fb_engine_new(const fb_engine_config *cfg, const fb_host *host, uint64_t now_us);

/* Frees the engine without sending anything (call fb_engine_swarm_leave first to say goodbye). */
void fb_engine_free(fb_engine *e);

/* Adds the swarm of a page, given its manifest bytes (docs/PROTOCOL.md). In the seed role the
 * engine holds every chunk; in the peer role it starts empty. Returns a swarm handle (>= 0), or
 * FB_EINVAL (the manifest does not parse, or is over a cap), FB_EEXIST (already added),
 * FB_ENOSPC (max_swarms), FB_ENOMEM (its tables could not be allocated). */
int fb_engine_swarm_add(fb_engine *e, const uint8_t *manifest, size_t len, uint64_t now_us);

/* Removes a swarm (seed: the page changed; peer: done with it). Sends nothing. */
void fb_engine_swarm_remove(fb_engine *e, int swarm);

/* Peer role: contacts the seed at `seed` to join the swarm and get neighbours. */
int fb_engine_swarm_join(fb_engine *e, int swarm, const fb_addr *seed, uint64_t now_us);

/* The same, echoing `token` (16 bytes, NULL: none) in the first JOIN: an address
 * token the seed's host handed out with the manifest (fb_engine_address_token). A valid one
 * spares the TOKEN round trip; an invalid or stale one only costs it. */
int fb_engine_swarm_join_token(fb_engine *e, int swarm, const fb_addr *seed, const uint8_t *token,
                               uint64_t now_us);

/* Seed role: a token for the IP address of `client` (its port does not count) at time now_us (the
 * engine's clock is not moved), for a host that
 * proved the client receives at that address another way: the answer of a TCP connection, like
 * the HTTP response that carries the manifest (docs/PROTOCOL.md section 5). The client's JOIN
 * that echoes it, from any port of that address, is validated for 30 to 60 s. The token is
 * written to out (16 bytes). Returns 0 or FB_EINVAL (not a seed, not an address). */
int fb_engine_address_token(fb_engine *e, const fb_addr *client, uint64_t now_us, uint8_t out[16]);

/* Peer role: says goodbye to every neighbour and the seed, then forgets the swarm. */
void fb_engine_swarm_leave(fb_engine *e, int swarm, uint64_t now_us);

/* Peer role: hands in a chunk the host fetched from the origin (after FB_EV_NEED_ORIGIN or on
 * its own). It is hashed like any other chunk. Returns 0 when it verified and was stored,
 * FB_EPROTO when its hash does not match, FB_EINVAL for a bad index or length. */
int fb_engine_supply(fb_engine *e, int swarm, uint32_t chunk, const uint8_t *data, size_t len,
                     uint64_t now_us);

/* Peer role: asks for the chunks of object `object` before any other (a reader is waiting for
 * it): requests to neighbours pick its missing chunks first, and requests that let the seed
 * choose exclude every other chunk, until each chunk of it is held or in flight. A new call
 * replaces the focus; FB_NO_FOCUS clears it. A hint only: what is verified and how does not
 * change. Returns 0, or FB_EINVAL (a bad handle, role or object). */
#define FB_NO_FOCUS UINT32_MAX
int fb_engine_swarm_focus(fb_engine *e, int swarm, uint32_t object);

/* Processes one received datagram. Anything malformed, unexpected or over a cap is dropped and
 * counted; input never makes the engine crash, block or grow past its caps. */
void fb_engine_input(fb_engine *e, const fb_addr *from, const uint8_t *data, size_t len,
                     uint64_t now_us);

/* Runs timers, pacing and retransmission. Returns the time at which it wants to be called again
 * (the host may call it earlier, and must call it again after input before sleeping). */
uint64_t fb_engine_tick(fb_engine *e, uint64_t now_us);

/* A hint for hosts that drive many engines (the simulator): starts loading into the CPU cache
 * the state that the next fb_engine_input or fb_engine_tick on e will read first. level 0 loads
 * what the engine's first cache line points to; level 1, called later (when level 0's loads
 * have likely arrived), one pointer further (the first swarm's tables). Reads only; changes
 * nothing, so calling it or not never changes behaviour. NULL is allowed. */
void fb_engine_prefetch(const fb_engine *e, int level);

/* Counters, for --stats, metrics and the simulator. */
typedef struct fb_engine_stats {
    uint64_t bytes_in_peer;       /* verified chunk bytes received from other visitors */
    uint64_t bytes_in_seed;       /* verified chunk bytes received from the seed */
    uint64_t bytes_in_origin;     /* chunk bytes supplied by the host from HTTP */
    uint64_t bytes_out_data;      /* chunk payload bytes sent */
    uint64_t bytes_out_total;     /* every byte sent (datagram payloads) */
    uint64_t bytes_in_total;      /* every byte received */
    uint64_t chunks_bad;          /* chunks whose hash failed */
    uint64_t bans;                /* neighbours banned */
    uint64_t dropped_invalid;     /* datagrams dropped as malformed */
    uint64_t dropped_unvalidated; /* replies withheld by the address-validation (3x) rule */
    uint64_t dropped_cap;         /* datagrams dropped because a table or queue was full */
    uint64_t joins;               /* seed: JOINs accepted */
    uint64_t introductions;       /* seed: pairs of peers introduced */
    uint32_t neighbours;          /* current neighbours over all swarms */
    uint32_t tracked_peers;       /* seed: current tracked peers over all swarms */
    /* Added by the engine. */
    uint64_t dropped_tft;     /* requests dropped by tit-for-tat */
    uint64_t dropped_unknown; /* datagrams for a swarm we do not hold, or from a stranger */
    uint64_t busy_sent;       /* seed: requests refused with BUSY (queue full) */
    uint64_t origin_requests; /* FB_EV_NEED_ORIGIN events */
    uint64_t chunks_dup;      /* verified chunks that were already held (endgame) */
    uint64_t bursts_timeout;  /* bursts that ended by timeout */
    uint64_t blocks_unused;   /* DATA blocks that arrived but could not be used (late, a
                                 duplicate, or for a request given up) */
    uint64_t blocks_late;     /* of those, for a request neither outstanding nor among the
                                 sender's last four ended ones (cancelled or long given up) */
    uint64_t partial_lost;    /* blocks of partial chunks thrown away (sender gone, copy done
                                 elsewhere, or bad hash) */
    uint64_t datagrams_out;   /* datagrams sent */
    uint64_t datagrams_in;    /* datagrams received */
    uint64_t upload_rate;     /* current pacing rate, bytes/s (the cap for the seed) */
    uint64_t msgs_out[16];    /* datagrams sent, by message type (docs/PROTOCOL.md) */
    uint32_t upload_queue;    /* requests queued or in flight */
    uint64_t pushes_sent;     /* chunks queued unasked for a neighbour (docs/PROTOCOL.md, 9) */
    uint64_t pushes_accepted; /* unasked chunks taken in (their first block came) */
    uint64_t pushes_refused;  /* unasked chunks refused with CANCEL */
} fb_engine_stats;

void fb_engine_stats_get(const fb_engine *e, fb_engine_stats *out);

/* Per-swarm progress: chunks held out of total. */
void fb_engine_swarm_progress(const fb_engine *e, int swarm, uint32_t *have, uint32_t *total);

/* The swarm's id (SHA-256 of its manifest bytes). Returns 0, or FB_ENOENT for a bad handle. */
int fb_engine_swarm_id(const fb_engine *e, int swarm, uint8_t out[32]);

/* Fills cfg's zero fields with the documented defaults for its role (fb_engine_new does the
 * same on its own copy; hosts may call it to see the values). */
void fb_engine_config_defaults(fb_engine_config *cfg);

#endif
