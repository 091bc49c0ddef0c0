/*
 * load_int.h -- what load.c shares with load_update.c (not for other
 * modules): the steps of loading one zone into a snapshot.
 */
#ifndef GTM_DAEMON_LOAD_INT_H
#define GTM_DAEMON_LOAD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/errlist.h"
#include "control/config.h"
#include "dns/name.h"
#include "serve/serve_set.h"

/* Index of the configured zone with the longest origin above name, or -1. */
int load_zone_of(const struct config *cfg, const struct dns_name *name);
/* The policy names that fall into zone zi, with the types they answer,
 * into out (room for g's records; their wire forms borrowed from g). */
struct zone_extra;
size_t load_extra_names(const struct config *cfg, const struct gslb *g, size_t zi,
                        struct zone_extra *out);
/* Checks a signed zone (zone_verify.h); false when it has errors. */
bool load_verify(const struct config_zone *cz, const struct zone *z, struct errlist *errs,
                 struct errlist *warns);
/* Who may transfer and update z (keys of kr, which outlives z's use), and
 * whether it is a secondary. */
void load_zone_roles(struct zone *z, const struct config_zone *cz, const struct tsig_keyring *kr);
/* Attaches binding b (records named like r) to its zone node in s;
 * conflicts with a secondary zone's data are warnings (warns may be
 * NULL: then they are not reported). */
void load_attach(struct snapshot *s, const struct config *cfg, const struct policy_binding *b,
                 const struct policy_record *r, struct serve_bind *bind, struct errlist *errs,
                 struct errlist *warns);
/* Makes bind (zeroed) the table of g's bindings (g may be NULL: empty):
 * attached to their nodes in s when attach (no error so far), shared with
 * or carried from prev's (the running set, may be NULL) where all_kept
 * says every zone is prev's (load_bind.c). */
void load_bind(struct snapshot *s, const struct config *cfg, const struct gslb *g,
               const struct serve_set *prev, bool all_kept, bool attach, struct serve_bind *bind,
               struct errlist *errs, struct errlist *warns);
/* The signatures of the policy answers of set's signed zones. */
void load_policy_sigs(struct serve_set *set);

#endif
