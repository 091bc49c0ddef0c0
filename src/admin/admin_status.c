/*
 * admin_status.c -- GET /v1/status and POST /v1/reload.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin/admin_int.h"
#include "admin/admin_view.h"
#include "anycast/anycast.h"
#include "drill/drill.h"
#include "health/override.h"
#include "health/service.h"
#include "policy/policy_dial.h"
#include "policy/policy_ramp.h"
#include "policy/policy.h"
#include "policy/policy_geo.h"
#include "dnstap/dnstap.h"
#include "webhook/webhook.h"

#ifndef GTM_VERSION
#define GTM_VERSION "unknown"
#endif

static json_t *status_server(struct admin *a, const struct serve_set *s)
{
    struct serve_query_totals t;
    serve_sum_queries(a->env.serve, &t);
    json_int_t udp = (json_int_t)t.messages[SERVE_UDP], tcp = (json_int_t)t.messages[SERVE_TCP];
    json_int_t tls = (json_int_t)t.messages[SERVE_TLS];
    size_t drills[DRILL_MODES] = {0, 0, 0};
    if (a->env.drills)
        drill_core_count_active(a->env.drills, drills);
    return json_pack("{s:s, s:f, s:I, s:i, s:{s:I, s:I, s:I}, s:I, s:I}", "version", GTM_VERSION,
                     "uptime_s", health_now() - a->env.started, "config_generation",
                     (json_int_t)s->generation, "workers", (int)a->env.workers, "queries", "udp",
                     udp, "tcp", tcp, "tls", tls, "active_overrides",
                     (json_int_t)override_count(a->env.health), "active_drills",
                     (json_int_t)(drills[0] + drills[1] + drills[2]));
}

static json_t *status_zones(const struct snapshot *s)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < s->n_zones; i++) {
        const struct zone *z = s->zones[i];
        json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:s}", "origin", z->origin_str,
                                             "serial", (json_int_t)z->serial, "records",
                                             (json_int_t)z->n_records, "file", z->file));
    }
    return arr;
}

/* Per-pool aggregate of one region or az. */
static json_t *status_pools_of(const struct gslb *g, int region, int az)
{
    json_t *pools = json_object();
    for (size_t i = 0; i < g->n_pools; i++) {
        const struct policy_pool *p = &g->pools[i];
        unsigned healthy = 0, total = 0;
        bool present = false;
        for (size_t k = 0; k < p->n_eps; k++)
            present = present || (region >= 0 ? p->eps[k].region == region : p->eps[k].az == az);
        if (!present)
            continue;
        bool up = region >= 0 ? gslb_region_up(g, p, (uint16_t)region, NULL, &healthy, &total)
                              : gslb_az_up(g, p, (uint16_t)az, NULL);
        if (region < 0)
            for (size_t k = 0; k < p->n_eps; k++)
                if (p->eps[k].az == az) {
                    total++;
                    healthy += gslb_endpoint_state(g, &p->eps[k], NULL) == HEALTH_UP;
                }
        json_object_set_new(pools, p->name,
                            json_pack("{s:s, s:i, s:i, s:i}", "state", up ? "up" : "down",
                                      "healthy", healthy, "total", total, "min_healthy",
                                      p->min_healthy));
    }
    return pools;
}

/* The endpoints of region in az (az < 0: those without an az). */
static json_t *status_endpoints(struct admin *a, const struct gslb *g, uint16_t region, int az)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < g->n_pools; i++)
        for (size_t k = 0; k < g->pools[i].n_eps; k++) {
            const struct policy_endpoint *e = &g->pools[i].eps[k];
            if (e->region == region && (az < 0 ? e->az == UINT16_MAX : e->az == az)) {
                json_t *ep =
                    admin_view_endpoint(a->env.health, a->env.drills, g, &g->pools[i], e, NULL);
                if (g->pools[i].check >= 0)
                    admin_fleet_endpoint(a, ep, e->key);
                json_array_append_new(arr, ep);
            }
        }
    return arr;
}

/* regions -> azs -> endpoints, with every state layer. */
/* The failback ramps in progress of region: one per record that ramps
 * it back now (policy_ramp.h). */
static json_t *status_ramps(const struct gslb *g, uint16_t region)
{
    json_t *arr = json_array();
    int64_t now = policy_ramp_now_ms();
    for (size_t i = 0; g->ramp && i < g->n_records; i++) {
        const struct policy_record *rec = gslb_rec(g, i);
        bool uses = false;
        for (size_t k = 0; k < rec->n_regions && !uses; k++)
            uses = rec->regions[k] == region;
        int64_t start;
        uint16_t share = uses ? policy_ramp_share(g, rec, region, now, &start) : POLICY_DIAL_FULL;
        if (share >= POLICY_DIAL_FULL)
            continue;
        json_array_append_new(arr, json_pack("{s:s, s:s, s:f, s:f, s:f}", "record", rec->name_str,
                                             "pool", g->pools[rec->pool].name, "percent",
                                             share / 100.0, "elapsed", (now - start) / 1000.0,
                                             "ramp", policy_ext_of(rec)->ramp_ms / 1000.0));
    }
    return arr;
}

