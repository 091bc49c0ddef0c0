/*
 * tls.c -- DNS over TLS: contexts and non-blocking TLS operations.
 */
#include "net/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

static const unsigned char tls_alpn_dot[] = {3, 'd', 'o', 't'};

/* ALPN (RFC 7858 §3.2 and RFC 9539 name "dot"): chosen when offered; a
 * client that offers other protocols only goes on without ALPN, as NSD
 * and Knot do. */
static int tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                           const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, tls_alpn_dot, sizeof(tls_alpn_dot), in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* The first error of OpenSSL's queue as text, and the queue emptied
 * (SSL_get_error reads it: it must be empty before the next operation). */
static void tls_last_error(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    if (r)
        snprintf(buf, len, "%s", r);
    else if (e)
        snprintf(buf, len, "error %lx", e);
    else
        snprintf(buf, len, "%s", errno ? strerror(errno) : "unknown error");
    ERR_clear_error();
}

/* Adds the certificates of a PEM file as the chain; false when it holds
 * none or one does not parse. */
static bool tls_add_chain(SSL_CTX *ctx, const char *file, char *err, size_t errlen)
{
    BIO *b = BIO_new_file(file, "r");
    size_t n = 0;
    if (!b) {
        char why[128];
        tls_last_error(why, sizeof(why));
        snprintf(err, errlen, "chain %s: cannot read: %s", file, why);
        return false;
    }
    for (;;) {
        X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        if (!x)
            break;
        if (!SSL_CTX_add0_chain_cert(ctx, x)) {
            X509_free(x);
            break;
        }
        n++;
    }
    unsigned long e = ERR_peek_last_error();
    bool eof = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
    BIO_free(b);
    if (n == 0 || (e && !eof)) {
        char why[128];
        tls_last_error(why, sizeof(why));
        snprintf(err, errlen, "chain %s: %s", file, n ? why : "no PEM certificate in it");
        return false;
    }
    ERR_clear_error();
    return true;
}

static void tls_describe(SSL_CTX *ctx, char *info, size_t len)
{
    X509 *x = SSL_CTX_get0_certificate(ctx);
    if (!info || !len)
        return;
    info[0] = 0;
    if (!x)
        return;
    char subj[256] = "", serial[80] = "", na[40] = "";
    X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex)
        snprintf(serial, sizeof(serial), "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    BIO *m = BIO_new(BIO_s_mem());
    if (m && ASN1_TIME_print(m, X509_get0_notAfter(x)) > 0) {
        int k = BIO_read(m, na, (int)sizeof(na) - 1);
        na[k > 0 ? k : 0] = 0;
    }
    BIO_free(m);
    snprintf(info, len, "subject=\"%s\" serial=%s not_after=\"%s\"", subj, serial, na);
}

/* Ticket keys (name, HMAC and AES keys) carried from prev to ctx. */
static void tls_carry_ticket_keys(SSL_CTX *ctx, SSL_CTX *prev)
{
    unsigned char keys[80];
    if (prev && SSL_CTX_get_tlsext_ticket_keys(prev, keys, sizeof(keys)) == 1)
        SSL_CTX_set_tlsext_ticket_keys(ctx, keys, sizeof(keys));
    OPENSSL_cleanse(keys, sizeof(keys));
    ERR_clear_error();
}

/* The certificate, chain and key of p into ctx; false with err set. */
static bool tls_load_files(SSL_CTX *ctx, const struct tls_params *p, char *err, size_t errlen)
{
    char why[160];
    if (SSL_CTX_use_certificate_chain_file(ctx, p->certificate) != 1) {
        tls_last_error(why, sizeof(why));
        snprintf(err, errlen, "certificate %s: %s", p->certificate, why);
        return false;
    }
    if (p->chain && !tls_add_chain(ctx, p->chain, err, errlen))
        return false;
    if (SSL_CTX_use_PrivateKey_file(ctx, p->key, SSL_FILETYPE_PEM) != 1) {
        bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
        tls_last_error(why, sizeof(why));
        snprintf(err, errlen, "key %s%s%s: %s", p->key,
                 mismatch ? " does not match certificate " : "", mismatch ? p->certificate : "",
                 why);
        return false;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        tls_last_error(why, sizeof(why));
        snprintf(err, errlen, "key %s does not match certificate %s: %s", p->key, p->certificate,
                 why);
        return false;
    }
    return true;
}

