/* Encoding and validating decoding of every datagram type (see wire.h). The decoder reads
 * through a bounded cursor: each read checks the bytes left first. */
#include "core/wire.h"

#include "core/chunk.h"
#include "core/intervals.h"

typedef struct rd {
    const uint8_t *p;
    size_t len, off;
    bool bad;
} rd;

static const uint8_t *take(rd *r, size_t n)
{
    if (r->bad || r->len - r->off < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

static uint8_t u8(rd *r)
{
    const uint8_t *p = take(r, 1);
    return p ? p[0] : 0;
}

static uint16_t u16(rd *r)
{
    const uint8_t *p = take(r, 2);
    return p ? fb_get16(p) : 0;
}

static uint32_t u32(rd *r)
{
    const uint8_t *p = take(r, 4);
    return p ? fb_get32(p) : 0;
}

static void bytes(rd *r, uint8_t *out, size_t n)
{
    const uint8_t *p = take(r, n);
    if (p)
        memcpy(out, p, n);
}

static void addr(rd *r, fb_addr *a)
{
    memset(a, 0, sizeof(*a));
    uint8_t fam = u8(r);
    if (fam != 4 && fam != 6) {
        r->bad = true;
        return;
    }
    a->family = fam;
    bytes(r, a->ip, fam == 4 ? 4 : 16);
    a->port = u16(r);
}

/* The rest of the input is zero padding; returns its length. */
static uint16_t padding(rd *r)
{
    size_t n = r->len - r->off;
    for (size_t i = 0; i < n; i++)
        if (r->p[r->off + i]) {
            r->bad = true;
            return 0;
        }
    r->off = r->len;
    return (uint16_t)n;
}

/* An interval list at the cursor; its bytes become a view. */
static void ivlist(rd *r, const uint8_t **iv, size_t *iv_len)
{
    if (r->bad)
        return;
    int n = fb_ivwire_check(r->p + r->off, r->len - r->off, FB_CHUNK_NONE);
    if (n < 0) {
        r->bad = true;
        return;
    }
    *iv = r->p + r->off;
    *iv_len = (size_t)n;
    r->off += (size_t)n;
}

int fb_wire_decode(const uint8_t *buf, size_t len, fb_wire_msg *m)
{
    rd r = {buf, len, 0, false};
    if (len > FB_WIRE_MAX || len < FB_WIRE_DATA_HDR)
        return FB_EINVAL;
    memset(m, 0, offsetof(fb_wire_msg, u));
    if (u8(&r) != FB_WIRE_VERSION)
        return FB_EINVAL;
    m->type = u8(&r);
    if (m->type != FB_MSG_DATA) {
        if (len < FB_WIRE_HDR)
            return FB_EINVAL;
        bytes(&r, m->swarm, FB_SWARM_ID_LEN);
    }
    switch (m->type) {
    case FB_MSG_JOIN:
        m->u.join.flags = u8(&r);
        m->u.join.want = u8(&r);
        bytes(&r, m->u.join.node, FB_NODE_LEN);
        bytes(&r, m->u.join.echo, FB_TOKEN_LEN);
        m->u.join.n_local = u8(&r);
        if (m->u.join.n_local > FB_WIRE_MAX_LOCAL || m->u.join.want > FB_WIRE_MAX_PEERS)
            return FB_EINVAL;
        for (uint8_t i = 0; i < m->u.join.n_local; i++)
            addr(&r, &m->u.join.local[i]);
        m->u.join.pad = padding(&r);
        break;
    case FB_MSG_TOKEN:
        bytes(&r, m->u.token.token, FB_TOKEN_LEN);
        addr(&r, &m->u.token.observed);
        m->u.token.flags = u8(&r);
        break;
    case FB_MSG_PEERS:
        m->u.peers.flags = u8(&r);
        m->u.peers.count = u8(&r);
        if (m->u.peers.count > FB_WIRE_MAX_PEERS)
            return FB_EINVAL;
        for (uint8_t i = 0; i < m->u.peers.count && !r.bad; i++) {
            fb_wire_peer *p = &m->u.peers.peer[i];
            p->n = u8(&r);
            if (p->n == 0 || p->n > FB_WIRE_MAX_ADDRS)
                return FB_EINVAL;
            for (uint8_t k = 0; k < p->n; k++)
                addr(&r, &p->addr[k]);
            if (m->u.peers.flags & FB_PEERS_TICKET)
                bytes(&r, p->ticket, FB_TICKET_LEN);
        }
        break;
    case FB_MSG_HELLO:
        m->u.hello.iv = NULL;
        m->u.hello.iv_len = 0;
        m->u.hello.flags = u8(&r);
        bytes(&r, m->u.hello.node, FB_NODE_LEN);
        bytes(&r, m->u.hello.token, FB_TOKEN_LEN);
        bytes(&r, m->u.hello.echo, FB_TOKEN_LEN);
        m->u.hello.have_count = u32(&r);
        if (!(m->u.hello.flags & FB_HELLO_COMPLETE))
            ivlist(&r, &m->u.hello.iv, &m->u.hello.iv_len);
        m->u.hello.pad = padding(&r);
        break;
    case FB_MSG_HAVE:
        ivlist(&r, &m->u.have.iv, &m->u.have.iv_len);
        break;
    case FB_MSG_REQUEST:
        m->u.request.iv = NULL;
        m->u.request.iv_len = 0;
        m->u.request.ack_id = u32(&r);
        m->u.request.ack_count = u8(&r);
        m->u.request.ack_qd = u16(&r);
        m->u.request.ack_spread = u32(&r);
        m->u.request.ack_flags = u8(&r);
        m->u.request.req_id = u32(&r);
        m->u.request.n = u8(&r);
        if (m->u.request.n > FB_WIRE_MAX_REQ || (m->u.request.n && !m->u.request.req_id))
            return FB_EINVAL;
        for (uint8_t i = 0; i < m->u.request.n; i++) {
            m->u.request.e[i].chunk = u32(&r);
            m->u.request.e[i].mask = u32(&r);
            if (m->u.request.e[i].chunk == FB_WIRE_ANY) {
                if (m->u.request.n != 1)
                    return FB_EINVAL;
            } else if (!m->u.request.e[i].mask) {
                return FB_EINVAL;
            }
        }
        if (m->u.request.n == 1 && m->u.request.e[0].chunk == FB_WIRE_ANY)
            ivlist(&r, &m->u.request.iv, &m->u.request.iv_len);
        break;
    case FB_MSG_DATA:
        m->u.data.req_id = u32(&r);
        m->u.data.chunk = u32(&r);
        m->u.data.block = u8(&r);
        m->u.data.ts = u32(&r);
        m->u.data.iv = NULL;
        m->u.data.iv_len = 0;
        if (m->u.data.block & FB_DATA_HAVE) {
            m->u.data.block &= (uint8_t)~FB_DATA_HAVE;
            ivlist(&r, &m->u.data.iv, &m->u.data.iv_len);
        }
        if (r.bad || !m->u.data.req_id || m->u.data.chunk == FB_CHUNK_NONE ||
            m->u.data.block >= FB_CHUNK_SIZE_MAX / FB_BLOCK_SIZE)
            return FB_EINVAL;
        m->u.data.len = len - r.off;
        if (m->u.data.len == 0 || m->u.data.len > FB_BLOCK_SIZE)
            return FB_EINVAL;
        m->u.data.payload = take(&r, m->u.data.len);
        break;
    case FB_MSG_BUSY:
        m->u.busy.req_id = u32(&r);
        m->u.busy.retry_ms = u16(&r);
        break;
    case FB_MSG_CANCEL:
        m->u.cancel.req_id = u32(&r);
        break;
    case FB_MSG_QUEUED:
        m->u.queued.req_id = u32(&r);
        m->u.queued.wait_ms = u16(&r);
        m->u.queued.chunk = u32(&r);
        break;
    case FB_MSG_REFER:
        m->u.refer.want = u8(&r);
        if (m->u.refer.want == 0 || m->u.refer.want > FB_WIRE_MAX_PEERS)
            return FB_EINVAL;
        break;
    case FB_MSG_BYE:
        m->u.bye.reason = u8(&r);
        break;
    case FB_MSG_PING:
        break;
    default:
        return FB_EINVAL;
    }
    if (r.bad || r.off != len)
        return FB_EINVAL;
    return 0;
}

/* Writer with a bounded cursor. */
typedef struct wr {
    uint8_t *p;
    size_t cap, off;
    bool over;
} wr;

static uint8_t *room(wr *w, size_t n)
{
    if (w->over || w->cap - w->off < n) {
        w->over = true;
        return NULL;
    }
    uint8_t *p = w->p + w->off;
    w->off += n;
    return p;
}

static void w8(wr *w, uint8_t v)
{
    uint8_t *p = room(w, 1);
    if (p)
        p[0] = v;
}

static void w16(wr *w, uint16_t v)
{
    uint8_t *p = room(w, 2);
    if (p)
        fb_put16(p, v);
}

static void w32(wr *w, uint32_t v)
{
    uint8_t *p = room(w, 4);
    if (p)
        fb_put32(p, v);
}

static void wbytes(wr *w, const void *s, size_t n)
{
    uint8_t *p = room(w, n);
    if (p && n)
        memcpy(p, s, n);
}

static bool waddr(wr *w, const fb_addr *a)
{
    if (a->family != 4 && a->family != 6)
        return false;
    w8(w, a->family);
    wbytes(w, a->ip, a->family == 4 ? 4 : 16);
    w16(w, a->port);
    return true;
}

size_t fb_wire_addr_len(const fb_addr *a)
{
    return a->family == 4 ? 7 : a->family == 6 ? 19 : 0;
}

static void wzero(wr *w, size_t n)
{
    uint8_t *p = room(w, n);
    if (p)
        memset(p, 0, n);
}

static bool ivok(const uint8_t *iv, size_t len)
{
    return iv && fb_ivwire_check(iv, len, FB_CHUNK_NONE) == (int)len;
}

int fb_wire_encode(const fb_wire_msg *m, uint8_t *buf, size_t cap)
{
    wr w = {buf, FB_MIN(cap, (size_t)FB_WIRE_MAX), 0, false};
    w8(&w, FB_WIRE_VERSION);
    w8(&w, m->type);
    if (m->type != FB_MSG_DATA)
        wbytes(&w, m->swarm, FB_SWARM_ID_LEN);
    switch (m->type) {
    case FB_MSG_JOIN:
        if (m->u.join.n_local > FB_WIRE_MAX_LOCAL || m->u.join.want > FB_WIRE_MAX_PEERS)
            return FB_EINVAL;
        w8(&w, m->u.join.flags);
        w8(&w, m->u.join.want);
        wbytes(&w, m->u.join.node, FB_NODE_LEN);
        wbytes(&w, m->u.join.echo, FB_TOKEN_LEN);
        w8(&w, m->u.join.n_local);
        for (uint8_t i = 0; i < m->u.join.n_local; i++)
            if (!waddr(&w, &m->u.join.local[i]))
                return FB_EINVAL;
        wzero(&w, m->u.join.pad);
        break;
    case FB_MSG_TOKEN:
        wbytes(&w, m->u.token.token, FB_TOKEN_LEN);
        if (!waddr(&w, &m->u.token.observed))
            return FB_EINVAL;
        w8(&w, m->u.token.flags);
        break;
    case FB_MSG_PEERS:
        if (m->u.peers.count > FB_WIRE_MAX_PEERS)
            return FB_EINVAL;
        w8(&w, m->u.peers.flags);
        w8(&w, m->u.peers.count);
        for (uint8_t i = 0; i < m->u.peers.count; i++) {
            const fb_wire_peer *p = &m->u.peers.peer[i];
            if (p->n == 0 || p->n > FB_WIRE_MAX_ADDRS)
                return FB_EINVAL;
            w8(&w, p->n);
            for (uint8_t k = 0; k < p->n; k++)
                if (!waddr(&w, &p->addr[k]))
                    return FB_EINVAL;
            if (m->u.peers.flags & FB_PEERS_TICKET)
                wbytes(&w, p->ticket, FB_TICKET_LEN);
        }
        break;
    case FB_MSG_HELLO:
        w8(&w, m->u.hello.flags);
        wbytes(&w, m->u.hello.node, FB_NODE_LEN);
        wbytes(&w, m->u.hello.token, FB_TOKEN_LEN);
        wbytes(&w, m->u.hello.echo, FB_TOKEN_LEN);
        w32(&w, m->u.hello.have_count);
        if (!(m->u.hello.flags & FB_HELLO_COMPLETE)) {
            if (!ivok(m->u.hello.iv, m->u.hello.iv_len))
                return FB_EINVAL;
            wbytes(&w, m->u.hello.iv, m->u.hello.iv_len);
        }
        wzero(&w, m->u.hello.pad);
        break;
    case FB_MSG_HAVE:
        if (!ivok(m->u.have.iv, m->u.have.iv_len))
            return FB_EINVAL;
        wbytes(&w, m->u.have.iv, m->u.have.iv_len);
        break;
    case FB_MSG_REQUEST:
        if (m->u.request.n > FB_WIRE_MAX_REQ || (m->u.request.n && !m->u.request.req_id))
            return FB_EINVAL;
        w32(&w, m->u.request.ack_id);
        w8(&w, m->u.request.ack_count);
        w16(&w, m->u.request.ack_qd);
        w32(&w, m->u.request.ack_spread);
        w8(&w, m->u.request.ack_flags);
        w32(&w, m->u.request.req_id);
        w8(&w, m->u.request.n);
        for (uint8_t i = 0; i < m->u.request.n; i++) {
            const fb_wire_req *e = &m->u.request.e[i];
            if (e->chunk == FB_WIRE_ANY ? m->u.request.n != 1 : !e->mask)
                return FB_EINVAL;
            w32(&w, e->chunk);
            w32(&w, e->mask);
        }
        if (m->u.request.n == 1 && m->u.request.e[0].chunk == FB_WIRE_ANY) {
            if (!ivok(m->u.request.iv, m->u.request.iv_len))
                return FB_EINVAL;
            wbytes(&w, m->u.request.iv, m->u.request.iv_len);
        }
        break;
    case FB_MSG_DATA:
        if (!m->u.data.req_id || m->u.data.chunk == FB_CHUNK_NONE ||
            m->u.data.block >= FB_CHUNK_SIZE_MAX / FB_BLOCK_SIZE || m->u.data.len == 0 ||
            m->u.data.len > FB_BLOCK_SIZE)
            return FB_EINVAL;
        if (m->u.data.iv && !ivok(m->u.data.iv, m->u.data.iv_len))
            return FB_EINVAL;
        w32(&w, m->u.data.req_id);
        w32(&w, m->u.data.chunk);
        w8(&w, (uint8_t)(m->u.data.block | (m->u.data.iv ? FB_DATA_HAVE : 0)));
        w32(&w, m->u.data.ts);
        if (m->u.data.iv)
            wbytes(&w, m->u.data.iv, m->u.data.iv_len);
        wbytes(&w, m->u.data.payload, m->u.data.len);
        break;
    case FB_MSG_BUSY:
        w32(&w, m->u.busy.req_id);
        w16(&w, m->u.busy.retry_ms);
        break;
    case FB_MSG_CANCEL:
        w32(&w, m->u.cancel.req_id);
        break;
    case FB_MSG_QUEUED:
        w32(&w, m->u.queued.req_id);
        w16(&w, m->u.queued.wait_ms);
        w32(&w, m->u.queued.chunk);
        break;
    case FB_MSG_REFER:
        if (m->u.refer.want == 0 || m->u.refer.want > FB_WIRE_MAX_PEERS)
            return FB_EINVAL;
        w8(&w, m->u.refer.want);
        break;
    case FB_MSG_BYE:
        w8(&w, m->u.bye.reason);
        break;
    case FB_MSG_PING:
        break;
    default:
        return FB_EINVAL;
    }
    return w.over ? FB_E2BIG : (int)w.off;
}

size_t fb_wire_data_header(uint8_t *buf, uint32_t req_id, uint32_t chunk, uint8_t block,
                           uint32_t ts, const uint8_t *iv, size_t iv_len)
{
    buf[0] = FB_WIRE_VERSION;
    buf[1] = FB_MSG_DATA;
    fb_put32(buf + FB_WIRE_DATA_HDR, req_id);
    fb_put32(buf + FB_WIRE_DATA_HDR + 4, chunk);
    buf[FB_WIRE_DATA_HDR + 8] = (uint8_t)(block | (iv_len ? FB_DATA_HAVE : 0));
    fb_put32(buf + FB_WIRE_DATA_HDR + 9, ts);
    if (iv_len)
        memcpy(buf + FB_WIRE_DATA_FIXED, iv, iv_len);
    return FB_WIRE_DATA_FIXED + iv_len;
}
