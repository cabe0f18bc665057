/* libFuzzer target for the HTTP request parser, the target normalizer and the chunked decoder.
 * Besides crashes it checks one property: parsing in two steps (prev_len) agrees with one step. */
#include "core/http_parse.h"
#include "core/http_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fb_http_limits lim = {.max_head = 2048, .max_headers = 32};
    fb_http_header h1[32], h2[32];
    fb_http_request a = {.headers = h1}, b = {.headers = h2};
    const char *s = (const char *)data;
    int ra = fb_http_parse_request(s, size, 0, &lim, &a);
    size_t cut = size ? data[0] % size : 0;
    if (fb_http_parse_request(s, cut, 0, &lim, &b) == FB_EAGAIN) {
        int rb = fb_http_parse_request(s, size, cut, &lim, &b);
        if (rb != ra || (ra == FB_EPROTO && a.status != b.status))
            __builtin_trap();
    }
    if (ra > 0) {
        char path[2048 + 2];
        fb_http_path p = {.path = path};
        fb_http_path_parse(a.target, a.target_len, &p, sizeof(path));
        fb_http_chunked c;
        fb_http_chunked_init(&c, 1 << 20, 256);
        size_t off = (size_t)ra, used, dlen;
        const char *d;
        while (fb_http_chunked_next(&c, s + off, size - off, &used, &d, &dlen) == 1)
            off += used;
    }
    return 0;
}
