/*
 * probe_grpc.c -- the grpc probe: one grpc.health.v1.Health/Check call
 * over HTTP/2 (nghttp2), in cleartext with prior knowledge (h2c) or over
 * TLS with ALPN "h2" (probe_tls.c's sessions: SNI and verification as
 * https).
 *
 * I/O: a raw non-blocking socket (plus an SSL object) driven by one read
 * and one write event, as in probe_http.c; the overall deadline lives in
 * probe.c. nghttp2 only frames and parses (nghttp2_session_mem_send and
 * mem_recv), so nothing blocks and we decide how much is read: at most
 * PROBE_MAX_READ octets in all, past that the probe fails. nghttp2 calls
 * back from inside mem_recv; those callbacks only note what they see
 * (headers, message octets, the end of our stream), and the verdict is
 * given after mem_recv returned, since ending the probe frees the session.
 *
 * Verdict, once our stream has ended (or was reset, or the peer closed):
 * :status 200, a content-type of application/grpc, grpc-status 0 and a
 * HealthCheckResponse saying SERVING pass; anything else fails and the
 * reason says which ("grpc NOT_SERVING", "grpc-status 5 (NOT_FOUND):
 * unknown service", "grpc: http status 404", ...).
 */
#include "health/probe_grpc.h"
#include "health/probe_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* nghttp2 1.60 deprecated its ssize_t calls for nghttp2_ssize ones. */
#if NGHTTP2_VERSION_NUM >= 0x013c00
typedef nghttp2_ssize probe_grpc_ssize;
typedef nghttp2_data_provider2 probe_grpc_provider;
#define probe_grpc_mem_send nghttp2_session_mem_send2
#define probe_grpc_mem_recv nghttp2_session_mem_recv2
#define probe_grpc_submit nghttp2_submit_request2
#else
typedef ssize_t probe_grpc_ssize;
typedef nghttp2_data_provider probe_grpc_provider;
#define probe_grpc_mem_send nghttp2_session_mem_send
#define probe_grpc_mem_recv nghttp2_session_mem_recv
#define probe_grpc_submit nghttp2_submit_request
#endif

#define PROBE_GRPC_PATH "/grpc.health.v1.Health/Check"

enum probe_grpc_phase { PG_CONNECT, PG_TLS, PG_H2 };
enum probe_grpc_io { PG_DONE, PG_AGAIN, PG_EOF, PG_FAIL };

struct probe_grpc {
    struct probe *pr;
    int fd;
    struct event *rd, *wr; /* one-shot, re-added while waiting */
    SSL *ssl;              /* grpc with tls only */
    enum probe_grpc_phase phase;
    nghttp2_session *h2;
    int32_t stream;
    /* The request message (the data provider's source) and how much of
     * it nghttp2 has taken. */
    uint8_t req[PROBE_GRPC_MAX_SERVICE + 16];
    size_t req_len, req_off;
    /* Octets from mem_send not yet written, copied (owned), and where the
     * write is: SSL_write wants the same buffer again after WANT_WRITE. */
    uint8_t *out;
    size_t out_cap, out_len, out_off;
    size_t nread; /* octets read in all, at most PROBE_MAX_READ */
    /* What the callbacks saw of our stream. */
    int http_status;   /* :status; 0 none yet */
    bool grpc_ct;      /* content-type application/grpc[+proto|;...] */
    int grpc_status;   /* grpc-status; -1 none, -2 not a number */
    char grpc_msg[80]; /* grpc-message, decoded */
    uint8_t msg[PROBE_GRPC_MAX_REPLY];
    size_t msg_len;
    bool msg_over; /* more DATA than msg holds */
    bool closed;   /* our stream ended */
    uint32_t close_code;
    /* nghttp2's first complaint about the connection (a server that does
     * not speak HTTP/2 gets it), its first sentence; "" none. */
    char h2err[96];
};

