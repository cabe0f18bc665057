/* The small piece of the C library that the pure layers (core/ and engine/) may use.
 * Hosted builds take it from libc; a freestanding build (wasm32, -DFB_FREESTANDING) gets
 * declarations only, and the embedder supplies the functions. Nothing else from libc, and no
 * OS header, may be included by core/ or engine/ code. */
#ifndef FB_FBSTD_H
#define FB_FBSTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef FB_FREESTANDING
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
void *malloc(size_t n);
void *calloc(size_t count, size_t n);
void *realloc(void *p, size_t n);
void free(void *p);
#else
#include <stdlib.h>
#include <string.h>
#endif

/* Error codes shared by every layer: 0 is success, negative values are failures. */
enum {
    FB_OK = 0,
    FB_EINVAL = -22, /* malformed input or bad argument */
    FB_ENOMEM = -12, /* allocation failed */
    FB_ENOSPC = -28, /* a configured cap was reached */
    FB_ENOENT = -2,  /* no such item */
    FB_EAGAIN = -11, /* not yet: partial input, try again with more */
    FB_E2BIG = -7,   /* input larger than the limit */
    FB_EEXIST = -17, /* already present */
    FB_EPROTO = -71, /* protocol violation by the remote side */
};

#define FB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define FB_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define FB_MAX(a, b)    ((a) > (b) ? (a) : (b))

/* The value 0..15 of the hex digit c ('0'-'9', 'a'-'f', 'A'-'F'), or -1 for any other byte,
 * including a negative char. (core/ has no <ctype.h>: this stands in for isxdigit.) */
static inline int fb_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* FNV-1a over p[0..n): the hash of the string-keyed tables (file cache, manifests, proxy). */
static inline uint32_t fb_hash_bytes(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

/* Writes the n bytes of in as 2n lowercase hex digits and a NUL to out (2n + 1 bytes). */
static inline void fb_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = 0;
}

/* Reads exactly 2n hex digits (either case) of the NUL-terminated s into out[n]. Returns 0, or
 * FB_EINVAL for another length or a byte that is not a hex digit. */
static inline int fb_hex_decode(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = s[2 * i] ? fb_hexval((unsigned char)s[2 * i]) : -1;
        int lo = hi >= 0 && s[2 * i + 1] ? fb_hexval((unsigned char)s[2 * i + 1]) : -1;
        if (hi < 0 || lo < 0)
            return FB_EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return s[2 * n] ? FB_EINVAL : 0;
}

#endif
