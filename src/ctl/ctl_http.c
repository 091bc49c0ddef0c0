/*
 * ctl_http.c -- the small blocking HTTP/1.1 client of gtmctl(8).
 */
#include "ctl/ctl_http.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CTL_MAX_RESPONSE (64 * 1024 * 1024)

/* Waits until fd is ready for events, within timeout_s; false on timeout. */
static bool ctl_wait(int fd, short events, double timeout_s)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r;
    do
        r = poll(&p, 1, (int)(timeout_s * 1000));
    while (r < 0 && errno == EINTR);
    return r > 0;
}

static int ctl_connect_unix(const char *path, struct ctl_http_response *out)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(out->error, sizeof(out->error), "unix socket path too long");
        return -1;
    }
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        snprintf(out->error, sizeof(out->error), "cannot connect to unix:%s: %s", path,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* server: "http://host:port" (path part ignored) or "host:port". */
static int ctl_connect_tcp(const char *server, double timeout_s, char *host, size_t hostlen,
                           struct ctl_http_response *out)
{
    const char *s = strncmp(server, "http://", 7) == 0 ? server + 7 : server;
    char hostport[512], port[16] = "8053";
    snprintf(hostport, sizeof(hostport), "%s", s);
    char *slash = strchr(hostport, '/');
    if (slash)
        *slash = '\0';
    char *h = hostport, *colon;
    if (h[0] == '[') {
        char *e = strchr(h, ']');
        if (!e) {
            snprintf(out->error, sizeof(out->error), "bad server address %s", server);
            return -1;
        }
        *e = '\0';
        h++;
        colon = e[1] == ':' ? e + 1 : NULL;
    } else
        colon = strrchr(h, ':');
    if (colon) {
        *colon = '\0';
        snprintf(port, sizeof(port), "%s", colon + 1);
    }
    snprintf(host, hostlen, "%s", h);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int g = getaddrinfo(h, port, &hints, &ai);
    if (g != 0) {
        snprintf(out->error, sizeof(out->error), "cannot resolve %s: %s", h, gai_strerror(g));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int rc = fd < 0 ? -1 : connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc != 0 && errno == EINPROGRESS && ctl_wait(fd, POLLOUT, timeout_s)) {
        int err = 0;
        socklen_t el = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
        errno = err;
        rc = err ? -1 : 0;
    } else if (rc != 0 && errno == EINPROGRESS)
        errno = ETIMEDOUT;
    if (rc != 0) {
        snprintf(out->error, sizeof(out->error), "cannot connect to %s:%s: %s", h, port,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static bool ctl_send_all(int fd, const char *data, size_t len, double timeout_s)
{
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EINTR) && ctl_wait(fd, POLLOUT, timeout_s))
            continue;
        return false;
    }
    return true;
}

/* Reads until the peer closes (we asked for Connection: close). */
static char *ctl_read_all(int fd, double timeout_s, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap >= CTL_MAX_RESPONSE)
                break;
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb)
                break;
            buf = nb;
        }
        ssize_t r = recv(fd, buf + n, cap - n, 0);
        if (r > 0) {
            n += (size_t)r;
            continue;
        }
        if (r == 0)
            break;
        if ((errno == EAGAIN || errno == EINTR) && ctl_wait(fd, POLLIN, timeout_s))
            continue;
        break;
    }
    if (buf)
        buf[n] = '\0';
    *len = n;
    return buf;
}

