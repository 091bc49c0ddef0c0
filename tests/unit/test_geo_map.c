/* Unit tests for src/geo/geo_map, geo_merge and geo_nearest: parsing a
 * record's "geo" object (every error with its JSON path), the class of a
 * location, and the merged class trie -- every leaf checked to be exact
 * and maximal against a reference built from libmaxminddb and a linear
 * scan of the network keys -- plus relabelling and the nearest orders. */
#include <arpa/inet.h>
#include <jansson.h>
#include <maxminddb.h>
#include <stdlib.h>
#include <string.h>

#include "common/errlist.h"
#include "common/jsoncfg.h"
#include "geo/geo_codes.h"
#include "geo/geo_db.h"
#include "geo/geo_map.h"
#include "geo/geo_overlay.h"
#include "geo/geo_merge.h"
#include "geo/geo_nearest.h"
#include "geo_check.h"
#include "tap.h"

#define GEO_PATH_JSON "$.records[\"www.example.com.\"].geo"

static const char *const REGIONS[] = {"eu",    "us", "ap", "asia", "samoa", "ca",
                                      "calif", "d",  "n1", "n2",   "n3",    NULL};

static int resolve(void *ctx, const char *name)
{
    (void)ctx;
    for (int i = 0; REGIONS[i]; i++)
        if (strcmp(REGIONS[i], name) == 0)
            return i;
    return -1;
}

static const char *srcdir(void)
{
    const char *s = getenv("SRCDIR");
    return s ? s : ".";
}

/* Parses json as a geo object; errors go to *errs (initialised here). */
static struct geo_map *parse(const char *json, struct errlist *errs)
{
    errlist_init(errs);
    struct jsoncfg x = {.errs = errs, .file = "test.conf", .dir = "."};
    json_error_t je;
    json_t *obj = json_loads(json, 0, &je);
    if (!obj) {
        fprintf(stderr, "bad test JSON: %s: %s\n", json, je.text);
        abort();
    }
    struct geo_map *m = geo_map_parse(&x, obj, GEO_PATH_JSON, resolve, NULL, "list");
    json_decref(obj);
    return m;
}

static bool has_error(const struct errlist *e, const char *want)
{
    for (size_t i = 0; i < e->count; i++)
        if (strstr(e->msgs[i], want))
            return true;
    return false;
}

/* json must be rejected with an error containing want. */
static void bad(struct tap *t, const char *json, const char *want)
{
    struct errlist errs;
    struct geo_map *m = parse(json, &errs);
    TAP_CHECK(t, !m && has_error(&errs, want), "rejected: %s -> %s", json,
              errs.count ? errs.msgs[0] : "(no error)");
    geo_map_free(m);
    errlist_free(&errs);
}

