/*
 * xfr_out.h -- outgoing zone transfers (AXFR, RFC 5936; an IXFR request
 * gets the whole zone in AXFR form, RFC 1995 §4): the messages of one
 * transfer, made one at a time as the connection drains.
 *
 * The query path decides whether a transfer may start (query.c: the
 * zone's "transfer" allow list and TSIG key) and fills a struct answer_xfr
 * that the TCP connection owns; the connection then calls answer_xfr_next
 * with the served set it entered until it returns 0. The walk keeps
 * pointers into that set's zone: a set of another generation (a reload
 * happened) ends the transfer, and the secondary tries again.
 *
 * An IXFR (RFC 1995) from a serial the zone's journal knows gets only the
 * differences (zone_journal.h); from the current serial the SOA alone;
 * else the whole zone.
 *
 * What goes out in full: the SOA, then every RRset of every name in the zone with
 * the RRSIGs covering it (glue and delegations included), the NSEC3 chain
 * of a signed zone, and the SOA again. A policy name is transferred as what
 * it answers at that moment to the secondary's address with no ECS: a
 * secondary cannot probe or follow health, so it serves that snapshot
 * until the next transfer (doc/dns-behaviour.md).
 *
 * Ownership: nothing is allocated; the struct lives in the connection.
 */
#ifndef GTM_ANSWER_XFR_OUT_H
#define GTM_ANSWER_XFR_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/dns.h"
#include "dns/tsig.h"
#include "serve/serve.h"
#include "zone/zone.h"

#define XFR_MESSAGE_TARGET 16384 /* octets a message is filled to, when RRsets allow */

struct answer_xfr {
    bool start; /* set by the query path: this query began a transfer */
    const struct zone *zone;
    uint64_t generation;  /* of the set the zone belongs to */
    struct tsig_ctx tsig; /* key NULL: the transfer is not signed */
    struct sockaddr_storage peer;
    uint64_t rng;
    uint16_t id;
    uint8_t question[DNS_MAX_NAME + 4];
    uint16_t question_len;
    /* The walk: phase (SOA, names, NSEC3 chain, SOA, done), then the table
     * slot, the RRset in the node and the policy type in the node. */
    uint8_t phase;
    uint32_t slot;
    uint16_t rrset;
    uint8_t ptype;
    uint32_t chain;
    /* An IXFR answered from the zone's journal: its records from the
     * client's serial on (diff, diff_len; diff_pos sent so far); an IXFR
     * from the current serial gets the SOA alone (current). */
    const uint8_t *diff;
    size_t diff_len, diff_pos;
    bool current;
    uint32_t messages; /* made so far */
    uint64_t records;  /* sent so far, the two SOAs included */
};

/* Sets up x for a transfer of z from the set s to peer (the question of q,
 * the request's ID and verified TSIG state); x->start becomes true. */
void answer_xfr_begin(struct answer_xfr *x, const struct serve_set *s, const struct zone *z,
                      const struct dns_query *q, const struct sockaddr_storage *peer,
                      const struct tsig_ctx *tsig);

/* The serial of the SOA in the authority section of an IXFR request pkt
 * (q parsed it); false when it has none. */
bool answer_xfr_client_serial(const uint8_t *pkt, size_t len, const struct dns_query *q,
                              uint32_t *serial);

/* Makes x an IXFR from client_serial: the journal's differences when it
 * holds the chain from there, the SOA alone when the client is current;
 * else x stays a whole-zone transfer. */
void answer_xfr_incremental(struct answer_xfr *x, uint32_t client_serial);

/* Encodes the next message of the transfer into out (at least 65535
 * octets) from the set s, which the caller has entered; returns its
 * length, or 0 when the transfer is complete or cannot go on (s is of
 * another generation). now: seconds since the epoch, for TSIG. */
size_t answer_xfr_next(struct answer_xfr *x, const struct serve_set *s, uint8_t *out, uint64_t now);

/* True once the last message was made. */
bool answer_xfr_done(const struct answer_xfr *x);

#endif
