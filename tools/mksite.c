/* mksite: writes the demo site's images (site/img/) deterministically, so that no large binary
 * is committed. It owns a minimal PNG encoder (RFC 2083 chunks with CRC-32, an RFC 1950 zlib
 * stream with RFC 1951 stored or fixed-Huffman blocks), a tiny raster with a 5x7 bitmap font,
 * and the SVG and ICO writers. Usage: mksite SITE_DIR (creates SITE_DIR/img/). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- growable byte buffer ---- */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

static void buf_put(buf *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL) {
            fprintf(stderr, "mksite: out of memory\n");
            exit(1);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void buf_byte(buf *b, uint8_t v)
{
    buf_put(b, &v, 1);
}

static void buf_be32(buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    buf_put(b, x, 4);
}

static void buf_le16(buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    buf_put(b, x, 2);
}

static void buf_le32(buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buf_put(b, x, 4);
}

/* ---- checksums ---- */

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint32_t adler32(const uint8_t *p, size_t n)
{
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % 65521;
        b = (b + a) % 65521;
    }
    return (b << 16) | a;
}

/* ---- deflate ---- */

/* Stored blocks: the data as is, at most 65535 bytes per block. */
static void deflate_stored(buf *out, const uint8_t *p, size_t n)
{
    size_t off = 0;
    do {
        size_t len = n - off > 65535 ? 65535 : n - off;
        buf_byte(out, off + len == n ? 1 : 0); /* BFINAL, BTYPE=00, padding to the byte */
        buf_le16(out, (uint16_t)len);
        buf_le16(out, (uint16_t)~len);
        buf_put(out, p + off, len);
        off += len;
    } while (off < n);
}

typedef struct bits {
    buf *out;
    uint32_t acc;
    int nbits;
} bits;

static void bits_put(bits *w, uint32_t v, int n) /* n low bits of v, least significant first */
{
    for (int i = 0; i < n; i++) {
        w->acc |= ((v >> i) & 1u) << w->nbits;
        if (++w->nbits == 8) {
            buf_byte(w->out, (uint8_t)w->acc);
            w->acc = 0;
            w->nbits = 0;
        }
    }
}

static void bits_code(bits *w, uint32_t code, int n) /* a Huffman code, most significant first */
{
    for (int i = n - 1; i >= 0; i--)
        bits_put(w, (code >> i) & 1u, 1);
}

/* The fixed literal/length code of RFC 1951 section 3.2.6. */
static void fixed_symbol(bits *w, int sym)
{
    if (sym < 144)
        bits_code(w, 0x30 + (uint32_t)sym, 8);
    else if (sym < 256)
        bits_code(w, 0x190 + (uint32_t)(sym - 144), 9);
    else if (sym < 280)
        bits_code(w, (uint32_t)(sym - 256), 7);
    else
        bits_code(w, 0xc0 + (uint32_t)(sym - 280), 8);
}

static int len_base[29], len_extra[29], dist_base[30], dist_extra[30];

static void deflate_tables(void)
{
    int base = 3;
    for (int i = 0; i < 28; i++) {
        len_extra[i] = i < 8 ? 0 : (i - 4) / 4;
        len_base[i] = base;
        base += 1 << len_extra[i];
    }
    len_base[28] = 258;
    len_extra[28] = 0;
    base = 1;
    for (int i = 0; i < 30; i++) {
        dist_extra[i] = i < 4 ? 0 : (i - 2) / 2;
        dist_base[i] = base;
        base += 1 << dist_extra[i];
    }
}

/* One fixed-Huffman block. Matches are searched at two distances only: 1 (runs) and `stride`
 * (the same byte one image row up), which is what a small synthetic image repeats. */
