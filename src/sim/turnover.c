/* Maximum windowed turnover of a membership given as intervals; O(windows x members), which is
 * a few tens of millions of comparisons for the largest runs. */
#include "sim/turnover.h"

double fb_turnover_max(const uint64_t *arrive, const uint64_t *leave, uint32_t n, uint64_t end,
                       uint64_t w, uint64_t step, uint32_t min_members, uint64_t *at)
{
    double best = 0;
    *at = 0;
    if (!step)
        return 0;
    for (uint64_t t = 0; t <= end; t += step) {
        uint32_t m0 = 0, gone = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (arrive[i] <= t && t < leave[i]) {
                m0++;
                gone += leave[i] <= t + w;
            }
        }
        if (m0 == 0 || m0 < min_members)
            continue;
        double f = (double)gone / (double)m0;
        if (f > best) {
            best = f;
            *at = t;
        }
    }
    return best;
}
