/* Unit tests for src/answer (lookup + encode through query_answer), checked
 * by parsing every reply with ldns. */
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include "answer/query.h"
#include "common/errlist.h"
#include "tap.h"
#include "zone/zone_load.h"
#include "zonefile.h"

static const char *srcdir(void)
{
    const char *s = getenv("SRCDIR");
    return s ? s : ".";
}

static struct serve_set *load(void)
{
    struct errlist e;
    char p1[4096], p2[4096];
    errlist_init(&e);
    snprintf(p1, sizeof(p1), "%s/tests/data/example.com.zone", srcdir());
    snprintf(p2, sizeof(p2), "%s/tests/data/sub.example.com.zone", srcdir());
    struct snapshot *s = snapshot_new();
    struct zone *a = zone_load("example.com.", p1, p1, NULL, 0, &e);
    struct zone *b = zone_load("sub.example.com.", p2, p2, NULL, 0, &e);
    for (size_t i = 0; i < e.count; i++)
        printf("# %s\n", e.msgs[i]);
    if (!a || !b)
        exit(1);
    snapshot_add_zone(s, a);
    snapshot_add_zone(s, b);
    errlist_free(&e);
    struct serve_limits lim = {.edns_udp_max = 1232};
    return serve_set_new(s, NULL, 1, &lim);
}

struct ask_opts {
    bool edns;
    bool tcp;
    uint16_t qclass;
};

static ldns_pkt *ask_opts(const struct serve_set *s, const char *name, ldns_rr_type type,
                          struct ask_opts o)
{
    ldns_pkt *q = ldns_pkt_query_new(ldns_dname_new_frm_str(name), type,
                                     o.qclass ? o.qclass : LDNS_RR_CLASS_IN, 0);
    ldns_pkt_set_id(q, 4242);
    if (o.edns)
        ldns_pkt_set_edns_udp_size(q, 1232);
    uint8_t *wire = NULL, out[65535];
    size_t len = 0;
    ldns_pkt2wire(&wire, q, &len);
    ldns_pkt_free(q);
    static uint64_t rng = 42;
    struct query_client qc = {.addr = NULL, .rng = &rng};
    size_t n = query_answer(s, &qc, wire, len, out, o.tcp);
    free(wire);
    ldns_pkt *r = NULL;
    if (n == 0 || ldns_wire2pkt(&r, out, n) != LDNS_STATUS_OK)
        return NULL;
    return r;
}

static ldns_pkt *ask(const struct serve_set *s, const char *name, ldns_rr_type type)
{
    struct ask_opts o = {false, false, 0};
    return ask_opts(s, name, type, o);
}

static size_t count(ldns_pkt *p, int sec)
{
    return ldns_rr_list_rr_count(sec == 0   ? ldns_pkt_answer(p)
                                 : sec == 1 ? ldns_pkt_authority(p)
                                            : ldns_pkt_additional(p));
}

static ldns_rr_type rr_type(ldns_pkt *p, int sec, size_t i)
{
    ldns_rr_list *l = sec == 0   ? ldns_pkt_answer(p)
                      : sec == 1 ? ldns_pkt_authority(p)
                                 : ldns_pkt_additional(p);
    return i < ldns_rr_list_rr_count(l) ? ldns_rr_get_type(ldns_rr_list_rr(l, i)) : 0;
}

