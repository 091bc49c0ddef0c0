/*
 * msg_build.h -- writes the DNS messages gtmd sends as a client (the dns
 * health check's query, the query GET /v1/explain runs through the answer
 * path) and the OPT record (RFC 6891) with its client-subnet option
 * (RFC 7871), which those queries and the responder's replies both carry.
 *
 * Every function writes only into the caller's buffer, never past cap, and
 * allocates nothing; the caller owns every input.
 */
#ifndef GTM_DNS_MSG_BUILD_H
#define GTM_DNS_MSG_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/name.h"
#include "dns/packet.h"

/* An OPT record (EDNS version 0, owned by the root). */
struct dns_opt {
    uint16_t payload;          /* the UDP payload size we advertise */
    uint8_t ext_rcode;         /* upper 8 bits of a 12-bit rcode (rcode >> 4) */
    bool do_bit;               /* DNSSEC OK */
    const struct dns_ecs *ecs; /* client subnet option, or NULL for none */
    uint8_t ecs_scope;         /* its scope prefix length (0 in a query) */
    const uint8_t *nsid;       /* NSID option data (RFC 5001), or NULL for none */
    uint16_t nsid_len;
    const uint8_t *cookie; /* COOKIE option data (RFC 7873), or NULL for none */
    uint16_t cookie_len;
};

/* Octets the OPT record takes: 11, plus 8 and the address octets that the
 * source prefix covers when it has an ECS option, plus 4 and the data for
 * an NSID and a COOKIE option. */
size_t dns_msg_opt_size(const struct dns_opt *o);

/*
 * Writes the OPT record at out. Returns its size, or 0 when it does not fit
 * in cap or the ECS option is invalid (family other than 1 or 2, source
 * prefix longer than the address). Address bits
 * past the source prefix are written as zero (RFC 7871 §6).
 */
size_t dns_msg_put_opt(const struct dns_opt *o, uint8_t *out, size_t cap);

/* A query with one question. */
struct dns_msg_query {
    uint16_t id;
    uint16_t flags;               /* header flags word (RD, CD...); QR is cleared */
    const struct dns_name *qname; /* written as is, uncompressed */
    uint16_t qtype;
    uint16_t qclass;
    const struct dns_opt *opt; /* EDNS; NULL for a query without OPT */
};

/* Writes the query (header, question, OPT when asked) into out[0..cap).
 * Returns its length, or 0 when it does not fit or the OPT is invalid. */
size_t dns_msg_build_query(const struct dns_msg_query *q, uint8_t *out, size_t cap);

#endif
