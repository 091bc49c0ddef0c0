/*
 * worker.c -- DNS worker threads: start, answer, stop.
 */
#include "net/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "dns/rrtype.h"
#include "net/sock.h"
#include "net/spread.h"
#include "net/tcp.h"
#include "net/tls.h"
#include "net/udp.h"
#include "net/xdp.h"

/* The qtype buckets of the query counters, in label order. */
static const uint16_t worker_qtypes[WORKER_QTYPES - 1] = {
    DNS_TYPE_A,   DNS_TYPE_NS,   DNS_TYPE_CNAME, DNS_TYPE_SOA, DNS_TYPE_PTR,   DNS_TYPE_MX,
    DNS_TYPE_TXT, DNS_TYPE_AAAA, DNS_TYPE_SRV,   DNS_TYPE_DS,  DNS_TYPE_HTTPS, DNS_TYPE_ANY};

const char *worker_rcode_label(unsigned bucket)
{
    return bucket < WORKER_RCODES - 1 ? dns_rcode_name((uint16_t)bucket) : "other";
}

const char *worker_qtype_label(unsigned bucket)
{
    return bucket < WORKER_QTYPES - 1 ? dns_type_name(worker_qtypes[bucket]) : "other";
}
_Static_assert(WORKER_RCODES == SERVE_RCODES && WORKER_QTYPES == SERVE_QTYPES,
               "the worker's buckets are the serve counters' buckets");

static unsigned worker_qtype_index(uint16_t t)
{
    for (unsigned i = 0; i < WORKER_QTYPES - 1; i++)
        if (worker_qtypes[i] == t)
            return i;
    return WORKER_QTYPES - 1;
}

void worker_clock(struct worker *w)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    w->now_mono = (uint32_t)ts.tv_sec;
    clock_gettime(CLOCK_REALTIME, &w->now_real);
    w->now_wall = (uint32_t)w->now_real.tv_sec;
}

/* Logs a query answered on dst (and its response, n octets of out, when
 * there is one) as what asks; qt: when its batch (a UDP batch, a TCP read)
 * was received. */
static void worker_tap(struct worker *w, const struct serve_set *s, const struct dnstap_what *what,
                       const struct worker_dst *dst, const struct sockaddr_storage *client,
                       const uint8_t *in, size_t len, const uint8_t *out, size_t n, bool tcp,
                       const struct timespec *qt)
{
    struct sockaddr_storage here;
    const struct sockaddr_storage *local = dst->local;
    if (dst->pktinfo) /* a wildcard socket: the address the datagram came to */
        local = local && udp_local_addr(dst->pktinfo, local, &here) ? &here : NULL;
    struct dnstap_event e = {.tcp = tcp,
                             .client = client,
                             .local = local,
                             .query = in,
                             .query_len = len,
                             .reply = out,
                             .reply_len = n,
                             .qtime = *qt};
    if (what->what & DNSTAP_QUERIES)
        dnstap_log(w->tap, s->dnstap, &e);
    if ((what->what & DNSTAP_RESPONSES) && n) {
        clock_gettime(CLOCK_REALTIME, &e.rtime);
        e.response = true;
        dnstap_log(w->tap, s->dnstap, &e);
    }
}

size_t worker_answer(struct worker *w, const struct serve_set *s,
                     const struct sockaddr_storage *client, const struct worker_dst *dst,
                     const uint8_t *in, size_t len, struct query_parsed *p, uint8_t *out,
                     struct answer_xfr *xfr, struct query_update *upd, unsigned transport)
{
    struct query_parsed here;
    bool tcp = xfr != NULL;
    if (upd)
        upd->start = false;
    struct query_client qc = {.addr = client,
                              .xfr = xfr,
                              .update = w->net->update_submit ? upd : NULL,
                              .rng = &w->rng,
                              .reader = w->reader,
                              .loss = serve_loss(w->reader),
                              .rrl = &w->rrl,
                              .udp_cap = tcp ? 0 : w->udp_cap,
                              .now_mono = w->now_mono,
                              .now_wall = w->now_wall};
    /* dnstap: one pointer test when off; the protobuf only for sampled
     * queries, whose query time is their batch's clock reading. */
    const struct dnstap_what *tap =
        w->tap && s->dnstap ? dnstap_view_sample(s->dnstap, dst->listen, &w->tap_count) : NULL;
    if (!p) {
        query_parse(in, len, &here);
        p = &here;
    }
    size_t n = query_answer_parsed(s, &qc, in, len, p, out, tcp);
    if (n) {
        unsigned rc = qc.rcode < WORKER_RCODES - 1 ? qc.rcode : WORKER_RCODES - 1;
        serve_count_query(w->reader, transport, rc, worker_qtype_index(qc.qtype));
    }
    if (tap)
        worker_tap(w, s, tap, dst, client, in, len, out, n, tcp, &w->now_real);
    return n;
}

