/* Unit tests for src/zone/zone_fast.c: the fast master-file scanner gives
 * exactly the records ldns gives, line by line and for whole files (with
 * $ORIGIN, $TTL, $INCLUDE, parentheses, quotes, escapes, relative names, @,
 * blank owners, class and TTL in either order, comments), and a load with
 * it reports exactly the errors a load with ldns alone reports. */
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errlist.h"
#include "dns/dns.h"
#include "tap.h"
#include "zone/zone_fast.h"
#include "zone/zone_load.h"

/* Lines the scanner must take itself (the common forms of the types it
 * knows): a scanner that gave everything to ldns would pass the
 * comparisons and be useless. */
static const char *const fast_must_take[] = {
    "www 300 IN A 192.0.2.1",
    "www IN A 192.0.2.1",
    "www 300 A 192.0.2.1",
    "www A 192.0.2.1",
    "www.example.org. 60 in a 192.0.2.1",
    "@ IN A 192.0.2.1",
    "  IN A 192.0.2.2",
    "\t300 IN AAAA 2001:db8::1",
    "v6 IN AAAA ::ffff:192.0.2.1",
    "v6 IN AAAA 2001:DB8:0:0:0:0:0:1",
    "Mixed.Case IN CNAME Target.Example.NET.",
    "alias IN CNAME web",
    "alias IN CNAME @",
    "@ IN NS ns1",
    "@ IN NS ns1.example.net.",
    "sub IN NS .",
    "1.2 IN PTR host.example.org.",
    "@ IN MX 10 mail",
    "@ IN MX 0 .",
    "@ IN MX 65535 mail.example.net.",
    "@ IN MX 010 mail",
    "t IN TXT \"v=spf1 mx -all\"",
    "t IN TXT \"a\" \"b c\" \"d;e\"",
    "t IN TXT \"with ; semicolon\" ; and a comment",
    "t IN TXT \"a(b\" \"x)y\"",
    "_sip._tcp IN CNAME sip",
    "*.wild IN A 192.0.2.9",
    "a-b_c/d 0 IN A 192.0.2.1",
    "www 2147483647 IN A 192.0.2.1",
    "www IN A 192.0.2.1 ; comment",
    "www IN A 192.0.2.1;comment",
    "0 IN A 192.0.2.1",
    "",
    "   ",
    "; only a comment",
    "   ; an indented comment",
};

/* Lines it may take or leave: whatever it takes must equal ldns. */
static const char *const fast_maybe[] = {
    "www IN 300 A 192.0.2.1",
    "www in 300 a 192.0.2.1",
    "www CH A 192.0.2.1",
    "www 1h IN A 192.0.2.1",
    "www 4294967296 IN A 192.0.2.1",
    "www 2147483648 IN A 192.0.2.1",
    "www 99999999999 IN A 192.0.2.1",
    "www IN A 192.0.2",
    "www IN A 192.0.2.256",
    "www IN A 192.0.2.1 192.0.2.2",
    "www IN A",
    "www IN AAAA 192.0.2.1",
    "www IN AAAA 2001:db8::1::2",
    "www IN MX 65536 mail",
    "www IN MX -1 mail",
    "www IN MX mail",
    "www IN MX 10",
    "www IN TXT unquoted words",
    "www IN TXT \"\"",
    "www IN TXT \"a\"\"b\"",
    "www IN TXT \"unclosed",
    "www IN TXT \"esc\\\"aped\"",
    "www IN TXT \"\\065\"",
    "www IN TXT",
    "w\\.w IN A 192.0.2.1",
    "w\\065w IN A 192.0.2.1",
    "www IN CNAME a..b",
    "www IN CNAME .a",
    "www..x IN A 192.0.2.1",
    "www IN ( A 192.0.2.1 )",
    "www IN A ( 192.0.2.1 )",
    "www IN TYPE1 \\# 4 c0000201",
    "www IN SRV 0 0 5060 sip",
    "www IN SOA a. b. 1 2 3 4 5",
    "$TTL 60",
    "$ORIGIN example.net.",
    "www IN A 192.0.2.1\r",
    "www IN NS @",
    "www\tIN\tA\t192.0.2.1",
    "W IN A 192.0.2.1",
    "x.y.z IN CNAME " /* a long relative name, over 255 with the origin */
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "long IN CNAME "
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.org.",
    "www IN A 192.0.2.1 \"q\"",
    "\"www\" IN A 192.0.2.1",
    "www IN \"A\" 192.0.2.1",
    "www \"300\" IN A 192.0.2.1",
    "www IN MX \"10\" mail",
};

