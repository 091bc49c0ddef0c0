/*
 * admin_explain.c -- GET /v1/explain?name=&type=&client=&ecs=
 *
 * Runs the query through the same code as the DNS workers (query_answer on
 * the live snapshot) with a trace attached, then shows the decision: the
 * policy record, the region order and why each region served or was
 * skipped, every endpoint's state layers, the selection, TTL, ECS scope,
 * and the exact reply that path produced. The drills that decided (live
 * ones on the record's regions and azs, scoped ones whose canary holds
 * the client) are named with their id, mode and reason; for a geo or
 * nearest record, where the client is (address, database network, codes,
 * coordinates), the key that matched or each region's distance, and the
 * scopes.
 */
#include <arpa/inet.h>
#include <event2/keyvalq_struct.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "admin/admin_request.h"
#include "admin/admin_view.h"
#include "answer/lookup.h"
#include "answer/query.h"
#include "dns/dns.h"
#include "dns/name.h"
#include "dns/packet.h"
#include "geo/geo_nearest.h"
#include "policy/policy.h"
#include "policy/policy_answer.h"
#include "policy/policy_geo.h"
#include "policy/policy_latency.h"
#include "policy/policy_loss.h"
#include "policy/policy_shed.h"

/* What one explain knows beyond the trace: the client as a scoped drill
 * sees it, and what the loss view takes from it. */
struct explain_ctx {
    struct admin *a;
    const struct serve_set *s; /* the set explained (its geo data) */
    const struct gslb *g;
    const struct answer_trace *t;
    struct policy_loss_client client;
    struct policy_loss_match match;
    struct policy_overlay ov; /* the match's lost slots */
};

/* Appends the drills deciding slot s for the client to out, once each. */
static void explain_add_drills(struct explain_ctx *x, const struct health_slot *s, json_t *out)
{
    if (!s || !x->a->env.drills)
        return;
    json_t *d = drill_core_deciding_json(x->a->env.drills, s->key, &x->client);
    size_t i, k;
    json_t *e, *have;
    json_array_foreach(d, i, e)
    {
        bool seen = false;
        json_array_foreach(out, k, have) seen =
            seen || json_equal(json_object_get(have, "id"), json_object_get(e, "id"));
        if (!seen)
            json_array_append(out, e);
    }
    json_decref(d);
}

static json_t *explain_section(ldns_rr_list *l)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
        char *t = ldns_rr2str(ldns_rr_list_rr(l, i));
        size_t n = t ? strlen(t) : 0;
        while (n && (t[n - 1] == '\n'))
            t[--n] = '\0';
        json_array_append_new(arr, json_string(t ? t : ""));
        free(t);
    }
    return arr;
}

/* The reply as the DNS side sent it. */
static json_t *explain_reply(const uint8_t *wire, size_t len)
{
    ldns_pkt *p = NULL;
    if (len == 0 || ldns_wire2pkt(&p, wire, len) != LDNS_STATUS_OK)
        return json_null();
    char *rc = ldns_pkt_rcode2str(ldns_pkt_get_rcode(p));
    json_t *j =
        json_pack("{s:s, s:b, s:b, s:o, s:o, s:o}", "rcode", rc ? rc : "?", "aa", ldns_pkt_aa(p),
                  "tc", ldns_pkt_tc(p), "answer", explain_section(ldns_pkt_answer(p)), "authority",
                  explain_section(ldns_pkt_authority(p)), "additional",
                  explain_section(ldns_pkt_additional(p)));
    free(rc);
    ldns_pkt_free(p);
    return j;
}

/* The azs of region that hold endpoints of pool p: their state for the
 * pool and the override in force on each (null when none). */
static json_t *explain_azs(struct admin *a, const struct gslb *g, const struct policy_pool *p,
                           uint16_t region)
{
    json_t *arr = json_array();
    for (size_t z = 0; z < g->n_azs; z++) {
        bool has = false;
        for (size_t i = 0; i < p->n_eps && !has; i++)
            has = p->eps[i].az == z;
        if (g->azs[z].region != region || !has)
            continue;
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:o}", "name", g->azs[z].name, "state",
                           gslb_az_up(g, p, (uint16_t)z, NULL) ? "up" : "down", "override",
                           admin_view_slot_override(a->env.health, g->azs[z].slot)));
    }
    return arr;
}

