/*
 * query_guard.c -- DNS Cookies and response rate limiting in the query path.
 */
#include "answer/query_guard.h"

#include <time.h>

#include "dns/dns.h"
#include "zone/zone.h"

static uint32_t query_guard_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint32_t)ts.tv_sec;
}

int query_guard_cookie(const struct serve_set *s, const struct query_client *client,
                       const struct dns_query *q, enum dns_parse_result r, bool tcp,
                       struct encode_params *ep, struct query_guard *g)
{
    int rcode = -1;
    g->cookie = COOKIE_NONE;
    if (!s->cookies.enabled || !q->cookie_present || !q->opt_ok)
        return -1;
    if (!cookie_len_ok(q->cookie_len)) {
        g->cookie = COOKIE_MALFORMED;
        rcode = DNS_RCODE_FORMERR;
    } else {
        uint32_t now = client->now_wall ? client->now_wall : query_guard_clock(CLOCK_REALTIME);
        g->cookie =
            cookie_check(&s->cookies, q->cookie, q->cookie_len, client->addr, now, g->cookie_reply);
        ep->cookie = g->cookie_reply;
        ep->cookie_len = COOKIE_REPLY_LEN;
        if (r == DNS_PARSE_FORMERR && q->qdcount == 0)
            rcode = g->cookie == COOKIE_BAD ? DNS_RCODE_BADCOOKIE : DNS_RCODE_NOERROR;
        else if (r == DNS_PARSE_OK && !tcp &&
                 (g->cookie == COOKIE_BAD ||
                  (s->cookies.require && g->cookie == COOKIE_CLIENT_ONLY)))
            rcode = DNS_RCODE_BADCOOKIE;
    }
    if (client->reader)
        serve_count_cookie(client->reader, g->cookie);
    return rcode;
}

/* The class of a reply (Knot's and BIND's classes) and the name its
 * bucket is keyed on: the question for answers and NODATA, the zone for
 * NXDOMAIN, referrals and anything a wildcard made (so that random names
 * do not each get a bucket), none for errors. */
static enum rrl_class query_guard_class(const struct dns_query *q, uint16_t rcode,
                                        const struct answer_plan *plan, const uint8_t **name,
                                        size_t *len)
{
    enum rrl_class cls = RRL_ERROR;
    bool by_zone = false;
    *name = NULL;
    *len = 0;
    if (!plan || (rcode != DNS_RCODE_NOERROR && rcode != DNS_RCODE_NXDOMAIN))
        return RRL_ERROR;
    if (rcode == DNS_RCODE_NXDOMAIN) {
        cls = RRL_NXDOMAIN;
        by_zone = true;
    } else if (plan->referral) {
        cls = RRL_REFERRAL;
        by_zone = true;
    } else {
        cls = RRL_NODATA;
        for (uint16_t i = 0; i < plan->n && cls == RRL_NODATA; i++)
            if (plan->rrs[i].section == ANSWER_SEC_ANSWER)
                cls = RRL_ANSWER;
        by_zone = plan->wildcard;
    }
    if (by_zone && plan->zone) {
        *name = plan->zone->origin;
        *len = plan->zone->origin_len;
    } else {
        *name = q->qname.wire;
        *len = q->qname.len;
    }
    return cls;
}

enum rrl_verdict query_guard_limit(const struct serve_set *s, const struct query_client *client,
                                   const struct dns_query *q, uint16_t rcode,
                                   const struct answer_plan *plan, bool tcp,
                                   const struct query_guard *g)
{
    if (tcp || !client->rrl || !s->rrl || !client->addr || g->cookie == COOKIE_VALID)
        return RRL_PASS;
    const uint8_t *name;
    size_t len;
    enum rrl_class cls = query_guard_class(q, rcode, plan, &name, &len);
    uint32_t now = client->now_mono ? client->now_mono : query_guard_clock(CLOCK_MONOTONIC);
    enum rrl_verdict v =
        rrl_account(s->rrl_table, s->rrl, client->rrl, client->addr, cls, name, len, now);
    if (v != RRL_PASS && client->reader)
        serve_count_rrl(client->reader, cls, v == RRL_SLIP);
    return v;
}

size_t query_guard_slip(const struct dns_query *q, uint16_t rcode, const struct encode_params *ep,
                        const struct query_guard *g, uint8_t *out, uint16_t *rcode_out)
{
    if (ep->cookie && (g->cookie == COOKIE_CLIENT_ONLY || g->cookie == COOKIE_BAD)) {
        *rcode_out = DNS_RCODE_BADCOOKIE;
        return answer_encode_error(q, DNS_RCODE_BADCOOKIE, ep, out);
    }
    *rcode_out = rcode;
    return answer_encode_slip(q, rcode, ep, out);
}
