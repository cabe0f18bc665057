/* The reverse proxy's pure decisions (proxy_policy.h): a header-block scanner that reads the
 * few fields a shared cache must obey (RFC 9111: Cache-Control, Set-Cookie, Vary), the verdict
 * and freshness derived from them, the relayed header lines, the path -> mirror file mapping
 * and the --upstream URL check. Every function reads only the bytes it is given. */
#include "core/proxy_policy.h"

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* True when p[0..n) equals the lowercase word w, ignoring ASCII case. */
static bool word_is(const char *p, size_t n, const char *w)
{
    size_t k = 0;
    for (; k < n && w[k]; k++)
        if (lower((unsigned char)p[k]) != w[k])
            return false;
    return k == n && w[k] == '\0';
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims optional whitespace on both sides of [*p, *p + *n). */
static void trim(const char **p, size_t *n)
{
    while (*n && is_ows(**p))
        (*p)++, (*n)--;
    while (*n && is_ows((*p)[*n - 1]))
        (*n)--;
}

/* A delta-seconds value: digits only, clamped to 2^32. */
static bool delta_seconds(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        if (v < (1ull << 32))
            v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *out = FB_MIN(v, 1ull << 32);
    return true;
}

/* Calls fn on each comma-separated element of v[0..n) (trimmed, empty ones skipped). A quoted
 * string may hold commas. */
static void each_element(const char *v, size_t n, fb_proxy_answer *a,
                         void (*fn)(fb_proxy_answer *a, const char *p, size_t n))
{
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        bool quoted = false;
        while (i < n && (quoted || v[i] != ',')) {
            if (v[i] == '"')
                quoted = !quoted;
            else if (v[i] == '\\' && quoted && i + 1 < n)
                i++;
            i++;
        }
        const char *p = v + start;
        size_t len = i - start;
        trim(&p, &len);
        if (len)
            fn(a, p, len);
        i++; /* the comma */
    }
}

static void cache_directive(fb_proxy_answer *a, const char *p, size_t n)
{
    size_t k = 0;
    while (k < n && p[k] != '=')
        k++;
    const char *name = p, *val = p + k + (k < n);
    size_t nlen = k, vlen = k < n ? n - k - 1 : 0;
    trim(&name, &nlen);
    trim(&val, &vlen);
    if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"')
        val++, vlen -= 2;
    uint64_t s;
    if (word_is(name, nlen, "no-store"))
        a->no_store = true;
    else if (word_is(name, nlen, "no-cache"))
        a->no_cache = true;
    else if (word_is(name, nlen, "private"))
        a->private_ = true;
    else if (word_is(name, nlen, "max-age")) {
        if (delta_seconds(val, vlen, &s)) {
            /* Two different values: the most cautious one wins. */
            a->max_age = a->has_max_age ? FB_MIN(a->max_age, s) : s;
            a->has_max_age = true;
        } else {
            a->no_cache = true; /* an invalid max-age means stale (RFC 9111, 4.2.1) */
        }
    } else if (word_is(name, nlen, "s-maxage")) {
        if (delta_seconds(val, vlen, &s)) {
            a->s_maxage = a->has_s_maxage ? FB_MIN(a->s_maxage, s) : s;
            a->has_s_maxage = true;
        } else {
            a->no_cache = true;
        }
    }
}

static void vary_element(fb_proxy_answer *a, const char *p, size_t n)
{
    if (!word_is(p, n, "accept-encoding"))
        a->vary_other = true;
}

static void encoding_element(fb_proxy_answer *a, const char *p, size_t n)
{
    if (!word_is(p, n, "identity"))
        a->encoded = true;
}

/* Splits hdr into lines; calls fn(ctx, name, name_len, value, value_len) for each valid one.
 * Returns false when some line was invalid (it is skipped). */
static bool each_line(const char *hdr, size_t len, void *ctx,
                      void (*fn)(void *ctx, const char *line, size_t line_len, const char *name,
                                 size_t nlen, const char *val, size_t vlen))
{
    bool ok = true;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && hdr[i] != '\n')
            i++;
        size_t end = i;
        i++; /* the LF */
        if (end > start && hdr[end - 1] == '\r')
            end--;
        if (end == start)
            continue;
        const char *line = hdr + start;
        size_t n = end - start, colon = 0;
        bool bad = false;
        for (size_t k = 0; k < n; k++) {
            unsigned char c = (unsigned char)line[k];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                bad = true;
            if (c == ':' && colon == 0)
                colon = k;
        }
        if (bad || colon == 0 || is_ows(line[colon - 1])) {
            ok = false;
            continue;
        }
        const char *v = line + colon + 1;
        size_t vlen = n - colon - 1;
        trim(&v, &vlen);
        fn(ctx, line, n, line, colon, v, vlen);
    }
    return ok;
}

