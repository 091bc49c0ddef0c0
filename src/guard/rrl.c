/*
 * rrl.c -- response rate limiting: the lock-free bucket table.
 *
 * A slot is one 64-bit word: tag (16 bits, from the key's hash, never 0)
 * | stamp (16 bits: the monotonic second of the last response, modulo
 * 65536) | balance (32 bits, signed: tokens left, negative = debt). 0 is an
 * empty slot. A key whose slot was not touched for 65536 seconds may look
 * recent again; the worst that does is limit that key for up to window
 * seconds, and only if it was in debt when it left.
 */
#include "guard/rrl.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "guard/siphash.h"

#define RRL_CAS_TRIES 16
#define RRL_KEY_MAX (2 + 16 + 255) /* class, family, network, name */

struct rrl_table {
    _Atomic uint64_t *slots;
    uint32_t size, mask;
    uint8_t key[SIPHASH_KEY_LEN];
    atomic_uint refs;
};

static const char *const rrl_class_names[RRL_CLASSES] = {"answer", "referral", "nodata", "nxdomain",
                                                         "error"};

const char *rrl_class_name(enum rrl_class c)
{
    return (unsigned)c < RRL_CLASSES ? rrl_class_names[c] : "?";
}

void rrl_params_free(struct rrl_params *p)
{
    if (!p)
        return;
    free(p->whitelist);
    p->whitelist = NULL;
    p->n_whitelist = 0;
}

struct rrl_params *rrl_params_copy(const struct rrl_params *p)
{
    struct rrl_params *c = malloc(sizeof(*c));
    if (!c)
        return NULL;
    *c = *p;
    c->whitelist = NULL;
    if (p->n_whitelist) {
        c->whitelist = malloc(p->n_whitelist * sizeof(*c->whitelist));
        if (!c->whitelist) {
            free(c);
            return NULL;
        }
        memcpy(c->whitelist, p->whitelist, p->n_whitelist * sizeof(*c->whitelist));
    }
    return c;
}

/* The IP address of addr: 4 octets for IPv4 (also when written as a
 * v4-mapped IPv6 address), 16 for IPv6; 0 for anything else. */
static int rrl_addr(const struct sockaddr_storage *addr, const uint8_t **ip)
{
    if (addr->ss_family == AF_INET) {
        *ip = (const uint8_t *)&((const struct sockaddr_in *)addr)->sin_addr;
        return AF_INET;
    }
    if (addr->ss_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)addr)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            *ip = a6->s6_addr + 12;
            return AF_INET;
        }
        *ip = a6->s6_addr;
        return AF_INET6;
    }
    *ip = NULL;
    return 0;
}

/* Copies the first bits of src (octets long) into dst (16 octets),
 * zeroing the rest. */
static void rrl_mask(const uint8_t *src, size_t octets, unsigned bits, uint8_t dst[16])
{
    size_t whole = bits / 8 < octets ? bits / 8 : octets;
    memset(dst, 0, 16);
    memcpy(dst, src, whole);
    if (whole < octets && bits % 8)
        dst[whole] = (uint8_t)(src[whole] & (0xff << (8 - bits % 8)));
}

struct rrl_table *rrl_table_new(uint32_t size)
{
    struct rrl_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->slots = calloc(size, sizeof(*t->slots));
    if (!t->slots || !siphash_random_key(t->key)) {
        free(t->slots);
        free(t);
        return NULL;
    }
    t->size = size;
    t->mask = size - 1;
    atomic_init(&t->refs, 1);
    return t;
}

struct rrl_table *rrl_table_reuse(struct rrl_table *old, uint32_t size)
{
    if (old && old->size == size) {
        atomic_fetch_add(&old->refs, 1);
        return old;
    }
    return rrl_table_new(size);
}

void rrl_table_unref(struct rrl_table *t)
{
    if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    free(t->slots);
    free(t);
}

static uint64_t rrl_word(uint16_t tag, uint16_t stamp, int32_t balance)
{
    return (uint64_t)tag << 48 | (uint64_t)stamp << 32 | (uint32_t)balance;
}

static uint16_t rrl_tag(uint64_t w)
{
    return (uint16_t)(w >> 48);
}

/* Seconds since the slot was last used (modulo 65536); empty = longest. */
static uint32_t rrl_idle(uint64_t w, uint16_t now)
{
    return w ? (uint16_t)(now - (uint16_t)(w >> 32)) : UINT32_MAX;
}

/* The key's hash: SipHash-1-3 of class, family, the octets the network
 * prefix covers, and the name. Short input keeps it cheap (it runs for
 * every UDP reply). */
