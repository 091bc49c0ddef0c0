/*
 * fleet_decide.h -- a node's fleet verdict on one endpoint, as a pure
 * function of explicit inputs (issue #54, doc/fleet.md "Decision model and
 * simulator").
 *
 * Contract:
 *   - Inputs only: no clock is read, no lock taken, no I/O, no allocation.
 *     The same inputs give the same outputs, so the real code
 *     (fleet_ep_verdict_locked, which gathers the inputs under f->lock)
 *     and the simulator (tests/unit/test_fleet_sim.c, which gathers them
 *     from its modelled nodes in virtual time) run the same rule.
 *   - Units: seconds, as doubles. Two clocks: "mono" times are this
 *     node's monotonic clock (deadline_mono), "wall" times a wall clock
 *     (health_now): a report's stamp is in its writer's wall clock,
 *     offset is that writer's wall clock minus this node's.
 *   - Ownership: the caller owns every input and output; nothing is kept
 *     past the call. in->reports points to n_reports entries (may be NULL
 *     when 0); how, when not NULL, has room for n_reports entries and
 *     gets one per report.
 *
 * The rule (today's, unchanged by its move here): every live peer's last
 * report counts as it is, up or down, together with this node's own probe
 * when it has one; the quorum rule (fleet_quorum.h) gives the verdict.
 * Except that a report which predates this node's own probe change and
 * was published across a gap during an etcd election counts as this
 * node's probe (fleet_decide_stands_in: FLEET_SILENT_S, FLEET_BLIND_S,
 * FLEET_REJOIN_S of fleet_int.h).
 */
#ifndef GTM_FLEET_FLEET_DECIDE_H
#define GTM_FLEET_FLEET_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet/fleet_quorum.h"
#include "health/health.h"

/* One live peer's report on the endpoint, and what this node knows of
 * that peer. The flags silent, rejoining and view_grace are those kept by
 * the heartbeat tick (fleet_beat.c) as of the call. */
struct fleet_decide_report {
    uint8_t state; /* HEALTH_DOWN, or anything else: counted as up */
    double stamp;  /* wall (writer's clock): when it published it (0: unknown) */
    uint64_t seq;  /* the writer's per-run sequence "n" (0: none); not read today */
    bool have_offset;
    double offset;     /* wall: the writer's clock minus this node's */
    double heard;      /* mono: its last heartbeat arrived (0: never) */
    bool silent;       /* not heard for FLEET_SILENT_S */
    double quiet_from; /* mono: last heard before its last silence (0: none) */
    bool rejoining;    /* heard again after a silence, still covered */
    double back;       /* mono: heard again then */
    bool view_grace;   /* this node's own gap still covers its reports */
};

/* This node: its probe, its own view's freshness, the elections seen. */
struct fleet_decide_self {
    uint8_t own;                  /* its probe: HEALTH_UP, HEALTH_DOWN, else none */
    double own_since;             /* mono: when the probe's state last changed */
    bool blind;                   /* view not current for FLEET_BLIND_S */
    double blind_from, blind_end; /* mono: view current as of / again at (0: never) */
    double elect_at;              /* mono: an etcd election last shown (0: never) */
};

struct fleet_decide_in {
    struct fleet_quorum quorum;
    double stale_after; /* s; the tick's flags already apply it */
    double now_mono, now_wall;
    struct fleet_decide_self self;
    const struct fleet_decide_report *reports;
    size_t n_reports;
};

/* How a report counted (how[i]): the state counted, HEALTH_UP or
 * HEALTH_DOWN, with FLEET_DECIDE_AS_OWN when this node's probe stood in. */
#define FLEET_DECIDE_AS_OWN 0x80

struct fleet_decide_out {
    enum health_state verdict; /* HEALTH_UNKNOWN: nobody reports it */
    unsigned up, down;         /* the vantage points counted, own included */
    bool own_counted;          /* this node's probe is among them */
    unsigned stood_in;         /* reports replaced by this node's probe */
};

/* The verdict; fills *out and, when not NULL, how[0..n_reports-1]. */
void fleet_decide(const struct fleet_decide_in *in, struct fleet_decide_out *out, uint8_t *how);

/* When this node's probe last changed, in its wall clock (s). */
double fleet_decide_own_wall(const struct fleet_decide_in *in);

/* Whether this node's probe stands in for report r (it may be out of date
 * through no fault of its writer: published before own_wall, when this
 * node's probe changed, across a gap during an etcd election). Only
 * meaningful when self->own is up or down. */
bool fleet_decide_stands_in(const struct fleet_decide_self *self,
                            const struct fleet_decide_report *r, double own_wall);

#endif
