#!/usr/bin/python3
"""Writes gtmd-dashboard.json, a Grafana dashboard for gtmd's /metrics
(doc/admin-api.md, "Metrics"), from the panel list below, so that the JSON
stays consistent (ids, grid positions, datasource variable).

Usage: gen_dashboard.py > gtmd-dashboard.json
Import it in Grafana (Dashboards > Import) and pick the Prometheus data
source that scrapes gtmd (job "gtmd"). tests/prometheus/run.sh checks that
every metric it queries is one gtmd exports."""
import json
import sys

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job="gtmd", instance=~"$instance"'

# (title, kind, [(expr, legend)], unit, width)
PANELS = [
    ("Traffic", "row", [], None, 24),
    ("Queries per second by rcode", "timeseries",
     [('sum by (rcode) (rate(gtmd_queries_total{%s}[$__rate_interval]))' % SEL, "{{rcode}}")],
     "reqps", 12),
    ("Policy answers per second by serving region", "timeseries",
     [('sum by (region) (rate(gtmd_policy_answers_total{%s}[$__rate_interval]))' % SEL,
       "{{region}}")], "reqps", 12),
    ("Rate-limited replies per second", "timeseries",
     [('sum by (action) (rate(gtmd_rrl_limited_total{%s}[$__rate_interval]))' % SEL,
       "{{action}}")], "reqps", 12),
    ("Queries per second by transport", "timeseries",
     [('sum by (transport) (rate(gtmd_queries_total{%s}[$__rate_interval]))' % SEL,
       "{{transport}}")], "reqps", 12),
    ("Health", "row", [], None, 24),
    ("Regions up (per pool)", "state-timeline",
     [('min by (pool, region) (gtmd_region_up{%s})' % SEL, "{{pool}} {{region}}")], None, 24),
    ("Endpoints down", "stat",
     [('count(gtmd_endpoint_up{%s} == 0) or vector(0)' % SEL, "down")], None, 6),
    ("Health transitions per minute", "timeseries",
     [('sum(rate(gtmd_health_transitions_total{%s}[$__rate_interval])) * 60' % SEL,
       "transitions")], None, 9),
    ("Probe failures per second by reason", "timeseries",
     [('sum by (reason) (rate(gtmd_probe_failures_total{%s}[$__rate_interval]))' % SEL,
       "{{reason}}")], None, 9),
    ("Probe latency p95 by region", "timeseries",
     [('histogram_quantile(0.95, sum by (le, region) '
       '(rate(gtmd_probe_duration_seconds_bucket{%s}[$__rate_interval])))' % SEL, "{{region}}")],
     "s", 24),
    ("Operations", "row", [], None, 24),
    ("Overrides in force", "stat",
     [('max(gtmd_overrides_active{%s})' % SEL, "overrides")], None, 6),
    ("Drills running", "stat",
     [('sum(gtmd_drills_active{%s})' % SEL, "drills")], None, 6),
    ("Last drill RTO", "stat",
     [('max(gtmd_drill_rto_seconds{%s})' % SEL, "rto")], "s", 6),
    ("Reloads (ok / failed)", "timeseries",
     [('sum by (result) (increase(gtmd_reloads_total{%s}[$__rate_interval]))' % SEL,
       "{{result}}")], None, 6),
    ("Fleet", "row", [], None, 24),
    ("In step with etcd", "state-timeline",
     [('gtmd_fleet_connected{%s}' % SEL, "{{instance}}")], None, 12),
    ("Degraded (own probes only)", "state-timeline",
     [('gtmd_fleet_degraded{%s}' % SEL, "{{instance}}")], None, 12),
    ("Vantage points", "timeseries",
     [('gtmd_fleet_nodes{%s}' % SEL, "{{instance}}")], None, 8),
    ("Own probe disagrees with the fleet", "timeseries",
     [('gtmd_fleet_disagreements{%s}' % SEL, "{{instance}}")], None, 8),
    ("Watch lag", "timeseries",
     [('gtmd_fleet_watch_lag_seconds{%s}' % SEL, "{{instance}}")], "s", 8),
]


def panel(pid, x, y, title, kind, targets, unit, width):
    h = 1 if kind == "row" else (4 if kind == "stat" else 8)
    p = {"id": pid, "type": kind, "title": title,
         "gridPos": {"x": x, "y": y, "w": width, "h": h}}
    if kind == "row":
        p["collapsed"] = False
        p["panels"] = []
        return p
    p["datasource"] = DS
    p["targets"] = [{"refId": chr(ord("A") + i), "datasource": DS, "expr": e,
                     "legendFormat": lg} for i, (e, lg) in enumerate(targets)]
    p["fieldConfig"] = {"defaults": {"unit": unit or "short"}, "overrides": []}
    if kind == "state-timeline":
        p["fieldConfig"]["defaults"]["mappings"] = [
            {"type": "value", "options": {"0": {"text": "down", "color": "red"},
                                          "1": {"text": "up", "color": "green"}}}]
    return p


def dashboard():
    panels, x, y, row_h = [], 0, 0, 0
    for i, (title, kind, targets, unit, width) in enumerate(PANELS, 1):
        if x + width > 24 or kind == "row":
            x, y = 0, y + row_h
            row_h = 0
        p = panel(i, x, y, title, kind, targets, unit, width)
        panels.append(p)
        row_h = max(row_h, p["gridPos"]["h"])
        x += width
    return {
        "title": "gtmd",
        "uid": "gtmd-overview",
        "description": "gtmd: traffic, health of regions and endpoints, operations, fleet",
        "tags": ["gtmd", "dns"],
        "timezone": "utc",
        "schemaVersion": 38,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus",
             "label": "Prometheus"},
            {"name": "instance", "type": "query", "datasource": DS, "label": "node",
             "query": 'label_values(gtmd_uptime_seconds{job="gtmd"}, instance)',
             "includeAll": True, "multi": True, "refresh": 2,
             "current": {"text": "All", "value": "$__all"}},
        ]},
        "panels": panels,
    }


if __name__ == "__main__":
    json.dump(dashboard(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