static void test_basic(struct tap *t, const struct serve_set *s)
{
    ldns_pkt *r = ask(s, "www.example.com.", LDNS_RR_TYPE_A);
    TAP_CHECK(t,
              r && ldns_pkt_get_rcode(r) == LDNS_RCODE_NOERROR && ldns_pkt_aa(r) &&
                  count(r, 0) == 2 && ldns_pkt_id(r) == 4242 && ldns_pkt_qr(r),
              "A answer: NOERROR, AA, two records");
    ldns_pkt_free(r);
    r = ask(s, "nope.example.com.", LDNS_RR_TYPE_A);
    TAP_CHECK(t,
              r && ldns_pkt_get_rcode(r) == LDNS_RCODE_NXDOMAIN && ldns_pkt_aa(r) &&
                  count(r, 1) == 1 && rr_type(r, 1, 0) == LDNS_RR_TYPE_SOA &&
                  ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_authority(r), 0)) == 300,
              "NXDOMAIN with SOA, TTL 300");
    ldns_pkt_free(r);
    r = ask(s, "www.example.com.", LDNS_RR_TYPE_MX);
    TAP_CHECK(t,
              r && ldns_pkt_get_rcode(r) == LDNS_RCODE_NOERROR && count(r, 0) == 0 &&
                  rr_type(r, 1, 0) == LDNS_RR_TYPE_SOA,
              "NODATA with SOA");
    ldns_pkt_free(r);
    r = ask(s, "c.ent.example.com.", LDNS_RR_TYPE_A);
    TAP_CHECK(t, r && ldns_pkt_get_rcode(r) == LDNS_RCODE_NOERROR && count(r, 0) == 0,
              "empty non-terminal: NODATA");
    ldns_pkt_free(r);
    r = ask(s, "x.c.ent.example.com.", LDNS_RR_TYPE_A);
    TAP_CHECK(t, r && ldns_pkt_get_rcode(r) == LDNS_RCODE_NXDOMAIN, "below an ENT: NXDOMAIN");
    ldns_pkt_free(r);
    r = ask(s, "www.example.org.", LDNS_RR_TYPE_A);
    TAP_CHECK(t, r && ldns_pkt_get_rcode(r) == LDNS_RCODE_REFUSED && !ldns_pkt_aa(r),
              "outside our zones: REFUSED without AA");
    ldns_pkt_free(r);
    r = ask(s, "example.com.", LDNS_RR_TYPE_MX);
    TAP_CHECK(t, r && count(r, 0) == 2 && count(r, 2) == 1 && rr_type(r, 2, 0) == LDNS_RR_TYPE_A,
              "MX with in-zone target address in additional");
    ldns_pkt_free(r);
    r = ask(s, "_sip._tcp.example.com.", LDNS_RR_TYPE_SRV);
    TAP_CHECK(t, r && count(r, 0) == 1 && count(r, 2) == 1, "SRV with target address");
    ldns_pkt_free(r);
}

static void test_cname(struct tap *t, const struct serve_set *s)
{
    ldns_pkt *r = ask(s, "chain1.example.com.", LDNS_RR_TYPE_A);
    TAP_CHECK(t,
              r && ldns_pkt_get_rcode(r) == LDNS_RCODE_NOERROR && count(r, 0) == 4 &&
                  rr_type(r, 0, 0) == LDNS_RR_TYPE_CNAME && rr_type(r, 0, 2) == LDNS_RR_TYPE_A,
              "CNAME chain followed to the addresses");
    ldns_pkt_free(r);
    r = ask(s, "dangling.example.com.", LDNS_RR_TYPE_A);
    TAP_CHECK(
        t, r && ldns_pkt_get_rcode(r) == LDNS_RCODE_NXDOMAIN && count(r, 0) == 1 && ldns_pkt_aa(r),
        "CNAME to a missing name: NXDOMAIN with the CNAME");
    ldns_pkt_free(r);
    r = ask(s, "outside.example.com.", LDNS_RR_TYPE_A);
    TAP_CHECK(t, r && ldns_pkt_get_rcode(r) == LDNS_RCODE_NOERROR && count(r, 0) == 1,
              "CNAME leaving our zones: just the CNAME");
    ldns_pkt_free(r);
    r = ask(s, "loop1.example.com.", LDNS_RR_TYPE_A);
    TAP_CHECK(t, r && count(r, 0) == 2, "CNAME loop stops (%zu records)", r ? count(r, 0) : 0);
    ldns_pkt_free(r);
    r = ask(s, "alias.example.com.", LDNS_RR_TYPE_CNAME);
    TAP_CHECK(t, r && count(r, 0) == 1, "qtype CNAME is not followed");
    ldns_pkt_free(r);
}

