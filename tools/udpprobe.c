/* udpprobe: a tiny UDP tool for the network-namespace tests. It plays the three roles a NAT
 * test needs: a rendezvous that tells each sender the address it observed (`serve`), a host that
 * learns its external address from it (`ask`), and a host that hole-punches to a peer (`punch`).
 * Test scaffolding only: plain POSIX sockets and poll(), IPv4, bounded in time and count. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/addr.h"
#include "udptool.h"

#define MSG_MAX 256

static void usage(void)
{
    fprintf(stderr,
            "usage: udpprobe serve PORT SECONDS\n"
            "         answer every datagram with \"seen IP:PORT\" (the sender as observed);\n"
            "         print \"ready\" once bound and \"from IP:PORT\" per datagram\n"
            "       udpprobe ask LPORT SERVER_IP:PORT [TIMEOUT_MS]\n"
            "         from local port LPORT, ask the server; print the observed IP:PORT\n"
            "       udpprobe punch LPORT PEER_IP:PORT SECONDS\n"
            "         send to the peer every 100 ms from LPORT; exit 0 and print \"got IP:PORT\"\n"
            "         once a punch from exactly that address arrived, 1 and \"timeout\" if not\n"
            "       udpprobe send LPORT DEST_IP:PORT COUNT\n"
            "         send COUNT datagrams (1 to 100000), one every 200 us, and no more\n");
}

static long long now_ms(void)
{
    return udptool_now_us() / 1000;
}

/* Parses "a.b.c.d:port" (IPv4 only) into a sockaddr. Returns 0 or -1. */
static int parse_sin(const char *s, struct sockaddr_in *sin)
{
    fb_addr a;
    if (udptool_parse_v4(s, &a) != 0)
        return -1;
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    memcpy(&sin->sin_addr, a.ip, 4);
    sin->sin_port = htons(a.port);
    return 0;
}

static void format_sin(const struct sockaddr_in *sin, char *buf, size_t len)
{
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
    snprintf(buf, len, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
}

/* Opens a UDP socket bound to 0.0.0.0:port (SO_REUSEADDR, so a later run may reuse the port).
 * Returns the descriptor or -1 with a message on stderr. */
static int bind_udp(long port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("udpprobe: socket");
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        perror("udpprobe: bind");
        close(fd);
        return -1;
    }
    return fd;
}

/* Waits up to ms for one datagram; on success fills buf (NUL-terminated) and *from and returns
 * its length, 0 on timeout, -1 on error. */
static int recv_wait(int fd, int ms, char *buf, size_t cap, struct sockaddr_in *from)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, ms < 0 ? 0 : ms);
    if (r <= 0)
        return r;
    socklen_t fl = sizeof(*from);
    ssize_t n = recvfrom(fd, buf, cap - 1, 0, (struct sockaddr *)from, &fl);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN || errno == ECONNREFUSED ? 0 : -1;
    buf[n] = '\0';
    return (int)n;
}

/* Waits until `until` (now_ms) for the next datagram from exactly `peer`, passing over any other.
 * Returns its length (buf NUL-terminated), or 0 when the time is up or on an error. */
static int recv_from_peer(int fd, long long until, const struct sockaddr_in *peer, char *buf,
                          size_t cap)
{
    while (now_ms() < until) {
        struct sockaddr_in from;
        int n = recv_wait(fd, (int)(until - now_ms()), buf, cap, &from);
        if (n <= 0)
            return 0;
        if (from.sin_addr.s_addr == peer->sin_addr.s_addr && from.sin_port == peer->sin_port)
            return n;
    }
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    long port, secs;
    if (argc != 2 || udptool_parse_num(argv[0], 1, 65535, &port) ||
        udptool_parse_num(argv[1], 1, 3600, &secs)) {
        usage();
        return 2;
    }
    int fd = bind_udp(port);
    if (fd < 0)
        return 1;
    printf("ready\n");
    fflush(stdout);
    long long end = now_ms() + secs * 1000;
    for (int served = 0; served < 100000 && now_ms() < end;) {
        char buf[MSG_MAX], who[64], reply[96];
        struct sockaddr_in from;
        int n = recv_wait(fd, (int)(end - now_ms()), buf, sizeof(buf), &from);
        if (n < 0)
            break;
        if (n == 0)
            continue;
        format_sin(&from, who, sizeof(who));
        printf("from %s\n", who);
        fflush(stdout);
        int len = snprintf(reply, sizeof(reply), "seen %s", who);
        sendto(fd, reply, (size_t)len, 0, (struct sockaddr *)&from, sizeof(from));
        served++;
    }
    close(fd);
    return 0;
}

