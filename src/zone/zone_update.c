/*
 * zone_update.c -- RFC 2136 updates against a compiled zone
 * (zone_update.h).
 *
 * The request is read and checked as far as it can be without the zone
 * (zone_update_prepare: the form of every record, the prerequisites
 * sorted into groups), then against the zone (zone_update_run): the
 * key's rules, the zone's records read back into a working array of ldns
 * records (canonical form: owners and the names in RDATA lowercased, RFC
 * 4034 §6.2), the prerequisites checked in one pass over it, every record
 * of the update section checked (§3.4.1) before any is applied (§3.4.2),
 * and the array becomes the result. The prerequisites cost O(n log n +
 * zone · log n) for n of them; each change looks only at the records of
 * its owner, through an index of the array by owner (a hash table of
 * chains), so an update of n changes costs O(zone + n · records at an
 * owner) under the reload lock, not O(zone · n): 999 additions to a
 * zone of 2,000 records took 0.7 s with a linear search of the array.
 */
#include "zone/zone_update.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/dns.h"
#include "dns/name.h"
#include "dns/rrtype.h"

#define ZU_END SIZE_MAX

/* The working set: the zone's records; deleted ones are NULL. Once
 * zu_index has run, head/next chain the records of each owner (by the
 * hash of its canonical wire form; a chain may hold other owners of the
 * same bucket, so readers compare the owner too), and every record
 * pushed after is chained. All owned by the set. */
struct zu_set {
    ldns_rr **rr;
    size_t *next; /* cap entries: the next record in rr[i]'s chain */
    size_t n, cap;
    size_t *head; /* mask + 1 buckets; NULL before zu_index */
    size_t mask;
    ldns_rdf *origin; /* the zone's name */
    bool changed;
    unsigned added, deleted;
};

/* The name hash every table of gtmd uses (dns/name.h); owners are in
 * canonical form (lowercase), as that hash expects. */
static size_t zu_bucket(const struct zu_set *s, const ldns_rdf *owner)
{
    return dns_name_hash(ldns_rdf_data(owner), ldns_rdf_size(owner)) & s->mask;
}

static void zu_link(struct zu_set *s, size_t i)
{
    size_t b = zu_bucket(s, ldns_rr_owner(s->rr[i]));
    s->next[i] = s->head[b];
    s->head[b] = i;
}

static void zu_push(struct zu_set *s, ldns_rr *rr)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        ldns_rr **n = realloc(s->rr, ncap * sizeof(*n));
        size_t *nx = n ? realloc(s->next, ncap * sizeof(*nx)) : NULL;
        if (!n || !nx)
            abort();
        s->rr = n;
        s->next = nx;
        s->cap = ncap;
    }
    s->rr[s->n++] = rr;
    if (s->head)
        zu_link(s, s->n - 1);
}

/* Indexes the records read so far by owner, with room for the most an
 * update can add (the table is not grown: chains stay short). */
static void zu_index(struct zu_set *s)
{
    size_t want = 2 * (s->n + ZONE_UPDATE_MAX_RRS), size = 64;
    while (size < want)
        size *= 2;
    s->head = malloc(size * sizeof(*s->head));
    if (!s->head)
        abort();
    memset(s->head, 0xff, size * sizeof(*s->head)); /* ZU_END everywhere */
    s->mask = size - 1;
    for (size_t i = 0; i < s->n; i++)
        if (s->rr[i])
            zu_link(s, i);
}

/* The first record of the chain where rr's owner's records are. */
static size_t zu_first(const struct zu_set *s, const ldns_rr *rr)
{
    return s->head[zu_bucket(s, ldns_rr_owner(rr))];
}

static void zu_set_free(struct zu_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->rr[i])
            ldns_rr_free(s->rr[i]);
    free(s->rr);
    free(s->next);
    free(s->head);
    if (s->origin)
        ldns_rdf_deep_free(s->origin);
}

/* The types signing makes. */
static bool zu_signing_type(uint16_t t)
{
    return t == DNS_TYPE_RRSIG || t == DNS_TYPE_NSEC || t == DNS_TYPE_NSEC3 ||
           t == DNS_TYPE_NSEC3PARAM || t == DNS_TYPE_DNSKEY;
}

/* Appends the records of one RRset of z to s (as ldns records). */
static bool zu_add_rrset(struct zu_set *s, const uint8_t *owner, size_t owner_len,
                         const struct zone_rrset *set)
{
    uint8_t buf[255 + 10 + 65535];
    size_t o = 0;
    for (uint16_t i = 0; i < set->count; i++) {
        uint16_t rdlen = dns_get16(set->rdata + o);
        memcpy(buf, owner, owner_len);
        dns_put16(buf + owner_len, set->type);
        dns_put16(buf + owner_len + 2, DNS_CLASS_IN);
        dns_put32(buf + owner_len + 4, set->ttl);
        memcpy(buf + owner_len + 8, set->rdata + o, 2u + rdlen);
        size_t pos = 0;
        ldns_rr *rr = NULL;
        if (ldns_wire2rr(&rr, buf, owner_len + 10 + rdlen, &pos, LDNS_SECTION_ANSWER) !=
            LDNS_STATUS_OK)
            return false;
        ldns_rr2canonical(rr);
        zu_push(s, rr);
        o += 2u + rdlen;
    }
    return true;
}

