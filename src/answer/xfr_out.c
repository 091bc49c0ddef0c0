/*
 * xfr_out.c -- the messages of an outgoing zone transfer (xfr_out.h).
 */
#include "answer/xfr_out.h"

#include <string.h>

#include "answer/lookup.h"
#include "dns/name.h"
#include "policy/policy.h"
#include "zone/zone_journal.h"

enum { XFR_SOA_FIRST = 0, XFR_NAMES, XFR_CHAIN, XFR_DIFF, XFR_SOA_LAST, XFR_DONE };

/* What one step of the walk puts in a message: an RRset (may be NULL) and
 * the RRSIGs covering it (may be NULL), both owned by name. */
struct xfr_item {
    const uint8_t *owner;
    size_t owner_len;
    const struct zone_rrset *set;
    const struct zone_rrset *sigs;
};

void answer_xfr_begin(struct answer_xfr *x, const struct serve_set *s, const struct zone *z,
                      const struct dns_query *q, const struct sockaddr_storage *peer,
                      const struct tsig_ctx *tsig)
{
    memset(x, 0, sizeof(*x));
    x->start = true;
    x->zone = z;
    x->generation = s->generation;
    if (tsig)
        x->tsig = *tsig;
    if (peer)
        x->peer = *peer;
    x->rng = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)q->id << 16);
    x->id = q->id;
    x->question_len = (uint16_t)q->question_len;
    memcpy(x->question, q->question, q->question_len);
}

bool answer_xfr_client_serial(const uint8_t *pkt, size_t len, const struct dns_query *q,
                              uint32_t *serial)
{
    size_t p = DNS_HEADER_SIZE + q->question_len;
    unsigned an = dns_get16(pkt + 6), ns = dns_get16(pkt + 8);
    for (unsigned i = 0; i < an + ns; i++) {
        if (!dns_name_skip(pkt, len, &p) || len - p < 10)
            return false;
        uint16_t type = dns_get16(pkt + p), rdlen = dns_get16(pkt + p + 8);
        size_t rd = p + 10, end = rd + rdlen;
        if (end > len)
            return false;
        if (i >= an && type == DNS_TYPE_SOA) {
            /* MNAME and RNAME (possibly compressed), then the serial. */
            if (!dns_name_skip(pkt, end, &rd) || !dns_name_skip(pkt, end, &rd) || end - rd < 20)
                return false;
            *serial = dns_get32(pkt + rd);
            return true;
        }
        p = end;
    }
    return false;
}

void answer_xfr_incremental(struct answer_xfr *x, uint32_t client_serial)
{
    const struct zone_journal *j = x->zone->journal;
    if (client_serial == x->zone->serial) {
        x->current = true;
        return;
    }
    long k = zone_journal_find(j, client_serial);
    if (k < 0 || j->entries[j->n - 1].to != x->zone->serial)
        return;
    x->diff = j->wire + j->entries[k].off;
    x->diff_len = j->len - j->entries[k].off;
    x->diff_pos = 0;
}

bool answer_xfr_done(const struct answer_xfr *x)
{
    return x->phase == XFR_DONE;
}

/* Appends the records of set with owner at out[pos..cap); the new
 * position, or 0 when they do not fit. */
static size_t xfr_put_rrset(uint8_t *out, size_t pos, size_t cap, const uint8_t *owner,
                            size_t owner_len, const struct zone_rrset *set, uint16_t *count)
{
    size_t o = 0;
    for (uint16_t i = 0; i < set->count; i++) {
        uint16_t rdlen = dns_get16(set->rdata + o);
        if (pos + owner_len + 10 + rdlen > cap)
            return 0;
        memcpy(out + pos, owner, owner_len);
        pos += owner_len;
        dns_put16(out + pos, set->type);
        dns_put16(out + pos + 2, DNS_CLASS_IN);
        dns_put32(out + pos + 4, set->ttl);
        memcpy(out + pos + 8, set->rdata + o, 2u + rdlen);
        pos += 10 + rdlen;
        o += 2u + rdlen;
        (*count)++;
    }
    return pos;
}

/* The length of the journal record at p (uncompressed owner, type, class,
 * TTL, RDATA): the journal wrote it, so it is well formed; a broken one
 * ends the differences (the rest is skipped). */
static size_t xfr_raw_len(const uint8_t *p, size_t left)
{
    size_t n = dns_name_wire_len_max(p, left);
    if (n == 0 || left - n < 10 || left - n - 10 < dns_get16(p + n + 8))
        return left;
    return n + 10 + dns_get16(p + n + 8);
}