SSL_CTX *tls_ctx_load(const struct tls_params *p, SSL_CTX *prev, char *err, size_t errlen,
                      char *info, size_t infolen)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, errlen, "cannot create a TLS context");
        ERR_clear_error();
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, p->tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* DNS clients often close without close_notify; OpenSSL 3 would call
     * that an error and drop the session from the cache (no resumption). */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 (p->session_tickets ? 0 : SSL_OP_NO_TICKET));
    /* Partial writes: tcp.c sends what it has queued as it goes; its
     * buffer may move between the retries of one write; idle connections
     * give their read and write buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, NULL);
    static const unsigned char sid[] = "gtmd-dot";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
    if (p->session_cache) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(ctx, p->session_cache);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    /* TLS 1.3 resumes by tickets only: stateless ones, or (session_tickets
     * false) stateful ones naming a session of the cache. */
    SSL_CTX_set_num_tickets(ctx, p->session_tickets || p->session_cache ? 1 : 0);
    if (!tls_load_files(ctx, p, err, errlen)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    tls_carry_ticket_keys(ctx, prev);
    tls_describe(ctx, info, infolen);
    return ctx;
}

void tls_ctx_ref(SSL_CTX *ctx)
{
    SSL_CTX_up_ref(ctx);
}

void tls_ctx_release(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

void tls_check(const char *file, const struct tls_params *p, struct errlist *errs)
{
    if (!p->enabled || !p->certificate || !p->key)
        return; /* absent, or said by the parser */
    char err[768];
    SSL_CTX *ctx = tls_ctx_load(p, NULL, err, sizeof(err), NULL, 0);
    if (!ctx)
        errlist_add(errs, "%s: %s: %s", file, tls_schema.path, err);
    SSL_CTX_free(ctx);
}

SSL *tls_conn_new(SSL_CTX *ctx, int fd)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

void tls_conn_free(SSL *ssl, bool clean)
{
    if (!ssl)
        return;
    if (clean)
        SSL_shutdown(ssl); /* close_notify if the socket takes it; no wait for the peer's */
    ERR_clear_error();
    SSL_free(ssl);
}

/* Writes text into why (when not NULL) and returns st. */
static enum tls_io tls_why(char *why, size_t whylen, const char *text, enum tls_io st)
{
    if (why && whylen)
        snprintf(why, whylen, "%s", text);
    return st;
}

/* What SSL_get_error says of a call that returned r <= 0. Every return
 * writes why (when not NULL), so a caller never logs a buffer it did not
 * fill: an empty string while the call only waits. */
static enum tls_io tls_status(SSL *ssl, int r, char *why, size_t whylen)
{
    int e = SSL_get_error(ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return tls_why(why, whylen, "", TLS_IO_WANT_READ);
    case SSL_ERROR_WANT_WRITE:
        return tls_why(why, whylen, "", TLS_IO_WANT_WRITE);
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return tls_why(why, whylen, "peer closed the connection (close_notify)", TLS_IO_CLOSED);
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0 && (errno == 0 || errno == ECONNRESET || errno == EPIPE)) {
            const char *text = errno == 0 ? "peer closed the connection (no close_notify)"
                               : errno == ECONNRESET ? "connection reset by peer"
                                                     : "connection closed (broken pipe)";
            ERR_clear_error();
            return tls_why(why, whylen, text, TLS_IO_CLOSED);
        }
        /* fall through */
    default:
        if (why)
            tls_last_error(why, whylen);
        else
            ERR_clear_error();
        return TLS_IO_FAILED;
    }
}

enum tls_io tls_handshake(SSL *ssl, char *why, size_t whylen)
{
    errno = 0;
    int r = SSL_do_handshake(ssl);
    if (r == 1)
        return TLS_IO_DONE;
    enum tls_io st = tls_status(ssl, r, why, whylen);
    return st == TLS_IO_CLOSED ? TLS_IO_FAILED : st; /* a handshake cut short failed */
}

bool tls_resumed(const SSL *ssl)
{
    return SSL_session_reused(ssl) == 1;
}

enum tls_io tls_read(SSL *ssl, void *buf, size_t len, size_t *n)
{
    errno = 0;
    if (SSL_read_ex(ssl, buf, len, n) == 1)
        return TLS_IO_DONE;
    return tls_status(ssl, 0, NULL, 0);
}

enum tls_io tls_write(SSL *ssl, const void *buf, size_t len, size_t *n)
{
    errno = 0;
    if (SSL_write_ex(ssl, buf, len, n) == 1)
        return TLS_IO_DONE;
    return tls_status(ssl, 0, NULL, 0);
}

bool tls_has_pending(const SSL *ssl)
{
    /* Decrypted octets only: SSL_has_pending also counts the part of a
     * record that has come, and a client sending half a record would make
     * the worker spin on it until the rest came. */
    return SSL_pending(ssl) > 0;
}
