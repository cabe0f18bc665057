/* The Flashback datagram format: one encoder and one validating decoder for every message type
 * (docs/PROTOCOL.md, "Wire format"). Every datagram is at most FB_WIRE_MAX bytes and starts with a
 * 10-byte header: version, type, and the first 8 bytes of the swarm id, except DATA, whose
 * request id names the swarm to its receiver (2 bytes: version, type). Integers are big-endian.
 * The decoder is a pure function over (buf, len): it checks every length and value range and
 * never reads past the input; variable parts (payload, interval lists) are views into buf. */
#ifndef FB_WIRE_H
#define FB_WIRE_H

#include "core/addr.h"
#include "core/fbstd.h"

#define FB_WIRE_MAX       1200 /* no datagram is larger */
#define FB_WIRE_VERSION   1
#define FB_WIRE_HDR       10          /* version, type, swarm id (DATA: version, type) */
#define FB_WIRE_DATA_HDR  2           /* DATA carries no swarm id */
#define FB_SWARM_ID_LEN   8           /* bytes of the swarm id carried in datagrams */
#define FB_TOKEN_LEN      16          /* address-validation token */
#define FB_TICKET_LEN     8           /* the seed's introduction ticket (PEERS, echoed by HELLO) */
#define FB_NODE_LEN       8           /* random node id of an engine (per swarm) */
#define FB_WIRE_MAX_LOCAL 4           /* local addresses in a JOIN */
#define FB_WIRE_MAX_ADDRS 5           /* addresses of one peer in a PEERS entry */
#define FB_WIRE_MAX_PEERS 16          /* entries in one PEERS */
#define FB_WIRE_MAX_REQ   4           /* (chunk, mask) entries in one REQUEST */
#define FB_WIRE_ANY       0xffffffffu /* REQUEST chunk "sender's choice" (the seed picks) */

typedef enum fb_msg_type {
    FB_MSG_JOIN = 1,    /* peer -> seed: join a swarm, ask for peers */
    FB_MSG_TOKEN = 2,   /* seed -> peer: a token to echo (address validation) */
    FB_MSG_PEERS = 3,   /* seed or neighbour -> peer: peers to contact */
    FB_MSG_HELLO = 4,   /* peer <-> peer: handshake with tokens and held intervals */
    FB_MSG_HAVE = 5,    /* peer -> neighbour: newly verified chunks */
    FB_MSG_REQUEST = 6, /* receiver -> sender: ask for blocks; acknowledges the last burst */
    FB_MSG_DATA = 7,    /* sender -> receiver: one block of a chunk */
    FB_MSG_BUSY = 8,    /* seed -> peer: request not queued, retry later */
    FB_MSG_CANCEL = 9,  /* receiver -> sender: forget a request */
    FB_MSG_REFER = 10,  /* peer -> neighbour: ask for a referral */
    FB_MSG_BYE = 11,    /* anyone: leaving, forget me */
    FB_MSG_PING = 12,   /* keepalive for NAT bindings */
    FB_MSG_QUEUED = 13, /* sender -> receiver: request accepted, starts in about wait_ms */
    FB_MSG_MAX = 13,
} fb_msg_type;

enum {
    FB_JOIN_COMPLETE = 1,   /* JOIN: the sender holds every chunk */
    FB_TOKEN_REQUEST = 1,   /* TOKEN: the seed has room, send the first request with the JOIN */
    FB_PEERS_INTRO = 1,     /* PEERS: these peers will contact you, contact them too */
    FB_PEERS_TICKET = 2,    /* PEERS: each entry carries an introduction ticket */
    FB_HELLO_VALIDATED = 1, /* HELLO: the sender already validated the recipient */
    FB_HELLO_COMPLETE = 2,  /* HELLO: the sender holds every chunk (no list follows) */
    FB_BYE_DONE = 0,        /* BYE reasons: page complete */
    FB_BYE_LEAVING = 1,     /* the host asked to leave */
    FB_BYE_REFUSED = 2,     /* dropped as a neighbour (full, or tit-for-tat) */
    FB_ACK_PARTIAL = 1,     /* REQUEST ack_flags: an early report, more blocks to come */
    FB_ACK_LOSS = 2,        /* REQUEST ack_flags: blocks of the request were lost */
    FB_DATA_HAVE = 0x80,    /* DATA block byte: an interval list (a HAVE) precedes the payload */
};

typedef struct fb_wire_peer {
    uint8_t n;                       /* 1..FB_WIRE_MAX_ADDRS */
    fb_addr addr[FB_WIRE_MAX_ADDRS]; /* first: the observed (public) one */
    uint8_t ticket[FB_TICKET_LEN];   /* with FB_PEERS_TICKET: the seed's introduction ticket */
} fb_wire_peer;

typedef struct fb_wire_req {
    uint32_t chunk; /* FB_WIRE_ANY: the sender chooses (then the only entry) */
    uint32_t mask;  /* blocks wanted, bit b = block b; nonzero (ignored for ANY) */
} fb_wire_req;

