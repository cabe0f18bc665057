/* The engine's core: configuration, the swarm table, datagram dispatch, the timer wheel (one
 * "next wake" time), randomness, events and the send path with the upload-rate cap. The roles'
 * behaviour lives in peer.c, download.c, upload.c and seed.c. */
#include "engine/internal.h"

void fb_engine_config_defaults(fb_engine_config *c)
{
    bool seed = c->role == FB_ROLE_SEED;
    if (!c->max_swarms)
        c->max_swarms = seed ? 64 : 8;
    if (!c->max_neighbours)
        c->max_neighbours = 16;
    if (!c->max_tracked_peers)
        c->max_tracked_peers = 4096;
    if (!c->max_inflight)
        c->max_inflight = 32;
    if (!c->max_pending)
        c->max_pending = seed ? 1024 : 64;
    if (!c->max_candidates)
        c->max_candidates = 32;
    if (!c->max_banned)
        c->max_banned = 256;
    if (!c->max_chunks)
        c->max_chunks = 65536;
    if (!c->max_objects)
        c->max_objects = 1024;
    if (!c->max_page_bytes)
        c->max_page_bytes = (uint64_t)1 << 30;
    if (!c->tft_credit)
        c->tft_credit = 262144;
    if (!c->datagram_overhead)
        c->datagram_overhead = 28;
    if (!c->push_max)
        c->push_max = 1;
}

fb_engine *fb_engine_new(const fb_engine_config *cfg, const fb_host *host, uint64_t now_us)
{
    if (!cfg || !host || !host->send || !host->sha256 || !host->random || !host->chunk_read)
        return NULL;
    if (cfg->role != FB_ROLE_PEER && cfg->role != FB_ROLE_SEED)
        return NULL;
    if (cfg->role == FB_ROLE_PEER && !host->chunk_write)
        return NULL;
    if (cfg->role == FB_ROLE_SEED && !cfg->upload_rate)
        return NULL;
    if (cfg->n_local_addrs > 4)
        return NULL;
    fb_engine *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->cfg = *cfg;
    fb_engine_config_defaults(&e->cfg);
    /* Hard limits that keep indices in their types. */
    if (e->cfg.max_neighbours > 1024 || e->cfg.max_inflight > 4096 || e->cfg.max_swarms > 4096 ||
        e->cfg.max_pending > (1u << 20) || e->cfg.max_tracked_peers > (1u << 24) ||
        e->cfg.max_candidates > 4096 || e->cfg.max_banned > (1u << 20) ||
        e->cfg.max_chunks >= FB_CHUNK_NONE)
        goto err;
    e->host = *host;
    e->now = now_us;
    e->next_wake = UINT64_MAX;
    e->timer_wake = UINT64_MAX;
    e->up_wake = UINT64_MAX;
    e->rnd_off = sizeof(e->rnd);
    uint8_t secret[32];
    fb_eng_randbytes(e, secret, sizeof(secret));
    fb_token_key_init(&e->key, secret, host->sha256, host->ctx);
    e->sw = calloc(e->cfg.max_swarms, sizeof(*e->sw));
    e->swid = calloc(e->cfg.max_swarms, sizeof(*e->swid));
    e->n_up = e->cfg.max_pending;
    e->up = calloc(e->n_up, sizeof(*e->up));
    e->ring = calloc(e->n_up, sizeof(*e->ring));
    e->pool_cap = e->cfg.max_inflight;
    e->pool = calloc(e->pool_cap, sizeof(*e->pool));
    if (!e->sw || !e->swid || !e->up || !e->ring || !e->pool)
        goto err;
    e->up_cur = UINT32_MAX;
    fb_up_init(e);
    if (e->cfg.upload_rate) {
        /* A hard cap: control datagrams wait for tokens too (queued, in order, before data);
         * the queue holds about one answer per request the engine may hold, and one per peer
         * it tracks (16384 at most): a crowd's JOINs come in one burst, and an answer dropped
         * here costs the peer a JOIN retransmission (0.5 s, then 1, 2, 4 s). */
        e->ctrl_cap =
            FB_MAX(64u, FB_MAX(e->cfg.max_pending, FB_MIN(e->cfg.max_tracked_peers, 16384u)));
        e->ctrl = calloc(e->ctrl_cap, sizeof(*e->ctrl));
        if (!e->ctrl)
            goto err;
    }
    return e;
err:
    free(e->sw);
    free(e->swid);
    free(e->up);
    free(e->ring);
    free(e->ctrl);
    free(e->pool);
    free(e);
    return NULL;
}

