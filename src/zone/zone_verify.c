/*
 * zone_verify.c -- checks a signed zone (signatures with ldns, times, the
 * NSEC/NSEC3 chain) after it was compiled.
 */
#include "zone/zone_verify.h"

#include <ldns/ldns.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/dns.h"
#include "dns/dnssec.h"
#include "dns/name.h"

/* Messages of one kind beyond this many are only counted. */
#define VERIFY_SHOWN 10

enum verify_kind {
    V_UNSIGNED,
    V_BOGUS,
    V_EXPIRED,
    V_NOT_YET,
    V_CHAIN,
    V_BITMAP,
    V_NO_DENIAL,
    V_KINDS
};

static const char *const verify_kind_name[V_KINDS] = {"RRsets without an RRSIG",
                                                      "RRsets whose signatures do not verify",
                                                      "RRsets whose signatures expired",
                                                      "RRsets whose signatures are not yet valid",
                                                      "broken links in the chain",
                                                      "type bitmaps that do not match the data",
                                                      "names without their NSEC/NSEC3 record"};

struct verify_ctx {
    const struct zone *z;
    const struct zone_dnssec_params *p;
    uint32_t now;
    struct errlist *errs;
    size_t n_errors;
    ldns_rr_list *keys; /* the apex DNSKEYs */
    unsigned count[V_KINDS];
    uint32_t earliest;     /* earliest expiry of an RRset's best signature */
    char earliest_at[512]; /* "name type" of it */
    bool have_earliest;
    /* RRsets whose signatures are still verified with ldns: all of them
     * in a pre-signed zone; in a zone gtmd signed itself (with key pairs
     * checked against their DNSKEYs) the first VERIFY_SIGNED_SAMPLE, which
     * catches a key or algorithm problem, every signature being made the
     * same way. The rest is checked for presence and dates only. */
    size_t crypto_left;
    /* The largest TTL of a signed RRset and the DNSKEY RRset's, against
     * the signing policy's (zone_params.h): "name type" of the first. */
    uint32_t max_ttl, dnskey_ttl;
    char max_ttl_at[512];
};

#define VERIFY_SIGNED_SAMPLE 64