static json_t *status_regions(struct admin *a, const struct gslb *g)
{
    json_t *arr = json_array();
    for (size_t r = 0; g && r < g->n_regions; r++) {
        const struct policy_region *reg = &g->regions[r];
        json_t *azs = json_array();
        for (size_t z = 0; z < g->n_azs; z++) {
            if (g->azs[z].region != r)
                continue;
            json_t *j = json_pack("{s:s}", "name", g->azs[z].name);
            json_object_set_new(
                j, "state",
                admin_view_layers(a->env.health, a->env.drills, g->azs[z].slot, HEALTH_UNKNOWN));
            json_object_del(json_object_get(j, "state"), "effective");
            json_object_del(json_object_get(j, "state"), "probe");
            json_object_set_new(j, "pools", status_pools_of(g, -1, (int)z));
            json_object_set_new(j, "endpoints", status_endpoints(a, g, (uint16_t)r, (int)z));
            json_array_append_new(azs, j);
        }
        json_t *j = json_pack("{s:s}", "name", reg->name);
        json_object_set_new(j, "location",
                            reg->has_location ? json_pack("[f,f]", reg->lat, reg->lon)
                                              : json_null());
        json_object_set_new(
            j, "state", admin_view_layers(a->env.health, a->env.drills, reg->slot, HEALTH_UNKNOWN));
        json_object_del(json_object_get(j, "state"), "effective");
        json_object_del(json_object_get(j, "state"), "probe");
        json_object_set_new(j, "pools", status_pools_of(g, (int)r, -1));
        json_object_set_new(j, "azs", azs);
        json_object_set_new(j, "endpoints", status_endpoints(a, g, (uint16_t)r, -1));
        json_object_set_new(j, "ramps", status_ramps(g, (uint16_t)r));
        json_array_append_new(arr, j);
    }
    return arr;
}

static json_t *status_records(const struct gslb *g)
{
    json_t *arr = json_array();
    for (size_t i = 0; g && i < g->n_records; i++)
        json_array_append_new(arr, admin_view_record(g, gslb_rec(g, i)));
    return arr;
}

/* The geo database, if any: what it is and a network of each of its first
 * locations (so that a console can offer clients the database places). */
static json_t *status_geo(const struct policy_geo *pg)
{
    const struct geo_db *db = pg ? pg->db : NULL;
    if (!db)
        return json_null();
    json_t *samples = json_array();
    for (size_t i = 0; i < db->n_samples; i++) {
        const struct geo_db_sample *s = &db->samples[i];
        json_t *j =
            json_pack("{s:o}", "network", admin_view_network(s->family, s->addr, s->prefix));
        admin_view_location(j, &db->locs[s->loc]);
        json_array_append_new(samples, j);
    }
    json_t *asn = db->asn_path ? json_pack("{s:s, s:s, s:I}", "database", db->asn_path, "type",
                                           db->asn_type ? db->asn_type : "", "networks",
                                           (json_int_t)db->asn_networks)
                               : json_null();
    return json_pack("{s:s, s:s, s:I, s:o, s:o}", "database", db->path, "type",
                     db->type ? db->type : "", "networks", (json_int_t)db->stats.networks,
                     "samples", samples, "asn", asn);
}

/* The top-level sections of GET /v1/status, in the order they are sent
 * (status_sections names them). */
enum status_section {
    ST_SERVER,
    ST_ZONES,
    ST_REGIONS,
    ST_RECORDS,
    ST_GEO,
    ST_OVERRIDES,
    ST_DRILLS,
    ST_STATE_FILE,
    ST_FLEET,
    ST_NOTIFY,
    ST_DNSTAP,
    ST_FITNESS,
    ST_N
};
static const char *const status_sections[ST_N] = {
    [ST_SERVER] = "server",   [ST_ZONES] = "zones",
    [ST_REGIONS] = "regions", [ST_RECORDS] = "records",
    [ST_GEO] = "geo",         [ST_OVERRIDES] = "overrides",
    [ST_DRILLS] = "drills",   [ST_STATE_FILE] = "state_file",
    [ST_FLEET] = "fleet",     [ST_NOTIFY] = "notify",
    [ST_DNSTAP] = "dnstap",   [ST_FITNESS] = "fitness"};

/* ?sections=A,B (doc/admin-api.md): which sections are wanted, a bit per
 * status_section; all without the parameter. At 1,000,000 policy names
 * the whole status is some 217 MB, nearly all "records", built and sent
 * by the admin thread: a script that watches the fleet's connection
 * wants 3 KB of it. False with the name it does not know in bad. */
