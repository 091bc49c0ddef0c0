/* Unit tests for the key store (src/zone/zone_kasp_store.c): the key
 * directory made 0700 and one that group can open refused, naming it;
 * keys of algorithms 13, 15 and 8 made, written 0600, read back by the
 * signer (zone_sign_keys_load) and their pairs matching; the state
 * written and read back; a corrupt state file refused, naming it, and no
 * temporary file left by a save; the key list a load signs with (publish
 * only for a pre-published ZSK); adoption of the operator's key files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "zone/zone_kasp_store.h"
#include "zone/zone_sign.h"

#define ZONE "example.com."

static int mode_of(const char *dir, const char *name, const char *ext)
{
    char p[600];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s%s", dir, name, ext);
    return stat(p, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static void test_dir(struct tap *t, const char *top)
{
    char d[300];
    struct errlist e;
    errlist_init(&e);
    snprintf(d, sizeof(d), "%s/new", top);
    TAP_CHECK(t, zone_kasp_store_dir_ok(d, &e), "a missing directory is made");
    TAP_CHECK(t, mode_of(d, "", "") == 0700, "0700 (got %o)", mode_of(d, "", ""));
    chmod(d, 0750);
    TAP_CHECK(t,
              !zone_kasp_store_dir_ok(d, &e) && e.count == 1 &&
                  strstr(e.msgs[0], "the key directory has mode 0750") && strstr(e.msgs[0], d),
              "0750 refused, naming it: %s", e.count ? e.msgs[0] : "");
    errlist_free(&e);
}

/* Makes a key of alg; whether the signer reads it back. */
static void test_generate(struct tap *t, const char *dir, uint8_t alg)
{
    struct errlist e;
    errlist_init(&e);
    struct zone_kasp_key k;
    bool ok = zone_kasp_store_generate(dir, ZONE, alg, false, 7, &k, &e);
    TAP_CHECK(t, ok && k.algorithm == alg && !k.ksk, "algorithm %u made: %s", alg,
              e.count ? e.msgs[0] : "");
    if (!ok)
        return;
    TAP_CHECK(t, mode_of(dir, k.base, ".key") == 0600 && mode_of(dir, k.base, ".private") == 0600,
              "its files are 0600");
    struct zone_kasp_keys keys = {.n = 1};
    keys.v[0] = k;
    zone_kasp_sched_first(&keys.v[0], 100);
    struct zone_sign_params sp = {.validity = 3600};
    zone_kasp_store_fill(dir, ZONE, &keys, 100, &sp);
    ldns_rdf *origin = ldns_dname_new_frm_str(ZONE);
    ldns_rr_list *dnskeys = ldns_rr_list_new();
    ldns_key_list *kl = zone_sign_keys_load(&sp, origin, 1000, dnskeys, &e);
    TAP_CHECK(t,
              kl && ldns_key_list_key_count(kl) == 1 && ldns_rr_list_rr_count(dnskeys) == 1 &&
                  ldns_calc_keytag(ldns_rr_list_rr(dnskeys, 0)) == k.tag &&
                  ldns_rr_ttl(ldns_rr_list_rr(dnskeys, 0)) == 7,
              "algorithm %u: the signer reads the pair, tag and TTL: %s", alg,
              e.count ? e.msgs[0] : "");
    if (kl)
        ldns_key_list_free(kl);
    ldns_rr_list_deep_free(dnskeys);
    ldns_rdf_deep_free(origin);
    for (size_t i = 0; i < sp.n_keys; i++) {
        free(sp.keys[i]);
        free(sp.key_paths[i]);
    }
    zone_kasp_store_purge(dir, &k);
    TAP_CHECK(t, mode_of(dir, k.base, ".key") < 0 && mode_of(dir, k.base, ".private") < 0,
              "purged");
    errlist_free(&e);
}