static void deflate_fixed(buf *out, const uint8_t *p, size_t n, size_t stride)
{
    bits w = {out, 0, 0};
    bits_put(&w, 1, 1); /* BFINAL */
    bits_put(&w, 1, 2); /* BTYPE=01 */
    size_t i = 0;
    while (i < n) {
        size_t best = 0, best_dist = 0;
        size_t dists[2] = {1, stride};
        for (int k = 0; k < 2; k++) {
            size_t d = dists[k];
            if (d == 0 || d > i || d > 32768)
                continue;
            size_t len = 0;
            while (len < 258 && i + len < n && p[i + len] == p[i + len - d])
                len++;
            if (len > best) {
                best = len;
                best_dist = d;
            }
        }
        if (best < 3) {
            fixed_symbol(&w, p[i]);
            i++;
            continue;
        }
        int lc = 28;
        while (len_base[lc] > (int)best)
            lc--;
        fixed_symbol(&w, 257 + lc);
        bits_put(&w, (uint32_t)((int)best - len_base[lc]), len_extra[lc]);
        int dc = 29;
        while (dist_base[dc] > (int)best_dist)
            dc--;
        bits_code(&w, (uint32_t)dc, 5);
        bits_put(&w, (uint32_t)((int)best_dist - dist_base[dc]), dist_extra[dc]);
        i += best;
    }
    fixed_symbol(&w, 256); /* end of block */
    if (w.nbits > 0)
        buf_byte(out, (uint8_t)w.acc);
}

/* ---- PNG ---- */

typedef struct image {
    int w, h;
    int ch;      /* 3 = RGB, 4 = RGBA */
    uint8_t *px; /* w*h*ch bytes, row-major */
} image;

enum { STORED, FIXED };

static void png_chunk(buf *out, const char *type, const uint8_t *data, size_t n)
{
    buf_be32(out, (uint32_t)n);
    size_t start = out->len;
    buf_put(out, type, 4);
    if (n > 0)
        buf_put(out, data, n);
    buf_be32(out, crc32_update(0, out->p + start, 4 + n));
}

/* Encodes `im` as a PNG into `out`. STORED keeps every row as is (filter None), which makes the
 * file size exact; FIXED applies the Sub filter and compresses with fixed Huffman codes. */
static void png_encode(buf *out, const image *im, int mode)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    buf_put(out, sig, 8);
    uint8_t ihdr[13];
    uint32_t w = (uint32_t)im->w, h = (uint32_t)im->h;
    uint8_t hdr[13] = {(uint8_t)(w >> 24),
                       (uint8_t)(w >> 16),
                       (uint8_t)(w >> 8),
                       (uint8_t)w,
                       (uint8_t)(h >> 24),
                       (uint8_t)(h >> 16),
                       (uint8_t)(h >> 8),
                       (uint8_t)h,
                       8,                              /* bit depth */
                       (uint8_t)(im->ch == 4 ? 6 : 2), /* colour type: RGBA or RGB */
                       0,
                       0,
                       0}; /* compression, filter method, no interlace */
    memcpy(ihdr, hdr, sizeof(ihdr));
    png_chunk(out, "IHDR", ihdr, sizeof(ihdr));

    size_t row = (size_t)im->w * (size_t)im->ch;
    buf raw = {0};
    for (int y = 0; y < im->h; y++) {
        const uint8_t *src = im->px + (size_t)y * row;
        if (mode == STORED) {
            buf_byte(&raw, 0);
            buf_put(&raw, src, row);
            continue;
        }
        buf_byte(&raw, 1); /* Sub: each byte minus the byte one pixel to the left */
        for (size_t x = 0; x < row; x++)
            buf_byte(&raw, (uint8_t)(src[x] - (x >= (size_t)im->ch ? src[x - im->ch] : 0)));
    }
    buf z = {0};
    buf_byte(&z, 0x78); /* CM=8 (deflate), CINFO=7 (32K window) */
    buf_byte(&z, 0x01); /* FCHECK makes 0x7801 a multiple of 31; no dictionary */
    if (mode == STORED)
        deflate_stored(&z, raw.p, raw.len);
    else
        deflate_fixed(&z, raw.p, raw.len, row + 1);
    buf_be32(&z, adler32(raw.p, raw.len));
    png_chunk(out, "IDAT", z.p, z.len);
    png_chunk(out, "IEND", NULL, 0);
    free(raw.p);
    free(z.p);
}

/* ---- raster ---- */

static uint32_t rng_state;

static uint32_t rng(void) /* xorshift32: deterministic noise */
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_state = x;
    return x;
}

static image image_new(int w, int h, int ch)
{
    image im = {w, h, ch, calloc((size_t)w * (size_t)h * (size_t)ch, 1)};
    if (im.px == NULL) {
        fprintf(stderr, "mksite: out of memory\n");
        exit(1);
    }
    return im;
}

