/*
 * fleet_session.h -- what a node knows of its etcd session, as pure
 * functions (no clock read, no lock, no I/O; unit-tested in
 * tests/unit/test_fleet_session.c):
 *
 *  - the watch's resume revision: the revision after which a watch that
 *    ends starts again. It moves only with what the watch delivered.
 *  - whether the session (lease, watch, view) is lost, so that the node
 *    must read everything again, or kept while calls move to another
 *    member.
 */
#ifndef GTM_FLEET_FLEET_SESSION_H
#define GTM_FLEET_FLEET_SESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * The resume revision after one watch message (the "result" object of the
 * stream), given the one before (rev):
 *  - each event moves it to the event's mod_revision;
 *  - the reply that creates the watch ("created": true) does not move it:
 *    its header carries the member's revision before the catch-up events
 *    from start_revision are sent, so a watch ending between that reply
 *    and those events would resume past events it never delivered;
 *  - a message with events does not take its header revision either: a
 *    watch catching up gets its events in batches, each headed with the
 *    member's current revision;
 *  - a progress notification (no event, not "created", not "canceled")
 *    moves it to its header revision: etcd sends one only to a watch that
 *    has delivered everything up to it;
 *  - a "canceled" message leaves it as it is (compaction is the caller's:
 *    it reads everything again).
 * Never moves backwards. res may be NULL (rev is returned).
 */
int64_t fleet_session_watch_rev(int64_t rev, json_t *res);

/* Why a call, the watch or the session failed. */
enum fleet_session_cause {
    FLEET_SESSION_NO_REPLY = 0, /* no answer from any member (transport, time-outs) */
    FLEET_SESSION_ERROR_ANSWER, /* etcd answered with an error (or refused the auth) */
    FLEET_SESSION_LEASE_LOST,   /* the lease expired or is unknown to etcd */
    FLEET_SESSION_COMPACTED     /* the watch's revision was compacted */
};

/* What the node knows when a call fails; times are monotonic seconds. */
struct fleet_session_in {
    enum fleet_session_cause cause;
    bool synced;        /* the fresh read is done and the watch runs from it */
    double now;         /* when the failure was seen */
    double last_quorum; /* the last reply that proves a quorum answered */
    double stale_after; /* the lease's TTL (fleet params) */
};

/*
 * True when the session is lost and the node must sync again (lease, node
 * record, a fresh read, a new watch). Only a failure without an answer,
 * on a synced node, within stale_after of the last quorum reply keeps the
 * session: the lease may still be alive (its TTL is stale_after) and the
 * watch resumes from its revision on another member, so nothing need be
 * read again. An error answer, a lost lease, a compaction, a sync not
 * done, or stale_after without a quorum reply expire it.
 */
bool fleet_session_expired(const struct fleet_session_in *in);

/* "no reply", "error answer", ... for logs. */
const char *fleet_session_cause_name(enum fleet_session_cause c);

#endif
