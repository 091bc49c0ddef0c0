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

#endif
