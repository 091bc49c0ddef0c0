/*
 * Unit tests for src/xfr/xfr_catalog_gen.c: the generated catalog's text
 * (read back by gtmd's own catalog reader, xfr_catalog_members), stable
 * member IDs, an order- and case-blind digest, and serials that move only
 * with the list and grow in serial arithmetic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "xfr/xfr_catalog.h"
#include "xfr/xfr_catalog_gen.h"

/* The catalog reader on a catalog of `many` members, each listed twice
 * (the second time in capitals): every member once, and the duplicate
 * checks' work linear in the records (xfr_catalog_list.probes), where the
 * list search of 2026-11 compared each name with all those before it:
 * about 1.5 * many^2 comparisons, 1.5e10 at the cap of 100,000. */
static void test_many_members(struct tap *t, size_t many)
{
    char **m = calloc(2 * many, sizeof(*m));
    if (!m)
        abort();
    for (size_t i = 0; i < 2 * many; i++) {
        char s[64];
        snprintf(s, sizeof(s), i < many ? "z%zu.member.test." : "Z%zu.MEMBER.test.", i % many);
        if (!(m[i] = strdup(s)))
            abort();
    }
    char *text = xfr_catalog_text("cat.test.", m, 2 * many, 7);
    char path[] = "/tmp/gtm-catgen-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
    free(text);
    struct xfr_catalog_list l;
    char why[256] = "";
    int rc = xfr_catalog_members(path, "cat.test.", &l, why, sizeof(why));
    unlink(path);
    TAP_CHECK(t, rc == 0 && l.n == many, "%zu records, %zu members read (%s)", 2 * many,
              rc == 0 ? l.n : 0, why);
    if (rc == 0) {
        double per = (double)l.probes / (double)(2 * many);
        TAP_CHECK(t, per < 4.0 && strcmp(l.origins[many - 1], m[many - 1]) == 0,
                  "duplicate checks: %.2f slots a record (%llu in all); the last is %s", per,
                  (unsigned long long)l.probes, l.origins[many - 1]);
        xfr_catalog_free(&l);
    }
    for (size_t i = 0; i < 2 * many; i++)
        free(m[i]);
    free(m);
}

int main(void)
{
    struct tap t = {0, 0};
    char *m1[] = {"a.test.", "B.test.", "c.example."};
    char *m2[] = {"c.example.", "a.test.", "b.TEST."};
    char *m3[] = {"a.test.", "c.example."};
    char *text = xfr_catalog_text("cat.test.", m1, 3, 42);
    TAP_CHECK(&t,
              strstr(text, "@ 0 IN SOA invalid. invalid. 42 3600 600 2419200 0\n") &&
                  strstr(text, "version 0 IN TXT \"2\"\n"),
              "SOA and version");
    /* The reader a consuming gtmd uses finds exactly the members. */
    char path[] = "/tmp/gtm-catgen-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
    struct xfr_catalog_list l;
    char why[256] = "";
    int rc = xfr_catalog_members(path, "cat.test.", &l, why, sizeof(why));
    unlink(path);
    TAP_CHECK(&t, rc == 0 && l.n == 3, "read back: %zu members (%s)", rc == 0 ? l.n : 0, why);
    if (rc == 0)
        xfr_catalog_free(&l);
    /* ID of a.test.: SHA-256("a.test.") starts with these 16 digits. */
    char *again = xfr_catalog_text("cat.test.", m3, 2, 43);
    const char *id = strstr(text, ".zones 0 IN PTR a.test.");
    TAP_CHECK(&t, id && id - text >= 16 && strstr(again, "zones 0 IN PTR a.test."),
              "a.test. listed in both");
    if (!id)
        return tap_done(&t);
    char want[64];
    snprintf(want, sizeof(want), "%.16s.zones 0 IN PTR a.test.", id - 16);
    TAP_CHECK(&t, strstr(again, want) != NULL, "a member keeps its ID in another list (%s)", want);
    free(again);
    free(text);
    uint64_t d1 = xfr_catalog_digest(m1, 3), d2 = xfr_catalog_digest(m2, 3),
             d3 = xfr_catalog_digest(m3, 2);
    TAP_CHECK(&t, d1 == d2 && d1 != d3, "digest: order and case do not count, members do");
    TAP_CHECK(&t, xfr_catalog_serial(false, 0, 0, d1, 1000) == 1000, "first: the time");
    TAP_CHECK(&t, xfr_catalog_serial(true, d1, 1000, d1, 5000) == 1000, "same list: same serial");
    TAP_CHECK(&t, xfr_catalog_serial(true, d1, 1000, d3, 5000) == 5000, "changed: the time");
    TAP_CHECK(&t, xfr_catalog_serial(true, d1, 1000, d3, 1000) == 1001,
              "changed within the second: old + 1");
    TAP_CHECK(&t, xfr_catalog_serial(true, d1, 4294967295u, d3, 10) == 10,
              "wraps in serial arithmetic (RFC 1982): 4294967295 -> 10");
    TAP_CHECK(&t, xfr_catalog_serial(true, d1, 2000000000u, d3, 10) == 2000000001u,
              "a clock behind the serial: old + 1");
    test_many_members(&t, 100000);
    return tap_done(&t);
}
