/*
 * lookup.c -- decides the answer to a query (RFC 1034 §4.3.2 with the
 * clarifications of RFC 2308, 4592, 6672 (DNAME), 8020 and 8482).
 */
#include "answer/lookup.h"

#include <string.h>

#include "answer/lookup_int.h"
#include "dns/dns.h"

void lookup_add(struct answer_plan *p, const struct zone_rrset *set, const uint8_t *owner,
                size_t owner_len, enum answer_section sec, bool required)
{
    if (p->n >= ANSWER_MAX_RRS)
        return;
    struct answer_rr *r = &p->rrs[p->n++];
    r->rrset = set;
    r->owner = owner;
    r->owner_len = (uint8_t)owner_len;
    r->section = (uint8_t)sec;
    r->required = required;
}

/* The addresses of set's targets. Glue the zone marks required sets TC
 * when it does not fit (RFC 9471) only where may_require says so: in a
 * pure referral, not in the referral a CNAME chain runs into, whose
 * answer is complete without it (NSD and Knot set no TC there). */
static void lookup_add_additionals(struct answer_plan *p, const struct zone_rrset *set,
                                   bool may_require)
{
    for (uint16_t i = 0; i < set->n_additional; i++) {
        const struct zone_additional *ad = &set->additional[i];
        bool req = may_require && ad->required;
        if (ad->a)
            lookup_add(p, ad->a, ad->owner, ad->owner_len, ANSWER_SEC_ADDITIONAL, req);
        if (ad->aaaa)
            lookup_add(p, ad->aaaa, ad->owner, ad->owner_len, ANSWER_SEC_ADDITIONAL, req);
    }
}

/* NXDOMAIN (node: the closest encloser) or NODATA (node: the name). */
static void lookup_negative(struct lookup_ctx *c, const struct zone *z,
                            const struct zone_node *node, uint16_t rcode)
{
    c->plan->rcode = rcode;
    c->negative = true;
    lookup_add(c->plan, &z->neg_soa, z->origin, z->origin_len, ANSWER_SEC_AUTHORITY, false);
    if (c->dnssec)
        lookup_dnssec_negative(c, z, node, rcode);
}

static void lookup_referral(struct lookup_ctx *c, const struct zone *z, const struct zone_node *cut)
{
    struct answer_plan *p = c->plan;
    const struct zone_rrset *ns = zone_node_rrset(cut, DNS_TYPE_NS);
    if (p->n == 0) {
        p->aa = false; /* a pure referral is not authoritative */
        p->referral = true;
    }
    lookup_add(p, ns, cut->name, cut->name_len, ANSWER_SEC_AUTHORITY, false);
    if (c->dnssec)
        lookup_dnssec_referral(c, z, cut);
    lookup_add_additionals(p, ns, p->referral);
}

/* Places the answer of policy record r for type rtype (policy_answer.h
 * decides it: records, signatures, ECS scope) as a synthesized RRset, and
 * counts it; NULL when nothing is to be answered (when_all_down empty). */
