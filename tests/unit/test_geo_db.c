/* Unit tests for src/geo/geo_db (and geo_trie): flattening the MaxMind DB
 * files of tests/data (made by tests/data/make_geo_db.pl), checked against
 * libmaxminddb's own lookups over every network of every file, and the
 * errors for files that cannot be used. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "geo/geo_db.h"
#include "geo/geo_overlay.h"
#include "geo/geo_trie.h"
#include "geo_check.h"
#include "tap.h"

static const char *srcdir(void)
{
    const char *s = getenv("SRCDIR");
    return s ? s : ".";
}

static void data_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/tests/data/%s", srcdir(), name);
}

struct ref_ctx {
    MMDB_s mmdb;
    const struct geo_db *db;
};

/* The reference value of an address: the index in db's table of the
 * location libmaxminddb gives, or a value no leaf has when the table lacks
 * it. */
static uint32_t ref_loc_index(void *ctx, unsigned family, u128 a)
{
    struct ref_ctx *c = ctx;
    struct geo_location l;
    unsigned m;
    gc_ref_location(&c->mmdb, family, a, &l, &m);
    for (uint32_t i = 0; i < c->db->n_locs; i++)
        if (memcmp(&c->db->locs[i], &l, sizeof(l)) == 0)
            return i;
    return GEO_VALUE_MAX;
}

/* Every leaf of both roots against libmaxminddb: exact, maximal, and
 * geo_db_lookup agrees at the first, last and a random address. */
static void check_against_mmdb(struct tap *t, const char *name, const struct geo_db *db)
{
    char path[512];
    data_path(path, sizeof(path), name);
    struct ref_ctx c = {.db = db};
    if (!TAP_CHECK(t, MMDB_open(path, MMDB_MODE_MMAP, &c.mmdb) == MMDB_SUCCESS,
                   "%s: libmaxminddb opens it", name))
        return;
    for (unsigned family = GEO_FAMILY_IPV4; family <= GEO_FAMILY_IPV6; family++) {
        struct gc_segments s = {.family = family};
        gc_seg_networks(&s, &c.mmdb);
        gc_seg_finish(&s, ref_loc_index, &c);
        struct gc_result r;
        gc_check_trie(&db->trie, &s, &r);
        TAP_CHECK(t, gc_ok(&r),
                  "%s IPv%u: %zu leaves over %zu database networks: exact %zu, maximal %zu, "
                  "lookups %zu wrong %s",
                  name, family == GEO_FAMILY_IPV4 ? 4 : 6, r.leaves, s.n, r.inexact, r.not_maximal,
                  r.bad_lookup, r.first);
        gc_seg_free(&s);
    }
    MMDB_close(&c.mmdb);
}

static const struct geo_location *look(const struct geo_db *db, const char *ip, uint8_t *prefix)
{
    uint8_t a[16];
    unsigned family = strchr(ip, ':') ? GEO_FAMILY_IPV6 : GEO_FAMILY_IPV4;
    inet_pton(family == GEO_FAMILY_IPV6 ? AF_INET6 : AF_INET, ip, a);
    return geo_db_lookup(db, family, a, prefix);
}

static bool is_at(const struct geo_db *db, const char *ip, const char *country, unsigned prefix)
{
    uint8_t p;
    const struct geo_location *l = look(db, ip, &p);
    return strcmp(l->country, country) == 0 && p == prefix;
}

static struct geo_db *open_data(const char *name, char *err, size_t errlen)
{
    char path[512];
    data_path(path, sizeof(path), name);
    return geo_db_open(path, err, errlen);
}

