/* Range-set, entity-tag list and Accept-Encoding parsing, and the precedence of the conditional
 * headers. */
#include "core/http_cond.h"
#include "core/http_date.h"

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Reads 1*DIGIT at v[*i], saturating at UINT64_MAX. Returns false when there is no digit. */
static bool number(const char *v, size_t n, size_t *i, uint64_t *out)
{
    size_t s = *i;
    uint64_t x = 0;
    while (*i < n && v[*i] >= '0' && v[*i] <= '9') {
        uint64_t d = (uint64_t)(v[*i] - '0');
        x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
        (*i)++;
    }
    *out = x;
    return *i > s;
}

fb_range_result fb_http_range_parse(const char *v, size_t n, uint64_t size, uint64_t *first,
                                    uint64_t *last)
{
    size_t i = 0;
    unsigned parts = 0, good = 0;
    uint64_t f1 = 0, l1 = 0;

    if (n < 6 || !fb_http_ieq(v, 5, "bytes", 5) || v[5] != '=')
        return FB_RANGE_NONE;
    i = 6;
    for (;;) {
        while (i < n && (ows(v[i]) || v[i] == ','))
            i++;
        if (i == n)
            break;
        uint64_t a, b;
        bool satisfiable;
        if (v[i] == '-') {
            i++;
            if (!number(v, n, &i, &b))
                return FB_RANGE_NONE;
            satisfiable = b > 0 && size > 0;
            a = satisfiable ? size - FB_MIN(b, size) : 0;
            b = size - 1;
        } else {
            if (!number(v, n, &i, &a) || i == n || v[i] != '-')
                return FB_RANGE_NONE;
            i++;
            if (number(v, n, &i, &b)) {
                if (b < a)
                    return FB_RANGE_NONE;
            } else {
                b = UINT64_MAX;
            }
            satisfiable = a < size;
            if (satisfiable && b >= size)
                b = size - 1;
        }
        while (i < n && ows(v[i]))
            i++;
        if (i < n && v[i] != ',')
            return FB_RANGE_NONE;
        if (++parts > FB_RANGE_MAX_PARTS)
            return FB_RANGE_NONE;
        if (satisfiable && good++ == 0) {
            f1 = a;
            l1 = b;
        }
    }
    if (parts == 0)
        return FB_RANGE_NONE;
    if (good == 0)
        return FB_RANGE_UNSATISFIABLE;
    if (good > 1)
        return FB_RANGE_MULTI;
    *first = f1;
    *last = l1;
    return FB_RANGE_ONE;
}

bool fb_http_etag_match(const char *v, size_t n, const char *etag, size_t etag_len, bool weak_cmp)
{
    size_t i = 0;
    while (i < n && ows(v[i]))
        i++;
    if (i < n && v[i] == '*') {
        i++;
        while (i < n && ows(v[i]))
            i++;
        return i == n;
    }
    for (;;) {
        while (i < n && (ows(v[i]) || v[i] == ','))
            i++;
        if (i == n)
            return false;
        bool weak = false;
        if (n - i >= 2 && v[i] == 'W' && v[i + 1] == '/') {
            weak = true;
            i += 2;
        }
        if (i == n || v[i] != '"')
            return false;
        size_t s = i++;
        while (i < n && v[i] != '"') {
            unsigned char c = (unsigned char)v[i];
            if (c < 0x21 || c == 0x7f)
                return false;
            i++;
        }
        if (i == n)
            return false;
        i++;
        if ((weak_cmp || !weak) && i - s == etag_len && memcmp(v + s, etag, etag_len) == 0)
            return true;
        while (i < n && ows(v[i]))
            i++;
        if (i < n && v[i] != ',')
            return false;
    }
}

static bool tchar(char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    for (size_t i = 0; i + 1 < sizeof(extra); i++)
        if (c == extra[i])
            return true;
    return false;
}

static bool same_ci(const char *a, size_t n, const char *b)
{
    size_t i = 0;
    for (; i < n && b[i]; i++) {
        char c = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] - 'A' + 'a') : a[i];
        if (c != b[i])
            return false;
    }
    return i == n && b[i] == 0;
}

