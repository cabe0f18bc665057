/* Flow-control state machines (see flow.h). */
#include "engine/flow.h"

uint16_t fb_flow_next_burst(uint16_t size, uint16_t asked, uint16_t arrived)
{
    uint16_t next;
    if (arrived >= asked)
        next = asked >= size ? (uint16_t)(size + 1) : size;
    else
        next = arrived;
    if (next < 1)
        next = 1;
    if (next > FB_BURST_MAX)
        next = FB_BURST_MAX;
    return next;
}

void fb_rtt_sample(fb_rtt *r, uint32_t s)
{
    if (!r->init) {
        r->srtt = s;
        r->rttvar = s / 2;
        r->min = s;
        r->init = true;
        return;
    }
    uint32_t d = s > r->srtt ? s - r->srtt : r->srtt - s;
    r->rttvar = (uint32_t)(((uint64_t)r->rttvar * 3 + d) / 4);
    r->srtt = (uint32_t)(((uint64_t)r->srtt * 7 + s) / 8);
    if (s < r->min)
        r->min = s;
}

uint32_t fb_rtt_rto(const fb_rtt *r, uint32_t initial, uint32_t lo, uint32_t hi)
{
    uint64_t v = r->init ? (uint64_t)r->srtt + 4 * (uint64_t)r->rttvar : initial;
    if (v < lo)
        v = lo;
    if (v > hi)
        v = hi;
    return (uint32_t)v;
}

void fb_upwin_init(fb_upwin *u, uint32_t init, uint32_t min, uint32_t max)
{
    u->min = min;
    u->max = max;
    u->w = FB_MAX(min, FB_MIN(init, max)) * 256;
    u->slow_start = true;
    u->last_cut_us = 0;
}

uint32_t fb_upwin_blocks(const fb_upwin *u)
{
    return u->w / 256;
}

static void cut(fb_upwin *u, uint64_t now_us, uint32_t rtt_us)
{
    u->slow_start = false;
    if (u->last_cut_us && now_us - u->last_cut_us < rtt_us)
        return; /* one reduction per round trip, as in TCP fast recovery */
    u->w = FB_MAX(u->w / 2, u->min * 256);
    u->last_cut_us = now_us ? now_us : 1;
}

void fb_upwin_ack(fb_upwin *u, uint32_t blocks, uint32_t arrived, uint64_t now_us, uint32_t rtt_us)
{
    if (arrived < blocks) {
        cut(u, now_us, rtt_us);
        return;
    }
    uint64_t w = u->w;
    if (u->slow_start)
        w += (uint64_t)blocks * 256;
    else
        w += (uint64_t)blocks * 256 * 256 / w; /* one block per window acknowledged */
    u->w = (uint32_t)FB_MIN(w, (uint64_t)u->max * 256);
}

void fb_upwin_timeout(fb_upwin *u, uint64_t now_us, uint32_t rtt_us)
{
    cut(u, now_us, rtt_us);
}

bool fb_upwin_can_send(const fb_upwin *u, uint32_t inflight, uint32_t blocks)
{
    return inflight == 0 || inflight + blocks <= fb_upwin_blocks(u);
}

void fb_bucket_init(fb_bucket *b, uint64_t rate, uint64_t depth, uint64_t now_us)
{
    b->rate = rate;
    b->depth = FB_MAX(depth, (uint64_t)FB_BUCKET_MIN_DEPTH);
    b->tokens = b->depth * 1000000ull;
    b->last_us = now_us;
}

static void refill(fb_bucket *b, uint64_t now_us)
{
    if (now_us <= b->last_us)
        return;
    uint64_t dt = now_us - b->last_us;
    uint64_t cap = b->depth * 1000000ull;
    /* dt * rate may overflow for long idle times; the bucket is full long before. */
    if (dt >= cap / (b->rate ? b->rate : 1))
        b->tokens = cap;
    else
        b->tokens = FB_MIN(cap, b->tokens + dt * b->rate);
    b->last_us = now_us;
}

bool fb_bucket_take(fb_bucket *b, uint64_t bytes, uint64_t now_us)
{
    if (!b->rate)
        return true;
    refill(b, now_us);
    if (b->tokens < bytes * 1000000ull)
        return false;
    b->tokens -= bytes * 1000000ull;
    return true;
}

uint64_t fb_bucket_when(fb_bucket *b, uint64_t bytes, uint64_t now_us)
{
    if (!b->rate)
        return now_us;
    refill(b, now_us);
    uint64_t need = bytes * 1000000ull;
    if (b->tokens >= need)
        return now_us;
    return now_us + (need - b->tokens + b->rate - 1) / b->rate;
}
