/* Unit tests for src/zone/zone_update.c: RFC 2136 §3.4.2's rules for
 * additions and deletions (CNAME and other data, the apex's SOA and NS,
 * duplicates and TTLs), prerequisites compared in canonical form, the
 * serial, the key's rules, and the record list written back as a master
 * file that loads again. The integration tests (test_update*.py) send
 * the same through nsupdate and dnspython; these pin the corners. */
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "tap.h"
#include "zone/zone.h"
#include "zone/zone_update.h"
#include "zone/zone_update_params.h"
#include "zonefile.h"

static struct zone *upd_zone(struct zonefile *zf)
{
    FILE *fp = zonefile_open(zf);
    fprintf(fp, "$ORIGIN u.test.\n$TTL 300\n@ IN SOA ns1 h 10 3600 600 86400 60\n"
                "@ IN NS ns1\n@ IN A 192.0.2.100\nns1 IN A 192.0.2.1\n"
                "www IN A 192.0.2.2\nalias IN CNAME www\nmail IN MX 10 mx.u.test.\n"
                "t IN TXT \"a\"\nt IN TXT \"b\"\nt IN TXT \"c\"\n");
    return zonefile_load(zf, fp, "u.test.");
}

/* A record from "owner ttl class type [rdata]"; without rdata (RFC 2136's
 * empty records of class ANY or NONE) made by hand: ldns parses none. */
static ldns_rr *upd_rr(const char *text)
{
    ldns_rr *rr = NULL;
    char owner[256], cls[16], type[16], rest[8];
    unsigned ttl;
    if (sscanf(text, "%255s %u %15s %15s %7s", owner, &ttl, cls, type, rest) == 4) {
        rr = ldns_rr_new();
        ldns_rr_set_owner(rr, ldns_dname_new_frm_str(owner));
        ldns_rr_set_ttl(rr, ttl);
        ldns_rr_set_class(rr, strcmp(cls, "ANY") == 0 ? LDNS_RR_CLASS_ANY : LDNS_RR_CLASS_NONE);
        ldns_rr_set_type(rr, ldns_get_rr_type_by_name(type));
        return rr;
    }
    if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK) {
        printf("# cannot parse %s\n", text);
        exit(1);
    }
    return rr;
}

/* An UPDATE for u.test. with prerequisites pre and updates up, each a
 * NULL-terminated list of records in presentation form. */
static size_t upd_msg(const char *const *pre, const char *const *up, uint8_t **wire)
{
    ldns_pkt *p = ldns_pkt_new();
    ldns_pkt_set_opcode(p, LDNS_PACKET_UPDATE);
    ldns_rr *z = NULL;
    ldns_rr_new_question_frm_str(&z, "u.test. IN SOA", 0, NULL);
    ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, z);
    for (int s = 0; s < 2; s++)
        for (const char *const *t = s ? up : pre; t && *t; t++)
            ldns_pkt_push_rr(p, s ? LDNS_SECTION_AUTHORITY : LDNS_SECTION_ANSWER, upd_rr(*t));
    size_t len = 0;
    ldns_pkt2wire(wire, p, &len);
    ldns_pkt_free(p);
    return len;
}

struct upd_env {
    struct zone *z;
    struct tsig_keyring kr;
    const struct zone_update_policy *pol;
    struct arena a;
};

/* Applies; the rcode. out->rrs is freed by the caller (upd_count). */
static uint16_t upd_run(struct upd_env *e, const char *const *pre, const char *const *up,
                        struct zone_update_out *out)
{
    uint8_t *wire = NULL;
    size_t len = upd_msg(pre, up, &wire);
    uint16_t rc = zone_update_apply(e->z, e->pol, &e->kr.keys[0], wire, len, NULL, out);
    free(wire);
    if (rc)
        printf("# rcode %u: %s\n", rc, out->why);
    return rc;
}

/* How many records of out->rrs are rr (presentation form, TTL too);
 * -1 when the update changed nothing. */
