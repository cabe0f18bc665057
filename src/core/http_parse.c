/* Strict HTTP/1.1 request-head parser and chunked body decoder (RFC 9112, RFC 9110).
 * A head is first scanned for its end (CRLF CRLF) and for bytes that can never be valid
 * (controls, bare CR or LF) so garbage is refused early; once complete it is parsed in one pass
 * and its framing headers are checked against each other. */
#include "core/http_parse.h"

/* tchar (RFC 9110 5.6.2): the characters of a token. */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

bool fb_http_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

const fb_http_header *fb_http_find_header(const fb_http_request *req, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->num_headers; i++)
        if (fb_http_ieq(req->headers[i].name, req->headers[i].name_len, name, n))
            return &req->headers[i];
    return NULL;
}

static int reject(fb_http_request *req, int status)
{
    req->status = status;
    return FB_EPROTO;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Content-Length: 1*DIGIT, at most 19 digits so it fits an int64. */
static bool parse_length(const char *v, size_t n, uint64_t *out)
{
    uint64_t x = 0;
    if (n == 0 || n > 19)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return true;
}

/* Framing facts gathered from the header fields, checked against each other at the end. */
typedef struct framing {
    bool has_length;
    uint64_t length;
    bool has_te;
    bool te_chunked;     /* chunked appeared */
    bool te_chunked_end; /* ... and is the last coding so far */
    bool te_other;       /* a coding we do not implement */
    bool te_bad;         /* chunked twice, chunked not last, or an empty list */
    size_t te_codings;
    int hosts;
    bool conn_close;
    bool conn_keep_alive;
} framing;

/* Walks a comma-separated list of tokens (RFC 9110 5.6.1), each optionally followed by
 * parameters. Calls fn for each element: the token, and whether anything followed it. Empty
 * elements are skipped. Returns false when an element does not start with a token. */
static bool each_token(const char *v, size_t n, framing *f,
                       void (*fn)(framing *f, const char *tok, size_t len, bool params))
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (is_ows(v[i]) || v[i] == ','))
            i++;
        if (i == n)
            break;
        size_t t0 = i;
        while (i < n && is_tchar((unsigned char)v[i]))
            i++;
        if (i == t0)
            return false;
        size_t t1 = i;
        while (i < n && is_ows(v[i]))
            i++;
        bool params = i < n && v[i] != ',';
        while (i < n && v[i] != ',')
            i++;
        fn(f, v + t0, t1 - t0, params);
    }
    return true;
}

static void te_coding(framing *f, const char *tok, size_t len, bool params)
{
    f->te_codings++;
    if (fb_http_ieq(tok, len, "chunked", 7)) {
        if (f->te_chunked || params)
            f->te_bad = true;
        f->te_chunked = true;
        f->te_chunked_end = true;
        return;
    }
    if (f->te_chunked)
        f->te_bad = true; /* a coding applied after chunked: the length is unknowable */
    f->te_chunked_end = false;
    f->te_other = true;
}

static void conn_option(framing *f, const char *tok, size_t len, bool params)
{
    (void)params;
    if (fb_http_ieq(tok, len, "close", 5))
        f->conn_close = true;
    else if (fb_http_ieq(tok, len, "keep-alive", 10))
        f->conn_keep_alive = true;
}

/* Host: uri-host [ ":" port ], checked loosely: characters of reg-name, IP literals and port. */
static bool valid_host(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            continue;
        const char *ok = "-._~!$&'()*+,;=:[]%";
        while (*ok && (unsigned char)*ok != c)
            ok++;
        if (!*ok)
            return false;
    }
    return true;
}

