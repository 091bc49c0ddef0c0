/*
 * addr.c -- IP addresses as written in the configuration.
 */
#include "common/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Fills ss from a bare address literal; port in host order. */
static int addr_from_host(const char *host, long port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof(*a4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a6);
        return 0;
    }
    return -1;
}

/* Splits "IPv4:port" or "[IPv6]:port" into host and port text. */
static int addr_split(const char *s, char *host, size_t hostlen, const char **port)
{
    const char *e;
    if (s[0] == '[') {
        e = strchr(s, ']');
        if (!e || e[1] != ':' || (size_t)(e - s - 1) >= hostlen)
            return -1;
        memcpy(host, s + 1, (size_t)(e - s - 1));
        host[e - s - 1] = '\0';
        *port = e + 2;
        return 0;
    }
    e = strrchr(s, ':');
    if (!e || (size_t)(e - s) >= hostlen || strchr(s, ':') != e)
        return -1;
    memcpy(host, s, (size_t)(e - s));
    host[e - s] = '\0';
    *port = e + 1;
    return 0;
}

int addr_parse(const char *s, enum addr_port port, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[128];
    memset(ss, 0, sizeof(*ss));
    if (port == ADDR_PORT_NONE) {
        if (strlen(s) >= sizeof(host))
            return -1;
        return addr_from_host(s, 0, ss, len);
    }
    const char *ptext;
    if (addr_split(s, host, sizeof(host), &ptext) != 0)
        return -1;
    char *end;
    long p = strtol(ptext, &end, 10);
    if (!*ptext || *end || p < 1 || p > 65535)
        return -1;
    return addr_from_host(host, p, ss, len);
}

bool addr_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss->ss_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
    return false;
}

bool addr_net_parse(const char *s, struct addr_net *n)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof(buf))
        return false;
    memcpy(buf, s, alen);
    buf[alen] = '\0';
    memset(n, 0, sizeof(*n));
    uint8_t raw[16] = {0};
    if (inet_pton(AF_INET, buf, raw) == 1)
        n->family = AF_INET;
    else if (inet_pton(AF_INET6, buf, raw) == 1)
        n->family = AF_INET6;
    else
        return false;
    unsigned max = n->family == AF_INET ? 32 : 128;
    unsigned prefix = max;
    if (slash) {
        char *end;
        unsigned long v = strtoul(slash + 1, &end, 10);
        if (!slash[1] || *end || v > max || slash[1] == '+' || slash[1] == '-')
            return false;
        prefix = (unsigned)v;
    }
    n->prefix = (uint8_t)prefix;
    for (unsigned bit = prefix; bit < max; bit++)
        if (raw[bit / 8] & (0x80 >> (bit % 8)))
            return false; /* host bits set: say what is meant */
    memcpy(n->addr, raw, 16);
    return true;
}

bool addr_net_contains(const struct addr_net *n, const struct sockaddr_storage *addr)
{
    const uint8_t *ip;
    int family;
    if (addr->ss_family == AF_INET) {
        ip = (const uint8_t *)&((const struct sockaddr_in *)addr)->sin_addr;
        family = AF_INET;
    } else if (addr->ss_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)addr)->sin6_addr;
        family = IN6_IS_ADDR_V4MAPPED(a6) ? AF_INET : AF_INET6;
        ip = family == AF_INET ? a6->s6_addr + 12 : a6->s6_addr;
    } else
        return false;
    if (family != n->family)
        return false;
    size_t octets = family == AF_INET ? 4 : 16;
    for (unsigned bit = 0; bit < n->prefix && bit < octets * 8; bit += 8) {
        unsigned take = n->prefix - bit >= 8 ? 8 : n->prefix - bit;
        uint8_t mask = (uint8_t)(0xff << (8 - take));
        if ((ip[bit / 8] & mask) != n->addr[bit / 8])
            return false;
    }
    return true;
}

bool addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return a->ss_family == AF_INET6 && x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}