/* Whether rr is one of keys (a DNSKEY gtmd adds when it signs). */
static bool zu_made_key(const ldns_rr *rr, const ldns_rr_list *keys)
{
    for (size_t i = 0; i < ldns_rr_list_rr_count(keys); i++)
        if (ldns_rr_compare(ldns_rr_list_rr(keys, i), rr) == 0)
            return true;
    return false;
}

/* The zone's records, less what signing makes when gtmd signs it (keys
 * not NULL): RRSIG, NSEC, NSEC3, NSEC3PARAM and the DNSKEYs of keys;
 * DNSKEYs of the file itself (a key published ahead of a rollover) stay. */
static bool zu_collect(const struct zone *z, const ldns_rr_list *keys, struct zu_set *s)
{
    for (uint32_t i = 0; i <= z->mask; i++) {
        const struct zone_node *n = z->table[i].node;
        for (uint16_t k = 0; n && k < n->n_rrsets; k++) {
            const struct zone_rrset *set = &n->rrsets[k];
            if (keys && zu_signing_type(set->type) && set->type != DNS_TYPE_DNSKEY)
                continue;
            size_t before = s->n;
            if (!zu_add_rrset(s, n->name, n->name_len, set))
                return false;
            for (size_t r = before; keys && set->type == DNS_TYPE_DNSKEY && r < s->n; r++)
                if (zu_made_key(s->rr[r], keys)) {
                    ldns_rr_free(s->rr[r]);
                    s->rr[r] = NULL;
                }
        }
    }
    return true;
}

static bool zu_same_owner(const ldns_rr *a, const ldns_rr *b)
{
    return ldns_dname_compare(ldns_rr_owner(a), ldns_rr_owner(b)) == 0;
}

static bool zu_same_set(const ldns_rr *a, const ldns_rr *b)
{
    return ldns_rr_get_type(a) == ldns_rr_get_type(b) && zu_same_owner(a, b);
}

/* Same owner, type and RDATA (both canonical); class and TTL aside. */
static bool zu_same_rr(const ldns_rr *a, const ldns_rr *b)
{
    if (!zu_same_set(a, b) || ldns_rr_rd_count(a) != ldns_rr_rd_count(b))
        return false;
    for (size_t i = 0; i < ldns_rr_rd_count(a); i++)
        if (ldns_rdf_compare(ldns_rr_rdf(a, i), ldns_rr_rdf(b, i)) != 0)
            return false;
    return true;
}

static bool zu_is_apex(const struct zu_set *s, const ldns_rr *rr)
{
    return ldns_dname_compare(ldns_rr_owner(rr), s->origin) == 0;
}

/* Records at rr's owner of type (DNS_TYPE_ANY: of any type) in the
 * working set. */
static size_t zu_count(const struct zu_set *s, const ldns_rr *rr, uint16_t type)
{
    size_t n = 0;
    for (size_t i = zu_first(s, rr); i != ZU_END; i = s->next[i])
        if (s->rr[i] && (type == DNS_TYPE_ANY || ldns_rr_get_type(s->rr[i]) == type) &&
            zu_same_owner(s->rr[i], rr))
            n++;
    return n;
}

static bool zu_in_zone(const ldns_rdf *origin, const ldns_rr *rr)
{
    const ldns_rdf *o = ldns_rr_owner(rr);
    return ldns_dname_compare(o, origin) == 0 || ldns_dname_is_subdomain(o, origin);
}

/* Meta, query-only and reserved types (dns_type_is_data): never data. */
static bool zu_meta_type(uint16_t t)
{
    return !dns_type_is_data(t);
}

static uint16_t zu_fail(struct zone_update_out *out, uint16_t rcode, const ldns_rr *rr,
                        const char *what)
{
    char *o = rr ? ldns_rdf2str(ldns_rr_owner(rr)) : NULL;
    const char *tn = rr ? dns_type_name(ldns_rr_get_type(rr)) : NULL;
    char tb[16];
    if (rr && !tn)
        snprintf(tb, sizeof(tb), "TYPE%u", (unsigned)ldns_rr_get_type(rr));
    snprintf(out->why, sizeof(out->why), "%s%s%s%s", o ? o : "", o ? " " : "",
             rr ? (tn ? tn : tb) : "", what);
    free(o);
    return rcode;
}

/*
 * The prerequisites (§3.2), grouped once so that checking them costs one
 * pass over the zone's records and a binary search per record: a request
 * carries up to ZONE_UPDATE_MAX_RRS of them, and comparing each against
 * all the others and the whole zone (n² (zone + n)) let 200 of them hold
 * the reload lock for 2.6 s (issue #53).
 *
 * The entries are sorted by owner (canonical order), type (DNS_TYPE_ANY
 * for the name as a whole), then the value-independent ones before the
 * value-dependent ones (class IN), those by RDATA: the entries of one
 * owner and type are a run, and its first entry counts the zone's records
 * of that set.
 */
