/*
 * query.c -- one query in, one reply out.
 */
#include "answer/query.h"

#include <string.h>
#include <time.h>

#include "answer/encode.h"
#include "answer/identity.h"
#include "answer/lookup.h"
#include "answer/query_guard.h"
#include "answer/xfr_out.h"
#include "common/addr.h"
#include "dns/dns.h"
#include "dns/name.h"
#include "dns/packet.h"
#include "dns/tsig.h"
#include "dns/tsig_replay.h"
#include "policy/policy_loss.h"
#include "xfr/xfr_in.h"
#include "zone/zone_update_params.h"

/* One query's state on the worker's stack. */
struct query_ctx {
    const struct serve_set *s;
    struct query_client *client;
    const uint8_t *in;
    size_t inlen;
    uint8_t *out;
    bool tcp;
    struct dns_query *q;                 /* the caller's parsed query; error replies adjust it */
    const struct answer_zone_hint *zone; /* the question's zone, if known */
    struct encode_params ep;
    struct query_guard guard;
    uint16_t rcode; /* of the reply sent */
    /* A signed request (RFC 8945): the key and MAC once verified; replies
     * are signed into sign_cap octets (ep.max_size keeps room for it). */
    struct tsig_ctx tsig;
    size_t sign_cap;
    bool tsig_checked; /* the request had a TSIG, and query_tsig looked at it */
    bool error_aa;     /* an error reply with AA (a refused NOTIFY, as NSD answers) */
};

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
 * answer_identity). Zone transfers are answered by query_transfer. */
static int query_special_rcode(const struct dns_query *q)
{
    if (q->qclass != DNS_CLASS_IN && q->qclass != DNS_CLASS_ANY)
        return DNS_RCODE_REFUSED;
    return -1;
}

/* The seconds since the epoch for TSIG: the caller's, or the clock's. */
static uint64_t query_wall(const struct query_ctx *c)
{
    return c->client->now_wall ? c->client->now_wall : (uint64_t)time(NULL);
}

/*
 * AXFR and IXFR (xfr_out.h). AXFR over UDP: NOTIMP (no one implements it).
 * For a name that is not the apex of a zone of ours: NOTAUTH, as NSD and
 * Knot say. IXFR over UDP (RFC 1995 §2) for our apex: REFUSED, as NSD and
 * Knot answer (a secondary then asks over TCP). Over TCP, for our apex:
 * REFUSED unless the client is in the zone's "transfer" allow list; NOTAUTH unless the request is
 * signed with the zone's key when it has one, and NOTAUTH with BADTIME for a signed request whose
 * MAC was seen before within its window (a replay); else the transfer begins in the caller's struct
 * answer_xfr (no reply is encoded here: -2). An IXFR gets the differences from the zone's journal
 * when it has them, else the whole zone (RFC 1995 §4).
 */
static int query_transfer(struct query_ctx *c)
{
    const struct dns_query *q = c->q;
    if (!c->tcp && q->qtype == DNS_TYPE_AXFR)
        return DNS_RCODE_NOTIMP;
    const struct zone *z = snapshot_find_zone(c->s->zones, &q->qname, q->qtype);
    if (!z || !dns_name_equal(z->origin, z->origin_len, q->qname.wire, q->qname.len))
        return DNS_RCODE_NOTAUTH;
    if (!c->tcp)
        return DNS_RCODE_REFUSED; /* IXFR over UDP (RFC 1995 §2): asked again over TCP */
    bool allowed = false;
    for (size_t i = 0; c->client->addr && i < z->xfr_n_allow && !allowed; i++)
        allowed = addr_net_contains(&z->xfr_allow[i], c->client->addr);
    if (!allowed || !c->client->xfr)
        return DNS_RCODE_REFUSED;
    if (z->xfr_key && c->tsig.key != z->xfr_key)
        return DNS_RCODE_NOTAUTH;
    /* A signed request seen before within its window is a replay: BADTIME,
     * signed (tsig_replay.h says why transfers only). */
    if (c->tsig.key &&
        tsig_replay_seen(c->s->tsig_replay, &c->tsig, query_wall(c), c->tsig.window)) {
        c->tsig.error = TSIG_BADTIME;
        return DNS_RCODE_NOTAUTH;
    }
    answer_xfr_begin(c->client->xfr, c->s, z, q, c->client->addr, &c->tsig);
    uint32_t serial;
    if (q->qtype == DNS_TYPE_IXFR && answer_xfr_client_serial(c->in, c->inlen, q, &serial))
        answer_xfr_incremental(c->client->xfr, serial);
    return -2;
}

