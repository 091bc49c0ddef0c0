/*
 * probe_dns.c -- the dns probe: one non-recursive query to the endpoint,
 * passing when the rcode is the expected one and, if expect_answer is
 * set, some answer record's rdata (presentation form) matches it.
 *
 * Queries go through c-ares (probe_ares.c) on a channel whose only server
 * is the endpoint, one try, timeout = the probe's timeout, and
 * ARES_FLAG_NOCHECKRESP so SERVFAIL/REFUSED replies reach us instead of
 * being retried. c-ares ignores a reply it cannot match to the query
 * (shorter than a header, another ID, a question that differs or cannot
 * be read), as a resolver must (RFC 5452 §9.1): a stray or forged datagram
 * cannot fail a probe, which then ends at its timeout. It follows TC over
 * TCP. What it hands us is judged here: header flags, then the message.
 * Channels are cached per (address, port, timeout) in the prober; idle
 * ones are dropped after PROBE_DNS_IDLE_S.
 *
 * Ownership: a pending query has a struct probe_dns_q that c-ares' callback
 * frees (c-ares calls it exactly once: reply, timeout or channel
 * destruction). When the probe ends first (its deadline), stop() only
 * detaches the query from the probe; the late callback then just frees it.
 */
#include "health/probe_int.h"
#include "health/probe_judge.h"

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/msg_build.h"
#include "dns/name.h"
#include "dns/rrtype.h"

#define PROBE_DNS_IDLE_S 300

struct probe_dns_chan {
    struct probe_ares *ares;
    int family;
    uint8_t ip[16];
    uint16_t port;
    uint32_t timeout_ms;
    unsigned pending; /* queries whose callback has not run */
    time_t last_used; /* CLOCK_MONOTONIC seconds */
    struct probe_dns_chan *next;
};

struct probe_dns_q {
    struct probe *pr; /* NULL once the probe no longer waits for us */
    struct probe_dns_chan *chan;
};

/* An rcode as the failure reason names it: its mnemonic, else RCODEn. */
static void probe_dns_rcode_str(int rcode, char *buf, size_t len)
{
    const char *name = rcode >= 0 && rcode <= 15 ? dns_rcode_name((uint16_t)rcode) : NULL;
    if (name)
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "RCODE%d", rcode);
}

static void probe_dns_stop(struct probe *pr)
{
    struct probe_dns_q *q = pr->impl;
    if (q)
        q->pr = NULL;
    pr->impl = NULL;
}

static const char *probe_dns_phase(const struct probe *pr)
{
    return "waiting for dns reply";
}

static const struct probe_ops probe_dns_ops = {probe_dns_stop, probe_dns_phase};

/* ---- judging ------------------------------------------------------------ */

/* Addresses compare as addresses, so "2001:db8::1" matches 2001:DB8:0::1. */
static bool probe_dns_addr_eq(const char *a, const char *b)
{
    uint8_t x[16], y[16];
    if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
        return memcmp(x, y, 4) == 0;
    if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
        return memcmp(x, y, 16) == 0;
    return false;
}

/* Case-insensitive, a trailing dot optional on either side; a TXT of one
 * string also matches without its quotes. */
static bool probe_dns_rdata_eq(const char *have, const char *want)
{
    size_t hl = strlen(have), wl = strlen(want);
    if (probe_dns_addr_eq(have, want))
        return true;
    if (hl >= 2 && have[0] == '"' && have[hl - 1] == '"' && memchr(have + 1, '"', hl - 2) == NULL) {
        if (hl - 2 == wl && memcmp(have + 1, want, wl) == 0)
            return true;
    }
    if (hl && have[hl - 1] == '.')
        hl--;
    if (wl && want[wl - 1] == '.')
        wl--;
    return hl == wl && strncasecmp(have, want, hl) == 0;
}

/* The rdata of rr in presentation form (fields joined by spaces). */
static bool probe_dns_rr_matches(const ldns_rr *rr, const char *want)
{
    ldns_buffer *b = ldns_buffer_new(256);
    bool match = false;
    if (!b)
        abort();
    for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
        if (i)
            ldns_buffer_printf(b, " ");
        ldns_rdf2buffer_str(b, ldns_rr_rdf(rr, i));
    }
    char *s = ldns_buffer_export2str(b);
    if (s)
        match = probe_dns_rdata_eq(s, want);
    free(s);
    ldns_buffer_free(b);
    return match;
}

