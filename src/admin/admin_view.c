/*
 * admin_view.c -- JSON views of the policy set.
 */
#include "admin/admin_view.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "health/override.h"
#include "health/verdict.h"
#include "policy/policy_latency.h"

/* The external layer (verdict.h) from the verdicts on slots: "external"
 * ("down" when any says down, else "up" when any says up, else null) and
 * "verdicts" (each with its target), set in state. */
static void admin_view_external(struct health_core *hc, const struct health_slot *const *slots,
                                size_t n, json_t *state)
{
    json_t *all = json_array();
    const char *ext = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!slots[i])
            continue;
        json_t *v = verdict_for_target_json(hc, slots[i]->key);
        size_t k;
        json_t *x;
        json_array_foreach(v, k, x)
        {
            const char *st = json_string_value(json_object_get(x, "state"));
            if (st && strcmp(st, "down") == 0)
                ext = "down";
            else if (!ext)
                ext = "up";
        }
        json_array_extend(all, v);
        json_decref(v);
    }
    json_object_set_new(state, "external", ext ? json_string(ext) : json_null());
    json_object_set_new(state, "verdicts", all);
}

json_t *admin_view_layers(struct health_core *hc, struct drill_core *drills,
                          const struct health_slot *s, enum health_state effective)
{
    if (!s)
        return json_pack("{s:s, s:n, s:n, s:s, s:n, s:n, s:[], s:n, s:[]}", "probe", "up", "fleet",
                         "override", "effective", health_state_name(effective), "override_detail",
                         "drill", "drills", "external", "verdicts");
    enum health_state o = health_slot_override(s), f = health_slot_fleet(s);
    json_t *j =
        json_pack("{s:s, s:s?, s:s?, s:s}", "probe", health_state_name(health_slot_probe(s)),
                  "fleet", f == HEALTH_UNKNOWN ? NULL : health_state_name(f), "override",
                  o == HEALTH_UNKNOWN ? NULL : health_state_name(o), "effective",
                  health_state_name(effective));
    uint64_t dial = health_slot_dial(s);
    json_t *d = o == HEALTH_UNKNOWN && !dial ? NULL : override_for_target_json(hc, s->key);
    json_object_set_new(j, "override_detail", d ? d : json_null());
    /* A traffic dial: the override of its share of the clients only
     * ("override" above is the state of the others). */
    json_object_set_new(j, "dial",
                        dial ? json_pack("{s:f, s:s, s:I}", "percent",
                                         health_dial_share(dial) / 100.0, "state",
                                         health_state_name(health_dial_state(dial)), "salt",
                                         (json_int_t)health_dial_salt(dial))
                             : json_null());
    json_object_set_new(j, "drill",
                        health_slot_drill(s) == HEALTH_DOWN ? json_string("down") : json_null());
    json_object_set_new(j, "drills",
                        drills ? drill_core_covering_json(drills, s->key) : json_array());
    admin_view_external(hc, &s, 1, j);
    return j;
}

json_t *admin_view_slot_override(struct health_core *hc, const struct health_slot *s)
{
    json_t *o = s && (health_slot_override(s) != HEALTH_UNKNOWN || health_slot_dial(s))
                    ? override_for_target_json(hc, s->key)
                    : NULL;
    return o ? o : json_null();
}

json_t *admin_view_forced_by(struct health_core *hc, const struct gslb *g,
                             const struct policy_endpoint *e)
{
    /* The same order as gslb_endpoint_state: its own, its az's, its
     * region's override; the first one present decides. */
    const struct health_slot *layers[3] = {e->slot, e->az == UINT16_MAX ? NULL : g->azs[e->az].slot,
                                           g->regions[e->region].slot};
    for (int i = 0; i < 3; i++)
        if (layers[i] && health_slot_override(layers[i]) != HEALTH_UNKNOWN)
            return admin_view_slot_override(hc, layers[i]);
    return json_null();
}

/* The drill part of an endpoint's layers: its region's and az's. */
static void admin_view_endpoint_drill(struct drill_core *drills, const struct gslb *g,
                                      const struct policy_endpoint *e,
                                      const struct policy_overlay *ov, json_t *state)
{
    const struct health_slot *rs = g->regions[e->region].slot;
    const struct health_slot *as = e->az == UINT16_MAX ? NULL : g->azs[e->az].slot;
    bool down = gslb_slot_drill(rs, ov) == HEALTH_DOWN || gslb_slot_drill(as, ov) == HEALTH_DOWN;
    json_t *list = json_array();
    for (int i = 0; drills && i < 2; i++) {
        const struct health_slot *x = i == 0 ? rs : as;
        json_t *more = x ? drill_core_covering_json(drills, x->key) : NULL;
        if (more)
            json_array_extend(list, more);
        json_decref(more);
    }
    json_object_set_new(state, "drill", down ? json_string("down") : json_null());
    json_object_set_new(state, "drills", list);
}

