/*
 * probe_icmp.c -- the icmp probe: "count" echo requests, "echo_interval"
 * apart, judged at the probe's deadline (or as soon as every echo has its
 * reply): down when no reply came, or when the fraction lost is more than
 * "max_loss". The round-trip time recorded is the average of the replies'.
 *
 * Sockets: one per family, shared by every icmp probe of the prober,
 * opened on first use and kept until the prober is freed. An unprivileged
 * ping socket (SOCK_DGRAM, IPPROTO_ICMP/ICMPV6, allowed to the groups of
 * net.ipv4.ping_group_range) is tried first; when the system refuses it,
 * a raw socket (needs CAP_NET_RAW: doc/security.md). The kernel rewrites a
 * ping socket's identifier and delivers it only the replies with it; a raw
 * socket sees every ICMP message of the host, so ICMP_FILTER/ICMP6_FILTER
 * lets only echo replies through and ours are told by our identifier.
 * Either way a reply is matched by its sequence number (unique among the
 * echoes in flight on the socket), its source address (the probe's target)
 * and an 8-octet cookie in its payload; anything else (an unknown or
 * expired sequence, a duplicate) is ignored.
 *
 * Ownership: the prober owns the sockets (p->icmp); each probe owns its
 * struct probe_icmp (pr->impl), which holds the sequence numbers it took
 * in its socket's table and gives them back in probe_icmp_stop.
 */
#include "health/probe_int.h"
#include "common/log.h"

#include <errno.h>
#include <event2/event.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROBE_ICMP_SEQS 65536
#define PROBE_ICMP_PAYLOAD 16 /* cookie (8) + the echo's index (1) + padding */
#define PROBE_ICMP_RCVBUF (256 * 1024)
#define PROBE_ICMP_READS 256 /* replies read per wake-up, so other events get their turn */

struct probe_icmp;

struct probe_icmp_sock {
    int family;
    int fd;
    bool raw;
    struct event *ev;
    uint16_t id; /* raw sockets: ours; ping sockets: the kernel's (not checked) */
    uint16_t next_seq;
    uint8_t cookie[8];
    struct probe_icmp **by_seq; /* PROBE_ICMP_SEQS entries: the probe waiting for each */
};

struct probe_icmp {
    struct probe *pr;
    struct probe_icmp_sock *sock;
    struct event *next; /* the next echo's timer */
    uint8_t count, sent, replied, send_failed;
    uint16_t seq[PROBE_SPEC_ICMP_MAX_COUNT];
    bool got[PROBE_SPEC_ICMP_MAX_COUNT];
    struct timespec sent_at[PROBE_SPEC_ICMP_MAX_COUNT];
    uint64_t rtt_sum_us;
    char send_err[64]; /* the last sendto error, for the reason */
};

static int probe_icmp_index(int family)
{
    return family == AF_INET6 ? 1 : 0;
}

static void probe_icmp_sock_free(struct probe_icmp_sock *s)
{
    if (!s)
        return;
    if (s->ev)
        event_free(s->ev);
    if (s->fd >= 0)
        close(s->fd);
    free(s->by_seq);
    free(s);
}

void probe_icmp_prober_free(struct prober *p)
{
    for (int i = 0; i < 2; i++) {
        probe_icmp_sock_free(p->icmp[i]);
        p->icmp[i] = NULL;
    }
}

/* RFC 1071 checksum (ICMPv4; the kernel does ICMPv6's). */
static uint16_t probe_icmp_cksum(const uint8_t *b, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(b[i] << 8 | b[i + 1]);
    if (n & 1)
        sum += (uint32_t)b[n - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return htons((uint16_t)~sum);
}

static double probe_icmp_us_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) * 1e6 + (double)(now.tv_nsec - t->tv_nsec) / 1e3;
}

