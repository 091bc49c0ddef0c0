/*
 * drill_whatif.c -- every policy record now and with targets lost.
 */
#include "drill/drill_whatif.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "dns/rrtype.h"
#include "policy/policy_eval.h"
#include "policy/policy_geo.h"

static bool whatif_pool_has(const struct policy_pool *p, uint16_t rtype)
{
    for (size_t i = 0; i < p->n_eps; i++)
        if (p->eps[i].rtype == rtype)
            return true;
    return false;
}

static int whatif_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *drill_whatif_result_json(const struct gslb *g, const struct policy_result *res)
{
    const char *txt[POLICY_MAX_ANSWERS];
    for (uint16_t i = 0; i < res->n; i++)
        txt[i] = res->eps[i]->address_str ? res->eps[i]->address_str : "";
    qsort(txt, res->n, sizeof(txt[0]), whatif_cmp);
    json_t *eps = json_array();
    for (uint16_t i = 0; i < res->n; i++)
        json_array_append_new(eps, json_string(txt[i]));
    return json_pack(
        "{s:s, s:s?, s:o}", "outcome", policy_outcome_name(res->outcome), "serving_region",
        res->serving_region >= 0 ? g->regions[res->serving_region].name : NULL, "answers", eps);
}

/* share[region] of the weight of res's answers (endpoints count 1 each
 * when every weight is 0); all zero unless res is served. */
static void whatif_shares(const struct gslb *g, const struct policy_result *res, double *share)
{
    memset(share, 0, g->n_regions * sizeof(*share));
    if (res->outcome != POLICY_SERVED || res->n == 0)
        return;
    double total = 0;
    for (uint16_t i = 0; i < res->n; i++)
        total += res->eps[i]->weight;
    for (uint16_t i = 0; i < res->n; i++) {
        const struct policy_endpoint *e = res->eps[i];
        share[e->region] += total > 0 ? e->weight / total : 1.0 / res->n;
    }
}

static json_t *whatif_capacity(const struct gslb *g, const struct policy_result *before,
                               const struct policy_result *after)
{
    double *b = calloc(2 * (g->n_regions + 1), sizeof(*b));
    if (!b)
        abort();
    double *a = b + g->n_regions + 1;
    whatif_shares(g, before, b);
    whatif_shares(g, after, a);
    json_t *arr = json_array();
    for (size_t k = 0; k < g->n_regions; k++)
        if (b[k] > 0 || a[k] > 0)
            json_array_append_new(arr, json_pack("{s:s, s:f, s:f}", "region", g->regions[k].name,
                                                 "before", b[k], "after", a[k]));
    free(b);
    return arr;
}

/* Who is asking: a client as given, or the clients of one class of a geo
 * or nearest record (label and order; the label is the row's client). */
struct whatif_who {
    const struct drill_client *cl;
    const char *label;
    const struct policy_order *order;
};

/* True when out already has this row (classes of a geo or nearest record
 * that give the same answers under the same label). */
static bool whatif_listed(json_t *out, const json_t *row)
{
    size_t i;
    json_t *e;
    json_array_foreach(out, i, e) if (json_equal(e, (json_t *)row)) return true;
    return false;
}

/* One record, type and client: appends to out, counts in sum. */
static void whatif_one(const struct gslb *g, const struct policy_geo *geo,
                       const struct policy_record *r, uint16_t rtype,
                       const struct policy_overlay *ov, const struct whatif_who *who,
                       bool only_changed, json_t *out, json_t *unserved,
                       struct drill_whatif_sum *sum)
{
    const struct drill_client *cl = who->cl;
    const char *label = cl ? cl->text : who->label;
    struct policy_client c = {.overlay = NULL, .geo = geo};
    if (cl) {
        c.addr = cl->has_addr ? &cl->addr : NULL;
        c.ecs = cl->ecs.present ? &cl->ecs : NULL;
    }
    struct policy_result before, after;
    if (who->order)
        policy_eval_all_order(g, r, rtype, *who->order, &c, &before);
    else
        policy_eval_all(g, r, rtype, &c, &before);
    c.overlay = ov;
    if (who->order)
        policy_eval_all_order(g, r, rtype, *who->order, &c, &after);
    else
        policy_eval_all(g, r, rtype, &c, &after);
    bool same = policy_result_same(&before, &after);
    sum->evaluated++;
    sum->changed += !same;
    sum->unserved += after.outcome != POLICY_SERVED;
    const char *tname = dns_type_name(rtype);
    if (before.outcome == POLICY_SERVED && after.outcome != POLICY_SERVED) {
        sum->newly_unserved++;
        json_t *u =
            json_pack("{s:s, s:s, s:s?}", "record", r->name_str, "type", tname, "client", label);
        if (whatif_listed(unserved, u))
            json_decref(u);
        else
            json_array_append_new(unserved, u);
    }
    if (same && only_changed)
        return;
    json_t *j = json_pack("{s:s, s:s, s:s?, s:b}", "record", r->name_str, "type", tname, "client",
                          label, "changed", !same);
    json_object_set_new(j, "before", drill_whatif_result_json(g, &before));
    json_object_set_new(j, "after", drill_whatif_result_json(g, &after));
    json_object_set_new(j, "capacity", whatif_capacity(g, &before, &after));
    if (whatif_listed(out, j))
        json_decref(j);
    else
        json_array_append_new(out, j);
}