static void test_wildcard(struct tap *t, const struct serve_set *s)
{
    ldns_pkt *r = ask(s, "foo.wild.example.com.", LDNS_RR_TYPE_A);
    TAP_CHECK(t, r && count(r, 0) == 1 && ldns_pkt_aa(r), "wildcard synthesises A");
    if (r && count(r, 0) == 1) {
        char *o = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(r), 0)));
        TAP_CHECK(t, strcmp(o, "foo.wild.example.com.") == 0, "owner is the query name (%s)", o);
        free(o);
    }
    ldns_pkt_free(r);
    r = ask(s, "a.b.wild.example.com.", LDNS_RR_TYPE_A);
    TAP_CHECK(t, r && count(r, 0) == 1, "wildcard matches several labels deep");
    ldns_pkt_free(r);
    r = ask(s, "foo.wild.example.com.", LDNS_RR_TYPE_MX);
    TAP_CHECK(
        t, r && ldns_pkt_get_rcode(r) == LDNS_RCODE_NOERROR && count(r, 0) == 0 && count(r, 1) == 1,
        "wildcard without the type: NODATA");
    ldns_pkt_free(r);
    r = ask(s, "x.wcname.example.com.", LDNS_RR_TYPE_A);
    TAP_CHECK(t, r && count(r, 0) == 3 && rr_type(r, 0, 0) == LDNS_RR_TYPE_CNAME,
              "wildcard CNAME followed");
    ldns_pkt_free(r);
    r = ask(s, "wild.example.com.", LDNS_RR_TYPE_A);
    TAP_CHECK(t, r && ldns_pkt_get_rcode(r) == LDNS_RCODE_NOERROR && count(r, 0) == 0,
              "the wildcard's parent itself is an ENT: NODATA");
    ldns_pkt_free(r);
}

static void test_delegation(struct tap *t, const struct serve_set *s)
{
    ldns_pkt *r = ask(s, "www.deleg.example.com.", LDNS_RR_TYPE_A);
    TAP_CHECK(t,
              r && ldns_pkt_get_rcode(r) == LDNS_RCODE_NOERROR && !ldns_pkt_aa(r) &&
                  count(r, 0) == 0 && count(r, 1) == 2 && count(r, 2) == 2,
              "referral: no AA, NS in authority, glue A+AAAA in additional");
    ldns_pkt_free(r);
    r = ask(s, "sub.example.com.", LDNS_RR_TYPE_DS);
    TAP_CHECK(t, r && ldns_pkt_aa(r) && count(r, 0) == 1 && rr_type(r, 0, 0) == LDNS_RR_TYPE_DS,
              "DS at the cut answered by the parent");
    ldns_pkt_free(r);
    r = ask(s, "deleg.example.com.", LDNS_RR_TYPE_DS);
    TAP_CHECK(t, r && ldns_pkt_aa(r) && count(r, 0) == 0 && rr_type(r, 1, 0) == LDNS_RR_TYPE_SOA,
              "DS absent at a cut: parent NODATA");
    ldns_pkt_free(r);
    r = ask(s, "www.sub.example.com.", LDNS_RR_TYPE_A);
    TAP_CHECK(t, r && ldns_pkt_aa(r) && count(r, 0) == 1, "child zone served authoritatively");
    ldns_pkt_free(r);
    r = ask(s, "sub.example.com.", LDNS_RR_TYPE_SOA);
    TAP_CHECK(t, r && ldns_pkt_aa(r) && count(r, 0) == 1, "child apex SOA from the child");
    ldns_pkt_free(r);
}