/* Lets only echo replies through a raw socket. */
static int probe_icmp_filter(int fd, int family)
{
    if (family == AF_INET) {
        struct icmp_filter f = {.data = ~(1U << ICMP_ECHOREPLY)};
        return setsockopt(fd, SOL_RAW, ICMP_FILTER, &f, sizeof(f));
    }
    struct icmp6_filter f;
    ICMP6_FILTER_SETBLOCKALL(&f);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
    return setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f));
}

/* A ping socket if the system allows it, else a raw one; -1 with *err. */
static int probe_icmp_socket(struct prober *p, int family, bool *raw, int *err)
{
    int proto = family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
    *raw = false;
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EPROTONOSUPPORT)) {
        *raw = true;
        fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    }
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    socklen_t slen;
    const struct sockaddr *src = prober_source(p, family, &slen);
    if ((*raw && probe_icmp_filter(fd, family) != 0) || (src && bind(fd, src, slen) != 0)) {
        *err = errno;
        close(fd);
        return -1;
    }
    int rcv = PROBE_ICMP_RCVBUF;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)); /* best effort */
    return fd;
}

static void probe_icmp_on_read(evutil_socket_t fd, short what, void *arg);

/* The family's shared socket, opened now if need be; NULL with a reason. */
static struct probe_icmp_sock *probe_icmp_sock_get(struct prober *p, int family, char *why,
                                                   size_t len)
{
    struct probe_icmp_sock **slot = &p->icmp[probe_icmp_index(family)];
    if (*slot)
        return *slot;
    struct probe_icmp_sock *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    s->family = family;
    int err = 0;
    s->fd = probe_icmp_socket(p, family, &s->raw, &err);
    if (s->fd < 0) {
        char e[80];
        probe_errno_reason(err, e, sizeof(e));
        snprintf(why, len, "cannot open an ICMP%s socket: %s%s", family == AF_INET ? "" : "v6", e,
                 err == EPERM || err == EACCES
                     ? " (ping sockets: net.ipv4.ping_group_range; raw: CAP_NET_RAW)"
                     : "");
        probe_icmp_sock_free(s);
        return NULL;
    }
    s->by_seq = calloc(PROBE_ICMP_SEQS, sizeof(*s->by_seq));
    s->ev = event_new(p->base, s->fd, EV_READ | EV_PERSIST, probe_icmp_on_read, s);
    if (!s->by_seq || !s->ev || event_add(s->ev, NULL) != 0)
        abort();
    if (getrandom(s->cookie, sizeof(s->cookie), GRND_NONBLOCK) != (ssize_t)sizeof(s->cookie))
        memcpy(s->cookie, &s, sizeof(s->cookie) < sizeof(s) ? sizeof(s->cookie) : sizeof(s));
    uint16_t r;
    memcpy(&r, s->cookie + 6, sizeof(r));
    s->id = r;
    s->next_seq = r ^ 0x5a5a;
    log_info("event=icmp_socket family=%s kind=%s", family == AF_INET ? "ipv4" : "ipv6",
             s->raw ? "raw" : "ping");
    *slot = s;
    return s;
}

/* Whether the reply's source is the probe's target. */
static bool probe_icmp_from_target(const struct probe *pr, const struct sockaddr_storage *from)
{
    if (from->ss_family != pr->addr.ss_family)
        return false;
    if (from->ss_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)from)->sin_addr,
                      &((const struct sockaddr_in *)&pr->addr)->sin_addr, 4) == 0;
    return memcmp(&((const struct sockaddr_in6 *)from)->sin6_addr,
                  &((const struct sockaddr_in6 *)&pr->addr)->sin6_addr, 16) == 0;
}

static void probe_icmp_judge(struct probe *pr, bool at_deadline);

