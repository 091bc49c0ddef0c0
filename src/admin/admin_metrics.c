/*
 * admin_metrics.c -- GET /metrics in the Prometheus text format (0.0.4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "dns/rrtype.h"
#include "common/event_ring.h"
#include "drill/drill.h"
#include "guard/cookie.h"
#include "guard/rrl.h"
#include "health/cert.h"
#include "health/override.h"
#include "policy/policy.h"

/* Writes v as a label value, escaped (backslash, quote, newline). */
static void metrics_label(struct evbuffer *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            evbuffer_add_printf(b, "\\%c", *v);
        else if (*v == '\n')
            evbuffer_add(b, "\\n", 2);
        else
            evbuffer_add(b, v, 1);
    }
}

static void metrics_head(struct evbuffer *b, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one sample without labels: its head and "name value". */
static void metrics_single(struct evbuffer *b, const char *name, const char *type, const char *help,
                           unsigned long long v)
{
    metrics_head(b, name, type, help);
    evbuffer_add_printf(b, "%s %llu\n", name, v);
}

/* One sample, "NAME{LABELS} value", of a counter the daemon owns
 * (admin_env); a counter the env leaves NULL reads 0. */
static void metrics_counter(struct evbuffer *b, const char *sample, atomic_ullong *v)
{
    evbuffer_add_printf(b, "%s %llu\n", sample, v ? (unsigned long long)atomic_load(v) : 0ULL);
}

/* DNS Cookies and response rate limiting (src/guard), every series
 * written, zeros included, so that dashboards see them from the start. */
static void metrics_guard(struct evbuffer *b, const struct serve_query_totals *tot)
{
    metrics_head(b, "gtmd_cookie_queries_total", "counter",
                 "Queries with a COOKIE option, by its state: client_only, bad (server cookie "
                 "not valid), valid, malformed (FORMERR).");
    for (int k = COOKIE_CLIENT_ONLY; k < COOKIE_KINDS; k++)
        evbuffer_add_printf(b, "gtmd_cookie_queries_total{status=\"%s\"} %llu\n",
                            cookie_status_name((enum cookie_status)k),
                            (unsigned long long)tot->cookies[k]);
    metrics_head(b, "gtmd_rrl_limited_total", "counter",
                 "Responses held back by response rate limiting, by class and action: dropped, or "
                 "slipped (sent truncated, or BADCOOKIE to a client with a cookie).");
    for (int c = 0; c < RRL_CLASSES; c++)
        for (int a = 0; a < SERVE_RRL_ACTIONS; a++)
            evbuffer_add_printf(b, "gtmd_rrl_limited_total{class=\"%s\",action=\"%s\"} %llu\n",
                                rrl_class_name((enum rrl_class)c), a ? "slipped" : "dropped",
                                (unsigned long long)tot->rrl[c][a]);
}

/* DNS over TLS connections (src/net/tls.h), zeros included. */
static void metrics_tls(struct evbuffer *b, const struct serve_query_totals *tot)
{
    static const char *const kinds[SERVE_TLS_KINDS] = {[SERVE_TLS_FULL] = "full",
                                                       [SERVE_TLS_RESUMED] = "resumed",
                                                       [SERVE_TLS_FAILED] = "failed",
                                                       [SERVE_TLS_TIMEOUT] = "timeout"};
    metrics_single(b, "gtmd_tls_connections_total", "counter", "DNS over TLS connections accepted.",
                   (unsigned long long)tot->tls[SERVE_TLS_ACCEPTED]);
    metrics_head(b, "gtmd_tls_handshakes_total", "counter",
                 "DNS over TLS handshakes by result: full, resumed (a session ticket or the "
                 "session cache), failed (not TLS, nothing in common, cut short), timeout "
                 "(unfinished at the TCP idle timeout).");
    for (int k = SERVE_TLS_FULL; k < SERVE_TLS_KINDS; k++)
        evbuffer_add_printf(b, "gtmd_tls_handshakes_total{result=\"%s\"} %llu\n", kinds[k],
                            (unsigned long long)tot->tls[k]);
}

/* Each DNS worker's share of the messages (UDP datagrams, TCP and TLS
 * messages): how evenly the kernel's steering spreads them (net/spread.h). */
static void metrics_workers(struct evbuffer *b, struct serve *sv)
{
    size_t cap = serve_sum_workers(sv, NULL, 0);
    struct serve_worker_total *w = calloc(cap ? cap : 1, sizeof(*w)); /* freed below */
    if (!w)
        return;
    size_t n = serve_sum_workers(sv, w, cap);
    n = n < cap ? n : cap; /* a worker added meanwhile waits for the next scrape */
    metrics_head(b, "gtmd_worker_messages_total", "counter",
                 "DNS messages received, by the worker thread that read them (tcpN, udpN, xdpN).");
    for (size_t i = 0; i < n; i++)
        evbuffer_add_printf(b, "gtmd_worker_messages_total{worker=\"%s\"} %llu\n", w[i].name,
                            (unsigned long long)w[i].messages);
    free(w);
}

static void metrics_queries(struct evbuffer *b, struct serve *sv)
{
    static const char *const transports[SERVE_TRANSPORTS] = {"udp", "tcp", "tls"};
    struct serve_query_totals tot;
    serve_sum_queries(sv, &tot);
    metrics_head(b, "gtmd_queries_total", "counter",
                 "DNS queries answered, by transport, query type and rcode.");
    for (int t = 0; t < SERVE_TRANSPORTS && sv->rcode_label && sv->qtype_label; t++)
        for (int rc = 0; rc < SERVE_RCODES; rc++)
            for (int q = 0; q < SERVE_QTYPES; q++) {
                unsigned long long n = tot.queries[t][rc][q];
                if (n)
                    evbuffer_add_printf(
                        b, "gtmd_queries_total{transport=\"%s\",qtype=\"%s\",rcode=\"%s\"} %llu\n",
                        transports[t], sv->qtype_label(q), sv->rcode_label(rc), n);
            }
    metrics_guard(b, &tot);
    metrics_tls(b, &tot);
    metrics_workers(b, sv);
}

static void metrics_records(struct evbuffer *b, struct serve *sv, const struct serve_set *s)
{
    const struct gslb *g = s->gslb;
    metrics_head(b, "gtmd_policy_answers_total", "counter",
                 "Policy answers by record and serving region (\"none\": nothing was up).");
    for (size_t i = 0; g && i < g->n_records; i++) {
        const struct policy_record *r = gslb_rec(g, i);
        for (size_t k = 0; k <= g->n_regions; k++) {
            unsigned long long n = serve_sum_policy(sv, s, i, k < g->n_regions ? (int)k : -1);
            if (!n)
                continue;
            evbuffer_add(b, "gtmd_policy_answers_total{record=\"", 34);
            metrics_label(b, r->name_str);
            evbuffer_add(b, "\",region=\"", 10);
            metrics_label(b, k < g->n_regions ? g->regions[k].name : "none");
            evbuffer_add_printf(b, "\"} %llu\n", n);
        }
    }
}

static void metrics_geo(struct evbuffer *b, struct serve *sv, const struct serve_set *s)
{
    uint64_t n[POLICY_GEO_KINDS];
    serve_sum_geo(sv, n);
    uint64_t any = 0;
    for (unsigned k = POLICY_GEO_NONE + 1; k < POLICY_GEO_KINDS; k++)
        any |= n[k];
    if (!any && !s->geo)
        return;
    metrics_head(b, "gtmd_geo_lookups_total", "counter",
                 "Client locations looked up by geo and nearest records, by what placed the "
                 "client (geo: the kind of key matched, default, unknown location; nearest: "
                 "located or unknown).");
    for (unsigned k = POLICY_GEO_NONE + 1; k < POLICY_GEO_KINDS; k++)
        evbuffer_add_printf(b, "gtmd_geo_lookups_total{policy=\"%s\",outcome=\"%s\"} %llu\n",
                            policy_geo_kind_policy(k), policy_geo_kind_name(k),
                            (unsigned long long)n[k]);
}

/* Dynamic updates (doc/updates.md) by the rcode the updater answered
 * (every rcode listed), and those that changed a zone. */
static void metrics_updates(struct evbuffer *b, const struct admin_env *env)
{
    if (!env->updates)
        return;
    metrics_head(b, "gtmd_updates_total", "counter",
                 "Dynamic updates (RFC 2136) the updater answered, by rcode.");
    for (unsigned i = 0; i < ADMIN_UPDATE_RCODES; i++)
        evbuffer_add_printf(b, "gtmd_updates_total{rcode=\"%s\"} %llu\n",
                            dns_rcode_name((uint16_t)i),
                            (unsigned long long)atomic_load(&env->updates[i]));
    metrics_single(b, "gtmd_updates_changed_total", "counter",
                   "Dynamic updates that changed a zone (a new serial).",
                   (unsigned long long)atomic_load(env->updates_changed));
}

/* The signatures of policy answers (zones signed at load): counted per
 * configuration, so the counters start again at a reload. */
static void metrics_policy_sigs(struct evbuffer *b, const struct serve_set *s)
{
    struct policy_sigs_stats st;
    if (!s->sigs)
        return;
    policy_sigs_stats(s->sigs, &st);
    metrics_single(b, "gtmd_dnssec_policy_answers_signed", "gauge",
                   "Signed policy answers held (zones signed at load).", st.entries);
    metrics_single(b, "gtmd_dnssec_policy_signatures_total", "counter",
                   "Policy answers signed since the configuration was loaded.", st.signatures);
    metrics_single(b, "gtmd_dnssec_policy_unsigned_answers_total", "counter",
                   "Policy answers sent with DO but without RRSIG (no signature at all yet).",
                   st.unsigned_answers);
    metrics_single(b, "gtmd_dnssec_policy_requests_dropped_total", "counter",
                   "Requests for a signature lost because every request slot was taken.",
                   st.requests_dropped);
}

static void metrics_endpoint_labels(struct evbuffer *b, const struct gslb *g,
                                    const struct policy_pool *p, const struct policy_endpoint *e)
{
    evbuffer_add(b, "{pool=\"", 7);
    metrics_label(b, p->name);
    evbuffer_add(b, "\",endpoint=\"", 12);
    metrics_label(b, e->name);
    evbuffer_add(b, "\",region=\"", 10);
    metrics_label(b, g->regions[e->region].name);
    evbuffer_add(b, "\",az=\"", 6);
    metrics_label(b, e->az == UINT16_MAX ? "" : g->azs[e->az].name);
    evbuffer_add(b, "\"", 1);
}

/* One sample of a per-pool state: METRIC{pool="P",KEY="V"} up. */
static void metrics_pool_up(struct evbuffer *b, const char *metric, const char *pool,
                            const char *key, const char *v, int up)
{
    evbuffer_add_printf(b, "%s{pool=\"", metric);
    metrics_label(b, pool);
    evbuffer_add_printf(b, "\",%s=\"", key);
    metrics_label(b, v);
    evbuffer_add_printf(b, "\"} %d\n", up);
}

static void metrics_endpoints(struct evbuffer *b, const struct gslb *g)
{
    metrics_head(b, "gtmd_endpoint_up", "gauge",
                 "Effective state of an endpoint (1 up), all layers applied.");
    for (size_t i = 0; g && i < g->n_pools; i++)
        for (size_t k = 0; k < g->pools[i].n_eps; k++) {
            const struct policy_endpoint *e = &g->pools[i].eps[k];
            evbuffer_add(b, "gtmd_endpoint_up", 16);
            metrics_endpoint_labels(b, g, &g->pools[i], e);
            evbuffer_add_printf(b, "} %d\n", gslb_endpoint_state(g, e, NULL) == HEALTH_UP);
        }
    metrics_head(b, "gtmd_region_up", "gauge", "Region state per pool (1 up).");
    for (size_t i = 0; g && i < g->n_pools; i++)
        for (size_t r = 0; r < g->n_regions; r++)
            metrics_pool_up(b, "gtmd_region_up", g->pools[i].name, "region", g->regions[r].name,
                            gslb_region_up(g, &g->pools[i], (uint16_t)r, NULL, NULL, NULL));
    metrics_head(b, "gtmd_az_up", "gauge", "Availability zone state per pool (1 up).");
    for (size_t i = 0; g && i < g->n_pools; i++)
        for (size_t z = 0; z < g->n_azs; z++)
            metrics_pool_up(b, "gtmd_az_up", g->pools[i].name, "az", g->azs[z].name,
                            gslb_az_up(g, &g->pools[i], (uint16_t)z, NULL));
}

/* Certificates of endpoints probed over TLS (health/cert.h), only those
 * that had one: when the last one seen expires (expiring false), or
 * whether it is inside its warning window (true). Each family's samples
 * together, as the text format wants. Caller holds the core's lock. */
static void metrics_certs(struct evbuffer *b, struct health_core *hc, const struct gslb *g,
                          bool expiring)
{
    const char *name =
        expiring ? "gtmd_probe_cert_expiring" : "gtmd_probe_cert_expiry_timestamp_seconds";
    if (expiring)
        metrics_head(b, name, "gauge",
                     "1 while that certificate has fewer than the check's cert_warn_days left.");
    else
        metrics_head(b, name, "gauge",
                     "When the certificate an endpoint's TLS check (https, grpc with tls) saw "
                     "last expires (its notAfter), in Unix seconds.");
    for (size_t i = 0; g && i < g->n_pools; i++)
        for (size_t k = 0; g->pools[i].check >= 0 && k < g->pools[i].n_eps; k++) {
            const struct policy_endpoint *e = &g->pools[i].eps[k];
            int64_t na;
            bool warned;
            if (!health_cert_get_locked(hc, e->slot, &na, &warned))
                continue;
            evbuffer_add(b, name, strlen(name));
            metrics_endpoint_labels(b, g, &g->pools[i], e);
            if (expiring)
                evbuffer_add_printf(b, "} %d\n", warned);
            else
                evbuffer_add_printf(b, "} %lld\n", (long long)na);
        }
}

static void metrics_probes(struct evbuffer *b, struct health_core *hc, const struct gslb *g)
{
    metrics_head(b, "gtmd_probe_duration_seconds", "histogram", "Probe latency per endpoint.");
    pthread_mutex_lock(&hc->lock);
    for (size_t i = 0; g && i < g->n_pools; i++)
        for (size_t k = 0; g->pools[i].check >= 0 && k < g->pools[i].n_eps; k++) {
            const struct policy_endpoint *e = &g->pools[i].eps[k];
            unsigned long long cum = 0;
            for (int h = 0; h < HEALTH_HIST_BUCKETS; h++) {
                cum += health_slot_hist_count(e->slot, (unsigned)h);
                evbuffer_add(b, "gtmd_probe_duration_seconds_bucket", 34);
                metrics_endpoint_labels(b, g, &g->pools[i], e);
                if (h < HEALTH_HIST_BUCKETS - 1)
                    evbuffer_add_printf(b, ",le=\"%g\"} %llu\n", health_hist_bounds[h], cum);
                else
                    evbuffer_add_printf(b, ",le=\"+Inf\"} %llu\n", cum);
            }
            evbuffer_add(b, "gtmd_probe_duration_seconds_sum", 31);
            metrics_endpoint_labels(b, g, &g->pools[i], e);
            evbuffer_add_printf(b, "} %.6f\n", e->slot->latency_sum_s);
            evbuffer_add(b, "gtmd_probe_duration_seconds_count", 33);
            metrics_endpoint_labels(b, g, &g->pools[i], e);
            evbuffer_add_printf(b, "} %llu\n", (unsigned long long)e->slot->probes);
        }
    metrics_head(b, "gtmd_probe_failures_total", "counter", "Failed probes by reason.");
    for (size_t i = 0; g && i < g->n_pools; i++)
        for (size_t k = 0; g->pools[i].check >= 0 && k < g->pools[i].n_eps; k++)
            for (int f = 0; f < HEALTH_FAIL_KINDS; f++) {
                const struct policy_endpoint *e = &g->pools[i].eps[k];
                if (!e->slot->fail_by[f])
                    continue;
                evbuffer_add(b, "gtmd_probe_failures_total", 25);
                metrics_endpoint_labels(b, g, &g->pools[i], e);
                evbuffer_add_printf(b, ",reason=\"%s\"} %llu\n", health_fail_names[f],
                                    (unsigned long long)e->slot->fail_by[f]);
            }
    metrics_certs(b, hc, g, false);
    metrics_certs(b, hc, g, true);
    unsigned long long transitions = hc->transitions, freed = hc->slots_freed;
    size_t slots = hc->n_slots;
    pthread_mutex_unlock(&hc->lock);
    metrics_single(b, "gtmd_health_transitions_total", "counter", "Probe state transitions.",
                   transitions);
    metrics_single(b, "gtmd_health_slots", "gauge",
                   "Health slots held (endpoints, azs and regions of live configurations, and "
                   "override targets).",
                   slots);
    metrics_single(b, "gtmd_health_slots_freed_total", "counter",
                   "Endpoint slots freed after reloads removed their endpoints.", freed);
}

static void metrics_drills(struct evbuffer *b, struct drill_core *dc)
{
    size_t active[DRILL_MODES] = {0, 0, 0};
    uint64_t ended[DRILL_RESULTS] = {0, 0, 0, 0};
    if (dc) {
        drill_core_count_active(dc, active);
        drill_core_count_ended(dc, ended);
    }
    metrics_head(b, "gtmd_drills_active", "gauge", "Drills running, by mode.");
    for (int m = 0; m < DRILL_MODES; m++)
        evbuffer_add_printf(b, "gtmd_drills_active{mode=\"%s\"} %zu\n", drill_mode_names[m],
                            active[m]);
    metrics_head(b, "gtmd_drills_ended_total", "counter",
                 "Drills ended since gtmd started, by result.");
    for (int r = DRILL_PASSED; r < DRILL_RESULTS; r++)
        evbuffer_add_printf(b, "gtmd_drills_ended_total{result=\"%s\"} %llu\n",
                            drill_result_names[r], (unsigned long long)ended[r]);
}

/* One practice metric sample: NAME{name="P"[,KEY="V"]} value. */
static void metrics_practice_sample(struct evbuffer *b, const char *metric, const char *name,
                                    const char *key, const char *v, double value)
{
    evbuffer_add_printf(b, "%s{name=\"", metric);
    metrics_label(b, name);
    if (key) {
        evbuffer_add_printf(b, "\",%s=\"", key);
        metrics_label(b, v);
    }
    evbuffer_add_printf(b, "\"} %.17g\n", value);
}

/* Practice drills: next and last start, skips by reason, results. Each
 * family reads one field of every practice entry (GET /v1/drills
 * "practice"): a time (key NULL), or an object of counts by key. */
static void metrics_practice(struct evbuffer *b, struct drill_core *dc)
{
    static const struct {
        const char *metric, *type, *help, *field, *key;
    } fams[] = {{"gtmd_drill_practice_next_start_seconds", "gauge",
                 "When a practice drill starts next (Unix time; absent: not known, or never).",
                 "next_start", NULL},
                {"gtmd_drill_practice_last_start_seconds", "gauge",
                 "When a practice drill last started (Unix time; absent: never).", "last_start",
                 NULL},
                {"gtmd_drill_practice_skips_total", "counter",
                 "Practice drills that were due and did not start, by reason.", "skips", "reason"},
                {"gtmd_drill_practice_results_total", "counter",
                 "Ends of practice drills since gtmd started, by result.", "results", "result"}};
    json_t *list = dc ? drill_core_practice_json(dc) : json_array(), *p, *v;
    size_t i;
    const char *k;
    for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
        metrics_head(b, fams[f].metric, fams[f].type, fams[f].help);
        json_array_foreach(list, i, p)
        {
            const char *name = json_string_value(json_object_get(p, "name"));
            json_t *x = json_object_get(p, fams[f].field);
            if (!fams[f].key && json_is_number(x))
                metrics_practice_sample(b, fams[f].metric, name, NULL, NULL, json_number_value(x));
            else if (fams[f].key)
                json_object_foreach(x, k, v) metrics_practice_sample(
                    b, fams[f].metric, name, fams[f].key, k, (double)json_integer_value(v));
        }
    }
    json_decref(list);
}

