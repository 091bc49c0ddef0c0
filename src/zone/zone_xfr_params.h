/*
 * zone_xfr_params.h -- the "transfer" object of a zone entry
 * (gtmd.conf(5)): who may transfer the zone from gtmd, with which TSIG
 * key, and whom gtmd notifies when the zone changes.
 *
 *   "zones": [{"origin": "example.com.", "file": "example.com.zone",
 *              "transfer": {"allow": ["192.0.2.53", "2001:db8::/64"],
 *                           "key": "xfr.example.com.",
 *                           "notify": ["192.0.2.53:53"],
 *                           "journal": "example.com.journal",
 *                           "journal_max": 1048576}}]
 *
 * Without "transfer" (or with an empty "allow") nobody may transfer the
 * zone. With "key", a transfer must be signed with that key of
 * "tsig_keys", and so are the NOTIFY messages gtmd sends.
 *
 * Ownership: the arrays and the key name belong to the params
 * (zone_xfr_params_free).
 */
#ifndef GTM_ZONE_ZONE_XFR_PARAMS_H
#define GTM_ZONE_ZONE_XFR_PARAMS_H

#include <jansson.h>
#include <stddef.h>
#include <sys/socket.h>

#include "common/addr.h"
#include "common/cfgschema.h"
#include "common/jsoncfg.h"

#define ZONE_XFR_MAX_ALLOW 256
#define ZONE_XFR_MAX_NOTIFY 32

struct zone_xfr_params {
    struct addr_net *allow; /* networks that may transfer; NULL = nobody */
    size_t n_allow;
    char *key; /* the "tsig_keys" name required (and used to notify); NULL = none */
    struct sockaddr_storage *notify; /* secondaries told of every new serial */
    socklen_t *notify_len;
    size_t n_notify;
    char *journal;      /* resolved path of the IXFR journal; NULL = IXFR gets the whole zone */
    size_t journal_max; /* its size limit in octets */
};

/* Reads v (the "transfer" object, may be NULL) at JSON path 'path'. */
/* The keys of a zone's "transfer" object. */
extern const struct cfgschema zone_xfr_schema;

void zone_xfr_params_parse(const struct jsoncfg *j, json_t *v, const char *path,
                           struct zone_xfr_params *out);

void zone_xfr_params_free(struct zone_xfr_params *p);

#endif
