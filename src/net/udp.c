/* The UDP endpoint: a uv_udp_t with a receive buffer of `batch` 64 KiB slots (libuv's recvmmsg
 * layout: one datagram per slot, so an oversized datagram is seen whole and can be counted),
 * non-queueing sends, and counters. */
#include "net/udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/sockaddr.h"

#define SLOT (64 * 1024) /* libuv's per-datagram slot in a recvmmsg buffer */

struct fb_udp {
    uv_udp_t handle;
    fb_udp_recv_cb cb;
    void *ctx;
    uint8_t *buf; /* batch * SLOT bytes, lent to libuv between alloc and the last recv call */
    size_t buflen;
    size_t max_datagram;
    bool v6;      /* bound to an AF_INET6 socket: IPv4 peers are sent to as ::ffff:a.b.c.d */
    bool closing; /* fb_udp_free was called; nothing more is delivered */
    fb_udp_stats st;
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    fb_udp *u = h->data;
    (void)suggested;
    *out = uv_buf_init((char *)u->buf, (unsigned)u->buflen);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *sa,
                    unsigned flags)
{
    fb_udp *u = h->data;
    fb_addr from;
    if (u->closing || (flags & UV_UDP_MMSG_FREE))
        return;
    if (nread < 0) {
        u->st.recv_errors++;
        return;
    }
    if (sa == NULL)
        return; /* nothing more to read now */
    u->st.dgrams_in++;
    u->st.bytes_in += (uint64_t)nread;
    if ((flags & UV_UDP_PARTIAL) || (size_t)nread > u->max_datagram) {
        u->st.drop_oversize++;
        return;
    }
    if (nread == 0 || fb_sockaddr_to_addr(&from, sa) != 0) {
        u->st.drop_malformed++;
        return;
    }
    u->cb(u->ctx, &from, (const uint8_t *)buf->base, (size_t)nread);
}

static void on_close(uv_handle_t *h)
{
    fb_udp *u = h->data;
    free(u->buf);
    free(u);
}

static void read_sock_bufs(fb_udp *u)
{
    int v = 0;
    if (uv_recv_buffer_size((uv_handle_t *)&u->handle, &v) == 0)
        u->st.rcvbuf = v;
    v = 0;
    if (uv_send_buffer_size((uv_handle_t *)&u->handle, &v) == 0)
        u->st.sndbuf = v;
}

/* Opens and binds the socket with plain syscalls, so that a failure (port in use) leaves no
 * libuv handle to close behind it. Returns the fd or a negative errno. */
static int open_socket(const struct sockaddr_storage *ss, socklen_t len, const fb_udp_config *c)
{
    int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = 0;
    if (fd < 0)
        return -errno;
    if (ss->ss_family == AF_INET6) {
        int only = c->ipv6_only ? 1 : 0;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof(only)) != 0) {
            rc = -errno;
            goto out;
        }
    }
    if (bind(fd, (const struct sockaddr *)ss, len) != 0) {
        rc = -errno;
        goto out;
    }
    if (c->sock_buf > 0) {
        /* Best effort: the kernel clamps to rmem_max/wmem_max; a refusal is not fatal. */
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &c->sock_buf, sizeof(c->sock_buf));
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &c->sock_buf, sizeof(c->sock_buf));
    }
