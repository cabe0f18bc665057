/* Embedded-object extraction from HTML. A small tokenizer that follows the HTML standard's
 * tokenization where it matters for finding resource URLs (comments, raw-text elements, quoting,
 * character references, first-attribute-wins), and a URL resolver that follows the URL
 * standard for http(s) (dot segments, backslashes, scheme-relative URLs, default ports). It
 * works in place in the caller's text buffer: no allocation, nothing beyond core/fbstd.h. */
#include "core/html_links.h"

/* ---- characters ---- */

static bool is_ws(int c) /* ASCII whitespace as the HTML standard defines it */
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* The first c in p[0..n), or NULL. (memchr is not among the functions core/ may use.) */
static const char *find_byte(const char *p, int c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == (char)c)
            return p + i;
    }
    return NULL;
}

/* True when a[0..n) equals the lower-case ASCII string b[0..n), ignoring ASCII case in a. */
static bool ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (lower((unsigned char)a[i]) != (unsigned char)b[i])
            return false;
    }
    return true;
}

static bool name_is(const char *name, size_t len, const char *want)
{
    size_t n = strlen(want);
    return len == n && ieq(name, want, n);
}

/* ---- decoded attribute values ---- */

/* A cursor over a raw attribute value that yields its decoded bytes: the character references
 * &amp; &lt; &gt; &quot; &apos; and numeric ones (&#38; &#x26;, the ';' optional) become their
 * UTF-8 bytes, and a NUL byte becomes U+FFFD, as the HTML tokenizer does. Other named
 * references stay as written. The struct is small: copy it to look ahead. */
typedef struct vcur {
    const char *p, *end;
    uint8_t pend[4]; /* bytes of a decoded character not yet returned */
    uint8_t npend;   /* bytes in pend */
    uint8_t ipend;   /* next one to return */
    bool entities;   /* decode character references */
} vcur;

static vcur vcur_make(const char *p, size_t n, bool entities)
{
    vcur c = {p, p + n, {0}, 0, 0, entities};
    return c;
}