/* Interprets one header field that affects framing or connection handling. */
static int note_header(framing *f, const fb_http_header *h, fb_http_request *req)
{
    const char *v = h->value;
    size_t n = h->value_len;
    switch (h->name_len) {
    case 4:
        if (fb_http_ieq(h->name, 4, "host", 4)) {
            if (++f->hosts > 1 || !valid_host(v, n))
                return reject(req, 400);
            req->host = v;
            req->host_len = n;
        }
        break;
    case 10:
        if (fb_http_ieq(h->name, 10, "connection", 10) && !each_token(v, n, f, conn_option))
            return reject(req, 400);
        break;
    case 14:
        if (fb_http_ieq(h->name, 14, "content-length", 14)) {
            uint64_t x;
            if (!parse_length(v, n, &x) || (f->has_length && x != f->length))
                return reject(req, 400);
            f->has_length = true;
            f->length = x;
        }
        break;
    case 17:
        if (fb_http_ieq(h->name, 17, "transfer-encoding", 17)) {
            f->has_te = true;
            if (!each_token(v, n, f, te_coding))
                return reject(req, 400);
        }
        break;
    default:
        break;
    }
    return 0;
}

/* Parses a complete head b[0..n) that ends in CRLF CRLF and holds no control byte other than
 * HTAB, CR and LF, every CR being followed by LF (fb_http_parse_request checked this). */
static int parse_complete(const char *b, size_t n, const fb_http_limits *lim, fb_http_request *req)
{
    const unsigned char *u = (const unsigned char *)b;
    size_t p = 0;
    framing f;
    memset(&f, 0, sizeof(f));

    /* request-line = method SP request-target SP HTTP-version CRLF */
    while (is_tchar(u[p]))
        p++;
    if (p == 0 || u[p] != ' ')
        return reject(req, 400);
    req->method = b;
    req->method_len = p;
    if (p == 3 && memcmp(b, "GET", 3) == 0)
        req->meth = FB_HTTP_GET;
    else if (p == 4 && memcmp(b, "HEAD", 4) == 0)
        req->meth = FB_HTTP_HEAD;
    else
        req->meth = FB_HTTP_OTHER;
    size_t t0 = ++p;
    while (u[p] > 0x20 && u[p] < 0x7f)
        p++;
    if (p == t0 || u[p] != ' ')
        return reject(req, 400);
    req->target = b + t0;
    req->target_len = p - t0;
    p++;
    /* HTTP-version = "HTTP/" DIGIT "." DIGIT; n - p >= 10 leaves room for it and CRLF CRLF. */
    if (n - p < 10 || memcmp(b + p, "HTTP/", 5) != 0 || u[p + 5] < '0' || u[p + 5] > '9' ||
        u[p + 6] != '.' || u[p + 7] < '0' || u[p + 7] > '9' || u[p + 8] != '\r')
        return reject(req, 400);
    if (u[p + 5] != '1')
        return reject(req, 505);
    req->minor = u[p + 7] == '0' ? 0 : 1;
    p += 10;

    /* field-line = field-name ":" OWS field-value OWS CRLF */
    while (u[p] != '\r') {
        if (is_ows(b[p]))
            return reject(req, 400); /* obs-fold, or whitespace before the first field */
        size_t n0 = p;
        while (is_tchar(u[p]))
            p++;
        if (p == n0 || u[p] != ':')
            return reject(req, 400); /* empty name, or whitespace/garbage before the colon */
        size_t nlen = p - n0;
        p++;
        while (is_ows(b[p]))
            p++;
        size_t v0 = p;
        while (u[p] != '\r') {
            if ((u[p] < 0x20 && u[p] != '\t') || u[p] == 0x7f)
                return reject(req, 400);
            p++;
        }
        size_t v1 = p;
        while (v1 > v0 && is_ows(b[v1 - 1]))
            v1--;
        p += 2;
        if (req->num_headers == lim->max_headers)
            return reject(req, 431);
        fb_http_header *h = &req->headers[req->num_headers++];
        h->name = b + n0;
        h->name_len = (uint32_t)nlen;
        h->value = b + v0;
        h->value_len = (uint32_t)(v1 - v0);
        if (note_header(&f, h, req) != 0)
            return FB_EPROTO;
    }
    p += 2;

    if (f.hosts == 0 && req->minor == 1)
        return reject(req, 400);
    if (f.has_te) {
        /* RFC 9112 6.1 and 6.3: TE with CL, TE in HTTP/1.0, and chunked not last are faulty. */
        if (f.has_length || req->minor == 0 || f.te_bad || f.te_codings == 0)
            return reject(req, 400);
        if (f.te_other)
            return reject(req, 501);
        req->body = FB_HTTP_BODY_CHUNKED;
    } else if (f.has_length && f.length > 0) {
        req->body = FB_HTTP_BODY_LENGTH;
        req->content_length = f.length;
    }
    req->keep_alive = !f.conn_close && (req->minor == 1 || f.conn_keep_alive);
    return (int)p;
}