uint8_t *fb_eng_buf_get(fb_engine *e, uint32_t size)
{
    for (uint32_t i = e->pool_len; i-- > 0;)
        if (e->pool[i].size == size) {
            uint8_t *p = e->pool[i].p;
            e->pool[i] = e->pool[--e->pool_len];
            return p;
        }
    return malloc(size);
}

void fb_eng_buf_put(fb_engine *e, uint8_t *p, uint32_t size)
{
    if (!p)
        return;
    if (e->pool_len == e->pool_cap) {
        free(p);
        return;
    }
    e->pool[e->pool_len].p = p;
    e->pool[e->pool_len].size = size;
    e->pool_len++;
}

/* Frees what swarm s owns; the buffers of its flights go back to e's pool. */
static void swarm_free(fb_engine *e, fb_swarm *s)
{
    if (s->fl)
        for (uint32_t i = 0; i < s->n_fl; i++)
            fb_eng_buf_put(e, s->fl[i].buf, s->map.chunk_size);
    free(s->manifest);
    free(s->sizes);
    free(s->first);
    free(s->hash);
    free(s->cs);
    free(s->want);
    free(s->mine);
    free(s->mine_iv_store);
    free(s->obj_left);
    free(s->avail);
    free(s->nb);
    free(s->nb_hash);
    free(s->have_store);
    free(s->fl);
    free(s->cand);
    free(s->ban);
    free(s->vlog);
    free(s->tp);
    free(s->tp_idx);
    free(s->served);
    memset(s, 0, sizeof(*s));
}

void fb_engine_free(fb_engine *e)
{
    if (!e)
        return;
    for (uint32_t i = 0; i < e->cfg.max_swarms; i++)
        swarm_free(e, &e->sw[i]);
    for (uint32_t i = 0; i < e->pool_len; i++)
        free(e->pool[i].p);
    free(e->pool);
    free(e->sw);
    free(e->swid);
    free(e->up);
    free(e->ring);
    free(e->ctrl);
    free(e);
}

void fb_eng_arm(fb_engine *e, uint64_t t)
{
    if (t < e->timer_wake)
        e->timer_wake = t;
    if (t < e->next_wake)
        e->next_wake = t;
}

void fb_eng_arm_up(fb_engine *e, uint64_t t)
{
    if (t < e->up_wake)
        e->up_wake = t;
    if (t < e->next_wake)
        e->next_wake = t;
}

void fb_eng_randbytes(fb_engine *e, uint8_t *out, size_t n)
{
    while (n) {
        if (e->rnd_off >= sizeof(e->rnd)) {
            e->host.random(e->host.ctx, e->rnd, sizeof(e->rnd));
            e->rnd_off = 0;
        }
        size_t k = FB_MIN(n, sizeof(e->rnd) - e->rnd_off);
        memcpy(out, e->rnd + e->rnd_off, k);
        e->rnd_off += (uint32_t)k;
        out += k;
        n -= k;
    }
}

uint32_t fb_eng_rand32(fb_engine *e)
{
    uint8_t b[4];
    fb_eng_randbytes(e, b, 4);
    return fb_get32(b);
}

int fb_eng_swarm_index(const fb_engine *e, const fb_swarm *s)
{
    return (int)(s - e->sw);
}

