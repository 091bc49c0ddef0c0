/*
 * load.c -- builds a served set from a config.
 */
#include "daemon/load.h"
#include "daemon/load_int.h"
#include "daemon/load_catalog.h"

#include "dns/tsig_params.h"
#include "dns/tsig_replay.h"
#include "net/notify_out.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/jsoncfg.h"
#include "common/log.h"
#include "dns/dns.h"
#include "dns/name.h"
#include "dns/tsig_params.h"
#include "geo/geo_db.h"
#include "policy/policy_ramp.h"
#include "policy/policy.h"
#include "policy/policy_geo.h"
#include "policy/policy_latency.h"
#include "policy/policy_shed.h"
#include "zone/zone_journal.h"
#include "zone/zone_load.h"
#include "zone/zone_place.h"
#include "control/config_delta.h"
#include "zone/zone_verify.h"
#include "control/config_keys.h"
#include "daemon/load_secondary.h"
#include "geo/geo_overlay.h"
#include "geo/geo_params.h"

/* Index of the configured zone with the longest origin above name, or -1. */
int load_zone_of(const struct config *cfg, const struct dns_name *name)
{
    int best = -1;
    size_t best_len = 0;
    for (size_t i = 0; i < cfg->n_zones; i++) {
        struct dns_name o;
        if (dns_name_from_str(cfg->zones[i].origin, &o) &&
            dns_name_is_sub(name->wire, name->len, o.wire, o.len) && o.len >= best_len) {
            best = (int)i;
            best_len = o.len;
        }
    }
    return best;
}

/* The policy names that fall into zone zi (for zone_load's extra names),
 * with the type each record answers (a zone signed at load lists it in
 * the name's NSEC or NSEC3 bitmap). */
size_t load_extra_names(const struct config *cfg, const struct gslb *g, size_t zi,
                        struct zone_extra *out)
{
    size_t n = 0;
    for (size_t i = 0; g && i < g->n_records; i++) {
        const struct policy_record *r = gslb_rec(g, i);
        struct dns_name nm;
        if (!dns_name_index(r->name, r->name_len, &nm))
            continue;
        if (load_zone_of(cfg, &nm) == (int)zi)
            out[n++] = (struct zone_extra){r->name, zone_policy_flag(r->rtype), r->name_len};
    }
    return n;
}

static bool load_below_cut(const struct zone *z, const struct dns_name *n)
{
    for (unsigned i = 0; i + z->origin_labels < n->count; i++) {
        const uint8_t *suffix = n->wire + n->label[i];
        size_t len = n->len - n->label[i];
        const struct zone_node *node = zone_find_node(z, suffix, len, dns_name_hash(suffix, len));
        if (node && (node->flags & ZONE_NODE_CUT))
            return true;
    }
    return false;
}

/* When n (node in z) is below a DNAME: why, naming the DNAME and where
 * it is (zone_check.c recorded it), into buf; else NULL. A DNAME answers
 * for every name below it (RFC 6672 §2.3), so the name's pool would never
 * answer, as below a delegation. */
static const char *load_below_dname(const struct zone *z, const struct zone_node *node, char *buf,
                                    size_t len)
{
    if (!(node->flags & ZONE_NODE_BELOW_DNAME))
        return NULL;
    const uint8_t *top = NULL, *name = node->name;
    size_t left = node->name_len;
    while (left > z->origin_len) { /* the DNAME farthest up: a query meets it first */
        left -= 1u + name[0];
        name += 1u + name[0];
        const struct zone_node *a = zone_find_node(z, name, left, dns_name_hash(name, left));
        if (a && (a->flags & ZONE_NODE_DNAME))
            top = a->name;
    }
    const struct zone_dname_src *src = NULL;
    for (size_t i = 0; top && i < z->n_policy_dnames && !src; i++)
        if (z->policy_dnames[i].owner == top)
            src = &z->policy_dnames[i];
    char dn[1024] = "?", at[1100];
    if (top)
        dns_name_to_str(top, dn, sizeof(dn));
    if (src)
        snprintf(at, sizeof(at), "%s:%u", src->file, src->line);
    else
        snprintf(at, sizeof(at), "%s", z->file ? z->file : "the zone file");
    snprintf(buf, len,
             "is below the DNAME at %s (%s): the DNAME would answer for it, not its "
             "pool (RFC 6672 §2.3)",
             dn, at);
    return buf;
}

/* Whether zone cz has nothing to serve yet: a secondary without a copy,
 * or a fleet member's zone waiting for the fleet's keys (serving it with
 * keys of its own, or unsigned, would give validators answers without a
 * chain of trust while the zone has a DS). */
static bool load_pending(const struct config_zone *cz)
{
    return load_secondary_pending(cz) || cz->dnssec.keys_pending;
}

/* Whether the zone of name n is signed at load (has keys configured). */
static bool load_zone_has_keys(const struct config *cfg, const struct dns_name *n)
{
    int zi = load_zone_of(cfg, n);
    return zi >= 0 && cfg->zones[zi].dnssec.sign.n_keys > 0;
}

/* Whether node holds data besides the DNSSEC records signing made there
 * (a zone signed at load gives each policy name its NSEC and RRSIG). */
static bool load_node_has_data(const struct zone_node *node)
{
    for (uint16_t i = 0; i < node->n_rrsets; i++)
        if (node->rrsets[i].type != DNS_TYPE_NSEC && node->rrsets[i].type != DNS_TYPE_RRSIG)
            return true;
    return false;
}