struct zu_pre {
    ldns_rr *rr;          /* the message's record, canonical (owned by the packet) */
    size_t order;         /* its place in the prerequisite section */
    size_t run;           /* the first entry of its owner and type */
    size_t in_first, end; /* first entry: [in_first, end) are the class IN ones */
    size_t have;          /* first entry: the zone's records of the owner and type */
    uint16_t cls, type;
    bool value; /* class IN: a value-dependent prerequisite (§3.2.3) */
    bool dup;   /* class IN: the same record as the entry before */
    bool seen;  /* class IN, not dup: the zone holds this record */
    bool other; /* first entry: the zone holds a record of the set none names */
};

struct zone_update_req {
    ldns_pkt *pkt;      /* owns every record */
    ldns_rdf *origin;   /* the zone section's name */
    struct zu_pre *pre; /* sorted */
    size_t *order;      /* the prerequisite section's order: indexes into pre */
    size_t n_pre;
};

static int zu_key_cmp(const ldns_rr *a, uint16_t ta, const ldns_rr *b, uint16_t tb)
{
    int c = ldns_dname_compare(ldns_rr_owner(a), ldns_rr_owner(b));
    if (c)
        return c;
    return ta < tb ? -1 : ta > tb;
}

/* RDATA compared field by field (both canonical): equal means the same
 * record of a set, TTL and class aside. */
static int zu_rdata_cmp(const ldns_rr *a, const ldns_rr *b)
{
    size_t na = ldns_rr_rd_count(a), nb = ldns_rr_rd_count(b);
    for (size_t i = 0; i < na && i < nb; i++) {
        int c = ldns_rdf_compare(ldns_rr_rdf(a, i), ldns_rr_rdf(b, i));
        if (c)
            return c;
    }
    return na < nb ? -1 : na > nb;
}

static int zu_pre_cmp(const void *x, const void *y)
{
    const struct zu_pre *a = x, *b = y;
    int c = zu_key_cmp(a->rr, a->type, b->rr, b->type);
    if (!c && a->value != b->value)
        c = a->value ? 1 : -1;
    if (!c && a->value)
        c = zu_rdata_cmp(a->rr, b->rr);
    if (!c)
        c = a->order < b->order ? -1 : a->order > b->order;
    return c;
}

/* The first entry of pre[lo, hi) not before rr (owner, type t and, with
 * value, RDATA). */
static size_t zu_pre_lower(const struct zu_pre *pre, size_t lo, size_t hi, const ldns_rr *rr,
                           uint16_t t, bool value)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = zu_key_cmp(pre[mid].rr, pre[mid].type, rr, t);
        if (!c && value)
            c = zu_rdata_cmp(pre[mid].rr, rr);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The first entry of the run of rr's owner and type t, or n. */
static size_t zu_pre_run(const struct zu_pre *pre, size_t n, const ldns_rr *rr, uint16_t t)
{
    size_t i = zu_pre_lower(pre, 0, n, rr, t, false);
    return i < n && zu_key_cmp(pre[i].rr, pre[i].type, rr, t) == 0 ? i : n;
}

/* Sorts the prerequisites and marks their runs (see struct zu_pre). */
static void zu_pre_group(struct zone_update_req *r)
{
    struct zu_pre *p = r->pre;
    size_t n = r->n_pre;
    qsort(p, n, sizeof(*p), zu_pre_cmp);
    for (size_t i = 0; i < n; i++) {
        bool first = i == 0 || zu_key_cmp(p[i - 1].rr, p[i - 1].type, p[i].rr, p[i].type) != 0;
        p[i].run = first ? i : p[i - 1].run;
        struct zu_pre *head = &p[p[i].run];
        if (first)
            head->in_first = n;
        head->end = i + 1;
        if (p[i].value && head->in_first == n)
            head->in_first = i;
        p[i].dup =
            p[i].value && !first && p[i - 1].value && zu_rdata_cmp(p[i - 1].rr, p[i].rr) == 0;
        r->order[p[i].order] = i;
    }
}

/* One pass over the zone's records: each run's count, and which of the
 * value-dependent records the zone holds. */
static void zu_pre_scan(const struct zu_set *s, struct zu_pre *p, size_t n)
{
    for (size_t i = 0; n && i < s->n; i++) {
        const ldns_rr *rr = s->rr[i];
        if (!rr)
            continue;
        uint16_t t = (uint16_t)ldns_rr_get_type(rr);
        size_t j = zu_pre_run(p, n, rr, t);
        if (j < n) {
            p[j].have++;
            if (p[j].in_first < p[j].end) {
                size_t k = zu_pre_lower(p, p[j].in_first, p[j].end, rr, t, true);
                if (k < p[j].end && zu_rdata_cmp(p[k].rr, rr) == 0)
                    p[k].seen = true; /* k is the first of its equals: not dup */
                else
                    p[j].other = true;
            }
        }
        if (t != DNS_TYPE_ANY && (j = zu_pre_run(p, n, rr, DNS_TYPE_ANY)) < n)
            p[j].have++;
    }
}

