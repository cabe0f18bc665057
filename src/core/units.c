/* Rate parsing for the command lines (units.h): an exact decimal number times a unit, computed
 * in integers so "1.5mbit" is exactly 187500 bytes per second. */
#include "core/units.h"

/* Whether a equals b; with fold, a's letters are lowered first (b is lower case). */
static bool same(const char *a, const char *b, bool fold)
{
    for (; *a && *b; a++, b++) {
        char x = fold && *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        if (x != *b)
            return false;
    }
    return *a == *b;
}

/* The multiplier of a unit in bits per second (so bytes count 8 per byte), or 0 if unknown. */
static uint64_t unit_bits(const char *u)
{
    static const struct {
        const char *name;
        uint64_t bits;
    } exact[] = {{"", 8},
                 {"B", 8},
                 {"kB", 8000},
                 {"KB", 8000},
                 {"MB", 8000000},
                 {"GB", 8000000000ull},
                 {"KiB", 8ull << 10},
                 {"MiB", 8ull << 20},
                 {"GiB", 8ull << 30}};
    static const struct {
        const char *name;
        uint64_t bits;
    } folded[] = {{"bit", 1}, {"kbit", 1000}, {"mbit", 1000000}, {"gbit", 1000000000}};
    for (size_t i = 0; i < FB_ARRAY_LEN(exact); i++)
        if (same(u, exact[i].name, false))
            return exact[i].bits;
    for (size_t i = 0; i < FB_ARRAY_LEN(folded); i++)
        if (same(u, folded[i].name, true))
            return folded[i].bits;
    return 0;
}

int fb_rate_parse(const char *s, uint64_t *bytes_per_s)
{
    uint64_t whole = 0, frac = 0, scale = 1;
    size_t i = 0, nd = 0;
    char unit[8];
    if (s == NULL)
        return FB_EINVAL;
    for (; s[i] >= '0' && s[i] <= '9'; i++, nd++) {
        if (whole > FB_RATE_MAX)
            return FB_EINVAL;
        whole = whole * 10 + (uint64_t)(s[i] - '0');
    }
    if (s[i] == '.') {
        size_t nf = 0;
        for (i++; s[i] >= '0' && s[i] <= '9'; i++, nf++) {
            if (nf < 9) { /* finer than 10^-9 does not change whole bytes below the max */
                frac = frac * 10 + (uint64_t)(s[i] - '0');
                scale *= 10;
            }
        }
        if (nf == 0)
            return FB_EINVAL;
        nd += nf;
    }
    if (nd == 0)
        return FB_EINVAL;
    size_t ul = strlen(s + i);
    if (ul >= 2 && same(s + i + ul - 2, "/s", false))
        ul -= 2;
    if (ul >= sizeof(unit))
        return FB_EINVAL;
    memcpy(unit, s + i, ul);
    unit[ul] = '\0';
    uint64_t bits = unit_bits(unit);
    if (bits == 0 || (ul == 0 && s[i] != '\0'))
        return FB_EINVAL;
    /* bytes = (whole + frac / scale) * bits / 8, exactly, rounded down, in 64 bits (no
     * 128-bit division in the freestanding build): whole * bits = 8q + r, then
     * bytes = q + (r * scale + frac * bits) / (8 * scale), where frac < scale <= 10^9 and
     * bits <= 8 * 2^30 keep every product below 2^64. */
    if (whole > FB_RATE_MAX * 8 / bits)
        return FB_EINVAL;
    uint64_t a = whole * bits;
    uint64_t v = a / 8 + (a % 8 * scale + frac * bits) / (8 * scale);
    if (v < FB_RATE_MIN || v > FB_RATE_MAX)
        return FB_EINVAL;
    *bytes_per_s = (uint64_t)v;
    return 0;
}
