/*
 * net.h -- the DNS listeners: worker threads with their own SO_REUSEPORT
 * UDP and TCP sockets, answering from the served set (serve/serve.h).
 *
 * The daemon fills a plain struct net_params (listen addresses, worker
 * count) and calls net_bind, then net_start; the limits that follow reloads
 * (edns_udp_max, tcp) are part of the served set and read from there.
 * Every worker thread is a reader of the serve core: it enters the current
 * set for one UDP batch, one TCP read, one accept or one sweep, and counts
 * what it answered in its own reader's counters.
 *
 * Ownership: the daemon owns struct net and the params (net_bind and
 * net_start copy nothing they need later); net_stop joins the threads and
 * closes the sockets. The served set belongs to the serve core, not to net.
 */
#ifndef GTM_NET_NET_H
#define GTM_NET_NET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "dns/tsig.h"
#include "dnstap/dnstap.h"
#include "net/tls_params.h"
#include "net/xdp_params.h"
#include "serve/serve.h"

struct net_listen {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    const char *text; /* as configured, for messages */
};

/*
 * An RFC 2136 UPDATE the query path accepted (answer/query.h,
 * query_update), handed by a worker to the daemon's updater through
 * net_params.update_submit; the updater answers it through reply().
 * Ownership: the updater owns the job from a successful submit until it
 * calls reply(), which sends the reply (over UDP at once, over TCP through
 * the connection's worker) and frees the job; the updater touches nothing
 * of it after. A failed submit leaves the job with the worker.
 */
struct net_update {
    uint8_t *msg; /* the request as received (owned) */
    size_t len;
    struct tsig_key key;  /* a copy of the key it was signed with (id NULL) */
    struct tsig_ctx tsig; /* the request's TSIG state; tsig.key points at key */
    struct sockaddr_storage from;
    bool tcp;
    void (*reply)(struct net_update *u, const uint8_t *msg, size_t len);
};

/* Takes u (true) or refuses it (false: the queue is full, or stopping). */
typedef bool (*net_update_submit_fn)(void *arg, struct net_update *u);

struct net_params {
    const struct net_listen *listen;
    size_t n_listen;
    unsigned workers; /* TCP event loops; UDP threads: workers per address */
    /* UDP steering (net/spread.h): false, each address's UDP workers get
     * the queries of their CPU (receiving CPU % workers); true, the
     * kernel's hash of addresses and ports (udp_steering "hash"). */
    bool udp_hash;
    /* Pin each worker thread to a CPU (pin_workers): a UDP worker to the
     * CPU whose queries it is steered, a TCP worker to the CPU of its
     * number. */
    bool pin_workers;
    /* The AF_XDP listener (NULL or !enabled: none): a thread per queue
     * beside the socket workers, which keep serving TCP and what the XDP
     * program passes. If it cannot attach, net_bind logs why and UDP is
     * answered on sockets only. */
    const struct xdp_params *xdp;
    /* DNS over TLS (NULL or !enabled: none): listeners served by the TCP
     * workers beside the TCP ones, with the certificate of tls->certificate
     * loaded by net_bind. */
    const struct tls_params *tls;
    /* The dnstap writer (NULL: none), with a queue for each of the
     * net_reader_count threads; what they log is the served set's
     * dnstap view. Borrowed until net_stop. */
    struct dnstap *dnstap;
    /* Who takes UPDATE messages (NULL: every UPDATE is REFUSED). */
    net_update_submit_fn update_submit;
    void *update_arg;
};

struct worker;
struct xdp_listener;
struct ssl_ctx_st;

struct net {
    struct serve *serve;
    /* workers[0 .. n_tcp_workers) run libevent loops for TCP; the rest are
     * UDP threads, one per worker and listen address. */
    struct worker *workers;
    unsigned n_workers;
    unsigned n_tcp_workers;
    /* workers[n_sock_workers ..) are XDP threads, one per attached queue;
     * the slots past those are unused when XDP did not attach. */
    unsigned n_sock_workers;
    struct xdp_listener *xdp;   /* NULL: no XDP (none configured, or the fallback) */
    struct ssl_ctx_st *tls_ctx; /* the certificate loaded last (a reference); NULL: no TLS */
    /* The listen addresses, in order (owned): a dnstap message's server
     * address, and which listener's settings apply. */
    struct sockaddr_storage *listen;
    size_t n_listen;
    atomic_bool stopping;
    net_update_submit_fn update_submit; /* from the params at net_start */
    void *update_arg;
};

/* How many serve readers net_start will take for p (one per thread). */
unsigned net_reader_count(const struct net_params *p);

/*
 * Checks that every listen address is free and binds every worker's
 * sockets, starting no thread: the daemon binds before it drops its
 * privileges (port 53 needs them) and before the first probe round. TCP
 * sockets are not listening yet (connections are refused until the
 * start); datagrams wait in the UDP sockets' buffers. Returns 0, or -1 with
 * a message in errbuf; net_stop cleans up either way.
 */
int net_bind(struct net *n, const struct net_params *p, char *errbuf, size_t errlen);

/*
 * Starts the threads on the sockets net_bind bound (p: the same params),
 * each with a reader of sv (whose current set must already be published);
 * the TCP sockets start listening. Returns 0, or -1 with a message in
 * errbuf; net_stop cleans up either way.
 */
int net_start(struct net *n, const struct net_params *p, struct serve *sv, char *errbuf,
              size_t errlen);

/*
 * Loads p's certificate, key and chain again (a reload: the files may have
 * changed, or their paths) and hands the new context to every TCP worker
 * for the connections it accepts from then on; the listeners stay open
 * and connections under way keep the context they began with. When the
 * files do not load, nothing changes: -1 with the reason in err (the
 * running certificate stays). info gets the new certificate's subject,
 * serial and expiry for the log. 0 without TLS.
 */
int net_tls_reload(struct net *n, const struct tls_params *p, char *err, size_t errlen, char *info,
                   size_t infolen);

/* Stops and joins every worker and closes the sockets. */
void net_stop(struct net *n);

#endif