struct net_update *worker_update_job(const uint8_t *in, size_t len,
                                     const struct sockaddr_storage *client,
                                     const struct query_update *upd, size_t size, bool tcp)
{
    struct net_update *u = calloc(1, size);
    if (!u)
        return NULL;
    u->msg = malloc(len);
    if (!u->msg) {
        free(u);
        return NULL;
    }
    memcpy(u->msg, in, len);
    u->len = len;
    u->tsig = upd->tsig;
    if (upd->tsig.key) {
        /* The keyring is the served set's, which a reload may free. */
        u->key = *upd->tsig.key;
        u->key.id = NULL;
        u->tsig.key = &u->key;
    }
    u->from = *client;
    u->tcp = tcp;
    return u;
}

size_t worker_update_submit(struct worker *w, struct net_update *job, uint8_t *out, size_t cap)
{
    if (w->net->update_submit && w->net->update_submit(w->net->update_arg, job))
        return 0;
    return query_update_reply(job->msg, job->len, DNS_RCODE_SERVFAIL, &job->tsig,
                              (uint64_t)time(NULL), out, cap);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    event_base_loop(w->base, 0);
    return NULL;
}

/* Binds this worker's TCP socket for every listen address (not listening
 * yet: a connection before the start is refused, as before the bind). */
static size_t worker_tls_listens(const struct net_params *p)
{
    return p->tls && p->tls->enabled ? p->tls->n_listen : 0;
}

/* The address of listening socket k of a TCP worker: TCP's, then TLS's. */
static const char *worker_listen_text(const struct net_params *p, size_t k)
{
    return k < p->n_listen ? p->listen[k].text : p->tls->listen[k - p->n_listen].text;
}

/* Binds this worker's TCP socket for every listen address and every DNS
 * over TLS address (not listening yet: a connection before the start is
 * refused, as before the bind). */
static int worker_bind_tcp(struct worker *w, const struct net_params *p, char *err, size_t errlen)
{
    size_t n = p->n_listen + worker_tls_listens(p);
    w->fds = calloc(n, sizeof(*w->fds));
    w->evs = calloc(n, sizeof(*w->evs));
    if (!w->fds || !w->evs)
        abort();
    w->n_tcp_fds = p->n_listen;
    for (size_t i = 0; i < n; i++) {
        const struct sockaddr_storage *a =
            i < p->n_listen ? &p->listen[i].addr : &p->tls->listen[i - p->n_listen].addr;
        socklen_t alen =
            i < p->n_listen ? p->listen[i].addr_len : p->tls->listen[i - p->n_listen].addr_len;
        int fd = sock_bind(a, alen, SOCK_STREAM);
        if (fd < 0) {
            snprintf(err, errlen, "cannot listen on %s/%s: %s", worker_listen_text(p, i),
                     i < p->n_listen ? "tcp" : "tls", strerror(errno));
            return -1;
        }
        w->fds[w->n_fds++] = fd;
    }
    return 0;
}

/* Binds a UDP thread's socket: blocking, with a receive timeout so the
 * thread notices a stop. Datagrams that arrive before the thread starts
 * wait in the socket's buffer. */
