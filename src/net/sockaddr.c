/* fb_addr <-> sockaddr conversions and the host's own interface addresses (getifaddrs). */
#include "net/sockaddr.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int fb_sockaddr_from_addr(struct sockaddr_storage *ss, socklen_t *len, const fb_addr *a,
                          bool v6_socket)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == 4 && !v6_socket) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(a->port);
        memcpy(&sin->sin_addr, a->ip, 4);
        if (len)
            *len = sizeof(*sin);
        return 0;
    }
    if (a->family == 4 || a->family == 6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        if (a->family == 6 && !v6_socket)
            return FB_EINVAL;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(a->port);
        if (a->family == 4) {
            memcpy(sin6->sin6_addr.s6_addr, v4mapped_prefix, 12);
            memcpy(sin6->sin6_addr.s6_addr + 12, a->ip, 4);
        } else {
            memcpy(sin6->sin6_addr.s6_addr, a->ip, 16);
        }
        if (len)
            *len = sizeof(*sin6);
        return 0;
    }
    return FB_EINVAL;
}

int fb_sockaddr_to_addr(fb_addr *a, const struct sockaddr *sa)
{
    if (sa == NULL)
        return FB_EINVAL;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        memset(a, 0, sizeof(*a));
        a->family = 4;
        memcpy(a->ip, &sin->sin_addr, 4);
        a->port = ntohs(sin->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        const uint8_t *ip = sin6->sin6_addr.s6_addr;
        memset(a, 0, sizeof(*a));
        if (memcmp(ip, v4mapped_prefix, 12) == 0) {
            a->family = 4;
            memcpy(a->ip, ip + 12, 4);
        } else {
            a->family = 6;
            memcpy(a->ip, ip, 16);
        }
        a->port = ntohs(sin6->sin6_port);
        return 0;
    }
    return FB_EINVAL;
}

int fb_sockaddr_parse(struct sockaddr_storage *ss, socklen_t *len, const char *hostport)
{
    fb_addr a;
    if (hostport == NULL || fb_addr_parse(&a, hostport, strlen(hostport)) != 0)
        return FB_EINVAL;
    return fb_sockaddr_from_addr(ss, len, &a, a.family == 6);
}

static bool is_loopback(const fb_addr *a)
{
    static const uint8_t v6loop[16] = {[15] = 1};
    if (a->family == 4)
        return a->ip[0] == 127;
    return memcmp(a->ip, v6loop, 16) == 0;
}

static bool is_unusable(const fb_addr *a)
{
    static const uint8_t zero[16];
    if (memcmp(a->ip, zero, a->family == 4 ? 4 : 16) == 0)
        return true; /* unspecified */
    if (a->family == 6 && a->ip[0] == 0xfe && (a->ip[1] & 0xc0) == 0x80)
        return true; /* link-local: needs a scope id we cannot carry */
    if (a->family == 6 && a->ip[0] == 0xff)
        return true; /* multicast */
    return is_loopback(a);
}

int fb_sockaddr_local_addrs(fb_addr *out, size_t cap, uint16_t port, size_t *n)
{
    struct ifaddrs *list = NULL;
    size_t count = 0;
    *n = 0;
    if (getifaddrs(&list) != 0)
        return -errno;
    /* Two passes so IPv4 comes first: most NATs, and most peers, are IPv4. */
    for (int pass = 0; pass < 2; pass++) {
        int want = pass == 0 ? AF_INET : AF_INET6;
        for (struct ifaddrs *it = list; it != NULL && count < cap; it = it->ifa_next) {
            fb_addr a;
            bool dup = false;
            if (it->ifa_addr == NULL || it->ifa_addr->sa_family != want)
                continue;
            if (!(it->ifa_flags & IFF_UP) || (it->ifa_flags & IFF_LOOPBACK))
                continue;
            if (fb_sockaddr_to_addr(&a, it->ifa_addr) != 0 || is_unusable(&a))
                continue;
            a.port = port;
            for (size_t i = 0; i < count && !dup; i++)
                dup = fb_addr_eq(&out[i], &a);
            if (!dup)
                out[count++] = a;
        }
    }
    freeifaddrs(list);
    *n = count;
    return 0;
}