/* Why a region served or was skipped; buf holds composed reasons. */
static const char *explain_why(const struct policy_trace_region *tr, const struct policy_pool *p,
                               json_t *drills, char *buf, size_t len)
{
    if (tr->drill == HEALTH_DOWN) {
        json_t *d = json_array_get(drills, 0);
        if (!d)
            return "lost in a drill";
        snprintf(buf, len, "lost in drill %s (%s): %s", json_string_value(json_object_get(d, "id")),
                 json_string_value(json_object_get(d, "mode")),
                 json_string_value(json_object_get(d, "reason")));
        return buf;
    }
    if (tr->ramp_held) {
        snprintf(buf, len,
                 "recovering: its failback ramp serves %.2f %% of clients (%.1f of %.1f s); this "
                 "client's bucket %u is not back yet",
                 tr->ramp_share / 100.0, tr->ramp_elapsed_s, tr->ramp_s, tr->ramp_bucket);
        return buf;
    }
    if (tr->dial_in && tr->forced == tr->dial_state) {
        snprintf(buf, len, "forced %s by a %.2f %% dial: this client's bucket %u is in it",
                 health_state_name(tr->dial_state), tr->dial_share / 100.0, tr->dial_bucket);
        return buf;
    }
    if (tr->forced == HEALTH_DOWN)
        return "forced down by an override";
    if (tr->forced == HEALTH_UP)
        return tr->has_type ? "forced up by an override" : "no endpoints of this type";
    if (!tr->up) {
        snprintf(buf, len, "%u of %u endpoints up, min_healthy %u", tr->healthy, tr->total,
                 p->min_healthy);
        return buf;
    }
    if (!tr->has_type)
        return "no endpoints of this type";
    snprintf(buf, len, "%u of %u endpoints up", tr->healthy, tr->total);
    return buf;
}

/* The region's dial and failback ramp, and where this client stands. */
static void explain_dials(const struct policy_trace_region *tr, json_t *reg)
{
    if (tr->dial_state != HEALTH_UNKNOWN)
        json_object_set_new(reg, "dial",
                            json_pack("{s:f, s:s, s:i, s:b}", "percent", tr->dial_share / 100.0,
                                      "state", health_state_name(tr->dial_state), "bucket",
                                      (int)tr->dial_bucket, "client_in_dial", tr->dial_in));
    if (tr->ramp_share < 10000)
        json_object_set_new(reg, "ramp",
                            json_pack("{s:f, s:f, s:f, s:i, s:b}", "percent",
                                      tr->ramp_share / 100.0, "elapsed", tr->ramp_elapsed_s, "ramp",
                                      tr->ramp_s, "bucket", (int)tr->ramp_bucket, "client_back",
                                      !tr->ramp_held));
}

static json_t *explain_regions(struct explain_ctx *x)
{
    const struct answer_trace *t = x->t;
    const struct policy_pool *p = &x->g->pools[t->record->pool];
    json_t *arr = json_array();
    for (uint16_t i = 0; i < t->policy.n_regions; i++) {
        const struct policy_trace_region *tr = &t->policy.regions[i];
        char buf[1200];
        json_t *drills = json_array();
        explain_add_drills(x, x->g->regions[tr->region].slot, drills);
        const char *why = explain_why(tr, p, drills, buf, sizeof(buf));
        bool serving = t->result.serving_region == tr->region;
        json_t *reg = json_pack(
            "{s:s, s:i, s:s, s:b, s:s, s:o}", "region", x->g->regions[tr->region].name, "position",
            i, "state", tr->up ? "up" : "down", "serving", serving, "why", why, "drills", drills);
        /* Every layer names its override: the region's here, the azs'
         * below, each endpoint's in its state.forced_by. */
        json_object_set_new(
            reg, "override",
            admin_view_slot_override(x->a->env.health, x->g->regions[tr->region].slot));
        json_object_set_new(reg, "azs", explain_azs(x->a, x->g, p, tr->region));
        explain_dials(tr, reg);
        json_array_append_new(arr, reg);
    }
    return arr;
}

/* The database's view of the client: its network (the widest prefix with
 * the same location) and the location's fields; null when unknown. */
static json_t *explain_location(const struct geo_db *db, const struct policy_geo_client *cl,
                                struct geo_location *out)
{
    memset(out, 0, sizeof(*out));
    if (!db || !cl->known)
        return json_null();
    uint8_t prefix;
    *out = *geo_db_lookup(db, cl->family, cl->addr, &prefix);
    json_t *j = json_pack("{s:o}", "network", admin_view_network(cl->family, cl->addr, prefix));
    admin_view_location(j, out);
    return j;
}

