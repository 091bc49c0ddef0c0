/*
 * test_fleet_decide_stamped.c -- the stamped fleet verdict
 * (fleet/fleet_decide_stamped.h), clause by clause, and the clock offset
 * estimator that maps a peer's stamps into this node's monotonic clock.
 *
 * The fleet: this node and two peers, majority quorum (2 of 3 say down),
 * fall x interval 0.5 s, interval 0.25 s, stale_after 2 s, a peer heard
 * directly within 0.35 s is reachable. now = 100 s (mono); this node's
 * probe moved to down at 99 s and last ran at 99.9 s.
 */
#include <string.h>

#include "fleet/fleet_decide_stamped.h"
#include "tap.h"

#define NOW 100.0

static struct fleet_decide_stamped_in test_in(struct fleet_decide_stamped_peer *p)
{
    return (struct fleet_decide_stamped_in){
        .quorum = {FLEET_QUORUM_MAJORITY, 0},
        .allow_s = 0.5,
        .interval_s = 0.25,
        .stale_after = 2.0,
        .alive_s = 0.35,
        .now = NOW,
        .self = {.own = HEALTH_DOWN, .own_since = 99.0, .ran = 99.9, .served = HEALTH_UP},
        .peers = p,
        .n_peers = 2};
}

/* A peer whose etcd report says st as of as_of, news current, heard directly
 * 0.05 s ago. */
static struct fleet_decide_stamped_peer test_peer(uint8_t st, double as_of)
{
    return (struct fleet_decide_stamped_peer){
        .etcd = {st, as_of}, .news_at = NOW - 0.1, .heard = NOW - 0.05};
}

static void test_run(const struct fleet_decide_stamped_in *in, struct fleet_decide_stamped_out *out,
                     struct fleet_decide_stamped_how *how)
{
    fleet_decide_stamped(in, out, how);
}

static void test_down_counts(struct tap *t)
{
    struct fleet_decide_stamped_peer p[2] = {test_peer(HEALTH_DOWN, 98.0),
                                             test_peer(HEALTH_UP, 99.8)};
    struct fleet_decide_stamped_in in = test_in(p);
    struct fleet_decide_stamped_out out;
    struct fleet_decide_stamped_how how[2];
    test_run(&in, &out, how);
    TAP_CHECK(t,
              how[0].count == FLEET_STAMPED_AS_SENT && how[0].state == HEALTH_DOWN &&
                  how[0].why == FLEET_STAMPED_WHY_DOWN,
              "a down counts as sent, however old its stamp");
    TAP_CHECK(t, out.down == 2 && out.up == 1 && out.open == 0, "2 down (own + peer), 1 up");
    TAP_CHECK(t, out.serve == HEALTH_DOWN && out.verdict == HEALTH_DOWN && !out.held,
              "2 of 3 down: serves down");
    in.self.own = HEALTH_UP;
    p[1] = test_peer(HEALTH_DOWN, 99.9);
    test_run(&in, &out, how);
    TAP_CHECK(t, out.serve == HEALTH_DOWN && out.down == 2 && out.up == 1,
              "two peers down outvote this node's up");
}

static void test_up_when_own_up(struct tap *t)
{
    struct fleet_decide_stamped_peer p[2] = {test_peer(HEALTH_UP, 50.0),
                                             test_peer(HEALTH_UP, 50.0)};
    struct fleet_decide_stamped_in in = test_in(p);
    in.self.own = HEALTH_UP;
    in.self.served = HEALTH_DOWN;
    struct fleet_decide_stamped_out out;
    struct fleet_decide_stamped_how how[2];
    test_run(&in, &out, how);
    TAP_CHECK(t, how[0].count == FLEET_STAMPED_AS_SENT && how[0].why == FLEET_STAMPED_WHY_AGREES,
              "an old up counts when this node's probe says up");
    TAP_CHECK(t, out.serve == HEALTH_UP && out.up == 3, "3 up: serves up (was down)");
    in.self.own = HEALTH_UNKNOWN;
    test_run(&in, &out, how);
    TAP_CHECK(t, how[1].why == FLEET_STAMPED_WHY_AGREES && out.up == 2 && out.serve == HEALTH_UP,
              "no own probe: the peers' ups count");
}

