/*
 * Unit tests for zone selection in a snapshot (src/zone/snapshot.c) with
 * many zones. Up to SNAPSHOT_SCAN_ZONES (8) zones are scanned; above that
 * the origin hash table is probed once per suffix of the name. 20 nested
 * and sibling zones are added one at a time, and after every addition each
 * of a few hundred names is checked against a reference computed here by
 * brute force: the longest origin the name falls under, and for DS at a
 * zone apex the longest one above it (RFC 4035 §3.1.4.1). Then queries go
 * through query_answer: answers from the deepest zone, DS from the parent,
 * REFUSED outside every zone.
 */
#include <ldns/ldns.h>
#include <string.h>

#include "answer/query.h"
#include "dns/msg_build.h"
#include "tap.h"
#include "zonefile.h"

/* Nested (a gap between d.c.b.a.test. and deep.e.d.c.b.a.test.), siblings,
 * a zone below a sibling, and unrelated trees. */
static const char *const origins[] = {
    "test.",       "a.test.",   "b.a.test.",    "c.b.a.test.", "d.c.b.a.test.",
    "s00.test.",   "s01.test.", "s02.test.",    "s03.test.",   "s04.test.",
    "s05.test.",   "s06.test.", "s07.test.",    "s08.test.",   "s09.test.",
    "x.s03.test.", "example.",  "sub.example.", "zz.",         "deep.e.d.c.b.a.test.",
};
#define N_ZONES (sizeof(origins) / sizeof(origins[0]))

static struct dns_name origin_names[N_ZONES];

/* The index of the longest origin strictly above zone i; -1 if none. */
static int parent_of(size_t i)
{
    int best = -1;
    const struct dns_name *z = &origin_names[i];
    for (size_t k = 0; k < N_ZONES; k++) {
        const struct dns_name *p = &origin_names[k];
        if (p->count < z->count && dns_name_is_sub(z->wire, z->len, p->wire, p->len) &&
            (best < 0 || p->count > origin_names[best].count))
            best = (int)k;
    }
    return best;
}

/* Zone i: SOA, NS with an address, www with 192.0.2.i, and a delegation
 * with glue and a DS record for each zone directly below it. */
static struct zone *make_zone(struct zonefile *zf, size_t i)
{
    FILE *fp = zonefile_open(zf);
    fprintf(fp, "$ORIGIN %s\n$TTL 300\n@ SOA ns hostmaster 1 3600 600 86400 300\n", origins[i]);
    fprintf(fp, "@ NS ns\nns A 192.0.2.200\nwww A 192.0.2.%zu\n", i);
    for (size_t k = 0; k < N_ZONES; k++)
        if (parent_of(k) == (int)i)
            fprintf(fp, "%s NS ns.%s\nns.%s A 192.0.2.201\n%s DS 12345 13 2 %064zx\n", origins[k],
                    origins[k], origins[k], origins[k], k);
    struct zone *z = zonefile_load(zf, fp, origins[i]);
    if (!z)
        exit(1);
    return z;
}

/* The zone that should answer qname/qtype among the first n zones. */
static int expected_zone(const struct dns_name *q, uint16_t qtype, size_t n)
{
    int best = -1, parent = -1;
    for (size_t k = 0; k < n; k++) {
        const struct dns_name *o = &origin_names[k];
        if (!dns_name_is_sub(q->wire, q->len, o->wire, o->len))
            continue;
        if (best < 0 || o->count > origin_names[best].count) {
            if (best >= 0)
                parent = best;
            best = (int)k;
        } else if (parent < 0 || o->count > origin_names[parent].count)
            parent = (int)k;
    }
    if (best >= 0 && parent >= 0 && qtype == DNS_TYPE_DS && origin_names[best].count == q->count)
        return parent;
    return best;
}

#define MAX_NAMES 256
static struct dns_name names[MAX_NAMES];
static size_t n_names;

static void add_name(const char *s)
{
    if (n_names < MAX_NAMES && dns_name_from_str(s, &names[n_names]))
        n_names++;
}

/* Every origin, one and two labels below it and a near miss beside it,
 * plus names outside every zone. */
static void make_names(void)
{
    char buf[300];
    for (size_t i = 0; i < N_ZONES; i++) {
        add_name(origins[i]);
        snprintf(buf, sizeof(buf), "www.%s", origins[i]);
        add_name(buf);
        snprintf(buf, sizeof(buf), "a.b.%s", origins[i]);
        add_name(buf);
        snprintf(buf, sizeof(buf), "x%s", origins[i]);
        add_name(buf);
    }
    static const char *const others[] = {".",
                                         "org.",
                                         "est.",
                                         "s0.test.",
                                         "s10.test.",
                                         "e.d.c.b.a.test.",
                                         "q.e.d.c.b.a.test.",
                                         "example.org.",
                                         "ub.example.",
                                         "zz.zz."};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        add_name(others[i]);
}

/* Adds the zones one by one; after each, every name and type must select
 * the reference zone. Returns the snapshot with all of them. */
