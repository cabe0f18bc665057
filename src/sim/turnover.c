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
        uint32_t m0 = 0, m1 = 0, both = 0;
        for (uint32_t i = 0; i < n; i++) {
            int in0 = arrive[i] <= t && t < leave[i];
            int in1 = arrive[i] <= t + w && t + w < leave[i];
            m0 += (uint32_t)in0;
            m1 += (uint32_t)in1;
            both += (uint32_t)(in0 && in1);
        }
        uint32_t uni = m0 + m1 - both;
        if (uni == 0 || uni < min_members)
            continue;
        double f = (double)(uni - both) / (double)uni;
        if (f > best) {
            best = f;
            *at = t;
        }
    }
    return best;
}