static void test_up_after_move(struct tap *t)
{
    /* allow_s after own_since (99.0): 99.5 counts, 99.49 does not. */
    struct fleet_decide_stamped_peer p[2] = {test_peer(HEALTH_UP, 99.5),
                                             test_peer(HEALTH_UP, 99.7)};
    struct fleet_decide_stamped_in in = test_in(p);
    in.self.served = HEALTH_DOWN;
    struct fleet_decide_stamped_out out;
    struct fleet_decide_stamped_how how[2];
    test_run(&in, &out, how);
    TAP_CHECK(t, how[0].count == FLEET_STAMPED_AS_SENT && how[0].why == FLEET_STAMPED_WHY_AFTER,
              "an up as of fall x interval after this node's probe moved counts");
    TAP_CHECK(t, out.serve == HEALTH_UP && out.up == 2 && out.down == 1,
              "two such ups outvote this node's down (a local fault moves nothing)");
    p[0].etcd.as_of = 99.49;
    test_run(&in, &out, how);
    TAP_CHECK(t,
              how[0].count == FLEET_STAMPED_UNDETERMINED && how[0].why == FLEET_STAMPED_WHY_BEFORE,
              "an up as of 0.49 s after the move is undetermined");
    TAP_CHECK(t, how[0].state == HEALTH_UNKNOWN && how[0].as_of == 99.49,
              "undetermined: no state counted, the stamp judged shown");
}

static void test_before_undetermined(struct tap *t)
{
    struct fleet_decide_stamped_peer p[2] = {test_peer(HEALTH_UP, 98.9),
                                             test_peer(HEALTH_UP, 98.9)};
    struct fleet_decide_stamped_in in = test_in(p);
    struct fleet_decide_stamped_out out;
    struct fleet_decide_stamped_how how[2];
    test_run(&in, &out, how);
    TAP_CHECK(t, out.open == 2 && out.held && out.serve == HEALTH_UP,
              "two ups from before the move, both heard: undetermined, keeps serving up");
    in.self.served = HEALTH_DOWN;
    test_run(&in, &out, how);
    TAP_CHECK(t, out.held && out.serve == HEALTH_DOWN, "and keeps serving down when it was");
    in.self.served = HEALTH_UP;
    p[1] = test_peer(HEALTH_DOWN, 99.2);
    test_run(&in, &out, how);
    TAP_CHECK(t, !out.held && out.open == 1 && out.serve == HEALTH_DOWN,
              "one undetermined that cannot swing 2 of 3 down: serves down");
    /* Peer 0 not heard for 1 s, peer 1 heard: peer 0 waits, not P. */
    p[0].heard = NOW - 1.0;
    p[1] = test_peer(HEALTH_UP, 99.8);
    test_run(&in, &out, how);
    TAP_CHECK(t,
              how[0].count == FLEET_STAMPED_UNDETERMINED &&
                  how[0].why == FLEET_STAMPED_WHY_BEFORE_OTHERS && !out.cut_off,
              "a peer not heard while another is: undetermined (waiting)");
    TAP_CHECK(t, out.serve == HEALTH_UP && out.up == 1 && out.down == 1 && out.held,
              "1 up, 1 down, 1 waiting: keeps serving up");
}

static void test_cut_off(struct tap *t)
{
    struct fleet_decide_stamped_peer p[2] = {test_peer(HEALTH_UP, 98.9),
                                             test_peer(HEALTH_UP, 98.9)};
    p[0].heard = NOW - 0.36;
    p[1].heard = 0; /* never heard directly */
    struct fleet_decide_stamped_in in = test_in(p);
    struct fleet_decide_stamped_out out;
    struct fleet_decide_stamped_how how[2];
    test_run(&in, &out, how);
    TAP_CHECK(t,
              out.cut_off && how[0].count == FLEET_STAMPED_AS_OWN &&
                  how[0].why == FLEET_STAMPED_WHY_CUT_OFF && how[1].state == HEALTH_DOWN,
              "no peer heard for 0.35 s: the peers count as this node's probe");
    TAP_CHECK(t, out.serve == HEALTH_DOWN && out.down == 3 && !out.alone,
              "serves its probe (the peers' news is still current, not alone)");
    p[0].heard = NOW - 0.34;
    test_run(&in, &out, how);
    TAP_CHECK(t, !out.cut_off && out.held && out.serve == HEALTH_UP,
              "one peer heard 0.34 s ago: both undetermined, keeps serving up");
    /* A peer's up from after the move yields too when cut off. */
    p[0].heard = NOW - 1.0;
    p[1].etcd.as_of = 99.6;
    test_run(&in, &out, how);
    TAP_CHECK(t,
              out.cut_off && how[1].count == FLEET_STAMPED_AS_OWN &&
                  how[1].why == FLEET_STAMPED_WHY_CUT_OFF && how[1].as_of == 99.6 &&
                  out.down == 3 && out.serve == HEALTH_DOWN,
              "cut off: a later up counts as P too (as_of kept for status)");
}

