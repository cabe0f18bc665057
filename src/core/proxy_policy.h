/* The reverse proxy's decisions, pure: what an upstream answer's headers say (Cache-Control,
 * Set-Cookie, Vary, validators), whether flashbackd may keep it in its mirror and for how long,
 * which of its headers are relayed, how a request path maps to a file of the mirror, and what
 * an --upstream URL may be. No I/O: server/proxy does the fetching and the files. */
#ifndef FB_CORE_PROXY_POLICY_H
#define FB_CORE_PROXY_POLICY_H

#include "core/fbstd.h"

#define FB_PROXY_TYPE_MAX 96 /* longest Content-Type a mirrored object keeps (with its NUL) */

/* A piece of an upstream answer's header block (pointers into it; not NUL-terminated). */
typedef struct fb_proxy_str {
    const char *p;
    size_t n;
} fb_proxy_str;

/* What fb_proxy_scan finds in an upstream answer's header block. */
typedef struct fb_proxy_answer {
    bool no_store, no_cache, private_; /* Cache-Control directives (no-cache with or without
                                          field names; private likewise) */
    bool has_max_age, has_s_maxage;
    uint64_t max_age, s_maxage; /* seconds (values past 2^32 are clamped to it) */
    bool set_cookie;            /* any Set-Cookie (or Set-Cookie2) line */
    bool vary_other;            /* a Vary naming anything but Accept-Encoding (or "*") */
    bool encoded;               /* a Content-Encoding other than identity */
    bool bad_line;              /* a line without a colon or with a control byte (ignored) */
    fb_proxy_str content_type, etag, last_modified; /* the first of each, {NULL, 0} if absent */
} fb_proxy_answer;

/* Reads a header block: lines "Name: value" ending in CRLF (or LF), as libcurl hands them over
 * (no status line, no empty line needed). Fields repeated over several lines (Cache-Control,
 * Vary) accumulate. Never allocates; reads only hdr[0..len). */
void fb_proxy_scan(const char *hdr, size_t len, fb_proxy_answer *a);

/* What the proxy does with an answer. */
typedef enum fb_proxy_verdict {
    FB_PROXY_STORE,   /* write it into the mirror and serve it from there */
    FB_PROXY_SHARED,  /* relay it, not stored; concurrent requests for the path may share it */
    FB_PROXY_PRIVATE, /* relay it to the request that asked only (it sets a cookie or is private) */
} fb_proxy_verdict;

/* Decides for an answer with `status` to a GET, of `body_len` bytes, under a mirror cap of
 * max_body bytes: STORE for a 200 without Set-Cookie, no-store, private, no-cache, a Vary other
 * than Accept-Encoding or a content coding, within the cap; PRIVATE for any answer with
 * Set-Cookie or private/no-store; SHARED otherwise. */
fb_proxy_verdict fb_proxy_decide(int status, const fb_proxy_answer *a, uint64_t body_len,
                                 uint64_t max_body);

/* How long a stored answer is fresh, in milliseconds: s-maxage, else max-age, else default_ms. */
uint64_t fb_proxy_ttl_ms(const fb_proxy_answer *a, uint64_t default_ms);

/* Copies the end-to-end header lines worth relaying (Content-Type, Cache-Control, ETag,
 * Last-Modified, Expires, Location, Set-Cookie, Content-Encoding, Content-Language, Vary) from
 * hdr[0..len) into out (cap bytes), each as "Name: value\r\n", and returns the bytes written,
 * or FB_E2BIG when they do not fit. Lines with a control byte are dropped. */
int fb_proxy_relay_headers(const char *hdr, size_t len, char *out, size_t cap);

/* Maps a normalized request path (fb_http_path_parse's output: starts with '/', no dot
 * segments) and its query (NULL when the target had no '?') to the file that mirrors it. Without
 * a query: the same path, with "index.html" appended when it ends in '/'. With one: a file under
 * the hidden directory "/.q" (never a request path's file), named after the path and the query
 * in hex: "/a/b" + "x=1" -> "/.q/a/b/.f783d31", "/a/" + "" -> "/.q/a/.s" (distinct for every
 * path and query). Writes it NUL-terminated into out (cap bytes) and returns its length;
 * FB_EINVAL when the path cannot be mirrored (a hidden segment, a NUL, an empty name) and
 * FB_E2BIG when a name is over 255 bytes or the result does not fit. */
int fb_proxy_mirror_path(const char *path, size_t len, const char *query, size_t qlen, char *out,
                         size_t cap);

/* An --upstream URL: "http://HOST[:PORT][/PREFIX]" or https. */
typedef struct fb_proxy_url {
    bool https;
    fb_proxy_str host;   /* as written: a name, an IPv4 address or "[v6]" */
    uint32_t port;       /* 80 or 443 when absent */
    fb_proxy_str prefix; /* "" or "/a/b" (no trailing slash) */
} fb_proxy_url;

/* Checks url[0..len) and splits it into *u (pointers into url). Returns 0, or FB_EINVAL with a
 * static reason in *why: another scheme, no host, userinfo, a bad port, a query or fragment,
 * a byte that is not visible ASCII. */
int fb_proxy_url_parse(const char *url, size_t len, fb_proxy_url *u, const char **why);

#endif
