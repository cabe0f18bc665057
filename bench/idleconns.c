/* idleconns: opens N keep-alive connections to an HTTP server, sends one GET on each, reads each
 * response whole, then leaves every connection open and idle. It prints "ready N" once all N
 * responses arrived, and holds the connections until its standard input closes (or a time limit
 * passes), so a benchmark can measure the server's memory per idle connection meanwhile. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/addr.h"

/* Reads one response (head + Content-Length body) from a blocking socket. */
static bool read_response(int fd)
{
    char buf[8192];
    size_t have = 0;
    long long need = -1;
    for (;;) {
        ssize_t n = recv(fd, buf + have, sizeof(buf) - have, 0);
        if (n <= 0)
            return false;
        have += (size_t)n;
        if (need < 0) {
            char *end = memmem(buf, have, "\r\n\r\n", 4);
            if (!end) {
                if (have == sizeof(buf))
                    return false;
                continue;
            }
            char *cl = memmem(buf, (size_t)(end - buf), "Content-Length: ", 16);
            need = (end - buf) + 4 + (cl ? atoll(cl + 16) : 0);
        }
        if ((long long)have >= need)
            return true;
        if (have == sizeof(buf)) { /* body larger than the buffer: keep counting */
            need -= (long long)have;
            have = 0;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: idleconns HOST:PORT N PATH [SECONDS]\n");
        return 2;
    }
    fb_addr a;
    if (fb_addr_parse(&a, argv[1], strlen(argv[1])) != 0 || a.family != 4) {
        fprintf(stderr, "idleconns: want an IPv4 HOST:PORT\n");
        return 2;
    }
    int n = atoi(argv[2]);
    int seconds = argc > 4 ? atoi(argv[4]) : 120;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(a.port)};
    memcpy(&sin.sin_addr, a.ip, 4);
    char req[512];
    int rlen = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: bench\r\n\r\n", argv[3]);
    int *fds = calloc((size_t)n, sizeof(int));
    if (!fds)
        return 1;
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sin, sizeof(sin)) != 0) {
            fprintf(stderr, "idleconns: connection %d: %s\n", i, strerror(errno));
            return 1;
        }
        if (send(fds[i], req, (size_t)rlen, MSG_NOSIGNAL) != rlen || !read_response(fds[i])) {
            fprintf(stderr, "idleconns: request on connection %d failed\n", i);
            return 1;
        }
    }
    printf("ready %d\n", n);
    fflush(stdout);
    struct pollfd p = {STDIN_FILENO, POLLIN, 0};
    poll(&p, 1, seconds * 1000); /* until stdin closes or the time is up */
    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
    return 0;
}
