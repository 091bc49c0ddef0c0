/*
 * xfr_catalog.h -- catalog zones (RFC 9432) as a consumer: a secondary
 * zone marked "catalog" lists member zones, which gtmd then serves as
 * secondary zones from the catalog's primaries, without a change of its
 * configuration file.
 *
 * A catalog is read from gtmd's copy of it at every load: its
 * version.CATALOG TXT must be "2" (the schema of RFC 9432 §4.2.1); each
 * PTR record at UNIQUE-ID.zones.CATALOG names a member zone. Properties
 * (group, coo) are not used.
 *
 * Ownership: xfr_catalog_members returns a malloc'ed array of malloc'ed
 * origin strings (xfr_catalog_free).
 */
#ifndef GTM_XFR_XFR_CATALOG_H
#define GTM_XFR_XFR_CATALOG_H

#include <stddef.h>
#include <stdint.h>

struct xfr_catalog_list {
    char **origins; /* absolute presentation form, lowercase, as dns_name_to_str writes it */
    size_t n, cap;
    uint64_t probes; /* the duplicate checks' work (name_set.h): linear in the records */
    uint32_t serial; /* of the SOA at the catalog's apex (0 without one) */
};

/*
 * The member zones listed in the copy at path of the catalog zone origin
 * (presentation form). 0 with the members in out; -1 with the reason in
 * why when the copy cannot be read or is not a catalog of version 2 (no
 * copy yet: -1 and why empty).
 */
int xfr_catalog_members(const char *path, const char *origin, struct xfr_catalog_list *out,
                        char *why, size_t whylen);

void xfr_catalog_free(struct xfr_catalog_list *l);

#endif
