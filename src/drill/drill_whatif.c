/*
 * drill_whatif.c -- every policy record now and with targets lost.
 */
#include "drill/drill_whatif.h"

#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "dns/rrtype.h"
#include "policy/policy_eval.h"

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

/* The answers sorted, so that outputs compare and read the same way. */
static json_t *whatif_result_json(const struct gslb *g, const struct policy_result *res)
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

/* One record, type and client: appends to out, counts in sum. */
static void whatif_one(const struct gslb *g, const struct policy_record *r, uint16_t rtype,
                       const struct policy_overlay *ov, const struct drill_client *cl,
                       bool only_changed, json_t *out, json_t *unserved,
                       struct drill_whatif_sum *sum)
{
    struct policy_client c = {.overlay = NULL};
    if (cl) {
        c.addr = cl->has_addr ? &cl->addr : NULL;
        c.ecs = cl->ecs.present ? &cl->ecs : NULL;
    }
    struct policy_result before, after;
    policy_eval_all(g, r, rtype, &c, &before);
    c.overlay = ov;
    policy_eval_all(g, r, rtype, &c, &after);
    bool same = policy_result_same(&before, &after);
    sum->evaluated++;
    sum->changed += !same;
    sum->unserved += after.outcome != POLICY_SERVED;
    const char *tname = dns_type_name(rtype);
    if (before.outcome == POLICY_SERVED && after.outcome != POLICY_SERVED) {
        sum->newly_unserved++;
        json_array_append_new(unserved, json_pack("{s:s, s:s, s:s?}", "record", r->name_str, "type",
                                                  tname, "client", cl ? cl->text : NULL));
    }
    if (same && only_changed)
        return;
    json_t *j = json_pack("{s:s, s:s, s:s?, s:b}", "record", r->name_str, "type", tname, "client",
                          cl ? cl->text : NULL, "changed", !same);
    json_object_set_new(j, "before", whatif_result_json(g, &before));
    json_object_set_new(j, "after", whatif_result_json(g, &after));
    json_object_set_new(j, "capacity", whatif_capacity(g, &before, &after));
    json_array_append_new(out, j);
}

json_t *drill_whatif(const struct gslb *g, const struct policy_overlay *ov,
                     const struct drill_client *clients, size_t n_clients, bool only_changed,
                     struct drill_whatif_sum *sum)
{
    static const uint16_t types[3] = {DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_CNAME};
    struct drill_whatif_sum local;
    if (!sum)
        sum = &local;
    memset(sum, 0, sizeof(*sum));
    json_t *recs = json_array(), *unserved = json_array();
    for (size_t i = 0; g && i < g->n_records; i++) {
        const struct policy_record *r = &g->records[i];
        for (int t = 0; t < 3; t++) {
            if (!whatif_pool_has(&g->pools[r->pool], types[t]))
                continue;
            if (n_clients == 0)
                whatif_one(g, r, types[t], ov, NULL, only_changed, recs, unserved, sum);
            for (size_t k = 0; k < n_clients; k++)
                whatif_one(g, r, types[t], ov, &clients[k], only_changed, recs, unserved, sum);
        }
    }
    json_t *s =
        json_pack("{s:I, s:I, s:I, s:I}", "evaluated", (json_int_t)sum->evaluated, "changed",
                  (json_int_t)sum->changed, "unserved", (json_int_t)sum->unserved, "newly_unserved",
                  (json_int_t)sum->newly_unserved);
    return json_pack("{s:o, s:o, s:o}", "records", recs, "summary", s, "would_leave_unserved",
                     unserved);
}