static void test_parse_errors(struct tap *t)
{
#define K(key) "test.conf: " GEO_PATH_JSON "[\"" key "\"]: "
#define D ", \"default\": [\"d\"]}"
    bad(t, "{\"continent:XX\": [\"eu\"]" D, K("continent:XX") "\"XX\" is not a continent code");
    bad(t, "{\"continent:DE\": [\"eu\"]" D, "for the country use country:DE");
    bad(t, "{\"continent:eu\": [\"eu\"]" D,
        K("continent:eu") "continent code \"eu\" must be upper");
    bad(t, "{\"country:ZZ\": [\"eu\"]" D, K("country:ZZ") "\"ZZ\" is not an ISO 3166-1 alpha-2");
    bad(t, "{\"country:EU\": [\"eu\"]" D, "for the continent use continent:EU");
    bad(t, "{\"country:de\": [\"eu\"]" D, "country code \"de\" must be upper case");
    bad(t, "{\"country:DEU\": [\"eu\"]" D, "\"DEU\" is not an ISO 3166-1 alpha-2");
    bad(t, "{\"subdivision:USCA\": [\"eu\"]" D,
        K("subdivision:USCA") "\"USCA\" is not an ISO 3166-2 subdivision code");
    bad(t, "{\"subdivision:XX-CA\": [\"eu\"]" D, "\"XX\" is not an ISO 3166-1 country code");
    bad(t, "{\"subdivision:US-CALI\": [\"eu\"]" D, "after \"US-\" come 1 to 3 letters or digits");
    bad(t, "{\"subdivision:US-\": [\"eu\"]" D, "after \"US-\" come 1 to 3 letters or digits");
    bad(t, "{\"subdivision:US-C@\": [\"eu\"]" D, "after \"US-\" come 1 to 3");
    bad(t, "{\"network:192.0.2.1/24\": [\"eu\"]" D,
        K("network:192.0.2.1/24") "network \"192.0.2.1/24\" has host bits set past /24");
    bad(t, "{\"network:2001:db8::1/32\": [\"eu\"]" D, "has host bits set past /32");
    bad(t, "{\"network:192.0.2.0/33\": [\"eu\"]" D, "prefix length 33 is longer than 32 bits");
    bad(t, "{\"network:2001:db8::/129\": [\"eu\"]" D, "prefix length 129 is longer than 128");
    bad(t, "{\"network:192.0.2.0\": [\"eu\"]" D, "is not a network: ADDRESS/PREFIX-LENGTH");
    bad(t, "{\"network:192.0.2.0/\": [\"eu\"]" D, "is not a network");
    bad(t, "{\"network:192.0.2.0/-1\": [\"eu\"]" D, "is not a network");
    bad(t, "{\"network:192.0.2.0/2x\": [\"eu\"]" D, "is not a network");
    bad(t, "{\"network:example/8\": [\"eu\"]" D, "\"example\" is not an IPv4 or IPv6 address");
    bad(t, "{\"network:::ffff:192.0.2.0/120\": [\"eu\"]" D, "is IPv4-mapped");
    bad(t, "{\"network:2001:db8::/32\": [\"eu\"], \"network:2001:0db8:0::/32\": [\"us\"]" D,
        "test.conf: " GEO_PATH_JSON ": \"network:2001:db8::/32\" and "
        "\"network:2001:0db8:0::/32\" are the same network");
    bad(t, "{\"country:DE\": [\"eu\"]}", "test.conf: " GEO_PATH_JSON ": needs a \"default\" list");
    bad(t, "{\"city:Berlin\": [\"eu\"]" D, K("city:Berlin") "unknown key \"city:Berlin\"");
    bad(t, "{\"Country:DE\": [\"eu\"]" D, "unknown key \"Country:DE\"");
    bad(t, "{\"country:DE\": []" D, K("country:DE") "must be a non-empty array of region names");
    bad(t, "{\"country:DE\": \"eu\"" D, "must be a non-empty array of region names");
    bad(t, "{\"country:DE\": [\"eu\", 7]" D,
        "test.conf: " GEO_PATH_JSON "[\"country:DE\"][1]: must be a region name");
    bad(t, "{\"country:DE\": [\"eu\", \"eu\"]" D, "[1]: region \"eu\" is listed twice");
    bad(t, "{\"country:DE\": [\"eu\", \"mars\"]" D,
        "test.conf: " GEO_PATH_JSON
        "[\"country:DE\"][1]: region \"mars\" is not defined in regions");
    bad(t, "{\"default\": [\"mars\"]}", "[\"default\"][0]: region \"mars\" is not defined");
    bad(t, "[]", GEO_PATH_JSON ": must be an object of KEY -> [region, ...]");
    bad(t, "{}", "must be an object");
    bad(t, "{\"asn:AS64500\": [\"eu\"]" D,
        K("asn:AS64500") "\"AS64500\" is not an autonomous system number");
    bad(t, "{\"asn:\": [\"eu\"]" D, "\"\" is not an autonomous system number");
    bad(t, "{\"asn:0\": [\"eu\"]" D, "\"0\" is not an autonomous system number");
    bad(t, "{\"asn:064500\": [\"eu\"]" D, "\"064500\" is not an autonomous system number");
    bad(t, "{\"asn:-1\": [\"eu\"]" D, "\"-1\" is not an autonomous system number");
    bad(t, "{\"asn:4294967296\": [\"eu\"]" D, "4294967296 is above 4294967295");
    bad(t, "{\"asn:99999999999\": [\"eu\"]" D, "is not an autonomous system number");
#undef K
#undef D
    /* every error of a map is reported, not only the first */
    struct errlist errs;
    struct geo_map *m = parse("{\"continent:XX\": [\"eu\"], \"country:ZZ\": [\"mars\"], "
                              "\"network:10.0.0.1/8\": [\"eu\"]}",
                              &errs);
    TAP_CHECK(t, !m && errs.count == 5, "all five errors of one map reported (%zu)", errs.count);
    errlist_free(&errs);
}

static void test_parse_ok(struct tap *t)
{
    struct errlist errs;
    struct geo_map *m =
        parse("{\"continent:AS\": [\"asia\"], \"country:AS\": [\"samoa\", \"us\"],"
              " \"subdivision:US-CA\": [\"calif\"], \"subdivision:JP-13\": [\"ap\"],"
              " \"network:192.0.2.0/24\": [\"n1\"], \"network:2001:db8::/32\": "
              "[\"n2\"], \"network:0.0.0.0/0\": [\"n3\"], \"country:XK\": [\"eu\"],"
              " \"default\": [\"d\", \"eu\"]}",
              &errs);
    if (!TAP_CHECK(t, m != NULL, "valid map parses (%s)", errs.count ? errs.msgs[0] : "")) {
        errlist_free(&errs);
        return;
    }
    TAP_CHECK(t, m->n_keys == 9 && m->default_key == 8, "nine keys, default last");
    const struct geo_key *k = &m->keys[1];
    TAP_CHECK(t,
              k->kind == GEO_KEY_COUNTRY && strcmp(k->code, "AS") == 0 && k->n_regions == 2 &&
                  k->region_ids[0] == 4 && k->region_ids[1] == 1 &&
                  strcmp(k->regions[0], "samoa") == 0,
              "country:AS: regions resolved in order");
    TAP_CHECK(t, m->keys[0].kind == GEO_KEY_CONTINENT && strcmp(m->keys[0].code, "AS") == 0,
              "continent:AS is a continent key");
    TAP_CHECK(t, m->keys[2].kind == GEO_KEY_SUBDIVISION && strcmp(m->keys[2].code, "US-CA") == 0,
              "subdivision code kept whole");
    k = &m->keys[5];
    TAP_CHECK(t,
              k->kind == GEO_KEY_NETWORK && k->family == GEO_FAMILY_IPV6 && k->prefix == 32 &&
                  k->addr[0] == 0x20 && k->addr[1] == 0x01 && k->addr[2] == 0x0d,
              "IPv6 network key");
    TAP_CHECK(t, m->keys[6].prefix == 0 && m->keys[6].family == GEO_FAMILY_IPV4,
              "network 0.0.0.0/0 accepted");
    geo_map_free(m);
    errlist_free(&errs);
    TAP_CHECK(t,
              geo_country_valid("AS") && geo_country_valid("XK") && !geo_country_valid("EU") &&
                  !geo_country_valid("AP") && !geo_country_valid("A1") &&
                  geo_continent_valid("AS") && !geo_continent_valid("US") &&
                  geo_subdivision_valid("GB-ENG") && geo_subdivision_valid("FR-75C") &&
                  !geo_subdivision_valid("GB-ENGL"),
              "code tables");
}

