/*
 * probe_http.c -- the http and https probes: one request, one judged reply.
 *
 * Raw non-blocking socket (plus an SSL object for https) driven by one
 * read and one write event; the overall deadline lives in probe.c. The
 * connection is closed as soon as the verdict is known: a bad or
 * unexpected status fails at the status line, an expected status without
 * body_contains passes at the status line, and body_contains passes as
 * soon as the text shows up (a check with "load" reads a passing reply to
 * its end, for the figure: probe_load.h). We read at most PROBE_MAX_READ octets in all
 * (status line, header and body); past that the verdict is final.
 *
 * body_contains is searched in the raw octets after the header, without
 * decoding chunked transfer coding (chunk-size lines are just extra text
 * to us; a needle split by a chunk boundary is not found). Responses are
 * never decompressed: we send no Accept-Encoding. Redirects are not
 * followed; a 3xx is judged by expect_status like any other status.
 */
#include "health/probe_int.h"
#include "health/probe_judge.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROBE_HTTP_MAX_STATUS_LINE 1024

enum probe_http_phase { PH_CONNECT, PH_TLS, PH_SEND, PH_RECV };

struct probe_http {
    struct probe *pr;
    int fd;
    struct event *rd, *wr; /* one-shot, re-added while waiting */
    SSL *ssl;              /* https only */
    enum probe_http_phase phase;
    char *req; /* request text, owned */
    size_t req_len, req_off;
    char *buf; /* PROBE_MAX_READ octets, owned; allocated for PH_RECV */
    size_t len;
    struct probe_http_reply reply; /* the judge's progress in buf */
};

static void probe_http_stop(struct probe *pr)
{
    struct probe_http *h = pr->impl;
    if (!h)
        return;
    if (h->rd)
        event_free(h->rd);
    if (h->wr)
        event_free(h->wr);
    /* No close_notify: the probe is over and the peer learns from the FIN. */
    SSL_free(h->ssl);
    if (h->fd >= 0)
        probe_tcp_abort(h->fd);
    free(h->req);
    free(h->buf);
    free(h);
    pr->impl = NULL;
}

static const char *probe_http_phase(const struct probe *pr)
{
    const struct probe_http *h = pr->impl;
    if (!h)
        return NULL;
    switch (h->phase) {
    case PH_CONNECT:
        return "connecting";
    case PH_TLS:
        return "in tls handshake";
    case PH_SEND:
        return "sending request";
    case PH_RECV:
        break;
    }
    if (h->reply.status == 0)
        return "waiting for status line";
    return h->reply.body ? "reading body" : "reading header";
}

static const struct probe_ops probe_http_ops = {probe_http_stop, probe_http_phase};

/* ---- request ------------------------------------------------------------ */

static bool probe_http_has_header(const struct probe_spec *s, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < s->n_headers; i++)
        if (strncasecmp(s->headers[i], name, n) == 0 && s->headers[i][n] == ':')
            return true;
    return false;
}

/* Host header value: name or address literal, ":port" when not default. */
static void probe_http_host(const struct probe *pr, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "";
    uint16_t port;
    if (pr->addr.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&pr->addr;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        port = ntohs(a->sin_port);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&pr->addr;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
    }
    const char *h = pr->name[0] ? pr->name : ip;
    /* IPv6 literals (our address, or a "host" like "2001:db8::1") need
     * brackets in Host; names never contain ':'. */
    bool v6 = strchr(h, ':') != NULL && h[0] != '[';
    uint16_t def = pr->spec->type == PROBE_HTTPS ? 443 : 80;
    if (port == def)
        snprintf(out, len, "%s%s%s", v6 ? "[" : "", h, v6 ? "]" : "");
    else
        snprintf(out, len, "%s%s%s:%u", v6 ? "[" : "", h, v6 ? "]" : "", (unsigned)port);
}

/* Builds the request; the parser already rejected CR/LF in every piece. */
static void probe_http_request(struct probe_http *h)
{
    const struct probe_spec *s = h->pr->spec;
    char host[300];
    FILE *f = open_memstream(&h->req, &h->req_len);
    if (!f)
        abort();
    probe_http_host(h->pr, host, sizeof(host));
    fprintf(f, "%s %s HTTP/1.1\r\nHost: %s\r\n", s->method ? s->method : "GET",
            s->path ? s->path : "/", host);
    if (!probe_http_has_header(s, "User-Agent"))
        fputs("User-Agent: gtmd-probe\r\n", f);
    fputs("Connection: close\r\n", f);
    for (size_t i = 0; i < s->n_headers; i++)
        fprintf(f, "%s\r\n", s->headers[i]);
    fputs("\r\n", f);
    if (fclose(f) != 0)
        abort();
}

