/* Conversions between the pure layers' fb_addr (plain bytes) and the OS's socket addresses, and
 * the list of this host's own interface addresses (the peer's "host candidates", which let two
 * peers behind the same NAT reach each other directly). Everything here is synchronous. */
#ifndef FB_NET_SOCKADDR_H
#define FB_NET_SOCKADDR_H

#include <sys/socket.h>

#include "core/addr.h"

/* Writes the socket address for `a` into *ss and its length into *len (may be NULL).
 * With v6_socket true, an IPv4 address is written as an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d), as a dual-stack AF_INET6 socket needs; an IPv6 address on an IPv4 socket
 * (v6_socket false) is FB_EINVAL, as is a family other than 4 or 6. Returns 0 or FB_EINVAL. */
int fb_sockaddr_from_addr(struct sockaddr_storage *ss, socklen_t *len, const fb_addr *a,
                          bool v6_socket);

/* Fills *a from an AF_INET or AF_INET6 socket address. An IPv4-mapped IPv6 address becomes a
 * plain IPv4 fb_addr, so one peer has one name whichever socket saw it. The IPv6 scope id is
 * not kept. Returns 0, or FB_EINVAL for another family or a NULL sa. */
int fb_sockaddr_to_addr(fb_addr *a, const struct sockaddr *sa);

/* Parses "a.b.c.d:port" or "[v6]:port" (NUL-terminated) into a socket address, for --listen
 * style flags. Host names are not resolved. Returns 0 or FB_EINVAL. */
int fb_sockaddr_parse(struct sockaddr_storage *ss, socklen_t *len, const char *hostport);

/* Lists this host's own addresses on interfaces that are up: no loopback interface or address,
 * no IPv6 link-local (fb_addr has no scope id), no duplicates; IPv4 addresses first, then
 * IPv6, each family in the order getifaddrs gives. Each gets `port`. Writes at most `cap`
 * entries into out and their number into *n. Returns 0, or a negative errno-style code if the
 * interfaces cannot be listed. */
int fb_sockaddr_local_addrs(fb_addr *out, size_t cap, uint16_t port, size_t *n);

#endif
