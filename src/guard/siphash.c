/*
 * siphash.c -- SipHash-c-d, written from the paper's description: four
 * 64-bit words of state, c compression rounds per 8-octet block, d
 * finalization rounds, the message length in the last block's top octet.
 */
#include "guard/siphash.h"

#include <errno.h>
#include <sys/random.h>

#define SIPHASH_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t siphash_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void siphash_put_le(uint64_t v, uint8_t out[8])
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

struct siphash_state {
    uint64_t v0, v1, v2, v3;
};

static inline void siphash_round(struct siphash_state *s)
{
    s->v0 += s->v1;
    s->v1 = SIPHASH_ROTL(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = SIPHASH_ROTL(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = SIPHASH_ROTL(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = SIPHASH_ROTL(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = SIPHASH_ROTL(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = SIPHASH_ROTL(s->v2, 32);
}

/* One message word through c compression rounds. */
static inline void siphash_compress(struct siphash_state *s, uint64_t m, int c)
{
    s->v3 ^= m;
    for (int i = 0; i < c; i++)
        siphash_round(s);
    s->v0 ^= m;
}

/* SipHash-c-d: c compression rounds per block, d finalization rounds;
 * inlined into each variant so that the round loops unroll. */
static inline __attribute__((always_inline)) uint64_t
siphash_cd(const uint8_t key[SIPHASH_KEY_LEN], const void *in, size_t len, int c, int d)
{
    const uint8_t *p = in;
    uint64_t k0 = siphash_le64(key), k1 = siphash_le64(key + 8);
    /* "somepseudorandomlygeneratedbytes" */
    struct siphash_state s = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
                              k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
    size_t full = len - len % 8;
    for (size_t i = 0; i < full; i += 8)
        siphash_compress(&s, siphash_le64(p + i), c);
    uint64_t last = (uint64_t)(len & 0xff) << 56;
    for (size_t i = 0; i < len % 8; i++)
        last |= (uint64_t)p[full + i] << (8 * i);
    siphash_compress(&s, last, c);
    s.v2 ^= 0xff;
    for (int i = 0; i < d; i++)
        siphash_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint64_t siphash24(const uint8_t key[SIPHASH_KEY_LEN], const void *in, size_t len)
{
    return siphash_cd(key, in, len, 2, 4);
}

uint64_t siphash13(const uint8_t key[SIPHASH_KEY_LEN], const void *in, size_t len)
{
    return siphash_cd(key, in, len, 1, 3);
}

bool siphash_random_key(uint8_t key[SIPHASH_KEY_LEN])
{
    size_t got = 0;
    while (got < SIPHASH_KEY_LEN) {
        ssize_t n = getrandom(key + got, SIPHASH_KEY_LEN - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}
