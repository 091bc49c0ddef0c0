/*
 * fleet_keyseal.c -- AES-256-GCM envelopes of a zone's key set
 * (fleet_keyseal.h). OpenSSL EVP; the associated data is built here and
 * nowhere else, so the writer and the reader cannot disagree on it.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/digest.h"
#include "fleet/etcd.h"
#include "fleet/fleet_keyseal.h"

#define FLEET_KEYSEAL_NONCE 12
#define FLEET_KEYSEAL_TAG 16
#define FLEET_KEYSEAL_ALG "AES-256-GCM"

static int fleet_keyseal_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool fleet_keyseal_parse_secret(const char *text, unsigned char out[FLEET_KEYSEAL_SECRET],
                                char *err, size_t errlen)
{
    while (*text && isspace((unsigned char)*text))
        text++;
    size_t n = strlen(text);
    while (n && isspace((unsigned char)text[n - 1]))
        n--;
    if (n == 2 * FLEET_KEYSEAL_SECRET) {
        bool hex = true;
        for (size_t i = 0; i < FLEET_KEYSEAL_SECRET && hex; i++) {
            int hi = fleet_keyseal_hexval(text[2 * i]), lo = fleet_keyseal_hexval(text[2 * i + 1]);
            hex = hi >= 0 && lo >= 0;
            out[i] = (unsigned char)(hi * 16 + lo);
        }
        if (hex)
            return true;
    }
    char *copy = strndup(text, n);
    size_t got = 0;
    char *raw = copy ? etcd_unb64(copy, &got) : NULL;
    free(copy);
    bool ok = raw && got == FLEET_KEYSEAL_SECRET;
    if (ok)
        memcpy(out, raw, FLEET_KEYSEAL_SECRET);
    else
        snprintf(err, errlen,
                 "must hold 32 bytes as 64 hex digits or base64 (openssl rand -hex 32)");
    if (raw)
        OPENSSL_cleanse(raw, got);
    free(raw);
    return ok;
}

void fleet_keyseal_kid(const unsigned char secret[FLEET_KEYSEAL_SECRET],
                       char kid[FLEET_KEYSEAL_KID])
{
    unsigned char buf[17 + FLEET_KEYSEAL_SECRET];
    memcpy(buf, "gtmd-keyshare-kid", 17);
    memcpy(buf + 17, secret, FLEET_KEYSEAL_SECRET);
    char hex[DIGEST_SHA256_HEX];
    digest_sha256_hex(buf, sizeof(buf), hex);
    OPENSSL_cleanse(buf, sizeof(buf));
    memcpy(kid, hex, FLEET_KEYSEAL_KID - 1);
    kid[FLEET_KEYSEAL_KID - 1] = '\0';
}

/* The associated data: everything the envelope says in the clear. */
static int fleet_keyseal_ad(char *buf, size_t len, const char *zone, const char *kid, uint64_t rev,
                            const char *digest)
{
    return snprintf(buf, len, "gtmd-keyshare/1|%s|%s|%" PRIu64 "|%s", zone, kid, rev, digest);
}

/* One GCM pass: encrypt (enc) pt into out, making tag, or decrypt
 * checking it. false when OpenSSL fails or the tag does not verify. */
static bool fleet_keyseal_gcm(bool enc, const unsigned char *key, const unsigned char *nonce,
                              const char *ad, const unsigned char *in, size_t len,
                              unsigned char *out, unsigned char *tag)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    bool ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc ? 1 : 0) == 1 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, FLEET_KEYSEAL_NONCE, NULL) == 1 &&
              EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc ? 1 : 0) == 1 &&
              EVP_CipherUpdate(c, NULL, &n, (const unsigned char *)ad, (int)strlen(ad)) == 1 &&
              EVP_CipherUpdate(c, out, &n, in, (int)len) == 1;
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, FLEET_KEYSEAL_TAG, tag) == 1;
    ok = ok && EVP_CipherFinal_ex(c, out + n, &fin) == 1;
    if (ok && enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, FLEET_KEYSEAL_TAG, tag) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok;
}

json_t *fleet_keyseal_seal(const unsigned char secret[FLEET_KEYSEAL_SECRET], const char *zone,
                           uint64_t rev, const void *pt, size_t len)
{
    char kid[FLEET_KEYSEAL_KID], digest[DIGEST_SHA256_HEX], ad[600];
    unsigned char nonce[FLEET_KEYSEAL_NONCE], tag[FLEET_KEYSEAL_TAG];
    fleet_keyseal_kid(secret, kid);
    digest_sha256_hex(pt, len, digest);
    fleet_keyseal_ad(ad, sizeof(ad), zone, kid, rev, digest);
    unsigned char *ct = malloc(len + 1);
    if (!ct || RAND_bytes(nonce, sizeof(nonce)) != 1 ||
        !fleet_keyseal_gcm(true, secret, nonce, ad, pt, len, ct, tag)) {
        free(ct);
        return NULL;
    }
    char *n64 = etcd_b64(nonce, sizeof(nonce)), *c64 = etcd_b64(ct, len),
         *t64 = etcd_b64(tag, sizeof(tag));
    free(ct);
    json_t *env = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s}", "v", 1, "alg",
                            FLEET_KEYSEAL_ALG, "zone", zone, "kid", kid, "rev", (json_int_t)rev,
                            "digest", digest, "nonce", n64, "ct", c64, "tag", t64);
    free(n64);
    free(c64);
    free(t64);
    return env;
}