void fb_eng_emit(fb_engine *e, fb_event_type type, int swarm, uint32_t object, uint32_t chunk,
                 fb_source src, const fb_addr *peer)
{
    if (!e->host.event)
        return;
    fb_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.swarm = swarm;
    ev.object = object;
    ev.chunk = chunk;
    ev.source = src;
    if (peer)
        ev.peer = *peer;
    e->host.event(e->host.ctx, &ev);
}

void fb_eng_xmit(fb_engine *e, const fb_addr *to, const uint8_t *buf, size_t len)
{
    e->st.msgs_out[buf[1] & 15]++;
    e->st.datagrams_out++;
    e->st.bytes_out_total += len;
    e->wire_out += len + fb_eng_overhead(e);
    e->host.send(e->host.ctx, to, buf, len);
}

void fb_eng_send(fb_engine *e, const fb_addr *to, const uint8_t *buf, size_t len)
{
    if (!e->ctrl) {
        /* Paced but uncapped (a peer): control goes at once and the data waits for it. */
        fb_bucket_force(&e->bucket, len + fb_eng_overhead(e), e->now);
        fb_eng_xmit(e, to, buf, len);
        return;
    }
    /* Under a cap, control datagrams go before data but wait for tokens like everything. */
    if (!e->ctrl_len && fb_bucket_take(&e->bucket, len + fb_eng_overhead(e), e->now)) {
        fb_eng_xmit(e, to, buf, len);
        return;
    }
    if (e->ctrl_len >= e->ctrl_cap) {
        e->st.dropped_cap++;
        return;
    }
    fb_ctrlmsg *c = &e->ctrl[(e->ctrl_head + e->ctrl_len++) % e->ctrl_cap];
    c->to = *to;
    c->len = (uint16_t)len;
    memcpy(c->data, buf, len);
    fb_eng_arm_up(e, fb_bucket_when(&e->bucket, len + fb_eng_overhead(e), e->now));
}

/* Sends queued control datagrams while tokens last. Returns the next time it needs, or
 * UINT64_MAX when the queue is empty. */
static uint64_t ctrl_drain(fb_engine *e)
{
    while (e->ctrl_len) {
        fb_ctrlmsg *c = &e->ctrl[e->ctrl_head];
        if (!fb_bucket_take(&e->bucket, c->len + fb_eng_overhead(e), e->now))
            return fb_bucket_when(&e->bucket, c->len + fb_eng_overhead(e), e->now);
        fb_eng_xmit(e, &c->to, c->data, c->len);
        e->ctrl_head = (e->ctrl_head + 1) % e->ctrl_cap;
        e->ctrl_len--;
    }
    return UINT64_MAX;
}

bool fb_eng_ctrl_pending(const fb_engine *e)
{
    return e->ctrl_len > 0;
}

bool fb_eng_ctrl_room(const fb_engine *e)
{
    /* Half of max_pending, not of the queue: the room past it is for answers to joiners. */
    return !e->ctrl || e->ctrl_len < FB_MAX(64u, e->cfg.max_pending) / 2;
}

uint64_t fb_eng_ctrl_drain(fb_engine *e)
{
    return ctrl_drain(e);
}

size_t fb_eng_send_msg(fb_engine *e, fb_swarm *s, const fb_addr *to, fb_wire_msg *m)
{
    memcpy(m->swarm, s->id, FB_SWARM_ID_LEN);
    int n = fb_wire_encode(m, e->scratch, sizeof(e->scratch));
    if (n <= 0)
        return 0;
    fb_eng_send(e, to, e->scratch, (size_t)n);
    return (size_t)n;
}

static fb_swarm *swarm_by_wire_id(fb_engine *e, const uint8_t *id)
{
    for (uint32_t i = 0; i < e->cfg.max_swarms; i++)
        if (memcmp(e->swid[i], id, FB_SWARM_ID_LEN) == 0 && e->sw[i].state != SW_FREE)
            return &e->sw[i];
    return NULL;
}

