/*
 * guard_config.h -- the "rrl" and "cookies" sections of the configuration
 * (gtmd.conf(5)), parsed by this module into its own parameters.
 *
 * "rrl" absent means no rate limiting (as in Knot and BIND); "cookies"
 * absent means DNS Cookies on with a random secret made at start.
 *
 * Ownership: rrl_params_parse returns a struct the caller owns
 * (rrl_params_free, then free); cookie params are plain values.
 */
#ifndef GTM_GUARD_GUARD_CONFIG_H
#define GTM_GUARD_GUARD_CONFIG_H

#include <jansson.h>
#include <stdbool.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"
#include "guard/cookie.h"
#include "guard/rrl.h"

#define RRL_DEFAULT_RATE 100
#define RRL_DEFAULT_SLIP 2
#define RRL_DEFAULT_WINDOW 15
#define RRL_DEFAULT_TABLE 65536

/* The "rrl" section v (NULL when absent: returns NULL, RRL off). Errors go
 * to j with their JSON path ("$.rrl.whitelist[2]"); NULL then too. */
/* The keys of the "rrl" and "cookies" sections. */
extern const struct cfgschema rrl_schema, cookie_schema;

struct rrl_params *rrl_params_parse(const struct jsoncfg *j, json_t *v);

/* The "cookies" section v: false, true, or an object with "enabled",
 * "secret" (32 hex digits), "rotate_on_reload" and "require". Absent:
 * enabled with a random secret. Only the configured part is filled in;
 * cookie_params_carry decides the secret. */
void cookie_params_parse(const struct jsoncfg *j, json_t *v, struct cookie_params *out);

/*
 * Decides the secrets of next, a configuration about to replace prev (NULL
 * at start-up): a configured secret is used, and the one it replaces stays
 * valid as the previous secret; without one, prev's secret is kept, unless
 * rotate_on_reload (or there is none yet) makes a new random one, and then
 * prev's becomes the previous. False when no randomness could be had.
 */
bool cookie_params_carry(struct cookie_params *next, const struct cookie_params *prev);

#endif
