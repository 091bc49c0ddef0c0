/*
 * probe_tcp.c -- the tcp probe (passes once the connection is established)
 * and the non-blocking connect that the http probe shares.
 *
 * Refused, reset and unreachable are reported from SO_ERROR as soon as the
 * kernel knows; a black-holed SYN is cut by the probe's deadline (probe.c).
 */
#include "health/probe_int.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct probe_tcp {
    int fd;
    struct event *ev; /* EV_WRITE: connect finished */
};

int probe_tcp_connect(const struct probe *pr, int *err)
{
    int fd = socket(pr->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    /* probe_source: leave from this vantage point's address. */
    socklen_t slen;
    const struct sockaddr *src = prober_source(pr->p, pr->addr.ss_family, &slen);
    if (src && bind(fd, src, slen) != 0) {
        *err = errno;
        close(fd);
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&pr->addr, pr->addr_len) != 0 &&
        errno != EINPROGRESS) {
        *err = errno;
        close(fd);
        return -1;
    }
    return fd;
}

void probe_tcp_abort(int fd)
{
    /* Reset instead of FIN (as HAProxy closes its checks): a probe leaves
     * no TIME_WAIT socket behind, which at 10k probes a second overflowed
     * the kernel's TIME_WAIT table. */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

int probe_tcp_connect_result(int fd)
{
    int e = 0;
    socklen_t len = sizeof(e);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
        return errno;
    return e;
}

static void probe_tcp_stop(struct probe *pr)
{
    struct probe_tcp *t = pr->impl;
    if (!t)
        return;
    if (t->ev)
        event_free(t->ev);
    if (t->fd >= 0)
        probe_tcp_abort(t->fd);
    free(t);
    pr->impl = NULL;
}

static const char *probe_tcp_phase(const struct probe *pr)
{
    return "connecting";
}

static const struct probe_ops probe_tcp_ops = {probe_tcp_stop, probe_tcp_phase};

static void probe_tcp_on_write(evutil_socket_t fd, short what, void *arg)
{
    struct probe *pr = arg;
    int e = probe_tcp_connect_result(fd);
    char why[96];

    if (e == 0) {
        probe_pass(pr);
        return;
    }
    enum health_fail_kind kind = probe_errno_reason(e, why, sizeof(why));
    probe_fail(pr, kind, "%s", why);
}

int probe_tcp_open(struct probe *pr, int *rc)
{
    int err = 0;
    char why[96];
    int fd = probe_tcp_connect(pr, &err);
    if (fd >= 0)
        return fd;
    enum health_fail_kind kind = probe_errno_reason(err, why, sizeof(why));
    if (probe_errno_local(err)) {
        probe_fail_local(pr, "cannot start probe: %s", why);
        *rc = -1;
        return -1;
    }
    probe_fail(pr, kind, "%s", why);
    /* A verdict about the target (0), or a local failure to even try (-1). */
    *rc = err == ECONNREFUSED || err == ENETUNREACH || err == EHOSTUNREACH ? 0 : -1;
    return -1;
}

int probe_tcp_start(struct probe *pr)
{
    int rc;
    int fd = probe_tcp_open(pr, &rc);
    if (fd < 0)
        return rc;
    struct probe_tcp *t = calloc(1, sizeof(*t));
    if (!t)
        abort();
    t->fd = fd;
    pr->impl = t;
    pr->ops = &probe_tcp_ops;
    t->ev = event_new(pr->p->base, fd, EV_WRITE, probe_tcp_on_write, pr);
    if (!t->ev || event_add(t->ev, NULL) != 0) {
        probe_fail_local(pr, "cannot start probe: cannot watch socket");
        return -1;
    }
    return 0;
}
