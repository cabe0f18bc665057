/* Private structures shared by the engine's modules: the engine, its swarms, neighbours, chunks
 * in flight, upload requests and the seed's tracker. Nothing here is part of the interface
 * (engine/engine.h); docs/PROTOCOL.md describes the behaviour these tables implement. */
#ifndef FB_ENGINE_INTERNAL_H
#define FB_ENGINE_INTERNAL_H

#include "core/chunk.h"
#include "core/intervals.h"
#include "core/manifest.h"
#include "core/wire.h"
#include "engine/engine.h"
#include "engine/flow.h"
#include "engine/picker.h"
#include "engine/token.h"

/* Timers and policy constants (docs/PROTOCOL.md, "Timers"). Microseconds. */
#define T_MS                1000ull
#define JOIN_RTO_US         (500 * T_MS) /* first JOIN retransmission; doubles to 4 s */
#define JOIN_RTO_MAX_US     (4000 * T_MS)
#define JOIN_REFRESH_US     (20000 * T_MS) /* re-JOIN as keepalive for the tracker and the NAT */
#define REJOIN_NODATA_US    (500 * T_MS)   /* no new data this long: ask the seed for neighbours */
#define REJOIN_MAX_US       (8000 * T_MS)
#define HELLO_RTO_US        (300 * T_MS) /* candidate HELLO retransmission: 300, 600, 1200 ms */
#define HELLO_TRIES         3
#define REFER_EVERY_US      (500 * T_MS)  /* ask a neighbour for a referral while below target */
#define REFER_LOST_US       (50 * T_MS)   /* ...and this soon after losing one */
#define HAVE_FLUSH_US       (1000 * T_MS) /* HAVE batches wait at most this long */
#define HAVE_IDLE_US        (40 * T_MS)   /* ...and not at all when the upload backlog is shorter */
#define HAVE_EARLY_SHARE    16            /* early HAVEs use at most 1/16 of the pace */
#define NB_IDLE_US          (15000 * T_MS) /* nothing from a neighbour this long: drop it */
#define NB_PING_US          (5000 * T_MS)  /* nothing sent to a neighbour this long: PING */
#define BURST_RTO_INIT_US   (1000 * T_MS)
#define BURST_RTO_MIN_US    (100 * T_MS)
#define BURST_RTO_MAX_US    (8000 * T_MS)
#define BURST_GAP_MIN_US    (100 * T_MS) /* wait at least this long after a block for the next */
#define UP_RATE_INIT        2500000      /* first pacing rate, bytes/s: early reports correct it */
#define UP_RATE_MIN         4096
#define UP_QUEUE_US         (300 * T_MS) /* a sender queues about this long of requests */
#define SEED_BACKOFF_MIN_US (250 * T_MS)
#define SEED_BACKOFF_MAX_US (1000 * T_MS)
#define ORIGIN_STALL_US     (4000 * T_MS)  /* no verified chunk this long: consider the origin */
#define ORIGIN_EXPIRE_US    (10000 * T_MS) /* an origin request not supplied by then is re-issued */
#define TRACK_EXPIRE_US     (60000 * T_MS) /* seed: forget a peer not heard from this long */
/* Seed: joins are counted per window; each costs about JOIN_COST bytes of answers (PEERS and
 * introductions). While those of the window fit in the bucket's depth, a TOKEN invites the
 * joiner to send its first request with its JOIN (FB_TOKEN_REQUEST). */
#define JOIN_WINDOW_US     (100 * T_MS)
#define JOIN_BURST         64 /* fresh joins in a window that make it a join burst (seed) */
#define JOIN_BURST_PEERS   4  /* peers named in a PEERS answer during a join burst */
#define JOIN_COST          512
#define ORIGIN_MAX         2 /* origin chunks outstanding per swarm */
#define NB_BURSTS          8 /* request slots per sender (the most the seed may get: a lone peer) */
#define NB_STRANDED_BURSTS 4 /* requests at the seed for a stranded peer with neighbours */
#define NB_PEER_BURSTS     2 /* requests outstanding per neighbour */
#define ENDGAME_SEED_US                                                                            \
    (250 * T_MS) /* the seed is asked for a chunk in flight elsewhere stalled this long */