int fb_http_parse_request(const char *buf, size_t len, size_t prev_len, const fb_http_limits *lim,
                          fb_http_request *req)
{
    const unsigned char *u = (const unsigned char *)buf;
    size_t hs = 0; /* where the head starts, after empty lines */
    size_t scan_end = FB_MIN(len, lim->max_head);

    req->num_headers = 0;
    req->body = FB_HTTP_BODY_NONE;
    req->content_length = 0;
    req->host = NULL;
    req->host_len = 0;
    req->status = 0;
    while (hs + 1 < scan_end && u[hs] == '\r' && u[hs + 1] == '\n')
        hs += 2;
    size_t i = prev_len > 3 ? prev_len - 3 : 0;
    if (i < hs)
        i = hs;
    for (; i < scan_end; i++) {
        unsigned char c = u[i];
        if (c >= 0x20 && c != 0x7f)
            continue;
        if (c == '\n') {
            if (i == 0 || u[i - 1] != '\r')
                return reject(req, 400); /* bare LF */
            if (i >= hs + 4 && u[i - 2] == '\n' && u[i - 3] == '\r') {
                int r = parse_complete(buf + hs, i + 1 - hs, lim, req);
                return r < 0 ? r : (int)hs + r;
            }
        } else if (c == '\r') {
            if (i + 1 < len && u[i + 1] != '\n')
                return reject(req, 400); /* bare CR */
        } else if (c != '\t') {
            return reject(req, 400); /* a control byte can never be valid in a head */
        }
    }
    if (len < lim->max_head)
        return FB_EAGAIN;
    /* The head does not fit: blame the request line if even it has no end within the limit. */
    for (size_t j = hs; j + 1 < lim->max_head; j++)
        if (u[j] == '\r' && u[j + 1] == '\n')
            return reject(req, 431);
    return reject(req, 414);
}

void fb_http_chunked_init(fb_http_chunked *c, uint64_t max_total, uint32_t max_line)
{
    memset(c, 0, sizeof(*c));
    c->state = FB_CHUNK_SIZE;
    c->max_total = max_total;
    c->max_line = max_line;
}

static bool is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