static int upd_has(const struct zone_update_out *out, const char *text)
{
    if (!out->rrs)
        return -1;
    ldns_rr *want = NULL;
    ldns_rr_new_frm_str(&want, text, 0, NULL, NULL);
    ldns_rr2canonical(want);
    int n = 0;
    for (size_t i = 0; i < ldns_rr_list_rr_count(out->rrs); i++) {
        const ldns_rr *r = ldns_rr_list_rr(out->rrs, i);
        n += ldns_rr_compare(r, want) == 0 && ldns_rr_ttl(r) == ldns_rr_ttl(want);
    }
    ldns_rr_free(want);
    return n;
}

static void upd_done(struct zone_update_out *out)
{
    if (out->rrs)
        ldns_rr_list_deep_free(out->rrs);
    out->rrs = NULL;
}

static void upd_rules(struct tap *t, struct upd_env *e)
{
    struct zone_update_out o;
    const char *txt[] = {"_acme-challenge.u.test. 60 IN TXT \"x\"", NULL};
    const char *a[] = {"_acme-challenge.u.test. 60 IN A 192.0.2.9", NULL};
    const char *deep[] = {"x._acme-challenge.u.test. 60 IN TXT \"x\"", NULL};
    const char *out_zone[] = {"www.elsewhere.test. 60 IN TXT \"x\"", NULL};
    TAP_CHECK(t, upd_run(e, NULL, txt, &o) == DNS_RCODE_NOERROR && upd_has(&o, txt[0]) == 1,
              "an allowed TXT is added");
    TAP_CHECK(t, o.new_serial == 11 && o.old_serial == 10 && o.added == 1, "serial 10 -> 11");
    upd_done(&o);
    TAP_CHECK(t, upd_run(e, NULL, a, &o) == DNS_RCODE_REFUSED && !o.rrs, "a type not allowed");
    TAP_CHECK(t, upd_run(e, NULL, deep, &o) == DNS_RCODE_NOERROR && upd_has(&o, deep[0]) == 1,
              "subdomain: a name below the rule's name");
    upd_done(&o);
    TAP_CHECK(t, upd_run(e, NULL, out_zone, &o) == DNS_RCODE_NOTZONE, "outside the zone: NOTZONE");
    TAP_CHECK(t,
              zone_update_apply(e->z, e->pol, &e->kr.keys[0], (const uint8_t *)"\x12\x34", 2, NULL,
                                &o) == DNS_RCODE_FORMERR,
              "a message that does not parse: FORMERR");
    struct tsig_key other = e->kr.keys[0];
    TAP_CHECK(t, !zone_update_allowed(e->pol, &other, NULL, 0, 0),
              "rules match the keyring's key itself, not a copy");
}