#define ENDGAME_SILENT_MIN_US                                                                      \
    (50 * T_MS) /* ...or one whose request had no answer in an answer time + 4 deviations */
#define EARLY_ACK_EVERY_US                                                                         \
    (500 * T_MS) /* early acknowledgements to one sender at most this often */
#define DRAIN_MAX_US       (800 * T_MS) /* a complete peer finishes what it queued, this long at most */
#define SEED_PER_PEER      2            /* seed: queued requests per peer */
#define SEED_PER_PEER_IDLE 4            /* seed: per peer while its queue is under half full */
#define SEED_PER_PEER_FREE 8            /* seed: per peer while its queue is under a quarter full */
#define SEED_INVITES       8            /* seed: refused requesters told when the queue has room */
/* A draining peer leaves once nothing is queued and nobody asked it anything for this long. */
#define DRAIN_IDLE_US (20 * T_MS)
/* Before the endgame, a chunk the seed queued for us is asked of a neighbour too when the seed
 * would start it later than the neighbour sends this many chunks. */
#define SEED_COPY_CHUNKS 16
/* A peer refuses a request of a neighbour in the last quarter of its page (not a finisher) that
 * would wait behind more than this long, and this many chunks, of queue. */
#define TAIL_QUEUE_US     (80 * T_MS)
#define TAIL_QUEUE_CHUNKS 16
/* A finisher misses at most this many chunks: senders serve it first, the seed does not refuse
 * it for a full queue (up to twice the queue), and it does not back off from the seed. */
#define FINISH_CHUNKS(n_chunks) FB_MAX(4u, (uint32_t)(n_chunks) / 32)
#define UP_STALE_US             (2000 * T_MS) /* a request that waited this long is dropped */
#define TOKEN_TAG_JOIN          1
#define TOKEN_TAG_HELLO         2
#define TOKEN_TAG_ADDR          3 /* fb_engine_address_token: an IP address, port 0 */

/* Pushes (docs/PROTOCOL.md section 9): at most this many neighbours per verified chunk,
 * whatever cfg.push_max says. A pushed chunk the receiver takes in uses one of the burst slots
 * from NB_STRANDED_BURSTS on (never asked of a neighbour). */
#define PUSH_CAP 16
/* A peer holding this many chunks or fewer pushes a round trip's worth (push_count). */
#define PUSH_START_CHUNKS 8

#define REQ_BUDGET_INIT   4 /* requests outstanding at neighbours, to begin with */
#define REQ_BUDGET_MIN    2
#define BUDGET_GAP_BLOCKS 8 /* bursts that measure the downlink's time per block */
/* The start window (section 9): an uplink carries a quarter of its downlink at least. */
#define START_ASYM       4
#define START_WINDOW_MAX 128 /* blocks: the start window at most */

/* A chunk half sent and idle this long is asked for even over the request budget. */
#define CONT_IDLE_US (300 * T_MS)
/* An unanswered request waits a second rto while under 26/256 of the bursts lose a block. */
#define LOSSY_EXTEND 26

#define NB_NONE 0xffff
#define NB_SEED 0 /* a peer's neighbour slot 0 is the seed */

enum { NB_FREE = 0, NB_JOINING, NB_ACTIVE };
enum { SW_FREE = 0, SW_ACTIVE, SW_LEFT };
enum { UP_FREE = 0, UP_QUEUED, UP_SENDING };

/* Chunk state byte (peer): bits 0-1 = requests in flight (0..2), CS_ORIGIN = asked of the host,
 * CS_HAVE = verified and stored. */
