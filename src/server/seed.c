/* The seed (seed.h): one engine host, a slot per engine swarm handle (the swarm's filestore, its
 * id, its holders and, once retired, its removal time), and a timer that removes retired swarms
 * when their grace period ends. Chunk reads from the engine are dispatched by swarm handle to the
 * slot's filestore. */
#include "server/seed.h"

#include <openssl/evp.h>
#include <stdio.h>

#define DEFAULT_SWARMS   128
#define DEFAULT_GRACE_MS 30000

typedef struct slot {
    fb_filestore *fs; /* NULL: free */
    uint8_t id[32];   /* SHA-256 of the manifest (the engine's swarm id) */
    uint32_t refs;    /* holders; 0 = retiring */
    uint64_t retire_at_ms;
} slot;

struct fb_seed {
    uv_loop_t *loop;
    fb_engine_host *host;
    uv_timer_t timer;
    slot *slots;
    uint32_t n_slots;
    uint32_t grace_ms;
    uint64_t added, removed, read_errors_gone; /* read errors of removed filestores */
};

static int seed_read(void *ctx, int swarm, uint32_t chunk, size_t off, uint8_t *buf, size_t len)
{
    fb_seed *s = ctx;
    if (swarm < 0 || (uint32_t)swarm >= s->n_slots || s->slots[swarm].fs == NULL)
        return FB_ENOENT;
    return fb_filestore_read(s->slots[swarm].fs, chunk, off, buf, len);
}

static void slot_remove(fb_seed *s, uint32_t h)
{
    slot *sl = &s->slots[h];
    fb_engine_swarm_remove(fb_engine_host_engine(s->host), (int)h);
    s->read_errors_gone += sl->fs->read_errors;
    fb_filestore_fini(sl->fs);
    free(sl->fs);
    memset(sl, 0, sizeof(*sl));
    s->removed++;
}

static void arm(fb_seed *s);

static void on_timer(uv_timer_t *t)
{
    fb_seed *s = t->data;
    uint64_t now = uv_now(s->loop);
    bool any = false;
    for (uint32_t i = 0; i < s->n_slots; i++) {
        if (s->slots[i].fs && s->slots[i].refs == 0 && s->slots[i].retire_at_ms <= now) {
            slot_remove(s, i);
            any = true;
        }
    }
    if (any)
        fb_engine_host_kick(s->host);
    arm(s);
}

/* Arms the timer for the earliest retirement, if any. */
static void arm(fb_seed *s)
{
    uint64_t first = UINT64_MAX, now = uv_now(s->loop);
    for (uint32_t i = 0; i < s->n_slots; i++)
        if (s->slots[i].fs && s->slots[i].refs == 0 && s->slots[i].retire_at_ms < first)
            first = s->slots[i].retire_at_ms;
    if (first == UINT64_MAX) {
        uv_timer_stop(&s->timer);
        return;
    }
    uv_timer_start(&s->timer, on_timer, first > now ? first - now : 0, 0);
}

int fb_seed_new(uv_loop_t *loop, const fb_seed_config *cfg, fb_seed **out)
{
    *out = NULL;
    if (loop == NULL || cfg == NULL || cfg->rate == 0)
        return FB_EINVAL;
    fb_seed *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return FB_ENOMEM;
    s->loop = loop;
    s->n_slots = cfg->max_swarms ? cfg->max_swarms : DEFAULT_SWARMS;
    s->grace_ms = cfg->grace_ms ? cfg->grace_ms : DEFAULT_GRACE_MS;
    s->slots = calloc(s->n_slots, sizeof(slot));
    if (s->slots == NULL) {
        free(s);
        return FB_ENOMEM;
    }
    fb_engine_host_config hc;
    memset(&hc, 0, sizeof(hc));
    hc.engine.role = FB_ROLE_SEED;
    hc.engine.upload_rate = cfg->rate;
    hc.engine.max_swarms = s->n_slots;
    hc.engine.max_tracked_peers = cfg->max_tracked;
    hc.bind = cfg->bind;
    hc.store.ctx = s;
    hc.store.read = seed_read;
    int rc = fb_engine_host_new(loop, &hc, &s->host);
    if (rc != 0) {
        free(s->slots);
        free(s);
        return rc;
    }
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    uv_unref((uv_handle_t *)&s->timer); /* retirements alone do not keep the server running */
    *out = s;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    fb_seed *s = h->data;
    free(s->slots);
    free(s);
}