static void upd_semantics(struct tap *t, struct upd_env *e)
{
    struct zone_update_out o;
    const char *cname_on_a[] = {"www.u.test. 60 IN CNAME mail.u.test.", NULL};
    const char *a_on_cname[] = {"alias.u.test. 60 IN A 192.0.2.7", NULL};
    const char *cname_swap[] = {"alias.u.test. 60 IN CNAME mail.u.test.", NULL};
    const char *apex_all[] = {"u.test. 0 ANY ANY", NULL};
    const char *last_ns[] = {"u.test. 0 NONE NS ns1.u.test.", NULL};
    const char *old_soa[] = {"u.test. 300 IN SOA ns1.u.test. h.u.test. 9 1 1 1 1", NULL};
    const char *new_soa[] = {"u.test. 300 IN SOA ns1.u.test. h.u.test. 50 1 1 1 1", NULL};
    const char *same[] = {"www.u.test. 300 IN A 192.0.2.2", NULL};
    const char *ttl[] = {"www.u.test. 30 IN A 192.0.2.3", NULL};
    TAP_CHECK(t, upd_run(e, NULL, cname_on_a, &o) == DNS_RCODE_NOERROR && !o.rrs,
              "a CNAME beside other data is ignored");
    TAP_CHECK(t, upd_run(e, NULL, a_on_cname, &o) == DNS_RCODE_NOERROR && !o.rrs,
              "other data beside a CNAME is ignored");
    TAP_CHECK(t,
              upd_run(e, NULL, cname_swap, &o) == DNS_RCODE_NOERROR &&
                  upd_has(&o, cname_swap[0]) == 1 &&
                  upd_has(&o, "alias.u.test. 300 IN CNAME www.u.test.") == 0,
              "a CNAME replaces the CNAME");
    upd_done(&o);
    TAP_CHECK(t,
              upd_run(e, NULL, apex_all, &o) == DNS_RCODE_NOERROR &&
                  upd_has(&o, "u.test. 300 IN A 192.0.2.100") == 0 &&
                  upd_has(&o, "u.test. 300 IN NS ns1.u.test.") == 1 &&
                  upd_has(&o, "u.test. 300 IN SOA ns1.u.test. h.u.test. 11 3600 600 86400 60") == 1,
              "deleting every RRset at the apex keeps its SOA and NS");
    upd_done(&o);
    TAP_CHECK(t, upd_run(e, NULL, last_ns, &o) == DNS_RCODE_NOERROR && !o.rrs,
              "the apex's last NS is not deleted");
    TAP_CHECK(t, upd_run(e, NULL, old_soa, &o) == DNS_RCODE_NOERROR && !o.rrs,
              "a SOA with an older serial is ignored");
    TAP_CHECK(t,
              upd_run(e, NULL, new_soa, &o) == DNS_RCODE_NOERROR && o.new_serial == 50 &&
                  upd_has(&o, new_soa[0]) == 1,
              "a SOA with a later serial replaces it, and its serial is kept");
    upd_done(&o);
    TAP_CHECK(t, upd_run(e, NULL, same, &o) == DNS_RCODE_NOERROR && !o.rrs,
              "a record already there changes nothing");
    TAP_CHECK(t,
              upd_run(e, NULL, ttl, &o) == DNS_RCODE_NOERROR &&
                  upd_has(&o, "www.u.test. 30 IN A 192.0.2.2") == 1 && upd_has(&o, ttl[0]) == 1,
              "one TTL for the RRset: the added record's");
    upd_done(&o);
}

static void upd_prereqs(struct tap *t, struct upd_env *e)
{
    struct zone_update_out o;
    const char *up[] = {"www.u.test. 60 IN TXT \"p\"", NULL};
    const char *mx_case[] = {"mail.u.test. 0 IN MX 10 MX.U.TEST.", NULL};
    const char *mx_other[] = {"mail.u.test. 0 IN MX 20 mx.u.test.", NULL};
    const char *ent[] = {"u.test. 0 ANY ANY", "nothing.u.test. 0 NONE ANY", NULL};
    const char *ttl[] = {"www.u.test. 5 ANY A", NULL};
    TAP_CHECK(t, upd_run(e, mx_case, up, &o) == DNS_RCODE_NOERROR && o.rrs,
              "value-dependent: names in RDATA compare without case");
    upd_done(&o);
    TAP_CHECK(t, upd_run(e, mx_other, up, &o) == DNS_RCODE_NXRRSET && !o.rrs,
              "value-dependent: another value is NXRRSET");
    TAP_CHECK(t, upd_run(e, ent, up, &o) == DNS_RCODE_NOERROR, "name in use, name not in use");
    upd_done(&o);
    TAP_CHECK(t, upd_run(e, ttl, up, &o) == DNS_RCODE_FORMERR, "a prerequisite with a TTL");
}

/* RFC 2136 §3.2.3: a value-dependent prerequisite holds when the zone's
 * RRset of that owner and type is exactly the records given for it, in
 * any order, a record given twice counting once; several sets are checked
 * each on its own. The prerequisites are grouped once (issue #53: the
 * check was quadratic); these pin what the grouping must keep. */
