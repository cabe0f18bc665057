/* One page downloaded through its swarm (docs/PEER.md): the manifest over HTTP, an engine in the
 * peer role on a UDP socket of its own, the HTTP range requests that back the swarm up (the
 * host's fallback policy), and the verified bytes in memory. `flashback get` runs one page and
 * writes it out; `flashback open` runs several at once, serves their objects to a browser as
 * they verify, and keeps seeding them. Everything runs on the caller's libuv loop. */
#ifndef FB_PEER_PAGE_H
#define FB_PEER_PAGE_H

#include <uv.h>

#include "engine/engine.h"
#include "net/http_client.h"
#include "peer/getstats.h"

/* How a page ended. The values are `flashback get`'s exit codes (docs/PEER.md), plus
 * FB_PAGE_NO_SERVICE, which is not a failure: the origin has no manifest for the URL. */
enum {
    FB_PAGE_OK = 0,
    FB_PAGE_INTERNAL = 1,    /* out of memory, no socket, ... */
    FB_PAGE_USAGE = 2,       /* a bad setting (--bind) */
    FB_PAGE_UNREACHABLE = 3, /* the origin could not be reached for the manifest */
    FB_PAGE_HTTP = 4,        /* the origin answered an HTTP error status */
    FB_PAGE_MANIFEST = 5,    /* the manifest does not parse */
    FB_PAGE_STALLED = 6,     /* no progress while the origin is failing, or the timeout passed */
    FB_PAGE_VERIFY = 7,      /* the origin's bytes do not match its manifest, even after
                                fetching the manifest again */
    FB_PAGE_WRITE = 8,       /* reserved for the owner (fb_page_fail): an output failed */
    FB_PAGE_TOO_BIG = 9,     /* the page or its manifest is over a cap */
    FB_PAGE_NO_SERVICE = 10, /* the manifest URL answered 400, 404, 405, 410, 501 or a 3xx, or
                                a 200 that is no manifest: a plain web server */
};

typedef struct fb_page fb_page;

typedef enum fb_page_event {
    FB_PAGE_EV_MANIFEST = 1, /* the manifest parsed and the objects are known; again, with new
                                objects, when the page changed at the origin and started over */
    FB_PAGE_EV_OBJECT,       /* object `object` has verified, every byte of it */
    FB_PAGE_EV_COMPLETE,     /* every object has verified */
    FB_PAGE_EV_DONE,         /* the page ended (fb_page_code, fb_page_message): it holds no
                                socket and sends nothing more; the owner frees it */
} fb_page_event;

/* Reports an event. Called from the loop (a timer or an HTTP callback), never from inside the
 * engine, so it may call any fb_page function, fb_page_fail and fb_page_free included. */
typedef void (*fb_page_cb)(void *ctx, fb_page *p, fb_page_event ev, uint32_t object);

typedef struct fb_page_config {
    const char *url;      /* the page's http(s) URL (copied) */
    fb_http_client *http; /* the HTTP client for the manifest and ranges; must outlive the page */
    const char *bind;     /* the UDP address ADDR:PORT; NULL: 0.0.0.0:0, or [::]:0 for an IPv6
                             seed (copied) */
    const char *name;     /* prefix of the page's messages on stderr, e.g. "flashback get" */
    bool quiet;           /* print errors only (the page itself prints none: see fb_page_message) */
    bool no_swarm;        /* every chunk over HTTP (the client-server baseline) */
    uint32_t timeout_ms;  /* the download ends within this; half of it, and whatever is missing
                             goes over HTTP */
    uint32_t linger_ms;   /* after completion, keep uploading this long, then leave (DONE);
                             FB_LINGER_FOREVER: until fb_page_free */
    uint64_t max_size;    /* bytes of the page at most (the memory it may hold) */
    uint32_t origin_conns; /* range requests in flight at once (1-64) */
    fb_page_cb cb;
    void *ctx;
} fb_page_config;

/* Starts a page: the manifest request goes out at once. Returns 0 and *out, FB_EINVAL (a bad
 * URL or setting) or FB_ENOMEM. Events follow from the loop; DONE comes last, exactly once. */
int fb_page_new(uv_loop_t *loop, const fb_page_config *cfg, fb_page **out);

/* Ends the page (if it has not ended) and frees it: says goodbye to the swarm, cancels its HTTP
 * requests, closes its socket and timers. The memory goes in the loop's closing phase: run the
 * loop once more. No event follows. NULL is a no-op. */
void fb_page_free(fb_page *p);

/* Ends the page with the owner's own failure (`code` from the list above, message copied): it
 * leaves the swarm and DONE follows from the loop. No-op once the page has ended. */
void fb_page_fail(fb_page *p, int code, const char *msg);

/* Once DONE: the code (FB_PAGE_OK...) and a one-line message ("" on success; for
 * FB_PAGE_NO_SERVICE, why the origin looks like a plain server, e.g. "HTTP 404"). Before DONE
 * the code is -1. */
int fb_page_code(const fb_page *p);
const char *fb_page_message(const fb_page *p);

/* The counters so far (the live engine's included), as `flashback get --stats` reports them:
 * url and mode are the page's; exit_code, error and ms_total are left for the owner. */
void fb_page_stats(const fb_page *p, fb_get_stats *out);

/* The page URL it was started with. */
const char *fb_page_url(const fb_page *p);

/* One object of the manifest. Strings are NUL-terminated and valid until the page starts over
 * (the next MANIFEST event) or is freed. */
typedef struct fb_page_object {
    const char *path; /* the URL path, as the manifest lists it ("/", "/img/a.png") */
    const char *type; /* content type, "" when the manifest gives none */
    const char *etag; /* entity tag with its quotes (W/ included when weak), "" when none */
    uint64_t size;
    bool ready;          /* every byte verified */
    const uint8_t *data; /* the verified bytes when ready (size bytes), else NULL; valid until
                            control returns to the loop */
} fb_page_object;

/* Objects in the manifest (0 before the MANIFEST event). */
uint32_t fb_page_n_objects(const fb_page *p);

/* Object i. Returns 0, or FB_ENOENT for an index out of range. */
int fb_page_object_get(const fb_page *p, uint32_t i, fb_page_object *out);

/* The index of the object whose manifest path is path[0..len), or -1. */
int fb_page_find(const fb_page *p, const char *path, size_t len);

/* True once every object has verified (and until the page starts over). */
bool fb_page_complete(const fb_page *p);

/* Asks for object i now: its missing chunks are fetched over HTTP ranges, and the engine is
 * For a reader waiting on it. No-op when the object is ready or out of range, or before the
 * swarm started. */
void fb_page_hurry(fb_page *p, uint32_t i);

/* Points the engine at object i (fb_engine_swarm_focus): its chunks are asked for first, from
 * peers and from the seed. FB_NO_FOCUS clears it. For a reader who is waiting for it. No-op
 * before the swarm started. */
void fb_page_focus(fb_page *p, uint32_t i);

/* Hands in a verified copy of object i held elsewhere (another page listing the same object):
 * each missing chunk is given to the engine, which hashes it like any chunk, so a copy that is
 * not the manifest's version is refused at its first chunk. Returns the bytes taken. For a page
 * whose objects overlap with one already downloaded; 0 before the swarm started. */
uint64_t fb_page_reuse(fb_page *p, uint32_t i, const uint8_t *data, uint64_t size);

#endif