/* Issue #54's 30-minute I1: this node cut from the backend alone (its probe
 * down since 99 s, both peers up as of after that: it keeps up, I2), then
 * cut off with the leader as the backend dies: once no peer is heard for
 * alive_s (and etcd does not vouch, which the caller folds into heard),
 * the peers' later ups no longer outvote its probe. */
static void test_cut_from_then_off(struct tap *t)
{
    struct fleet_decide_stamped_peer p[2] = {test_peer(HEALTH_UP, 99.7),
                                             test_peer(HEALTH_UP, 99.8)};
    struct fleet_decide_stamped_in in = test_in(p);
    struct fleet_decide_stamped_out out;
    struct fleet_decide_stamped_how how[2];
    p[0].heard = NOW - 0.3;
    p[1].heard = NOW - 0.4;
    test_run(&in, &out, how);
    TAP_CHECK(t,
              !out.cut_off && !out.held && out.serve == HEALTH_UP && out.up == 2 &&
                  how[1].count == FLEET_STAMPED_AS_SENT && how[1].why == FLEET_STAMPED_WHY_AFTER,
              "one peer heard 0.3 s ago: both later ups count as sent, serves up (I2)");
    p[0].heard = NOW - 0.36;
    test_run(&in, &out, how);
    TAP_CHECK(t,
              out.cut_off && out.serve == HEALTH_DOWN && out.down == 3 && out.up == 0 &&
                  how[0].why == FLEET_STAMPED_WHY_CUT_OFF &&
                  how[1].why == FLEET_STAMPED_WHY_CUT_OFF,
              "no peer heard for 0.35 s: its probe stands for both, serves down");
    p[1] = test_peer(HEALTH_DOWN, 99.9);
    p[1].heard = 0;
    test_run(&in, &out, how);
    TAP_CHECK(t, how[1].count == FLEET_STAMPED_AS_SENT && how[1].why == FLEET_STAMPED_WHY_DOWN,
              "cut off, a peer's down still counts as sent");
    in.self.own = HEALTH_UP;
    p[1] = test_peer(HEALTH_UP, 99.8);
    p[1].heard = 0;
    test_run(&in, &out, how);
    TAP_CHECK(t, out.cut_off && how[0].why == FLEET_STAMPED_WHY_AGREES && out.serve == HEALTH_UP,
              "cut off with its probe up: the ups agree, nothing yields");
}

/* Issue #54's 30-minute I4: the same node, once its cut-off ended (etcd
 * took its heartbeat again before the peers' reports of the death went in,
 * their datagrams not back yet), does not go back on the ups it held from
 * before the cut ended: they wait (held: it keeps what it serves) until
 * news as of after the cut's end comes. */