static uint64_t rrl_hash(const struct rrl_table *t, const struct rrl_params *p,
                         const struct sockaddr_storage *addr, enum rrl_class cls,
                         const uint8_t *name, size_t name_len)
{
    uint8_t key[RRL_KEY_MAX], net[16];
    const uint8_t *ip;
    int family = rrl_addr(addr, &ip);
    unsigned prefix = family == AF_INET ? p->ipv4_prefix : family ? p->ipv6_prefix : 0;
    size_t octets = (prefix + 7) / 8, len = 2 + octets;
    key[0] = (uint8_t)cls;
    key[1] = (uint8_t)family;
    if (family) {
        rrl_mask(ip, family == AF_INET ? 4 : 16, prefix, net);
        memcpy(key + 2, net, octets);
    }
    if (name_len > 255)
        name_len = 255;
    if (name) {
        memcpy(key + len, name, name_len);
        len += name_len;
    }
    return siphash13(t->key, key, len);
}

/* The new balance of slot word w after one response at now: refilled for
 * the seconds since its stamp (at most one second's worth banked), one
 * token taken, debt floored at window seconds' worth. */
static int64_t rrl_balance(uint64_t w, bool fresh, uint16_t now, uint32_t rate, uint32_t window)
{
    int64_t cap = rate, bal = cap;
    if (!fresh) {
        uint32_t idle = rrl_idle(w, now);
        bal = (int32_t)(uint32_t)w;
        if (idle > window)
            bal = cap;
        else if (bal + (int64_t)rate * idle < cap)
            bal += (int64_t)rate * idle;
        else
            bal = cap;
    }
    bal -= 1;
    int64_t floor = -(int64_t)rate * window;
    if (floor < INT32_MIN + 1)
        floor = INT32_MIN + 1;
    return bal < floor ? floor : bal;
}

/* One compare-and-swap round on the two candidate slots; -1 when the race
 * was lost, else 1 when the response is limited, 0 when not. */
static int rrl_try(struct rrl_table *t, uint64_t h, uint16_t tag, uint16_t now, uint32_t rate,
                   uint32_t window)
{
    uint32_t i1 = (uint32_t)h & t->mask, i2 = (uint32_t)(h >> 24) & t->mask;
    uint64_t w1 = atomic_load_explicit(&t->slots[i1], memory_order_relaxed);
    uint32_t i = i1;
    uint64_t w = w1;
    bool fresh = false;
    if (rrl_tag(w1) != tag) {
        /* The second candidate is read only now: most keys sit in their
         * first, and each read is likely a cache miss in a large table. */
        uint64_t w2 = atomic_load_explicit(&t->slots[i2], memory_order_relaxed);
        if (rrl_tag(w2) == tag)
            i = i2, w = w2;
        else {
            /* Neither holds the key: take the one idle longest (an empty
             * or expired slot if there is one). */
            fresh = true;
            if (rrl_idle(w2, now) > rrl_idle(w1, now))
                i = i2, w = w2;
        }
    }
    int64_t bal = rrl_balance(w, fresh, now, rate, window);
    if (!atomic_compare_exchange_strong_explicit(&t->slots[i], &w, rrl_word(tag, now, (int32_t)bal),
                                                 memory_order_relaxed, memory_order_relaxed))
        return -1;
    return bal < 0;
}

enum rrl_verdict rrl_account(struct rrl_table *t, const struct rrl_params *p, struct rrl_thread *th,
                             const struct sockaddr_storage *addr, enum rrl_class cls,
                             const uint8_t *name, size_t name_len, uint32_t now)
{
    if (!t || !p || !addr || (unsigned)cls >= RRL_CLASSES || p->rate[cls] == 0)
        return RRL_PASS;
    for (size_t i = 0; i < p->n_whitelist; i++)
        if (addr_net_contains(&p->whitelist[i], addr))
            return RRL_PASS;
    uint64_t h = rrl_hash(t, p, addr, cls, name, name_len);
    uint16_t tag = rrl_tag(h) ? rrl_tag(h) : 1;
    int limited = -1;
    for (int k = 0; k < RRL_CAS_TRIES && limited < 0; k++)
        limited = rrl_try(t, h, tag, (uint16_t)now, p->rate[cls], p->window);
    if (limited <= 0)
        return RRL_PASS; /* not limited, or lost every race: let it through */
    th->limited++;
    return p->slip && th->limited % p->slip == 0 ? RRL_SLIP : RRL_DROP;
}
