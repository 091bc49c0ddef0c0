/*
 * fuzz_update.c -- libFuzzer target for RFC 2136 updates against a
 * compiled zone (src/zone/zone_update.c: the message through ldns, the
 * prerequisites, the key's rules, the changes and the serial), then the
 * result written as a master file (zone_update_write) and loaded again
 * through the daemon's loader.
 *
 * An update reaches this code only signed with a key that has rules for
 * the zone, so its sender is known but not trusted with more than the
 * rules give. Input: one octet choosing the rules (bit 0: the whole zone,
 * any type, else _acme-challenge names and TXT only) and whether the zone
 * counts as signed by gtmd (bit 1), then the UPDATE message. The zone is
 * u.test. (fixed text, loaded once). Seeds: tests/fuzz/corpus/update
 * (tests/fuzz/make_corpus.py).
 *
 * Checked with abort(): the zone is never changed; a result comes back
 * only with NOERROR, has exactly one SOA, at the apex, with the new
 * serial (later than the old one, RFC 1982), owners only in the zone, no
 * record of a type only signing makes, and writes as a file.
 */
#include <ldns/ldns.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errlist.h"
#include "dns/dns.h"
#include "dns/name.h"
#include "fuzz_check.h"
#include "zone/zone.h"
#include "zone/zone_load.h"
#include "zone/zone_update.h"
#include "zone/zone_update_params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_update_zone[] = "$ORIGIN u.test.\n$TTL 300\n"
                                       "@ IN SOA ns1 h 10 3600 600 86400 60\n"
                                       "@ IN NS ns1\n@ IN NS ns2.elsewhere.test.\n"
                                       "ns1 IN A 192.0.2.1\nwww IN A 192.0.2.2\n"
                                       "www IN AAAA 2001:db8::2\nalias IN CNAME www\n"
                                       "mail IN MX 10 www\ntxt IN TXT \"a\" \"b\"\n"
                                       "_acme-challenge IN TXT \"old\"\n"
                                       "sub IN NS ns.sub\nns.sub IN A 192.0.2.53\n";

struct fuzz_update_env {
    char dir[64];
    struct zone *z;
    struct tsig_keyring kr;
    struct arena a;
    const struct zone_update_policy *pol[2]; /* narrow, whole zone */
    ldns_rr_list *no_keys;                   /* "gtmd signs it", with no DNSKEY to leave out */
};

static void fuzz_update_load(struct fuzz_update_env *e)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/zone", e->dir);
    FILE *f = fopen(path, "w");
    FUZZ_CHECK(f && fputs(fuzz_update_zone, f) >= 0 && fclose(f) == 0);
    struct errlist errs;
    errlist_init(&errs);
    e->z = zone_load("u.test.", path, path, NULL, 0, &errs);
    for (size_t i = 0; i < errs.count; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    FUZZ_CHECK(e->z != NULL);
    errlist_free(&errs);
    unlink(path);
}

static struct fuzz_update_env *fuzz_update_env(void)
{
    static struct fuzz_update_env env;
    static uint8_t names[1][255], lens[1];
    if (env.z)
        return &env;
    snprintf(env.dir, sizeof(env.dir), "/tmp/gtmd-fuzz-update-XXXXXX");
    FUZZ_CHECK(mkdtemp(env.dir) != NULL);
    fuzz_update_load(&env);
    env.kr.keys = calloc(1, sizeof(*env.kr.keys));
    FUZZ_CHECK(env.kr.keys != NULL);
    env.kr.n = 1;
    memcpy(env.kr.keys[0].name, "\1k", 3);
    env.kr.keys[0].name_len = 3;
    arena_init(&env.a);
    struct dns_name n;
    FUZZ_CHECK(dns_name_from_str("_acme-challenge.u.test.", &n));
    memcpy(names[0], n.wire, n.len);
    lens[0] = (uint8_t)n.len;
    struct zone_update_rule_params narrow = {.key = "k.",
                                             .names = names,
                                             .name_lens = lens,
                                             .n_names = 1,
                                             .types = {DNS_TYPE_TXT},
                                             .n_types = 1};
    struct zone_update_rule_params whole = {.key = "k."};
    struct zone_update_params p0 = {&narrow, 1}, p1 = {&whole, 1};
    env.pol[0] = zone_update_policy_build(&p0, &env.kr, &env.a);
    env.pol[1] = zone_update_policy_build(&p1, &env.kr, &env.a);
    FUZZ_CHECK(env.pol[0] && env.pol[1]);
    env.no_keys = ldns_rr_list_new();
    FUZZ_CHECK(env.no_keys != NULL);
    return &env;
}

/* The invariants of a result (see the top). */
static void fuzz_update_check(const struct fuzz_update_env *e, const struct zone_update_out *o)
{
    ldns_rdf *origin = ldns_dname_new_frm_data(e->z->origin_len, e->z->origin);
    size_t soas = 0;
    for (size_t i = 0; i < ldns_rr_list_rr_count(o->rrs); i++) {
        const ldns_rr *rr = ldns_rr_list_rr(o->rrs, i);
        const ldns_rdf *owner = ldns_rr_owner(rr);
        uint16_t t = (uint16_t)ldns_rr_get_type(rr);
        FUZZ_CHECK(ldns_dname_compare(owner, origin) == 0 ||
                   ldns_dname_is_subdomain(owner, origin));
        FUZZ_CHECK(t != DNS_TYPE_RRSIG && t != DNS_TYPE_NSEC && t != DNS_TYPE_NSEC3);
        if (t == DNS_TYPE_SOA) {
            FUZZ_CHECK(ldns_dname_compare(owner, origin) == 0);
            FUZZ_CHECK(ldns_rdf2native_int32(ldns_rr_rdf(rr, 2)) == o->new_serial);
            soas++;
        }
    }
    FUZZ_CHECK(soas == 1);
    FUZZ_CHECK((uint32_t)(o->new_serial - o->old_serial) - 1u < 0x7fffffffu);
    ldns_rdf_deep_free(origin);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_update_env *e = fuzz_update_env();
    if (size < 1)
        return 0;
    struct zone_update_out o;
    uint32_t serial = e->z->serial;
    size_t records = e->z->n_records;
    uint16_t rc = zone_update_apply(e->z, e->pol[data[0] & 1], &e->kr.keys[0], data + 1, size - 1,
                                    (data[0] & 2) ? e->no_keys : NULL, &o);
    FUZZ_CHECK(e->z->serial == serial && e->z->n_records == records);
    FUZZ_CHECK(rc <= DNS_RCODE_NOTZONE);
    FUZZ_CHECK(!o.rrs || rc == DNS_RCODE_NOERROR);
    if (!o.rrs)
        return 0;
    fuzz_update_check(e, &o);
    char path[128], why[256];
    snprintf(path, sizeof(path), "%s/written", e->dir);
    bool written = zone_update_write(o.rrs, path, why, sizeof(why));
    if (!written)
        fprintf(stderr, "fuzz_update: %s\n", why);
    FUZZ_CHECK(written);
    struct errlist errs;
    errlist_init(&errs);
    struct zone *z = zone_load("u.test.", path, path, NULL, 0, &errs);
    FUZZ_CHECK((z != NULL) == (errs.count == 0));
    FUZZ_CHECK(!z || z->serial == o.new_serial);
    zone_free(z);
    errlist_free(&errs);
    unlink(path);
    ldns_rr_list_deep_free(o.rrs);
    return 0;
}