/* Who the client is for the record: the address looked up and where from. */
static json_t *explain_client(const struct policy_trace_geo *tg)
{
    const struct policy_geo_client *cl = &tg->client;
    const char *source = cl->from_ecs ? "ecs" : cl->known ? "source address" : "none";
    json_t *j = json_pack("{s:s, s:b}", "from", source, "ecs_ignored", cl->ecs_ignored);
    json_object_set_new(j, "address",
                        cl->known ? admin_view_network(cl->family, cl->addr, 255) : json_null());
    if (cl->from_ecs)
        json_object_set_new(j, "ecs_source_prefix", json_integer(cl->source_prefix));
    if (!cl->known)
        json_object_set_new(j, "why_unknown",
                            json_string(cl->from_ecs ? "ECS source prefix 0: the client asked "
                                                       "not to be located"
                                                     : "no client address"));
    return j;
}

/* Each region of a nearest order with its distance from the client. */
static json_t *explain_distances(const struct gslb *g, const struct policy_order *o,
                                 const struct geo_location *loc)
{
    json_t *arr = json_array();
    for (uint16_t i = 0; i < o->n; i++) {
        const struct policy_region *reg = &g->regions[o->regions[i]];
        json_t *d = json_null();
        if (loc->flags & GEO_HAS_COORDS) {
            struct geo_point a = {loc->lat, loc->lon}, b = {reg->lat, reg->lon};
            d = json_real(geo_distance_km(a, b));
        }
        json_array_append_new(arr, json_pack("{s:s, s:o}", "region", reg->name, "km", d));
    }
    return arr;
}

/* Why the scope is the class's, not widened for the current health
 * (policy_eval.c, eval_scope; policy_geo_widen.c). */
static const char *explain_why_not_widened(const struct policy_record *r,
                                           const struct policy_trace_geo *tg)
{
    if (!tg->client.from_ecs)
        return tg->client.ecs_ignored ? "the record ignores ECS" : "the query has no ECS option";
    if (!tg->client.known)
        return "ECS source prefix 0: the client asked not to be located";
    if (r->policy == POLICY_LATENCY)
        return "latency records are never widened: the answer follows round-trip times, which "
               "the widened scopes (built from the health state alone) do not follow";
    return "the widened scopes did not hold for this query: the health state changed while it "
           "was answered or since they were built, or a traffic dial or ramp decided on the "
           "client";
}

/* How a geo or nearest record placed the client, and the scope. */
static json_t *explain_geo(const struct serve_set *s, const struct answer_trace *t)
{
    const struct policy_trace_geo *tg = &t->policy.geo;
    const struct policy_record *r = t->record;
    const struct gslb *g = s->gslb;
    struct geo_location loc;
    enum policy_geo_kind kind = policy_geo_kind_of(r, tg->cls);
    json_t *order = json_array();
    for (uint16_t i = 0; i < tg->order.n; i++)
        json_array_append_new(order, json_string(g->regions[tg->order.regions[i]].name));
    json_t *j = json_pack("{s:o, s:o, s:s, s:o}", "client", explain_client(tg), "location",
                          explain_location(s->geo ? s->geo->db : NULL, &tg->client, &loc), "match",
                          policy_geo_kind_name(kind), "region_order", order);
    if (policy_uses_map(r))
        json_object_set_new(j, "key",
                            json_string(geo_map_class_key(policy_ext_of(r)->geo, tg->cls)->text));
    else
        json_object_set_new(j, "distances", explain_distances(g, &tg->order, &loc));
    json_object_set_new(j, "class_scope", json_integer(tg->class_scope));
    json_object_set_new(j, "widened_scope",
                        tg->widened ? json_integer(tg->widened_scope) : json_null());
    json_object_set_new(j, "why_not_widened",
                        tg->widened ? json_null() : json_string(explain_why_not_widened(r, tg)));
    json_object_set_new(j, "scope", json_integer(t->result.ecs_scope));
    return j;
}

/* The vantage point's entry for row's endpoint now: the samples counted
 * and the time of the newest, which move with every probe, while the
 * table holds them as of its last rebuild (only a move of the average
 * past the margin rebuilds it: a live vantage point looked dead). From
 * this node's slots, or the vantage point's latest table; the table's
 * figures when the health core has neither. */
static struct health_rtt_entry explain_lat_live(struct explain_ctx *x, const char *vantage,
                                                const struct policy_lat_row *row)
{
    struct health_rtt_entry en = {.ewma_us = row->ewma_us, .samples = row->samples, .at = row->at};
    struct health_core *h = x->g->health;
    if (!h)
        return en;
    if (health_rtt_is_self(h, vantage))
        health_rtt_own(h, &row->ep->slot, 1, &en);
    else if (!health_rtt_find(h, vantage, row->ep->key, &en))
        en = (struct health_rtt_entry){0};
    return en;
}

