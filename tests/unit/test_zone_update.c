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
                "www IN A 192.0.2.2\nalias IN CNAME www\nmail IN MX 10 mx.u.test.\n");
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
    p.n = 2; /* the whole zone from here on */
    e.pol = zone_update_policy_build(&p, &e.kr, &e.a);
    upd_semantics(&t, &e);
    upd_prereqs(&t, &e);
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