int ctl_http_request(const char *server, const char *method, const char *path, const char *token,
                     const char *body, double timeout_s, struct ctl_http_response *out)
{
    char host[256] = "localhost";
    memset(out, 0, sizeof(*out));
    int fd = strncmp(server, "unix:", 5) == 0
                 ? ctl_connect_unix(server + 5, out)
                 : ctl_connect_tcp(server, timeout_s, host, sizeof(host), out);
    if (fd < 0)
        return -1;
    size_t blen = body ? strlen(body) : 0;
    size_t cap = 1024 + strlen(path) + (token ? strlen(token) : 0) + blen;
    char *req = malloc(cap);
    int n = snprintf(req, cap,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gtmctl\r\nConnection: close\r\n"
                     "%s%s%sContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     method, path, host, token ? "Authorization: Bearer " : "", token ? token : "",
                     token ? "\r\n" : "", blen);
    if (blen)
        memcpy(req + n, body, blen);
    bool sent = ctl_send_all(fd, req, (size_t)n + blen, timeout_s);
    free(req);
    size_t len = 0;
    char *resp = sent ? ctl_read_all(fd, timeout_s, &len) : NULL;
    close(fd);
    int major, minor;
    char *hdr_end = resp ? strstr(resp, "\r\n\r\n") : NULL;
    if (!resp || !hdr_end || sscanf(resp, "HTTP/%d.%d %d", &major, &minor, &out->status) != 3) {
        snprintf(out->error, sizeof(out->error), "%s",
                 sent ? "no valid HTTP response from the server" : "cannot send the request");
        free(resp);
        out->status = 0;
        return -1;
    }
    out->len = len - (size_t)(hdr_end + 4 - resp);
    out->body = malloc(out->len + 1);
    memcpy(out->body, hdr_end + 4, out->len);
    out->body[out->len] = '\0';
    free(resp);
    return 0;
}

void ctl_http_free(struct ctl_http_response *r)
{
    free(r->body);
    r->body = NULL;
}

/* Reads the status line and headers into buf; returns the header length
 * (through the blank line) or 0. *got: bytes in buf (some body may follow). */
static size_t ctl_read_head(int fd, double timeout_s, char *buf, size_t cap, size_t *got)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r > 0) {
            n += (size_t)r;
            buf[n] = '\0';
            char *e = strstr(buf, "\r\n\r\n");
            if (e) {
                *got = n;
                return (size_t)(e + 4 - buf);
            }
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR) && ctl_wait(fd, POLLIN, timeout_s))
            continue;
        break;
    }
    *got = n;
    return 0;
}

int ctl_http_stream(const char *server, const char *path, const char *token, const char *header,
                    double timeout_s, double idle_s,
                    int (*on_data)(void *arg, const char *data, size_t len), void *arg,
                    struct ctl_http_response *out)
{
    char host[256] = "localhost", req[4096], head[16384];
    memset(out, 0, sizeof(*out));
    int fd = strncmp(server, "unix:", 5) == 0
                 ? ctl_connect_unix(server + 5, out)
                 : ctl_connect_tcp(server, timeout_s, host, sizeof(host), out);
    if (fd < 0)
        return -1;
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: gtmctl\r\n"
                     "Accept: text/event-stream\r\n%s%s%s%s%s\r\n",
                     path, host, token ? "Authorization: Bearer " : "", token ? token : "",
                     token ? "\r\n" : "", header ? header : "", header ? "\r\n" : "");
    size_t got = 0, hlen = 0;
    bool sent = n > 0 && (size_t)n < sizeof(req) && ctl_send_all(fd, req, (size_t)n, timeout_s);
    if (sent)
        hlen = ctl_read_head(fd, timeout_s, head, sizeof(head), &got);
    int major, minor;
    if (!hlen || sscanf(head, "HTTP/%d.%d %d", &major, &minor, &out->status) != 3) {
        snprintf(out->error, sizeof(out->error), "%s",
                 sent ? "no valid HTTP response from the server" : "cannot send the request");
        out->status = 0;
        close(fd);
        return -1;
    }
    if (out->status != 200) {
        size_t len = 0;
        char *rest = ctl_read_all(fd, timeout_s, &len);
        out->len = got - hlen + len;
        out->body = malloc(out->len + 1);
        if (out->body) {
            memcpy(out->body, head + hlen, got - hlen);
            if (rest)
                memcpy(out->body + got - hlen, rest, len);
            out->body[out->len] = '\0';
        }
        free(rest);
        close(fd);
        return 0;
    }
    int stop = got > hlen ? on_data(arg, head + hlen, got - hlen) : 0;
    char buf[65536];
    while (!stop) {
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r > 0)
            stop = on_data(arg, buf, (size_t)r);
        else if (r < 0 && (errno == EAGAIN || errno == EINTR) && ctl_wait(fd, POLLIN, idle_s))
            continue;
        else
            break;
    }
    close(fd);
    return 0;
}