/* The newest drill of each name (unnamed: "adhoc") with a measured RTO,
 * from a {"active", "history"} list: name -> drill (borrowed). */
static json_t *metrics_last_by_name(json_t *list)
{
    json_t *by = json_object(), *d;
    const char *lists[2] = {"active", "history"};
    size_t i;
    for (int l = 0; l < 2; l++)
        json_array_foreach(json_object_get(list, lists[l]), i, d)
        {
            json_t *tl = json_object_get(json_object_get(d, "report"), "timeline");
            const char *name = json_string_value(json_object_get(d, "name"));
            name = name ? name : "adhoc";
            json_t *have = json_object_get(by, name);
            if (!json_is_number(json_object_get(tl, "rto")) ||
                (have && json_number_value(json_object_get(have, "started")) >=
                             json_number_value(json_object_get(d, "started"))))
                continue;
            json_object_set(by, name, d);
        }
    return by;
}

/* The recovery of the last measured drill of each name, per region it
 * covers: RTO, restore RTO, lost answers. */
static void metrics_recovery(struct evbuffer *b, struct drill_core *dc)
{
    json_t *list = dc ? drill_core_list_json(dc) : json_object();
    json_t *by = metrics_last_by_name(list), *d, *x;
    const char *name;
    size_t i;
    static const char *const heads[3][2] = {
        {"gtmd_drill_rto_seconds",
         "DNS-layer RTO of the last measured drill of a name: from its start until every "
         "affected record answered without the lost targets."},
        {"gtmd_drill_restore_rto_seconds",
         "The same for its restore: from its end until every record answered from the targets "
         "again (absent until measured)."},
        {"gtmd_drill_lost_answers",
         "Answers from a lost target after the start of the last measured drill of a name (0 "
         "expected)."}};
    for (int k = 0; k < 3; k++) {
        metrics_head(b, heads[k][0], "gauge", heads[k][1]);
        json_object_foreach(by, name, d)
        {
            json_t *tl = json_object_get(json_object_get(d, "report"), "timeline");
            json_t *v = k == 0   ? json_object_get(tl, "rto")
                        : k == 1 ? json_object_get(json_object_get(tl, "restore"), "rto")
                                 : json_object_get(tl, "lost_answers");
            if (!json_is_number(v))
                continue;
            if (k == 2) {
                metrics_practice_sample(b, heads[k][0], name, NULL, NULL, json_number_value(v));
                continue;
            }
            json_array_foreach(json_object_get(d, "covers"), i, x) metrics_practice_sample(
                b, heads[k][0], name, "region", json_string_value(x), json_number_value(v));
        }
    }
    json_decref(by);
    json_decref(list);
}

