/* Content-Type by file extension: a fixed table for the types a static site serves, text types
 * with charset=utf-8, application/octet-stream for everything else. Pure. */
#ifndef FB_MIME_H
#define FB_MIME_H

#include "core/fbstd.h"

/* Returns the Content-Type for the file name path[0..len) (a path is fine: only the text after the
 * last '.' of the last segment counts, compared case-insensitively). The string is static. */
const char *fb_mime_type(const char *path, size_t len);

/* True when the Content-Type `type` (NUL-terminated) is HTML: "text/html", any case, alone or
 * with parameters. What flashbackd scans for a page's embedded objects. */
bool fb_mime_is_html(const char *type);

#endif
