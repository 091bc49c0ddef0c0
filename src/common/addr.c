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
