/*
 * fleet_sign.c -- signing and checking the fleet's records (fleet_sign.h).
 *
 * What is signed: "gtmd-fleet-1", a zero octet, the etcd key, a zero
 * octet, and the record without "sig" as compact JSON with sorted keys
 * (jansson writes the same text for the same value on every node).
 */
#include "fleet/fleet_sign.h"
#include "fleet/fleet_params.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FLEET_SIGN_CONTEXT "gtmd-fleet-1"

const char *fleet_verdict_name(enum fleet_verdict v)
{
    static const char *const names[] = {
        "ok",           "unsigned",   "not_a_member", "bad_signature", "impersonation",
        "not_on_lease", "bad_fields", "bad_id",       "max_overrides", "unsafe",
        "conflict",     "replay",     "old_format",   "new_format"};
    return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

/* The octets a signature covers (malloc'ed; NULL when out of memory). */
static unsigned char *fleet_sign_message(const char *key, const json_t *value, size_t *len)
{
    json_t *copy = json_deep_copy(value);
    if (!copy)
        return NULL;
    json_object_del(copy, "sig");
    char *text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(copy);
    if (!text)
        return NULL;
    size_t cl = sizeof(FLEET_SIGN_CONTEXT), kl = strlen(key) + 1, tl = strlen(text);
    unsigned char *m = malloc(cl + kl + tl);
    if (m) {
        memcpy(m, FLEET_SIGN_CONTEXT, cl);
        memcpy(m + cl, key, kl);
        memcpy(m + cl + kl, text, tl);
        *len = cl + kl + tl;
    }
    free(text);
    return m;
}

bool fleet_sign(const struct fleet_keys *k, const char *key, json_t *value)
{
    if (!k || !k->enabled)
        return true;
    json_object_set_new(value, "signer", json_string(k->own_name));
    size_t len = 0, siglen = 64;
    unsigned char *m = fleet_sign_message(key, value, &len), sig[64];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = m && ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->own) == 1 &&
              EVP_DigestSign(ctx, sig, &siglen, m, len) == 1 && siglen == 64;
    EVP_MD_CTX_free(ctx);
    free(m);
    char b64[100];
    if (ok) {
        EVP_EncodeBlock((unsigned char *)b64, sig, 64);
        json_object_set_new(value, "sig", json_string(b64));
    }
    return ok;
}

static const struct fleet_member *fleet_member_named(const struct fleet_keys *k, const char *n)
{
    for (size_t i = 0; n && i < k->n; i++)
        if (strcmp(k->members[i].name, n) == 0)
            return &k->members[i];
    return NULL;
}

enum fleet_verdict fleet_verify(const struct fleet_keys *k, const char *key, const json_t *value,
                                const char *expect, const char **signer)
{
    *signer = NULL;
    if (!k || !k->enabled)
        return FLEET_SIG_OK;
    const char *who = json_string_value(json_object_get(value, "signer"));
    const char *sig = json_string_value(json_object_get(value, "sig"));
    *signer = who;
    if (!who || !sig)
        return FLEET_SIG_MISSING;
    const struct fleet_member *m = fleet_member_named(k, who);
    if (!m)
        return FLEET_SIG_STRANGER;
    unsigned char raw[96];
    size_t sl = strlen(sig);
    int n = sl == 88 ? EVP_DecodeBlock(raw, (const unsigned char *)sig, 88) : -1;
    size_t len = 0;
    unsigned char *msg = n == 66 ? fleet_sign_message(key, value, &len) : NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = msg && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, m->pub) == 1 &&
              EVP_DigestVerify(ctx, raw, 64, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    free(msg);
    if (!ok)
        return FLEET_SIG_BAD;
    return expect && strcmp(expect, who) != 0 ? FLEET_SIG_IMPERSONATION : FLEET_SIG_OK;
}

bool fleet_sign_bytes(const struct fleet_keys *k, const void *msg, size_t len,
                      unsigned char sig[64])
{
    if (!k || !k->enabled || !k->own)
        return false;
    size_t siglen = 64;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->own) == 1 &&
              EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 && siglen == 64;
    EVP_MD_CTX_free(ctx);
    return ok;
}

enum fleet_verdict fleet_verify_bytes(const struct fleet_keys *k, const char *who, const void *msg,
                                      size_t len, const unsigned char sig[64])
{
    const struct fleet_member *m = fleet_member_named(k, who);
    if (!m)
        return FLEET_SIG_STRANGER;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, m->pub) == 1 &&
              EVP_DigestVerify(ctx, sig, 64, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? FLEET_SIG_OK : FLEET_SIG_BAD;
}

/* The private key of path: PEM, Ed25519, readable by its owner only. */
static void *fleet_keys_own(const struct jsoncfg *j, const char *path, const char *at)
{
    struct stat st;
    FILE *fp = fopen(path, "r");
    if (!fp || fstat(fileno(fp), &st) != 0) {
        jsoncfg_err(j, at, "cannot read %s: %s", path, strerror(errno));
        if (fp)
            fclose(fp);
        return NULL;
    }
    EVP_PKEY *pk = NULL;
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        jsoncfg_err(j, at, "%s has mode %04o: group and others must have no access (chmod 600)",
                    path, (unsigned)(st.st_mode & 07777));
    else if (!(pk = PEM_read_PrivateKey(fp, NULL, NULL, NULL)) ||
             EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
        jsoncfg_err(j, at,
                    "%s is not a PEM Ed25519 private key (openssl genpkey -algorithm "
                    "ed25519 -out FILE)",
                    path);
        EVP_PKEY_free(pk);
        pk = NULL;
    }
    fclose(fp);
    return pk;
}