/* The RRset of run head is exactly the records its class IN entries name
 * (§3.2.3: "the RRset ... must be exactly equal"; a record named twice
 * counts once). */
static bool zu_pre_equal(const struct zu_pre *p, const struct zu_pre *head)
{
    if (head->other)
        return false;
    for (size_t k = head->in_first; k < head->end; k++)
        if (!p[k].dup && !p[k].seen)
            return false;
    return true;
}

/* The prerequisites against s, in the order the message gives them. */
static uint16_t zu_prereqs(const struct zu_set *s, struct zone_update_req *r,
                           struct zone_update_out *out)
{
    struct zu_pre *p = r->pre;
    zu_pre_scan(s, p, r->n_pre);
    for (size_t m = 0; m < r->n_pre; m++) {
        const struct zu_pre *e = &p[r->order[m]], *head = &p[e->run];
        bool any = e->type == DNS_TYPE_ANY;
        if (e->value) {
            if (!zu_pre_equal(p, head))
                return zu_fail(out, DNS_RCODE_NXRRSET, e->rr, ": the RRset is not as given");
        } else if (e->cls == LDNS_RR_CLASS_ANY && head->have == 0)
            return zu_fail(out, any ? DNS_RCODE_NXDOMAIN : DNS_RCODE_NXRRSET, e->rr,
                           any ? ": the name is not in use" : ": the RRset does not exist");
        else if (e->cls == LDNS_RR_CLASS_NONE && head->have > 0)
            return zu_fail(out, any ? DNS_RCODE_YXDOMAIN : DNS_RCODE_YXRRSET, e->rr,
                           any ? ": the name is in use" : ": the RRset exists");
    }
    return DNS_RCODE_NOERROR;
}

/* The form of one prerequisite (§3.2: FORMERR, NOTZONE), rr canonical. */
static uint16_t zu_pre_form(const ldns_rdf *origin, const ldns_rr *rr, struct zone_update_out *out)
{
    uint16_t cls = (uint16_t)ldns_rr_get_class(rr), t = (uint16_t)ldns_rr_get_type(rr);
    bool empty = ldns_rr_rd_count(rr) == 0;
    if (ldns_rr_ttl(rr) != 0)
        return zu_fail(out, DNS_RCODE_FORMERR, rr, ": a prerequisite with a TTL");
    if (!zu_in_zone(origin, rr))
        return zu_fail(out, DNS_RCODE_NOTZONE, rr, ": a prerequisite outside the zone");
    if (cls == LDNS_RR_CLASS_ANY || cls == LDNS_RR_CLASS_NONE) {
        if (!empty)
            return zu_fail(out, DNS_RCODE_FORMERR, rr, ": a prerequisite with RDATA");
        if (zu_meta_type(t) && t != DNS_TYPE_ANY)
            return zu_fail(out, DNS_RCODE_FORMERR, rr, ": a prerequisite of a meta type");
        return DNS_RCODE_NOERROR;
    }
    if (cls == LDNS_RR_CLASS_IN && !empty && !zu_meta_type(t))
        return DNS_RCODE_NOERROR;
    return zu_fail(out, DNS_RCODE_FORMERR, rr, ": a prerequisite of no known kind");
}

/* Whether rr survives the zone file: written in presentation form and
 * read back, the same record. ldns reads some RDATA from the wire that it
 * cannot write (a CAA with an empty tag), and an added record must load
 * at the next start as it was served. */
static bool zu_presentable(const ldns_rr *rr)
{
    char *text = ldns_rr2str(rr);
    ldns_rr *back = NULL;
    bool ok = text && ldns_rr_new_frm_str(&back, text, 0, NULL, NULL) == LDNS_STATUS_OK &&
              ldns_rr_compare(back, rr) == 0;
    if (back)
        ldns_rr_free(back);
    free(text);
    return ok;
}

/* §3.4.1.2 and §3.4.1.3: the form of every record of the update section,
 * before the zone is looked at. */
