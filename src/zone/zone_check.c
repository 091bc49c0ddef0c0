/*
 * zone_check.c -- zone validation and additional-section precomputation.
 *
 * Rules (each reported with file:line): exactly one SOA and only at the apex;
 * a CNAME owner holds nothing else (DNSSEC types aside) and one CNAME only;
 * a DNAME owner holds one DNAME and no CNAME, and no name below it holds
 * data (RFC 6672 §2.3, §2.4);
 * a delegation whose NS target lies inside the delegated zone needs an
 * address record for it (glue).
 */
#include "zone/zone_build_int.h"

#include <stdio.h>
#include <string.h>

#include "dns/dns.h"
#include "dns/name.h"
#include "dns/rrtype.h"

static const struct zone_rr_in *check_rr_of(const struct zone_builder *b,
                                            const struct build_node *bn, uint16_t type)
{
    for (size_t k = bn->first_rr; k < bn->first_rr + bn->n_rr; k++)
        if (b->rrs[k].type == type)
            return &b->rrs[k];
    return &b->rrs[bn->first_rr];
}

static void check_error(struct zone_builder *b, const struct zone_rr_in *r, const char *what,
                        const uint8_t *name)
{
    char nb[1024];
    dns_name_to_str(name, nb, sizeof(nb));
    errlist_add(b->errs, "%s:%u: %s: %s", b->files[r->file_idx], r->line, nb, what);
}

static bool check_is_dnssec_type(uint16_t t)
{
    return t == DNS_TYPE_RRSIG || t == DNS_TYPE_NSEC;
}

static void check_soa(struct zone_builder *b, struct build_node *bn, bool is_apex)
{
    const struct zone_rrset *soa = zone_node_rrset(bn->node, DNS_TYPE_SOA);
    if (!soa)
        return;
    const struct zone_rr_in *r = check_rr_of(b, bn, DNS_TYPE_SOA);
    if (!is_apex)
        check_error(b, r, "SOA record outside the zone apex", bn->node->name);
    else if (soa->count > 1)
        check_error(b, r, "several SOA records at the apex (exactly one allowed)", bn->node->name);
}

static void check_cname(struct zone_builder *b, struct build_node *bn)
{
    const struct zone_rrset *cn = zone_node_rrset(bn->node, DNS_TYPE_CNAME);
    if (!cn)
        return;
    const struct zone_rr_in *r = check_rr_of(b, bn, DNS_TYPE_CNAME);
    bn->node->flags |= ZONE_NODE_CNAME;
    if (cn->count > 1)
        check_error(b, r, "several CNAME records at one name", bn->node->name);
    for (uint16_t i = 0; i < bn->node->n_rrsets; i++) {
        uint16_t t = bn->node->rrsets[i].type;
        if (t != DNS_TYPE_CNAME && !check_is_dnssec_type(t)) {
            check_error(b, r, "CNAME and other data at the same name (RFC 1034 §3.6.2)",
                        bn->node->name);
            return;
        }
    }
}

static void check_dname(struct zone_builder *b, struct build_node *bn)
{
    const struct zone_rrset *dn = zone_node_rrset(bn->node, DNS_TYPE_DNAME);
    if (!dn)
        return;
    bn->node->flags |= ZONE_NODE_DNAME;
    if (dn->count > 1)
        check_error(b, check_rr_of(b, bn, DNS_TYPE_DNAME),
                    "several DNAME records at one name (RFC 6672 §2.4)", bn->node->name);
}

/* No meta or reserved type (dns_type_is_data): TYPE0, OPT, TSIG, ANY...
 * are no data; served, a record of one makes an answer clients reject. */
static void check_types(struct zone_builder *b, struct build_node *bn)
{
    for (uint16_t i = 0; i < bn->node->n_rrsets; i++) {
        uint16_t t = bn->node->rrsets[i].type;
        if (dns_type_is_data(t))
            continue;
        char msg[160];
        const char *tn = dns_type_name(t);
        snprintf(msg, sizeof(msg),
                 "%s%sTYPE%u%s: a meta or reserved record type, not data a zone holds "
                 "(RFC 6895 §3.1)",
                 tn ? tn : "", tn ? " (" : "", (unsigned)t, tn ? ")" : "");
        check_error(b, check_rr_of(b, bn, t), msg, bn->node->name);
    }
}