static void test_cut_healed(struct tap *t)
{
    struct fleet_decide_stamped_peer p[2] = {test_peer(HEALTH_UP, 99.7),
                                             test_peer(HEALTH_UP, 99.8)};
    struct fleet_decide_stamped_in in = test_in(p);
    struct fleet_decide_stamped_out out;
    struct fleet_decide_stamped_how how[2];
    struct fleet_decide_stamped_cut cut = {0};
    p[0].heard = p[1].heard = NOW - 1.0;
    fleet_decide_stamped_cut_note(&cut, fleet_decide_stamped_cut_off(&in), NOW - 0.3);
    TAP_CHECK(t, cut.cut && cut.end == 0, "no peer heard for 0.7 s: cut off, no end yet");
    p[0].heard = p[1].heard = NOW; /* etcd vouches again: the caller's heard */
    fleet_decide_stamped_cut_note(&cut, fleet_decide_stamped_cut_off(&in), NOW - 0.1);
    TAP_CHECK(t, !cut.cut && cut.end == NOW - 0.1, "etcd vouches again: the cut ended");
    in.cut_end = cut.end;
    in.self.served = HEALTH_DOWN;
    test_run(&in, &out, how);
    TAP_CHECK(t,
              !out.cut_off && out.held && out.serve == HEALTH_DOWN && out.open == 2 &&
                  how[0].why == FLEET_STAMPED_WHY_HEALED && how[1].why == FLEET_STAMPED_WHY_HEALED,
              "ups as of before the cut ended wait: held, keeps serving down");
    in.self.served = HEALTH_UP;
    test_run(&in, &out, how);
    TAP_CHECK(t, out.held && out.serve == HEALTH_UP,
              "... and a node that served up keeps up (nothing moves on them)");
    p[1] = test_peer(HEALTH_UP, NOW - 0.05);
    in.self.served = HEALTH_DOWN;
    test_run(&in, &out, how);
    TAP_CHECK(t,
              out.held && out.serve == HEALTH_DOWN && how[1].count == FLEET_STAMPED_AS_SENT &&
                  how[1].why == FLEET_STAMPED_WHY_AFTER && how[0].why == FLEET_STAMPED_WHY_HEALED,
              "one peer's up as of after the cut's end counts as sent, the other still waits: "
              "held (1 up, 1 down, 1 open of 3)");
    p[0] = test_peer(HEALTH_UP, NOW - 0.02);
    test_run(&in, &out, how);
    TAP_CHECK(t, !out.held && out.serve == HEALTH_UP && out.up == 2,
              "both peers' news from after the cut's end: serves up again");
    p[1] = test_peer(HEALTH_UP, 99.75);
    p[0].heard = p[1].heard = NOW - 1.0;
    test_run(&in, &out, how);
    TAP_CHECK(t, out.cut_off && how[0].why == FLEET_STAMPED_WHY_CUT_OFF && out.serve == HEALTH_DOWN,
              "cut off again: ups from before the end yield to its probe");
    TAP_CHECK(t, strcmp(fleet_decide_stamped_why_name(FLEET_STAMPED_WHY_HEALED), "cut_healed") == 0,
              "the reason's name is cut_healed");
}

static void test_stale(struct tap *t)
{
    struct fleet_decide_stamped_peer p[2] = {test_peer(HEALTH_UP, 99.8),
                                             test_peer(HEALTH_UP, 99.8)};
    p[0].news_at = p[1].news_at = NOW - 2.1;
    struct fleet_decide_stamped_in in = test_in(p);
    in.self.ran = NOW - 0.4;
    struct fleet_decide_stamped_out out;
    struct fleet_decide_stamped_how how[2];
    test_run(&in, &out, how);
    TAP_CHECK(t, how[0].count == FLEET_STAMPED_AS_OWN && how[0].why == FLEET_STAMPED_WHY_STALE_OWN,
              "no news for stale_after, own probe ran 0.4 s ago: counts as P");
    TAP_CHECK(t, out.alone && out.serve == HEALTH_DOWN && out.down == 3,
              "alone: serves its own probe");
    in.self.ran = NOW - 0.5;
    test_run(&in, &out, how);
    TAP_CHECK(t, how[1].why == FLEET_STAMPED_WHY_STALE_OWN,
              "own probe ran exactly two intervals ago: still counts");
    in.self.ran = NOW - 0.6;
    test_run(&in, &out, how);
    TAP_CHECK(t,
              how[0].count == FLEET_STAMPED_UNDETERMINED &&
                  how[0].why == FLEET_STAMPED_WHY_STALE_OPEN && out.open == 2,
              "own probe not run for 0.6 s (starved): undetermined");
    TAP_CHECK(t, out.held && out.serve == HEALTH_UP, "and keeps serving up");
    in.self.ran = 0;
    test_run(&in, &out, how);
    TAP_CHECK(t, how[0].why == FLEET_STAMPED_WHY_STALE_OPEN, "own probe never ran: undetermined");
    p[0].news_at = NOW - 1.9;
    in.self.ran = NOW - 0.1;
    test_run(&in, &out, how);
    TAP_CHECK(t, how[0].why == FLEET_STAMPED_WHY_AFTER && how[1].why == FLEET_STAMPED_WHY_STALE_OWN,
              "news 1.9 s old is current, 2.1 s old is stale");
    p[0].etcd.as_of = 0;
    test_run(&in, &out, how);
    TAP_CHECK(t, how[0].why == FLEET_STAMPED_WHY_STALE_OWN,
              "no stamp at all (an older writer): never current");
}

