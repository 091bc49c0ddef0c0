/*
 * query.c -- one query in, one reply out.
 */
#include "answer/query.h"

#include <string.h>
#include <time.h>

#include "answer/encode.h"
#include "answer/identity.h"
#include "answer/lookup.h"
#include "dns/dns.h"
#include "dns/packet.h"
#include "guard/cookie.h"

static size_t query_reply_size(const struct dns_query *q, const struct serve_limits *lim, bool tcp)
{
    if (tcp)
        return DNS_TCP_MAX;
    if (!q->edns)
        return DNS_UDP_MIN;
    size_t want = q->edns_udp_size < DNS_UDP_MIN ? DNS_UDP_MIN : q->edns_udp_size;
    return want < lim->edns_udp_max ? want : lim->edns_udp_max;
}

/* Queries we never answer from zone data: other classes than IN (ANY is
 * answered from IN data, RFC 1035 §3.2.5; CH is answered before, by
 * answer_identity) and zone transfers, which gtmd does not serve (NOTIMP
 * over UDP, REFUSED over TCP, as NSD does). */
static int query_special_rcode(const struct dns_query *q, bool tcp)
{
    if (q->qclass != DNS_CLASS_IN && q->qclass != DNS_CLASS_ANY)
        return DNS_RCODE_REFUSED;
    if (q->qtype == DNS_TYPE_AXFR || q->qtype == DNS_TYPE_IXFR)
        return tcp ? DNS_RCODE_REFUSED : DNS_RCODE_NOTIMP;
    return -1;
}

static uint32_t query_wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (uint32_t)ts.tv_sec;
}

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
 */
static int query_cookie(const struct serve_set *s, const struct query_client *client,
                        const struct dns_query *q, enum dns_parse_result r, bool tcp,
                        struct encode_params *ep, uint8_t buf[COOKIE_REPLY_LEN],
                        enum cookie_status *st)
{
    *st = COOKIE_NONE;
    if (!s->cookies.enabled || !q->cookie_present || !q->opt_ok)
        return -1;
    if (!cookie_len_ok(q->cookie_len)) {
        *st = COOKIE_MALFORMED;
        return DNS_RCODE_FORMERR;
    }
    *st = cookie_check(&s->cookies, q->cookie, q->cookie_len, client->addr, query_wall_seconds(),
                       buf);
    ep->cookie = buf;
    ep->cookie_len = COOKIE_REPLY_LEN;
    if (r == DNS_PARSE_FORMERR && q->qdcount == 0)
        return *st == COOKIE_BAD ? DNS_RCODE_BADCOOKIE : DNS_RCODE_NOERROR;
    if (r == DNS_PARSE_OK && !tcp &&
        (*st == COOKIE_BAD || (s->cookies.require && *st == COOKIE_CLIENT_ONLY)))
        return DNS_RCODE_BADCOOKIE;
    return -1;
}

/* Parses, decides and encodes; *rcode gets the reply's rcode. */
static size_t query_run(const struct serve_set *s, struct query_client *client, const uint8_t *in,
                        size_t inlen, uint8_t *out, bool tcp, uint16_t *rcode)
{
    struct dns_query q;
    struct answer_plan plan;
    const struct serve_limits *lim = &s->limits;
    struct encode_params ep = {.edns_advertise = lim->edns_udp_max, .ecs_scope = 0};
    uint8_t cookie[COOKIE_REPLY_LEN];
    enum cookie_status cst;

    enum dns_parse_result r = dns_query_parse(in, inlen, &q);
    client->qtype = q.qname_ok ? q.qtype : 0;
    ep.max_size = query_reply_size(&q, lim, tcp);
    if (q.nsid && s->identity.identity) {
        ep.nsid = (const uint8_t *)s->identity.identity;
        ep.nsid_len = (uint16_t)strlen(s->identity.identity);
    }
    if (r == DNS_PARSE_DROP)
        return 0;
    int by_cookie = query_cookie(s, client, &q, r, tcp, &ep, cookie, &cst);
    if (client->reader && cst != COOKIE_NONE)
        serve_count_cookie(client->reader, cst);
    if (by_cookie >= 0) {
        *rcode = (uint16_t)by_cookie;
        return answer_encode_error(&q, (uint16_t)by_cookie, &ep, out);
    }
    switch (r) {
    case DNS_PARSE_DROP:
        return 0;
    case DNS_PARSE_FORMERR:
        q.edns = q.opt_ok; /* the OPT itself may be what is broken */
        q.ecs.present = q.ecs.present && q.opt_ok;
        ep.max_size = DNS_UDP_MIN;
        *rcode = DNS_RCODE_FORMERR;
        return answer_encode_error(&q, DNS_RCODE_FORMERR, &ep, out);
    case DNS_PARSE_NOTIMP:
        q.qname_ok = false;
        *rcode = DNS_RCODE_NOTIMP;
        return answer_encode_error(&q, DNS_RCODE_NOTIMP, &ep, out);
    case DNS_PARSE_BADVERS:
        q.ecs.present = false;
        *rcode = DNS_RCODE_BADVERS;
        return answer_encode_error(&q, DNS_RCODE_BADVERS, &ep, out);
    case DNS_PARSE_NOTAUTH:
        *rcode = DNS_RCODE_NOTAUTH;
        return answer_encode_tsig_badkey(&q, in, inlen, &ep, out);
    case DNS_PARSE_OK:
        break;
    }
    if (q.qclass == DNS_CLASS_CH) {
        *rcode = answer_identity(s, &q, &plan) ? DNS_RCODE_NOERROR : DNS_RCODE_REFUSED;
        if (*rcode == DNS_RCODE_NOERROR)
            return answer_encode(&q, &plan, &ep, out);
        return answer_encode_error(&q, DNS_RCODE_REFUSED, &ep, out);
    }
    int special = query_special_rcode(&q, tcp);
    if (special >= 0) {
        *rcode = (uint16_t)special;
        return answer_encode_error(&q, (uint16_t)special, &ep, out);
    }
    struct policy_client pc = {.addr = client->addr, .ecs = &q.ecs, .rng = client->rng};
    plan.trace = client->trace;
    answer_lookup(s, &q, tcp, &pc, client->reader, &plan);
    ep.ecs_scope = plan.ecs_scope;
    *rcode = plan.rcode;
    if (plan.rcode == DNS_RCODE_REFUSED)
        return answer_encode_error(&q, DNS_RCODE_REFUSED, &ep, out);
    return answer_encode(&q, &plan, &ep, out);
}

size_t query_answer(const struct serve_set *s, struct query_client *client, const uint8_t *in,
                    size_t inlen, uint8_t *out, bool tcp)
{
    uint16_t rcode = 0;
    size_t n = query_run(s, client, in, inlen, out, tcp, &rcode);
    client->rcode = (uint8_t)rcode;
    return n;
}
