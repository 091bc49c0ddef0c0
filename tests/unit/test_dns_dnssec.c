/* Unit tests for the DNSSEC helpers (src/dns/sha1.c, src/dns/dnssec.c)
 * and the zone's denial chains (src/zone/zone_dnssec.c, zone.c): SHA-1,
 * NSEC3 hashes (RFC 5155 Appendix A, and against ldns), base32hex,
 * canonical order (RFC 4034 §6.1), and the covering-record searches. */
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dnssec.h"
#include "dns/name.h"
#include "tap.h"
#include "zonefile.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha1(struct tap *t)
{
    static const struct {
        const char *in, *want;
    } v[] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct dns_sha1 c;
        uint8_t d[DNS_SHA1_LEN];
        char h[41];
        dns_sha1_init(&c);
        dns_sha1_update(&c, v[i].in, strlen(v[i].in));
        dns_sha1_final(&c, d);
        hex(d, sizeof(d), h);
        TAP_CHECK(t, strcmp(h, v[i].want) == 0, "SHA-1(\"%.10s\") = %s", v[i].in, h);
    }
    /* A million 'a' fed in odd-sized pieces: block boundaries. */
    struct dns_sha1 c;
    uint8_t d[DNS_SHA1_LEN], piece[997];
    char h[41];
    memset(piece, 'a', sizeof(piece));
    dns_sha1_init(&c);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof(piece) ? left : sizeof(piece);
        dns_sha1_update(&c, piece, n);
        left -= n;
    }
    dns_sha1_final(&c, d);
    hex(d, sizeof(d), h);
    TAP_CHECK(t, strcmp(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f") == 0,
              "SHA-1 of a million 'a' in 997-octet pieces");
}

static void b32(const char *name, const uint8_t *salt, size_t sl, uint16_t it, char *out)
{
    struct dns_name n;
    uint8_t h[DNS_SHA1_LEN];
    dns_name_from_str(name, &n);
    dns_nsec3_hash(n.wire, n.len, salt, sl, it, h);
    out[dns_base32hex_encode(h, sizeof(h), out)] = '\0';
}