static void probe_grpc_stop(struct probe *pr)
{
    struct probe_grpc *h = pr->impl;
    if (!h)
        return;
    if (h->rd)
        event_free(h->rd);
    if (h->wr)
        event_free(h->wr);
    nghttp2_session_del(h->h2);
    SSL_free(h->ssl);
    if (h->fd >= 0)
        probe_tcp_abort(h->fd);
    free(h->out);
    free(h);
    pr->impl = NULL;
}

static const char *probe_grpc_phase(const struct probe *pr)
{
    const struct probe_grpc *h = pr->impl;
    if (!h)
        return NULL;
    switch (h->phase) {
    case PG_CONNECT:
        return "connecting";
    case PG_TLS:
        return "in tls handshake";
    case PG_H2:
        break;
    }
    return h->http_status ? "reading grpc reply" : "waiting for grpc reply";
}

static const struct probe_ops probe_grpc_ops = {probe_grpc_stop, probe_grpc_phase};

/* ---- nghttp2 callbacks: note what our stream brings, decide nothing ---- */

static bool probe_grpc_is(const uint8_t *s, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

static int probe_grpc_on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                                size_t namelen, const uint8_t *value, size_t valuelen,
                                uint8_t flags, void *arg)
{
    struct probe_grpc *h = arg;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->hd.stream_id != h->stream)
        return 0;
    if (probe_grpc_is(name, namelen, ":status")) {
        /* nghttp2 checked it is three digits. */
        h->http_status =
            valuelen == 3 ? (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0') : 999;
        if (!h->pr->spec->grpc_tls)
            probe_mark_rtt(h->pr); /* h2c: the reply's header (tls: the handshake) */
    } else if (probe_grpc_is(name, namelen, "content-type")) {
        static const char ct[] = "application/grpc";
        size_t n = sizeof(ct) - 1;
        h->grpc_ct = valuelen >= n && strncasecmp((const char *)value, ct, n) == 0 &&
                     (valuelen == n || value[n] == '+' || value[n] == ';');
    } else if (probe_grpc_is(name, namelen, "grpc-status")) {
        int st = valuelen > 0 && valuelen <= 3 ? 0 : -2;
        for (size_t i = 0; st >= 0 && i < valuelen; i++)
            st = value[i] >= '0' && value[i] <= '9' ? st * 10 + (value[i] - '0') : -2;
        h->grpc_status = st;
    } else if (probe_grpc_is(name, namelen, "grpc-message")) {
        probe_grpc_message((const char *)value, valuelen, h->grpc_msg, sizeof(h->grpc_msg));
    }
    return 0;
}

static int probe_grpc_on_data(nghttp2_session *s, uint8_t flags, int32_t stream_id,
                              const uint8_t *data, size_t len, void *arg)
{
    struct probe_grpc *h = arg;
    if (stream_id != h->stream)
        return 0;
    if (len > sizeof(h->msg) - h->msg_len) {
        h->msg_over = true;
        return 0;
    }
    memcpy(h->msg + h->msg_len, data, len);
    h->msg_len += len;
    return 0;
}

static int probe_grpc_on_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code,
                               void *arg)
{
    struct probe_grpc *h = arg;
    if (stream_id == h->stream) {
        h->closed = true;
        h->close_code = error_code;
    }
    return 0;
}

static int probe_grpc_on_error(nghttp2_session *s, int lib_error_code, const char *msg, size_t len,
                               void *arg)
{
    struct probe_grpc *h = arg;
    const char *end = memmem(msg, len, ".  ", 3);
    if (!h->h2err[0])
        probe_grpc_message(msg, end ? (size_t)(end - msg) : len, h->h2err, sizeof(h->h2err));
    return 0;
}

