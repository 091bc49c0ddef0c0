/*
 * config_delta.c -- what a new configuration changes (config_delta.h).
 */
#include "control/config_delta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonwalk.h"
#include "control/config_keys.h"
#include "dns/dns.h"
#include "dns/name.h"
#include "policy/policy.h"
#include "zone/zone_place.h"

/* The policy sections compared resource by resource; zones by entry. */
static const char *const delta_kinds[] = {"records", "pools", "checks", "regions", NULL};

/* Whether two members are the same: the same value (a change through the
 * API shares what it did not touch with the running document), or equal. */
static bool delta_same(json_t *a, json_t *b)
{
    return a == b || (a && b && json_equal(a, b));
}

/* The counts of one comparison, and the names of what differs. */
struct delta_count {
    size_t added, removed, changed;
    json_t *touched; /* NULL: not kept */
};

static void delta_touch(struct delta_count *c, size_t *n, const char *k)
{
    (*n)++;
    if (c->touched)
        json_array_append_new(c->touched, json_string(k));
}

static void delta_member(const char *k, json_t *in_a, json_t *in_b, void *arg)
{
    struct delta_count *c = arg;
    if (in_a && in_b && !delta_same(in_a, in_b))
        delta_touch(c, &c->changed, k);
    else if (!in_a)
        delta_touch(c, &c->added, k);
    else if (!in_b)
        delta_touch(c, &c->removed, k);
}

/* {"added", "removed", "changed"} of c. */
static json_t *delta_counts(const struct delta_count *c)
{
    return json_pack("{s:I, s:I, s:I}", "added", (json_int_t)c->added, "removed",
                     (json_int_t)c->removed, "changed", (json_int_t)c->changed);
}

/* {"added", "removed", "changed"} of object a (old) against b (new), by
 * member name; touched (if not NULL) gets the names of the members that
 * differ. The two are walked side by side (jsonwalk.h: a change through
 * the API keeps the order and the untouched members' values, so an
 * unchanged member costs a name and a pointer compared, not a lookup). */
static json_t *delta_members(json_t *a, json_t *b, json_t *touched)
{
    struct delta_count c = {0, 0, 0, touched};
    jsonwalk_changed(a, b, delta_member, &c);
    return delta_counts(&c);
}

/* Whether known (a jsondelta, config_delta_new) tells what section k
 * changes member by member: it neither puts nor drops k whole. */
static bool delta_known_for(json_t *known, const char *k)
{
    json_t *v;
    size_t i;
    if (!known || json_object_get(json_object_get(known, "put"), k))
        return false;
    json_array_foreach(json_object_get(known, "drop"), i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), k) == 0)
            return false;
    }
    return true;
}

/* delta_members from what known says of section k (delta_known_for): a
 * member it puts is changed when a has it, else added; one it drops is
 * removed. a: the old section. */
static json_t *delta_members_known(json_t *a, json_t *known, const char *k, json_t *touched)
{
    struct delta_count c = {0, 0, 0, touched};
    json_t *in = json_object_get(json_object_get(known, "in"), k), *v;
    const char *name;
    size_t i;
    json_object_foreach(json_object_get(in, "put"), name, v)
        delta_touch(&c, json_object_get(a, name) ? &c.changed : &c.added, name);
    json_array_foreach(json_object_get(in, "drop"), i, v)
    {
        if (json_is_string(v))
            delta_touch(&c, &c.removed, json_string_value(v));
    }
    return delta_counts(&c);
}

/* The endpoints of pool p (an object) as an object by name. */
static json_t *delta_endpoints_of(json_t *p)
{
    json_t *o = json_object(), *e;
    size_t i;
    json_array_foreach(json_object_get(p, "endpoints"), i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n)
            json_object_set(o, n, e);
    }
    return o;
}

/* Adds to n (added, removed, changed) the endpoints of pool was (NULL:
 * none before) that differ in now (NULL: gone). */
static void delta_endpoints_one(json_t *was, json_t *now, json_int_t n[3])
{
    if (!was || !now || delta_same(was, now))
        return;
    json_t *ea = delta_endpoints_of(was), *eb = delta_endpoints_of(now);
    json_t *c = delta_members(ea, eb, NULL);
    n[0] += json_integer_value(json_object_get(c, "added"));
    n[1] += json_integer_value(json_object_get(c, "removed"));
    n[2] += json_integer_value(json_object_get(c, "changed"));
    json_decref(c);
    json_decref(ea);
    json_decref(eb);
}