static int worker_bind_udp(struct worker *w, const struct net_listen *l, char *err, size_t errlen)
{
    int fd = sock_bind(&l->addr, l->addr_len, SOCK_DGRAM);
    struct timeval tv = {0, 200000};
    w->udp_wildcard = sock_is_wildcard(&l->addr);
    if (fd < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        (w->udp_wildcard && sock_want_dst(fd, l->addr.ss_family) != 0)) {
        snprintf(err, errlen, "cannot listen on %s/udp: %s", l->text, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    w->udp_fd = fd;
    return 0;
}

static void *worker_udp_main(void *arg)
{
    udp_serve(arg);
    return NULL;
}

static void *worker_xdp_main(void *arg)
{
    xdp_serve(arg);
    return NULL;
}

/* Attaches the AF_XDP listener of p (if any) and gives each of its queues
 * a worker after the socket workers; on failure UDP stays on sockets. */
static void worker_bind_xdp(struct net *n, const struct net_params *p)
{
    if (!p->xdp || !p->xdp->enabled)
        return;
    char err[512], q[600];
    n->xdp = xdp_attach(p->xdp, p->listen, p->n_listen, err, sizeof(err));
    if (!n->xdp) {
        log_warn("event=xdp_fallback interface=%s why=\"%s\" note=\"UDP is answered on "
                 "sockets only\"",
                 p->xdp->interface, log_quote(err, q, sizeof(q)));
        return;
    }
    for (size_t k = 0; k < xdp_queue_count(n->xdp); k++) {
        struct worker *w = &n->workers[n->n_sock_workers + k];
        w->net = n;
        w->id = n->n_sock_workers + (unsigned)k;
        w->udp_fd = -1;
        w->listen = SIZE_MAX; /* dnstap: the frame does not say which listener */
        w->xdpq = xdp_queue_get(n->xdp, k);
    }
}

static bool worker_is_xdp(const struct net *n, unsigned i)
{
    return i >= n->n_sock_workers;
}

/* Worker i's name, as its thread's (top -H, perf) and its metrics'
 * (gtmd_worker_messages_total) label: "tcp0", "udp2", "xdp4". */
static void worker_name(const struct net *n, unsigned i, char *buf, size_t len)
{
    const char *kind = worker_is_xdp(n, i) ? "xdp" : i >= n->n_tcp_workers ? "udp" : "tcp";
    snprintf(buf, len, "%s%u", kind, i);
}

/* Binds the sockets of worker i: a TCP event loop's, or a UDP thread's. */
static int worker_bind(struct net *n, unsigned i, const struct net_params *p, char *err,
                       size_t errlen)
{
    struct worker *w = &n->workers[i];
    w->net = n;
    w->id = i;
    w->udp_fd = -1;
    if (i >= n->n_tcp_workers) {
        w->listen = (i - n->n_tcp_workers) % p->n_listen;
        return worker_bind_udp(w, &p->listen[w->listen], err, errlen);
    }
    return worker_bind_tcp(w, p, err, errlen);
}

/* Readies worker i to run: its reader, its buffers, and for a TCP worker
 * its event loop, connection pool and listening sockets. */
static int worker_ready(struct net *n, unsigned i, const struct net_params *p, char *err,
                        size_t errlen)
{
    struct worker *w = &n->workers[i];
    w->rng = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)time(NULL) << 16) ^ (i + 1);
    char name[16];
    worker_name(n, i, name, sizeof(name));
    w->reader = serve_reader_add_worker(n->serve, name);
    w->tap = dnstap_queue_get(p->dnstap, i);
    if (!w->reader) {
        snprintf(err, errlen, "no serve reader left for worker %u", i);
        return -1;
    }
    if (worker_is_xdp(n, i))
        return 0;
    if (i >= n->n_tcp_workers) {
        w->udp = udp_batch_new();
        return 0;
    }
    w->base = event_base_new();
    if (!w->base) {
        snprintf(err, errlen, "cannot create an event base");
        return -1;
    }
    w->tcp = tcp_pool_new(w);
    if (n->tls_ctx) {
        tls_ctx_ref(n->tls_ctx);
        w->tls_ctx = n->tls_ctx;
    }
    for (size_t k = 0; k < w->n_fds; k++) {
        bool tls = k >= w->n_tcp_fds;
        if (listen(w->fds[k], 1024) != 0) {
            snprintf(err, errlen, "cannot listen on %s/%s: %s", worker_listen_text(p, k),
                     tls ? "tls" : "tcp", strerror(errno));
            return -1;
        }
        struct event *ev = event_new(w->base, w->fds[k], EV_READ | EV_PERSIST,
                                     tls ? tcp_on_accept_tls : tcp_on_accept, w);
        w->evs[k] = ev;
        if (!ev || event_add(ev, NULL) != 0) {
            snprintf(err, errlen, "cannot register %s with libevent", worker_listen_text(p, k));
            return -1;
        }
    }
    return 0;
}

/* Steers each listen address's UDP datagrams to the worker of the CPU
 * that received them (net/spread.h), once all its sockets are bound:
 * the k-th socket bound for an address is the k-th in its group, the
 * index the program returns. Where it cannot, the kernel's hash stays
 * and the log says why. */