#define CS_REQ    0x03
#define CS_ORIGIN 0x04
#define CS_HAVE   0x80

/* A request this engine sent and awaits (receiver side). */
typedef struct fb_burst {
    uint32_t req_id; /* 0: slot unused */
    uint8_t n;
    bool any; /* the seed's choice: the chunk is known from the first block */
    bool got_first;
    uint16_t slot[FB_WIRE_MAX_REQ];  /* flight slots */
    uint32_t chunk[FB_WIRE_MAX_REQ]; /* their chunks (FB_CHUNK_NONE: the seed's choice) */
    uint32_t mask[FB_WIRE_MAX_REQ];  /* blocks asked of each */
    uint16_t blocks, arrived;
    uint32_t seq;     /* order of sending to this neighbour */
    bool answered;    /* a QUEUED, BUSY or DATA came back */
    bool push;        /* not ours: a chunk its sender pushed unasked (section 9); not counted
                         in req_out, the budget or the burst size */
    bool extended;    /* its deadline passed once and was extended (no answer yet, or QUEUED
                         while the sender was still heard from) */
    uint32_t qd_min;  /* smallest one-way queueing delay of its blocks, us */
    uint16_t seq_max; /* 1 + the highest position (in sending order) of a block that came */
    uint64_t sent_us, first_us, last_us, deadline_us;
} fb_burst;

/* A chunk being received, from exactly one sender. */
typedef struct fb_flight {
    bool used;
    uint16_t nb;    /* the sender's neighbour slot */
    uint32_t chunk; /* FB_CHUNK_NONE until a seed's-choice burst names it */
    uint32_t len, full, got, asked;
    uint8_t *buf; /* the swarm's chunk_size bytes from the engine's pool while it gets data */
    uint64_t started_us;
    uint64_t last_us; /* when its last block came (or it started) */
    bool answered;    /* its sender answered the request (QUEUED or DATA) */
    uint64_t eta_us;  /* when its sender's QUEUED said it would start (0: no QUEUED) */
} fb_flight;

typedef struct fb_nb {
    uint8_t state;
    bool is_seed;
    bool complete; /* holds every chunk */
    bool heard;    /* received anything after the handshake */
    fb_addr addr;
    uint32_t hash; /* fb_addr_hash(addr) for quick lookups */
    uint8_t node[FB_NODE_LEN];
    uint8_t their_token[FB_TOKEN_LEN];
    uint64_t *have; /* bitmap (n_words words); unused for the seed */
    uint32_t have_count;
    uint64_t up, down; /* bytes sent to it; verified bytes received from it */
    uint8_t tft_drops; /* consecutive requests dropped by tit-for-tat */
    uint8_t fails;     /* consecutive bursts that brought nothing */
    uint16_t burst;    /* receiver's burst size for this sender */
    uint32_t burst_seq;
    fb_burst out[NB_BURSTS];
    uint32_t recent[4];     /* ids of bursts that ended lately: their late blocks are welcome */
    uint32_t recent_seq[4]; /* their places in the order of sending (seq) */
    uint8_t recent_next;
    uint32_t ack_id; /* last burst finished, to acknowledge */
    uint8_t ack_count;
    bool ack_pending;
    uint16_t ack_qd; /* ms */
    uint8_t ack_flags;
    uint32_t ack_spread;
    bool owd_init;
    uint32_t owd_base; /* smallest (arrival - send stamp) seen from it, us mod 2^32 */
    fb_rtt rtt;        /* request -> first answer (QUEUED, BUSY or DATA) */
    uint32_t gap_us;   /* smoothed gap between blocks of a burst */
    uint64_t busy_until, backoff_us;
    uint8_t busy_count;      /* consecutive BUSY answers: the backoff doubles with each */
    uint64_t busy_at_us;     /* when the last of them came */
    uint64_t busy_min_until; /* the last BUSY's own retry time, undoubled (seed: a starving
                                peer asks again then) */
    uint64_t last_ack_us;    /* when we last acknowledged something to it */
    bool spare;              /* seed: at our last request its queue held about nothing but ours */
    uint64_t added_us, last_rx_us, last_tx_us, last_used_us;
    uint64_t hs_sent_us;   /* added on the seed's ticket: our first HELLO to it, for the round
                              trip its answer to that HELLO measures (0: none to measure) */
    uint8_t queued;        /* our upload entries for it */
    uint32_t served_chunk; /* the last chunk we sent blocks of to it (+1; 0: none) */
    uint32_t push_id;      /* our push to it queued or being sent (its req_id; 0: none) */
    uint32_t push_chunk;   /* the chunk last pushed to it (+1; 0: none): left out of the
                              HAVE that announces it, the DATA does so */
    uint32_t push_refused; /* the last push from it we refused (CANCEL sent once) */
    uint32_t ann;          /* vlog[0, ann) were announced to it (HELLO, HAVE, or a HAVE riding
                              on DATA) */
} fb_nb;