/* ---- judging the reply ------------------------------------------------- */

/*
 * Checks the status line in buf[0..len): "HTTP/1.x DDD[ reason]" CRLF (a
 * bare LF is tolerated). Returns the status, 0 when more octets are needed
 * and -1 for anything else, as early as the first wrong octet.
 */
static int probe_http_status_line(const char *buf, size_t len)
{
    static const char pat[] = "HTTP/1.dsddd"; /* d digit, s space */
    size_t i;
    for (i = 0; i < len && i < sizeof(pat) - 1; i++) {
        char c = buf[i], p = pat[i];
        bool ok = p == 'd' ? (c >= '0' && c <= '9') : p == 's' ? c == ' ' : c == p;
        if (!ok)
            return -1;
    }
    if (len > 7 && buf[7] != '0' && buf[7] != '1')
        return -1;
    if (len > 9 && (buf[9] < '1' || buf[9] > '5'))
        return -1;
    for (; i < len && i < PROBE_HTTP_MAX_STATUS_LINE; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n' || (c == '\r' && i + 1 < len && buf[i + 1] == '\n'))
            break;
        if (i == sizeof(pat) - 1 && c != ' ' && c != '\r')
            return -1;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return c == '\r' && i + 1 == len ? 0 : -1;
    }
    if (i >= PROBE_HTTP_MAX_STATUS_LINE)
        return -1;
    if (i == len || i < sizeof(pat) - 1)
        return 0;
    return (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
}

static bool probe_http_status_ok(const struct probe_spec *s, int status)
{
    if (s->n_status == 0)
        return status >= 200 && status <= 299;
    for (size_t i = 0; i < s->n_status; i++)
        if (status >= s->status[i].lo && status <= s->status[i].hi)
            return true;
    return false;
}

/* Offset just past the header's empty line, or 0 (resumes at hdr_scan). */
static size_t probe_http_header_end(struct probe_http_reply *r, const char *buf, size_t len)
{
    for (size_t i = r->hdr_scan; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
    }
    r->hdr_scan = len > 2 ? len - 2 : 0;
    return 0;
}

static enum probe_verdict probe_http_judge_body(const struct probe_spec *spec,
                                                struct probe_http_reply *r, const char *buf,
                                                size_t len, enum probe_http_end end,
                                                struct probe_judgement *j)
{
    const char *needle = spec->body_contains;
    size_t nl = strlen(needle);

    if (r->body == 0) {
        size_t b = probe_http_header_end(r, buf, len);
        if (b == 0 && end == PROBE_HTTP_MORE)
            return j->verdict = PROBE_PENDING;
        if (b == 0) {
            /* A peer that hangs up mid-header dropped the connection; one
             * whose header never ends does not speak HTTP as we read it. */
            if (end == PROBE_HTTP_EOF)
                return probe_judge_fail(j, HEALTH_FAIL_RESET, "connection closed in header");
            return probe_judge_fail(j, HEALTH_FAIL_PROTOCOL, "header longer than the read limit");
        }
        r->body = r->searched = b;
    }
    /* Resume nl-1 octets back so a needle split across reads is found. */
    size_t from = r->searched - r->body >= nl ? r->searched - (nl - 1) : r->body;
    if (memmem(buf + from, len - from, needle, nl))
        return j->verdict = PROBE_PASS;
    r->searched = len;
    if (end == PROBE_HTTP_MORE)
        return j->verdict = PROBE_PENDING;
    if (end == PROBE_HTTP_EOF)
        return probe_judge_fail(j, HEALTH_FAIL_STATUS, "body does not contain \"%.40s\"", needle);
    return probe_judge_fail(j, HEALTH_FAIL_STATUS,
                            "body does not contain \"%.40s\" in the first %d octets", needle,
                            PROBE_MAX_READ);
}

/* A passing reply of a check with "load": read to its end (the probe
 * asks Connection: close) or the read limit, then its figure. */
static enum probe_verdict probe_http_judge_load(const struct probe_spec *spec,
                                                struct probe_http_reply *r, const char *buf,
                                                size_t len, enum probe_http_end end,
                                                struct probe_judgement *j)
{
    if (r->body == 0) {
        size_t b = probe_http_header_end(r, buf, len);
        if (b == 0 && end == PROBE_HTTP_MORE)
            return j->verdict = PROBE_PENDING;
        if (b == 0)
            return j->verdict = PROBE_PASS; /* the status passed; no figure */
        r->body = r->searched = b;
    }
    if (end == PROBE_HTTP_MORE)
        return j->verdict = PROBE_PENDING;
    j->load = probe_load_read(&spec->load, buf + r->body, len - r->body);
    return j->verdict = PROBE_PASS;
}

enum probe_verdict probe_http_judge_reply(const struct probe_spec *spec, struct probe_http_reply *r,
                                          const char *buf, size_t len, enum probe_http_end end,
                                          struct probe_judgement *j)
{
    j->load = NAN;
    if (r->body_passed)
        return probe_http_judge_load(spec, r, buf, len, end, j);
    if (r->status == 0) {
        int st = probe_http_status_line(buf, len);
        if (st == 0 && end == PROBE_HTTP_MORE)
            return j->verdict = PROBE_PENDING;
        if (st == 0 && end == PROBE_HTTP_EOF && len == 0)
            return probe_judge_fail(j, HEALTH_FAIL_RESET, "connection closed without response");
        if (st <= 0)
            return probe_judge_fail(j, HEALTH_FAIL_PROTOCOL, "bad status line");
        r->status = st;
        if (!probe_http_status_ok(spec, st))
            return probe_judge_fail(j, HEALTH_FAIL_STATUS, "status %d", st);
        if (!spec->body_contains) {
            r->body_passed = true;
            return spec->load.kind ? probe_http_judge_load(spec, r, buf, len, end, j)
                                   : (j->verdict = PROBE_PASS);
        }
    }
    if (probe_http_judge_body(spec, r, buf, len, end, j) != PROBE_PASS)
        return j->verdict;
    r->body_passed = true;
    return spec->load.kind ? probe_http_judge_load(spec, r, buf, len, end, j) : PROBE_PASS;
}

/* Returns true once the verdict is in (h is then freed). */
static bool probe_http_judge(struct probe_http *h, enum probe_http_end end)
{
    struct probe *pr = h->pr;
    struct probe_judgement j;
    if (probe_http_judge_reply(pr->spec, &h->reply, h->buf, h->len, end, &j) == PROBE_PENDING)
        return false;
    probe_judged(pr, &j);
    return true;
}

/* ---- I/O ------------------------------------------------------------------ */

enum probe_http_io { IO_DONE, IO_AGAIN, IO_EOF, IO_FAIL };

static void probe_http_wait(struct probe_http *h, short what)
{
    if (event_add(what == EV_READ ? h->rd : h->wr, NULL) != 0)
        probe_fail_local(h->pr, "cannot start probe: cannot watch socket");
}

/* Maps an SSL result that moved no data; fails the probe on errors. */
static enum probe_http_io probe_http_tls_wait(struct probe_http *h, int r, const char *what)
{
    int e = SSL_get_error(h->ssl, r);
    char why[128];
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        probe_http_wait(h, e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE);
        return IO_AGAIN;
    }
    if (e == SSL_ERROR_ZERO_RETURN && strcmp(what, "read") == 0) {
        ERR_clear_error();
        return IO_EOF;
    }
    enum health_fail_kind kind = probe_tls_reason(h->ssl, r, what, why, sizeof(why));
    probe_fail(h->pr, kind, "%s", why);
    return IO_FAIL;
}

