/* Unit tests for the parent's names (src/zone/zone_kasp_pname.c): the
 * ancestors walked to find the parent's zone cut, nearest first; whether
 * a parent.zone is above a child; the operator's name checked. */
#include <string.h>

#include "tap.h"
#include "zone/zone_kasp_pname.h"

static void test_up(struct tap *t)
{
    const char *n = "www.child.a.example.";
    const char *want[] = {"child.a.example.", "a.example.", "example.", "."};
    size_t i = 0;
    for (const char *u = zone_kasp_pname_up(n); u; u = zone_kasp_pname_up(u), i++)
        TAP_CHECK(t, i < 4 && strcmp(u, want[i]) == 0, "ancestor %zu of %s is %s (got %s)", i, n,
                  i < 4 ? want[i] : "none", u);
    TAP_CHECK(t, i == 4, "four ancestors, the root last (got %zu)", i);
    TAP_CHECK(t, zone_kasp_pname_up(".") == NULL && zone_kasp_pname_up("") == NULL,
              "the root has no parent");
    TAP_CHECK(t, strcmp(zone_kasp_pname_up("a\\.b.example."), "example.") == 0,
              "an escaped dot is inside a label");
    TAP_CHECK(t, strcmp(zone_kasp_pname_up("a\\\\.example."), "example.") == 0,
              "an escaped backslash does not escape the dot after it");
    TAP_CHECK(t, strcmp(zone_kasp_pname_up("example"), ".") == 0, "without the final dot too");
}

static void test_above(struct tap *t)
{
    TAP_CHECK(t, zone_kasp_pname_above("a.example.", "child.b.a.example."),
              "two labels up is above");
    TAP_CHECK(t, zone_kasp_pname_above("EXAMPLE.", "child.example."), "without case");
    TAP_CHECK(t, zone_kasp_pname_above(".", "example."), "the root is above every name");
    TAP_CHECK(t, !zone_kasp_pname_above("child.example.", "child.example."),
              "a zone is not its own parent");
    TAP_CHECK(t, !zone_kasp_pname_above("b.example.", "child.ab.example."),
              "a suffix that is not a whole label is not above");
    TAP_CHECK(t, !zone_kasp_pname_above("other.", "child.example."), "another tree is not");
    TAP_CHECK(t, !zone_kasp_pname_above("x.child.example.", "child.example."),
              "a name below is not above");
}

static void test_norm(struct tap *t)
{
    char out[256], why[200];
    TAP_CHECK(t,
              zone_kasp_pname_norm("example", out, sizeof(out), why, sizeof(why)) &&
                  strcmp(out, "example.") == 0,
              "the final dot is added");
    TAP_CHECK(t,
              zone_kasp_pname_norm("a.example.", out, sizeof(out), why, sizeof(why)) &&
                  strcmp(out, "a.example.") == 0,
              "kept when given");
    TAP_CHECK(
        t, zone_kasp_pname_norm(".", out, sizeof(out), why, sizeof(why)) && strcmp(out, ".") == 0,
        "the root");
    TAP_CHECK(t,
              !zone_kasp_pname_norm("", out, sizeof(out), why, sizeof(why)) &&
                  strstr(why, "domain name"),
              "empty refused: %s", why);
    TAP_CHECK(t,
              !zone_kasp_pname_norm("a..example.", out, sizeof(out), why, sizeof(why)) &&
                  strstr(why, "empty"),
              "an empty label refused: %s", why);
    char big[80];
    memset(big, 'x', 64);
    strcpy(big + 64, ".example.");
    TAP_CHECK(t,
              !zone_kasp_pname_norm(big, out, sizeof(out), why, sizeof(why)) && strstr(why, "63"),
              "a 64-octet label refused: %s", why);
}

int main(void)
{
    struct tap t = {0};
    test_up(&t);
    test_above(&t);
    test_norm(&t);
    return tap_done(&t);
}
