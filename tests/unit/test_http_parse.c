/* Unit tests for core/http_parse: valid heads, the request-smuggling and strictness cases as a
 * table, incremental feeding (one byte at a time must agree with all at once), limits, and the
 * chunked decoder. Every input sits right before a guard page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "core/http_parse.h"
#include "guard.h"

/* Copies s[0..n) to end right before a guard page; valid until the next call. */
static char *gcopy(const void *s, size_t n)
{
    static guard last;
    if (last.map)
        guard_free(&last);
    return (char *)guard_copy(&last, s, n);
}

#define MAXH 16

static const fb_http_limits lim = {.max_head = 1024, .max_headers = MAXH};
static fb_http_header hdrs[MAXH];

static int parse(const char *s, size_t n, size_t prev, const fb_http_limits *l, fb_http_request *r)
{
    memset(r, 0, sizeof(*r));
    r->headers = hdrs;
    return fb_http_parse_request(gcopy(s, n), n, prev, l, r);
}

#define S(lit) lit, sizeof(lit) - 1

/* A request that parses, with what must come out of it. */
static const struct ok_case {
    const char *in;
    size_t len;
    fb_http_method meth;
    int minor;
    bool keep_alive;
    fb_http_body body;
    uint64_t content_length;
    const char *target;
} ok_cases[] = {
    {S("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), FB_HTTP_GET, 1, true, FB_HTTP_BODY_NONE, 0, "/"},
    {S("GET /x HTTP/1.0\r\n\r\n"), FB_HTTP_GET, 0, false, FB_HTTP_BODY_NONE, 0, "/x"},
    {S("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), FB_HTTP_GET, 0, true, 0, 0, "/"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n"), FB_HTTP_GET, 1, false, 0, 0,
     "/"},
    {S("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), FB_HTTP_GET, 1, true, 0, 0, "/"},
    {S("HEAD /a?b=c HTTP/1.1\r\nHost: a:80\r\n\r\n"), FB_HTTP_HEAD, 1, true, 0, 0, "/a?b=c"},
    {S("PURGE / HTTP/1.1\r\nHost: a\r\n\r\n"), FB_HTTP_OTHER, 1, true, 0, 0, "/"},
    {S("get / HTTP/1.1\r\nHost: a\r\n\r\n"), FB_HTTP_OTHER, 1, true, 0, 0, "/"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"), FB_HTTP_GET, 1, true,
     FB_HTTP_BODY_LENGTH, 5, "/"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"), FB_HTTP_GET, 1, true,
     FB_HTTP_BODY_NONE, 0, "/"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\ncontent-length: 7 \r\n\r\n"), FB_HTTP_GET,
     1, true, FB_HTTP_BODY_LENGTH, 7, "/"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"), FB_HTTP_GET, 1, true,
     FB_HTTP_BODY_CHUNKED, 0, "/"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked \r\n\r\n"), FB_HTTP_GET, 1, true,
     FB_HTTP_BODY_CHUNKED, 0, "/"},
    {S("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), FB_HTTP_GET, 1, true, 0, 0, "/"},
    {S("GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n"), FB_HTTP_GET, 1, true, 0, 0, "http://a/b"},
    {S("GET / HTTP/1.1\r\nHost: [::1]:8080\r\nX-Empty:\r\nX-Tab:\tv\tw\t\r\nX-8: "
       "\xe9t\xe9\r\n\r\n"),
     FB_HTTP_GET, 1, true, 0, 0, "/"},
    {S("GET /%7e~!$&'()*+,;=:@ HTTP/1.1\r\nHost: a\r\n\r\n"), FB_HTTP_GET, 1, true, 0, 0,
     "/%7e~!$&'()*+,;=:@"},
};

/* A request that must be refused with `status`. */
static const struct bad_case {
    const char *in;
    size_t len;
    int status;
    const char *why;
} bad_cases[] = {
    /* framing: request smuggling */
    {S("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), 400,
     "CL and TE"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"), 400,
     "TE and CL"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"), 400,
     "conflicting CL"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n"), 400, "CL list"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400, "negative CL"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n"), 400, "signed CL"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5a\r\n\r\n"), 400, "CL junk"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n"), 400, "hex CL"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"), 400, "empty CL"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n"), 400, "CL with space"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n"), 400,
     "CL overflow"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), 501, "TE gzip"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n"), 501, "TE identity"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501,
     "TE gzip, chunked"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), 400,
     "TE chunked not last"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"), 400,
     "TE chunked twice"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n"),
     400, "two TE chunked lines"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n"), 400,
     "chunked with parameters"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n"), 400, "empty TE"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n"), 400, "quoted TE"},
    {S("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400, "TE in HTTP/1.0"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n"), 400,
     "space before colon"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n"), 400,
     "tab before colon"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n chunked\r\n\r\n"), 400, "obs-fold"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\tz\r\n\r\n"), 400, "obs-fold with tab"},
    {S("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), 400, "leading whitespace on first field"},
    /* line endings and control bytes */
    {S("GET / HTTP/1.1\nHost: a\n\n"), 400, "bare LF"},
    {S("GET / HTTP/1.1\r\nHost: a\n\r\n"), 400, "bare LF in a field"},
    {S("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"), 400, "bare CR in a field"},
    {S("GET / HTTP/1.1\rHost: a\r\n\r\n"), 400, "bare CR after the request line"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n"), 400, "NUL in a value"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n"), 400, "control in a value"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n"), 400, "DEL in a value"},
    {S("GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), 400, "control in the target"},
    {S("GET /\xe9 HTTP/1.1\r\nHost: a\r\n\r\n"), 400, "8-bit byte in the target"},
    {S("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n"), 400, "tab in the target"},
    /* request line */
    {S("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400, "space after version"},
    {S("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400, "two spaces"},
    {S("GET /  HTTP/1.1\r\nHost: a\r\n\r\n"), 400, "two spaces before version"},
    {S(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400, "leading space"},
    {S("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400, "tab separator"},
    {S("GET /\r\n\r\n"), 400, "HTTP/0.9 style"},
    {S("GET / \r\n\r\n"), 400, "no version"},
    {S("GET HTTP/1.1\r\nHost: a\r\n\r\n"), 400, "no target"},
    {S("G(ET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400, "bad method char"},
    {S("GET / http/1.1\r\nHost: a\r\n\r\n"), 400, "lowercase version"},
    {S("GET / HTTP/1\r\nHost: a\r\n\r\n"), 400, "version without minor"},
    {S("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), 400, "two-digit minor"},
    {S("GET / HTTP/11.1\r\nHost: a\r\n\r\n"), 400, "two-digit major"},
    {S("GET / HTTP/1.x\r\nHost: a\r\n\r\n"), 400, "letter minor"},
    {S("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505, "HTTP/2.0"},
    {S("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), 505, "HTTP/0.9"},
    {S("GET / HTTP/3.0\r\nHost: a\r\n\r\n"), 505, "HTTP/3.0"},
    /* fields */
    {S("GET / HTTP/1.1\r\n\r\n"), 400, "HTTP/1.1 without Host"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400, "two Hosts"},
    {S("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"), 400, "two Hosts in 1.0"},
    {S("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400, "space in Host"},
    {S("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400, "slash in Host"},
    {S("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n"), 400, "userinfo in Host"},
    {S("GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n"), 400, "empty field name"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nX y: z\r\n\r\n"), 400, "space in field name"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nX(y): z\r\n\r\n"), 400, "separator in field name"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"), 400, "field without colon"},
    {S("GET / HTTP/1.1\r\nHost: a\r\nConnection: \"close\"\r\n\r\n"), 400, "bad Connection"},
    /* garbage */
    {S("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 400, "TLS ClientHello"},
    {S("\r\r\n"), 400, "CR CR LF"},
};

static void check_ok(const struct ok_case *c, size_t prev)
{
    fb_http_request r;
    int n = parse(c->in, c->len, prev, &lim, &r);
    if (n != (int)c->len)
        fail_msg("'%s': got %d (status %d), want %zu", c->in, n, r.status, c->len);
    assert_int_equal(r.meth, c->meth);
    assert_int_equal(r.minor, c->minor);
    assert_int_equal(r.keep_alive, c->keep_alive);
    assert_int_equal(r.body, c->body);
    assert_int_equal(r.content_length, c->content_length);
    assert_int_equal(r.target_len, strlen(c->target));
    assert_memory_equal(r.target, c->target, r.target_len);
}

static void test_ok_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < FB_ARRAY_LEN(ok_cases); i++)
        check_ok(&ok_cases[i], 0);
}

static void test_bad_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < FB_ARRAY_LEN(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        fb_http_request r;
        int n = parse(c->in, c->len, 0, &lim, &r);
        if (n != FB_EPROTO || r.status != c->status)
            fail_msg("%s: got %d status %d, want status %d", c->why, n, r.status, c->status);
    }
}

/* Every proper prefix of a valid head is "partial", and feeding the bytes one at a time with
 * prev_len gives the same result as all at once. For an invalid head, a prefix is either
 * partial or already refused with the same status. */
static void test_incremental(void **state)
{
    (void)state;
    for (size_t i = 0; i < FB_ARRAY_LEN(ok_cases); i++) {
        const struct ok_case *c = &ok_cases[i];
        size_t prev = 0;
        for (size_t k = 1; k < c->len; k++) {
            fb_http_request r;
            int n = parse(c->in, k, prev, &lim, &r);
            if (n != FB_EAGAIN)
                fail_msg("'%s' prefix %zu: got %d, want partial", c->in, k, n);
            prev = k;
        }
        check_ok(c, prev);
    }
    for (size_t i = 0; i < FB_ARRAY_LEN(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        size_t prev = 0;
        int n = FB_EAGAIN;
        fb_http_request r;
        for (size_t k = 1; k <= c->len && n == FB_EAGAIN; k++) {
            n = parse(c->in, k, prev, &lim, &r);
            prev = k;
        }
        if (n != FB_EPROTO || r.status != c->status)
            fail_msg("%s (byte by byte): got %d status %d", c->why, n, r.status);
    }
}

static void test_fields_and_pointers(void **state)
{
    (void)state;
    static const char in[] = "GET /p HTTP/1.1\r\nHost: ex.org\r\nX-A:  one two  \r\n"
                             "x-b:\r\nUser-Agent: t/1\r\n\r\nBODY";
    fb_http_request r;
    memset(&r, 0, sizeof(r));
    r.headers = hdrs;
    char *buf = gcopy(in, sizeof(in) - 1);
    int n = fb_http_parse_request(buf, sizeof(in) - 1, 0, &lim, &r);
    assert_int_equal(n, sizeof(in) - 1 - 4);
    assert_int_equal(r.num_headers, 4);
    assert_ptr_equal(r.method, buf);
    assert_int_equal(r.method_len, 3);
    assert_int_equal(r.host_len, 6);
    assert_memory_equal(r.host, "ex.org", 6);
    const fb_http_header *h = fb_http_find_header(&r, "X-a");
    assert_non_null(h);
    assert_int_equal(h->value_len, 7);
    assert_memory_equal(h->value, "one two", 7);
    h = fb_http_find_header(&r, "X-B");
    assert_non_null(h);
    assert_int_equal(h->value_len, 0);
    h = fb_http_find_header(&r, "user-agent");
    assert_non_null(h);
    assert_memory_equal(h->value, "t/1", 3);
    assert_null(fb_http_find_header(&r, "referer"));
}

static void test_limits(void **state)
{
    (void)state;
    char big[4096];
    fb_http_request r;
    fb_http_limits small = {.max_head = 64, .max_headers = 2};

    /* A request line longer than max_head: 414, even before the line ends. */
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET /", 5);
    assert_int_equal(parse(big, 64, 0, &small, &r), FB_EPROTO);
    assert_int_equal(r.status, 414);
    assert_int_equal(parse(big, 200, 0, &small, &r), FB_EPROTO);
    assert_int_equal(r.status, 414);
    /* One byte short of the limit is still partial. */
    assert_int_equal(parse(big, 63, 0, &small, &r), FB_EAGAIN);

    /* Fields past max_head: 431. */
    int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\nX: %060d\r\n\r\n", 0);
    assert_int_equal(parse(big, (size_t)n, 0, &small, &r), FB_EPROTO);
    assert_int_equal(r.status, 431);
    assert_int_equal(parse(big, 40, 0, &small, &r), FB_EAGAIN);

    /* Exactly max_head bytes is accepted. */
    fb_http_limits exact = {.max_head = 27, .max_headers = 2};
    assert_int_equal(parse(S("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0, &exact, &r), 27);
    exact.max_head = 26;
    assert_int_equal(parse(S("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0, &exact, &r), FB_EPROTO);
    assert_int_equal(r.status, 431);

    /* More fields than max_headers: 431. */
    assert_int_equal(parse(S("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n\r\n"), 0, &small, &r), 33);
    assert_int_equal(parse(S("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n"), 0, &small, &r),
                     FB_EPROTO);
    assert_int_equal(r.status, 431);
}

/* Pipelined requests: the result is the first head's length, the rest is left alone. */
static void test_pipelined(void **state)
{
    (void)state;
    static const char in[] = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    fb_http_request r;
    int n = parse(in, sizeof(in) - 1, 0, &lim, &r);
    assert_int_equal(n, 28);
    assert_memory_equal(r.target, "/1", 2);
    n = parse(in + 28, sizeof(in) - 1 - 28, 0, &lim, &r);
    assert_int_equal(n, 28);
    assert_memory_equal(r.target, "/2", 2);
}

/* Decodes `in` fed in pieces of `step` bytes; returns the final code and the data. */
static int chunked(const char *in, size_t len, size_t step, uint64_t max, char *out, size_t *outlen,
                   size_t *used)
{
    fb_http_chunked c;
    fb_http_chunked_init(&c, max, 64);
    size_t off = 0;
    *outlen = 0;
    for (;;) {
        size_t n = FB_MIN(step, len - off);
        char *piece = gcopy(in + off, n);
        size_t pos = 0;
        int rc;
        do {
            size_t consumed = 0, dlen = 0;
            const char *data = NULL;
            rc = fb_http_chunked_next(&c, piece + pos, n - pos, &consumed, &data, &dlen);
            pos += consumed;
            if (rc == 1) {
                memcpy(out + *outlen, data, dlen);
                *outlen += dlen;
            }
        } while (rc == 1);
        off += pos;
        if (rc != FB_EAGAIN || off == len) {
            *used = off;
            return rc;
        }
        if (pos != n)
            fail_msg("EAGAIN without consuming everything");
    }
}

static void test_chunked_ok(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *data;
    } cases[] = {
        {S("5\r\nhello\r\n0\r\n\r\n"), "hello"},
        {S("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), "hello world"},
        {S("A\r\n0123456789\r\n0\r\n\r\n"), "0123456789"},
        {S("a;name=value\r\n0123456789\r\n0;x\r\n\r\n"), "0123456789"},
        {S("3 ;ext\r\nabc\r\n0\r\n\r\n"), "abc"},
        {S("000003\r\nabc\r\n0\r\nTrailer: yes\r\nX-2: \r\n\r\n"), "abc"},
        {S("0\r\n\r\n"), ""},
    };
    for (size_t i = 0; i < FB_ARRAY_LEN(cases); i++) {
        for (size_t step = 1; step <= cases[i].len; step++) {
            char out[64];
            size_t outlen, used;
            int rc = chunked(cases[i].in, cases[i].len, step, 1000, out, &outlen, &used);
            if (rc != 0 || used != cases[i].len)
                fail_msg("case %zu step %zu: rc %d used %zu", i, step, rc, used);
            assert_int_equal(outlen, strlen(cases[i].data));
            assert_memory_equal(out, cases[i].data, outlen);
        }
    }
    /* Bytes after the body are not consumed. */
    char out[64];
    size_t outlen, used;
    assert_int_equal(chunked(S("1\r\nx\r\n0\r\n\r\nGET /"), 100, 1000, out, &outlen, &used), 0);
    assert_int_equal(used, 11);
}

static void test_chunked_bad(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        int rc;
    } cases[] = {
        {S("\r\n"), FB_EPROTO},                      /* empty size */
        {S("-1\r\n"), FB_EPROTO},                    /* sign */
        {S("0x5\r\nhello\r\n0\r\n\r\n"), FB_EPROTO}, /* 0x prefix */
        {S(" 5\r\nhello\r\n0\r\n\r\n"), FB_EPROTO},  /* leading space */
        {S("5 \r\nhello\r\n0\r\n\r\n"), FB_EPROTO},  /* trailing space without extension */
        {S("g\r\n"), FB_EPROTO},                     /* not hex */
        {S("5\nhello\r\n0\r\n\r\n"), FB_EPROTO},     /* bare LF */
        {S("5\rhello\r\n0\r\n\r\n"), FB_EPROTO},     /* bare CR */
        {S("5\r\nhelloX\r\n0\r\n\r\n"), FB_EPROTO},  /* data longer than the size */
        {S("5\r\nhell\r\n0\r\n\r\n"), FB_EPROTO},    /* data shorter than the size */
        {S("5\r\nhello\n0\r\n\r\n"), FB_EPROTO},     /* bare LF after data */
        {S("10000000000000000\r\n"), FB_EPROTO},     /* 17 hex digits */
        {S("1;a\x01\r\nx\r\n0\r\n\r\n"), FB_EPROTO}, /* control byte in an extension */
        {S("0\r\n X: y\r\n\r\n"), FB_EPROTO},        /* obs-fold in trailers */
        {S("0\r\nX\r\n\r\n"), FB_EPROTO},            /* trailer without colon */
        {S("0\r\nX: y\ry\r\n\r\n"), FB_EPROTO},      /* bare CR in a trailer */
        {S("0\r\n\rx"), FB_EPROTO},                  /* bad final line */
        {S("3e9\r\n"), FB_E2BIG},                    /* chunk larger than max_total */
        {S("200\r\n"), FB_E2BIG},                    /* 512 > 500 */
        {S("1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"),
         FB_E2BIG}, /* extension longer than max_line */
    };
    for (size_t i = 0; i < FB_ARRAY_LEN(cases); i++) {
        for (size_t step = 1; step <= cases[i].len; step++) {
            char out[1024];
            size_t outlen, used;
            int rc = chunked(cases[i].in, cases[i].len, step, 500, out, &outlen, &used);
            if (rc != cases[i].rc)
                fail_msg("case %zu step %zu: rc %d want %d", i, step, rc, cases[i].rc);
        }
    }
    /* The data cap counts across chunks. */
    char out[1024];
    size_t outlen, used;
    assert_int_equal(chunked(S("3\r\nabc\r\n3\r\nabc\r\n0\r\n\r\n"), 100, 5, out, &outlen, &used),
                     FB_E2BIG);
    assert_int_equal(chunked(S("3\r\nabc\r\n2\r\nab\r\n0\r\n\r\n"), 100, 5, out, &outlen, &used),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_cases),    cmocka_unit_test(test_bad_cases),
        cmocka_unit_test(test_incremental), cmocka_unit_test(test_fields_and_pointers),
        cmocka_unit_test(test_limits),      cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_chunked_ok),  cmocka_unit_test(test_chunked_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