static void test_meta(struct tap *t, const struct serve_set *s)
{
    ldns_pkt *r = ask(s, "example.com.", LDNS_RR_TYPE_ANY);
    TAP_CHECK(t, r && count(r, 0) == 2 && rr_type(r, 0, 0) == rr_type(r, 0, 1),
              "ANY over UDP: one RRset (RFC 8482)");
    ldns_pkt_free(r);
    struct ask_opts tcp = {false, true, 0};
    r = ask_opts(s, "example.com.", LDNS_RR_TYPE_ANY, tcp);
    TAP_CHECK(t, r && count(r, 0) == 5, "ANY over TCP: every RRset (%zu)", r ? count(r, 0) : 0);
    ldns_pkt_free(r);
    r = ask(s, "example.com.", LDNS_RR_TYPE_AXFR);
    TAP_CHECK(t, r && ldns_pkt_get_rcode(r) == LDNS_RCODE_NOTIMPL, "AXFR over UDP: NOTIMP");
    ldns_pkt_free(r);
    r = ask_opts(s, "example.com.", LDNS_RR_TYPE_AXFR, tcp);
    TAP_CHECK(t, r && ldns_pkt_get_rcode(r) == LDNS_RCODE_REFUSED, "AXFR over TCP: REFUSED");
    ldns_pkt_free(r);
    /* IXFR may use UDP (RFC 1995 §2): answered as over TCP, as NSD and Knot do. */
    r = ask(s, "example.com.", LDNS_RR_TYPE_IXFR);
    TAP_CHECK(t, r && ldns_pkt_get_rcode(r) == LDNS_RCODE_REFUSED,
              "IXFR of our apex over UDP: REFUSED");
    ldns_pkt_free(r);
    r = ask(s, "www.example.com.", LDNS_RR_TYPE_IXFR);
    TAP_CHECK(t, r && ldns_pkt_get_rcode(r) == LDNS_RCODE_NOTAUTH,
              "IXFR of a name that is no apex over UDP: NOTAUTH");
    ldns_pkt_free(r);
    r = ask(s, "www.example.com.", LDNS_RR_TYPE_AXFR);
    TAP_CHECK(t, r && ldns_pkt_get_rcode(r) == LDNS_RCODE_NOTIMPL,
              "AXFR of any name over UDP: NOTIMP");
    ldns_pkt_free(r);
    struct ask_opts ch = {false, false, LDNS_RR_CLASS_CH};
    r = ask_opts(s, "example.com.", LDNS_RR_TYPE_A, ch);
    TAP_CHECK(t, r && ldns_pkt_get_rcode(r) == LDNS_RCODE_REFUSED, "class CH refused");
    ldns_pkt_free(r);
    r = ask(s, "big.example.com.", LDNS_RR_TYPE_TXT);
    TAP_CHECK(t, r && ldns_pkt_tc(r) && count(r, 0) == 0, "512-octet UDP limit: TC");
    ldns_pkt_free(r);
    struct ask_opts edns = {true, false, 0};
    r = ask_opts(s, "big.example.com.", LDNS_RR_TYPE_TXT, edns);
    TAP_CHECK(t, r && !ldns_pkt_tc(r) && count(r, 0) == 8 && ldns_pkt_edns(r),
              "EDNS 1232: fits, OPT echoed");
    ldns_pkt_free(r);
    r = ask_opts(s, "big.example.com.", LDNS_RR_TYPE_TXT, tcp);
    TAP_CHECK(t, r && !ldns_pkt_tc(r) && count(r, 0) == 8, "TCP: whole answer");
    ldns_pkt_free(r);
    r = ask(s, "www.example.com.", LDNS_RR_TYPE_A);
    TAP_CHECK(t, r && !ldns_pkt_edns(r), "no OPT in reply without OPT in query");
    ldns_pkt_free(r);
    r = ask(s, "svc.example.com.", (ldns_rr_type)65);
    TAP_CHECK(t, r && count(r, 0) == 1, "HTTPS record served");
    ldns_pkt_free(r);
}

/* query_prefetch reads the question name as the answer path will: the
 * hint's zone and hash must lead zone_find_node to the question's node. */
static void prefetch(const struct serve_set *s, const char *name, struct query_hint *h)
{
    ldns_pkt *q =
        ldns_pkt_query_new(ldns_dname_new_frm_str(name), LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0);
    uint8_t *wire = NULL;
    size_t len = 0;
    ldns_pkt2wire(&wire, q, &len);
    ldns_pkt_free(q);
    struct query_parsed p;
    query_parse(wire, len, &p);
    query_prefetch(s, &p, h);
    query_prefetch_node(h);
    free(wire);
}

