/*
 * admin_view.c -- JSON views of the policy set.
 */
#include "admin/admin_view.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "health/override.h"

json_t *admin_view_layers(struct health_core *hc, struct drill_core *drills,
                          const struct health_slot *s, enum health_state effective)
{
    if (!s)
        return json_pack("{s:s, s:n, s:n, s:s, s:n, s:n, s:[]}", "probe", "up", "fleet", "override",
                         "effective", health_state_name(effective), "override_detail", "drill",
                         "drills");
    enum health_state o = health_slot_override(s), f = health_slot_fleet(s);
    json_t *j =
        json_pack("{s:s, s:s?, s:s?, s:s}", "probe", health_state_name(health_slot_probe(s)),
                  "fleet", f == HEALTH_UNKNOWN ? NULL : health_state_name(f), "override",
                  o == HEALTH_UNKNOWN ? NULL : health_state_name(o), "effective",
                  health_state_name(effective));
    json_t *d = o == HEALTH_UNKNOWN ? NULL : override_for_target_json(hc, s->key);
    json_object_set_new(j, "override_detail", d ? d : json_null());
    json_object_set_new(j, "drill",
                        health_slot_drill(s) == HEALTH_DOWN ? json_string("down") : json_null());
    json_object_set_new(j, "drills",
                        drills ? drill_core_covering_json(drills, s->key) : json_array());
    return j;
}

json_t *admin_view_slot_override(struct health_core *hc, const struct health_slot *s)
{
    json_t *o = s && health_slot_override(s) != HEALTH_UNKNOWN
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
    admin_view_endpoint_drill(drills, g, e, ov, state);
    json_object_set_new(j, "state", state);
    if (e->slot) {
        pthread_mutex_lock(&hc->lock);
        json_object_set_new(j, "since", json_real(e->slot->since));
        json_object_set_new(j, "last_result", json_string(e->slot->reason));
        json_object_set_new(j, "last_latency_ms", json_real(e->slot->last_latency_us / 1000.0));
        json_object_set_new(j, "probes", json_integer((json_int_t)e->slot->probes));
        json_object_set_new(j, "failures", json_integer((json_int_t)e->slot->failures));
        pthread_mutex_unlock(&hc->lock);
    }
    json_object_set_new(j, "checked", json_boolean(p->check >= 0));
    return j;
}

const char *admin_view_answer(const struct policy_endpoint *e)
{
    return e->address_str ? e->address_str : "";
}

const char *admin_view_policy_name(enum policy_kind k)
{
    static const char *const names[] = {"failover", "weighted", "all", "geo", "nearest"};
    return k <= POLICY_NEAREST ? names[k] : "?";
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
    if (r->geo)
        json_object_set_new(j, "geo", view_geo_map(r->geo));
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
}