/* Attaches binding b (records named like r) to its zone node in bind
 * (NULL: checks only), reporting conflicts with the zone's own data. */
void load_attach(struct snapshot *s, const struct config *cfg, const struct policy_binding *b,
                 const struct policy_record *r, struct serve_bind *bind, struct errlist *errs,
                 struct errlist *warns)
{
    const char *cfgpath = cfg->path;
    struct dns_name n;
    dns_name_index(r->name, r->name_len, &n);
    const struct zone *z = snapshot_find_zone(s, &n, DNS_TYPE_A);
    const struct zone_node *node =
        z ? zone_find_node(z, n.wire, n.len, dns_name_hash(n.wire, n.len)) : NULL;
    const char *why = NULL;
    char dname_why[1400];
    int zi = load_zone_of(cfg, &n);
    if (zi >= 0 && load_pending(&cfg->zones[zi]))
        return; /* its zone is not served yet: attached when it is */
    if (!node)
        why = "is outside every loaded zone";
    else if (load_below_cut(z, &n))
        why = "is at or below a delegation in the zone file";
    else if (load_below_dname(z, node, dname_why, sizeof(dname_why)))
        why = dname_why;
    else if (node->flags & ZONE_NODE_CNAME)
        why = "also has a static CNAME in the zone file";
    else if (b->cname && load_node_has_data(node))
        why = "is a CNAME policy but also has static records in the zone file";
    else if (b->a && zone_node_rrset(node, DNS_TYPE_A))
        why = "also has static A records in the zone file";
    else if (b->aaaa && zone_node_rrset(node, DNS_TYPE_AAAA))
        why = "also has static AAAA records in the zone file";
    else if (z->dnssec.has_dnssec_records && !load_zone_has_keys(cfg, &n))
        why = "is in a signed zone without keys: a pre-signed file alone cannot sign the "
              "answers a policy record gives as health changes (they need the zone's keys): "
              "give the zone entry \"dnssec\": {\"keys\": [...]} and the unsigned file, "
              "and gtmd signs the zone at load and the policy answers as they change";
    else if (z->dnssec.has_dnssec_records && r->when_all_down == DOWN_EMPTY)
        why = "is in a signed zone with \"when_all_down\": \"empty\": the NODATA answer "
              "it gives with every endpoint down cannot be proven (the name's NSEC or NSEC3 "
              "lists the type); use \"all\" or \"fallback\"";
    /* A secondary zone's data is its primary's: a conflict it brings
     * leaves the record unattached (the zone's data answers there), and
     * every other zone and record as they are. */
    char at[POLICY_PATH_LEN];
    if (why && zi >= 0 && cfg->zones[zi].primary.n > 0) {
        load_secondary_warn(warns,
                            "%s: %s: %s %s: not attached, the secondary zone's data answers there",
                            cfgpath, policy_record_path(r, at, sizeof(at)), r->name_str, why);
        return;
    }
    if (why) {
        errlist_add(errs, "%s: %s: %s %s", cfgpath, policy_record_path(r, at, sizeof(at)),
                    r->name_str, why);
        return;
    }
    if (bind)
        serve_bind_put(bind, node, r->index); /* b is binding r->index */
}

/* Opens one geo database file at key k of the geoip section; NULL with
 * the error added when it cannot be read. */
static struct geo_db *load_geo_file(const struct config *cfg, enum geo_params_key k,
                                    const char *file, struct errlist *errs)
{
    char why[256];
    struct geo_db *db = geo_db_open(file, why, sizeof(why));
    if (!db)
        errlist_add(errs, "%s: %s: %s: %s", cfg->path,
                    config_sub_path(CFG_K_GEOIP, &geo_schema, k).s, file, why);
    return db;
}

/* Opens the geo databases (a fresh read at every load, so a reload picks
 * up new files), lays the ASN one over the location one, and compiles the
 * geo and nearest records over the result. */
static struct policy_geo *load_geo(const struct config *cfg, const struct gslb *g,
                                   struct errlist *errs)
{
    struct geo_db *db = NULL, *asn = NULL;
    if (cfg->geo.database && !(db = load_geo_file(cfg, GEO_K_DATABASE, cfg->geo.database, errs)))
        return NULL;
    if (cfg->geo.asn_database) {
        asn = load_geo_file(cfg, GEO_K_ASN_DATABASE, cfg->geo.asn_database, errs);
        char why[256];
        if (!asn || !(db = geo_db_overlay(db, asn, why, sizeof(why)))) {
            if (asn)
                errlist_add(errs, "%s: %s: %s: %s", cfg->path,
                            config_sub_path(CFG_K_GEOIP, &geo_schema, GEO_K_ASN_DATABASE).s,
                            cfg->geo.asn_database, why);
            else
                geo_db_free(db);
            return NULL;
        }
    }
    return policy_geo_build(g, db, cfg->path, errs);
}

/* Checks a signed zone (zone_verify.h); false when it has errors. */
bool load_verify(const struct config_zone *cz, const struct zone *z, struct errlist *errs,
                 struct errlist *warns)
{
    struct errlist local;
    errlist_init(&local);
    size_t n = zone_verify(z, &cz->dnssec, (uint32_t)time(NULL), errs, warns ? warns : &local);
    for (size_t i = 0; i < local.count; i++)
        log_warn("event=zone_warning %s", local.msgs[i]);
    errlist_free(&local);
    return n == 0;
}

