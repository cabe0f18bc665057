/* Calendar conversion by day counting over 400-year eras (146097 days each), shifted so that the
 * year starts in March and the leap day falls at its end. */
#include "core/http_date.h"

static const char wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const wdays_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                          "Thursday", "Friday", "Saturday"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of the date y-m-d. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* 0..399 */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365, from March */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* 0..146096 */
    return era * 146097 + doe - 719468;
}

void fb_civil_from_time(int64_t t, fb_civil *c)
{
    if (t < 0)
        t = 0;
    if (t > FB_HTTP_DATE_MAX)
        t = FB_HTTP_DATE_MAX;
    int64_t days = t / 86400, secs = t % 86400;
    c->hour = (int)(secs / 3600);
    c->min = (int)(secs / 60 % 60);
    c->sec = (int)(secs % 60);
    c->wday = (int)((days + 4) % 7); /* 1970-01-01 was a Thursday */
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    c->year = (int)(yoe + era * 400 + (c->month <= 2));
}

static char *put2(char *p, int v)
{
    *p++ = (char)('0' + v / 10 % 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

static char *put4(char *p, int v)
{
    p = put2(p, v / 100);
    return put2(p, v % 100);
}

/* Writes "DD" sep "Mon" sep "YYYY" (11 bytes) at p; returns the end. */
static char *put_date(char *p, const fb_civil *c, char sep)
{
    p = put2(p, c->day);
    *p++ = sep;
    memcpy(p, months[c->month - 1], 3);
    p += 3;
    *p++ = sep;
    return put4(p, c->year);
}

/* Writes "HH:MM:SS" (8 bytes) at p; returns the end. */
static char *put_time(char *p, const fb_civil *c)
{
    p = put2(p, c->hour);
    *p++ = ':';
    p = put2(p, c->min);
    *p++ = ':';
    return put2(p, c->sec);
}

void fb_http_date_format(int64_t t, char out[FB_HTTP_DATE_LEN + 1])
{
    fb_civil c;
    fb_civil_from_time(t, &c);
    char *p = out;
    memcpy(p, wdays[c.wday], 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    p = put_date(p, &c, ' ');
    *p++ = ' ';
    p = put_time(p, &c);
    memcpy(p, " GMT", 5);
}

void fb_http_date_format_log(int64_t t, char out[FB_HTTP_LOGDATE_LEN + 1])
{
    fb_civil c;
    fb_civil_from_time(t, &c);
    char *p = put_date(out, &c, '/');
    *p++ = ':';
    p = put_time(p, &c);
    memcpy(p, " +0000", 7);
}

/* A cursor over the input; every helper fails once anything does not match. */
typedef struct cur {
    const char *s;
    size_t n, i;
    bool ok;
} cur;

static void lit(cur *c, const char *l)
{
    size_t k = strlen(l);
    if (!c->ok || c->n - c->i < k || memcmp(c->s + c->i, l, k) != 0) {
        c->ok = false;
        return;
    }
    c->i += k;
}

static int digits(cur *c, size_t k)
{
    int v = 0;
    if (!c->ok || c->n - c->i < k) {
        c->ok = false;
        return 0;
    }
    for (size_t j = 0; j < k; j++) {
        char ch = c->s[c->i + j];
        if (ch < '0' || ch > '9') {
            c->ok = false;
            return 0;
        }
        v = v * 10 + (ch - '0');
    }
    c->i += k;
    return v;
}

static int month(cur *c)
{
    if (!c->ok || c->n - c->i < 3) {
        c->ok = false;
        return 0;
    }
    for (int m = 0; m < 12; m++) {
        if (memcmp(c->s + c->i, months[m], 3) == 0) {
            c->i += 3;
            return m + 1;
        }
    }
    c->ok = false;
    return 0;
}

/* day-name (short) or day-name-l (long); which one is allowed depends on the format. */
static bool day_name(cur *c, bool long_form)
{
    for (int d = 0; d < 7; d++) {
        const char *name = long_form ? wdays_long[d] : wdays[d];
        size_t k = strlen(name);
        if (c->n - c->i >= k && memcmp(c->s + c->i, name, k) == 0) {
            c->i += k;
            return true;
        }
    }
    return false;
}

static void time_of_day(cur *c, int *h, int *m, int *s)
{
    *h = digits(c, 2);
    lit(c, ":");
    *m = digits(c, 2);
    lit(c, ":");
    *s = digits(c, 2);
}

static bool valid(int y, int mo, int d, int h, int mi, int s)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || s > 60)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(mo == 2 && d == 29 && !leap);
}

int fb_http_date_parse(const char *s, size_t len, int64_t now, int64_t *t)
{
    cur c = {s, len, 0, true};
    int y, mo, d, h, mi, sec;

    if (day_name(&c, false) && c.i < len && s[c.i] == ',') {
        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        lit(&c, ", ");
        d = digits(&c, 2);
        lit(&c, " ");
        mo = month(&c);
        lit(&c, " ");
        y = digits(&c, 4);
        lit(&c, " ");
        time_of_day(&c, &h, &mi, &sec);
        lit(&c, " GMT");
    } else if (c.i == 3 && len > 3 && s[3] == ' ') {
        /* asctime: "Sun Nov  6 08:49:37 1994" (day padded with a space) */
        lit(&c, " ");
        mo = month(&c);
        lit(&c, " ");
        if (c.ok && c.i < len && s[c.i] == ' ') {
            c.i++;
            d = digits(&c, 1);
        } else {
            d = digits(&c, 2);
        }
        lit(&c, " ");
        time_of_day(&c, &h, &mi, &sec);
        lit(&c, " ");
        y = digits(&c, 4);
    } else {
        /* rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT" */
        c.i = 0;
        if (!day_name(&c, true))
            return FB_EINVAL;
        lit(&c, ", ");
        d = digits(&c, 2);
        lit(&c, "-");
        mo = month(&c);
        lit(&c, "-");
        int yy = digits(&c, 2);
        lit(&c, " ");
        time_of_day(&c, &h, &mi, &sec);
        lit(&c, " GMT");
        fb_civil nc;
        fb_civil_from_time(now, &nc);
        y = nc.year / 100 * 100 + yy;
        if (y > nc.year + 50)
            y -= 100;
    }
    if (!c.ok || c.i != len || !valid(y, mo, d, h, mi, sec))
        return FB_EINVAL;
    if (sec == 60)
        sec = 59; /* a leap second names the last second of that minute */
    *t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    return 0;
}