/* The endpoints added, removed and changed in pools present before and
 * after (a pool added or removed counts as a pool). With known (the
 * change's own delta, delta_known_for "pools"), only the pools it puts
 * are compared: the others are the old document's (issue #55: a walk of
 * 10,000 endpoints' pools on every change of a record). */
static json_t *delta_endpoints(json_t *a, json_t *b, json_t *known)
{
    json_int_t n[3] = {0, 0, 0};
    const char *k;
    json_t *v;
    if (delta_known_for(known, "pools")) {
        json_t *in = json_object_get(json_object_get(known, "in"), "pools");
        json_object_foreach(json_object_get(in, "put"), k, v)
            delta_endpoints_one(json_object_get(a, k), json_object_get(b, k), n);
    } else
        json_object_foreach(b, k, v) delta_endpoints_one(json_object_get(a, k), v, n);
    return json_pack("{s:I, s:I, s:I}", "added", n[0], "removed", n[1], "changed", n[2]);
}

/* Whether record value r (a record, or an array of records of one name)
 * has a geo map. */
static bool delta_has_geo(json_t *r)
{
    if (json_is_object(r))
        return json_object_get(r, "geo") != NULL;
    json_t *e;
    size_t i;
    json_array_foreach(r, i, e) if (json_object_get(e, "geo")) return true;
    return false;
}

/* Records with a geo map (before or after) among those that differ
 * (touched: their names). */
static json_int_t delta_geo_maps(json_t *a, json_t *b, json_t *touched)
{
    json_int_t n = 0;
    json_t *t;
    size_t i;
    json_array_foreach(touched, i, t)
    {
        json_t *was = json_object_get(a, json_string_value(t));
        json_t *now = json_object_get(b, json_string_value(t));
        n += (now && delta_has_geo(now)) || (was && delta_has_geo(was));
    }
    return n;
}

/* The top-level keys other than the policy sections and zones whose
 * values differ. */
static json_t *delta_other(json_t *a, json_t *b)
{
    json_t *out = json_array(), *v;
    const char *k;
    json_t *keys = json_object();
    json_object_foreach(a, k, v) json_object_set(keys, k, json_null());
    json_object_foreach(b, k, v) json_object_set(keys, k, json_null());
    json_object_foreach(keys, k, v)
    {
        bool policy = strcmp(k, "zones") == 0;
        for (const char *const *x = delta_kinds; *x && !policy; x++)
            policy = strcmp(*x, k) == 0;
        json_t *va = json_object_get(a, k), *vb = json_object_get(b, k);
        if (!policy && !(va == vb || (va && vb && json_equal(va, vb))))
            json_array_append_new(out, json_string(k));
    }
    json_decref(keys);
    return out;
}

static json_t *delta_summary(json_t *a, json_t *b, json_t *touched, json_t *known)
{
    json_t *s = json_object();
    for (const char *const *k = delta_kinds; *k; k++) {
        json_t *ak = json_object_get(a, *k), *t = strcmp(*k, "records") == 0 ? touched : NULL;
        json_object_set_new(s, *k,
                            delta_known_for(known, *k)
                                ? delta_members_known(ak, known, *k, t)
                                : delta_members(ak, json_object_get(b, *k), t));
    }
    json_object_set_new(
        s, "endpoints",
        delta_endpoints(json_object_get(a, "pools"), json_object_get(b, "pools"), known));
    json_object_set_new(s, "geo_maps",
                        json_integer(delta_geo_maps(json_object_get(a, "records"),
                                                    json_object_get(b, "records"), touched)));
    while (json_array_size(touched) > 10) /* the summary names a few */
        json_array_remove(touched, json_array_size(touched) - 1);
    json_object_set_new(s, "other", delta_other(a, b));
    return s;
}

/* ---- which zones are kept ------------------------------------------------ */

/* The zone entry of origin in the "zones" array z, or NULL. */
static json_t *delta_zone_entry(json_t *z, const char *origin)
{
    json_t *e;
    size_t i;
    json_array_foreach(z, i, e)
    {
        const char *o = json_string_value(json_object_get(e, "origin"));
        if (o && strcasecmp(o, origin) == 0)
            return e;
    }
    return NULL;
}

/* Whether old and next configure the same origins in the same order. */
static bool delta_same_origins(const struct config *old, const struct config *next)
{
    if (old->n_zones != next->n_zones)
        return false;
    for (size_t i = 0; i < next->n_zones; i++)
        if (strcasecmp(old->zones[i].origin, next->zones[i].origin) != 0)
            return false;
    return true;
}

