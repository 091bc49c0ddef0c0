/*
 * ctl_http.h -- the small blocking HTTP/1.1 client of gtmctl(8).
 *
 * One request per connection (Connection: close), over TCP
 * ("http://HOST:PORT") or a unix socket ("unix:/path"). Bounded by a
 * timeout on connect, send and every read.
 *
 * Ownership: ctl_http_request fills a response whose body the caller
 * frees (ctl_http_free).
 */
#ifndef GTM_CTL_CTL_HTTP_H
#define GTM_CTL_CTL_HTTP_H

#include <stddef.h>

struct ctl_http_response {
    int status; /* HTTP status, or 0 when no response was read */
    char *body; /* NUL-terminated */
    size_t len;
    char error[256]; /* why the request failed (status 0) */
};

/* token may be NULL; body may be NULL (no body). Returns 0 when a response
 * was read (any status), -1 on a transport failure (error filled). */
int ctl_http_request(const char *server, const char *method, const char *path, const char *token,
                     const char *body, double timeout_s, struct ctl_http_response *out);
void ctl_http_free(struct ctl_http_response *r);

/* A GET whose body is a stream (GET /v1/events): sends HTTP/1.0 (so the
 * body is not chunked) with the extra header line 'header' (may be NULL;
 * "Name: value"), then calls on_data with every piece of a 200 body as it
 * arrives, until the peer closes, idle_s pass without a byte, or on_data
 * returns non-zero. A status other than 200 fills out (status and the
 * whole body) and returns 0 without calling on_data. Returns 0, or -1 on
 * a transport failure before the status line (error filled). The body
 * pieces are borrowed for the call. */
int ctl_http_stream(const char *server, const char *path, const char *token, const char *header,
                    double timeout_s, double idle_s,
                    int (*on_data)(void *arg, const char *data, size_t len), void *arg,
                    struct ctl_http_response *out);

#endif
