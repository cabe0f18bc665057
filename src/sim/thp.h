/* Transparent huge pages for the simulator's heap: a big crowd touches its memory (engines,
 * packets, the event heap) at random, and with 4 KB pages the loop waits on the TLB more than on
 * the caches. On Linux with glibc, the heap is grown in large steps and each new stretch is marked
 * MADV_HUGEPAGE before it is used (what glibc's tunable glibc.malloc.hugetlb=1 does), so the
 * kernel backs it with 2 MB pages when its THP mode is `madvise` or `always`. Elsewhere every call
 * is a no-op (and under a sanitizer's allocator, which does not use the break, harmless). Placement
 * only: no result depends on it. */
#ifndef FB_SIM_THP_H
#define FB_SIM_THP_H

#include <stddef.h>

/* Process-wide: grows the heap in steps of `pad` bytes (and never gives it back, nor serves a
 * block under 32 MB from its own mapping), then marks the heap as it is now. For a process that
 * runs one big simulation (the `flashback sim` command); call it before the run allocates.
 * Returns the bytes marked so far (0: not supported here). */
size_t fb_thp_heap_begin(size_t pad);

/* Marks what the heap grew by since the last call. Cheap (a comparison) when it did not grow;
 * a no-op before fb_thp_heap_begin. Returns the bytes marked so far. */
size_t fb_thp_heap_follow(void);

#endif
