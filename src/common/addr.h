/*
 * addr.h -- IP addresses as written in the configuration.
 *
 * One parser for every place that reads an address: listen addresses
 * ("1.2.3.4:53", "[::1]:53"), admin listeners, and probe targets given as
 * a bare address ("192.0.2.1", "2001:db8::1"). Host names are never
 * resolved here.
 *
 * Ownership: nothing is allocated; results go to caller-owned storage.
 */
#ifndef GTM_COMMON_ADDR_H
#define GTM_COMMON_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

enum addr_port {
    ADDR_PORT_REQUIRED, /* "IPv4:port" or "[IPv6]:port" */
    ADDR_PORT_NONE,     /* a bare address: "IPv4" or "IPv6" (no brackets); port 0 */
};

/* Parses s into ss/len. Returns 0, or -1 when s is not an address of the
 * form asked for (the port, when required, is 1..65535). */
int addr_parse(const char *s, enum addr_port port, struct sockaddr_storage *ss, socklen_t *len);

/* Whether a and b are the same IPv4 or IPv6 address and port (other
 * families: never). */
bool addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

/* True for 127.0.0.0/8 and ::1. */
bool addr_is_loopback(const struct sockaddr_storage *ss);

/* A network: family AF_INET or AF_INET6, the address with bits past the
 * prefix cleared. */
struct addr_net {
    int family;
    uint8_t prefix;
    uint8_t addr[16];
};

/* "ADDRESS/PREFIX" (or a bare address: a host) into n; false when bad or
 * when bits past the prefix are set. */
bool addr_net_parse(const char *s, struct addr_net *n);

/* True when addr (v4-mapped IPv6 counts as IPv4) lies in n. */
bool addr_net_contains(const struct addr_net *n, const struct sockaddr_storage *addr);

#endif