typedef struct rgb {
    int r, g, b;
} rgb;

static int clamp8(int v)
{
    return v < 0 ? 0 : v > 255 ? 255 : v;
}

static void put_px(image *im, int x, int y, rgb c, int alpha)
{
    if (x < 0 || y < 0 || x >= im->w || y >= im->h)
        return;
    uint8_t *p = im->px + ((size_t)y * (size_t)im->w + (size_t)x) * (size_t)im->ch;
    int a = alpha;
    p[0] = (uint8_t)((p[0] * (255 - a) + clamp8(c.r) * a) / 255);
    p[1] = (uint8_t)((p[1] * (255 - a) + clamp8(c.g) * a) / 255);
    p[2] = (uint8_t)((p[2] * (255 - a) + clamp8(c.b) * a) / 255);
    if (im->ch == 4)
        p[3] = (uint8_t)(p[3] + ((255 - p[3]) * a) / 255);
}

static rgb mix(rgb a, rgb b, int t, int n) /* a + (b - a) * t / n */
{
    rgb c = {a.r + (b.r - a.r) * t / n, a.g + (b.g - a.g) * t / n, a.b + (b.b - a.b) * t / n};
    return c;
}

static void vgradient(image *im, int y0, int y1, rgb top, rgb bottom)
{
    for (int y = y0; y < y1; y++) {
        rgb c = mix(top, bottom, y - y0, y1 - y0 > 1 ? y1 - y0 - 1 : 1);
        for (int x = 0; x < im->w; x++)
            put_px(im, x, y, c, 255);
    }
}

static void rect(image *im, int x0, int y0, int w, int h, rgb c, int alpha)
{
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++)
            put_px(im, x, y, c, alpha);
}

static void disc(image *im, int cx, int cy, int r, rgb c, int alpha)
{
    for (int y = cy - r; y <= cy + r; y++)
        for (int x = cx - r; x <= cx + r; x++)
            if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r)
                put_px(im, x, y, c, alpha);
}

static void noise(image *im, int amount)
{
    size_t n = (size_t)im->w * (size_t)im->h;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = im->px + i * (size_t)im->ch;
        int d = (int)(rng() % (uint32_t)(2 * amount + 1)) - amount;
        for (int k = 0; k < 3; k++)
            p[k] = (uint8_t)clamp8(p[k] + d);
    }
}

/* A 5x7 bitmap font: one byte per row, bit 4 is the leftmost column. */
static const struct glyph {
    char c;
    uint8_t rows[7];
} font[] = {
    {'A', {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}},
    {'B', {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e}},
    {'C', {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e}},
    {'D', {0x1e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1e}},
    {'E', {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f}},
    {'F', {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10}},
    {'G', {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f}},
    {'H', {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}},
    {'I', {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}},
    {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f}},
    {'M', {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11}},
    {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}},
    {'P', {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10}},
    {'Q', {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d}},
    {'R', {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11}},
    {'S', {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e}},
    {'T', {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a}},
    {'X', {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04}},
    {'Z', {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f}},
    {'0', {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e}},
    {'1', {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e}},
    {'2', {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f}},
    {'3', {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e}},
    {'4', {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02}},
    {'5', {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e}},
    {'6', {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e}},
    {'7', {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e}},
    {'9', {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c}},
    {'-', {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c}},
    {':', {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00}},
    {',', {0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08}},
    {'\'', {0x0c, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00}},
    {'!', {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04}},
    {'?', {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}},
};

/* Draws `s` (upper case, digits, a little punctuation; others print as blanks) with its top
 * left corner at (x, y), each font pixel a `scale` x `scale` square. */
static void text(image *im, int x, int y, int scale, const char *s, rgb c)
{
    for (; *s; s++, x += 6 * scale) {
        const struct glyph *g = NULL;
        for (size_t i = 0; i < sizeof(font) / sizeof(font[0]); i++)
            if (font[i].c == *s)
                g = &font[i];
        if (g == NULL)
            continue;
        for (int r = 0; r < 7; r++)
            for (int col = 0; col < 5; col++)
                if (g->rows[r] & (0x10 >> col))
                    rect(im, x + col * scale, y + r * scale, scale, scale, c, 255);
    }
}