/* A peer we were told about and are trying to reach (HELLO to each address). */
typedef struct fb_cand {
    bool used;
    uint8_t n, tries;
    fb_addr addr[FB_WIRE_MAX_ADDRS];
    uint64_t next_us;
    uint64_t sent_us; /* our first HELLO to it; 0 once repeated (its answer could be to either) */
    bool has_ticket;  /* the seed introduced us: its HELLO echoing `ticket` is validated */
    uint8_t ticket[FB_TICKET_LEN];
} fb_cand;

/* Seed: a peer it tracks. */
typedef struct fb_tracked {
    fb_addr addr; /* observed */
    uint8_t n_local;
    fb_addr local[FB_WIRE_MAX_LOCAL];
    uint8_t node[FB_NODE_LEN];
    bool complete;
    uint8_t queued; /* requests in the upload queue */
    uint64_t last_seen_us;
} fb_tracked;

typedef struct fb_swarm {
    uint8_t state;
    uint8_t id[32]; /* SHA-256 of the manifest; the wire carries the first 8 bytes */
    uint8_t *manifest;
    size_t manifest_len;
    fb_chunk_map map;
    uint64_t *sizes;
    uint32_t *first;
    uint8_t (*hash)[32];
    uint32_t n_chunks, n_words;
    uint8_t node[FB_NODE_LEN];

    /* Peer role. */
    uint8_t *cs;      /* chunk state bytes */
    uint64_t *want;   /* bitmap: missing and not requested */
    uint32_t n_want;  /* bits set in want */
    uint64_t *mine;   /* bitmap: verified */
    fb_ivset mine_iv; /* the same as intervals, for the wire */
    fb_iv *mine_iv_store;
    uint32_t have;      /* chunks verified */
    uint32_t *obj_left; /* chunks still missing per object */
    uint16_t *avail;    /* neighbours holding each chunk */
    fb_nb *nb;          /* n_nb slots; slot 0 is the seed */
    uint32_t *nb_hash;  /* n_nb: address hash of each used slot (| 1), 0 when free: a compact array,
                           so  the lookup per datagram scans 4 bytes per slot */
    uint32_t n_nb;
    uint32_t n_active;  /* active non-seed neighbours */
    bool had_nb;        /* a neighbour was ever active (a lone visitor has had none) */
    fb_addr refused[4]; /* handshakes we completed but refused (full) lately, family 0: none */
    uint8_t refused_next;
    uint64_t *have_store;
    fb_flight *fl;
    uint32_t n_fl; /* slots (cfg.max_inflight) */
    fb_cand *cand;
    fb_addr *ban;
    uint32_t n_ban, ban_next;
    uint32_t *vlog;       /* the chunks verified, in order (have of them): a neighbour's ann says
                             how many of them it was told of */
    uint32_t n_fresh;     /* chunks verified since the last HAVE batch (the last n_fresh of vlog) */
    uint32_t req_out;     /* requests outstanding at neighbours (not the seed) */
    fb_rtt answer_rtt;    /* request -> first answer, over all senders (for new ones) */
    uint16_t lossy;       /* share of recent bursts that lost a block, in 1/256 (smoothed) */
    uint32_t req_budget;  /* how many may be: grows with whole bursts, shrinks with others, BUSY */
    uint32_t down_gap_us; /* smallest gap per block over a burst of BUDGET_GAP_BLOCKS or more
                             (any sender): what our downlink takes per block at most */
    fb_rtt hs_rtt;        /* handshake round trips: a first HELLO to a candidate -> its answer */
    bool budget_cut;      /* the budget has shrunk once (a BUSY, or a burst that was not whole) */
    uint64_t have_flush_us;
    uint64_t have_early_us; /* an early HAVE flush (idle uplink) not before this */
    uint64_t last_verify_us;
    uint32_t verify_gap_us; /* smoothed time between verified chunks (HAVE batching) */
    bool joined;            /* the seed accepted a JOIN with our token */
    bool seed_token_ok;
    uint8_t join_want; /* `want` of the last JOIN sent (a TOKEN's answer repeats it) */
    uint8_t seed_token[FB_TOKEN_LEN];
    uint64_t join_next_us, join_rto_us, join_refresh_us;
    uint64_t last_progress_us, rejoin_next_us, rejoin_backoff_us;
    uint64_t thin_next_us, thin_backoff_us; /* JOINs for neighbours while under half the target */
    uint64_t refer_next_us;
    uint64_t seed_last_rx_us;
    uint64_t seed_last_data_us;
    uint32_t origin_chunk[ORIGIN_MAX];
    uint64_t origin_exp[ORIGIN_MAX];
    uint64_t stall_check_us;
    bool complete;
    bool empty_done;      /* OBJECT_COMPLETE reported for the empty objects */
    uint64_t leave_at_us; /* UINT64_MAX: stay */
    bool draining;        /* complete and leaving: what was queued, and what fits in time */
    /* Draining: when it began, or the last request came. */
    uint64_t drain_req_us;
    uint32_t focus_first, focus_end; /* chunks to ask for first (fb_engine_swarm_focus); none
                                        when equal */

    /* Seed role. */
    fb_tracked *tp;
    uint32_t n_tp;
    uint32_t *tp_idx; /* open addressing: index + 1, 0 = empty */
    uint32_t tp_mask;
    uint32_t *served;        /* times each chunk was handed out */
    uint64_t expire_next_us; /* next sweep for tracked peers past TRACK_EXPIRE_US */
    uint64_t tok_win_us;     /* start of the current window of TOKENs (JOIN_WINDOW_US) */
    uint32_t tok_win_n;      /* TOKENs sent in it */
    uint64_t join_win_us;    /* start of the current window of fresh joins (JOIN_WINDOW_US) */
    uint32_t join_win_n;     /* fresh joins in it */
} fb_swarm;