static void worker_spread(struct net *n, const struct net_params *p)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned ncpus = online > 0 ? (unsigned)online : 1;
    char why[160], q[200], addr[80];
    if (!spread_wanted(p->workers, ncpus, !p->udp_hash, why, sizeof(why))) {
        if (p->n_listen && p->workers > 1)
            log_info("event=udp_steering mode=hash workers=%u cpus=%u why=\"%s\"", p->workers,
                     ncpus, log_quote(why, q, sizeof(q)));
        return;
    }
    for (size_t l = 0; l < p->n_listen; l++) {
        int fd = n->workers[n->n_tcp_workers + l].udp_fd; /* the group's first socket */
        sock_addr_str(&p->listen[l].addr, addr, sizeof(addr));
        if (spread_attach(fd, p->workers, why, sizeof(why)) == 0)
            log_info("event=udp_steering mode=cpu listen=%s workers=%u cpus=%u", addr, p->workers,
                     ncpus);
        else
            log_warn("event=udp_steering mode=hash listen=%s workers=%u cpus=%u why=\"%s\"", addr,
                     p->workers, ncpus, log_quote(why, q, sizeof(q)));
    }
}

/* Pins worker i's thread (pin_workers): a UDP worker to the CPU its
 * datagrams are steered from (the k-th of its address's group: a CPU
 * whose number % workers is k), a TCP worker to CPU i likewise, an XDP
 * worker to the CPU of its queue's number among those allowed. */
static bool worker_pin(struct net *n, unsigned i, const struct net_params *p,
                       const cpu_set_t *allowed)
{
    unsigned k = i, of = p->workers;
    if (worker_is_xdp(n, i)) {
        k = i - n->n_sock_workers;
        of = (unsigned)CPU_COUNT(allowed);
    } else if (i >= n->n_tcp_workers) {
        k = (i - n->n_tcp_workers) / (unsigned)p->n_listen;
    }
    int cpu = spread_cpu(allowed, k, of);
    int e = cpu < 0 ? EINVAL : spread_pin(n->workers[i].thread, cpu);
    if (e != 0)
        log_warn("event=worker_pin result=failed worker=%u cpu=%d why=\"%s\"", i, cpu, strerror(e));
    return e == 0;
}

/* Pins every worker when pin_workers asks, among the CPUs the process may
 * run on (as started: taskset, a cgroup's cpuset). */
static void worker_pin_all(struct net *n, const struct net_params *p)
{
    cpu_set_t allowed;
    if (!p->pin_workers)
        return;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
        log_warn("event=worker_pin result=failed worker=all cpu=-1 why=\"%s\"", strerror(errno));
        return;
    }
    unsigned pinned = 0;
    for (unsigned i = 0; i < n->n_workers; i++)
        pinned += worker_pin(n, i, p, &allowed);
    log_info("event=worker_pin result=pinned workers=%u of=%u cpus=%d", pinned, n->n_workers,
             CPU_COUNT(&allowed));
}

static unsigned net_sock_worker_count(const struct net_params *p)
{
    return p->workers * (unsigned)(1 + p->n_listen);
}

unsigned net_reader_count(const struct net_params *p)
{
    unsigned x = p->xdp && p->xdp->enabled ? (unsigned)p->xdp->n_queues : 0;
    return net_sock_worker_count(p) + x;
}

/* Loads the certificate of p's TLS section, if any, into n->tls_ctx
 * (at the bind: before the drop of privileges, so that a key only root
 * reads loads at the start). */
static int worker_tls_load(struct net *n, const struct net_params *p, char *err, size_t errlen)
{
    for (size_t i = 0; i < worker_tls_listens(p); i++)
        if (sock_check_free(&p->tls->listen[i].addr, p->tls->listen[i].addr_len, SOCK_STREAM) !=
            0) {
            snprintf(err, errlen, "cannot listen on %s/tls: %s", p->tls->listen[i].text,
                     strerror(errno));
            return -1;
        }
    if (!worker_tls_listens(p))
        return 0;
    char why[768], info[512];
    n->tls_ctx = tls_ctx_load(p->tls, NULL, why, sizeof(why), info, sizeof(info));
    if (!n->tls_ctx) {
        snprintf(err, errlen, "DNS over TLS: %s", why);
        return -1;
    }
    log_info("event=tls_certificate result=loaded %s", info);
    return 0;
}

int net_tls_reload(struct net *n, const struct tls_params *p, char *err, size_t errlen, char *info,
                   size_t infolen)
{
    if (!n->tls_ctx || !p || !p->enabled)
        return 0;
    struct ssl_ctx_st *ctx = tls_ctx_load(p, n->tls_ctx, err, errlen, info, infolen);
    if (!ctx)
        return -1;
    for (unsigned i = 0; n->workers && i < n->n_tcp_workers; i++) {
        tls_ctx_ref(ctx);
        struct ssl_ctx_st *old =
            atomic_exchange_explicit(&n->workers[i].tls_next, ctx, memory_order_acq_rel);
        tls_ctx_release(old); /* handed over before and never taken */
    }
    tls_ctx_release(n->tls_ctx);
    n->tls_ctx = ctx;
    return 0;
}

