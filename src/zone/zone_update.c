/*
 * zone_update.c -- RFC 2136 updates against a compiled zone
 * (zone_update.h).
 *
 * The zone's records are read back into a working array of ldns records
 * (canonical form: owners and the names in RDATA lowercased, RFC 4034
 * §6.2), the prerequisites are checked against it, every record of the
 * update section is checked (§3.4.1) before any is applied (§3.4.2), and
 * the array becomes the result. Searches are linear: an update carries at
 * most ZONE_UPDATE_MAX_RRS records, and a zone that takes updates (ACME
 * challenges, a few hosts) is small; the load that follows is linear too.
 */
#include "zone/zone_update.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/dns.h"
#include "dns/name.h"
#include "dns/rrtype.h"

/* The working set: the zone's records; deleted ones are NULL. */
struct zu_set {
    ldns_rr **rr;
    size_t n, cap;
    ldns_rdf *origin; /* the zone's name */
    bool changed;
    unsigned added, deleted;
};

static void zu_push(struct zu_set *s, ldns_rr *rr)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        ldns_rr **n = realloc(s->rr, ncap * sizeof(*n));
        if (!n)
            abort();
        s->rr = n;
        s->cap = ncap;
    }
    s->rr[s->n++] = rr;
}

static void zu_set_free(struct zu_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->rr[i])
            ldns_rr_free(s->rr[i]);
    free(s->rr);
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

/* Records at rr's owner (type 0: any type) in the working set. */
static size_t zu_count(const struct zu_set *s, const ldns_rr *rr, uint16_t type)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->rr[i] && (!type || ldns_rr_get_type(s->rr[i]) == type) &&
            zu_same_owner(s->rr[i], rr))
            n++;
    return n;
}

static bool zu_in_zone(const struct zu_set *s, const ldns_rr *rr)
{
    const ldns_rdf *o = ldns_rr_owner(rr);
    return ldns_dname_compare(o, s->origin) == 0 || ldns_dname_is_subdomain(o, s->origin);
}

/* Meta types (RFC 6895 §3.1: 128-255) and the ones RFC 2136 names. */
static bool zu_meta_type(uint16_t t)
{
    return t == DNS_TYPE_OPT || (t >= 128 && t <= 255);
}

static uint16_t zu_fail(struct zone_update_out *out, uint16_t rcode, const ldns_rr *rr,
                        const char *what)
{
    char *o = rr ? ldns_rdf2str(ldns_rr_owner(rr)) : NULL;
    const char *tn = rr ? dns_type_name(ldns_rr_get_type(rr)) : NULL;
    snprintf(out->why, sizeof(out->why), "%s%s%s%s", o ? o : "", o ? " " : "",
             rr ? (tn ? tn : "TYPE?") : "", what);
    free(o);
    return rcode;
}

/* The value-dependent prerequisites (§3.2.3): the zone's RRset of head's
 * owner and type must be exactly the records of temp[0..n) of that set
 * (temp may repeat a record; a set holds none twice). */
static bool zu_rrset_equal(const struct zu_set *s, ldns_rr **temp, size_t n, const ldns_rr *head)
{
    size_t have = 0, distinct = 0;
    for (size_t i = 0; i < n; i++) {
        if (!zu_same_set(temp[i], head))
            continue;
        bool found = false, dup = false;
        for (size_t k = 0; k < s->n && !found; k++)
            found = s->rr[k] && zu_same_rr(s->rr[k], temp[i]);
        if (!found)
            return false;
        for (size_t k = 0; k < i && !dup; k++)
            dup = zu_same_rr(temp[k], temp[i]);
        distinct += !dup;
    }
    for (size_t k = 0; k < s->n; k++)
        if (s->rr[k] && zu_same_set(s->rr[k], head))
            have++;
    return have == distinct;
}