/* DATA carries no swarm id (a peer receives it only for its own request ids, and pushes from
 * neighbours): its swarm is the one where the sender (a neighbour, or the seed) owes the request id
 * (outstanding, or among its last four ended); else, for a push or a late block, the one swarm
 * where the sender is an active neighbour. NULL when the sender is a neighbour in several swarms
 * and none owes the id (which swarm a push is for cannot be told: it is dropped). A sender that is
 * a neighbour nowhere gets the first active swarm, whose input drops it as unvalidated. */
static fb_swarm *swarm_of_data(fb_engine *e, const fb_addr *from, uint32_t id)
{
    /* The common case, one swarm in use (a used slot has a nonzero wire id, from a SHA-256):
     * the answer below is that swarm whatever the sender, so skip the lookups (they touch a
     * cold line per swarm slot on every block). */
    uint32_t used = 0, only = 0;
    for (uint32_t i = 0; i < e->cfg.max_swarms && used < 2; i++) {
        uint64_t w;
        memcpy(&w, e->swid[i], sizeof(w));
        if (w) {
            used++;
            only = i;
        }
    }
    if (used == 1)
        return e->sw[only].state == SW_ACTIVE ? &e->sw[only] : NULL;
    fb_swarm *first = NULL, *nbr = NULL;
    uint32_t n_nbr = 0;
    for (uint32_t i = 0; i < e->cfg.max_swarms; i++) {
        fb_swarm *s = &e->sw[i];
        if (s->state != SW_ACTIVE)
            continue;
        if (!first)
            first = s;
        fb_nb *n = fb_peer_nb_find(s, from);
        if (!n || n->state == NB_FREE)
            continue;
        for (int k = 0; k < NB_BURSTS; k++)
            if (n->out[k].req_id == id)
                return s;
        for (int k = 0; k < 4; k++)
            if (n->recent[k] == id)
                return s;
        nbr = s;
        n_nbr++;
    }
    return n_nbr == 1 ? nbr : n_nbr ? NULL : first;
}

bool fb_eng_nb_elsewhere(fb_engine *e, const fb_swarm *s, const fb_addr *a)
{
    for (uint32_t i = 0; i < e->cfg.max_swarms; i++) {
        fb_swarm *o = &e->sw[i];
        if (o == s || o->state != SW_ACTIVE || !o->nb)
            continue;
        fb_nb *n = fb_peer_nb_find(o, a);
        if (n && n->state != NB_FREE)
            return true;
    }
    return false;
}

static fb_swarm *swarm_get(const fb_engine *e, int h)
{
    if (!e || h < 0 || (uint32_t)h >= e->cfg.max_swarms || e->sw[h].state == SW_FREE)
        return NULL;
    return &e->sw[h];
}

