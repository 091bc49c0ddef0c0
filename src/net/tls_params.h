/*
 * tls_params.h -- the "tls" section of the configuration (gtmd.conf(5)),
 * parsed by the net module: DNS over TLS (RFC 7858) listeners and their
 * certificate.
 *
 *   "tls": {"listen": ["0.0.0.0:853", "[::]:853"],
 *           "certificate": "dot.pem", "key": "dot.key",
 *           "chain": "intermediates.pem", "min_version": "1.2",
 *           "session_tickets": true, "session_cache": 20480}
 *
 * Absent: no DNS over TLS. The listen addresses change only on restart;
 * the certificate, key and chain files are read again by every reload
 * (SIGHUP), and a reload whose files do not load keeps the running ones
 * (net_tls_reload).
 *
 * Ownership: the struct is the caller's; tls_params_free releases its
 * strings and arrays (not the struct).
 */
#ifndef GTM_NET_TLS_PARAMS_H
#define GTM_NET_TLS_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "common/cfgschema.h"
#include "common/errlist.h"
#include "common/jsoncfg.h"

#define TLS_MAX_LISTEN 64

struct tls_listen {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char *text; /* owned; as written */
};

struct tls_params {
    bool enabled;              /* the section is present */
    struct tls_listen *listen; /* owned */
    size_t n_listen;
    char *certificate; /* owned; resolved paths */
    char *key;
    char *chain;          /* NULL: none (or the intermediates follow the certificate in its file) */
    bool tls13_only;      /* "min_version": "1.3" */
    bool session_tickets; /* RFC 5077 / TLS 1.3 tickets */
    unsigned session_cache; /* sessions kept for TLS 1.2 session-ID resumption; 0: none */
};

enum tls_key {
    TLS_K_LISTEN,
    TLS_K_CERTIFICATE,
    TLS_K_KEY,
    TLS_K_CHAIN,
    TLS_K_MIN_VERSION,
    TLS_K_SESSION_TICKETS,
    TLS_K_SESSION_CACHE,
    TLS_K_N
};
extern const struct cfgschema tls_schema;

/* Parses v (NULL: absent, enabled false) into out; errors go to j with
 * their JSON path ("$.tls.listen[1]"). Files are not read here: their
 * contents are checked when loaded (tls_ctx_load). */
void tls_params_parse(const struct jsoncfg *j, json_t *v, struct tls_params *out);
void tls_params_free(struct tls_params *p);

/* For 'gtmd check' (tls.c): loads the certificate, chain and key as the
 * server would, adding "FILE: $.tls: ..." to errs when they do not load
 * or do not match. */
void tls_check(const char *file, const struct tls_params *p, struct errlist *errs);

#endif
