/* Unit tests for src/dns/rrtype.c: type, class and rcode names, checked
 * against ldns (the zone file parser) and against the /metrics labels the
 * workers' counters have always had. */
#include <ctype.h>
#include <ldns/ldns.h>
#include <string.h>

#include "dns/dns.h"
#include "dns/rrtype.h"
#include "net/worker.h"
#include "tap.h"

static void lower(char *dst, const char *src, size_t cap)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

/* Every named type maps back to itself in any case, and ldns spells it the
 * same way, so a type written in a zone file can be named in the API. */
static void test_type_table(struct tap *t)
{
    unsigned named = 0, roundtrip = 0, ldns_agrees = 0;
    char low[32];
    for (unsigned v = 0; v <= 65535; v++) {
        const char *n = dns_type_name((uint16_t)v);
        if (!n)
            continue;
        named++;
        lower(low, n, sizeof(low));
        if (dns_type_from_name(n) == v && dns_type_from_name(low) == v &&
            dns_type_from_text(low) == v)
            roundtrip++;
        if (ldns_get_rr_type_by_name(n) == v)
            ldns_agrees++;
    }
    TAP_CHECK(t, named == 79, "79 named types (%u)", named);
    TAP_CHECK(t, roundtrip == named, "every type name maps back, in any case (%u)", roundtrip);
    TAP_CHECK(t, ldns_agrees == named, "ldns reads every name as the same type (%u)", ldns_agrees);
    TAP_CHECK(t,
              dns_type_name(0) == NULL && dns_type_name(54) == NULL && dns_type_name(65535) == NULL,
              "unnamed types have no name");
}

static void test_type_names(struct tap *t)
{
    TAP_CHECK(t, strcmp(dns_type_name(DNS_TYPE_AAAA), "AAAA") == 0, "AAAA");
    TAP_CHECK(t, strcmp(dns_type_name(DNS_TYPE_HTTPS), "HTTPS") == 0, "HTTPS");
    TAP_CHECK(t, dns_type_from_name("nsap-ptr") == 23, "NSAP-PTR with its dash");
    TAP_CHECK(t, dns_type_from_name("Any") == DNS_TYPE_ANY && dns_type_from_name("axfr") == 252,
              "query-only types");
    TAP_CHECK(t, dns_type_from_name("DLV") == 32769, "DLV");
    TAP_CHECK(t, dns_type_from_name("TYPE65") == 0, "from_name: no generic form");
    TAP_CHECK(t,
              dns_type_from_name("") == 0 && dns_type_from_name("A ") == 0 &&
                  dns_type_from_name("BOGUS") == 0 && dns_type_from_name("TA") == 0,
              "unknown mnemonics give 0");
}

static void test_type_text(struct tap *t)
{
    TAP_CHECK(t, dns_type_from_text("TYPE65") == 65 && dns_type_from_text("type1") == 1,
              "generic form TYPEn");
    TAP_CHECK(t, dns_type_from_text("TYPE65535") == 65535 && dns_type_from_text("TYPE00028") == 28,
              "five digits at most, leading zeros allowed");
    TAP_CHECK(t, dns_type_from_text("TYPE0") == 0 && dns_type_from_text("TYPE65536") == 0,
              "type 0 and types past 65535 refused");
    TAP_CHECK(t,
              dns_type_from_text("TYPE1x") == 0 && dns_type_from_text("TYPE+1") == 0 &&
                  dns_type_from_text("TYPE 1") == 0 && dns_type_from_text("TYPE000001") == 0,
              "junk, signs, spaces and six digits refused");
    TAP_CHECK(t, dns_type_from_text("TYPE") == 0 && dns_type_from_text("") == 0,
              "TYPE alone and the empty string refused");
    TAP_CHECK(t, dns_type_from_text("txt") == DNS_TYPE_TXT, "mnemonics too");
}

static void test_classes_rcodes(struct tap *t)
{
    TAP_CHECK(t,
              strcmp(dns_class_name(DNS_CLASS_IN), "IN") == 0 &&
                  strcmp(dns_class_name(DNS_CLASS_CH), "CH") == 0 &&
                  strcmp(dns_class_name(DNS_CLASS_ANY), "ANY") == 0,
              "class names");
    TAP_CHECK(t,
              dns_class_from_name("hs") == DNS_CLASS_HS &&
                  dns_class_from_name("NONE") == DNS_CLASS_NONE,
              "class from name");
    TAP_CHECK(t, dns_class_name(2) == NULL && dns_class_from_name("CS") == 0, "unknown class");
    TAP_CHECK(t,
              strcmp(dns_rcode_name(DNS_RCODE_NOTIMP), "NOTIMP") == 0 &&
                  strcmp(dns_rcode_name(DNS_RCODE_NOTZONE), "NOTZONE") == 0 &&
                  strcmp(dns_rcode_name(DNS_RCODE_BADVERS), "BADVERS") == 0,
              "rcode names");
    TAP_CHECK(t, dns_rcode_name(11) == NULL && dns_rcode_name(15) == NULL, "unnamed rcodes");
    TAP_CHECK(t,
              dns_rcode_from_name("nxdomain") == DNS_RCODE_NXDOMAIN &&
                  dns_rcode_from_name("NOERROR") == 0 && dns_rcode_from_name("YXRRSET") == 7,
              "rcode from name");
    TAP_CHECK(t, dns_rcode_from_name("NOTIMPL") == -1 && dns_rcode_from_name("") == -1,
              "unknown rcode names give -1");
    int ok = 0;
    for (unsigned rc = 0; rc <= 16; rc++) {
        const char *n = dns_rcode_name((uint16_t)rc);
        ok += n ? dns_rcode_from_name(n) == (int)rc : rc > 10 && rc < 16;
    }
    TAP_CHECK(t, ok == 17, "rcodes 0..10 and 16 named and mapped back (%d)", ok);
}

/* The labels of gtmd_queries_total, exactly as before the shared table. */
static void test_metric_labels(struct tap *t)
{
    static const char *const qtypes[WORKER_QTYPES] = {"A",     "NS",  "CNAME", "SOA", "PTR",
                                                      "MX",    "TXT", "AAAA",  "SRV", "DS",
                                                      "HTTPS", "ANY", "other"};
    static const char *const rcodes[WORKER_RCODES] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                                      "NOTIMP",  "REFUSED", "other"};
    int same = 0;
    for (unsigned i = 0; i < WORKER_QTYPES; i++)
        same += strcmp(worker_qtype_label(i), qtypes[i]) == 0;
    TAP_CHECK(t, same == WORKER_QTYPES, "qtype labels unchanged (%d)", same);
    same = 0;
    for (unsigned i = 0; i < WORKER_RCODES; i++)
        same += strcmp(worker_rcode_label(i), rcodes[i]) == 0;
    TAP_CHECK(t, same == WORKER_RCODES, "rcode labels unchanged (%d)", same);
}

int main(void)
{
    struct tap t = {0, 0};
    test_type_table(&t);
    test_type_names(&t);
    test_type_text(&t);
    test_classes_rcodes(&t);
    test_metric_labels(&t);
    return tap_done(&t);
}
