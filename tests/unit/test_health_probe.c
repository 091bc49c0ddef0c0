/*
 * Unit tests for src/health/probe*.c: probe_spec_parse error paths, and
 * every probe type against real misbehaving servers on 127.0.0.1 run in
 * threads of this test (TCP/TLS servers with one behaviour each, and a
 * hand-made UDP DNS responder). Every wait is bounded: servers poll a stop
 * pipe with timeouts, and each probe's loop has a 5 s safety timer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "health/probe.h"
#include "health/probe_int.h"
#include "tap.h"

#define BIG_BODY (10 * 1024 * 1024)
#define BIG_CHUNK (16 * 1024)

/* ---- servers ------------------------------------------------------------ */

enum srv_mode {
    SRV_REPLY,  /* read the request, send 'reply', close (or hold) */
    SRV_SILENT, /* read the request, never answer */
    SRV_DRIP,   /* send 'reply' one octet every 50 ms */
    SRV_BIG,    /* 200 with a 10 MB body, paced 16 KiB per 10 ms */
    SRV_RESET,  /* read the request, then RST */
    SRV_DNS,    /* UDP: answer per dns_* fields */
};

struct srv {
    enum srv_mode mode;
    const char *reply;
    bool hold;          /* SRV_REPLY: keep the connection open after replying */
    const char *needle; /* SRV_BIG: text placed at needle_at in the body */
    size_t needle_at;
    SSL_CTX *tls; /* serve TLS when set */
    int dns_rcode;
    bool dns_answer; /* add A 192.0.2.1 */
    bool dns_silent;
    uint8_t dns_flags_clear; /* bits of the reply's first flags octet to clear (0x80: QR) */
    uint8_t dns_flags_set;   /* ...and to set (0x20: opcode NOTIFY) */
    bool v6;                 /* listen on ::1 */
    int lfd;
    uint16_t port;
    int stop[2];
    pthread_t th;
    /* Written by the server thread, read by main after srv_stop (join). */
    char req[2048];
    char sni[256];
    size_t sent;
    int conns, tls_failures, queries, q_flags, q_type;
};

/* Waits for fd readable (or just the timeout when fd < 0); false on stop. */
static bool srv_wait(struct srv *s, int fd, int ms)
{
    struct pollfd p[2] = {{s->stop[0], POLLIN, 0}, {fd, POLLIN, 0}};
    int n = poll(p, fd >= 0 ? 2 : 1, ms);
    if (n < 0 || p[0].revents)
        return false;
    return fd < 0 ? true : n > 0;
}

