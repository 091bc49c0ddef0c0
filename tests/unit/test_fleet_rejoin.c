/*
 * test_fleet_rejoin.c -- how long a gap covers a peer's reports from
 * before it (fleet_rejoin_covers, fleet/fleet_int.h): FLEET_REJOIN_S after
 * the peer is heard again (or this node's view is current again), then
 * until the peer has been heard FLEET_REJOIN_BEATS times since, never past
 * stale_after. On a loaded machine a peer's heartbeats come back before
 * the reports it writes once etcd takes writes again; its report from
 * before the gap must not undo a failover meanwhile (test_fleet_loaded).
 * And the moment it is heard again (fleet_node_heard_locked): the report
 * stays covered from that heartbeat on, not only from the next tick.
 */
#include <stdlib.h>

#include "fleet/fleet_int.h"
#include "tap.h"

static void test_rejoin(struct tap *t)
{
    const double stale = 10.0;
    TAP_CHECK(t, fleet_rejoin_covers(0.0, 0, stale), "the moment the gap ends: covered");
    TAP_CHECK(t, fleet_rejoin_covers(FLEET_REJOIN_S - 0.01, 50, stale),
              "within FLEET_REJOIN_S: covered however many heartbeats came");
    TAP_CHECK(t, fleet_rejoin_covers(FLEET_REJOIN_S + 0.5, FLEET_REJOIN_BEATS - 1, stale),
              "past FLEET_REJOIN_S with %d heartbeats: still covered (its reports may be late)",
              FLEET_REJOIN_BEATS - 1);
    TAP_CHECK(t, !fleet_rejoin_covers(FLEET_REJOIN_S + 0.5, FLEET_REJOIN_BEATS, stale),
              "past FLEET_REJOIN_S with %d heartbeats: no longer covered", FLEET_REJOIN_BEATS);
    TAP_CHECK(t, fleet_rejoin_covers(stale - 0.01, 0, stale),
              "no heartbeat since: covered up to stale_after");
    TAP_CHECK(t, !fleet_rejoin_covers(stale, 0, stale),
              "never past stale_after, even without a heartbeat");
    TAP_CHECK(t, fleet_rejoin_covers(0.5, 0, 0.2),
              "a stale_after below FLEET_REJOIN_S leaves FLEET_REJOIN_S");
    TAP_CHECK(t, !fleet_rejoin_covers(FLEET_REJOIN_S, 0, 0.2), "and nothing past it");
}

/* Peer 1 last heard at 100 s, this node's probe of ep changed at 100.5,
 * etcd seen electing at 101: the peer's "up" report from 99 predates it. */
static void test_heard_again(struct tap *t)
{
    struct fleet *f = calloc(1, sizeof(*f));
    struct fleet_node *n = calloc(1, sizeof(*n));
    struct fleet_ep ep = {.own_since = 100.5};
    struct fleet_obs o = {.node = 1, .state = HEALTH_UP, .t = 0};
    if (!f || !n)
        abort();
    f->p.stale_after = 10.0;
    f->elect.at = 101.0;
    fleet_node_heard_locked(n, 100.0);
    TAP_CHECK(t, !fleet_peer_unheard_locked(f, n, &o, &ep, 0),
              "heard, not silent: its report counts as it is");
    n->silent = true; /* the tick at 101.25 found it silent */
    TAP_CHECK(t, fleet_peer_unheard_locked(f, n, &o, &ep, 0),
              "silent through an election: this node's probe stands in");
    fleet_node_heard_locked(n, 101.6);
    TAP_CHECK(t, !n->silent && n->rejoining && n->back == 101.6 && n->quiet_from == 100.0,
              "heard again after the silence: rejoining at once, the silence kept");
    TAP_CHECK(t, fleet_peer_unheard_locked(f, n, &o, &ep, 0),
              "its report from before the gap still covered before the next tick");
    fleet_node_heard_locked(n, 102.0);
    TAP_CHECK(t, n->back == 101.6 && n->beats_back == 2,
              "a heartbeat within FLEET_SILENT_S is not a new return");
    TAP_CHECK(t, fleet_peer_unheard_locked(f, n, &o, &ep, 0), "rejoining: still covered");
    ep.own_since = 101.7;
    TAP_CHECK(t, !fleet_peer_unheard_locked(f, n, &o, &ep, 0),
              "a probe change after it was heard again is not covered by the gap");
    free(n);
    free(f);
}

int main(void)
{
    struct tap t = {0, 0};
    test_rejoin(&t);
    test_heard_again(&t);
    return tap_done(&t);
}
