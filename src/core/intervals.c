/* Interval sets over chunk indices and their wire form (see intervals.h). The set is a sorted
 * array, so lookups are binary searches and an insertion moves at most the tail of the array. */
#include "core/intervals.h"

void fb_ivset_init(fb_ivset *s, fb_iv *storage, uint32_t cap)
{
    s->v = storage;
    s->cap = cap;
    s->n = 0;
    s->count = 0;
}

void fb_ivset_clear(fb_ivset *s)
{
    s->n = 0;
    s->count = 0;
}

/* Index of the first interval whose end >= x (n if none). */
static uint32_t first_end_ge(const fb_ivset *s, uint64_t x)
{
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].end >= x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Index of the first interval whose start > x (n if none). */
static uint32_t first_start_gt(const fb_ivset *s, uint64_t x)
{
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].start > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

int fb_ivset_add(fb_ivset *s, uint32_t start, uint32_t end)
{
    if (start >= end)
        return FB_EINVAL;
    uint32_t i = first_end_ge(s, start); /* touches or overlaps from the left */
    uint32_t j = first_start_gt(s, end); /* first one strictly after */
    if (i == j) {
        if (s->n >= s->cap)
            return FB_ENOSPC;
        memmove(&s->v[i + 1], &s->v[i], (size_t)(s->n - i) * sizeof(fb_iv));
        s->v[i].start = start;
        s->v[i].end = end;
        s->n++;
        s->count += end - start;
        return 0;
    }
    uint64_t removed = 0;
    for (uint32_t k = i; k < j; k++)
        removed += s->v[k].end - s->v[k].start;
    uint32_t ns = FB_MIN(start, s->v[i].start);
    uint32_t ne = FB_MAX(end, s->v[j - 1].end);
    s->v[i].start = ns;
    s->v[i].end = ne;
    if (j - i > 1) {
        memmove(&s->v[i + 1], &s->v[j], (size_t)(s->n - j) * sizeof(fb_iv));
        s->n -= j - i - 1;
    }
    s->count = s->count - removed + (ne - ns);
    return 0;
}

int fb_ivset_add_lossy(fb_ivset *s, uint32_t start, uint32_t end)
{
    int rc = fb_ivset_add(s, start, end);
    if (rc != FB_ENOSPC)
        return rc;
    /* Forget the shortest interval, unless the new one is shorter still (then forget it). */
    uint32_t best = 0;
    for (uint32_t k = 1; k < s->n; k++)
        if (s->v[k].end - s->v[k].start < s->v[best].end - s->v[best].start)
            best = k;
    if (end - start <= s->v[best].end - s->v[best].start)
        return 0;
    s->count -= s->v[best].end - s->v[best].start;
    memmove(&s->v[best], &s->v[best + 1], (size_t)(s->n - best - 1) * sizeof(fb_iv));
    s->n--;
    return fb_ivset_add(s, start, end);
}

int fb_ivset_remove(fb_ivset *s, uint32_t start, uint32_t end)
{
    if (start >= end)
        return FB_EINVAL;
    uint32_t i = first_end_ge(s, (uint64_t)start + 1); /* first with end > start */
    if (i >= s->n || s->v[i].start >= end)
        return 0;
    if (s->v[i].start < start && s->v[i].end > end) { /* split in two */
        if (s->n >= s->cap)
            return FB_ENOSPC;
        memmove(&s->v[i + 1], &s->v[i], (size_t)(s->n - i) * sizeof(fb_iv));
        s->n++;
        s->v[i].end = start;
        s->v[i + 1].start = end;
        s->count -= end - start;
        return 0;
    }
    uint32_t k = i;
    if (s->v[k].start < start) { /* trim the right part of the first one */
        s->count -= s->v[k].end - start;
        s->v[k].end = start;
        k++;
    }
    uint32_t del0 = k;
    while (k < s->n && s->v[k].end <= end) {
        s->count -= s->v[k].end - s->v[k].start;
        k++;
    }
    if (k < s->n && s->v[k].start < end) { /* trim the left part of the last one */
        s->count -= end - s->v[k].start;
        s->v[k].start = end;
    }
    if (k > del0) {
        memmove(&s->v[del0], &s->v[k], (size_t)(s->n - k) * sizeof(fb_iv));
        s->n -= k - del0;
    }
    return 0;
}

