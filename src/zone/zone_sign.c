/*
 * zone_sign.c -- signs an unsigned zone at load (zone_sign.h).
 */
#include "zone/zone_sign.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The algorithms gtmd signs with: what validators support widely. */
static bool zone_sign_algorithm_ok(unsigned a)
{
    return a == LDNS_RSASHA256 || a == LDNS_ECDSAP256SHA256 || a == LDNS_ED25519;
}

/* Reads base.key: one DNSKEY record. NULL with a message. */
static ldns_rr *zone_sign_read_pub(const char *base, const char *where, struct errlist *errs)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s.key", base);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        errlist_add(errs, "%s: cannot read %s: %s", where, path, strerror(errno));
        return NULL;
    }
    ldns_rr *rr = NULL;
    uint32_t ttl = 3600;
    ldns_rdf *prev = NULL;
    ldns_status s;
    /* Skip comments and blank lines before the record. */
    for (int i = 0; i < 64; i++) {
        s = ldns_rr_new_frm_fp(&rr, fp, &ttl, NULL, &prev);
        if (s != LDNS_STATUS_SYNTAX_EMPTY && s != LDNS_STATUS_SYNTAX_TTL)
            break;
    }
    fclose(fp);
    if (prev)
        ldns_rdf_deep_free(prev);
    if (s != LDNS_STATUS_OK || !rr || ldns_rr_get_type(rr) != LDNS_RR_TYPE_DNSKEY) {
        errlist_add(errs, "%s: %s does not hold a DNSKEY record%s%s", where, path,
                    s != LDNS_STATUS_OK ? ": " : "",
                    s != LDNS_STATUS_OK ? ldns_get_errorstr_by_id(s) : "");
        if (rr)
            ldns_rr_free(rr);
        return NULL;
    }
    return rr;
}

/* Reads base.private. NULL with a message. */
static ldns_key *zone_sign_read_priv(const char *base, const char *where, struct errlist *errs)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s.private", base);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        errlist_add(errs, "%s: cannot read %s: %s", where, path, strerror(errno));
        return NULL;
    }
    ldns_key *k = NULL;
    ldns_status s = ldns_key_new_frm_fp(&k, fp);
    fclose(fp);
    if (s != LDNS_STATUS_OK || !k) {
        errlist_add(errs, "%s: %s is not a private key ldns can read: %s", where, path,
                    ldns_get_errorstr_by_id(s));
        return NULL;
    }
    return k;
}

/* The public key of k must be the one in pub (same algorithm and bits). */
static bool zone_sign_pair_matches(ldns_key *k, const ldns_rr *pub)
{
    ldns_key_set_flags(k, ldns_rdf2native_int16(ldns_rr_rdf(pub, 0)));
    ldns_rr *mine = ldns_key2rr(k);
    bool ok = mine && ldns_rr_rd_count(mine) == 4 &&
              ldns_rdf_compare(ldns_rr_rdf(mine, 2), ldns_rr_rdf(pub, 2)) == 0 &&
              ldns_rdf_compare(ldns_rr_rdf(mine, 3), ldns_rr_rdf(pub, 3)) == 0;
    if (mine)
        ldns_rr_free(mine);
    return ok;
}

/* Loads key i of sp; NULL with a message. *pub_out gets its DNSKEY. */
static ldns_key *zone_sign_key_load(const struct zone_sign_params *sp, size_t i,
                                    const ldns_rdf *origin, uint32_t now, ldns_rr **pub_out,
                                    struct errlist *errs)
{
    const char *where = sp->key_paths[i];
    ldns_rr *pub = zone_sign_read_pub(sp->keys[i], where, errs);
    if (!pub)
        return NULL;
    const char *why = NULL;
    unsigned alg = ldns_rdf2native_int8(ldns_rr_rdf(pub, 2));
    if (ldns_dname_compare(ldns_rr_owner(pub), origin) != 0)
        why = "is a key of another zone";
    else if (!zone_sign_algorithm_ok(alg))
        why = "has an algorithm gtmd does not sign with (use 13, 15 or 8)";
    ldns_key *k = why ? NULL : zone_sign_read_priv(sp->keys[i], where, errs);
    if (k && !zone_sign_pair_matches(k, pub))
        why = "has a .private file that does not match its .key file";
    if (why) {
        errlist_add(errs, "%s: %s.key %s", where, sp->keys[i], why);
        if (k)
            ldns_key_deep_free(k);
        ldns_rr_free(pub);
        return NULL;
    }
    if (!k) {
        ldns_rr_free(pub);
        return NULL;
    }
    ldns_key_set_pubkey_owner(k, ldns_rdf_clone(origin));
    ldns_key_set_keytag(k, ldns_calc_keytag(pub));
    /* An hour back: validators whose clocks are a little behind. */
    ldns_key_set_inception(k, now - 3600);
    ldns_key_set_expiration(k, now + sp->validity);
    *pub_out = pub;
    return k;
}