int net_bind(struct net *n, const struct net_params *p, char *err, size_t errlen)
{
    for (size_t i = 0; i < p->n_listen; i++)
        for (int k = 0; k < 2; k++)
            if (sock_check_free(&p->listen[i].addr, p->listen[i].addr_len,
                                k ? SOCK_STREAM : SOCK_DGRAM) != 0) {
                snprintf(err, errlen, "cannot listen on %s/%s: %s", p->listen[i].text,
                         k ? "tcp" : "udp", strerror(errno));
                return -1;
            }
    if (worker_tls_load(n, p, err, errlen) != 0)
        return -1;
    n->n_tcp_workers = p->workers;
    n->n_sock_workers = net_sock_worker_count(p);
    n->listen = calloc(p->n_listen ? p->n_listen : 1, sizeof(*n->listen));
    if (!n->listen)
        abort();
    for (size_t i = 0; i < p->n_listen; i++)
        n->listen[i] = p->listen[i].addr;
    n->n_listen = p->n_listen;
    n->n_workers = net_reader_count(p);
    atomic_store(&n->stopping, false);
    /* Aligned: see WORKER_ALIGN (a calloc'd array is aligned to 16 only). */
    n->workers = aligned_alloc(WORKER_ALIGN, n->n_workers * sizeof(*n->workers));
    if (!n->workers)
        abort();
    memset(n->workers, 0, n->n_workers * sizeof(*n->workers));
    for (unsigned i = 0; i < n->n_workers; i++)
        n->workers[i].udp_fd = -1; /* net_stop closes only what was bound */
    for (unsigned i = 0; i < n->n_sock_workers; i++)
        if (worker_bind(n, i, p, err, errlen) != 0)
            return -1;
    worker_spread(n, p);
    worker_bind_xdp(n, p);
    n->n_workers = n->n_sock_workers + (unsigned)xdp_queue_count(n->xdp);
    return 0;
}

int net_start(struct net *n, const struct net_params *p, struct serve *sv, char *err, size_t errlen)
{
    evthread_use_pthreads();
    n->serve = sv;
    n->update_submit = p->update_submit;
    n->update_arg = p->update_arg;
    serve_set_query_labels(sv, worker_rcode_label, worker_qtype_label);
    for (unsigned i = 0; i < n->n_workers; i++)
        if (worker_ready(n, i, p, err, errlen) != 0)
            return -1;
    for (unsigned i = 0; i < n->n_workers; i++) {
        bool udp = i >= n->n_tcp_workers;
        void *(*fn)(void *) = worker_is_xdp(n, i) ? worker_xdp_main
                              : udp               ? worker_udp_main
                                                  : worker_main;
        if (pthread_create(&n->workers[i].thread, NULL, fn, &n->workers[i]) != 0) {
            snprintf(err, errlen, "cannot start worker thread %u", i);
            return -1;
        }
        n->workers[i].started = true;
        char name[16] = "gtmd-";
        worker_name(n, i, name + 5, sizeof(name) - 5);
        pthread_setname_np(n->workers[i].thread, name); /* top -H, perf, gdb */
    }
    worker_pin_all(n, p);
    return 0;
}

void net_stop(struct net *n)
{
    atomic_store(&n->stopping, true); /* UDP threads see it within 200 ms */
    for (unsigned i = 0; n->workers && i < n->n_workers; i++)
        if (n->workers[i].started && n->workers[i].base)
            event_base_loopexit(n->workers[i].base, NULL);
    for (unsigned i = 0; n->workers && i < n->n_workers; i++)
        if (n->workers[i].started)
            pthread_join(n->workers[i].thread, NULL);
    for (unsigned i = 0; n->workers && i < n->n_workers; i++) {
        struct worker *w = &n->workers[i];
        tcp_pool_free(w->tcp);
        udp_batch_free(w->udp);
        if (w->udp_fd >= 0)
            close(w->udp_fd);
        for (size_t k = 0; k < w->n_fds; k++) {
            if (w->evs[k])
                event_free(w->evs[k]);
            close(w->fds[k]);
        }
        free(w->fds);
        free(w->evs);
        tls_ctx_release(w->tls_ctx);
        tls_ctx_release(atomic_exchange(&w->tls_next, NULL));
        if (w->base)
            event_base_free(w->base);
    }
    free(n->workers);
    n->workers = NULL;
    free(n->listen);
    n->listen = NULL;
    xdp_detach(n->xdp); /* after the XDP threads stopped using it */
    n->xdp = NULL;
    tls_ctx_release(n->tls_ctx);
    n->tls_ctx = NULL;
}