static uint16_t zu_up_form(const ldns_rdf *origin, const ldns_rr_list *up,
                           struct zone_update_out *out)
{
    for (size_t i = 0; i < ldns_rr_list_rr_count(up); i++) {
        ldns_rr *rr = ldns_rr_list_rr(up, i);
        uint16_t cls = (uint16_t)ldns_rr_get_class(rr), t = (uint16_t)ldns_rr_get_type(rr);
        bool empty = ldns_rr_rd_count(rr) == 0;
        if (!zu_in_zone(origin, rr))
            return zu_fail(out, DNS_RCODE_NOTZONE, rr, ": outside the zone");
        if (cls == LDNS_RR_CLASS_IN && zu_meta_type(t))
            return zu_fail(out, DNS_RCODE_FORMERR, rr,
                           ": an addition of a meta or reserved type (RFC 6895 §3.1)");
        if (cls == LDNS_RR_CLASS_IN && empty)
            return zu_fail(out, DNS_RCODE_FORMERR, rr, ": an addition without data");
        if (cls == LDNS_RR_CLASS_ANY &&
            (ldns_rr_ttl(rr) != 0 || !empty || (zu_meta_type(t) && t != DNS_TYPE_ANY)))
            return zu_fail(out, DNS_RCODE_FORMERR, rr,
                           ": a deletion of a set with a TTL, data or a meta type");
        if (cls == LDNS_RR_CLASS_NONE && (ldns_rr_ttl(rr) != 0 || zu_meta_type(t)))
            return zu_fail(out, DNS_RCODE_FORMERR, rr,
                           ": a deletion of a record with a TTL or a meta type");
        if (cls != LDNS_RR_CLASS_IN && cls != LDNS_RR_CLASS_ANY && cls != LDNS_RR_CLASS_NONE)
            return zu_fail(out, DNS_RCODE_FORMERR, rr, ": of another class");
        /* ldns keeps a record whose RDATA ends early with fewer fields
         * (a SOA without its serial): refused before anything reads them. */
        const ldns_rr_descriptor *d = ldns_rr_descript(t);
        if (!empty && d && ldns_rr_rd_count(rr) < ldns_rr_descriptor_minimum(d))
            return zu_fail(out, DNS_RCODE_FORMERR, rr, ": RDATA too short for its type");
        if (cls == LDNS_RR_CLASS_IN && !zu_presentable(rr))
            return zu_fail(out, DNS_RCODE_FORMERR, rr, ": RDATA a zone file cannot hold");
        ldns_rr2canonical(rr);
    }
    return DNS_RCODE_NOERROR;
}

/* rr's owner in lowercase wire form into owner[255]; its length. */
static size_t zu_owner(const ldns_rr *rr, uint8_t *owner)
{
    size_t olen = ldns_rdf_size(ldns_rr_owner(rr));
    memcpy(owner, ldns_rdf_data(ldns_rr_owner(rr)), olen);
    dns_name_lower(owner, olen);
    return olen;
}

/* What the key may change (the zone's rules): checked first, before the
 * prerequisites or the zone's records are looked at, so that a key
 * refused costs the updater nothing more. */
static uint16_t zu_up_rules(const struct zone_update_policy *pol, const struct tsig_key *key,
                            const ldns_rr_list *up, struct zone_update_out *out)
{
    for (size_t i = 0; i < ldns_rr_list_rr_count(up); i++) {
        const ldns_rr *rr = ldns_rr_list_rr(up, i);
        uint8_t owner[255];
        size_t olen = zu_owner(rr, owner);
        if (!zone_update_allowed(pol, key, owner, olen, (uint16_t)ldns_rr_get_type(rr)))
            return zu_fail(out, DNS_RCODE_REFUSED, rr, ": not allowed for this key");
    }
    return DNS_RCODE_NOERROR;
}

/* An owner an addition would make a DNAME or a delegation point: every
 * name below it would answer from the DNAME or the referral. */
struct zu_cover {
    uint8_t name[255];
    size_t len;
    const ldns_rr *rr;
};

static int zu_cover_cmp(const void *x, const void *y)
{
    const struct zu_cover *a = x, *b = y;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return memcmp(a->name, b->name, a->len);
}

/* Collects the additions of up that would hide names below them: a
 * DNAME anywhere, the apex included (RFC 6672 §2.3), an NS below the
 * apex. *n: how many; NULL when none. */
static struct zu_cover *zu_covers(const struct zone *z, const ldns_rr_list *up, size_t *n)
{
    struct zu_cover *c = NULL;
    *n = 0;
    for (size_t i = 0; i < ldns_rr_list_rr_count(up); i++) {
        const ldns_rr *rr = ldns_rr_list_rr(up, i);
        uint16_t t = (uint16_t)ldns_rr_get_type(rr);
        if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN || (t != DNS_TYPE_DNAME && t != DNS_TYPE_NS))
            continue;
        if (!c && !(c = calloc(ldns_rr_list_rr_count(up), sizeof(*c))))
            abort();
        struct zu_cover *e = &c[*n];
        e->len = zu_owner(rr, e->name);
        e->rr = rr;
        if (t == DNS_TYPE_NS && dns_name_equal(e->name, e->len, z->origin, z->origin_len))
            continue; /* the apex's own NS: no cut */
        (*n)++;
    }
    if (*n > 1)
        qsort(c, *n, sizeof(*c), zu_cover_cmp);
    return c;
}

/* The addition of c that sits strictly above policy name node, or NULL. */
static const struct zu_cover *zu_cover_above(const struct zu_cover *c, size_t n,
                                             const struct zone *z, const struct zone_node *node)
{
    struct zu_cover key;
    const uint8_t *name = node->name;
    size_t len = node->name_len;
    while (len > z->origin_len) {
        len -= 1u + name[0];
        name += 1u + name[0];
        key.len = len;
        memcpy(key.name, name, len);
        const struct zu_cover *hit = bsearch(&key, c, n, sizeof(*c), zu_cover_cmp);
        if (hit)
            return hit;
    }
    return NULL;
}

/* Policy names answer from their pool, whatever an update asks: none is
 * an owner of the update section, and no addition puts a DNAME or a
 * delegation above one (the loader refuses both in a zone file too). One
 * pass over the zone, only when the update adds a DNAME or an NS. */