static int text_width(const char *s, int scale)
{
    return (int)strlen(s) * 6 * scale - scale;
}

/* ---- files ---- */

static const char *out_dir;
static size_t total_bytes;
static int total_files;

static void write_file(const char *name, const uint8_t *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "mksite: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    total_bytes += n;
    total_files++;
}

static void write_png(const char *name, image *im, int mode)
{
    buf b = {0};
    png_encode(&b, im, mode);
    write_file(name, b.p, b.len);
    free(b.p);
    free(im->px);
    im->px = NULL;
}

/* ---- the pictures ---- */

static const rgb ink = {24, 28, 38}, paper = {250, 246, 236}, sea = {28, 92, 132},
                 foam = {220, 236, 240}, sun = {255, 196, 92}, dusk = {232, 120, 84},
                 night = {20, 30, 64}, brick = {168, 72, 52}, grass = {86, 132, 70},
                 stone = {150, 148, 140};

/* A harbour scene: sky, sea, a sun, a lighthouse, boats, and a caption strip. `seed` varies the
 * palette and the layout so that every photo looks different. */
static void harbour(image *im, uint32_t seed, const char *caption)
{
    rng_state = 0x9e3779b9u ^ (seed * 0x85ebca6bu);
    int hz = im->h * (45 + (int)(rng() % 20)) / 100; /* the horizon */
    static const rgb skies[][2] = {{{255, 170, 110}, {120, 170, 220}},
                                   {{60, 70, 130}, {240, 140, 90}},
                                   {{150, 200, 240}, {230, 240, 250}},
                                   {{40, 40, 80}, {120, 90, 140}},
                                   {{200, 210, 220}, {150, 160, 175}}};
    const rgb *sky = skies[seed % 5];
    vgradient(im, 0, hz, sky[0], sky[1]);
    vgradient(im, hz, im->h, sea, night);
    disc(im, im->w * (20 + (int)(rng() % 60)) / 100, hz - im->h / 8, im->h / 10 + 4, sun, 220);
    for (int y = hz + 3; y < im->h; y += 5 + (int)(rng() % 5)) /* glints on the water */
        rect(im, (int)(rng() % (uint32_t)im->w), y, 8 + (int)(rng() % 30), 1, foam, 140);
    /* the quay and the lighthouse on one side (a green headland on the other, below) */
    int qx = (seed & 1) ? im->w * 2 / 3 : 0;
    rect(im, qx, hz - 6, im->w / 3, 10, stone, 255);
    int lx = qx + im->w / 8, lw = im->w / 18 + 3, lh = im->h / 3;
    for (int k = 0; k < 5; k++)
        rect(im, lx, hz - 6 - lh + k * lh / 5, lw, lh / 5, k % 2 ? paper : brick, 255);
    rect(im, lx - 2, hz - 10 - lh, lw + 4, 6, ink, 255);
    disc(im, lx + lw / 2, hz - 14 - lh, 3, sun, 255);
    /* boats */
    int boats = 2 + (int)(rng() % 4);
    for (int k = 0; k < boats; k++) {
        int bx = (int)(rng() % (uint32_t)im->w), by = hz + 8 + (int)(rng() % (uint32_t)(im->h / 4));
        rect(im, bx, by, 22, 6, k % 2 ? brick : paper, 255);
        rect(im, bx + 10, by - 16, 2, 16, ink, 255);
        for (int t = 0; t < 12; t++)
            rect(im, bx + 12, by - 16 + t, 12 - t, 1, paper, 230);
    }
    int hx = (seed & 1) ? im->w / 6 : im->w * 5 / 6;
    disc(im, hx, hz + im->w / 5 - 6, im->w / 5, grass, 255);
    noise(im, 6);
    rect(im, 0, im->h - 16, im->w, 16, ink, 190);
    text(im, 6, im->h - 12, 1, caption, paper);
}

