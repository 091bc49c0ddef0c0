/*
 * anycast_selfcheck.c -- the DNS self-check (anycast_selfcheck.h).
 */
#include "anycast/anycast_selfcheck.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

struct anycast_probe {
    struct anycast_selfcheck *sc;
    struct sockaddr_storage addr;
    int fd;
    struct event *ev;
    unsigned id;
};

struct anycast_selfcheck {
    struct event_base *base;
    struct anycast_probe *probes; /* owned, n of them */
    size_t n;
    struct timeval timeout;
    anycast_selfcheck_done_fn done;
    void *arg;
    size_t pending; /* probes of the round under way not yet answered */
    bool failed;
    char why[256];
};

size_t anycast_selfcheck_query(const char *origin, unsigned id, unsigned char *buf, size_t len)
{
    if (!origin || len < 12 + 1 + 4)
        return 0;
    memset(buf, 0, 12);
    buf[0] = (unsigned char)(id >> 8);
    buf[1] = (unsigned char)id;
    buf[5] = 1; /* QDCOUNT; RD clear: an authoritative question */
    size_t at = 12;
    const char *p = origin;
    while (*p && strcmp(p, ".") != 0) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l > 63 || at + 1 + l + 5 > len || at + 1 + l > 12 + 254)
            return 0;
        buf[at++] = (unsigned char)l;
        memcpy(buf + at, p, l);
        at += l;
        p += l + (dot ? 1 : 0);
    }
    buf[at++] = 0;
    buf[at++] = 0;
    buf[at++] = 6; /* SOA */
    buf[at++] = 0;
    buf[at++] = 1; /* IN */
    return at;
}

bool anycast_selfcheck_reply_ok(const unsigned char *reply, size_t n, unsigned id, const char **why)
{
    if (n < 12 || ((unsigned)reply[0] << 8 | reply[1]) != (id & 0xffff) || !(reply[2] & 0x80)) {
        *why = "a reply that is not the answer";
        return false;
    }
    static const char *const rcodes[] = {"NOERROR",  "FORMERR", "SERVFAIL",
                                         "NXDOMAIN", "NOTIMP",  "REFUSED"};
    unsigned rcode = reply[3] & 0x0f;
    if (rcode != 0) {
        *why = rcode < 6 ? rcodes[rcode] : "an error rcode";
        return false;
    }
    if (!(reply[2] & 0x04)) {
        *why = "no AA flag";
        return false;
    }
    return true;
}

/* "192.0.2.1:53" or "[2001:db8::1]:53". */
static void anycast_selfcheck_addr(const struct sockaddr_storage *ss, char *out, size_t len)
{
    char h[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof(h));
        snprintf(out, len, "[%s]:%u", h, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, h, sizeof(h));
        snprintf(out, len, "%s:%u", h, ntohs(a->sin_port));
    }
}

static void anycast_selfcheck_end(struct anycast_probe *p, const char *why)
{
    struct anycast_selfcheck *sc = p->sc;
    if (p->fd >= 0) {
        event_free(p->ev);
        close(p->fd);
        p->ev = NULL;
        p->fd = -1;
    }
    if (why && !sc->failed) {
        char a[INET6_ADDRSTRLEN + 8] = "?";
        anycast_selfcheck_addr(&p->addr, a, sizeof(a));
        snprintf(sc->why, sizeof(sc->why), "%s: %s", a, why);
        sc->failed = true;
    }
    if (--sc->pending == 0)
        sc->done(sc->arg, !sc->failed, sc->failed ? sc->why : NULL);
}

static void anycast_selfcheck_on_read(evutil_socket_t fd, short what, void *arg)
{
    struct anycast_probe *p = arg;
    if (what & EV_TIMEOUT) {
        anycast_selfcheck_end(p, "no answer within the timeout");
        return;
    }
    unsigned char buf[1500];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return; /* the event stays, with its timeout */
    const char *why = n < 0 ? strerror(errno) : NULL;
    if (n >= 0 && anycast_selfcheck_reply_ok(buf, (size_t)n, p->id, &why))
        why = NULL;
    anycast_selfcheck_end(p, why);
}

/* Sends p's query; false (with why) when it could not go. */
static bool anycast_selfcheck_send(struct anycast_probe *p, const char *origin, const char **why)
{
    unsigned char q[300];
    uint16_t id;
    if (getrandom(&id, sizeof(id), 0) != sizeof(id))
        id = (uint16_t)rand();
    p->id = id;
    size_t n = anycast_selfcheck_query(origin, id, q, sizeof(q));
    socklen_t alen =
        p->addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    p->fd = socket(p->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0 || n == 0 || connect(p->fd, (struct sockaddr *)&p->addr, alen) != 0 ||
        send(p->fd, q, n, 0) != (ssize_t)n) {
        *why = n == 0 ? "no zone name to ask" : strerror(errno);
        if (p->fd >= 0)
            close(p->fd);
        p->fd = -1;
        return false;
    }
    p->ev = event_new(p->sc->base, p->fd, EV_READ | EV_PERSIST, anycast_selfcheck_on_read, p);
    if (!p->ev)
        abort();
    event_add(p->ev, &p->sc->timeout);
    return true;
}

bool anycast_selfcheck_round(struct anycast_selfcheck *sc, const char *origin)
{
    if (sc->pending)
        return false;
    sc->failed = false;
    sc->why[0] = '\0';
    sc->pending = sc->n + 1; /* +1: held while sending, so no callback comes early */
    for (size_t i = 0; i < sc->n; i++) {
        const char *why = NULL;
        if (!origin)
            why = "no zone served to ask for";
        if (why || !anycast_selfcheck_send(&sc->probes[i], origin, &why))
            anycast_selfcheck_end(&sc->probes[i], why);
    }
    struct anycast_probe hold = {.sc = sc, .fd = -1};
    anycast_selfcheck_end(&hold, NULL);
    return true;
}

struct anycast_selfcheck *anycast_selfcheck_new(struct event_base *base,
                                                const struct sockaddr_storage *addrs, size_t n,
                                                double timeout_s, anycast_selfcheck_done_fn done,
                                                void *arg)
{
    struct anycast_selfcheck *sc = calloc(1, sizeof(*sc));
    if (!sc || !(sc->probes = calloc(n ? n : 1, sizeof(*sc->probes)))) {
        free(sc);
        return NULL;
    }
    sc->base = base;
    sc->n = n;
    sc->done = done;
    sc->arg = arg;
    sc->timeout.tv_sec = (time_t)timeout_s;
    sc->timeout.tv_usec = (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6);
    for (size_t i = 0; i < n; i++)
        sc->probes[i] = (struct anycast_probe){.sc = sc, .addr = addrs[i], .fd = -1};
    return sc;
}

void anycast_selfcheck_free(struct anycast_selfcheck *sc)
{
    if (!sc)
        return;
    for (size_t i = 0; i < sc->n; i++)
        if (sc->probes[i].fd >= 0) {
            event_free(sc->probes[i].ev);
            close(sc->probes[i].fd);
        }
    free(sc->probes);
    free(sc);
}