/* Allocates the peer-role tables of s. */
static int peer_tables(fb_engine *e, fb_swarm *s)
{
    uint32_t n = s->n_chunks, w = s->n_words;
    s->cs = calloc(n ? n : 1, 1);
    s->want = calloc(w ? w : 1, sizeof(uint64_t));
    s->mine = calloc(w ? w : 1, sizeof(uint64_t));
    s->mine_iv_store = calloc(n / 2 + 1, sizeof(fb_iv));
    s->obj_left = calloc(s->map.n_objects ? s->map.n_objects : 1, sizeof(uint32_t));
    s->avail = calloc(n ? n : 1, sizeof(uint16_t));
    s->n_nb = e->cfg.max_neighbours + 1;
    s->nb = calloc(s->n_nb, sizeof(fb_nb));
    s->nb_hash = calloc(s->n_nb, sizeof(uint32_t));
    s->have_store = calloc((size_t)s->n_nb * (w ? w : 1), sizeof(uint64_t));
    s->n_fl = e->cfg.max_inflight;
    s->fl = calloc(s->n_fl, sizeof(fb_flight));
    s->cand = calloc(e->cfg.max_candidates, sizeof(fb_cand));
    s->ban = calloc(e->cfg.max_banned, sizeof(fb_addr));
    s->vlog = calloc(n ? n : 1, sizeof(uint32_t));
    if (!s->vlog || !s->cs || !s->want || !s->mine || !s->mine_iv_store || !s->obj_left ||
        !s->avail || !s->nb || !s->nb_hash || !s->have_store || !s->fl || !s->cand || !s->ban)
        return FB_ENOMEM;
    fb_ivset_init(&s->mine_iv, s->mine_iv_store, n / 2 + 1);
    for (uint32_t i = 0; i < s->n_nb; i++)
        s->nb[i].have = s->have_store + (size_t)i * (w ? w : 1);
    for (uint32_t c = 0; c < n; c++)
        fb_bit_set(s->want, c);
    s->n_want = n;
    for (uint32_t i = 0; i < s->map.n_objects; i++)
        s->obj_left[i] = s->map.first[i + 1] - s->map.first[i];
    for (uint32_t i = 0; i < s->n_fl; i++)
        s->fl[i].chunk = FB_CHUNK_NONE;
    s->complete = n == 0;
    s->leave_at_us = UINT64_MAX;
    s->req_budget = REQ_BUDGET_INIT;
    return 0;
}

int fb_engine_swarm_add(fb_engine *e, const uint8_t *manifest, size_t len, uint64_t now_us)
{
    if (!e || !manifest)
        return FB_EINVAL;
    if (now_us > e->now)
        e->now = now_us;
    fb_manifest_caps caps = {e->cfg.max_objects, e->cfg.max_chunks, 1024, e->cfg.max_page_bytes};
    fb_manifest m;
    if (fb_manifest_parse(manifest, len, &caps, &m))
        return FB_EINVAL;
    uint8_t id[32];
    e->host.sha256(e->host.ctx, manifest, len, id);
    int slot = -1;
    for (uint32_t i = 0; i < e->cfg.max_swarms; i++) {
        if (e->sw[i].state != SW_FREE) {
            if (memcmp(e->sw[i].id, id, FB_SWARM_ID_LEN) == 0)
                return FB_EEXIST;
        } else if (slot < 0) {
            slot = (int)i;
        }
    }
    if (slot < 0)
        return FB_ENOSPC;
    fb_swarm *s = &e->sw[slot];
    memset(s, 0, sizeof(*s));
    memcpy(s->id, id, 32);
    s->manifest = malloc(len ? len : 1);
    s->sizes = calloc(m.n_objects ? m.n_objects : 1, sizeof(uint64_t));
    s->first = calloc(m.n_objects + 1, sizeof(uint32_t));
    s->hash = calloc(m.n_chunks ? m.n_chunks : 1, 32);
    if (!s->manifest || !s->sizes || !s->first || !s->hash)
        goto nomem;
    memcpy(s->manifest, manifest, len);
    s->manifest_len = len;
    m.buf = s->manifest; /* views now point at our copy */
    fb_manifest_iter it = {0, 0};
    fb_manifest_object o;
    for (uint32_t i = 0; fb_manifest_next(&m, &it, &o); i++) {
        s->sizes[i] = o.size;
        for (uint32_t k = 0; k < o.n_chunks; k++)
            fb_manifest_object_hash(&o, k, s->hash[o.first_chunk + k]);
    }
    if (fb_chunk_map_init(&s->map, m.chunk_size, s->sizes, m.n_objects, s->first,
                          e->cfg.max_chunks))
        goto inval;
    s->n_chunks = s->map.n_chunks;
    s->n_words = (s->n_chunks + 63) / 64;
    fb_eng_randbytes(e, s->node, FB_NODE_LEN);
    if (e->cfg.role == FB_ROLE_PEER) {
        if (peer_tables(e, s))
            goto nomem;
    } else {
        int rc = fb_seed_swarm_init(e, s);
        if (rc)
            goto nomem;
    }
    s->state = SW_ACTIVE;
    memcpy(e->swid[slot], id, FB_SWARM_ID_LEN);
    return slot;
nomem:
    swarm_free(e, s);
    return FB_ENOMEM;
inval:
    swarm_free(e, s);
    return FB_EINVAL;
}