static probe_grpc_ssize probe_grpc_body(nghttp2_session *s, int32_t stream_id, uint8_t *buf,
                                        size_t length, uint32_t *flags, nghttp2_data_source *src,
                                        void *arg)
{
    struct probe_grpc *h = arg;
    size_t n = h->req_len - h->req_off;
    if (n > length)
        n = length;
    memcpy(buf, h->req + h->req_off, n);
    h->req_off += n;
    if (h->req_off == h->req_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (probe_grpc_ssize)n;
}

/* ---- the verdict --------------------------------------------------------- */

static void probe_grpc_judge_status(struct probe_grpc *h)
{
    struct probe *pr = h->pr;
    const char *name = probe_grpc_code_name(h->grpc_status);
    if (h->grpc_status == -2)
        probe_fail(pr, HEALTH_FAIL_PROTOCOL, "grpc: bad grpc-status");
    else if (h->grpc_msg[0])
        probe_fail(pr, HEALTH_FAIL_STATUS, "grpc-status %d (%s): %s", h->grpc_status,
                   name ? name : "?", h->grpc_msg);
    else
        probe_fail(pr, HEALTH_FAIL_STATUS, "grpc-status %d (%s)", h->grpc_status,
                   name ? name : "?");
}

/* Our stream has ended: judges what it brought. */
static void probe_grpc_judge(struct probe_grpc *h)
{
    struct probe *pr = h->pr;
    char why[PROBE_REASON_LEN];
    long st;
    if (h->grpc_status < 0 && h->close_code != NGHTTP2_NO_ERROR)
        probe_fail(pr, HEALTH_FAIL_RESET, "grpc: stream reset by peer: %s",
                   nghttp2_http2_strerror(h->close_code));
    else if (h->http_status == 0)
        probe_fail(pr, HEALTH_FAIL_PROTOCOL, "grpc: stream ended without a reply");
    else if (h->http_status != 200)
        probe_fail(pr, HEALTH_FAIL_STATUS, "grpc: http status %d", h->http_status);
    else if (!h->grpc_ct)
        probe_fail(pr, HEALTH_FAIL_PROTOCOL, "grpc: content-type is not application/grpc");
    else if (h->grpc_status == -1)
        probe_fail(pr, HEALTH_FAIL_PROTOCOL, "grpc: no grpc-status in the reply");
    else if (h->grpc_status != 0)
        probe_grpc_judge_status(h);
    else if (h->msg_over)
        probe_fail(pr, HEALTH_FAIL_PROTOCOL, "grpc: reply message longer than %d octets",
                   PROBE_GRPC_MAX_REPLY);
    else if (probe_grpc_reply(h->msg, h->msg_len, &st, why, sizeof(why)) != 0)
        probe_fail(pr, HEALTH_FAIL_PROTOCOL, "%s", why);
    else if (st == 1)
        probe_pass(pr);
    else if (probe_grpc_serving_name(st))
        probe_fail(pr, HEALTH_FAIL_STATUS, "grpc %s", probe_grpc_serving_name(st));
    else
        probe_fail(pr, HEALTH_FAIL_STATUS, "grpc status %ld", st);
}

/* True once the probe is over (h is then freed): our stream ended, or the
 * peer closed the connection before it did. */
static bool probe_grpc_decide(struct probe_grpc *h, bool eof)
{
    /* nghttp2 gave up on the connection, or reset our stream for what the
     * server sent: that is the reason, not what it did to the stream on
     * the way out (a reply that had its grpc-status is judged by it). */
    bool over = h->closed || eof || !nghttp2_session_want_read(h->h2);
    if (h->h2err[0] && over && h->grpc_status == -1) {
        probe_fail(h->pr, HEALTH_FAIL_PROTOCOL, "grpc: http/2: %s", h->h2err);
        return true;
    }
    if (h->closed) {
        probe_grpc_judge(h);
        return true;
    }
    if (!eof)
        return false;
    probe_fail(h->pr, HEALTH_FAIL_RESET, "grpc: connection closed by peer %s",
               h->http_status ? "in the reply" : "before the reply");
    return true;
}

/* ---- I/O ------------------------------------------------------------------ */

/* Waits for what; false when it cannot (the probe then failed). */
static bool probe_grpc_wait(struct probe_grpc *h, short what)
{
    if (event_add(what == EV_READ ? h->rd : h->wr, NULL) == 0)
        return true;
    probe_fail_local(h->pr, "cannot start probe: cannot watch socket");
    return false;
}

/* An SSL call that moved nothing: wait, end of stream, or a failure. */
static enum probe_grpc_io probe_grpc_tls_wait(struct probe_grpc *h, int r, const char *what)
{
    int e = SSL_get_error(h->ssl, r);
    char why[PROBE_REASON_LEN];
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return probe_grpc_wait(h, e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE) ? PG_AGAIN
                                                                                 : PG_FAIL;
    }
    if (e == SSL_ERROR_ZERO_RETURN && strcmp(what, "read") == 0) {
        ERR_clear_error();
        return PG_EOF;
    }
    enum health_fail_kind kind = probe_tls_reason(h->ssl, r, what, why, sizeof(why));
    probe_fail(h->pr, kind, "%s", why);
    return PG_FAIL;
}