/* One row of a latency table as explain shows it: the average the
 * answer used (the table's), the samples and the age live. */
static json_t *explain_lat_row(struct explain_ctx *x, const char *vantage,
                               const struct policy_lat_row *row, bool known, double now)
{
    const struct policy_trace_latency *tl = &x->t->policy.latency;
    enum health_state st = gslb_endpoint_state(x->g, row->ep, x->ov.n_lost ? &x->ov : NULL);
    bool within =
        known && tl->best_us != UINT32_MAX && st == HEALTH_UP && row->ewma_us <= tl->limit_us;
    struct health_rtt_entry en = explain_lat_live(x, vantage, row);
    return json_pack("{s:s, s:s, s:o, s:I, s:o, s:s, s:b}", "endpoint", row->ep->name, "region",
                     x->g->regions[row->ep->region].name, "ewma_ms",
                     known ? json_real(row->ewma_us / 1000.0) : json_null(), "samples",
                     (json_int_t)en.samples, "age_s",
                     en.samples ? json_real(now - en.at) : json_null(), "state",
                     health_state_name(st), "within", within);
}

/* The table a latency record used: the vantage point, then every
 * endpoint from the fastest, with its average, samples, age, state and
 * whether it was within the tolerance. Inside the served set. */
static json_t *explain_latency(struct explain_ctx *x)
{
    const struct policy_trace_latency *tl = &x->t->policy.latency;
    const struct policy_record *r = x->t->record;
    const struct policy_lat_table *tab = tl->tab;
    double now = health_now();
    json_t *rows = json_array();
    const char *v = tab ? tab->vantage : "";
    for (uint32_t i = 0; tab && i < tab->n; i++)
        if (tab->rows[i].ep->rtype == x->t->rtype)
            json_array_append_new(rows,
                                  explain_lat_row(x, v, &tab->rows[i], i < tab->n_known, now));
    json_t *j = json_pack(
        "{s:s, s:b, s:i, s:i, s:o, s:o, s:b, s:o}", "vantage", v[0] ? v : "this node", "this_node",
        !v[0] || (x->g->health && health_rtt_is_self(x->g->health, v)), "tolerance_ms",
        (json_int_t)(policy_ext_of(r)->latency->tolerance_us / 1000), "tolerance_pct",
        (json_int_t)policy_ext_of(r)->latency->tolerance_pct, "best_ms",
        tl->best_us != UINT32_MAX ? json_real(tl->best_us / 1000.0) : json_null(), "limit_ms",
        tl->best_us != UINT32_MAX ? json_real((double)tl->limit_us / 1000.0) : json_null(),
        "fell_back", tl->fell_back, "table", rows);
    const struct geo_map *m = policy_ext_of(r)->geo;
    if (m)
        json_object_set_new(j, "key", json_string(geo_map_class_key(m, tl->cls)->text));
    return j;
}

/* Every drill deciding a region or az of the record's pool. */
static json_t *explain_drills(struct explain_ctx *x)
{
    const struct policy_record *r = x->t->record;
    const struct policy_pool *p = &x->g->pools[r->pool];
    json_t *out = json_array();
    for (size_t i = 0; i < r->n_regions; i++)
        explain_add_drills(x, x->g->regions[r->regions[i]].slot, out);
    for (size_t i = 0; i < p->n_eps; i++)
        if (p->eps[i].az != UINT16_MAX)
            explain_add_drills(x, x->g->azs[p->eps[i].az].slot, out);
    return out;
}

