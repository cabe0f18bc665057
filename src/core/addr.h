/* A transport address as plain bytes: the pure layers name peers with it and carry it in
 * datagrams without any socket header. The I/O layer converts to and from sockaddr. */
#ifndef FB_ADDR_H
#define FB_ADDR_H

#include "core/fbstd.h"

typedef struct fb_addr {
    uint8_t family; /* 4 or 6; 0 means "no address" */
    uint8_t ip[16]; /* network byte order; IPv4 uses the first 4 bytes, the rest are zero */
    uint16_t port;  /* host byte order */
} fb_addr;

#define FB_ADDR_STRLEN 48 /* "[ffff:...:ffff]:65535" and a NUL */

/* Sets *a to the IPv4 address a.b.c.d:port (ip in host order, e.g. 0x7f000001). */
void fb_addr_set_v4(fb_addr *a, uint32_t ip, uint16_t port);

/* True when both name the same family, ip and port. */
bool fb_addr_eq(const fb_addr *a, const fb_addr *b);

/* A 32-bit hash of the address, seeded with `seed` (for hash tables keyed by address). */
uint32_t fb_addr_hash(const fb_addr *a, uint32_t seed);

/* Writes "a.b.c.d:port" or "[v6]:port" into buf (at least FB_ADDR_STRLEN bytes) and returns buf. */
char *fb_addr_format(const fb_addr *a, char *buf);

/* Parses "a.b.c.d:port" or "[v6]:port" (len bytes, no NUL needed). Returns 0 or FB_EINVAL. */
int fb_addr_parse(fb_addr *a, const char *s, size_t len);

/* True for private, loopback and link-local ranges (RFC 1918, 127/8, 169.254/16, fc00::/7, ::1). */
bool fb_addr_is_private(const fb_addr *a);

#endif