static void test_state(struct tap *t, const char *dir)
{
    struct errlist e;
    errlist_init(&e);
    struct zone_kasp_keys keys = {.n = 0}, back;
    TAP_CHECK(t, zone_kasp_store_load(dir, ZONE, &back, &e) && back.n == 0,
              "no state file: an empty store");
    bool ok = zone_kasp_store_generate(dir, ZONE, 13, true, 7, &keys.v[0], &e) &&
              zone_kasp_store_generate(dir, ZONE, 13, false, 7, &keys.v[1], &e) &&
              zone_kasp_store_generate(dir, ZONE, 13, false, 7, &keys.v[2], &e);
    keys.n = 3;
    zone_kasp_sched_first(&keys.v[0], 100);
    zone_kasp_sched_first(&keys.v[1], 100);
    struct zone_kasp_timing tm = {.dprp = 1, .ttl_key = 2, .ttl_sig = 2};
    zone_kasp_sched_roll_zsk(&tm, &keys.v[1], &keys.v[2], 200, 200, false);
    ok = ok && zone_kasp_store_save(dir, ZONE, &keys, &e);
    TAP_CHECK(t,
              ok && zone_kasp_store_load(dir, ZONE, &back, &e) && back.n == 3 &&
                  memcmp(&back.v[2].t, &keys.v[2].t, sizeof(keys.v[2].t)) == 0 &&
                  strcmp(back.v[2].base, keys.v[2].base) == 0 && back.v[0].ksk,
              "the state reads back as written");
    TAP_CHECK(t, mode_of(dir, ZONE "kasp.json", ".tmp") < 0, "no temporary file is left");
    /* At 201: the new ZSK is published, not active (ready at 203). */
    struct zone_sign_params sp = {0};
    zone_kasp_store_fill(dir, ZONE, &back, 201, &sp);
    TAP_CHECK(t, sp.n_keys == 3 && !sp.publish_only[0] && !sp.publish_only[1] && sp.publish_only[2],
              "the pre-published ZSK is publish only");
    zone_kasp_store_fill(dir, ZONE, &back, 203, &sp);
    TAP_CHECK(t, sp.n_keys == 3 && sp.publish_only[1] && !sp.publish_only[2],
              "at its activation the old ZSK is publish only");
    zone_kasp_store_fill(dir, ZONE, &back, 206, &sp);
    TAP_CHECK(t, sp.n_keys == 2, "Iret later the old ZSK is out of the zone");
    /* An algorithm rollover's ZSKs: one active before it is published, one
     * retired (out of the DNSKEY RRset) that still signs. */
    struct zone_kasp_keys ar = back;
    for (int i = 0; i < ZONE_KASP_T_N; i++)
        ar.v[2].t[i] = -1;
    ar.v[2].t[ZONE_KASP_T_ACTIVE] = 300;
    ar.v[2].t[ZONE_KASP_T_PUBLISHED] = 310;
    ar.v[1].t[ZONE_KASP_T_RETIRED] = 290;
    ar.v[1].t[ZONE_KASP_T_RETIRE_ACTIVE] = 320;
    ar.v[1].t[ZONE_KASP_T_REMOVED] = 320;
    zone_kasp_store_fill(dir, ZONE, &ar, 300, &sp);
    TAP_CHECK(t,
              sp.n_keys == 3 && !sp.sign_only[0] && sp.sign_only[1] && sp.sign_only[2] &&
                  !sp.publish_only[1] && !sp.publish_only[2],
              "a ZSK signing unpublished (before its DNSKEY, after it) is sign only");
    zone_kasp_store_fill(dir, ZONE, &ar, 310, &sp);
    TAP_CHECK(t, sp.n_keys == 3 && sp.sign_only[1] && !sp.sign_only[2],
              "once published the new ZSK is no longer sign only");
    zone_kasp_store_fill(dir, ZONE, &ar, 320, &sp);
    TAP_CHECK(t, sp.n_keys == 2, "the old ZSK is out once it stops signing");
    for (size_t i = 0; i < sp.n_keys; i++) {
        free(sp.keys[i]);
        free(sp.key_paths[i]);
    }
    char p[400];
    snprintf(p, sizeof(p), "%s/%skasp.json", dir, ZONE);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs("{\"keys\": [{\"file\": \"x\"}]}", f);
        fclose(f);
    }
    errlist_free(&e);
    errlist_init(&e);
    TAP_CHECK(t,
              !zone_kasp_store_load(dir, ZONE, &back, &e) && e.count >= 1 && strstr(e.msgs[0], p) &&
                  strstr(e.msgs[0], "$.keys[0]"),
              "a corrupt state is refused naming the file and the key: %s",
              e.count ? e.msgs[0] : "");
    errlist_free(&e);
}

static void test_adopt(struct tap *t, const char *top)
{
    char src[300], dst[300];
    snprintf(src, sizeof(src), "%s/op", top);
    snprintf(dst, sizeof(dst), "%s/adopt", top);
    struct errlist e;
    errlist_init(&e);
    struct zone_kasp_key k, a;
    bool ok = zone_kasp_store_dir_ok(src, &e) && zone_kasp_store_dir_ok(dst, &e) &&
              zone_kasp_store_generate(src, ZONE, 13, true, 7, &k, &e);
    char base[700];
    snprintf(base, sizeof(base), "%s/%s", src, k.base);
    ok = ok && zone_kasp_store_adopt(dst, base, "test", &a, &e);
    TAP_CHECK(t,
              ok && a.tag == k.tag && a.ksk && strcmp(a.base, k.base) == 0 &&
                  mode_of(dst, a.base, ".private") == 0600,
              "an operator's key is adopted: %s", e.count ? e.msgs[0] : "");
    /* Again (a crash before the state was saved), and from the key
     * directory itself: the files stay whole. */
    struct zone_kasp_key b;
    TAP_CHECK(t, zone_kasp_store_adopt(dst, base, "test", &b, &e) && b.tag == k.tag,
              "adopted over its own copy");
    snprintf(base, sizeof(base), "%s/%s", dst, k.base);
    TAP_CHECK(t, zone_kasp_store_adopt(dst, base, "test", &b, &e) && b.tag == k.tag,
              "adopted from the key directory itself");
    struct zone_kasp_keys one = {.n = 1};
    one.v[0] = b;
    zone_kasp_sched_first(&one.v[0], 100);
    struct zone_sign_params sp = {.validity = 3600};
    zone_kasp_store_fill(dst, ZONE, &one, 100, &sp);
    ldns_rdf *origin = ldns_dname_new_frm_str(ZONE);
    ldns_rr_list *dnskeys = ldns_rr_list_new();
    ldns_key_list *kl = zone_sign_keys_load(&sp, origin, 1000, dnskeys, &e);
    TAP_CHECK(t, kl != NULL, "and the signer still reads it: %s", e.count ? e.msgs[0] : "");
    if (kl)
        ldns_key_list_free(kl);
    ldns_rr_list_deep_free(dnskeys);
    ldns_rdf_deep_free(origin);
    free(sp.keys[0]);
    free(sp.key_paths[0]);
    errlist_free(&e);
}

int main(void)
{
    struct tap t = {0, 0};
    char dir[] = "/tmp/gtm-kasp-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    test_dir(&t, dir);
    char keys[300];
    snprintf(keys, sizeof(keys), "%s/keys", dir);
    struct errlist e;
    errlist_init(&e);
    if (!zone_kasp_store_dir_ok(keys, &e))
        return 1;
    errlist_free(&e);
    test_generate(&t, keys, 13);
    test_generate(&t, keys, 15);
    test_generate(&t, keys, 8);
    test_state(&t, keys);
    test_adopt(&t, dir);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return tap_done(&t);
}