static uint16_t zu_up_policy(const struct zone *z, const ldns_rr_list *up,
                             struct zone_update_out *out)
{
    for (size_t i = 0; i < ldns_rr_list_rr_count(up); i++) {
        const ldns_rr *rr = ldns_rr_list_rr(up, i);
        uint8_t owner[255];
        size_t olen = zu_owner(rr, owner);
        const struct zone_node *node = zone_find_node(z, owner, olen, dns_name_hash(owner, olen));
        if (node && (node->flags & ZONE_POLICY_FLAGS)) /* flagged at load */
            return zu_fail(out, DNS_RCODE_REFUSED, rr,
                           ": a policy name (its answers come from its pool)");
    }
    size_t n;
    struct zu_cover *c = z->n_policy_names ? zu_covers(z, up, &n) : NULL;
    uint16_t rc = DNS_RCODE_NOERROR;
    for (uint32_t i = 0; c && n && i <= z->mask && rc == DNS_RCODE_NOERROR; i++) {
        const struct zone_node *node = z->table[i].node;
        const struct zu_cover *hit =
            node && (node->flags & ZONE_POLICY_FLAGS) ? zu_cover_above(c, n, z, node) : NULL;
        if (hit) {
            char what[1100], pn[1024];
            dns_name_to_str(node->name, pn, sizeof(pn));
            snprintf(what, sizeof(what),
                     ": above the policy name %s (its answers come from its "
                     "pool)",
                     pn);
            rc = zu_fail(out, DNS_RCODE_REFUSED, hit->rr, what);
        }
    }
    free(c);
    return rc;
}

static void zu_delete_at(struct zu_set *s, size_t i)
{
    ldns_rr_free(s->rr[i]);
    s->rr[i] = NULL;
    s->changed = true;
    s->deleted++;
}

/* RFC 1982 serial comparison: a later than b. */
static bool zu_serial_after(uint32_t a, uint32_t b)
{
    return a != b && (uint32_t)(a - b) < 0x80000000u;
}

static uint32_t zu_soa_serial(const ldns_rr *soa)
{
    return ldns_rdf2native_int32(ldns_rr_rdf(soa, 2));
}

/* An addition (§3.4.2.2), rr in canonical form; taken by s or freed. */
static void zu_add(struct zu_set *s, ldns_rr *rr)
{
    uint16_t t = (uint16_t)ldns_rr_get_type(rr);
    bool cname_here = false, other_here = false;
    for (size_t i = zu_first(s, rr); i != ZU_END; i = s->next[i]) {
        if (!s->rr[i] || !zu_same_owner(s->rr[i], rr))
            continue;
        uint16_t ht = (uint16_t)ldns_rr_get_type(s->rr[i]);
        cname_here |= ht == DNS_TYPE_CNAME;
        other_here |= ht != DNS_TYPE_CNAME && !zu_signing_type(ht);
    }
    if ((t == DNS_TYPE_CNAME && other_here) || (t != DNS_TYPE_CNAME && cname_here) ||
        (t == DNS_TYPE_SOA && !zu_is_apex(s, rr))) {
        ldns_rr_free(rr);
        return;
    }
    for (size_t i = zu_first(s, rr); i != ZU_END; i = s->next[i]) {
        if (!s->rr[i] || !zu_same_set(s->rr[i], rr))
            continue;
        if (t == DNS_TYPE_SOA) {
            if (!zu_serial_after(zu_soa_serial(rr), zu_soa_serial(s->rr[i]))) {
                ldns_rr_free(rr);
                return;
            }
            zu_delete_at(s, i);
        } else if (t == DNS_TYPE_CNAME || zu_same_rr(s->rr[i], rr)) {
            if (t != DNS_TYPE_CNAME && ldns_rr_ttl(s->rr[i]) == ldns_rr_ttl(rr)) {
                ldns_rr_free(rr); /* already there */
                return;
            }
            zu_delete_at(s, i);
        }
    }
    /* One TTL for the whole RRset (RFC 2181 §5.2): the newest. */
    for (size_t i = zu_first(s, rr); i != ZU_END; i = s->next[i])
        if (s->rr[i] && zu_same_set(s->rr[i], rr) && ldns_rr_ttl(s->rr[i]) != ldns_rr_ttl(rr)) {
            ldns_rr_set_ttl(s->rr[i], ldns_rr_ttl(rr));
            s->changed = true;
        }
    zu_push(s, rr);
    s->changed = true;
    s->added++;
}

