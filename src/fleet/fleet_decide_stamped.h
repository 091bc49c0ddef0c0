/*
 * fleet_decide_stamped.h -- the "stamped" fleet verdict of one endpoint, as
 * a pure function of explicit inputs (issue #54; doc/fleet.md "Decision
 * model and simulator", "Three rules in the simulator").
 *
 * Contract:
 *   - Inputs only: no clock read, no lock, no I/O, no allocation. The
 *     simulator (tests/unit/fleet_sim_direct.c) calls this function for its
 *     "stamped" and "stamped_etcd" rules; the product's live verdict calls
 *     it through fleet_stamped.c.
 *   - Units: seconds, as doubles, all in this node's monotonic clock. The
 *     caller maps each writer's stamp into that clock through the writer's
 *     measured offset (fleet_decide_stamped_offset_sample below), so a jump
 *     of this node's wall clock changes nothing. A time <= 0 means "never"
 *     or "not known".
 *   - Ownership: the caller owns every input and output; nothing is kept
 *     past the call. in->peers points to n_peers entries (NULL when 0); how,
 *     when not NULL, has room for n_peers entries and gets one per peer.
 *
 * The rule, for a node whose probe says P:
 *   - a peer's latest known state (the later by as_of of what etcd and the
 *     direct channel brought) counts as sent when it is down, or when P is
 *     not down, or when it is up as of at least allow_s (fall x interval)
 *     after P moved to down: the peer's probe would have seen a death by
 *     then, so its up is evidence against P;
 *   - an up known only from before that is undetermined while this node
 *     hears any peer directly (within alive_s); when it hears none, it is
 *     the one cut off, and the peers it cannot hear count as P, their ups
 *     from after P moved included (such an up says nothing of the backend
 *     since its stamp; issue #54's node cut from the backend alone, then
 *     cut off as it died);
 *   - after this node was cut off, an up as of before the cut ended (cut_end)
 *     says nothing of the backend since: while P says down it waits for
 *     newer news (undetermined), as it yields to P while still cut off. A
 *     node whose heartbeat etcd takes again before its peers' reports of a
 *     death are committed and before their datagrams come back would
 *     otherwise go back to a dead backend on the ups it held from before
 *     the cut (issue #54's 30-minute I4, the simulator's cut_heal class);
 *   - a peer with no news for stale_after counts as P when P ran within the
 *     last two intervals, else it is undetermined;
 *   - when the undetermined peers could swing the quorum either way, the
 *     node keeps what it serves: it never moves on a guess.
 */
#ifndef GTM_FLEET_FLEET_DECIDE_STAMPED_H
#define GTM_FLEET_FLEET_DECIDE_STAMPED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet/fleet_quorum.h"
#include "health/health.h"

/* What one channel last brought of a peer's probe: its state as of as_of
 * (mono, already mapped through the peer's offset; <= 0: nothing). */
struct fleet_decide_stamped_news {
    uint8_t state; /* HEALTH_DOWN, or anything else: up */
    double as_of;
};

/* One peer that has reported the endpoint through either channel. */
struct fleet_decide_stamped_peer {
    struct fleet_decide_stamped_news etcd;   /* its report, confirmed by heartbeats */
    struct fleet_decide_stamped_news direct; /* its (or a relayed) datagram */
    double news_at; /* mono: newer news of its probe last arrived (0: never) */
    double heard;   /* mono: it was last heard directly (0: never) */
};

/* This node's probe of the endpoint. */
struct fleet_decide_stamped_self {
    uint8_t own;      /* HEALTH_UP, HEALTH_DOWN, else none */
    double own_since; /* mono: the probe's state last changed */
    double ran;       /* mono: the probe last ran (0: never) */
    uint8_t served;   /* what this node serves now (kept on a guess) */
};

struct fleet_decide_stamped_in {
    struct fleet_quorum quorum;
    double allow_s;     /* fall x interval: a peer's probe has seen a death by then */
    double interval_s;  /* the probe's interval ("ran" is recent within two) */
    double stale_after; /* no news of a peer this long: it counts as P or is undetermined */
    double alive_s;     /* a peer heard directly this recently is reachable */
    double now;         /* mono */
    double cut_end; /* mono: this node's last cut-off ended (0: never; fleet_decide_stamped_cut) */
    struct fleet_decide_stamped_self self;
    const struct fleet_decide_stamped_peer *peers;
    size_t n_peers;
};

