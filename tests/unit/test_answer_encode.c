/*
 * Unit tests for the encoder's limits (src/answer/encode.c) through
 * query_answer over TCP: name compression around offset 0x4000 (a
 * compression pointer holds 14 bits) and replies close to the 64 KiB TCP
 * limit. Each reply is walked record by record with the project's parser
 * (dns_name_parse follows pointers strictly backwards) and decoded again
 * with ldns.
 *
 * The zone: the SRV RRset at _s._tcp.big.test. has N records whose targets
 * h000.PAD.PAD.big.test., h001... (137 octets each, written uncompressed in
 * SRV data, RFC 2782) all have two A records, which the additional section
 * carries (up to 47 RRsets). Their owners are first written in the
 * additional section, after the SRV records, so N moves them across 0x4000.
 */
#include <ldns/ldns.h>
#include <string.h>

#include "answer/lookup.h"
#include "answer/query.h"
#include "dns/msg_build.h"
#include "serve/serve_set.h"
#include "tap.h"
#include "zonefile.h"

#define PAD "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" /* 60 */
#define MAX_RRS 1024

static struct serve_set *srv_snapshot(struct zonefile *zf, unsigned n)
{
    FILE *fp = zonefile_open(zf);
    fprintf(fp, "$ORIGIN big.test.\n$TTL 300\n"
                "@ SOA ns hostmaster 1 3600 600 86400 300\n@ NS ns\nns A 192.0.2.1\n");
    for (unsigned i = 0; i < n; i++) {
        fprintf(fp, "_s._tcp SRV 0 %u 443 h%03u." PAD "." PAD "\n", i, i);
        fprintf(fp, "h%03u." PAD "." PAD " A 198.51.%u.%u\n", i, i / 250, i % 250);
        fprintf(fp, "h%03u." PAD "." PAD " A 203.0.%u.%u\n", i, i / 250, i % 250);
    }
    struct zone *z = zonefile_load(zf, fp, "big.test.");
    if (!z)
        exit(1);
    struct snapshot *s = snapshot_new();
    snapshot_add_zone(s, z);
    struct serve_limits lim = {.edns_udp_max = 1232};
    return serve_set_new(s, NULL, 1, &lim);
}

/* Asks _s._tcp.big.test./SRV over TCP; returns the reply length. */
static size_t ask_srv(const struct serve_set *s, uint8_t *out)
{
    struct dns_name qn;
    uint8_t q[512];
    dns_name_from_str("_s._tcp.big.test.", &qn);
    struct dns_opt opt = {.payload = 1232};
    struct dns_msg_query mq = {
        .id = 99, .qname = &qn, .qtype = DNS_TYPE_SRV, .qclass = DNS_CLASS_IN, .opt = &opt};
    size_t qlen = dns_msg_build_query(&mq, q, sizeof(q));
    uint64_t rng = 1;
    struct query_client qc = {.rng = &rng};
    return query_answer(s, &qc, q, qlen, out, true);
}

struct rr_view {
    size_t owner_off; /* where the owner starts in the message */
    struct dns_name owner;
    uint16_t type;
    size_t rdata_off;
    uint16_t rdlen;
};

/* Walks every record after the question; returns how many, or -1 when the
 * message is malformed (a pointer not strictly backwards included). */
static int walk(const uint8_t *m, size_t len, struct rr_view *rrs)
{
    size_t pos = DNS_HEADER_SIZE;
    struct dns_name qn;
    if (len < DNS_HEADER_SIZE || !dns_name_parse(m, len, &pos, &qn, false) || pos + 4 > len)
        return -1;
    pos += 4;
    unsigned total = dns_get16(m + 6) + dns_get16(m + 8) + dns_get16(m + 10);
    if (total > MAX_RRS)
        return -1;
    for (unsigned i = 0; i < total; i++) {
        struct rr_view *r = &rrs[i];
        r->owner_off = pos;
        if (!dns_name_parse(m, len, &pos, &r->owner, false) || pos + 10 > len)
            return -1;
        r->type = dns_get16(m + pos);
        r->rdlen = dns_get16(m + pos + 8);
        r->rdata_off = pos + 10;
        pos += 10 + (size_t)r->rdlen;
        if (pos > len)
            return -1;
    }
    return pos == len ? (int)total : -1;
}

