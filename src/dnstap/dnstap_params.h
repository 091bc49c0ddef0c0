/*
 * dnstap_params.h -- the "dnstap" section of the configuration
 * (gtmd.conf(5), doc/dnstap.md): where gtmd writes its dnstap log of
 * queries and responses, which of them, and how often.
 *
 *   "dnstap": {"socket": "/run/gtmd/dnstap.sock",   (or "file": PATH)
 *              "queries": true, "responses": true, "sample": 1,
 *              "identity": "ns1", "version": "gtmd",
 *              "listeners": {"192.0.2.1:53": {"responses": false, "sample": 10}},
 *              "queue_size": 512}
 *
 * Absent: no dnstap. "socket" or "file" (exactly one) and "queue_size"
 * are taken only at start (the writer thread and its queues); the rest
 * follows reloads through the served set (dnstap_view.h).
 *
 * Ownership: struct dnstap_params owns its strings and its listener
 * entries (dnstap_params_free releases them, not the struct).
 */
#ifndef GTM_DNSTAP_DNSTAP_PARAMS_H
#define GTM_DNSTAP_DNSTAP_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"

#define DNSTAP_SAMPLE_MAX 1000000
#define DNSTAP_QUEUE_DEFAULT 512

/* What a listener logs: bits of dnstap_what.what. */
enum { DNSTAP_QUERIES = 1, DNSTAP_RESPONSES = 2 };

struct dnstap_what {
    uint8_t what;    /* DNSTAP_QUERIES | DNSTAP_RESPONSES; 0: nothing */
    uint32_t sample; /* one query (and its response) in this many */
};

/* A "listeners" entry: one listen address's own settings. */
struct dnstap_listener {
    char *address; /* as written (owned) */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    size_t listen; /* its index in "listen" (dnstap_params_bind) */
    struct dnstap_what what;
};

struct dnstap_params {
    bool enabled;                   /* the section is present */
    char *socket;                   /* resolved path of a reader's unix socket, or NULL (owned) */
    char *file;                     /* resolved path of a file, or NULL (owned) */
    char *identity;                 /* NULL: the server's identity (owned) */
    char *version;                  /* NULL: the server's version (owned) */
    bool identity_set, version_set; /* given ("" hides it) */
    struct dnstap_what what;        /* the section's own: every listener's default */
    struct dnstap_listener *listeners; /* owned; NULL: every listener logs as above */
    size_t n_listeners;
    unsigned queue_size; /* entries of each worker's queue, a power of two */
};

/* The keys of the section and of a "listeners" entry. */
enum dnstap_key {
    DNSTAP_K_SOCKET,
    DNSTAP_K_FILE,
    DNSTAP_K_QUERIES,
    DNSTAP_K_RESPONSES,
    DNSTAP_K_SAMPLE,
    DNSTAP_K_IDENTITY,
    DNSTAP_K_VERSION,
    DNSTAP_K_LISTENERS,
    DNSTAP_K_QUEUE_SIZE,
    DNSTAP_K_N
};
enum dnstap_listener_key { DNSTAP_L_QUERIES, DNSTAP_L_RESPONSES, DNSTAP_L_SAMPLE, DNSTAP_L_N };
extern const struct cfgschema dnstap_schema, dnstap_listener_schema;

/* Parses v (NULL: absent, enabled false) into out; errors go to j with
 * their JSON path ("$.dnstap.listeners[\"127.0.0.1:53\"].sample"). */
void dnstap_params_parse(const struct jsoncfg *j, json_t *v, struct dnstap_params *out);

/* Gives each "listeners" entry of p the index of its address among the n
 * listen addresses (listen[i]); an entry naming none of them is an
 * error at its path. */
void dnstap_params_bind(const struct jsoncfg *j, struct dnstap_params *p,
                        const struct sockaddr_storage *const *listen, size_t n);

void dnstap_params_free(struct dnstap_params *p);

#endif