/* A deletion (§3.4.2.3, §3.4.2.4); rr stays the caller's. */
static void zu_delete(struct zu_set *s, const ldns_rr *rr)
{
    uint16_t cls = (uint16_t)ldns_rr_get_class(rr), t = (uint16_t)ldns_rr_get_type(rr);
    bool apex = zu_is_apex(s, rr);
    for (size_t i = zu_first(s, rr); i != ZU_END; i = s->next[i]) {
        if (!s->rr[i] || !zu_same_owner(s->rr[i], rr))
            continue;
        uint16_t ht = (uint16_t)ldns_rr_get_type(s->rr[i]);
        if (zu_signing_type(ht) || (apex && (ht == DNS_TYPE_SOA || ht == DNS_TYPE_NS) &&
                                    (cls == LDNS_RR_CLASS_ANY || ht == DNS_TYPE_SOA)))
            continue; /* the apex keeps its SOA and NS RRset */
        if (cls == LDNS_RR_CLASS_ANY && (t == DNS_TYPE_ANY || ht == t))
            zu_delete_at(s, i);
        else if (cls == LDNS_RR_CLASS_NONE && zu_same_rr(s->rr[i], rr)) {
            if (apex && ht == DNS_TYPE_NS && zu_count(s, rr, DNS_TYPE_NS) == 1)
                continue; /* never the apex's last NS */
            zu_delete_at(s, i);
        }
    }
}

static void zu_apply(struct zu_set *s, const ldns_rr_list *up)
{
    for (size_t i = 0; i < ldns_rr_list_rr_count(up); i++) {
        const ldns_rr *rr = ldns_rr_list_rr(up, i);
        if (ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN) {
            ldns_rr *c = ldns_rr_clone(rr);
            ldns_rr2canonical(c);
            zu_add(s, c);
        } else {
            ldns_rr *c = ldns_rr_clone(rr);
            ldns_rr2canonical(c);
            zu_delete(s, c);
            ldns_rr_free(c);
        }
    }
}

/* The apex SOA of s, or NULL. */
static ldns_rr *zu_soa(const struct zu_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->rr[i] && ldns_rr_get_type(s->rr[i]) == LDNS_RR_TYPE_SOA && zu_is_apex(s, s->rr[i]))
            return s->rr[i];
    return NULL;
}

/* The serial goes up by one unless the update itself raised it. */
static void zu_bump_serial(struct zu_set *s, struct zone_update_out *out)
{
    ldns_rr *soa = zu_soa(s);
    uint32_t now = zu_soa_serial(soa);
    if (now == out->old_serial) {
        now = out->old_serial + 1;
        ldns_rdf *r = ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, now);
        ldns_rdf_deep_free(ldns_rr_set_rdf(soa, r, 2));
    }
    out->new_serial = now;
}

static ldns_rr_list *zu_take(struct zu_set *s)
{
    ldns_rr_list *l = ldns_rr_list_new();
    for (size_t i = 0; i < s->n; i++)
        if (s->rr[i]) {
            ldns_rr_list_push_rr(l, s->rr[i]);
            s->rr[i] = NULL;
        }
    return l;
}

void zone_update_req_free(struct zone_update_req *r)
{
    if (!r)
        return;
    ldns_pkt_free(r->pkt);
    if (r->origin)
        ldns_rdf_deep_free(r->origin);
    free(r->pre);
    free(r->order);
    free(r);
}

/* The prerequisites' form, then their entries grouped (zu_pre_group). */
static uint16_t zu_pre_prepare(struct zone_update_req *r, struct zone_update_out *out)
{
    const ldns_rr_list *pre = ldns_pkt_answer(r->pkt);
    size_t n = ldns_rr_list_rr_count(pre);
    r->pre = calloc(n ? n : 1, sizeof(*r->pre));
    r->order = calloc(n ? n : 1, sizeof(*r->order));
    if (!r->pre || !r->order)
        abort();
    for (size_t i = 0; i < n; i++) {
        ldns_rr *rr = ldns_rr_list_rr(pre, i);
        ldns_rr2canonical(rr);
        uint16_t rc = zu_pre_form(r->origin, rr, out);
        if (rc != DNS_RCODE_NOERROR)
            return rc;
        uint16_t cls = (uint16_t)ldns_rr_get_class(rr);
        r->pre[i] = (struct zu_pre){.rr = rr,
                                    .order = i,
                                    .cls = cls,
                                    .type = (uint16_t)ldns_rr_get_type(rr),
                                    .value = cls == LDNS_RR_CLASS_IN};
    }
    r->n_pre = n;
    zu_pre_group(r);
    return DNS_RCODE_NOERROR;
}

uint16_t zone_update_prepare(const uint8_t *origin, size_t origin_len, const uint8_t *msg,
                             size_t len, struct zone_update_req **req, struct zone_update_out *out)
{
    memset(out, 0, sizeof(*out));
    *req = NULL;
    struct zone_update_req *r = calloc(1, sizeof(*r));
    if (!r)
        abort();
    if (ldns_wire2pkt(&r->pkt, msg, len) != LDNS_STATUS_OK) {
        zone_update_req_free(r);
        return zu_fail(out, DNS_RCODE_FORMERR, NULL, "a message ldns cannot read");
    }
    const ldns_rr_list *pre = ldns_pkt_answer(r->pkt), *up = ldns_pkt_authority(r->pkt);
    uint16_t rc = DNS_RCODE_NOERROR;
    if (ldns_rr_list_rr_count(pre) + ldns_rr_list_rr_count(up) > ZONE_UPDATE_MAX_RRS)
        rc = zu_fail(out, DNS_RCODE_REFUSED, NULL, "more records than an update may carry");
    else if (!(r->origin = ldns_dname_new_frm_data(origin_len, origin)))
        rc = zu_fail(out, DNS_RCODE_SERVFAIL, NULL, "the zone's name could not be read");
    else if ((rc = zu_pre_prepare(r, out)) == DNS_RCODE_NOERROR)
        rc = zu_up_form(r->origin, up, out);
    if (rc != DNS_RCODE_NOERROR)
        zone_update_req_free(r);
    else
        *req = r;
    return rc;
}

