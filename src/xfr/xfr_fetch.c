/*
 * xfr_fetch.c -- SOA queries and zone transfers to a primary (xfr_fetch.h).
 */
#include "xfr/xfr_fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns.h"
#include "dns/name.h"

static uint64_t fetch_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint32_t xfr_soa_serial(const ldns_rr *soa)
{
    const ldns_rdf *r = ldns_rr_rdf(soa, 2);
    return r ? ldns_rdf2native_int32(r) : 0;
}

/* The query for origin and type, with our SOA in the authority section for
 * an IXFR, signed when ctx has a key; its length in out (0 on failure). */
static size_t fetch_query(const uint8_t *origin, size_t origin_len, ldns_rr_type type,
                          const ldns_rr *our_soa, struct tsig_ctx *ctx, uint8_t *out, size_t cap)
{
    ldns_rdf *owner = ldns_dname_new_frm_data((uint16_t)origin_len, origin);
    ldns_pkt *q = owner ? ldns_pkt_query_new(owner, type, LDNS_RR_CLASS_IN, 0) : NULL;
    uint8_t *wire = NULL;
    size_t len = 0;
    uint16_t id;
    if (!q)
        return 0;
    if (getrandom(&id, sizeof(id), 0) != sizeof(id))
        id = (uint16_t)fetch_now_ms();
    ldns_pkt_set_id(q, id);
    if (our_soa)
        ldns_pkt_push_rr(q, LDNS_SECTION_AUTHORITY, ldns_rr_clone(our_soa));
    if (ldns_pkt2wire(&wire, q, &len) != LDNS_STATUS_OK || len > cap)
        len = 0;
    else
        memcpy(out, wire, len);
    free(wire);
    ldns_pkt_free(q);
    if (len && ctx->key) {
        size_t signed_len = tsig_sign(ctx, out, len, cap, true, (uint64_t)time(NULL), TSIG_OK);
        len = signed_len > len ? signed_len : 0;
    }
    return len;
}

/* Waits for fd to be ready for events until deadline (ms); false on time
 * out, or as soon as *stop is set (a halt does not wait for a primary). */
static bool fetch_wait(int fd, short events, uint64_t deadline, const atomic_bool *stop)
{
    for (;;) {
        uint64_t now = fetch_now_ms();
        if (now >= deadline || (stop && atomic_load(stop)))
            return false;
        struct pollfd p = {.fd = fd, .events = events};
        uint64_t slice = deadline - now < 200 ? deadline - now : 200;
        int r = poll(&p, 1, (int)slice);
        if (r > 0)
            return true;
        if (r < 0 && errno != EINTR)
            return false;
    }
}

/* Whether msg is a reply to our query with ID id; false with why. */
static bool fetch_is_reply(uint16_t id, const uint8_t *msg, size_t len, char *why, size_t whylen)
{
    if (len < DNS_HEADER_SIZE || dns_get16(msg) != id || !(dns_get16(msg + 2) & DNS_FLAG_QR) ||
        DNS_OPCODE(dns_get16(msg + 2)) != 0) {
        snprintf(why, whylen, "not a reply to our query");
        return false;
    }
    return true;
}

/* Checks msg (a reply to our query with ID id) and its TSIG, which covers
 * the unsigned messages before it too (a later message of a transfer);
 * returns the length without the TSIG record, or 0 with why. */
static size_t fetch_check(struct tsig_ctx *ctx, uint16_t id, uint8_t *msg, size_t len, bool first,
                          const uint8_t *before, size_t before_len, char *why, size_t whylen)
{
    if (!fetch_is_reply(id, msg, len, why, whylen))
        return 0;
    if (!ctx->key)
        return len;
    size_t at = 0;
    enum tsig_error e = tsig_verify_reply_after(ctx, before, before_len, msg, len, first,
                                                (uint64_t)time(NULL), &at);
    if (e != TSIG_OK) {
        snprintf(why, whylen, "TSIG of the reply: error %d%s", (int)e,
                 at ? "" : " (the reply is not signed)");
        return 0;
    }
    dns_put16(msg + 10, (uint16_t)(dns_get16(msg + 10) - 1)); /* without the TSIG record */
    return at;
}

