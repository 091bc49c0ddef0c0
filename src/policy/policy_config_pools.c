/*
 * policy_config_pools.c -- the running set's pools taken for a change that
 * left them as they were (gslb.pools_from).
 *
 * Why: a change of one record parsed every pool again (2,500 pools of
 * 10,000 endpoints: a schema check, a path and a key formatted, an address
 * parsed per endpoint) and then looked each endpoint's health slot up by
 * key, a fifth of a change at the estate (issue #38). What a pool
 * compiles to depends only on "pools", "regions" and "checks", so when the
 * change left those as they were the running set's pools are the pools a
 * parse would give, and it gave no error.
 */
#include <string.h>

#include "policy/policy_config_int.h"

/* Takes the running set's pools and azs for g when root's "pools",
 * "regions" and "checks" hold the values of the running document in the
 * same order (a change shares the members it did not touch, config_api.c;
 * the object holding them may be a copy): what they compile
 * to depends on nothing else, and the running set compiled them without
 * an error. The pools array itself is shared, with its endpoints and
 * their health slots (gslb.pools_shared), and the strings (gslb.pools_from);
 * the azs are copied and their slots mapped for g (gslb_map_health).
 * False: parse them. */
bool pc_pools_take(json_t *root, const struct policy_reuse *reuse, struct gslb *g)
{
    static const char *const deps[] = {"pools", "regions", "checks", NULL};
    static const unsigned same[] = {POLICY_SAME_POOLS, POLICY_SAME_REGIONS, POLICY_SAME_CHECKS};
    const struct gslb *o = reuse ? reuse->g : NULL;
    if (!o || !reuse->root || !json_is_object(root) || !o->n_pools ||
        o->n_regions != g->n_regions || o->n_checks != g->n_checks)
        return false;
    for (size_t k = 0; deps[k]; k++)
        if (!(reuse->same & same[k]) &&
            !pc_same_ordered(json_object_get(reuse->root, deps[k]), json_object_get(root, deps[k])))
            return false;
    /* The very arrays (gslb.pools_shared): nothing of them is written by
     * this set unless it is mapped in another core. */
    g->pools = o->pools;
    g->pools_shared = true;
    g->azs = pc_calloc(o->n_azs, sizeof(*g->azs));
    for (size_t i = 0; i < o->n_azs; i++) {
        g->azs[i] = o->azs[i];
        g->azs[i].slot = NULL;
    }
    g->n_pools = o->n_pools;
    g->n_azs = o->n_azs;
    g->pools_from = o;
    gslb_pool_tabs_share(g, o);
    return true;
}
