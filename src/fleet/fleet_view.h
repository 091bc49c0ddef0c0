/*
 * fleet_view.h -- what the fleet shows: /v1/status, explain and /metrics.
 *
 * Threads: any thread (the admin thread); each call takes the fleet's
 * lock once, so what it returns is one consistent picture.
 *
 * Ownership: the JSON returned belongs to the caller.
 */
#ifndef GTM_FLEET_FLEET_VIEW_H
#define GTM_FLEET_FLEET_VIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "fleet/fleet_peer.h"
#include "fleet/fleet_sign.h"

struct fleet;

/* The fleet as a whole: this node, etcd, quorum, every known node (live or
 * not) with version, config hash (mismatches flagged), vantage, last seen. */
json_t *fleet_view_status(struct fleet *f);

/* One endpoint (slot key "endpoint:POOL/NAME"): the verdict, whether it is
 * applied, the explanation, this node's own state, every live node's
 * observation and whether this node disagrees. NULL when the fleet has no
 * such endpoint. */
json_t *fleet_view_endpoint(struct fleet *f, const char *key);

struct fleet_metrics {
    bool connected;         /* "synced": watch live, view under ~1.5 s old */
    bool degraded;          /* serving own probes: etcd lost for stale_after */
    unsigned nodes;         /* live vantage points, this one included */
    unsigned disagreements; /* endpoints where own probe != fleet verdict */
    double watch_lag_s;     /* how long the watch is behind an acknowledged revision */
    double view_age_s;      /* the view was etcd's this long ago */
    double clock_offset_s;  /* this node's clock minus its peers' (0: unknown) */
    bool clock_skewed;      /* more than FLEET_SKEW_MAX_S off a majority of peers */
    bool isolated;          /* view older than isolation.after */
    uint64_t degraded_total, resyncs_total, watch_events_total;
    uint64_t etcd_writes_total; /* write requests (put, txn, delete) sent */
    uint64_t etcd_keys_written_total;
    uint64_t latency_writes_total;      /* this node's round-trip tables written */
    uint64_t latency_tables_read_total; /* other nodes' tables applied */
    uint64_t latency_moves_total;       /* this node's averages that moved (health/rtt.h) */
    bool signing;                       /* "members" given: records are signed and checked */
    /* Records refused by signature check, by reason (fleet_sign.h). */
    uint64_t rejected[FLEET_VERDICTS];
    /* The direct peer channel (fleet_peer.h): on, datagrams sent and
     * accepted, and dropped by reason. */
    bool peer_on;
    uint64_t peer_sent, peer_accepted, peer_drops[FLEET_PEER_DROPS];
};
void fleet_view_metrics(struct fleet *f, struct fleet_metrics *m);

#endif
