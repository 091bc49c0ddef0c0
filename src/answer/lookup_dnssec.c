/*
 * lookup_dnssec.c -- denial-of-existence records for answers with DO=1
 * (RFC 4035 §3.1.3-3.1.4 for NSEC, RFC 5155 §7.2 for NSEC3).
 *
 * Everything comes from what the zone found at load (zone_dnssec.c): each
 * node's matching record and the record covering its wildcard, the chain
 * arrays for one binary search. The only hashing done here is of the next
 * closer name of an NSEC3 proof, which depends on the query name. Nothing
 * is allocated; the RRSIGs of each added record go out with it (encode.c).
 */
#include <string.h>

#include "answer/lookup_int.h"
#include "dns/dnssec.h"

/* Adds one denial record set to the authority section, once. */
static void dnssec_add(struct lookup_ctx *c, const struct zone_denial *d)
{
    struct answer_plan *p = c->plan;
    if (!d)
        return;
    for (uint16_t i = 0; i < p->n; i++)
        if (p->rrs[i].rrset == d->rrset)
            return;
    lookup_add(p, d->rrset, d->owner, d->owner_len, ANSWER_SEC_AUTHORITY, false);
}

/* The node of the parent of name (a suffix of it), or NULL at the apex. */
static const struct zone_node *dnssec_parent(const struct zone *z, const uint8_t *name, size_t len)
{
    if (len <= z->origin_len)
        return NULL;
    const uint8_t *p = name + 1 + name[0];
    size_t plen = len - 1u - name[0];
    return zone_find_node(z, p, plen, dns_name_hash(p, plen));
}

/* The NSEC3 covering H(name) where name is the suffix of wire[0..len)
 * one label longer than the encloser (the "next closer name"). */
static const struct zone_denial *dnssec_next_closer(const struct zone *z, const uint8_t *wire,
                                                    size_t len, size_t encloser_len)
{
    size_t p = 0, prev = 0;
    while (len - p > encloser_len && wire[p] != 0) {
        prev = p;
        p += 1 + (size_t)wire[p];
    }
    uint8_t h[DNS_SHA1_LEN];
    bool exact;
    dns_nsec3_hash(wire + prev, len - prev, z->dnssec.nsec3_salt, z->dnssec.nsec3_salt_len,
                   z->dnssec.nsec3_iterations, h);
    return zone_nsec3_find(z, h, &exact);
}

/* The closest (provable) encloser proof for wire[0..len), starting the
 * search at node 'from' (an existing ancestor of it): the NSEC3 matching
 * the closest encloser that has one, and the NSEC3 covering the next closer
 * name (RFC 5155 §7.2.1; with opt-out the encloser is the closest one with
 * an NSEC3, §7.2.4). Returns the encloser used. */
static const struct zone_node *dnssec_nsec3_ce_proof(struct lookup_ctx *c, const struct zone *z,
                                                     const uint8_t *wire, size_t len,
                                                     const struct zone_node *from)
{
    const struct zone_node *ce = from;
    while (ce && !(ce->denial && ce->denial->match))
        ce = dnssec_parent(z, ce->name, ce->name_len);
    if (!ce)
        return NULL;
    dnssec_add(c, ce->denial->match);
    if (len > ce->name_len)
        dnssec_add(c, dnssec_next_closer(z, wire, len, ce->name_len));
    return ce;
}

static void dnssec_nxdomain(struct lookup_ctx *c, const struct zone *z, const struct zone_node *ce)
{
    const struct dns_name *n = c->name;
    if (z->dnssec.kind == ZONE_DENIAL_NSEC) {
        dnssec_add(c, zone_nsec_find(z, n->wire, n->len));
        if (ce->denial)
            dnssec_add(c, ce->denial->wild);
        return;
    }
    const struct zone_node *pce = dnssec_nsec3_ce_proof(c, z, n->wire, n->len, ce);
    if (pce)
        dnssec_add(c, pce->denial->wild);
}

/* NODATA at an existing node: the record matching it shows the type is
 * absent. An NSEC3 zone without one there (DS at an opt-out delegation)
 * proves the closest provable encloser instead. */
static void dnssec_nodata(struct lookup_ctx *c, const struct zone *z, const struct zone_node *node)
{
    if (node->denial && node->denial->match) {
        dnssec_add(c, node->denial->match);
        return;
    }
    if (z->dnssec.kind == ZONE_DENIAL_NSEC3)
        dnssec_nsec3_ce_proof(c, z, node->name, node->name_len,
                              dnssec_parent(z, node->name, node->name_len));
}

/* NODATA through a wildcard: no exact match for the name, and the wildcard
 * has not the type (RFC 4035 §3.1.3.4, RFC 5155 §7.2.5). */
static void dnssec_wild_nodata(struct lookup_ctx *c, const struct zone *z,
                               const struct zone_node *wild)
{
    const struct dns_name *n = c->name;
    if (z->dnssec.kind == ZONE_DENIAL_NSEC)
        dnssec_add(c, zone_nsec_find(z, n->wire, n->len));
    else
        dnssec_nsec3_ce_proof(c, z, n->wire, n->len, c->wild_ce);
    if (wild->denial)
        dnssec_add(c, wild->denial->match);
}

void lookup_dnssec_negative(struct lookup_ctx *c, const struct zone *z,
                            const struct zone_node *node, uint16_t rcode)
{
    if (z->dnssec.kind == ZONE_DENIAL_NONE)
        return;
    if (rcode == DNS_RCODE_NXDOMAIN)
        dnssec_nxdomain(c, z, node);
    else if (c->wild_ce)
        dnssec_wild_nodata(c, z, node);
    else
        dnssec_nodata(c, z, node);
}

void lookup_dnssec_wildcard(struct lookup_ctx *c, const struct zone *z, const struct zone_node *ce)
{
    const struct dns_name *n = c->name;
    if (z->dnssec.kind == ZONE_DENIAL_NSEC)
        dnssec_add(c, zone_nsec_find(z, n->wire, n->len));
    else if (z->dnssec.kind == ZONE_DENIAL_NSEC3)
        dnssec_add(c, dnssec_next_closer(z, n->wire, n->len, ce->name_len));
}

void lookup_dnssec_referral(struct lookup_ctx *c, const struct zone *z, const struct zone_node *cut)
{
    /* An unsigned zone's DS records are plain data to a referral: without
     * RRSIGs they prove nothing, and NSD and Knot leave them out. */
    if (!z->dnssec.has_dnssec_records)
        return;
    const struct zone_rrset *ds = zone_node_rrset(cut, DNS_TYPE_DS);
    if (ds) {
        lookup_add(c->plan, ds, cut->name, cut->name_len, ANSWER_SEC_AUTHORITY, false);
        return;
    }
    if (z->dnssec.kind != ZONE_DENIAL_NONE)
        dnssec_nodata(c, z, cut);
}