bool zone_sign_cds(const struct zone_sign_params *sp, const ldns_rr *pub, ldns_rr_list *out)
{
    ldns_hash h = sp->cds_digest == 4 ? LDNS_SHA384 : LDNS_SHA256;
    ldns_rr *ds = ldns_key_rr2ds(pub, h);
    ldns_rr *cdnskey = ldns_rr_clone(pub);
    if (!ds || !cdnskey) {
        ldns_rr_free(ds);
        ldns_rr_free(cdnskey);
        return false;
    }
    /* The same RDATA as the DS and the DNSKEY (RFC 7344 3.1, 3.2). */
    ldns_rr_set_type(ds, LDNS_RR_TYPE_CDS);
    ldns_rr_set_type(cdnskey, LDNS_RR_TYPE_CDNSKEY);
    ldns_rr_list_push_rr(out, cdnskey);
    ldns_rr_list_push_rr(out, ds);
    return true;
}

ldns_key_list *zone_sign_keys_load(const struct zone_sign_params *sp, const ldns_rdf *origin,
                                   uint32_t now, ldns_rr_list *dnskeys, struct errlist *errs)
{
    ldns_key_list *list = ldns_key_list_new();
    bool ok = list != NULL;
    for (size_t i = 0; list && i < sp->n_keys; i++) {
        ldns_rr *pub = NULL;
        ldns_key *k = zone_sign_key_load(sp, i, origin, now, &pub, errs);
        if (!k) {
            ok = false;
            continue;
        }
        /* A publish-only key was read and checked like the others (a bad
         * file is an error before it signs), but only its DNSKEY goes in. */
        if (sp->publish_only[i])
            ldns_key_deep_free(k);
        else
            ldns_key_list_push_key(list, k);
        /* A sign-only key (an algorithm rollover's) signs but its DNSKEY
         * stays out of the zone (and a ZSK has no CDS). */
        if (sp->sign_only[i]) {
            ldns_rr_free(pub);
            continue;
        }
        ldns_rr_list_push_rr(dnskeys, pub);
        if (sp->cds_digest && sp->cds[i] && !zone_sign_cds(sp, pub, dnskeys)) {
            errlist_add(errs, "%s: cannot make the CDS of %s", sp->key_paths[i], sp->keys[i]);
            ok = false;
        }
    }
    if (!ok && list) {
        ldns_key_list_free(list);
        list = NULL;
    }
    return list;
}

ldns_rr_list *zone_sign_public_keys(const struct zone_sign_params *sp, struct errlist *errs)
{
    ldns_rr_list *l = ldns_rr_list_new();
    if (!l)
        abort();
    for (size_t i = 0; i < sp->n_keys; i++) {
        if (sp->sign_only[i]) /* its DNSKEY is not in the zone */
            continue;
        ldns_rr *pub = zone_sign_read_pub(sp->keys[i], sp->key_paths[i], errs);
        if (!pub) {
            ldns_rr_list_deep_free(l);
            return NULL;
        }
        ldns_rr_list_push_rr(l, pub);
    }
    return l;
}

/* ldns asks what to do with each existing RRSIG (there are none: zone_load
 * refuses them in a zone signed at load) and, through the same answer,
 * whether to make new ones: "remove, add new". (It calls this even for
 * an RRset without signatures; "no add" there would leave the zone
 * unsigned.) */
static int zone_sign_replace(ldns_rr *sig, void *arg)
{
    (void)sig;
    (void)arg;
    return LDNS_SIGNATURE_REMOVE_ADD_NEW;
}

bool zone_sign_run(ldns_dnssec_zone *dz, ldns_key_list *keys, const struct zone_sign_params *sp,
                   ldns_rr_list *new_rrs, const char *display, struct errlist *errs)
{
    ldns_status s;
    /* Per algorithm (RFC 4035 2.2, RFC 6840 5.11: two algorithms during
     * an algorithm rollover): ldns's default drops every KSK from the
     * other RRsets as soon as any ZSK exists, which would leave an
     * algorithm whose only key is a CSK without signatures there. */
    const int flags = LDNS_SIGN_WITH_ALL_ALGORITHMS;
    if (sp->nsec3)
        s = ldns_dnssec_zone_sign_nsec3_flg(dz, new_rrs, keys, zone_sign_replace, NULL, LDNS_SHA1,
                                            0, sp->iterations, sp->salt_len, (uint8_t *)sp->salt,
                                            flags);
    else
        s = ldns_dnssec_zone_sign_flg(dz, new_rrs, keys, zone_sign_replace, NULL, flags);
    if (s != LDNS_STATUS_OK) {
        errlist_add(errs, "%s: signing failed: %s", display, ldns_get_errorstr_by_id(s));
        return false;
    }
    return true;
}
