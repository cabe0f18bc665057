/* Transport addresses as plain bytes: equality, hashing, text form. */
#include "core/addr.h"

void fb_addr_set_v4(fb_addr *a, uint32_t ip, uint16_t port)
{
    memset(a, 0, sizeof(*a));
    a->family = 4;
    a->ip[0] = (uint8_t)(ip >> 24);
    a->ip[1] = (uint8_t)(ip >> 16);
    a->ip[2] = (uint8_t)(ip >> 8);
    a->ip[3] = (uint8_t)ip;
    a->port = port;
}

bool fb_addr_eq(const fb_addr *a, const fb_addr *b)
{
    return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, 16) == 0;
}

uint32_t fb_addr_hash(const fb_addr *a, uint32_t seed)
{
    /* FNV-1a over family, ip and port, mixed with the seed. */
    uint32_t h = 2166136261u ^ seed;
    size_t n = a->family == 4 ? 4 : 16;
    h = (h ^ a->family) * 16777619u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ a->ip[i]) * 16777619u;
    h = (h ^ (a->port & 0xff)) * 16777619u;
    h = (h ^ (a->port >> 8)) * 16777619u;
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return h;
}

static char *put_dec(char *p, unsigned v)
{
    char tmp[10];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_hex16(char *p, unsigned v)
{
    static const char hex[] = "0123456789abcdef";
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
        unsigned d = (v >> shift) & 0xf;
        if (d || started || shift == 0) {
            *p++ = hex[d];
            started = true;
        }
    }
    return p;
}

char *fb_addr_format(const fb_addr *a, char *buf)
{
    char *p = buf;
    if (a->family == 4) {
        for (int i = 0; i < 4; i++) {
            if (i)
                *p++ = '.';
            p = put_dec(p, a->ip[i]);
        }
    } else if (a->family == 6) {
        /* RFC 5952: the longest run of two or more zero groups becomes "::". */
        unsigned g[8];
        int best = -1, bestlen = 0;
        for (int i = 0; i < 8; i++)
            g[i] = (unsigned)a->ip[2 * i] << 8 | a->ip[2 * i + 1];
        for (int i = 0; i < 8;) {
            int j = i;
            while (j < 8 && g[j] == 0)
                j++;
            if (j - i > bestlen && j - i >= 2) {
                best = i;
                bestlen = j - i;
            }
            i = j > i ? j : i + 1;
        }
        *p++ = '[';
        for (int i = 0; i < 8; i++) {
            if (i == best) {
                *p++ = ':';
                *p++ = ':';
                i += bestlen - 1;
                continue;
            }
            if (i && i != best + bestlen)
                *p++ = ':';
            p = put_hex16(p, g[i]);
        }
        *p++ = ']';
    } else {
        *p++ = '-';
        *p = '\0';
        return buf;
    }
    *p++ = ':';
    p = put_dec(p, a->port);
    *p = '\0';
    return buf;
}

/* Parses a decimal number of at most `max` from s[*i..len); advances *i. */
static int parse_dec(const char *s, size_t len, size_t *i, unsigned max, unsigned *out)
{
    size_t start = *i;
    unsigned v = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        v = v * 10 + (unsigned)(s[*i] - '0');
        if (v > max || *i - start >= 5)
            return FB_EINVAL;
        (*i)++;
    }
    if (*i == start)
        return FB_EINVAL;
    *out = v;
    return 0;
}

static int parse_v6(uint8_t ip[16], const char *s, size_t len)
{
    unsigned g[8];
    int n = 0, gap = -1;
    size_t i = 0;
    if (len >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 0;
        i = 2;
    }
    while (i < len) {
        unsigned v = 0;
        size_t start = i;
        while (i < len && fb_hexval(s[i]) >= 0 && i - start < 4)
            v = v << 4 | (unsigned)fb_hexval(s[i++]);
        if (i == start || n == 8)
            return FB_EINVAL;
        g[n++] = v;
        if (i == len)
            break;
        if (s[i] != ':')
            return FB_EINVAL;
        i++;
        if (i < len && s[i] == ':') {
            if (gap >= 0)
                return FB_EINVAL;
            gap = n;
            i++;
        } else if (i == len) {
            return FB_EINVAL;
        }
    }
    if ((gap < 0 && n != 8) || (gap >= 0 && n > 7))
        return FB_EINVAL;
    memset(ip, 0, 16);
    int fill = gap < 0 ? 0 : 8 - n;
    for (int k = 0, out = 0; k < n; k++, out++) {
        if (k == gap)
            out += fill;
        ip[2 * out] = (uint8_t)(g[k] >> 8);
        ip[2 * out + 1] = (uint8_t)g[k];
    }
    return 0;
}

int fb_addr_parse(fb_addr *a, const char *s, size_t len)
{
    fb_addr r;
    size_t i = 0;
    unsigned port;
    memset(&r, 0, sizeof(r));
    if (len > 0 && s[0] == '[') {
        size_t close = 1;
        while (close < len && s[close] != ']')
            close++;
        if (close == len || parse_v6(r.ip, s + 1, close - 1) != 0)
            return FB_EINVAL;
        r.family = 6;
        i = close + 1;
    } else {
        for (int k = 0; k < 4; k++) {
            unsigned v;
            if (k && (i >= len || s[i++] != '.'))
                return FB_EINVAL;
            if (parse_dec(s, len, &i, 255, &v) != 0)
                return FB_EINVAL;
            r.ip[k] = (uint8_t)v;
        }
        r.family = 4;
    }
    if (i >= len || s[i++] != ':')
        return FB_EINVAL;
    if (parse_dec(s, len, &i, 65535, &port) != 0 || i != len)
        return FB_EINVAL;
    r.port = (uint16_t)port;
    *a = r;
    return 0;
}

bool fb_addr_is_private(const fb_addr *a)
{
    const uint8_t *ip = a->ip;
    if (a->family == 4)
        return ip[0] == 10 || ip[0] == 127 || (ip[0] == 172 && (ip[1] & 0xf0) == 16) ||
               (ip[0] == 192 && ip[1] == 168) || (ip[0] == 169 && ip[1] == 254);
    if (a->family == 6) {
        static const uint8_t loop[16] = {[15] = 1};
        return (ip[0] & 0xfe) == 0xfc || (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80) ||
               memcmp(ip, loop, 16) == 0;
    }
    return false;
}
