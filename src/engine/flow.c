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

void fb_rate_init(fb_rate *r, uint64_t initial, uint64_t min, uint64_t max, uint64_t now_us)
{
    memset(r, 0, sizeof(*r));
    r->min = min;
    r->max = max;
    r->rate = FB_MAX(min, FB_MIN(initial, max));
    r->start = true;
    r->period_start_us = now_us;
    r->period_us = 200000;
}

void fb_rate_rtt(fb_rate *r, uint32_t rtt_us)
{
    r->period_us = FB_MIN(FB_MAX(2 * rtt_us, 50000u), 400000u);
}

bool fb_rate_bottleneck(uint64_t spread_us, uint64_t span_us)
{
    return spread_us > span_us + span_us / FB_RATE_BN_SLACK;
}

static void set(fb_rate *r, uint64_t v)
{
    r->rate = FB_MAX(r->min, FB_MIN(v, r->max));
}

static void close_period(fb_rate *r, uint64_t now_us)
{
    if (now_us - r->period_start_us < r->period_us)
        return;
    if (r->qd_n) {
        uint64_t qd = r->qd_sum / r->qd_n, t = FB_RATE_TARGET_US;
        /* Losses mean congestion when most reports have some, or a queue stands; a few
         * scattered ones are the path's own loss rate, which slowing down would not cure. */
        bool congested = r->loss && ((r->loss_n >= 2 && 2 * r->loss_n >= r->qd_n) || qd > t / 2);
        if (r->start) {
            if (r->bn_n) {
                set(r, r->bn_max); /* the path's rate, found */
                r->start = false;
            } else if (congested || qd >= t / 2) {
                set(r, r->rate * 3 / 4);
                r->start = false;
                r->cut_us = now_us;
            } else if (r->limited) {
                set(r, r->rate * 2);
            }
        } else {
            uint64_t v = r->rate, carried = 0;
            for (int i = 0; i < FB_RATE_WINDOW; i++)
                carried = FB_MAX(carried, r->win[i]);
            carried = FB_MAX(carried, r->rate_max);
            /* A queue grew under a burst: the path carried no more than the fastest report of
             * the last few periods (a slower one may have met its receiver's downlink queue). */
            if (r->bn_n) {
                v = FB_MIN(v, carried - carried / 32); /* a little under, to drain the queue */
                r->ceil = carried;
                r->ceil_us = now_us;
            }
            if (congested) {
                v = FB_MIN(v, r->rate * 3 / 4);
                r->cut_us = now_us;
            } else if (qd > t)
                v -= v * FB_MIN(qd - t, t) / t / FB_RATE_SHRINK;
            else if (!r->bn_n && r->limited) {
                uint64_t g = v * (t - qd) / t / (qd < t / 4 ? 8 : 32);
                uint64_t c = r->ceil - r->ceil / 32;
                if (!r->ceil || now_us - r->ceil_us >= FB_RATE_CEIL_US)
                    v += g;
                else if (v < c)
                    v = FB_MIN(v + g, c); /* back to what the path carried lately */
                else
                    v += v / 64; /* past it: probe gently */
            }
            set(r, v);
        }
    }
    r->win[r->win_next++ % FB_RATE_WINDOW] = r->rate_max;
    r->rate_max = 0;
    r->qd_sum = 0;
    r->qd_n = 0;
    r->bn_max = 0;
    r->bn_n = 0;
    r->loss_n = 0;
    r->loss = false;
    r->limited = false;
    r->period_start_us = now_us;
}