static struct geo_location mkloc(const char *cont, const char *cc, const char *sub)
{
    struct geo_location l;
    memset(&l, 0, sizeof(l));
    if (cont) {
        memcpy(l.continent, cont, 2);
        l.flags |= GEO_HAS_CONTINENT;
    }
    if (cc) {
        memcpy(l.country, cc, 2);
        l.flags |= GEO_HAS_COUNTRY;
    }
    if (sub) {
        snprintf(l.subdivision, sizeof(l.subdivision), "%s", sub);
        l.flags |= GEO_HAS_SUBDIVISION;
    }
    return l;
}

static void test_class_of_location(struct tap *t)
{
    struct errlist errs;
    struct geo_map *m = parse("{\"continent:AS\": [\"asia\"], \"country:AS\": [\"samoa\"],"
                              " \"country:CA\": [\"ca\"], \"subdivision:US-CA\": [\"calif\"],"
                              " \"continent:NA\": [\"us\"], \"default\": [\"d\"]}",
                              &errs);
    if (!TAP_CHECK(t, m != NULL, "map for location classes parses")) {
        errlist_free(&errs);
        return;
    }
    struct geo_location l = mkloc("AS", "JP", "13");
    TAP_CHECK(t, geo_map_class_of_location(m, &l) == 0, "Tokyo: continent:AS (Asia)");
    l = mkloc("OC", "AS", NULL);
    TAP_CHECK(t, geo_map_class_of_location(m, &l) == 1, "Pago Pago: country:AS (American Samoa)");
    l = mkloc("NA", "US", "CA");
    TAP_CHECK(t, geo_map_class_of_location(m, &l) == 3, "California: subdivision:US-CA");
    l = mkloc("NA", "CA", "QC");
    TAP_CHECK(t, geo_map_class_of_location(m, &l) == 2, "Quebec: country:CA (Canada)");
    l = mkloc("NA", "CA", "CA");
    TAP_CHECK(t, geo_map_class_of_location(m, &l) == 2,
              "subdivision CA of Canada is not US-CA: country:CA");
    l = mkloc("NA", "US", "NY");
    TAP_CHECK(t, geo_map_class_of_location(m, &l) == 4, "New York: continent:NA");
    l = mkloc("EU", "DE", "BE");
    TAP_CHECK(t, geo_map_class_of_location(m, &l) == 5, "Berlin: default");
    l = mkloc(NULL, NULL, NULL);
    TAP_CHECK(t,
              geo_map_class_of_location(m, &l) == geo_map_unknown_class(m) &&
                  geo_map_class_key(m, geo_map_unknown_class(m)) == &m->keys[5],
              "no fields: the unknown class, served by default");
    l.flags = GEO_HAS_COORDS;
    TAP_CHECK(t, geo_map_class_of_location(m, &l) == geo_map_unknown_class(m),
              "coordinates only: unknown for a geo map");
    geo_map_free(m);
    errlist_free(&errs);
    m = parse("{\"asn:64500\": [\"eu\"], \"subdivision:US-CA\": [\"calif\"],"
              " \"country:US\": [\"us\"], \"default\": [\"d\"]}",
              &errs);
    if (!TAP_CHECK(t, m != NULL, "map with an asn key parses")) {
        errlist_free(&errs);
        return;
    }
    l = mkloc("NA", "US", "CA");
    l.asn = 64500;
    l.flags |= GEO_HAS_ASN;
    TAP_CHECK(t, geo_map_class_of_location(m, &l) == 0, "California in AS64500: asn:64500");
    l.asn = 64501;
    TAP_CHECK(t, geo_map_class_of_location(m, &l) == 1, "California in AS64501: subdivision");
    l = mkloc(NULL, NULL, NULL);
    l.asn = 64500;
    l.flags = GEO_HAS_ASN;
    TAP_CHECK(t, geo_map_class_of_location(m, &l) == 0, "no location, AS64500: asn:64500");
    l.asn = 64501;
    TAP_CHECK(t, geo_map_class_of_location(m, &l) == geo_map_unknown_class(m),
              "no location, another ASN: unknown");
    l = mkloc("EU", "DE", NULL);
    TAP_CHECK(t, geo_map_class_of_location(m, &l) == 3, "Germany without an ASN: default");
    geo_map_free(m);
    errlist_free(&errs);
}