static const struct zone_rrset *lookup_policy(struct lookup_ctx *c, const struct policy_record *r,
                                              uint16_t rtype)
{
    struct answer_plan *p = c->plan;
    struct policy_answer a;
    if (p->n_synth >= ANSWER_MAX_SYNTH)
        return NULL;
    struct answer_synth *sy = &p->synth[p->n_synth];
    struct answer_trace *tr = p->trace && !p->trace->used ? p->trace : NULL;
    struct policy_client traced;
    const struct policy_client *client = c->client;
    if (tr) {
        traced = *c->client;
        memset(&tr->policy, 0, sizeof(tr->policy));
        traced.trace = &tr->policy;
        client = &traced;
    }
    policy_answer(c->set->gslb, c->set->sigs, r, rtype, client, c->dnssec, sy->rdata, &a);
    if (tr) {
        tr->used = true;
        tr->record = r;
        tr->rtype = rtype;
        tr->result = a.res;
        tr->result.ecs_scope = a.ecs_scope;
    }
    /* The one counting point of policy answers; explain's traced runs do
     * not count. */
    if (!p->trace && c->reader && (a.res.serving_region >= 0 || a.res.outcome != POLICY_SERVED))
        serve_count_policy(c->reader, c->set, r->index,
                           a.res.outcome == POLICY_SERVED ? a.res.serving_region : -1,
                           c->client->canary);
    if (!p->trace && c->reader && a.res.geo_kind != POLICY_GEO_NONE)
        serve_count_geo(c->reader, a.res.geo_kind);
    if (a.ecs_scope > p->ecs_scope)
        p->ecs_scope = a.ecs_scope;
    if (a.count == 0)
        return NULL;
    p->n_synth++;
    sy->rrset = (struct zone_rrset){.rdata = sy->rdata,
                                    .rdata_len = a.rdata_len,
                                    .ttl = a.ttl,
                                    .type = rtype,
                                    .count = a.count,
                                    .sigs = a.sigs};
    return &sy->rrset;
}

/* The policy record serving qtype at a name, if any. */
static const struct policy_record *lookup_policy_for(const struct policy_binding *b, uint16_t qtype)
{
    if (qtype == DNS_TYPE_A || qtype == DNS_TYPE_ANY)
        return b->a ? b->a : qtype == DNS_TYPE_ANY ? b->aaaa : NULL;
    if (qtype == DNS_TYPE_AAAA)
        return b->aaaa;
    return NULL;
}

/* Answers from the policy records at node; returns true when handled (an
 * answer or NODATA), false to go on with the static data. *follow gets the
 * CNAME to follow. */
static bool lookup_at_policy(struct lookup_ctx *c, const struct zone *z,
                             const struct zone_node *node, const struct policy_binding *b,
                             const uint8_t *owner, size_t owner_len,
                             const struct zone_rrset **follow)
{
    *follow = NULL;
    uint16_t isolated =
        c->set->gslb && c->set->gslb->core ? health_policy_rcode(c->set->gslb->core) : 0;
    if (isolated) { /* a fleet node cut off from etcd: let resolvers ask another */
        c->plan->rcode = isolated;
        return true;
    }
    if (b->cname) {
        const struct zone_rrset *cn = lookup_policy(c, b->cname, DNS_TYPE_CNAME);
        if (!cn) {
            lookup_negative(c, z, node, DNS_RCODE_NOERROR);
            return true;
        }
        lookup_add(c->plan, cn, owner, owner_len, ANSWER_SEC_ANSWER, false);
        if (c->qtype != DNS_TYPE_CNAME && c->qtype != DNS_TYPE_ANY)
            *follow = cn;
        return true;
    }
    const struct policy_record *r = lookup_policy_for(b, c->qtype);
    if (!r)
        return false;
    uint16_t rtype = c->qtype == DNS_TYPE_ANY ? (b->a ? DNS_TYPE_A : DNS_TYPE_AAAA) : c->qtype;
    const struct zone_rrset *set = lookup_policy(c, r, rtype);
    if (set)
        lookup_add(c->plan, set, owner, owner_len, ANSWER_SEC_ANSWER, false);
    else
        lookup_negative(c, z, node, DNS_RCODE_NOERROR); /* when_all_down empty: NODATA */
    return true;
}

/* The RRSIGs of a node, each set with the TTL of the RRset it covers (as
 * NSD gives them), for qtype RRSIG and ANY: not the node's RRSIG RRset,
 * whose single TTL is the lowest of them all. */
static void lookup_add_rrsigs(struct answer_plan *p, const struct zone_node *node,
                              const uint8_t *owner, size_t owner_len)
{
    for (uint16_t i = 0; i < node->n_rrsets; i++)
        if (node->rrsets[i].sigs)
            lookup_add(p, node->rrsets[i].sigs, owner, owner_len, ANSWER_SEC_ANSWER, false);
}

