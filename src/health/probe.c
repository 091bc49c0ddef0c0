/*
 * probe.c -- running one probe: start, the overall deadline, completion.
 *
 * Completion: the type code calls probe_pass() or probe_fail() (with the
 * kind of failure) as soon as it knows the verdict, possibly from inside
 * probe_run() for an immediate failure. The first call records the result
 * and latency, stops the type's I/O at once (closing a connection we no
 * longer need), deletes the deadline and activates pr->finish. done runs from that event's
 * callback, so it always runs from the event loop, exactly once, and never inside probe_run(). The
 * probe is freed before done runs, so done may start a new probe or even
 * free the prober.
 *
 * Deadline: a single timer of spec->timeout_ms armed in probe_run(). No
 * per-read or per-phase timers, so a target that drips one byte at a time
 * cannot stretch a probe past its timeout.
 */
#include "health/probe_int.h"
#include "health/probe_load.h"
#include "health/probe_judge.h"

#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void probe_unlink(struct probe *pr)
{
    if (pr->prev)
        pr->prev->next = pr->next;
    else
        pr->p->running = pr->next;
    if (pr->next)
        pr->next->prev = pr->prev;
    pr->prev = pr->next = NULL;
}

static void probe_release(struct probe *pr)
{
    event_free(pr->deadline);
    event_free(pr->finish);
    free(pr);
}

static void probe_on_finish(evutil_socket_t fd, short what, void *arg)
{
    struct probe *pr = arg;
    struct probe_result r = pr->res;
    probe_done_cb done = pr->done;
    void *done_arg = pr->arg;

    probe_unlink(pr);
    probe_release(pr);
    done(done_arg, &r);
}

static uint32_t probe_elapsed_us(const struct probe *pr)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t us =
        (int64_t)(now.tv_sec - pr->t0.tv_sec) * 1000000 + (now.tv_nsec - pr->t0.tv_nsec) / 1000;
    if (us < 0)
        return 0;
    return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* The common end of probe_pass and probe_fail; reason already written. */
static void probe_finish(struct probe *pr, bool ok, enum health_fail_kind kind)
{
    pr->finished = true;
    pr->res.ok = ok;
    pr->res.kind = kind;
    pr->res.latency_us = probe_elapsed_us(pr);
    if (!ok)
        pr->res.rtt_us = 0;
    else if (pr->res.rtt_us == 0)
        pr->res.rtt_us = pr->res.latency_us ? pr->res.latency_us : 1;
    if (pr->ops && pr->ops->stop)
        pr->ops->stop(pr);
    event_del(pr->deadline);
    event_active(pr->finish, EV_TIMEOUT, 0);
}

void probe_mark_rtt(struct probe *pr)
{
    if (!pr->finished && pr->res.rtt_us == 0) {
        uint32_t us = probe_elapsed_us(pr);
        pr->res.rtt_us = us ? us : 1;
    }
}

void probe_pass(struct probe *pr)
{
    if (pr->finished)
        return;
    snprintf(pr->res.reason, sizeof(pr->res.reason), "ok");
    probe_finish(pr, true, HEALTH_FAIL_OTHER);
}

void probe_fail(struct probe *pr, enum health_fail_kind kind, const char *fmt, ...)
{
    va_list ap;

    if (pr->finished)
        return;
    va_start(ap, fmt);
    vsnprintf(pr->res.reason, sizeof(pr->res.reason), fmt, ap);
    va_end(ap);
    probe_finish(pr, false, kind);
}

enum probe_verdict probe_judge_fail(struct probe_judgement *j, enum health_fail_kind kind,
                                    const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(j->reason, sizeof(j->reason), fmt, ap);
    va_end(ap);
    j->kind = kind;
    return j->verdict = PROBE_FAIL;
}

void probe_judged(struct probe *pr, const struct probe_judgement *j)
{
    if (j->verdict == PROBE_PASS) {
        pr->res.load = j->load;
        probe_pass(pr);
    } else
        probe_fail(pr, j->kind, "%s", j->reason);
}

void probe_fail_local(struct probe *pr, const char *fmt, ...)
{
    va_list ap;

    if (pr->finished)
        return;
    va_start(ap, fmt);
    vsnprintf(pr->res.reason, sizeof(pr->res.reason), fmt, ap);
    va_end(ap);
    pr->res.local = true;
    probe_finish(pr, false, HEALTH_FAIL_OTHER);
}

bool probe_errno_local(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM ||
           err == EADDRNOTAVAIL || err == EAGAIN;
}

bool probe_out_of_sockets(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        close(fd);
        return false;
    }
    return errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM;
}

static void probe_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct probe *pr = arg;
    if (pr->on_deadline) {
        pr->on_deadline(pr);
        return;
    }
    const char *phase = pr->ops && pr->ops->phase ? pr->ops->phase(pr) : NULL;

    if (phase)
        probe_fail(pr, HEALTH_FAIL_TIMEOUT, "timeout while %s", phase);
    else
        probe_fail(pr, HEALTH_FAIL_TIMEOUT, "timeout");
}

