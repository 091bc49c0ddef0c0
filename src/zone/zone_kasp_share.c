/*
 * zone_kasp_share.c -- a zone's key set as one document (zone_kasp_share.h).
 */
#include "zone/zone_kasp_share.h"

#include "zone/zone_kasp_store.h"

#include <errno.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The whole of DIR/BASE.EXT as a string (caller frees), NULL with a message. */
static char *zone_kasp_share_read(const char *dir, const char *base, const char *ext,
                                  struct errlist *errs)
{
    char path[4300];
    snprintf(path, sizeof(path), "%s/%s%s", dir, base, ext);
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0;
    FILE *m = f ? open_memstream(&buf, &len) : NULL;
    char chunk[4096];
    size_t n;
    while (m && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, m);
    bool ok = f && m && !ferror(f) && len < 65536;
    if (m)
        fclose(m);
    if (f)
        fclose(f);
    if (!ok) {
        errlist_add(errs, "%s: cannot read the key file: %s", path,
                    f ? "too long" : strerror(errno));
        free(buf);
        return NULL;
    }
    return buf;
}

json_t *zone_kasp_share_export(const char *dir, const char *origin,
                               const struct zone_kasp_keys *keys, struct errlist *errs)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < keys->n; i++) {
        char *pub = zone_kasp_share_read(dir, keys->v[i].base, ".key", errs);
        char *priv = pub ? zone_kasp_share_read(dir, keys->v[i].base, ".private", errs) : NULL;
        if (!priv) {
            free(pub);
            json_decref(arr);
            return NULL;
        }
        json_t *o = zone_kasp_key_to_json(&keys->v[i]);
        json_object_set_new(o, "key", json_string(pub));
        json_object_set_new(o, "private", json_string(priv));
        /* The private key's text: wiped before it is freed. */
        memset(priv, 0, strlen(priv));
        free(pub);
        free(priv);
        json_array_append_new(arr, o);
    }
    return json_pack("{s:s, s:o}", "zone", origin, "keys", arr);
}

/* Whether pub (a .key file's text) holds a DNSKEY of k's tag and algorithm. */
static bool zone_kasp_share_pub_ok(const char *pub, const struct zone_kasp_key *k)
{
    char *copy = strdup(pub);
    bool ok = false;
    for (char *save = NULL, *line = copy ? strtok_r(copy, "\n", &save) : NULL; line && !ok;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == ';' || line[0] == '\0')
            continue;
        ldns_rr *rr = NULL;
        if (ldns_rr_new_frm_str(&rr, line, 0, NULL, NULL) == LDNS_STATUS_OK &&
            ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY && ldns_calc_keytag(rr) == k->tag &&
            ldns_rdf2native_int8(ldns_rr_rdf(rr, 2)) == k->algorithm)
            ok = true;
        ldns_rr_free(rr);
        break; /* the first record is the key */
    }
    free(copy);
    return ok;
}

/* Whether priv (a .private file's text) is a private key ldns reads. */
static bool zone_kasp_share_priv_ok(const char *priv)
{
    FILE *f = fmemopen((void *)priv, strlen(priv), "r");
    ldns_key *key = NULL;
    bool ok = f && ldns_key_new_frm_fp(&key, f) == LDNS_STATUS_OK;
    if (key)
        ldns_key_deep_free(key);
    if (f)
        fclose(f);
    return ok;
}

/* Checks doc into keys; the texts stay in doc. false with messages. */
static bool zone_kasp_share_check(const char *origin, json_t *doc, struct zone_kasp_keys *keys,
                                  struct errlist *errs)
{
    const char *z = json_string_value(json_object_get(doc, "zone"));
    json_t *arr = json_object_get(doc, "keys");
    keys->n = 0;
    if (!z || strcmp(z, origin) != 0 || !json_is_array(arr) ||
        json_array_size(arr) > ZONE_KASP_MAX_KEYS) {
        errlist_add(errs, "$: not the key set of %s (zone, and at most %d keys)", origin,
                    ZONE_KASP_MAX_KEYS);
        return false;
    }
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        struct zone_kasp_key *k = &keys->v[keys->n];
        const char *pub = json_string_value(json_object_get(e, "key"));
        const char *priv = json_string_value(json_object_get(e, "private"));
        if (!zone_kasp_key_from_json(e, k) || strncmp(k->base, "K", 1) != 0 ||
            strstr(k->base, "..") || !pub || !priv) {
            errlist_add(errs, "$.keys[%zu]: not a key of the store", i);
            return false;
        }
        if (!zone_kasp_share_pub_ok(pub, k) || !zone_kasp_share_priv_ok(priv)) {
            errlist_add(errs,
                        "$.keys[%zu]: key %s: its files are not a DNSKEY of tag %u and a "
                        "private key",
                        i, k->base, k->tag);
            return false;
        }
        keys->n++;
    }
    return true;
}

bool zone_kasp_share_import(const char *dir, const char *origin, json_t *doc,
                            struct zone_kasp_keys *keys, struct errlist *errs)
{
    struct zone_kasp_keys old;
    if (!zone_kasp_share_check(origin, doc, keys, errs) || !zone_kasp_store_dir_ok(dir, errs) ||
        !zone_kasp_store_load(dir, origin, &old, errs))
        return false;
    json_t *arr = json_object_get(doc, "keys");
    for (size_t i = 0; i < keys->n; i++) {
        json_t *e = json_array_get(arr, i);
        char path[4300];
        snprintf(path, sizeof(path), "%s/%s.private", dir, keys->v[i].base);
        if (!zone_kasp_write_atomic(dir, path, json_string_value(json_object_get(e, "private")),
                                    errs))
            return false;
        snprintf(path, sizeof(path), "%s/%s.key", dir, keys->v[i].base);
        if (!zone_kasp_write_atomic(dir, path, json_string_value(json_object_get(e, "key")), errs))
            return false;
    }
    if (!zone_kasp_store_save(dir, origin, keys, errs))
        return false;
    for (size_t o = 0; o < old.n; o++) {
        bool kept = false;
        for (size_t i = 0; i < keys->n && !kept; i++)
            kept = strcmp(old.v[o].base, keys->v[i].base) == 0;
        if (!kept)
            zone_kasp_store_purge(dir, &old.v[o]);
    }
    return true;
}
