/*
 * rrtype.c -- names of DNS record types, classes and rcodes.
 *
 * The type list is the one ldns 1.8 knows (so a type that can be written in
 * a zone file can be named in a check or an explain query) plus the
 * query-only types IXFR..ANY of RFC 1035 and RFC 1995. Lookups scan the
 * tables: they run at configuration time, per admin request and per metrics
 * scrape, never per DNS query.
 */
#include "dns/rrtype.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"

struct rrtype_entry {
    uint16_t value;
    const char *name;
};

/* Sorted by value. */
static const struct rrtype_entry rrtype_types[] = {
    {1, "A"},           {2, "NS"},       {3, "MD"},          {4, "MF"},      {5, "CNAME"},
    {6, "SOA"},         {7, "MB"},       {8, "MG"},          {9, "MR"},      {10, "NULL"},
    {11, "WKS"},        {12, "PTR"},     {13, "HINFO"},      {14, "MINFO"},  {15, "MX"},
    {16, "TXT"},        {17, "RP"},      {18, "AFSDB"},      {19, "X25"},    {20, "ISDN"},
    {21, "RT"},         {22, "NSAP"},    {23, "NSAP-PTR"},   {24, "SIG"},    {25, "KEY"},
    {26, "PX"},         {27, "GPOS"},    {28, "AAAA"},       {29, "LOC"},    {30, "NXT"},
    {31, "EID"},        {32, "NIMLOC"},  {33, "SRV"},        {34, "ATMA"},   {35, "NAPTR"},
    {36, "KX"},         {37, "CERT"},    {38, "A6"},         {39, "DNAME"},  {40, "SINK"},
    {41, "OPT"},        {42, "APL"},     {43, "DS"},         {44, "SSHFP"},  {45, "IPSECKEY"},
    {46, "RRSIG"},      {47, "NSEC"},    {48, "DNSKEY"},     {49, "DHCID"},  {50, "NSEC3"},
    {51, "NSEC3PARAM"}, {52, "TLSA"},    {53, "SMIMEA"},     {55, "HIP"},    {58, "TALINK"},
    {59, "CDS"},        {60, "CDNSKEY"}, {61, "OPENPGPKEY"}, {62, "CSYNC"},  {63, "ZONEMD"},
    {64, "SVCB"},       {65, "HTTPS"},   {99, "SPF"},        {104, "NID"},   {105, "L32"},
    {106, "L64"},       {107, "LP"},     {108, "EUI48"},     {109, "EUI64"}, {249, "TKEY"},
    {250, "TSIG"},      {251, "IXFR"},   {252, "AXFR"},      {253, "MAILB"}, {254, "MAILA"},
    {255, "ANY"},       {256, "URI"},    {257, "CAA"},       {32769, "DLV"},
};

static const struct rrtype_entry rrtype_classes[] = {
    {DNS_CLASS_IN, "IN"},     {DNS_CLASS_CH, "CH"},   {DNS_CLASS_HS, "HS"},
    {DNS_CLASS_NONE, "NONE"}, {DNS_CLASS_ANY, "ANY"},
};

static const struct rrtype_entry rrtype_rcodes[] = {
    {DNS_RCODE_NOERROR, "NOERROR"},     {DNS_RCODE_FORMERR, "FORMERR"},
    {DNS_RCODE_SERVFAIL, "SERVFAIL"},   {DNS_RCODE_NXDOMAIN, "NXDOMAIN"},
    {DNS_RCODE_NOTIMP, "NOTIMP"},       {DNS_RCODE_REFUSED, "REFUSED"},
    {DNS_RCODE_YXDOMAIN, "YXDOMAIN"},   {DNS_RCODE_YXRRSET, "YXRRSET"},
    {DNS_RCODE_NXRRSET, "NXRRSET"},     {DNS_RCODE_NOTAUTH, "NOTAUTH"},
    {DNS_RCODE_NOTZONE, "NOTZONE"},     {DNS_RCODE_BADVERS, "BADVERS"},
    {DNS_RCODE_BADCOOKIE, "BADCOOKIE"},
};

#define RRTYPE_COUNT(t) (sizeof(t) / sizeof((t)[0]))

static const char *rrtype_name_of(const struct rrtype_entry *t, size_t n, uint16_t value)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].value == value)
            return t[i].name;
    return NULL;
}

/* Finds s in t; false when absent. */
static bool rrtype_value_of(const struct rrtype_entry *t, size_t n, const char *s, uint16_t *out)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(t[i].name, s) == 0) {
            *out = t[i].value;
            return true;
        }
    return false;
}

const char *dns_type_name(uint16_t type)
{
    return rrtype_name_of(rrtype_types, RRTYPE_COUNT(rrtype_types), type);
}

uint16_t dns_type_from_name(const char *s)
{
    uint16_t v = 0;
    return rrtype_value_of(rrtype_types, RRTYPE_COUNT(rrtype_types), s, &v) ? v : 0;
}

uint16_t dns_type_from_text(const char *s)
{
    if (strncasecmp(s, "TYPE", 4) != 0 || s[4] == '\0')
        return dns_type_from_name(s);
    /* Digits only (no sign, no space, no junk after them): the text is
     * echoed back to API clients, so what passes must be exactly a type. */
    size_t n = strspn(s + 4, "0123456789");
    if (n == 0 || n > 5 || s[4 + n] != '\0')
        return 0;
    unsigned long v = strtoul(s + 4, NULL, 10);
    return v <= 65535 ? (uint16_t)v : 0;
}

const char *dns_class_name(uint16_t klass)
{
    return rrtype_name_of(rrtype_classes, RRTYPE_COUNT(rrtype_classes), klass);
}

uint16_t dns_class_from_name(const char *s)
{
    uint16_t v = 0;
    return rrtype_value_of(rrtype_classes, RRTYPE_COUNT(rrtype_classes), s, &v) ? v : 0;
}

const char *dns_rcode_name(uint16_t rcode)
{
    return rrtype_name_of(rrtype_rcodes, RRTYPE_COUNT(rrtype_rcodes), rcode);
}

int dns_rcode_from_name(const char *s)
{
    uint16_t v = 0;
    return rrtype_value_of(rrtype_rcodes, RRTYPE_COUNT(rrtype_rcodes), s, &v) ? v : -1;
}
