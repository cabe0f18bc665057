/* Command-line values (see cliargs.h). */
#include "peer/cliargs.h"

#include <errno.h>
#include <stdlib.h>

/* Parses seconds (decimal, fraction allowed) into milliseconds in [min_ms, 86400000]. */
bool fb_cli_seconds(const char *s, uint32_t min_ms, uint32_t *out)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !(v >= 0) || v > 86400)
        return false;
    uint64_t ms = (uint64_t)(v * 1000 + 0.5);
    if (ms < min_ms)
        return false;
    *out = (uint32_t)ms;
    return true;
}

bool fb_cli_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    uint64_t mult = 1;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    if (*end == 'K' || *end == 'k')
        mult = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mult = 1024 * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        mult = 1024ull * 1024 * 1024, end++;
    if (*end != '\0' || v == 0 || v > ((uint64_t)1 << 40) / mult)
        return false;
    *out = v * mult;
    return true;
}