/* Zone cz may be kept as far as its own entry tells. */
static bool delta_zone_entry_same(const struct config *old, const struct config *next, size_t i)
{
    const struct config_zone *cz = &next->zones[i];
    /* Its compiled form points at the running set's key ring (a transfer
     * key, update rules), or its content is made from other zones. */
    if (cz->xfr.key || cz->primary.n || cz->catalog_dir || cz->catalog_member || cz->gen_catalog ||
        cz->update.n)
        return false;
    json_t *a = delta_zone_entry(json_object_get(old->root, "zones"), cz->origin);
    json_t *b = delta_zone_entry(json_object_get(next->root, "zones"), cz->origin);
    if (!a || !b || !delta_same(a, b))
        return false;
    /* The signing policy it names signs it too (zone_kasp.h): an edit of
     * the policy alone is an edit of the zone's signing. */
    const char *pol = cz->dnssec.policy;
    if (!pol)
        return true;
    const char *key = config_key_at(CFG_K_DNSSEC_POLICIES)->name;
    json_t *pa = json_object_get(json_object_get(old->root, key), pol);
    json_t *pb = json_object_get(json_object_get(next->root, key), pol);
    return pa && pb && delta_same(pa, pb);
}

/* The index in cur's snapshot of zone z (linear: zones are few next to
 * names, and names are looked up once per name). */
static size_t delta_zone_index(const struct snapshot *s, const struct zone *z)
{
    for (size_t i = 0; i < s->n_zones; i++)
        if (s->zones[i] == z)
            return i;
    return s->n_zones;
}

/* The policy flags the records of binding b give their name. */
static uint16_t delta_flags(const struct policy_binding *b)
{
    return (uint16_t)((b->a ? zone_policy_flag(b->a->rtype) : 0) |
                      (b->aaaa ? zone_policy_flag(b->aaaa->rtype) : 0) |
                      (b->cname ? zone_policy_flag(b->cname->rtype) : 0));
}

/* Marks in same[] (one per zone of cur's snapshot) the zones whose policy
 * names and types differ from what g gives them. */
static void delta_policy_names(const struct gslb *g, const struct snapshot *s, bool *same)
{
    size_t *count = calloc(s->n_zones + 1, sizeof(*count));
    const struct zone *last = NULL;
    size_t last_i = s->n_zones;
    if (!count)
        abort();
    for (size_t i = 0; g && i < g->n_records; i++) {
        const struct policy_binding *b = gslb_binding(g, i);
        struct dns_name n;
        if (!(b->a || b->aaaa || b->cname) ||
            !dns_name_index(gslb_rec(g, i)->name, gslb_rec(g, i)->name_len, &n))
            continue;
        const struct zone *z = snapshot_find_zone(s, &n, DNS_TYPE_A);
        if (!z)
            continue; /* outside every zone: the loader says so */
        size_t zi = z == last ? last_i : delta_zone_index(s, z);
        last = z;
        last_i = zi;
        const struct zone_node *node =
            zone_find_node(z, n.wire, n.len, dns_name_hash(n.wire, n.len));
        if (!node || (node->flags & ZONE_POLICY_FLAGS) != delta_flags(b))
            same[zi] = false;
        count[zi]++;
    }
    for (size_t i = 0; i < s->n_zones; i++)
        if (count[i] != s->zones[i]->n_policy_names)
            same[i] = false;
    free(count);
}

/* The policy names a delta saw change, by zone of cur's snapshot (the
 * zone index rewritten to next's by delta_keep); ok false once they are
 * too many or were not all seen (a walk of every name). */
struct delta_places {
    struct config_place *v;
    size_t n, cap;
    bool ok;
};

/* Notes name n of zone zi of the snapshot with flags (present: named by
 * a binding of the new set). */
static void delta_place_note(struct delta_places *pl, size_t zi, const struct dns_name *n,
                             uint16_t flags, bool present)
{
    if (!pl || !pl->ok)
        return;
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 8;
        struct config_place *v =
            cap <= 2 * ZONE_PLACE_MAX ? realloc(pl->v, cap * sizeof(*v)) : NULL;
        if (!v) {
            pl->ok = false; /* too many for placing: the zone is read */
            return;
        }
        pl->v = v;
        pl->cap = cap;
    }
    struct config_place *c = &pl->v[pl->n++];
    c->zone = zi;
    c->flags = flags;
    c->present = present;
    c->len = (uint8_t)n->len;
    memcpy(c->name, n->wire, n->len);
}