/* ldns's record for line in wire form (owner, type, TTL, RDATA), with the
 * state the scanner was given; false when ldns refuses the line. */
static bool fast_ldns_rr(const struct zone_fast_state *st, const char *line, struct zone_fast_rr *o)
{
    ldns_rdf *origin = ldns_dname_new_frm_data(st->origin_len, st->origin);
    ldns_rdf *prev = st->prev_len ? ldns_dname_new_frm_data(st->prev_len, st->prev) : NULL;
    ldns_rr *rr = NULL;
    ldns_status s = ldns_rr_new_frm_str(&rr, line, st->default_ttl, origin, &prev);
    bool ok = s == LDNS_STATUS_OK && rr;
    if (ok) {
        ldns_buffer *b = ldns_buffer_new(4096);
        const ldns_rdf *owner = ldns_rr_owner(rr);
        o->owner_len = (uint8_t)ldns_rdf_size(owner);
        memcpy(o->owner, ldns_rdf_data(owner), o->owner_len);
        o->type = (uint16_t)ldns_rr_get_type(rr);
        o->ttl = ldns_rr_ttl(rr);
        ok = ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
             ldns_rr_rdata2buffer_wire(b, rr) == LDNS_STATUS_OK &&
             ldns_buffer_position(b) <= sizeof(o->rdata);
        if (ok) {
            o->rdlen = (uint16_t)ldns_buffer_position(b);
            memcpy(o->rdata, ldns_buffer_begin(b), o->rdlen);
        }
        ldns_buffer_free(b);
        ldns_rr_free(rr);
    }
    ldns_rdf_deep_free(origin);
    if (prev)
        ldns_rdf_deep_free(prev);
    return ok;
}

static bool fast_same(const struct zone_fast_rr *a, const struct zone_fast_rr *b)
{
    return a->owner_len == b->owner_len && memcmp(a->owner, b->owner, a->owner_len) == 0 &&
           a->type == b->type && a->ttl == b->ttl && a->rdlen == b->rdlen &&
           memcmp(a->rdata, b->rdata, a->rdlen) == 0;
}

/* One line under three $TTL defaults (0: ldns's own 3600). */
static size_t fast_compare_line(struct tap *t, const char *line, bool must_take)
{
    static const uint32_t ttls[] = {3600, 0, 86400};
    static struct zone_fast_rr mine, theirs;
    size_t taken = 0;
    for (size_t k = 0; k < 3; k++) {
        struct zone_fast_state st = {.default_ttl = ttls[k]};
        static const uint8_t org[] = "\7example\3org";
        static const uint8_t prv[] = "\4prev\7example\3org";
        memcpy(st.origin, org, sizeof(org));
        st.origin_len = sizeof(org);
        memcpy(st.prev, prv, sizeof(prv));
        st.prev_len = sizeof(prv);
        enum zone_fast_result r = zone_fast_parse(&st, line, strlen(line), &mine);
        if (r == ZONE_FAST_RECORD) {
            taken++;
            bool ldns_ok = fast_ldns_rr(&st, line, &theirs);
            TAP_CHECK(t, ldns_ok && fast_same(&mine, &theirs),
                      "\"%s\" ($TTL %u): the scanner's record is ldns's", line, ttls[k]);
        } else if (r == ZONE_FAST_EMPTY) {
            taken++;
            ldns_rr *rr = NULL;
            ldns_status s = ldns_rr_new_frm_str(&rr, line, ttls[k], NULL, NULL);
            TAP_CHECK(t, s != LDNS_STATUS_OK, "\"%s\": no record for the scanner, none for ldns",
                      line);
            ldns_rr_free(rr);
        }
    }
    if (must_take)
        TAP_CHECK(t, taken == 3, "\"%s\" is taken by the scanner", line);
    return taken;
}

static void test_lines(struct tap *t)
{
    for (size_t i = 0; i < sizeof(fast_must_take) / sizeof(fast_must_take[0]); i++)
        fast_compare_line(t, fast_must_take[i], true);
    size_t left = 0;
    for (size_t i = 0; i < sizeof(fast_maybe) / sizeof(fast_maybe[0]); i++)
        left += fast_compare_line(t, fast_maybe[i], false) == 0;
    TAP_CHECK(t, left >= 30, "the odd lines go to ldns (%zu of %zu)", left,
              sizeof(fast_maybe) / sizeof(fast_maybe[0]));
}