/* Whether one of the answer records of pkt matches want. */
static bool probe_dns_answer_matches(const ldns_pkt *pkt, const char *want)
{
    ldns_rr_list *an = ldns_pkt_answer(pkt);
    for (size_t i = 0; an && i < ldns_rr_list_rr_count(an); i++)
        if (probe_dns_rr_matches(ldns_rr_list_rr(an, i), want))
            return true;
    return false;
}

enum probe_verdict probe_dns_judge_reply(const struct probe_spec *s, const unsigned char *abuf,
                                         int alen, struct probe_judgement *j)
{
    ldns_pkt *pkt = NULL;
    char have[16], want[16];
    j->load = NAN;

    if (alen <= 0 || ldns_wire2pkt(&pkt, abuf, (size_t)alen) != LDNS_STATUS_OK)
        return probe_judge_fail(j, HEALTH_FAIL_PROTOCOL, "dns: malformed reply");
    int rcode = (int)ldns_pkt_get_rcode(pkt);
    j->verdict = PROBE_PASS;
    /* c-ares matched the ID and the question but looks at no flag: a
     * target that reflects the query (QR clear, NOERROR) would pass. */
    if (!ldns_pkt_qr(pkt) || ldns_pkt_get_opcode(pkt) != LDNS_PACKET_QUERY) {
        probe_judge_fail(j, HEALTH_FAIL_PROTOCOL, "dns: reply has %s",
                         ldns_pkt_qr(pkt) ? "another opcode" : "QR clear");
    } else if (rcode != s->dns_rcode) {
        probe_dns_rcode_str(rcode, have, sizeof(have));
        probe_dns_rcode_str(s->dns_rcode, want, sizeof(want));
        probe_judge_fail(j, HEALTH_FAIL_DNS, "rcode %s (expected %s)", have, want);
    } else if (s->dns_expect && !probe_dns_answer_matches(pkt, s->dns_expect)) {
        probe_judge_fail(j, HEALTH_FAIL_DNS, "no answer matches \"%.60s\"", s->dns_expect);
    }
    ldns_pkt_free(pkt);
    return j->verdict;
}

static void probe_dns_judge(struct probe *pr, const unsigned char *abuf, int alen)
{
    struct probe_judgement j;
    probe_dns_judge_reply(pr->spec, abuf, alen, &j);
    probe_judged(pr, &j);
}

/* The kind of a failed c-ares query (other than its timeout). */
static enum health_fail_kind probe_dns_ares_kind(int status)
{
    switch (status) {
    case ARES_ECONNREFUSED:
        return HEALTH_FAIL_REFUSED;
    case ARES_EBADRESP:
        return HEALTH_FAIL_PROTOCOL;
    case ARES_ENOMEM:
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED:
        return HEALTH_FAIL_OTHER;
    default:
        return HEALTH_FAIL_DNS;
    }
}

static void probe_dns_on_reply(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct probe_dns_q *q = arg;
    struct probe *pr = q->pr;

    q->chan->pending--;
    free(q);
    if (!pr)
        return;
    pr->impl = NULL;
    if (status == ARES_ETIMEOUT)
        probe_fail(pr, HEALTH_FAIL_TIMEOUT, "timeout while waiting for dns reply");
    else if ((status == ARES_ECONNREFUSED || status == ARES_ENOMEM) && probe_out_of_sockets())
        /* c-ares reports a socket it could not open as a refused server. */
        probe_fail_local(pr, "cannot start probe: dns: %s (no socket left)", ares_strerror(status));
    else if (status != ARES_SUCCESS)
        probe_fail(pr, probe_dns_ares_kind(status), "dns: %s", ares_strerror(status));
    else
        probe_dns_judge(pr, abuf, alen);
}

/* ---- channels ----------------------------------------------------------- */

static time_t probe_dns_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static void probe_dns_key(const struct probe *pr, int *family, uint8_t ip[16], uint16_t *port)
{
    memset(ip, 0, 16);
    *family = pr->addr.ss_family;
    if (*family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&pr->addr;
        memcpy(ip, &a->sin_addr, 4);
        *port = ntohs(a->sin_port);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&pr->addr;
        memcpy(ip, &a->sin6_addr, 16);
        *port = ntohs(a->sin6_port);
    }
}

/* Drops channels with nothing pending that were not used for a while
 * (targets removed by a reload). Never called from a c-ares callback. */
static void probe_dns_sweep(struct prober *p, time_t now)
{
    struct probe_dns_chan **pp = &p->dns_chans;
    while (*pp) {
        struct probe_dns_chan *c = *pp;
        if (c->pending == 0 && now - c->last_used > PROBE_DNS_IDLE_S) {
            *pp = c->next;
            probe_ares_free(c->ares);
            free(c);
        } else {
            pp = &c->next;
        }
    }
}