static void test_city(struct tap *t)
{
    char err[256] = "";
    struct geo_db *db = open_data("geo-city.mmdb", err, sizeof(err));
    if (!TAP_CHECK(t, db != NULL, "geo-city.mmdb opens (%s)", err))
        return;
    TAP_CHECK(t, db->ip_version == 6 && strcmp(db->type, "GeoIP2-City") == 0,
              "metadata: IPv6 tree, GeoIP2-City");
    check_against_mmdb(t, "geo-city.mmdb", db);
    uint8_t p;
    const struct geo_location *l = look(db, "10.1.2.5", &p);
    TAP_CHECK(t,
              strcmp(l->continent, "OC") == 0 && strcmp(l->country, "AS") == 0 &&
                  !(l->flags & GEO_HAS_SUBDIVISION) && (l->flags & GEO_HAS_COORDS) &&
                  l->lat < -14.27 && l->lat > -14.28 && p == 30,
              "10.1.2.5: American Samoa (continent OC, country AS), /30");
    l = look(db, "192.0.2.65", &p);
    TAP_CHECK(t, strcmp(l->country, "US") == 0 && strcmp(l->subdivision, "CA") == 0 && p == 27,
              "192.0.2.65: US-CA, /27");
    TAP_CHECK(t, is_at(db, "10.1.2.9", "JP", 32), "nested /32 inside a /30's neighbour");
    TAP_CHECK(t, is_at(db, "10.1.2.200", "SE", 25), "nested /25");
    l = look(db, "10.1.2.200", &p);
    TAP_CHECK(t, l->flags == (GEO_HAS_CONTINENT | GEO_HAS_COUNTRY),
              "country-level data: no coords");
    /* 198.51.100.128/28 repeats its /24's data: merged with its neighbours */
    TAP_CHECK(t, is_at(db, "198.51.100.130", "IN", 25), "equal neighbours merge into a /25");
    l = look(db, "10.200.0.1", &p);
    TAP_CHECK(t, l->flags == 0 && p == 14, "data without used fields: unknown location, /14");
    l = look(db, "127.0.13.1", &p);
    TAP_CHECK(t, l == &db->locs[GEO_LOC_UNKNOWN], "not in the database: unknown location");
    l = look(db, "127.0.12.1", &p);
    TAP_CHECK(t, l->flags == GEO_HAS_COORDS && l->lat > 60, "coordinates only");
    /* the aliases of the IPv4 subtree */
    TAP_CHECK(t, is_at(db, "::ffff:10.1.2.9", "JP", 128), "::ffff:0:0/96 aliases IPv4");
    TAP_CHECK(t, is_at(db, "2002:a01:209::", "JP", 48), "2002::/16 (6to4) aliases IPv4");
    TAP_CHECK(t, is_at(db, "2001:0:a01:209::", "JP", 64), "2001::/32 (Teredo) aliases IPv4");
    TAP_CHECK(t, is_at(db, "::10.1.2.9", "JP", 128), "::/96 holds IPv4");
    TAP_CHECK(t, db->stats.alias_hits >= 3, "aliased subtree walked once (%llu hits)",
              (unsigned long long)db->stats.alias_hits);
    TAP_CHECK(t, is_at(db, "2001:db8:8000:1::1", "AQ", 128) && is_at(db, "::1", "US", 128),
              "IPv6 /128s");
    TAP_CHECK(t, is_at(db, "2001:db8:1:2::77", "AS", 64), "IPv6 /64");
    TAP_CHECK(t, db->stats.networks > 40 && db->stats.records > 20 && geo_db_bytes(db) > 0,
              "stats: %llu networks, %llu records, %u locations, %zu bytes",
              (unsigned long long)db->stats.networks, (unsigned long long)db->stats.records,
              db->n_locs, geo_db_bytes(db));
    geo_db_free(db);
}

static void test_country_and_dbip(struct tap *t)
{
    char err[256] = "";
    struct geo_db *db = open_data("geo-country.mmdb", err, sizeof(err));
    if (TAP_CHECK(t, db != NULL, "geo-country.mmdb opens (%s)", err)) {
        check_against_mmdb(t, "geo-country.mmdb", db);
        uint8_t p;
        const struct geo_location *l = look(db, "10.1.2.5", &p);
        TAP_CHECK(
            t, strcmp(l->country, "AS") == 0 && l->flags == (GEO_HAS_CONTINENT | GEO_HAS_COUNTRY),
            "Country layout: continent and country, nothing else");
        l = look(db, "::ffff:10.1.2.5", &p);
        TAP_CHECK(t, l->flags == 0 && db->stats.alias_hits == 0,
                  "no aliases in this tree: ::ffff:10.1.2.5 unknown");
        geo_db_free(db);
    }
    db = open_data("geo-dbip.mmdb", err, sizeof(err));
    if (TAP_CHECK(t, db != NULL, "geo-dbip.mmdb opens (%s)", err)) {
        check_against_mmdb(t, "geo-dbip.mmdb", db);
        uint8_t p;
        const struct geo_location *l = look(db, "127.0.1.1", &p);
        TAP_CHECK(t,
                  db->ip_version == 4 && strcmp(l->country, "DE") == 0 &&
                      !(l->flags & GEO_HAS_SUBDIVISION) && (l->flags & GEO_HAS_COORDS),
                  "DB-IP layout: subdivision names without iso_code are no subdivision");
        l = look(db, "2001:db8::1", &p);
        TAP_CHECK(t, l->flags == 0 && p == 0, "IPv4-only database: IPv6 unknown, scope /0");
        geo_db_free(db);
    }
}