/* Marks zone of name n (in s) as changed: a name no binding names now. */
static void delta_mark_name(const struct snapshot *s, const struct dns_name *n, bool *same,
                            struct delta_places *pl)
{
    const struct zone *z = snapshot_find_zone(s, n, DNS_TYPE_A);
    if (z) {
        size_t zi = delta_zone_index(s, z);
        same[zi] = false;
        delta_place_note(pl, zi, n, 0, false);
    }
}

/* Binding b of g binds the very records (taken compiled, policy.h: from)
 * that binding o of g's origin bound. */
static bool delta_same_binding(const struct gslb *g, const struct policy_binding *b,
                               const struct policy_binding *o)
{
    const struct policy_record *nb[3] = {b->a, b->aaaa, b->cname};
    const struct policy_record *ob[3] = {o->a, o->aaaa, o->cname};
    for (int k = 0; k < 3; k++)
        if (nb[k] ? gslb_origin_of(g, nb[k]->index) != ob[k] : ob[k] != NULL)
            return false;
    return true;
}

/* At most this many names bound anew (and as many gone) are looked up
 * one by one; more (a large batch) take delta_policy_names. */
#define DELTA_FEW 64

/* Checks the names bound anew in g (new[], n_new) against their nodes
 * in s, as delta_policy_names does for every name. */
static void delta_check_new(const struct gslb *g, const size_t *new, size_t n_new,
                            const struct snapshot *s, bool *same, struct delta_places *pl)
{
    for (size_t k = 0; k < n_new; k++) {
        const struct policy_record *r = gslb_rec(g, new[k]);
        struct dns_name n;
        if (!dns_name_index(r->name, r->name_len, &n))
            continue;
        const struct zone *z = snapshot_find_zone(s, &n, DNS_TYPE_A);
        if (!z)
            continue; /* outside every zone: the loader says so */
        const struct zone_node *node =
            zone_find_node(z, n.wire, n.len, dns_name_hash(n.wire, n.len));
        uint16_t flags = delta_flags(gslb_binding(g, new[k]));
        size_t zi = delta_zone_index(s, z);
        if (!node || (node->flags & ZONE_POLICY_FLAGS) != flags)
            same[zi] = false;
        /* Noted even when the same: the same name may be gone too. */
        delta_place_note(pl, zi, &n, flags, true);
    }
}

/* Whether old binding o's name is one of the names bound anew. */
static bool delta_named_anew(const struct gslb *g, const size_t *new, size_t n_new,
                             const struct policy_record *o)
{
    for (size_t k = 0; k < n_new; k++) {
        const struct policy_record *r = gslb_rec(g, new[k]);
        if (r->name_len == o->name_len && memcmp(r->name, o->name, o->name_len) == 0)
            return true;
    }
    return false;
}

/* The old bindings of p not taken into g, when g's taken records come
 * in p's order (a change's: policy_config_touched.c): the gaps between
 * their origins, at most DELTA_FEW records in all (first, length pairs
 * in gap, their number in *n_gap). False: not in order, or too many. */
static bool delta_gaps(const struct gslb *g, const struct gslb *p, size_t (*gap)[2], size_t *n_gap)
{
    size_t next = 0, in_gaps = 0;
    *n_gap = 0;
    for (size_t i = 0; i <= g->n_records; i++) {
        size_t f = i < g->n_records ? gslb_from(g, i) : p->n_records;
        if (i < g->n_records && f == GSLB_COMPILED)
            continue;
        if (f < next)
            return false;
        if (f > next) {
            in_gaps += f - next;
            if (in_gaps > DELTA_FEW || *n_gap == DELTA_FEW)
                return false;
            gap[*n_gap][0] = next;
            gap[(*n_gap)++][1] = f - next;
        }
        next = f + 1;
    }
    return true;
}

/* Marks the zone of old binding f of p unless its name is bound anew;
 * false once more than DELTA_FEW are gone. */
static bool delta_gone(const struct gslb *g, const struct gslb *p, size_t f, const size_t *new,
                       size_t n_new, const struct snapshot *s, bool *same, size_t *gone,
                       struct delta_places *pl)
{
    const struct policy_binding *o = gslb_binding(p, f);
    struct dns_name n;
    if (!policy_binding_any(o) || delta_named_anew(g, new, n_new, gslb_rec(p, f)))
        return true;
    if (++*gone > DELTA_FEW)
        return false;
    if (dns_name_index(gslb_rec(p, f)->name, gslb_rec(p, f)->name_len, &n))
        delta_mark_name(s, &n, same, pl); /* bound no more */
    return true;
}

