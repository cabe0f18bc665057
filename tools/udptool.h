/* What the two UDP test tools (udpprobe, udpspoof) share: a monotonic clock, strict number and
 * IPv4 address parsing for their arguments, and dispatch to a subcommand. Header only, because
 * the build makes a program of every .c file in tools/; each tool includes it once. */
#ifndef FB_TOOLS_UDPTOOL_H
#define FB_TOOLS_UDPTOOL_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/addr.h"

/* Microseconds on the monotonic clock (for deadlines and pacing only). */
static inline long long udptool_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Parses a whole decimal string in [lo, hi] from s into *out. Returns 0, or -1 (and leaves *out
 * alone) for anything else: empty, trailing bytes, overflow, out of range. */
static inline int udptool_parse_num(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Parses "a.b.c.d:port" (IPv4 only) into *a. Returns 0 or -1. */
static inline int udptool_parse_v4(const char *s, fb_addr *a)
{
    return fb_addr_parse(a, s, strlen(s)) == 0 && a->family == 4 ? 0 : -1;
}

/* One subcommand: `tool NAME ARGS...` runs run(number of ARGS, ARGS). */
typedef struct udptool_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
} udptool_cmd;

/* Runs the subcommand named by argv[1] with the arguments after it and returns its exit code;
 * with no subcommand or an unknown one, calls usage() and returns 2. */
static inline int udptool_main(int argc, char **argv, const udptool_cmd *cmds, size_t n,
                               void (*usage)(void))
{
    for (size_t i = 0; argc >= 2 && i < n; i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].run(argc - 2, argv + 2);
    usage();
    return 2;
}

#endif