/* The crowd: hundreds of heads in front of the museum's door. */
static void crowd(image *im, uint32_t seed, const char *caption)
{
    rng_state = 0x2545f491u ^ seed;
    vgradient(im, 0, im->h, (rgb){200, 214, 226}, (rgb){120, 120, 118});
    rect(im, im->w / 3, im->h / 8, im->w / 3, im->h / 2, brick, 255);
    rect(im, im->w / 2 - 14, im->h / 3, 28, im->h / 3, ink, 255);
    text(im, im->w / 2 - text_width("MUSEUM", 1) / 2, im->h / 8 + 6, 1, "MUSEUM", paper);
    for (int k = 0; k < 420; k++) {
        int x = (int)(rng() % (uint32_t)im->w);
        int y = im->h / 2 + (int)(rng() % (uint32_t)(im->h / 2));
        rgb coat = {(int)(rng() % 200) + 30, (int)(rng() % 160) + 30, (int)(rng() % 160) + 40};
        rect(im, x - 5, y, 10, 14, coat, 255);
        disc(im, x, y - 3, 4,
             (rgb){230 - (int)(rng() % 120), 190 - (int)(rng() % 110), 160 - (int)(rng() % 100)},
             255);
    }
    noise(im, 8);
    rect(im, 0, im->h - 16, im->w, 16, ink, 190);
    text(im, 6, im->h - 12, 1, caption, paper);
}

/* A page of the ledger: ruled paper with columns of figures. */
static void ledger(image *im, uint32_t seed, const char *caption)
{
    rng_state = 0x68e31da4u ^ seed;
    vgradient(im, 0, im->h, (rgb){236, 222, 190}, (rgb){214, 196, 160});
    for (int y = 14; y < im->h - 18; y += 11)
        rect(im, 8, y, im->w - 16, 1, (rgb){150, 160, 190}, 200);
    rect(im, im->w / 4, 8, 1, im->h - 26, dusk, 220);
    char row[32];
    for (int y = 17, line = 0; y < im->h - 26; y += 11, line++) {
        snprintf(row, sizeof(row), "%02d  %d.%02d  %d.%02d", line + 1, 10 + (int)(rng() % 12),
                 (int)(rng() % 60), 2 + (int)(rng() % 5), (int)(rng() % 100));
        text(im, 12, y, 1, row, (rgb){60, 50, 90});
    }
    noise(im, 10);
    rect(im, 0, im->h - 16, im->w, 16, ink, 190);
    text(im, 6, im->h - 12, 1, caption, paper);
}

/* The tide curve of a day, drawn as a filled sine-like polyline of integers. */
static void tides(image *im, uint32_t seed, const char *caption)
{
    rng_state = 0x1b873593u ^ seed;
    vgradient(im, 0, im->h, paper, (rgb){226, 232, 236});
    int mid = im->h / 2, amp = im->h / 4;
    for (int x = 0; x < im->w; x++) {
        /* a triangle wave smoothed by a parabola: two tides a day without libm */
        int period = im->w / 2, t = x % period, half = period / 2;
        int u = t < half ? t : period - t;            /* 0..half */
        int v = (2 * u - half) * 1000 / half;         /* -1000..1000 */
        int s = v * (3000 - (v < 0 ? -v : v)) / 2000; /* soft peaks */
        int y = mid - s * amp / 1000;
        rect(im, x, y, 1, im->h - y, sea, 200);
    }
    for (int k = 0; k < 6; k++)
        rect(im, k * im->w / 6, 0, 1, im->h, stone, 120);
    noise(im, 4);
    rect(im, 0, im->h - 16, im->w, 16, ink, 190);
    text(im, 6, im->h - 12, 1, caption, paper);
}

static void title_banner(image *im, const char *title, const char *sub)
{
    int s = im->w / (int)(strlen(title) * 6 + 4);
    if (s < 1)
        s = 1;
    int tw = text_width(title, s);
    rect(im, 0, im->h / 2 - 5 * s, im->w, 10 * s + 10, ink, 150);
    text(im, (im->w - tw) / 2, im->h / 2 - 7 * s / 2, s, title, paper);
    text(im, (im->w - text_width(sub, 1)) / 2, im->h / 2 + 4 * s + 2, 1, sub, sun);
}