/* The admin API's own limits (admin_conn.c, admin_events.c) and the
 * audit lines kept: whether read clients press on the operate token. */
static void metrics_admin(struct evbuffer *b, struct admin *a)
{
    static const char *const ranks[3] = {"none", "read", "operate"};
    unsigned held[3];
    admin_conn_counts(a, held);
    metrics_head(b, "gtmd_admin_connections", "gauge",
                 "Admin connections holding a place, by the token they used.");
    for (int k = 0; k < 3; k++)
        evbuffer_add_printf(b, "gtmd_admin_connections{token=\"%s\"} %u\n", ranks[k], held[k]);
    metrics_head(b, "gtmd_admin_streams", "gauge", "Open GET /v1/events streams, by role.");
    evbuffer_add_printf(b, "gtmd_admin_streams{token=\"read\"} %u\n", a->n_streams_read);
    evbuffer_add_printf(b, "gtmd_admin_streams{token=\"operate\"} %u\n",
                        a->n_streams - a->n_streams_read);
    metrics_head(b, "gtmd_admin_busy_total", "counter",
                 "Requests answered 503 busy, by the limit: places or streams.");
    evbuffer_add_printf(b, "gtmd_admin_busy_total{limit=\"connections\"} %llu\n", a->busy_places);
    evbuffer_add_printf(b, "gtmd_admin_busy_total{limit=\"streams\"} %llu\n", a->busy_streams);
    metrics_head(b, "gtmd_admin_displaced_total", "counter",
                 "Idle connections whose place a request of a higher rank took, by their token.");
    for (int k = 0; k < 3; k++)
        evbuffer_add_printf(b, "gtmd_admin_displaced_total{token=\"%s\"} %llu\n", ranks[k],
                            a->displaced[k]);
    metrics_single(b, "gtmd_audit_kept_bytes", "gauge",
                   "Bytes of audit lines kept in memory for GET /v1/audit (at most 4 MiB).",
                   event_ring_bytes(a->audit_ring));
}