static int cmd_ask(int argc, char **argv)
{
    long lport, timeout = 2000;
    struct sockaddr_in server;
    if (argc < 2 || argc > 3 || udptool_parse_num(argv[0], 0, 65535, &lport) ||
        parse_sin(argv[1], &server) ||
        (argc == 3 && udptool_parse_num(argv[2], 1, 60000, &timeout))) {
        usage();
        return 2;
    }
    int fd = bind_udp(lport);
    if (fd < 0)
        return 1;
    long long end = now_ms() + timeout;
    int rc = 1;
    /* Resend every 200 ms: the first datagram may be lost while ARP resolves. */
    for (int tries = 0; tries < 300 && now_ms() < end; tries++) {
        sendto(fd, "ask", 3, 0, (struct sockaddr *)&server, sizeof(server));
        long long round = now_ms() + 200;
        char buf[MSG_MAX];
        while (recv_from_peer(fd, round, &server, buf, sizeof(buf)) > 0) {
            if (strncmp(buf, "seen ", 5) == 0) {
                printf("%s\n", buf + 5);
                rc = 0;
                goto out;
            }
        }
    }
    fprintf(stderr, "udpprobe: no answer from %s\n", argv[1]);
out:
    close(fd);
    return rc;
}

static int cmd_punch(int argc, char **argv)
{
    long lport, secs;
    struct sockaddr_in peer;
    if (argc != 3 || udptool_parse_num(argv[0], 1, 65535, &lport) || parse_sin(argv[1], &peer) ||
        udptool_parse_num(argv[2], 1, 600, &secs)) {
        usage();
        return 2;
    }
    int fd = bind_udp(lport);
    if (fd < 0)
        return 1;
    long long end = now_ms() + secs * 1000, got_at = -1;
    /* Keep sending for 500 ms after the peer's punch arrived, so the peer gets ours as well. */
    for (int sent = 0; sent < 10000 && now_ms() < end; sent++) {
        if (got_at >= 0 && now_ms() - got_at > 500)
            break;
        sendto(fd, "punch", 5, 0, (struct sockaddr *)&peer, sizeof(peer));
        long long round = now_ms() + 100;
        char buf[MSG_MAX];
        while (recv_from_peer(fd, round, &peer, buf, sizeof(buf)) > 0)
            if (got_at < 0 && strcmp(buf, "punch") == 0)
                got_at = now_ms();
    }
    close(fd);
    if (got_at < 0) {
        printf("timeout\n");
        return 1;
    }
    printf("got %s\n", argv[1]);
    return 0;
}

static int cmd_send(int argc, char **argv)
{
    long lport, count;
    struct sockaddr_in dest;
    if (argc != 3 || udptool_parse_num(argv[0], 0, 65535, &lport) || parse_sin(argv[1], &dest) ||
        udptool_parse_num(argv[2], 1, 100000, &count)) {
        usage();
        return 2;
    }
    int fd = bind_udp(lport);
    if (fd < 0)
        return 1;
    struct timespec gap = {.tv_sec = 0, .tv_nsec = 200000};
    for (long i = 0; i < count; i++) {
        char msg[32];
        int len = snprintf(msg, sizeof(msg), "datagram %ld", i);
        sendto(fd, msg, (size_t)len, 0, (struct sockaddr *)&dest, sizeof(dest));
        nanosleep(&gap, NULL);
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    static const udptool_cmd cmds[] = {
        {"serve", cmd_serve}, {"ask", cmd_ask}, {"punch", cmd_punch}, {"send", cmd_send}};
    return udptool_main(argc, argv, cmds, FB_ARRAY_LEN(cmds), usage);
}
