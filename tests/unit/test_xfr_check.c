/* Unit tests for src/xfr/xfr_check.h: what a secondary refuses of a
 * transfer before anything is written (records outside the zone, of
 * another class, a stream not beginning with the zone's SOA; a zone of
 * two SOAs, a SOA below the apex, a serial that is not the announced one;
 * a file the loader refuses). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/name.h"
#include "tap.h"
#include "xfr/xfr_check.h"

/* A list of the records in texts (presentation form, NULL-terminated). */
static ldns_rr_list *rrs(const char *const *texts)
{
    ldns_rr_list *l = ldns_rr_list_new();
    for (size_t i = 0; texts[i]; i++) {
        ldns_rr *rr = NULL;
        if (ldns_rr_new_frm_str(&rr, texts[i], 300, NULL, NULL) != LDNS_STATUS_OK)
            abort();
        ldns_rr_list_push_rr(l, rr);
    }
    return l;
}

#define SOA(s) "t.test. 300 IN SOA ns1.t.test. h.t.test. " s " 3600 600 86400 60"

static bool records_ok(const char *const *texts, char *why, size_t n)
{
    struct dns_name o;
    dns_name_from_str("t.test.", &o);
    ldns_rr_list *l = rrs(texts);
    bool ok = xfr_check_records(l, o.wire, o.len, why, n);
    ldns_rr_list_deep_free(l);
    return ok;
}

static bool zone_ok(const char *const *texts, uint32_t serial, char *why, size_t n)
{
    struct dns_name o;
    dns_name_from_str("t.test.", &o);
    ldns_rr_list *l = rrs(texts);
    bool ok = xfr_check_zone(l, o.wire, o.len, serial, why, n);
    ldns_rr_list_deep_free(l);
    return ok;
}

static void test_records(struct tap *t)
{
    char why[512] = "";
    const char *good[] = {SOA("5"),
                          "t.test. 300 IN NS ns1.t.test.",
                          "ns1.t.test. 300 IN A 192.0.2.1",
                          "a.b.t.test. 300 IN TXT \"x\"",
                          SOA("5"),
                          NULL};
    TAP_CHECK(t, records_ok(good, why, sizeof(why)), "a zone's transfer passes (%s)", why);
    const char *outside[] = {SOA("5"), "www.other.test. 300 IN A 203.0.113.66", SOA("5"), NULL};
    TAP_CHECK(t,
              !records_ok(outside, why, sizeof(why)) && strstr(why, "outside the zone") &&
                  strstr(why, "www.other.test."),
              "a record outside the zone is refused, named (%s)", why);
    const char *parent[] = {SOA("5"), "test. 300 IN A 203.0.113.66", SOA("5"), NULL};
    TAP_CHECK(t, !records_ok(parent, why, sizeof(why)), "the parent is outside (%s)", why);
    const char *suffix[] = {SOA("5"), "xt.test. 300 IN A 203.0.113.66", SOA("5"), NULL};
    TAP_CHECK(t, !records_ok(suffix, why, sizeof(why)),
              "a name ending in the zone's text but not below it is outside (%s)", why);
    const char *chaos[] = {SOA("5"), "a.t.test. 300 CH TXT \"x\"", SOA("5"), NULL};
    TAP_CHECK(t, !records_ok(chaos, why, sizeof(why)) && strstr(why, "class"),
              "a record of another class is refused (%s)", why);
    const char *first[] = {"t.test. 300 IN NS ns1.t.test.", SOA("5"), NULL};
    TAP_CHECK(t, !records_ok(first, why, sizeof(why)) && strstr(why, "begin"),
              "a transfer not beginning with the SOA is refused (%s)", why);
    const char *empty[] = {NULL};
    TAP_CHECK(t, !records_ok(empty, why, sizeof(why)), "no records: refused (%s)", why);
}

static void test_zone(struct tap *t)
{
    char why[512] = "";
    const char *one[] = {SOA("5"), "t.test. 300 IN NS ns1.t.test.", NULL};
    TAP_CHECK(t, zone_ok(one, 5, why, sizeof(why)), "one SOA of the serial announced (%s)", why);
    TAP_CHECK(t, !zone_ok(one, 6, why, sizeof(why)) && strstr(why, "serial 5"),
              "another serial than announced is refused (%s)", why);
    const char *two[] = {SOA("5"), "t.test. 300 IN NS ns1.t.test.", SOA("5"), NULL};
    TAP_CHECK(t, !zone_ok(two, 5, why, sizeof(why)) && strstr(why, "2 SOA"),
              "two SOAs are refused (%s)", why);
    const char *below[] = {SOA("5"), "x.t.test. 300 IN SOA a.t.test. b.t.test. 5 1 1 1 1", NULL};
    TAP_CHECK(t, !zone_ok(below, 5, why, sizeof(why)) && strstr(why, "below the apex"),
              "a SOA below the apex is refused (%s)", why);
}

static void test_loads(struct tap *t)
{
    char path[] = "/tmp/gtmd-xfr-check-XXXXXX", why[512] = "";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f)
        abort();
    fprintf(f, "%s\nt.test. 300 IN NS ns1.t.test.\nns1.t.test. 300 IN A 192.0.2.1\n", SOA("5"));
    fclose(f);
    TAP_CHECK(t, xfr_check_loads(path, "copy", "t.test.", why, sizeof(why)),
              "a copy the loader takes (%s)", why);
    f = fopen(path, "a");
    fprintf(f, "a.t.test. 300 IN CNAME b.t.test.\na.t.test. 300 IN A 192.0.2.2\n");
    fclose(f);
    TAP_CHECK(t,
              !xfr_check_loads(path, "copy", "t.test.", why, sizeof(why)) &&
                  strstr(why, "does not load") && strstr(why, "copy"),
              "a CNAME beside other data: the loader's error, naming the copy (%s)", why);
    unlink(path);
}

int main(void)
{
    struct tap t = {0, 0};
    test_records(&t);
    test_zone(&t);
    test_loads(&t);
    return tap_done(&t);
}
