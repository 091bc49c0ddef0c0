/*
 * xfr_in_params.h -- the "primary" object of a zone entry
 * (gtmd.conf(5)): gtmd is a secondary of that zone and takes it from
 * these primaries by zone transfer.
 *
 *   "zones": [{"origin": "example.org.", "file": "secondary/example.org.zone",
 *              "primary": {"addresses": ["192.0.2.1:53"],
 *                          "key": "xfr.example.org.",
 *                          "idle_timeout": 5, "transfer_timeout": 300}}]
 *
 * "file" is where gtmd keeps its copy (written after every transfer, read
 * at start so that a restart serves at once).
 *
 * Ownership: the arrays and the key name belong to the params
 * (xfr_in_params_free).
 */
#ifndef GTM_XFR_XFR_IN_PARAMS_H
#define GTM_XFR_XFR_IN_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"

#define XFR_IN_MAX_PRIMARIES 8

struct xfr_in_params {
    size_t n; /* 0: not a secondary zone */
    struct sockaddr_storage addrs[XFR_IN_MAX_PRIMARIES];
    socklen_t lens[XFR_IN_MAX_PRIMARIES];
    char *key;        /* a "tsig_keys" name signing the SOA queries and transfers; NULL = none */
    unsigned idle_ms; /* one answer, or one message of a transfer, at most this late */
    unsigned transfer_ms; /* a whole transfer at most this long (a drip is cut there) */
};

/* Reads v (the "primary" object, may be NULL) at JSON path 'path'. */
/* The keys of a zone's "primary" object. */
extern const struct cfgschema xfr_in_schema;

void xfr_in_params_parse(const struct jsoncfg *j, json_t *v, const char *path,
                         struct xfr_in_params *out);

void xfr_in_params_free(struct xfr_in_params *p);

#endif