/* Reloads, dynamic updates and the key manager's counters (owned by the
 * daemon; admin_env). */
static void metrics_reloads_dnssec(struct evbuffer *b, const struct admin_env *env)
{
    metrics_head(b, "gtmd_reloads_total", "counter", "Reloads by result.");
    metrics_counter(b, "gtmd_reloads_total{result=\"ok\"}", env->reloads_ok);
    metrics_counter(b, "gtmd_reloads_total{result=\"failed\"}", env->reloads_failed);
    metrics_updates(b, env);
    metrics_head(b, "gtmd_dnssec_key_transitions_total", "counter",
                 "Key transitions of the key manager (published, active, retired, ...).");
    metrics_counter(b, "gtmd_dnssec_key_transitions_total", env->kasp_transitions);
    metrics_head(b, "gtmd_dnssec_ds_push_total", "counter",
                 "DS updates pushed to a parent's primary, by result.");
    metrics_counter(b, "gtmd_dnssec_ds_push_total{result=\"ok\"}", env->kasp_ds_push_ok);
    metrics_counter(b, "gtmd_dnssec_ds_push_total{result=\"failed\"}", env->kasp_ds_push_failed);
    metrics_head(b, "gtmd_dnssec_parent_check_total", "counter",
                 "DS queries to the parent's servers, by whether they answered the question.");
    metrics_counter(b, "gtmd_dnssec_parent_check_total{result=\"answered\"}", env->kasp_parent_ok);
    metrics_counter(b, "gtmd_dnssec_parent_check_total{result=\"failed\"}",
                    env->kasp_parent_failed);
    metrics_head(b, "gtmd_dnssec_ds_overdue_zones", "gauge",
                 "Zones whose new KSK has waited for its DS at the parent, or whose old "
                 "KSK's DS has stayed at the parent after its delete, past "
                 "parent.ds_wait_warn.");
    metrics_counter(b, "gtmd_dnssec_ds_overdue_zones", env->kasp_ds_overdue);
    metrics_head(b, "gtmd_dnssec_fleet_key_errors_total", "counter",
                 "Fleet key sets this node could not load (another secret, altered, invalid).");
    metrics_counter(b, "gtmd_dnssec_fleet_key_errors_total", env->keyshare_errors);
}

