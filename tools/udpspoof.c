/* udpspoof: the hostile side of tests/integ/live_hostile.sh, run inside a network namespace the
 * test made. It sends UDP datagrams whose IPv4 source address is forged (a raw socket with
 * IP_HDRINCL writes the IP header itself), as an attacker who wants a seed to flood a victim
 * would, and it counts what reaches the victim. Test scaffolding only: IPv4, bounded in count
 * and time.
 *   udpspoof attack SRC_IP:PORT DST_IP:PORT MANIFEST ROUNDS
 *       ROUNDS rounds of every message a stranger can send to a seed (JOIN without a token,
 *       JOIN with a forged token, JOIN with local addresses, REQUESTs for a chunk and for the
 *       seed's choice, HELLO, PING, REFER, CANCEL, HAVE), for the swarm of the manifest file,
 *       all from SRC; prints "sent DATAGRAMS BYTES" (UDP payload bytes).
 *   udpspoof flood SRC_NET DST_IP:PORT COUNT PER_SECOND
 *       COUNT datagrams of random bytes (1 to 1200) at PER_SECOND, from random ports of
 *       addresses SRC_NET.200 to SRC_NET.250 (SRC_NET like 192.0.2); prints "sent N BYTES".
 *   udpspoof sink PORT SECONDS
 *       receives on PORT for SECONDS; prints "got DATAGRAMS BYTES" and "type T N" per first
 *       wire-format type byte seen (the victim's view). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/wire.h"
#include "udptool.h"

#define MAX_COUNT 1000000

static void usage(void)
{
    fprintf(stderr, "usage: udpspoof attack SRC_IP:PORT DST_IP:PORT MANIFEST ROUNDS\n"
                    "       udpspoof flood SRC_NET DST_IP:PORT COUNT PER_SECOND\n"
                    "       udpspoof sink PORT SECONDS\n");
}

/* A raw socket that takes our IP headers. */
static int raw_socket(void)
{
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0)
        perror("udpspoof: raw socket (needs root)");
    return fd;
}

/* Sends payload[0..len) as one UDP datagram from src to dst. Returns 0 or -1. */
static int send_spoofed(int fd, const fb_addr *src, const fb_addr *dst, const uint8_t *payload,
                        size_t len)
{
    uint8_t pkt[20 + 8 + 1500];
    struct iphdr *ip = (struct iphdr *)pkt;
    struct udphdr *udp = (struct udphdr *)(pkt + 20);
    memset(pkt, 0, 28);
    ip->version = 4;
    ip->ihl = 5;
    ip->ttl = 64;
    ip->protocol = IPPROTO_UDP;
    ip->tot_len = htons((uint16_t)(28 + len)); /* the kernel fills the id and the checksum */
    memcpy(&ip->saddr, src->ip, 4);
    memcpy(&ip->daddr, dst->ip, 4);
    udp->source = htons(src->port);
    udp->dest = htons(dst->port);
    udp->len = htons((uint16_t)(8 + len));
    udp->check = 0; /* no checksum: allowed for UDP over IPv4 */
    memcpy(pkt + 28, payload, len);
    struct sockaddr_in to = {.sin_family = AF_INET};
    memcpy(&to.sin_addr, dst->ip, 4);
    for (int tries = 0; tries < 100; tries++) {
        if (sendto(fd, pkt, 28 + len, 0, (struct sockaddr *)&to, sizeof(to)) >= 0)
            return 0;
        if (errno != ENOBUFS && errno != EAGAIN)
            break;
        usleep(1000);
    }
    perror("udpspoof: sendto");
    return -1;
}

static int swarm_of(const char *path, uint8_t id[FB_SWARM_ID_LEN])
{
    static uint8_t buf[8 << 20];
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror("udpspoof: manifest");
        return -1;
    }
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    uint8_t h[32];
    if (EVP_Digest(buf, n, h, NULL, EVP_sha256(), NULL) != 1)
        return -1;
    memcpy(id, h, FB_SWARM_ID_LEN);
    return 0;
}

