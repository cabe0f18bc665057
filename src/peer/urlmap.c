/* URL mapping for `flashback get`: page URL -> manifest URL and object URLs, and the
 * Flashback-Seed header -> the seed's address (see urlmap.h). */
#include "peer/urlmap.h"

#include <stdio.h>
#include <strings.h>

static bool bad_byte(unsigned char c)
{
    return c <= 0x20 || c == 0x7f;
}

int fb_url_split(const char *url, fb_url *out)
{
    size_t n, i, a;
    if (url == NULL)
        return FB_EINVAL;
    n = strlen(url);
    if (n > FB_URL_MAX)
        return FB_E2BIG;
    for (i = 0; i < n; i++)
        if (bad_byte((unsigned char)url[i]))
            return FB_EINVAL;
    if (n >= 7 && strncasecmp(url, "http://", 7) == 0) {
        a = 7;
        out->https = false;
    } else if (n >= 8 && strncasecmp(url, "https://", 8) == 0) {
        a = 8;
        out->https = true;
    } else {
        return FB_EINVAL;
    }
    i = a;
    while (i < n && url[i] != '/' && url[i] != '?' && url[i] != '#')
        i++;
    if (i == a)
        return FB_EINVAL; /* no authority */
    out->origin = url;
    out->origin_len = i;
    out->path = url + i;
    out->path_len = 0;
    if (i < n && url[i] == '/') {
        size_t p = i;
        while (p < n && url[p] != '?' && url[p] != '#')
            p++;
        out->path_len = p - i;
    }
    return 0;
}

/* Writes the concatenation of up to three pieces, NUL-terminated. */
static int join3(char *out, size_t cap, const char *a, size_t an, const char *b, size_t bn,
                 const char *c, size_t cn)
{
    size_t n = an + bn + cn;
    if (n > FB_URL_MAX || n + 1 > cap)
        return FB_E2BIG;
    memcpy(out, a, an);
    memcpy(out + an, b, bn);
    memcpy(out + an + bn, c, cn);
    out[n] = '\0';
    return (int)n;
}

int fb_url_manifest(const char *page_url, char *out, size_t cap)
{
    static const char prefix[] = "/.flashback/manifest";
    fb_url u;
    int rc = fb_url_split(page_url, &u);
    if (rc)
        return rc;
    if (u.path_len == 0)
        return join3(out, cap, u.origin, u.origin_len, prefix, sizeof(prefix) - 1, "/", 1);
    return join3(out, cap, u.origin, u.origin_len, prefix, sizeof(prefix) - 1, u.path, u.path_len);
}

int fb_url_object(const char *page_url, const char *path, size_t path_len, char *out, size_t cap)
{
    fb_url u;
    int rc = fb_url_split(page_url, &u);
    if (rc)
        return rc;
    if (path == NULL || path_len == 0 || path[0] != '/')
        return FB_EINVAL;
    for (size_t i = 0; i < path_len; i++)
        if (bad_byte((unsigned char)path[i]) || path[i] == '#')
            return FB_EINVAL;
    return join3(out, cap, u.origin, u.origin_len, path, path_len, "", 0);
}

int fb_url_page_path(const char *page_url, char *out, size_t cap)
{
    fb_url u;
    int rc = fb_url_split(page_url, &u);
    if (rc)
        return rc;
    if (u.path_len == 0)
        return join3(out, cap, "/", 1, "", 0, "", 0);
    return join3(out, cap, u.path, u.path_len, "", 0, "", 0);
}

int fb_url_seed_addr(const char *header, const char *connected_ip, fb_addr *out)
{
    const char *s, *e;
    fb_addr a;
    if (header == NULL)
        return FB_EINVAL;
    s = header;
    e = header + strlen(header);
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (s == e || (size_t)(e - s) >= FB_ADDR_STRLEN)
        return FB_EINVAL;
    bool digits = true;
    for (const char *p = s; p < e; p++)
        if (*p < '0' || *p > '9')
            digits = false;
    if (digits) {
        /* Only a port: the seed is on the host the HTTP request went to. */
        char buf[FB_ADDR_STRLEN + 8];
        int n;
        if (connected_ip == NULL || connected_ip[0] == '\0' ||
            strlen(connected_ip) >= FB_ADDR_STRLEN)
            return FB_EINVAL;
        if (strchr(connected_ip, ':'))
            n = snprintf(buf, sizeof(buf), "[%s]:%.*s", connected_ip, (int)(e - s), s);
        else
            n = snprintf(buf, sizeof(buf), "%s:%.*s", connected_ip, (int)(e - s), s);
        if (n < 0 || (size_t)n >= sizeof(buf) || fb_addr_parse(&a, buf, (size_t)n) != 0)
            return FB_EINVAL;
    } else if (fb_addr_parse(&a, s, (size_t)(e - s)) != 0) {
        return FB_EINVAL;
    }
    if (a.port == 0)
        return FB_EINVAL;
    *out = a;
    return 0;
}