/* The rcode of a reply as text, for why. */
static bool fetch_rcode_ok(const uint8_t *msg, char *why, size_t whylen)
{
    unsigned rc = dns_get16(msg + 2) & 0xf;
    if (rc == 0)
        return true;
    snprintf(why, whylen, "the primary answered rcode %u", rc);
    return false;
}

static int fetch_socket(const struct xfr_server *srv, int type)
{
    int fd = socket(srv->addr->ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)srv->addr, srv->len) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends the TCP message and reads replies into list until done() says the
 * transfer is complete. */
struct fetch_tcp {
    int fd;
    const atomic_bool *stop;
    uint64_t deadline; /* the whole transfer's */
    uint64_t idle_ms;  /* one message's */
    /* The unsigned messages since the last signed one, as received (RFC
     * 8945 §5.3.1): the next signed message's MAC covers them. Owned. */
    uint8_t *before;
    size_t before_len, before_cap;
    unsigned unsigned_run;
    uint8_t buf[DNS_TCP_MAX + 2];
};

/* Keeps an unsigned message of a transfer for the next MAC; false with
 * why when there are too many in a row. */
static bool fetch_keep_unsigned(struct fetch_tcp *t, const uint8_t *msg, size_t len, char *why,
                                size_t whylen)
{
    if (t->unsigned_run >= XFR_FETCH_MAX_UNSIGNED) {
        snprintf(why, whylen, "more than %d messages in a row without TSIG",
                 XFR_FETCH_MAX_UNSIGNED);
        return false;
    }
    if (t->before_len + len > t->before_cap) {
        size_t cap = t->before_len + len + 65536;
        uint8_t *b = realloc(t->before, cap);
        if (!b)
            abort();
        t->before = b;
        t->before_cap = cap;
    }
    memcpy(t->before + t->before_len, msg, len);
    t->before_len += len;
    t->unsigned_run++;
    return true;
}

/* Reads n octets; a message (its length, then itself) must come whole
 * within idle_ms, so that a primary dripping octets is cut as one that
 * stops. */
static bool fetch_tcp_read(struct fetch_tcp *t, size_t n, uint8_t *out, uint64_t limit)
{
    size_t got = 0;
    if (limit > t->deadline)
        limit = t->deadline;
    while (got < n) {
        ssize_t r = read(t->fd, out + got, n - got);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EINTR) ||
            !fetch_wait(t->fd, POLLIN, limit, t->stop))
            return false;
    }
    return true;
}

static bool fetch_tcp_send(struct fetch_tcp *t, const uint8_t *msg, size_t len)
{
    uint8_t buf[2 + 4096];
    if (len > sizeof(buf) - 2 || !fetch_wait(t->fd, POLLOUT, t->deadline, t->stop))
        return false;
    dns_put16(buf, (uint16_t)len);
    memcpy(buf + 2, msg, len);
    return write(t->fd, buf, len + 2) == (ssize_t)(len + 2);
}

/* Whether the transfer in list is complete: AXFR form ends with the second
 * SOA of the new serial, IXFR form (the second record a SOA) with the
 * third; a lone SOA is an IXFR saying we are current. */
static bool fetch_complete(const ldns_rr_list *list, bool last_message_single)
{
    size_t n = ldns_rr_list_rr_count(list);
    if (n == 0 || ldns_rr_get_type(ldns_rr_list_rr(list, 0)) != LDNS_RR_TYPE_SOA)
        return false;
    if (n == 1)
        return last_message_single;
    uint32_t serial = xfr_soa_serial(ldns_rr_list_rr(list, 0));
    bool incremental = ldns_rr_get_type(ldns_rr_list_rr(list, 1)) == LDNS_RR_TYPE_SOA &&
                       xfr_soa_serial(ldns_rr_list_rr(list, 1)) != serial;
    size_t seen = 0;
    for (size_t i = 0; i < n; i++) {
        const ldns_rr *rr = ldns_rr_list_rr(list, i);
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && xfr_soa_serial(rr) == serial)
            seen++;
    }
    return seen >= (incremental ? 3u : 2u);
}

/* Whether rr has at least the fields of its type (ldns stops at the end
 * of the RDATA and keeps the fields it had: a SOA of five fields). */
