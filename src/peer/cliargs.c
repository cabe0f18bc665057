/* Command-line values (see cliargs.h). */
#include "peer/cliargs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

bool fb_cli_count(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (end == s || *end != '\0' || n < (long)lo || n > (long)hi)
        return false;
    *out = (uint32_t)n;
    return true;
}

static bool listed(const char *const *names, const char *name)
{
    for (; *names; names++)
        if (strcmp(*names, name) == 0)
            return true;
    return false;
}

fb_cli_kind fb_cli_next(int argc, char **argv, int *i, const char *const *flags,
                        const char *const *valued, fb_cli_arg *out)
{
    const char *a = argv[*i], *eqv = NULL;
    out->value = NULL;
    snprintf(out->name, sizeof(out->name), "%s", a);
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
        return FB_CLI_HELP;
    if (a[0] != '-' || strcmp(a, "-") == 0) {
        out->value = a;
        return FB_CLI_OPERAND;
    }
    if (strncmp(a, "--", 2) == 0)
        eqv = strchr(a, '=');
    if (eqv) {
        size_t n = FB_MIN((size_t)(eqv - a), sizeof(out->name) - 1);
        memcpy(out->name, a, n);
        out->name[n] = '\0';
        eqv++;
    }
    if (listed(flags, out->name))
        return eqv ? FB_CLI_FLAG_VALUE : FB_CLI_FLAG;
    if (!listed(valued, out->name)) {
        out->value = a;
        return FB_CLI_UNKNOWN;
    }
    if (eqv)
        out->value = eqv;
    else if (*i + 1 < argc)
        out->value = argv[++*i];
    else
        return FB_CLI_MISSING_VALUE;
    return FB_CLI_VALUED;
}
