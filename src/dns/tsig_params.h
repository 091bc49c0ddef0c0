/*
 * tsig_params.h -- the "tsig_keys" section of the configuration
 * (gtmd.conf(5)): the TSIG keys gtmd shares with its secondaries.
 *
 *   "tsig_keys": {"xfr.example.com.": {"algorithm": "hmac-sha256",
 *                                      "secret": "base64 of the secret"}}
 *
 * Key names are domain names (the TSIG record's owner), compared without
 * case; the secret is what `tsig-keygen` or `keymgr -t` prints.
 */
#ifndef GTM_DNS_TSIG_PARAMS_H
#define GTM_DNS_TSIG_PARAMS_H

#include <jansson.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"
#include "dns/tsig.h"

/* The keys of one TSIG key's object (an entry of tsig_keys). */
extern const struct cfgschema tsig_key_schema;

/* Reads v (the keys by name, at path; NULL = no keys) into out, which
 * the caller frees with tsig_keyring_free; errors name paths below path. */
void tsig_params_parse(const struct jsoncfg *j, json_t *v, const char *path,
                       struct tsig_keyring *out);

/* The key whose name (as written, any case, with or without the final
 * dot) is name, or NULL. */
const struct tsig_key *tsig_keyring_by_id(const struct tsig_keyring *kr, const char *name);

/* A copy of kr into out (its own keys, ids and secrets; freed with
 * tsig_keyring_free): a set built from another (a re-sign) needs keys of
 * its own for its zones' transfer keys to point into. */
void tsig_keyring_copy(const struct tsig_keyring *kr, struct tsig_keyring *out);

#endif