void fb_rate_report(fb_rate *r, uint32_t qd_us, bool loss, uint64_t rate, bool bottleneck,
                    uint64_t sent_us, uint64_t now_us)
{
    close_period(r, now_us);
    r->rate_max = FB_MAX(r->rate_max, rate);
    r->start_sent = 0;
    if (rate)
        r->known = true;
    if (bottleneck && rate) {
        r->bn_max = FB_MAX(r->bn_max, rate);
        r->bn_n++;
    }
    if (sent_us < r->cut_us)
        return; /* sent before the last cut: its delay and losses were answered already */
    if (r->start && bottleneck && rate && rate < r->rate / 2) {
        set(r, rate); /* far slower than the first guess: no need to wait for the period */
        r->start = false;
    }
    r->qd_sum += qd_us;
    r->qd_n++;
    r->loss |= loss;
    r->loss_n += loss;
}

bool fb_rate_window_open(fb_rate *r, uint32_t blocks, uint32_t window, uint64_t now_us)
{
    close_period(r, now_us);
    if (r->known)
        return true;
    if (now_us - r->window_us >= FB_RATE_START_WAIT_US)
        r->start_sent = 0; /* no report: another request, a second later */
    return r->start_sent == 0 || r->start_sent + blocks <= FB_MAX(window, FB_RATE_START_BLOCKS);
}

void fb_rate_sent(fb_rate *r, uint32_t blocks, uint64_t now_us)
{
    r->window_us = now_us;
    r->start_sent += blocks;
}

void fb_rate_cancelled(fb_rate *r)
{
    if (!r->known)
        r->start_sent = 0;
}

void fb_rate_limited(fb_rate *r)
{
    r->limited = true;
}

uint64_t fb_rate_pace(fb_rate *r, uint64_t now_us)
{
    close_period(r, now_us);
    return r->rate;
}

void fb_bucket_init(fb_bucket *b, uint64_t rate, uint64_t depth, uint64_t now_us)
{
    b->rate = rate;
    b->depth = FB_MAX(depth, (uint64_t)FB_BUCKET_MIN_DEPTH);
    b->tokens = (int64_t)(b->depth * 1000000ull);
    b->last_us = now_us;
}

static void refill(fb_bucket *b, uint64_t now_us)
{
    if (now_us <= b->last_us)
        return;
    uint64_t dt = now_us - b->last_us;
    int64_t cap = (int64_t)(b->depth * 1000000ull);
    /* dt * rate may overflow for long idle times; the bucket is full long before. */
    if (dt >= (uint64_t)(2 * cap) / (b->rate ? b->rate : 1))
        b->tokens = cap;
    else
        b->tokens = FB_MIN(cap, b->tokens + (int64_t)(dt * b->rate));
    b->last_us = now_us;
}

void fb_bucket_set(fb_bucket *b, uint64_t rate, uint64_t depth, uint64_t now_us)
{
    if (b->rate)
        refill(b, now_us);
    else
        b->last_us = now_us;
    b->rate = rate;
    b->depth = FB_MAX(depth, (uint64_t)FB_BUCKET_MIN_DEPTH);
    b->tokens = FB_MIN(b->tokens, (int64_t)(b->depth * 1000000ull));
}

bool fb_bucket_take(fb_bucket *b, uint64_t bytes, uint64_t now_us)
{
    if (!b->rate)
        return true;
    refill(b, now_us);
    int64_t need = (int64_t)(bytes * 1000000ull);
    if (b->tokens < need)
        return false;
    b->tokens -= need;
    return true;
}

void fb_bucket_force(fb_bucket *b, uint64_t bytes, uint64_t now_us)
{
    if (!b->rate)
        return;
    refill(b, now_us);
    b->tokens -= (int64_t)(bytes * 1000000ull);
    int64_t floor = -(int64_t)(b->depth * 1000000ull);
    if (b->tokens < floor)
        b->tokens = floor;
}

uint64_t fb_bucket_when(fb_bucket *b, uint64_t bytes, uint64_t now_us)
{
    if (!b->rate)
        return now_us;
    refill(b, now_us);
    int64_t need = (int64_t)(bytes * 1000000ull);
    if (b->tokens >= need)
        return now_us;
    return now_us + ((uint64_t)(need - b->tokens) + b->rate - 1) / b->rate;
}
