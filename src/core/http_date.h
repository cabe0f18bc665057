/* HTTP dates (RFC 9110 section 5.6.7) to and from seconds since the Unix epoch, UTC. Pure: the
 * caller supplies the time; the calendar maths is proleptic Gregorian. */
#ifndef FB_HTTP_DATE_H
#define FB_HTTP_DATE_H

#include "core/fbstd.h"

#define FB_HTTP_DATE_LEN    29             /* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define FB_HTTP_LOGDATE_LEN 26             /* "06/Nov/1994:08:49:37 +0000" (Common Log Format) */
#define FB_HTTP_DATE_MAX    253402300799LL /* 9999-12-31T23:59:59Z */

typedef struct fb_civil {
    int year;
    int month; /* 1..12 */
    int day;   /* 1..31 */
    int hour, min, sec;
    int wday; /* 0 = Sunday */
} fb_civil;

/* Breaks t (clamped to 0..FB_HTTP_DATE_MAX) into a UTC calendar date. */
void fb_civil_from_time(int64_t t, fb_civil *c);

/* Writes the IMF-fixdate of t (clamped as above) and a NUL into out. */
void fb_http_date_format(int64_t t, char out[FB_HTTP_DATE_LEN + 1]);

/* Writes t as "dd/Mon/yyyy:hh:mm:ss +0000" and a NUL into out (access logs). */
void fb_http_date_format_log(int64_t t, char out[FB_HTTP_LOGDATE_LEN + 1]);

/* Parses s[0..len) in any of the three formats a recipient must accept: IMF-fixdate, the
 * obsolete RFC 850 form (two-digit year, read relative to `now` as RFC 9110 says), and ANSI C
 * asctime(). Sets *t and returns 0, or FB_EINVAL for anything else (including impossible dates
 * such as 31 Apr). */
int fb_http_date_parse(const char *s, size_t len, int64_t now, int64_t *t);

#endif