const char *fleet_keyseal_status_name(enum fleet_keyseal_status s)
{
    switch (s) {
    case FLEET_KEYSEAL_OK:
        return "ok";
    case FLEET_KEYSEAL_MALFORMED:
        return "malformed";
    case FLEET_KEYSEAL_WRONG_ZONE:
        return "wrong_zone";
    case FLEET_KEYSEAL_WRONG_SECRET:
        return "wrong_secret";
    case FLEET_KEYSEAL_CORRUPT:
        return "corrupt";
    }
    return "?";
}

/* The envelope's base64 field name decoded, of exactly want bytes (0: any). */
static unsigned char *fleet_keyseal_field(json_t *env, const char *name, size_t want, size_t *len)
{
    const char *s = json_string_value(json_object_get(env, name));
    char *raw = s ? etcd_unb64(s, len) : NULL;
    if (raw && want && *len != want) {
        free(raw);
        return NULL;
    }
    return (unsigned char *)raw;
}

enum fleet_keyseal_status fleet_keyseal_open(const unsigned char secret[FLEET_KEYSEAL_SECRET],
                                             const char *zone, json_t *env, char **pt, size_t *len,
                                             uint64_t *rev, char digest[65], char *err,
                                             size_t errlen)
{
    *pt = NULL;
    const char *z = json_string_value(json_object_get(env, "zone"));
    const char *kid = json_string_value(json_object_get(env, "kid"));
    const char *dg = json_string_value(json_object_get(env, "digest"));
    json_t *r = json_object_get(env, "rev");
    if (json_integer_value(json_object_get(env, "v")) != 1 || !z || !kid || !dg ||
        strlen(dg) != 64 || !json_is_integer(r) || json_integer_value(r) < 0) {
        snprintf(err, errlen, "not a key set envelope of version 1");
        return FLEET_KEYSEAL_MALFORMED;
    }
    if (strcmp(z, zone) != 0) {
        snprintf(err, errlen, "the envelope is %s's, not %s's", z, zone);
        return FLEET_KEYSEAL_WRONG_ZONE;
    }
    char mine[FLEET_KEYSEAL_KID];
    fleet_keyseal_kid(secret, mine);
    if (strcmp(kid, mine) != 0) {
        snprintf(err, errlen,
                 "sealed with another key-sharing secret (id %.16s; this node's is %s)", kid, mine);
        return FLEET_KEYSEAL_WRONG_SECRET;
    }
    size_t nl, tl, cl;
    unsigned char *nonce = fleet_keyseal_field(env, "nonce", FLEET_KEYSEAL_NONCE, &nl);
    unsigned char *tag = fleet_keyseal_field(env, "tag", FLEET_KEYSEAL_TAG, &tl);
    unsigned char *ct = fleet_keyseal_field(env, "ct", 0, &cl);
    char *out = ct ? malloc(cl + 1) : NULL;
    char ad[600], check[DIGEST_SHA256_HEX];
    *rev = (uint64_t)json_integer_value(r);
    fleet_keyseal_ad(ad, sizeof(ad), zone, kid, *rev, dg);
    enum fleet_keyseal_status st = FLEET_KEYSEAL_CORRUPT;
    if (!nonce || !tag || !out)
        snprintf(err, errlen, "the envelope's nonce, tag or ciphertext is not base64 of its size");
    else if (!fleet_keyseal_gcm(false, secret, nonce, ad, ct, cl, (unsigned char *)out, tag))
        snprintf(err, errlen, "the authentication tag does not verify: the blob was altered");
    else {
        digest_sha256_hex(out, cl, check);
        if (strcmp(check, dg) != 0)
            snprintf(err, errlen, "the plaintext's digest is not the envelope's");
        else
            st = FLEET_KEYSEAL_OK;
    }
    free(nonce);
    free(tag);
    free(ct);
    if (st != FLEET_KEYSEAL_OK) {
        if (out)
            OPENSSL_cleanse(out, cl);
        free(out);
        return st;
    }
    out[cl] = '\0';
    *pt = out;
    *len = cl;
    memcpy(digest, dg, 65);
    return st;
}
