/* Combined Log Format lines and their buffered, reopenable output file. */
#include "net/access_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/http_date.h"
#include "core/http_resp.h"

#define LOG_BUF (64 * 1024)

static int open_path(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    return fd >= 0 ? fd : -errno;
}

int fb_access_log_open(fb_access_log *log, const char *path)
{
    memset(log, 0, sizeof(*log));
    log->fd = -1;
    log->buf = malloc(LOG_BUF);
    if (!log->buf)
        return -ENOMEM;
    log->cap = LOG_BUF;
    if (strcmp(path, "-") == 0) {
        log->fd = STDOUT_FILENO;
        return 0;
    }
    log->path = strdup(path);
    int fd = log->path ? open_path(path) : -ENOMEM;
    if (fd < 0) {
        fb_access_log_close(log);
        return fd;
    }
    log->fd = fd;
    return 0;
}

void fb_access_log_flush(fb_access_log *log)
{
    size_t off = 0;
    while (off < log->len) {
        ssize_t n = write(log->fd, log->buf + off, log->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log->write_errors++; /* disk full or a closed pipe: drop rather than block */
            break;
        }
        off += (size_t)n;
    }
    log->len = 0;
}

int fb_access_log_reopen(fb_access_log *log)
{
    fb_access_log_flush(log);
    if (!log->path)
        return 0;
    int fd = open_path(log->path);
    if (fd < 0)
        return fd;
    close(log->fd);
    log->fd = fd;
    return 0;
}

void fb_access_log_close(fb_access_log *log)
{
    if (log->fd >= 0) {
        fb_access_log_flush(log);
        if (log->path)
            close(log->fd);
    }
    free(log->buf);
    free(log->path);
    memset(log, 0, sizeof(*log));
    log->fd = -1;
}

void fb_access_log_append(fb_access_log *log, const char *line, size_t len)
{
    if (log->cap - log->len < len)
        fb_access_log_flush(log);
    if (len > log->cap)
        return;
    memcpy(log->buf + log->len, line, len);
    log->len += len;
    log->lines++;
}

/* Appends s as a quoted field, escaping what could break the line or the quoting. */
static void quoted(fb_wbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!s) {
        fb_wbuf_puts(b, "\"-\"");
        return;
    }
    fb_wbuf_puts(b, "\"");
    n = FB_MIN(n, (size_t)FB_ACCESS_FIELD_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            fb_wbuf_put(b, esc, 4);
        } else {
            fb_wbuf_put(b, &s[i], 1);
        }
    }
    fb_wbuf_puts(b, "\"");
}

size_t fb_access_log_format(const fb_access_entry *e, char *out)
{
    char ip[INET6_ADDRSTRLEN] = "-";
    char date[FB_HTTP_LOGDATE_LEN + 1];
    fb_wbuf b;

    if (e->peer && e->peer->family == 4)
        inet_ntop(AF_INET, e->peer->ip, ip, sizeof(ip));
    else if (e->peer && e->peer->family == 6)
        inet_ntop(AF_INET6, e->peer->ip, ip, sizeof(ip));
    fb_http_date_format_log(e->time, date);
    fb_wbuf_init(&b, out, FB_ACCESS_LINE_MAX - 1);
    fb_wbuf_puts(&b, ip);
    fb_wbuf_puts(&b, " - - [");
    fb_wbuf_put(&b, date, FB_HTTP_LOGDATE_LEN);
    fb_wbuf_puts(&b, "] ");
    quoted(&b, e->request_line, e->request_line_len);
    fb_wbuf_puts(&b, " ");
    fb_wbuf_u64(&b, (uint64_t)e->status);
    fb_wbuf_puts(&b, " ");
    fb_wbuf_u64(&b, e->bytes);
    fb_wbuf_puts(&b, " ");
    quoted(&b, e->referer, e->referer_len);
    fb_wbuf_puts(&b, " ");
    quoted(&b, e->agent, e->agent_len);
    out[b.len] = '\n';
    return b.len + 1;
}