/* Writes len bytes to dir/name; returns the path in buf. */
static void write_file(char *buf, size_t blen, const char *dir, const char *name, const void *data,
                       size_t len)
{
    snprintf(buf, blen, "%s/%s", dir, name);
    FILE *f = fopen(buf, "wb");
    if (!f)
        abort();
    fwrite(data, 1, len, f);
    fclose(f);
}

static uint8_t *read_data(const char *name, size_t *len)
{
    char path[512];
    data_path(path, sizeof(path), name);
    FILE *f = fopen(path, "rb");
    if (!f)
        abort();
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc(*len);
    if (!d || fread(d, 1, *len, f) != *len)
        abort();
    fclose(f);
    return d;
}

static bool open_fails(const char *path, const char *want, char *err, size_t errlen)
{
    err[0] = 0;
    struct geo_db *db = geo_db_open(path, err, errlen);
    geo_db_free(db);
    return db == NULL && strstr(err, want) != NULL;
}

static void test_errors(struct tap *t)
{
    char err[256], path[512], dir[] = "/tmp/gtm-geo-test.XXXXXX";
    if (!mkdtemp(dir))
        abort();
    data_path(path, sizeof(path), "geo-nofields.mmdb");
    TAP_CHECK(t, open_fails(path, "no record has any field gtmd uses", err, sizeof(err)),
              "database without used fields: %s", err);
    data_path(path, sizeof(path), "does-not-exist.mmdb");
    TAP_CHECK(t, open_fails(path, "cannot open", err, sizeof(err)), "missing file: %s", err);
    write_file(path, sizeof(path), dir, "empty.mmdb", "", 0);
    TAP_CHECK(t, open_fails(path, "cannot open", err, sizeof(err)), "empty file: %s", err);
    /* A FIFO would block libmaxminddb's open() (and so a load or reload)
     * forever: refused before. alarm() ends the test if it ever blocks. */
    snprintf(path, sizeof(path), "%s/fifo.mmdb", dir);
    bool made = mkfifo(path, 0600) == 0;
    alarm(10);
    TAP_CHECK(t, made && open_fails(path, "not a regular file", err, sizeof(err)), "a FIFO: %s",
              err);
    alarm(0);
    unlink(path);
    TAP_CHECK(t, open_fails(dir, "not a regular file", err, sizeof(err)), "a directory: %s", err);
    uint8_t junk[4096];
    uint64_t s = 42;
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)gc_rand(&s);
    write_file(path, sizeof(path), dir, "junk.mmdb", junk, sizeof(junk));
    TAP_CHECK(t, open_fails(path, "cannot open", err, sizeof(err)), "random bytes: %s", err);
    size_t len;
    uint8_t *d = read_data("geo-city.mmdb", &len);
    write_file(path, sizeof(path), dir, "half.mmdb", d, len / 2);
    TAP_CHECK(t, open_fails(path, "cannot open", err, sizeof(err)), "truncated file: %s", err);
    /* Record size 28: node N is octets 7N..7N+6, its left record the first
     * three and the high nibble of the fourth. Node 0's left child becomes
     * node 1, whose left child is node 1 itself (libmaxminddb refuses a
     * record of 0, the root, by itself). */
    uint8_t *loop = malloc(len);
    memcpy(loop, d, len);
    for (size_t n = 0; n < 2; n++) {
        loop[7 * n] = loop[7 * n + 1] = 0;
        loop[7 * n + 2] = 1;
        loop[7 * n + 3] &= 0x0f;
    }
    write_file(path, sizeof(path), dir, "loop.mmdb", loop, len);
    TAP_CHECK(t, open_fails(path, "corrupt search tree: deeper than 128 bits", err, sizeof(err)),
              "search tree with a cycle: %s", err);
    /* node 0's right record far past the end of the file */
    memcpy(loop, d, len);
    loop[3] = (uint8_t)((loop[3] & 0xf0) | 0x0f);
    loop[4] = loop[5] = loop[6] = 0xff;
    write_file(path, sizeof(path), dir, "wild.mmdb", loop, len);
    TAP_CHECK(t, open_fails(path, "corrupt", err, sizeof(err)), "record outside the file: %s", err);
    free(loop);
    free(d);
    const char *names[] = {"empty.mmdb", "junk.mmdb", "half.mmdb", "loop.mmdb", "wild.mmdb"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void test_sockaddr(struct tap *t)
{
    struct sockaddr_storage ss;
    uint8_t a[16];
    unsigned fam = 0;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:192.0.2.7", &s6->sin6_addr);
    TAP_CHECK(t,
              geo_addr_from_sockaddr(&ss, &fam, a) && fam == GEO_FAMILY_IPV4 && a[0] == 192 &&
                  a[3] == 7 && a[4] == 0,
              "IPv4-mapped IPv6 client looked up as IPv4");
    inet_pton(AF_INET6, "2001:db8::7", &s6->sin6_addr);
    TAP_CHECK(t,
              geo_addr_from_sockaddr(&ss, &fam, a) && fam == GEO_FAMILY_IPV6 && a[0] == 0x20 &&
                  a[15] == 7,
              "IPv6 client");
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    memset(&ss, 0, sizeof(ss));
    s4->sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &s4->sin_addr);
    TAP_CHECK(t, geo_addr_from_sockaddr(&ss, &fam, a) && fam == GEO_FAMILY_IPV4 && a[0] == 127,
              "IPv4 client");
    ss.ss_family = AF_UNIX;
    TAP_CHECK(t, !geo_addr_from_sockaddr(&ss, &fam, a), "other families refused");
}

