/* Test helper: copies bytes so that they end right before an inaccessible page, so a parser
 * that reads one byte past its input crashes instead of passing (picohttpparser's trick). */
#ifndef FB_TEST_GUARD_H
#define FB_TEST_GUARD_H

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct guard {
    uint8_t *map;
    size_t map_len;
    uint8_t *p; /* the copy: p[len] is in the guard page */
} guard;

static uint8_t *guard_copy(guard *g, const void *src, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    g->map_len = (len + page - 1) / page * page + page;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED)
        return NULL;
    mprotect(g->map + g->map_len - page, page, PROT_NONE);
    g->p = g->map + g->map_len - page - len;
    if (len)
        memcpy(g->p, src, len);
    return g->p;
}

static void guard_free(guard *g)
{
    munmap(g->map, g->map_len);
}

#endif