/* A composite check's children on endpoint e and why the composite stands
 * where it does (the endpoint's probe layer). */
static json_t *admin_view_composite(struct health_core *hc, const struct gslb *g,
                                    const struct policy_check *pc, const struct policy_endpoint *e)
{
    enum health_state st[COMPOSITE_MAX_OF];
    char why[160];
    json_t *kids = json_array();
    pthread_mutex_lock(&hc->lock);
    for (size_t x = 0; x < pc->comp.n_of && x < COMPOSITE_MAX_OF; x++) {
        const struct health_slot *k = e->kid_slots[x];
        st[x] = (enum health_state)k->probe_state;
        json_array_append_new(
            kids,
            json_pack("{s:s, s:s, s:f, s:s, s:I, s:I}", "check", g->checks[pc->of[x]].name, "state",
                      health_state_name(st[x]), "since", k->since, "last_result", k->reason,
                      "probes", (json_int_t)k->probes, "failures", (json_int_t)k->failures));
    }
    pthread_mutex_unlock(&hc->lock);
    enum health_state v = health_composite_judge(&pc->comp, st, why, sizeof(why));
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:o}", "check", pc->name, "mode",
                          health_composite_mode_name(pc->comp.mode), "verdict",
                          health_state_name(v), "why", why, "checks", kids);
    if (pc->comp.mode == COMPOSITE_AT_LEAST)
        json_object_set_new(j, "n", json_integer(pc->comp.n));
    return j;
}

json_t *admin_view_endpoint(struct health_core *hc, struct drill_core *drills, const struct gslb *g,
                            const struct policy_pool *p, const struct policy_endpoint *e,
                            const struct policy_overlay *ov)
{
    enum health_state eff = gslb_endpoint_state(g, e, ov);
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s, s:s?, s:i}", "pool", p->name, "name", e->name, "answer",
                  admin_view_answer(e), "region", g->regions[e->region].name, "az",
                  e->az == UINT16_MAX ? NULL : g->azs[e->az].name, "weight", (json_int_t)e->weight);
    json_t *state = admin_view_layers(hc, NULL, e->slot, eff);
    json_object_set_new(state, "forced_by", admin_view_forced_by(hc, g, e));
    /* Verdicts on its az and region count for it too (gslb_endpoint_state). */
    const struct health_slot *ext[3] = {e->slot, e->az == UINT16_MAX ? NULL : g->azs[e->az].slot,
                                        g->regions[e->region].slot};
    admin_view_external(hc, ext, 3, state);
    admin_view_endpoint_drill(drills, g, e, ov, state);
    json_object_set_new(j, "state", state);
    if (e->slot) {
        pthread_mutex_lock(&hc->lock);
        json_object_set_new(j, "since", json_real(e->slot->since));
        json_object_set_new(j, "last_result", json_string(e->slot->reason));
        json_object_set_new(j, "last_latency_ms", json_real(e->slot->last_latency_us / 1000.0));
        double load = health_slot_load(e->slot);
        if (load == load) /* a check's "load" or a verdict's: load shedding */
            json_object_set_new(j, "load", json_real(load));
        json_object_set_new(j, "probes", json_integer((json_int_t)e->slot->probes));
        json_object_set_new(j, "failures", json_integer((json_int_t)e->slot->failures));
        /* This node's round-trip average (health/rtt.h), live. */
        json_object_set_new(
            j, "rtt",
            e->slot->rtt_samples
                ? json_pack("{s:f, s:I, s:f}", "ewma_ms", e->slot->rtt_ewma_us / 1000.0, "samples",
                            (json_int_t)e->slot->rtt_samples, "last", e->slot->rtt_at)
                : json_null());
        pthread_mutex_unlock(&hc->lock);
    }
    json_object_set_new(j, "checked", json_boolean(p->check >= 0));
    if (p->check >= 0 && g->checks[p->check].composite && e->kid_slots)
        json_object_set_new(j, "composite", admin_view_composite(hc, g, &g->checks[p->check], e));
    return j;
}

