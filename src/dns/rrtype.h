/*
 * rrtype.h -- the presentation names of DNS record types, classes and
 * rcodes: the one table of them in gtmd.
 *
 * Configuration (dns checks), the admin API (explain, the override dry
 * run), the prober's failure reasons and the metrics labels all name types
 * and rcodes through these functions, so a mnemonic means the same thing
 * everywhere. The type table holds every mnemonic ldns knows (the zone
 * files' parser) plus the query-only types; names compare case-insensitively
 * (RFC 1035 §5.1 master files do too).
 *
 * Ownership: every returned string is a static constant; nothing allocates.
 */
#ifndef GTM_DNS_RRTYPE_H
#define GTM_DNS_RRTYPE_H

#include <stdbool.h>
#include <stdint.h>

/* The mnemonic of type ("AAAA"), or NULL when the table has none. */
const char *dns_type_name(uint16_t type);

/* The type a mnemonic names (any case); 0 (a reserved type) when unknown.
 * The RFC 3597 generic form is not accepted here, see dns_type_from_text. */
uint16_t dns_type_from_name(const char *s);

/* A mnemonic or the RFC 3597 generic form "TYPEn" (n decimal, 1 to 5
 * digits, 0 < n <= 65535, nothing after it); 0 when it is neither. */
uint16_t dns_type_from_text(const char *s);

/* Whether records of type t may be data: held in a zone, added by an
 * update (RFC 6895 §3.1). Not 0 (reserved: SIG(0)'s "type covered",
 * never a record's type), OPT (41) nor 128-255 (meta and query-only
 * types: TKEY, TSIG, IXFR, AXFR, MAILB, MAILA, ANY), nor 65535 (reserved).
 * Such a "record" makes an answer that clients reject (dig: a bad packet),
 * so zone files and updates refuse them. */
static inline bool dns_type_is_data(uint16_t t)
{
    return t != 0 && t != 41 && (t < 128 || t > 255) && t != 65535;
}

/* The mnemonic of a class ("IN", "CH", "HS", "NONE", "ANY"), or NULL. */
const char *dns_class_name(uint16_t klass);

/* The class a mnemonic names (any case); 0 (reserved) when unknown. */
uint16_t dns_class_from_name(const char *s);

/* The mnemonic of an rcode (0..10, and the extended BADVERS 16 and
 * BADCOOKIE 23), or NULL. */
const char *dns_rcode_name(uint16_t rcode);

/* The rcode a mnemonic names (any case); -1 when unknown. */
int dns_rcode_from_name(const char *s);

#endif