/* Every reply goes through here: rate limiting first (drop, slip, or
 * send), then the encoder that fits: the plan for replies made from data
 * (plan not NULL), the TSIG BADKEY reply, or a bare error. */
static size_t query_reply(struct query_ctx *c, uint16_t rcode, const struct answer_plan *plan)
{
    c->rcode = rcode;
    switch (query_guard_limit(c->s, c->client, c->q, rcode, plan, c->tcp, &c->guard)) {
    case RRL_DROP:
        return 0;
    case RRL_SLIP:
        return query_guard_slip(c->q, rcode, &c->ep, &c->guard, c->out, &c->rcode);
    case RRL_PASS:
        break;
    }
    /* A request whose TSIG did not verify gets NOTAUTH with an unsigned
     * TSIG saying why; BADTIME and verified requests get signed replies
     * (RFC 8945 §5.2, §5.3). */
    if (c->tsig_checked &&
        (!c->tsig.key || c->tsig.error == TSIG_BADSIG || c->tsig.error == TSIG_BADTRUNC))
        return answer_encode_tsig_error(c->q, c->in, c->inlen, c->tsig.error, &c->ep, c->out);
    size_t n = plan ? answer_encode(c->q, plan, &c->ep, c->out)
                    : answer_encode_error(c->q, rcode, &c->ep, c->out);
    if (!plan && c->error_aa && n >= DNS_HEADER_SIZE)
        dns_put16(c->out + 2, (uint16_t)(dns_get16(c->out + 2) | DNS_FLAG_AA));
    if (c->tsig.key)
        n = tsig_sign(&c->tsig, c->out, n, c->sign_cap, true, query_wall(c), c->tsig.error);
    return n;
}

/* Checks the TSIG of a signed request: -1 when it verified (the reply will
 * be signed), else the rcode of the error reply (NOTAUTH with the TSIG
 * error, RFC 8945 §5.2). */
static int query_tsig(struct query_ctx *c)
{
    if (!c->q->tsig)
        return -1;
    c->sign_cap = c->ep.max_size;
    c->tsig_checked = true;
    enum tsig_error e = tsig_verify(&c->s->tsig, c->in, c->inlen, c->q, query_wall(c), &c->tsig);
    if (e != TSIG_OK)
        return DNS_RCODE_NOTAUTH;
    c->ep.max_size -= tsig_record_len(&c->tsig);
    return -1;
}

/* The replies to a query the parser did not accept as is. */
static size_t query_parse_error(struct query_ctx *c, enum dns_parse_result r)
{
    switch (r) {
    case DNS_PARSE_FORMERR:
        c->q->edns = c->q->opt_ok; /* the OPT itself may be what is broken */
        c->q->ecs.present = c->q->ecs.present && c->q->opt_ok;
        c->ep.max_size = DNS_UDP_MIN;
        return query_reply(c, DNS_RCODE_FORMERR, NULL);
    case DNS_PARSE_NOTIMP:
        c->q->qname_ok = false;
        return query_reply(c, DNS_RCODE_NOTIMP, NULL);
    case DNS_PARSE_BADVERS:
        c->q->ecs.present = false;
        return query_reply(c, DNS_RCODE_BADVERS, NULL);
    case DNS_PARSE_NOTAUTH:
        return query_reply(c, DNS_RCODE_NOTAUTH, NULL);
    case DNS_PARSE_DROP:
    case DNS_PARSE_OK:
        break;
    }
    return 0;
}

