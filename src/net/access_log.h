/* The access log: one line per response in the Combined Log Format, buffered in memory and
 * written with write(2) when the buffer fills or the server flushes it (once per loop turn).
 * Reopening (on SIGHUP) lets an external tool rotate the file. */
#ifndef FB_ACCESS_LOG_H
#define FB_ACCESS_LOG_H

#include "core/addr.h"
#include "core/fbstd.h"

typedef struct fb_access_log {
    char *path; /* NULL for standard output */
    int fd;
    char *buf;
    size_t len, cap;
    uint64_t lines;
    uint64_t write_errors;
} fb_access_log;

/* One response, as the log line shows it. Strings need not be NUL-terminated; NULL means "-". */
typedef struct fb_access_entry {
    const fb_addr *peer;
    int64_t time; /* seconds since the epoch */
    const char *request_line;
    size_t request_line_len;
    int status;
    uint64_t bytes; /* body bytes sent */
    const char *referer;
    size_t referer_len;
    const char *agent;
    size_t agent_len;
} fb_access_entry;

#define FB_ACCESS_FIELD_MAX 512  /* source bytes kept of each string field */
#define FB_ACCESS_LINE_MAX  8192 /* a formatted line never exceeds this */

/* Opens `path` for appending (created 0644), or standard output for "-". Returns 0 or -errno. */
int fb_access_log_open(fb_access_log *log, const char *path);

/* Flushes, closes and opens the same path again (a no-op for standard output). 0 or -errno;
 * on failure the log keeps writing to the old descriptor. */
int fb_access_log_reopen(fb_access_log *log);

/* Formats e as one line with "\n" into out (FB_ACCESS_LINE_MAX bytes) and returns its length.
 * Quotes, backslashes and bytes outside printable ASCII are written as \xHH; each string field
 * is cut at FB_ACCESS_FIELD_MAX source bytes. */
size_t fb_access_log_format(const fb_access_entry *e, char *out);

/* Appends one formatted line; writes the buffer out first when the line does not fit. */
void fb_access_log_append(fb_access_log *log, const char *line, size_t len);

/* Writes out everything buffered. */
void fb_access_log_flush(fb_access_log *log);

/* Flushes and closes; the struct may be opened again. */
void fb_access_log_close(fb_access_log *log);

#endif