/* Delegation: every NS target inside the delegated zone needs glue. */
static void check_glue(struct zone_builder *b, struct build_node *bn)
{
    const struct zone_rrset *ns = zone_node_rrset(bn->node, DNS_TYPE_NS);
    const struct zone_rr_in *r = check_rr_of(b, bn, DNS_TYPE_NS);
    size_t o = 0;
    for (uint16_t i = 0; i < ns->count; i++) {
        uint16_t rdlen = dns_get16(ns->rdata + o);
        uint8_t target[DNS_MAX_NAME];
        const uint8_t *rd = ns->rdata + o + 2;
        o += 2 + (size_t)rdlen;
        if (rdlen > DNS_MAX_NAME)
            continue;
        memcpy(target, rd, rdlen);
        dns_name_lower(target, rdlen);
        if (!dns_name_is_sub(target, rdlen, bn->node->name, bn->node->name_len))
            continue;
        const struct zone_node *t = zone_build_find(b->z, target, rdlen);
        if (!t || (!zone_node_rrset(t, DNS_TYPE_A) && !zone_node_rrset(t, DNS_TYPE_AAAA))) {
            char msg[600], tn[512];
            dns_name_to_str(target, tn, sizeof(tn));
            snprintf(msg, sizeof(msg), "delegation to %s needs glue (an A or AAAA record)", tn);
            check_error(b, r, msg, bn->node->name);
        }
    }
}

/* Flags every node strictly below a delegation point, or below a DNAME
 * (the apex's included: its data is occluded, RFC 6672 §2.3, as NSD and
 * Knot treat it), so that an exact match can be answered without walking
 * down from the apex. */
static void check_mark_below_cuts(struct zone *z)
{
    for (uint32_t i = 0; i <= z->mask; i++) {
        struct zone_node *n = (struct zone_node *)z->table[i].node;
        if (!n)
            continue;
        const uint8_t *name = n->name;
        size_t len = n->name_len;
        while (len > z->origin_len) {
            len -= 1 + (size_t)name[0];
            name += 1 + name[0];
            const struct zone_node *a = zone_build_find(z, name, len);
            if (a && (a->flags & ZONE_NODE_DNAME))
                n->flags |= ZONE_NODE_BELOW_DNAME;
            if (a && (a->flags & ZONE_NODE_CUT) && len > z->origin_len) {
                n->flags |= ZONE_NODE_BELOW_CUT;
                break;
            }
        }
    }
}

/* The DNAME node farthest up above node (strictly), or NULL: a query
 * meets that one first on its way down. */
static const struct zone_node *check_dname_above(struct zone *z, const struct zone_node *node)
{
    const struct zone_node *top = NULL;
    const uint8_t *name = node->name;
    size_t len = node->name_len;
    while (len > z->origin_len) {
        len -= 1 + (size_t)name[0];
        name += 1 + name[0];
        const struct zone_node *a = zone_build_find(z, name, len);
        if (a && (a->flags & ZONE_NODE_DNAME))
            top = a;
    }
    return top;
}

/* Records where each DNAME above a policy name is (z->policy_dnames): a
 * DNAME answers for every name below it, so the loader refuses a policy
 * name there, as below a delegation, and names the DNAME's file and line.
 * Not an error here: a secondary zone's copy is served with the name left
 * unattached (load_attach). */
static void check_policy_dnames(struct zone_builder *b, struct build_node **nodes, size_t n)
{
    struct zone *z = b->z;
    struct zone_dname_src *srcs = NULL;
    size_t ns = 0, cap = 0;
    for (uint32_t i = 0; z->n_policy_names && i <= z->mask; i++) {
        const struct zone_node *pn = z->table[i].node;
        if (!pn || !(pn->flags & ZONE_POLICY_FLAGS) || !(pn->flags & ZONE_NODE_BELOW_DNAME))
            continue;
        const struct zone_node *d = check_dname_above(z, pn);
        bool known = false;
        for (size_t k = 0; d && k < ns && !known; k++)
            known = srcs[k].owner == d->name;
        for (size_t k = 0; d && !known && k < n; k++) {
            if (nodes[k]->node != d)
                continue;
            const struct zone_rr_in *r = check_rr_of(b, nodes[k], DNS_TYPE_DNAME);
            if (ns == cap) {
                cap = cap ? cap * 2 : 4;
                struct zone_dname_src *m = arena_alloc(&z->arena, cap * sizeof(*m));
                if (ns)
                    memcpy(m, srcs, ns * sizeof(*m));
                srcs = m;
            }
            srcs[ns++] = (struct zone_dname_src){
                d->name, arena_strdup(&z->arena, b->files[r->file_idx]), r->line};
            known = true;
        }
    }
    z->policy_dnames = srcs;
    z->n_policy_dnames = ns;
}

