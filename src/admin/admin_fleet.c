/*
 * admin_fleet.c -- the fleet in the admin API: /v1/status's "fleet"
 * object, each endpoint's per-node observations and verdict (status and
 * explain), and the fleet's /metrics families. Without a fleet, status
 * shows "fleet": null and nothing else changes.
 */
#include <stdio.h>

#include "admin/admin_int.h"
#include "fleet/fleet_view.h"
#include "health/shared_store.h"

/* Each node's entry says whether it is drained: its node record says so
 * (fleet_drain.c). */
json_t *admin_fleet_status(struct admin *a)
{
    if (!a->env.fleet)
        return json_null();
    return fleet_view_status(a->env.fleet);
}

void admin_fleet_endpoint(struct admin *a, json_t *ep, const char *key)
{
    if (!a->env.fleet || !key)
        return;
    json_t *v = fleet_view_endpoint(a->env.fleet, key);
    json_object_set_new(ep, "fleet", v ? v : json_null());
}

void admin_fleet_reply_store_error(struct admin_req *r, int store_status, const char *why)
{
    bool unknown = store_status == SHARED_UNKNOWN;
    int code = unknown ? 504 : 503;
    admin_reply_error(r, code, unknown ? "outcome_unknown" : "etcd_unavailable", "%s", why);
    admin_audit(r, code, json_pack("{s:s}", "error", why));
}

static void admin_fleet_peer_metrics(const struct fleet_metrics *m, struct evbuffer *b);