static void verify_error(struct verify_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void verify_error(struct verify_ctx *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    errlist_add(c->errs, "%s: zone %s: %s", c->z->file, c->z->origin_str, msg);
    c->n_errors++;
}

/* The presentation name of a type ("A", "TYPE65534"). */
static void verify_type_str(uint16_t type, char *out, size_t n)
{
    char *ts = ldns_rr_type2str((ldns_rr_type)type);
    snprintf(out, n, "%s", ts ? ts : "?");
    free(ts);
}

/* One problem of a kind at owner/type: shown for the first few. */
static void verify_problem(struct verify_ctx *c, enum verify_kind k, const uint8_t *owner,
                           uint16_t type, const char *what)
{
    if (++c->count[k] > VERIFY_SHOWN)
        return;
    char nb[1024], tb[16];
    dns_name_to_str(owner, nb, sizeof(nb));
    verify_type_str(type, tb, sizeof(tb));
    verify_error(c, "%s %s: %s", nb, tb, what);
}

static void verify_time_str(uint32_t t, uint32_t now, char *out, size_t n)
{
    /* RRSIG times are modulo 2^32: the one closest to now. */
    time_t full = (time_t)now + (int32_t)(t - now);
    struct tm tm;
    gmtime_r(&full, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* The records of set with owner as an ldns list (NULL on failure). */
static ldns_rr_list *verify_list(const uint8_t *owner, size_t olen, const struct zone_rrset *set)
{
    ldns_rr_list *l = ldns_rr_list_new();
    uint8_t wire[DNS_MAX_NAME + 10 + 65535];
    size_t o = 0;
    for (uint16_t i = 0; i < set->count; i++) {
        uint16_t rdlen = dns_get16(set->rdata + o);
        memcpy(wire, owner, olen);
        dns_put16(wire + olen, set->type);
        dns_put16(wire + olen + 2, DNS_CLASS_IN);
        dns_put32(wire + olen + 4, set->ttl);
        memcpy(wire + olen + 8, set->rdata + o, 2u + rdlen);
        o += 2 + (size_t)rdlen;
        ldns_rr *rr = NULL;
        size_t pos = 0;
        if (ldns_wire2rr(&rr, wire, olen + 10 + rdlen, &pos, LDNS_SECTION_ANSWER) !=
            LDNS_STATUS_OK) {
            ldns_rr_list_deep_free(l);
            return NULL;
        }
        ldns_rr_list_push_rr(l, rr);
    }
    return l;
}

/* What the signatures of one RRset give: a current one that verifies
 * (its expiry in *best), or why not. */
struct verify_sigs {
    bool good, expired, not_yet;
    uint32_t best, exp_at;
};

/* Dates of one signature: one that is current counts as good when verify
 * says so. */
static void verify_sig_dates(struct verify_ctx *c, uint32_t exp, uint32_t inc,
                             struct verify_sigs *v, bool (*verify)(void *), void *arg)
{
    if (dns_time_before(exp, c->now)) {
        v->expired = true;
        v->exp_at = exp;
        return;
    }
    if (dns_time_before(c->now, inc)) {
        v->not_yet = true;
        return;
    }
    if (verify && !verify(arg))
        return;
    if (!v->good || dns_time_before(v->best, exp))
        v->best = exp;
    v->good = true;
}

struct verify_one {
    ldns_rr_list *rrs, *keys;
    ldns_rr *sig;
};

static bool verify_one_sig(void *arg)
{
    struct verify_one *o = arg;
    return ldns_verify_rrsig_keylist_notime(o->rrs, o->sig, o->keys, NULL) == LDNS_STATUS_OK;
}

/* Every signature of set verified with ldns. */
static void verify_rrset_crypto(struct verify_ctx *c, const uint8_t *owner, size_t olen,
                                const struct zone_rrset *set, struct verify_sigs *v)
{
    ldns_rr_list *rrs = verify_list(owner, olen, set);
    ldns_rr_list *sigs = verify_list(owner, olen, set->sigs);
    for (size_t i = 0; rrs && sigs && i < ldns_rr_list_rr_count(sigs); i++) {
        struct verify_one o = {rrs, c->keys, ldns_rr_list_rr(sigs, i)};
        verify_sig_dates(c, ldns_rdf2native_time_t(ldns_rr_rrsig_expiration(o.sig)),
                         ldns_rdf2native_time_t(ldns_rr_rrsig_inception(o.sig)), v, verify_one_sig,
                         &o);
    }
    ldns_rr_list_deep_free(rrs);
    ldns_rr_list_deep_free(sigs);
}

/* The dates of set's signatures, read from their RDATA (type covered 2,
 * algorithm 1, labels 1, original TTL 4, expiration 4, inception 4). */
static void verify_rrset_dates(struct verify_ctx *c, const struct zone_rrset *set,
                               struct verify_sigs *v)
{
    size_t o = 0;
    for (uint16_t i = 0; i < set->sigs->count; i++) {
        const uint8_t *rd = set->sigs->rdata + o;
        uint16_t rdlen = dns_get16(rd);
        if (rdlen >= 16)
            verify_sig_dates(c, dns_get32(rd + 2 + 8), dns_get32(rd + 2 + 12), v, NULL, NULL);
        o += 2 + (size_t)rdlen;
    }
}

/* Verifies the RRSIGs of one RRset: one current signature that verifies
 * is enough (others may belong to keys being rolled). */
static void verify_rrset(struct verify_ctx *c, const uint8_t *owner, size_t olen,
                         const struct zone_rrset *set)
{
    if (!set->sigs) {
        verify_problem(c, V_UNSIGNED, owner, set->type, "no RRSIG");
        return;
    }
    struct verify_sigs v = {0};
    if (c->crypto_left > 0) {
        c->crypto_left--;
        verify_rrset_crypto(c, owner, olen, set, &v);
    } else
        verify_rrset_dates(c, set, &v);
    bool good = v.good, expired = v.expired, not_yet = v.not_yet;
    uint32_t best = v.best, exp_at = v.exp_at;
    if (good) {
        if (!c->have_earliest || dns_time_before(best, c->earliest)) {
            char nb[480], tb[16];
            dns_name_to_str(owner, nb, sizeof(nb));
            verify_type_str(set->type, tb, sizeof(tb));
            c->earliest = best;
            c->have_earliest = true;
            snprintf(c->earliest_at, sizeof(c->earliest_at), "%s %s", nb, tb);
        }
        return;
    }
    char msg[128], when[64];
    if (expired) {
        verify_time_str(exp_at, c->now, when, sizeof(when));
        snprintf(msg, sizeof(msg), "signature expired at %s", when);
        verify_problem(c, V_EXPIRED, owner, set->type, msg);
    } else if (not_yet)
        verify_problem(c, V_NOT_YET, owner, set->type, "signature not yet valid (inception ahead)");
    else
        verify_problem(c, V_BOGUS, owner, set->type,
                       "no signature verifies with the apex DNSKEYs (bogus)");
}

/* Which RRsets of a node must be signed: all authoritative data; at a
 * delegation only DS and NSEC (RFC 4035 §2.2). */
static void verify_node_sigs(struct verify_ctx *c, const struct zone_node *n)
{
    for (uint16_t i = 0; i < n->n_rrsets; i++) {
        const struct zone_rrset *set = &n->rrsets[i];
        if (set->type == DNS_TYPE_RRSIG)
            continue;
        if ((n->flags & ZONE_NODE_CUT) && set->type != DNS_TYPE_DS && set->type != DNS_TYPE_NSEC)
            continue;
        verify_rrset(c, n->name, n->name_len, set);
        if (set->type == DNS_TYPE_DNSKEY)
            c->dnskey_ttl = set->ttl;
        if (set->ttl > c->max_ttl) {
            char nb[480], tb[16];
            dns_name_to_str(n->name, nb, sizeof(nb));
            verify_type_str(set->type, tb, sizeof(tb));
            c->max_ttl = set->ttl;
            snprintf(c->max_ttl_at, sizeof(c->max_ttl_at), "%s %s", nb, tb);
        }
    }
}

/* Whether node n has type t: an RRset, or a policy record answering it
 * (zone signed at load: its answers are signed later, policy_sign.h). */
static bool verify_has_type(const struct zone_node *n, uint16_t t)
{
    uint16_t pf = zone_policy_flag(t);
    const uint16_t any_policy = ZONE_NODE_POLICY_A | ZONE_NODE_POLICY_AAAA | ZONE_NODE_POLICY_CNAME;
    if (t == DNS_TYPE_RRSIG && (n->flags & any_policy))
        return true; /* the policy answers' own, made later */
    return zone_node_rrset(n, t) || (pf && (n->flags & pf));
}

/* Whether the type bitmap bm lists exactly the types of node n (n may be
 * NULL: an empty bitmap). */
static bool verify_bitmap(const struct zone_node *n, const uint8_t *bm, size_t len)
{
    for (uint16_t i = 0; n && i < n->n_rrsets; i++)
        if (!dns_type_bitmap_has(bm, len, n->rrsets[i].type))
            return false;
    static const uint16_t policy_types[] = {DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_CNAME};
    for (size_t i = 0; n && i < 3; i++)
        if ((n->flags & zone_policy_flag(policy_types[i])) &&
            !dns_type_bitmap_has(bm, len, policy_types[i]))
            return false;
    size_t o = 0;
    while (o + 2 <= len) {
        uint8_t win = bm[o], blen = bm[o + 1];
        if (blen == 0 || blen > 32 || o + 2u + blen > len)
            return false;
        for (unsigned b = 0; b < blen * 8u; b++) {
            if (!(bm[o + 2 + b / 8] & (0x80 >> (b % 8))))
                continue;
            uint16_t t = (uint16_t)(win << 8 | b);
            if (t == DNS_TYPE_NSEC3)
                continue; /* an NSEC3 lists itself only in odd zones; harmless */
            if (!n || !verify_has_type(n, t))
                return false;
        }
        o += 2u + blen;
    }
    return true;
}

static const struct zone_node *verify_find(const struct zone *z, const uint8_t *name, size_t len)
{
    return zone_find_node(z, name, len, dns_name_hash(name, len));
}

static void verify_nsec_chain(struct verify_ctx *c)
{
    const struct zone *z = c->z;
    const struct zone_denial *ch = z->dnssec.chain;
    for (uint32_t i = 0; i < z->dnssec.n_chain; i++) {
        const struct zone_rrset *set = ch[i].rrset;
        uint16_t rdlen = dns_get16(set->rdata);
        const uint8_t *rd = set->rdata + 2;
        size_t nl = dns_name_wire_len_max(rd, rdlen);
        const struct zone_denial *next = &ch[(i + 1) % z->dnssec.n_chain];
        if (nl == 0 || !dns_name_equal(rd, nl, next->owner, next->owner_len))
            verify_problem(c, V_CHAIN, ch[i].owner, DNS_TYPE_NSEC,
                           "next owner is not the next name of the zone in canonical order");
        if (!verify_bitmap(verify_find(z, ch[i].owner, ch[i].owner_len), rd + nl, rdlen - nl))
            verify_problem(c, V_BITMAP, ch[i].owner, DNS_TYPE_NSEC,
                           "type bitmap does not list the types at the name");
    }
    for (uint32_t i = 0; i <= z->mask; i++) {
        const struct zone_node *n = z->table[i].node;
        if (n && n->n_rrsets > 0 && !(n->flags & ZONE_NODE_BELOW_CUT) &&
            !zone_node_rrset(n, DNS_TYPE_NSEC))
            verify_problem(c, V_NO_DENIAL, n->name, DNS_TYPE_NSEC, "no NSEC record at the name");
    }
}

/* A node without its NSEC3 is fine only where opt-out allows it: an
 * insecure delegation, or an empty non-terminal above only such. */
static bool verify_optout_ok(const struct zone *z, const struct zone_node *n)
{
    bool insecure = (n->flags & ZONE_NODE_CUT) && !zone_node_rrset(n, DNS_TYPE_DS);
    if (!insecure && n->n_rrsets > 0)
        return false;
    uint8_t h[DNS_SHA1_LEN];
    bool exact;
    struct dns_nsec3_params p;
    dns_nsec3_hash(n->name, n->name_len, z->dnssec.nsec3_salt, z->dnssec.nsec3_salt_len,
                   z->dnssec.nsec3_iterations, h);
    const struct zone_denial *d = zone_nsec3_find(z, h, &exact);
    return d && dns_nsec3_params_parse(d->rrset->rdata + 2, dns_get16(d->rrset->rdata), &p) &&
           (p.flags & DNS_NSEC3_FLAG_OPTOUT);
}

static void verify_nsec3_chain(struct verify_ctx *c)
{
    const struct zone *z = c->z;
    const struct zone_denial *ch = z->dnssec.chain;
    bool *used = calloc(z->dnssec.n_chain + 1, sizeof(*used));
    if (!used)
        abort();
    for (uint32_t i = 0; i <= z->mask; i++) {
        const struct zone_node *n = z->table[i].node;
        if (!n || (n->flags & ZONE_NODE_BELOW_CUT))
            continue;
        const struct zone_denial *m = n->denial ? n->denial->match : NULL;
        if (!m) {
            if (!verify_optout_ok(z, n))
                verify_problem(c, V_NO_DENIAL, n->name, DNS_TYPE_NSEC3,
                               "no NSEC3 record for the name");
            continue;
        }
        used[m - ch] = true;
        struct dns_nsec3_params p;
        const uint8_t *next;
        size_t next_len, bo;
        uint16_t rdlen = dns_get16(m->rrset->rdata);
        const uint8_t *rd = m->rrset->rdata + 2;
        if (dns_nsec3_rdata_parse(rd, rdlen, &p, &next, &next_len, &bo) &&
            !verify_bitmap(n, rd + bo, rdlen - bo))
            verify_problem(c, V_BITMAP, n->name, DNS_TYPE_NSEC3,
                           "type bitmap of its NSEC3 does not list the types at the name");
    }
    unsigned orphans = 0;
    for (uint32_t i = 0; i < z->dnssec.n_chain; i++) {
        struct dns_nsec3_params p;
        const uint8_t *next;
        size_t next_len, bo;
        uint16_t rdlen = dns_get16(ch[i].rrset->rdata);
        const struct zone_denial *nx = &ch[(i + 1) % z->dnssec.n_chain];
        if (!dns_nsec3_rdata_parse(ch[i].rrset->rdata + 2, rdlen, &p, &next, &next_len, &bo) ||
            next_len != DNS_SHA1_LEN || memcmp(next, nx->hash, DNS_SHA1_LEN) != 0)
            verify_problem(c, V_CHAIN, ch[i].owner, DNS_TYPE_NSEC3,
                           "next hashed owner is not the next hash of the chain");
        orphans += !used[i];
        verify_rrset(c, ch[i].owner, ch[i].owner_len, ch[i].rrset);
    }
    free(used);
    if (orphans)
        verify_error(c, "%u NSEC3 records match no name of the zone", orphans);
    if (!z->dnssec.has_nsec3param)
        verify_error(c, "NSEC3 chain without an NSEC3PARAM record at the apex");
    if (z->dnssec.n_nsec3_foreign)
        verify_error(c,
                     "%u NSEC3 records have other parameters than the NSEC3PARAM "
                     "(iterations %u, salt length %u)",
                     z->dnssec.n_nsec3_foreign, z->dnssec.nsec3_iterations,
                     z->dnssec.nsec3_salt_len);
}

/* The apex DNSKEYs as an ldns list; NULL (with an error) if none. */
static ldns_rr_list *verify_keys(struct verify_ctx *c)
{
    const struct zone_rrset *dk = c->z->apex ? zone_node_rrset(c->z->apex, DNS_TYPE_DNSKEY) : NULL;
    if (!dk) {
        verify_error(c, "has DNSSEC records (RRSIG, NSEC, NSEC3 or DNSKEY) but no DNSKEY at its "
                        "apex: it cannot be validated; sign it completely or remove them");
        return NULL;
    }
    ldns_rr_list *l = verify_list(c->z->apex->name, c->z->apex->name_len, dk);
    if (!l)
        verify_error(c, "its DNSKEY records cannot be parsed");
    return l;
}

/* The TTLs the signing policy's timeline assumes (TTLsig, TTLkey):
 * a zone above them makes its intervals too short, a warning while
 * nothing acts on them (zone_kasp.h). */
static void verify_policy_ttls(struct verify_ctx *c, struct errlist *warns)
{
    if (c->p->policy_max_ttl && c->max_ttl > c->p->policy_max_ttl)
        errlist_add(warns,
                    "%s: zone %s: %s has TTL %u, more than its signing policy's zone_max_ttl %u "
                    "(TTLsig): the policy's Iret and signature_refresh rule are computed too "
                    "short; raise zone_max_ttl or lower the TTL",
                    c->z->file, c->z->origin_str, c->max_ttl_at, c->max_ttl, c->p->policy_max_ttl);
    if (c->p->policy_dnskey_ttl && c->dnskey_ttl > c->p->policy_dnskey_ttl)
        errlist_add(warns,
                    "%s: zone %s: its DNSKEY RRset has TTL %u, more than its signing policy's "
                    "dnskey_ttl %u (TTLkey): the policy's Ipub is computed too short; set the "
                    "keys' TTL to dnskey_ttl or raise it",
                    c->z->file, c->z->origin_str, c->dnskey_ttl, c->p->policy_dnskey_ttl);
}

static void verify_summary(struct verify_ctx *c, struct errlist *warns)
{
    verify_policy_ttls(c, warns);
    for (int k = 0; k < V_KINDS; k++)
        if (c->count[k] > VERIFY_SHOWN)
            verify_error(c, "%u %s in all (the first %d shown)", c->count[k], verify_kind_name[k],
                         VERIFY_SHOWN);
    if (!c->have_earliest || !dns_time_before(c->earliest, c->now + c->p->expiry_warning))
        return;
    char when[64];
    verify_time_str(c->earliest, c->now, when, sizeof(when));
    long hours = (long)(int32_t)(c->earliest - c->now) / 3600;
    errlist_add(warns,
                "%s: zone %s: signatures expire within %ld hours (first: %s at %s); "
                "re-sign the zone and reload",
                c->z->file, c->z->origin_str, hours, c->earliest_at, when);
}

size_t zone_verify(const struct zone *z, const struct zone_dnssec_params *p, uint32_t now,
                   struct errlist *errs, struct errlist *warns)
{
    struct verify_ctx c = {.z = z, .p = p, .now = now, .errs = errs, .crypto_left = SIZE_MAX};
    if (p->sign.n_keys > 0)
        c.crypto_left = VERIFY_SIGNED_SAMPLE;
    if (!z->dnssec.has_dnssec_records)
        return 0;
    c.keys = verify_keys(&c);
    if (!c.keys)
        return c.n_errors;
    if (!z->soa->sigs)
        verify_error(&c, "the SOA at the apex has no RRSIG: the zone is not signed");
    if (z->dnssec.kind == ZONE_DENIAL_NONE)
        verify_error(&c, "signed but has no NSEC or NSEC3 chain: no denial of existence");
    for (uint32_t i = 0; i <= z->mask; i++) {
        const struct zone_node *n = z->table[i].node;
        if (n && !(n->flags & ZONE_NODE_BELOW_CUT))
            verify_node_sigs(&c, n);
    }
    if (z->dnssec.kind == ZONE_DENIAL_NSEC)
        verify_nsec_chain(&c);
    else if (z->dnssec.kind == ZONE_DENIAL_NSEC3)
        verify_nsec3_chain(&c);
    verify_summary(&c, warns);
    ldns_rr_list_deep_free(c.keys);
    return c.n_errors;
}