/* A secondary zone is served as its primary signs it, as NSD and Knot
 * do: what the checks find (an expired signature...) is a warning. */
static void load_verify_secondary(const struct config *cfg, const struct config_zone *cz,
                                  const struct zone *z, struct errlist *warns)
{
    struct errlist found;
    errlist_init(&found);
    load_verify(cz, z, &found, warns);
    for (size_t i = 0; i < found.count; i++)
        load_secondary_warn(warns, "%s: secondary zone %s, served as its primary signs it: %s",
                            cfg->path, cz->origin, found.msgs[i]);
    errlist_free(&found);
}

struct serve_set *load_set(struct config *cfg, uint64_t generation, struct health_core *core,
                           const struct serve_set *prev, struct errlist *errs)
{
    return load_set_warn(cfg, generation, core, prev, errs, NULL);
}

/* Parses zones first, first + step, ... of cfg into zones[], each zone's
 * errors into its own errlist (merged in config order by load_zones). */
struct load_zones_job {
    const struct config *cfg;
    const struct gslb *g;
    const bool *keep; /* zones kept from the set before: not read (NULL: none) */
    size_t first, step;
    struct zone **zones;
    struct errlist *errs; /* one per zone */
};

/* Whether zone i of cfg is read by this load (not waiting for a copy or
 * keys, not made later, not kept from the set before). */
static bool load_zone_read(const struct config *cfg, const bool *keep, size_t i)
{
    const struct config_zone *cz = &cfg->zones[i];
    return !load_pending(cz) && !cz->gen_catalog && !(keep && keep[i]);
}

static void *load_zones_run(void *arg)
{
    struct load_zones_job *j = arg;
    size_t n_read = 0;
    for (size_t i = j->first; i < j->cfg->n_zones; i += j->step)
        n_read += load_zone_read(j->cfg, j->keep, i);
    if (n_read == 0)
        return NULL; /* every zone kept (a change of records): no room for names */
    size_t cap = j->g && j->g->n_records ? j->g->n_records : 1;
    struct zone_extra *extra = calloc(cap, sizeof(*extra));
    if (!extra)
        abort();
    for (size_t i = j->first; i < j->cfg->n_zones; i += j->step) {
        const struct config_zone *cz = &j->cfg->zones[i];
        if (!load_zone_read(j->cfg, j->keep, i))
            continue; /* no copy or keys yet: served once it has; made later; kept */
        size_t n_extra = load_extra_names(j->cfg, j->g, i, extra);
        j->zones[i] = zone_load_extra(cz->origin, cz->file, cz->file, extra, n_extra,
                                      &cz->dnssec.sign, &j->errs[i]);
    }
    free(extra);
    return NULL;
}

/* Loads (and signs) every zone of cfg; a calloc'ed array (the caller frees
 * it) of n_zones zones, NULL where a zone failed (its errors are in errs,
 * in config order). Two threads take alternate zones: zones are
 * independent, and 1,000 zones of 1,000 records took 1.9 s of CPU one
 * after the other (contrib/bench/load_bench.py --layout hosting). */
static struct zone **load_zones(const struct config *cfg, const struct gslb *g, const bool *keep,
                                struct errlist *errs, struct errlist *warns)
{
    size_t n = cfg->n_zones;
    struct zone **zones = calloc(n ? n : 1, sizeof(*zones));
    struct errlist *zerrs = calloc(n ? n : 1, sizeof(*zerrs));
    if (!zones || !zerrs)
        abort();
    for (size_t i = 0; i < n; i++)
        errlist_init(&zerrs[i]);
    struct load_zones_job jobs[2] = {{cfg, g, keep, 0, 2, zones, zerrs},
                                     {cfg, g, keep, 1, 2, zones, zerrs}};
    /* A second thread only for two zones or more to read: a change of
     * records keeps every zone, and a thread started for nothing was a
     * tenth of such a change's store thread at 1,000,000 names. */
    size_t n_read = 0;
    for (size_t i = 0; i < n && n_read < 2; i++)
        n_read += load_zone_read(cfg, keep, i);
    pthread_t t;
    bool threaded = n_read > 1 && pthread_create(&t, NULL, load_zones_run, &jobs[1]) == 0;
    if (!threaded)
        jobs[0].step = 1;
    load_zones_run(&jobs[0]);
    if (threaded)
        pthread_join(t, NULL);
    for (size_t i = 0; i < n; i++) {
        if (zerrs[i].count && cfg->zones[i].primary.n > 0) {
            /* A secondary's copy: that zone's problem only. */
            if (zones[i])
                zone_free(zones[i]);
            zones[i] = NULL;
            load_secondary_broken(cfg, &cfg->zones[i], &zerrs[i], warns);
        }
        for (size_t k = 0; cfg->zones[i].primary.n == 0 && k < zerrs[i].count; k++)
            errlist_add(errs, "%s", zerrs[i].msgs[k]);
        errlist_free(&zerrs[i]);
    }
    free(zerrs);
    return zones;
}

/* Who may transfer z: the networks (copied into the zone's arena) and the
 * key of kr (which the set takes over from cfg: the pointer stays valid). */
