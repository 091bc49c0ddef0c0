/*
 * cookie.c -- DNS Cookies (RFC 7873, RFC 9018).
 */
#include "guard/cookie.h"

#include <netinet/in.h>
#include <string.h>

const char *cookie_status_name(enum cookie_status st)
{
    static const char *const names[COOKIE_KINDS] = {"none", "client_only", "bad", "valid",
                                                    "malformed"};
    return (unsigned)st < COOKIE_KINDS ? names[st] : "?";
}

bool cookie_len_ok(size_t len)
{
    return len == COOKIE_CLIENT_LEN || (len >= 16 && len <= 40);
}

/* The octets of addr's IP address for the hash: 4 or 16 (0: no address). */
static size_t cookie_ip(const struct sockaddr_storage *addr, const uint8_t **ip)
{
    if (addr && addr->ss_family == AF_INET) {
        *ip = (const uint8_t *)&((const struct sockaddr_in *)addr)->sin_addr;
        return 4;
    }
    if (addr && addr->ss_family == AF_INET6) {
        *ip = (const uint8_t *)&((const struct sockaddr_in6 *)addr)->sin6_addr;
        return 16;
    }
    *ip = NULL;
    return 0;
}

/* Hash of RFC 9018 over the client cookie, the 8 octets Version |
 * Reserved | Timestamp as given in head, and the client's address. */
static uint64_t cookie_hash(const uint8_t secret[SIPHASH_KEY_LEN],
                            const uint8_t client[COOKIE_CLIENT_LEN], const uint8_t head[8],
                            const struct sockaddr_storage *addr)
{
    uint8_t buf[COOKIE_CLIENT_LEN + 8 + 16];
    const uint8_t *ip;
    size_t iplen = cookie_ip(addr, &ip);
    memcpy(buf, client, COOKIE_CLIENT_LEN);
    memcpy(buf + COOKIE_CLIENT_LEN, head, 8);
    if (iplen)
        memcpy(buf + COOKIE_CLIENT_LEN + 8, ip, iplen);
    return siphash24(secret, buf, COOKIE_CLIENT_LEN + 8 + iplen);
}

void cookie_make(const uint8_t secret[SIPHASH_KEY_LEN], const uint8_t client[COOKIE_CLIENT_LEN],
                 const struct sockaddr_storage *addr, uint32_t now, uint8_t out[COOKIE_SERVER_LEN])
{
    out[0] = 1; /* version */
    out[1] = out[2] = out[3] = 0;
    out[4] = (uint8_t)(now >> 24);
    out[5] = (uint8_t)(now >> 16);
    out[6] = (uint8_t)(now >> 8);
    out[7] = (uint8_t)now;
    siphash_put_le(cookie_hash(secret, client, out, addr), out + 8);
}

static bool cookie_hash_ok(const uint8_t secret[SIPHASH_KEY_LEN], const uint8_t *opt,
                           const struct sockaddr_storage *addr)
{
    uint8_t want[8];
    siphash_put_le(cookie_hash(secret, opt, opt + COOKIE_CLIENT_LEN, addr), want);
    return memcmp(want, opt + COOKIE_CLIENT_LEN + 8, 8) == 0;
}

enum cookie_status cookie_check(const struct cookie_params *p, const uint8_t *opt, size_t len,
                                const struct sockaddr_storage *addr, uint32_t now,
                                uint8_t reply[COOKIE_REPLY_LEN])
{
    enum cookie_status st = len == COOKIE_CLIENT_LEN ? COOKIE_CLIENT_ONLY : COOKIE_BAD;
    bool renew = true;
    memcpy(reply, opt, COOKIE_CLIENT_LEN);
    if (len == COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN && opt[COOKIE_CLIENT_LEN] == 1) {
        const uint8_t *ts = opt + COOKIE_CLIENT_LEN + 4;
        uint32_t stamp =
            (uint32_t)ts[0] << 24 | (uint32_t)ts[1] << 16 | (uint32_t)ts[2] << 8 | ts[3];
        int32_t age = (int32_t)(now - stamp); /* serial number arithmetic */
        bool fresh = age >= -COOKIE_MAX_AHEAD && age <= COOKIE_MAX_AGE;
        if (fresh && cookie_hash_ok(p->secret, opt, addr)) {
            st = COOKIE_VALID;
            renew = age < 0 || age >= COOKIE_RENEW_AGE;
        } else if (fresh && p->has_previous && cookie_hash_ok(p->previous, opt, addr))
            st = COOKIE_VALID; /* valid, but remade under the current secret */
    }
    if (renew)
        cookie_make(p->secret, opt, addr, now, reply + COOKIE_CLIENT_LEN);
    else
        memcpy(reply + COOKIE_CLIENT_LEN, opt + COOKIE_CLIENT_LEN, COOKIE_SERVER_LEN);
    return st;
}
