/* libFuzzer target for core/proxy_policy: the upstream header-block scan, the relayed lines,
 * the path -> mirror file mapping and the --upstream URL check.
 * Checks besides crashes: relayed output is never longer than the input plus a CRLF per line
 * and holds no bare control byte; a mirror path starts with '/' and has no hidden segment; a
 * parsed URL's host and prefix lie inside the input. */
#include "core/proxy_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    fb_proxy_answer a;
    fb_proxy_scan(s, size, &a);
    (void)fb_proxy_decide(200, &a, size, 1000);
    (void)fb_proxy_ttl_ms(&a, 1000);
    static char out[1 << 16];
    int n = fb_proxy_relay_headers(s, size, out, sizeof(out));
    if (n > 0) {
        if ((size_t)n > 2 * size + 2)
            __builtin_trap();
        for (int i = 0; i < n; i++)
            if ((unsigned char)out[i] < 0x20 && out[i] != '\t' && out[i] != '\r' && out[i] != '\n')
                __builtin_trap();
    }
    static char path[1 << 16];
    int m = fb_proxy_mirror_path(s, size, NULL, 0, path, sizeof(path));
    if (m > 0) {
        if (path[0] != '/' || path[m] != '\0')
            __builtin_trap();
        for (int i = 0; i + 1 < m; i++)
            if (path[i] == '/' && (path[i + 1] == '.' || path[i + 1] == '/'))
                __builtin_trap();
    }
    /* the input split at its first '?' as path and query: always under "/.q/" */
    const char *qm = memchr(s, '?', size);
    if (qm) {
        m = fb_proxy_mirror_path(s, (size_t)(qm - s), qm + 1, size - (size_t)(qm - s) - 1, path,
                                 sizeof(path));
        if (m > 0 && (m < 6 || memcmp(path, "/.q/", 4) != 0 || path[m] != '\0'))
            __builtin_trap();
    }
    fb_proxy_url u;
    const char *why;
    if (fb_proxy_url_parse(s, size, &u, &why) == 0) {
        if (u.host.n == 0 || u.host.p < s || u.host.p + u.host.n > s + size || u.port == 0 ||
            u.port > 65535 ||
            (u.prefix.n && (u.prefix.p < s || u.prefix.p + u.prefix.n > s + size)))
            __builtin_trap();
    }
    return 0;
}
