/*
 * load_bind.c -- the policy bindings of a set being loaded, attached to
 * their zone nodes (serve_bind.h): shared with the running set when no
 * binding moved, carried from its table when they moved, or attached one
 * by one (load_int.h, load_bind).
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/load_int.h"
#include "policy/policy.h"
#include "serve/serve_bind.h"

/* The node each binding of prev's policy set is attached at (by the
 * index of the binding), from prev's table; NULL where none is. Caller
 * frees. */
static const struct zone_node **load_bound_nodes(const struct serve_set *prev)
{
    const struct gslb *p = prev->gslb;
    const struct zone_node **at = calloc(p->n_records ? p->n_records : 1, sizeof(*at));
    if (!at)
        abort();
    for (uint32_t i = 0; prev->bind.nodes && i <= prev->bind.mask; i++)
        if (prev->bind.nodes[i])
            at[prev->bind.binding[i]] = prev->bind.nodes[i];
    return at;
}

/* Whether record r of g is the record of its origin (policy.h) that was
 * o, or both are NULL. */
static bool load_same_origin(const struct gslb *g, const struct policy_record *r,
                             const struct policy_record *o)
{
    return r ? gslb_origin_of(g, r->index) == o : o == NULL;
}

/* The node binding i of g is attached at when it binds the very records
 * (taken compiled) that the running set's binding bound, in zones kept
 * as they are: checked when that set was built, with the same inputs.
 * NULL: attach it (load_attach). */
static const struct zone_node *load_kept_node(const struct gslb *g, size_t i,
                                              const struct zone_node **nodes)
{
    size_t f = nodes ? gslb_from(g, i) : GSLB_COMPILED;
    if (f == GSLB_COMPILED)
        return NULL;
    const struct policy_binding *b = gslb_binding(g, i), *o = gslb_binding(g->from_g, f);
    if (!load_same_origin(g, b->a, o->a) || !load_same_origin(g, b->aaaa, o->aaaa) ||
        !load_same_origin(g, b->cname, o->cname))
        return NULL;
    return nodes[f];
}

/* load_attach_all when every zone is the running set's (prev's) and
 * neither policy set has a record with a loose key: a binding of g taken
 * from prev's set binds the very records of one key that prev's binding
 * at its origin bound (policy_bind_names binds by key then, and a change
 * takes a key's records whole, with pools of the same shape), so prev's
 * table is carried over with the bindings swapped (serve_bind_carry), and
 * only the others are attached (load_attach). False: not the case, bind
 * untouched. */
static bool load_attach_carried(struct snapshot *s, const struct config *cfg, const struct gslb *g,
                                const struct serve_set *prev, struct serve_bind *bind,
                                struct errlist *errs, struct errlist *warns)
{
    const struct gslb *p = prev->gslb;
    if (!gslb_bound_by_key(g) || !gslb_bound_by_key(p) || !p->bchunks ||
        p->n_bindings != p->n_records)
        return false;
    uint32_t *to = malloc((p->n_records ? p->n_records : 1) * sizeof(*to));
    uint32_t *carried = calloc(g->n_records ? g->n_records : 1, sizeof(*carried));
    size_t *rest = malloc((g->n_records ? g->n_records : 1) * sizeof(*rest)), n_rest = 0, n_to = 0;
    if (!to || !carried || !rest)
        abort();
    memset(to, 0xff, (p->n_records ? p->n_records : 1) * sizeof(*to));
    for (size_t i = 0; i < g->n_records; i++) {
        const struct policy_binding *b = gslb_binding(g, i), *o;
        if (!policy_binding_any(b))
            continue;
        size_t f = gslb_from(g, i);
        o = f != GSLB_COMPILED ? gslb_binding(p, f) : NULL;
        /* The same slots too: a slot bound anew (AAAA) is checked against
         * the zone's data by load_attach (a static AAAA there). */
        if (o && policy_binding_any(o) && policy_binding_same_slots(b, o)) {
            to[f] = (uint32_t)i;
            n_to++;
        } else
            rest[n_rest++] = i;
    }
    size_t n = serve_bind_carry(bind, &prev->bind, to, p->n_records, carried);
    free(to);
    if (n != SIZE_MAX) {
        for (size_t x = 0; x < n_rest; x++)
            load_attach(s, cfg, gslb_binding(g, rest[x]), gslb_rec(g, rest[x]), bind, errs, warns);
        /* Taken, but not attached in prev (its secondary zone had no copy
         * yet, or its data answered there): attached, or told, again. */
        for (size_t i = 0; n < n_to && i < g->n_records; i++) {
            const struct policy_binding *b = gslb_binding(g, i);
            size_t f = policy_binding_any(b) && !carried[i] ? gslb_from(g, i) : GSLB_COMPILED;
            if (f != GSLB_COMPILED && policy_binding_any(gslb_binding(p, f)) &&
                policy_binding_same_slots(b, gslb_binding(p, f)))
                load_attach(s, cfg, b, gslb_rec(g, i), bind, errs, warns);
        }
    }
    free(carried);
    free(rest);
    return n != SIZE_MAX;
}

/* load_shared_indices for a set built in place from p: its records other
 * than the redone ones are p's at their indices, and so are their
 * bindings (a name's binding is at its first record, and a touched name
 * is redone whole), so only the redone indices are looked at: those
 * bound in p are no longer where they were (n_to counts the others from
 * p's count, gslb.n_bound), and those bound now are attached again. */