static void target_name(unsigned i, struct dns_name *n)
{
    char buf[200];
    snprintf(buf, sizeof(buf), "h%03u." PAD "." PAD ".big.test.", i);
    dns_name_from_str(buf, n);
}

struct srv_check {
    unsigned answers;    /* SRV records with the expected target */
    unsigned additional; /* A records owned by the expected target */
    unsigned ptr_before; /* second owners: a pointer to the first (below 0x3fff) */
    unsigned full_after; /* second owners written again (the first past 0x3fff) */
    unsigned wrong;      /* records that break the rules below */
    bool opt;            /* the reply ends with an OPT record */
    bool ldns_ok;        /* ldns decodes the same records */
};

/* An SRV answer: owner a pointer to the question, the target as expected
 * and written uncompressed. */
static bool check_srv_rr(const uint8_t *m, size_t len, const struct rr_view *r, unsigned i)
{
    struct dns_name want, tn;
    size_t p = r->rdata_off + 6;
    target_name(i, &want);
    return r->type == DNS_TYPE_SRV && r->rdlen > 6 &&
           dns_get16(m + r->owner_off) == (0xc000 | DNS_HEADER_SIZE) &&
           dns_name_wire_len_max(m + p, r->rdlen - 6u) == want.len &&
           dns_name_parse(m, len, &p, &tn, false) &&
           dns_name_equal(tn.wire, tn.len, want.wire, want.len);
}

/* The i-th A record of the additional section belongs to target i / 2 and
 * decodes to it. Its first record's owner starts with its own label (the
 * name was only written inside SRV data, which is never a compression
 * target). The second record's owner is a pointer to the first one's when
 * that lies below 0x3fff, and is written again, label first, otherwise. */
static bool check_additional_rr(const uint8_t *m, const struct rr_view *rrs, unsigned i,
                                struct srv_check *c)
{
    const struct rr_view *r = &rrs[i];
    const uint8_t *o = m + r->owner_off;
    struct dns_name want;
    target_name(i / 2, &want);
    if (r->type != DNS_TYPE_A || !dns_name_equal(r->owner.wire, r->owner.len, want.wire, want.len))
        return false;
    if (i % 2 == 0)
        return (o[0] & 0xc0) == 0;
    size_t first = rrs[i - 1].owner_off;
    if (first < 0x3fff) {
        c->ptr_before++;
        return dns_get16(o) == (0xc000 | first);
    }
    c->full_after++;
    return (o[0] & 0xc0) == 0;
}

static bool check_ldns(const uint8_t *m, size_t len, const struct srv_check *c)
{
    ldns_pkt *pkt = NULL;
    bool ok = ldns_wire2pkt(&pkt, m, len) == LDNS_STATUS_OK &&
              ldns_rr_list_rr_count(ldns_pkt_answer(pkt)) == c->answers &&
              ldns_rr_list_rr_count(ldns_pkt_additional(pkt)) == c->additional;
    for (size_t i = 0; ok && i < c->additional; i++) {
        char *o = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_additional(pkt), i)));
        char exp[200];
        snprintf(exp, sizeof(exp), "h%03zu." PAD "." PAD ".big.test.", i / 2);
        ok = o && strcmp(o, exp) == 0;
        free(o);
    }
    ldns_pkt_free(pkt);
    return ok;
}

static void check_srv_reply(const uint8_t *m, size_t len, struct srv_check *c)
{
    static struct rr_view rrs[MAX_RRS];
    memset(c, 0, sizeof(*c));
    int count = walk(m, len, rrs);
    unsigned an = len >= DNS_HEADER_SIZE ? dns_get16(m + 6) : 0;
    if (count < 0 || (unsigned)count < an || dns_get16(m + 8) != 0) {
        c->wrong = 1;
        return;
    }
    c->opt = count > 0 && rrs[count - 1].type == DNS_TYPE_OPT;
    count -= c->opt;
    for (unsigned i = 0; i < an; i++) {
        bool ok = check_srv_rr(m, len, &rrs[i], i);
        c->answers += ok;
        c->wrong += !ok;
    }
    for (unsigned i = 0; i < (unsigned)count - an; i++) {
        bool ok = check_additional_rr(m, rrs + an, i, c);
        c->additional += ok;
        c->wrong += !ok;
    }
    c->ldns_ok = check_ldns(m, len, c);
}