/* The sample networks: each is a network of the database with its own
 * location (looked up, it gets exactly that network and location), no
 * two share a location, and IPv4 comes first, lowest address first. */
static void test_samples(struct tap *t)
{
    char err[256] = "";
    struct geo_db *db = open_data("geo-city.mmdb", err, sizeof(err));
    if (!TAP_CHECK(t, db != NULL, "geo-city.mmdb opens (%s)", err))
        return;
    TAP_CHECK(t, db->n_samples == GEO_DB_SAMPLES, "%zu samples", db->n_samples);
    bool exact = true, distinct = true, za = false;
    for (size_t i = 0; i < db->n_samples; i++) {
        const struct geo_db_sample *s = &db->samples[i];
        uint8_t p;
        const struct geo_location *l = geo_db_lookup(db, s->family, s->addr, &p);
        exact = exact && l == &db->locs[s->loc] && p == s->prefix && s->loc != GEO_LOC_UNKNOWN;
        for (size_t k = 0; k < i; k++)
            distinct = distinct && db->samples[k].loc != s->loc;
        za = za || (s->family == GEO_FAMILY_IPV4 && memcmp(s->addr, "\x7f\x00\x05\x00", 4) == 0 &&
                    s->prefix == 24 && strcmp(l->country, "ZA") == 0);
    }
    TAP_CHECK(t, exact, "every sample looks up to its own network and location");
    TAP_CHECK(t, distinct, "no two samples share a location");
    TAP_CHECK(t, za, "127.0.5.0/24 (ZA) is a sample");
    TAP_CHECK(
        t, db->samples[0].family == GEO_FAMILY_IPV4 && memcmp(db->samples[1].addr, "\x0a", 1) == 0,
        "IPv4 first, lowest address first");
    geo_db_free(db);
}

struct overlay_ref {
    MMDB_s city, asn;
    const struct geo_db *db;
};

/* The reference of the overlay: the City database's location with the
 * ASN database's number, as its index in db's table. */
static uint32_t ref_overlay_index(void *ctx, unsigned family, u128 a)
{
    struct overlay_ref *c = ctx;
    struct geo_location l, n;
    unsigned m;
    gc_ref_location(&c->city, family, a, &l, &m);
    gc_ref_location(&c->asn, family, a, &n, &m);
    l.asn = n.asn;
    l.flags |= n.flags & GEO_HAS_ASN;
    for (uint32_t i = 0; i < c->db->n_locs; i++)
        if (memcmp(&c->db->locs[i], &l, sizeof(l)) == 0)
            return i;
    return GEO_VALUE_MAX;
}