static void load_transfer(struct zone *z, const struct zone_xfr_params *xp,
                          const struct tsig_keyring *kr)
{
    if (xp->n_allow) {
        struct addr_net *a = arena_alloc(&z->arena, xp->n_allow * sizeof(*a));
        memcpy(a, xp->allow, xp->n_allow * sizeof(*a));
        z->xfr_allow = a;
        z->xfr_n_allow = xp->n_allow;
    }
    z->xfr_key = xp->key ? tsig_keyring_by_id(kr, xp->key) : NULL;
}

static const struct zone *load_zone_named(const struct snapshot *s, const uint8_t *origin,
                                          size_t len);

/* The zone of prev kept for configured zone cz (a reference taken), or
 * NULL. */
static struct zone *load_kept(const struct config_zone *cz, const struct snapshot *prev)
{
    struct dns_name n;
    if (!prev || !dns_name_from_str(cz->origin, &n))
        return NULL;
    struct zone *z = (struct zone *)load_zone_named(prev, n.wire, n.len);
    if (z)
        zone_ref(z);
    return z;
}

/* Catalog members without a copy named one by one in the log; the rest
 * are counted in one line (a catalog of 100,000 new members wrote
 * 100,000 lines at each start until their first transfers). */
#define LOAD_PENDING_NAMED 10

/* A zone just read or made (or NULL): verified (NULL when it fails), its
 * roles set from cz, marked expired when a secondary's copy is too old.
 * *members_pending counts the catalog members that have no copy yet. */
static struct zone *load_zone_ready(const struct config *cfg, const struct config_zone *cz,
                                    struct zone *z, const struct tsig_keyring *kr,
                                    struct errlist *errs, struct errlist *warns,
                                    size_t *members_pending)
{
    if (z && cz->primary.n > 0)
        load_verify_secondary(cfg, cz, z, warns);
    else if (z && !load_verify(cz, z, errs, warns)) {
        zone_free(z);
        z = NULL;
    }
    if (!z && load_secondary_pending(cz) &&
        (!cz->catalog_member || (*members_pending)++ < LOAD_PENDING_NAMED))
        log_warn("event=zone_pending zone=%s why=\"no copy yet: served after the first "
                 "transfer from its primary\"",
                 cz->origin);
    if (!z && cz->dnssec.keys_pending)
        log_warn("event=zone_pending zone=%s why=\"no keys yet: waiting for the fleet's key set "
                 "in etcd (or the key lock to make the first keys); not served until then\"",
                 cz->origin);
    if (z)
        load_zone_roles(z, cz, kr);
    if (z && load_secondary_expired(cz, z)) {
        z->expired = true;
        log_warn("event=zone_expired zone=%s why=\"not refreshed from its primary within "
                 "the SOA expire time: SERVFAIL until it is\"",
                 cz->origin);
    }
    return z;
}

/* Whether configured zone cz may be made from the running zone by
 * placing policy names (zone_place.h; the zone itself is checked there
 * too): read from a file of its own, unsigned, no journal to carry. */
static bool load_placeable(const struct config_zone *cz)
{
    return !load_pending(cz) && !cz->gen_catalog && cz->primary.n == 0 && !cz->catalog_member &&
           cz->dnssec.sign.n_keys == 0 && !cz->dnssec.policy && !cz->xfr.journal;
}

/* The zones of cfg that d marks for placing (config_delta.h) made from
 * prev's with the policy names that changed: a calloc'ed array, NULL
 * where a zone is read or kept (zone_place declined); NULL when no zone
 * is made. Counts them in d->n_placed. */
static struct zone **load_place(const struct config *cfg, struct config_delta *d,
                                const struct snapshot *prev)
{
    if (!d || !d->place || !prev || !d->n_places)
        return NULL;
    struct zone **out = NULL;
    struct zone_place_name *names = calloc(d->n_places, sizeof(*names));
    if (!names)
        abort();
    for (size_t i = 0; i < cfg->n_zones; i++) {
        struct dns_name o;
        if (!d->place[i] || !load_placeable(&cfg->zones[i]) ||
            !dns_name_from_str(cfg->zones[i].origin, &o))
            continue;
        struct zone *from = (struct zone *)load_zone_named(prev, o.wire, o.len);
        size_t n = 0, added = 0, removed = 0;
        for (size_t x = 0; x < d->n_places; x++) {
            const struct config_place *p = &d->places[x];
            if (p->zone == i)
                names[n++] = (struct zone_place_name){p->name, p->len, p->flags, p->present};
        }
        struct zone *z = from ? zone_place(from, names, n, &added, &removed) : NULL;
        if (!z)
            continue; /* read from its file */
        if (!out && !(out = calloc(cfg->n_zones, sizeof(*out))))
            abort();
        out[i] = z;
        d->n_placed++;
    }
    free(names);
    return out;
}

void load_place_early(const struct config *cfg, struct config_delta *delta,
                      const struct serve_set *prev)
{
    if (!delta || delta->placed_done)
        return;
    delta->placed = load_place(cfg, delta, prev ? prev->zones : NULL);
    delta->placed_done = true;
}

/* Whether a binding of bind is at a node that a placed zone of placed
 * took out (a name d noted gone, in prev's zone, not in the new one):
 * the delta notes a name gone only when no binding names it now, so
 * never; were it so, the name would answer NXDOMAIN while bound, so the
 * change fails loudly instead (an error in errs). */
