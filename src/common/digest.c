/*
 * digest.c -- SHA-256 as lowercase hex (digest.h).
 */
#include "common/digest.h"

#include <openssl/evp.h>
#include <stdio.h>

void digest_sha256_hex(const void *data, size_t len, char out[DIGEST_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return;
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}