static void test_channels(struct tap *t)
{
    struct fleet_decide_stamped_peer p[2] = {test_peer(HEALTH_DOWN, 99.2),
                                             test_peer(HEALTH_DOWN, 99.2)};
    p[0].direct = (struct fleet_decide_stamped_news){HEALTH_UP, 99.7};
    struct fleet_decide_stamped_in in = test_in(p);
    struct fleet_decide_stamped_out out;
    struct fleet_decide_stamped_how how[2];
    test_run(&in, &out, how);
    TAP_CHECK(t,
              how[0].state == HEALTH_UP && how[0].why == FLEET_STAMPED_WHY_AFTER &&
                  how[0].as_of == 99.7,
              "the direct channel's later up beats etcd's earlier down");
    p[0].etcd = (struct fleet_decide_stamped_news){HEALTH_UP, 99.8};
    p[0].direct = (struct fleet_decide_stamped_news){HEALTH_DOWN, 99.3};
    test_run(&in, &out, how);
    TAP_CHECK(t, how[0].state == HEALTH_UP && how[0].as_of == 99.8,
              "etcd's later up beats the direct channel's earlier down");
    p[0].etcd = (struct fleet_decide_stamped_news){HEALTH_UP, 0};
    test_run(&in, &out, how);
    TAP_CHECK(t, how[0].state == HEALTH_DOWN && how[0].as_of == 99.3,
              "a report without a stamp yields to a stamped datagram");
}

static void test_no_peers(struct tap *t)
{
    struct fleet_decide_stamped_in in = test_in(NULL);
    in.n_peers = 0;
    struct fleet_decide_stamped_out out;
    test_run(&in, &out, NULL);
    TAP_CHECK(t, out.serve == HEALTH_DOWN && out.alone && out.cut_off,
              "no peer: its own probe is the quorum");
    in.self.own = HEALTH_UNKNOWN;
    test_run(&in, &out, NULL);
    TAP_CHECK(t, out.verdict == HEALTH_UNKNOWN && out.serve == HEALTH_UNKNOWN,
              "no peer, no probe: no verdict");
}

/* Every case gives the same output with how NULL. */
static void test_how_null(struct tap *t)
{
    struct fleet_decide_stamped_peer p[2] = {test_peer(HEALTH_UP, 98.9),
                                             test_peer(HEALTH_DOWN, 99.0)};
    p[0].heard = NOW - 1;
    p[1].heard = NOW - 1;
    struct fleet_decide_stamped_in in = test_in(p);
    struct fleet_decide_stamped_out a, b;
    struct fleet_decide_stamped_how how[2];
    test_run(&in, &a, how);
    test_run(&in, &b, NULL);
    TAP_CHECK(t,
              a.serve == b.serve && a.verdict == b.verdict && a.up == b.up && a.down == b.down &&
                  a.open == b.open && a.held == b.held && a.alone == b.alone &&
                  a.cut_off == b.cut_off && a.cut_off && a.down == 3,
              "how NULL: the same verdict and counts");
}

/* A peer's clock an hour behind, then jumping: its stamps are read in this
 * node's monotonic clock through the estimated offset. */