/* One datagram read from s: an echo reply of ours is credited to its probe. */
static void probe_icmp_reply(struct probe_icmp_sock *s, const uint8_t *b, size_t n,
                             const struct sockaddr_storage *from)
{
    if (s->family == AF_INET && s->raw) { /* a raw IPv4 socket gets the IP header */
        size_t ihl = n > 0 ? (size_t)(b[0] & 0x0f) * 4 : 0;
        if (ihl < 20 || ihl > n)
            return;
        b += ihl;
        n -= ihl;
    }
    if (n < 8 + PROBE_ICMP_PAYLOAD)
        return;
    uint8_t want = s->family == AF_INET ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY;
    uint16_t id = (uint16_t)(b[4] << 8 | b[5]), seq = (uint16_t)(b[6] << 8 | b[7]);
    if (b[0] != want || b[1] != 0 || (s->raw && id != s->id) ||
        memcmp(b + 8, s->cookie, sizeof(s->cookie)) != 0)
        return;
    struct probe_icmp *ic = s->by_seq[seq];
    unsigned k = b[8 + sizeof(s->cookie)];
    if (!ic || k >= ic->sent || ic->seq[k] != seq || ic->got[k] ||
        !probe_icmp_from_target(ic->pr, from))
        return;
    ic->got[k] = true;
    ic->replied++;
    double us = probe_icmp_us_since(&ic->sent_at[k]);
    ic->rtt_sum_us += us > 1 ? (uint64_t)us : 1;
    if (ic->replied + ic->send_failed == ic->count)
        probe_icmp_judge(ic->pr, false);
}

static void probe_icmp_on_read(evutil_socket_t fd, short what, void *arg)
{
    struct probe_icmp_sock *s = arg;
    uint8_t buf[1500];
    (void)what;
    for (int i = 0; i < PROBE_ICMP_READS; i++) {
        struct sockaddr_storage from;
        socklen_t flen = sizeof(from);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
        if (n < 0)
            return; /* EAGAIN, or an error that says nothing of one probe */
        probe_icmp_reply(s, buf, (size_t)n, &from);
    }
}

/* The verdict: early (every echo answered or failed to go out), or at the
 * deadline (what did not come back by then is lost). */
static void probe_icmp_judge(struct probe *pr, bool at_deadline)
{
    struct probe_icmp *ic = pr->impl;
    unsigned lost = ic->count - ic->replied;
    double loss = (double)lost / ic->count;
    double max = pr->spec->icmp_max_loss;
    if (ic->replied == 0) {
        if (ic->send_err[0])
            probe_fail(pr, HEALTH_FAIL_OTHER, "no reply to %u echoes: %s", ic->count, ic->send_err);
        else
            probe_fail(pr, HEALTH_FAIL_TIMEOUT, "no reply to %u echoes", ic->count);
        return;
    }
    if (loss > max + 1e-9) {
        probe_fail(pr, at_deadline ? HEALTH_FAIL_TIMEOUT : HEALTH_FAIL_OTHER,
                   "%u of %u echoes lost (max_loss %g)%s%s", lost, ic->count, max,
                   ic->send_err[0] ? ": " : "", ic->send_err);
        return;
    }
    uint64_t avg = ic->rtt_sum_us / ic->replied;
    pr->res.rtt_us = avg == 0 ? 1 : avg > UINT32_MAX ? UINT32_MAX : (uint32_t)avg;
    probe_pass(pr);
}

/* A free sequence number on s (none in flight with it), or -1. */
static int probe_icmp_take_seq(struct probe_icmp_sock *s, struct probe_icmp *ic)
{
    for (unsigned i = 0; i < PROBE_ICMP_SEQS; i++) {
        uint16_t seq = s->next_seq++;
        if (!s->by_seq[seq]) {
            s->by_seq[seq] = ic;
            return seq;
        }
    }
    return -1;
}

