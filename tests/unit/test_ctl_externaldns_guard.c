/*
 * Unit tests for src/ctl/ctl_externaldns_guard.c: the webhook protocol's
 * Accept and Content-Type negotiation (version 1 only), the shared
 * secret's comparison, and which listen hosts are loopback.
 */
#include "ctl/ctl_externaldns_guard.h"
#include "tap.h"

int main(void)
{
    struct tap t = {0, 0};
    static const char *const ok_accept[] = {
        EDNS_MEDIA,
        "application/external.dns.webhook+json",
        "*/*",
        "application/*",
        "text/html, " EDNS_MEDIA,
        "application/external.dns.webhook+json;version=2, " EDNS_MEDIA ";q=0.5",
        "Application/External.DNS.Webhook+JSON ; Version = \"1\"",
    };
    for (size_t i = 0; i < sizeof(ok_accept) / sizeof(ok_accept[0]); i++)
        TAP_CHECK(&t, edns_guard_accepts(ok_accept[i]), "Accept: %s", ok_accept[i]);
    TAP_CHECK(&t, edns_guard_accepts(NULL), "no Accept: anything goes");
    static const char *const bad_accept[] = {
        "application/external.dns.webhook+json;version=2",
        "application/json",
        "text/plain, application/xml",
        EDNS_MEDIA ";q=0",
        "*/*;q=0",
        "",
    };
    for (size_t i = 0; i < sizeof(bad_accept) / sizeof(bad_accept[0]); i++)
        TAP_CHECK(&t, !edns_guard_accepts(bad_accept[i]), "406 for Accept: %s", bad_accept[i]);
    TAP_CHECK(&t, edns_guard_content_type(EDNS_MEDIA), "Content-Type: version 1");
    TAP_CHECK(&t, edns_guard_content_type("application/external.dns.webhook+json; version=\"1\""),
              "Content-Type: a quoted version, spaces");
    static const char *const bad_ctype[] = {
        "application/external.dns.webhook+json;version=2",
        "application/external.dns.webhook+json",
        "application/json",
        "text/plain",
        "application/external.dns.webhook+json;version=10",
    };
    for (size_t i = 0; i < sizeof(bad_ctype) / sizeof(bad_ctype[0]); i++)
        TAP_CHECK(&t, !edns_guard_content_type(bad_ctype[i]), "415 for %s", bad_ctype[i]);
    TAP_CHECK(&t, !edns_guard_content_type(NULL), "415 without a Content-Type");
    const char *sec = "a-shared-secret-0123";
    TAP_CHECK(&t, edns_guard_secret_eq("a-shared-secret-0123", sec), "the secret");
    TAP_CHECK(&t, !edns_guard_secret_eq("a-shared-secret-012", sec), "a prefix");
    TAP_CHECK(&t, !edns_guard_secret_eq("a-shared-secret-01234", sec), "longer");
    TAP_CHECK(&t, !edns_guard_secret_eq("", sec) && !edns_guard_secret_eq(NULL, sec), "none");
    static const char *const lo[] = {"127.0.0.1", "127.9.8.7", "::1", "[::1]", "localhost"};
    for (size_t i = 0; i < sizeof(lo) / sizeof(lo[0]); i++)
        TAP_CHECK(&t, edns_guard_loopback(lo[i]), "loopback: %s", lo[i]);
    static const char *const not_lo[] = {"0.0.0.0", "::", "[::]", "10.0.0.1", "example.com", ""};
    for (size_t i = 0; i < sizeof(not_lo) / sizeof(not_lo[0]); i++)
        TAP_CHECK(&t, !edns_guard_loopback(not_lo[i]), "not loopback: %s", not_lo[i]);
    return tap_done(&t);
}
