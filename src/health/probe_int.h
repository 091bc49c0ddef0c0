/*
 * probe_int.h -- private parts of the probe module, shared by probe*.c.
 *
 * One struct probe exists per probe_run() call, from the call until its
 * completion callback has run. The common part (deadline, completion,
 * latency) lives in probe.c; each type keeps its own state in 'impl' and
 * exposes a small ops table so probe.c can stop it without knowing it.
 *
 * Everything here runs on the prober thread only; nothing is shared with
 * other threads, so there are no locks.
 */
#ifndef GTM_HEALTH_PROBE_INT_H
#define GTM_HEALTH_PROBE_INT_H

#include <ares.h>
#include <stdarg.h>
#include <time.h>

#include "health/probe.h"

struct event;
struct probe;
struct probe_ares;
struct probe_tls_cache;
struct probe_dns_chan;
struct probe_resolve_req;
struct probe_icmp_sock;
struct probe_exec_pool;

struct probe_ops {
    /* Releases the type's resources (sockets, TLS, its part of a pending
     * DNS query) at once. Called exactly once, when the verdict is known
     * (or when the prober is freed), never twice. */
    void (*stop)(struct probe *pr);
    /* What the probe is waiting for, for "timeout while ..." (may be NULL). */
    const char *(*phase)(const struct probe *pr);
};

struct probe {
    struct prober *p;
    const struct probe_spec *spec; /* caller's, valid until done runs */
    struct sockaddr_storage addr;  /* copy, port set */
    socklen_t addr_len;
    /* Name for Host and SNI: spec->host, else the endpoint's host name,
     * else empty (then Host is the address literal and SNI is not sent). */
    char name[256];
    probe_done_cb done;
    void *arg;
    struct timespec t0;     /* CLOCK_MONOTONIC at probe_run */
    struct event *deadline; /* the one overall timer */
    struct event *finish;   /* made active once the verdict is known */
    struct probe_result res;
    bool finished;
    const struct probe_ops *ops; /* NULL until the type has started */
    void *impl;                  /* owned by the type, released by ops->stop */
    /* (may be NULL, set by the type) Called instead of failing with
     * "timeout" when the deadline fires: the type judges what it has (icmp:
     * the replies in) and must end the probe (probe_pass, probe_fail...). */
    void (*on_deadline)(struct probe *pr);
    struct probe *prev, *next; /* prober->running */
};

struct prober {
    struct event_base *base;
    struct probe *running;              /* probes whose done has not run */
    struct probe_tls_cache *tls;        /* probe_tls.c: SSL_CTXs */
    struct probe_dns_chan *dns_chans;   /* probe_dns.c: per-target channels */
    struct probe_ares *sys;             /* probe_resolve.c: system resolver */
    struct probe_resolve_req *resolves; /* probe_resolve.c: pending */
    char *resolver;                     /* prober_set_resolver's servers (owned); NULL: system */
    bool resolver_changed;              /* sys is to be made again with them */
    struct probe_source src;            /* probe_source: where probes leave from */
    struct probe_icmp_sock *icmp[2];    /* probe_icmp.c: one per family (v4, v6), lazily */
    struct probe_exec_pool *exec;       /* probe_exec.c: running programs, lazily */
    unsigned exec_max;                  /* exec_max_running (0: the default) */
};

/* The source address for a probe to family (AF_INET, AF_INET6), or NULL. */
const struct sockaddr *prober_source(const struct prober *p, int family, socklen_t *len);

/* ---- probe.c: common completion -------------------------------------- */

/* Record the verdict (the first call of either wins), stop the type's I/O
 * at once and schedule done from the loop. Safe from any callback of the
 * probe. Every failure names its kind where it is detected. */
void probe_pass(struct probe *pr);
/* Notes the probe's round-trip time now (probe_result.rtt_us), the first
 * call only; a pass without one takes the whole probe's time. */