/* ---- merged class trie against the reference ------------------------------ */

struct map_ref {
    MMDB_s mmdb;
    bool have_db;
    MMDB_s asn; /* when have_asn: an ASN database laid over mmdb */
    bool have_asn;
    const struct geo_map *m;
    const uint32_t *relabel; /* NULL: classes as they are */
};

/* The reference class: the longest network key containing a (linear
 * scan), else the class of libmaxminddb's location. */
static uint32_t ref_class(void *ctx, unsigned family, u128 a)
{
    struct map_ref *r = ctx;
    int best = -1;
    uint32_t cls = 0;
    for (size_t i = 0; i < r->m->n_keys; i++) {
        const struct geo_key *k = &r->m->keys[i];
        if (k->kind != GEO_KEY_NETWORK || k->family != family || (int)k->prefix <= best)
            continue;
        u128 ka = gc_from_bytes(family, k->addr);
        if (a >= ka && a <= gc_last(family, ka, k->prefix)) {
            best = k->prefix;
            cls = (uint32_t)i;
        }
    }
    if (best < 0) {
        struct geo_location l;
        unsigned mask;
        memset(&l, 0, sizeof(l));
        if (r->have_db)
            gc_ref_location(&r->mmdb, family, a, &l, &mask);
        if (r->have_asn) {
            struct geo_location n;
            gc_ref_location(&r->asn, family, a, &n, &mask);
            l.asn = n.asn;
            l.flags |= n.flags & GEO_HAS_ASN;
        }
        cls = geo_map_class_of_location(r->m, &l);
    }
    return r->relabel ? r->relabel[cls] : cls;
}

/* Checks both roots of trie against the reference; seg boundaries are the
 * database's networks (when r->have_db) and every network key. */
static void check_map_trie(struct tap *t, const char *what, const struct geo_trie *trie,
                           struct map_ref *r)
{
    for (unsigned family = GEO_FAMILY_IPV4; family <= GEO_FAMILY_IPV6; family++) {
        struct gc_segments s = {.family = family};
        if (r->have_db)
            gc_seg_networks(&s, &r->mmdb);
        if (r->have_asn)
            gc_seg_networks(&s, &r->asn);
        for (size_t i = 0; i < r->m->n_keys; i++)
            if (r->m->keys[i].kind == GEO_KEY_NETWORK && r->m->keys[i].family == family)
                gc_seg_prefix(&s, r->m->keys[i].addr, r->m->keys[i].prefix);
        gc_seg_finish(&s, ref_class, r);
        struct gc_result res;
        gc_check_trie(trie, &s, &res);
        TAP_CHECK(t, gc_ok(&res),
                  "%s IPv%u: %zu leaves over %zu segments: not exact %zu, not maximal %zu, "
                  "lookups %zu wrong %s",
                  what, family == GEO_FAMILY_IPV4 ? 4 : 6, res.leaves, s.n, res.inexact,
                  res.not_maximal, res.bad_lookup, res.first);
        gc_seg_free(&s);
    }
}

static const char *MAP1 =
    "{\"continent:EU\": [\"eu\"], \"continent:AS\": [\"asia\"], \"country:AS\": [\"samoa\"],"
    " \"country:CA\": [\"ca\"], \"subdivision:US-CA\": [\"calif\"], \"country:JP\": [\"ap\"],"
    " \"network:10.1.0.0/16\": [\"n1\"], \"network:10.1.2.0/25\": [\"n2\"],"
    " \"network:10.1.2.8/29\": [\"n3\"], \"network:192.0.2.64/26\": [\"n1\"],"
    " \"network:127.0.0.128/25\": [\"n2\"], \"network:172.16.0.0/13\": [\"n3\"],"
    " \"network:2001:db8:1::/56\": [\"n3\"], \"network:2001:db8:1:2::/63\": [\"n2\"],"
    " \"network:fd12:3456:789a:1::/65\": [\"n1\"], \"network:2002:a01::/32\": [\"n2\"],"
    " \"country:IN\": [\"asia\"], \"default\": [\"d\"]}";

/* class and scope of one address */
static bool at(const struct geo_merged *g, const char *ip, uint32_t cls, unsigned scope)
{
    uint8_t a[16], sc;
    unsigned family = strchr(ip, ':') ? GEO_FAMILY_IPV6 : GEO_FAMILY_IPV4;
    inet_pton(family == GEO_FAMILY_IPV6 ? AF_INET6 : AF_INET, ip, a);
    uint32_t c = geo_merged_lookup(g, family, a, &sc);
    if (c != cls || sc != scope)
        printf("# %s: class %u scope %u (want %u /%u)\n", ip, c, sc, cls, scope);
    return c == cls && sc == scope;
}