static struct snapshot *test_growing(struct tap *t, struct zonefile *zf)
{
    static const uint16_t types[] = {DNS_TYPE_A, DNS_TYPE_DS, DNS_TYPE_SOA};
    struct snapshot *s = snapshot_new(1);
    for (size_t n = 1; n <= N_ZONES; n++) {
        bool added = snapshot_add_zone(s, make_zone(zf, n - 1));
        unsigned bad = 0, checked = 0;
        for (size_t i = 0; i < n_names; i++)
            for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
                const struct zone *z = snapshot_find_zone(s, &names[i], types[k]);
                int want = expected_zone(&names[i], types[k], n);
                const struct dns_name *o = want >= 0 ? &origin_names[want] : NULL;
                bool ok = o ? z && dns_name_equal(z->origin, z->origin_len, o->wire, o->len) : !z;
                if (!ok) {
                    char qs[300];
                    dns_name_to_str(names[i].wire, qs, sizeof(qs));
                    printf("# %zu zones: %s type %u gave %s, expected %s\n", n, qs, types[k],
                           z ? z->origin_str : "none", want >= 0 ? origins[want] : "none");
                }
                bad += !ok;
                checked++;
            }
        TAP_CHECK(t, added && bad == 0, "%zu zones (%s): %u of %u selections as expected", n,
                  n <= 8 ? "scan" : "hash table", checked - bad, checked);
    }
    return s;
}

static ldns_pkt *ask(const struct snapshot *s, const char *name, uint16_t qtype)
{
    struct dns_name qn;
    uint8_t q[512], out[65535];
    if (!dns_name_from_str(name, &qn))
        return NULL;
    struct dns_msg_query mq = {.id = 1, .qname = &qn, .qtype = qtype, .qclass = DNS_CLASS_IN};
    size_t qlen = dns_msg_build_query(&mq, q, sizeof(q));
    struct query_limits lim = {.udp_max = 1232};
    uint64_t rng = 1;
    struct query_client qc = {.rng = &rng};
    size_t n = query_answer(s, &lim, &qc, q, qlen, out, false);
    ldns_pkt *p = NULL;
    if (n == 0 || ldns_wire2pkt(&p, out, n) != LDNS_STATUS_OK)
        return NULL;
    return p;
}

/* The owner of the first record of a section, as text ("" if none). */
static void first_owner(ldns_rr_list *l, char *buf, size_t len)
{
    buf[0] = '\0';
    if (ldns_rr_list_rr_count(l) == 0)
        return;
    char *o = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(l, 0)));
    snprintf(buf, len, "%s", o ? o : "");
    free(o);
}

static void test_answers(struct tap *t, const struct snapshot *s)
{
    char own[300];
    ldns_pkt *r = ask(s, "www.s07.test.", DNS_TYPE_A);
    char *a = r && ldns_pkt_ancount(r) == 1
                  ? ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(r), 0), 0))
                  : NULL;
    TAP_CHECK(t, r && ldns_pkt_aa(r) && a && strcmp(a, "192.0.2.12") == 0,
              "www.s07.test. from s07.test. itself, not a referral from test. (%s)", a ? a : "-");
    free(a);
    ldns_pkt_free(r);
    r = ask(s, "nx.c.b.a.test.", DNS_TYPE_A);
    if (r)
        first_owner(ldns_pkt_authority(r), own, sizeof(own));
    TAP_CHECK(t,
              r && ldns_pkt_get_rcode(r) == LDNS_RCODE_NXDOMAIN && strcmp(own, "c.b.a.test.") == 0,
              "NXDOMAIN under the deepest zone, its SOA");
    ldns_pkt_free(r);
    r = ask(s, "c.b.a.test.", DNS_TYPE_DS);
    if (r)
        first_owner(ldns_pkt_answer(r), own, sizeof(own));
    TAP_CHECK(t, r && ldns_pkt_aa(r) && ldns_pkt_ancount(r) == 1 && strcmp(own, "c.b.a.test.") == 0,
              "DS at the apex of c.b.a.test. answered by b.a.test.");
    ldns_pkt_free(r);
    r = ask(s, "deep.e.d.c.b.a.test.", DNS_TYPE_DS);
    TAP_CHECK(t, r && ldns_pkt_aa(r) && ldns_pkt_ancount(r) == 1,
              "DS of a zone two labels below its parent zone, from the parent");
    ldns_pkt_free(r);
    r = ask(s, "c.b.a.test.", DNS_TYPE_SOA);
    if (r)
        first_owner(ldns_pkt_answer(r), own, sizeof(own));
    TAP_CHECK(t, r && ldns_pkt_aa(r) && strcmp(own, "c.b.a.test.") == 0,
              "SOA at an apex: the zone's own");
    ldns_pkt_free(r);
    r = ask(s, "test.", DNS_TYPE_DS);
    TAP_CHECK(t,
              r && ldns_pkt_aa(r) && ldns_pkt_get_rcode(r) == LDNS_RCODE_NOERROR &&
                  ldns_pkt_ancount(r) == 0,
              "DS at a top zone without a served parent: NODATA from the zone itself");
    ldns_pkt_free(r);
    static const char *const outside[] = {"www.example.org.", "xtest.", "org.", "."};
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
        r = ask(s, outside[i], DNS_TYPE_A);
        TAP_CHECK(t,
                  r && ldns_pkt_get_rcode(r) == LDNS_RCODE_REFUSED && !ldns_pkt_aa(r) &&
                      ldns_pkt_ancount(r) == 0,
                  "%s: REFUSED without AA", outside[i]);
        ldns_pkt_free(r);
    }
}

int main(void)
{
    struct tap t = {0, 0};
    struct zonefile zf;
    for (size_t i = 0; i < N_ZONES; i++)
        if (!dns_name_from_str(origins[i], &origin_names[i]))
            return 1;
    make_names();
    zonefile_init(&zf);
    struct snapshot *s = test_growing(&t, &zf);
    zonefile_done(&zf);
    test_answers(&t, s);
    snapshot_free(s);
    return tap_done(&t);
}
