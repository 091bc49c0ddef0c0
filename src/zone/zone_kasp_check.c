/*
 * zone_kasp_check.c -- `gtmd check` on a zone's key store
 * (zone_kasp_check.h).
 */
#include "zone/zone_kasp_check.h"

#include <errno.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "zone/zone_kasp_algroll.h"
#include "zone/zone_kasp_store.h"
#include "zone/zone_sign.h"

/* The directory: false (nothing more to check) when it is missing (a
 * warning: the daemon makes it) or wrong (an error). */
static bool zone_kasp_check_dir(const char *dir, const char *origin, struct errlist *errs,
                                struct errlist *warns)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT)
            errlist_add(warns,
                        "%s: the key directory of %s does not exist yet: gtmd makes it "
                        "(0700) and the zone's first keys at its start",
                        dir, origin);
        else
            errlist_add(errs, "%s: the key directory of %s: %s", dir, origin, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        errlist_add(errs, "%s: the key directory of %s is not a directory", dir, origin);
        return false;
    }
    if (st.st_mode & 077)
        errlist_add(errs,
                    "%s: the key directory of %s is mode %03o: group or others may open it "
                    "(chmod 700 %s); gtmd will not sign the zone with keys kept there",
                    dir, origin, (unsigned)(st.st_mode & 0777), dir);
    return true;
}

/* One key's files: the pair loads and matches (zone_sign_keys_load says
 * which file is wrong), the .private is 0600, the algorithm is the state
 * file's. */
static void zone_kasp_check_key(const char *dir, const char *origin, const ldns_rdf *o,
                                const struct zone_kasp_key *k, struct errlist *errs)
{
    char base[4400], where[4600], priv[4500];
    snprintf(base, sizeof(base), "%s/%s", dir, k->base);
    snprintf(where, sizeof(where), "%s.key (key %u of %s in its key store)", base, k->tag, origin);
    struct zone_sign_params sp;
    memset(&sp, 0, sizeof(sp));
    sp.n_keys = 1;
    sp.keys[0] = base;
    sp.key_paths[0] = where;
    sp.validity = 3600;
    ldns_rr_list *pubs = ldns_rr_list_new();
    if (!pubs)
        abort();
    ldns_key_list *l = zone_sign_keys_load(&sp, o, 0, pubs, errs);
    if (l) {
        ldns_key *lk = ldns_key_list_key(l, 0);
        if (lk && (uint8_t)ldns_key_algorithm(lk) != k->algorithm)
            errlist_add(errs, "%s: algorithm %u, but the key state says %u", where,
                        (unsigned)ldns_key_algorithm(lk), k->algorithm);
        if (lk && ldns_calc_keytag(ldns_rr_list_rr(pubs, 0)) != k->tag)
            errlist_add(errs, "%s: key tag %u, but the key state says %u", where,
                        (unsigned)ldns_calc_keytag(ldns_rr_list_rr(pubs, 0)), k->tag);
        ldns_key_list_free(l);
    }
    ldns_rr_list_deep_free(pubs);
    snprintf(priv, sizeof(priv), "%s.private", base);
    struct stat st;
    if (stat(priv, &st) == 0 && (st.st_mode & 077))
        errlist_add(errs, "%s: mode %03o: group or others may read the private key (chmod 600)",
                    priv, (unsigned)(st.st_mode & 0777));
}

/* The keys' algorithms against the policy's: one algorithm other than
 * the policy's is a rollover to start (a warning); two with the policy's
 * one of them is a rollover under way; anything else is an error naming
 * a key of the odd algorithm. */
static void zone_kasp_check_algs(const char *dir, const char *origin,
                                 const struct zone_kasp_policy *p,
                                 const struct zone_kasp_keys *keys, int64_t now,
                                 struct errlist *errs, struct errlist *warns)
{
    uint8_t algs[ZONE_KASP_MAX_KEYS];
    size_t n = 0, odd = 0;
    bool has_p = false;
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        if (!zone_kasp_algroll_key_live(k, now) && !zone_kasp_key_signs(k, now))
            continue;
        has_p = has_p || k->algorithm == p->algorithm;
        bool known = false;
        for (size_t a = 0; a < n; a++)
            known = known || algs[a] == k->algorithm;
        if (!known)
            algs[n++] = k->algorithm;
        if (k->algorithm != p->algorithm)
            odd = i;
    }
    if (n == 1 && !has_p)
        errlist_add(warns,
                    "%s: the keys of %s are of algorithm %u and policy %s says %u: gtmd starts "
                    "an algorithm rollover at its start (doc/dnssec.md)",
                    dir, origin, algs[0], p->name, p->algorithm);
    else if (n > 2 || (n == 2 && !has_p))
        errlist_add(errs,
                    "%s/%s: key %u of %s is of algorithm %u, which is not policy %s's (%u), and "
                    "no algorithm rollover to %u is under way (keys of %zu algorithms)",
                    dir, keys->v[odd].base, keys->v[odd].tag, origin, keys->v[odd].algorithm,
                    p->name, p->algorithm, p->algorithm, n);
}

void zone_kasp_check_store(const char *dir, const char *origin, const struct zone_kasp_policy *p,
                           int64_t now, struct errlist *errs, struct errlist *warns)
{
    if (!zone_kasp_check_dir(dir, origin, errs, warns))
        return;
    struct zone_kasp_keys keys;
    if (!zone_kasp_store_load(dir, origin, &keys, errs))
        return;
    ldns_rdf *o = ldns_dname_new_frm_str(origin);
    if (!o)
        abort();
    for (size_t i = 0; i < keys.n; i++)
        if (!(keys.v[i].t[ZONE_KASP_T_REMOVED] >= 0 && keys.v[i].t[ZONE_KASP_T_REMOVED] <= now))
            zone_kasp_check_key(dir, origin, o, &keys.v[i], errs);
    ldns_rdf_deep_free(o);
    zone_kasp_check_algs(dir, origin, p, &keys, now, errs, warns);
}