/* delta_policy_names_by_origin for a set built in place from p, both
 * bound by key: every binding but the redone ones' is p's at its index,
 * binding the same records, and a redone index holds the same name as in
 * p (a change in place keeps every name where it was). So each redone
 * binding that binds is checked against its node, and one that bound in
 * p and binds nothing now has its zone marked: a look at the redone
 * records only, however many (a batch of 10,000 changes walked every
 * name when they were more than DELTA_FEW). */
static void delta_policy_names_inplace(const struct gslb *g, const struct gslb *p,
                                       const struct snapshot *s, bool *same,
                                       struct delta_places *pl)
{
    for (size_t x = 0; x < g->n_redone; x++) {
        size_t i = g->redone[x];
        struct dns_name n;
        if (policy_binding_any(gslb_binding(g, i)))
            delta_check_new(g, &i, 1, s, same, pl);
        else if (policy_binding_any(gslb_binding(p, i)) &&
                 dns_name_index(gslb_rec(p, i)->name, gslb_rec(p, i)->name_len, &n))
            delta_mark_name(s, &n, same, pl); /* bound no more */
    }
}

/* delta_policy_names for a policy set built from cur's (policy.h: from):
 * a binding of the very records cur's binding bound leaves its name as
 * it was, so only the names bound anew and those gone are looked up.
 * When both sets bind by key (gslb_bound_by_key) a taken binding is such
 * a one and the gone ones are the gaps between the taken records'
 * origins: no walk of either set's records. False (same[] untouched)
 * when they are too many. */
static bool delta_policy_names_by_origin(const struct gslb *g, const struct gslb *p,
                                         const struct snapshot *s, bool *same,
                                         struct delta_places *pl)
{
    if (!g || !p || g->from_g != p)
        return false;
    if (gslb_inplace_from(g, p) && gslb_bound_by_key(g) && gslb_bound_by_key(p)) {
        delta_policy_names_inplace(g, p, s, same, pl);
        return true;
    }
    bool by_key = gslb_bound_by_key(g) && gslb_bound_by_key(p);
    size_t new[DELTA_FEW], n_new = 0, gone = 0, gap[DELTA_FEW][2], n_gap = 0;
    bool gaps = by_key && delta_gaps(g, p, gap, &n_gap);
    uint8_t *matched = gaps ? NULL : calloc(p->n_records ? p->n_records : 1, 1);
    if (!gaps && !matched)
        abort();
    bool ok = true;
    for (size_t i = 0; ok && i < g->n_records; i++) {
        const struct policy_binding *b = gslb_binding(g, i);
        if (!policy_binding_any(b))
            continue;
        size_t f = gslb_from(g, i);
        const struct policy_binding *o = f != GSLB_COMPILED ? gslb_binding(p, f) : NULL;
        if (o && (by_key ? policy_binding_any(o) : delta_same_binding(g, b, o))) {
            if (matched)
                matched[f] = 1;
        } else if (n_new < DELTA_FEW)
            new[n_new++] = i;
        else
            ok = false;
    }
    if (ok)
        delta_check_new(g, new, n_new, s, same, pl);
    for (size_t x = 0; ok && gaps && x < n_gap; x++)
        for (size_t f = gap[x][0]; ok && f < gap[x][0] + gap[x][1]; f++)
            ok = delta_gone(g, p, f, new, n_new, s, same, &gone, pl);
    for (size_t f = 0; ok && !gaps && f < p->n_records; f++)
        if (!matched[f])
            ok = delta_gone(g, p, f, new, n_new, s, same, &gone, pl);
    free(matched);
    return ok;
}

