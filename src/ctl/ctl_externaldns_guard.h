/*
 * ctl_externaldns_guard.h -- what gtmctl externaldns checks before a
 * request reaches the mapping (ctl_externaldns.c): the webhook protocol's
 * content negotiation, the optional shared secret, and the listen
 * address.
 *
 * Negotiation, as ExternalDNS's webhook provider speaks it
 * (provider/webhook/webhook.go of kubernetes-sigs/external-dns): it sends
 * "Accept: application/external.dns.webhook+json;version=1" on GET /, GET
 * /records and POST /adjustendpoints, and "Content-Type:" the same on POST
 * /records and POST /adjustendpoints. This provider speaks version 1
 * only: an Accept that allows no version 1 reply is 406, a body whose
 * Content-Type is not version 1 is 415 and never read, so that a future
 * version's body is never applied as today's.
 *
 * Pure functions (no I/O), unit-tested by tests/unit/test_ctl_externaldns_guard.c.
 */
#ifndef GTM_CTL_EXTERNALDNS_GUARD_H
#define GTM_CTL_EXTERNALDNS_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#define EDNS_MEDIA_TYPE "application/external.dns.webhook+json"
#define EDNS_MEDIA EDNS_MEDIA_TYPE ";version=1"
#define EDNS_SECRET_MAX 512 /* octets of a shared secret */

/* Whether an Accept header value (NULL: none was sent, anything goes)
 * allows a version 1 reply: one of its ranges is EDNS_MEDIA_TYPE with
 * version=1 or no version, application/<asterisk> or <asterisk>/<asterisk>,
 * with a q that is not 0. */
bool edns_guard_accepts(const char *accept);

/* Whether a Content-Type header value (NULL: none) is EDNS_MEDIA_TYPE
 * with version=1 (type and parameter names without case, the value
 * quoted or not). */
bool edns_guard_content_type(const char *ctype);

/* Whether given equals secret, in time that depends on neither (both are
 * compared over EDNS_SECRET_MAX octets). NULL given: false. */
bool edns_guard_secret_eq(const char *given, const char *secret);

/* Whether host (of --listen; "[::1]" or "::1", "127.0.0.5", "localhost")
 * is a loopback address. */
bool edns_guard_loopback(const char *host);

#endif
