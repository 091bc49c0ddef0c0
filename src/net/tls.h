/*
 * tls.h -- DNS over TLS (RFC 7858): the server's TLS context and the
 * non-blocking TLS operations the TCP connections (tcp.c) run on their
 * own sockets, in the workers' event loops.
 *
 * A context (OpenSSL's SSL_CTX) holds the certificate, key and chain of
 * one load, the session cache and the session ticket keys; it is shared
 * by reference: the net module holds one, each TCP worker one for the
 * connections it accepts (net_tls_reload hands a new one over without a
 * lock). Every connection (SSL) holds a reference of its own, so a
 * connection accepted before a reload finishes on the old certificate.
 *
 * Ownership: tls_ctx_load's result belongs to the caller (SSL_CTX_free);
 * tls_conn_new's to its connection (tls_conn_free).
 */
#ifndef GTM_NET_TLS_H
#define GTM_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "net/tls_params.h"

struct ssl_ctx_st; /* SSL_CTX */
struct ssl_st;     /* SSL */

/* What a TLS operation came to. */
enum tls_io {
    TLS_IO_DONE,       /* data moved, or the handshake finished */
    TLS_IO_WANT_READ,  /* wait until the socket is readable, then call again */
    TLS_IO_WANT_WRITE, /* wait until the socket is writable, then call again */
    TLS_IO_CLOSED,     /* the peer closed (close_notify or EOF) */
    TLS_IO_FAILED,     /* a protocol or socket error: close the connection */
};

/*
 * A new context for p: TLS 1.2 and 1.3 (or 1.3 only), no renegotiation,
 * no compression, ALPN "dot" chosen when the client offers it, the session
 * cache and tickets as p says. The ticket keys of prev (NULL: new random
 * ones) are carried over, so that clients resume across a reload. NULL
 * with the reason, naming the file, in err when a file does not load or
 * the key does not match the certificate. info (may be NULL) gets
 * "subject=... serial=... not_after=..." of the certificate for the log.
 */
struct ssl_ctx_st *tls_ctx_load(const struct tls_params *p, struct ssl_ctx_st *prev, char *err,
                                size_t errlen, char *info, size_t infolen);

/* Takes one more reference to ctx (shared across threads); gives one
 * back (NULL: nothing). */
void tls_ctx_ref(struct ssl_ctx_st *ctx);
void tls_ctx_release(struct ssl_ctx_st *ctx);

/* A server-side connection on fd (non-blocking); NULL without memory. */
struct ssl_st *tls_conn_new(struct ssl_ctx_st *ctx, int fd);
/* Sends close_notify when clean (once, not waiting), then frees it. */
void tls_conn_free(struct ssl_st *ssl, bool clean);

/* One step of the handshake. On TLS_IO_FAILED, why gets the reason. */
enum tls_io tls_handshake(struct ssl_st *ssl, char *why, size_t whylen);
/* After the handshake: whether the session was resumed. */
bool tls_resumed(const struct ssl_st *ssl);

/* Reads up to len decrypted octets (*n > 0 on TLS_IO_DONE). */
enum tls_io tls_read(struct ssl_st *ssl, void *buf, size_t len, size_t *n);
/* Writes up to len octets, at least one TLS record's worth unless it
 * would block (*n > 0 on TLS_IO_DONE). A call after TLS_IO_WANT_* must
 * pass the same octets again, possibly from another address, possibly
 * with more after them. */
enum tls_io tls_write(struct ssl_st *ssl, const void *buf, size_t len, size_t *n);
/* Decrypted octets OpenSSL holds that a read has not taken (a record
 * larger than the room of the read): the socket will not signal them. */
bool tls_has_pending(const struct ssl_st *ssl);

#endif