static void icon(image *im)
{
    vgradient(im, 0, im->h, sea, night);
    int r = im->w / 2;
    disc(im, r, im->h * 9 / 16, im->w / 6, sun, 255);
    for (int y = im->h * 5 / 8; y < im->h; y += im->h / 8)
        rect(im, 0, y, im->w, im->h / 16 + 1, foam, 200);
    int s = im->w / 24;
    if (s >= 4)
        text(im, (im->w - text_width("SC", s)) / 2, im->h / 10, s, "SC", paper);
}

/* ---- SVG ---- */

static void write_text(const char *name, const char *s)
{
    write_file(name, (const uint8_t *)s, strlen(s));
}

static void logo_svg(void)
{
    char s[4096];
    int n = snprintf(s, sizeof(s),
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"360\" height=\"64\" "
                     "viewBox=\"0 0 360 64\" role=\"img\" aria-label=\"The Saltmarsh Courier\">\n"
                     "  <rect width=\"360\" height=\"64\" rx=\"6\" fill=\"#181c26\"/>\n"
                     "  <circle cx=\"34\" cy=\"26\" r=\"12\" fill=\"#ffc45c\"/>\n");
    for (int k = 0; k < 3; k++)
        n += snprintf(s + n, sizeof(s) - (size_t)n,
                      "  <path d=\"M10 %d q6 -5 12 0 t12 0 t12 0 t12 0\" stroke=\"#dcecf0\" "
                      "stroke-width=\"2.5\" fill=\"none\"/>\n",
                      40 + 7 * k);
    snprintf(s + n, sizeof(s) - (size_t)n,
             "  <text x=\"68\" y=\"30\" font-family=\"Georgia, serif\" font-size=\"22\" "
             "fill=\"#faf6ec\">The Saltmarsh Courier</text>\n"
             "  <text x=\"68\" y=\"50\" font-family=\"Helvetica, Arial, sans-serif\" "
             "font-size=\"11\" letter-spacing=\"2\" fill=\"#e87854\">NEWS FROM PORT ELLERY "
             "SINCE 1871</text>\n"
             "</svg>\n");
    write_text("logo.svg", s);
}

/* Visitors per hour to the museum's site on the day the ledger went viral. */
static void chart_svg(void)
{
    static const int visits[24] = {120,   90,    80,     70,     95,     160,    410,    980,
                                   4200,  38000, 162000, 241000, 198000, 176000, 151000, 122000,
                                   98000, 87000, 74000,  61000,  52000,  40000,  27000,  15000};
    char s[16384];
    int n = snprintf(s, sizeof(s),
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"300\" "
                     "viewBox=\"0 0 640 300\" role=\"img\" aria-label=\"Visitors per hour\">\n"
                     "  <rect width=\"640\" height=\"300\" fill=\"#faf6ec\"/>\n"
                     "  <text x=\"20\" y=\"28\" font-family=\"Helvetica, Arial, sans-serif\" "
                     "font-size=\"15\" fill=\"#181c26\">Visitors per hour, "
                     "portellery-museum.example, 14 March</text>\n");
    for (int k = 0; k <= 5; k++) {
        int y = 260 - k * 40;
        n += snprintf(s + n, sizeof(s) - (size_t)n,
                      "  <line x1=\"60\" y1=\"%d\" x2=\"620\" y2=\"%d\" stroke=\"#c8c4b8\"/>\n"
                      "  <text x=\"54\" y=\"%d\" font-size=\"10\" text-anchor=\"end\" "
                      "font-family=\"sans-serif\">%dk</text>\n",
                      y, y, y + 3, k * 50);
    }
    for (int h = 0; h < 24; h++) {
        int bh = visits[h] * 200 / 250000;
        int x = 64 + h * 23;
        n += snprintf(s + n, sizeof(s) - (size_t)n,
                      "  <rect x=\"%d\" y=\"%d\" width=\"18\" height=\"%d\" fill=\"%s\">"
                      "<title>%02d:00 %d visitors</title></rect>\n",
                      x, 260 - bh, bh > 0 ? bh : 1, h >= 9 && h <= 13 ? "#e87854" : "#1c5c84", h,
                      visits[h]);
        if (h % 3 == 0)
            n += snprintf(s + n, sizeof(s) - (size_t)n,
                          "  <text x=\"%d\" y=\"276\" font-size=\"10\" "
                          "font-family=\"sans-serif\">%02d:00</text>\n",
                          x, h);
    }
    snprintf(s + n, sizeof(s) - (size_t)n, "</svg>\n");
    write_text("chart.svg", s);
}

