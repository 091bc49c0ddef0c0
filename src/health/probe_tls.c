/*
 * probe_tls.c -- client TLS for the https probe: cached SSL_CTXs and the
 * per-connection settings (SNI, peer verification, host name check).
 *
 * Without ca_file the probe only checks that TLS and HTTP work (no
 * verification: health checks usually target addresses, not names). With
 * ca_file the peer must chain to that CA and match the name ("host", else
 * the endpoint's name, else its address).
 *
 * Ownership: the prober owns one cache (p->tls) holding one unverified
 * context and one context per CA file. A CA file is re-read when its
 * mtime, size or inode changes, so a renewed CA is picked up without a
 * restart. Each SSL holds its own reference to its context, so replacing
 * a context while handshakes are in flight is safe.
 */
#include "health/probe_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct probe_tls_ca {
    char *path;
    struct timespec mtime;
    off_t size;
    ino_t ino;
    SSL_CTX *ctx;
    struct probe_tls_ca *next;
};

struct probe_tls_cache {
    SSL_CTX *noverify;
    struct probe_tls_ca *cas;
};

static SSL_CTX *probe_tls_ctx_new(void)
{
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    if (!c)
        return NULL;
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* A server that closes without close_notify has still answered. */
    SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    return c;
}

static struct probe_tls_cache *probe_tls_cache_get(struct prober *p)
{
    if (!p->tls) {
        p->tls = calloc(1, sizeof(*p->tls));
        if (!p->tls)
            abort();
    }
    return p->tls;
}

static bool probe_tls_ca_same(const struct probe_tls_ca *ca, const struct stat *st)
{
    return ca->ctx && ca->mtime.tv_sec == st->st_mtim.tv_sec &&
           ca->mtime.tv_nsec == st->st_mtim.tv_nsec && ca->size == st->st_size &&
           ca->ino == st->st_ino;
}

/* The verifying context for path, (re)loaded when the file changed. */
static SSL_CTX *probe_tls_ca_ctx(struct probe_tls_cache *tc, const char *path, char *err,
                                 size_t errlen)
{
    struct stat st;
    char why[96];
    if (stat(path, &st) != 0) {
        probe_errno_reason(errno, why, sizeof(why));
        snprintf(err, errlen, "ca_file %s: %s", path, why);
        return NULL;
    }
    struct probe_tls_ca *ca = tc->cas;
    while (ca && strcmp(ca->path, path) != 0)
        ca = ca->next;
    if (ca && probe_tls_ca_same(ca, &st))
        return ca->ctx;
    SSL_CTX *c = probe_tls_ctx_new();
    if (!c || SSL_CTX_load_verify_locations(c, path, NULL) != 1) {
        ERR_clear_error();
        SSL_CTX_free(c);
        snprintf(err, errlen, "ca_file %s: no usable certificate", path);
        return NULL;
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    if (!ca) {
        ca = calloc(1, sizeof(*ca));
        if (!ca || !(ca->path = strdup(path)))
            abort();
        ca->next = tc->cas;
        tc->cas = ca;
    }
    SSL_CTX_free(ca->ctx);
    ca->ctx = c;
    ca->mtime = st.st_mtim;
    ca->size = st.st_size;
    ca->ino = st.st_ino;
    return c;
}

static bool probe_tls_is_ip(const char *s)
{
    unsigned char b[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* Peer checks for a verifying session: the name, or the address. */
static bool probe_tls_set_peer(struct probe *pr, SSL *ssl)
{
    if (pr->name[0] && !probe_tls_is_ip(pr->name)) {
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        return SSL_set1_host(ssl, pr->name) == 1;
    }
    char ip[INET6_ADDRSTRLEN];
    const char *t = pr->name;
    if (!t[0]) {
        const void *a = pr->addr.ss_family == AF_INET
                            ? (const void *)&((const struct sockaddr_in *)&pr->addr)->sin_addr
                            : (const void *)&((const struct sockaddr_in6 *)&pr->addr)->sin6_addr;
        t = inet_ntop(pr->addr.ss_family, a, ip, sizeof(ip));
    }
    return t && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), t) == 1;
}

SSL *probe_tls_new(struct probe *pr, int fd, char *err, size_t errlen)
{
    struct probe_tls_cache *tc = probe_tls_cache_get(pr->p);
    SSL_CTX *ctx;
    if (pr->spec->ca_file) {
        ctx = probe_tls_ca_ctx(tc, pr->spec->ca_file, err, errlen);
    } else {
        if (!tc->noverify)
            tc->noverify = probe_tls_ctx_new();
        ctx = tc->noverify;
        if (!ctx)
            snprintf(err, errlen, "tls: cannot create context");
    }
    if (!ctx)
        return NULL;
    SSL *ssl = SSL_new(ctx);
    bool ok = ssl && SSL_set_fd(ssl, fd) == 1;
    /* SNI only for names: RFC 6066 forbids IP literals there. */
    if (ok && pr->name[0] && !probe_tls_is_ip(pr->name))
        ok = SSL_set_tlsext_host_name(ssl, pr->name) == 1;
    if (ok && pr->spec->ca_file)
        ok = probe_tls_set_peer(pr, ssl);
    if (!ok) {
        ERR_clear_error();
        SSL_free(ssl);
        snprintf(err, errlen, "tls: cannot set up session");
        return NULL;
    }
    SSL_set_connect_state(ssl);
    return ssl;
}

enum health_fail_kind probe_tls_reason(SSL *ssl, int ret, const char *what, char *buf, size_t len)
{
    int saved = errno;
    int e = SSL_get_error(ssl, ret);
    unsigned long ee = ERR_peek_error();
    long vr = SSL_get_verify_result(ssl);
    enum health_fail_kind kind = HEALTH_FAIL_TLS;

    if ((SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) && vr != X509_V_OK) {
        snprintf(buf, len, "tls %s: certificate verify failed: %s", what,
                 X509_verify_cert_error_string(vr));
    } else if (e == SSL_ERROR_SYSCALL && ee == 0) {
        /* The connection under TLS failed: judged like a plain socket. */
        char why[96];
        if (ret == 0 || saved == 0) {
            snprintf(why, sizeof(why), "connection closed by peer");
            kind = HEALTH_FAIL_RESET;
        } else {
            kind = probe_errno_reason(saved, why, sizeof(why));
        }
        snprintf(buf, len, "tls %s: %s", what, why);
    } else if (e == SSL_ERROR_ZERO_RETURN) {
        snprintf(buf, len, "tls %s: closed by peer", what);
        kind = HEALTH_FAIL_RESET;
    } else if (ee != 0 && ERR_reason_error_string(ee)) {
        snprintf(buf, len, "tls %s: %s", what, ERR_reason_error_string(ee));
    } else {
        snprintf(buf, len, "tls %s: error %d", what, e);
    }
    ERR_clear_error();
    return kind;
}

void probe_tls_prober_free(struct prober *p)
{
    struct probe_tls_cache *tc = p->tls;
    if (!tc)
        return;
    while (tc->cas) {
        struct probe_tls_ca *ca = tc->cas;
        tc->cas = ca->next;
        SSL_CTX_free(ca->ctx);
        free(ca->path);
        free(ca);
    }
    SSL_CTX_free(tc->noverify);
    free(tc);
    p->tls = NULL;
}