/* How a peer counted. */
enum fleet_decide_stamped_count {
    FLEET_STAMPED_AS_SENT = 0, /* its state, up or down, as it was sent */
    FLEET_STAMPED_AS_OWN,      /* this node's probe stood in for it */
    FLEET_STAMPED_UNDETERMINED /* neither: it could be up or down */
};

/* Why it counted so. */
enum fleet_decide_stamped_why {
    FLEET_STAMPED_WHY_DOWN = 0,      /* a down counts as sent */
    FLEET_STAMPED_WHY_AGREES,        /* an up while this node's probe is not down */
    FLEET_STAMPED_WHY_AFTER,         /* up as of >= allow_s after this node's probe moved */
    FLEET_STAMPED_WHY_BEFORE,        /* up from before that, the peer is heard: wait */
    FLEET_STAMPED_WHY_BEFORE_OTHERS, /* up from before, peer not heard, others are: wait */
    FLEET_STAMPED_WHY_CUT_OFF,       /* up from before, no peer heard: this node is cut off */
    FLEET_STAMPED_WHY_STALE_OWN,     /* no news for stale_after, own probe ran lately */
    FLEET_STAMPED_WHY_STALE_OPEN,    /* no news for stale_after, own probe has not run */
    FLEET_STAMPED_WHY_HEALED         /* up from before this node's cut-off ended: wait */
};

struct fleet_decide_stamped_how {
    uint8_t count; /* enum fleet_decide_stamped_count */
    uint8_t state; /* HEALTH_UP or HEALTH_DOWN when counted; HEALTH_UNKNOWN when not */
    uint8_t why;   /* enum fleet_decide_stamped_why */
    double as_of;  /* mono: the stamp judged (the later channel's; <= 0: none) */
};

struct fleet_decide_stamped_out {
    uint8_t serve;             /* what to serve: the verdict, P, or what it served */
    enum health_state verdict; /* the quorum's with every undetermined peer up;
                                  HEALTH_UNKNOWN: nobody reports it */
    unsigned up, down, open;   /* counted (own probe included) and undetermined */
    bool held;                 /* the undetermined peers could swing it: kept served */
    bool alone;                /* no peer's news is current: P decides */
    bool cut_off;              /* no peer heard directly within alive_s */
};

/* The verdict; fills *out and, when not NULL, how[0..n_peers-1]. */
void fleet_decide_stamped(const struct fleet_decide_stamped_in *in,
                          struct fleet_decide_stamped_out *out,
                          struct fleet_decide_stamped_how *how);

/*
 * Whether this node is cut off now: it hears none of in->peers directly
 * within alive_s (a peer counts as heard while etcd vouches for this node:
 * the caller sets its heard to now). False without peers.
 */
bool fleet_decide_stamped_cut_off(const struct fleet_decide_stamped_in *in);

/* When this node's last cut-off ended (in->cut_end), kept by the caller
 * across verdicts: fed, before each verdict, whether the node is cut off
 * now (judged over every live peer, not one endpoint's reporters). */
struct fleet_decide_stamped_cut {
    bool cut;
    double end; /* mono: it last went from cut off to not (0: never) */
};

void fleet_decide_stamped_cut_note(struct fleet_decide_stamped_cut *c, bool cut_off, double now);

/*
 * Whether etcd vouches that this node is not cut off, when it hears no peer
 * directly (doc/fleet.md "The cut node's bound"). A node whose heartbeats
 * etcd takes is not the one cut off: peers it cannot hear are stopped,
 * starved or gone (issue #39), and their ups wait instead of yielding to
 * its probe. The question is asked of etcd after the silence began: once
 * no peer was heard for check_s, the caller sends heartbeats ahead of
 * their schedule (one at a time, check_s apart); etcd vouches when one
 * sent at least check_s after the last peer was heard was taken, refuses
 * as soon as one is out past out_s, and is pending in between (the node
 * then holds what it serves). Before the silence (and for a node without
 * the channel), and once the silence is over until_s (the question was
 * asked and answered by then; a channel that stays silent, UDP blocked
 * between the nodes, must not make every slow commit a cut), the view's
 * age decides as before: within blind_s, or within view_max_s unless a
 * heartbeat is out past out_s.
 */
