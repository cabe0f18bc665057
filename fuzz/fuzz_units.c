/* libFuzzer target for flashbackd's rate parser (core/units): any bytes, as a NUL-terminated
 * flag value. Checks besides crashes: an accepted rate lies in [FB_RATE_MIN, FB_RATE_MAX], and
 * writing it back as a bare number of bytes parses to the same value. */
#include <stdio.h>

#include "core/units.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[64], back[32];
    uint64_t v, w;
    if (size >= sizeof(s))
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (fb_rate_parse(s, &v) != 0)
        return 0;
    if (v < FB_RATE_MIN || v > FB_RATE_MAX)
        __builtin_trap();
    snprintf(back, sizeof(back), "%llu", (unsigned long long)v);
    if (fb_rate_parse(back, &w) != 0 || w != v)
        __builtin_trap();
    return 0;
}