/* Appends the journal record at the cursor; the new position or 0. */
static size_t xfr_put_raw(const struct answer_xfr *x, uint8_t *out, size_t pos, size_t cap,
                          uint16_t *count)
{
    size_t n = xfr_raw_len(x->diff + x->diff_pos, x->diff_len - x->diff_pos);
    if (pos + n > cap)
        return 0;
    memcpy(out + pos, x->diff + x->diff_pos, n);
    (*count)++;
    return pos + n;
}

/* The policy type ptype (0 A, 1 AAAA, 2 CNAME) bound at node, if any. */
static const struct policy_record *xfr_policy_of(const struct serve_set *s,
                                                 const struct zone_node *node, unsigned ptype)
{
    const struct policy_binding *b = serve_bind_get(&s->bind, node);
    if (!b)
        return NULL;
    return ptype == 0 ? b->a : ptype == 1 ? b->aaaa : b->cname;
}

/* True when a policy record answers type t at node: its static RRset of
 * that type (if any) is not what the name answers. */
static bool xfr_policy_covers(const struct serve_set *s, const struct zone_node *node, uint16_t t)
{
    return (t == DNS_TYPE_A && xfr_policy_of(s, node, 0)) ||
           (t == DNS_TYPE_AAAA && xfr_policy_of(s, node, 1)) ||
           (t == DNS_TYPE_CNAME && xfr_policy_of(s, node, 2));
}

/* What the policy record of type ptype at node answers the peer now (no
 * ECS), looked up through the query path into plan. */
static bool xfr_policy_item(struct answer_xfr *x, const struct serve_set *s,
                            const struct zone_node *node, unsigned ptype, struct answer_plan *plan,
                            struct xfr_item *it)
{
    static const uint16_t types[] = {DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_CNAME};
    struct dns_query q;
    memset(&q, 0, sizeof(q));
    if (!dns_name_index(node->name, node->name_len, &q.qname))
        return false;
    q.qname_ok = true;
    q.qtype = types[ptype];
    q.qclass = DNS_CLASS_IN;
    q.qname_hash = dns_name_hash(node->name, node->name_len);
    q.edns_do = x->zone->dnssec.signed_apex;
    struct policy_client pc = {.addr = &x->peer, .rng = &x->rng, .geo = s->geo};
    struct answer_zone_hint hint = {.zone = x->zone, .known = true};
    plan->trace = NULL;
    answer_lookup(s, &q, &hint, true, &pc, NULL, plan);
    for (uint16_t i = 0; i < plan->n; i++) {
        const struct answer_rr *r = &plan->rrs[i];
        if (r->section == ANSWER_SEC_ANSWER && r->owner == NULL && r->rrset->type == q.qtype) {
            *it = (struct xfr_item){node->name, node->name_len, r->rrset, r->rrset->sigs};
            return true;
        }
    }
    return false;
}

/* The item at the cursor inside node, or false when the node is done. */
static bool xfr_node_item(struct answer_xfr *x, const struct serve_set *s,
                          const struct zone_node *node, struct answer_plan *plan,
                          struct xfr_item *it)
{
    for (; x->rrset < node->n_rrsets; x->rrset++) {
        const struct zone_rrset *set = &node->rrsets[x->rrset];
        if (set->type == DNS_TYPE_RRSIG || xfr_policy_covers(s, node, set->type))
            continue;
        /* The apex SOA opens and closes the transfer; its RRSIGs go here. */
        bool soa = set->type == DNS_TYPE_SOA && node == x->zone->apex;
        if (soa && !set->sigs)
            continue;
        *it = (struct xfr_item){node->name, node->name_len, soa ? NULL : set, set->sigs};
        return true;
    }
    for (; x->ptype < 3; x->ptype++)
        if (xfr_policy_of(s, node, x->ptype) && xfr_policy_item(x, s, node, x->ptype, plan, it))
            return true;
    return false;
}

/* The item at the cursor (moving past empty places), or false at the end
 * of the names. */
static bool xfr_names_item(struct answer_xfr *x, const struct serve_set *s,
                           struct answer_plan *plan, struct xfr_item *it)
{
    const struct zone *z = x->zone;
    for (; x->slot <= z->mask; x->slot++, x->rrset = 0, x->ptype = 0) {
        const struct zone_node *node = z->table[x->slot].node;
        if (node && xfr_node_item(x, s, node, plan, it))
            return true;
    }
    return false;
}