/* Looks the question up from the zones and policy records, as the client
 * sees them (a scoped drill's canary clients see its targets lost). */
static void query_lookup(struct query_ctx *c, struct answer_plan *plan)
{
    const struct dns_query *q = c->q;
    struct policy_client pc = {
        .addr = c->client->addr, .ecs = &q->ecs, .rng = c->client->rng, .geo = c->s->geo};
    struct policy_loss_match lm;
    struct policy_overlay ov = {.slot = NULL};
    if (c->client->loss)
        policy_answer_client(c->client->loss, c->client->addr, &q->ecs, &lm, &ov, &pc);
    plan->trace = c->client->trace;
    answer_lookup(c->s, q, c->zone, c->tcp, &pc, c->client->reader, plan);
}

/* A NOTIFY (RFC 1996): for a SOA of a zone we are a secondary of, from
 * one of its primaries, NOERROR (its refresh starts at once); else what
 * the secondary thread says (REFUSED, NOTAUTH), as NSD does. REFUSED
 * carries AA, as NSD's does: the refusal is ours to make (we are
 * authoritative for what we are a secondary of), and a primary logs it as
 * such rather than as a lame server's. */
static size_t query_notify(struct query_ctx *c)
{
    const struct dns_query *q = c->q;
    int rc = DNS_RCODE_REFUSED;
    if (q->qtype == DNS_TYPE_SOA && c->s->xfr_in)
        rc = xfr_in_notify(c->s->xfr_in, q->qname.wire, q->qname.len, c->client->addr, c->tsig.key);
    c->error_aa = rc == DNS_RCODE_REFUSED;
    return query_reply(c, (uint16_t)rc, NULL);
}

/* An UPDATE (RFC 2136 §3.1): the zone section names the apex of a zone
 * we are the primary of (else NOTAUTH; a secondary zone too, as NSD and
 * Knot without forwarding say), the request is signed with a key that has
 * rules for that zone (else REFUSED), and there is an updater to take it
 * (else REFUSED). Then it is handed on: no reply here (0). */
static size_t query_update(struct query_ctx *c)
{
    const struct dns_query *q = c->q;
    if (q->qtype != DNS_TYPE_SOA)
        return query_reply(c, DNS_RCODE_FORMERR, NULL);
    const struct zone *z =
        q->qclass == DNS_CLASS_IN ? snapshot_find_zone(c->s->zones, &q->qname, q->qtype) : NULL;
    if (!z || !dns_name_equal(z->origin, z->origin_len, q->qname.wire, q->qname.len) ||
        z->secondary)
        return query_reply(c, DNS_RCODE_NOTAUTH, NULL);
    if (!c->client->update || !c->tsig.key ||
        !zone_update_allowed(z->update, c->tsig.key, NULL, 0, 0))
        return query_reply(c, DNS_RCODE_REFUSED, NULL);
    c->client->update->start = true;
    c->client->update->tsig = c->tsig;
    return 0;
}

size_t query_update_reply(const uint8_t *in, size_t inlen, uint16_t rcode, struct tsig_ctx *tsig,
                          uint64_t now, uint8_t *out, size_t cap)
{
    struct dns_query q;
    if (dns_query_parse(in, inlen, &q) != DNS_PARSE_OK || DNS_OPCODE(q.flags) != DNS_OPCODE_UPDATE)
        return 0;
    struct encode_params ep = {.max_size = cap, .edns_advertise = 1232};
    if (tsig->key)
        ep.max_size -= tsig_record_len(tsig);
    size_t n = answer_encode_error(&q, rcode, &ep, out);
    if (tsig->key)
        n = tsig_sign(tsig, out, n, cap, true, now, TSIG_OK);
    return n;
}

