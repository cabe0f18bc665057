/* Overlay turnover: how much of a swarm's membership is replaced within a time window. The
 * overlay at time x, M(x), is the set of members with arrive <= x < leave. The turnover of the
 * window [t, t + w] is |M(t) \ M(t+w)| / |M(t)|: the fraction of the overlay at t that has left
 * it by t + w (docs/SIMULATOR.md). Arrivals alone do not count, so a burst of newcomers is not
 * "turnover" until they leave. */
#ifndef FB_SIM_TURNOVER_H
#define FB_SIM_TURNOVER_H

#include <stdint.h>

/* The maximum turnover over windows [t, t + w] for t = 0, step, 2 step, ... <= end, among windows
 * whose M(t) holds at least min_members members (and at least one). arrive[i] and leave[i] are
 * member i's times (leave = UINT64_MAX for a member that never left). Sets *at to the t of the
 * maximum (0 when no window qualifies, and then returns 0). */
double fb_turnover_max(const uint64_t *arrive, const uint64_t *leave, uint32_t n, uint64_t end,
                       uint64_t w, uint64_t step, uint32_t min_members, uint64_t *at);

#endif