static void test_prefetch(struct tap *t, const struct serve_set *s)
{
    struct query_hint h;
    struct dns_name n;
    prefetch(s, "WWW.Example.COM.", &h);
    dns_name_from_str("www.example.com.", &n);
    TAP_CHECK(t,
              h.zone && strcmp(h.zone->origin_str, "example.com.") == 0 &&
                  zone_find_node(h.zone, n.wire, n.len, h.hash) != NULL,
              "prefetch: mixed-case name hashes to its node");
    prefetch(s, "www.sub.example.com.", &h);
    TAP_CHECK(t, h.zone && strcmp(h.zone->origin_str, "sub.example.com.") == 0,
              "prefetch: the closest zone");
    prefetch(s, "example.com.", &h);
    TAP_CHECK(t, h.zone == NULL, "prefetch: nothing at the apex (no table probe)");
    prefetch(s, "www.example.org.", &h);
    TAP_CHECK(t, h.zone == NULL, "prefetch: nothing outside our zones");
    static const uint8_t cut[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w'};
    struct query_parsed p;
    h.zone = (const struct zone *)s; /* must be reset */
    query_parse(cut, sizeof(cut), &p);
    query_prefetch(s, &p, &h);
    TAP_CHECK(t, h.zone == NULL, "prefetch: a truncated name is left alone");
    query_parse(cut, 12, &p);
    query_prefetch(s, &p, &h);
    TAP_CHECK(t, h.zone == NULL, "prefetch: no question");
}

/* UDP answers queries parsed ahead (query_parse, query_prefetch keeping
 * the question's zone, query_answer_parsed): the same bytes as
 * query_answer for a hit, a CNAME chain, NXDOMAIN, a child zone, the apex,
 * DS at a cut (the parent's zone, not the child's), a referral, a name outside our
 * zones, and a broken question. */
static void test_parsed_same(struct tap *t, const struct serve_set *s)
{
    static const struct {
        const char *name;
        ldns_rr_type type;
    } qs[] = {{"www.example.com.", LDNS_RR_TYPE_A},      {"Alias.Example.com.", LDNS_RR_TYPE_A},
              {"nothere.example.com.", LDNS_RR_TYPE_A},  {"www.sub.example.com.", LDNS_RR_TYPE_A},
              {"example.com.", LDNS_RR_TYPE_A},          {"sub.example.com.", LDNS_RR_TYPE_DS},
              {"sub.example.com.", LDNS_RR_TYPE_SOA},    {"www.example.org.", LDNS_RR_TYPE_A},
              {"www.deleg.example.com.", LDNS_RR_TYPE_A}};
    uint8_t a[65535], b[65535];
    bool same = true;
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        ldns_pkt *q =
            ldns_pkt_query_new(ldns_dname_new_frm_str(qs[i].name), qs[i].type, LDNS_RR_CLASS_IN, 0);
        uint8_t *wire = NULL;
        size_t len = 0;
        ldns_pkt_set_edns_udp_size(q, 1232);
        ldns_pkt2wire(&wire, q, &len);
        ldns_pkt_free(q);
        uint64_t rng1 = 7, rng2 = 7;
        struct query_client c1 = {.rng = &rng1}, c2 = {.rng = &rng2};
        struct query_parsed p;
        struct query_hint h;
        size_t na = query_answer(s, &c1, wire, len, a, false);
        query_parse(wire, len, &p);
        query_prefetch(s, &p, &h);
        size_t nb = query_answer_parsed(s, &c2, wire, len, &p, b, false);
        same = same && na > 0 && na == nb && memcmp(a, b, na) == 0 && c1.rcode == c2.rcode;
        free(wire);
    }
    static const uint8_t cut[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w'};
    uint64_t rng = 7;
    struct query_client c = {.rng = &rng};
    struct query_parsed p;
    size_t na = query_answer(s, &c, cut, sizeof(cut), a, false);
    query_parse(cut, sizeof(cut), &p);
    size_t nb = query_answer_parsed(s, &c, cut, sizeof(cut), &p, b, false);
    same = same && na > 0 && na == nb && memcmp(a, b, na) == 0;
    TAP_CHECK(t, same, "a query parsed ahead gets the same reply as query_answer's");
}

/* Counts the records of type in section sec. */
static size_t count_type(ldns_pkt *p, int sec, ldns_rr_type type)
{
    size_t n = 0;
    for (size_t i = 0; i < count(p, sec); i++)
        n += rr_type(p, sec, i) == type;
    return n;
}

/* Owner names of the CNAMEs in the answer, "owner>owner>" (lowercase). */
static void cname_owners(ldns_pkt *p, char *buf, size_t size)
{
    buf[0] = 0;
    for (size_t i = 0; i < count(p, 0); i++) {
        ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), i);
        char *o = ldns_rdf2str(ldns_rr_owner(rr));
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && o)
            snprintf(buf + strlen(buf), size - strlen(buf), "%s>", o);
        free(o);
    }
}

/* Loops: a CNAME to itself; a wildcard CNAME whose target matches the same
 * wildcard, which NSD and Knot answer with the CNAME at the question and
 * the one synthesized at the target (gtmd stopped after the first). */