static bool fetch_rr_fields_ok(const ldns_rr *rr)
{
    const ldns_rr_descriptor *d = ldns_rr_descript(ldns_rr_get_type(rr));
    return !d || ldns_rr_rd_count(rr) >= ldns_rr_descriptor_minimum(d);
}

/* Message m's question section skipped: the position of its answers, or 0. */
static size_t fetch_skip_question(const uint8_t *msg, size_t len)
{
    size_t pos = DNS_HEADER_SIZE;
    for (uint16_t i = 0; i < dns_get16(msg + 4); i++) {
        struct dns_name n;
        if (!dns_name_parse(msg, len, &pos, &n, false) || pos + 4 > len)
            return 0;
        pos += 4;
    }
    return pos;
}

/*
 * Appends the answer records of message m to list, each checked: its
 * RDATA inside the message, exactly RDLENGTH octets parsed as its type,
 * with every field of the type (ldns takes a record whose data is shorter
 * or longer than RDLENGTH says and reads on from the wrong place). False
 * with why.
 */
static bool fetch_collect(const uint8_t *msg, size_t len, unsigned m, ldns_rr_list *list,
                          size_t *count, char *why, size_t whylen)
{
    size_t pos = fetch_skip_question(msg, len);
    *count = 0;
    if (!pos) {
        snprintf(why, whylen, "message %u: its question cannot be parsed", m);
        return false;
    }
    for (uint16_t i = 0; i < dns_get16(msg + 6); i++) {
        struct dns_name n;
        size_t p = pos, at = pos;
        if (!dns_name_parse(msg, len, &p, &n, false) || p + 10 > len ||
            p + 10 + dns_get16(msg + p + 8) > len) {
            snprintf(why, whylen, "message %u: record %u runs past the end of the message", m, i);
            return false;
        }
        size_t end = p + 10 + dns_get16(msg + p + 8);
        ldns_rr *rr = NULL;
        if (ldns_wire2rr(&rr, msg, len, &at, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK || at != end ||
            !fetch_rr_fields_ok(rr)) {
            char name[1024];
            dns_name_to_str(n.wire, name, sizeof(name));
            snprintf(why, whylen,
                     "message %u: record %s type %u: its RDATA (%u octets) does not parse as "
                     "that type",
                     m, name, dns_get16(msg + p), dns_get16(msg + p + 8));
            ldns_rr_free(rr);
            return false;
        }
        ldns_rr_list_push_rr(list, rr);
        pos = end;
        (*count)++;
    }
    return true;
}

/* Reads message m of a transfer into t->buf + 2 and checks it (a reply to
 * query q, its TSIG, its rcode); its length without the TSIG record, or
 * 0 with why and the kind of failure in *fail. */
static size_t fetch_next(struct fetch_tcp *t, struct tsig_ctx *ctx, const uint8_t *q, unsigned m,
                         enum xfr_fetch_fail *fail, char *why, size_t whylen)
{
    uint64_t limit = fetch_now_ms() + t->idle_ms;
    if (!fetch_tcp_read(t, 2, t->buf, limit) ||
        !fetch_tcp_read(t, dns_get16(t->buf), t->buf + 2, limit)) {
        uint64_t now = fetch_now_ms();
        bool total = now >= t->deadline, idle = now >= limit;
        snprintf(why, whylen, "the stream %s after %u messages",
                 total  ? "did not end within the transfer timeout"
                 : idle ? "stalled (no whole message within the idle timeout)"
                        : "ended before the closing SOA",
                 m);
        *fail = total || idle ? XFR_FETCH_SLOW : m > 0 ? XFR_FETCH_BAD : XFR_FETCH_UNREACHED;
        return 0;
    }
    uint8_t *msg = t->buf + 2;
    size_t len = dns_get16(t->buf);
    *fail = XFR_FETCH_BAD;
    /* A server may sign as seldom as every 100th message (RFC 8945
     * §5.3.1; NSD signs every 96th): nothing of a transfer is adopted
     * before the signed message that ends it covers the rest. */
    if (ctx->key && m > 0 && !tsig_present(msg, len)) {
        if (!fetch_is_reply(dns_get16(q), msg, len, why, whylen) ||
            !fetch_keep_unsigned(t, msg, len, why, whylen))
            return 0;
    } else {
        len =
            fetch_check(ctx, dns_get16(q), msg, len, m == 0, t->before, t->before_len, why, whylen);
        t->before_len = 0;
        t->unsigned_run = 0;
    }
    if (len && !fetch_rcode_ok(t->buf + 2, why, whylen)) {
        if (m == 0)
            *fail = XFR_FETCH_UNREACHED; /* an error rcode first is the primary's answer */
        return 0;
    }
    return len;
}

/* Whether a first message of one SOA is the whole reply: an IXFR's "you
 * are current" (its serial not newer than ours). An AXFR, or an IXFR of a
 * newer serial, may well go on one record per message (RFC 5936 §2.2). */
static bool fetch_lone_soa_ends(const ldns_rr_list *list, const ldns_rr *our_soa)
{
    if (!our_soa || ldns_rr_list_rr_count(list) != 1)
        return false;
    uint32_t theirs = xfr_soa_serial(ldns_rr_list_rr(list, 0)), ours = xfr_soa_serial(our_soa);
    return (uint32_t)(theirs - ours) == 0 || (uint32_t)(theirs - ours) >= 0x80000000u;
}

bool xfr_fetch_transfer(const struct xfr_server *srv, const uint8_t *origin, size_t origin_len,
                        const ldns_rr *our_soa, ldns_rr_list **rrs, enum xfr_fetch_fail *fail,
                        char *why, size_t whylen)
{
    struct tsig_ctx ctx = {.key = srv->key};
    uint8_t q[4096];
    size_t qlen = fetch_query(origin, origin_len, our_soa ? LDNS_RR_TYPE_IXFR : LDNS_RR_TYPE_AXFR,
                              our_soa, &ctx, q, sizeof(q));
    struct fetch_tcp *t = malloc(sizeof(*t));
    ldns_rr_list *list = ldns_rr_list_new();
    bool ok = false;
    *rrs = NULL;
    *fail = XFR_FETCH_UNREACHED;
    if (t) {
        t->fd = -1;
        t->before = NULL;
        t->before_len = t->before_cap = 0;
        t->unsigned_run = 0;
    }
    if (!t || !list || !qlen) {
        snprintf(why, whylen, "cannot make the query");
        goto out;
    }
    t->deadline = fetch_now_ms() + srv->total_ms;
    t->idle_ms = srv->idle_ms;
    t->stop = srv->stop;
    t->fd = fetch_socket(srv, SOCK_STREAM);
    if (t->fd < 0 || !fetch_tcp_send(t, q, qlen)) {
        snprintf(why, whylen, "cannot connect or send: %s", strerror(errno));
        goto out;
    }
    for (unsigned m = 0; !ok; m++) {
        size_t count = 0;
        size_t len = fetch_next(t, &ctx, q, m, fail, why, whylen);
        if (!len || !fetch_collect(t->buf + 2, len, m, list, &count, why, whylen))
            break;
        *fail = XFR_FETCH_BAD;
        if (ldns_rr_list_rr_count(list) > XFR_FETCH_MAX_RECORDS) {
            snprintf(why, whylen, "more than %d records", XFR_FETCH_MAX_RECORDS);
            break;
        }
        ok = fetch_complete(list, m == 0 && count == 1 && fetch_lone_soa_ends(list, our_soa));
        if (ok && t->unsigned_run > 0) {
            snprintf(why, whylen, "the last message of the transfer is not signed");
            ok = false;
            break;
        }
    }
out:
    if (t && t->fd >= 0)
        close(t->fd);
    if (t)
        free(t->before);
    free(t);
    if (ok)
        *rrs = list;
    else
        ldns_rr_list_deep_free(list);
    return ok;
}

/* One UDP exchange; the reply's length in buf (0 on failure). */
static size_t fetch_udp(const struct xfr_server *srv, const uint8_t *q, size_t qlen, uint8_t *buf,
                        size_t cap)
{
    int fd = fetch_socket(srv, SOCK_DGRAM);
    size_t got = 0;
    if (fd < 0)
        return 0;
    for (int tries = 0; tries < 2 && !got; tries++) {
        if (send(fd, q, qlen, 0) != (ssize_t)qlen)
            break;
        uint64_t deadline = fetch_now_ms() + srv->idle_ms / 2;
        while (!got && fetch_wait(fd, POLLIN, deadline, srv->stop)) {
            ssize_t r = recv(fd, buf, cap, 0);
            if (r >= DNS_HEADER_SIZE && dns_get16(buf) == dns_get16(q))
                got = (size_t)r;
        }
    }
    close(fd);
    return got;
}

bool xfr_fetch_soa(const struct xfr_server *srv, const uint8_t *origin, size_t origin_len,
                   uint32_t *serial, int *rcode, char *why, size_t whylen)
{
    struct tsig_ctx ctx = {.key = srv->key};
    uint8_t q[1024], buf[4096];
    size_t qlen = fetch_query(origin, origin_len, LDNS_RR_TYPE_SOA, NULL, &ctx, q, sizeof(q));
    size_t len = qlen ? fetch_udp(srv, q, qlen, buf, sizeof(buf)) : 0;
    *rcode = -1;
    if (!len) {
        snprintf(why, whylen, "no answer to the SOA query");
        return false;
    }
    /* An error rcode, signed or not (Knot refuses a signed SOA query for
     * a catalog it generates with an unsigned REFUSED): the caller may
     * try the transfer, which is checked whole. */
    if ((dns_get16(buf + 2) & 0xf) != 0 && dns_get16(buf) == dns_get16(q)) {
        *rcode = dns_get16(buf + 2) & 0xf;
        snprintf(why, whylen, "the primary answered rcode %d to the SOA query", *rcode);
        return false;
    }
    if (dns_get16(buf + 2) & DNS_FLAG_TC) {
        /* Truncated: the AXFR machinery reads the same SOA over TCP. */
        ldns_rr_list *rrs = NULL;
        enum xfr_fetch_fail fail;
        bool ok = xfr_fetch_transfer(srv, origin, origin_len, NULL, &rrs, &fail, why, whylen) &&
                  ldns_rr_list_rr_count(rrs) > 0;
        if (ok)
            *serial = xfr_soa_serial(ldns_rr_list_rr(rrs, 0));
        ldns_rr_list_deep_free(rrs);
        return ok;
    }
    len = fetch_check(&ctx, dns_get16(q), buf, len, true, NULL, 0, why, whylen);
    ldns_rr_list *list = ldns_rr_list_new();
    size_t count = 0;
    bool ok = len && list && fetch_collect(buf, len, 0, list, &count, why, whylen);
    const ldns_rr *soa = ok && count ? ldns_rr_list_rr(list, 0) : NULL;
    if (ok && (!soa || ldns_rr_get_type(soa) != LDNS_RR_TYPE_SOA)) {
        snprintf(why, whylen, "the answer has no SOA record");
        ok = false;
    }
    if (ok)
        *serial = xfr_soa_serial(soa);
    ldns_rr_list_deep_free(list);
    return ok;
}

/* One TCP exchange of q (RFC 7766): the reply's length in buf (0 on
 * failure), its ID q's; the whole exchange within srv->idle_ms. */
static size_t fetch_tcp_one(const struct xfr_server *srv, const uint8_t *q, size_t qlen,
                            uint8_t *buf, size_t cap)
{
    struct fetch_tcp *t = calloc(1, sizeof(*t)); /* ours; its buffer is 64 KiB */
    uint8_t lb[2];
    size_t got = 0;
    if (!t)
        return 0;
    t->deadline = fetch_now_ms() + srv->idle_ms;
    t->idle_ms = srv->idle_ms;
    t->stop = srv->stop;
    t->fd = fetch_socket(srv, SOCK_STREAM);
    if (t->fd >= 0 && fetch_tcp_send(t, q, qlen) && fetch_tcp_read(t, 2, lb, t->deadline)) {
        size_t n = dns_get16(lb);
        if (n >= DNS_HEADER_SIZE && n <= cap && fetch_tcp_read(t, n, buf, t->deadline) &&
            dns_get16(buf) == dns_get16(q))
            got = n;
    }
    if (t->fd >= 0)
        close(t->fd);
    free(t);
    return got;
}

/* The end of the question name at off in msg (uncompressed: the first
 * question has nothing before it to point to); 0 when it runs out. */
static size_t fetch_name_end(const uint8_t *msg, size_t len, size_t off)
{
    while (off < len && msg[off] != 0) {
        if (msg[off] > 63)
            return 0;
        off += 1 + msg[off];
    }
    return off < len ? off + 1 : 0;
}

/* Whether reply r echoes q's question (its name in any case, type and
 * class): a reply to another question answers nothing of ours. A reply
 * without a question passes only with an error rcode (RFC 1035 lets a
 * FORMERR carry none) or as an UPDATE's (RFC 2136 3.8 need not echo
 * the zone). */
static bool fetch_same_question(const uint8_t *q, size_t qlen, const uint8_t *r, size_t rlen)
{
    uint16_t rf = dns_get16(r + 2);
    if (dns_get16(r + 4) == 0)
        return (rf & 0xf) != 0 || DNS_OPCODE(rf) == 5;
    size_t end = fetch_name_end(q, qlen, DNS_HEADER_SIZE);
    if (dns_get16(r + 4) != 1 || !end || end + 4 > qlen || end + 4 > rlen)
        return false;
    for (size_t i = DNS_HEADER_SIZE; i < end + 4; i++) {
        uint8_t a = q[i], b = r[i];
        if (i < end && a >= 'A' && a <= 'Z')
            a = (uint8_t)(a + 32);
        if (i < end && b >= 'A' && b <= 'Z')
            b = (uint8_t)(b + 32);
        if (a != b)
            return false;
    }
    return true;
}

bool xfr_fetch_exchange(const struct xfr_server *srv, uint8_t *q, size_t qlen, size_t qcap,
                        uint8_t *reply, size_t cap, size_t *rlen, int *rcode, char *why,
                        size_t whylen)
{
    struct tsig_ctx ctx = {.key = srv->key};
    *rcode = -1;
    *rlen = 0;
    if (ctx.key) {
        size_t signed_len = tsig_sign(&ctx, q, qlen, qcap, true, (uint64_t)time(NULL), TSIG_OK);
        if (signed_len <= qlen) {
            snprintf(why, whylen, "the message does not fit with its TSIG");
            return false;
        }
        qlen = signed_len;
    }
    size_t len = fetch_udp(srv, q, qlen, reply, cap);
    if (!len) {
        snprintf(why, whylen, "no answer within %u ms", srv->idle_ms);
        return false;
    }
    if (dns_get16(reply + 2) & DNS_FLAG_TC) {
        /* Truncated: the same message again over TCP (RFC 7766 5). */
        len = fetch_tcp_one(srv, q, qlen, reply, cap);
        if (!len) {
            snprintf(why, whylen, "a truncated reply, and no answer over TCP within %u ms",
                     srv->idle_ms);
            return false;
        }
    }
    uint16_t qf = dns_get16(q + 2), rf = dns_get16(reply + 2);
    if (!(rf & DNS_FLAG_QR) || DNS_OPCODE(rf) != DNS_OPCODE(qf) || (rf & DNS_FLAG_TC)) {
        snprintf(why, whylen, "not a reply to our message%s",
                 rf & DNS_FLAG_TC ? " (truncated over TCP)" : "");
        return false;
    }
    if (!fetch_same_question(q, qlen, reply, len)) {
        snprintf(why, whylen, "a reply to another question than ours");
        return false;
    }
    *rcode = rf & 0xf;
    if (ctx.key) {
        size_t at = 0;
        enum tsig_error e = tsig_verify_reply(&ctx, reply, len, true, (uint64_t)time(NULL), &at);
        if (e != TSIG_OK) {
            snprintf(why, whylen, "rcode %d, and the reply's TSIG does not check (TSIG error %d%s)",
                     *rcode, (int)e, at ? "" : ", not signed");
            return false;
        }
        dns_put16(reply + 10, (uint16_t)(dns_get16(reply + 10) - 1)); /* without the TSIG */
        len = at;
    }
    *rlen = len;
    return true;
}
