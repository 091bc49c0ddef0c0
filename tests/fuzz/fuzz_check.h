/*
 * fuzz_check.h -- the fuzz targets' invariant check: abort() with the
 * failed condition and its place, so libFuzzer and the corpus replay in
 * 'make check' report it as a crash. No state, nothing to free.
 */
#ifndef GTM_FUZZ_CHECK_H
#define GTM_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
