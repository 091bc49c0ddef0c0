/*
 * hash.h -- the 64-bit finaliser of MurmurHash3 (Appleby's fmix64): every
 * input bit reaches every output bit, so that a key's low bits can index
 * a table. Shared by the hashes that need a mix of 64 bits (the counter
 * registry's record digests, the geo database's maps).
 *
 * Pure functions; nothing to own or free.
 */
#ifndef GTM_COMMON_HASH_H
#define GTM_COMMON_HASH_H

#include <stdint.h>

static inline uint64_t hash_fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    return k ^ (k >> 33);
}

#endif