static void fleet_keys_member(const struct jsoncfg *j, const char *name, json_t *v,
                              struct fleet_keys *out)
{
    char at[200], mem[64];
    cfgschema_key_path(mem, sizeof(mem), &fleet_schema, FLEET_K_MEMBERS, NULL);
    snprintf(at, sizeof(at), "%s.%.64s", mem, name);
    const char *s = json_string_value(v);
    unsigned char raw[48];
    if (out->n >= FLEET_MAX_MEMBERS) {
        jsoncfg_err(j, at, "more than %d members", FLEET_MAX_MEMBERS);
        return;
    }
    if (!s || strlen(s) != 44 || EVP_DecodeBlock(raw, (const unsigned char *)s, 44) != 33) {
        jsoncfg_err(j, at,
                    "must be the base64 of a 32-octet Ed25519 public key (openssl pkey "
                    "-in KEY -pubout -outform DER | tail -c 32 | base64)");
        return;
    }
    struct fleet_member *m = &out->members[out->n];
    m->pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
    if (!m->pub) {
        jsoncfg_err(j, at, "is not an Ed25519 public key");
        return;
    }
    memcpy(m->raw, raw, 32);
    m->name = jsoncfg_strdup(name);
    out->n++;
}

void fleet_keys_parse(const struct jsoncfg *j, json_t *v, const char *node, struct fleet_keys *out)
{
    const struct cfgschema *s = &fleet_schema;
    char at_mem[64], at_key[64];
    cfgschema_key_path(at_mem, sizeof(at_mem), s, FLEET_K_MEMBERS, NULL);
    cfgschema_key_path(at_key, sizeof(at_key), s, FLEET_K_KEY_FILE, NULL);
    memset(out, 0, sizeof(*out));
    json_t *mem = v ? cfgschema_value(s, FLEET_K_MEMBERS, v) : NULL;
    const char *kf = v ? json_string_value(cfgschema_value(s, FLEET_K_KEY_FILE, v)) : NULL;
    if (!mem) {
        if (kf)
            jsoncfg_err(j, at_key, "needs \"members\": the nodes whose keys count");
        return;
    }
    if (!json_is_object(mem) || json_object_size(mem) == 0) {
        jsoncfg_err(j, at_mem,
                    "must name each node with its public key, such as "
                    "{\"ns1\": \"BASE64\", \"ns2\": \"BASE64\"}");
        return;
    }
    const char *name;
    json_t *pk;
    json_object_foreach(mem, name, pk) fleet_keys_member(j, name, pk, out);
    out->enabled = true;
    const struct fleet_member *me = fleet_member_named(out, node);
    if (!me)
        jsoncfg_err(j, at_mem, "does not list this node (%s)", node ? node : "?");
    if (!kf) {
        jsoncfg_err(j, at_key, "is required with \"members\": this node's private key");
        return;
    }
    char *path = jsoncfg_path(j, kf);
    out->own = fleet_keys_own(j, path, at_key);
    free(path);
    out->own_name = jsoncfg_strdup(node ? node : "");
    unsigned char raw[32];
    size_t rl = sizeof(raw);
    if (me && out->own &&
        (EVP_PKEY_get_raw_public_key(out->own, raw, &rl) != 1 || memcmp(raw, me->raw, 32) != 0))
        jsoncfg_err(j, at_key, "its public key is not the one \"members\" lists for %s", node);
}

void fleet_keys_copy(struct fleet_keys *d, const struct fleet_keys *s)
{
    *d = *s;
    for (size_t i = 0; i < s->n; i++) {
        d->members[i].name = strdup(s->members[i].name);
        if (!d->members[i].name || EVP_PKEY_up_ref(s->members[i].pub) != 1)
            abort();
    }
    if (s->own && EVP_PKEY_up_ref(s->own) != 1)
        abort();
    d->own_name = s->own_name ? strdup(s->own_name) : NULL;
}

bool fleet_keys_own_is(const struct fleet_keys *k, const char *node)
{
    if (!k->enabled)
        return true;
    const struct fleet_member *m = fleet_member_named(k, node);
    unsigned char raw[32];
    size_t rl = sizeof(raw);
    return m && k->own && EVP_PKEY_get_raw_public_key(k->own, raw, &rl) == 1 &&
           memcmp(raw, m->raw, 32) == 0;
}

void fleet_keys_free(struct fleet_keys *k)
{
    for (size_t i = 0; i < k->n; i++) {
        EVP_PKEY_free(k->members[i].pub);
        free(k->members[i].name);
    }
    EVP_PKEY_free(k->own);
    free(k->own_name);
    memset(k, 0, sizeof(*k));
}