int fb_http_chunked_next(fb_http_chunked *c, const char *buf, size_t len, size_t *consumed,
                         const char **data, size_t *data_len)
{
    const unsigned char *u = (const unsigned char *)buf;
    size_t i = 0;
    int rc = FB_EAGAIN;

    while (i < len && c->state != FB_CHUNK_DONE) {
        unsigned char ch = u[i];
        switch (c->state) {
        case FB_CHUNK_SIZE: {
            int h = fb_hexval(ch);
            if (h >= 0) {
                if (c->digits == 16) {
                    rc = FB_EPROTO; /* does not fit 64 bits */
                    goto out;
                }
                c->left = c->left << 4 | (uint64_t)h;
                c->digits++;
                i++;
                continue;
            }
            if (c->digits == 0) {
                rc = FB_EPROTO;
                goto out;
            }
            if (c->left > c->max_total - c->total) {
                rc = FB_E2BIG;
                goto out;
            }
            if (ch == '\r')
                c->state = FB_CHUNK_SIZE_LF;
            else if (ch == ';')
                c->state = FB_CHUNK_EXT;
            else if (is_ows((char)ch))
                c->state = FB_CHUNK_SIZE_WS;
            else {
                rc = FB_EPROTO;
                goto out;
            }
            c->line = 0;
            break;
        }
        case FB_CHUNK_SIZE_WS:
            if (ch == ';')
                c->state = FB_CHUNK_EXT;
            else if (!is_ows((char)ch)) {
                rc = FB_EPROTO;
                goto out;
            }
            if (++c->line > c->max_line) {
                rc = FB_E2BIG;
                goto out;
            }
            break;
        case FB_CHUNK_EXT:
            if (ch == '\r')
                c->state = FB_CHUNK_SIZE_LF;
            else if (is_ctl(ch)) {
                rc = FB_EPROTO;
                goto out;
            }
            if (++c->line > c->max_line) {
                rc = FB_E2BIG;
                goto out;
            }
            break;
        case FB_CHUNK_SIZE_LF:
            if (ch != '\n') {
                rc = FB_EPROTO;
                goto out;
            }
            if (c->left == 0) {
                c->state = FB_CHUNK_TRAILER;
                c->line = 0;
            } else {
                c->state = FB_CHUNK_DATA;
            }
            break;
        case FB_CHUNK_DATA: {
            size_t n = (size_t)FB_MIN((uint64_t)(len - i), c->left);
            *data = buf + i;
            *data_len = n;
            i += n;
            c->left -= n;
            c->total += n;
            if (c->left == 0)
                c->state = FB_CHUNK_DATA_CR;
            rc = 1;
            goto out;
        }
        case FB_CHUNK_DATA_CR:
            if (ch != '\r') {
                rc = FB_EPROTO;
                goto out;
            }
            c->state = FB_CHUNK_DATA_LF;
            break;
        case FB_CHUNK_DATA_LF:
            if (ch != '\n') {
                rc = FB_EPROTO;
                goto out;
            }
            c->state = FB_CHUNK_SIZE;
            c->digits = 0;
            c->left = 0;
            break;
        case FB_CHUNK_TRAILER:
            if (ch == '\r')
                c->state = FB_CHUNK_FINAL_LF;
            else if (is_tchar(ch))
                c->state = FB_CHUNK_TRAILER_LINE;
            else {
                rc = FB_EPROTO; /* obs-fold or garbage where a field name must start */
                goto out;
            }
            break;
        case FB_CHUNK_TRAILER_LINE:
            if (ch == ':')
                c->state = FB_CHUNK_TRAILER_VALUE;
            else if (!is_tchar(ch)) {
                rc = FB_EPROTO;
                goto out;
            }
            break;
        case FB_CHUNK_TRAILER_VALUE:
            if (ch == '\r')
                c->state = FB_CHUNK_TRAILER_LF;
            else if (is_ctl(ch)) {
                rc = FB_EPROTO;
                goto out;
            }
            break;
        case FB_CHUNK_TRAILER_LF:
            if (ch != '\n') {
                rc = FB_EPROTO;
                goto out;
            }
            c->state = FB_CHUNK_TRAILER;
            break;
        case FB_CHUNK_FINAL_LF:
            if (ch != '\n') {
                rc = FB_EPROTO;
                goto out;
            }
            c->state = FB_CHUNK_DONE;
            break;
        case FB_CHUNK_DONE:
            break;
        }
        if (c->state >= FB_CHUNK_TRAILER && c->state <= FB_CHUNK_FINAL_LF &&
            ++c->line > c->max_line) {
            rc = FB_E2BIG; /* the whole trailer section is capped */
            goto out;
        }
        i++;
    }
    if (c->state == FB_CHUNK_DONE)
        rc = 0;
out:
    *consumed = i;
    return rc;
}