/* A request this engine serves (sender side). */
typedef struct fb_upreq {
    uint8_t state;
    uint16_t swarm;
    uint16_t nb; /* peer role: neighbour slot; seed role: NB_NONE */
    fb_addr to;
    uint32_t req_id;
    uint8_t n, cur_e, cur_b;
    bool push; /* queued by us, unasked (peer role, section 9) */
    fb_wire_req e[FB_WIRE_MAX_REQ];
    uint32_t len[FB_WIRE_MAX_REQ]; /* chunk lengths */
    uint16_t blocks, sent;
    uint32_t prio; /* chunks the requester holds: the fewest are served first */
    uint64_t queued_us;
    uint64_t first_us, fourth_us; /* when its first and 4th block went out */
    uint64_t w_first, w_fourth;   /* wire bytes sent by then (fb_engine.wire_out) */
} fb_upreq;

/* A request served lately (sender side), kept to read its acknowledgement. */
typedef struct fb_sent {
    uint32_t req_id;
    uint16_t swarm;
    uint16_t blocks;
    fb_addr to;
    uint64_t first_us, last_us; /* when its first and last block went out */
    uint64_t w_first, w_last;   /* wire bytes sent by then (fb_engine.wire_out) */
    uint8_t n;                  /* its chunks (the seed does not choose them again at once) */
    uint32_t chunk[FB_WIRE_MAX_REQ];
} fb_sent;

