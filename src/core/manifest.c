/* The manifest text format: builder and validating parser (see manifest.h and
 * docs/PROTOCOL.md). Lines end with a single '\n'; fields are separated by single spaces. */
#include "core/manifest.h"

#include "core/chunk.h"

#define HASH_LINE 65 /* 64 hex digits and '\n' */

void fb_manifest_caps_default(fb_manifest_caps *caps)
{
    caps->max_objects = 1024;
    caps->max_chunks = 65536;
    caps->max_path = 1024;
    caps->max_total = (uint64_t)1 << 30;
}

/* A cursor over the lines of the input. */
typedef struct lines {
    const uint8_t *buf;
    size_t len, off;
} lines;

/* The next line (without its '\n') into *p and *n. False if the input ends without '\n'. */
static bool next_line(lines *l, const char **p, size_t *n)
{
    if (l->off >= l->len)
        return false;
    const uint8_t *s = l->buf + l->off;
    size_t left = l->len - l->off;
    for (size_t i = 0; i < left; i++) {
        if (s[i] == '\n') {
            *p = (const char *)s;
            *n = i;
            l->off += i + 1;
            return true;
        }
    }
    return false;
}

/* Splits off the next space-separated field of [*p, *p + *n). Fields are non-empty. */
static bool field(const char **p, size_t *n, const char **f, size_t *fn)
{
    size_t i = 0;
    while (i < *n && (*p)[i] != ' ')
        i++;
    if (i == 0)
        return false;
    *f = *p;
    *fn = i;
    if (i < *n) { /* skip exactly one space; the rest must not start with another */
        *p += i + 1;
        *n -= i + 1;
        if (*n == 0)
            return false;
    } else {
        *p += i;
        *n = 0;
    }
    return true;
}

