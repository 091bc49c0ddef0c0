/*
 * fleet_adopt.c -- the rules an override or drill from etcd passes before
 * this node applies it. A member's signature says who wrote a record, not
 * that it is one an operator could have made: so every node checks, for
 * every record it reads from etcd (its own included),
 *  - "role" ("operate" or "socket"; absent in records of older gtmd:
 *    taken as "operate") and "force" (a boolean; absent: false);
 *  - the id: KIND-N, and the id of the key it is stored under;
 *  - the safety rule, unless "force" is true: applying it must not leave a
 *    policy record that is served now with no serving region, evaluated on
 *    this node's own view (the hook of fleet_env; the API's what-if);
 *  - the field rules and max_overrides (override_upsert_json), and for a
 *    drill its saved form and the live drills here (drill_core_adopt).
 * A record that fails is not applied (one applied before is removed) and
 * is reported: fleet.rejected in status, gtmd_fleet_rejected_total by
 * reason, event=fleet_rejected (fleet_reject).
 *
 * Views differ: the safety rule runs on this node's health as it is when
 * the record arrives, which may differ for a moment from its author's
 * (a verdict in flight, a degraded node on its own probes). A record
 * refused as unsafe is therefore kept and checked again every
 * FLEET_RECHECK_S: a difference of a moment delays it here; a record that
 * stays unsafe here stays refused (and reported) while it is. A record
 * this node's own API accepted is checked again as well: what arrives is
 * what etcd holds (fleet_life.c refuses one put back), and the rule is
 * checked on the view as the record arrives. An applied record that
 * becomes unsafe later (a region fails) stays applied, as on a single
 * node.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fleet/fleet_int.h"
#include "health/shared_store.h"

/* "role" and "force"; *force gets the latter. */
static enum fleet_verdict fleet_adopt_fields(json_t *v, bool *force, char *why, size_t len)
{
    json_t *role = json_object_get(v, SHARED_STORE_ROLE);
    json_t *fo = json_object_get(v, SHARED_STORE_FORCE);
    const char *r = json_string_value(role);
    if (role && (!r || (strcmp(r, "operate") != 0 && strcmp(r, "socket") != 0))) {
        snprintf(why, len, "\"role\" must be \"operate\" or \"socket\"");
        return FLEET_REJ_FIELDS;
    }
    if (fo && !json_is_boolean(fo)) {
        snprintf(why, len, "\"force\" must be true or false");
        return FLEET_REJ_FIELDS;
    }
    *force = json_is_true(fo);
    return FLEET_SIG_OK;
}

/* The record's id: KIND-N (N from 1, no leading zero), its key's id. */
static enum fleet_verdict fleet_adopt_id(const struct fleet_kind *k, const char *id, json_t *v,
                                         char *why, size_t len)
{
    const char *rid = json_string_value(json_object_get(v, "id"));
    size_t pl = strlen(k->id_prefix);
    const char *n = id + pl + 1;
    bool ok = strncmp(id, k->id_prefix, pl) == 0 && id[pl] == '-' && n[0] >= '1' && n[0] <= '9' &&
              strspn(n, "0123456789") == strlen(n) && strlen(n) <= 15;
    if (!ok) {
        snprintf(why, len, "the key's id is not %s-N", k->id_prefix);
        return FLEET_REJ_ID;
    }
    if (!rid || strcmp(rid, id) != 0) {
        snprintf(why, len, "the record's \"id\" is not its key's (%s)", id);
        return FLEET_REJ_ID;
    }
    return FLEET_SIG_OK;
}

/* Checks r; FLEET_SIG_OK with *out (a new reference: the record without
 * the adoption fields), or why it is refused. */
static enum fleet_verdict fleet_adopt_check(struct fleet *f, const struct fleet_kind *k,
                                            const struct fleet_rec *r, json_t **out, char *why,
                                            size_t len)
{
    bool force = false;
    enum fleet_verdict vd = fleet_adopt_fields(r->value, &force, why, len);
    if (vd == FLEET_SIG_OK)
        vd = fleet_adopt_id(k, r->id, r->value, why, len);
    if (vd != FLEET_SIG_OK)
        return vd;
    json_t *c = json_copy(r->value);
    if (!c)
        abort();
    json_object_del(c, SHARED_STORE_ROLE);
    json_object_del(c, SHARED_STORE_FORCE);
    /* Every record, this node's own included: one its API accepted was
     * checked then, but what arrives is what etcd holds, and the rule is
     * about this node's view now. */
    if (!force && f->unsafe && f->unsafe(f->unsafe_arg, k->name, c, why, len)) {
        json_decref(c);
        return FLEET_REJ_UNSAFE;
    }
    *out = c;
    return FLEET_SIG_OK;
}

/* The record's etcd key; caller frees. */
static char *fleet_adopt_key(const struct fleet *f, const struct fleet_kind *k,
                             const struct fleet_rec *r)
{
    char sub[64];
    snprintf(sub, sizeof(sub), "%s/", k->name);
    return fleet_key(f, sub, r->id, NULL);
}

void fleet_adopt(struct fleet *f, struct fleet_kind *k, struct fleet_rec *r)
{
    char why[512] = "";
    json_t *c = NULL;
    enum fleet_verdict vd = fleet_adopt_check(f, k, r, &c, why, sizeof(why));
    if (vd == FLEET_SIG_OK)
        vd = k->put(f, r->id, c, why, sizeof(why));
    json_decref(c);
    enum fleet_verdict was = r->refused;
    r->refused = vd;
    if (vd == FLEET_SIG_OK) {
        bool forced = json_is_true(json_object_get(r->value, SHARED_STORE_FORCE));
        if (forced && !r->own) {
            /* Past the safety rule on its author's word (each put, each fresh read). */
            char *key = fleet_adopt_key(f, k, r);
            log_warn("event=fleet_forced key=%s signer=%s role=%s", key, r->signer,
                     json_string_value(json_object_get(r->value, SHARED_STORE_ROLE)) ?: "");
            free(key);
        }
        if (was != FLEET_SIG_OK) {
            char *key = fleet_adopt_key(f, k, r);
            log_info("event=fleet_adopted key=%s after=%s", key, fleet_verdict_name(was));
            free(key);
        }
        return;
    }
    /* Not applied; an earlier version of it that was is removed. */
    k->del(f, r->id, NULL);
    if (vd == was)
        return; /* reported already (a check again) */
    char *key = fleet_adopt_key(f, k, r);
    fleet_reject(f, key, vd, r->signer, why);
    free(key);
}

void fleet_adopt_recheck(struct fleet *f, double now)
{
    if (now < f->next_recheck || f->conn != FLEET_CONN_SYNCED)
        return;
    f->next_recheck = now + FLEET_RECHECK_S;
    unsigned n = 0;
    for (size_t i = 0; i < f->n_kinds && n < FLEET_RECHECK_MAX; i++)
        for (struct fleet_rec *r = f->kinds[i].recs; r && n < FLEET_RECHECK_MAX; r = r->next)
            if (r->refused == FLEET_REJ_UNSAFE) {
                fleet_adopt(f, &f->kinds[i], r);
                n++;
            }
}
