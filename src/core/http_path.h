/* From an HTTP request-target to a safe path under the served root. Pure: percent-decoding,
 * then dot-segment removal that can never climb above the root, with the query split off.
 * The result is what the file layer looks up; it never holds NUL, a control byte, "." or "..". */
#ifndef FB_HTTP_PATH_H
#define FB_HTTP_PATH_H

#include "core/fbstd.h"

typedef struct fb_http_path {
    char *path;        /* out: "/" followed by segments joined by "/"; NUL-terminated */
    size_t len;        /* out: strlen(path) */
    const char *query; /* out: after '?' in the target (NULL when there is no '?') */
    size_t query_len;
    bool trailing_slash; /* out: path ends in '/' (always true for the root "/") */
} fb_http_path;

/* Normalizes `target` (origin-form "/a/b?q" or absolute-form "http://host/a/b?q") into
 * out->path, which must point to `cap` bytes; cap >= target_len + 2 always suffices.
 * Percent escapes are decoded first, so "%2e%2e" and "%2f" are treated as ".." and "/"; then
 * empty and "." segments are dropped and ".." removes the previous segment, never the root.
 * Returns 0, FB_EINVAL for a target that is not origin- or absolute-form, holds '#', a bad
 * escape, or decodes to NUL or a control byte, or FB_E2BIG when cap is too small.
 * out->query points into target. */
int fb_http_path_parse(const char *target, size_t target_len, fb_http_path *out, size_t cap);

/* Percent-encodes path[0..len) for a Location header: bytes other than unreserved characters,
 * sub-delims, ':', '@' and '/' become %XX. Writes at most cap bytes to dst and returns the length,
 * or FB_E2BIG when it does not fit (3 * len is always enough). */
int fb_http_path_encode(const char *path, size_t len, char *dst, size_t cap);

#endif