/* Answers qtype at node; returns the CNAME RRset to follow, or NULL. */
static const struct zone_rrset *lookup_at_node(struct lookup_ctx *c, const struct zone *z,
                                               const struct zone_node *node, const uint8_t *owner,
                                               size_t owner_len)
{
    struct answer_plan *p = c->plan;
    const struct zone_rrset *follow;
    const struct policy_binding *b = serve_bind_get(&c->set->bind, node);
    if (b && lookup_at_policy(c, z, node, b, owner, owner_len, &follow))
        return follow;
    if ((node->flags & ZONE_NODE_CNAME) && c->qtype != DNS_TYPE_CNAME) {
        const struct zone_rrset *cn = zone_node_rrset(node, DNS_TYPE_CNAME);
        lookup_add(p, cn, owner, owner_len, ANSWER_SEC_ANSWER, false);
        return c->qtype == DNS_TYPE_ANY ? NULL : cn;
    }
    if (c->qtype == DNS_TYPE_ANY && node->n_rrsets > 0) {
        /* RFC 8482: over UDP one RRset is enough; over TCP give them all. */
        uint16_t n = c->tcp ? node->n_rrsets : 1;
        for (uint16_t i = 0; i < n; i++) {
            if (node->rrsets[i].type != DNS_TYPE_RRSIG)
                lookup_add(p, &node->rrsets[i], owner, owner_len, ANSWER_SEC_ANSWER, false);
            else if (!c->dnssec) /* with DO they go out with the RRsets they cover */
                lookup_add_rrsigs(p, node, owner, owner_len);
        }
        return NULL;
    }
    if (c->qtype == DNS_TYPE_RRSIG && zone_node_rrset(node, DNS_TYPE_RRSIG)) {
        uint16_t before = p->n;
        lookup_add_rrsigs(p, node, owner, owner_len);
        if (p->n == before) /* RRSIGs covering nothing at this name: as they are */
            lookup_add(p, zone_node_rrset(node, DNS_TYPE_RRSIG), owner, owner_len,
                       ANSWER_SEC_ANSWER, false);
        return NULL;
    }
    const struct zone_rrset *set = zone_node_rrset(node, c->qtype);
    if (!set) {
        lookup_negative(c, z, node, DNS_RCODE_NOERROR);
        return NULL;
    }
    lookup_add(p, set, owner, owner_len, ANSWER_SEC_ANSWER, false);
    lookup_add_additionals(p, set, true);
    return NULL;
}

/* True when the RRset set is already in the answer section: a DNAME met a
 * second time in one chain is a loop. */
static bool lookup_in_answer(const struct answer_plan *p, const struct zone_rrset *set)
{
    for (uint16_t i = 0; i < p->n; i++)
        if (p->rrs[i].rrset == set && p->rrs[i].section == ANSWER_SEC_ANSWER)
            return true;
    return false;
}

/* RFC 6672 §3.1: the name being looked up (c->name, written as owner) is
 * strictly below node d, which holds a DNAME. The DNAME goes in the answer,
 * then a CNAME from the name to the name with d's part replaced by the
 * DNAME's target, with the DNAME's TTL (unsigned: validators synthesize it
 * themselves from the signed DNAME). Returns that CNAME to follow, or NULL:
 * YXDOMAIN when the new name would exceed 255 octets, or the chain stops
 * (a DNAME loop, or no room left for another synthesized record). */