static void test_offset(struct tap *t)
{
    /* keep and step: the product's FLEET_PEER_OFFSET_S and FLEET_PEER_STEP_S */
    const double keep = 10.0, step = 0.25, base = 1.7e9 - 3600; /* the peer's wall at mono 0 */
    struct fleet_decide_stamped_offset o = {0};
    TAP_CHECK(t, fleet_decide_stamped_map(&o, base + 99) == 0, "no offset yet: no stamp known");
    fleet_decide_stamped_offset_sample(&o, base + 99.0, 99.05, keep, step);
    TAP_CHECK(t, o.have && o.off == base + 99.0 - 99.05, "the first sample is taken");
    fleet_decide_stamped_offset_sample(&o, base + 99.1, 99.9, keep, step);
    TAP_CHECK(t, o.off == base + 99.0 - 99.05, "a late delivery (0.8 s) does not move the offset");
    double m = fleet_decide_stamped_map(&o, base + 99.6);
    /* The offset is (sent - received): a mapped stamp is late by the least
     * link delay seen (0.05 s here), never by a stall's. */
    TAP_CHECK(t, m > 99.64 && m < 99.66, "a stamp maps to its time plus the least delay: %.3f", m);
    fleet_decide_stamped_offset_sample(&o, base + 99.95, 99.96, keep, step);
    TAP_CHECK(t, o.off == base + 99.95 - 99.96, "a quicker delivery refines it");

    /* Through the rule: the peer's probe ran at mono 99.6 (after the move +
     * allow), written with its wall clock an hour behind this node's. */
    struct fleet_decide_stamped_peer p[2] = {test_peer(HEALTH_UP, 0), test_peer(HEALTH_UP, 99.7)};
    p[0].etcd.as_of = fleet_decide_stamped_map(&o, base + 99.6);
    struct fleet_decide_stamped_in in = test_in(p);
    struct fleet_decide_stamped_out out;
    struct fleet_decide_stamped_how how[2];
    test_run(&in, &out, how);
    TAP_CHECK(t, how[0].why == FLEET_STAMPED_WHY_AFTER && out.serve == HEALTH_UP,
              "an hour of skew: its up counts by its mapped time");

    /* The peer's clock jumps 30 s ahead: the larger sample is taken at once. */
    fleet_decide_stamped_offset_sample(&o, base + 30 + 100.0, 100.01, keep, step);
    TAP_CHECK(t, o.off == base + 30 + 100.0 - 100.01, "a jump ahead is taken at once");
    m = fleet_decide_stamped_map(&o, base + 30 + 100.0);
    TAP_CHECK(t, m > 100.0 && m < 100.02, "and its new stamps map right: %.3f", m);

    /* It jumps 5 s back. The first sample below alone is not taken (it
     * could be a late delivery): its up looks old meanwhile. */
    fleet_decide_stamped_offset_sample(&o, base + 25 + 100.5, 100.51, keep, step);
    p[0].etcd.as_of = fleet_decide_stamped_map(&o, base + 25 + 100.5);
    test_run(&in, &out, how);
    TAP_CHECK(t, o.off == base + 30 + 100.0 - 100.01 && how[0].why == FLEET_STAMPED_WHY_BEFORE,
              "one sample of a jump back is not taken yet, its up looks old (%.2f)",
              p[0].etcd.as_of);
    /* Datagrams every 0.1 s, all 5 s below: after step_s (3 samples over
     * 0.25 s) the step is taken, with the least delayed of them (10 ms). */
    fleet_decide_stamped_offset_sample(&o, base + 25 + 100.6, 100.62, keep, step);
    fleet_decide_stamped_offset_sample(&o, base + 25 + 100.7, 100.71, keep, step);
    TAP_CHECK(t, o.off == base + 30 + 100.0 - 100.01, "3 samples over 0.2 s: not yet a step");
    fleet_decide_stamped_offset_sample(&o, base + 25 + 100.8, 100.83, keep, step);
    TAP_CHECK(t, o.off == base + 25 + 100.5 - 100.51 && o.step_n == 0,
              "a jump back is taken once consistent for step_s (0.32 s after it)");
    m = fleet_decide_stamped_map(&o, base + 25 + 100.9);
    test_run(&in, &out, how);
    TAP_CHECK(t, m > 100.9 && m < 100.92, "its new stamps map right again: %.3f", m);
    fleet_decide_stamped_offset_sample(&o, base + 25 + 100.9, 100.905, keep, step);
    TAP_CHECK(t, o.off == base + 25 + 100.9 - 100.905, "a quicker delivery refines it at once");

    /* A stall: 10 datagrams sent 0.1 s apart over 1 s, delivered together
     * at 102.0 (within 5 ms), then the next one on time. Not a step: the
     * burst arrives within moments, and the quick one ends the candidate. */
    double kept = o.off;
    for (int i = 0; i < 10; i++)
        fleet_decide_stamped_offset_sample(&o, base + 25 + 101.0 + 0.1 * i, 102.0 + 0.0005 * i,
                                           keep, step);
    TAP_CHECK(t, o.off == kept && o.step_n == 10, "a burst of late deliveries is not taken");
    fleet_decide_stamped_offset_sample(&o, base + 25 + 102.05, 102.055, keep, step);
    TAP_CHECK(t, o.off == kept && o.step_n == 0 && o.at == 102.055,
              "the next quick delivery ends the candidate and confirms the offset");
    /* Late heartbeats through etcd after a cut: 2-4 s late, 0.5 s apart,
     * each with a quick datagram between them: never taken. */
    for (int i = 0; i < 6; i++) {
        fleet_decide_stamped_offset_sample(&o, base + 25 + 103.0 + 0.5 * i, 107.0 + 0.5 * i, keep,
                                           step);
        fleet_decide_stamped_offset_sample(&o, base + 25 + 107.1 + 0.5 * i, 107.105 + 0.5 * i, keep,
                                           step);
    }
    TAP_CHECK(t, o.off == kept, "late heartbeats between quick datagrams: the offset holds");

    /* Through etcd alone (a heartbeat every 0.5 s, 20-60 ms delays) the
     * peer's clock jumps 30 s back: taken at the third heartbeat, 1 s
     * after the jump, with the least delay seen. */
    fleet_decide_stamped_offset_sample(&o, base - 5 + 110.0, 110.04, keep, step);
    fleet_decide_stamped_offset_sample(&o, base - 5 + 110.5, 110.52, keep, step);
    TAP_CHECK(t, o.off == kept, "two heartbeats of a jump back: not yet");
    fleet_decide_stamped_offset_sample(&o, base - 5 + 111.0, 111.06, keep, step);
    TAP_CHECK(t, o.off == base - 5 + 110.5 - 110.52, "the third, 1 s after: taken (%.3f)",
              o.off - (base - 5));
    /* A jump forward again: at once. */
    fleet_decide_stamped_offset_sample(&o, base + 25 + 111.5, 111.51, keep, step);
    TAP_CHECK(t, o.off == base + 25 + 111.5 - 111.51, "and a jump forward at once");

    /* A lone sample 40 ms below changes nothing; one within 20 ms confirms
     * the estimate (its age, for the last resort keep_s). */
    fleet_decide_stamped_offset_sample(&o, base + 25 + 111.6, 111.65, keep, step);
    TAP_CHECK(t, o.off == base + 25 + 111.5 - 111.51 && o.at == 111.51,
              "one 40 ms smaller changes nothing");
    fleet_decide_stamped_offset_sample(&o, base + 25 + 111.7, 111.72, keep, step);
    TAP_CHECK(t, o.off == base + 25 + 111.5 - 111.51 && o.at == 111.72 && o.step_n == 0,
              "one within 20 ms refreshes the estimate's age");
    fleet_decide_stamped_offset_sample(&o, base + 25 + 122.0, 122.05, keep, step);
    TAP_CHECK(t, o.off == base + 25 + 122.0 - 122.05, "after keep_s unconfirmed: taken");
}