static void load_place_check(const struct config *cfg, const struct config_delta *d,
                             const struct snapshot *prev, struct zone *const *placed,
                             const struct serve_bind *bind, struct errlist *errs)
{
    for (size_t x = 0; placed && x < d->n_places; x++) {
        const struct config_place *p = &d->places[x];
        if (p->present || p->zone >= cfg->n_zones || !placed[p->zone])
            continue;
        const struct zone *now = placed[p->zone];
        const struct zone *from = load_zone_named(prev, now->origin, now->origin_len);
        uint32_t h = dns_name_hash(p->name, p->len);
        const struct zone_node *was = from ? zone_find_node(from, p->name, p->len, h) : NULL;
        if (was && zone_find_node(now, p->name, p->len, h) != was && serve_bind_get(bind, was)) {
            char n[1024];
            dns_name_to_str(p->name, n, sizeof(n));
            errlist_add(errs,
                        "%s: %s: bound, but taken out of zone %s by the change (a bug: "
                        "reload the file to read the zone again)",
                        cfg->path, n, now->origin_str);
        }
    }
}

/* Every zone of cfg, read (and signed), made (the generated ones, their
 * serials from prev, may be NULL) or, where d's keep says so
 * (config_delta.h), kept from prev as it is, or made from prev's with
 * policy names placed (load_place); the policy records of g (borrowed,
 * may be NULL) attached to their names in bind. NULL with errors in
 * errs. The zones' transfer keys point into kr, which must live as long
 * as they do (the set's own keyring; a kept or placed zone names none:
 * config_delta.c). */
static struct snapshot *load_snapshot(const struct config *cfg, const struct gslb *g,
                                      const struct tsig_keyring *kr,
                                      const struct serve_set *prev_set, struct config_delta *d,
                                      struct serve_bind *bind, struct errlist *errs,
                                      struct errlist *warns)
{
    const struct snapshot *prev = prev_set ? prev_set->zones : NULL;
    const bool *keep = d ? d->keep : NULL;
    size_t before = errs->count, n_read = 0;
    struct snapshot *s = snapshot_new();
    struct zone **placed = d && d->placed_done ? d->placed : load_place(cfg, d, prev);
    if (d && d->placed_done)
        d->placed = NULL; /* taken */
    /* Zones not read: kept, or placed (the kept and placed zones' nodes
     * are the running set's, for the bindings: load_bind's all_kept). */
    bool *skip = calloc(cfg->n_zones + 1, sizeof(*skip)), all_kept = true;
    if (!skip)
        abort();
    for (size_t i = 0; i < cfg->n_zones; i++) {
        skip[i] = (keep && keep[i]) || (placed && placed[i]);
        n_read += !skip[i];
        all_kept &= skip[i];
    }
    struct zone **zones = load_zones(cfg, g, skip, errs, warns);
    for (size_t i = 0; i < cfg->n_zones; i++)
        if (cfg->zones[i].gen_catalog && !(keep && keep[i])) {
            struct dns_name n;
            const struct zone *old = dns_name_from_str(cfg->zones[i].origin, &n)
                                         ? load_zone_named(prev, n.wire, n.len)
                                         : NULL;
            zones[i] = load_catalog_make(&cfg->zones[i], old, errs);
        }
    /* The parse threads (load_zones' second one, zone_load's two-thread
     * parse) freed their temporaries into malloc arenas of their own,
     * which keep them: 16 MB more resident after the 1M-record load (182
     * MB against 166 MB one-threaded) unless trimmed. Once per load that
     * read a zone; a reload trims again after freeing the old set
     * (load_drop_behind). */
    if (n_read)
        malloc_trim(0);
    size_t pending = 0;
    for (size_t i = 0; i < cfg->n_zones; i++) {
        const struct config_zone *cz = &cfg->zones[i];
        struct zone *z = keep && keep[i] ? load_kept(cz, prev)
                         : placed && placed[i]
                             ? placed[i]
                             : load_zone_ready(cfg, cz, zones[i], kr, errs, warns, &pending);
        if (z && !snapshot_add_zone(s, z)) {
            errlist_add(errs, "%s: zone %s is configured twice", cfg->path, cz->origin);
            zone_free(z);
            if (placed)
                placed[i] = NULL; /* freed: load_place_check skips it */
        }
    }
    if (pending > LOAD_PENDING_NAMED)
        log_warn("event=zone_pending zones=%zu more=%zu why=\"catalog members with no copy yet "
                 "(the first %d named above): served after their first transfers\"",
                 pending, pending - LOAD_PENDING_NAMED, LOAD_PENDING_NAMED);
    free(zones);
    free(skip);
    load_bind(s, cfg, g, prev_set, all_kept, errs->count == before, bind, errs, warns);
    load_place_check(cfg, d, prev, placed, bind, errs);
    free(placed);
    if (errs->count != before) {
        serve_bind_free(bind);
        snapshot_free(s);
        return NULL;
    }
    return s;
}

void load_zone_roles(struct zone *z, const struct config_zone *cz, const struct tsig_keyring *kr)
{
    load_transfer(z, &cz->xfr, kr);
    z->secondary = cz->primary.n > 0;
    if (!z->secondary)
        z->update = zone_update_policy_build(&cz->update, kr, &z->arena);
}

static struct serve_limits load_limits(const struct config *cfg)
{
    return (struct serve_limits){.edns_udp_max = cfg->edns_udp_max,
                                 .tcp_max_connections = cfg->tcp.max_connections,
                                 .tcp_idle_ms = cfg->tcp.idle_timeout_ms,
                                 .tcp_message_ms = cfg->tcp.message_timeout_ms};
}