/* Reads a qvalue ("0", "0.5", "1.000") at v[*i]. Sets *nonzero when it is above 0. */
static bool qvalue(const char *v, size_t n, size_t *i, bool *nonzero)
{
    if (*i == n || (v[*i] != '0' && v[*i] != '1'))
        return false;
    bool one = v[*i] == '1';
    *nonzero = one;
    (*i)++;
    if (*i < n && v[*i] == '.') {
        (*i)++;
        for (int d = 0; d < 3 && *i < n && v[*i] >= '0' && v[*i] <= '9'; d++, (*i)++) {
            if (one && v[*i] != '0')
                return false;
            if (v[*i] != '0')
                *nonzero = true;
        }
    }
    return true;
}

bool fb_http_accepts_coding(const char *v, size_t n, const char *coding)
{
    size_t i = 0;
    int named = -1, star = -1; /* -1 unseen, 0 refused (q=0), 1 accepted */
    for (;;) {
        while (i < n && (ows(v[i]) || v[i] == ','))
            i++;
        if (i == n)
            break;
        size_t s = i;
        while (i < n && tchar(v[i]))
            i++;
        if (i == s)
            return false;
        size_t tl = i - s;
        bool ok = true;
        for (;;) { /* parameters: only the weight counts */
            while (i < n && ows(v[i]))
                i++;
            if (i == n || v[i] != ';')
                break;
            i++;
            while (i < n && ows(v[i]))
                i++;
            size_t ps = i;
            while (i < n && tchar(v[i]))
                i++;
            if (i == ps || i == n || v[i] != '=')
                return false;
            bool q = i - ps == 1 && (v[ps] == 'q' || v[ps] == 'Q');
            i++;
            if (q) {
                if (!qvalue(v, n, &i, &ok))
                    return false;
            } else {
                size_t vs = i;
                while (i < n && tchar(v[i]))
                    i++;
                if (i == vs)
                    return false;
            }
        }
        if (i < n && v[i] != ',')
            return false;
        if (same_ci(v + s, tl, coding) ||
            (same_ci(coding, strlen(coding), "gzip") && same_ci(v + s, tl, "x-gzip")))
            named = ok;
        else if (tl == 1 && v[s] == '*')
            star = ok;
    }
    return named >= 0 ? named == 1 : star == 1;
}

static bool header_date(const fb_http_header *h, int64_t now, int64_t *t)
{
    return h && fb_http_date_parse(h->value, h->value_len, now, t) == 0;
}

void fb_http_cond_eval(const fb_http_request *req, const fb_http_validators *v, int64_t now,
                       fb_http_cond *out)
{
    const fb_http_header *h;
    int64_t t;

    out->status = 200;
    out->first = 0;
    out->last = 0;
    h = fb_http_find_header(req, "if-match");
    if (h) {
        if (!fb_http_etag_match(h->value, h->value_len, v->etag, v->etag_len, false)) {
            out->status = 412;
            return;
        }
    } else if (header_date(fb_http_find_header(req, "if-unmodified-since"), now, &t) &&
               v->mtime > t) {
        out->status = 412;
        return;
    }
    h = fb_http_find_header(req, "if-none-match");
    if (h) {
        if (fb_http_etag_match(h->value, h->value_len, v->etag, v->etag_len, true)) {
            out->status = 304;
            return;
        }
    } else if (header_date(fb_http_find_header(req, "if-modified-since"), now, &t) &&
               v->mtime <= t) {
        out->status = 304;
        return;
    }
    if (req->meth != FB_HTTP_GET)
        return;
    h = fb_http_find_header(req, "range");
    if (!h)
        return;
    const fb_http_header *ir = fb_http_find_header(req, "if-range");
    if (ir) {
        /* An entity-tag must match strongly; a date must equal Last-Modified exactly. */
        bool ok = ir->value_len > 0 && (ir->value[0] == '"' || ir->value[0] == 'W')
                      ? fb_http_etag_match(ir->value, ir->value_len, v->etag, v->etag_len, false)
                      : header_date(ir, now, &t) && t == v->mtime;
        if (!ok)
            return;
    }
    switch (fb_http_range_parse(h->value, h->value_len, v->size, &out->first, &out->last)) {
    case FB_RANGE_ONE:
        out->status = 206;
        break;
    case FB_RANGE_UNSATISFIABLE:
        out->status = 416;
        break;
    default:
        break;
    }
}