/* A requester the seed refused (BUSY) while its queue was full. */
typedef struct fb_invitee {
    fb_addr to;
    uint16_t swarm;
    uint32_t covered; /* its progress then (chunks it held, as far as the seed knew) */
} fb_invitee;

typedef struct fb_ctrlmsg {
    fb_addr to;
    uint16_t len;
    uint8_t data[FB_WIRE_MAX];
} fb_ctrlmsg;

/* A free chunk buffer: `size` bytes (the chunk size of the swarm it was taken for). */
typedef struct fb_chunkbuf {
    uint8_t *p;
    uint32_t size;
} fb_chunkbuf;

struct fb_engine {
    /* The first cache line: what every input and tick touches first (fb_engine_prefetch). */
    uint64_t now;
    uint64_t next_wake;  /* min of the two below */
    uint64_t timer_wake; /* protocol timers (peer role: fb_peer_tick) */
    uint64_t up_wake;    /* pacing of the upload queue */
    fb_swarm *sw;
    uint8_t (*swid)[FB_SWARM_ID_LEN]; /* max_swarms: wire ids of the used swarms (compact, for
                                         the lookup per datagram) */
    fb_upreq *up;
    uint32_t up_cur; /* entry being sent (paced), or UINT32_MAX */
    uint32_t n_up;
    fb_engine_config cfg;
    fb_host host;
    fb_engine_stats st;
    fb_token_key key;
    uint8_t rnd[256];
    uint32_t rnd_off;

    /* Upload queue: entries, and a FIFO ring of entry indices waiting to start. */
    uint32_t *ring;
    uint32_t ring_head, ring_len;
    uint32_t ring_blocks; /* blocks of the requests waiting in the ring */
    uint32_t up_used;
    fb_rate rate;      /* pacing rate (peer role; the seed sends at its cap) */
    uint64_t wire_out; /* bytes sent, datagram overhead included (what the uplink carried) */
    uint64_t paced;    /* the pace last given to the bucket */
    fb_rtt up_rtt;     /* last block sent -> acknowledgement */
    fb_sent sent[16];  /* requests sent lately, to match acknowledgements */
    uint32_t sent_next;
    /* Seed role: the last requesters refused for a full queue, told when it has room again
     * (BUSY with req_id 0: fb_up_invite). */
    fb_invitee invite[SEED_INVITES];
    uint32_t n_invite;
    fb_bucket bucket;
    fb_ctrlmsg *ctrl; /* rate-capped engines: control messages waiting for tokens */
    uint32_t ctrl_head, ctrl_len, ctrl_cap;
    /* Free chunk buffers (fb_eng_buf_get/put), last returned first (still warm in cache). */
    fb_chunkbuf *pool;
    uint32_t pool_len, pool_cap; /* pool_cap = cfg.max_inflight */
    uint8_t scratch[FB_WIRE_MAX];
};

/* engine.c */
/* Asks for a tick at t for protocol timers (fb_peer_tick), or for the upload pacing only. */
void fb_eng_arm(fb_engine *e, uint64_t t);
void fb_eng_arm_up(fb_engine *e, uint64_t t);
uint32_t fb_eng_rand32(fb_engine *e);
/* A chunk buffer of `size` bytes (contents undefined): a free one of that size from the pool,
 * else a new one. NULL when memory is short. Give it back with fb_eng_buf_put. */