static int cmd_attack(int argc, char **argv)
{
    fb_addr src, dst;
    long rounds;
    uint8_t id[FB_SWARM_ID_LEN];
    if (argc != 4 || udptool_parse_v4(argv[0], &src) || udptool_parse_v4(argv[1], &dst) ||
        udptool_parse_num(argv[3], 1, 10000, &rounds)) {
        usage();
        return 2;
    }
    if (swarm_of(argv[2], id))
        return 1;
    int fd = raw_socket();
    if (fd < 0)
        return 1;
    uint8_t iv[2] = {0, 0};
    fb_wire_msg msgs[10];
    memset(msgs, 0, sizeof(msgs));
    int k = 0;
    msgs[k].type = FB_MSG_JOIN; /* no token */
    msgs[k++].u.join.want = 16;
    msgs[k].type = FB_MSG_JOIN; /* a forged token */
    msgs[k].u.join.want = 16;
    memset(msgs[k++].u.join.echo, 0x5a, FB_TOKEN_LEN);
    msgs[k].type = FB_MSG_JOIN; /* local addresses: a longer JOIN */
    msgs[k].u.join.want = 16;
    msgs[k].u.join.n_local = FB_WIRE_MAX_LOCAL;
    for (int i = 0; i < FB_WIRE_MAX_LOCAL; i++)
        fb_addr_set_v4(&msgs[k].u.join.local[i], 0x0a000001u + (uint32_t)i, 4000);
    k++;
    msgs[k].type = FB_MSG_REQUEST; /* chunk 0, every block */
    msgs[k].u.request.req_id = 7;
    msgs[k].u.request.n = 1;
    msgs[k].u.request.e[0].chunk = 0;
    msgs[k++].u.request.e[0].mask = 0xffff;
    msgs[k].type = FB_MSG_REQUEST; /* the seed's choice */
    msgs[k].u.request.req_id = 8;
    msgs[k].u.request.n = 1;
    msgs[k].u.request.e[0].chunk = FB_WIRE_ANY;
    msgs[k].u.request.iv = iv; /* the chunks it holds: none */
    msgs[k++].u.request.iv_len = sizeof(iv);
    msgs[k].type = FB_MSG_HELLO;
    memset(msgs[k].u.hello.node, 7, FB_NODE_LEN);
    msgs[k].u.hello.iv = iv;
    msgs[k++].u.hello.iv_len = sizeof(iv);
    msgs[k++].type = FB_MSG_PING;
    msgs[k].type = FB_MSG_REFER;
    msgs[k++].u.refer.want = 16;
    msgs[k].type = FB_MSG_CANCEL;
    msgs[k++].u.cancel.req_id = 7;
    msgs[k].type = FB_MSG_HAVE;
    msgs[k].u.have.iv = iv;
    msgs[k++].u.have.iv_len = sizeof(iv);
    uint8_t enc[FB_ARRAY_LEN(msgs)][FB_WIRE_MAX];
    int len[FB_ARRAY_LEN(msgs)];
    for (int i = 0; i < k; i++) {
        memcpy(msgs[i].swarm, id, FB_SWARM_ID_LEN);
        len[i] = fb_wire_encode(&msgs[i], enc[i], sizeof(enc[i]));
        if (len[i] <= 0) {
            fprintf(stderr, "udpspoof: cannot encode message %d (%d)\n", i, len[i]);
            return 1;
        }
    }
    unsigned long long n = 0, bytes = 0;
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < k; i++) {
            if (send_spoofed(fd, &src, &dst, enc[i], (size_t)len[i]))
                return 1;
            n++;
            bytes += (unsigned long long)len[i];
        }
        usleep(2000); /* about 5000 datagrams per second */
    }
    close(fd);
    printf("sent %llu %llu\n", n, bytes);
    return 0;
}

static int cmd_flood(int argc, char **argv)
{
    fb_addr dst, src;
    long count, rate;
    char net[64];
    if (argc != 4 || strlen(argv[0]) > 40 || udptool_parse_v4(argv[1], &dst) ||
        udptool_parse_num(argv[2], 1, MAX_COUNT, &count) ||
        udptool_parse_num(argv[3], 100, 1000000, &rate)) {
        usage();
        return 2;
    }
    snprintf(net, sizeof(net), "%s.200:1", argv[0]);
    if (udptool_parse_v4(net, &src)) {
        usage();
        return 2;
    }
    int fd = raw_socket();
    if (fd < 0)
        return 1;
    uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)udptool_now_us();
    uint8_t buf[1200];
    unsigned long long bytes = 0;
    long long t0 = udptool_now_us();
    for (long i = 0; i < count; i++) {
        /* xorshift64: garbage need not be good randomness. */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t len = 1 + (size_t)(x % 1200);
        if (x % 4) /* mostly short ones, as a packet flood would be */
            len = 1 + (size_t)(x % 64);
        for (size_t j = 0; j < len; j++)
            buf[j] = (uint8_t)(x >> (8 * (j % 8))) ^ (uint8_t)j;
        src.ip[3] = (uint8_t)(200 + (x >> 40) % 51);
        src.port = (uint16_t)(1024 + (x >> 20) % 60000);
        if (send_spoofed(fd, &src, &dst, buf, len))
            return 1;
        bytes += len;
        /* Pace: never ahead of the rate. */
        long long due = t0 + (long long)((double)(i + 1) * 1e6 / (double)rate);
        long long now = udptool_now_us();
        if (due > now + 1000)
            usleep((useconds_t)(due - now));
    }
    close(fd);
    printf("sent %ld %llu\n", count, bytes);
    return 0;
}

static int cmd_sink(int argc, char **argv)
{
    long port, secs;
    if (argc != 2 || udptool_parse_num(argv[0], 1, 65535, &port) ||
        udptool_parse_num(argv[1], 1, 3600, &secs)) {
        usage();
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        perror("udpspoof: sink");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    unsigned long long n = 0, bytes = 0, types[256] = {0};
    long long end = udptool_now_us() + secs * 1000000LL;
    for (long long now = udptool_now_us(); now < end && n < MAX_COUNT; now = udptool_now_us()) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)((end - now) / 1000) + 1) <= 0)
            continue;
        uint8_t buf[2048];
        ssize_t got = recv(fd, buf, sizeof(buf), 0);
        if (got <= 0)
            continue;
        n++;
        bytes += (unsigned long long)got;
        types[got > 1 ? buf[1] : 0]++;
    }
    printf("got %llu %llu\n", n, bytes);
    for (int t = 0; t < 256; t++)
        if (types[t])
            printf("type %d %llu\n", t, types[t]);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    static const udptool_cmd cmds[] = {
        {"attack", cmd_attack}, {"flood", cmd_flood}, {"sink", cmd_sink}};
    return udptool_main(argc, argv, cmds, FB_ARRAY_LEN(cmds), usage);
}
