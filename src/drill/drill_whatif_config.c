/*
 * drill_whatif_config.c -- what a configuration change does to every
 * policy record (drill_whatif.h): the answers of the running set against
 * those of a candidate set built from the changed configuration, each on
 * its own health core (the candidate's holds a copy of the live states,
 * health_core_copy_layers). Used by the admin API's dry runs of
 * configuration changes. No lock, nothing published.
 */
#include <string.h>

#include "dns/dns.h"
#include "dns/rrtype.h"
#include "drill/drill_whatif.h"
#include "policy/policy_eval.h"

static const uint16_t whatif_types[3] = {DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_CNAME};

static const struct policy_record *whatif_record(const struct gslb *g, const char *name)
{
    for (size_t i = 0; g && i < g->n_records; i++)
        if (strcmp(gslb_rec(g, i)->name_str, name) == 0)
            return gslb_rec(g, i);
    return NULL;
}

static bool whatif_serves(const struct gslb *g, const struct policy_record *r, uint16_t rtype)
{
    if (!r)
        return false;
    const struct policy_pool *p = &g->pools[r->pool];
    for (size_t i = 0; i < p->n_eps; i++)
        if (p->eps[i].rtype == rtype)
            return true;
    return false;
}

/* One side's answer for r (NULL: the record is not there: JSON null). */
static json_t *whatif_side(const struct gslb *g, const struct policy_geo *geo,
                           const struct policy_record *r, uint16_t rtype,
                           const struct drill_client *cl, bool *served)
{
    *served = false;
    if (!whatif_serves(g, r, rtype))
        return json_null();
    struct policy_client c = {.overlay = NULL, .geo = geo};
    if (cl) {
        c.addr = cl->has_addr ? &cl->addr : NULL;
        c.ecs = cl->ecs.present ? &cl->ecs : NULL;
    }
    struct policy_result res;
    policy_eval_all(g, r, rtype, &c, &res);
    *served = res.outcome == POLICY_SERVED;
    return drill_whatif_result_json(g, &res);
}

/* One record name, type and client: a row in out when the answer changes. */
static void whatif_config_one(const struct gslb *gb, const struct policy_geo *geob,
                              const struct gslb *ga, const struct policy_geo *geoa,
                              const char *name, uint16_t rtype, const struct drill_client *cl,
                              json_t *out, json_t *unserved, struct drill_whatif_sum *sum)
{
    const struct policy_record *rb = whatif_record(gb, name), *ra = whatif_record(ga, name);
    if (!whatif_serves(gb, rb, rtype) && !whatif_serves(ga, ra, rtype))
        return;
    bool sb, sa;
    json_t *b = whatif_side(gb, geob, rb, rtype, cl, &sb);
    json_t *a = whatif_side(ga, geoa, ra, rtype, cl, &sa);
    sum->evaluated++;
    sum->unserved += !sa;
    const char *label = cl ? cl->text : NULL;
    if (sb && !sa) {
        sum->newly_unserved++;
        json_array_append_new(unserved, json_pack("{s:s, s:s, s:s?}", "record", name, "type",
                                                  dns_type_name(rtype), "client", label));
    }
    if (json_equal(b, a)) {
        json_decref(b);
        json_decref(a);
        return;
    }
    sum->changed++;
    json_array_append_new(out, json_pack("{s:s, s:s, s:s?, s:o, s:o}", "record", name, "type",
                                         dns_type_name(rtype), "client", label, "before", b,
                                         "after", a));
}

/* Every type and client of the record named name. */
static void whatif_config_name(const struct gslb *gb, const struct policy_geo *geob,
                               const struct gslb *ga, const struct policy_geo *geoa,
                               const char *name, const struct drill_client *clients,
                               size_t n_clients, json_t *out, json_t *unserved,
                               struct drill_whatif_sum *sum)
{
    for (int t = 0; t < 3; t++) {
        if (n_clients == 0)
            whatif_config_one(gb, geob, ga, geoa, name, whatif_types[t], NULL, out, unserved, sum);
        for (size_t k = 0; k < n_clients; k++)
            whatif_config_one(gb, geob, ga, geoa, name, whatif_types[t], &clients[k], out, unserved,
                              sum);
    }
}

json_t *drill_whatif_config(const struct gslb *before, const struct policy_geo *geo_before,
                            const struct gslb *after, const struct policy_geo *geo_after,
                            const struct drill_client *clients, size_t n_clients,
                            struct drill_whatif_sum *sum)
{
    struct drill_whatif_sum local;
    if (!sum)
        sum = &local;
    memset(sum, 0, sizeof(*sum));
    json_t *recs = json_array(), *unserved = json_array();
    for (size_t i = 0; before && i < before->n_records; i++)
        whatif_config_name(before, geo_before, after, geo_after, gslb_rec(before, i)->name_str,
                           clients, n_clients, recs, unserved, sum);
    for (size_t i = 0; after && i < after->n_records; i++)
        if (!whatif_record(before, gslb_rec(after, i)->name_str)) /* new records */
            whatif_config_name(before, geo_before, after, geo_after, gslb_rec(after, i)->name_str,
                               clients, n_clients, recs, unserved, sum);
    return drill_whatif_report(recs, unserved, sum);
}
