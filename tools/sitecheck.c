/* sitecheck: the demo site's checker, used by tests/integ/site.sh. `links` lists the objects an
 * HTML page embeds (through core/html_links, as flashbackd's manifest will); `verify` checks
 * image files on its own terms: a PNG decoder written apart from mksite's encoder (chunk
 * CRCs, a full inflate of the zlib stream with its Adler-32, row count and filter bytes), ICO
 * directories that wrap PNGs, and SVG documents' outline. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/html_links.h"

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *p = malloc(cap);
    while (p != NULL) {
        n += fread(p + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        char *q = realloc(p, cap);
        if (q == NULL)
            free(p);
        p = q;
    }
    fclose(f);
    if (p != NULL)
        p[n] = '\0'; /* the loop leaves room: n < cap */
    *len = n;
    return p;
}

/* ---- links ---- */

static int cmd_links(const char *file, const char *page)
{
    enum { MAX_LINKS = 1024, MAX_URL = 2048 };
    static fb_html_link links[MAX_LINKS];
    static char text[FB_HTML_LINKS_TEXT_CAP(MAX_LINKS, MAX_URL)];
    size_t len;
    char *html = read_all(file, &len);
    if (html == NULL) {
        fprintf(stderr, "sitecheck: %s: %s\n", file, strerror(errno));
        return 1;
    }
    fb_html_links hl;
    fb_html_links_init(&hl, links, MAX_LINKS, text, sizeof(text), MAX_URL);
    int rc = fb_html_links_scan(&hl, html, len, page, strlen(page), NULL, 0);
    free(html);
    for (size_t i = 0; i < hl.count; i++)
        printf("%s\n", hl.links[i].path);
    if (rc < 0) {
        fprintf(stderr, "sitecheck: %s: scan incomplete (%d)\n", file, rc);
        return 1;
    }
    return 0;
}

/* ---- inflate (RFC 1951) ---- */

typedef struct inflater {
    const uint8_t *in;
    size_t in_len, pos; /* pos counts bits */
    uint8_t *out;
    size_t out_cap, out_len;
    const char *err;
} inflater;

static int get_bits(inflater *z, int n, unsigned *v)
{
    unsigned r = 0;
    for (int i = 0; i < n; i++) {
        if (z->pos / 8 >= z->in_len) {
            z->err = "deflate stream ends early";
            return -1;
        }
        r |= (unsigned)((z->in[z->pos / 8] >> (z->pos % 8)) & 1) << i;
        z->pos++;
    }
    *v = r;
    return 0;
}

/* A canonical Huffman code: how many codes of each length, and the symbols in code order. */
typedef struct huff {
    uint16_t count[16];
    uint16_t symbol[320];
} huff;

static int huff_build(huff *h, const uint8_t *lengths, int n)
{
    uint16_t offs[16];
    memset(h->count, 0, sizeof(h->count));
    for (int s = 0; s < n; s++)
        h->count[lengths[s]]++;
    h->count[0] = 0;
    int left = 1;
    for (int len = 1; len < 16; len++) {
        left = left * 2 - h->count[len];
        if (left < 0)
            return -1; /* over-subscribed */
    }
    offs[1] = 0;
    for (int len = 1; len < 15; len++)
        offs[len + 1] = (uint16_t)(offs[len] + h->count[len]);
    for (int s = 0; s < n; s++)
        if (lengths[s] != 0)
            h->symbol[offs[lengths[s]]++] = (uint16_t)s;
    return 0;
}

static int huff_decode(inflater *z, const huff *h)
{
    int code = 0, first = 0, index = 0;
    for (int len = 1; len < 16; len++) {
        unsigned b;
        if (get_bits(z, 1, &b) < 0)
            return -1;
        code |= (int)b;
        int count = h->count[len];
        if (code - first < count)
            return h->symbol[index + code - first];
        index += count;
        first = (first + count) << 1;
        code <<= 1;
    }
    z->err = "invalid Huffman code";
    return -1;
}