static void upd_value_sets(struct tap *t, struct upd_env *e)
{
    struct zone_update_out o;
    const char *up[] = {"www.u.test. 60 IN TXT \"v\"", NULL};
    const char *any_order[] = {"t.u.test. 0 IN TXT \"c\"", "t.u.test. 0 IN TXT \"a\"",
                               "t.u.test. 0 IN TXT \"b\"", NULL};
    const char *twice[] = {"t.u.test. 0 IN TXT \"b\"", "t.u.test. 0 IN TXT \"a\"",
                           "t.u.test. 0 IN TXT \"b\"", "t.u.test. 0 IN TXT \"c\"", NULL};
    const char *missing[] = {"t.u.test. 0 IN TXT \"a\"", "t.u.test. 0 IN TXT \"c\"", NULL};
    const char *extra[] = {"t.u.test. 0 IN TXT \"a\"", "t.u.test. 0 IN TXT \"b\"",
                           "t.u.test. 0 IN TXT \"c\"", "t.u.test. 0 IN TXT \"d\"", NULL};
    const char *absent[] = {"t.u.test. 0 IN A 192.0.2.1", NULL};
    const char *several[] = {"t.u.test. 0 IN TXT \"b\"",   "www.u.test. 0 IN A 192.0.2.2",
                             "T.U.TEST. 0 IN TXT \"c\"",   "mail.u.test. 0 IN MX 10 mx.u.test.",
                             "t.u.test. 0 IN TXT \"a\"",   "t.u.test. 0 ANY TXT",
                             "t.u.test. 0 NONE A",         "u.test. 0 ANY ANY",
                             "nothing.u.test. 0 NONE ANY", NULL};
    const char *one_wrong[] = {"t.u.test. 0 IN TXT \"b\"", "www.u.test. 0 IN A 192.0.2.9",
                               "t.u.test. 0 IN TXT \"c\"", "t.u.test. 0 IN TXT \"a\"", NULL};
    TAP_CHECK(t, upd_run(e, any_order, up, &o) == DNS_RCODE_NOERROR && o.rrs,
              "value-dependent: the same set in another order");
    upd_done(&o);
    TAP_CHECK(t, upd_run(e, twice, up, &o) == DNS_RCODE_NOERROR && o.rrs,
              "value-dependent: a record given twice counts once");
    upd_done(&o);
    TAP_CHECK(t, upd_run(e, missing, up, &o) == DNS_RCODE_NXRRSET && !o.rrs,
              "value-dependent: the zone holds a record not given: NXRRSET");
    TAP_CHECK(t, upd_run(e, extra, up, &o) == DNS_RCODE_NXRRSET && !o.rrs,
              "value-dependent: a record given that the zone lacks: NXRRSET");
    TAP_CHECK(t, upd_run(e, absent, up, &o) == DNS_RCODE_NXRRSET && !o.rrs,
              "value-dependent: a set the zone does not have: NXRRSET");
    TAP_CHECK(t, upd_run(e, several, up, &o) == DNS_RCODE_NOERROR && o.rrs,
              "several owners and types, interleaved, beside the other kinds");
    upd_done(&o);
    TAP_CHECK(t,
              upd_run(e, one_wrong, up, &o) == DNS_RCODE_NXRRSET && !o.rrs &&
                  strstr(o.why, "www.u.test. A"),
              "one set of several not as given: NXRRSET, naming it (%s)", o.why);
}

/* The zone u.test. with 900 TXT records at big.u.test. and prerequisites
 * naming them: the grouping holds at the size a request may reach. */
