/* tests/windows/check.h — the smallest test harness: no framework, since
 * Debian has no mingw build of cmocka. CHECK prints one line per check;
 * check_summary prints "N passed, N failed" (run_wine.sh reads it) and
 * gives the exit status. */
#ifndef OUTPOST_TEST_CHECK_H
#define OUTPOST_TEST_CHECK_H

#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (cond) {                                                                                          \
            check_passed++;                                                                                  \
            printf("ok   - ");                                                                               \
        } else {                                                                                             \
            check_failed++;                                                                                  \
            printf("FAIL - %s:%d: (%s) ", __FILE__, __LINE__, #cond);                                        \
        }                                                                                                    \
        printf(__VA_ARGS__);                                                                                 \
        printf("\n");                                                                                        \
        fflush(stdout);                                                                                      \
    } while (0)

static int check_summary(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
