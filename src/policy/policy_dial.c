/*
 * policy_dial.c -- the clients' buckets of dials and failback ramps.
 */
#include "policy/policy_dial.h"

#include <netinet/in.h>
#include <string.h>

/* FNV-1a over the octets, then a 64-bit finalizer (murmur3's fmix64), so
 * that keys that differ in one bit land in unrelated buckets. The test
 * suite has a copy of this function (tests/integration/dials.py): the
 * buckets are part of the behaviour operators rely on (the same clients
 * move every time), so changing it is a visible change. */
static uint64_t policy_dial_hash(const uint8_t *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

void policy_dial_client_key(const struct sockaddr_storage *addr, const struct dns_ecs *ecs,
                            bool use_ecs, uint8_t key[8], uint8_t *scope, bool *from_ecs)
{
    memset(key, 0, 8);
    *scope = 0;
    *from_ecs = false;
    if (use_ecs && ecs && ecs->present) {
        bool v4 = ecs->family == 1;
        unsigned bits = v4 ? 24 : 56;
        memcpy(key, ecs->addr, v4 ? 3 : 7);
        *scope = (uint8_t)(ecs->source_prefix < bits ? ecs->source_prefix : bits);
        /* Only the bits the client sent: a shorter source prefix is the
         * scope (0 when a resolver sends /0: one bucket for all). */
        for (unsigned b = *scope; b < bits; b++)
            key[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
        key[7] = v4 ? 4 : 6;
        *from_ecs = true;
    } else if (addr && addr->ss_family == AF_INET) {
        memcpy(key, &((const struct sockaddr_in *)addr)->sin_addr, 3);
        key[7] = 4;
    } else if (addr && addr->ss_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)addr)->sin6_addr, 7);
        key[7] = 6;
    }
}

uint16_t policy_dial_bucket_key(const uint8_t key[8], uint32_t salt)
{
    uint8_t buf[12];
    memcpy(buf, key, 8);
    for (int i = 0; i < 4; i++)
        buf[8 + i] = (uint8_t)(salt >> (8 * i));
    return (uint16_t)(policy_dial_hash(buf, sizeof(buf), 0xcbf29ce484222325ULL) % 10000u);
}

uint16_t policy_dial_bucket(struct policy_dial_client *c, uint32_t salt)
{
    uint8_t key[8];
    bool from_ecs;
    policy_dial_client_key(c->addr, c->ecs, c->use_ecs, key, &c->scope, &from_ecs);
    c->used = true;
    return policy_dial_bucket_key(key, salt);
}

uint32_t policy_dial_salt(const char *target)
{
    return (uint32_t)policy_dial_hash((const uint8_t *)target, strlen(target),
                                      0xcbf29ce484222325ULL);
}
