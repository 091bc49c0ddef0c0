/*
 * test_fleet_rejoin.c -- how long a gap covers a peer's reports from
 * before it (fleet_rejoin_covers, fleet/fleet_int.h): FLEET_REJOIN_S after
 * the peer is heard again (or this node's view is current again), then
 * until the peer has been heard FLEET_REJOIN_BEATS times since, never past
 * stale_after. On a loaded machine a peer's heartbeats come back before
 * the reports it writes once etcd takes writes again; its report from
 * before the gap must not undo a failover meanwhile (test_fleet_loaded).
 */
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

int main(void)
{
    struct tap t = {0, 0};
    test_rejoin(&t);
    return tap_done(&t);
}