static void scan_line(void *ctx, const char *line, size_t line_len, const char *name, size_t nlen,
                      const char *v, size_t vlen)
{
    fb_proxy_answer *a = ctx;
    (void)line;
    (void)line_len;
    if (word_is(name, nlen, "cache-control"))
        each_element(v, vlen, a, cache_directive);
    else if (word_is(name, nlen, "set-cookie") || word_is(name, nlen, "set-cookie2"))
        a->set_cookie = true;
    else if (word_is(name, nlen, "vary")) {
        if (vlen == 0)
            return;
        each_element(v, vlen, a, vary_element);
    } else if (word_is(name, nlen, "content-encoding"))
        each_element(v, vlen, a, encoding_element);
    else if (word_is(name, nlen, "content-type") && !a->content_type.p)
        a->content_type = (fb_proxy_str){v, vlen};
    else if (word_is(name, nlen, "etag") && !a->etag.p)
        a->etag = (fb_proxy_str){v, vlen};
    else if (word_is(name, nlen, "last-modified") && !a->last_modified.p)
        a->last_modified = (fb_proxy_str){v, vlen};
}

void fb_proxy_scan(const char *hdr, size_t len, fb_proxy_answer *a)
{
    memset(a, 0, sizeof(*a));
    a->bad_line = !each_line(hdr, len, a, scan_line);
}

fb_proxy_verdict fb_proxy_decide(int status, const fb_proxy_answer *a, uint64_t body_len,
                                 uint64_t max_body)
{
    if (a->set_cookie || a->private_ || a->no_store)
        return FB_PROXY_PRIVATE;
    if (status != 200 || a->no_cache || a->vary_other || a->encoded || body_len > max_body ||
        a->content_type.n >= FB_PROXY_TYPE_MAX)
        return FB_PROXY_SHARED;
    return FB_PROXY_STORE;
}

uint64_t fb_proxy_ttl_ms(const fb_proxy_answer *a, uint64_t default_ms)
{
    if (a->has_s_maxage)
        return a->s_maxage * 1000;
    if (a->has_max_age)
        return a->max_age * 1000;
    return default_ms;
}

typedef struct relay {
    char *out;
    size_t cap, len;
    bool overflow;
} relay;

static void relay_line(void *ctx, const char *line, size_t line_len, const char *name, size_t nlen,
                       const char *v, size_t vlen)
{
    static const char *const keep[] = {
        "content-type", "cache-control",    "etag", "last-modified",    "expires", "location",
        "set-cookie",   "content-encoding", "vary", "content-language",
    };
    relay *r = ctx;
    (void)v;
    (void)vlen;
    for (size_t i = 0; i < FB_ARRAY_LEN(keep); i++) {
        if (!word_is(name, nlen, keep[i]))
            continue;
        if (r->len + line_len + 2 > r->cap) {
            r->overflow = true;
            return;
        }
        memcpy(r->out + r->len, line, line_len);
        memcpy(r->out + r->len + line_len, "\r\n", 2);
        r->len += line_len + 2;
        return;
    }
}

int fb_proxy_relay_headers(const char *hdr, size_t len, char *out, size_t cap)
{
    relay r = {out, cap, 0, false};
    each_line(hdr, len, &r, relay_line);
    return r.overflow ? FB_E2BIG : (int)r.len;
}

