/* Values on the peer's command lines: durations in seconds and sizes with a K/M/G suffix, as
 * `flashback get` and `flashback open` take them. Pure: no I/O. */
#ifndef FB_PEER_CLIARGS_H
#define FB_PEER_CLIARGS_H

#include "core/fbstd.h"

/* Parses seconds (decimal, a fraction allowed: "2.5") into milliseconds, rounded, which must be
 * in [min_ms, 86400000]. Returns false for anything else (empty, negative, trailing bytes). */
bool fb_cli_seconds(const char *s, uint32_t min_ms, uint32_t *out_ms);

/* Parses a size: decimal digits and an optional K, M or G suffix (powers of 1024, any case),
 * greater than 0 and at most 1 TiB. Returns false for anything else. */
bool fb_cli_size(const char *s, uint64_t *out);

#endif