/* Builds the zone with n SRV records, asks, checks; the reply stays in out. */
static size_t run(unsigned n, uint8_t *out, struct srv_check *c)
{
    struct zonefile zf;
    zonefile_init(&zf);
    struct serve_set *s = srv_snapshot(&zf, n);
    zonefile_done(&zf);
    size_t len = ask_srv(s, out);
    check_srv_reply(out, len, c);
    serve_set_free(s);
    printf("# %u SRV records: %zu octets, %u answers, %u additional (%u second owners as "
           "pointers, %u written again), %u wrong\n",
           n, len, c->answers, c->additional, c->ptr_before, c->full_after, c->wrong);
    return len;
}

/* Everything below 0x3fff: every second owner is a pointer. */
static void test_small(struct tap *t, uint8_t *out)
{
    struct srv_check c;
    size_t len = run(10, out, &c);
    TAP_CHECK(t, len > 0 && !(out[2] & 0x02) && c.wrong == 0 && c.opt, "10 SRV: well formed");
    TAP_CHECK(t, c.answers == 10 && c.additional == 20 && c.ptr_before == 10 && c.full_after == 0,
              "10 SRV: every target's A RRset, second owners compressed");
    TAP_CHECK(t, c.ldns_ok, "10 SRV: ldns decodes the same names");
}

/* The additional section starts below 0x3fff and ends above it. */
static void test_across(struct tap *t, uint8_t *out)
{
    struct srv_check c;
    size_t len = run(100, out, &c);
    TAP_CHECK(t, len > 0x4000 && !(out[2] & 0x02) && c.wrong == 0 && c.opt,
              "100 SRV: well formed past 0x4000 (%zu octets)", len);
    TAP_CHECK(t, c.answers == 100 && c.additional == 2 * (ANSWER_MAX_RRS - 1),
              "100 SRV: all answers, 47 additional RRsets (the plan's limit)");
    TAP_CHECK(t, c.ptr_before > 0 && c.full_after > 0,
              "owners before 0x3fff are compression targets, owners after are written again");
    TAP_CHECK(t, c.ldns_ok, "100 SRV: ldns decodes the same names");
}

/* Close to 64 KiB: the answer fits, the additional section is cut at an
 * RRset boundary without TC, and the OPT record still fits. */
static void test_near_64k(struct tap *t, uint8_t *out)
{
    struct srv_check c;
    size_t len = run(336, out, &c);
    TAP_CHECK(t, len > 65000 && len <= 65535 && !(out[2] & 0x02) && c.wrong == 0 && c.opt,
              "336 SRV: %zu octets over TCP, no TC, OPT last", len);
    TAP_CHECK(t,
              c.answers == 336 && c.additional > 0 && c.additional < 2 * (ANSWER_MAX_RRS - 1) &&
                  c.additional % 2 == 0,
              "336 SRV: all answers, whole additional RRsets until full");
    TAP_CHECK(t, c.ptr_before == 0 && c.full_after == c.additional / 2,
              "every owner past 0x3fff written out");
    TAP_CHECK(t, c.ldns_ok, "336 SRV: ldns decodes the same names");
}

/* An answer RRset larger than a TCP message: TC, no records, still valid. */
static void test_too_big(struct tap *t, uint8_t *out)
{
    struct srv_check c;
    size_t len = run(460, out, &c);
    TAP_CHECK(t,
              len > 0 && len < 512 && (out[2] & 0x02) && dns_get16(out + 6) == 0 && c.wrong == 0 &&
                  c.opt && c.ldns_ok,
              "460 SRV (about 71 KiB): TC, empty answer, OPT (%zu octets)", len);
}

