/* Kumar-Ross lower bound and client-server time for a crowd that arrives at once. */
#include "sim/bound.h"

#include <math.h>

static double div_or_inf(double a, double b)
{
    return b > 0 ? a / b : INFINITY;
}

double fb_bound_tmin(double f, double u_s, uint32_t n, double sum_u, double min_d)
{
    if (n == 0)
        return 0;
    double t = div_or_inf(f, u_s);
    t = fmax(t, div_or_inf(f, min_d));
    return fmax(t, div_or_inf((double)n * f, u_s + sum_u));
}

double fb_bound_client_server(double f, double u_s, uint32_t n, double min_d)
{
    if (n == 0)
        return 0;
    return fmax(div_or_inf((double)n * f, u_s), div_or_inf(f, min_d));
}
