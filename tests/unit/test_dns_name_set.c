/*
 * Unit tests for src/dns/name_set.c: adds, duplicates, finds of names in
 * and out of the set, values, and the work of 100,000 names: the slots
 * looked at (probes) stay a small multiple of the names, where any search
 * that compares a name with those before it (the catalog reader's list on
 * main) would take about n^2/4 = 2.5e9 comparisons.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"
#include "dns/name_set.h"
#include "tap.h"

#define MANY 100000

static void name_of(size_t i, struct dns_name *n)
{
    char s[64];
    snprintf(s, sizeof(s), "z%zu.member.bench.", i);
    if (!dns_name_from_str(s, n))
        abort();
}

static void test_basics(struct tap *t)
{
    struct name_set s;
    struct dns_name a, b, root;
    name_set_init(&s);
    dns_name_from_str("A.Example.", &a);
    dns_name_from_str("b.example.", &b);
    dns_name_from_str(".", &root);
    TAP_CHECK(t, name_set_find(&s, a.wire, a.len) == NAME_SET_NONE, "empty set finds nothing");
    TAP_CHECK(t, name_set_add(&s, a.wire, a.len, 7), "first add is new");
    TAP_CHECK(t, !name_set_add(&s, a.wire, a.len, 9), "second add of the same name is not");
    TAP_CHECK(t, name_set_find(&s, a.wire, a.len) == 7, "value kept from the first add");
    TAP_CHECK(t, name_set_find(&s, b.wire, b.len) == NAME_SET_NONE, "another name is not in");
    /* A suffix of a name is another name (the ancestor searches). */
    TAP_CHECK(t, name_set_find(&s, a.wire + a.label[1], a.len - a.label[1]) == NAME_SET_NONE,
              "the parent is not in");
    TAP_CHECK(t, name_set_add(&s, root.wire, root.len, 0) && name_set_find(&s, root.wire, 1) == 0,
              "the root");
    TAP_CHECK(t, s.n == 2, "two names");
    name_set_free(&s);
    TAP_CHECK(t, s.n == 0 && s.cap == 0, "freed");
}

static void test_many(struct tap *t)
{
    struct name_set s;
    struct dns_name n;
    name_set_init(&s);
    size_t added = 0, found = 0, dups = 0, absent = 0;
    for (size_t i = 0; i < MANY; i++) {
        name_of(i, &n);
        added += name_set_add(&s, n.wire, n.len, i);
    }
    for (size_t i = 0; i < MANY; i++) {
        name_of(i, &n);
        found += name_set_find(&s, n.wire, n.len) == i;
        dups += !name_set_add(&s, n.wire, n.len, 0);
        name_of(i + MANY, &n);
        absent += name_set_find(&s, n.wire, n.len) == NAME_SET_NONE;
    }
    TAP_CHECK(t, added == MANY && found == MANY && dups == MANY && absent == MANY,
              "%d names: %zu added, %zu found, %zu duplicates, %zu absent", MANY, added, found,
              dups, absent);
    /* 4 operations a name (add, find, add again, find another): a few
     * slots each at most half full, the growth's moves counted too. */
    double per_op = (double)s.probes / (4.0 * MANY);
    TAP_CHECK(t, per_op < 4.0, "%.2f slots looked at per operation (%llu in all)", per_op,
              (unsigned long long)s.probes);
    name_set_free(&s);
}

int main(void)
{
    struct tap t = {0, 0};
    test_basics(&t);
    test_many(&t);
    return tap_done(&t);
}
