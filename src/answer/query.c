/*
 * query.c -- one query in, one reply out.
 */
#include "answer/query.h"

#include "answer/encode.h"
#include "answer/lookup.h"
#include "dns/dns.h"
#include "dns/packet.h"
#include "policy/policy_loss.h"

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
 * answered from IN data, RFC 1035 §3.2.5) and zone transfers, which gtmd
 * does not serve (NOTIMP over UDP, REFUSED over TCP, as NSD does). */
static int query_special_rcode(const struct dns_query *q, bool tcp)
{
    if (q->qclass != DNS_CLASS_IN && q->qclass != DNS_CLASS_ANY)
        return DNS_RCODE_REFUSED;
    if (q->qtype == DNS_TYPE_AXFR || q->qtype == DNS_TYPE_IXFR)
        return tcp ? DNS_RCODE_REFUSED : DNS_RCODE_NOTIMP;
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

    enum dns_parse_result r = dns_query_parse(in, inlen, &q);
    client->qtype = q.qname_ok ? q.qtype : 0;
    ep.max_size = query_reply_size(&q, lim, tcp);
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
    int special = query_special_rcode(&q, tcp);
    if (special >= 0) {
        *rcode = (uint16_t)special;
        return answer_encode_error(&q, (uint16_t)special, &ep, out);
    }
    struct policy_client pc = {.addr = client->addr, .ecs = &q.ecs, .rng = client->rng};
    struct policy_loss_match lm;
    struct policy_overlay ov = {.slot = NULL};
    if (client->loss) {
        /* A scoped drill: its canary clients see its targets lost. */
        struct policy_loss_client lc;
        policy_loss_client_of(client->addr, &q.ecs, &lc);
        policy_loss_match(client->loss, &lc, &lm);
        ov.lost = lm.lost;
        ov.n_lost = lm.n_lost;
        pc.overlay = lm.n_lost ? &ov : NULL;
        pc.ecs_scope_min = q.ecs.present ? lm.scope_min : 0;
        pc.canary = lm.n_tags > 0;
    }
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