static json_t *explain_policy(struct explain_ctx *x)
{
    const struct gslb *g = x->g;
    const struct answer_trace *t = x->t;
    const struct policy_record *r = t->record;
    const struct policy_pool *p = &g->pools[r->pool];
    json_t *eps = json_array(), *chosen = json_array();
    for (size_t i = 0; i < p->n_eps; i++)
        if (p->eps[i].rtype == t->rtype) {
            json_t *ep = admin_view_endpoint(x->a->env.health, x->a->env.drills, g, p, &p->eps[i],
                                             x->ov.n_lost ? &x->ov : NULL);
            if (p->check >= 0)
                admin_fleet_endpoint(x->a, ep, p->eps[i].key);
            if (r->shed) {
                double load, f = policy_shed_factor(r, &p->eps[i], &load);
                json_object_set_new(ep, "load", load == load ? json_real(load) : json_null());
                json_object_set_new(ep, "shed_factor", json_real(f));
            }
            json_array_append_new(eps, ep);
        }
    for (uint16_t i = 0; i < t->result.n; i++)
        json_array_append_new(chosen, json_string(admin_view_answer(t->result.eps[i])));
    const char *order = r->policy == POLICY_FAILOVER  ? "failover order from the record"
                        : r->policy == POLICY_GEO     ? "the geo key that matched the client"
                        : r->policy == POLICY_NEAREST ? "distance from the client"
                        : r->policy == POLICY_LATENCY
                            ? "round-trip time from the client's vantage point; the record's "
                              "regions for endpoints of unknown latency"
                            : "every region of the record";
    json_t *j =
        json_pack("{s:o, s:s, s:o, s:o}", "record", admin_view_record(g, r), "region_order_source",
                  order, "regions", explain_regions(x), "endpoints", eps);
    json_object_set_new(j, "selection",
                        json_pack("{s:s, s:i, s:i, s:o}", "select",
                                  admin_view_select_name(t->policy.select_used), "candidates",
                                  t->policy.n_candidates, "spill_regions", t->result.n_spill,
                                  "chosen", chosen));
    json_object_set_new(j, "outcome", json_string(policy_outcome_name(t->result.outcome)));
    if (r->shed)
        json_object_set_new(j, "shed_load",
                            json_pack("{s:f, s:f}", "low", policy_ext_of(r)->shed_low, "high",
                                      policy_ext_of(r)->shed_high));
    json_object_set_new(j, "ttl", json_integer(policy_answer_ttl(r, &t->result)));
    if (r->health_ttl) {
        int64_t left = t->result.change_at_ms ? t->result.change_at_ms - health_mono_ms() : 0;
        json_object_set_new(
            j, "ttl_health",
            json_pack("{s:i, s:i, s:o}", "ttl_min", (int)r->ttl_min, "ttl_max", (int)r->ttl,
                      "change_in_s",
                      t->result.change_at_ms ? json_real((double)left / 1000.0) : json_null()));
    }
    json_object_set_new(j, "ecs_scope", json_integer(t->result.ecs_scope));
    json_object_set_new(j, "drills", explain_drills(x));
    if (t->policy.geo.used)
        json_object_set_new(j, "geo", explain_geo(x->s, t));
    if (t->policy.latency.used)
        json_object_set_new(j, "latency", explain_latency(x));
    return j;
}

void admin_handle_explain(struct admin_req *r)
{
    struct admin_explain_req e; /* owns the query strings until freed below */
    char msg[512];              /* the size of admin_reply_error's buffer */
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->req);
    int st =
        admin_request_parse_explain(uri ? evhttp_uri_get_query(uri) : NULL, &e, msg, sizeof(msg));
    if (st != 0) {
        admin_reply_error(r, st, "bad_request", "%s", msg);
        return;
    }
    uint8_t *out = malloc(DNS_TCP_MAX);
    struct answer_trace trace;
    memset(&trace, 0, sizeof(trace));
    uint64_t rng = (uint64_t)(health_now() * 1e6) | 1;
    struct query_client qc = {.addr = &e.client_addr, .rng = &rng, .trace = &trace};
    /* qc.reader stays NULL: explain's runs are not counted. */
    const struct serve_set *s = serve_enter(r->a->reader);
    qc.loss = serve_loss(r->a->reader);
    size_t len = query_answer(s, &qc, e.wire, e.wire_len, out, false);
    /* The client as the query path saw it (ECS, else the address), and
     * what scoped drills take from it, for the endpoints' layers. */
    struct explain_ctx x = {.a = r->a, .s = s, .g = s->gslb, .t = &trace};
    struct dns_query q;
    bool parsed = dns_query_parse(e.wire, e.wire_len, &q) == DNS_PARSE_OK;
    policy_loss_client_of(&e.client_addr, parsed ? &q.ecs : NULL, &x.client);
    policy_loss_match(qc.loss, &x.client, &x.match);
    x.ov.lost = x.match.lost;
    x.ov.n_lost = x.match.n_lost;
    char nb[1024];
    dns_name_to_str(e.qname.wire, nb, sizeof(nb));
    const struct zone *z = snapshot_find_zone(s->zones, &e.qname, e.qtype);
    json_t *body =
        json_pack("{s:{s:s, s:s, s:s, s:s?}, s:s?, s:I}", "query", "name", nb, "type",
                  e.type ? e.type : "A", "client", e.client ? e.client : "127.0.0.1", "ecs", e.ecs,
                  "zone", z ? z->origin_str : NULL, "config_generation", (json_int_t)s->generation);
    json_object_set_new(body, "policy", trace.used ? explain_policy(&x) : json_null());
    serve_leave(r->a->reader);
    json_object_set_new(body, "reply", explain_reply(out, len));
    free(out);
    admin_request_explain_free(&e);
    admin_reply_json(r, 200, body);
}