/* A send or recv that failed with err. */
static enum probe_grpc_io probe_grpc_sock_wait(struct probe_grpc *h, int err, short what)
{
    char why[96];
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)
        return probe_grpc_wait(h, what) ? PG_AGAIN : PG_FAIL;
    enum health_fail_kind kind = probe_errno_reason(err, why, sizeof(why));
    probe_fail(h->pr, kind, "%s", why);
    return PG_FAIL;
}

/* Takes what nghttp2 has to send when the last of it is written. */
static enum probe_grpc_io probe_grpc_fill(struct probe_grpc *h)
{
    const uint8_t *d;
    probe_grpc_ssize n = probe_grpc_mem_send(h->h2, &d);
    if (n < 0) {
        probe_fail(h->pr, HEALTH_FAIL_PROTOCOL, "grpc: http/2: %s", nghttp2_strerror((int)n));
        return PG_FAIL;
    }
    if (n == 0)
        return PG_DONE;
    if ((size_t)n > h->out_cap) {
        free(h->out);
        h->out = malloc((size_t)n);
        if (!h->out)
            abort();
        h->out_cap = (size_t)n;
    }
    memcpy(h->out, d, (size_t)n);
    h->out_len = (size_t)n;
    h->out_off = 0;
    return PG_AGAIN;
}

/* Writes until nghttp2 has nothing more (PG_DONE) or the socket is full
 * (PG_AGAIN, waiting). */
static enum probe_grpc_io probe_grpc_write(struct probe_grpc *h)
{
    for (;;) {
        if (h->out_off == h->out_len) {
            enum probe_grpc_io io = probe_grpc_fill(h);
            if (io != PG_AGAIN)
                return io;
        }
        const uint8_t *p = h->out + h->out_off;
        size_t n = h->out_len - h->out_off;
        if (h->ssl) {
            ERR_clear_error();
            int r = SSL_write(h->ssl, p, (int)n);
            if (r <= 0)
                return probe_grpc_tls_wait(h, r, "write");
            h->out_off += (size_t)r;
        } else {
            ssize_t r = send(h->fd, p, n, MSG_NOSIGNAL);
            if (r < 0)
                return probe_grpc_sock_wait(h, errno, EV_WRITE);
            h->out_off += (size_t)r;
        }
    }
}

/* Reads once and gives it to nghttp2. */
static enum probe_grpc_io probe_grpc_read(struct probe_grpc *h)
{
    uint8_t buf[4096];
    size_t room = PROBE_MAX_READ - h->nread, got;
    if (room == 0) {
        probe_fail(h->pr, HEALTH_FAIL_PROTOCOL, "grpc: more than %d octets without a verdict",
                   PROBE_MAX_READ);
        return PG_FAIL;
    }
    if (room > sizeof(buf))
        room = sizeof(buf);
    if (h->ssl) {
        ERR_clear_error();
        int r = SSL_read(h->ssl, buf, (int)room);
        if (r <= 0)
            return probe_grpc_tls_wait(h, r, "read");
        got = (size_t)r;
    } else {
        ssize_t r = recv(h->fd, buf, room, 0);
        if (r == 0)
            return PG_EOF;
        if (r < 0)
            return probe_grpc_sock_wait(h, errno, EV_READ);
        got = (size_t)r;
    }
    h->nread += got;
    probe_grpc_ssize rv = probe_grpc_mem_recv(h->h2, buf, got);
    if (rv < 0) {
        probe_fail(h->pr, HEALTH_FAIL_PROTOCOL, "grpc: http/2: %s", nghttp2_strerror((int)rv));
        return PG_FAIL;
    }
    return PG_DONE;
}

