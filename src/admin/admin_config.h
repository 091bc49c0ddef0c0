/*
 * admin_config.h -- the "admin" section of the configuration
 * (gtmd.conf(5)): listeners, token files, audit log and limits.
 *
 * The admin module parses its own section: the daemon hands it the JSON
 * object and keeps the result in its config, then passes it to admin_start
 * and admin_update. A TCP listener (loopback too) needs both tokens; only
 * unix sockets (mode 0600) may go without. Token files must be regular
 * files without group or other permissions, like ssh keys.
 *
 * Ownership: a struct admin_params owns its strings (admin_params_free).
 */
#ifndef GTM_ADMIN_ADMIN_CONFIG_H
#define GTM_ADMIN_ADMIN_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"

/* The Alertmanager webhook receiver, "alertmanager" in the admin section
 * (admin_alertmanager.c): its own bearer token, the alert labels that
 * name a target, and how long a firing alert's verdict lasts. */
struct admin_am_params {
    char *token;      /* NULL: only the operate token may post alerts */
    char *token_file; /* resolved path */
    char *label_endpoint, *label_az, *label_region;
    double expires; /* seconds (default 300) */
};

/* admin.max_body (bytes): the default holds an ExternalDNS plan of 5,000
 * endpoints (about 1.3 MB as gtmctl sends it) several times over; the
 * bounds keep a typo from refusing every change or letting each of
 * max_connections clients make gtmd buffer gigabytes. */
#define ADMIN_MAX_BODY_MIN (64 * 1024)
#define ADMIN_MAX_BODY_DEFAULT (8 * 1024 * 1024)
#define ADMIN_MAX_BODY_MAX (256 * 1024 * 1024)

struct admin_params {
    bool enabled;  /* the "admin" section is present */
    char **listen; /* "IP:PORT" or "unix:/path" */
    size_t n_listen;
    char *read_token; /* file contents, trimmed; NULL = none */
    char *operate_token;
    char *read_token_file; /* resolved paths (read again at every reload); NULL = none */
    char *operate_token_file;
    char *audit_log; /* resolved path; NULL = no audit log */
    unsigned max_connections;
    /* Places of max_connections only operate-level requests may take (the
     * operate token; any request on a unix socket when no token is set):
     * read and tokenless clients share the other places. */
    unsigned operate_reserve;
    unsigned max_streams; /* GET /v1/events streams per role (read, operate) */
    unsigned timeout_ms;  /* header and body timeout */
    /* Bytes a request body may have (libevent stops reading past it:
     * 413). Large enough for a whole ExternalDNS plan or a batch of
     * thousands of changes in one request, which must be all-or-nothing. */
    size_t max_body;
    struct admin_am_params alertmanager;
};

/* The keys of the "admin" section (admin_schema's entries); the ones a
 * reload cannot change (the listeners and their limits) are flagged
 * CFGSCHEMA_RESTART. */
enum admin_key {
    ADMIN_K_LISTEN,
    ADMIN_K_READ_TOKEN_FILE,
    ADMIN_K_OPERATE_TOKEN_FILE,
    ADMIN_K_AUDIT_LOG,
    ADMIN_K_MAX_CONNECTIONS,
    ADMIN_K_TIMEOUT,
    ADMIN_K_OPERATE_RESERVE,
    ADMIN_K_MAX_STREAMS,
    ADMIN_K_MAX_BODY,
    ADMIN_K_ALERTMANAGER,
    ADMIN_K_N
};
extern const struct cfgschema admin_schema;
/* The "alertmanager" object's. */
enum admin_am_key { ADMIN_AM_K_TOKEN_FILE, ADMIN_AM_K_LABELS, ADMIN_AM_K_EXPIRES, ADMIN_AM_K_N };
extern const struct cfgschema admin_am_schema;

/* Parses the section v (NULL: absent, admin disabled) into out; errors go
 * to j's list with their JSON path ("$.admin.listen[1]", ...). */
void admin_params_parse(const struct jsoncfg *j, json_t *v, struct admin_params *out);
void admin_params_free(struct admin_params *p);
/* The "alertmanager" object of the section (v NULL: defaults). */
void admin_am_params_parse(const struct jsoncfg *j, json_t *v, struct admin_am_params *out);
void admin_am_params_free(struct admin_am_params *p);
/* Reads the token file named by a.key (JSON path 'path' for errors): its
 * first line, trimmed, at least 16 characters, the file mode 0600-like.
 * *file gets the resolved path. NULL without the key or on error. */
char *admin_params_read_token(const struct jsoncfg *j, const struct cfgschema *s, size_t k,
                              json_t *a, char **file);

#endif
