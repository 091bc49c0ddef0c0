/*
 * xfr_catalog.c -- the member zones of a catalog zone's copy
 * (xfr_catalog.h).
 */
#include "xfr/xfr_catalog.h"

#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/name.h"
#include "dns/name_set.h"
#include "xfr/xfr_store.h"

#define XFR_CATALOG_MAX_MEMBERS 100000

/* The name at owner minus origin, as labels above it: "zones" and the
 * unique id for a member record. */
static size_t xfr_catalog_labels_above(const ldns_rdf *owner, const ldns_rdf *origin)
{
    return ldns_dname_label_count(owner) - ldns_dname_label_count(origin);
}

static bool xfr_catalog_is_version(const ldns_rr *rr, const ldns_rdf *version)
{
    if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT || ldns_dname_compare(ldns_rr_owner(rr), version))
        return false;
    char *t = ldns_rdf2str(ldns_rr_rdf(rr, 0));
    bool two = t && strcmp(t, "\"2\"") == 0;
    free(t);
    return two;
}

/* Adds the PTR target of rr to out, once (seen: the targets so far, so
 * that a list of n members costs n set lookups, not n^2/2 comparisons);
 * false when out is full. */
static bool xfr_catalog_add(const ldns_rr *rr, struct name_set *seen, struct xfr_catalog_list *out)
{
    const ldns_rdf *t = ldns_rr_rdf(rr, 0);
    struct dns_name n;
    if (!t || ldns_rdf_get_type(t) != LDNS_RDF_TYPE_DNAME || ldns_rdf_size(t) > DNS_MAX_NAME)
        return true;
    uint8_t wire[DNS_MAX_NAME];
    memcpy(wire, ldns_rdf_data(t), ldns_rdf_size(t));
    if (!dns_name_index(wire, ldns_rdf_size(t), &n))
        return true;
    dns_name_lower(n.wire, n.len);
    if (!name_set_add(seen, n.wire, n.len, out->n))
        return true;
    if (out->n >= XFR_CATALOG_MAX_MEMBERS)
        return false;
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 64;
        char **grown = realloc(out->origins, out->cap * sizeof(*grown));
        if (!grown)
            abort();
        out->origins = grown;
    }
    char text[DNS_MAX_NAME * 4 + 2]; /* every octet escaped as \DDD at worst */
    dns_name_to_str(n.wire, text, sizeof(text));
    if (!(out->origins[out->n] = strdup(text)))
        abort();
    out->n++;
    return true;
}

int xfr_catalog_members(const char *path, const char *origin, struct xfr_catalog_list *out,
                        char *why, size_t whylen)
{
    struct dns_name o;
    memset(out, 0, sizeof(*out));
    why[0] = '\0';
    if (!dns_name_from_str(origin, &o) || access(path, F_OK) != 0)
        return -1;
    ldns_rr_list *rrs = xfr_store_read(path, o.wire, o.len);
    if (!rrs) {
        snprintf(why, whylen, "the copy %s cannot be read as a zone", path);
        return -1;
    }
    ldns_rdf *org = ldns_dname_new_frm_data(o.len, o.wire);
    ldns_rdf *zones = ldns_dname_new_frm_str("zones");
    ldns_rdf *version = ldns_dname_new_frm_str("version");
    ldns_dname_cat(zones, org);
    ldns_dname_cat(version, org);
    bool v2 = false, full = false;
    struct name_set seen;
    name_set_init(&seen);
    for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
        const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
        v2 |= xfr_catalog_is_version(rr, version);
        const ldns_rdf *owner = ldns_rr_owner(rr);
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) >= 3 &&
            ldns_dname_compare(owner, org) == 0)
            out->serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
        /* A member: PTR at UNIQUE-ID.zones.CATALOG, exactly one label below. */
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_PTR && ldns_dname_is_subdomain(owner, zones) &&
            xfr_catalog_labels_above(owner, org) == 2 && !xfr_catalog_add(rr, &seen, out))
            full = true;
    }
    out->probes = seen.probes;
    name_set_free(&seen);
    ldns_rdf_deep_free(org);
    ldns_rdf_deep_free(zones);
    ldns_rdf_deep_free(version);
    ldns_rr_list_deep_free(rrs);
    if (!v2 || full) {
        snprintf(why, whylen,
                 !v2 ? "not a catalog zone of version 2 (version TXT \"2\")"
                     : "more than %d member zones",
                 XFR_CATALOG_MAX_MEMBERS);
        xfr_catalog_free(out);
        return -1;
    }
    return 0;
}

void xfr_catalog_free(struct xfr_catalog_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->origins[i]);
    free(l->origins);
    l->origins = NULL;
    l->n = 0;
    l->cap = 0;
}
