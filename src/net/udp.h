/* A UDP endpoint on a libuv loop: one bound socket that receives in batches (recvmmsg through
 * libuv's UV_UDP_RECVMMSG) and hands each datagram to a callback, sends without waiting (a full
 * socket buffer drops the datagram, as UDP may), at once or queued for a flush that batches
 * them (sendmmsg, UDP_SEGMENT), and counts what it saw. It owns the socket, its receive buffer and
 * its counters; it knows nothing of the protocol.
 */
#ifndef FB_NET_UDP_H
#define FB_NET_UDP_H

#include <uv.h>

#include "core/addr.h"

#define FB_UDP_MAX_DATAGRAM 1200              /* default cap; the engine's FB_MAX_DATAGRAM */
#define FB_UDP_SOCK_BUF     (4 * 1024 * 1024) /* default SO_RCVBUF/SO_SNDBUF request */
#define FB_UDP_BATCH        20                /* default datagrams per recvmmsg call */
#define FB_UDP_BATCH_MAX    64
#define FB_UDP_QUEUE        32 /* default datagrams held by fb_udp_queue until a flush */
#define FB_UDP_QUEUE_MAX    64

typedef struct fb_udp fb_udp;

/* Called once per received datagram of 1..max_datagram bytes. `from` and `data` are valid for
 * the duration of the call only (data points into the endpoint's receive buffer, which the next
 * datagram overwrites). The callback may send, and may call fb_udp_free on this endpoint (no
 * further datagram is then delivered). */
typedef void (*fb_udp_recv_cb)(void *ctx, const fb_addr *from, const uint8_t *data, size_t len);

typedef struct fb_udp_config {
    size_t max_datagram; /* received datagrams larger than this are counted and dropped, larger
                            sends are refused (default FB_UDP_MAX_DATAGRAM) */
    int sock_buf;        /* SO_RCVBUF and SO_SNDBUF to ask for (default FB_UDP_SOCK_BUF; the
                            kernel caps it at rmem_max/wmem_max); negative leaves the OS default */
    unsigned batch;      /* datagrams per recvmmsg call, 1..FB_UDP_BATCH_MAX (default
                            FB_UDP_BATCH); 1 uses plain recvmsg. Memory: batch x 64 KiB of
                            address space, of which only the touched pages become resident */
    bool ipv6_only;      /* with an IPv6 bind address: refuse IPv4 (default: dual stack) */
    unsigned queue;      /* datagrams fb_udp_queue holds before it flushes by itself,
                            1..FB_UDP_QUEUE_MAX (default FB_UDP_QUEUE); memory: queue x
                            max_datagram bytes */
    bool no_gso;         /* never coalesce queued datagrams with UDP_SEGMENT */
} fb_udp_config;

typedef struct fb_udp_stats {
    uint64_t dgrams_in;       /* datagrams read from the socket, dropped ones included */
    uint64_t bytes_in;        /* their bytes */
    uint64_t dgrams_out;      /* datagrams the kernel accepted */
    uint64_t bytes_out;       /* their bytes */
    uint64_t drop_oversize;   /* received datagrams over max_datagram (never delivered) */
    uint64_t drop_malformed;  /* received empty datagrams or ones from an unnameable source */
    uint64_t drop_send_full;  /* sends dropped because the socket buffer was full (EAGAIN) */
    uint64_t drop_send_error; /* sends that failed otherwise (too big, unreachable, family) */
    uint64_t recv_errors;     /* errors reported by the receive path */
    uint64_t send_calls;      /* system calls that sent (sendto, sendmmsg) */
    uint64_t gso_sends;       /* messages that carried several datagrams (UDP_SEGMENT) */
    uint64_t gso_datagrams;   /* datagrams sent that way */
    bool gso_off;             /* UDP_SEGMENT was refused once: off for this socket */
    int rcvbuf, sndbuf;       /* effective socket buffer sizes as the kernel reports them */
} fb_udp_stats;

/* Creates an endpoint on `loop`, bound to `bind_addr` (port 0 picks a free port: see
 * fb_udp_local_addr; an IPv6 address is dual-stack unless cfg->ipv6_only), and starts
 * receiving into `cb`. cfg may be NULL for the defaults. Returns 0 and *out, FB_EINVAL for a
 * bad argument, FB_ENOMEM, or a negative errno-style code from the OS (UV_EADDRINUSE,
 * UV_EADDRNOTAVAIL, ...). A failure to open or bind the socket leaves nothing behind; only a
 * (never seen) failure inside libuv after that leaves a handle that the next uv_run releases. */
int fb_udp_new(uv_loop_t *loop, const fb_udp_config *cfg, const fb_addr *bind_addr,
               fb_udp_recv_cb cb, void *ctx, fb_udp **out);

/* Stops receiving at once and closes the socket. The memory is released in the loop's closing
 * phase, so the loop must run once more (any uv_run) for the release to complete. NULL is a
 * no-op. */
void fb_udp_free(fb_udp *u);

/* The address the socket is bound to, with the port the OS chose. Returns 0 or a negative code. */
int fb_udp_local_addr(const fb_udp *u, fb_addr *out);

/* Sends one datagram now, or drops it. Returns 0 when the kernel took it; FB_EAGAIN when the
 * socket buffer was full (counted in drop_send_full); FB_E2BIG over max_datagram; FB_EINVAL for
 * an address this socket cannot reach (IPv6 on an IPv4 socket); or a negative errno-style code
 * (counted in drop_send_error). `data` may be reused as soon as the call returns. */
int fb_udp_send(fb_udp *u, const fb_addr *to, const uint8_t *data, size_t len);

/* Queues one datagram (copied) to be sent by the next fb_udp_flush; a full queue is flushed
 * first. Returns 0, or FB_E2BIG / FB_EINVAL at once as fb_udp_send would; a datagram the kernel
 * refuses at the flush is counted as fb_udp_send counts it. Order is kept. */
int fb_udp_queue(fb_udp *u, const fb_addr *to, const uint8_t *data, size_t len);

/* Sends every queued datagram with as few system calls as it can: one sendmmsg for the queue,
 * and each run of datagrams to the same address, all of one length but the last (which may be
 * shorter), as one message that the kernel splits (UDP_SEGMENT, generic segmentation offload):
 * the receiver sees the same datagrams. If the kernel refuses UDP_SEGMENT, the run goes out
 * datagram by datagram and the socket stops asking. A no-op on an empty queue. */
void fb_udp_flush(fb_udp *u);

/* Datagrams waiting for fb_udp_flush. */
unsigned fb_udp_queued(const fb_udp *u);

void fb_udp_stats_get(const fb_udp *u, fb_udp_stats *out);

/* True when the receive path uses recvmmsg (libuv decides at run time). */
bool fb_udp_using_mmsg(const fb_udp *u);

#endif