static struct probe_dns_chan *probe_dns_chan_new(struct prober *p, int family, const uint8_t *ip,
                                                 uint16_t port, uint32_t timeout_ms)
{
    struct ares_options o;
    memset(&o, 0, sizeof(o));
    o.flags = ARES_FLAG_NORECURSE | ARES_FLAG_NOCHECKRESP;
    o.timeout = (int)timeout_ms;
    o.tries = 1;
    struct probe_ares *a =
        probe_ares_new(p, &o, ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (!a)
        return NULL;
    struct ares_addr_port_node srv;
    memset(&srv, 0, sizeof(srv));
    srv.family = family;
    memcpy(&srv.addr, ip, family == AF_INET ? 4 : 16);
    srv.udp_port = srv.tcp_port = port;
    /* probe_source: the query leaves from this vantage point's address. */
    socklen_t slen;
    const struct sockaddr *src = prober_source(p, family, &slen);
    if (src && family == AF_INET)
        ares_set_local_ip4(probe_ares_channel(a),
                           ntohl(((const struct sockaddr_in *)src)->sin_addr.s_addr));
    else if (src)
        ares_set_local_ip6(probe_ares_channel(a),
                           ((const struct sockaddr_in6 *)src)->sin6_addr.s6_addr);
    if (ares_set_servers_ports(probe_ares_channel(a), &srv) != ARES_SUCCESS) {
        probe_ares_free(a);
        return NULL;
    }
    struct probe_dns_chan *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->ares = a;
    c->family = family;
    memcpy(c->ip, ip, 16);
    c->port = port;
    c->timeout_ms = timeout_ms;
    c->next = p->dns_chans;
    p->dns_chans = c;
    return c;
}

static struct probe_dns_chan *probe_dns_chan_get(struct prober *p, const struct probe *pr)
{
    int family;
    uint8_t ip[16];
    uint16_t port;
    time_t now = probe_dns_now();

    probe_dns_key(pr, &family, ip, &port);
    probe_dns_sweep(p, now);
    struct probe_dns_chan *c = p->dns_chans;
    while (c && !(c->family == family && c->port == port && c->timeout_ms == pr->spec->timeout_ms &&
                  memcmp(c->ip, ip, 16) == 0))
        c = c->next;
    if (!c)
        c = probe_dns_chan_new(p, family, ip, port, pr->spec->timeout_ms);
    if (c)
        c->last_used = now;
    return c;
}

/* ---- start -------------------------------------------------------------- */

/* A query with RD clear and no EDNS; c-ares sets the ID. Returns its
 * length, or 0 when the check's name is not valid. */
static size_t probe_dns_query(const struct probe_spec *s, uint8_t *out, size_t cap)
{
    struct dns_name n;
    if (!s->dns_name || !dns_name_from_str(s->dns_name, &n))
        return 0;
    struct dns_msg_query q = {
        .id = 0, .flags = 0, .qname = &n, .qtype = s->dns_type, .qclass = DNS_CLASS_IN};
    return dns_msg_build_query(&q, out, cap);
}

int probe_dns_start(struct probe *pr)
{
    uint8_t qbuf[DNS_HEADER_SIZE + DNS_MAX_NAME + 4];
    size_t qlen = probe_dns_query(pr->spec, qbuf, sizeof(qbuf));
    if (qlen == 0) {
        probe_fail(pr, HEALTH_FAIL_OTHER, "dns: bad query name");
        return -1;
    }
    struct probe_dns_chan *c = probe_dns_chan_get(pr->p, pr);
    if (!c) {
        probe_fail_local(pr, "cannot start probe: dns: cannot set up resolver channel");
        return -1;
    }
    struct probe_dns_q *q = calloc(1, sizeof(*q));
    if (!q)
        abort();
    q->pr = pr;
    q->chan = c;
    pr->impl = q;
    pr->ops = &probe_dns_ops;
    c->pending++;
    /* The callback may run right here (e.g. out of memory); it only ever
     * finishes the probe, which defers done to the loop. */
    ares_send(probe_ares_channel(c->ares), qbuf, (int)qlen, probe_dns_on_reply, q);
    probe_ares_kick(c->ares);
    return 0;
}

void probe_dns_prober_free(struct prober *p)
{
    while (p->dns_chans) {
        struct probe_dns_chan *c = p->dns_chans;
        p->dns_chans = c->next;
        /* Pending callbacks run (ARES_EDESTRUCTION) and free their q. */
        probe_ares_free(c->ares);
        free(c);
    }
}