bool fb_ivset_contains(const fb_ivset *s, uint32_t x)
{
    uint32_t i = first_end_ge(s, (uint64_t)x + 1);
    return i < s->n && s->v[i].start <= x;
}

bool fb_ivset_next_in(const fb_ivset *s, uint32_t x, uint32_t *out)
{
    uint32_t i = first_end_ge(s, (uint64_t)x + 1);
    if (i >= s->n)
        return false;
    *out = FB_MAX(x, s->v[i].start);
    return true;
}

bool fb_ivset_next_missing(const fb_ivset *s, uint32_t x, uint32_t limit, uint32_t *out)
{
    if (x >= limit)
        return false;
    uint32_t i = first_end_ge(s, (uint64_t)x + 1);
    if (i < s->n && s->v[i].start <= x)
        x = s->v[i].end; /* intervals never touch, so the end is missing */
    if (x >= limit)
        return false;
    *out = x;
    return true;
}

uint64_t fb_ivset_count_range(const fb_ivset *s, uint32_t start, uint32_t end)
{
    uint64_t c = 0;
    if (start >= end)
        return 0;
    for (uint32_t i = first_end_ge(s, (uint64_t)start + 1); i < s->n && s->v[i].start < end; i++) {
        uint32_t a = FB_MAX(start, s->v[i].start), b = FB_MIN(end, s->v[i].end);
        c += b - a;
    }
    return c;
}

uint64_t fb_ivset_count_inter(const fb_ivset *a, const fb_ivset *b)
{
    uint64_t c = 0;
    uint32_t i = 0, j = 0;
    while (i < a->n && j < b->n) {
        uint32_t lo = FB_MAX(a->v[i].start, b->v[j].start);
        uint32_t hi = FB_MIN(a->v[i].end, b->v[j].end);
        if (lo < hi)
            c += hi - lo;
        if (a->v[i].end < b->v[j].end)
            i++;
        else
            j++;
    }
    return c;
}

uint64_t fb_ivset_count_diff(const fb_ivset *a, const fb_ivset *b)
{
    return a->count - fb_ivset_count_inter(a, b);
}

size_t fb_varint_put(uint8_t *p, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

size_t fb_varint_get(const uint8_t *p, size_t len, uint32_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < len && i < 5; i++) {
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            if (x > UINT32_MAX)
                return 0;
            *v = (uint32_t)x;
            return i + 1;
        }
    }
    return 0;
}

/* Number of intervals of s with length >= L. */
static uint32_t count_len_ge(const fb_ivset *s, uint32_t L)
{
    uint32_t c = 0;
    for (uint32_t i = 0; i < s->n; i++)
        c += s->v[i].end - s->v[i].start >= L;
    return c;
}

/* Writes the k longest intervals (ties: lower start) in start order. Returns bytes written, or
 * -1 if they do not fit in cap. */