enum health_fail_kind probe_errno_reason(int err, char *buf, size_t len)
{
    switch (err) {
    case ECONNREFUSED:
        snprintf(buf, len, "connection refused");
        return HEALTH_FAIL_REFUSED;
    case ECONNRESET:
        snprintf(buf, len, "connection reset");
        return HEALTH_FAIL_RESET;
    case EPIPE:
        snprintf(buf, len, "connection closed by peer");
        return HEALTH_FAIL_RESET;
    case ETIMEDOUT:
        snprintf(buf, len, "connection timed out");
        return HEALTH_FAIL_TIMEOUT;
    case EHOSTUNREACH:
        snprintf(buf, len, "host unreachable");
        return HEALTH_FAIL_OTHER;
    case ENETUNREACH:
        snprintf(buf, len, "network unreachable");
        return HEALTH_FAIL_OTHER;
    default: {
        /* GNU strerror_r: returns a static or our buffer, never fails. */
        char tmp[96];
        snprintf(buf, len, "%s", strerror_r(err, tmp, sizeof(tmp)));
        return HEALTH_FAIL_OTHER;
    }
    }
}

/* Host/SNI name: the check's "host", else the endpoint's name, else none. */
static void probe_set_name(struct probe *pr, const char *host)
{
    const char *n = pr->spec->host ? pr->spec->host : host;
    snprintf(pr->name, sizeof(pr->name), "%s", n ? n : "");
}

static bool probe_addr_ok(const struct sockaddr_storage *addr, socklen_t len)
{
    if (!addr)
        return false;
    if (len > sizeof(*addr))
        return false;
    if (addr->ss_family == AF_INET)
        return len >= sizeof(struct sockaddr_in);
    if (addr->ss_family == AF_INET6)
        return len >= sizeof(struct sockaddr_in6);
    return false;
}

static int probe_dispatch(struct probe *pr)
{
    switch (pr->spec->type) {
    case PROBE_TCP:
        return probe_tcp_start(pr);
    case PROBE_HTTP:
    case PROBE_HTTPS:
        return probe_http_start(pr);
    case PROBE_DNS:
        return probe_dns_start(pr);
    case PROBE_GRPC:
        return probe_grpc_start(pr);
    case PROBE_ICMP:
        return probe_icmp_start(pr);
    case PROBE_EXEC:
        return probe_exec_start(pr);
    }
    probe_fail(pr, HEALTH_FAIL_OTHER, "unknown probe type %d", (int)pr->spec->type);
    return -1;
}

int probe_run(struct prober *p, const struct probe_spec *spec, const struct sockaddr_storage *addr,
              socklen_t addr_len, const char *host, probe_done_cb done, void *arg)
{
    struct probe *pr = calloc(1, sizeof(*pr));
    if (!pr)
        abort();
    pr->p = p;
    pr->spec = spec;
    pr->done = done;
    pr->arg = arg;
    pr->res.load = NAN; /* none, unless an http judge reads one */
    clock_gettime(CLOCK_MONOTONIC, &pr->t0);
    pr->deadline = evtimer_new(p->base, probe_on_deadline, pr);
    pr->finish = event_new(p->base, -1, 0, probe_on_finish, pr);
    if (!pr->deadline || !pr->finish)
        abort();
    pr->next = p->running;
    if (p->running)
        p->running->prev = pr;
    p->running = pr;
    probe_set_name(pr, host);

    if (!probe_addr_ok(addr, addr_len)) {
        probe_fail(pr, HEALTH_FAIL_OTHER, "bad endpoint address");
        return -1;
    }
    memcpy(&pr->addr, addr, addr_len);
    pr->addr_len = addr_len;

    uint32_t ms = spec->timeout_ms ? spec->timeout_ms : 1;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(pr->deadline, &tv);
    return probe_dispatch(pr);
}

struct prober *prober_new(struct event_base *base)
{
    /* c-ares keeps a process-wide init count; prober_new/prober_free must
     * not race with each other (the daemon has one prober thread). */
    if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
        return NULL;
    struct prober *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    p->base = base;
    return p;
}

/*
 * Drops every probe still running without calling its done (the caller is
 * shutting the prober down), then the cached channels and TLS contexts.
 * Call it from the prober thread, outside probe callbacks (from a done
 * callback is fine).
 */
void prober_free(struct prober *p)
{
    if (!p)
        return;
    while (p->running) {
        struct probe *pr = p->running;
        if (!pr->finished && pr->ops && pr->ops->stop)
            pr->ops->stop(pr);
        probe_unlink(pr);
        probe_release(pr);
    }
    probe_resolve_prober_free(p);
    probe_dns_prober_free(p);
    probe_tls_prober_free(p);
    probe_icmp_prober_free(p);
    probe_exec_prober_free(p);
    free(p);
    ares_library_cleanup();
}

void prober_set_source(struct prober *p, const struct probe_source *src)
{
    if (src)
        p->src = *src;
    else
        memset(&p->src, 0, sizeof(p->src));
}

const struct sockaddr *prober_source(const struct prober *p, int family, socklen_t *len)
{
    if (family == AF_INET && p->src.has_v4) {
        *len = p->src.v4_len;
        return (const struct sockaddr *)&p->src.v4;
    }
    if (family == AF_INET6 && p->src.has_v6) {
        *len = p->src.v6_len;
        return (const struct sockaddr *)&p->src.v6;
    }
    return NULL;
}

void probe_spec_free(struct probe_spec *s)
{
    if (!s)
        return;
    free(s->method);
    free(s->path);
    free(s->host);
    for (size_t i = 0; i < s->n_headers; i++)
        free(s->headers[i]);
    free(s->headers);
    free(s->status);
    free(s->body_contains);
    probe_load_free(&s->load);
    free(s->ca_file);
    free(s->dns_name);
    free(s->dns_expect);
    free(s->grpc_service);
    for (size_t i = 0; s->exec_argv && s->exec_argv[i]; i++)
        free(s->exec_argv[i]);
    free(s->exec_argv);
    free(s->exec_user);
    free(s->exec_groups);
    memset(s, 0, sizeof(*s));
}