static uint16_t zu_prereqs(const struct zu_set *s, const ldns_rr_list *pre,
                           struct zone_update_out *out)
{
    size_t n = ldns_rr_list_rr_count(pre), nt = 0;
    ldns_rr **temp = calloc(n ? n : 1, sizeof(*temp));
    if (!temp)
        abort();
    uint16_t rc = DNS_RCODE_NOERROR;
    for (size_t i = 0; i < n && rc == DNS_RCODE_NOERROR; i++) {
        ldns_rr *rr = ldns_rr_list_rr(pre, i);
        uint16_t cls = (uint16_t)ldns_rr_get_class(rr), t = (uint16_t)ldns_rr_get_type(rr);
        bool empty = ldns_rr_rd_count(rr) == 0;
        if (ldns_rr_ttl(rr) != 0)
            rc = zu_fail(out, DNS_RCODE_FORMERR, rr, ": a prerequisite with a TTL");
        else if (!zu_in_zone(s, rr))
            rc = zu_fail(out, DNS_RCODE_NOTZONE, rr, ": a prerequisite outside the zone");
        else if (cls == LDNS_RR_CLASS_ANY || cls == LDNS_RR_CLASS_NONE) {
            bool any = t == DNS_TYPE_ANY;
            size_t have = zu_count(s, rr, any ? 0 : t);
            if (!empty)
                rc = zu_fail(out, DNS_RCODE_FORMERR, rr, ": a prerequisite with RDATA");
            else if (cls == LDNS_RR_CLASS_ANY && have == 0)
                rc = zu_fail(out, any ? DNS_RCODE_NXDOMAIN : DNS_RCODE_NXRRSET, rr,
                             any ? ": the name is not in use" : ": the RRset does not exist");
            else if (cls == LDNS_RR_CLASS_NONE && have > 0)
                rc = zu_fail(out, any ? DNS_RCODE_YXDOMAIN : DNS_RCODE_YXRRSET, rr,
                             any ? ": the name is in use" : ": the RRset exists");
        } else if (cls == LDNS_RR_CLASS_IN && !empty && !zu_meta_type(t)) {
            ldns_rr2canonical(rr);
            temp[nt++] = rr;
        } else
            rc = zu_fail(out, DNS_RCODE_FORMERR, rr, ": a prerequisite of no known kind");
    }
    for (size_t i = 0; i < nt && rc == DNS_RCODE_NOERROR; i++)
        if (!zu_rrset_equal(s, temp, nt, temp[i]))
            rc = zu_fail(out, DNS_RCODE_NXRRSET, temp[i], ": the RRset is not as given");
    free(temp);
    return rc;
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

/* §3.4.1: every record of the update section, before any is applied. */
static uint16_t zu_prescan(const struct zone *z, const struct zu_set *s,
                           const struct zone_update_policy *pol, const struct tsig_key *key,
                           const ldns_rr_list *up, struct zone_update_out *out)
{
    for (size_t i = 0; i < ldns_rr_list_rr_count(up); i++) {
        ldns_rr *rr = ldns_rr_list_rr(up, i);
        uint16_t cls = (uint16_t)ldns_rr_get_class(rr), t = (uint16_t)ldns_rr_get_type(rr);
        bool empty = ldns_rr_rd_count(rr) == 0;
        if (!zu_in_zone(s, rr))
            return zu_fail(out, DNS_RCODE_NOTZONE, rr, ": outside the zone");
        if (cls == LDNS_RR_CLASS_IN && (empty || zu_meta_type(t)))
            return zu_fail(out, DNS_RCODE_FORMERR, rr, ": an addition without data");
        if (cls == LDNS_RR_CLASS_ANY &&
            (ldns_rr_ttl(rr) != 0 || !empty || (zu_meta_type(t) && t != DNS_TYPE_ANY)))
            return zu_fail(out, DNS_RCODE_FORMERR, rr, ": a deletion of a set with a TTL or data");
        if (cls == LDNS_RR_CLASS_NONE && (ldns_rr_ttl(rr) != 0 || zu_meta_type(t)))
            return zu_fail(out, DNS_RCODE_FORMERR, rr, ": a deletion of a record with a TTL");
        if (cls != LDNS_RR_CLASS_IN && cls != LDNS_RR_CLASS_ANY && cls != LDNS_RR_CLASS_NONE)
            return zu_fail(out, DNS_RCODE_FORMERR, rr, ": of another class");
        /* ldns keeps a record whose RDATA ends early with fewer fields
         * (a SOA without its serial): refused before anything reads them. */
        const ldns_rr_descriptor *d = ldns_rr_descript(t);
        if (!empty && d && ldns_rr_rd_count(rr) < ldns_rr_descriptor_minimum(d))
            return zu_fail(out, DNS_RCODE_FORMERR, rr, ": RDATA too short for its type");
        if (cls == LDNS_RR_CLASS_IN && !zu_presentable(rr))
            return zu_fail(out, DNS_RCODE_FORMERR, rr, ": RDATA a zone file cannot hold");
        uint8_t owner[255];
        size_t olen = ldns_rdf_size(ldns_rr_owner(rr));
        memcpy(owner, ldns_rdf_data(ldns_rr_owner(rr)), olen);
        dns_name_lower(owner, olen);
        if (!zone_update_allowed(pol, key, owner, olen, t))
            return zu_fail(out, DNS_RCODE_REFUSED, rr, ": not allowed for this key");
        const struct zone_node *node = zone_find_node(z, owner, olen, dns_name_hash(owner, olen));
        if (node && (node->flags & ZONE_POLICY_FLAGS)) /* flagged at load */
            return zu_fail(out, DNS_RCODE_REFUSED, rr,
                           ": a policy name (its answers come from its pool)");
    }
    return DNS_RCODE_NOERROR;
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
    for (size_t i = 0; i < s->n; i++) {
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
    for (size_t i = 0; i < s->n; i++) {
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
    for (size_t i = 0; i < s->n; i++)
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
    for (size_t i = 0; i < s->n; i++) {
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

uint16_t zone_update_apply(const struct zone *z, const struct zone_update_policy *pol,
                           const struct tsig_key *key, const uint8_t *msg, size_t len,
                           const ldns_rr_list *signer_keys, struct zone_update_out *out)
{
    memset(out, 0, sizeof(*out));
    out->old_serial = out->new_serial = z->serial;
    if (z->dnssec.has_dnssec_records && !signer_keys)
        return zu_fail(out, DNS_RCODE_REFUSED, NULL,
                       "a zone signed before gtmd loaded it: gtmd has no keys to sign a change");
    ldns_pkt *pkt = NULL;
    if (ldns_wire2pkt(&pkt, msg, len) != LDNS_STATUS_OK)
        return zu_fail(out, DNS_RCODE_FORMERR, NULL, "a message ldns cannot read");
    const ldns_rr_list *pre = ldns_pkt_answer(pkt), *up = ldns_pkt_authority(pkt);
    if (ldns_rr_list_rr_count(pre) + ldns_rr_list_rr_count(up) > ZONE_UPDATE_MAX_RRS) {
        ldns_pkt_free(pkt);
        return zu_fail(out, DNS_RCODE_REFUSED, NULL, "more records than an update may carry");
    }
    struct zu_set s = {0};
    s.origin = ldns_dname_new_frm_data(z->origin_len, z->origin);
    uint16_t rc = DNS_RCODE_SERVFAIL;
    if (!s.origin || !zu_collect(z, signer_keys, &s))
        zu_fail(out, rc, NULL, "the zone's records could not be read back");
    else if ((rc = zu_prereqs(&s, pre, out)) == DNS_RCODE_NOERROR &&
             (rc = zu_prescan(z, &s, pol, key, up, out)) == DNS_RCODE_NOERROR) {
        zu_apply(&s, up);
        if (s.changed && zu_soa(&s)) {
            zu_bump_serial(&s, out);
            out->added = s.added;
            out->deleted = s.deleted;
            out->rrs = zu_take(&s);
        }
    }
    zu_set_free(&s);
    ldns_pkt_free(pkt);
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
