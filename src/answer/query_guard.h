/*
 * query_guard.h -- the protection steps of the query path (query.c): DNS
 * Cookies, judged right after parsing, and response rate limiting, once the
 * reply's rcode and answer are known and before anything is encoded.
 * Not for use outside src/answer.
 *
 * Ownership: nothing is allocated; struct query_guard lives on the
 * worker's stack for one query, and the encode_params it fills point into
 * it.
 */
#ifndef GTM_ANSWER_QUERY_GUARD_H
#define GTM_ANSWER_QUERY_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "answer/encode.h"
#include "answer/lookup.h"
#include "answer/query.h"
#include "dns/packet.h"
#include "guard/cookie.h"
#include "guard/rrl.h"
#include "serve/serve.h"

struct query_guard {
    enum cookie_status cookie;
    uint8_t cookie_reply[COOKIE_REPLY_LEN]; /* the reply's COOKIE option */
};

/*
 * DNS Cookies (RFC 7873 §5.2): judges the query's first COOKIE option and
 * puts the reply's (the client cookie and our server cookie, cookie_check)
 * into ep. Returns the rcode that answers the query instead of the usual
 * processing, or -1:
 * - FORMERR for a malformed option (§5.2.2; the reply has no COOKIE);
 * - a query with no question asks for a server cookie (§5.4): NOERROR,
 *   or BADCOOKIE when its server cookie is not valid;
 * - over UDP, a server cookie that is not valid gets BADCOOKIE with a fresh
 *   one (§5.2.4 sends it to §5.2.3, whose choice 2 this is, as Knot DNS
 *   does): the client may have been spoofed, and a real one retries at
 *   once with the new cookie; with cookies.require a client cookie alone
 *   gets BADCOOKIE too. Otherwise the query is answered normally (choice
 *   3; always over TCP, which proves the address, as §5.2.3 says).
 * Cookies off, no COOKIE option, or an OPT that did not parse: -1, NONE.
 * The state is counted in the client's reader.
 */
int query_guard_cookie(const struct serve_set *s, const struct query_client *client,
                       const struct dns_query *q, enum dns_parse_result r, bool tcp,
                       struct encode_params *ep, struct query_guard *g);

/*
 * Response rate limiting of a reply with rcode to q; plan is the answer
 * (lookup or identity) for NOERROR and NXDOMAIN replies made from data,
 * NULL for every other reply (an error class). Never over TCP, without
 * client->rrl, without s->rrl, nor for a client with a valid server
 * cookie (it proved its address). The class and the name keyed on are
 * chosen as Knot and BIND do (guard/rrl.h); a limited reply is counted in
 * the client's reader. Returns RRL_PASS, RRL_DROP or RRL_SLIP.
 */
enum rrl_verdict query_guard_limit(const struct serve_set *s, const struct query_client *client,
                                   const struct dns_query *q, uint16_t rcode,
                                   const struct answer_plan *plan, bool tcp,
                                   const struct query_guard *g);

/* The reply sent instead of a slipped one: BADCOOKIE with a fresh server
 * cookie to a client that sent a client cookie (it retries at once with
 * it, and is then exempt), else a truncated reply (TC, question, OPT) with
 * rcode. *rcode_out gets the rcode sent. */
size_t query_guard_slip(const struct dns_query *q, uint16_t rcode, const struct encode_params *ep,
                        const struct query_guard *g, uint8_t *out, uint16_t *rcode_out);

#endif