/* Sends echo number ic->sent; false when the probe ended. */
static bool probe_icmp_send(struct probe *pr, struct probe_icmp *ic)
{
    struct probe_icmp_sock *s = ic->sock;
    int seq = probe_icmp_take_seq(s, ic);
    if (seq < 0) {
        probe_fail_local(pr, "cannot start probe: no free ICMP sequence number");
        return false;
    }
    unsigned k = ic->sent++;
    ic->seq[k] = (uint16_t)seq;
    uint8_t pkt[8 + PROBE_ICMP_PAYLOAD] = {0};
    pkt[0] = s->family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
    pkt[4] = (uint8_t)(s->id >> 8);
    pkt[5] = (uint8_t)s->id;
    pkt[6] = (uint8_t)(seq >> 8);
    pkt[7] = (uint8_t)seq;
    memcpy(pkt + 8, s->cookie, sizeof(s->cookie));
    pkt[8 + sizeof(s->cookie)] = (uint8_t)k;
    if (s->family == AF_INET) {
        uint16_t c = probe_icmp_cksum(pkt, sizeof(pkt));
        memcpy(pkt + 2, &c, sizeof(c));
    }
    struct sockaddr_storage to = pr->addr;
    if (to.ss_family == AF_INET)
        ((struct sockaddr_in *)&to)->sin_port = 0;
    else
        ((struct sockaddr_in6 *)&to)->sin6_port = 0;
    clock_gettime(CLOCK_MONOTONIC, &ic->sent_at[k]);
    if (sendto(s->fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, pr->addr_len) >= 0)
        return true;
    int e = errno;
    char why[64];
    probe_errno_reason(e, why, sizeof(why));
    if (probe_errno_local(e) && e != EADDRNOTAVAIL) {
        probe_fail_local(pr, "cannot send an ICMP echo: %s", why);
        return false;
    }
    snprintf(ic->send_err, sizeof(ic->send_err), "%s", why);
    ic->send_failed++;
    if (ic->replied + ic->send_failed == ic->count) {
        probe_icmp_judge(pr, false);
        return false;
    }
    return true;
}

static void probe_icmp_on_next(evutil_socket_t fd, short what, void *arg)
{
    struct probe *pr = arg;
    struct probe_icmp *ic = pr->impl;
    (void)fd;
    (void)what;
    if (!probe_icmp_send(pr, ic) || ic->sent >= ic->count)
        return;
    uint32_t ms = pr->spec->icmp_echo_interval_ms;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(ic->next, &tv);
}

static void probe_icmp_stop(struct probe *pr)
{
    struct probe_icmp *ic = pr->impl;
    if (!ic)
        return;
    for (unsigned k = 0; k < ic->sent; k++)
        if (ic->sock->by_seq[ic->seq[k]] == ic)
            ic->sock->by_seq[ic->seq[k]] = NULL;
    if (ic->next)
        event_free(ic->next);
    free(ic);
    pr->impl = NULL;
}

static const char *probe_icmp_phase(const struct probe *pr)
{
    return "waiting for echo replies";
}

static void probe_icmp_deadline(struct probe *pr)
{
    probe_icmp_judge(pr, true);
}

static const struct probe_ops probe_icmp_ops = {probe_icmp_stop, probe_icmp_phase};

int probe_icmp_start(struct probe *pr)
{
    char why[PROBE_REASON_LEN];
    struct probe_icmp_sock *s = probe_icmp_sock_get(pr->p, pr->addr.ss_family, why, sizeof(why));
    if (!s) {
        probe_fail_local(pr, "%s", why);
        return -1;
    }
    struct probe_icmp *ic = calloc(1, sizeof(*ic));
    if (!ic)
        abort();
    ic->pr = pr;
    ic->sock = s;
    ic->count = pr->spec->icmp_count ? pr->spec->icmp_count : 1;
    if (ic->count > PROBE_SPEC_ICMP_MAX_COUNT)
        ic->count = PROBE_SPEC_ICMP_MAX_COUNT;
    ic->next = evtimer_new(pr->p->base, probe_icmp_on_next, pr);
    if (!ic->next)
        abort();
    pr->impl = ic;
    pr->ops = &probe_icmp_ops;
    pr->on_deadline = probe_icmp_deadline;
    /* The first echo goes out from the loop, like the later ones. */
    struct timeval now = {0, 0};
    evtimer_add(ic->next, &now);
    return 0;
}