void fb_engine_swarm_remove(fb_engine *e, int swarm)
{
    fb_swarm *s = swarm_get(e, swarm);
    if (!s)
        return;
    fb_up_drop_swarm(e, swarm);
    if (e->cfg.role == FB_ROLE_PEER)
        for (uint32_t i = 0; i < s->n_nb; i++)
            if (s->nb[i].state != NB_FREE && !s->nb[i].is_seed)
                e->st.neighbours--;
    if (e->cfg.role == FB_ROLE_SEED)
        e->st.tracked_peers -= s->n_tp;
    swarm_free(e, s);
    memset(e->swid[swarm], 0, FB_SWARM_ID_LEN);
}

int fb_engine_swarm_join(fb_engine *e, int swarm, const fb_addr *seed, uint64_t now_us)
{
    return fb_engine_swarm_join_token(e, swarm, seed, NULL, now_us);
}

int fb_engine_address_token(fb_engine *e, const fb_addr *client, uint64_t now_us, uint8_t out[16])
{
    if (!e || !client || !out || e->cfg.role != FB_ROLE_SEED ||
        (client->family != 4 && client->family != 6))
        return FB_EINVAL;
    _Static_assert(FB_TOKEN_LEN == 16, "engine.h says 16");
    fb_addr a = *client;
    a.port = 0;
    fb_token_make(&e->key, &a, TOKEN_TAG_ADDR, now_us, out);
    return 0;
}

int fb_engine_swarm_join_token(fb_engine *e, int swarm, const fb_addr *seed, const uint8_t *token,
                               uint64_t now_us)
{
    fb_swarm *s = swarm_get(e, swarm);
    if (!s || !seed || e->cfg.role != FB_ROLE_PEER || s->state != SW_ACTIVE)
        return FB_EINVAL;
    if (seed->family != 4 && seed->family != 6)
        return FB_EINVAL;
    if (now_us > e->now)
        e->now = now_us;
    s->nb[NB_SEED].addr = *seed;
    fb_peer_join(e, s, token);
    return 0;
}

void fb_engine_swarm_leave(fb_engine *e, int swarm, uint64_t now_us)
{
    fb_swarm *s = swarm_get(e, swarm);
    if (!s)
        return;
    if (now_us > e->now)
        e->now = now_us;
    if (e->cfg.role == FB_ROLE_PEER && s->state == SW_ACTIVE)
        fb_peer_leave(e, s, FB_BYE_LEAVING);
    fb_engine_swarm_remove(e, swarm);
}

int fb_engine_supply(fb_engine *e, int swarm, uint32_t chunk, const uint8_t *data, size_t len,
                     uint64_t now_us)
{
    fb_swarm *s = swarm_get(e, swarm);
    if (!s || e->cfg.role != FB_ROLE_PEER || !data)
        return FB_EINVAL;
    if (now_us > e->now)
        e->now = now_us;
    return fb_dl_supply(e, s, chunk, data, len);
}

int fb_engine_swarm_focus(fb_engine *e, int swarm, uint32_t object)
{
    fb_swarm *s = swarm_get(e, swarm);
    if (!s || e->cfg.role != FB_ROLE_PEER || (object != FB_NO_FOCUS && object >= s->map.n_objects))
        return FB_EINVAL;
    s->focus_first = object == FB_NO_FOCUS ? 0 : s->map.first[object];
    s->focus_end = object == FB_NO_FOCUS ? 0 : s->map.first[object + 1];
    return 0;
}

