/*
 * policy_latency.h -- "policy": "latency": the healthy endpoints with the
 * lowest round-trip time from the vantage point that represents the
 * client (doc/policies.md, "Latency").
 *
 * Data: every node's moving averages (health/rtt.h), its own from its
 * probes and the others' from the fleet. A client is represented by a
 * vantage point: the node named by the record's "vantage" map (geo-map
 * keys, through the same class trie as a geo record, so the ECS scope is
 * the class's, exact), or the node that answers when there is no map or
 * none of the named nodes has a table (a node without a fleet has none
 * but its own).
 *
 * Off the query path (policy_latency_refresh: the health thread after
 * every change of the averages' generation, and the loader before a set
 * is published), each latency record gets a *set*: for every vantage
 * point it names, the pool's endpoints sorted by average (known ones,
 * ascending), then those without one in the record's region order; and
 * for every class of its map, the table of the first named vantage point
 * that has data (else this node's own). A set is one allocation, published with an atomic
 * pointer swap in the served set's geo data (policy_geo_rec.lat); the
 * replaced one is retired (freed after serve_sync), as the widened
 * scopes' marks are.
 *
 * Query path (policy_eval): one class lookup (with a map), one pointer
 * load, then a walk of the class's table from the fastest: the first
 * healthy endpoint sets the best average, and every healthy endpoint
 * within the tolerance of it (the larger of tolerance_ms and
 * tolerance_pct of the best) is a candidate; the record's select and
 * answers apply to them (default: one, at random). A down endpoint is
 * never a candidate, however fast. With no healthy endpoint of known
 * latency, the record answers as a failover record along its regions.
 * No lock, no allocation.
 *
 * Ownership: the record owns its policy_latency_cfg (freed with the
 * gslb); the geo data owns the current set of each record.
 */
#ifndef GTM_POLICY_POLICY_LATENCY_H
#define GTM_POLICY_POLICY_LATENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"
#include "policy/policy.h"
#include "policy/policy_geo.h"

struct policy_latency_cfg {
    uint32_t tolerance_us; /* "tolerance_ms" */
    uint32_t tolerance_pct;
    /* Distinct vantage point names; [0] is "": the node that answers. */
    char **vantages;
    size_t n_vantages;
    /* Per class of the vantage map (n_keys + 1, the last the unknown
     * location, served by "default"; 1 class without a map): the vantage
     * points to try, in order, as indexes into vantages. */
    uint16_t **class_vantages;
    uint16_t *class_n;
    size_t n_classes;
};

/* The keys of a record's "latency" object (for `gtmd keys`). */
extern const struct cfgschema policy_latency_schema;

/* Parses obj (NULL: every default), the "latency" object of a record at
 * path, into x->latency (the record's rarely used parts, being compiled);
 * a vantage map becomes x->geo. Errors go to j. */
void policy_latency_parse(const struct jsoncfg *j, json_t *obj, const char *path,
                          struct policy_record_ext *x);
void policy_latency_cfg_free(struct policy_latency_cfg *c);

/* One endpoint as a vantage point sees it. */
struct policy_lat_row {
    const struct policy_endpoint *ep;
    uint32_t ewma_us; /* UINT32_MAX: unknown */
    uint32_t samples;
    double at; /* wall time of the vantage point's last sample */
};

struct policy_lat_table {
    const char *vantage; /* the record's name for it ("": the node that answers) */
    uint32_t n, n_known; /* rows; the first n_known have an average */
    const struct policy_lat_row *rows;
};

struct policy_lat_set {
    uint64_t gen; /* the rtt generation it was built from (health/rtt.h) */
    uint32_t n_classes, n_tabs;
    const struct policy_lat_table *const *cls; /* the table of each class */
    const struct policy_lat_table *tabs;       /* one per vantage point */
};

/* The table a client of class cls is served from, or NULL (no set yet).
 * Inside serve_enter. */
static inline const struct policy_lat_table *
policy_latency_table(const struct policy_geo *pg, const struct policy_record *r, uint32_t cls)
{
    if (!pg || r->index >= pg->n_recs)
        return NULL;
    const struct policy_lat_set *s =
        atomic_load_explicit(&pg->recs[r->index].lat, memory_order_acquire);
    if (!s || s->n_classes == 0)
        return NULL;
    return s->cls[cls < s->n_classes ? cls : s->n_classes - 1];
}

/* The limit of the tolerance around best (microseconds). */
static inline uint64_t policy_latency_limit(const struct policy_latency_cfg *c, uint32_t best_us)
{
    uint64_t pct = (uint64_t)best_us * c->tolerance_pct / 100;
    return (uint64_t)best_us + (pct > c->tolerance_us ? pct : c->tolerance_us);
}

/*
 * Rebuilds the sets of g's latency records whose data moved since they
 * were built (g->health's rtt generation), replacing them in pg; the
 * replaced sets go to retired (freed after serve_sync, or at once when pg
 * was never published). Off the query path, one caller at a time for pg.
 * Returns the number of sets rebuilt.
 */
size_t policy_latency_refresh(const struct gslb *g, struct policy_geo *pg,
                              struct policy_geo_retired *retired);

#endif
