/* The peer's command lines: splitting argv into options and operands, and values (durations in
 * seconds, sizes with a K/M/G suffix, small counts), as `flashback get` and `flashback open`
 * take them. Pure: no I/O; the commands word their own error messages. */
#ifndef FB_PEER_CLIARGS_H
#define FB_PEER_CLIARGS_H

#include "core/fbstd.h"

/* Parses seconds (decimal, a fraction allowed: "2.5") into milliseconds, rounded, which must be
 * in [min_ms, 86400000]. Returns false for anything else (empty, negative, trailing bytes). */
bool fb_cli_seconds(const char *s, uint32_t min_ms, uint32_t *out_ms);

/* Parses a size: decimal digits and an optional K, M or G suffix (powers of 1024, any case),
 * greater than 0 and at most 1 TiB. Returns false for anything else. */
bool fb_cli_size(const char *s, uint64_t *out);

/* Parses a whole number in [lo, hi] as strtol reads it (leading white space and a sign are
 * taken, nothing may follow). Returns false for anything else and leaves *out alone. */
bool fb_cli_count(const char *s, uint32_t lo, uint32_t hi, uint32_t *out);

/* What fb_cli_next found. */
typedef enum fb_cli_kind {
    FB_CLI_HELP,          /* -h or --help */
    FB_CLI_OPERAND,       /* not an option (a lone "-" is one): value is the element */
    FB_CLI_FLAG,          /* one of `flags`: name */
    FB_CLI_VALUED,        /* one of `valued`: name, and value from "--name=value" or the next
                             element (which is then consumed) */
    FB_CLI_UNKNOWN,       /* an option in neither list: value is the element as given */
    FB_CLI_FLAG_VALUE,    /* one of `flags` written "--name=value": name */
    FB_CLI_MISSING_VALUE, /* one of `valued`, last on the line, without "=": name */
} fb_cli_kind;

typedef struct fb_cli_arg {
    char name[32];     /* the option as written, up to '=' for a "--" option; cut to 31 bytes */
    const char *value; /* points into argv; NULL when the kind has none */
} fb_cli_arg;

/* Reads the element argv[*i] (1 <= *i < argc) against two NULL-terminated lists of option
 * names, those without a value (`flags`) and those with one (`valued`), fills *out and returns
 * what it is. Advances *i past a value taken from the next element; the caller then moves on
 * with *i + 1. */
fb_cli_kind fb_cli_next(int argc, char **argv, int *i, const char *const *flags,
                        const char *const *valued, fb_cli_arg *out);

#endif
