/*
 * tsig_params.c -- the "tsig_keys" section.
 */
#include "dns/tsig_params.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"

/* Base64 (RFC 4648, padded) into out; the decoded length, or -1. */
static long tsig_params_base64(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s);
    if (n == 0 || n % 4 != 0 || n / 4 * 3 > cap + 2)
        return -1;
    uint8_t buf[TSIG_MAX_SECRET + 3];
    int len = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n);
    if (len < 0)
        return -1;
    for (size_t i = n; i > 0 && s[i - 1] == '='; i--)
        len--; /* EVP_DecodeBlock counts the padding */
    if (len <= 0 || (size_t)len > cap)
        return -1;
    memcpy(out, buf, (size_t)len);
    OPENSSL_cleanse(buf, sizeof(buf));
    return len;
}

enum { TK_ALGORITHM, TK_SECRET, TK_FUDGE, TK_N };
static const struct cfgschema_key tsig_key_keys[TK_N] = {
    [TK_ALGORITHM] = {"algorithm", CFGSCHEMA_STRING,
                      .what = "hmac-sha256 (the default), -sha384, -sha512, -sha224 or -sha1"},
    [TK_SECRET] = {"secret", CFGSCHEMA_STRING, .flags = CFGSCHEMA_REQUIRED,
                   .what = "the shared secret in base64"},
    [TK_FUDGE] = {"fudge", CFGSCHEMA_INT, 1, 3600, TSIG_FUDGE, 0, NULL,
                  "seconds of clock difference allowed: a message is checked with the smaller of "
                  "this and its own Fudge"},
};
const struct cfgschema tsig_key_schema = CFGSCHEMA("$.tsig_keys[]", tsig_key_keys);

static void tsig_params_key(const struct jsoncfg *j, const char *id, json_t *v, struct tsig_key *k,
                            const char *path)
{
    const struct cfgschema *s = &tsig_key_schema;
    struct dns_name n;
    if (!cfgschema_object(j, s, v, path))
        return;
    if (!dns_name_from_str(id, &n) || n.len <= 1)
        jsoncfg_err(j, path, "the key name must be a domain name such as \"xfr.example.com.\"");
    else {
        dns_name_lower(n.wire, n.len);
        memcpy(k->name, n.wire, n.len);
        k->name_len = n.len;
    }
    const char *alg = cfgschema_str(j, s, TK_ALGORITHM, v, path);
    k->alg = tsig_alg_by_name(alg ? alg : "hmac-sha256");
    if (!k->alg)
        cfgschema_err(j, s, TK_ALGORITHM, path,
                      "must be one of hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224, "
                      "hmac-sha1");
    const char *sec = cfgschema_str(j, s, TK_SECRET, v, path);
    long len = sec ? tsig_params_base64(sec, k->secret, sizeof(k->secret)) : -1;
    if (sec && len < 0)
        cfgschema_err(j, s, TK_SECRET, path, "must be base64 of 1 to %d octets", TSIG_MAX_SECRET);
    k->secret_len = len > 0 ? (size_t)len : 0;
    k->fudge = (uint16_t)cfgschema_int(j, s, TK_FUDGE, v, path);
    k->id = jsoncfg_strdup(id);
}

void tsig_params_parse(const struct jsoncfg *j, json_t *v, const char *path,
                       struct tsig_keyring *out)
{
    memset(out, 0, sizeof(*out));
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(j, path,
                    "must be an object of keys by name, such as "
                    "{\"xfr.example.com.\": {\"algorithm\": \"hmac-sha256\", "
                    "\"secret\": \"BASE64\"}}");
        return;
    }
    out->keys = calloc(json_object_size(v) ? json_object_size(v) : 1, sizeof(*out->keys));
    if (!out->keys)
        abort();
    const char *id;
    json_t *kv;
    json_object_foreach(v, id, kv)
    {
        char at[320];
        snprintf(at, sizeof(at), "%s[\"%.256s\"]", path, id);
        struct tsig_key *k = &out->keys[out->n];
        tsig_params_key(j, id, kv, k, at);
        for (size_t i = 0; i < out->n; i++)
            if (k->name_len && out->keys[i].name_len == k->name_len &&
                memcmp(out->keys[i].name, k->name, k->name_len) == 0)
                jsoncfg_err(j, at, "names the same key as \"%s\"", out->keys[i].id);
        out->n++;
    }
}

const struct tsig_key *tsig_keyring_by_id(const struct tsig_keyring *kr, const char *name)
{
    struct dns_name n;
    if (!dns_name_from_str(name, &n))
        return NULL;
    dns_name_lower(n.wire, n.len);
    return tsig_keyring_find(kr, n.wire, n.len);
}

void tsig_keyring_copy(const struct tsig_keyring *kr, struct tsig_keyring *out)
{
    memset(out, 0, sizeof(*out));
    out->keys = calloc(kr->n ? kr->n : 1, sizeof(*out->keys));
    if (!out->keys)
        abort();
    for (size_t i = 0; i < kr->n; i++) {
        out->keys[i] = kr->keys[i];
        out->keys[i].id = kr->keys[i].id ? strdup(kr->keys[i].id) : NULL;
        if (kr->keys[i].id && !out->keys[i].id)
            abort();
    }
    out->n = kr->n;
}