void fb_seed_free(fb_seed *s)
{
    if (s == NULL)
        return;
    for (uint32_t i = 0; i < s->n_slots; i++)
        if (s->slots[i].fs)
            slot_remove(s, i);
    fb_engine_host_free(s->host);
    s->host = NULL;
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

int fb_seed_add(fb_seed *s, const uint8_t *manifest, size_t len, fb_filestore *fs)
{
    uint8_t id[32];
    unsigned n = 0;
    if (EVP_Digest(manifest, len, id, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return FB_ENOMEM;
    for (uint32_t i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        if (sl->fs && memcmp(sl->id, id, 32) == 0) {
            sl->refs++; /* a retiring swarm comes back to life */
            fb_filestore_fini(fs);
            free(fs);
            arm(s);
            return (int)i;
        }
    }
    fb_engine *e = fb_engine_host_engine(s->host);
    int h = fb_engine_swarm_add(e, manifest, len, fb_engine_host_now());
    if (h == FB_ENOSPC) {
        /* Make room: the retiring swarm closest to its removal goes now. */
        int victim = -1;
        for (uint32_t i = 0; i < s->n_slots; i++)
            if (s->slots[i].fs && s->slots[i].refs == 0 &&
                (victim < 0 || s->slots[i].retire_at_ms < s->slots[victim].retire_at_ms))
                victim = (int)i;
        if (victim < 0)
            return FB_ENOSPC;
        slot_remove(s, (uint32_t)victim);
        h = fb_engine_swarm_add(e, manifest, len, fb_engine_host_now());
    }
    if (h < 0)
        return h == FB_EEXIST ? FB_EINVAL : h;
    if ((uint32_t)h >= s->n_slots) { /* cannot happen: the engine has n_slots swarms */
        fb_engine_swarm_remove(e, h);
        return FB_ENOSPC;
    }
    slot *sl = &s->slots[h];
    sl->fs = fs;
    memcpy(sl->id, id, 32);
    sl->refs = 1;
    sl->retire_at_ms = 0;
    s->added++;
    fb_engine_host_kick(s->host);
    arm(s);
    return h;
}

void fb_seed_release(fb_seed *s, int handle)
{
    if (handle < 0 || (uint32_t)handle >= s->n_slots || s->slots[handle].fs == NULL ||
        s->slots[handle].refs == 0)
        return;
    slot *sl = &s->slots[handle];
    if (--sl->refs == 0) {
        sl->retire_at_ms = uv_now(s->loop) + s->grace_ms;
        arm(s);
    }
}

bool fb_seed_stale(const fb_seed *s, int handle)
{
    if (handle < 0 || (uint32_t)handle >= s->n_slots || s->slots[handle].fs == NULL)
        return false;
    return s->slots[handle].fs->stale;
}

int fb_seed_local_addr(const fb_seed *s, fb_addr *out)
{
    return fb_engine_host_local_addr(s->host, out);
}

int fb_seed_address_token(fb_seed *s, const fb_addr *client, char out[33])
{
    uint8_t t[16];
    int rc =
        fb_engine_address_token(fb_engine_host_engine(s->host), client, fb_engine_host_now(), t);
    if (rc)
        return rc;
    fb_hex_encode(t, sizeof(t), out);
    return 0;
}

void fb_seed_stats_get(const fb_seed *s, fb_seed_stats *out)
{
    memset(out, 0, sizeof(*out));
    fb_engine_stats_get(fb_engine_host_engine(s->host), &out->engine);
    fb_engine_host_udp_stats(s->host, &out->udp);
    fb_engine_host_stats_get(s->host, &out->host);
    out->swarms_added = s->added;
    out->swarms_removed = s->removed;
    out->read_errors = s->read_errors_gone;
    for (uint32_t i = 0; i < s->n_slots; i++) {
        if (!s->slots[i].fs)
            continue;
        out->swarms++;
        out->swarms_retiring += s->slots[i].refs == 0;
        out->read_errors += s->slots[i].fs->read_errors;
    }
}