/* The item at the cursor, or false when the transfer is complete. */
static bool xfr_item_at(struct answer_xfr *x, const struct serve_set *s, struct answer_plan *plan,
                        struct xfr_item *it)
{
    const struct zone *z = x->zone;
    switch (x->phase) {
    case XFR_SOA_FIRST:
        *it = (struct xfr_item){z->origin, z->origin_len, z->soa, NULL};
        return true;
    case XFR_DIFF:
        if (x->diff_pos < x->diff_len) {
            *it = (struct xfr_item){NULL, 0, NULL, NULL}; /* a raw record: xfr_put_raw */
            return true;
        }
        x->phase = XFR_SOA_LAST;
        *it = (struct xfr_item){z->origin, z->origin_len, z->soa, NULL};
        return true;
    case XFR_NAMES:
        if (xfr_names_item(x, s, plan, it))
            return true;
        x->phase = XFR_CHAIN;
        /* fall through */
    case XFR_CHAIN:
        if (z->dnssec.kind == ZONE_DENIAL_NSEC3 && x->chain < z->dnssec.n_chain) {
            const struct zone_denial *d = &z->dnssec.chain[x->chain];
            *it = (struct xfr_item){d->owner, d->owner_len, d->rrset, d->rrset->sigs};
            return true;
        }
        x->phase = XFR_SOA_LAST;
        /* fall through */
    case XFR_SOA_LAST:
        *it = (struct xfr_item){z->origin, z->origin_len, z->soa, NULL};
        return true;
    default:
        return false;
    }
}

/* Moves the cursor past the item just written. */
static void xfr_advance(struct answer_xfr *x)
{
    switch (x->phase) {
    case XFR_SOA_FIRST:
        x->phase = x->current ? XFR_DONE : x->diff ? XFR_DIFF : XFR_NAMES;
        break;
    case XFR_DIFF:
        x->diff_pos += xfr_raw_len(x->diff + x->diff_pos, x->diff_len - x->diff_pos);
        break;
    case XFR_NAMES:
        if (x->rrset < x->zone->table[x->slot].node->n_rrsets)
            x->rrset++;
        else
            x->ptype++;
        break;
    case XFR_CHAIN:
        x->chain++;
        break;
    case XFR_SOA_LAST:
        x->phase = XFR_DONE;
        break;
    }
}

/* The header and (first message only) the question. */
static size_t xfr_header(const struct answer_xfr *x, uint8_t *out)
{
    memset(out, 0, DNS_HEADER_SIZE);
    dns_put16(out, x->id);
    dns_put16(out + 2, DNS_FLAG_QR | DNS_FLAG_AA);
    if (x->messages > 0)
        return DNS_HEADER_SIZE;
    dns_put16(out + 4, 1);
    memcpy(out + DNS_HEADER_SIZE, x->question, x->question_len);
    return DNS_HEADER_SIZE + x->question_len;
}

size_t answer_xfr_next(struct answer_xfr *x, const struct serve_set *s, uint8_t *out, uint64_t now)
{
    if (x->phase == XFR_DONE || s->generation != x->generation)
        return 0;
    struct answer_plan plan;
    struct xfr_item it;
    size_t room = DNS_TCP_MAX - tsig_record_len(&x->tsig);
    size_t pos = xfr_header(x, out), start = pos;
    uint16_t count = 0;
    while (xfr_item_at(x, s, &plan, &it)) {
        size_t cap = pos == start ? room : (room < XFR_MESSAGE_TARGET ? room : XFR_MESSAGE_TARGET);
        size_t p = pos;
        uint16_t c = count;
        if (!it.owner)
            p = xfr_put_raw(x, out, p, cap, &c);
        if (it.set)
            p = xfr_put_rrset(out, p, cap, it.owner, it.owner_len, it.set, &c);
        if (p && it.sigs)
            p = xfr_put_rrset(out, p, cap, it.owner, it.owner_len, it.sigs, &c);
        if (!p && pos == start) {
            /* Too large even alone in a message: cannot be sent. */
            xfr_advance(x);
            continue;
        }
        if (!p)
            break;
        pos = p;
        x->records += (uint64_t)(c - count);
        count = c;
        xfr_advance(x);
        if (pos >= XFR_MESSAGE_TARGET)
            break;
    }
    dns_put16(out + 6, count);
    bool first = x->messages == 0;
    x->messages++;
    return tsig_sign(&x->tsig, out, pos, DNS_TCP_MAX, first, now, TSIG_OK);
}