/* ---- ICO ---- */

/* favicon.ico: an icon directory with one 32x32 entry whose image is a PNG (RGBA). */
static void favicon(void)
{
    image im = image_new(32, 32, 4);
    icon(&im);
    buf png = {0};
    png_encode(&png, &im, FIXED);
    free(im.px);
    buf ico = {0};
    buf_le16(&ico, 0);  /* reserved */
    buf_le16(&ico, 1);  /* type: icon */
    buf_le16(&ico, 1);  /* one image */
    buf_byte(&ico, 32); /* width */
    buf_byte(&ico, 32); /* height */
    buf_byte(&ico, 0);  /* no palette */
    buf_byte(&ico, 0);  /* reserved */
    buf_le16(&ico, 1);  /* colour planes */
    buf_le16(&ico, 32); /* bits per pixel */
    buf_le32(&ico, (uint32_t)png.len);
    buf_le32(&ico, 6 + 16); /* offset of the image */
    buf_put(&ico, png.p, png.len);
    write_file("favicon.ico", ico.p, ico.len);
    free(png.p);
    free(ico.p);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mksite SITE_DIR   (writes SITE_DIR/img/)\n");
        return 2;
    }
    static char dir[4096];
    snprintf(dir, sizeof(dir), "%s/img", argv[1]);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "mksite: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    out_dir = dir;
    crc_init();
    deflate_tables();

    /* Stored-block photographs: their sizes are exact (rows x (1 + 3 x width) + overhead). */
    image im = image_new(400, 150, 3);
    harbour(&im, 1, "PORT ELLERY HARBOUR AT DAWN");
    title_banner(&im, "THE TIDE LEDGER", "148 YEARS OF HIGH WATER, ONE AFTERNOON ONLINE");
    write_png("hero.png", &im, STORED);
    im = image_new(480, 125, 3);
    harbour(&im, 2, "PORT ELLERY HARBOUR AT DAWN");
    title_banner(&im, "THE TIDE LEDGER", "148 YEARS OF HIGH WATER, ONE AFTERNOON ONLINE");
    write_png("hero-wide.png", &im, STORED);

    static const char *captions[10] = {"THE LEDGER, VOLUME 1, 1876",  "THE NORTH QUAY AT 6 A.M.",
                                       "HIGH WATER, 3 FEBRUARY 1899", "THE QUEUE ON HARBOUR STREET",
                                       "THE GAUGE HOUSE AND LIGHT",   "A PAGE FROM THE 1953 FLOOD",
                                       "DUSK OVER THE OUTER MOLE",    "VOLUNTEERS, SATURDAY NIGHT",
                                       "THE TIDE CURVE, 14 MARCH",    "THE QUAY AFTER THE RUSH"};
    for (int k = 0; k < 10; k++) {
        char name[32];
        snprintf(name, sizeof(name), "photo-%02d.png", k + 1);
        im = image_new(256, 180, 3);
        switch (k) {
        case 0:
        case 2:
        case 5:
            ledger(&im, (uint32_t)k, captions[k]);
            break;
        case 3:
        case 7:
            crowd(&im, (uint32_t)k, captions[k]);
            break;
        case 8:
            tides(&im, (uint32_t)k, captions[k]);
            break;
        default:
            harbour(&im, (uint32_t)k + 3, captions[k]);
            break;
        }
        write_png(name, &im, STORED);
    }
    im = image_new(320, 180, 3);
    crowd(&im, 99, "VIDEO: THE FIRST HOUR, IN 90 SECONDS");
    write_png("poster.png", &im, STORED);
    im = image_new(300, 160, 3);
    crowd(&im, 7, "THE ARCHIVE TEAM, 2024");
    write_png("team.png", &im, STORED);

    /* Small images, compressed with fixed Huffman codes. */
    im = image_new(180, 180, 4);
    icon(&im);
    write_png("touch-icon.png", &im, FIXED);
    favicon();
    logo_svg();
    chart_svg();

    printf("mksite: wrote %d files, %zu bytes, into %s\n", total_files, total_bytes, dir);
    return 0;
}