/* Plain socket: maps a failed send/recv. */
static enum probe_http_io probe_http_sock_wait(struct probe_http *h, int err, short what)
{
    char why[96];
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) {
        probe_http_wait(h, what);
        return IO_AGAIN;
    }
    enum health_fail_kind kind = probe_errno_reason(err, why, sizeof(why));
    probe_fail(h->pr, kind, "%s", why);
    return IO_FAIL;
}

static enum probe_http_io probe_http_handshake(struct probe_http *h)
{
    ERR_clear_error();
    int r = SSL_connect(h->ssl);
    if (r == 1)
        return IO_DONE;
    return probe_http_tls_wait(h, r, "handshake");
}

static enum probe_http_io probe_http_send(struct probe_http *h)
{
    while (h->req_off < h->req_len) {
        const char *p = h->req + h->req_off;
        size_t n = h->req_len - h->req_off;
        if (h->ssl) {
            ERR_clear_error();
            int r = SSL_write(h->ssl, p, (int)n);
            if (r <= 0)
                return probe_http_tls_wait(h, r, "write");
            h->req_off += (size_t)r;
        } else {
            ssize_t r = send(h->fd, p, n, MSG_NOSIGNAL);
            if (r < 0)
                return probe_http_sock_wait(h, errno, EV_WRITE);
            h->req_off += (size_t)r;
        }
    }
    return IO_DONE;
}

