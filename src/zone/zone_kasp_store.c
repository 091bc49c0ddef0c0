/*
 * zone_kasp_store.c -- a zone's key store (zone_kasp_store.h).
 */
#include "zone/zone_kasp_store.h"

#include "zone/zone_sign.h"

#include <errno.h>
#include <fcntl.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZONE_KASP_STATE_VERSION 1

bool zone_kasp_store_dir_ok(const char *dir, struct errlist *errs)
{
    struct stat st;
    if (stat(dir, &st) != 0 && errno == ENOENT && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        errlist_add(errs, "%s: cannot make the key directory: %s", dir, strerror(errno));
        return false;
    }
    if (stat(dir, &st) != 0) {
        errlist_add(errs, "%s: the key directory cannot be read: %s", dir, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        errlist_add(errs, "%s: the key directory is not a directory", dir);
        return false;
    }
    if (st.st_mode & 077) {
        /* Private keys: nobody but gtmd's user may list or open them. */
        errlist_add(errs,
                    "%s: the key directory has mode %04o: group and others must have no "
                    "access to private keys (chmod 700 %s)",
                    dir, (unsigned)(st.st_mode & 07777), dir);
        return false;
    }
    return true;
}

void zone_kasp_state_path(char *buf, size_t len, const char *dir, const char *origin)
{
    snprintf(buf, len, "%s/%skasp.json", dir, strcmp(origin, ".") == 0 ? "root." : origin);
}

json_t *zone_kasp_key_to_json(const struct zone_kasp_key *k)
{
    json_t *o = json_pack("{s:s, s:i, s:i, s:s}", "file", k->base, "tag", k->tag, "algorithm",
                          k->algorithm, "role", k->ksk ? "ksk" : "zsk");
    for (int i = 0; i < ZONE_KASP_T_N; i++)
        json_object_set_new(o, zone_kasp_kt_name(i),
                            k->t[i] >= 0 ? json_integer(k->t[i]) : json_null());
    return o;
}

bool zone_kasp_key_from_json(json_t *o, struct zone_kasp_key *k)
{
    const char *file = json_string_value(json_object_get(o, "file"));
    const char *role = json_string_value(json_object_get(o, "role"));
    json_t *tag = json_object_get(o, "tag"), *alg = json_object_get(o, "algorithm");
    /* A tag or algorithm out of its field's range would wrap into another
     * key's number: refused, as is a negative time (unset is null). */
    if (!file || !role || !json_is_integer(tag) || !json_is_integer(alg) ||
        json_integer_value(tag) < 0 || json_integer_value(tag) > 65535 ||
        json_integer_value(alg) < 1 || json_integer_value(alg) > 255 ||
        strlen(file) >= sizeof(k->base) || strchr(file, '/') ||
        (strcmp(role, "ksk") != 0 && strcmp(role, "zsk") != 0))
        return false;
    snprintf(k->base, sizeof(k->base), "%s", file);
    k->tag = (uint16_t)json_integer_value(tag);
    k->algorithm = (uint8_t)json_integer_value(alg);
    k->ksk = strcmp(role, "ksk") == 0;
    for (int i = 0; i < ZONE_KASP_T_N; i++) {
        json_t *v = json_object_get(o, zone_kasp_kt_name(i));
        if (v && !json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) < 0))
            return false;
        k->t[i] = json_is_integer(v) ? json_integer_value(v) : -1;
    }
    return true;
}

bool zone_kasp_store_load(const char *dir, const char *origin, struct zone_kasp_keys *keys,
                          struct errlist *errs)
{
    char path[4200];
    zone_kasp_state_path(path, sizeof(path), dir, origin);
    keys->n = 0;
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return true; /* a new store */
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        errlist_add(errs, "%s:%d: the key state is not readable JSON: %s", path, je.line, je.text);
        return false;
    }
    json_t *arr = json_object_get(root, "keys");
    bool ok = json_is_array(arr) && json_array_size(arr) <= ZONE_KASP_MAX_KEYS;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (!ok)
            break;
        ok = zone_kasp_key_from_json(e, &keys->v[keys->n]);
        if (ok)
            keys->n++;
        else
            errlist_add(errs,
                        "%s: $.keys[%zu]: not a key of the store (file, tag, algorithm, "
                        "role and the timestamps)",
                        path, i);
    }
    if (!json_is_array(arr) || json_array_size(arr) > ZONE_KASP_MAX_KEYS)
        errlist_add(errs, "%s: $.keys: must be an array of at most %d keys", path,
                    ZONE_KASP_MAX_KEYS);
    json_decref(root);
    return ok;
}