/* Decides and encodes the parsed query r (c->rcode gets the reply's rcode). */
static size_t query_run(struct query_ctx *c, enum dns_parse_result r)
{
    struct answer_plan plan;
    const struct serve_limits *lim = &c->s->limits;
    struct dns_query *q = c->q;

    c->client->qtype = q->qname_ok ? q->qtype : 0;
    c->ep.edns_advertise = lim->edns_udp_max;
    c->ep.max_size = query_reply_size(q, lim, c->tcp);
    if (!c->tcp && c->client->udp_cap && c->ep.max_size > c->client->udp_cap)
        c->ep.max_size = c->client->udp_cap;
    if (q->nsid && c->s->identity.identity) {
        c->ep.nsid = (const uint8_t *)c->s->identity.identity;
        c->ep.nsid_len = (uint16_t)strlen(c->s->identity.identity);
    }
    if (r == DNS_PARSE_DROP)
        return 0;
    int by_cookie = query_guard_cookie(c->s, c->client, q, r, c->tcp, &c->ep, &c->guard);
    if (by_cookie >= 0)
        return query_reply(c, (uint16_t)by_cookie, NULL);
    if (r != DNS_PARSE_OK)
        return query_parse_error(c, r);
    int bad_sig = query_tsig(c);
    if (bad_sig >= 0)
        return query_reply(c, (uint16_t)bad_sig, NULL);
    if (DNS_OPCODE(q->flags) == DNS_OPCODE_NOTIFY)
        return query_notify(c);
    if (DNS_OPCODE(q->flags) == DNS_OPCODE_UPDATE)
        return query_update(c);
    if (q->qclass == DNS_CLASS_CH) {
        if (answer_identity(c->s, q, &plan))
            return query_reply(c, DNS_RCODE_NOERROR, &plan);
        return query_reply(c, DNS_RCODE_REFUSED, NULL);
    }
    int special = query_special_rcode(q);
    if (special < 0 && (q->qtype == DNS_TYPE_AXFR || q->qtype == DNS_TYPE_IXFR))
        special = query_transfer(c);
    if (special == -2)
        return 0; /* the transfer's messages follow (xfr_out.h) */
    if (special >= 0)
        return query_reply(c, (uint16_t)special, NULL);
    query_lookup(c, &plan);
    c->ep.ecs_scope = plan.ecs_scope;
    if (plan.rcode == DNS_RCODE_REFUSED || plan.rcode == DNS_RCODE_SERVFAIL)
        return query_reply(c, plan.rcode, NULL); /* nothing of the plan goes out */
    return query_reply(c, plan.rcode, &plan);
}

void query_parse(const uint8_t *in, size_t inlen, struct query_parsed *p)
{
    p->r = dns_query_parse(in, inlen, &p->q);
    p->zone.known = false;
}

size_t query_answer_parsed(const struct serve_set *s, struct query_client *client,
                           const uint8_t *in, size_t inlen, struct query_parsed *p, uint8_t *out,
                           bool tcp)
{
    struct query_ctx c = {.s = s,
                          .client = client,
                          .in = in,
                          .inlen = inlen,
                          .out = out,
                          .tcp = tcp,
                          .q = &p->q,
                          .zone = &p->zone};
    size_t n = query_run(&c, p->r);
    client->rcode = (uint8_t)c.rcode;
    return n;
}

size_t query_answer(const struct serve_set *s, struct query_client *client, const uint8_t *in,
                    size_t inlen, uint8_t *out, bool tcp)
{
    struct query_parsed p;
    query_parse(in, inlen, &p);
    return query_answer_parsed(s, client, in, inlen, &p, out, tcp);
}

void query_prefetch(const struct serve_set *s, struct query_parsed *p, struct query_hint *h)
{
    const struct dns_query *q = &p->q;
    h->zone = NULL;
    if (p->r != DNS_PARSE_OK)
        return;
    const struct zone *z = snapshot_find_zone(s->zones, &q->qname, q->qtype);
    p->zone.zone = z; /* the answer's first step needs it too */
    p->zone.known = true;
    if (!z || q->qname.count <= z->origin_labels)
        return; /* the apex: lookup_in_zone does not probe the table */
    h->zone = z;
    h->hash = q->qname_hash;
    zone_prefetch(z, h->hash, false);
}

void query_prefetch_node(const struct query_hint *h)
{
    if (h->zone)
        zone_prefetch(h->zone, h->hash, true);
}