static void upd_many(struct tap *t, struct upd_env *e, struct zonefile *zf)
{
    FILE *fp = zonefile_open(zf);
    fprintf(fp, "$ORIGIN u.test.\n$TTL 300\n@ IN SOA ns1 h 10 3600 600 86400 60\n@ IN NS ns1\n"
                "ns1 IN A 192.0.2.1\n");
    for (int i = 0; i < 900; i++)
        fprintf(fp, "big IN TXT \"r%d\"\nh%d IN A 192.0.2.%d\n", i, i, i % 250 + 1);
    struct upd_env big = *e;
    big.z = zonefile_load(zf, fp, "u.test.");
    static char text[999][64];
    const char *pre[1000];
    for (int i = 0; i < 900; i++) /* backwards: not the zone's order */
        snprintf(text[i], sizeof(text[i]), "big.u.test. 0 IN TXT \"r%d\"", 899 - i);
    for (int i = 900; i < 999; i++)
        snprintf(text[i], sizeof(text[i]), "h%d.u.test. 0 IN A 192.0.2.%d", i - 900,
                 (i - 900) % 250 + 1);
    for (int i = 0; i < 999; i++)
        pre[i] = text[i];
    pre[999] = NULL;
    struct zone_update_out o;
    const char *up[] = {"www.u.test. 60 IN TXT \"v\"", NULL};
    TAP_CHECK(t, big.z && upd_run(&big, pre, up, &o) == DNS_RCODE_NOERROR && o.rrs,
              "999 prerequisites over 100 sets, all as the zone has them");
    upd_done(&o);
    snprintf(text[500], sizeof(text[500]), "big.u.test. 0 IN TXT \"r900\"");
    TAP_CHECK(t, big.z && upd_run(&big, pre, up, &o) == DNS_RCODE_NXRRSET,
              "one of 999 changed: NXRRSET");
    zone_free(big.z);
}

/* Meta and reserved types (RFC 6895 §3.1) are no data: TYPE0 passed every
 * rule's "types" (issue #53). ANY stays for deleting a name's sets. */
static void upd_types(struct tap *t, struct upd_env *e, const struct zone_update_policy *txt_only)
{
    struct zone_update_out o;
    const char *type0[] = {"_acme-challenge.u.test. 60 IN TYPE0 \\# 1 00", NULL};
    const char *type0_empty[] = {"_acme-challenge.u.test. 0 ANY TYPE0", NULL};
    const char *tsig[] = {"_acme-challenge.u.test. 0 NONE TYPE250 \\# 1 00", NULL};
    const char *maila[] = {"www.u.test. 0 ANY MAILA", NULL};
    const char *pre0[] = {"www.u.test. 0 ANY TYPE0", NULL};
    const char *txt[] = {"_acme-challenge.u.test. 60 IN TXT \"t\"", NULL};
    const char *del_name[] = {"www.u.test. 0 ANY ANY", NULL};
    struct upd_env acme = *e;
    acme.pol = txt_only;
    TAP_CHECK(t, upd_run(&acme, NULL, type0, &o) == DNS_RCODE_FORMERR && !o.rrs,
              "a TYPE0 addition under a TXT-only key: FORMERR");
    TAP_CHECK(t, upd_run(e, NULL, type0, &o) == DNS_RCODE_FORMERR && !o.rrs,
              "a TYPE0 addition under a rule for every type: FORMERR");
    TAP_CHECK(t, upd_run(&acme, NULL, type0_empty, &o) == DNS_RCODE_FORMERR,
              "deleting the TYPE0 set: FORMERR");
    TAP_CHECK(t, upd_run(e, NULL, tsig, &o) == DNS_RCODE_FORMERR, "deleting a TSIG record");
    TAP_CHECK(t, upd_run(e, NULL, maila, &o) == DNS_RCODE_FORMERR, "deleting the MAILA set");
    TAP_CHECK(t, upd_run(e, pre0, txt, &o) == DNS_RCODE_FORMERR,
              "a prerequisite on TYPE0: FORMERR (it read as any type before)");
    TAP_CHECK(t, upd_run(&acme, NULL, txt, &o) == DNS_RCODE_NOERROR && o.rrs,
              "the TXT-only key still adds its TXT");
    upd_done(&o);
    TAP_CHECK(t,
              upd_run(&acme, NULL, (const char *[]){"_acme-challenge.u.test. 0 ANY ANY", NULL},
                      &o) == DNS_RCODE_REFUSED,
              "ANY ANY (every set of a name) needs a rule without types");
    TAP_CHECK(t, upd_run(e, NULL, del_name, &o) == DNS_RCODE_NOERROR && o.rrs,
              "ANY ANY under a rule without types deletes the name");
    upd_done(&o);
    struct dns_name n;
    dns_name_from_str("_acme-challenge.u.test.", &n);
    const struct tsig_key *k = &e->kr.keys[0];
    TAP_CHECK(t,
              !zone_update_allowed(txt_only, k, n.wire, n.len, 0) &&
                  !zone_update_allowed(e->pol, k, n.wire, n.len, 0) &&
                  !zone_update_allowed(e->pol, k, n.wire, n.len, DNS_TYPE_TSIG) &&
                  !zone_update_allowed(e->pol, k, n.wire, n.len, 65535) &&
                  zone_update_allowed(e->pol, k, n.wire, n.len, DNS_TYPE_ANY) &&
                  zone_update_allowed(txt_only, k, NULL, 0, 0),
              "no rule allows TYPE0 at a name; the owner-less probe still answers");
}