/* RFC 5155 Appendix A: salt aabbccdd, 12 iterations. */
static void test_nsec3_rfc5155(struct tap *t)
{
    static const uint8_t salt[] = {0xaa, 0xbb, 0xcc, 0xdd};
    static const struct {
        const char *name, *hash;
    } v[] = {
        {"example.", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"},
        {"a.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl"},
        {"ai.example.", "gjeqe526plbf1g8mklp59enfd789njgi"},
        {"ns1.example.", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"},
        {"w.example.", "k8udemvp1j2f7eg6jebps17vp3n8i58h"},
        {"*.w.example.", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"},
        {"x.w.example.", "b4um86eghhds6nea196smvmlo4ors995"},
        {"y.w.example.", "ji6neoaepv8b5o6k4ev33abha8ht9fgc"},
        {"x.y.w.example.", "2vptu5timamqttgl4luu9kg21e0aor3s"},
        {"xx.example.", "t644ebqk9bibcna874givr6joj62mlhv"},
        {"XX.Example.", "t644ebqk9bibcna874givr6joj62mlhv"}, /* case does not matter */
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char got[40];
        b32(v[i].name, salt, sizeof(salt), 12, got);
        TAP_CHECK(t, strcmp(got, v[i].hash) == 0, "H(%s) = %s (RFC 5155 A)", v[i].name, got);
    }
}

/* dns_nsec3_hash agrees with ldns on many names, salts and iteration
 * counts (ldns is what signs the test zones). */
static void test_nsec3_vs_ldns(struct tap *t)
{
    unsigned bad = 0, n = 0;
    uint64_t x = 88172645463325252ull;
    for (unsigned i = 0; i < 300; i++) {
        char name[80];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        snprintf(name, sizeof(name), "h%llx.%s.example.org.", (unsigned long long)(x % 100000),
                 (x >> 20) % 2 ? "Sub" : "w");
        uint8_t salt[8];
        uint8_t sl = (uint8_t)((x >> 30) % 9);
        for (unsigned k = 0; k < sl; k++)
            salt[k] = (uint8_t)(x >> (k * 5));
        uint16_t it = (uint16_t)((x >> 40) % 20);
        ldns_rdf *dn = ldns_dname_new_frm_str(name);
        ldns_rdf *h = ldns_nsec3_hash_name(dn, 1, it, sl, salt);
        char *ls = ldns_rdf2str(h);
        char mine[40];
        b32(name, salt, sl, it, mine);
        /* ldns prints the hash as a label with a trailing dot */
        bad += strncasecmp(ls, mine, 32) != 0;
        n++;
        free(ls);
        ldns_rdf_deep_free(h);
        ldns_rdf_deep_free(dn);
    }
    TAP_CHECK(t, bad == 0, "NSEC3 hash equals ldns's for %u names (%u differ)", n, bad);
}

static void test_base32hex(struct tap *t)
{
    uint8_t in[20], out[40];
    char s[40];
    for (unsigned i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 37 + 11);
    size_t n = dns_base32hex_encode(in, sizeof(in), s);
    TAP_CHECK(t, n == 32, "20 octets encode to 32 characters");
    for (size_t i = 0; i < n; i++)
        if (i % 3 == 0)
            s[i] = (char)(s[i] >= 'a' ? s[i] - 32 : s[i]); /* decoding ignores case */
    int m = dns_base32hex_decode((const uint8_t *)s, n, out, sizeof(out));
    TAP_CHECK(t, m == 20 && memcmp(in, out, 20) == 0, "round trip, mixed case");
    TAP_CHECK(t, dns_base32hex_decode((const uint8_t *)"0w", 2, out, sizeof(out)) < 0,
              "'w' is not base32hex");
    TAP_CHECK(t, dns_base32hex_decode((const uint8_t *)"abc", 3, out, sizeof(out)) < 0,
              "3 characters are not whole octets");
    TAP_CHECK(t, dns_base32hex_decode((const uint8_t *)s, n, out, 19) < 0, "longer than max");
}

static void test_canonical_order(struct tap *t)
{
    /* RFC 4034 §6.1, in order. */
    static const char *const names[] = {
        "example.",         "a.example.",      "yljkjljk.a.example.",
        "Z.a.example.",     "zABC.a.EXAMPLE.", "z.example.",
        "\\001.z.example.", "*.z.example.",    "\\200.z.example.",
    };
    size_t n = sizeof(names) / sizeof(names[0]);
    unsigned bad = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            struct dns_name a, b;
            dns_name_from_str(names[i], &a);
            dns_name_from_str(names[j], &b);
            int c = dns_name_canon_cmp(a.wire, a.len, b.wire, b.len);
            int want = i < j ? -1 : i > j ? 1 : 0;
            bad += (c < 0 ? -1 : c > 0) != want;
        }
    }
    TAP_CHECK(t, bad == 0, "canonical order of RFC 4034 §6.1 (%u wrong pairs)", bad);
    struct dns_name a, b;
    dns_name_from_str("WWW.Example.", &a);
    dns_name_from_str("www.example.", &b);
    TAP_CHECK(t, dns_name_canon_cmp(a.wire, a.len, b.wire, b.len) == 0, "case-insensitive");
}

static void test_type_bitmap(struct tap *t)
{
    /* window 0: A(1) MX(15) RRSIG(46) NSEC(47); window 1: CAA (257) */
    static const uint8_t bm[] = {0, 6, 0x40, 0x01, 0, 0, 0, 0x03, 1, 1, 0x40};
    TAP_CHECK(t,
              dns_type_bitmap_has(bm, sizeof(bm), 1) && dns_type_bitmap_has(bm, sizeof(bm), 15) &&
                  dns_type_bitmap_has(bm, sizeof(bm), 46) &&
                  dns_type_bitmap_has(bm, sizeof(bm), 47) &&
                  dns_type_bitmap_has(bm, sizeof(bm), 257),
              "type bitmap lists A, MX, RRSIG, NSEC, CAA");
    TAP_CHECK(t,
              !dns_type_bitmap_has(bm, sizeof(bm), 2) && !dns_type_bitmap_has(bm, sizeof(bm), 28) &&
                  !dns_type_bitmap_has(bm, sizeof(bm), 256),
              "and not NS, AAAA, type 256");
    TAP_CHECK(t, !dns_type_bitmap_has(bm, 5, 1), "a truncated bitmap lists nothing");
}

/* ---- the zone's chains ---------------------------------------------------- */

static const char *const NAMES[] = {
    "example.",     "a.example.",   "ai.example.",  "ns1.example.",   "ns2.example.", "w.example.",
    "*.w.example.", "x.w.example.", "y.w.example.", "x.y.w.example.", "xx.example."};
#define N_NAMES (sizeof(NAMES) / sizeof(NAMES[0]))

static int hash_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An NSEC3 zone of the names above (y.w.example. is an empty non-terminal,
 * so it is left out of the records but gets its NSEC3). */
static struct zone *nsec3_zone(struct zonefile *zf, const uint8_t *salt, size_t sl)
{
    char hashes[N_NAMES][40];
    const char *sorted[N_NAMES];
    for (size_t i = 0; i < N_NAMES; i++) {
        b32(NAMES[i], salt, sl, 12, hashes[i]);
        sorted[i] = hashes[i];
    }
    qsort(sorted, N_NAMES, sizeof(sorted[0]), hash_cmp);
    FILE *fp = zonefile_open(zf);
    fprintf(fp, "$TTL 3600\nexample. IN SOA ns1.example. h.example. 1 2 3 4 300\n"
                "example. IN NS ns1.example.\nexample. IN NSEC3PARAM 1 0 12 aabbccdd\n");
    for (size_t i = 1; i < N_NAMES; i++)
        if (strcmp(NAMES[i], "y.w.example.") != 0)
            fprintf(fp, "%s IN A 192.0.2.%zu\n", NAMES[i], i);
    for (size_t i = 0; i < N_NAMES; i++)
        fprintf(fp, "%s.example. 300 IN NSEC3 1 0 12 aabbccdd %s A\n", sorted[i],
                sorted[(i + 1) % N_NAMES]);
    return zonefile_load(zf, fp, "example.");
}

static const struct zone_node *node_of(const struct zone *z, const char *name)
{
    struct dns_name n;
    dns_name_from_str(name, &n);
    return zone_find_node(z, n.wire, n.len, dns_name_hash(n.wire, n.len));
}

static void test_nsec3_chain(struct tap *t, struct zonefile *zf)
{
    static const uint8_t salt[] = {0xaa, 0xbb, 0xcc, 0xdd};
    struct zone *z = nsec3_zone(zf, salt, sizeof(salt));
    TAP_CHECK(t, z && z->dnssec.kind == ZONE_DENIAL_NSEC3 && z->dnssec.n_chain == N_NAMES,
              "NSEC3 chain of %zu records, parameters from NSEC3PARAM", N_NAMES);
    if (!z)
        return;
    TAP_CHECK(t, node_of(z, "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example.") == NULL,
              "NSEC3 owners are not nodes (RFC 5155 §7.2.8)");
    unsigned bad = 0;
    for (size_t i = 0; i < N_NAMES; i++) {
        const struct zone_node *n = node_of(z, NAMES[i]);
        char h[40];
        b32(NAMES[i], salt, sizeof(salt), 12, h);
        bad += !(n && n->denial && n->denial->match &&
                 strncmp((const char *)n->denial->match->owner + 1, h, 32) == 0);
    }
    TAP_CHECK(t, bad == 0, "each node (the ENT too) points at the NSEC3 of its hash");
    /* Every hash in between is covered by the record before it, and below
     * the first record the last one covers (wrap-around). */
    unsigned wrong = 0, wraps = 0;
    for (unsigned i = 0; i < 2000; i++) {
        uint8_t h[DNS_SHA1_LEN];
        for (unsigned k = 0; k < DNS_SHA1_LEN; k++)
            h[k] = (uint8_t)((i * 2654435761u) >> (k % 4 * 8)) ^ (uint8_t)(k * i);
        bool exact;
        const struct zone_denial *d = zone_nsec3_find(z, h, &exact);
        const struct zone_denial *first = &z->dnssec.chain[0];
        const struct zone_denial *last = &z->dnssec.chain[z->dnssec.n_chain - 1];
        bool below_first = memcmp(h, first->hash, DNS_SHA1_LEN) < 0;
        if (below_first) {
            wraps++;
            wrong += d != last;
            continue;
        }
        const struct zone_denial *next = d == last ? NULL : d + 1;
        wrong += exact || memcmp(d->hash, h, DNS_SHA1_LEN) > 0 ||
                 (next && memcmp(h, next->hash, DNS_SHA1_LEN) >= 0);
    }
    TAP_CHECK(t, wrong == 0 && wraps > 0, "2000 hashes: each covered by its predecessor (%u wrap)",
              wraps);
    const struct zone_node *a = node_of(z, "a.example.");
    char wh[40];
    b32("*.a.example.", salt, sizeof(salt), 12, wh);
    uint8_t raw[DNS_SHA1_LEN];
    dns_base32hex_decode((const uint8_t *)wh, 32, raw, sizeof(raw));
    bool exact;
    TAP_CHECK(t, a && a->denial->wild == zone_nsec3_find(z, raw, &exact) && !exact,
              "a node's wildcard cover is the record covering H(*.name)");
    const struct zone_node *w = node_of(z, "w.example.");
    TAP_CHECK(t, w && w->wildcard && w->denial->wild == NULL,
              "a node with a wildcard child has no wildcard cover");
    zone_free(z);
}

static void test_nsec_chain(struct tap *t, struct zonefile *zf)
{
    FILE *fp = zonefile_open(zf);
    fprintf(fp, "$TTL 3600\n"
                "example. IN SOA ns1.example. h.example. 1 2 3 4 300\n"
                "example. IN NS ns1.example.\n"
                "example. 300 IN NSEC a.example. NS SOA RRSIG NSEC\n"
                "a.example. IN A 192.0.2.1\n"
                "a.example. 300 IN NSEC ns1.example. A RRSIG NSEC\n"
                "ns1.example. IN A 192.0.2.2\n"
                "ns1.example. 300 IN NSEC x.y.example. A RRSIG NSEC\n"
                "x.y.example. IN A 192.0.2.3\n"
                "x.y.example. 300 IN NSEC example. A RRSIG NSEC\n");
    struct zone *z = zonefile_load(zf, fp, "example.");
    TAP_CHECK(t, z && z->dnssec.kind == ZONE_DENIAL_NSEC && z->dnssec.n_chain == 4,
              "NSEC chain of 4 records");
    if (!z)
        return;
    static const struct {
        const char *q, *want;
    } v[] = {
        {"example.", "example."},          {"a.example.", "a.example."},
        {"b.example.", "a.example."},      {"0.a.example.", "a.example."},
        {"nz.example.", "ns1.example."},   {"y.example.", "ns1.example."},
        {"zz.y.example.", "x.y.example."}, {"zzz.example.", "x.y.example."},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct dns_name q, w;
        dns_name_from_str(v[i].q, &q);
        dns_name_from_str(v[i].want, &w);
        const struct zone_denial *d = zone_nsec_find(z, q.wire, q.len);
        TAP_CHECK(t, d && d->owner_len == w.len && memcmp(d->owner, w.wire, w.len) == 0,
                  "NSEC at or before %s is %s's", v[i].q, v[i].want);
    }
    const struct zone_node *ent = node_of(z, "y.example.");
    TAP_CHECK(
        t, ent && ent->denial && ent->denial->match == zone_nsec_find(z, ent->name, ent->name_len),
        "the empty non-terminal y.example. points at the NSEC covering it");
    zone_free(z);
}

int main(void)
{
    struct tap t = {0};
    struct zonefile zf;
    zonefile_init(&zf);
    test_sha1(&t);
    test_nsec3_rfc5155(&t);
    test_nsec3_vs_ldns(&t);
    test_base32hex(&t);
    test_canonical_order(&t);
    test_type_bitmap(&t);
    test_nsec3_chain(&t, &zf);
    test_nsec_chain(&t, &zf);
    zonefile_done(&zf);
    return tap_done(&t);
}
