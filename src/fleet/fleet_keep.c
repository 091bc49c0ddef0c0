/*
 * fleet_keep.c -- the kept etcd session: what a synced node does when its
 * calls or its watch fail without an answer (doc/fleet.md, "Kept
 * session").
 *
 * A member that stops answering (a cut link, a dead host) fails calls
 * without an answer; the etcd client moves them to the next member
 * (etcd.h, connect_s), and a call that no member answered ends with
 * ETCD_ERR_NET. None of that says the lease or the view is lost: the
 * lease lives for stale_after after the last keep-alive, and the watch
 * resumes from the revision it last delivered. So such a failure keeps
 * the session (fleet_session_expired decides, a pure function), and only
 * an error answer, a lost lease, a compaction, or stale_after without a
 * quorum reply make the node read everything again (fleet_sync_failed).
 * Writes are refused (503) while calls fail (fleet_store.c).
 *
 * Threads: the fleet thread; calls_kept is written under f->lock.
 */
#include <stdio.h>

#include "common/log.h"
#include "fleet/fleet_int.h"
#include "fleet/fleet_session.h"

/* Kept session (fleet_session.h): a call that no member answered, on a
 * synced node within stale_after of the last quorum reply, leaves the
 * lease, the watch and the view as they are. The etcd client has moved to
 * the next member already; the call's owner sends again later (the
 * heartbeat at its next beat, a publish at the next tick, a write is
 * answered 503 by its job). A fresh read only follows an error answer, a
 * lost lease, a compaction, or stale_after with no quorum reply
 * (fleet_sync_tick). */
void fleet_keep_call_failed(struct fleet *f, enum etcd_status st, const char *what, const char *err)
{
    double now = deadline_mono();
    pthread_mutex_lock(&f->lock);
    struct fleet_session_in in = {.cause = st == ETCD_ERR_NET ? FLEET_SESSION_NO_REPLY
                                                              : FLEET_SESSION_ERROR_ANSWER,
                                  .synced = f->conn == FLEET_CONN_SYNCED,
                                  .now = now,
                                  .last_quorum = f->last_quorum,
                                  .stale_after = f->p.stale_after};
    bool expired = fleet_session_expired(&in);
    if (!expired)
        f->calls_kept++;
    pthread_mutex_unlock(&f->lock);
    if (expired) {
        fleet_sync_failed(f, what, err);
        return;
    }
    if (f->kept_since == 0) { /* one line per run of failures */
        f->kept_since = now;
        log_warn("event=fleet_etcd_call_failed node=%s step=%s etcd=%s session=kept "
                 "last_quorum_s=%.2f error=\"%s\"",
                 f->p.node, what, etcd_endpoint(f->etcd), now - in.last_quorum, err ? err : "");
    }
}

/* What fleet_session_expired needs of a synced node that no member
 * answered, read under the lock. */
static struct fleet_session_in fleet_keep_silent_in(struct fleet *f, double now)
{
    pthread_mutex_lock(&f->lock);
    struct fleet_session_in in = {.cause = FLEET_SESSION_NO_REPLY,
                                  .synced = true,
                                  .now = now,
                                  .last_quorum = f->last_quorum,
                                  .stale_after = f->p.stale_after};
    pthread_mutex_unlock(&f->lock);
    return in;
}

/* A synced node without a quorum reply for stale_after: its lease may
 * have expired (its TTL), so the session is lost (fleet_session.h) and it
 * syncs again. True when it did. */
bool fleet_keep_expire_silent(struct fleet *f, double now)
{
    struct fleet_session_in in = fleet_keep_silent_in(f, now);
    if (!fleet_session_expired(&in))
        return false;
    char why[96];
    snprintf(why, sizeof(why), "no quorum reply for %.1f s (stale_after)", now - in.last_quorum);
    fleet_sync_failed(f, "session", why);
    return true;
}

/* Every URL ended the watch in a row without a message: the session is
 * kept while fleet_session_expired allows (the watch starts again
 * FLEET_RETRY_S later, not at once: a member that refuses connections
 * ends a watch at once), else the node syncs again. */
void fleet_keep_watch_down(struct fleet *f, const char *why)
{
    double now = deadline_mono();
    struct fleet_session_in in = fleet_keep_silent_in(f, now);
    if (fleet_session_expired(&in)) {
        fleet_sync_failed(f, "watch", why);
        return;
    }
    log_warn("event=fleet_watch_down node=%s revision=%lld retry_s=%.1f session=kept why=\"%s\"",
             f->p.node, (long long)f->rev, FLEET_RETRY_S, why);
    f->rewatch_at = now + FLEET_RETRY_S;
}