/* The cut node's etcd question (fleet_decide_stamped_vouched), with the
 * product's numbers: asked after 0.15 s of silence, a heartbeat out 0.3 s
 * was not taken, views of 0.75 s / 1.5 s. The last peer was heard at 99 s. */
static void test_vouched(struct tap *t)
{
    const struct fleet_decide_stamped_reach r = {0.15, 1.0, 0.3, 0.75, 1.5};
    struct fleet_decide_stamped_session s = {
        .synced = true, .fresh_at = 98.9, .beat_out = 0, .heard_any = 99.0, .now = 99.1};
    TAP_CHECK(t, fleet_decide_stamped_vouched(&s, &r), "peers heard lately, view 0.2 s old");
    s.synced = false;
    TAP_CHECK(t, !fleet_decide_stamped_vouched(&s, &r), "never synced or degraded: never");
    s.synced = true;
    /* The cut: the check went out at 99.15 and is not answered. */
    s.beat_out = 99.15;
    s.now = 99.4;
    TAP_CHECK(t, fleet_decide_stamped_vouched(&s, &r), "check out 0.25 s: pending, held");
    s.now = 99.46;
    TAP_CHECK(t, !fleet_decide_stamped_vouched(&s, &r), "check out 0.31 s: refused");
    /* A heartbeat taken just before the cut (sent 0.1 s after the last
     * datagram) does not outweigh a later one not taken. */
    s.fresh_at = 99.1;
    TAP_CHECK(t, !fleet_decide_stamped_vouched(&s, &r), "an older take does not outweigh");
    /* Issue #39: the peers stopped, etcd takes the check. */
    s.beat_out = 0;
    s.fresh_at = 99.15;
    s.now = 99.9;
    TAP_CHECK(t, fleet_decide_stamped_vouched(&s, &r), "check taken while silent: vouched");
    s.fresh_at = 99.05;
    TAP_CHECK(t, !fleet_decide_stamped_vouched(&s, &r),
              "taken before the silence, view 0.85 s old, none out: not");
    s.now = 99.7;
    TAP_CHECK(t, fleet_decide_stamped_vouched(&s, &r), "the same at 0.65 s: the view's age");
    /* Silent past until_s (1 s): the view's age again, so a channel that
     * stays silent does not make a slow commit a cut. */
    s = (struct fleet_decide_stamped_session){
        .synced = true, .fresh_at = 100.0, .beat_out = 100.1, .heard_any = 99.0, .now = 100.5};
    TAP_CHECK(t, fleet_decide_stamped_vouched(&s, &r), "silent 1.5 s: one out 0.4 s, view 0.5 s");
    s.now = 101.0;
    TAP_CHECK(t, !fleet_decide_stamped_vouched(&s, &r), "silent 2 s: one out 0.9 s, view 1 s");
    s.now = 99.8;
    s.fresh_at = 99.0;
    s.beat_out = 99.45;
    TAP_CHECK(t, !fleet_decide_stamped_vouched(&s, &r),
              "the cut: silent 0.8 s, out 0.35 s, view 0.8 s: not");
    /* No channel: the view's age alone, as before. */
    s = (struct fleet_decide_stamped_session){
        .synced = true, .fresh_at = 99.0, .beat_out = 99.5, .heard_any = 0, .now = 99.7};
    TAP_CHECK(t, fleet_decide_stamped_vouched(&s, &r), "no channel: one out 0.2 s, view 0.7 s");
    s.now = 99.81;
    TAP_CHECK(t, !fleet_decide_stamped_vouched(&s, &r), "no channel: one out 0.31 s");
    s.beat_out = 0;
    TAP_CHECK(t, fleet_decide_stamped_vouched(&s, &r),
              "no channel: none out, view 0.81 s (a heartbeat tick late)");
    s.now = 100.51;
    TAP_CHECK(t, !fleet_decide_stamped_vouched(&s, &r), "no channel: view 1.51 s");
}

static void test_names(struct tap *t)
{
    TAP_CHECK(t, strcmp(fleet_decide_stamped_count_name(FLEET_STAMPED_AS_OWN), "as_own") == 0,
              "count name");
    TAP_CHECK(t, strcmp(fleet_decide_stamped_why_name(FLEET_STAMPED_WHY_CUT_OFF), "cut_off") == 0,
              "reason name");
    TAP_CHECK(t, strcmp(fleet_decide_stamped_why_name(200), "?") == 0, "unknown reason: ?");
}

int main(void)
{
    struct tap t = {0};
    test_down_counts(&t);
    test_up_when_own_up(&t);
    test_up_after_move(&t);
    test_before_undetermined(&t);
    test_cut_off(&t);
    test_cut_from_then_off(&t);
    test_cut_healed(&t);
    test_stale(&t);
    test_channels(&t);
    test_no_peers(&t);
    test_how_null(&t);
    test_offset(&t);
    test_vouched(&t);
    test_names(&t);
    return tap_done(&t);
}