static void test_merged_city(struct tap *t, struct geo_db *db, struct map_ref *r)
{
    struct errlist errs;
    struct geo_map *m = parse(MAP1, &errs);
    if (!TAP_CHECK(t, m != NULL, "MAP1 parses")) {
        errlist_free(&errs);
        return;
    }
    r->m = m;
    struct geo_merged g;
    geo_map_compile(m, db, &g);
    TAP_CHECK(t, g.n_classes == m->n_keys + 1, "classes: one per key and unknown");
    check_map_trie(t, "MAP1 over geo-city", &g.trie, r);
    uint32_t unknown = geo_map_unknown_class(m);
    TAP_CHECK(t, at(&g, "10.1.2.9", 8, 29), "network key /29 over a database /32");
    TAP_CHECK(t, at(&g, "10.1.2.200", 6, 25), "outer key beside an inner key: /25");
    TAP_CHECK(t, at(&g, "10.1.200.1", 6, 17),
              "outer key /16, scope /17 (inner key in the other half)");
    TAP_CHECK(t, at(&g, "10.2.0.1", 0, 15), "database Europe around a key: /15");
    TAP_CHECK(t, at(&g, "10.128.0.1", 5, 10),
              "database Japan (continent AS too, country wins): /10");
    TAP_CHECK(t, at(&g, "127.0.3.1", 2, 24) && at(&g, "127.0.2.1", 5, 24),
              "country:AS (Pago Pago) vs country:JP (Tokyo)");
    TAP_CHECK(t, at(&g, "127.0.0.1", 4, 25) && at(&g, "127.0.0.129", 10, 25),
              "key splits a database /24 into two /25");
    TAP_CHECK(t, at(&g, "192.0.2.1", 3, 26) && at(&g, "192.0.2.65", 9, 26),
              "country:CA (Canada) /26 beside a network key /26");
    TAP_CHECK(t, at(&g, "127.0.13.1", unknown, 22),
              "unknown location merged with coordinates-only data: /22");
    TAP_CHECK(t, at(&g, "172.20.0.1", 11, 13) && at(&g, "172.24.0.1", 17, 13),
              "key over half of a database /12");
    TAP_CHECK(t, at(&g, "2001:db8:1::1", 12, 63) && at(&g, "2001:db8:1:2::1", 13, 63),
              "IPv6 keys nested in a database /48");
    TAP_CHECK(t, at(&g, "::ffff:10.1.2.9", 5, 128),
              "IPv4 keys do not apply to IPv6 addresses (database alias: Japan)");
    TAP_CHECK(t, at(&g, "2002:a01:209::", 15, 32), "IPv6 key over an alias region");
    TAP_CHECK(t,
              at(&g, "fd12:3456:789a:1:8000::1", 17, 65) && at(&g, "fd12:3456:789a:1::1", 14, 65),
              "IPv6 key /65 in a database /64");
    TAP_CHECK(t, at(&g, "2001:db8:6::1", unknown, 48), "IPv6 data without fields: unknown");
    /* Health-aware coarsening: relabel classes to their region list. */
    uint32_t list_of[32];
    for (uint32_t c = 0; c < g.n_classes; c++) {
        const struct geo_key *k = geo_map_class_key(m, c);
        list_of[c] = c;
        for (uint32_t o = 0; o < c; o++)
            if (strcmp(geo_map_class_key(m, o)->regions[0], k->regions[0]) == 0) {
                list_of[c] = list_of[o];
                break;
            }
    }
    struct geo_merged g2 = {.n_classes = g.n_classes};
    geo_trie_relabel(&g.trie, list_of, g.n_classes, &g2.trie);
    r->relabel = list_of;
    check_map_trie(t, "MAP1 relabelled by region list", &g2.trie, r);
    r->relabel = NULL;
    TAP_CHECK(t,
              g2.trie.n_nodes < g.trie.n_nodes && at(&g2, "127.0.13.1", 17, 22) &&
                  at(&g, "198.51.100.1", 16, 26) && at(&g2, "198.51.100.1", 1, 24),
              "relabelled: country:IN and continent:AS (both asia) share a /24 (%u -> %u nodes)",
              g.trie.n_nodes, g2.trie.n_nodes);
    /* Marks on the class trie give the relabelled trie's prefixes in the
     * same walk: compared at many pseudo-random addresses of both
     * families, half of them inside the test networks. */
    uint8_t *marks = geo_trie_uniform_marks(&g.trie, list_of, g.n_classes);
    bool same = true;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 200000 && same; i++) {
        uint8_t a[16], p1, p2, m2;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(a, &x, 8);
        memcpy(a + 8, &x, 8);
        unsigned fam = i & 1 ? GEO_FAMILY_IPV6 : GEO_FAMILY_IPV4;
        if (i % 4 < 2) {
            static const uint8_t pre[4][4] = {
                {10, 1, 2, 0}, {127, 0, 0, 0}, {192, 0, 2, 0}, {0x20, 0x01, 0x0d, 0xb8}};
            memcpy(a, pre[(i / 4) % 4], fam == GEO_FAMILY_IPV6 ? 4 : 2);
        }
        uint32_t v1 = geo_trie_lookup(&g2.trie, fam, a, &p1);
        uint32_t v2 = geo_trie_lookup_marked(&g.trie, fam, a, marks, &p2, &m2);
        same = list_of[v2] == v1 && m2 == p1;
        if (!same)
            printf("# at %02x%02x%02x%02x: relabelled %u/%u, marked %u/%u\n", a[0], a[1], a[2],
                   a[3], v1, p1, list_of[v2], m2);
    }
    uint8_t p3, m3;
    geo_trie_lookup_marked(&g.trie, GEO_FAMILY_IPV4, (const uint8_t *)"\x0a\x01\x02\x09", NULL, &p3,
                           &m3);
    TAP_CHECK(t, same && m3 == p3,
              "marks on the class trie give the relabelled prefixes in one walk (200000 "
              "addresses); no marks: the class prefix");
    free(marks);
    uint32_t zero[32] = {0};
    struct geo_merged g3 = {.n_classes = 1};
    geo_trie_relabel(&g.trie, zero, g.n_classes, &g3.trie);
    TAP_CHECK(t, g3.trie.n_nodes == 0 && at(&g3, "10.1.2.9", 0, 0) && at(&g3, "2001:db8::1", 0, 0),
              "one class everywhere: scope /0");
    geo_merged_free(&g3);
    geo_merged_free(&g2);
    geo_merged_free(&g);
    geo_map_free(m);
    errlist_free(&errs);
}