static char fast_dir[64];

static void fast_write(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", fast_dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) == EOF || fclose(f) != 0)
        abort();
}

/* Loads name both ways; checks the zones (or the absence of one) and the
 * messages are the same. want_errors: whether the file has errors. */
static void fast_compare_file(struct tap *t, const char *name, bool want_errors)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", fast_dir, name);
    struct errlist ef, el;
    errlist_init(&ef);
    errlist_init(&el);
    struct zone *zf = zone_load_parser("example.org.", path, name, NULL, 0, true, &ef);
    struct zone *zl = zone_load_parser("example.org.", path, name, NULL, 0, false, &el);
    bool same_errors = ef.count == el.count;
    for (size_t i = 0; same_errors && i < ef.count; i++)
        same_errors = strcmp(ef.msgs[i], el.msgs[i]) == 0;
    for (size_t i = 0; !same_errors && i < ef.count; i++)
        printf("# fast: %s\n", ef.msgs[i]);
    for (size_t i = 0; !same_errors && i < el.count; i++)
        printf("# ldns: %s\n", el.msgs[i]);
    for (size_t i = 0; same_errors && !want_errors && i < ef.count; i++)
        printf("# unexpected: %s\n", ef.msgs[i]);
    TAP_CHECK(t, same_errors && (ef.count > 0) == want_errors,
              "%s: the same %zu messages both ways", name, el.count);
    TAP_CHECK(t, (zf == NULL) == (zl == NULL) && (!zf || zone_records_equal(zf, zl)),
              "%s: the same zone both ways", name);
    zone_free(zf);
    zone_free(zl);
    errlist_free(&ef);
    errlist_free(&el);
}

static const char fast_corpus[] =
    "; tricky master-file syntax, loaded with and without the scanner\n"
    "$ORIGIN example.org.\n"
    "$TTL 300\n"
    "@ IN SOA ns1 hostmaster ( 2026112501 ; serial\n"
    "        3600 600 1209600 300 )\n"
    "@ IN NS ns1\n"
    "  IN NS ns2.example.net.\n"
    "@ 60 IN MX 10 mail\n"
    "@ 60 in mx 20 mail2\n"
    "ns1 A 192.0.2.53\n"
    "mail IN A 192.0.2.25\n"
    "       AAAA 2001:db8::25\n"
    "mail2 60 A 192.0.2.26\n"
    "\t\t120 TXT \"blank owner, no class\"\n"
    "www IN A 192.0.2.1 ; a comment\n"
    "    IN A 192.0.2.2\n"
    "Www.Example.Org. IN AAAA 2001:db8::1\n"
    "txt IN TXT \"a b\" \"c;d\" ; comment\n"
    "    IN TXT unquoted words here\n"
    "    IN TXT \"esc\\\"aped\" \"\\065\\066\"\n"
    "    IN TXT ( \"multi\"\n"
    "             \"line\" )\n"
    "esc\\.dot IN A 192.0.2.3\n"
    "\\065bc IN A 192.0.2.4\n"
    "paren IN A (\n"
    "  192.0.2.5 )\n"
    "popen IN TXT \"a(b\" ; a parenthesis inside quotes\n"
    "pclose IN TXT \"x)y\" \"(\"\n"
    "after-paren IN A 192.0.2.30\n"
    "alias IN CNAME www\n"
    "alias2 IN CNAME @\n"
    "*.wild IN A 192.0.2.9\n"
    "srv._tcp IN SRV 0 5 5060 www\n"
    "ptr IN PTR www.example.org.\n"
    "ttl1h 1h IN A 192.0.2.10\n"
    "generic IN TYPE65534 \\# 3 010203\n"
    "\n"
    "   \n"
    "$TTL 0\n"
    "zero IN A 192.0.2.11\n"
    "$TTL 86400\n"
    "day IN A 192.0.2.12\n"
    "$ORIGIN sub.example.org.\n"
    "x IN A 192.0.2.13\n"
    "  IN MX 5 @\n"
    "@ IN A 192.0.2.14\n"
    "$ORIGIN example.org.\n"
    "$INCLUDE inc.zone inc.example.org.\n"
    "after IN A 192.0.2.15\n"
    "  IN A 192.0.2.16\n"
    "$INCLUDE inc2.zone\n"
    "last IN A 192.0.2.17";

