/* The UDP endpoint: a uv_udp_t with a receive buffer of `batch` 64 KiB slots (libuv's recvmmsg
 * layout: one datagram per slot, so an oversized datagram is seen whole and can be counted),
 * sends at once or through a bounded queue flushed with sendmmsg and UDP_SEGMENT, and counters. */
#include "net/udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/sockaddr.h"

#define SLOT (64 * 1024) /* libuv's per-datagram slot in a recvmmsg buffer */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 /* linux/udp.h: the GSO segment size of a send */
#endif
#define GSO_MAX_SEGS  64    /* datagrams per UDP_SEGMENT message (the kernel's oldest cap) */
#define GSO_MAX_BYTES 61440 /* bytes per UDP_SEGMENT message, well under 64 KiB */

/* A queued datagram: its bytes are at q_data + i * max_datagram. */
typedef struct qitem {
    struct sockaddr_storage to;
    socklen_t to_len;
    uint16_t len;
} qitem;

struct fb_udp {
    uv_udp_t handle;
    fb_udp_recv_cb cb;
    void *ctx;
    uint8_t *buf; /* batch * SLOT bytes, lent to libuv between alloc and the last recv call */
    size_t buflen;
    size_t max_datagram;
    bool v6;      /* bound to an AF_INET6 socket: IPv4 peers are sent to as ::ffff:a.b.c.d */
    bool closing; /* fb_udp_free was called; nothing more is delivered */
    bool no_gso;  /* the config's no_gso, or the kernel refused UDP_SEGMENT */
    qitem *q;     /* the send queue: q_cap items, q_n of them waiting */
    uint8_t *q_data;
    unsigned q_n, q_cap;
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
    free(u->q);
    free(u->q_data);
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
    if (c.queue == 0)
        c.queue = FB_UDP_QUEUE;
    if (loop == NULL || bind_addr == NULL || cb == NULL || c.batch > FB_UDP_BATCH_MAX ||
        c.queue > FB_UDP_QUEUE_MAX || c.max_datagram > UINT16_MAX || c.max_datagram > SLOT ||
        (c.ipv6_only && bind_addr->family != 6))
        return FB_EINVAL;
    if (fb_sockaddr_from_addr(&ss, &sslen, bind_addr, bind_addr->family == 6) != 0)
        return FB_EINVAL;