static void test_merged_country_and_nodb(struct tap *t, struct geo_db *country, struct map_ref *r)
{
    struct errlist errs;
    struct geo_map *m = parse(MAP1, &errs);
    r->m = m;
    struct geo_merged g;
    geo_map_compile(m, country, &g);
    check_map_trie(t, "MAP1 over geo-country", &g.trie, r);
    TAP_CHECK(t, at(&g, "192.0.2.65", 9, 26) && at(&g, "192.0.2.1", 3, 26),
              "Country layout: country keys still apply");
    geo_merged_free(&g);
    /* no database: network keys and the unknown class only */
    struct map_ref nodb = {.have_db = false, .m = m};
    geo_map_compile(m, NULL, &g);
    check_map_trie(t, "MAP1 without a database", &g.trie, &nodb);
    uint32_t unknown = geo_map_unknown_class(m);
    TAP_CHECK(t,
              at(&g, "10.1.2.9", 8, 29) && at(&g, "198.18.0.1", unknown, 6) &&
                  at(&g, "10.0.0.1", unknown, 16),
              "without a database: keys and unknown");
    geo_merged_free(&g);
    geo_map_free(m);
    errlist_free(&errs);
    m = parse("{\"network:0.0.0.0/0\": [\"n1\"], \"default\": [\"d\"]}", &errs);
    geo_map_compile(m, NULL, &g);
    TAP_CHECK(t, g.trie.n_nodes == 0 && at(&g, "192.0.2.1", 0, 0) && at(&g, "::1", 2, 0),
              "0.0.0.0/0 key: IPv4 one class /0, IPv6 unknown /0");
    geo_merged_free(&g);
    geo_map_free(m);
    errlist_free(&errs);
}

/* ---- nearest ---------------------------------------------------------------- */

static const struct geo_point NEAR_REGIONS[] = {
    {38.9, -77.0},  /* 0 us-east */
    {53.3, -6.3},   /* 1 eu-west */
    {35.7, 139.7},  /* 2 ap-ne */
    {-23.5, -46.6}, /* 3 sa-east */
};

struct near_ref {
    MMDB_s mmdb;
    const struct geo_nearest *n;
};

/* The reference class: the order by distance from libmaxminddb's
 * coordinates (sorted here by selection), found among the classes. */
static uint32_t ref_order(void *ctx, unsigned family, u128 a)
{
    struct near_ref *r = ctx;
    struct geo_location l;
    unsigned mask;
    gc_ref_location(&r->mmdb, family, a, &l, &mask);
    if (!(l.flags & GEO_HAS_COORDS))
        return GEO_NEAREST_NO_COORDS;
    uint16_t order[4];
    bool used[4] = {false};
    struct geo_point p = {l.lat, l.lon};
    for (int k = 0; k < 4; k++) {
        int best = -1;
        for (int i = 0; i < 4; i++)
            if (!used[i] && (best < 0 || geo_distance_km(p, NEAR_REGIONS[i]) <
                                             geo_distance_km(p, NEAR_REGIONS[best])))
                best = i;
        used[best] = true;
        order[k] = (uint16_t)best;
    }
    for (uint32_t c = 1; c < r->n->merged.n_classes; c++)
        if (memcmp(geo_nearest_order(r->n, c), order, sizeof(order)) == 0)
            return c;
    return GEO_VALUE_MAX;
}