void fb_engine_input(fb_engine *e, const fb_addr *from, const uint8_t *data, size_t len,
                     uint64_t now_us)
{
    if (!e || !from || !data)
        return;
    if (now_us > e->now)
        e->now = now_us;
    e->st.datagrams_in++;
    e->st.bytes_in_total += len;
    fb_wire_msg m;
    if (fb_wire_decode(data, len, &m)) {
        e->st.dropped_invalid++;
        return;
    }
    fb_swarm *s = m.type != FB_MSG_DATA         ? swarm_by_wire_id(e, m.swarm)
                  : e->cfg.role == FB_ROLE_SEED ? NULL
                                                : swarm_of_data(e, from, m.u.data.req_id);
    if (!s || s->state != SW_ACTIVE) {
        e->st.dropped_unknown++;
        return;
    }
    if (e->cfg.role == FB_ROLE_SEED)
        fb_seed_input(e, s, from, &m, len);
    else
        fb_peer_input(e, s, from, &m, len);
}

uint64_t fb_engine_tick(fb_engine *e, uint64_t now_us)
{
    if (now_us > e->now)
        e->now = now_us;
    if (e->now < e->next_wake)
        return e->next_wake;
    /* Two clocks: protocol timers (handshakes, bursts, joins...) scan the swarms; pacing only
     * runs the upload queue, which is due far more often (every few blocks). */
    if (e->now >= e->timer_wake) {
        e->timer_wake = UINT64_MAX;
        for (uint32_t i = 0; i < e->cfg.max_swarms; i++)
            if (e->sw[i].state == SW_ACTIVE)
                fb_eng_arm(e, e->cfg.role == FB_ROLE_PEER ? fb_peer_tick(e, &e->sw[i])
                                                          : fb_seed_tick(e, &e->sw[i]));
    }
    if (e->now >= e->up_wake) {
        e->up_wake = UINT64_MAX;
        fb_eng_arm_up(e, ctrl_drain(e));
        fb_eng_arm_up(e, fb_up_tick(e));
    }
    if (e->timer_wake <= e->now)
        e->timer_wake = e->now + 1;
    if (e->up_wake <= e->now)
        e->up_wake = e->now + 1;
    e->next_wake = FB_MIN(e->timer_wake, e->up_wake);
    return e->next_wake;
}

void fb_engine_prefetch(const fb_engine *e, int level)
{
#if defined(__GNUC__) || defined(__clang__)
    if (!e || !e->sw)
        return;
    const fb_swarm *s = &e->sw[0];
    if (level == 0) {
        __builtin_prefetch(e->swid);
        __builtin_prefetch(&e->st);
        __builtin_prefetch(&e->bucket);
        __builtin_prefetch(s);
        __builtin_prefetch(&s->nb);
        if (e->up && e->up_cur < e->n_up) {
            __builtin_prefetch(&e->up[e->up_cur]);
            __builtin_prefetch((const uint8_t *)&e->up[e->up_cur] + 64);
        }
        return;
    }
    if (s->state != SW_ACTIVE)
        return;
    if (s->nb_hash)
        __builtin_prefetch(s->nb_hash);
    if (s->nb)
        __builtin_prefetch(s->nb);
#else
    (void)e;
    (void)level;
#endif
}

void fb_engine_stats_get(const fb_engine *e, fb_engine_stats *out)
{
    *out = e->st;
    out->upload_rate = e->bucket.rate;
    out->upload_queue = e->up_used;
}

void fb_engine_swarm_progress(const fb_engine *e, int swarm, uint32_t *have, uint32_t *total)
{
    const fb_swarm *s = swarm_get(e, swarm);
    if (have)
        *have = !s ? 0 : e->cfg.role == FB_ROLE_SEED ? s->n_chunks : s->have;
    if (total)
        *total = s ? s->n_chunks : 0;
}

int fb_engine_swarm_id(const fb_engine *e, int swarm, uint8_t out[32])
{
    const fb_swarm *s = swarm_get(e, swarm);
    if (!s)
        return FB_ENOENT;
    memcpy(out, s->id, 32);
    return 0;
}
