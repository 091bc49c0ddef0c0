/*
 * tap.h -- a minimal TAP producer for the C unit tests (automake's
 * tap-driver.sh counts every "ok"/"not ok" line). tap_check() records a
 * result and never returns early, so a failing check cannot hide later ones.
 */
#ifndef GTM_TESTS_TAP_H
#define GTM_TESTS_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

struct tap {
    int n;
    int failed;
};

static inline bool tap_check(struct tap *t, bool cond, const char *file, int line, const char *fmt,
                             ...) __attribute__((format(printf, 5, 6)));

static inline bool tap_check(struct tap *t, bool cond, const char *file, int line, const char *fmt,
                             ...)
{
    va_list ap;
    t->n++;
    printf("%sok %d - ", cond ? "" : "not ", t->n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (!cond) {
        printf(" # at %s:%d", file, line);
        t->failed++;
    }
    printf("\n");
    fflush(stdout);
    return cond;
}

#define TAP_CHECK(t, cond, ...) tap_check((t), (cond), __FILE__, __LINE__, __VA_ARGS__)

static inline int tap_done(struct tap *t)
{
    printf("1..%d\n", t->n);
    return t->failed ? 1 : 0;
}

#endif
