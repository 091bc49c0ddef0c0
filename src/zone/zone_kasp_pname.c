/*
 * zone_kasp_pname.c -- the names of a zone's parent (zone_kasp_pname.h).
 */
#include "zone/zone_kasp_pname.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The end of name's first label (the dot after it, or the final NUL),
 * skipping escaped characters. */
static const char *zone_kasp_pname_label_end(const char *name)
{
    const char *p = name;
    while (*p && *p != '.') {
        if (*p == '\\' && p[1])
            p++; /* \. or the first digit of \DDD: never a separator */
        p++;
    }
    return p;
}

const char *zone_kasp_pname_up(const char *name)
{
    if (!name || name[0] == '\0' || strcmp(name, ".") == 0)
        return NULL;
    const char *e = zone_kasp_pname_label_end(name);
    if (*e == '\0' || e[1] == '\0')
        return "."; /* "example." or "example": the root is next */
    return e + 1;
}

bool zone_kasp_pname_above(const char *anc, const char *child)
{
    for (const char *n = zone_kasp_pname_up(child); n; n = zone_kasp_pname_up(n))
        if (strcasecmp(n, anc) == 0)
            return true;
    return false;
}

bool zone_kasp_pname_norm(const char *in, char *out, size_t cap, char *why, size_t whylen)
{
    size_t n = in ? strlen(in) : 0;
    if (n == 0) {
        snprintf(why, whylen, "must be a domain name such as \"example.\"");
        return false;
    }
    if (n > 253 || n + 2 > cap) {
        snprintf(why, whylen, "is %zu characters long: a domain name has at most 253", n);
        return false;
    }
    if (strcmp(in, ".") != 0) {
        for (const char *p = in; *p;) {
            const char *e = zone_kasp_pname_label_end(p);
            if (e == p || e - p > 63) {
                snprintf(why, whylen, "has a label %s (\"%s\")",
                         e == p ? "that is empty" : "over 63 characters", in);
                return false;
            }
            p = *e ? e + 1 : e;
        }
    }
    snprintf(out, cap, "%s%s", in, in[n - 1] == '.' && (n < 2 || in[n - 2] != '\\') ? "" : ".");
    return true;
}
