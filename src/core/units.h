/* Quantities on the command lines that need units: a rate (flashbackd's --seed-rate, `flashback
 * crowd --origin-rate`). Pure (no OS header), so the parser is unit-tested with the other pure
 * code. */
#ifndef FB_CORE_UNITS_H
#define FB_CORE_UNITS_H

#include "core/fbstd.h"

#define FB_RATE_MIN 1000ull         /* bytes per second (8 kbit/s) */
#define FB_RATE_MAX 100000000000ull /* bytes per second (800 Gbit/s) */

/* Parses a rate into bytes per second. The number may have a decimal fraction ("1.5"); the unit
 * follows without a space, optionally ended by "/s":
 *   bits per second:  bit, kbit, mbit, gbit   (any case; k = 1000, m = 10^6, g = 10^9)
 *   bytes per second: B, kB (or KB), MB, GB   (k = 1000 ...), KiB, MiB, GiB (k = 1024 ...)
 *   no unit:          bytes per second
 * so "10mbit" = 1250000, "500kbit" = 62500, "1.5mbit" = 187500, "2MB" = 2000000,
 * "1MiB/s" = 1048576. The result is rounded down to whole bytes. Returns 0, or FB_EINVAL for
 * anything else (a sign, spaces, "10mb" which could mean bits or bytes, a value outside
 * [FB_RATE_MIN, FB_RATE_MAX]). */
int fb_rate_parse(const char *s, uint64_t *bytes_per_s);

#endif