static bool parse_dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 16 || (n > 1 && s[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static bool eq(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n == m && memcmp(s, lit, m) == 0;
}

static bool printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

static bool path_char(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '%':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case ':':
    case '@':
    case '/':
    case '?':
        return true;
    default:
        return false;
    }
}

bool fb_manifest_path_ok(const char *p, size_t len, uint32_t max_path)
{
    if (len == 0 || len > max_path || p[0] != '/')
        return false;
    /* Only the part before '?' is a file path; its segments may not be empty (except the
     * last, for a directory index), "." or "..". */
    size_t plen = 0;
    while (plen < len && p[plen] != '?')
        plen++;
    for (size_t i = 0; i < len; i++)
        if (!path_char((unsigned char)p[i]))
            return false;
    size_t seg = 1;
    for (size_t i = 1; i <= plen; i++) {
        if (i == plen || p[i] == '/') {
            size_t sl = i - seg;
            if (sl == 0 && i != plen)
                return false;
            if ((sl == 1 && p[seg] == '.') || (sl == 2 && p[seg] == '.' && p[seg + 1] == '.'))
                return false;
            seg = i + 1;
        }
    }
    return true;
}

static bool hex_line(const char *s, size_t n)
{
    if (n != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Parses one "object" line into o (all but first_chunk and hashes). */
static int object_line(const char *p, size_t n, const fb_manifest_caps *caps, uint32_t chunk_size,
                       fb_manifest_object *o)
{
    const char *f;
    size_t fn;
    if (!field(&p, &n, &f, &fn) || !eq(f, fn, "object"))
        return FB_EINVAL;
    if (!field(&p, &n, &f, &fn))
        return FB_EINVAL;
    if (fn > caps->max_path)
        return FB_E2BIG;
    if (!fb_manifest_path_ok(f, fn, caps->max_path))
        return FB_EINVAL;
    o->path = f;
    o->path_len = fn;
    if (!field(&p, &n, &f, &fn) || !parse_dec(f, fn, (uint64_t)1 << 53, &o->size))
        return FB_EINVAL;
    if (!field(&p, &n, &f, &fn) || fn > FB_MANIFEST_FIELD_MAX || !printable(f, fn))
        return FB_EINVAL;
    o->type = f;
    o->type_len = fn;
    if (!field(&p, &n, &f, &fn) || fn > FB_MANIFEST_FIELD_MAX || !printable(f, fn) || n != 0)
        return FB_EINVAL;
    o->etag = f;
    o->etag_len = eq(f, fn, "-") ? 0 : fn;
    uint64_t nc = fb_chunk_count(o->size, chunk_size);
    if (nc > caps->max_chunks)
        return FB_E2BIG;
    o->n_chunks = (uint32_t)nc;
    return 0;
}

int fb_manifest_parse(const uint8_t *buf, size_t len, const fb_manifest_caps *caps, fb_manifest *m)
{
    lines l = {buf, len, 0};
    const char *p, *f;
    size_t n, fn;
    uint64_t v;

    if (!next_line(&l, &p, &n) || !eq(p, n, FB_MANIFEST_MAGIC))
        return FB_EINVAL;
    if (!next_line(&l, &p, &n) || !field(&p, &n, &f, &fn) || !eq(f, fn, "chunk-size") ||
        !parse_dec(p, n, FB_CHUNK_SIZE_MAX, &v) || v == 0 || v % FB_BLOCK_SIZE)
        return FB_EINVAL;
    uint32_t chunk_size = (uint32_t)v;
    if (!next_line(&l, &p, &n) || !field(&p, &n, &f, &fn) || !eq(f, fn, "objects") ||
        !parse_dec(p, n, UINT32_MAX, &v))
        return FB_EINVAL;
    if (v > caps->max_objects)
        return FB_E2BIG;
    uint32_t n_objects = (uint32_t)v;
    size_t body = l.off;
    uint64_t chunks = 0, total = 0;
    for (uint32_t i = 0; i < n_objects; i++) {
        fb_manifest_object o;
        if (!next_line(&l, &p, &n))
            return FB_EINVAL;
        int rc = object_line(p, n, caps, chunk_size, &o);
        if (rc)
            return rc;
        chunks += o.n_chunks;
        total += o.size;
        if (chunks > caps->max_chunks || total > caps->max_total)
            return FB_E2BIG;
        /* Hash lines: check each without the line reader (they have a fixed size). */
        if ((uint64_t)(len - l.off) < (uint64_t)o.n_chunks * HASH_LINE)
            return FB_EINVAL;
        for (uint32_t k = 0; k < o.n_chunks; k++) {
            const char *h = (const char *)buf + l.off;
            if (!hex_line(h, 64) || h[64] != '\n')
                return FB_EINVAL;
            l.off += HASH_LINE;
        }
        /* Paths are unique (the cap on objects keeps this quadratic check small). */
        fb_manifest m2 = {buf, len, chunk_size, n_objects, 0, 0, body};
        fb_manifest_iter it = {0, 0};
        for (uint32_t j = 0; j < i; j++) {
            fb_manifest_object q;
            fb_manifest_next(&m2, &it, &q);
            if (q.path_len == o.path_len && memcmp(q.path, o.path, o.path_len) == 0)
                return FB_EINVAL;
        }
    }
    if (!next_line(&l, &p, &n) || !eq(p, n, "end") || l.off != len)
        return FB_EINVAL;
    m->buf = buf;
    m->len = len;
    m->chunk_size = chunk_size;
    m->n_objects = n_objects;
    m->n_chunks = (uint32_t)chunks;
    m->total_size = total;
    m->body = body;
    return 0;
}

bool fb_manifest_next(const fb_manifest *m, fb_manifest_iter *it, fb_manifest_object *o)
{
    static const fb_manifest_caps loose = {UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT64_MAX};
    if (it->off == 0) {
        it->off = m->body;
        it->chunk = 0;
    }
    lines l = {m->buf, m->len, it->off};
    const char *p;
    size_t n;
    if (!next_line(&l, &p, &n) || n < 7 || memcmp(p, "object ", 7) != 0)
        return false;
    /* The manifest was validated, so the line parses. */
    if (object_line(p, n, &loose, m->chunk_size, o))
        return false;
    o->first_chunk = it->chunk;
    o->hashes = (const char *)m->buf + l.off;
    it->off = l.off + (size_t)o->n_chunks * HASH_LINE;
    it->chunk += o->n_chunks;
    return true;
}

void fb_manifest_object_hash(const fb_manifest_object *o, uint32_t k, uint8_t out[32])
{
    const char *h = o->hashes + (size_t)k * HASH_LINE;
    for (int i = 0; i < 32; i++) {
        char a = h[2 * i], b = h[2 * i + 1];
        uint8_t hi = (uint8_t)(a <= '9' ? a - '0' : a - 'a' + 10);
        uint8_t lo = (uint8_t)(b <= '9' ? b - '0' : b - 'a' + 10);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
}

/* Appends s (n bytes) at *off if it fits; counts the size either way. */
static void put(uint8_t *out, size_t cap, size_t *off, const void *s, size_t n)
{
    if (*off + n <= cap)
        memcpy(out + *off, s, n);
    *off += n;
}

static void put_dec(uint8_t *out, size_t cap, size_t *off, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char rev[20];
    for (int i = 0; i < n; i++)
        rev[i] = tmp[n - 1 - i];
    put(out, cap, off, rev, (size_t)n);
}

int fb_manifest_build(uint8_t *out, size_t cap, uint32_t chunk_size, const fb_manifest_entry *objs,
                      uint32_t n, const uint8_t (*hashes)[32], size_t *needed)
{
    if (chunk_size == 0 || chunk_size % FB_BLOCK_SIZE || chunk_size > FB_CHUNK_SIZE_MAX)
        return FB_EINVAL;
    size_t off = 0;
    uint64_t chunk = 0;
    put(out, cap, &off, FB_MANIFEST_MAGIC "\nchunk-size ", strlen(FB_MANIFEST_MAGIC) + 12);
    put_dec(out, cap, &off, chunk_size);
    put(out, cap, &off, "\nobjects ", 9);
    put_dec(out, cap, &off, n);
    put(out, cap, &off, "\n", 1);
    for (uint32_t i = 0; i < n; i++) {
        const fb_manifest_entry *o = &objs[i];
        const char *etag = o->etag && o->etag[0] ? o->etag : "-";
        size_t pl = strlen(o->path), tl = strlen(o->type), el = strlen(etag);
        if (!fb_manifest_path_ok(o->path, pl, UINT32_MAX) || tl == 0 ||
            tl > FB_MANIFEST_FIELD_MAX || !printable(o->type, tl) || el > FB_MANIFEST_FIELD_MAX ||
            !printable(etag, el) || o->size > ((uint64_t)1 << 53))
            return FB_EINVAL;
        put(out, cap, &off, "object ", 7);
        put(out, cap, &off, o->path, pl);
        put(out, cap, &off, " ", 1);
        put_dec(out, cap, &off, o->size);
        put(out, cap, &off, " ", 1);
        put(out, cap, &off, o->type, tl);
        put(out, cap, &off, " ", 1);
        put(out, cap, &off, etag, el);
        put(out, cap, &off, "\n", 1);
        uint64_t nc = fb_chunk_count(o->size, chunk_size);
        for (uint64_t k = 0; k < nc; k++, chunk++) {
            char line[HASH_LINE];
            fb_hex_encode(hashes[chunk], 32, line); /* 64 digits, then a NUL the '\n' replaces */
            line[64] = '\n';
            put(out, cap, &off, line, HASH_LINE);
        }
    }
    put(out, cap, &off, "end\n", 4);
    if (needed)
        *needed = off;
    if (off > cap || off > (size_t)INT32_MAX)
        return FB_E2BIG;
    return (int)off;
}