/* The key's rules come before the prerequisites: a request the key may
 * not make is refused whatever its prerequisites cost or say. */
static void upd_rules_first(struct tap *t, struct upd_env *e,
                            const struct zone_update_policy *txt_only)
{
    struct zone_update_out o;
    const char *fails[] = {"t.u.test. 0 IN TXT \"zzz\"", NULL};
    const char *not_allowed[] = {"www.u.test. 60 IN A 192.0.2.7", NULL};
    struct upd_env acme = *e;
    acme.pol = txt_only;
    TAP_CHECK(t, upd_run(&acme, fails, not_allowed, &o) == DNS_RCODE_REFUSED,
              "a failing prerequisite and a record the key may not change: REFUSED");
}

/* A zone with a policy name (flagged as the loader flags them): no
 * update makes a DNAME or a delegation above it (issue #53: a DNAME at
 * h. took p.h.'s answers). */
static void upd_policy_covers(struct tap *t, struct upd_env *e, struct zonefile *zf)
{
    FILE *fp = zonefile_open(zf);
    fprintf(fp, "$ORIGIN u.test.\n$TTL 300\n@ IN SOA ns1 h 10 3600 600 86400 60\n@ IN NS ns1\n"
                "ns1 IN A 192.0.2.1\nother IN A 192.0.2.3\n");
    fclose(fp);
    struct dns_name pn;
    dns_name_from_str("p.h.u.test.", &pn);
    uint16_t flags = ZONE_NODE_POLICY_A;
    struct errlist errs;
    errlist_init(&errs);
    struct upd_env pe = *e;
    pe.z = zone_load_signed("u.test.", zf->path, zf->path, &pn, &flags, 1, NULL, &errs);
    errlist_free(&errs);
    unlink(zf->path);
    struct zone_update_out o;
    const char *dname_above[] = {"h.u.test. 60 IN DNAME attacker.example.", NULL};
    const char *dname_apex[] = {"u.test. 60 IN DNAME attacker.example.", NULL};
    const char *ns_above[] = {"h.u.test. 60 IN NS ns.attacker.example.", NULL};
    const char *at_it[] = {"p.h.u.test. 60 IN TXT \"x\"", NULL};
    const char *elsewhere[] = {"other.u.test. 60 IN DNAME elsewhere.example.",
                               "d.u.test. 60 IN NS ns.attacker.example.", NULL};
    const char *below_it[] = {"x.p.h.u.test. 60 IN TXT \"x\"", NULL};
    TAP_CHECK(t, pe.z && pe.z->n_policy_names == 1, "a zone with one policy name");
    TAP_CHECK(t,
              pe.z && upd_run(&pe, NULL, dname_above, &o) == DNS_RCODE_REFUSED &&
                  strstr(o.why, "h.u.test. DNAME: above the policy name p.h.u.test."),
              "a DNAME above a policy name: REFUSED (%s)", o.why);
    TAP_CHECK(t, pe.z && upd_run(&pe, NULL, dname_apex, &o) == DNS_RCODE_REFUSED,
              "a DNAME at the apex, above every name: REFUSED");
    TAP_CHECK(t,
              pe.z && upd_run(&pe, NULL, ns_above, &o) == DNS_RCODE_REFUSED &&
                  strstr(o.why, "above the policy name"),
              "a delegation above a policy name: REFUSED");
    TAP_CHECK(t, pe.z && upd_run(&pe, NULL, at_it, &o) == DNS_RCODE_REFUSED,
              "a record at the policy name: REFUSED");
    TAP_CHECK(t, pe.z && upd_run(&pe, NULL, elsewhere, &o) == DNS_RCODE_NOERROR && o.rrs,
              "a DNAME and a delegation elsewhere are fine");
    upd_done(&o);
    TAP_CHECK(t, pe.z && upd_run(&pe, NULL, below_it, &o) == DNS_RCODE_NOERROR && o.rrs,
              "a name below the policy name is not the policy name");
    upd_done(&o);
    zone_free(pe.z);
}