/* A heartbeat out this long is not being taken: a commit and its reply
 * take milliseconds to tens of them (fsync), 0.3 s leaves a loaded
 * machine room; the view may be this old while heartbeats are answered
 * (one heartbeat tick late, FLEET_BEAT_S + 2 FLEET_TICK_S, and some). */
#define FLEET_STAMPED_OUT_S 0.3
#define FLEET_STAMPED_VIEW_MAX_S 1.5

/* No peer heard directly this long: etcd is asked whether it still takes
 * this node's writes (fleet_decide_stamped_vouched): 1.5 of the channel's
 * sends (FLEET_PEER_TICK_S, 0.1 s), the first datagram missed from every peer
 * with 0.05 s of jitter. Asked again every FLEET_STAMPED_CHECK_S (one
 * heartbeat out at a time) while the silence is under
 * FLEET_STAMPED_CHECK_UNTIL_S: past alive_s + FLEET_STAMPED_OUT_S (0.65 s)
 * with slack, so a cut just after a check is still caught by the next;
 * later the heartbeats' own schedule (FLEET_BEAT_S, 0.5 s) asks, at most 6 extra
 * writes per silence. */
#define FLEET_STAMPED_CHECK_S 0.15
#define FLEET_STAMPED_CHECK_UNTIL_S 1.0

struct fleet_decide_stamped_session {
    bool synced;      /* synced once and not degraded */
    double fresh_at;  /* mono: the latest heartbeat taken and seen on the watch was sent */
    double beat_out;  /* mono: the oldest heartbeat not answered was sent (0: none out) */
    double heard_any; /* mono: a peer was last heard directly (0: never, or no channel) */
    double now;
};

struct fleet_decide_stamped_reach {
    double check_s;    /* no peer heard this long: etcd is asked */
    double until_s;    /* ... until no peer was heard this long */
    double out_s;      /* a heartbeat out this long was not taken */
    double blind_s;    /* a view this old is not current (no heartbeat out) */
    double view_max_s; /* nor this old, with one out */
};

bool fleet_decide_stamped_vouched(const struct fleet_decide_stamped_session *s,
                                  const struct fleet_decide_stamped_reach *r);

/* A short name of a count or a reason, for status ("as_sent", "cut_off"). */
const char *fleet_decide_stamped_count_name(uint8_t count);
const char *fleet_decide_stamped_why_name(uint8_t why);

/*
 * A peer's clock offset (its wall clock minus this node's monotonic clock),
 * estimated from the messages it sent (one-way: each sample, sent - received,
 * is the offset less that message's delay). The estimate is the largest
 * sample (the least delayed), so a message delivered late (an etcd stall,
 * this node starved) never makes the peer's stamps look newer than they are.
 * A larger sample is taken at once (the peer's clock stepped ahead, or a
 * quicker delivery). A step back is told from a late delivery by being
 * consistent: every sample for step_s (at least FLEET_STAMPED_STEP_SAMPLES of
 * them, arriving over step_s, none back within 20 ms of the estimate) below
 * it; the step's estimate is then the largest of those samples. Late
 * deliveries arrive in a burst after a stall (within moments of each other)
 * and are followed by a quick one, which ends the candidate step. A channel
 * slow for all of step_s is taken as a step by its least delay, and undone by
 * the first quicker sample. As a last resort the estimate expires after
 * keep_s without a sample within 20 ms of it.
 */
#define FLEET_STAMPED_STEP_SAMPLES 3

struct fleet_decide_stamped_offset {
    bool have;
    double off; /* s: the peer's wall minus this node's mono */
    double at;  /* mono: the sample kept was taken, or last confirmed */
    /* A candidate step back: the samples since step_from (mono, 0: none),
     * all below off by more than 20 ms; step_off is their largest. */
    double step_from, step_off;
    unsigned step_n;
};

/* Feeds one message the peer sent at sent (its wall clock), received at now
 * (this node's mono). keep_s: the estimate's last-resort age; step_s: how
 * long the samples must stay consistently below it to be a step back. */
void fleet_decide_stamped_offset_sample(struct fleet_decide_stamped_offset *o, double sent,
                                        double now, double keep_s, double step_s);

/* A stamp of the peer in this node's mono clock; 0 when the stamp is <= 0 or
 * no offset is known. */
double fleet_decide_stamped_map(const struct fleet_decide_stamped_offset *o, double stamp);

#endif
