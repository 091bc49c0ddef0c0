/*
 * encode.h -- writes an answer plan (lookup.h) as a DNS message.
 *
 * Name compression over owners and the RDATA names of NS, CNAME, PTR, MX and
 * SOA; truncation at RRset boundaries with TC set when an answer or authority
 * RRset, or required glue, does not fit; the OPT record when the query had
 * one. Writes only into the caller's buffer; allocates nothing.
 */
#ifndef GTM_ANSWER_ENCODE_H
#define GTM_ANSWER_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "answer/lookup.h"
#include "dns/packet.h"

struct encode_params {
    size_t max_size;         /* message size limit (UDP payload or 65535) */
    uint16_t edns_advertise; /* our UDP payload size in the OPT we send */
    uint8_t ecs_scope;       /* scope prefix for an echoed client subnet */
    const uint8_t *nsid;     /* NSID option for the OPT (RFC 5001), or NULL */
    uint16_t nsid_len;
    const uint8_t *cookie; /* COOKIE option for the OPT (RFC 7873), or NULL */
    uint16_t cookie_len;
};

/* Returns the message length (> 0). out must hold max_size octets. */
size_t answer_encode(const struct dns_query *q, const struct answer_plan *plan,
                     const struct encode_params *ep, uint8_t *out);

/* An error reply with rcode (extended rcodes go into OPT). The question is
 * echoed when q->qname_ok; OPT is added when the query had a valid one. */
size_t answer_encode_error(const struct dns_query *q, uint16_t rcode,
                           const struct encode_params *ep, uint8_t *out);

/* A reply that response rate limiting lets slip: TC set, the question and
 * the OPT as in answer_encode_error, no records; a resolver retries over
 * TCP. */
size_t answer_encode_slip(const struct dns_query *q, uint16_t rcode, const struct encode_params *ep,
                          uint8_t *out);

/* NOTAUTH for a TSIG-signed query whose signature cannot be checked or did
 * not verify: the question, OPT if any, and an unsigned TSIG record with
 * error (BADKEY, BADSIG or BADTRUNC; RFC 8945 §5.2). pkt is the query the
 * TSIG offsets in q point into. */
size_t answer_encode_tsig_error(const struct dns_query *q, const uint8_t *pkt, size_t pktlen,
                                uint16_t error, const struct encode_params *ep, uint8_t *out);

#endif
