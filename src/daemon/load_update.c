/*
 * load_update.c -- the snapshot after an RFC 2136 update (load.h): the
 * updated zone loaded from its new file, every other zone shared with the
 * set before.
 *
 * Why this way: a served set is immutable, so a change makes a new one;
 * building only the changed zone and sharing the others (zone_ref) costs
 * the size of that zone, not of the configuration (a reload parses every
 * zone file and the whole configuration again). The zone goes through
 * the same loader as at start (zone_load_signed, zone_verify, the same
 * roles and policy attachment), so what an update makes is served exactly
 * as a reload of the written file would serve it.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/load.h"
#include "daemon/load_int.h"
#include "zone/zone_load.h"

/* The policy records of every zone attached to their nodes in bind (a
 * set's own table: the nodes of the updated zone are new, the others
 * shared); those of zone zi checked against its new data. */
static void load_update_attach(const struct config *cfg, const struct gslb *g, size_t zi,
                               struct snapshot *s, struct serve_bind *bind, struct errlist *errs)
{
    serve_bind_init(bind, g ? g->n_records : 0, g ? g->bchunks : NULL, g ? g->spare : NULL);
    for (size_t i = 0; g && i < g->n_records; i++) {
        const struct policy_binding *b = gslb_binding(g, i);
        struct dns_name nm;
        if (!(b->a || b->aaaa || b->cname) ||
            !dns_name_index(gslb_rec(g, i)->name, gslb_rec(g, i)->name_len, &nm))
            continue;
        struct errlist none;
        errlist_init(&none); /* the other zones' records were checked when they loaded */
        load_attach(s, cfg, b, gslb_rec(g, i), bind,
                    load_zone_of(cfg, &nm) == (int)zi ? errs : &none, NULL);
        errlist_free(&none);
    }
}

/* Zone zi of cfg loaded (and signed) from file; NULL with errors. */
static struct zone *load_update_zone(const struct config *cfg, const struct serve_set *cur,
                                     size_t zi, const char *file, struct errlist *errs)
{
    const struct config_zone *cz = &cfg->zones[zi];
    const struct gslb *g = cur->gslb;
    size_t cap = g && g->n_records ? g->n_records : 1;
    struct zone_extra *extra = calloc(cap, sizeof(*extra));
    if (!extra)
        abort();
    size_t n_extra = load_extra_names(cfg, g, zi, extra);
    struct zone *z =
        zone_load_extra(cz->origin, file, cz->file, extra, n_extra, &cz->dnssec.sign, errs);
    free(extra);
    if (z && !load_verify(cz, z, errs, NULL)) {
        zone_free(z);
        return NULL;
    }
    if (z)
        load_zone_roles(z, cz, &cur->tsig);
    return z;
}

struct snapshot *load_update_snapshot(const struct config *cfg, const struct serve_set *cur,
                                      size_t zi, const char *file, struct serve_bind *bind,
                                      struct errlist *errs)
{
    size_t before = errs->count;
    struct zone *z = load_update_zone(cfg, cur, zi, file, errs);
    if (!z)
        return NULL;
    struct snapshot *s = snapshot_new();
    bool placed = false;
    for (size_t i = 0; i < cur->zones->n_zones; i++) {
        struct zone *o = cur->zones->zones[i];
        if (o->origin_len == z->origin_len && memcmp(o->origin, z->origin, z->origin_len) == 0) {
            snapshot_add_zone(s, z);
            placed = true;
        } else {
            zone_ref(o);
            snapshot_add_zone(s, o);
        }
    }
    if (!placed)
        snapshot_add_zone(s, z); /* not served before (cannot happen: the updater found it) */
    load_update_attach(cfg, cur->gslb, zi, s, bind, errs);
    if (errs->count != before) {
        serve_bind_free(bind);
        snapshot_free(s);
        return NULL;
    }
    return s;
}
