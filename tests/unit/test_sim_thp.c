/* Unit tests for sim/thp: the stretch the break moves over is marked for huge pages (the
 * kernel's "hg" flag on the mapping), and a heap that did not grow is not marked again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "sim/thp.c"

#ifdef FB_THP
/* Whether the mapping holding address a carries the MADV_HUGEPAGE flag (/proc/self/smaps). */
static int mapping_marked(uintptr_t a)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512];
    int in = 0, flag = -1;
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = a >= lo && a < hi;
            continue;
        }
        if (in && strncmp(line, "VmFlags:", 8) == 0) {
            flag = strstr(line, " hg") != NULL;
            break;
        }
    }
    fclose(f);
    return flag;
}

static void test_follow(void **state)
{
    (void)state;
    /* Before begin: nothing is marked. */
    assert_int_equal(fb_thp_heap_follow(), 0);
    size_t m0 = fb_thp_heap_begin(1u << 20);
    /* Move the break by 8 MB ourselves (the allocator of a sanitized build does not use it). */
    char *a = sbrk(8u << 20);
    assert_true(a != (char *)-1);
    memset(a, 1, 8u << 20);
    size_t m1 = fb_thp_heap_follow();
    if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0) {
        assert_true(m1 >= m0 + (8u << 20) - 4096);
        assert_int_equal(mapping_marked((uintptr_t)a + (4u << 20)), 1);
    } else {
        /* A kernel without huge pages refuses the advice: nothing is claimed as marked. */
        assert_int_equal(m1, m0);
        assert_int_equal(mapping_marked((uintptr_t)a + (4u << 20)), 0);
    }
    /* No growth: the same total. */
    assert_int_equal(fb_thp_heap_follow(), m1);
    assert_int_equal(fb_thp_heap_begin(1u << 20), m1);
}
#else
static void test_follow(void **state)
{
    (void)state;
    assert_int_equal(fb_thp_heap_begin(1u << 20), 0);
    assert_int_equal(fb_thp_heap_follow(), 0);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_follow)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
