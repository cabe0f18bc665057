/* The URLs `flashback get` derives from the one it is given (docs/PEER.md, the HTTP contract in
 * docs/PROTOCOL.md): the page's manifest URL, the URL of each object the manifest lists, and the
 * seed's UDP address from the Flashback-Seed header. Pure string work: no allocation, no I/O,
 * every output bounded by the caller's buffer. */
#ifndef FB_PEER_URLMAP_H
#define FB_PEER_URLMAP_H

#include "core/addr.h"

#define FB_URL_MAX 4096 /* longest URL we build or accept */

/* A URL cut into views of the caller's string (not NUL-terminated). */
typedef struct fb_url {
    const char *origin; /* "scheme://authority", e.g. "http://example.org:8080" */
    size_t origin_len;
    const char *path; /* from the first '/' after the authority up to '?' or '#'; "" when absent
                         (the page is then "/") */
    size_t path_len;
    bool https;
} fb_url;

/* Splits an absolute http:// or https:// URL (scheme in any case). The authority must be
 * non-empty; no byte of the URL may be a space, a control character or DEL. Returns 0, or
 * FB_EINVAL (another scheme, no authority, a bad byte), FB_E2BIG (longer than FB_URL_MAX). */
int fb_url_split(const char *url, fb_url *out);

/* The manifest URL of a page URL: origin + "/.flashback/manifest" + page path ("/" when the URL
 * has none); the query and the fragment are dropped (the contract ignores them). Writes a
 * NUL-terminated string into out (cap bytes). Returns its length, or FB_EINVAL / FB_E2BIG. */
int fb_url_manifest(const char *page_url, char *out, size_t cap);

/* The URL of an object of the page's manifest: origin of page_url + path (path_len bytes,
 * starting with '/', as the manifest gives it, query included). Returns the length written, or
 * FB_EINVAL (a bad URL or a path not starting with '/') / FB_E2BIG. */
int fb_url_object(const char *page_url, const char *path, size_t path_len, char *out, size_t cap);

/* The page path of a URL ("/" when it has none), NUL-terminated into out. Returns the length or
 * FB_EINVAL / FB_E2BIG. */
int fb_url_page_path(const char *page_url, char *out, size_t cap);

/* The seed's address from a Flashback-Seed header value (surrounding spaces ignored): "PORT"
 * means that port on `connected_ip`, the address the HTTP request went to as curl reports it
 * ("127.0.0.1", "::1"); "a.b.c.d:PORT" or "[v6]:PORT" names it in full. Host names are not
 * accepted. Port 0 is refused. Returns 0, or FB_EINVAL. */
int fb_url_seed_addr(const char *header, const char *connected_ip, fb_addr *out);

#endif