static const char fast_inc[] = "$TTL 77\n"
                               "a IN A 192.0.2.20\n"
                               "  IN AAAA 2001:db8::20\n"
                               "@ IN MX 1 a\n";
static const char fast_inc2[] = "  IN A 192.0.2.21\n" /* the includer's last owner? */
                                "b IN CNAME a.inc\n";

static const char fast_bad[] = "$ORIGIN example.org.\n"
                               "@ IN SOA ns1 hostmaster 1 2 3 4 5\n"
                               "@ IN NS ns1\n"
                               "ns1 IN A 192.0.2.53\n"
                               "bad1 IN A 192.0.2\n"
                               "good IN A 192.0.2.1\n"
                               "out.example.net. IN A 192.0.2.2\n"
                               "  IN A 192.0.2.3\n"
                               "bad2 IN MX 70000 mail\n"
                               "big 4294967295 IN A 192.0.2.4\n"
                               "ch CH A 192.0.2.5\n"
                               "  IN A 192.0.2.6\n"
                               "bad3 IN BOGUS x\n"
                               /* RFC 1035 allows the class first; ldns does not */
                               "@ IN 60 MX 20 mail2\n"
                               "\t\tIN 120 TXT \"class before TTL\"\n"
                               "x IN CNAME www\n"
                               "x IN A 192.0.2.7\n";

static const char fast_bad2[] = "$ORIGIN example.org.\n"
                                "@ IN SOA ns1 hostmaster 1 2 3 4 5\n"
                                "@ IN NS ns1\n"
                                "ns1 IN A 192.0.2.53\n"
                                "out.example.net. IN A 192.0.2.2\n"
                                "  IN A 192.0.2.3\n"
                                "in IN A 192.0.2.8\n"
                                "$TTL 2147483648\n"
                                "over A 192.0.2.9\n";

/* A file over the two-thread size (4 MB): the halves scanned apart. */
static void fast_write_big(void)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/big.zone", fast_dir);
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs("$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns1 h 1 2 3 4 5\n@ IN NS ns1\n"
          "ns1 IN A 192.0.2.53\n",
          f);
    for (int i = 0; i < 70000; i++) {
        fprintf(f, "h%d 60 IN A 10.%d.%d.%d\n", i, i >> 16, (i >> 8) & 255, i & 255);
        fprintf(f, "  IN AAAA 2001:db8::%x:%x\n", i >> 16, i & 0xffff);
        fprintf(f, "h%d IN TXT \"k=%d\" \"v w\"\n", i, i);
        if (i % 7 == 0)
            fprintf(f, "m%d IN MX ( %d\n   h%d )\n", i, i % 100, i);
        if (i % 11 == 0)
            fprintf(f, "$ORIGIN o%d.example.org.\nx IN CNAME @\n$ORIGIN example.org.\n", i);
        if (i % 13 == 0)
            fprintf(f, "e\\%03d%d IN A 192.0.2.%d\n", 65 + i % 20, i, i % 250);
    }
    if (fclose(f) != 0)
        abort();
}

int main(void)
{
    struct tap t = {0};
    test_lines(&t);
    snprintf(fast_dir, sizeof(fast_dir), "/tmp/gtmd-zone-fast-XXXXXX");
    if (!mkdtemp(fast_dir))
        abort();
    fast_write("corpus.zone", fast_corpus);
    fast_write("inc.zone", fast_inc);
    fast_write("inc2.zone", fast_inc2);
    fast_write("bad.zone", fast_bad);
    fast_write("bad2.zone", fast_bad2);
    fast_write_big();
    fast_compare_file(&t, "corpus.zone", false);
    fast_compare_file(&t, "bad.zone", true);
    fast_compare_file(&t, "bad2.zone", true);
    fast_compare_file(&t, "big.zone", false);
    const char *names[] = {"corpus.zone", "inc.zone",  "inc2.zone",
                           "bad.zone",    "bad2.zone", "big.zone"};
    char path[256];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", fast_dir, names[i]);
        unlink(path);
    }
    rmdir(fast_dir);
    return tap_done(&t);
}