static const struct zone_rrset *lookup_dname(struct lookup_ctx *c, const struct zone_node *d,
                                             const uint8_t *owner, size_t owner_len)
{
    struct answer_plan *p = c->plan;
    const struct zone_rrset *dn = zone_node_rrset(d, DNS_TYPE_DNAME);
    if (lookup_in_answer(p, dn))
        return NULL;
    lookup_add(p, dn, d->name, d->name_len, ANSWER_SEC_ANSWER, false);
    uint16_t tlen = dns_get16(dn->rdata);
    size_t prefix = c->name->len - d->name_len;
    if (prefix + tlen > DNS_MAX_NAME) {
        p->rcode = DNS_RCODE_YXDOMAIN;
        return NULL;
    }
    if (p->n_synth >= ANSWER_MAX_SYNTH)
        return NULL;
    struct answer_synth *sy = &p->synth[p->n_synth++];
    dns_put16(sy->rdata, (uint16_t)(prefix + tlen));
    memcpy(sy->rdata + 2, c->name->wire, prefix);
    memcpy(sy->rdata + 2 + prefix, dn->rdata + 2, tlen);
    sy->rrset.rdata = sy->rdata;
    sy->rrset.rdata_len = (uint32_t)(2 + prefix + tlen);
    sy->rrset.ttl = dn->ttl;
    sy->rrset.type = DNS_TYPE_CNAME;
    sy->rrset.count = 1;
    sy->rrset.additional = NULL;
    sy->rrset.sigs = NULL;
    sy->rrset.n_additional = 0;
    lookup_add(p, &sy->rrset, owner, owner_len, ANSWER_SEC_ANSWER, false);
    return c->qtype == DNS_TYPE_CNAME ? NULL : &sy->rrset;
}

/* One step of the (possibly CNAME-chained) lookup of name in zone z; hash
 * is dns_name_hash of the whole name; owner is NULL for the question name
 * (written as a pointer to it) or the stored copy of a CNAME target.
 * Returns the CNAME to follow next, or NULL. */
static const struct zone_rrset *lookup_in_zone(struct lookup_ctx *c, const struct zone *z,
                                               const struct dns_name *name, uint32_t hash,
                                               const uint8_t *owner)
{
    const struct zone_node *found = z->apex, *node = NULL;
    unsigned depth;

    /* Fast path: most queries name an existing node that is not below a
     * delegation; one probe answers them at any depth. */
    if (name->count > z->origin_labels) {
        node = zone_find_node(z, name->wire, name->len, hash);
        if (node && !(node->flags & (ZONE_NODE_BELOW_CUT | ZONE_NODE_CUT | ZONE_NODE_BELOW_DNAME)))
            return lookup_at_node(c, z, node, owner, name->len);
        if (found->flags & ZONE_NODE_DNAME)
            return lookup_dname(c, found, owner, name->len);
    }
    for (depth = z->origin_labels + 1u; depth <= name->count; depth++) {
        unsigned i = name->count - depth;
        size_t len = name->len - name->label[i];
        const uint8_t *suffix = name->wire + name->label[i];
        node = zone_find_node(z, suffix, len, i == 0 ? hash : dns_name_hash(suffix, len));
        if (!node)
            break;
        found = node;
        if ((node->flags & ZONE_NODE_CUT) && !(i == 0 && c->qtype == DNS_TYPE_DS)) {
            lookup_referral(c, z, node);
            return NULL;
        }
        if (i > 0 && (node->flags & ZONE_NODE_DNAME))
            return lookup_dname(c, node, owner, name->len);
    }
    if (depth > name->count)
        return lookup_at_node(c, z, found, owner, name->len);
    /* The name does not exist: 'found' is the closest encloser (RFC 4592). */
    if (found->wildcard) {
        c->plan->wildcard = true;
        c->wild_ce = found;
        const struct zone_rrset *cn = lookup_at_node(c, z, found->wildcard, owner, name->len);
        if (c->dnssec && !c->negative)
            lookup_dnssec_wildcard(c, z, found);
        c->wild_ce = NULL;
        return cn;
    }
    lookup_negative(c, z, found, DNS_RCODE_NXDOMAIN);
    return NULL;
}

/* True when plan records a and b have the same owner name; a NULL owner
 * stands for the question name qname. */
static bool lookup_same_owner(const struct answer_rr *a, const struct answer_rr *b,
                              const struct dns_name *qname)
{
    const uint8_t *ao = a->owner ? a->owner : qname->wire;
    const uint8_t *bo = b->owner ? b->owner : qname->wire;
    size_t al = a->owner ? a->owner_len : qname->len;
    size_t bl = b->owner ? b->owner_len : qname->len;
    return dns_name_equal(ao, al, bo, bl);
}