/* What a set says and guards besides its data: the identity texts, what
 * the workers log to dnstap, the
 * cookie secrets (carried from prev) and the rate limiting (cfg->rrl, taken;
 * the table of prev kept when its size is the same). False with an error in
 * errs. */
static bool load_guard(struct serve_set *set, struct config *cfg, const struct serve_set *prev,
                       struct errlist *errs)
{
    set->identity.identity = cfg->identity ? jsoncfg_strdup(cfg->identity) : NULL;
    set->identity.version = cfg->version ? jsoncfg_strdup(cfg->version) : NULL;
    set->dnstap = dnstap_view_new(&cfg->dnstap, cfg->n_listen, cfg->identity, cfg->version);
    set->cookies = cfg->cookies;
    set->tsig_replay = tsig_replay_reuse(prev ? prev->tsig_replay : NULL);
    if (!set->tsig_replay) {
        errlist_add(errs, "%s: out of memory for the TSIG replay cache", cfg->path);
        return false;
    }
    if (!cookie_params_carry(&set->cookies, prev ? &prev->cookies : NULL)) {
        errlist_add(errs, "%s: %s: no random octets for the cookie secret", cfg->path,
                    config_key_path(CFG_K_COOKIES).s);
        return false;
    }
    if (!cfg->rrl)
        return true;
    set->rrl_table = rrl_table_reuse(prev ? prev->rrl_table : NULL, cfg->rrl->table_size);
    if (!set->rrl_table) {
        errlist_add(errs, "%s: %s: cannot allocate a table of %u slots", cfg->path,
                    config_key_path(CFG_K_RRL).s, cfg->rrl->table_size);
        return false;
    }
    set->rrl = cfg->rrl;
    cfg->rrl = NULL;
    return true;
}

/* The signatures of the policy answers of zones signed at load, for the
 * current state, before anyone reads the set; the health thread signs
 * the answers of later states (server.c). */
void load_policy_sigs(struct serve_set *set)
{
    struct policy_sigs_retired none = {0};
    set->sigs = policy_sigs_new(set->gslb, set->zones, 0);
    policy_sigs_update(set->sigs, set->geo, &none);
    policy_sigs_retired_free(&none);
}

/* What is valid but likely not meant (policy_shed_warn): into warns (gtmd
 * check, a change's reply), else logged (start, reload). */
static void load_warn_policies(const struct config *cfg, const struct gslb *g,
                               struct errlist *warns)
{
    struct errlist local;
    errlist_init(&local);
    policy_shed_warn(g, cfg->path, warns ? warns : &local);
    for (size_t i = 0; i < local.count; i++) {
        char q[1024];
        log_warn("event=config_warning note=\"%s\"", log_quote(local.msgs[i], q, sizeof(q)));
    }
    errlist_free(&local);
}

struct serve_set *load_set_warn(struct config *cfg, uint64_t generation, struct health_core *core,
                                const struct serve_set *prev, struct errlist *errs,
                                struct errlist *warns)
{
    return load_set_keep(cfg, generation, core, prev, NULL, errs, warns);
}

struct serve_set *load_set_keep(struct config *cfg, uint64_t generation, struct health_core *core,
                                const struct serve_set *prev, struct config_delta *delta,
                                struct errlist *errs, struct errlist *warns)
{
    struct gslb *g = cfg->gslb;
    cfg->gslb = NULL;
    size_t before = errs->count;
    struct serve_bind bind = {0};
    struct snapshot *s = load_snapshot(cfg, g, &cfg->tsig, prev, delta, &bind, errs, warns);
    /* Also after zone errors, so that check reports both at once. */
    struct policy_geo *geo = load_geo(cfg, g, errs);
    if (!s || errs->count != before) {
        policy_geo_free(geo);
        serve_bind_free(&bind);
        snapshot_free(s);
        gslb_unref(g);
        return NULL;
    }
    load_warn_policies(cfg, g, warns);
    struct serve_limits lim = load_limits(cfg);
    struct serve_set *set = serve_set_new(s, g, generation, &lim);
    set->bind = bind;
    set->geo = geo;        /* owned by the set from here (serve_set_free) */
    set->tsig = cfg->tsig; /* the zones point at its keys */
    memset(&cfg->tsig, 0, sizeof(cfg->tsig));
    if (!load_guard(set, cfg, prev, errs)) {
        serve_set_free(set);
        return NULL;
    }
    /* Last: a set that fails must not have mapped health slots. */
    if (g && core) {
        gslb_map_health(g, core);
        /* Failback ramps in progress go on; the state seen so far too. */
        policy_ramp_adopt(g, prev ? prev->gslb : NULL);
        policy_ramp_track(g);
        /* Widened scopes for the current state before anyone reads the
         * set; the health thread follows later changes (server.c). */
        struct policy_geo_retired none = {0};
        policy_geo_widen(g, geo, &none);
        policy_latency_refresh(g, geo, &none); /* latency records' tables likewise */
        policy_geo_retired_free(&none);
        load_policy_sigs(set);
    }
    return set;
}

