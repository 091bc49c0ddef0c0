/*
 * test_fleet_election.c -- what a round of etcd status calls shows
 * (fleet_election_judge, fleet/fleet_int.h): an election lets silent peers
 * count as agreeing; a slow etcd must not.
 */
#include <string.h>

#include "fleet/fleet_int.h"
#include "tap.h"

static char *urls[] = {"http://e1:2379", "http://e2:2379", "http://e3:2379"};

/* Three members with ids 1..3, all answering with leader 1 at term 5. */
static struct fleet_elect elect_steady(void)
{
    struct fleet_elect e;
    memset(&e, 0, sizeof(e));
    e.n = 3;
    e.term = 5;
    for (size_t i = 0; i < 3; i++) {
        e.u[i].state = FLEET_ELECT_ANSWERED;
        e.u[i].member = i + 1;
        e.u[i].leader = 1;
        e.u[i].term = 5;
    }
    return e;
}

static bool judge(const struct fleet_elect *e, char *why)
{
    why[0] = '\0';
    return fleet_election_judge(e, urls, why, 128);
}

static void test_no_election(struct tap *t)
{
    char why[128];
    struct fleet_elect e = elect_steady();
    TAP_CHECK(t, !judge(&e, why), "every member names the same live leader: no election");
    e.u[0].state = FLEET_ELECT_SLOW;
    TAP_CHECK(t, !judge(&e, why),
              "the leader connected but is slow (a stopped or starved "
              "member, an fsync stall): no election");
    e.u[0].state = FLEET_ELECT_ASKED;
    TAP_CHECK(t, !judge(&e, why), "the leader not answered yet: no election yet");
    e = elect_steady();
    e.u[1].state = FLEET_ELECT_GONE;
    TAP_CHECK(t, !judge(&e, why), "a follower gone, the leader answering: no election");
    e = elect_steady();
    for (size_t i = 0; i < 3; i++)
        e.u[i].state = FLEET_ELECT_SLOW;
    TAP_CHECK(t, !judge(&e, why), "no member answers (all of etcd stalled): no election");
    e = elect_steady();
    e.term = 0;
    for (size_t i = 0; i < 3; i++)
        e.u[i].term = 9;
    TAP_CHECK(t, !judge(&e, why), "no term seen before: the first one is not a move");
}

static void test_election(struct tap *t)
{
    char why[128];
    struct fleet_elect e = elect_steady();
    e.u[0].state = FLEET_ELECT_GONE;
    TAP_CHECK(t, judge(&e, why) && strstr(why, "leader 1 cannot be reached"),
              "the leader refused or never connected, the others name it: election (%s)", why);
    e.u[0].state = FLEET_ELECT_SLOW;
    e.u[2].state = FLEET_ELECT_GONE;
    TAP_CHECK(t, !judge(&e, why),
              "a URL that connected but is slow may be the leader: no election");
    e = elect_steady();
    e.u[2].leader = 0;
    TAP_CHECK(t, judge(&e, why) && strstr(why, "e3:2379 has no leader"),
              "a member without a leader: election (%s)", why);
    e = elect_steady();
    e.u[1].term = 6;
    e.u[1].leader = 2;
    TAP_CHECK(t, judge(&e, why) && strstr(why, "raft term 6, above 5"),
              "a raft term above the highest seen: election (%s)", why);
}

int main(void)
{
    struct tap t = {0};
    test_no_election(&t);
    test_election(&t);
    return tap_done(&t);
}