static bool order_is(const struct geo_nearest *n, const char *ip, uint16_t a, uint16_t b,
                     uint16_t c, uint16_t d)
{
    uint8_t addr[16], scope;
    unsigned family = strchr(ip, ':') ? GEO_FAMILY_IPV6 : GEO_FAMILY_IPV4;
    inet_pton(family == GEO_FAMILY_IPV6 ? AF_INET6 : AF_INET, ip, addr);
    uint32_t cls = geo_merged_lookup(&n->merged, family, addr, &scope);
    const uint16_t *o = geo_nearest_order(n, cls);
    return cls != GEO_NEAREST_NO_COORDS && o[0] == a && o[1] == b && o[2] == c && o[3] == d;
}

static bool no_coords(const struct geo_nearest *n, const char *ip)
{
    uint8_t addr[16], scope;
    unsigned family = strchr(ip, ':') ? GEO_FAMILY_IPV6 : GEO_FAMILY_IPV4;
    inet_pton(family == GEO_FAMILY_IPV6 ? AF_INET6 : AF_INET, ip, addr);
    return geo_merged_lookup(&n->merged, family, addr, &scope) == GEO_NEAREST_NO_COORDS;
}

static void test_nearest(struct tap *t, struct geo_db *db, const char *path)
{
    struct geo_point london = {51.5074, -0.1278}, paris = {48.8566, 2.3522};
    struct geo_point sf = {37.7749, -122.4194}, ny = {40.7128, -74.0060};
    double d1 = geo_distance_km(london, paris), d2 = geo_distance_km(sf, ny);
    double d3 = geo_distance_km((struct geo_point){0, 0}, (struct geo_point){0, 180});
    TAP_CHECK(t,
              d1 > 343.0 && d1 < 344.1 && d2 > 4128.5 && d2 < 4129.6 && d3 > 20014.5 &&
                  d3 < 20015.7 && geo_distance_km(sf, sf) == 0.0,
              "haversine: London-Paris %.1f km, SF-NY %.1f km, half the equator %.1f km", d1, d2,
              d3);
    struct geo_nearest n;
    geo_nearest_compile(db, NEAR_REGIONS, 4, &n);
    TAP_CHECK(t, order_is(&n, "127.0.1.1", 1, 0, 2, 3), "Berlin: eu, us, ap, sa");
    TAP_CHECK(t, order_is(&n, "127.0.3.1", 2, 0, 3, 1), "Pago Pago: ap, us, sa, eu");
    TAP_CHECK(t, order_is(&n, "127.0.0.1", 0, 1, 2, 3),
              "San Francisco: us, eu, ap, sa (the configured order, still not no-coords)");
    TAP_CHECK(t, order_is(&n, "127.0.5.1", 3, 1, 0, 2), "Johannesburg: sa, eu, us, ap");
    TAP_CHECK(t, order_is(&n, "127.0.11.1", 3, 2, 0, 1), "McMurdo: sa, ap, us, eu");
    TAP_CHECK(t, order_is(&n, "127.0.12.1", 1, 0, 2, 3), "coordinates only (Helsinki): eu first");
    TAP_CHECK(t, order_is(&n, "2001:db8:1:2::1", 2, 0, 3, 1), "IPv6 Pago Pago");
    TAP_CHECK(t,
              no_coords(&n, "127.0.13.1") && no_coords(&n, "10.1.2.200") &&
                  no_coords(&n, "10.200.0.1"),
              "no coordinates: not in the database, country-level data, no fields");
    const uint16_t *o = geo_nearest_order(&n, GEO_NEAREST_NO_COORDS);
    TAP_CHECK(t, o[0] == 0 && o[1] == 1 && o[2] == 2 && o[3] == 3,
              "no-coords class keeps the configured order");
    struct near_ref r = {.n = &n};
    if (MMDB_open(path, MMDB_MODE_MMAP, &r.mmdb) == MMDB_SUCCESS) {
        for (unsigned family = GEO_FAMILY_IPV4; family <= GEO_FAMILY_IPV6; family++) {
            struct gc_segments s = {.family = family};
            gc_seg_networks(&s, &r.mmdb);
            gc_seg_finish(&s, ref_order, &r);
            struct gc_result res;
            gc_check_trie(&n.merged.trie, &s, &res);
            TAP_CHECK(t, gc_ok(&res),
                      "nearest IPv%u: %zu leaves, %u classes: not exact %zu, not maximal %zu, "
                      "lookups %zu wrong %s",
                      family == GEO_FAMILY_IPV4 ? 4 : 6, res.leaves, n.merged.n_classes,
                      res.inexact, res.not_maximal, res.bad_lookup, res.first);
            gc_seg_free(&s);
        }
        MMDB_close(&r.mmdb);
    }
    geo_nearest_free(&n);
    /* ties: two regions at one place keep their configured order */
    struct geo_point twins[2] = {{35.7, 139.7}, {35.7, 139.7}};
    geo_nearest_compile(db, twins, 2, &n);
    uint8_t a[16], scope;
    inet_pton(AF_INET, "127.0.1.1", a);
    uint32_t cls = geo_merged_lookup(&n.merged, GEO_FAMILY_IPV4, a, &scope);
    o = geo_nearest_order(&n, cls);
    TAP_CHECK(t, cls != GEO_NEAREST_NO_COORDS && o[0] == 0 && o[1] == 1,
              "equal distances: configured order");
    geo_nearest_free(&n);
    geo_nearest_compile(NULL, NEAR_REGIONS, 4, &n);
    TAP_CHECK(t, n.merged.n_classes == 1 && no_coords(&n, "127.0.1.1"),
              "no database: everyone without coordinates");
    geo_nearest_free(&n);
}