    u = calloc(1, sizeof(*u));
    if (u == NULL)
        return FB_ENOMEM;
    u->buflen = (size_t)c.batch * SLOT;
    u->buf = malloc(u->buflen);
    u->q_cap = c.queue;
    u->q = calloc(c.queue, sizeof(*u->q));
    u->q_data = malloc((size_t)c.queue * c.max_datagram);
    u->no_gso = c.no_gso;
    u->st.gso_off = c.no_gso;
    if (u->buf == NULL || u->q == NULL || u->q_data == NULL) {
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
    free(u->q);
    free(u->q_data);
    free(u);
    return rc;
}

void fb_udp_free(fb_udp *u)
{
    if (u == NULL || u->closing)
        return;
    fb_udp_flush(u); /* what was queued before the end still goes (a goodbye, say) */
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

int fb_udp_queue(fb_udp *u, const fb_addr *to, const uint8_t *data, size_t len)
{
    if (u->closing)
        return FB_EINVAL;
    if (len > u->max_datagram) {
        u->st.drop_send_error++;
        return FB_E2BIG;
    }
    if (u->q_n == u->q_cap)
        fb_udp_flush(u);
    qitem *it = &u->q[u->q_n];
    if (fb_sockaddr_from_addr(&it->to, &it->to_len, to, u->v6) != 0) {
        u->st.drop_send_error++;
        return FB_EINVAL;
    }
    it->len = (uint16_t)len;
    memcpy(u->q_data + (size_t)u->q_n * u->max_datagram, data, len);
    u->q_n++;
    return 0;
}

unsigned fb_udp_queued(const fb_udp *u)
{
    return u->q_n;
}

/* How many queued items from `i` go as one message: the run to one address, every datagram
 * of the first one's length except the last, within the GSO caps (1 without GSO). */
static unsigned run_length(const fb_udp *u, unsigned i)
{
    const qitem *a = &u->q[i];
    unsigned n = 1;
    size_t bytes = a->len;
    if (u->no_gso)
        return 1;
    while (i + n < u->q_n && n < GSO_MAX_SEGS) {
        const qitem *b = &u->q[i + n];
        if (b->len > a->len || bytes + b->len > GSO_MAX_BYTES || b->to_len != a->to_len ||
            memcmp(&b->to, &a->to, a->to_len) != 0)
            break;
        bytes += b->len;
        n++;
        if (b->len < a->len)
            break; /* a shorter datagram ends the run */
    }
    return n;
}

/* Counts the fate of the `n` datagrams of one message: sent, or dropped with errno `err`. */
static void count_sent(fb_udp *u, unsigned first, unsigned n, int err)
{
    for (unsigned k = first; k < first + n; k++) {
        if (err == 0) {
            u->st.dgrams_out++;
            u->st.bytes_out += u->q[k].len;
        } else if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
            u->st.drop_send_full++;
        } else {
            u->st.drop_send_error++;
        }
    }
    if (err == 0 && n > 1) {
        u->st.gso_sends++;
        u->st.gso_datagrams += n;
    }
}

void fb_udp_flush(fb_udp *u)
{
    struct mmsghdr mm[FB_UDP_QUEUE_MAX];
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } ctl[FB_UDP_QUEUE_MAX];
    unsigned first[FB_UDP_QUEUE_MAX], count[FB_UDP_QUEUE_MAX];
    int fd = -1;
    if (u->closing || u->q_n == 0)
        return;
    if (uv_fileno((const uv_handle_t *)&u->handle, &fd) != 0) {
        count_sent(u, 0, u->q_n, EBADF);
        u->q_n = 0;
        return;
    }
    /* One message per run, one iovec per datagram: UDP_SEGMENT cuts the message's bytes every
     * `seg` bytes whatever the iovecs, and every datagram of a run but the last is seg long. */
    struct iovec dv[FB_UDP_QUEUE_MAX];
    unsigned m = 0;
    for (unsigned i = 0; i < u->q_n;) {
        unsigned n = run_length(u, i);
        for (unsigned k = 0; k < n; k++) {
            dv[i + k].iov_base = u->q_data + (size_t)(i + k) * u->max_datagram;
            dv[i + k].iov_len = u->q[i + k].len;
        }
        memset(&mm[m], 0, sizeof(mm[m]));
        mm[m].msg_hdr.msg_name = &u->q[i].to;
        mm[m].msg_hdr.msg_namelen = u->q[i].to_len;
        mm[m].msg_hdr.msg_iov = &dv[i];
        mm[m].msg_hdr.msg_iovlen = n;
        if (n > 1) {
            struct cmsghdr *c = (struct cmsghdr *)ctl[m].buf;
            memset(ctl[m].buf, 0, sizeof(ctl[m].buf));
            c->cmsg_level = SOL_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t seg = u->q[i].len;
            memcpy(CMSG_DATA(c), &seg, sizeof(seg));
            mm[m].msg_hdr.msg_control = ctl[m].buf;
            mm[m].msg_hdr.msg_controllen = sizeof(ctl[m].buf);
        }
        first[m] = i;
        count[m] = n;
        m++;
        i += n;
    }
    /* Send; a message the kernel refuses is dropped (counted) and the rest still go. A refused
     * UDP_SEGMENT turns GSO off and sends that run's datagrams one by one. Bounded: every turn
     * consumes at least one message. */
    unsigned done = 0;
    while (done < m) {
        int r = sendmmsg(fd, &mm[done], m - done, MSG_DONTWAIT);
        u->st.send_calls++;
        if (r > 0) {
            for (unsigned k = done; k < done + (unsigned)r; k++)
                count_sent(u, first[k], count[k], 0);
            done += (unsigned)r;
            continue;
        }
        int err = r < 0 ? errno : EIO;
        if (count[done] > 1 &&
            (err == EIO || err == EINVAL || err == ENOPROTOOPT || err == EOPNOTSUPP)) {
            u->no_gso = true;
            u->st.gso_off = true;
            for (unsigned k = 0; k < count[done]; k++) {
                unsigned j = first[done] + k;
                ssize_t s1 = sendto(fd, dv[j].iov_base, dv[j].iov_len, MSG_DONTWAIT,
                                    (const struct sockaddr *)&u->q[j].to, u->q[j].to_len);
                u->st.send_calls++;
                count_sent(u, j, 1, s1 < 0 ? errno : 0);
            }
        } else {
            count_sent(u, first[done], count[done], err);
        }
        done++;
    }
    u->q_n = 0;
}

void fb_udp_stats_get(const fb_udp *u, fb_udp_stats *out)
{
    *out = u->st;
}

bool fb_udp_using_mmsg(const fb_udp *u)
{
    return uv_udp_using_recvmmsg(&u->handle) != 0;
}
