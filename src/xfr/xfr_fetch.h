/*
 * xfr_fetch.h -- what a secondary asks its primary: the zone's SOA serial
 * (over UDP, TCP when truncated) and a zone transfer over TCP (IXFR with
 * our SOA when we have a copy, else AXFR), each signed with the zone's
 * TSIG key when it has one, every message of the reply checked.
 *
 * Blocking, with deadlines: called from the secondary thread only.
 * Ownership: *rrs is the caller's (ldns_rr_list_deep_free).
 */
#ifndef GTM_XFR_XFR_FETCH_H
#define GTM_XFR_XFR_FETCH_H

#include <ldns/ldns.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/tsig.h"

#define XFR_FETCH_MAX_RECORDS 5000000 /* records one transfer may bring */
#define XFR_FETCH_MAX_UNSIGNED 99     /* messages in a row without TSIG (RFC 8945 §5.3.1) */

struct xfr_server {
    const struct sockaddr_storage *addr;
    socklen_t len;
    const struct tsig_key *key; /* NULL: unsigned */
    unsigned idle_ms;           /* one answer, or one message of a transfer */
    unsigned total_ms;          /* a whole transfer */
    const atomic_bool *stop;    /* set: give up at once (NULL: never) */
};

/* The serial of the primary's SOA for origin (lowercase wire); false with
 * the reason in why, and *rcode the error rcode the primary answered (-1
 * when it did not answer one: no answer, or a wrong one). */
bool xfr_fetch_soa(const struct xfr_server *srv, const uint8_t *origin, size_t origin_len,
                   uint32_t *serial, int *rcode, char *why, size_t whylen);

/*
 * A transfer of origin: IXFR from our_soa (NULL: AXFR). *rrs gets every
 * record of the answer sections, in order, TSIG records left out. Every
 * message is checked as it comes: a reply to our query, its TSIG (when
 * there is a key: the first and the last message signed, at most 99
 * unsigned in a row, each signed one covering those before it), each
 * record's RDATA exactly its RDLENGTH
 * and parsed whole as its type; the stream must end with the closing SOA
 * before transfer_ms, no message later than idle_ms after the one before.
 * False with the reason in why and the kind of failure in *fail.
 */
enum xfr_fetch_fail {
    XFR_FETCH_UNREACHED, /* no connection, or an error rcode: the primary's answer */
    XFR_FETCH_BAD,       /* the primary sent something wrong: the transfer is refused */
    XFR_FETCH_SLOW,      /* a message or the whole stream too late: refused too */
};
bool xfr_fetch_transfer(const struct xfr_server *srv, const uint8_t *origin, size_t origin_len,
                        const ldns_rr *our_soa, ldns_rr_list **rrs, enum xfr_fetch_fail *fail,
                        char *why, size_t whylen);

/* One UDP exchange of a message the caller built (the key manager's DS
 * query to a parent server, its DS UPDATE to the parent's primary):
 * q[0..qlen) with its ID set and no TSIG, qcap bytes of room to sign it
 * with srv->key (when set). The reply must answer it (its ID, QR, the
 * same opcode, the same question: fetch_same_question) and, signed,
 * carry a valid TSIG; a truncated UDP reply is asked again over TCP. true: *rlen the reply's
 * length without its TSIG record, *rcode its rcode. false with why;
 * *rcode the rcode of a reply that came but could not be checked (a
 * server that does not know the key answers NOTAUTH unsigned), else -1. */
bool xfr_fetch_exchange(const struct xfr_server *srv, uint8_t *q, size_t qlen, size_t qcap,
                        uint8_t *reply, size_t cap, size_t *rlen, int *rcode, char *why,
                        size_t whylen);

/* The serial of a SOA record. */
uint32_t xfr_soa_serial(const ldns_rr *soa);

#endif
