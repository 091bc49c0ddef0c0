/*
 * etcd_int.h -- internals shared by etcd.c (calls) and etcd_watch.c
 * (streams). Not for use outside src/fleet/etcd*.c.
 */
#ifndef GTM_FLEET_ETCD_INT_H
#define GTM_FLEET_ETCD_INT_H

#include <openssl/ssl.h>

#include "common/conn_reaper.h"
#include "fleet/etcd.h"

/* The largest reply to a call (not a watch) accepted: the range of the
 * whole prefix at a sync is one reply (obs keys: endpoints x nodes, ~200
 * octets each). Beyond, the call fails as a lost connection. */
#define ETCD_REPLY_MAX (64u * 1024 * 1024)
/* A call's whole exchange is bounded by this many times the configured
 * timeout (which evhttp applies to each read). */
#define ETCD_CALL_TIMEOUTS 5

struct evhttp_connection;
struct evhttp_request;
struct etcd_pending;

struct etcd_url {
    char *text;
    bool tls;
    char *host; /* without brackets */
    int port;
};

struct etcd {
    struct event_base *base;
    struct etcd_url *urls;
    size_t n_urls;
    size_t cur; /* index of the URL in use */
    char *username, *password;
    char *token; /* from /v3/auth/authenticate; NULL: none yet */
    bool authenticating;
    SSL_CTX *ssl_ctx; /* when any URL is https */
    double timeout_s;
    double watch_idle_s;             /* 0: a day */
    double connect_s, watch_probe_s; /* etcd.h; 0: off */
    struct etcd_pending *pending;    /* calls in flight */
    struct etcd_pending *auth_wait;  /* calls waiting for a token */
    struct etcd_watch *watches;      /* live and ended (not yet freed) */
    double last_err_log;             /* monotonic; errors are logged at most every 10 s */
    unsigned long errs_unlogged;
    /* Connections whose request ended, freed by reap_ev once the libevent
     * callback that ended them has returned (owned; etcd_free frees what is
     * left). libevent's free-on-completion leaks a connection whose connect
     * failed (evhttp_connection_cb_cleanup never frees it), one per retry
     * while an etcd member is down, so gtmd frees every connection itself. */
    struct conn_reaper reaper;
};

/* Whether c completed its TCP handshake (it has a peer). */
bool etcd_evcon_connected(struct evhttp_connection *c);
/* Moves to the next URL when the one in use is still the index `from`
 * (a call that failed on an old URL does not move a client that has
 * already moved on to a live one). */
void etcd_failover_from(struct etcd *e, size_t from);
/* A connection to URL index url was not accepted within connect_s (a
 * call's or a watch probe's): the client moves on, and so does every call
 * in flight there, connected or not (one sent just before a cut would
 * otherwise wait for timeout_s, and the heartbeat with it). Only from a
 * timer callback: it frees connections. */
void etcd_unreachable(struct etcd *e, size_t url);
/* A timeval of s seconds. */
struct timeval etcd_tv(double s);

/* A new connection to u (TLS when u->tls); NULL on failure. */
struct evhttp_connection *etcd_connect(struct etcd *e, const struct etcd_url *u);
/* A POST request with the headers (Host, JSON, token) and body. */
struct evhttp_request *etcd_request_new(struct etcd *e, const struct etcd_url *u, const char *body,
                                        void (*done)(struct evhttp_request *, void *), void *arg);
/* Frees every watch (etcd_free). */
void etcd_watch_free_all(struct etcd *e);

#endif