static void test_chain_loops(struct tap *t, const struct serve_set *s)
{
    char got[512];
    ldns_pkt *r = ask(s, "x.wl.chain.test.", LDNS_RR_TYPE_A);
    if (r)
        cname_owners(r, got, sizeof(got));
    TAP_CHECK(t, r && strcmp(got, "x.wl.chain.test.>a.wl.chain.test.>") == 0,
              "wildcard CNAME loop: the question's CNAME, then the target's (%s)", r ? got : "");
    ldns_pkt_free(r);
    r = ask(s, "a.wl.chain.test.", LDNS_RR_TYPE_A);
    if (r)
        cname_owners(r, got, sizeof(got));
    TAP_CHECK(t, r && strcmp(got, "a.wl.chain.test.>") == 0,
              "wildcard CNAME to the question itself: one CNAME (%s)", r ? got : "");
    ldns_pkt_free(r);
    r = ask(s, "self.chain.test.", LDNS_RR_TYPE_A);
    TAP_CHECK(t, r && ldns_pkt_get_rcode(r) == LDNS_RCODE_NOERROR && count(r, 0) == 1,
              "CNAME to itself: one CNAME, NOERROR");
    ldns_pkt_free(r);
}

/* CNAME chains at gtmd's limit (ANSWER_MAX_CHAIN hops): c0 -> ... -> c11
 * -> www is 12 CNAMEs, d0 -> ... -> d12 -> www is 13. The generated-zone
 * differential test found a chain of exactly 12 answered without its end. */
static void test_chains(struct tap *t)
{
    struct zonefile zf;
    zonefile_init(&zf);
    FILE *fp = zonefile_open(&zf);
    fprintf(fp, "$ORIGIN chain.test.\n$TTL 300\n@ SOA ns hostmaster 1 3600 600 86400 300\n"
                "@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.80\n"
                "*.wl CNAME a.wl\nself CNAME self\n");
    for (int i = 0; i < 12; i++)
        fprintf(fp, i == 11 ? "c%d CNAME www\n" : "c%d CNAME c%d\n", i, i + 1);
    for (int i = 0; i < 13; i++)
        fprintf(fp, i == 12 ? "d%d CNAME www\n" : "d%d CNAME d%d\n", i, i + 1);
    struct zone *z = zonefile_load(&zf, fp, "chain.test.");
    zonefile_done(&zf);
    if (!z)
        exit(1);
    struct snapshot *snap = snapshot_new();
    snapshot_add_zone(snap, z);
    struct serve_limits lim = {.edns_udp_max = 1232};
    struct serve_set *s = serve_set_new(snap, NULL, 1, &lim);
    struct ask_opts tcp = {false, true, 0};
    ldns_pkt *r = ask_opts(s, "c0.chain.test.", LDNS_RR_TYPE_A, tcp);
    TAP_CHECK(
        t, r && count_type(r, 0, LDNS_RR_TYPE_CNAME) == 12 && count_type(r, 0, LDNS_RR_TYPE_A) == 1,
        "a chain of 12 CNAMEs: every CNAME and the A at its end");
    ldns_pkt_free(r);
    r = ask_opts(s, "c0.chain.test.", LDNS_RR_TYPE_MX, tcp);
    TAP_CHECK(t,
              r && count_type(r, 0, LDNS_RR_TYPE_CNAME) == 12 &&
                  count_type(r, 1, LDNS_RR_TYPE_SOA) == 1,
              "a chain of 12 CNAMEs ending in NODATA: the SOA");
    ldns_pkt_free(r);
    r = ask_opts(s, "d0.chain.test.", LDNS_RR_TYPE_A, tcp);
    TAP_CHECK(t,
              r && ldns_pkt_get_rcode(r) == LDNS_RCODE_NOERROR &&
                  count_type(r, 0, LDNS_RR_TYPE_CNAME) == 13 &&
                  count_type(r, 0, LDNS_RR_TYPE_A) == 0,
              "a chain of 13: 12 hops followed, the 13th CNAME given, not followed");
    ldns_pkt_free(r);
    test_chain_loops(t, s);
    serve_set_free(s);
}

int main(void)
{
    struct tap t = {0, 0};
    struct serve_set *s = load();
    test_basic(&t, s);
    test_cname(&t, s);
    test_wildcard(&t, s);
    test_delegation(&t, s);
    test_meta(&t, s);
    test_prefetch(&t, s);
    test_parsed_same(&t, s);
    serve_set_free(s);
    test_chains(&t);
    return tap_done(&t);
}
