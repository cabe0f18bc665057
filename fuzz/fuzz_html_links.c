/* libFuzzer target for core/html_links: any bytes as a page. The first byte picks the caps and
 * whether an origin is given, so the truncation paths are reached too. Every listed path must
 * be absolute, bounded, NUL-terminated inside the text buffer, and free of query and fragment. */
#include "core/html_links.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fb_html_link links[32];
    static char text[FB_HTML_LINKS_TEXT_CAP(32, 128)];
    uint8_t flags = size > 0 ? data[0] : 0;
    size_t cap = (flags & 32) ? 40 + (flags & 15) : sizeof(text);
    fb_html_links hl;
    fb_html_links_init(&hl, links, 1 + (flags & 31), text, cap, (flags & 128) ? 16 : 128);
    const char *origin = (flags & 64) ? "http://h.test:8080" : NULL;
    int rc = fb_html_links_scan(&hl, (const char *)data + (size > 0), size - (size > 0),
                                "/d/p.html", 9, origin, origin ? 18 : 0);
    if (rc != 0 && rc != FB_ENOSPC)
        __builtin_trap();
    for (size_t i = 0; i < hl.count; i++) {
        const fb_html_link *l = &hl.links[i];
        if (l->path < text || l->path + l->len >= text + cap || l->path[0] != '/' ||
            l->path[l->len] != '\0' || l->len > hl.max_url || memchr(l->path, '?', l->len) ||
            memchr(l->path, '#', l->len))
            __builtin_trap();
    }
    return 0;
}
