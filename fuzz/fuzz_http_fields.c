/* libFuzzer target for the header-value parsers: Range sets, entity-tag lists, Accept-Encoding
 * and HTTP dates.
 * Checks two properties besides crashes: a parsed range lies inside the representation, and a
 * parsed date formats to an IMF-fixdate that parses back to the same time. */
#include "core/http_cond.h"
#include "core/http_date.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    uint64_t rep = size ? (uint64_t)data[0] * 997 : 0, first, last;
    if (fb_http_range_parse(s, size, rep, &first, &last) == FB_RANGE_ONE &&
        (first > last || last >= rep))
        __builtin_trap();
    fb_http_etag_match(s, size, "\"abc-1\"", 7, size & 1);
    fb_http_accepts_coding(s, size, "gzip");
    int64_t t, back;
    if (fb_http_date_parse(s, size, 1780000000, &t) == 0) {
        char out[FB_HTTP_DATE_LEN + 1];
        fb_http_date_format(t, out);
        if (t >= 0 && t <= FB_HTTP_DATE_MAX &&
            (fb_http_date_parse(out, FB_HTTP_DATE_LEN, 0, &back) != 0 || back != t))
            __builtin_trap();
    }
    return 0;
}