void admin_handle_metrics(struct admin_req *r)
{
    struct admin *a = r->a;
    struct evbuffer *b = evbuffer_new();
    metrics_queries(b, a->env.serve);
    const struct serve_set *s = serve_enter(a->reader);
    metrics_records(b, a->env.serve, s);
    metrics_geo(b, a->env.serve, s);
    metrics_policy_sigs(b, s);
    metrics_endpoints(b, s->gslb);
    metrics_probes(b, a->env.health, s->gslb);
    unsigned long long gen = s->generation;
    serve_leave(a->reader);
    metrics_single(b, "gtmd_overrides_active", "gauge", "Operator overrides in force.",
                   override_count(a->env.health));
    metrics_drills(b, a->env.drills);
    metrics_practice(b, a->env.drills);
    metrics_recovery(b, a->env.drills);
    metrics_reloads_dnssec(b, &a->env);
    metrics_single(b, "gtmd_config_generation", "gauge", "Generation of the live configuration.",
                   gen);
    metrics_head(b, "gtmd_uptime_seconds", "gauge", "Seconds since gtmd started.");
    evbuffer_add_printf(b, "gtmd_uptime_seconds %.3f\n", health_now() - a->env.started);
    metrics_admin(b, a);
    admin_fleet_metrics(a, b);
    admin_node_metrics(a, b);
    admin_notify_metrics(a, b);
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(r->req, 200, NULL, b);
    evbuffer_free(b);
}
