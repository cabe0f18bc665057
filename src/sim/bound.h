/* The limits a flash crowd is measured against. For a file of F bytes, an origin uplink u_s, and
 * N peers with uplinks u_i and downlinks d_i (bytes per second), no distribution scheme finishes
 * every peer sooner than T_min = max(F/u_s, F/min d_i, N*F/(u_s + sum u_i)) (Kumar and Ross,
 * 2006), and plain client-server needs max(N*F/u_s, F/min d_i). Both assume every peer arrives
 * at time 0 and count payload bytes at raw link rates (no header overhead). */
#ifndef FB_SIM_BOUND_H
#define FB_SIM_BOUND_H

#include <stdint.h>

/* T_min in seconds for a file of f bytes, an origin uplink u_s, n peers whose uplinks sum to
 * sum_u and whose slowest downlink is min_d. A zero rate means the term is infinite. */
double fb_bound_tmin(double f, double u_s, uint32_t n, double sum_u, double min_d);

/* The client-server time in seconds for the same crowd. */
double fb_bound_client_server(double f, double u_s, uint32_t n, double min_d);

#endif