void admin_fleet_metrics(struct admin *a, struct evbuffer *b)
{
    if (!a->env.fleet)
        return;
    struct fleet_metrics m;
    fleet_view_metrics(a->env.fleet, &m);
    evbuffer_add_printf(
        b,
        "# HELP gtmd_fleet_connected 1 while this node is in step with etcd.\n"
        "# TYPE gtmd_fleet_connected gauge\ngtmd_fleet_connected %d\n"
        "# HELP gtmd_fleet_degraded 1 while etcd is lost for stale_after: own probes decide.\n"
        "# TYPE gtmd_fleet_degraded gauge\ngtmd_fleet_degraded %d\n"
        "# HELP gtmd_fleet_degraded_total Times this node fell back to its own probes.\n"
        "# TYPE gtmd_fleet_degraded_total counter\ngtmd_fleet_degraded_total %llu\n"
        "# HELP gtmd_fleet_nodes Live vantage points, this one included.\n"
        "# TYPE gtmd_fleet_nodes gauge\ngtmd_fleet_nodes %u\n"
        "# HELP gtmd_fleet_disagreements Endpoints whose own probe disagrees with the fleet.\n"
        "# TYPE gtmd_fleet_disagreements gauge\ngtmd_fleet_disagreements %u\n"
        "# HELP gtmd_fleet_watch_lag_seconds How long the watch is behind a revision etcd "
        "acknowledged.\n"
        "# TYPE gtmd_fleet_watch_lag_seconds gauge\ngtmd_fleet_watch_lag_seconds %.6f\n"
        "# HELP gtmd_fleet_view_age_seconds The fleet view here was etcd's this long ago.\n"
        "# TYPE gtmd_fleet_view_age_seconds gauge\ngtmd_fleet_view_age_seconds %.6f\n"
        "# HELP gtmd_fleet_clock_offset_seconds This node's clock minus its peers' (median).\n"
        "# TYPE gtmd_fleet_clock_offset_seconds gauge\ngtmd_fleet_clock_offset_seconds %.6f\n"
        "# HELP gtmd_fleet_clock_skewed 1 when this clock is off a majority of its peers'.\n"
        "# TYPE gtmd_fleet_clock_skewed gauge\ngtmd_fleet_clock_skewed %d\n"
        "# HELP gtmd_fleet_isolated 1 while the fleet view is older than isolation.after.\n"
        "# TYPE gtmd_fleet_isolated gauge\ngtmd_fleet_isolated %d\n"
        "# HELP gtmd_fleet_watch_events_total Watch events applied.\n"
        "# TYPE gtmd_fleet_watch_events_total counter\ngtmd_fleet_watch_events_total %llu\n"
        "# HELP gtmd_fleet_resyncs_total Fresh reads of etcd after a loss.\n"
        "# TYPE gtmd_fleet_resyncs_total counter\ngtmd_fleet_resyncs_total %llu\n"
        "# HELP gtmd_fleet_etcd_writes_total Write requests sent to etcd.\n"
        "# TYPE gtmd_fleet_etcd_writes_total counter\ngtmd_fleet_etcd_writes_total %llu\n"
        "# HELP gtmd_fleet_etcd_keys_written_total Keys written or deleted in etcd.\n"
        "# TYPE gtmd_fleet_etcd_keys_written_total counter\ngtmd_fleet_etcd_keys_written_total "
        "%llu\n",
        m.connected, m.degraded, (unsigned long long)m.degraded_total, m.nodes, m.disagreements,
        m.watch_lag_s, m.view_age_s, m.clock_offset_s, m.clock_skewed, m.isolated,
        (unsigned long long)m.watch_events_total, (unsigned long long)m.resyncs_total,
        (unsigned long long)m.etcd_writes_total, (unsigned long long)m.etcd_keys_written_total);
    evbuffer_add_printf(
        b,
        "# HELP gtmd_fleet_latency_writes_total This node's round-trip tables written to etcd.\n"
        "# TYPE gtmd_fleet_latency_writes_total counter\ngtmd_fleet_latency_writes_total %llu\n"
        "# HELP gtmd_fleet_latency_tables_read_total Other nodes' round-trip tables applied.\n"
        "# TYPE gtmd_fleet_latency_tables_read_total counter\n"
        "gtmd_fleet_latency_tables_read_total %llu\n"
        "# HELP gtmd_fleet_latency_moves_total This node's round-trip averages that moved past "
        "the margin (10 %% and 2 ms).\n"
        "# TYPE gtmd_fleet_latency_moves_total counter\ngtmd_fleet_latency_moves_total %llu\n",
        (unsigned long long)m.latency_writes_total, (unsigned long long)m.latency_tables_read_total,
        (unsigned long long)m.latency_moves_total);
    evbuffer_add_printf(b,
                        "# HELP gtmd_fleet_signed 1 when the fleet's records are signed and "
                        "checked (\"members\").\n"
                        "# TYPE gtmd_fleet_signed gauge\ngtmd_fleet_signed %d\n"
                        "# HELP gtmd_fleet_rejected_total Records in etcd refused: not signed by "
                        "the member they speak for, or a member's override or drill that fails "
                        "a rule on adoption.\n"
                        "# TYPE gtmd_fleet_rejected_total counter\n",
                        m.signing);
    for (int v = FLEET_SIG_MISSING; v < FLEET_VERDICTS; v++)
        evbuffer_add_printf(b, "gtmd_fleet_rejected_total{reason=\"%s\"} %llu\n",
                            fleet_verdict_name((enum fleet_verdict)v),
                            (unsigned long long)m.rejected[v]);
    admin_fleet_peer_metrics(&m, b);
}

/* The direct peer channel's families (fleet_peer.h), when it is on. */
static void admin_fleet_peer_metrics(const struct fleet_metrics *m, struct evbuffer *b)
{
    if (!m->peer_on)
        return;
    evbuffer_add_printf(
        b,
        "# HELP gtmd_fleet_peer_sent_total Datagrams sent to peers on the direct channel.\n"
        "# TYPE gtmd_fleet_peer_sent_total counter\ngtmd_fleet_peer_sent_total %llu\n"
        "# HELP gtmd_fleet_peer_accepted_total Peers' datagrams that passed every check.\n"
        "# TYPE gtmd_fleet_peer_accepted_total counter\ngtmd_fleet_peer_accepted_total %llu\n"
        "# HELP gtmd_fleet_peer_dropped_total Datagrams on the direct channel dropped, by "
        "reason.\n"
        "# TYPE gtmd_fleet_peer_dropped_total counter\n",
        (unsigned long long)m->peer_sent, (unsigned long long)m->peer_accepted);
    for (int d = 0; d < FLEET_PEER_DROPS; d++)
        evbuffer_add_printf(b, "gtmd_fleet_peer_dropped_total{reason=\"%s\"} %llu\n",
                            fleet_peer_drop_name((enum fleet_peer_drop)d),
                            (unsigned long long)m->peer_drops[d]);
}