uint8_t *fb_eng_buf_get(fb_engine *e, uint32_t size);
/* Returns buffer p (from fb_eng_buf_get(e, size); NULL is ignored) to the pool, or frees it when
 * the pool holds pool_cap buffers already. p must not be used afterwards. */
void fb_eng_buf_put(fb_engine *e, uint8_t *p, uint32_t size);
void fb_eng_randbytes(fb_engine *e, uint8_t *out, size_t n);
void fb_eng_emit(fb_engine *e, fb_event_type type, int swarm, uint32_t object, uint32_t chunk,
                 fb_source src, const fb_addr *peer);
/* Sends a control datagram (subject to the rate cap, queued if tokens are short). */
void fb_eng_send(fb_engine *e, const fb_addr *to, const uint8_t *buf, size_t len);
/* Encodes m (with the swarm's id) and sends it. Returns bytes sent or 0. */
size_t fb_eng_send_msg(fb_engine *e, fb_swarm *s, const fb_addr *to, fb_wire_msg *m);
/* Sends a datagram now, bypassing the bucket (data path, already charged). */
void fb_eng_xmit(fb_engine *e, const fb_addr *to, const uint8_t *buf, size_t len);
int fb_eng_swarm_index(const fb_engine *e, const fb_swarm *s);
/* Control datagrams waiting for upload tokens: whether any, and send what tokens allow
 * (returns the time more tokens are needed, or UINT64_MAX when none wait). */
/* Bytes a datagram costs on the wire beyond its payload (cfg.datagram_overhead; 0 for
 * FB_OVERHEAD_NONE). */
static inline uint32_t fb_eng_overhead(const fb_engine *e)
{
    return e->cfg.datagram_overhead == FB_OVERHEAD_NONE ? 0 : e->cfg.datagram_overhead;
}

bool fb_eng_ctrl_pending(const fb_engine *e);
/* True when control datagrams go at once (no cap) or their queue holds under half of
 * max(64, max_pending): room for optional ones (introductions); the rest of the queue is kept
 * for answers to joiners. */
bool fb_eng_ctrl_room(const fb_engine *e);
uint64_t fb_eng_ctrl_drain(fb_engine *e);
/* True when address a is a neighbour (or the seed) in another active swarm than s: a DATA with
 * an id it did not choose (a push) could not be told apart there (DATA carries no swarm id). */
bool fb_eng_nb_elsewhere(fb_engine *e, const fb_swarm *s, const fb_addr *a);

/* peer.c: neighbours, handshakes, referrals, HAVE, joins. */
void fb_peer_input(fb_engine *e, fb_swarm *s, const fb_addr *from, const fb_wire_msg *m,
                   size_t len);
uint64_t fb_peer_tick(fb_engine *e, fb_swarm *s);
void fb_peer_join(fb_engine *e, fb_swarm *s, const uint8_t *token);
void fb_peer_leave(fb_engine *e, fb_swarm *s, uint8_t reason);
fb_nb *fb_peer_nb_find(fb_swarm *s, const fb_addr *a);
/* Keeps s->nb_hash in step with slot n (after its address or state changed). */
void fb_peer_nb_index(fb_swarm *s, fb_nb *n);
void fb_peer_nb_remove(fb_engine *e, fb_swarm *s, fb_nb *n, bool banned);
/* Marks chunk c held by neighbour n (its bitmap and avail). */
void fb_peer_nb_has(fb_swarm *s, fb_nb *n, uint32_t c);
void fb_peer_chunk_done(fb_engine *e, fb_swarm *s, uint32_t c, fb_source src, fb_nb *from);
/* The chunks verified since the last announcement to neighbour n that it lacks, as an interval
 * list in buf (at most cap bytes), for a HAVE riding on a DATA datagram to n. Returns the bytes
 * written and marks them announced, or 0 (nothing to announce, or it does not fit in cap: the
 * next HAVE says it). */