out:
    if (rc != 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int fb_udp_new(uv_loop_t *loop, const fb_udp_config *cfg, const fb_addr *bind_addr,
               fb_udp_recv_cb cb, void *ctx, fb_udp **out)
{
    fb_udp_config c = {0};
    struct sockaddr_storage ss;
    socklen_t sslen;
    fb_udp *u = NULL;
    int fd = -1, rc;
    *out = NULL;
    if (cfg)
        c = *cfg;
    if (c.max_datagram == 0)
        c.max_datagram = FB_UDP_MAX_DATAGRAM;
    if (c.sock_buf == 0)
        c.sock_buf = FB_UDP_SOCK_BUF;
    if (c.batch == 0)
        c.batch = FB_UDP_BATCH;
    if (loop == NULL || bind_addr == NULL || cb == NULL || c.batch > FB_UDP_BATCH_MAX ||
        c.max_datagram > SLOT || (c.ipv6_only && bind_addr->family != 6))
        return FB_EINVAL;
    if (fb_sockaddr_from_addr(&ss, &sslen, bind_addr, bind_addr->family == 6) != 0)
        return FB_EINVAL;

    u = calloc(1, sizeof(*u));
    if (u == NULL)
        return FB_ENOMEM;
    u->buflen = (size_t)c.batch * SLOT;
    u->buf = malloc(u->buflen);
    if (u->buf == NULL) {
        rc = FB_ENOMEM;
        goto fail;
    }
    u->cb = cb;
    u->ctx = ctx;
    u->max_datagram = c.max_datagram;
    u->v6 = bind_addr->family == 6;
    fd = open_socket(&ss, sslen, &c);
    if (fd < 0) {
        rc = fd;
        goto fail;
    }
    /* AF_UNSPEC: libuv creates no socket of its own; it adopts ours below. */
    rc = uv_udp_init_ex(loop, &u->handle, AF_UNSPEC | (c.batch > 1 ? UV_UDP_RECVMMSG : 0));
    if (rc != 0)
        goto fail;
    u->handle.data = u;
    rc = uv_udp_open(&u->handle, fd);
    if (rc != 0)
        close(fd); /* not adopted */
    else {
        /* uv_udp_open turned SO_REUSEADDR on; turn it off so no other socket can share the
         * port with us. Then receive; the socket is adopted, uv_close closes it. */
        int off = 0;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &off, sizeof(off));
        rc = uv_udp_recv_start(&u->handle, on_alloc, on_recv);
    }
    if (rc != 0) {
        /* The handle exists now: it must be closed through the loop, which frees u. */
        u->closing = true;
        uv_close((uv_handle_t *)&u->handle, on_close);
        return rc;
    }
    read_sock_bufs(u);
    *out = u;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    free(u->buf);
    free(u);
    return rc;
}

void fb_udp_free(fb_udp *u)
{
    if (u == NULL || u->closing)
        return;
    u->closing = true;
    uv_udp_recv_stop(&u->handle);
    uv_close((uv_handle_t *)&u->handle, on_close);
}

int fb_udp_local_addr(const fb_udp *u, fb_addr *out)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    int rc = uv_udp_getsockname(&u->handle, (struct sockaddr *)&ss, &len);
    if (rc != 0)
        return rc;
    return fb_sockaddr_to_addr(out, (struct sockaddr *)&ss);
}

int fb_udp_send(fb_udp *u, const fb_addr *to, const uint8_t *data, size_t len)
{
    struct sockaddr_storage ss;
    uv_buf_t b;
    int rc;
    if (u->closing)
        return FB_EINVAL;
    if (len > u->max_datagram) {
        u->st.drop_send_error++;
        return FB_E2BIG;
    }
    if (fb_sockaddr_from_addr(&ss, NULL, to, u->v6) != 0) {
        u->st.drop_send_error++;
        return FB_EINVAL;
    }
    b = uv_buf_init((char *)data, (unsigned)len);
    rc = uv_udp_try_send(&u->handle, &b, 1, (struct sockaddr *)&ss);
    if (rc >= 0) {
        u->st.dgrams_out++;
        u->st.bytes_out += (uint64_t)rc;
        return 0;
    }
    if (rc == UV_EAGAIN || rc == UV_ENOBUFS) {
        u->st.drop_send_full++;
        return FB_EAGAIN;
    }
    u->st.drop_send_error++;
    return rc;
}

void fb_udp_stats_get(const fb_udp *u, fb_udp_stats *out)
{
    *out = u->st;
}

bool fb_udp_using_mmsg(const fb_udp *u)
{
    return uv_udp_using_recvmmsg(&u->handle) != 0;
}
