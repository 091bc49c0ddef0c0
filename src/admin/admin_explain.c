/*
 * admin_explain.c -- GET /v1/explain?name=&type=&client=&ecs=
 *
 * Runs the query through the same code as the DNS workers (query_answer on
 * the live snapshot) with a trace attached, then shows the decision: the
 * policy record, the region order and why each region served or was
 * skipped, every endpoint's state layers, the selection, TTL, ECS scope,
 * and the exact reply that path produced.
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
#include "geo/geo_nearest.h"
#include "policy/policy.h"
#include "policy/policy_geo.h"

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

static json_t *explain_regions(const struct gslb *g, const struct answer_trace *t)
{
    const struct policy_record *r = t->record;
    const struct policy_pool *p = &g->pools[r->pool];
    json_t *arr = json_array();
    for (uint16_t i = 0; i < t->policy.n_regions; i++) {
        const struct policy_trace_region *tr = &t->policy.regions[i];
        const char *why;
        char buf[160];
        if (tr->forced == HEALTH_DOWN)
            why = "forced down by an override";
        else if (tr->forced == HEALTH_UP)
            why = tr->has_type ? "forced up by an override" : "no endpoints of this type";
        else if (!tr->up) {
            snprintf(buf, sizeof(buf), "%u of %u endpoints up, min_healthy %u", tr->healthy,
                     tr->total, p->min_healthy);
            why = buf;
        } else if (!tr->has_type)
            why = "no endpoints of this type";
        else {
            snprintf(buf, sizeof(buf), "%u of %u endpoints up", tr->healthy, tr->total);
            why = buf;
        }
        bool serving = t->result.serving_region == tr->region;
        json_array_append_new(arr,
                              json_pack("{s:s, s:i, s:s, s:b, s:s}", "region",
                                        g->regions[tr->region].name, "position", i, "state",
                                        tr->up ? "up" : "down", "serving", serving, "why", why));
    }
    return arr;
}

static json_t *explain_addr(unsigned family, const uint8_t *addr, unsigned prefix)
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
    json_t *j = json_pack("{s:o}", "network", explain_addr(cl->family, cl->addr, prefix));
    if (out->flags & GEO_HAS_CONTINENT)
        json_object_set_new(j, "continent", json_string(out->continent));
    if (out->flags & GEO_HAS_COUNTRY)
        json_object_set_new(j, "country", json_string(out->country));
    if (out->flags & GEO_HAS_SUBDIVISION) {
        char sub[8];
        snprintf(sub, sizeof(sub), "%s-%s", out->country, out->subdivision);
        json_object_set_new(j, "subdivision", json_string(sub));
    }
    if (out->flags & GEO_HAS_COORDS) {
        json_object_set_new(j, "latitude", json_real(out->lat));
        json_object_set_new(j, "longitude", json_real(out->lon));
    }
    return j;
}

/* Who the client is for the record: the address looked up and where from. */
static json_t *explain_client(const struct policy_trace_geo *tg)
{
    const struct policy_geo_client *cl = &tg->client;
    const char *source = cl->from_ecs ? "ecs" : cl->known ? "source address" : "none";
    json_t *j = json_pack("{s:s, s:b}", "from", source, "ecs_ignored", cl->ecs_ignored);
    json_object_set_new(j, "address",
                        cl->known ? explain_addr(cl->family, cl->addr, 255) : json_null());
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
    if (r->policy == POLICY_GEO)
        json_object_set_new(j, "key", json_string(geo_map_class_key(r->geo, tg->cls)->text));
    else
        json_object_set_new(j, "distances", explain_distances(g, &tg->order, &loc));
    json_object_set_new(j, "class_scope", json_integer(tg->class_scope));
    json_object_set_new(j, "widened_scope",
                        tg->widened ? json_integer(tg->widened_scope) : json_null());
    json_object_set_new(j, "scope", json_integer(t->result.ecs_scope));
    return j;
}

static json_t *explain_policy(struct admin *a, const struct serve_set *s,
                              const struct answer_trace *t)
{
    const struct gslb *g = s->gslb;
    static const char *const outcomes[] = {"served", "fail_open", "fallback", "empty"};
    const struct policy_record *r = t->record;
    const struct policy_pool *p = &g->pools[r->pool];
    json_t *eps = json_array(), *chosen = json_array();
    for (size_t i = 0; i < p->n_eps; i++)
        if (p->eps[i].rtype == t->rtype)
            json_array_append_new(eps, admin_view_endpoint(a->env.health, g, p, &p->eps[i]));
    for (uint16_t i = 0; i < t->result.n; i++)
        json_array_append_new(chosen, json_string(admin_view_answer(t->result.eps[i])));
    const char *order = r->policy == POLICY_FAILOVER  ? "failover order from the record"
                        : r->policy == POLICY_GEO     ? "the geo key that matched the client"
                        : r->policy == POLICY_NEAREST ? "distance from the client"
                                                      : "every region of the record";
    json_t *j =
        json_pack("{s:o, s:s, s:o, s:o}", "record", admin_view_record(g, r), "region_order_source",
                  order, "regions", explain_regions(g, t), "endpoints", eps);
    json_object_set_new(j, "selection",
                        json_pack("{s:s, s:i, s:i, s:o}", "select",
                                  admin_view_select_name(t->policy.select_used), "candidates",
                                  t->policy.n_candidates, "spill_regions", t->result.n_spill,
                                  "chosen", chosen));
    json_object_set_new(j, "outcome", json_string(outcomes[t->result.outcome]));
    json_object_set_new(j, "ttl", json_integer(r->ttl));
    json_object_set_new(j, "ecs_scope", json_integer(t->result.ecs_scope));
    if (t->policy.geo.used)
        json_object_set_new(j, "geo", explain_geo(s, t));
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
    size_t len = query_answer(s, &qc, e.wire, e.wire_len, out, false);
    char nb[1024];
    dns_name_to_str(e.qname.wire, nb, sizeof(nb));
    const struct zone *z = snapshot_find_zone(s->zones, &e.qname, e.qtype);
    json_t *body =
        json_pack("{s:{s:s, s:s, s:s, s:s?}, s:s?, s:I}", "query", "name", nb, "type",
                  e.type ? e.type : "A", "client", e.client ? e.client : "127.0.0.1", "ecs", e.ecs,
                  "zone", z ? z->origin_str : NULL, "config_generation", (json_int_t)s->generation);
    json_object_set_new(body, "policy", trace.used ? explain_policy(r->a, s, &trace) : json_null());
    serve_leave(r->a->reader);
    json_object_set_new(body, "reply", explain_reply(out, len));
    free(out);
    admin_request_explain_free(&e);
    admin_reply_json(r, 200, body);
}