void zone_check_all(struct zone_builder *b, struct build_node **nodes, size_t n)
{
    struct zone *z = b->z;
    struct zone_node *apex = zone_build_find(z, z->origin, z->origin_len);

    for (size_t i = 0; i < n; i++) {
        struct build_node *bn = nodes[i];
        bool is_apex = bn->node == apex;
        if (is_apex)
            bn->node->flags |= ZONE_NODE_APEX;
        else if (zone_node_rrset(bn->node, DNS_TYPE_NS))
            bn->node->flags |= ZONE_NODE_CUT;
        check_soa(b, bn, is_apex);
        check_cname(b, bn);
        check_dname(b, bn);
        check_types(b, bn);
        if (bn->node->name[0] == 1 && bn->node->name[1] == '*') {
            struct zone_node *parent =
                zone_build_find(z, bn->node->name + 2, bn->node->name_len - 2u);
            if (parent)
                parent->wildcard = bn->node;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (nodes[i]->node->flags & ZONE_NODE_CUT)
            check_glue(b, nodes[i]);
    check_mark_below_cuts(z);
    check_policy_dnames(b, nodes, n);
    /* RFC 6672 §2.3: no data below a DNAME (NSD and Knot refuse it too). */
    for (size_t i = 0; i < n; i++)
        if ((nodes[i]->node->flags & ZONE_NODE_BELOW_DNAME) && nodes[i]->n_rr > 0)
            check_error(b, &b->rrs[nodes[i]->first_rr],
                        "data below a DNAME (RFC 6672 §2.3: the DNAME hides it)",
                        nodes[i]->node->name);
    const struct zone_rrset *soa = apex ? zone_node_rrset(apex, DNS_TYPE_SOA) : NULL;
    if (!soa) {
        errlist_add(b->errs, "%s: zone %s has no SOA record at its apex", z->file, z->origin_str);
        return;
    }
    z->apex = apex;
    z->soa = soa;
    z->neg_soa = *soa;
    /* SOA RDATA: MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM. */
    const uint8_t *rd = soa->rdata + 2;
    uint16_t rdlen = dns_get16(soa->rdata);
    if (rdlen >= 22) {
        uint32_t minimum = dns_get32(rd + rdlen - 4);
        z->serial = dns_get32(rd + rdlen - 20);
        if (minimum < z->neg_soa.ttl)
            z->neg_soa.ttl = minimum;
    }
}

/* Fills one additional entry for target (lowercase wire), if it has
 * addresses in this zone. */
static bool check_fill_additional(struct zone *z, struct zone_additional *ad, const uint8_t *target,
                                  size_t len, bool required)
{
    if (!dns_name_is_sub(target, len, z->origin, z->origin_len))
        return false;
    const struct zone_node *t = zone_build_find(z, target, len);
    if (!t)
        return false;
    ad->a = zone_node_rrset(t, DNS_TYPE_A);
    ad->aaaa = zone_node_rrset(t, DNS_TYPE_AAAA);
    if (!ad->a && !ad->aaaa)
        return false;
    ad->owner = t->name;
    ad->owner_len = t->name_len;
    ad->required = required;
    return true;
}

static void check_rrset_additionals(struct zone_builder *b, struct build_node *bn,
                                    struct zone_rrset *set)
{
    int off = set->type == DNS_TYPE_NS || set->type == DNS_TYPE_MX || set->type == DNS_TYPE_SRV
                  ? zone_rdata_target_offset(set->type)
                  : -1;
    if (off < 0)
        return;
    struct zone_additional *ads = arena_alloc(&b->z->arena, set->count * sizeof(*ads));
    uint16_t nad = 0;
    size_t o = 0;
    for (uint16_t i = 0; i < set->count; i++) {
        uint16_t rdlen = dns_get16(set->rdata + o);
        const uint8_t *rd = set->rdata + o + 2;
        o += 2 + (size_t)rdlen;
        if (rdlen <= (unsigned)off || rdlen - (unsigned)off > DNS_MAX_NAME)
            continue;
        uint8_t target[DNS_MAX_NAME];
        size_t tlen = rdlen - (size_t)off;
        memcpy(target, rd + off, tlen);
        dns_name_lower(target, tlen);
        bool required = (bn->node->flags & ZONE_NODE_CUT) && set->type == DNS_TYPE_NS &&
                        dns_name_is_sub(target, tlen, bn->node->name, bn->node->name_len);
        if (check_fill_additional(b->z, &ads[nad], target, tlen, required))
            nad++;
    }
    set->additional = ads;
    set->n_additional = nad;
}

void zone_check_additionals(struct zone_builder *b, struct build_node **nodes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct build_node *bn = nodes[i];
        for (uint16_t k = 0; k < bn->node->n_rrsets; k++)
            check_rrset_additionals(b, bn, (struct zone_rrset *)&bn->node->rrsets[k]);
    }
}