/* Writes and reads as far as the socket allows, until a verdict. Each
 * round reads something, and reads are bounded: it ends. h may be freed
 * on return. */
static void probe_grpc_pump(struct probe_grpc *h)
{
    for (;;) {
        if (probe_grpc_write(h) == PG_FAIL)
            return;
        enum probe_grpc_io io = probe_grpc_read(h);
        if (io == PG_FAIL || probe_grpc_decide(h, io == PG_EOF) || io == PG_AGAIN)
            return;
    }
}

/* ---- the session ----------------------------------------------------------- */

/* ":authority": the name (the check's host, else the endpoint's check
 * host name) or the address literal, always with the port. */
static void probe_grpc_authority(const struct probe *pr, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "";
    const void *a;
    uint16_t port;
    if (pr->addr.ss_family == AF_INET) {
        a = &((const struct sockaddr_in *)&pr->addr)->sin_addr;
        port = ntohs(((const struct sockaddr_in *)&pr->addr)->sin_port);
    } else {
        a = &((const struct sockaddr_in6 *)&pr->addr)->sin6_addr;
        port = ntohs(((const struct sockaddr_in6 *)&pr->addr)->sin6_port);
    }
    inet_ntop(pr->addr.ss_family, a, ip, sizeof(ip));
    const char *h = pr->name[0] ? pr->name : ip;
    bool v6 = strchr(h, ':') != NULL && h[0] != '[';
    snprintf(out, len, "%s%s%s:%u", v6 ? "[" : "", h, v6 ? "]" : "", (unsigned)port);
}

#define PROBE_GRPC_NV(n, v)                                                                        \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE             \
    }

/* Submits the client's SETTINGS and the Check call. 0, or an nghttp2
 * error. */
static int probe_grpc_submit_call(struct probe_grpc *h)
{
    const struct probe *pr = h->pr;
    char authority[300], timeout[24];
    probe_grpc_authority(pr, authority, sizeof(authority));
    /* The server may give up when we do (the gRPC deadline). */
    snprintf(timeout, sizeof(timeout), "%um", (unsigned)pr->spec->timeout_ms);
    nghttp2_nv nva[] = {
        PROBE_GRPC_NV(":method", "POST"),
        PROBE_GRPC_NV(":scheme", pr->spec->grpc_tls ? "https" : "http"),
        PROBE_GRPC_NV(":path", PROBE_GRPC_PATH),
        PROBE_GRPC_NV(":authority", authority),
        PROBE_GRPC_NV("content-type", "application/grpc"),
        PROBE_GRPC_NV("te", "trailers"),
        PROBE_GRPC_NV("grpc-timeout", timeout),
        PROBE_GRPC_NV("user-agent", "gtmd-probe"),
    };
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
    int rv = nghttp2_submit_settings(h->h2, NGHTTP2_FLAG_NONE, iv, 1);
    if (rv != 0)
        return rv;
    h->req_len = probe_grpc_request(pr->spec->grpc_service, h->req, sizeof(h->req));
    probe_grpc_provider body = {.source = {.ptr = h}, .read_callback = probe_grpc_body};
    int32_t id = probe_grpc_submit(h->h2, NULL, nva, sizeof(nva) / sizeof(nva[0]), &body, h);
    if (id < 0)
        return id;
    h->stream = id;
    return 0;
}

