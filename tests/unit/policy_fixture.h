/*
 * policy_fixture.h -- the policy configuration the policy unit tests build
 * (test_policy_config_touched.c, test_policy_records.c): regions a and b,
 * pools p1 (e1 in a, e2 in b), p2 (e3 in a) and p6 (e6, IPv6, in b), and
 * the records each test makes. Header-only: each test includes it once.
 */
#ifndef GTM_TESTS_UNIT_POLICY_FIXTURE_H
#define GTM_TESTS_UNIT_POLICY_FIXTURE_H

#include <jansson.h>

/* The configuration root with recs as its "records" (the reference is
 * stolen: the root owns it; the caller owns the root). */
static inline json_t *policy_fixture_root(json_t *recs)
{
    return json_pack(
        "{s:{s:{}, s:{}}, s:{s:{s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}]}, s:{s:[{s:s, s:s, s:s}]}, "
        "s:{s:[{s:s, s:s, s:s}]}}, s:o}",
        "regions", "a", "b", "pools", "p1", "endpoints", "name", "e1", "address", "192.0.2.1",
        "region", "a", "name", "e2", "address", "192.0.2.2", "region", "b", "p2", "endpoints",
        "name", "e3", "address", "192.0.2.3", "region", "a", "p6", "endpoints", "name", "e6",
        "address", "2001:db8::6", "region", "b", "records", recs);
}

/* A copy of root to change: new root and "records" objects, members
 * shared (as the configuration API's copy). The caller owns it. */
static inline json_t *policy_fixture_copy(json_t *root)
{
    json_t *c = json_copy(root);
    json_object_set_new(c, "records", json_copy(json_object_get(root, "records")));
    return c;
}

#endif
