/*
 * digest.c -- SHA-256 as lowercase hex (digest.h).
 */
#include "common/digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool digest_sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        memset(out, 0, 32);
        return false;
    }
    memcpy(out, md, 32);
    return true;
}

void digest_sha256_hex(const void *data, size_t len, char out[DIGEST_SHA256_HEX])
{
    unsigned char md[32];
    out[0] = '\0';
    if (!digest_sha256(data, len, md))
        return;
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The state OpenSSL keeps between pieces, and whether one failed. */
struct digest_sha256_run {
    EVP_MD_CTX *ctx;
    bool failed;
};

struct digest_sha256_run *digest_sha256_begin(void)
{
    struct digest_sha256_run *d = calloc(1, sizeof(*d));
    if (d && (d->ctx = EVP_MD_CTX_new()) != NULL &&
        EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) == 1)
        return d;
    if (d)
        EVP_MD_CTX_free(d->ctx);
    free(d);
    return NULL;
}

void digest_sha256_add(struct digest_sha256_run *d, const void *data, size_t len)
{
    if (d && !d->failed && EVP_DigestUpdate(d->ctx, data, len) != 1)
        d->failed = true;
}

void digest_sha256_end_hex(struct digest_sha256_run *d, char out[DIGEST_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    if (d && !d->failed && EVP_DigestFinal_ex(d->ctx, md, &n) == 1 && n == 32)
        for (unsigned i = 0; i < 32; i++)
            snprintf(out + 2 * i, 3, "%02x", md[i]);
    if (d)
        EVP_MD_CTX_free(d->ctx);
    free(d);
}

bool digest_secret_eq(const char *given, const char *want)
{
    if (!given || !want)
        return false;
    unsigned char g[EVP_MAX_MD_SIZE], w[EVP_MAX_MD_SIZE];
    unsigned int gn = 0, wn = 0;
    /* Both digests are always computed, whatever the first one gave. */
    int ok1 = EVP_Digest(given, strlen(given), g, &gn, EVP_sha256(), NULL);
    int ok2 = EVP_Digest(want, strlen(want), w, &wn, EVP_sha256(), NULL);
    if (ok1 != 1 || ok2 != 1 || gn != 32 || wn != 32)
        return false;
    return CRYPTO_memcmp(g, w, 32) == 0;
}
