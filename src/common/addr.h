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
#include <sys/socket.h>

enum addr_port {
    ADDR_PORT_REQUIRED, /* "IPv4:port" or "[IPv6]:port" */
    ADDR_PORT_NONE,     /* a bare address: "IPv4" or "IPv6" (no brackets); port 0 */
};

/* Parses s into ss/len. Returns 0, or -1 when s is not an address of the
 * form asked for (the port, when required, is 1..65535). */
int addr_parse(const char *s, enum addr_port port, struct sockaddr_storage *ss, socklen_t *len);

/* True for 127.0.0.0/8 and ::1. */
bool addr_is_loopback(const struct sockaddr_storage *ss);

#endif