struct serve_set *load_set_like(struct serve_set *cur, struct snapshot *s, struct serve_bind *bind,
                                uint64_t generation, const char *cfgpath, struct errlist *errs)
{
    if (cur->gslb)
        gslb_ref(cur->gslb);
    struct serve_set *set = serve_set_new(s, cur->gslb, generation, &cur->limits);
    set->bind = *bind; /* taken */
    *bind = (struct serve_bind){0};
    /* The same policy set: the same geo data and widened scopes. */
    set->geo = cur->geo;
    policy_geo_ref(set->geo);
    /* The same identity, secrets and rate limiting (and RRL table) as cur. */
    set->identity.identity = cur->identity.identity ? jsoncfg_strdup(cur->identity.identity) : NULL;
    set->identity.version = cur->identity.version ? jsoncfg_strdup(cur->identity.version) : NULL;
    set->cookies = cur->cookies;
    set->tsig_replay = cur->tsig_replay ? tsig_replay_reuse(cur->tsig_replay) : NULL;
    if (cur->gslb && cur->gslb->health) /* mapped: the answers can be evaluated */
        load_policy_sigs(set);
    if (cur->rrl) {
        set->rrl = rrl_params_copy(cur->rrl);
        set->rrl_table = rrl_table_reuse(cur->rrl_table, cur->rrl->table_size);
        if (!set->rrl || !set->rrl_table) {
            errlist_add(errs, "%s: %s: out of memory copying the rate limiting", cfgpath,
                        config_key_path(CFG_K_RRL).s);
            serve_set_free(set);
            return NULL;
        }
    }
    serve_set_take_tsig(set, cur);
    return set;
}

struct serve_set *load_resign(const struct config *cfg, struct serve_set *cur, uint64_t generation,
                              struct errlist *errs)
{
    /* The keys are cur's: the new set takes its keyring over
     * (load_set_like), so the zones' keys and update rules stay valid. */
    struct serve_bind bind = {0};
    struct snapshot *s = load_snapshot(cfg, cur->gslb, &cur->tsig, cur, NULL, &bind, errs, NULL);
    if (!s)
        return NULL;
    return load_set_like(cur, s, &bind, generation, cfg->path, errs);
}

uint32_t load_resign_interval(const struct config *cfg)
{
    uint32_t best = 0;
    for (size_t i = 0; i < cfg->n_zones; i++) {
        const struct zone_sign_params *sp = &cfg->zones[i].dnssec.sign;
        if (sp->n_keys && (best == 0 || sp->validity - sp->refresh < best))
            best = sp->validity - sp->refresh;
    }
    return best;
}

/* The octets e's probe host name takes in a target array's block (its
 * NUL included), 0 without one. */
static size_t load_host_len(const struct policy_endpoint *e)
{
    return e->check_host ? strlen(e->check_host) + 1 : 0;
}

/* Fills t for endpoint e probed with spec; a host name goes to *names
 * (the target array's block), which moves past it. */
static void load_target(const struct policy_endpoint *e, const struct probe_spec *spec,
                        struct sched_target *t, char **names)
{
    uint16_t port = e->check_port ? e->check_port : spec->port;
    t->spec = spec;
    t->slot = e->slot;
    t->port = port;
    if (e->check_host) {
        size_t l = load_host_len(e);
        memcpy(*names, e->check_host, l);
        if (l > 2 && (*names)[l - 2] == '.') /* "name." -> "name": Host, SNI */
            (*names)[l - 2] = '\0';
        t->host = *names;
        *names += l;
        return;
    }
    if (e->check_len) {
        memcpy(&t->addr, &e->check_addr, e->check_len);
        t->addr_len = e->check_len;
    } else if (e->rtype == DNS_TYPE_A) {
        struct sockaddr_in *a = (struct sockaddr_in *)&t->addr;
        a->sin_family = AF_INET;
        memcpy(&a->sin_addr, e->rd.addr, 4);
        t->addr_len = sizeof(*a);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&t->addr;
        a->sin6_family = AF_INET6;
        memcpy(&a->sin6_addr, e->rd.addr, 16);
        t->addr_len = sizeof(*a);
    }
    if (t->addr.ss_family == AF_INET)
        ((struct sockaddr_in *)&t->addr)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)&t->addr)->sin6_port = htons(port);
}

/* First probes are spread over a tenth of the interval. */
static void load_first_round(const struct probe_spec *spec, uint32_t *max_timeout_ms)
{
    uint32_t first = spec->timeout_ms + spec->interval_ms / 10;
    if (first > *max_timeout_ms)
        *max_timeout_ms = first;
}

/* One target per endpoint of p and child check of its composite pc. */
static void load_composite_targets(const struct gslb *g, const struct policy_pool *p,
                                   const struct policy_check *pc, struct sched_target *t, size_t *n,
                                   char **names, uint32_t *max_timeout_ms)
{
    for (size_t x = 0; x < pc->comp.n_of; x++) {
        const struct probe_spec *spec = &g->checks[pc->of[x]].spec;
        load_first_round(spec, max_timeout_ms);
        for (size_t k = 0; k < p->n_eps; k++) {
            const struct policy_endpoint *e = &p->eps[k];
            struct sched_target *tt = &t[(*n)++];
            load_target(e, spec, tt, names);
            if (!e->kid_slots)
                continue; /* not mapped (gtmd check): nothing runs it */
            tt->slot = e->kid_slots[x];
            tt->parent = e->slot;
            tt->comp = &pc->comp;
            tt->kids = e->kid_slots;
        }
    }
}