/* asn keys over geo-asn.mmdb laid on geo-city.mmdb: the merged trie is
 * exact and maximal against both databases read by libmaxminddb, and an
 * ASN network cutting a City network gets its own scope. */
static void test_merged_asn(struct tap *t, const char *city, const char *asnfile)
{
    char err[256] = "";
    struct geo_db *db = geo_db_overlay(geo_db_open(city, err, sizeof(err)),
                                       geo_db_open(asnfile, err, sizeof(err)), err, sizeof(err));
    struct map_ref r = {.have_db = true, .have_asn = true};
    if (!TAP_CHECK(t,
                   db && MMDB_open(city, MMDB_MODE_MMAP, &r.mmdb) == MMDB_SUCCESS &&
                       MMDB_open(asnfile, MMDB_MODE_MMAP, &r.asn) == MMDB_SUCCESS,
                   "city + asn overlay opens (%s)", err)) {
        geo_db_free(db);
        return;
    }
    struct errlist errs;
    struct geo_map *m = parse("{\"asn:64501\": [\"ap\"], \"asn:64502\": [\"n1\"],"
                              " \"asn:4200000000\": [\"n2\"], \"country:JP\": [\"asia\"],"
                              " \"continent:NA\": [\"us\"], \"network:127.0.20.128/25\": [\"n3\"],"
                              " \"default\": [\"d\"]}",
                              &errs);
    if (TAP_CHECK(t, m != NULL, "asn map parses")) {
        struct geo_merged g;
        geo_map_compile(m, db, &g);
        r.m = m;
        check_map_trie(t, "asn map", &g.trie, &r);
        TAP_CHECK(t, at(&g, "127.0.2.200", 0, 25), "127.0.2.200 (JP, AS64501): asn key, /25");
        TAP_CHECK(t, at(&g, "127.0.2.20", 3, 25), "127.0.2.20 (JP, no ASN): country:JP, /25");
        TAP_CHECK(t, at(&g, "127.0.20.9", 1, 25),
                  "127.0.20.9 (AS64502, no location): asn key, /25 (the network key's sibling)");
        TAP_CHECK(t, at(&g, "127.0.20.200", 5, 25), "127.0.20.200: the network key wins");
        TAP_CHECK(t, at(&g, "127.0.21.1", geo_map_unknown_class(m), 24),
                  "127.0.21.1 (AS64503 only): unknown, /24");
        TAP_CHECK(t, at(&g, "2001:db8:3::1", 2, 47),
                  "2001:db8:3::1: a 4-byte ASN key over two City /48s: /47");
        geo_merged_free(&g);
    }
    geo_map_free(m);
    errlist_free(&errs);
    MMDB_close(&r.mmdb);
    MMDB_close(&r.asn);
    geo_db_free(db);
}

int main(void)
{
    struct tap t = {0};
    test_parse_errors(&t);
    test_parse_ok(&t);
    test_class_of_location(&t);
    char city[512], country[512], err[256] = "";
    snprintf(city, sizeof(city), "%s/tests/data/geo-city.mmdb", srcdir());
    snprintf(country, sizeof(country), "%s/tests/data/geo-country.mmdb", srcdir());
    struct geo_db *db = geo_db_open(city, err, sizeof(err));
    struct map_ref r = {.have_db = true};
    if (TAP_CHECK(&t, db && MMDB_open(city, MMDB_MODE_MMAP, &r.mmdb) == MMDB_SUCCESS,
                  "geo-city.mmdb opens (%s)", err)) {
        test_merged_city(&t, db, &r);
        test_nearest(&t, db, city);
        MMDB_close(&r.mmdb);
    }
    geo_db_free(db);
    db = geo_db_open(country, err, sizeof(err));
    if (TAP_CHECK(&t, db && MMDB_open(country, MMDB_MODE_MMAP, &r.mmdb) == MMDB_SUCCESS,
                  "geo-country.mmdb opens (%s)", err)) {
        test_merged_country_and_nodb(&t, db, &r);
        MMDB_close(&r.mmdb);
    }
    geo_db_free(db);
    char asnfile[512];
    snprintf(asnfile, sizeof(asnfile), "%s/tests/data/geo-asn.mmdb", srcdir());
    test_merged_asn(&t, city, asnfile);
    return tap_done(&t);
}