/* geo-asn.mmdb laid over geo-city.mmdb: every leaf of the product holds
 * exactly the pair both databases give there, and is maximal (the ECS
 * scopes built on it stay exact). */
static void test_overlay(struct tap *t)
{
    char err[256] = "", path[512];
    struct geo_db *asn = open_data("geo-asn.mmdb", err, sizeof(err));
    if (!TAP_CHECK(t, asn != NULL, "geo-asn.mmdb opens on its own (%s)", err))
        return;
    TAP_CHECK(t, asn->stats.with_field[4] == asn->stats.records && asn->stats.with_field[0] == 0,
              "its %llu records have an ASN and no location",
              (unsigned long long)asn->stats.records);
    uint8_t p;
    TAP_CHECK(t, look(asn, "127.0.20.9", &p)->asn == 64502 && p == 24, "ASN lookup: 127.0.20.9");
    TAP_CHECK(t, look(asn, "2001:db8:3::1", &p)->asn == 4200000000u, "a 4-byte ASN over IPv6");
    struct geo_db *city = open_data("geo-city.mmdb", err, sizeof(err));
    struct geo_db *db = geo_db_overlay(city, asn, err, sizeof(err));
    if (!TAP_CHECK(t, db != NULL, "overlay builds (%s)", err))
        return;
    struct overlay_ref c = {.db = db};
    data_path(path, sizeof(path), "geo-city.mmdb");
    bool ok = MMDB_open(path, MMDB_MODE_MMAP, &c.city) == MMDB_SUCCESS;
    data_path(path, sizeof(path), "geo-asn.mmdb");
    ok = ok && MMDB_open(path, MMDB_MODE_MMAP, &c.asn) == MMDB_SUCCESS;
    for (unsigned family = GEO_FAMILY_IPV4; ok && family <= GEO_FAMILY_IPV6; family++) {
        struct gc_segments s = {.family = family};
        gc_seg_networks(&s, &c.city);
        gc_seg_networks(&s, &c.asn);
        gc_seg_finish(&s, ref_overlay_index, &c);
        struct gc_result r;
        gc_check_trie(&db->trie, &s, &r);
        TAP_CHECK(t, gc_ok(&r),
                  "overlay IPv%u: %zu leaves over %zu segments: exact %zu, maximal %zu, lookups "
                  "%zu wrong %s",
                  family == GEO_FAMILY_IPV4 ? 4 : 6, r.leaves, s.n, r.inexact, r.not_maximal,
                  r.bad_lookup, r.first);
        gc_seg_free(&s);
    }
    const struct geo_location *l = look(db, "127.0.1.7", &p);
    TAP_CHECK(t, l->asn == 64500 && strcmp(l->country, "DE") == 0 && p == 24,
              "127.0.1.7: DE in AS64500, /24 (the City network inside the ASN's /23)");
    l = look(db, "127.0.2.200", &p);
    TAP_CHECK(t, l->asn == 64501 && strcmp(l->country, "JP") == 0 && p == 25,
              "127.0.2.200: JP in AS64501, /25 (the ASN network inside the City /24)");
    l = look(db, "127.0.20.1", &p);
    TAP_CHECK(t, l->asn == 64502 && !(l->flags & GEO_HAS_COUNTRY), "127.0.20.1: an ASN only");
    TAP_CHECK(t,
              db->asn_path && strstr(db->asn_path, "geo-asn.mmdb") && db->asn_networks > 0 &&
                  strcmp(db->type, "GeoIP2-City") == 0,
              "metadata: the City database's, with the ASN file named");
    MMDB_close(&c.city);
    MMDB_close(&c.asn);
    geo_db_free(db);
    city = open_data("geo-city.mmdb", err, sizeof(err));
    struct geo_db *nf = open_data("geo-country.mmdb", err, sizeof(err));
    err[0] = 0;
    TAP_CHECK(t, geo_db_overlay(city, nf, err, sizeof(err)) == NULL && strstr(err, "ASN database"),
              "a database without ASNs as asn_database is refused: %s", err);
}

int main(void)
{
    struct tap t = {0};
    test_city(&t);
    test_samples(&t);
    test_country_and_dbip(&t);
    test_errors(&t);
    test_sockaddr(&t);
    test_overlay(&t);
    return tap_done(&t);
}