struct sched_target *load_probe_targets(const struct gslb *g, size_t *n, uint32_t *max_timeout_ms)
{
    size_t total = 0, text = 0;
    *n = 0;
    *max_timeout_ms = 0;
    for (size_t i = 0; g && i < g->n_pools; i++) {
        int c = g->pools[i].check;
        size_t per = c < 0 ? 0 : g->checks[c].composite ? g->checks[c].comp.n_of : 1;
        total += per * g->pools[i].n_eps;
        for (size_t k = 0; per && k < g->pools[i].n_eps; k++)
            text += per * load_host_len(&g->pools[i].eps[k]);
    }
    /* The targets, then their host names: one block, freed as the array. */
    struct sched_target *t = calloc(1, (total ? total : 1) * sizeof(*t) + text);
    if (!t)
        abort();
    char *names = (char *)(t + (total ? total : 1));
    for (size_t i = 0; g && i < g->n_pools; i++) {
        const struct policy_pool *p = &g->pools[i];
        if (p->check < 0)
            continue;
        const struct policy_check *pc = &g->checks[p->check];
        if (pc->composite) {
            load_composite_targets(g, p, pc, t, n, &names, max_timeout_ms);
            continue;
        }
        load_first_round(&pc->spec, max_timeout_ms);
        for (size_t k = 0; k < p->n_eps; k++)
            load_target(&p->eps[k], &pc->spec, &t[(*n)++], &names);
    }
    return t;
}

/* The zone of snapshot s whose origin is exactly origin (wire), or NULL. */
static const struct zone *load_zone_named(const struct snapshot *s, const uint8_t *origin,
                                          size_t len)
{
    for (size_t i = 0; s && i < s->n_zones; i++)
        if (s->zones[i]->origin_len == len && memcmp(s->zones[i]->origin, origin, len) == 0)
            return s->zones[i];
    return NULL;
}

/* One zone's NOTIFY: its origin, serial, targets and a copy of its key. */
static void load_notify_zone(const struct config_zone *cz, const struct zone *z,
                             const struct tsig_keyring *kr, struct notify_zone *nz)
{
    memcpy(nz->origin, z->origin, z->origin_len);
    nz->origin_len = z->origin_len;
    snprintf(nz->origin_str, sizeof(nz->origin_str), "%s", z->origin_str);
    nz->serial = z->serial;
    nz->n_targets = cz->xfr.n_notify;
    nz->targets = calloc(nz->n_targets, sizeof(*nz->targets));
    nz->target_lens = calloc(nz->n_targets, sizeof(*nz->target_lens));
    if (!nz->targets || !nz->target_lens)
        abort();
    memcpy(nz->targets, cz->xfr.notify, nz->n_targets * sizeof(*nz->targets));
    memcpy(nz->target_lens, cz->xfr.notify_len, nz->n_targets * sizeof(*nz->target_lens));
    const struct tsig_key *k = cz->xfr.key ? tsig_keyring_by_id(kr, cz->xfr.key) : NULL;
    nz->signed_ = k != NULL;
    if (k) {
        nz->key = *k;
        nz->key.id = NULL; /* the copy owns nothing */
    }
}

struct notify_job *load_notify_job(const struct config *cfg, const struct snapshot *before,
                                   const struct serve_set *now)
{
    struct notify_job *job = calloc(1, sizeof(*job));
    if (!job || !(job->zones = calloc(cfg->n_zones ? cfg->n_zones : 1, sizeof(*job->zones))))
        abort();
    for (size_t i = 0; i < cfg->n_zones; i++) {
        const struct config_zone *cz = &cfg->zones[i];
        struct dns_name n;
        if (cz->xfr.n_notify == 0 || !dns_name_from_str(cz->origin, &n))
            continue;
        const struct zone *z = load_zone_named(now->zones, n.wire, n.len);
        const struct zone *old = load_zone_named(before, n.wire, n.len);
        if (z && (!old || old->serial != z->serial))
            load_notify_zone(cz, z, &now->tsig, &job->zones[job->n++]);
    }
    return job;
}

void load_journal_zone(const struct config *cfg, size_t zi, const struct zone *old,
                       struct zone *now)
{
    const struct config_zone *cz = &cfg->zones[zi];
    if (!cz->xfr.journal || !now)
        return;
    struct zone_journal *j = calloc(1, sizeof(*j));
    char why[600];
    if (!j)
        return;
    if (!zone_journal_update(cz->xfr.journal, cz->xfr.journal_max, old, now, j, why, sizeof(why)))
        log_warn("event=journal zone=%s result=failed why=\"%s\"", cz->origin, why);
    now->journal = j;
}

void load_journals(const struct config *cfg, const struct serve_set *prev, struct serve_set *now)
{
    for (size_t i = 0; i < cfg->n_zones; i++) {
        const struct config_zone *cz = &cfg->zones[i];
        struct dns_name n;
        bool copy = cz->gen_catalog && cz->file;
        if ((!cz->xfr.journal && !copy) || !dns_name_from_str(cz->origin, &n))
            continue;
        struct zone *z = (struct zone *)load_zone_named(now->zones, n.wire, n.len);
        const struct zone *old = prev ? load_zone_named(prev->zones, n.wire, n.len) : NULL;
        if (z && z == old)
            continue; /* kept as it is (load_set_keep): its journal with it */
        /* At start, a generated catalog's previous version is its copy:
         * the journal's entry across the restart comes from it. */
        struct zone *disk = !old && copy && cz->xfr.journal ? load_catalog_previous(cz) : NULL;
        load_journal_zone(cfg, i, old ? old : disk, z);
        load_catalog_keep(cz, old, z);
        if (disk)
            zone_free(disk);
    }
}