bool zone_kasp_write_atomic(const char *dir, const char *path, const char *data,
                            struct errlist *errs)
{
    char tmp[4300];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t len = strlen(data), off = 0;
    bool ok = fd >= 0;
    while (ok && off < len) {
        ssize_t w = write(fd, data + off, len - off);
        ok = w > 0;
        off += ok ? (size_t)w : 0;
    }
    ok = ok && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    ok = ok && rename(tmp, path) == 0;
    if (!ok) {
        errlist_add(errs, "%s: cannot write it: %s", path, strerror(errno));
        unlink(tmp);
        return false;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return true;
}

bool zone_kasp_store_save(const char *dir, const char *origin, const struct zone_kasp_keys *keys,
                          struct errlist *errs)
{
    char path[4200];
    zone_kasp_state_path(path, sizeof(path), dir, origin);
    json_t *arr = json_array();
    for (size_t i = 0; i < keys->n; i++)
        json_array_append_new(arr, zone_kasp_key_to_json(&keys->v[i]));
    json_t *root = json_pack("{s:i, s:s, s:o}", "version", ZONE_KASP_STATE_VERSION, "zone", origin,
                             "keys", arr);
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(root);
    if (!text)
        abort();
    bool ok = zone_kasp_write_atomic(dir, path, text, errs);
    free(text);
    return ok;
}

/* Opens DIR/NAME for writing, 0600: new (O_EXCL) when excl, else over
 * what is there. NULL with errno. */
static FILE *zone_kasp_create(const char *dir, const char *name, const char *ext, char *path,
                              size_t len, bool excl)
{
    snprintf(path, len, "%s/%s%s", dir, name, ext);
    int fd = open(path, O_WRONLY | O_CREAT | (excl ? O_EXCL : O_TRUNC) | O_CLOEXEC, 0600);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (fd >= 0 && !fp)
        close(fd);
    return fp;
}

/* Flushes, fsyncs and closes fp; false on any failure. */
static bool zone_kasp_close(FILE *fp)
{
    bool ok = fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    return fclose(fp) == 0 && ok;
}

/* Fills k's name, tag, algorithm and role from its DNSKEY pub. */
static void zone_kasp_key_from_rr(const ldns_rr *pub, struct zone_kasp_key *k)
{
    char *owner = ldns_rdf2str(ldns_rr_owner(pub));
    uint16_t flags = ldns_rdf2native_int16(ldns_rr_rdf(pub, 0));
    memset(k, 0, sizeof(*k));
    k->tag = ldns_calc_keytag(pub);
    k->algorithm = ldns_rdf2native_int8(ldns_rr_rdf(pub, 2));
    k->ksk = (flags & LDNS_KEY_SEP_KEY) != 0;
    snprintf(k->base, sizeof(k->base), "K%s+%03u+%05u", owner ? owner : "?", k->algorithm, k->tag);
    free(owner);
    for (int i = 0; i < ZONE_KASP_T_N; i++)
        k->t[i] = -1;
}

/* Writes key's .private and pub's .key in dir; false (errno set) when a
 * file exists already (a tag that collides) or cannot be written. */
static bool zone_kasp_write_pair(const char *dir, ldns_key *key, const ldns_rr *pub,
                                 const struct zone_kasp_key *k, char *path, size_t len)
{
    FILE *fp = zone_kasp_create(dir, k->base, ".private", path, len, true);
    if (!fp)
        return false;
    ldns_key_print(fp, key);
    if (!zone_kasp_close(fp))
        return false;
    if (!(fp = zone_kasp_create(dir, k->base, ".key", path, len, true))) {
        int e = errno;
        snprintf(path, len, "%s/%s.private", dir, k->base);
        unlink(path);
        errno = e;
        return false;
    }
    fprintf(fp, "; %s, made by gtmd's key manager\n", k->ksk ? "KSK" : "ZSK");
    ldns_rr_print(fp, pub);
    return zone_kasp_close(fp);
}

bool zone_kasp_store_generate(const char *dir, const char *origin, uint8_t alg, bool ksk,
                              uint32_t ttl, struct zone_kasp_key *k, struct errlist *errs)
{
    ldns_signing_algorithm sa = alg == 8    ? LDNS_SIGN_RSASHA256
                                : alg == 15 ? LDNS_SIGN_ED25519
                                            : LDNS_SIGN_ECDSAP256SHA256;
    ldns_rdf *owner = NULL;
    if (ldns_str2rdf_dname(&owner, origin) != LDNS_STATUS_OK) {
        errlist_add(errs, "%s: %s is not a zone name", dir, origin);
        return false;
    }
    char path[4300] = "";
    bool ok = false;
    int err = 0;
    for (int tries = 0; tries < 4 && !ok; tries++) { /* a tag collision: another key */
        ldns_key *key = ldns_key_new_frm_algorithm(sa, alg == 8 ? 2048 : 256);
        if (!key) {
            err = ENOMEM;
            break;
        }
        ldns_key_set_pubkey_owner(key, ldns_rdf_clone(owner));
        ldns_key_set_flags(key, ksk ? 257 : 256);
        ldns_rr *pub = ldns_key2rr(key);
        if (pub) {
            ldns_rr_set_ttl(pub, ttl);
            zone_kasp_key_from_rr(pub, k);
            ok = zone_kasp_write_pair(dir, key, pub, k, path, sizeof(path));
            err = ok ? 0 : errno;
            ldns_rr_free(pub);
        }
        ldns_key_deep_free(key);
        if (!ok && err != EEXIST)
            break;
    }
    ldns_rdf_deep_free(owner);
    if (!ok)
        errlist_add(errs, "%s: cannot make a %s for %s: %s", path[0] ? path : dir,
                    ksk ? "KSK" : "ZSK", origin, strerror(err ? err : EIO));
    return ok;
}

/* Copies src to dir/name+ext, 0600 (over a copy a crash left before the
 * state was saved). The file itself (the operator's keys already in the
 * key directory) is left as it is. false with a message. */
static bool zone_kasp_copy(const char *src, const char *dir, const char *name, const char *ext,
                           struct errlist *errs)
{
    char path[4300];
    snprintf(path, sizeof(path), "%s/%s%s", dir, name, ext);
    struct stat a, b;
    if (stat(src, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return true;
    FILE *in = fopen(src, "r");
    if (!in) {
        errlist_add(errs, "%s: cannot read it to adopt it: %s", src, strerror(errno));
        return false;
    }
    FILE *out = zone_kasp_create(dir, name, ext, path, sizeof(path), false);
    if (!out) {
        errlist_add(errs, "%s: cannot write it in the key store: %s", path, strerror(errno));
        fclose(in);
        return false;
    }
    char buf[4096];
    size_t n;
    bool ok = true;
    while (ok && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    ok = !ferror(in) && ok;
    fclose(in);
    if (!zone_kasp_close(out) || !ok) {
        errlist_add(errs, "%s: cannot write it in the key store", path);
        return false;
    }
    return true;
}

bool zone_kasp_store_adopt(const char *dir, const char *base, const char *where,
                           struct zone_kasp_key *k, struct errlist *errs)
{
    struct zone_sign_params one = {.n_keys = 1};
    one.keys[0] = (char *)base; /* borrowed: only read */
    one.key_paths[0] = (char *)where;
    ldns_rr_list *pub = zone_sign_public_keys(&one, errs);
    if (!pub)
        return false;
    zone_kasp_key_from_rr(ldns_rr_list_rr(pub, 0), k);
    ldns_rr_list_deep_free(pub);
    char src[4200];
    snprintf(src, sizeof(src), "%s.key", base);
    if (!zone_kasp_copy(src, dir, k->base, ".key", errs))
        return false;
    snprintf(src, sizeof(src), "%s.private", base);
    return zone_kasp_copy(src, dir, k->base, ".private", errs);
}

void zone_kasp_store_purge(const char *dir, const struct zone_kasp_key *k)
{
    char path[4300];
    snprintf(path, sizeof(path), "%s/%s.key", dir, k->base);
    unlink(path);
    snprintf(path, sizeof(path), "%s/%s.private", dir, k->base);
    unlink(path);
}

/* A copy of the formatted string (abort on no memory, as elsewhere). */
static char *zone_kasp_fmt(const char *a, const char *b, const char *c)
{
    size_t len = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(len);
    if (!s)
        abort();
    snprintf(s, len, "%s%s%s", a, b, c);
    return s;
}

void zone_kasp_store_fill(const char *dir, const char *origin, const struct zone_kasp_keys *keys,
                          int64_t now, struct zone_sign_params *sp)
{
    for (size_t i = 0; i < sp->n_keys; i++) {
        free(sp->keys[i]);
        free(sp->key_paths[i]);
        sp->keys[i] = sp->key_paths[i] = NULL;
        sp->publish_only[i] = sp->sign_only[i] = false;
        sp->cds[i] = false;
    }
    sp->n_keys = 0;
    for (size_t i = 0; i < keys->n && sp->n_keys < ZONE_SIGN_MAX_KEYS; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        bool pub = zone_kasp_key_published(k, now), signs = zone_kasp_key_signs(k, now);
        if (!pub && !signs)
            continue;
        char d[4200];
        snprintf(d, sizeof(d), "%s/", dir);
        sp->keys[sp->n_keys] = zone_kasp_fmt(d, k->base, "");
        char w[300];
        snprintf(w, sizeof(w), " (the key store of %s)", origin);
        sp->key_paths[sp->n_keys] = zone_kasp_fmt(d, k->base, w);
        sp->publish_only[sp->n_keys] = !signs;
        sp->sign_only[sp->n_keys] = !pub;
        sp->cds[sp->n_keys] = (int)i == zone_kasp_sched_parent_ksk(keys, now);
        sp->n_keys++;
    }
}

json_t *zone_kasp_store_json(const struct zone_kasp_keys *keys, int64_t now)
{
    json_t *a = json_array();
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        json_t *o = zone_kasp_key_to_json(k);
        json_object_set_new(o, "state", json_string(zone_kasp_key_state(k, now)));
        json_object_set_new(o, "signs", json_boolean(zone_kasp_key_signs(k, now)));
        json_array_append_new(a, o);
    }
    return a;
}