static bool load_shared_inplace(const struct gslb *g, const struct gslb *p, size_t *rest,
                                size_t *n_rest, size_t *n_to)
{
    size_t gone = 0;
    *n_rest = 0;
    for (size_t x = 0; x < g->n_redone; x++) {
        size_t i = g->redone[x];
        bool any = policy_binding_any(gslb_binding(g, i)),
             was = policy_binding_any(gslb_binding(p, i));
        if (!any && was)
            return false;
        gone += was;
        if (any)
            rest[(*n_rest)++] = i;
    }
    *n_to = p->n_bound - gone;
    return true;
}

/* Whether the bindings of g stand where prev's stood: g's records keep
 * their indices (policy_config_touched.c compiles a touched name in its
 * room), so no binding moved, and one unbound now was unbound before
 * (its entry would have to go). The indices of the bindings to attach
 * again (compiled, or bound to other slots) into rest; their number. */
static bool load_shared_indices(const struct gslb *g, const struct gslb *p, size_t *rest,
                                size_t *n_rest, size_t *n_to)
{
    if (gslb_inplace_from(g, p))
        return load_shared_inplace(g, p, rest, n_rest, n_to);
    if (g->n_records != p->n_records || g->n_bindings != g->n_records || !g->from)
        return false;
    *n_rest = *n_to = 0;
    for (size_t i = 0; i < g->n_records; i++) {
        const struct policy_binding *b = gslb_binding(g, i), *o = gslb_binding(p, i);
        if (g->from[i] != i && g->from[i] != GSLB_COMPILED)
            return false;
        bool any = policy_binding_any(b), was = policy_binding_any(o);
        if (!any && was)
            return false;
        if (any && g->from[i] == i && was && policy_binding_same_slots(b, o))
            (*n_to)++;
        else if (any)
            rest[(*n_rest)++] = i;
    }
    return true;
}

/* load_attach_carried's case when no binding moved (load_shared_indices):
 * bind (zeroed) shares the running set's table as it is (serve_bind_share,
 * issue #55) when the bindings attached again land where prev had them
 * (a scratch table holds them, compared with prev's) and prev's table
 * holds every other binding, so a change costs what it touched, not a
 * pass over the table. False: bind untouched, attach otherwise. */
static bool load_attach_shared(struct snapshot *s, const struct config *cfg, const struct gslb *g,
                               const struct serve_set *prev, struct serve_bind *bind,
                               struct errlist *errs, struct errlist *warns)
{
    const struct gslb *p = prev->gslb;
    if (!gslb_bound_by_key(g) || !gslb_bound_by_key(p) || !p->bchunks ||
        p->n_bindings != p->n_records || !prev->bind.nodes || prev->bind.base != p->bchunks)
        return false;
    /* Room for every record to attach again, or for the redone ones of
     * a set built in place (8 MB mapped per change at a million). */
    size_t room = gslb_inplace_from(g, p) ? g->n_redone : g->n_records;
    size_t *rest = malloc((room ? room : 1) * sizeof(*rest)), n_rest, n_to;
    if (!rest)
        abort();
    bool ok = load_shared_indices(g, p, rest, &n_rest, &n_to) && prev->bind.n == n_to + n_rest;
    struct serve_bind again = {0};
    struct errlist w;
    errlist_init(&w);
    size_t before = errs->count;
    if (ok) {
        /* Warnings into w: a record a secondary zone's data answers for
         * is not attached, and the other path tells it again. */
        serve_bind_init(&again, n_rest, g->bchunks, NULL);
        for (size_t x = 0; x < n_rest; x++)
            load_attach(s, cfg, gslb_binding(g, rest[x]), gslb_rec(g, rest[x]), &again, errs, &w);
        ok = errs->count != before || (again.n == n_rest && serve_bind_within(&again, &prev->bind));
    }
    if (ok) {
        serve_bind_share(bind, &prev->bind, g->bchunks);
        for (size_t i = 0; i < w.count; i++)
            errlist_add(warns, "%s", w.msgs[i]);
    }
    serve_bind_free(&again);
    errlist_free(&w);
    free(rest);
    return ok;
}

/* Attaches every binding of g to its node in bind (made here): those
 * kept as they were (all_kept: every zone is the running set's) at the
 * running set's node, the others through load_attach. */
static void load_attach_all(struct snapshot *s, const struct config *cfg, const struct gslb *g,
                            const struct serve_set *prev, bool all_kept, struct serve_bind *bind,
                            struct errlist *errs, struct errlist *warns)
{
    if (all_kept && prev && prev->gslb && g->from_g == prev->gslb &&
        load_attach_carried(s, cfg, g, prev, bind, errs, warns))
        return;
    const struct zone_node **nodes =
        all_kept && prev && prev->gslb && g->from_g == prev->gslb ? load_bound_nodes(prev) : NULL;
    for (size_t i = 0; i < g->n_records; i++) {
        const struct policy_binding *b = gslb_binding(g, i);
        if (!b->a && !b->aaaa && !b->cname)
            continue;
        const struct zone_node *node = load_kept_node(g, i, nodes);
        if (node)
            serve_bind_put(bind, node, (uint32_t)i);
        else
            load_attach(s, cfg, b, gslb_rec(g, i), bind, errs, warns);
    }
    free(nodes);
}

void load_bind(struct snapshot *s, const struct config *cfg, const struct gslb *g,
               const struct serve_set *prev, bool all_kept, bool attach, struct serve_bind *bind,
               struct errlist *errs, struct errlist *warns)
{
    if (g && attach && all_kept && prev && prev->gslb && g->from_g == prev->gslb &&
        load_attach_shared(s, cfg, g, prev, bind, errs, warns))
        return; /* bind holds the running set's table */
    serve_bind_init(bind, g ? g->n_records : 0, g ? g->bchunks : NULL, g ? g->spare : NULL);
    if (g && attach)
        load_attach_all(s, cfg, g, prev, all_kept, bind, errs, warns);
}