void probe_mark_rtt(struct probe *pr);
/* Ends the probe with a judge's verdict (PROBE_PASS or PROBE_FAIL). */
struct probe_judgement;
void probe_judged(struct probe *pr, const struct probe_judgement *j);
void probe_fail(struct probe *pr, enum health_fail_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A failure on our side (see probe_result.local): finishes the probe
 * like probe_fail, with local set; the first verdict still wins. */
void probe_fail_local(struct probe *pr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True for errors of socket()/connect() that are our own shortage, not the
 * target's doing: EMFILE, ENFILE, ENOBUFS, ENOMEM, EADDRNOTAVAIL, EAGAIN. */
bool probe_errno_local(int err);

/* Writes a short reason for errno err (reentrant, no strerror) and returns
 * its kind: refused, reset (also EPIPE), timeout (ETIMEDOUT), else other. */
enum health_fail_kind probe_errno_reason(int err, char *buf, size_t len);

/* ---- probe_tcp.c ------------------------------------------------------ */

/* Opens a non-blocking socket and starts connecting to pr->addr. Returns
 * the fd (connection maybe still in progress), or -1 with *err set. */
int probe_tcp_connect(const struct probe *pr, int *err);

/* After the socket became writable: 0 when connected, else the errno. */
int probe_tcp_connect_result(int fd);
/* Starts a non-blocking connect for pr; on failure finishes the probe with
 * the reason, sets *rc (0: a verdict about the target, -1: local failure)
 * and returns -1. */
int probe_tcp_open(struct probe *pr, int *rc);
/* Closes a probe connection with a reset (no TIME_WAIT left behind). */
void probe_tcp_abort(int fd);

int probe_tcp_start(struct probe *pr);

/* ---- probe_http.c ----------------------------------------------------- */

int probe_http_start(struct probe *pr);

/* ---- probe_tls.c ------------------------------------------------------ */

struct ssl_st;

/* New client TLS session on fd for pr (SNI, verification per spec). NULL
 * with a reason in err when the context or CA file cannot be set up. The
 * caller owns the SSL (SSL_free). */
struct ssl_st *probe_tls_new(struct probe *pr, int fd, char *err, size_t errlen);

/* Describes a failed SSL_* call that returned ret, e.g. "tls handshake:
 * certificate verify failed: self-signed certificate", and returns its
 * kind: the socket's (reset, timeout, ...) when the connection failed under
 * TLS, else tls. Clears the error queue. */
enum health_fail_kind probe_tls_reason(struct ssl_st *ssl, int ret, const char *what, char *buf,
                                       size_t len);

void probe_tls_prober_free(struct prober *p);

/* ---- probe_grpc.c / probe_cert.c --------------------------------------- */

int probe_grpc_start(struct probe *pr);

/* After a TLS handshake of pr (https, grpc with tls): notes the leaf
 * certificate's notAfter in pr->res.cert_not_after, and fails the probe
 * ("certificate expires in N days (at DATE)") when the check's
 * cert_min_days are not left. False when it failed the probe. */
bool probe_cert_check(struct probe *pr, struct ssl_st *ssl);

/* ---- probe_ares.c: c-ares on libevent --------------------------------- */

/* A c-ares channel driven by the prober's base: a libevent event per
 * socket (from the sock-state callback) plus one timer for c-ares'
 * retransmits and timeouts. opts->sock_state_cb is set here. */
struct probe_ares *probe_ares_new(struct prober *p, struct ares_options *opts, int optmask);

/* Destroys the channel; c-ares calls every pending callback with
 * ARES_EDESTRUCTION first. Not from inside a callback of this channel. */
void probe_ares_free(struct probe_ares *a);

/* The channel, for ares_send/ares_getaddrinfo/ares_set_servers_ports. */
ares_channel probe_ares_channel(struct probe_ares *a);

/* Re-arms the timer after new work was queued on the channel. */
void probe_ares_kick(struct probe_ares *a);

/* ---- probe_dns.c / probe_resolve.c ------------------------------------ */

int probe_dns_start(struct probe *pr);
void probe_dns_prober_free(struct prober *p);
void probe_resolve_prober_free(struct prober *p);

/* ---- probe_icmp.c / probe_exec.c ---------------------------------------- */

int probe_icmp_start(struct probe *pr);
void probe_icmp_prober_free(struct prober *p);
int probe_exec_start(struct probe *pr);
void probe_exec_prober_free(struct prober *p);

#endif
