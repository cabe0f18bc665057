/* Huge pages for the heap (Linux, glibc): malloc options so that the heap grows by a large pad
 * and keeps what it grew, and madvise(MADV_HUGEPAGE) on each stretch the break moved over. */
#include "sim/thp.h"

#include <stdbool.h>
#include <stdint.h>

#if defined(__linux__) && defined(__GLIBC__)
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#define FB_THP 1
#endif

#ifdef FB_THP
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; /* the simulator's threads share these */
static uintptr_t marked_to; /* the heap is marked up to here (0: not begun) */
static size_t marked;       /* bytes marked so far */

static uintptr_t page_up(uintptr_t a)
{
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    return (a + pg - 1) & ~(pg - 1);
}

static size_t follow(void)
{
    if (!marked_to)
        return 0;
    uintptr_t brk = (uintptr_t)sbrk(0);
    if (brk == (uintptr_t)-1 || brk <= marked_to)
        return marked;
    uintptr_t from = marked_to, to = brk & ~(uintptr_t)(sysconf(_SC_PAGESIZE) - 1);
    if (to > from && madvise((void *)from, to - from, MADV_HUGEPAGE) == 0)
        marked += to - from;
    marked_to = to > from ? to : from;
    return marked;
}

size_t fb_thp_heap_follow(void)
{
    pthread_mutex_lock(&mu);
    size_t m = follow();
    pthread_mutex_unlock(&mu);
    return m;
}

size_t fb_thp_heap_begin(size_t pad)
{
    pthread_mutex_lock(&mu);
    size_t m = marked_to ? follow() : 0;
    bool begun = marked_to != 0;
    pthread_mutex_unlock(&mu);
    if (begun)
        return m;
    /* Blocks up to 32 MB (glibc's largest threshold) come from the heap, the heap grows by
     * `pad` beyond each request, free memory at its top stays (a stretch given back and taken
     * again would come back unmarked), and every thread allocates from it (one arena: a
     * thread's own arena would be mapped apart, unmarked). */
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TOP_PAD, (int)(pad > (1u << 30) ? 1u << 30 : pad));
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    uintptr_t before = (uintptr_t)sbrk(0);
    if (before == (uintptr_t)-1)
        return 0;
    pthread_mutex_lock(&mu);
    marked_to = page_up(before);
    pthread_mutex_unlock(&mu);
    /* Grow the heap now (by the pad), so the first stretch is marked before anything uses it. */
    free(malloc(256 << 10));
    return fb_thp_heap_follow();
}
#else
size_t fb_thp_heap_begin(size_t pad)
{
    (void)pad;
    return 0;
}

size_t fb_thp_heap_follow(void)
{
    return 0;
}
#endif
