/* fbhttp: a raw HTTP client for tests. It sends exactly the bytes it is given (written with C-like
 * escapes so test cases can be plain text files), optionally slowly, and prints whatever the
 * server sends back until the server closes the connection or the time runs out. The exit code
 * says which happened, so tests can check that a server closed a connection. */
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

enum { EXIT_CLOSED = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3, EXIT_RESET = 4 };

static void usage(void)
{
    fprintf(stderr,
            "usage: fbhttp [-r TEXT | -f FILE]... [-c BYTES] [-d MS] [-t MS] [-w] HOST:PORT\n"
            "  -r TEXT  bytes to send, with escapes \\r \\n \\t \\0 \\\\ \\xHH (repeatable)\n"
            "  -f FILE  the same from a file; its line breaks are ignored ('-' is stdin)\n"
            "  -c N     send in pieces of N bytes\n"
            "  -d MS    pause MS milliseconds before each piece after the first\n"
            "  -t MS    stop reading after MS milliseconds (default 5000)\n"
            "  -w       shut down the sending side once everything is sent\n"
            "exit: 0 server closed, 3 time ran out with the connection open, 4 reset, 1 error\n");
    exit(EXIT_USAGE);
}

/* Appends the unescaped form of s[0..n) to buf; line breaks in s are dropped. */
static void unescape(const char *s, size_t n, char **buf, size_t *len, size_t *cap)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\n' || c == '\r')
            continue;
        if (c == '\\' && i + 1 < n) {
            char e = s[++i];
            if (e == 'r')
                c = '\r';
            else if (e == 'n')
                c = '\n';
            else if (e == 't')
                c = '\t';
            else if (e == '0')
                c = '\0';
            else if (e == 'x' && i + 2 < n && fb_hexval(s[i + 1]) >= 0 &&
                     fb_hexval(s[i + 2]) >= 0) {
                c = (char)(fb_hexval(s[i + 1]) << 4 | fb_hexval(s[i + 2]));
                i += 2;
            } else
                c = e;
        }
        if (*len == *cap) {
            *cap = *cap ? *cap * 2 : 4096;
            *buf = realloc(*buf, *cap);
            if (!*buf)
                exit(EXIT_ERROR);
        }
        (*buf)[(*len)++] = c;
    }
}

static void read_file(const char *path, char **buf, size_t *len, size_t *cap)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(EXIT_ERROR);
    }
    char chunk[4096];
    size_t n;
    /* Escapes never span chunk boundaries because we read the whole file first. */
    char *all = NULL;
    size_t alen = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        all = realloc(all, alen + n);
        if (!all)
            exit(EXIT_ERROR);
        memcpy(all + alen, chunk, n);
        alen += n;
    }
    if (f != stdin)
        fclose(f);
    unescape(all ? all : "", alen, buf, len, cap);
    free(all);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_to(const char *hostport)
{
    fb_addr a;
    if (fb_addr_parse(&a, hostport, strlen(hostport)) != 0) {
        fprintf(stderr, "fbhttp: bad address '%s'\n", hostport);
        exit(EXIT_USAGE);
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    if (a.family == 4) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, a.ip, 4);
        in->sin_port = htons(a.port);
        sl = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, a.ip, 16);
        in6->sin6_port = htons(a.port);
        sl = sizeof(*in6);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        fprintf(stderr, "fbhttp: connect %s: %s\n", hostport, strerror(errno));
        exit(EXIT_ERROR);
    }
    return fd;
}

/* Copies everything readable to stdout; returns an exit code once the peer closes, or -1. */
static int drain(int fd)
{
    char buf[65536];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            fwrite(buf, 1, (size_t)n, stdout);
            continue;
        }
        if (n == 0)
            return EXIT_CLOSED;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return -1;
        return errno == ECONNRESET ? EXIT_RESET : EXIT_ERROR;
    }
}

static char *req; /* the bytes to send */

/* Flushes what was printed, frees the request and gives the exit code. */
static int done(int rc)
{
    fflush(stdout);
    free(req);
    return rc;
}

int main(int argc, char **argv)
{
    size_t len = 0, cap = 0, piece = 0;
    long delay = 0, timeout = 5000;
    bool half_close = false;
    int opt;
    while ((opt = getopt(argc, argv, "r:f:c:d:t:w")) != -1) {
        switch (opt) {
        case 'r':
            unescape(optarg, strlen(optarg), &req, &len, &cap);
            break;
        case 'f':
            read_file(optarg, &req, &len, &cap);
            break;
        case 'c':
            piece = strtoul(optarg, NULL, 10);
            break;
        case 'd':
            delay = strtol(optarg, NULL, 10);
            break;
        case 't':
            timeout = strtol(optarg, NULL, 10);
            break;
        case 'w':
            half_close = true;
            break;
        default:
            usage();
        }
    }
    if (optind + 1 != argc)
        usage();
    int fd = connect_to(argv[optind]);
    long long deadline = now_ms() + timeout;
    if (piece == 0)
        piece = len ? len : 1;
    for (size_t off = 0; off < len;) {
        if (off > 0 && delay > 0) {
            long long until = now_ms() + delay;
            while (now_ms() < until) {
                struct pollfd p = {fd, POLLIN, 0};
                int left = (int)(until - now_ms());
                if (poll(&p, 1, left > 0 ? left : 0) > 0) {
                    int rc = drain(fd);
                    if (rc >= 0)
                        return done(rc);
                }
            }
        }
        size_t n = len - off < piece ? len - off : piece;
        ssize_t w = send(fd, req + off, n, MSG_NOSIGNAL);
        if (w < 0) {
            int err = errno;
            int rc = drain(fd);
            fprintf(stderr, "fbhttp: send: %s\n", strerror(err));
            return done(rc >= 0 ? rc : EXIT_RESET);
        }
        off += (size_t)w;
    }
    if (half_close)
        shutdown(fd, SHUT_WR);
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return done(EXIT_TIMEOUT);
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)left) > 0) {
            int rc = drain(fd);
            if (rc >= 0)
                return done(rc);
        }
    }
}