static bool srv_send(SSL *ssl, int c, const void *buf, size_t len)
{
    if (ssl)
        return SSL_write(ssl, buf, (int)len) == (int)len;
    const char *p = buf;
    while (len) {
        ssize_t n = send(c, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static void srv_big(struct srv *s, SSL *ssl, int c)
{
    char chunk[BIG_CHUNK];
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", BIG_BODY);
    if (!srv_send(ssl, c, hdr, strlen(hdr)))
        return;
    for (size_t off = 0; off < BIG_BODY; off += BIG_CHUNK) {
        memset(chunk, 'x', sizeof(chunk));
        for (size_t i = 0; s->needle && s->needle[i]; i++)
            if (s->needle_at + i >= off && s->needle_at + i < off + BIG_CHUNK)
                chunk[s->needle_at + i - off] = s->needle[i];
        if (!srv_send(ssl, c, chunk, sizeof(chunk)))
            return;
        s->sent += sizeof(chunk);
        if (!srv_wait(s, -1, 10))
            return;
    }
}

static void srv_act(struct srv *s, SSL *ssl, int c)
{
    switch (s->mode) {
    case SRV_REPLY:
        if (srv_send(ssl, c, s->reply, strlen(s->reply)) && s->hold)
            srv_wait(s, -1, 3000);
        break;
    case SRV_SILENT:
        srv_wait(s, -1, 3000);
        break;
    case SRV_DRIP:
        for (const char *p = s->reply; *p; p++)
            if (!srv_wait(s, -1, 50) || !srv_send(ssl, c, p, 1))
                break;
        break;
    case SRV_BIG:
        srv_big(s, ssl, c);
        break;
    case SRV_RESET: {
        struct linger l = {1, 0};
        setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        break;
    }
    case SRV_DNS:
        break;
    }
}

static void srv_conn(struct srv *s, int c)
{
    struct timeval tv = {2, 0};
    SSL *ssl = NULL;
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    s->conns++;
    if (s->tls) {
        ssl = SSL_new(s->tls);
        SSL_set_fd(ssl, c);
        if (SSL_accept(ssl) != 1) {
            s->tls_failures++;
            SSL_free(ssl);
            return;
        }
        const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        snprintf(s->sni, sizeof(s->sni), "%s", sni ? sni : "");
    }
    if (ssl || srv_wait(s, c, 2000)) {
        int n = ssl ? SSL_read(ssl, s->req, sizeof(s->req) - 1)
                    : (int)recv(c, s->req, sizeof(s->req) - 1, 0);
        s->req[n > 0 ? n : 0] = '\0';
        if (n > 0)
            srv_act(s, ssl, c);
    }
    SSL_free(ssl);
}

static void *srv_tcp_main(void *arg)
{
    struct srv *s = arg;
    for (int i = 0; i < 16 && srv_wait(s, s->lfd, 5000); i++) {
        int c = accept(s->lfd, NULL, NULL);
        if (c < 0)
            continue;
        srv_conn(s, c);
        close(c);
    }
    return NULL;
}

/* Answers a query in q[0..n) into r; returns the reply length or 0. */
static size_t srv_dns_reply(struct srv *s, const uint8_t *q, size_t n, uint8_t *r)
{
    static const uint8_t an[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};
    size_t end = 12;
    while (end < n && q[end] && q[end] < 0x40)
        end += q[end] + 1u;
    end += 5;
    if (end > n || q[end - 5] != 0)
        return 0;
    s->q_flags = q[2] << 8 | q[3];
    s->q_type = q[end - 4] << 8 | q[end - 3];
    memcpy(r, q, end);
    r[2] = (uint8_t)(0x84 | (q[2] & 0x01)); /* QR AA, RD copied */
    r[2] = (uint8_t)((r[2] & ~s->dns_flags_clear) | s->dns_flags_set);
    r[3] = (uint8_t)s->dns_rcode;
    memset(r + 6, 0, 6);
    if (s->dns_answer) {
        r[7] = 1;
        memcpy(r + end, an, sizeof(an));
        end += sizeof(an);
    }
    return end;
}

static void *srv_dns_main(void *arg)
{
    struct srv *s = arg;
    for (int i = 0; i < 64 && srv_wait(s, s->lfd, 5000); i++) {
        uint8_t q[512], r[600];
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(s->lfd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
        if (n < 12)
            continue;
        s->queries++;
        size_t rl = srv_dns_reply(s, q, (size_t)n, r);
        if (rl && !s->dns_silent)
            sendto(s->lfd, r, rl, 0, (struct sockaddr *)&from, fl);
    }
    return NULL;
}

/* 127.0.0.1:port or [::1]:port in ss; returns its length. */
static socklen_t loopback(bool v6, uint16_t port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        a->sin6_addr = in6addr_loopback;
        return sizeof(*a);
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof(*a);
}

/* Binds the loopback address, port 0, for type; returns the fd and sets *port. */
static int srv_bind(bool v6, int type, uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t len = loopback(v6, 0, &ss), al = len;
    int fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &al) != 0)
        abort();
    *port =
        ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static void srv_start(struct srv *s)
{
    bool udp = s->mode == SRV_DNS;
    s->lfd = srv_bind(s->v6, udp ? SOCK_DGRAM : SOCK_STREAM, &s->port);
    if ((!udp && listen(s->lfd, 16) != 0) || pipe(s->stop) != 0)
        abort();
    if (pthread_create(&s->th, NULL, udp ? srv_dns_main : srv_tcp_main, s) != 0)
        abort();
}

static void srv_stop(struct srv *s)
{
    if (write(s->stop[1], "x", 1) != 1)
        abort();
    pthread_join(s->th, NULL);
    close(s->lfd);
    close(s->stop[0]);
    close(s->stop[1]);
}

/* ---- running probes ----------------------------------------------------- */

struct ctx {
    struct tap *t;
    struct event_base *base;
    struct prober *p;
    char dir[64]; /* temp dir with cert.pem, key.pem, other.pem */
    bool v6;      /* probe [::1] instead of 127.0.0.1 */
};

struct run {
    struct event_base *base;
    int calls;
    bool in_run, called_inside;
    struct probe_result r;
    double ms; /* probe_run to done */
    struct timespec t0;
};

static double ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) * 1e3 + (double)(now.tv_nsec - t0->tv_nsec) / 1e6;
}

static void on_done(void *arg, const struct probe_result *r)
{
    struct run *run = arg;
    run->calls++;
    run->called_inside |= run->in_run;
    run->r = *r;
    run->ms = ms_since(&run->t0);
    event_base_loopbreak(run->base);
}

static void on_safety(evutil_socket_t fd, short what, void *arg)
{
    event_base_loopbreak(arg);
}

/* Runs the loop until *calls becomes nonzero (or 5 s), then 30 ms more so
 * a second completion would be seen. */
static void loop_until(struct event_base *base, const int *calls)
{
    struct event *safety = evtimer_new(base, on_safety, base);
    struct timeval five = {5, 0}, extra = {0, 30000};
    evtimer_add(safety, &five);
    while (*calls == 0 && evtimer_pending(safety, NULL))
        if (event_base_loop(base, 0) != 0)
            break;
    evtimer_add(safety, &extra);
    event_base_loop(base, 0);
    event_free(safety);
}

static void run_probe(struct ctx *c, const struct probe_spec *s, uint16_t port, const char *host,
                      struct run *run)
{
    struct sockaddr_storage ss;
    socklen_t len = loopback(c->v6, port, &ss);
    memset(run, 0, sizeof(*run));
    run->base = c->base;
    clock_gettime(CLOCK_MONOTONIC, &run->t0);
    run->in_run = true;
    probe_run(c->p, s, &ss, len, host, on_done, run);
    run->in_run = false;
    loop_until(c->base, &run->calls);
    printf("# probe -> ok=%d reason=\"%s\" in %.1f ms (latency %u us)\n", run->r.ok, run->r.reason,
           run->ms, run->r.latency_us);
}

static bool parse(const char *json, const char *dir, struct probe_spec *s, struct errlist *e)
{
    json_error_t jerr;
    json_t *o = json_loads(json, 0, &jerr);
    if (!o) {
        printf("# bad test JSON: %s\n", jerr.text);
        return false;
    }
    bool ok = probe_spec_parse(o, "test.json", dir, "$.checks.c", s, e);
    json_decref(o);
    return ok;
}

/* Parses a spec that must be valid (aborts the test run otherwise). */
static struct probe_spec spec_of(const char *json, const char *dir)
{
    struct probe_spec s;
    struct errlist e;
    errlist_init(&e);
    if (!parse(json, dir, &s, &e)) {
        for (size_t i = 0; i < e.count; i++)
            printf("# %s\n", e.msgs[i]);
        abort();
    }
    errlist_free(&e);
    return s;
}

/* One probe of json against port; checks ok/reason and exactly-once. */
static struct run check_probe(struct ctx *c, const char *json, uint16_t port, const char *host,
                              bool want_ok, const char *want_reason, const char *what)
{
    struct probe_spec s = spec_of(json, c->dir);
    struct run run;
    run_probe(c, &s, port, host, &run);
    TAP_CHECK(c->t,
              run.calls == 1 && !run.called_inside && run.r.ok == want_ok &&
                  (!want_reason || strstr(run.r.reason, want_reason)),
              "%s (ok=%d reason \"%s\")", what, run.r.ok, run.r.reason);
    probe_spec_free(&s);
    return run;
}

/*
 * A probe that waits for its timeout must end within [lo, hi] ms: not
 * before the timeout, and not seconds after it (a timeout ignored, or a
 * second wait chained to the first). first_ms is the run the caller made.
 * A run that ended early fails at once. One that ended late proves less:
 * on a 2-core CI machine a sanitizer build of this test shares the cores
 * with three integration tests, and this thread can lose the CPU for
 * hundreds of ms. So the same case (a fresh server made from tmpl) runs
 * again, quietly, up to twice; the bound holds when any run met it. A probe
 * that ignores its timeout misses it every time.
 */
static bool timed_within(struct ctx *c, struct srv tmpl, const char *json, double first_ms,
                         double lo, double hi, double *worst)
{
    *worst = first_ms;
    if (first_ms < lo)
        return false;
    double ms = first_ms;
    for (int again = 0; again < 2 && ms > hi; again++) {
        struct srv sv = tmpl;
        srv_start(&sv);
        struct probe_spec sp = spec_of(json, c->dir);
        struct run r;
        run_probe(c, &sp, sv.port, NULL, &r);
        probe_spec_free(&sp);
        srv_stop(&sv);
        ms = r.ms;
        printf("# again: %.1f ms (bound %.0f-%.0f ms)\n", ms, lo, hi);
        if (ms < lo)
            return false;
    }
    *worst = ms;
    return ms <= hi;
}

/* The failure kind the probe type reported (what metrics count). */
static void check_kind(struct ctx *c, const struct run *run, enum health_fail_kind want,
                       const char *what)
{
    TAP_CHECK(c->t, !run->r.ok && run->r.kind == want, "%s: kind %s (got %s, reason \"%s\")", what,
              health_fail_names[want],
              run->r.kind < HEALTH_FAIL_KINDS ? health_fail_names[run->r.kind] : "?",
              run->r.reason);
}

/* ---- probe_spec_parse --------------------------------------------------- */

static void check_spec_err(struct tap *t, const char *dir, const char *json, const char *want)
{
    struct probe_spec s;
    struct errlist e;
    errlist_init(&e);
    bool ok = parse(json, dir, &s, &e);
    bool found = false;
    for (size_t i = 0; i < e.count; i++) {
        printf("# %s\n", e.msgs[i]);
        found |= strncmp(e.msgs[i], "test.json: ", 11) == 0 && strstr(e.msgs[i], want) != NULL;
    }
    TAP_CHECK(t, !ok && found && s.method == NULL && s.headers == NULL, "spec error: %s", want);
    probe_spec_free(&s);
    errlist_free(&e);
}

static void test_spec_valid(struct ctx *c)
{
    struct probe_spec s = spec_of(
        "{\"type\": \"https\", \"interval\": 10, \"rise\": 3, \"fall\": 1, \"method\": \"HEAD\","
        " \"path\": \"/hc?x=1\", \"host\": \"www.example.com\", \"headers\": {\"X-A\": \"b c\"},"
        " \"expect_status\": [204, [300, 399]], \"ca_file\": \"cert.pem\"}",
        c->dir);
    char ca[128];
    snprintf(ca, sizeof(ca), "%s/cert.pem", c->dir);
    TAP_CHECK(c->t,
              s.type == PROBE_HTTPS && s.port == 443 && s.interval_ms == 10000 &&
                  s.timeout_ms == 2000 && s.rise == 3 && s.fall == 1,
              "https spec: defaults (port 443, timeout min(interval/2, 2s))");
    TAP_CHECK(c->t,
              strcmp(s.method, "HEAD") == 0 && strcmp(s.path, "/hc?x=1") == 0 &&
                  strcmp(s.host, "www.example.com") == 0 && s.n_headers == 1 &&
                  strcmp(s.headers[0], "X-A: b c") == 0,
              "https spec: method, path, host, headers");
    TAP_CHECK(c->t,
              s.n_status == 2 && s.status[0].lo == 204 && s.status[0].hi == 204 &&
                  s.status[1].lo == 300 && s.status[1].hi == 399 && strcmp(s.ca_file, ca) == 0,
              "https spec: expect_status and ca_file relative to the config dir");
    probe_spec_free(&s);
    s = spec_of("{\"type\": \"http\", \"interval\": 0.5}", c->dir);
    TAP_CHECK(c->t,
              s.port == 80 && s.timeout_ms == 250 && s.n_status == 1 && s.status[0].lo == 200 &&
                  s.status[0].hi == 299 && strcmp(s.method, "GET") == 0 &&
                  strcmp(s.path, "/") == 0 && s.rise == 2 && s.fall == 2,
              "http spec defaults");
    probe_spec_free(&s);
    s = spec_of("{\"type\": \"dns\", \"query\": \"WWW.Example.com\", \"query_type\": \"aaaa\","
                " \"expect_rcode\": \"NXDOMAIN\", \"expect_answer\": \"::1\", \"timeout\": 0.2}",
                c->dir);
    TAP_CHECK(c->t,
              s.type == PROBE_DNS && s.port == 53 && strcmp(s.dns_name, "www.example.com.") == 0 &&
                  s.dns_type == 28 && s.dns_rcode == 3 && strcmp(s.dns_expect, "::1") == 0 &&
                  s.timeout_ms == 200,
              "dns spec");
    probe_spec_free(&s);
    s = spec_of("{\"type\": \"dns\", \"query\": \"a.\", \"query_type\": 99, \"expect_rcode\": 5}",
                c->dir);
    TAP_CHECK(c->t, s.dns_type == 99 && s.dns_rcode == 5, "dns spec with numeric type and rcode");
    probe_spec_free(&s);
    s = spec_of("{\"type\": \"tcp\", \"port\": 8080}", c->dir);
    TAP_CHECK(c->t, s.type == PROBE_TCP && s.port == 8080 && s.method == NULL, "tcp spec");
    TAP_CHECK(c->t, s.interval_ms == 1000 && s.fast_interval_ms == 1000,
              "fast_interval defaults to the interval");
    probe_spec_free(&s);
    s = spec_of("{\"type\": \"tcp\", \"port\": 1, \"interval\": 2, \"fast_interval\": 0.2,"
                " \"timeout\": 1}",
                c->dir);
    TAP_CHECK(c->t, s.fast_interval_ms == 200 && s.timeout_ms == 1000 && s.interval_ms == 2000,
              "fast_interval 0.2 with interval 2 (shorter than the timeout: counted from results)");
    probe_spec_free(&s);
    s = spec_of("{\"type\": \"tcp\", \"port\": 1, \"interval\": 2, \"fast_interval\": 2}", c->dir);
    TAP_CHECK(c->t, s.fast_interval_ms == 2000, "fast_interval equal to interval");
    probe_spec_free(&s);
}

static void test_spec_errors(struct ctx *c)
{
    static const char *const cases[][2] = {
        {"{\"port\": 80}", "$.checks.c.type: is required"},
        {"{\"type\": \"ftp\"}", "$.checks.c.type: must be"},
        {"{\"type\": \"tcp\"}", "$.checks.c.port: is required for type tcp"},
        {"{\"type\": \"http\", \"port\": 70000}", "$.checks.c.port: must be an integer"},
        {"{\"type\": \"http\", \"port\": \"80\"}", "$.checks.c.port: must be an integer"},
        {"{\"type\": \"http\", \"interval\": 0.05}", "$.checks.c.interval: must be a number"},
        {"{\"type\": \"http\", \"interval\": 4000}", "$.checks.c.interval: must be a number"},
        {"{\"type\": \"http\", \"interval\": 1, \"timeout\": 1}",
         "$.checks.c.timeout: must be less than interval"},
        {"{\"type\": \"http\", \"timeout\": 0}", "$.checks.c.timeout: must be a positive"},
        {"{\"type\": \"http\", \"interval\": 1, \"fast_interval\": 1.5}",
         "$.checks.c.fast_interval: must not be more than interval (1 s)"},
        {"{\"type\": \"http\", \"fast_interval\": 2}",
         "$.checks.c.fast_interval: must not be more than interval"},
        {"{\"type\": \"http\", \"fast_interval\": 0}",
         "$.checks.c.fast_interval: must be a number of seconds from 0.1 to 3600"},
        {"{\"type\": \"http\", \"fast_interval\": -1}", "$.checks.c.fast_interval: must be"},
        {"{\"type\": \"http\", \"fast_interval\": 0.05}", "$.checks.c.fast_interval: must be"},
        {"{\"type\": \"http\", \"fast_interval\": \"0.2\"}", "$.checks.c.fast_interval"},
        {"{\"type\": \"http\", \"timeout\": \"1\"}", "$.checks.c.timeout: must be a positive"},
        {"{\"type\": \"http\", \"rise\": 0}", "$.checks.c.rise: must be an integer from 1 to 100"},
        {"{\"type\": \"http\", \"fall\": 101}", "$.checks.c.fall: must be an integer"},
        {"{\"type\": \"http\", \"method\": \"POST\"}", "$.checks.c.method: must be \"GET\""},
        {"{\"type\": \"http\", \"path\": \"health\"}", "$.checks.c.path: must start with"},
        {"{\"type\": \"http\", \"path\": \"/a b\"}", "$.checks.c.path: must be"},
        {"{\"type\": \"http\", \"host\": \"a\\r\\nb\"}", "$.checks.c.host: must be"},
        {"{\"type\": \"http\", \"headers\": [1]}", "$.checks.c.headers: must be an object"},
        {"{\"type\": \"http\", \"headers\": {\"X-A\": \"v\\r\\nEvil: 1\"}}",
         "$.checks.c.headers.X-A: must be a string without CR, LF"},
        {"{\"type\": \"http\", \"headers\": {\"X\\nB\": \"v\"}}", "header names must be tokens"},
        {"{\"type\": \"http\", \"headers\": {\"X-A\": 5}}", "$.checks.c.headers.X-A: must be"},
        {"{\"type\": \"http\", \"headers\": {\"host\": \"x\"}}",
         "$.checks.c.headers.host: is set by the prober"},
        {"{\"type\": \"http\", \"expect_status\": []}", "$.checks.c.expect_status: must be"},
        {"{\"type\": \"http\", \"expect_status\": [200, [300]]}",
         "$.checks.c.expect_status[1]: must be a status"},
        {"{\"type\": \"http\", \"expect_status\": [99]}", "$.checks.c.expect_status[0]"},
        {"{\"type\": \"http\", \"expect_status\": [[400, 300]]}", "$.checks.c.expect_status[0]"},
        {"{\"type\": \"http\", \"expect_status\": [600]}", "$.checks.c.expect_status[0]"},
        {"{\"type\": \"http\", \"body_contains\": \"\"}", "$.checks.c.body_contains: must be"},
        {"{\"type\": \"http\", \"method\": \"HEAD\", \"body_contains\": \"x\"}",
         "$.checks.c.body_contains: cannot be used with method HEAD"},
        {"{\"type\": \"http\", \"ca_file\": \"cert.pem\"}",
         "$.checks.c.ca_file: not allowed for type http"},
        {"{\"type\": \"https\", \"ca_file\": \"nonexistent.pem\"}",
         "$.checks.c.ca_file: cannot read"},
        {"{\"type\": \"http\", \"bogus\": 1}", "$.checks.c: unknown key \"bogus\""},
        {"{\"type\": \"http\", \"query\": \"a.\"}", "$.checks.c.query: not allowed for type http"},
        {"{\"type\": \"tcp\", \"port\": 1, \"path\": \"/\"}",
         "$.checks.c.path: not allowed for type tcp"},
        {"{\"type\": \"dns\", \"method\": \"GET\", \"query\": \"a.\"}",
         "$.checks.c.method: not allowed for type dns"},
        {"{\"type\": \"dns\"}", "$.checks.c.query: is required for type dns"},
        {"{\"type\": \"dns\", \"query\": \"a..b\"}", "$.checks.c.query: must be a domain name"},
        {"{\"type\": \"dns\", \"query\": \"a.\", \"query_type\": \"BOGUS\"}",
         "$.checks.c.query_type: must be one of"},
        {"{\"type\": \"dns\", \"query\": \"a.\", \"query_type\": 0}", "$.checks.c.query_type"},
        {"{\"type\": \"dns\", \"query\": \"a.\", \"expect_rcode\": \"WHAT\"}",
         "$.checks.c.expect_rcode: must be an rcode"},
        {"{\"type\": \"dns\", \"query\": \"a.\", \"expect_rcode\": 16}", "$.checks.c.expect_rcode"},
        {"{\"type\": \"dns\", \"query\": \"a.\", \"expect_answer\": 1}",
         "$.checks.c.expect_answer: must be"},
        {"[1]", "$.checks.c: must be an object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_spec_err(c->t, c->dir, cases[i][0], cases[i][1]);
}

/* ---- tcp ------------------------------------------------------------------ */

static void test_tcp(struct ctx *c)
{
    uint16_t port;
    int fd = srv_bind(false, SOCK_STREAM, &port);
    if (listen(fd, 4) != 0)
        abort();
    /* The kernel completes the handshake from the backlog; no accept. */
    check_probe(c, "{\"type\": \"tcp\", \"port\": 1, \"timeout\": 0.5}", port, NULL, true, "ok",
                "tcp: open port passes");
    close(fd);
    fd = srv_bind(false, SOCK_STREAM, &port);
    close(fd);
    struct run r = check_probe(c, "{\"type\": \"tcp\", \"port\": 1, \"timeout\": 0.5}", port, NULL,
                               false, "refused", "tcp: closed port fails as refused");
    TAP_CHECK(c->t, r.ms < 100, "tcp: refused fails fast (%.1f ms)", r.ms);
    check_kind(c, &r, HEALTH_FAIL_REFUSED, "tcp: refused");

    struct probe_spec s = spec_of("{\"type\": \"tcp\", \"port\": 1}", c->dir);
    struct sockaddr_storage ss;
    struct run run;
    memset(&ss, 0, sizeof(ss));
    memset(&run, 0, sizeof(run));
    ss.ss_family = AF_UNIX;
    run.base = c->base;
    run.in_run = true;
    int rc = probe_run(c->p, &s, &ss, sizeof(ss), NULL, on_done, &run);
    run.in_run = false;
    loop_until(c->base, &run.calls);
    TAP_CHECK(c->t, rc == -1 && run.calls == 1 && !run.called_inside && !run.r.ok,
              "bad address: -1, done once from the loop (\"%s\")", run.r.reason);
    check_kind(c, &run, HEALTH_FAIL_OTHER, "bad address");
    probe_spec_free(&s);
}

/* Socket errors map to kinds by errno, never by their text. */
static void test_errno_kinds(struct ctx *c)
{
    static const struct {
        int err;
        enum health_fail_kind kind;
        const char *reason;
    } cases[] = {
        {ECONNREFUSED, HEALTH_FAIL_REFUSED, "connection refused"},
        {ECONNRESET, HEALTH_FAIL_RESET, "connection reset"},
        {EPIPE, HEALTH_FAIL_RESET, "connection closed by peer"},
        {ETIMEDOUT, HEALTH_FAIL_TIMEOUT, "connection timed out"},
        {EHOSTUNREACH, HEALTH_FAIL_OTHER, "host unreachable"},
        {EMFILE, HEALTH_FAIL_OTHER, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char why[96];
        enum health_fail_kind k = probe_errno_reason(cases[i].err, why, sizeof(why));
        TAP_CHECK(c->t,
                  k == cases[i].kind && (!cases[i].reason || strcmp(why, cases[i].reason) == 0),
                  "errno %d: \"%s\" is %s", cases[i].err, why, health_fail_names[k]);
    }
}

/* ---- http ------------------------------------------------------------------ */

static struct run http_case(struct ctx *c, struct srv *sv, const char *json, bool want_ok,
                            const char *want_reason, const char *what)
{
    srv_start(sv);
    struct run r = check_probe(c, json, sv->port, NULL, want_ok, want_reason, what);
    srv_stop(sv);
    return r;
}

#define HTTP_T "{\"type\": \"http\", \"timeout\": 0.3"
#define OK200 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

static void test_http_status(struct ctx *c)
{
    struct srv s = {.mode = SRV_REPLY, .reply = OK200, .hold = true};
    struct run r = http_case(c, &s, HTTP_T "}", true, "ok", "http: 200 passes");
    TAP_CHECK(c->t, r.ms < 100, "http: pass decided without waiting for close (%.1f ms)", r.ms);
    TAP_CHECK(c->t, strncmp(s.req, "GET / HTTP/1.1\r\nHost: 127.0.0.1:", 32) == 0,
              "http: request line and Host with port");
    s = (struct srv){.mode = SRV_REPLY, .reply = "HTTP/1.1 503 Service Unavailable\r\n\r\n"};
    r = http_case(c, &s, HTTP_T "}", false, "status 503", "http: 503 fails");
    check_kind(c, &r, HEALTH_FAIL_STATUS, "http: 503");
    s = (struct srv){.mode = SRV_REPLY,
                     .reply = "HTTP/1.1 302 Found\r\nLocation: http://x/\r\n\r\n"};
    http_case(c, &s, HTTP_T "}", false, "status 302", "http: 302 fails with default expect");
    http_case(c, &s, HTTP_T ", \"expect_status\": [200, [300, 399]]}", true, "ok",
              "http: 302 passes with expect_status [200, [300, 399]]");
    s = (struct srv){.mode = SRV_REPLY, .reply = "HTTP/1.0 200\r\n\r\n"};
    http_case(c, &s, HTTP_T "}", true, "ok", "http: HTTP/1.0 status line without reason");
    s = (struct srv){.mode = SRV_REPLY, .reply = "HTTP/1.1 2000 OK\r\n\r\n"};
    http_case(c, &s, HTTP_T "}", false, "bad status line", "http: four-digit status");
    s = (struct srv){.mode = SRV_REPLY, .reply = "HTTP/2 200\r\n\r\n"};
    http_case(c, &s, HTTP_T "}", false, "bad status line", "http: HTTP/2 status line");
    s = (struct srv){.mode = SRV_REPLY, .reply = ""};
    r = http_case(c, &s, HTTP_T "}", false, "closed without response", "http: close without reply");
    check_kind(c, &r, HEALTH_FAIL_RESET, "http: close without reply");
    s = (struct srv){.mode = SRV_REPLY, .reply = "SSH-2.0-OpenSSH_9.2p1\r\n", .hold = true};
    r = http_case(c, &s, HTTP_T "}", false, "bad status line", "http: garbage fails");
    TAP_CHECK(c->t, r.ms < 100, "http: garbage detected at once, not by timeout (%.1f ms)", r.ms);
    check_kind(c, &r, HEALTH_FAIL_PROTOCOL, "http: garbage");
}

static void test_http_body(struct ctx *c)
{
    struct srv s = {.mode = SRV_REPLY,
                    .reply = "HTTP/1.1 200 OK\r\nX: y\r\n\r\n<html>all is well</html>"};
    http_case(c, &s, HTTP_T ", \"body_contains\": \"is well\"}", true, "ok",
              "http: body_contains present");
    struct run r = http_case(c, &s, HTTP_T ", \"body_contains\": \"trouble\"}", false,
                             "does not contain", "http: body_contains absent");
    check_kind(c, &r, HEALTH_FAIL_STATUS, "http: body_contains absent");
    s = (struct srv){.mode = SRV_REPLY,
                     .reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "5\r\nhello\r\n0\r\n\r\n"};
    http_case(c, &s, HTTP_T ", \"body_contains\": \"hello\"}", true, "ok",
              "http: body_contains in a chunked body");
    s = (struct srv){.mode = SRV_REPLY, .reply = "HTTP/1.1 200 OK\r\n\r\n", .hold = false};
    http_case(c, &s,
              HTTP_T ", \"method\": \"HEAD\", \"path\": \"/health\","
                     " \"headers\": {\"X-Probe\": \"1\"}}",
              true, "ok", "http: HEAD passes");
    TAP_CHECK(c->t,
              strncmp(s.req, "HEAD /health HTTP/1.1\r\n", 23) == 0 &&
                  strstr(s.req, "\r\nUser-Agent: gtmd-probe\r\n") &&
                  strstr(s.req, "\r\nConnection: close\r\n") &&
                  strstr(s.req, "\r\nX-Probe: 1\r\n\r\n"),
              "http: HEAD request with User-Agent, Connection and custom header");
}

static void test_http_misbehave(struct ctx *c)
{
    struct srv s = {.mode = SRV_SILENT};
    struct run r = http_case(c, &s, HTTP_T "}", false, "timeout while waiting for status line",
                             "http: silent server times out");
    double ms;
    bool in_bound =
        timed_within(c, (struct srv){.mode = SRV_SILENT}, HTTP_T "}", r.ms, 290, 400, &ms);
    TAP_CHECK(c->t, in_bound, "http: silent: done in timeout+100 ms (%.1f ms, then %.1f ms)", r.ms,
              ms);
    check_kind(c, &r, HEALTH_FAIL_TIMEOUT, "http: silent server");
    s = (struct srv){.mode = SRV_DRIP, .reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"};
    r = http_case(c, &s, HTTP_T "}", false, "timeout", "http: slow drip times out");
    in_bound = timed_within(
        c, (struct srv){.mode = SRV_DRIP, .reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
        HTTP_T "}", r.ms, 290, 400, &ms);
    TAP_CHECK(c->t, in_bound, "http: drip: done in timeout+100 ms (%.1f ms, then %.1f ms)", r.ms,
              ms);
    s = (struct srv){.mode = SRV_RESET};
    r = http_case(c, &s, HTTP_T "}", false, "reset", "http: connection reset fails");
    check_kind(c, &r, HEALTH_FAIL_RESET, "http: connection reset");

    s = (struct srv){.mode = SRV_BIG};
    r = http_case(c, &s, "{\"type\": \"http\", \"interval\": 5, \"timeout\": 1.5}", true, "ok",
                  "http: 10 MB body passes on the status");
    TAP_CHECK(c->t, r.ms < 200 && s.sent <= 256 * 1024,
              "http: 10 MB body not read (%.1f ms, server sent %zu octets)", r.ms, s.sent);
    s = (struct srv){.mode = SRV_BIG, .needle = "NEEDLE", .needle_at = 3 * BIG_CHUNK - 3};
    r = http_case(
        c, &s,
        "{\"type\": \"http\", \"interval\": 5, \"timeout\": 1.5, \"body_contains\": \"NEEDLE\"}",
        true, "ok", "http: needle across a chunk boundary in a 10 MB body");
    s = (struct srv){.mode = SRV_BIG};
    r = http_case(
        c, &s,
        "{\"type\": \"http\", \"interval\": 5, \"timeout\": 1.5, \"body_contains\": \"NEEDLE\"}",
        false, "in the first 65536 octets", "http: needle absent: stops at the cap");
    TAP_CHECK(c->t, r.ms < 1000 && s.sent <= 256 * 1024,
              "http: read cap honoured (%.1f ms, server sent %zu octets)", r.ms, s.sent);
    s = (struct srv){.mode = SRV_BIG, .needle = "NEEDLE", .needle_at = 200 * 1024};
    http_case(
        c, &s,
        "{\"type\": \"http\", \"interval\": 5, \"timeout\": 1.5, \"body_contains\": \"NEEDLE\"}",
        false, "in the first 65536 octets", "http: needle past the cap is not found");
}

/* ---- https ------------------------------------------------------------------ */

static SSL_CTX *tls_server_ctx(const char *dir)
{
    char cert[128], key[128];
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    SSL_CTX *x = SSL_CTX_new(TLS_server_method());
    if (!x || SSL_CTX_use_certificate_file(x, cert, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(x, key, SSL_FILETYPE_PEM) != 1)
        return NULL;
    return x;
}

#define HTTPS_T "{\"type\": \"https\", \"timeout\": 0.5"

static void test_https(struct ctx *c)
{
    SSL_CTX *x = tls_server_ctx(c->dir);
    TAP_CHECK(c->t, x != NULL, "https: test server certificate loaded");
    if (!x)
        return;
    struct srv s = {.mode = SRV_REPLY, .reply = OK200, .tls = x};
    srv_start(&s);
    check_probe(c, HTTPS_T "}", s.port, NULL, true, "ok",
                "https: self-signed passes without verification");
    struct run r = check_probe(c, HTTPS_T ", \"ca_file\": \"other.pem\", \"host\": \"localhost\"}",
                               s.port, NULL, false, "certificate verify failed",
                               "https: fails against a different CA");
    check_kind(c, &r, HEALTH_FAIL_TLS, "https: certificate verify failed");
    check_probe(c, HTTPS_T ", \"ca_file\": \"cert.pem\", \"host\": \"localhost\"}", s.port, NULL,
                true, "ok", "https: passes with ca_file = the certificate and host localhost");
    check_probe(c, HTTPS_T ", \"ca_file\": \"cert.pem\"}", s.port, "localhost", true, "ok",
                "https: endpoint host name used for verification");
    check_probe(c, HTTPS_T ", \"ca_file\": \"cert.pem\", \"host\": \"wrong.example\"}", s.port,
                NULL, false, "certificate verify failed", "https: host name mismatch fails");
    check_probe(c, HTTPS_T ", \"ca_file\": \"cert.pem\"}", s.port, NULL, false,
                "certificate verify failed", "https: IP address not in the certificate fails");
    srv_stop(&s);
    /* The last request read was the one with the endpoint's host name. */
    TAP_CHECK(c->t, strncmp(s.req, "GET / HTTP/1.1\r\nHost: localhost:", 32) == 0,
              "https: request sent inside TLS, Host from the endpoint's name");
    s = (struct srv){.mode = SRV_REPLY, .reply = OK200, .tls = x};
    srv_start(&s);
    check_probe(c, HTTPS_T ", \"host\": \"localhost\"}", s.port, NULL, true, "ok",
                "https: with host");
    srv_stop(&s);
    TAP_CHECK(c->t, strcmp(s.sni, "localhost") == 0 && strstr(s.req, "\r\nHost: localhost:"),
              "https: SNI and Host are the check's host (sni \"%s\")", s.sni);
    s = (struct srv){.mode = SRV_SILENT, .tls = x};
    r = http_case(c, &s, HTTPS_T "}", false, "timeout", "https: silent server");
    double ms;
    bool in_bound = timed_within(c, (struct srv){.mode = SRV_SILENT, .tls = x}, HTTPS_T "}", r.ms,
                                 490, 600, &ms);
    TAP_CHECK(c->t, in_bound, "https: silent: timeout honoured (%.1f ms, then %.1f ms)", r.ms, ms);
    SSL_CTX_free(x);
    s = (struct srv){.mode = SRV_REPLY, .reply = OK200};
    r = http_case(c, &s, HTTPS_T "}", false, "tls handshake",
                  "https: plain HTTP server (TLS junk) fails");
    TAP_CHECK(c->t, r.ms < 100, "https: TLS junk detected at once (%.1f ms)", r.ms);
    check_kind(c, &r, HEALTH_FAIL_TLS, "https: TLS junk");
    s = (struct srv){.mode = SRV_SILENT};
    r = http_case(c, &s, HTTPS_T "}", false, "timeout while in tls handshake",
                  "https: server silent in handshake");
    check_kind(c, &r, HEALTH_FAIL_TIMEOUT, "https: silent in handshake");
}

/* ---- dns ------------------------------------------------------------------- */

#define DNS_T "{\"type\": \"dns\", \"timeout\": 0.3, \"query\": \"www.example.com\""

static void test_dns(struct ctx *c)
{
    struct srv s = {.mode = SRV_DNS, .dns_answer = true};
    srv_start(&s);
    check_probe(c, DNS_T "}", s.port, NULL, true, "ok", "dns: NOERROR passes");
    check_probe(c, DNS_T ", \"expect_answer\": \"192.0.2.1\"}", s.port, NULL, true, "ok",
                "dns: expect_answer matches the A record");
    struct run r = check_probe(c, DNS_T ", \"expect_answer\": \"192.0.2.9\"}", s.port, NULL, false,
                               "no answer matches", "dns: expect_answer mismatch fails");
    check_kind(c, &r, HEALTH_FAIL_DNS, "dns: expect_answer mismatch");
    check_probe(c, DNS_T ", \"expect_rcode\": \"NXDOMAIN\"}", s.port, NULL, false,
                "rcode NOERROR (expected NXDOMAIN)", "dns: NOERROR when NXDOMAIN expected");
    check_probe(c, DNS_T ", \"query_type\": \"TXT\"}", s.port, NULL, true, "ok",
                "dns: second query on the cached channel");
    srv_stop(&s);
    TAP_CHECK(c->t, s.queries == 5 && (s.q_flags & 0x0100) == 0 && s.q_type == 16,
              "dns: queries sent without RD, with the query type (%d queries)", s.queries);

    s = (struct srv){.mode = SRV_DNS, .dns_rcode = 3};
    srv_start(&s);
    check_probe(c, DNS_T "}", s.port, NULL, false, "rcode NXDOMAIN (expected NOERROR)",
                "dns: NXDOMAIN when NOERROR expected fails");
    check_probe(c, DNS_T ", \"expect_rcode\": \"NXDOMAIN\"}", s.port, NULL, true, "ok",
                "dns: NXDOMAIN expected passes");
    srv_stop(&s);
    s = (struct srv){.mode = SRV_DNS, .dns_rcode = 2};
    srv_start(&s);
    r = check_probe(c, DNS_T "}", s.port, NULL, false, "rcode SERVFAIL",
                    "dns: SERVFAIL reaches the judge (NOCHECKRESP)");
    check_kind(c, &r, HEALTH_FAIL_DNS, "dns: unexpected rcode");
    srv_stop(&s);

    /* A target that sends the query back (QR clear) or answers with another
     * opcode: the ID and question match, the answer even matches. */
    s = (struct srv){.mode = SRV_DNS, .dns_answer = true, .dns_flags_clear = 0x80};
    srv_start(&s);
    r = check_probe(c, DNS_T ", \"expect_answer\": \"192.0.2.1\"}", s.port, NULL, false,
                    "dns: reply has QR clear", "dns: a reply with QR clear fails");
    check_kind(c, &r, HEALTH_FAIL_PROTOCOL, "dns: QR clear");
    srv_stop(&s);
    s = (struct srv){.mode = SRV_DNS, .dns_answer = true, .dns_flags_set = 0x20};
    srv_start(&s);
    r = check_probe(c, DNS_T "}", s.port, NULL, false, "dns: reply has another opcode",
                    "dns: a reply with opcode NOTIFY fails");
    check_kind(c, &r, HEALTH_FAIL_PROTOCOL, "dns: another opcode");
    srv_stop(&s);

    s = (struct srv){.mode = SRV_DNS, .dns_silent = true};
    srv_start(&s);
    r = check_probe(c, DNS_T "}", s.port, NULL, false, "timeout", "dns: no reply");
    double ms;
    bool in_bound = timed_within(c, (struct srv){.mode = SRV_DNS, .dns_silent = true}, DNS_T "}",
                                 r.ms, 290, 400, &ms);
    TAP_CHECK(c->t, in_bound, "dns: timeout honoured (%.1f ms, then %.1f ms)", r.ms, ms);
    check_kind(c, &r, HEALTH_FAIL_TIMEOUT, "dns: no reply");
    srv_stop(&s);
}

/* ---- local failures ------------------------------------------------------ */

/* Out of descriptors (EMFILE), no probe type can even start: the result is
 * a failure marked local, which the scheduler does not count against the
 * endpoint (issue 11, bug 7). The soft RLIMIT_NOFILE is set to the lowest
 * free descriptor, so every new socket fails with EMFILE. */
static void test_local_failure(struct ctx *c)
{
    struct srv dns = {.mode = SRV_DNS, .dns_answer = true};
    uint16_t port;
    int lfd = srv_bind(false, SOCK_STREAM, &port);
    if (listen(lfd, 4) != 0)
        abort();
    srv_start(&dns);
    struct rlimit saved, low;
    getrlimit(RLIMIT_NOFILE, &saved);
    int lowest = dup(0);
    close(lowest);
    low = saved;
    low.rlim_cur = (rlim_t)lowest;
    TAP_CHECK(c->t, setrlimit(RLIMIT_NOFILE, &low) == 0, "soft RLIMIT_NOFILE lowered to %d",
              lowest);
    TAP_CHECK(c->t, probe_out_of_sockets(), "probe_out_of_sockets sees EMFILE");
    static const char *const specs[] = {"{\"type\": \"tcp\", \"port\": 1, \"timeout\": 0.5}",
                                        HTTP_T "}", DNS_T "}"};
    for (size_t i = 0; i < 3; i++) {
        struct probe_spec s = spec_of(specs[i], c->dir);
        struct run r;
        run_probe(c, &s, i == 2 ? dns.port : port, NULL, &r);
        TAP_CHECK(c->t,
                  r.calls == 1 && !r.r.ok && r.r.local &&
                      strstr(r.r.reason, "cannot start probe") != NULL,
                  "EMFILE: %s probe is a local failure, not a verdict (\"%s\")",
                  i == 0   ? "tcp"
                  : i == 1 ? "http"
                           : "dns",
                  r.r.reason);
        probe_spec_free(&s);
    }
    setrlimit(RLIMIT_NOFILE, &saved);
    TAP_CHECK(c->t, !probe_out_of_sockets(), "limit restored: sockets open again");
    struct probe_spec s = spec_of(specs[0], c->dir);
    struct run r;
    run_probe(c, &s, port, NULL, &r);
    TAP_CHECK(c->t, r.r.ok && !r.r.local, "limit restored: the tcp probe passes");
    probe_spec_free(&s);
    s = spec_of(specs[0], c->dir);
    int closed = srv_bind(false, SOCK_STREAM, &port);
    close(closed);
    run_probe(c, &s, port, NULL, &r);
    TAP_CHECK(c->t, !r.r.ok && !r.r.local, "a refused connection is a verdict, not local");
    probe_spec_free(&s);
    srv_stop(&dns);
    close(lfd);
}

/* ---- IPv6 ------------------------------------------------------------------ */

static void test_ipv6(struct ctx *c)
{
    struct srv s = {.mode = SRV_REPLY, .reply = OK200, .v6 = true};
    c->v6 = true;
    http_case(c, &s, HTTP_T "}", true, "ok", "ipv6: http to [::1] passes");
    TAP_CHECK(c->t, strstr(s.req, "\r\nHost: [::1]:") != NULL, "ipv6: Host is a bracketed literal");
    s = (struct srv){.mode = SRV_DNS, .dns_answer = true, .v6 = true};
    srv_start(&s);
    check_probe(c, DNS_T ", \"expect_answer\": \"192.0.2.1\"}", s.port, NULL, true, "ok",
                "ipv6: dns to [::1] passes");
    srv_stop(&s);
    c->v6 = false;
}

/* ---- resolve, teardown ------------------------------------------------------ */

struct resolved {
    int calls;
    bool in_call, inside, ok;
    struct sockaddr_storage addr;
    struct event_base *base;
};

static void on_resolved(void *arg, bool ok, const struct sockaddr_storage *addr, socklen_t len)
{
    struct resolved *r = arg;
    r->calls++;
    r->inside |= r->in_call;
    r->ok = ok;
    if (ok)
        memcpy(&r->addr, addr, len);
    event_base_loopbreak(r->base);
}

static void test_resolve(struct ctx *c)
{
    static const char *const names[] = {"127.0.0.1", "localhost"};
    for (size_t i = 0; i < 2; i++) {
        struct resolved r = {.base = c->base, .in_call = true};
        probe_resolve(c->p, names[i], on_resolved, &r);
        r.in_call = false;
        loop_until(c->base, &r.calls);
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)&r.addr;
        bool v4 = r.addr.ss_family == AF_INET && a4->sin_port == 0 &&
                  a4->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
        bool loop = v4 || (i == 1 && r.addr.ss_family == AF_INET6);
        TAP_CHECK(c->t, r.calls == 1 && !r.inside && r.ok && loop,
                  "resolve %s: one loopback address, from the loop", names[i]);
    }
}

/* Freeing the prober with probes in flight: no callback, no leak (ASan). */
static void test_free_in_flight(struct ctx *c)
{
    struct srv h = {.mode = SRV_SILENT}, d = {.mode = SRV_DNS, .dns_silent = true};
    struct probe_spec hs = spec_of(HTTP_T "}", c->dir), ds = spec_of(DNS_T "}", c->dir);
    struct prober *p = prober_new(c->base);
    struct run r1, r2;
    srv_start(&h);
    srv_start(&d);
    struct sockaddr_storage ss;
    memset(&r1, 0, sizeof(r1));
    memset(&r2, 0, sizeof(r2));
    probe_run(p, &hs, &ss, loopback(false, h.port, &ss), NULL, on_done, &r1);
    probe_run(p, &ds, &ss, loopback(false, d.port, &ss), NULL, on_done, &r2);
    struct event *tm = evtimer_new(c->base, on_safety, c->base);
    struct timeval tv = {0, 50000};
    evtimer_add(tm, &tv);
    event_base_dispatch(c->base);
    event_free(tm);
    prober_free(p);
    TAP_CHECK(c->t, r1.calls == 0 && r2.calls == 0, "prober_free drops in-flight probes");
    srv_stop(&h);
    srv_stop(&d);
    probe_spec_free(&hs);
    probe_spec_free(&ds);
}

static bool make_certs(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 "
             "-keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1 && "
             "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 "
             "-keyout %s/otherkey.pem -out %s/other.pem >/dev/null 2>&1",
             dir, dir, dir, dir);
    return system(cmd) == 0;
}

static void rm_certs(const char *dir)
{
    static const char *const files[] = {"key.pem", "cert.pem", "otherkey.pem", "other.pem"};
    char p[128];
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

int main(void)
{
    struct tap t = {0, 0};
    struct ctx c = {.t = &t};
    signal(SIGPIPE, SIG_IGN); /* as the daemon does */
    snprintf(c.dir, sizeof(c.dir), "/tmp/gtmd-probe-XXXXXX");
    if (!mkdtemp(c.dir))
        abort();
    bool certs = make_certs(c.dir);
    TAP_CHECK(&t, certs, "openssl made test certificates in %s", c.dir);
    c.base = event_base_new();
    c.p = prober_new(c.base);
    TAP_CHECK(&t, c.base && c.p, "prober_new");

    test_spec_valid(&c);
    test_spec_errors(&c);
    test_tcp(&c);
    test_errno_kinds(&c);
    test_http_status(&c);
    test_http_body(&c);
    test_http_misbehave(&c);
    if (certs)
        test_https(&c);
    test_dns(&c);
    test_local_failure(&c);
    test_ipv6(&c);
    test_resolve(&c);
    test_free_in_flight(&c);

    prober_free(c.p);
    event_base_free(c.base);
    rm_certs(c.dir);
    return tap_done(&t);
}
