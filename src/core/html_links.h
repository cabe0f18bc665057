/* The embedded-object extractor for HTML pages: given a page's bytes, it lists the same-origin
 * objects a browser would fetch to show the page (images, stylesheets, scripts, icons,
 * preloads, posters) as normalized absolute paths, deduplicated, in document order. It is
 * what a page's manifest covers; docs/SITE.md ("What the manifest covers") states the rules. */
#ifndef FB_HTML_LINKS_H
#define FB_HTML_LINKS_H

#include "core/fbstd.h"

/* One embedded object: a normalized absolute path such as "/img/a.png" (no query, no
 * fragment, no dot segments, percent-encoding as a browser would send it). */
typedef struct fb_html_link {
    const char *path; /* NUL-terminated, inside the caller's text buffer */
    size_t len;       /* bytes before the NUL */
} fb_html_link;

/* The result of a scan, on the caller's storage. Every field is read-only for the caller. */
typedef struct fb_html_links {
    fb_html_link *links; /* caller's array of max_links entries */
    size_t max_links;
    size_t count;    /* links found so far */
    char *text;      /* caller's buffer for the paths (and the page's base path) */
    size_t text_cap; /* bytes in text */
    size_t text_len; /* bytes used */
    size_t max_url;  /* longest path accepted, in bytes, as resolved against the base */
    size_t too_long; /* same-origin URLs left out because they exceeded max_url */
    bool truncated;  /* the scan stopped early: max_links or text_cap was reached */
} fb_html_links;

/* A text buffer large enough for `n` links of up to `max_url` bytes each, the page path, a
 * <base> path and the candidate being resolved: with it, only max_links can truncate a scan.
 * A smaller buffer works too, but may stop a scan early (hl->truncated). */
#define FB_HTML_LINKS_TEXT_CAP(n, max_url) (((n) + 3) * ((max_url) + 1))

/* Prepares `hl` to collect at most `max_links` links into `links`, their paths into `text`
 * (`text_cap` bytes; FB_HTML_LINKS_TEXT_CAP gives a size that never runs out first), each at
 * most `max_url` bytes long. The arrays belong to the caller and must outlive `hl`. */
void fb_html_links_init(fb_html_links *hl, fb_html_link *links, size_t max_links, char *text,
                        size_t text_cap, size_t max_url);

/* Scans the HTML page `html` (`len` bytes, any content, NUL bytes included) served at
 * `page_path` (`page_len` bytes, starting with '/', e.g. "/news/index.html") and fills `hl`
 * with the same-origin objects it embeds, replacing any earlier result. `origin` (`origin_len`
 * bytes, "http://host:port" or "https://host", a trailing '/' allowed) names the site so that
 * absolute URLs to it count too; NULL means only relative and path-absolute URLs count.
 * Returns 0 when every embedded same-origin object was listed; FB_ENOSPC when some were left
 * out (hl->truncated: a cap was reached and the scan stopped; hl->too_long: URLs over
 * max_url were skipped) and the list holds the ones that fitted; FB_EINVAL for a page path
 * that does not start with '/' or a malformed origin; FB_E2BIG when the page path itself does
 * not fit max_url or text_cap. Never allocates; reads only buf[0..len). */
int fb_html_links_scan(fb_html_links *hl, const char *html, size_t len, const char *page_path,
                       size_t page_len, const char *origin, size_t origin_len);

#endif