/* A decoded (or to-be-encoded) datagram. Pointers are views into the decoded buffer. */
typedef struct fb_wire_msg {
    uint8_t type;
    uint8_t swarm[FB_SWARM_ID_LEN]; /* DATA: not on the wire (decoded as zero, not encoded) */
    union {
        struct {
            uint8_t flags, want;
            uint8_t node[FB_NODE_LEN];
            uint8_t echo[FB_TOKEN_LEN]; /* all zero: none */
            uint8_t n_local;
            fb_addr local[FB_WIRE_MAX_LOCAL];
            uint16_t pad; /* encode: zero bytes to append; decode: zero bytes found */
        } join;
        struct {
            uint8_t token[FB_TOKEN_LEN];
            fb_addr observed; /* the recipient's address as the sender saw it */
            uint8_t flags;    /* FB_TOKEN_* */
        } token;
        struct {
            uint8_t flags, count;
            fb_wire_peer peer[FB_WIRE_MAX_PEERS];
        } peers;
        struct {
            uint8_t flags;
            uint8_t node[FB_NODE_LEN];
            uint8_t token[FB_TOKEN_LEN]; /* the sender's token for the recipient */
            uint8_t echo[FB_TOKEN_LEN];  /* the recipient's token, echoed, or the seed's
                                            introduction ticket then zeros; zero: none */
            uint32_t have_count;         /* chunks the sender holds in all */
            const uint8_t *iv;           /* interval list (absent with FB_HELLO_COMPLETE) */
            size_t iv_len;
            uint16_t pad;
        } hello;
        struct {
            const uint8_t *iv;
            size_t iv_len;
        } have;
        struct {
            uint32_t ack_id;     /* request being acknowledged, 0: none */
            uint8_t ack_count;   /* blocks of it that arrived */
            uint16_t ack_qd;     /* queueing delay its blocks met, ms (one-way, saturating) */
            uint32_t ack_spread; /* us between its first and last block's arrival */
            uint8_t ack_flags;   /* FB_ACK_PARTIAL: the request is still arriving */
            uint32_t req_id;     /* nonzero when n > 0 */
            uint8_t n;
            fb_wire_req e[FB_WIRE_MAX_REQ];
            const uint8_t *iv; /* with FB_WIRE_ANY: chunks the seed must not choose */
            size_t iv_len;
        } request;
        struct {
            uint32_t req_id, chunk;
            uint8_t block;     /* 0..31 (on the wire, bit 7 says that a HAVE list follows) */
            uint32_t ts;       /* the sender's clock when sent, microseconds mod 2^32 */
            const uint8_t *iv; /* a HAVE riding along: chunks the sender verified lately;
                                  NULL: none */
            size_t iv_len;
            const uint8_t *payload;
            size_t len; /* 1..FB_BLOCK_SIZE */
        } data;
        struct {
            uint32_t req_id;
            uint16_t retry_ms;
        } busy;
        struct {
            uint32_t req_id;
            uint16_t wait_ms;
            uint32_t chunk; /* the seed's choice for an ANY request, else 0xFFFFFFFF */
        } queued;
        struct {
            uint32_t req_id;
        } cancel;
        struct {
            uint8_t want;
        } refer;
        struct {
            uint8_t reason;
        } bye;
    } u;
} fb_wire_msg;

/* Bytes of each type before its variable part (header included). */
#define FB_WIRE_JOIN_FIXED    (FB_WIRE_HDR + 2 + FB_NODE_LEN + FB_TOKEN_LEN + 1)
#define FB_WIRE_HELLO_FIXED   (FB_WIRE_HDR + 1 + FB_NODE_LEN + 2 * FB_TOKEN_LEN + 4)
#define FB_WIRE_REQUEST_FIXED (FB_WIRE_HDR + 4 + 1 + 2 + 4 + 1 + 4 + 1)
#define FB_WIRE_DATA_FIXED    (FB_WIRE_DATA_HDR + 4 + 4 + 1 + 4)

/* Decodes len bytes. Returns 0 and fills the header and the union member of m's type (views
 * that are absent, like a HELLO's list with FB_HELLO_COMPLETE, are NULL with length 0), or
 * FB_EINVAL for anything malformed: wrong version or type, a short or long datagram, a bad address
 * family, a count over its cap, a bad interval list, nonzero padding. */
int fb_wire_decode(const uint8_t *buf, size_t len, fb_wire_msg *m);

/* Encodes m into buf (cap bytes; FB_WIRE_MAX is always enough when the variable parts fit).
 * Returns the length, or FB_E2BIG if it would exceed cap or FB_WIRE_MAX, or FB_EINVAL if m breaks
 * a rule the decoder checks. */
int fb_wire_encode(const fb_wire_msg *m, uint8_t *buf, size_t cap);

/* Writes the bytes that precede a DATA payload: the FB_WIRE_DATA_FIXED header, then, when iv_len
 * is nonzero, the HAVE list iv (a valid interval list; the block byte gets FB_DATA_HAVE). Returns
 * the bytes written (FB_WIRE_DATA_FIXED + iv_len), so a sender can read the block straight in
 * after them (the hot path; fb_wire_encode does the same). buf must hold that many. */
size_t fb_wire_data_header(uint8_t *buf, uint32_t req_id, uint32_t chunk, uint8_t block,
                           uint32_t ts, const uint8_t *iv, size_t iv_len);

/* Bytes an address takes on the wire (0 for a bad family). */
size_t fb_wire_addr_len(const fb_addr *a);

/* Big-endian helpers. */
static inline uint32_t fb_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint16_t fb_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline void fb_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void fb_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

#endif