static bool status_wanted(const char *list, unsigned *want, char *bad, size_t len)
{
    *want = list ? 0 : (1u << ST_N) - 1;
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ",");
        size_t i = 0;
        while (i < ST_N &&
               !(strlen(status_sections[i]) == n && strncmp(status_sections[i], p, n) == 0))
            i++;
        if (i == ST_N) {
            snprintf(bad, len, "%.*s", (int)(n < 64 ? n : 64), p);
            return false;
        }
        *want |= 1u << i;
        p += n + (p[n] == ',');
    }
    return true;
}

/* The 400 for a section it does not know, naming the ones it does. */
static void status_refuse(struct admin_req *r, const char *bad)
{
    char known[256] = "";
    for (size_t i = 0, at = 0; i < ST_N && at < sizeof(known); i++)
        at += (size_t)snprintf(known + at, sizeof(known) - at, "%s%s", i ? ", " : "",
                               status_sections[i]);
    admin_reply_error(r, 400, "bad_request", "sections: no section \"%s\" (%s)", bad, known);
}

/* Whether section s is wanted (status_wanted); only those are built. */
static bool status_has(unsigned want, enum status_section s)
{
    return (want >> s) & 1u;
}

static void status_set(json_t *body, enum status_section s, json_t *v)
{
    json_object_set_new(body, status_sections[s], v);
}

/* The sections read from the set being served (between serve_enter and
 * serve_leave). */
static void status_from_set(struct admin *a, const struct serve_set *s, unsigned want, json_t *body)
{
    if (status_has(want, ST_SERVER))
        status_set(body, ST_SERVER, status_server(a, s));
    if (status_has(want, ST_ZONES))
        status_set(body, ST_ZONES, status_zones(s->zones));
    if (status_has(want, ST_REGIONS))
        status_set(body, ST_REGIONS, status_regions(a, s->gslb));
    if (status_has(want, ST_RECORDS))
        status_set(body, ST_RECORDS, status_records(s->gslb));
    if (status_has(want, ST_GEO))
        status_set(body, ST_GEO, status_geo(s->geo));
}

void admin_handle_status(struct admin_req *r)
{
    struct admin *a = r->a;
    unsigned want;
    char bad[72];
    if (!status_wanted(evhttp_find_header(&r->query, "sections"), &want, bad, sizeof(bad))) {
        status_refuse(r, bad);
        return;
    }
    json_t *body = json_object();
    status_from_set(a, serve_enter(a->reader), want, body);
    serve_leave(a->reader);
    if (status_has(want, ST_OVERRIDES))
        status_set(body, ST_OVERRIDES, override_list_json(a->env.health));
    if (status_has(want, ST_DRILLS)) {
        json_t *drills = a->env.drills ? drill_core_list_json(a->env.drills) : NULL;
        status_set(body, ST_DRILLS,
                   drills ? json_incref(json_object_get(drills, "active")) : json_array());
        json_decref(drills);
    }
    if (status_has(want, ST_STATE_FILE))
        status_set(body, ST_STATE_FILE,
                   a->env.health_service ? health_service_status_json(a->env.health_service)
                                         : json_null());
    if (status_has(want, ST_FLEET))
        status_set(body, ST_FLEET, admin_fleet_status(a));
    if (status_has(want, ST_NOTIFY))
        status_set(body, ST_NOTIFY, webhook_status_json(a->env.webhooks));
    if (status_has(want, ST_DNSTAP))
        status_set(body, ST_DNSTAP, dnstap_status_json(a->env.dnstap));
    if (status_has(want, ST_FITNESS))
        status_set(body, ST_FITNESS, anycast_status_json(a->env.anycast));
    admin_reply_json(r, 200, body);
}

void admin_handle_reload(struct admin_req *r)
{
    bool ok = false;
    json_t *result = r->a->env.reload(r->a->env.reload_arg, NULL, &ok);
    int status = ok ? 200 : 422;
    admin_audit(r, status, json_incref(result));
    admin_reply_json(r, status, result);
}

void admin_set_dnssec(struct admin *a, json_t *view)
{
    pthread_mutex_lock(&a->lock);
    json_t *old = a->dnssec;
    a->dnssec = view;
    pthread_mutex_unlock(&a->lock);
    json_decref(old);
}

/* GET /v1/dnssec: the daemon's view (a copy: jansson's counts are not
 * shared across threads here) with the time it is read at, so that a
 * client compares the due times with the server's clock. */
void admin_handle_dnssec(struct admin_req *r)
{
    pthread_mutex_lock(&r->a->lock);
    json_t *v = r->a->dnssec ? json_deep_copy(r->a->dnssec)
                             : json_pack("{s:[], s:[]}", "policies", "zones");
    pthread_mutex_unlock(&r->a->lock);
    json_object_set_new(v, "now", json_integer((json_int_t)time(NULL)));
    admin_reply_json(r, 200, v);
}