/* True when the CNAME RRset cn, just added to the plan, was added before
 * with the same owner: a loop. The repeat is then taken out of the plan
 * (proofs added after it stay). A wildcard's CNAME met again at another
 * name is no repeat (x.w CNAME a.w, then a.w CNAME a.w from *.w): NSD and
 * Knot give both, and stop at the next repeat. */
static bool lookup_drop_repeat(struct answer_plan *p, const struct zone_rrset *cn,
                               const struct dns_name *qname)
{
    int last = -1;
    for (int i = (int)p->n - 1; i >= 0; i--) {
        if (p->rrs[i].rrset != cn)
            continue;
        if (last < 0) {
            last = i;
            continue;
        }
        if (!lookup_same_owner(&p->rrs[i], &p->rrs[last], qname))
            continue;
        memmove(&p->rrs[last], &p->rrs[last + 1], (p->n - (size_t)last - 1) * sizeof(p->rrs[0]));
        p->n--;
        return true;
    }
    return false;
}

void answer_lookup(const struct serve_set *s, const struct dns_query *q,
                   const struct answer_zone_hint *hint, bool tcp,
                   const struct policy_client *client, struct serve_reader *reader,
                   struct answer_plan *plan)
{
    struct lookup_ctx c = {.set = s,
                           .reader = reader,
                           .qtype = q->qtype,
                           .tcp = tcp,
                           .dnssec = q->edns_do,
                           .client = client,
                           .plan = plan};
    struct dns_name next;
    const struct dns_name *name = &q->qname;
    const uint8_t *owner = NULL;

    plan->rcode = DNS_RCODE_NOERROR;
    plan->rclass = DNS_CLASS_IN;
    plan->aa = false;
    plan->zone = NULL;
    plan->referral = false;
    plan->wildcard = false;
    plan->dnssec = q->edns_do;
    plan->n = 0;
    plan->n_names = 0;
    plan->n_synth = 0;
    plan->ecs_scope = 0;
    /* Step 0 is the question; steps 1 to ANSWER_MAX_CHAIN look up the
     * targets of that many CNAMEs, so a chain of exactly that length still
     * gets the data at its end. */
    for (unsigned step = 0; step <= ANSWER_MAX_CHAIN; step++) {
        const struct zone *z = step == 0 && hint && hint->known
                                   ? hint->zone
                                   : snapshot_find_zone(s->zones, name, q->qtype);
        if (!z) {
            if (step == 0)
                plan->rcode = DNS_RCODE_REFUSED;
            return; /* the chain leaves our zones: the resolver goes on */
        }
        if (z->expired) {
            /* A secondary zone past its SOA expire (zone.h): its data may
             * be stale; say so rather than answer from it, as NSD and Knot
             * do. A chain into it stops with what it has. */
            if (step == 0)
                plan->rcode = DNS_RCODE_SERVFAIL;
            return;
        }
        if (step == 0) {
            plan->aa = true;
            plan->zone = z;
        }
        c.name = name;
        /* The question's hash comes with the parsed query. */
        uint32_t hash = step == 0 ? q->qname_hash : dns_name_hash(name->wire, name->len);
        const struct zone_rrset *cn = lookup_in_zone(&c, z, name, hash, owner);
        if (!cn || plan->n_names >= ANSWER_MAX_CHAIN)
            return;
        if (lookup_drop_repeat(plan, cn, &q->qname))
            return; /* a loop: the repeated CNAME is dropped; stop */
        /* Follow the CNAME: its target becomes the owner of what follows,
         * kept in the plan so the encoder can still read it. */
        uint16_t rdlen = dns_get16(cn->rdata);
        if (!dns_name_index(cn->rdata + 2, rdlen, &next))
            return;
        dns_name_lower(next.wire, next.len);
        uint8_t *stored = plan->names[plan->n_names++];
        memcpy(stored, next.wire, next.len);
        owner = stored;
        name = &next;
    }
}