int fb_proxy_mirror_path(const char *path, size_t len, const char *query, size_t qlen, char *out,
                         size_t cap)
{
    static const char index[] = "index.html", qdir[] = "/.q";
    static const char hex[] = "0123456789abcdef";
    if (len == 0 || path[0] != '/')
        return FB_EINVAL;
    size_t seg = 0;
    for (size_t i = 1; i < len; i++) {
        char c = path[i];
        if (c == '\0')
            return FB_EINVAL;
        if (c == '/') {
            if (seg == 0)
                return FB_EINVAL; /* an empty segment: not normalized */
            seg = 0;
            continue;
        }
        if (seg == 0 && c == '.')
            return FB_EINVAL; /* hidden, or a dot segment */
        if (++seg > 255)
            return FB_E2BIG;
    }
    bool dir = path[len - 1] == '/';
    if (!query) {
        size_t need = len + (dir ? sizeof(index) - 1 : 0) + 1;
        if (need > cap)
            return FB_E2BIG;
        memcpy(out, path, len);
        if (dir)
            memcpy(out + len, index, sizeof(index) - 1);
        out[need - 1] = '\0';
        return (int)(need - 1);
    }
    /* "/.q" + the path without its trailing slash + "/." + 's' or 'f' + the query in hex */
    size_t plen = dir ? len - 1 : len;
    size_t name = 2 + 2 * qlen;
    size_t need = sizeof(qdir) - 1 + plen + 1 + name + 1;
    if (name > 255)
        return FB_E2BIG;
    if (need > cap)
        return FB_E2BIG;
    size_t k = 0;
    memcpy(out, qdir, sizeof(qdir) - 1);
    k += sizeof(qdir) - 1;
    memcpy(out + k, path, plen);
    k += plen;
    out[k++] = '/';
    out[k++] = '.';
    out[k++] = dir ? 's' : 'f';
    for (size_t i = 0; i < qlen; i++) {
        out[k++] = hex[(unsigned char)query[i] >> 4];
        out[k++] = hex[(unsigned char)query[i] & 15];
    }
    out[k] = '\0';
    return (int)k;
}

/* The first c in p[0..n), or NULL (memchr, which core code may not use: core/fbstd.h). */
static const char *find_byte(const char *p, size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == c)
            return p + i;
    return NULL;
}

int fb_proxy_url_parse(const char *url, size_t len, fb_proxy_url *u, const char **why)
{
    memset(u, 0, sizeof(*u));
    *why = "";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f) {
            *why = "it holds a space, a control byte or a byte outside ASCII";
            return FB_EINVAL;
        }
    size_t k;
    if (len > 7 && word_is(url, 7, "http://")) {
        k = 7;
    } else if (len > 8 && word_is(url, 8, "https://")) {
        k = 8;
        u->https = true;
    } else {
        *why = "want http://HOST[:PORT][/PREFIX] or https://";
        return FB_EINVAL;
    }
    size_t hs = k;
    while (k < len && url[k] != '/' && url[k] != '?' && url[k] != '#')
        k++;
    const char *auth = url + hs;
    size_t alen = k - hs, hlen = alen;
    if (find_byte(auth, alen, '@')) {
        *why = "user names and passwords are not supported";
        return FB_EINVAL;
    }
    if (alen && auth[0] == '[') {
        const char *close = find_byte(auth, alen, ']');
        if (!close || close == auth + 1) {
            *why = "an IPv6 address needs [ADDR]";
            return FB_EINVAL;
        }
        hlen = (size_t)(close - auth) + 1;
        if (hlen < alen && auth[hlen] != ':') {
            *why = "junk after the IPv6 address";
            return FB_EINVAL;
        }
    } else {
        const char *colon = find_byte(auth, alen, ':');
        if (colon)
            hlen = (size_t)(colon - auth);
    }
    if (hlen == 0) {
        *why = "no host";
        return FB_EINVAL;
    }
    u->host = (fb_proxy_str){auth, hlen};
    u->port = u->https ? 443 : 80;
    if (hlen < alen) {
        uint64_t port;
        if (!delta_seconds(auth + hlen + 1, alen - hlen - 1, &port) || port == 0 || port > 65535) {
            *why = "bad port";
            return FB_EINVAL;
        }
        u->port = (uint32_t)port;
    }
    if (k < len && (url[k] == '?' || url[k] == '#')) {
        *why = "no query or fragment allowed";
        return FB_EINVAL;
    }
    size_t ps = k;
    for (; k < len; k++)
        if (url[k] == '?' || url[k] == '#') {
            *why = "no query or fragment allowed";
            return FB_EINVAL;
        }
    size_t plen = len - ps;
    while (plen && url[ps + plen - 1] == '/')
        plen--;
    u->prefix = (fb_proxy_str){url + ps, plen};
    return 0;
}
