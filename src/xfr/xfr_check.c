/*
 * xfr_check.c -- the checks of a transfer before anything is adopted
 * (xfr_check.h).
 */
#include "xfr/xfr_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errlist.h"
#include "xfr/xfr_fetch.h"
#include "zone/zone.h"
#include "zone/zone_load.h"

/* rr in presentation form for why (at most whylen octets). */
static void xfr_check_say(const ldns_rr *rr, const char *what, char *why, size_t whylen)
{
    char *t = ldns_rr2str(rr);
    size_t n = t ? strlen(t) : 0;
    while (n && (t[n - 1] == '\n' || t[n - 1] == '\t'))
        t[--n] = '\0';
    snprintf(why, whylen, "%s: %s", what, t ? t : "?");
    free(t);
}

bool xfr_check_records(const ldns_rr_list *got, const uint8_t *origin, size_t origin_len, char *why,
                       size_t whylen)
{
    ldns_rdf *o = ldns_dname_new_frm_data((uint16_t)origin_len, origin);
    size_t n = ldns_rr_list_rr_count(got);
    bool ok = o != NULL && n > 0;
    if (!ok)
        snprintf(why, whylen, "the transfer brought no records");
    for (size_t i = 0; ok && i < n; i++) {
        const ldns_rr *rr = ldns_rr_list_rr(got, i);
        const ldns_rdf *owner = ldns_rr_owner(rr);
        if (ldns_dname_compare(owner, o) != 0 && !ldns_dname_is_subdomain(owner, o)) {
            xfr_check_say(rr, "a record outside the zone", why, whylen);
            ok = false;
        } else if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
            xfr_check_say(rr, "a record of another class than IN", why, whylen);
            ok = false;
        } else if (i == 0 && (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA ||
                              ldns_dname_compare(owner, o) != 0)) {
            xfr_check_say(rr, "the transfer does not begin with the zone's SOA", why, whylen);
            ok = false;
        }
    }
    ldns_rdf_deep_free(o);
    return ok;
}

bool xfr_check_zone(const ldns_rr_list *zone, const uint8_t *origin, size_t origin_len,
                    uint32_t serial, char *why, size_t whylen)
{
    ldns_rdf *o = ldns_dname_new_frm_data((uint16_t)origin_len, origin);
    size_t soas = 0;
    bool ok = o != NULL;
    for (size_t i = 0; ok && i < ldns_rr_list_rr_count(zone); i++) {
        const ldns_rr *rr = ldns_rr_list_rr(zone, i);
        if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA)
            continue;
        soas++;
        if (ldns_dname_compare(ldns_rr_owner(rr), o) != 0) {
            xfr_check_say(rr, "a SOA below the apex", why, whylen);
            ok = false;
        } else if (xfr_soa_serial(rr) != serial) {
            snprintf(why, whylen, "the zone's SOA has serial %u, the transfer announced %u",
                     xfr_soa_serial(rr), serial);
            ok = false;
        }
    }
    if (ok && soas != 1) {
        snprintf(why, whylen, "the zone has %zu SOA records (one wanted)", soas);
        ok = false;
    }
    ldns_rdf_deep_free(o);
    return ok;
}

bool xfr_check_loads(const char *path, const char *display, const char *origin, char *why,
                     size_t whylen)
{
    struct errlist errs;
    errlist_init(&errs);
    struct zone *z = zone_load(origin, path, display, NULL, 0, &errs);
    bool ok = z != NULL && errs.count == 0;
    if (!ok)
        snprintf(why, whylen, "the zone does not load: %s",
                 errs.count ? errs.msgs[0] : "no reason given");
    if (z)
        zone_free(z);
    errlist_free(&errs);
    return ok;
}