/* RFC 1951 section 3.2.5, written out as tables. */
static const uint16_t LBASE[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                   31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t LEXTRA[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                   2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t DBASE[30] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                   33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                   1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t DEXTRA[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                   6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static int inflate_codes(inflater *z, const huff *lit, const huff *dist)
{
    for (;;) {
        int sym = huff_decode(z, lit);
        if (sym < 0)
            return -1;
        if (sym < 256) {
            if (z->out_len >= z->out_cap) {
                z->err = "more image data than the header announces";
                return -1;
            }
            z->out[z->out_len++] = (uint8_t)sym;
            continue;
        }
        if (sym == 256)
            return 0;
        sym -= 257;
        unsigned extra;
        if (sym >= 29) {
            z->err = "invalid length symbol";
            return -1;
        }
        if (get_bits(z, LEXTRA[sym], &extra) < 0)
            return -1;
        size_t len = LBASE[sym] + extra;
        int ds = huff_decode(z, dist);
        if (ds < 0)
            return -1;
        if (ds >= 30) {
            z->err = "invalid distance symbol";
            return -1;
        }
        if (get_bits(z, DEXTRA[ds], &extra) < 0)
            return -1;
        size_t d = DBASE[ds] + extra;
        if (d > z->out_len) {
            z->err = "distance reaches before the start";
            return -1;
        }
        if (len > z->out_cap - z->out_len) {
            z->err = "more image data than the header announces";
            return -1;
        }
        for (size_t i = 0; i < len; i++, z->out_len++)
            z->out[z->out_len] = z->out[z->out_len - d];
    }
}

static int inflate_block_dynamic(inflater *z)
{
    static const uint8_t order[19] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                      11, 4,  12, 3, 13, 2, 14, 1, 15};
    unsigned hlit, hdist, hclen;
    uint8_t lengths[320] = {0};
    huff lens, lit, dist;
    if (get_bits(z, 5, &hlit) < 0 || get_bits(z, 5, &hdist) < 0 || get_bits(z, 4, &hclen) < 0)
        return -1;
    hlit += 257;
    hdist += 1;
    hclen += 4;
    for (unsigned i = 0; i < hclen; i++) {
        unsigned v;
        if (get_bits(z, 3, &v) < 0)
            return -1;
        lengths[order[i]] = (uint8_t)v;
    }
    if (huff_build(&lens, lengths, 19) < 0) {
        z->err = "bad code-length code";
        return -1;
    }
    memset(lengths, 0, sizeof(lengths));
    for (unsigned i = 0; i < hlit + hdist;) {
        int sym = huff_decode(z, &lens);
        unsigned rep, prev = 0;
        if (sym < 0)
            return -1;
        if (sym < 16) {
            lengths[i++] = (uint8_t)sym;
            continue;
        }
        if (sym == 16) {
            if (i == 0) {
                z->err = "repeat with no previous length";
                return -1;
            }
            prev = lengths[i - 1];
            if (get_bits(z, 2, &rep) < 0)
                return -1;
            rep += 3;
        } else if (sym == 17) {
            if (get_bits(z, 3, &rep) < 0)
                return -1;
            rep += 3;
        } else {
            if (get_bits(z, 7, &rep) < 0)
                return -1;
            rep += 11;
        }
        if (i + rep > hlit + hdist) {
            z->err = "code lengths overflow";
            return -1;
        }
        while (rep--)
            lengths[i++] = (uint8_t)prev;
    }
    if (huff_build(&lit, lengths, (int)hlit) < 0 ||
        huff_build(&dist, lengths + hlit, (int)hdist) < 0) {
        z->err = "bad literal or distance code";
        return -1;
    }
    return inflate_codes(z, &lit, &dist);
}

static int inflate_all(inflater *z)
{
    unsigned final, type;
    do {
        if (get_bits(z, 1, &final) < 0 || get_bits(z, 2, &type) < 0)
            return -1;
        if (type == 0) {
            size_t at = (z->pos + 7) / 8;
            if (at + 4 > z->in_len) {
                z->err = "stored block header cut short";
                return -1;
            }
            unsigned len = z->in[at] | (unsigned)z->in[at + 1] << 8;
            unsigned nlen = z->in[at + 2] | (unsigned)z->in[at + 3] << 8;
            if ((len ^ 0xffffu) != nlen) {
                z->err = "stored block LEN/NLEN mismatch";
                return -1;
            }
            at += 4;
            if (at + len > z->in_len || len > z->out_cap - z->out_len) {
                z->err = "stored block overruns";
                return -1;
            }
            memcpy(z->out + z->out_len, z->in + at, len);
            z->out_len += len;
            z->pos = (at + len) * 8;
        } else if (type == 1) {
            uint8_t lengths[320];
            huff lit, dist;
            for (int i = 0; i < 288; i++)
                lengths[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
            huff_build(&lit, lengths, 288);
            for (int i = 0; i < 30; i++)
                lengths[i] = 5;
            huff_build(&dist, lengths, 30);
            if (inflate_codes(z, &lit, &dist) < 0)
                return -1;
        } else if (type == 2) {
            if (inflate_block_dynamic(z) < 0)
                return -1;
        } else {
            z->err = "reserved block type";
            return -1;
        }
    } while (!final);
    return 0;
}

/* ---- PNG (RFC 2083) ---- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return c ^ 0xffffffffu;
}

/* Checks a whole PNG in p[0..n). Returns NULL when it is valid (and sets *w, *h), or a
 * message saying what is wrong. */
static const char *check_png(const uint8_t *p, size_t n, uint32_t *w, uint32_t *h)
{
    static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    static char msg[128];
    const char *err = NULL;
    uint8_t *zdata = NULL, *raw = NULL;
    size_t zlen = 0;
    size_t off = 8;
    int channels = 0, depth = 0;
    bool seen_iend = false, idat_done = false;
    if (n < 8 || memcmp(p, sig, 8) != 0)
        return "no PNG signature";
    for (int index = 0; !seen_iend; index++) {
        if (n - off < 12) {
            err = "chunk header cut short (no IEND)";
            goto out;
        }
        uint32_t len = be32(p + off);
        const uint8_t *type = p + off + 4, *data = p + off + 8;
        if (len > 0x7fffffffu || n - off - 12 < len) {
            err = "chunk overruns the file";
            goto out;
        }
        for (int k = 0; k < 4; k++) {
            int c = type[k];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
                err = "chunk type is not four letters";
                goto out;
            }
        }
        if (crc32_bitwise(type, 4 + (size_t)len) != be32(data + len)) {
            snprintf(msg, sizeof(msg), "CRC mismatch in chunk %.4s", (const char *)type);
            err = msg;
            goto out;
        }
        if (index == 0) {
            if (memcmp(type, "IHDR", 4) != 0 || len != 13) {
                err = "first chunk is not a 13-byte IHDR";
                goto out;
            }
            *w = be32(data);
            *h = be32(data + 4);
            depth = data[8];
            static const int ch_by_type[7] = {1, 0, 3, 1, 2, 0, 4};
            channels = data[9] <= 6 ? ch_by_type[data[9]] : 0;
            if (*w == 0 || *h == 0 || *w > 16384 || *h > 16384 || channels == 0 ||
                (depth != 8 && depth != 16) || data[10] != 0 || data[11] != 0 || data[12] != 0) {
                err = "IHDR not supported here (8/16-bit, no interlace, sane size)";
                goto out;
            }
        } else if (memcmp(type, "IDAT", 4) == 0) {
            if (idat_done) {
                err = "IDAT chunks are not consecutive";
                goto out;
            }
            uint8_t *q = realloc(zdata, zlen + len + 1);
            if (q == NULL) {
                err = "out of memory";
                goto out;
            }
            zdata = q;
            memcpy(zdata + zlen, data, len);
            zlen += len;
        } else {
            if (zlen > 0)
                idat_done = true;
            if (memcmp(type, "IEND", 4) == 0) {
                if (len != 0) {
                    err = "IEND carries data";
                    goto out;
                }
                seen_iend = true;
            } else if (type[0] >= 'A' && type[0] <= 'Z' && memcmp(type, "PLTE", 4) != 0) {
                snprintf(msg, sizeof(msg), "unknown critical chunk %.4s", (const char *)type);
                err = msg;
                goto out;
            }
        }
        off += 12 + (size_t)len;
    }
    if (off != n) {
        err = "bytes after IEND";
        goto out;
    }
    if (zlen < 6) {
        err = "no image data";
        goto out;
    }
    /* zlib (RFC 1950): header, deflate data, Adler-32 of the uncompressed bytes. */
    if ((zdata[0] & 0x0f) != 8 || (zdata[0] >> 4) > 7 || ((zdata[0] << 8) | zdata[1]) % 31 != 0 ||
        (zdata[1] & 0x20) != 0) {
        err = "bad zlib header";
        goto out;
    }
    size_t row = ((size_t)*w * (size_t)channels * (size_t)depth + 7) / 8;
    size_t want = (size_t)*h * (row + 1);
    raw = malloc(want);
    if (raw == NULL) {
        err = "out of memory";
        goto out;
    }
    inflater z = {zdata + 2, zlen - 2 - 4, 0, raw, want, 0, NULL};
    if (inflate_all(&z) < 0) {
        err = z.err;
        goto out;
    }
    if (z.out_len != want) {
        snprintf(msg, sizeof(msg), "image data is %zu bytes, the header needs %zu", z.out_len,
                 want);
        err = msg;
        goto out;
    }
    if ((z.pos + 7) / 8 != z.in_len) {
        err = "bytes between the deflate stream and the Adler-32";
        goto out;
    }
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < want; i++) {
        a = (a + raw[i]) % 65521;
        b = (b + a) % 65521;
    }
    if (((b << 16) | a) != be32(zdata + zlen - 4)) {
        err = "Adler-32 mismatch";
        goto out;
    }
    for (size_t y = 0; y < *h; y++) {
        if (raw[y * (row + 1)] > 4) {
            err = "invalid filter type";
            goto out;
        }
    }
out:
    free(zdata);
    free(raw);
    return err;
}

/* An ICO file: a directory of images, each of which must be a valid PNG of the stated size. */
static const char *check_ico(const uint8_t *p, size_t n, uint32_t *w, uint32_t *h)
{
    static char msg[160];
    if (n < 6 || p[0] | p[1] || p[2] != 1 || p[3] != 0)
        return "no ICO header";
    unsigned count = p[4] | (unsigned)p[5] << 8;
    if (count == 0 || 6 + 16 * (size_t)count > n)
        return "bad ICO image count";
    for (unsigned i = 0; i < count; i++) {
        const uint8_t *e = p + 6 + 16 * i;
        uint32_t size = e[8] | (uint32_t)e[9] << 8 | (uint32_t)e[10] << 16 | (uint32_t)e[11] << 24;
        uint32_t at = e[12] | (uint32_t)e[13] << 8 | (uint32_t)e[14] << 16 | (uint32_t)e[15] << 24;
        if (at > n || size > n - at)
            return "ICO entry overruns the file";
        const char *err = check_png(p + at, size, w, h);
        if (err != NULL) {
            snprintf(msg, sizeof(msg), "ICO entry %u: %s", i, err);
            return msg;
        }
        if (*w != (e[0] ? e[0] : 256u) || *h != (e[1] ? e[1] : 256u))
            return "ICO entry size differs from its PNG";
    }
    return NULL;
}

static const char *check_svg(const uint8_t *p, size_t n)
{
    const char *s = (const char *)p;
    size_t end = n;
    while (end > 0 && (s[end - 1] == '\n' || s[end - 1] == ' '))
        end--;
    if (n < 12 || memcmp(s, "<svg ", 5) != 0 || memchr(p, 0, n) != NULL)
        return "does not start with <svg";
    if (end < 6 || memcmp(s + end - 6, "</svg>", 6) != 0)
        return "does not end with </svg>";
    if (strstr(s, "xmlns=\"http://www.w3.org/2000/svg\"") == NULL)
        return "no SVG namespace";
    return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmd_verify(int argc, char **argv)
{
    int bad = 0;
    for (int i = 0; i < argc; i++) {
        size_t n;
        char *p = read_all(argv[i], &n);
        uint32_t w = 0, h = 0;
        const char *err;
        if (p == NULL) {
            printf("%s: %s\n", argv[i], strerror(errno));
            bad++;
            continue;
        }
        if (ends_with(argv[i], ".png"))
            err = check_png((const uint8_t *)p, n, &w, &h);
        else if (ends_with(argv[i], ".ico"))
            err = check_ico((const uint8_t *)p, n, &w, &h);
        else if (ends_with(argv[i], ".svg"))
            err = check_svg((const uint8_t *)p, n);
        else
            err = "unknown file type";
        free(p);
        if (err != NULL) {
            printf("%s: %s\n", argv[i], err);
            bad++;
        } else if (w > 0) {
            printf("%s: ok %ux%u\n", argv[i], w, h);
        } else {
            printf("%s: ok\n", argv[i]);
        }
    }
    return bad > 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "links") == 0)
        return cmd_links(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 2, argv + 2);
    fprintf(stderr, "usage: sitecheck links PAGE.html /PATH/OF/PAGE.html\n"
                    "       sitecheck verify FILE.png|FILE.ico|FILE.svg...\n");
    return 2;
}