size_t fb_peer_have_ride(fb_engine *e, fb_swarm *s, fb_nb *n, uint8_t *buf, size_t cap);
bool fb_peer_is_banned(const fb_swarm *s, const fb_addr *a);
/* Repeats our half of the handshake to n (its token echoed), for a neighbour that has not
 * answered anything yet: our last HELLO to it may have been lost. */
void fb_peer_rehello(fb_engine *e, fb_swarm *s, fb_nb *n);

/* download.c: requests, data, verification, the origin fallback. */
void fb_dl_pump(fb_engine *e, fb_swarm *s, fb_nb *n);
void fb_dl_pump_all(fb_engine *e, fb_swarm *s);
/* Requests s may have outstanding at neighbours now (not the seed): req_budget, or before the
 * budget first shrank, what fills the downlink for two handshake round trips (docs/PROTOCOL.md
 * section 8). */
uint32_t fb_dl_budget(const fb_swarm *s);
uint32_t fb_dl_start_window(const fb_swarm *s);
void fb_dl_data(fb_engine *e, fb_swarm *s, fb_nb *n, const fb_wire_msg *m);
void fb_dl_busy(fb_engine *e, fb_swarm *s, fb_nb *n, const fb_wire_msg *m);
void fb_dl_queued(fb_engine *e, fb_swarm *s, fb_nb *n, const fb_wire_msg *m);
uint64_t fb_dl_tick(fb_engine *e, fb_swarm *s, fb_nb *n);
void fb_dl_release_nb(fb_engine *e, fb_swarm *s, fb_nb *n);
uint64_t fb_dl_origin_tick(fb_engine *e, fb_swarm *s);
int fb_dl_supply(fb_engine *e, fb_swarm *s, uint32_t c, const uint8_t *data, size_t len);

/* upload.c: the sender side. */
void fb_up_init(fb_engine *e);
void fb_up_request(fb_engine *e, fb_swarm *s, fb_nb *n, fb_tracked *t, const fb_addr *from,
                   const fb_wire_msg *m);
void fb_up_cancel(fb_engine *e, int swarm, uint16_t nb, const fb_addr *from, uint32_t req_id);
void fb_up_drop_nb(fb_engine *e, int swarm, uint16_t nb);
void fb_up_drop_swarm(fb_engine *e, int swarm);
/* Requests of the swarm queued or being sent. */
uint32_t fb_up_pending(const fb_engine *e, int swarm);
/* How long the requests accepted and not yet sent take at the current pace, in us. */
uint64_t fb_up_backlog_us(const fb_engine *e);
uint64_t fb_up_pump(fb_engine *e);
/* Peer role: chunk c was just verified. While the uplink would idle for a round trip, queues it
 * unasked for up to cfg.push_max neighbours lacking it (section 9). Returns how many. */
uint32_t fb_up_push(fb_engine *e, fb_swarm *s, uint32_t c);
uint64_t fb_up_tick(fb_engine *e);

/* seed.c: tracker, introductions, the seed's choice. */
void fb_seed_input(fb_engine *e, fb_swarm *s, const fb_addr *from, const fb_wire_msg *m,
                   size_t len);
fb_tracked *fb_seed_find(fb_swarm *s, const fb_addr *a);
int fb_seed_swarm_init(fb_engine *e, fb_swarm *s);
uint32_t fb_seed_choose(fb_engine *e, fb_swarm *s, const fb_wire_msg *m);
/* Whether swarm s is in a join burst: JOIN_BURST fresh joins or more in a window of
 * JOIN_WINDOW_US that began under a window ago. */
bool fb_seed_join_burst(const fb_engine *e, const fb_swarm *s);
/* Forgets tracked peers not heard from for TRACK_EXPIRE_US; returns when to sweep again. */
uint64_t fb_seed_tick(fb_engine *e, fb_swarm *s);

#endif