/* A referral to many.big.test.: the glue of a.many (one A, then an AAAA
 * RRset too big for 512 octets) comes before that of b.many (one A). */
static struct serve_set *glue_snapshot(struct zonefile *zf)
{
    FILE *fp = zonefile_open(zf);
    fprintf(fp, "$ORIGIN big.test.\n$TTL 300\n"
                "@ SOA ns hostmaster 1 3600 600 86400 300\n@ NS ns\nns A 192.0.2.1\n"
                "many NS a.many\nmany NS b.many\na.many A 192.0.2.10\nb.many A 192.0.2.11\n"
                "tomany CNAME www.many\n");
    for (unsigned i = 0; i < 30; i++)
        fprintf(fp, "a.many AAAA 2001:db8::%x\n", i + 1);
    struct zone *z = zonefile_load(zf, fp, "big.test.");
    if (!z)
        exit(1);
    struct snapshot *s = snapshot_new();
    snapshot_add_zone(s, z);
    struct serve_limits lim = {.edns_udp_max = 1232};
    return serve_set_new(s, NULL, 1, &lim);
}

/* Asks name/A over UDP without EDNS (512 octets); returns the length. */
static size_t ask_udp(const struct serve_set *s, const char *name, uint8_t *out)
{
    struct dns_name qn;
    uint8_t q[512];
    dns_name_from_str(name, &qn);
    struct dns_msg_query mq = {.id = 7, .qname = &qn, .qtype = DNS_TYPE_A, .qclass = DNS_CLASS_IN};
    size_t qlen = dns_msg_build_query(&mq, q, sizeof(q));
    uint64_t rng = 1;
    struct query_client qc = {.rng = &rng};
    return query_answer(s, &qc, q, qlen, out, false);
}

/* The A and AAAA records of the additional section; returns the number of
 * records, -1 for a malformed message. */
static int glue_counts(const uint8_t *m, size_t len, unsigned *a, unsigned *aaaa)
{
    struct rr_view rrs[16];
    int n = walk(m, len, rrs);
    *a = *aaaa = 0;
    for (int i = n - dns_get16(m + 10); i >= 0 && i < n; i++) {
        *a += rrs[i].type == DNS_TYPE_A;
        *aaaa += rrs[i].type == DNS_TYPE_AAAA;
    }
    return n;
}

/* Glue that does not fit sets TC (RFC 9471), and the glue after it that
 * fits is still added, as NSD and Knot do (the generated-zone differential
 * test found gtmd stopping at the first RRset that did not fit). */
static void test_glue_after_missing(struct tap *t, uint8_t *out)
{
    struct zonefile zf;
    zonefile_init(&zf);
    struct serve_set *s = glue_snapshot(&zf);
    zonefile_done(&zf);
    size_t len = ask_udp(s, "www.many.big.test.", out);
    unsigned a, aaaa;
    int n = glue_counts(out, len, &a, &aaaa);
    TAP_CHECK(t, n > 0 && (out[2] & 0x02) && dns_get16(out + 8) == 2,
              "referral over 512 octets with glue that does not fit: TC, the NS RRset");
    TAP_CHECK(t, a == 2 && aaaa == 0, "the A glue after the AAAA that does not fit (%u A, %u AAAA)",
              a, aaaa);
    /* A CNAME into the cut: the answer is complete without the glue. */
    len = ask_udp(s, "tomany.big.test.", out);
    n = glue_counts(out, len, &a, &aaaa);
    TAP_CHECK(t,
              n > 0 && !(out[2] & 0x02) && dns_get16(out + 6) == 1 && dns_get16(out + 8) == 2 &&
                  a == 2 && aaaa == 0,
              "CNAME into the cut, glue that does not fit: no TC, CNAME, NS, the A glue");
    serve_set_free(s);
}

int main(void)
{
    struct tap t = {0, 0};
    static uint8_t out[65536];
    test_small(&t, out);
    test_across(&t, out);
    test_near_64k(&t, out);
    test_too_big(&t, out);
    test_glue_after_missing(&t, out);
    return tap_done(&t);
}
