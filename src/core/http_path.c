/* Request-target normalization: decode, then remove dot segments (RFC 3986 5.2.4) on the decoded
 * bytes, so that an encoded "." or "/" cannot smuggle a segment past the check. */
#include "core/http_path.h"

/* Index of the first c in s[0..n), or n. (core/ has no memchr: see core/fbstd.h.) */
static size_t find(const char *s, size_t n, char c)
{
    size_t i = 0;
    while (i < n && s[i] != c)
        i++;
    return i;
}

static bool prefix_icase(const char *s, size_t n, const char *p)
{
    size_t k = strlen(p);
    if (n < k)
        return false;
    for (size_t i = 0; i < k; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != p[i])
            return false;
    }
    return true;
}

int fb_http_path_parse(const char *target, size_t target_len, fb_http_path *out, size_t cap)
{
    const char *t = target;
    size_t n = target_len;

    out->len = 0;
    out->query = NULL;
    out->query_len = 0;
    out->trailing_slash = false;
    /* absolute-form: skip "scheme://authority"; the path is what follows (or "/"). */
    size_t skip = prefix_icase(t, n, "http://") ? 7 : prefix_icase(t, n, "https://") ? 8 : 0;
    if (skip) {
        size_t i = skip;
        while (i < n && t[i] != '/' && t[i] != '?')
            i++;
        if (i == skip)
            return FB_EINVAL; /* no authority */
        t += i;
        n -= i;
    }
    if (n > 0 && t[0] == '?')
        ; /* "http://host?q": empty path, which means "/" */
    else if (n == 0 && skip)
        ;
    else if (n == 0 || t[0] != '/')
        return FB_EINVAL;
    if (find(t, n, '#') < n)
        return FB_EINVAL;
    size_t plen = find(t, n, '?');
    if (plen < n) {
        out->query = t + plen + 1;
        out->query_len = n - plen - 1;
    }
    if (cap < plen + 2)
        return FB_E2BIG;

    /* Decode into out->path; decoded text is never longer than the input. */
    char *d = out->path;
    size_t dn = 0;
    d[dn++] = '/';
    for (size_t i = 0; i < plen; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '%') {
            int hi = i + 2 < plen ? fb_hexval((unsigned char)t[i + 1]) : -1;
            int lo = i + 2 < plen ? fb_hexval((unsigned char)t[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return FB_EINVAL;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (c < 0x20 || c == 0x7f)
            return FB_EINVAL; /* NUL and other control bytes never name a file we serve */
        d[dn++] = (char)c;
    }

    /* Remove dot segments in place: w is the write end, r reads segment by segment.
     * The output always starts with "/" and each kept segment is preceded by one "/". */
    size_t w = 1, r = 1;
    bool slash_end = true;
    while (r < dn) {
        size_t s = r;
        while (r < dn && d[r] != '/')
            r++;
        size_t slen = r - s;
        bool more = r < dn; /* a '/' follows this segment */
        if (r < dn)
            r++;
        if (slen == 0 || (slen == 1 && d[s] == '.')) {
            slash_end = true;
            continue;
        }
        if (slen == 2 && d[s] == '.' && d[s + 1] == '.') {
            /* Pop the last kept segment; at the root there is nothing to pop. */
            if (w > 1) {
                w--; /* the '/' ending the last segment */
                while (w > 1 && d[w - 1] != '/')
                    w--;
            }
            slash_end = true;
            continue;
        }
        memmove(d + w, d + s, slen);
        w += slen;
        if (more)
            d[w++] = '/';
        slash_end = more;
    }
    if (slash_end && d[w - 1] != '/')
        d[w++] = '/';
    d[w] = '\0';
    out->len = w;
    out->trailing_slash = d[w - 1] == '/';
    return 0;
}

static bool keep_raw(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    static const char ok[] = "-._~!$&'()*+,;=:@/";
    return c != 0 && find(ok, sizeof(ok) - 1, (char)c) < sizeof(ok) - 1;
}

int fb_http_path_encode(const char *path, size_t len, char *dst, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (keep_raw(c)) {
            if (o + 1 > cap)
                return FB_E2BIG;
            dst[o++] = (char)c;
        } else {
            if (o + 3 > cap)
                return FB_E2BIG;
            dst[o++] = '%';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    return (int)o;
}
