/* Test helper: places bytes right before an inaccessible page, so a parser that reads one byte
 * past its input crashes the test instead of passing by luck (as picohttpparser's tests do). */
#ifndef FB_TEST_GUARD_H
#define FB_TEST_GUARD_H

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *guard_region;
static size_t guard_region_len;

/* Returns a copy of s[0..n) whose last byte is the last byte before a PROT_NONE page. The copy
 * stays valid until the next call. */
static inline char *guard_copy(const void *s, size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (n + page - 1) / page;
    if (data_pages == 0)
        data_pages = 1;
    if (guard_region)
        munmap(guard_region, guard_region_len);
    guard_region_len = (data_pages + 1) * page;
    guard_region =
        mmap(NULL, guard_region_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guard_region == MAP_FAILED)
        abort();
    char *end = (char *)guard_region + data_pages * page;
    if (mprotect(end, page, PROT_NONE) != 0)
        abort();
    memcpy(end - n, s, n);
    return end - n;
}

#endif