static int encode_k(const fb_ivset *s, uint8_t *buf, size_t cap, uint32_t k, uint64_t *covered)
{
    /* Threshold T: the largest length with at least k intervals of length >= T. Every interval
     * longer than T goes in, then the first ones of length exactly T until k are chosen. */
    uint32_t T = 1;
    if (k < s->n) {
        uint32_t lo = 1, hi = 0;
        for (uint32_t i = 0; i < s->n; i++)
            hi = FB_MAX(hi, s->v[i].end - s->v[i].start);
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo + 1) / 2;
            if (count_len_ge(s, mid) >= k)
                lo = mid;
            else
                hi = mid - 1;
        }
        T = lo;
    }
    uint32_t above = k < s->n ? count_len_ge(s, T + 1) : 0;
    uint32_t eq_left = k < s->n ? k - above : 0;
    size_t off = 2;
    uint64_t prev = 0, cov = 0;
    uint32_t written = 0;
    for (uint32_t i = 0; i < s->n && written < k; i++) {
        uint32_t len = s->v[i].end - s->v[i].start;
        if (k < s->n) {
            if (len < T)
                continue;
            if (len == T) {
                if (!eq_left)
                    continue;
                eq_left--;
            }
        }
        if (off + FB_IV_WIRE_MAX_PAIR > cap) {
            uint8_t tmp[FB_IV_WIRE_MAX_PAIR];
            size_t m = fb_varint_put(tmp, (uint32_t)(s->v[i].start - prev));
            m += fb_varint_put(tmp + m, len - 1);
            if (off + m > cap)
                return -1;
            memcpy(buf + off, tmp, m);
            off += m;
        } else {
            off += fb_varint_put(buf + off, (uint32_t)(s->v[i].start - prev));
            off += fb_varint_put(buf + off, len - 1);
        }
        prev = s->v[i].end;
        cov += len;
        written++;
    }
    buf[0] = (uint8_t)(written >> 8);
    buf[1] = (uint8_t)written;
    if (covered)
        *covered = cov;
    return (int)off;
}

int fb_ivset_encode(const fb_ivset *s, uint8_t *buf, size_t cap, uint32_t max_k, uint64_t *covered)
{
    if (cap < 2)
        return FB_E2BIG;
    uint32_t k = FB_MIN(FB_MIN(max_k, s->n), 0xffffu);
    for (;;) {
        int rc = encode_k(s, buf, cap, k, covered);
        if (rc >= 0)
            return rc;
        /* A pair takes at least 2 bytes, so at most (cap - 2) / 2 fit. */
        uint32_t fit = (uint32_t)((cap - 2) / 2);
        k = k > fit ? fit : k - 1;
    }
}

int fb_ivwire_check(const uint8_t *buf, size_t len, uint64_t limit)
{
    if (len < 2)
        return FB_EINVAL;
    uint32_t n = (uint32_t)buf[0] << 8 | buf[1];
    size_t off = 2;
    uint64_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t gap, lm1;
        size_t m = fb_varint_get(buf + off, len - off, &gap);
        if (!m)
            return FB_EINVAL;
        off += m;
        m = fb_varint_get(buf + off, len - off, &lm1);
        if (!m)
            return FB_EINVAL;
        off += m;
        if (i > 0 && gap == 0)
            return FB_EINVAL;
        uint64_t start = prev + gap, end = start + (uint64_t)lm1 + 1;
        if (end > limit || end > UINT32_MAX)
            return FB_EINVAL;
        prev = end;
    }
    return (int)off;
}

void fb_ivwire_begin(fb_ivwire *w, const uint8_t *buf, size_t len)
{
    w->p = buf;
    w->len = len;
    w->off = 2;
    w->left = len >= 2 ? ((uint32_t)buf[0] << 8 | buf[1]) : 0;
    w->prev = 0;
    w->first = true;
}

bool fb_ivwire_next(fb_ivwire *w, uint32_t *start, uint32_t *end)
{
    uint32_t gap, lm1;
    if (!w->left)
        return false;
    size_t m = fb_varint_get(w->p + w->off, w->len - w->off, &gap);
    if (!m)
        return false;
    w->off += m;
    m = fb_varint_get(w->p + w->off, w->len - w->off, &lm1);
    if (!m)
        return false;
    w->off += m;
    uint64_t s = w->prev + gap, e = s + (uint64_t)lm1 + 1;
    if (e > UINT32_MAX || (!w->first && gap == 0))
        return false;
    w->first = false;
    w->left--;
    w->prev = e;
    *start = (uint32_t)s;
    *end = (uint32_t)e;
    return true;
}
