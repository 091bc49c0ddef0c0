/*
 * server_kasp_algroll.c -- the key manager's algorithm rollover (the
 * schedule is zone_kasp_algroll.h's): started by the timer when a zone's
 * policy names another algorithm than its keys' (a reload that changes
 * "algorithm"), or at once by POST /v1/dnssec/ZONE/rollover {"key":
 * "algorithm"}. Both make a KSK and a ZSK of the policy's algorithm and
 * give every key its timestamps; the timer then applies each step when
 * it is due (server_kasp.c), and the parent's DS is checked and pushed
 * as in a KSK rollover (server_kasp_parent.c) when parent.servers is set.
 */
#include <stdio.h>
#include <time.h>

#include "common/log.h"
#include "daemon/server_int.h"
#include "zone/zone_kasp.h"
#include "zone/zone_kasp_algroll.h"
#include "zone/zone_kasp_store.h"

bool server_kasp_algroll_begin(struct server *srv, const struct config_zone *z,
                               const struct zone_kasp_policy *p, struct zone_kasp_keys *keys,
                               int64_t now, struct errlist *errs)
{
    const char *dir = z->dnssec.key_directory;
    if (keys->n + 2 > ZONE_KASP_MAX_KEYS) {
        errlist_add(errs,
                    "%s: the key store of %s has no room for an algorithm rollover's two keys "
                    "(%d at most)",
                    dir, z->origin, ZONE_KASP_MAX_KEYS);
        return false;
    }
    size_t nk = keys->n, nz = keys->n + 1;
    if (!zone_kasp_store_generate(dir, z->origin, p->algorithm, true, p->timing.ttl_key,
                                  &keys->v[nk], errs))
        return false;
    if (!zone_kasp_store_generate(dir, z->origin, p->algorithm, false, p->timing.ttl_key,
                                  &keys->v[nz], errs)) {
        zone_kasp_store_purge(dir, &keys->v[nk]);
        return false;
    }
    keys->n += 2;
    /* With parent.servers the old keys go only once the new DS is seen
     * there (DS_SEEN, zone_kasp_algroll_ds_seen); without, after Dreg. */
    zone_kasp_algroll_start(&p->timing, keys, nk, nz, now, p->n_servers > 0);
    log_info("event=dnssec_algorithm_rollover zone=%s from=%u to=%u ksk=%u zsk=%u", z->origin,
             keys->v[0].algorithm, p->algorithm, keys->v[nk].tag, keys->v[nz].tag);
    server_kasp_note(srv, z->origin, &keys->v[nk], "created", now);
    server_kasp_note(srv, z->origin, &keys->v[nz], "active_unpublished", now);
    return true;
}

/* {"error": {"code", "message"}} with status; the admin API's shape. */
static json_t *server_kasp_algroll_refuse(int *status, int st, const char *code, const char *msg)
{
    *status = st;
    return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

json_t *server_kasp_algroll_api(struct server *srv, const struct config_zone *z,
                                const struct zone_kasp_policy *p, struct zone_kasp_keys *keys,
                                int *status, struct errlist *errs)
{
    int64_t now = (int64_t)time(NULL);
    char msg[600];
    if (zone_kasp_algroll_in_flight(keys, now)) {
        snprintf(msg, sizeof(msg),
                 "an algorithm rollover of %s is under way (keys of two algorithms sign); "
                 "wait for it to end (GET /v1/dnssec shows each key's times)",
                 z->origin);
        return server_kasp_algroll_refuse(status, 409, "rollover_in_progress", msg);
    }
    if (!zone_kasp_algroll_wanted(keys, p->algorithm, now)) {
        snprintf(msg, sizeof(msg),
                 "the keys of %s are of the policy's algorithm %u already: set the policy's "
                 "\"algorithm\" to the new one and reload, then ask again (or let the key "
                 "manager start it)",
                 z->origin, p->algorithm);
        return server_kasp_algroll_refuse(status, 409, "conflict", msg);
    }
    size_t nk = keys->n;
    if (!server_kasp_algroll_begin(srv, z, p, keys, now, errs) ||
        !zone_kasp_store_save(z->dnssec.key_directory, z->origin, keys, errs))
        return server_kasp_algroll_refuse(status, 500, "internal",
                                          errs->count ? errs->msgs[0] : "cannot make the keys");
    *status = 200;
    const struct zone_kasp_key *k = &keys->v[nk], *zk = &keys->v[nk + 1];
    return json_pack("{s:s, s:s, s:i, s:{s:i, s:I, s:I, s:I}, s:{s:i, s:I, s:I}}", "result", "ok",
                     "zone", z->origin, "algorithm", p->algorithm, "new_ksk", "tag", k->tag,
                     "published", (json_int_t)k->t[ZONE_KASP_T_PUBLISHED], "ready",
                     (json_int_t)k->t[ZONE_KASP_T_READY], "active",
                     (json_int_t)k->t[ZONE_KASP_T_ACTIVE], "new_zsk", "tag", zk->tag, "signs",
                     (json_int_t)zk->t[ZONE_KASP_T_ACTIVE], "published",
                     (json_int_t)zk->t[ZONE_KASP_T_PUBLISHED]);
}
