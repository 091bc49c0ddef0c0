/*
 * identity.h -- what gtmd tells about itself: CHAOS-class TXT answers for
 * id.server and hostname.bind (the identity) and version.bind and
 * version.server (the version), as NSD and Knot DNS give them (TTL 0,
 * class CH, AA clear, the query name's case), and the NSID option
 * (RFC 5001) asked for with an empty NSID option.
 *
 * The texts come from the served set (serve_set.h: struct serve_identity);
 * a hidden one (NULL) makes those queries REFUSED and sends no NSID.
 *
 * Ownership: nothing is allocated; the plan points into the served set,
 * which outlives the query.
 */
#ifndef GTM_ANSWER_IDENTITY_H
#define GTM_ANSWER_IDENTITY_H

#include <stdbool.h>

#include "answer/lookup.h"
#include "dns/packet.h"
#include "serve/serve.h"

/* Fills plan with the CH TXT answer to q (qclass CH) and returns true, or
 * returns false when q is to be REFUSED: another name, a type other than
 * TXT and ANY, or a hidden text. */
bool answer_identity(const struct serve_set *s, const struct dns_query *q,
                     struct answer_plan *plan);

#endif