/* The connection (and TLS) is up: HTTP/2 from here. */
static void probe_grpc_h2(struct probe_grpc *h)
{
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        abort();
    nghttp2_session_callbacks_set_on_header_callback(cb, probe_grpc_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, probe_grpc_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, probe_grpc_on_close);
    nghttp2_session_callbacks_set_error_callback2(cb, probe_grpc_on_error);
    int rv = nghttp2_session_client_new(&h->h2, cb, h);
    nghttp2_session_callbacks_del(cb);
    if (rv == 0)
        rv = probe_grpc_submit_call(h);
    if (rv != 0) {
        probe_fail_local(h->pr, "cannot start probe: http/2: %s", nghttp2_strerror(rv));
        return;
    }
    h->phase = PG_H2;
    probe_grpc_pump(h);
}

/* The TLS handshake, then the server's ALPN choice and the certificate's
 * expiry. */
static void probe_grpc_handshake(struct probe_grpc *h)
{
    ERR_clear_error();
    int r = SSL_connect(h->ssl);
    if (r != 1) {
        probe_grpc_tls_wait(h, r, "handshake");
        return;
    }
    const unsigned char *alpn;
    unsigned alen;
    SSL_get0_alpn_selected(h->ssl, &alpn, &alen);
    /* None chosen: the server may still speak h2 (the preface tells). */
    if (alen && !(alen == 2 && memcmp(alpn, "h2", 2) == 0)) {
        probe_fail(h->pr, HEALTH_FAIL_TLS, "tls: the server chose ALPN \"%.*s\", not h2",
                   (int)(alen > 32 ? 32 : alen), (const char *)alpn);
        return;
    }
    if (!probe_cert_check(h->pr, h->ssl))
        return;
    probe_mark_rtt(h->pr);
    probe_grpc_h2(h);
}

static void probe_grpc_connected(struct probe_grpc *h)
{
    struct probe *pr = h->pr;
    char why[128];
    int e = probe_tcp_connect_result(h->fd);
    if (e != 0) {
        enum health_fail_kind kind = probe_errno_reason(e, why, sizeof(why));
        probe_fail(pr, kind, "%s", why);
        return;
    }
    if (!pr->spec->grpc_tls) {
        probe_grpc_h2(h);
        return;
    }
    h->ssl = probe_tls_new(pr, h->fd, why, sizeof(why));
    if (!h->ssl) {
        probe_fail(pr, HEALTH_FAIL_TLS, "%s", why);
        return;
    }
    static const unsigned char h2[] = "\x02h2";
    if (SSL_set_alpn_protos(h->ssl, h2, sizeof(h2) - 1) != 0) {
        ERR_clear_error();
        probe_fail(pr, HEALTH_FAIL_TLS, "tls: cannot offer ALPN h2");
        return;
    }
    h->phase = PG_TLS;
    probe_grpc_handshake(h);
}

static void probe_grpc_on_io(evutil_socket_t fd, short what, void *arg)
{
    struct probe_grpc *h = arg;
    if (h->phase == PG_CONNECT)
        probe_grpc_connected(h);
    else if (h->phase == PG_TLS)
        probe_grpc_handshake(h);
    else
        probe_grpc_pump(h);
}

int probe_grpc_start(struct probe *pr)
{
    int rc;
    int fd = probe_tcp_open(pr, &rc);
    if (fd < 0)
        return rc;
    struct probe_grpc *h = calloc(1, sizeof(*h));
    if (!h)
        abort();
    h->pr = pr;
    h->fd = fd;
    h->phase = PG_CONNECT;
    h->grpc_status = -1;
    pr->impl = h;
    pr->ops = &probe_grpc_ops;
    h->rd = event_new(pr->p->base, fd, EV_READ, probe_grpc_on_io, h);
    h->wr = event_new(pr->p->base, fd, EV_WRITE, probe_grpc_on_io, h);
    if (!h->rd || !h->wr) {
        probe_fail_local(pr, "cannot start probe: cannot watch socket");
        return -1;
    }
    probe_grpc_wait(h, EV_WRITE);
    return pr->finished ? -1 : 0;
}
