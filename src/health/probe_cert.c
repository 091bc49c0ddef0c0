/*
 * probe_cert.c -- certificate expiry of TLS probes (https, grpc with tls).
 *
 * After the handshake the leaf certificate's notAfter is read whether or
 * not the chain was verified (without ca_file nothing else looks at the
 * certificate, and an expiring one is still worth knowing). It goes into
 * the result (probe_result.cert_not_after) for the health core's warning
 * and metric (health_cert.h), and fails the probe when fewer than the
 * check's cert_min_days remain. The count of days is the whole days left,
 * rounded down: a certificate with 4.9 days left "expires in 4 days".
 */
#include "health/probe_int.h"

#include <openssl/asn1.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <time.h>

/* The peer's leaf certificate's notAfter as Unix seconds; false when
 * there is none or it cannot be read. */
static bool probe_cert_not_after(SSL *ssl, int64_t *out)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    X509 *c = SSL_get0_peer_certificate(ssl); /* borrowed */
#else
    X509 *c = SSL_get_peer_certificate(ssl); /* a reference, freed below */
#endif
    struct tm tm;
    bool ok = c && ASN1_TIME_to_tm(X509_get0_notAfter(c), &tm) == 1;
#if OPENSSL_VERSION_NUMBER < 0x30000000L
    X509_free(c);
#endif
    if (ok)
        *out = (int64_t)timegm(&tm);
    return ok;
}

bool probe_cert_check(struct probe *pr, SSL *ssl)
{
    const struct probe_spec *s = pr->spec;
    int64_t na;
    if (!probe_cert_not_after(ssl, &na)) {
        if (!s->cert_min_set)
            return true;
        probe_fail(pr, HEALTH_FAIL_TLS, "tls: no certificate to read the expiry of");
        return false;
    }
    pr->res.cert_not_after = na ? na : 1;
    if (!s->cert_min_set)
        return true;
    int64_t left = na - (int64_t)time(NULL);
    if (left >= (int64_t)s->cert_min_days * 86400)
        return true;
    char at[32];
    time_t t = (time_t)na;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(at, sizeof(at), "%lld", (long long)na);
    if (left < 0)
        probe_fail(pr, HEALTH_FAIL_TLS, "certificate expired %lld days ago (at %s)",
                   (long long)(-left / 86400), at);
    else
        probe_fail(pr, HEALTH_FAIL_TLS, "certificate expires in %lld days (at %s)",
                   (long long)(left / 86400), at);
    return false;
}