static void upd_write(struct tap *t, struct upd_env *e, struct zonefile *zf)
{
    struct zone_update_out o;
    const char *up[] = {"_acme-challenge.u.test. 60 IN TXT \"a b\" \"c;d\"", NULL};
    char why[256] = "", path[160];
    upd_run(e, NULL, up, &o);
    snprintf(path, sizeof(path), "%s/written", zf->dir);
    TAP_CHECK(t, o.rrs && zone_update_write(o.rrs, path, why, sizeof(why)), "written %s", why);
    struct errlist errs;
    errlist_init(&errs);
    struct zone *z = zone_load("u.test.", path, path, NULL, 0, &errs);
    TAP_CHECK(t, z && z->serial == 11 && z->n_records == e->z->n_records + 1,
              "the written file loads with the change (%zu errors)", errs.count);
    TAP_CHECK(t,
              zone_update_write(o.rrs, "/nonexistent-dir/x", why, sizeof(why)) == false &&
                  strstr(why, "cannot write"),
              "an unwritable place says why");
    errlist_free(&errs);
    zone_free(z);
    unlink(path);
    upd_done(&o);
}

int main(void)
{
    struct tap t = {0};
    struct zonefile zf;
    zonefile_init(&zf);
    struct upd_env e = {0};
    e.z = upd_zone(&zf);
    if (!e.z)
        return 1;
    e.kr.keys = calloc(1, sizeof(*e.kr.keys));
    e.kr.n = 1;
    e.kr.keys[0].id = strdup("k.");
    memcpy(e.kr.keys[0].name, "\1k", 3); /* "k." in wire form */
    e.kr.keys[0].name_len = 3;
    arena_init(&e.a);
    /* Rule 0: _acme-challenge and below, TXT; rule 1: the whole zone. */
    uint8_t names[1][255];
    uint8_t lens[1];
    struct dns_name n;
    dns_name_from_str("_acme-challenge.u.test.", &n);
    memcpy(names[0], n.wire, n.len);
    lens[0] = (uint8_t)n.len;
    struct zone_update_rule_params rp[2] = {
        {.key = "k.", .names = names, .name_lens = lens, .n_names = 1, .types = {16}, .n_types = 1},
        {.key = "k."}};
    struct zone_update_params p = {rp, 1};
    e.pol = zone_update_policy_build(&p, &e.kr, &e.a);
    upd_rules(&t, &e);
    const struct zone_update_policy *txt_only = e.pol;
    p.n = 2; /* the whole zone from here on */
    e.pol = zone_update_policy_build(&p, &e.kr, &e.a);
    upd_semantics(&t, &e);
    upd_prereqs(&t, &e);
    upd_value_sets(&t, &e);
    upd_many(&t, &e, &zf);
    upd_types(&t, &e, txt_only);
    upd_rules_first(&t, &e, txt_only);
    upd_policy_covers(&t, &e, &zf);
    upd_write(&t, &e, &zf);
    TAP_CHECK(&t, zone_update_allowed(e.pol, &e.kr.keys[0], NULL, 0, 0), "the key has rules");
    TAP_CHECK(&t,
              !zone_update_allowed(e.pol, &e.kr.keys[0], n.wire, n.len, DNS_TYPE_RRSIG) &&
                  !zone_update_allowed(e.pol, &e.kr.keys[0], n.wire, n.len, DNS_TYPE_DNSKEY),
              "signing's records are never allowed");
    arena_free(&e.a);
    free(e.kr.keys[0].id);
    free(e.kr.keys);
    zone_free(e.z);
    zonefile_done(&zf);
    return tap_done(&t);
}