/* Without clients, a geo or nearest record is asked for every class of
 * its clients: each key of its map (the unknown location is default's),
 * each distinct distance order (labelled by its nearest region). Rows
 * that say the same thing are listed once. */
static void whatif_classes(const struct gslb *g, const struct policy_geo *geo,
                           const struct policy_record *r, uint16_t rtype,
                           const struct policy_overlay *ov, bool only_changed, json_t *out,
                           json_t *unserved, struct drill_whatif_sum *sum)
{
    const struct policy_geo_trie *t = geo->recs[r->index].t;
    uint32_t n = policy_geo_classes(t);
    for (uint32_t cls = 0; cls < n; cls++) {
        struct policy_order o = policy_geo_order(r, t, cls);
        char label[160];
        const struct geo_map *m = policy_ext_of(r)->geo;
        if (policy_uses_map(r) && cls >= m->n_keys)
            continue; /* the unknown location: the default list again */
        if (policy_uses_map(r))
            snprintf(label, sizeof(label), "%s", geo_map_class_key(m, cls)->text);
        else if (cls == GEO_NEAREST_NO_COORDS)
            snprintf(label, sizeof(label), "no coordinates");
        else
            snprintf(label, sizeof(label), "nearest to %s",
                     o.n ? g->regions[o.regions[0]].name : "-");
        struct whatif_who who = {.label = label, .order = &o};
        whatif_one(g, geo, r, rtype, ov, &who, only_changed, out, unserved, sum);
    }
}

json_t *drill_whatif_report(json_t *records, json_t *unserved, const struct drill_whatif_sum *sum)
{
    json_t *s =
        json_pack("{s:I, s:I, s:I, s:I}", "evaluated", (json_int_t)sum->evaluated, "changed",
                  (json_int_t)sum->changed, "unserved", (json_int_t)sum->unserved, "newly_unserved",
                  (json_int_t)sum->newly_unserved);
    return json_pack("{s:o, s:o, s:o}", "records", records, "summary", s, "would_leave_unserved",
                     unserved);
}

json_t *drill_whatif(const struct gslb *g, const struct policy_overlay *ov,
                     const struct drill_client *clients, size_t n_clients, bool only_changed,
                     struct drill_whatif_sum *sum)
{
    return drill_whatif_geo(g, NULL, ov, clients, n_clients, only_changed, sum);
}

json_t *drill_whatif_geo(const struct gslb *g, const struct policy_geo *geo,
                         const struct policy_overlay *ov, const struct drill_client *clients,
                         size_t n_clients, bool only_changed, struct drill_whatif_sum *sum)
{
    static const uint16_t types[3] = {DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_CNAME};
    struct drill_whatif_sum local;
    if (!sum)
        sum = &local;
    memset(sum, 0, sizeof(*sum));
    json_t *recs = json_array(), *unserved = json_array();
    for (size_t i = 0; g && i < g->n_records; i++) {
        const struct policy_record *r = gslb_rec(g, i);
        for (int t = 0; t < 3; t++) {
            if (!whatif_pool_has(&g->pools[r->pool], types[t]))
                continue;
            bool classes = n_clients == 0 && geo && r->index < geo->n_recs && geo->recs[r->index].t;
            struct whatif_who none = {.cl = NULL};
            if (classes)
                whatif_classes(g, geo, r, types[t], ov, only_changed, recs, unserved, sum);
            else if (n_clients == 0)
                whatif_one(g, geo, r, types[t], ov, &none, only_changed, recs, unserved, sum);
            for (size_t k = 0; k < n_clients; k++) {
                struct whatif_who who = {.cl = &clients[k]};
                whatif_one(g, geo, r, types[t], ov, &who, only_changed, recs, unserved, sum);
            }
        }
    }
    return drill_whatif_report(recs, unserved, sum);
}