static uint8_t utf8_put(uint8_t *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* Parses a character reference whose '&' precedes p, as the HTML tokenizer does inside an
 * attribute value. Returns the bytes it spans after the '&' and sets *cp, or returns 0 when there
 * is none (the '&' is then literal). amp, lt, gt and quot may omit their ';' unless an
 * alphanumeric or '=' follows (the legacy rule); every other named reference is left as
 * written. */
static size_t char_ref(const char *p, const char *end, uint32_t *cp)
{
    static const struct {
        const char *name;
        char ch;
        bool legacy; /* may appear without its ';' */
    } named[] = {{"amp", '&', true},
                 {"lt", '<', true},
                 {"gt", '>', true},
                 {"quot", '"', true},
                 {"apos", '\'', false}};
    size_t n = (size_t)(end - p);
    if (n >= 1 && p[0] == '#') {
        size_t i = 1, digits = 0;
        bool hex = i < n && (p[i] == 'x' || p[i] == 'X');
        uint32_t v = 0;
        if (hex)
            i++;
        for (; i < n; i++, digits++) {
            int d = hex ? fb_hexval((unsigned char)p[i]) : (is_digit(p[i]) ? p[i] - '0' : -1);
            if (d < 0)
                break;
            if (v <= 0x10ffff) /* past it the value is invalid anyway; this keeps it bounded */
                v = v * (hex ? 16 : 10) + (uint32_t)d;
        }
        if (digits == 0)
            return 0;
        if (i < n && p[i] == ';')
            i++;
        if (v == 0 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
            v = 0xfffd;
        *cp = v;
        return i;
    }
    for (size_t k = 0; k < FB_ARRAY_LEN(named); k++) {
        size_t len = strlen(named[k].name);
        if (n < len || memcmp(p, named[k].name, len) != 0)
            continue;
        if (n > len && p[len] == ';') {
            *cp = (uint32_t)(unsigned char)named[k].ch;
            return len + 1;
        }
        if (named[k].legacy &&
            (n == len || !(is_alpha(p[len]) || is_digit(p[len]) || p[len] == '='))) {
            *cp = (uint32_t)(unsigned char)named[k].ch;
            return len;
        }
        return 0;
    }
    return 0;
}

/* Returns the next decoded byte (0..255), or -1 at the end of the value. */
static int vcur_next(vcur *c)
{
    if (c->ipend < c->npend)
        return c->pend[c->ipend++];
    if (c->p >= c->end)
        return -1;
    uint8_t b = (uint8_t)*c->p++;
    uint32_t cp;
    if (b == 0) {
        cp = 0xfffd;
    } else if (b == '&' && c->entities) {
        size_t n = char_ref(c->p, c->end, &cp);
        if (n == 0)
            return b;
        c->p += n;
    } else {
        return b;
    }
    c->npend = utf8_put(c->pend, cp);
    c->ipend = 1;
    return c->pend[0];
}

/* The characters of one URL: at most `left` decoded bytes of a value, with ASCII tab and
 * newline removed and '\' read as '/', as the URL parser does for http(s) URLs. */
typedef struct ucur {
    vcur v;
    size_t left;
} ucur;

static int ucur_next(ucur *u)
{
    for (;;) {
        if (u->left == 0)
            return -1;
        int c = vcur_next(&u->v);
        if (c < 0)
            return -1;
        u->left--;
        if (c == '\t' || c == '\n' || c == '\r')
            continue;
        return c == '\\' ? '/' : c;
    }
}

static int ucur_peek(const ucur *u)
{
    ucur t = *u;
    return ucur_next(&t);
}

/* ---- the scan ---- */

typedef struct scan {
    fb_html_links *hl;
    bool has_origin;   /* an origin was given */
    bool https;        /* its scheme */
    const char *ohost; /* its host, as given */
    size_t ohost_len;
    unsigned oport;  /* its port (the scheme's default when not given) */
    size_t page_off; /* the normalized page path: text[page_off..+page_len) */
    size_t page_len;
    size_t base_off;       /* the base URL's path, page path or <base href>: text[base_off..] */
    size_t base_len;       /* its full length */
    size_t base_dir_len;   /* up to and including its last '/' */
    bool base_seen;        /* the first <base href> was met; later ones do not count */
    bool base_foreign;     /* the base is another origin: relative URLs are not ours */
    size_t template_depth; /* inside <template>: inert content, nothing is fetched */
    bool stop;             /* a cap was reached */
} scan;

/* Splits an authority "host[:port]" into the host's length and the port (the scheme's default
 * when absent or empty). False when it is not one we can compare: userinfo, bad port. */
static bool parse_authority(const char *a, size_t n, bool https, size_t *host_len, unsigned *port)
{
    size_t h;
    if (n == 0 || find_byte(a, '@', n) != NULL)
        return false;
    if (a[0] == '[') {
        const char *rb = find_byte(a, ']', n);
        if (rb == NULL)
            return false;
        h = (size_t)(rb - a) + 1;
    } else {
        const char *colon = find_byte(a, ':', n);
        h = colon != NULL ? (size_t)(colon - a) : n;
    }
    if (h == 0 || (h < n && a[h] != ':'))
        return false;
    unsigned v = https ? 443 : 80;
    if (h + 1 < n) {
        v = 0;
        for (size_t i = h + 1; i < n; i++) {
            if (!is_digit(a[i]))
                return false;
            v = v * 10 + (unsigned)(a[i] - '0');
            if (v > 65535)
                return false;
        }
    }
    *host_len = h;
    *port = v;
    return true;
}

static int parse_origin(scan *s, const char *o, size_t n)
{
    size_t i;
    if (n >= 7 && ieq(o, "http://", 7)) {
        s->https = false;
        i = 7;
    } else if (n >= 8 && ieq(o, "https://", 8)) {
        s->https = true;
        i = 8;
    } else {
        return FB_EINVAL;
    }
    size_t a_len = n - i;
    if (a_len > 0 && o[n - 1] == '/')
        a_len--;
    if (find_byte(o + i, '/', a_len) != NULL)
        return FB_EINVAL; /* a path beyond the trailing '/' */
    if (!parse_authority(o + i, a_len, s->https, &s->ohost_len, &s->oport))
        return FB_EINVAL;
    s->ohost = o + i;
    s->has_origin = true;
    return FB_OK;
}

static bool same_origin_authority(const scan *s, const char *a, size_t n)
{
    size_t h;
    unsigned port;
    if (!parse_authority(a, n, s->https, &h, &port))
        return false;
    if (h != s->ohost_len || port != s->oport)
        return false;
    for (size_t i = 0; i < h; i++) {
        if (lower((unsigned char)a[i]) != lower((unsigned char)s->ohost[i]))
            return false;
    }
    return true;
}

/* True for a path segment that the URL standard reads as "." or ".." (with %2e for '.'). */
static int dot_segment(const char *p, size_t n)
{
    size_t dots = 0, i = 0;
    while (i < n) {
        if (p[i] == '.') {
            i++;
        } else if (n - i >= 3 && p[i] == '%' && p[i + 1] == '2' && lower(p[i + 2]) == 'e') {
            i += 3;
        } else {
            return 0;
        }
        dots++;
    }
    return dots <= 2 ? (int)dots : 0;
}

/* Removes dot segments from the path p[0..n) (p[0] is '/') in place; never climbs above '/'.
 * Returns the new length. */
static size_t remove_dots(char *p, size_t n)
{
    size_t o = 1, i = 1;
    while (i <= n) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        bool last = j >= n;
        int dots = dot_segment(p + i, j - i);
        if (dots == 2 && o > 1) { /* drop the last output segment and its '/' */
            o--;
            while (o > 0 && p[o - 1] != '/')
                o--;
        }
        if (dots == 0) {
            memmove(p + o, p + i, j - i);
            o += j - i;
            if (!last)
                p[o++] = '/';
        }
        if (last)
            break;
        i = j + 1;
    }
    return o;
}

/* The outcome of resolving one URL. */
enum {
    R_PATH,    /* a same-origin path, in the free text after hl->text_len */
    R_SELF,    /* the base URL itself (empty, fragment-only or query-only URL) */
    R_FOREIGN, /* another origin, or a scheme other than http(s) */
    R_LONG,    /* same-origin, but longer than max_url */
    R_FULL,    /* the text buffer is full */
};

/* Bytes the URL standard percent-encodes in a path. */
static bool must_encode(int c)
{
    return c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '`' || c == '{' ||
           c == '}';
}

/* Resolves the URL read from `u` against the scan's base and writes its normalized path into
 * the free part of the text buffer (not yet committed). Sets *len on R_PATH. */
static int resolve(scan *s, ucur u, size_t *len)
{
    fb_html_links *hl = s->hl;
    enum { REL, QUERY, ABS, AUTH } kind;
    int c = ucur_peek(&u);
    while (c >= 0 && c <= 0x20) { /* leading C0 controls and spaces */
        ucur_next(&u);
        c = ucur_peek(&u);
    }
    if (c < 0 || c == '#')
        return R_SELF;

    ucur rest = u;
    bool scheme = false;
    char name[6];
    size_t name_len = 0;
    if (is_alpha(c)) {
        ucur t = u;
        for (;;) {
            int d = ucur_next(&t);
            if (d == ':') {
                scheme = true;
                break;
            }
            if (d < 0 || !(is_alpha(d) || is_digit(d) || d == '+' || d == '-' || d == '.'))
                break;
            if (name_len < sizeof(name))
                name[name_len] = (char)lower(d);
            name_len++;
        }
        if (scheme) {
            bool http = name_len == 4 && memcmp(name, "http", 4) == 0;
            bool https = name_len == 5 && memcmp(name, "https", 5) == 0;
            if (!(http || https) || !s->has_origin || https != s->https)
                return R_FOREIGN;
            rest = t;
        }
    }
    c = ucur_peek(&rest);
    if (c == '/') {
        ucur t = rest;
        ucur_next(&t);
        kind = ucur_peek(&t) == '/' ? AUTH : ABS;
    } else if (c == '#' || c < 0) {
        return R_SELF; /* "http:" alone names the base */
    } else {
        kind = c == '?' ? QUERY : REL;
    }

    if (kind == AUTH) {
        char auth[256];
        size_t n = 0;
        if (!s->has_origin)
            return R_FOREIGN;
        while (ucur_peek(&rest) == '/')
            ucur_next(&rest);
        for (;;) {
            int d = ucur_peek(&rest);
            if (d < 0 || d == '/' || d == '?' || d == '#')
                break;
            if (n == sizeof(auth))
                return R_FOREIGN; /* far longer than any origin we could be */
            auth[n++] = (char)d;
            ucur_next(&rest);
        }
        if (!same_origin_authority(s, auth, n))
            return R_FOREIGN;
    } else if (s->base_foreign) {
        return R_FOREIGN;
    }

    size_t room = hl->text_cap - hl->text_len;
    size_t cap = room > 0 ? room - 1 : 0; /* one byte for the NUL */
    bool full_limited = cap < hl->max_url;
    if (!full_limited)
        cap = hl->max_url;
    char *out = hl->text + hl->text_len;
    size_t n = 0;

    if (kind == REL || kind == QUERY) {
        size_t pre = kind == REL ? s->base_dir_len : s->base_len;
        if (pre > cap)
            return full_limited ? R_FULL : R_LONG;
        memcpy(out, hl->text + s->base_off, pre);
        n = pre;
    } else if (kind == AUTH && ucur_peek(&rest) != '/') {
        if (cap < 1)
            return full_limited ? R_FULL : R_LONG;
        out[n++] = '/';
    }

    /* The path, up to the query or fragment, which are dropped (the origin serves files). A
     * trailing run of C0 controls and spaces is trimmed; inside, they are percent-encoded. */
    bool over = false;      /* a byte did not fit */
    size_t mark = SIZE_MAX; /* where the current run of C0 controls and spaces began */
    for (;;) {
        int d = ucur_next(&rest);
        if (d == '?' || d == '#') {
            if (over) /* the spaces before it were not trailing after all */
                return full_limited ? R_FULL : R_LONG;
            mark = SIZE_MAX;
            break;
        }
        if (d < 0)
            break;
        bool space = d <= 0x20;
        if (!space) {
            if (over)
                return full_limited ? R_FULL : R_LONG;
            mark = SIZE_MAX;
        } else if (mark == SIZE_MAX) {
            mark = n;
        }
        if (over)
            continue; /* only spaces since the overflow: they may turn out to be trailing */
        if (must_encode(d)) {
            static const char hex[] = "0123456789ABCDEF";
            if (cap - n < 3) {
                over = true;
                if (!space)
                    return full_limited ? R_FULL : R_LONG;
                continue;
            }
            out[n++] = '%';
            out[n++] = hex[d >> 4];
            out[n++] = hex[d & 15];
        } else {
            if (cap - n < 1)
                return full_limited ? R_FULL : R_LONG;
            out[n++] = (char)d;
        }
    }
    if (mark != SIZE_MAX)
        n = mark;
    if (n == 0)
        return R_SELF; /* unreachable for a path; kept as a guard */
    *len = remove_dots(out, n);
    return R_PATH;
}

/* resolve(), and what its failures cost the scan: a full text buffer ends it (the list is marked
 * truncated), a same-origin URL over max_url is counted. */
static int resolve_counted(scan *s, ucur u, size_t *len)
{
    int r = resolve(s, u, len);
    if (r == R_FULL) {
        s->hl->truncated = true;
        s->stop = true;
    } else if (r == R_LONG) {
        s->hl->too_long++;
    }
    return r;
}

/* Adds the URL read from `u` to the list unless it is foreign, the page itself or already
 * listed. Stops the scan when a cap is reached. */
static void emit(scan *s, ucur u)
{
    fb_html_links *hl = s->hl;
    size_t n = 0;
    if (s->stop || s->template_depth > 0)
        return;
    int r = resolve_counted(s, u, &n);
    if (r != R_PATH)
        return;
    char *out = hl->text + hl->text_len;
    if (n == s->page_len && memcmp(out, hl->text + s->page_off, n) == 0)
        return;
    for (size_t i = 0; i < hl->count; i++) {
        if (hl->links[i].len == n && memcmp(hl->links[i].path, out, n) == 0)
            return;
    }
    if (hl->count == hl->max_links) {
        hl->truncated = true;
        s->stop = true;
        return;
    }
    out[n] = '\0';
    hl->links[hl->count].path = out;
    hl->links[hl->count].len = n;
    hl->count++;
    hl->text_len += n + 1;
}

static void emit_value(scan *s, const char *v, size_t n)
{
    ucur u = {vcur_make(v, n, true), SIZE_MAX};
    emit(s, u);
}

/* Emits every candidate URL of a srcset value: candidates are separated by commas; a URL is a
 * run of non-whitespace (trailing commas end it); descriptors run to a comma outside
 * parentheses. */
static void emit_srcset(scan *s, const char *v, size_t n)
{
    vcur c = vcur_make(v, n, true);
    for (;;) {
        vcur start;
        int ch;
        do {
            start = c;
            ch = vcur_next(&c);
        } while (ch >= 0 && (is_ws(ch) || ch == ','));
        if (ch < 0)
            return;
        size_t len = 1, commas = 0;
        for (;;) {
            vcur t = c;
            int d = vcur_next(&t);
            if (d < 0 || is_ws(d))
                break;
            c = t;
            len++;
            commas = d == ',' ? commas + 1 : 0;
        }
        ucur u = {start, len - commas};
        emit(s, u);
        if (commas > 0)
            continue;
        bool paren = false;
        for (;;) {
            int d = vcur_next(&c);
            if (d < 0 || (d == ',' && !paren))
                break;
            if (d == '(')
                paren = true;
            else if (d == ')')
                paren = false;
        }
    }
}

/* Sets the base URL from the first <base href>. A foreign or unresolvable base makes every
 * relative URL after it foreign. */
static void set_base(scan *s, const char *v, size_t n)
{
    fb_html_links *hl = s->hl;
    size_t len = 0;
    ucur u = {vcur_make(v, n, true), SIZE_MAX};
    s->base_seen = true;
    int r = resolve_counted(s, u, &len);
    if (r == R_FULL || r == R_SELF)
        return;
    if (r != R_PATH) {
        s->base_foreign = true;
        return;
    }
    s->base_off = hl->text_len;
    s->base_len = len;
    s->base_dir_len = len;
    while (hl->text[s->base_off + s->base_dir_len - 1] != '/')
        s->base_dir_len--;
    hl->text[s->base_off + len] = '\0';
    hl->text_len += len + 1;
}

/* True when the rel value names a relation whose target the browser fetches to show the page:
 * stylesheet, icon, apple-touch-icon(-precomposed), preload, modulepreload. */
static bool rel_embeds(const char *v, size_t n)
{
    static const char *const wanted[] = {"stylesheet",       "icon",
                                         "apple-touch-icon", "apple-touch-icon-precomposed",
                                         "preload",          "modulepreload"};
    vcur c = vcur_make(v, n, true);
    int ch = vcur_next(&c);
    for (;;) {
        char tok[32];
        size_t len = 0;
        while (ch >= 0 && is_ws(ch))
            ch = vcur_next(&c);
        if (ch < 0)
            return false;
        while (ch >= 0 && !is_ws(ch)) {
            if (len < sizeof(tok))
                tok[len] = (char)lower(ch);
            len++;
            ch = vcur_next(&c);
        }
        for (size_t i = 0; i < FB_ARRAY_LEN(wanted); i++) {
            if (len == strlen(wanted[i]) && memcmp(tok, wanted[i], len) == 0)
                return true;
        }
    }
}

/* ---- the tokenizer ---- */

enum { A_SRC, A_SRCSET, A_HREF, A_REL, A_POSTER, A_IMAGESRCSET, A_COUNT };
static const char *const attr_names[A_COUNT] = {"src", "srcset", "href",
                                                "rel", "poster", "imagesrcset"};

typedef struct attr {
    const char *v; /* raw value, undecoded; "" for an attribute without a value */
    size_t n;
    bool set;
} attr;

/* Reads a tag's attributes from p (just past its name) to its '>'. Records the first occurrence
 * of each attribute in attr_names (later duplicates are ignored, as browsers do) when `attrs`
 * is not NULL. Returns the position after the '>', or NULL when the input ends inside the tag
 * (a browser drops such a tag). */
static const char *tag_attrs(const char *p, const char *end, attr *attrs)
{
    for (;;) {
        while (p < end && (is_ws(*p) || *p == '/'))
            p++;
        if (p >= end)
            return NULL;
        if (*p == '>')
            return p + 1;
        const char *name = p++; /* the first character may be anything, even '=' */
        while (p < end && !is_ws(*p) && *p != '/' && *p != '>' && *p != '=')
            p++;
        size_t name_len = (size_t)(p - name);
        while (p < end && is_ws(*p))
            p++;
        const char *v = "";
        size_t vn = 0;
        if (p < end && *p == '=') {
            p++;
            while (p < end && is_ws(*p))
                p++;
            if (p >= end)
                return NULL;
            if (*p == '"' || *p == '\'') {
                const char *close = find_byte(p + 1, *p, (size_t)(end - p - 1));
                if (close == NULL)
                    return NULL;
                v = p + 1;
                vn = (size_t)(close - v);
                p = close + 1;
            } else if (*p != '>') {
                v = p;
                while (p < end && !is_ws(*p) && *p != '>')
                    p++;
                vn = (size_t)(p - v);
            }
        }
        for (size_t i = 0; attrs != NULL && i < A_COUNT; i++) {
            if (!attrs[i].set && name_is(name, name_len, attr_names[i])) {
                attrs[i].v = v;
                attrs[i].n = vn;
                attrs[i].set = true;
            }
        }
    }
}

/* Elements whose content is raw text or escapable raw text (no tags inside), and <noscript>,
 * whose content a browser with scripting enabled treats as raw text too. */
static bool is_raw_text(const char *name, size_t n)
{
    static const char *const raw[] = {"script", "style",   "textarea", "title",   "xmp",
                                      "iframe", "noembed", "noframes", "noscript"};
    for (size_t i = 0; i < FB_ARRAY_LEN(raw); i++) {
        if (name_is(name, n, raw[i]))
            return true;
    }
    return false;
}

/* Returns the position of the end tag "</name" (followed by whitespace, '/', '>' or the end of
 * the input) that closes a raw-text element, or `end` when there is none. */
static const char *skip_raw_text(const char *p, const char *end, const char *name, size_t n)
{
    while (p < end) {
        const char *lt = find_byte(p, '<', (size_t)(end - p));
        if (lt == NULL)
            return end;
        if ((size_t)(end - lt) >= n + 2 && lt[1] == '/') {
            bool match = true;
            for (size_t i = 0; i < n && match; i++)
                match = lower((unsigned char)lt[2 + i]) == lower((unsigned char)name[i]);
            const char *after = lt + 2 + n;
            if (match && (after == end || is_ws(*after) || *after == '/' || *after == '>'))
                return lt;
        }
        p = lt + 1;
    }
    return end;
}

/* Returns the position after a comment whose "<!--" ends just before p. */
static const char *skip_comment(const char *p, const char *end)
{
    if (p < end && *p == '>')
        return p + 1; /* "<!-->" */
    if (end - p >= 2 && p[0] == '-' && p[1] == '>')
        return p + 2; /* "<!--->" */
    for (const char *q = p; end - q >= 3; q++) {
        if (q[0] == '-' && q[1] == '-') {
            if (q[2] == '>')
                return q + 3;
            if (end - q >= 4 && q[2] == '!' && q[3] == '>')
                return q + 4;
        }
    }
    return end;
}

static const char *skip_to_gt(const char *p, const char *end)
{
    const char *gt = find_byte(p, '>', (size_t)(end - p));
    return gt != NULL ? gt + 1 : end;
}

static void start_tag(scan *s, const char *name, size_t n, const attr *a)
{
    if (name_is(name, n, "template")) {
        s->template_depth++;
        return;
    }
    if (s->template_depth > 0)
        return;
    if (name_is(name, n, "img")) {
        if (a[A_SRC].set)
            emit_value(s, a[A_SRC].v, a[A_SRC].n);
        if (a[A_SRCSET].set)
            emit_srcset(s, a[A_SRCSET].v, a[A_SRCSET].n);
    } else if (name_is(name, n, "source")) {
        if (a[A_SRCSET].set)
            emit_srcset(s, a[A_SRCSET].v, a[A_SRCSET].n);
    } else if (name_is(name, n, "script")) {
        if (a[A_SRC].set)
            emit_value(s, a[A_SRC].v, a[A_SRC].n);
    } else if (name_is(name, n, "video")) {
        if (a[A_POSTER].set)
            emit_value(s, a[A_POSTER].v, a[A_POSTER].n);
    } else if (name_is(name, n, "link")) {
        if (!a[A_REL].set || !rel_embeds(a[A_REL].v, a[A_REL].n))
            return;
        if (a[A_HREF].set)
            emit_value(s, a[A_HREF].v, a[A_HREF].n);
        if (a[A_IMAGESRCSET].set)
            emit_srcset(s, a[A_IMAGESRCSET].v, a[A_IMAGESRCSET].n);
    } else if (name_is(name, n, "base")) {
        if (!s->base_seen && a[A_HREF].set)
            set_base(s, a[A_HREF].v, a[A_HREF].n);
    }
}

/* Walks the document: text, comments, doctype and processing instructions are skipped, start
 * tags are handed to start_tag, raw-text content is skipped to its end tag. */
static void tokenize(scan *s, const char *p, const char *end)
{
    while (p < end && !s->stop) {
        const char *lt = find_byte(p, '<', (size_t)(end - p));
        if (lt == NULL)
            return;
        p = lt + 1;
        if (p >= end)
            return;
        if (*p == '!') {
            if (end - p >= 3 && p[1] == '-' && p[2] == '-')
                p = skip_comment(p + 3, end);
            else
                p = skip_to_gt(p, end); /* doctype, CDATA outside foreign content */
        } else if (*p == '?') {
            p = skip_to_gt(p, end);
        } else if (*p == '/') {
            p++;
            if (p < end && is_alpha(*p)) {
                const char *name = p;
                while (p < end && !is_ws(*p) && *p != '/' && *p != '>')
                    p++;
                size_t n = (size_t)(p - name);
                p = tag_attrs(p, end, NULL);
                if (p == NULL)
                    return;
                if (name_is(name, n, "template") && s->template_depth > 0)
                    s->template_depth--;
            } else if (p < end && *p == '>') {
                p++; /* "</>" is ignored */
            } else {
                p = skip_to_gt(p, end);
            }
        } else if (is_alpha(*p)) {
            attr a[A_COUNT] = {{0}};
            const char *name = p;
            while (p < end && !is_ws(*p) && *p != '/' && *p != '>')
                p++;
            size_t n = (size_t)(p - name);
            p = tag_attrs(p, end, a);
            if (p == NULL)
                return;
            start_tag(s, name, n, a);
            if (name_is(name, n, "plaintext"))
                return;
            if (is_raw_text(name, n))
                p = skip_raw_text(p, end, name, n);
        }
        /* anything else: the '<' was text */
    }
}

void fb_html_links_init(fb_html_links *hl, fb_html_link *links, size_t max_links, char *text,
                        size_t text_cap, size_t max_url)
{
    memset(hl, 0, sizeof(*hl));
    hl->links = links;
    hl->max_links = max_links;
    hl->text = text;
    hl->text_cap = text_cap;
    hl->max_url = max_url;
}

int fb_html_links_scan(fb_html_links *hl, const char *html, size_t len, const char *page_path,
                       size_t page_len, const char *origin, size_t origin_len)
{
    scan s;
    memset(&s, 0, sizeof(s));
    s.hl = hl;
    hl->count = 0;
    hl->text_len = 0;
    hl->too_long = 0;
    hl->truncated = false;
    if (origin != NULL) {
        int rc = parse_origin(&s, origin, origin_len);
        if (rc < 0)
            return rc;
    }
    if (page_len == 0 || page_path[0] != '/' || find_byte(page_path, '\0', page_len) != NULL)
        return FB_EINVAL;

    /* The page path, without query or fragment and with dot segments removed, is the first
     * base and what "the page itself" means. */
    size_t n = 0;
    while (n < page_len && page_path[n] != '?' && page_path[n] != '#')
        n++;
    if (n > hl->max_url || n >= hl->text_cap)
        return FB_E2BIG;
    memcpy(hl->text, page_path, n);
    n = remove_dots(hl->text, n);
    hl->text[n] = '\0';
    hl->text_len = n + 1;
    s.page_off = 0;
    s.page_len = n;
    s.base_off = 0;
    s.base_len = n;
    s.base_dir_len = n;
    while (hl->text[s.base_dir_len - 1] != '/')
        s.base_dir_len--;

    tokenize(&s, html, html + len);
    return hl->truncated || hl->too_long > 0 ? FB_ENOSPC : FB_OK;
}
