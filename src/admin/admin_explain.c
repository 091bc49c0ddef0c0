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
#include "policy/policy.h"

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

static json_t *explain_regions(struct admin *a, const struct gslb *g, const struct answer_trace *t)
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
        json_t *reg = json_pack("{s:s, s:i, s:s, s:b, s:s}", "region", g->regions[tr->region].name,
                                "position", i, "state", tr->up ? "up" : "down", "serving", serving,
                                "why", why);
        /* Every layer names its override: the region's here, the azs'
         * below, each endpoint's in its state.forced_by. */
        json_object_set_new(reg, "override",
                            admin_view_slot_override(a->env.health, g->regions[tr->region].slot));
        json_object_set_new(reg, "azs", explain_azs(a, g, p, tr->region));
        json_array_append_new(arr, reg);
    }
    return arr;
}

static json_t *explain_policy(struct admin *a, const struct gslb *g, const struct answer_trace *t)
{
    static const char *const outcomes[] = {"served", "fail_open", "fallback", "empty"};
    const struct policy_record *r = t->record;
    const struct policy_pool *p = &g->pools[r->pool];
    json_t *eps = json_array(), *chosen = json_array();
    for (size_t i = 0; i < p->n_eps; i++)
        if (p->eps[i].rtype == t->rtype)
            json_array_append_new(eps, admin_view_endpoint(a->env.health, g, p, &p->eps[i]));
    for (uint16_t i = 0; i < t->result.n; i++)
        json_array_append_new(chosen, json_string(admin_view_answer(t->result.eps[i])));
    const char *order = r->policy == POLICY_FAILOVER ? "failover order from the record"
                                                     : "every region of the record";
    json_t *j =
        json_pack("{s:o, s:s, s:o, s:o}", "record", admin_view_record(g, r), "region_order_source",
                  order, "regions", explain_regions(a, g, t), "endpoints", eps);
    json_object_set_new(j, "selection",
                        json_pack("{s:s, s:i, s:i, s:o}", "select",
                                  admin_view_select_name(t->policy.select_used), "candidates",
                                  t->policy.n_candidates, "spill_regions", t->result.n_spill,
                                  "chosen", chosen));
    json_object_set_new(j, "outcome", json_string(outcomes[t->result.outcome]));
    json_object_set_new(j, "ttl", json_integer(r->ttl));
    json_object_set_new(j, "ecs_scope", json_integer(t->result.ecs_scope));
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
    json_object_set_new(body, "policy",
                        trace.used ? explain_policy(r->a, s->gslb, &trace) : json_null());
    serve_leave(r->a->reader);
    json_object_set_new(body, "reply", explain_reply(out, len));
    free(out);
    admin_request_explain_free(&e);
    admin_reply_json(r, 200, body);
}