uint16_t zone_update_run(const struct zone *z, const struct zone_update_policy *pol,
                         const struct tsig_key *key, struct zone_update_req *r,
                         const ldns_rr_list *signer_keys, struct zone_update_out *out)
{
    memset(out, 0, sizeof(*out));
    out->old_serial = out->new_serial = z->serial;
    if (z->dnssec.has_dnssec_records && !signer_keys)
        return zu_fail(out, DNS_RCODE_REFUSED, NULL,
                       "a zone signed before gtmd loaded it: gtmd has no keys to sign a change");
    if (!dns_name_equal(ldns_rdf_data(r->origin), ldns_rdf_size(r->origin), z->origin,
                        z->origin_len))
        return zu_fail(out, DNS_RCODE_SERVFAIL, NULL, "prepared for another zone");
    const ldns_rr_list *up = ldns_pkt_authority(r->pkt);
    uint16_t rc = zu_up_rules(pol, key, up, out);
    if (rc != DNS_RCODE_NOERROR)
        return rc;
    struct zu_set s = {0};
    s.origin = ldns_rdf_clone(r->origin);
    rc = DNS_RCODE_SERVFAIL;
    if (!s.origin || !zu_collect(z, signer_keys, &s))
        zu_fail(out, rc, NULL, "the zone's records could not be read back");
    else if ((rc = zu_prereqs(&s, r, out)) == DNS_RCODE_NOERROR &&
             (rc = zu_up_policy(z, up, out)) == DNS_RCODE_NOERROR) {
        zu_index(&s);
        zu_apply(&s, up);
        if (s.changed && zu_soa(&s)) {
            zu_bump_serial(&s, out);
            out->added = s.added;
            out->deleted = s.deleted;
            out->rrs = zu_take(&s);
        }
    }
    zu_set_free(&s);
    return rc;
}

uint16_t zone_update_apply(const struct zone *z, const struct zone_update_policy *pol,
                           const struct tsig_key *key, const uint8_t *msg, size_t len,
                           const ldns_rr_list *signer_keys, struct zone_update_out *out)
{
    if (z->dnssec.has_dnssec_records && !signer_keys) {
        memset(out, 0, sizeof(*out));
        out->old_serial = out->new_serial = z->serial;
        return zu_fail(out, DNS_RCODE_REFUSED, NULL,
                       "a zone signed before gtmd loaded it: gtmd has no keys to sign a change");
    }
    struct zone_update_req *r = NULL;
    uint16_t rc = zone_update_prepare(z->origin, z->origin_len, msg, len, &r, out);
    if (rc == DNS_RCODE_NOERROR)
        rc = zone_update_run(z, pol, key, r, signer_keys, out);
    else
        out->old_serial = out->new_serial = z->serial;
    zone_update_req_free(r);
    return rc;
}

/* SOA first, then canonical order. */
static int zu_cmp(const void *a, const void *b)
{
    const ldns_rr *x = *(const ldns_rr *const *)a, *y = *(const ldns_rr *const *)b;
    bool sx = ldns_rr_get_type(x) == LDNS_RR_TYPE_SOA, sy = ldns_rr_get_type(y) == LDNS_RR_TYPE_SOA;
    if (sx != sy)
        return sx ? -1 : 1;
    return ldns_rr_compare(x, y);
}

bool zone_update_write(const ldns_rr_list *rrs, const char *path, char *why, size_t whylen)
{
    size_t n = ldns_rr_list_rr_count(rrs);
    ldns_rr **v = calloc(n ? n : 1, sizeof(*v));
    if (!v)
        abort();
    for (size_t i = 0; i < n; i++)
        v[i] = ldns_rr_list_rr(rrs, i);
    qsort(v, n, sizeof(*v), zu_cmp);
    FILE *fp = fopen(path, "w");
    bool ok = fp != NULL;
    if (ok)
        fprintf(fp, "; written by gtmd after a dynamic update (RFC 2136)\n");
    for (size_t i = 0; ok && i < n; i++) {
        char *s = ldns_rr2str(v[i]);
        ok = s && fputs(s, fp) >= 0;
        free(s);
    }
    int err = errno;
    free(v);
    if (fp) {
        ok = fflush(fp) == 0 && fsync(fileno(fp)) == 0 && ok;
        err = ok ? 0 : errno;
        ok = fclose(fp) == 0 && ok;
    }
    if (!ok)
        snprintf(why, whylen, "cannot write %s: %s", path, strerror(err ? err : errno));
    return ok;
}