/* Reads once into the buffer's free room; *got is the octet count. */
static enum probe_http_io probe_http_read(struct probe_http *h, size_t *got)
{
    size_t room = PROBE_MAX_READ - h->len;
    *got = 0;
    if (h->ssl) {
        ERR_clear_error();
        int r = SSL_read(h->ssl, h->buf + h->len, (int)room);
        if (r <= 0)
            return probe_http_tls_wait(h, r, "read");
        *got = (size_t)r;
        return IO_DONE;
    }
    ssize_t r = recv(h->fd, h->buf + h->len, room, 0);
    if (r == 0)
        return IO_EOF;
    if (r < 0)
        return probe_http_sock_wait(h, errno, EV_READ);
    *got = (size_t)r;
    return IO_DONE;
}

/* Reads and judges until a verdict or until the socket runs dry. */
static void probe_http_recv(struct probe_http *h)
{
    for (;;) {
        if (h->len == PROBE_MAX_READ) {
            probe_http_judge(h, PROBE_HTTP_LIMIT);
            return;
        }
        size_t got;
        enum probe_http_io io = probe_http_read(h, &got);
        if (io == IO_AGAIN || io == IO_FAIL)
            return;
        if (io == IO_EOF) {
            probe_http_judge(h, PROBE_HTTP_EOF);
            return;
        }
        h->len += got;
        if (got)
            probe_mark_rtt(h->pr); /* http: the reply's first octet (https: marked already) */
        if (probe_http_judge(h, PROBE_HTTP_MORE))
            return;
    }
}

/* Runs the phases as far as the socket allows. h may be freed on return. */
static void probe_http_step(struct probe_http *h)
{
    if (h->phase == PH_TLS) {
        if (probe_http_handshake(h) != IO_DONE)
            return;
        if (!probe_cert_check(h->pr, h->ssl))
            return;            /* cert_min_days not left: h is freed */
        probe_mark_rtt(h->pr); /* https: the handshake is the round trip */
        h->phase = PH_SEND;
    }
    if (h->phase == PH_SEND) {
        if (probe_http_send(h) != IO_DONE)
            return;
        h->phase = PH_RECV;
        h->buf = malloc(PROBE_MAX_READ);
        if (!h->buf)
            abort();
    }
    probe_http_recv(h);
}

static void probe_http_connected(struct probe_http *h)
{
    struct probe *pr = h->pr;
    char why[128];
    int e = probe_tcp_connect_result(h->fd);
    if (e != 0) {
        enum health_fail_kind kind = probe_errno_reason(e, why, sizeof(why));
        probe_fail(pr, kind, "%s", why);
        return;
    }
    h->phase = PH_SEND;
    if (pr->spec->type == PROBE_HTTPS) {
        h->ssl = probe_tls_new(pr, h->fd, why, sizeof(why));
        if (!h->ssl) {
            probe_fail(pr, HEALTH_FAIL_TLS, "%s", why);
            return;
        }
        h->phase = PH_TLS;
    }
    probe_http_step(h);
}

static void probe_http_on_io(evutil_socket_t fd, short what, void *arg)
{
    struct probe_http *h = arg;
    if (h->phase == PH_CONNECT)
        probe_http_connected(h);
    else
        probe_http_step(h);
}

int probe_http_start(struct probe *pr)
{
    int rc;
    int fd = probe_tcp_open(pr, &rc);
    if (fd < 0)
        return rc;
    struct probe_http *h = calloc(1, sizeof(*h));
    if (!h)
        abort();
    h->pr = pr;
    h->fd = fd;
    h->phase = PH_CONNECT;
    pr->impl = h;
    pr->ops = &probe_http_ops;
    probe_http_request(h);
    h->rd = event_new(pr->p->base, fd, EV_READ, probe_http_on_io, h);
    h->wr = event_new(pr->p->base, fd, EV_WRITE, probe_http_on_io, h);
    if (!h->rd || !h->wr) {
        probe_fail_local(pr, "cannot start probe: cannot watch socket");
        return -1;
    }
    probe_http_wait(h, EV_WRITE);
    return pr->finished ? -1 : 0;
}