const char *admin_view_answer(const struct policy_endpoint *e)
{
    return e->address_str ? e->address_str : "";
}

const char *admin_view_policy_name(enum policy_kind k)
{
    static const char *const names[] = {"failover", "weighted", "all", "geo", "nearest", "latency"};
    return k <= POLICY_LATENCY ? names[k] : "?";
}

const char *admin_view_select_name(enum policy_select s)
{
    return s == SELECT_ALL ? "all" : s == SELECT_WEIGHTED ? "weighted" : "hashed";
}

const char *admin_view_down_name(enum policy_down d)
{
    return d == DOWN_ALL ? "all" : d == DOWN_FALLBACK ? "fallback" : "empty";
}

/* {"KEY": [REGION, ...], ...} in the order of the configuration. */
static json_t *view_geo_map(const struct geo_map *m)
{
    json_t *j = json_object();
    for (size_t i = 0; i < m->n_keys; i++) {
        json_t *regions = json_array();
        for (size_t k = 0; k < m->keys[i].n_regions; k++)
            json_array_append_new(regions, json_string(m->keys[i].regions[k]));
        json_object_set_new(j, m->keys[i].text, regions);
    }
    return j;
}

json_t *admin_view_record(const struct gslb *g, const struct policy_record *r)
{
    json_t *regions = json_array();
    for (size_t i = 0; i < r->n_regions; i++)
        json_array_append_new(regions, json_string(g->regions[r->regions[i]].name));
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:o, s:s, s:i, s:i, s:i, s:s}", "name", r->name_str, "pool",
                  g->pools[r->pool].name, "policy", admin_view_policy_name(r->policy), "regions",
                  regions, "select", admin_view_select_name(r->select), "answers",
                  (json_int_t)r->answers, "ttl", (json_int_t)r->ttl, "spill", (json_int_t)r->spill,
                  "when_all_down", admin_view_down_name(r->when_all_down));
    const struct geo_map *m = policy_ext_of(r)->geo;
    if (policy_ext_of(r)->latency) {
        const struct policy_latency_cfg *c = policy_ext_of(r)->latency;
        json_object_set_new(j, "latency",
                            json_pack("{s:i, s:i, s:o}", "tolerance_ms",
                                      (json_int_t)(c->tolerance_us / 1000), "tolerance_pct",
                                      (json_int_t)c->tolerance_pct, "vantage",
                                      m ? view_geo_map(m) : json_null()));
    } else if (m)
        json_object_set_new(j, "geo", view_geo_map(m));
    return j;
}

json_t *admin_view_network(unsigned family, const uint8_t *addr, unsigned prefix)
{
    char a[INET6_ADDRSTRLEN], buf[INET6_ADDRSTRLEN + 8];
    inet_ntop(family == GEO_FAMILY_IPV4 ? AF_INET : AF_INET6, addr, a, sizeof(a));
    if (prefix == 255)
        return json_string(a);
    /* The network's first address: zero past the prefix. */
    uint8_t net[16];
    unsigned bytes = family == GEO_FAMILY_IPV4 ? 4 : 16;
    memcpy(net, addr, bytes);
    for (unsigned b = prefix; b < bytes * 8; b++)
        net[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
    inet_ntop(family == GEO_FAMILY_IPV4 ? AF_INET : AF_INET6, net, a, sizeof(a));
    snprintf(buf, sizeof(buf), "%s/%u", a, prefix);
    return json_string(buf);
}

void admin_view_location(json_t *j, const struct geo_location *l)
{
    if (l->flags & GEO_HAS_CONTINENT)
        json_object_set_new(j, "continent", json_string(l->continent));
    if (l->flags & GEO_HAS_COUNTRY)
        json_object_set_new(j, "country", json_string(l->country));
    if (l->flags & GEO_HAS_SUBDIVISION) {
        char sub[8];
        snprintf(sub, sizeof(sub), "%s-%s", l->country, l->subdivision);
        json_object_set_new(j, "subdivision", json_string(sub));
    }
    if (l->flags & GEO_HAS_COORDS) {
        json_object_set_new(j, "latitude", json_real(l->lat));
        json_object_set_new(j, "longitude", json_real(l->lon));
    }
    if (l->flags & GEO_HAS_ASN)
        json_object_set_new(j, "asn", json_integer(l->asn));
}