/* keep[i] for every zone of next. */
static size_t delta_keep(struct config_delta *d, const struct config *old,
                         const struct serve_set *cur, const struct config *next)
{
    if (d->reread || !old || !cur || !old->root || !next->root || !delta_same_origins(old, next))
        return 0;
    const struct snapshot *s = cur->zones;
    bool *same = calloc(s->n_zones + 1, sizeof(*same));
    if (!same)
        abort();
    for (size_t i = 0; i < s->n_zones; i++)
        same[i] = true;
    struct delta_places pl = {.ok = true};
    if (!delta_policy_names_by_origin(next->gslb, cur->gslb, s, same, &pl)) {
        for (size_t i = 0; i < s->n_zones; i++)
            same[i] = true;
        delta_policy_names(next->gslb, s, same);
        pl.ok = false; /* the names that changed were not all seen */
    }
    size_t kept = 0;
    for (size_t i = 0; i < next->n_zones; i++) {
        struct dns_name o;
        if (!dns_name_from_str(next->zones[i].origin, &o) || !delta_zone_entry_same(old, next, i))
            continue;
        for (size_t k = 0; k < s->n_zones && !d->keep[i] && !d->place[i]; k++) {
            if (s->zones[k]->origin_len != o.len || memcmp(s->zones[k]->origin, o.wire, o.len))
                continue;
            d->keep[i] = same[k];
            d->place[i] = !same[k] && pl.ok;
            for (size_t x = 0; d->place[i] && x < pl.n; x++)
                if (pl.v[x].zone == k)
                    pl.v[x].zone = next->n_zones + i; /* next's index, apart from cur's */
        }
        kept += d->keep[i];
    }
    for (size_t x = 0; x < pl.n; x++) /* a name of a zone not placed: never looked at */
        pl.v[x].zone = pl.v[x].zone >= next->n_zones ? pl.v[x].zone - next->n_zones : SIZE_MAX;
    d->places = pl.v;
    d->n_places = pl.n;
    free(same);
    return kept;
}

struct config_delta *config_delta_new(const struct config *old, const struct serve_set *cur,
                                      const struct config *next, bool reread, json_t *known)
{
    struct config_delta *d = calloc(1, sizeof(*d));
    if (!d || !(d->keep = calloc(next->n_zones + 1, sizeof(*d->keep))) ||
        !(d->place = calloc(next->n_zones + 1, sizeof(*d->place))))
        abort();
    d->reread = reread;
    d->n_zones = next->n_zones;
    json_t *touched = json_array();
    d->summary = delta_summary(old ? old->root : NULL, next->root, touched, old ? known : NULL);
    json_object_set_new(d->summary, "names", touched);
    json_object_set_new(
        d->summary, "records_compiled",
        json_integer(next->gslb ? (json_int_t)(next->gslb->n_records - next->gslb->n_reused) : 0));
    d->n_kept = delta_keep(d, old, cur, next);
    json_object_set_new(d->summary, "zones",
                        json_pack("{s:I, s:I, s:I}", "kept", (json_int_t)d->n_kept, "read",
                                  (json_int_t)(d->n_zones - d->n_kept), "placed", (json_int_t)0));
    return d;
}

void config_delta_free(struct config_delta *d)
{
    if (!d)
        return;
    free(d->keep);
    free(d->place);
    free(d->places);
    for (size_t i = 0; d->placed && i < d->n_zones; i++)
        zone_free(d->placed[i]); /* made, but the load never took them */
    free(d->placed);
    json_decref(d->summary);
    free(d);
}

void config_delta_placed(struct config_delta *d)
{
    json_t *z = json_object_get(d->summary, "zones");
    json_int_t read = json_integer_value(json_object_get(z, "read"));
    json_object_set_new(z, "read", json_integer(read - (json_int_t)d->n_placed));
    json_object_set_new(z, "placed", json_integer((json_int_t)d->n_placed));
}

void config_delta_line(const struct config_delta *d, char *out, size_t len)
{
    size_t off = 0;
    out[0] = '\0';
    for (const char *const *k = delta_kinds; *k && off < len; k++) {
        json_t *c = json_object_get(d->summary, *k);
        off += (size_t)snprintf(out + off, len - off, "%s%s=+%lld-%lld~%lld", off ? " " : "", *k,
                                (long long)json_integer_value(json_object_get(c, "added")),
                                (long long)json_integer_value(json_object_get(c, "removed")),
                                (long long)json_integer_value(json_object_get(c, "changed")));
    }
    json_t *z = json_object_get(d->summary, "zones");
    if (off < len)
        snprintf(out + off, len - off,
                 " zones_kept=%lld zones_read=%lld zones_placed=%lld records_compiled=%lld",
                 (long long)json_integer_value(json_object_get(z, "kept")),
                 (long long)json_integer_value(json_object_get(z, "read")),
                 (long long)json_integer_value(json_object_get(z, "placed")),
                 (long long)json_integer_value(json_object_get(d->summary, "records_compiled")));
}
