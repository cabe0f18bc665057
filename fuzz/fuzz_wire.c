/* Fuzz target: the datagram decoder. Whatever decodes must re-encode to something that decodes
 * again to the same bytes, within FB_WIRE_MAX; its interval lists must iterate cleanly. */
#include <stdlib.h>
#include <string.h>

#include "core/intervals.h"
#include "core/wire.h"

static void walk(const uint8_t *iv, size_t len)
{
    fb_ivwire w;
    uint32_t a, b, prev = 0;
    fb_ivwire_begin(&w, iv, len);
    while (fb_ivwire_next(&w, &a, &b))
        if (a >= b || a < prev)
            abort();
        else
            prev = b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fb_wire_msg m, m2;
    uint8_t a[FB_WIRE_MAX], b[FB_WIRE_MAX];
    if (fb_wire_decode(data, size, &m))
        return 0;
    if (m.type == FB_MSG_HELLO && m.u.hello.iv)
        walk(m.u.hello.iv, m.u.hello.iv_len);
    if (m.type == FB_MSG_HAVE)
        walk(m.u.have.iv, m.u.have.iv_len);
    int n = fb_wire_encode(&m, a, sizeof(a));
    if (n <= 0 || n > FB_WIRE_MAX || fb_wire_decode(a, (size_t)n, &m2))
        abort();
    int n2 = fb_wire_encode(&m2, b, sizeof(b));
    if (n2 != n || memcmp(a, b, (size_t)n) != 0)
        abort();
    return 0;
}
