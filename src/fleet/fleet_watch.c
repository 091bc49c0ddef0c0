/*
 * fleet_watch.c -- the fleet's watch on PREFIX: its messages, and where it
 * goes when its stream ends or its member stops answering.
 *
 * The watch starts after a fresh read, from the revision after it
 * (fleet_sync_after_range). When its stream ends (the etcd client found its
 * member unreachable: etcd.h, connect_s and watch_probe_s; the member lost
 * its leader; the stream closed) it resumes on the next URL from the
 * revision after the last one it delivered, so no event is missed or
 * applied twice and nothing is read again (the revision moves only with
 * what the watch delivered: fleet_session_watch_rev). A compacted revision
 * falls back to a fresh read (fleet_sync_failed). Every URL ending a watch
 * in a row without one message keeps the session while it holds
 * (fleet_session_expired: within stale_after of the last quorum reply):
 * the watch starts again FLEET_RETRY_S later (fleet_beat.c); a lost
 * session reads everything again. The heartbeat's checks move it as well
 * (fleet_beat.c: calls moved to another URL, an acknowledged revision not
 * delivered).
 *
 * Threads: the fleet thread; f->watch_url and f->url are written under
 * f->lock (status reads them).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fleet/fleet_int.h"

static void fleet_on_watch_msg(void *arg, json_t *res)
{
    struct fleet *f = arg;
    fleet_sync_contact(f);
    f->watch_resumes = 0;
    if (json_is_true(json_object_get(res, "canceled"))) {
        fleet_sync_failed(f, "watch",
                          json_object_get(res, "compact_revision")
                              ? "the watch revision was compacted: reading everything again"
                              : "etcd cancelled the watch");
        return;
    }
    /* A message may carry hundreds of pool keys: the health core's
     * listeners hear of their verdicts once. */
    fleet_batch_begin(f);
    bool ok = fleet_sync_watch_events(f, res);
    fleet_batch_end(f);
    if (!ok)
        return;
    fleet_store_run_jobs(f);
    fleet_config_run(f);
    fleet_publish(f); /* our own key may have been deleted */
}

/* The stream ended (its member unreachable, lost its leader, closed it):
 * the watch resumes on the next URL from f->rev + 1, so no event is missed
 * or applied twice and nothing is read again; the calls stay where they
 * are unless they were on the same URL. After every URL has ended a watch
 * in a row without one message, the node syncs again (a full read). A
 * compacted revision never gets here (fleet_on_watch_msg). */
static void fleet_on_watch_end(void *arg, const char *why)
{
    struct fleet *f = arg;
    const char *from = f->watch ? etcd_watch_endpoint(f->watch) : NULL;
    f->watch = NULL;
    if (f->conn != FLEET_CONN_SYNCED) {
        fleet_sync_failed(f, "watch", why);
        return;
    }
    /* Only when calls are still on the URL that ended it: calls that moved
     * on to a live URL stay there. */
    if (from && from == etcd_endpoint(f->etcd))
        etcd_failover(f->etcd);
    if (++f->watch_resumes > f->p.etcd.n_urls) {
        fleet_keep_watch_down(f, why);
        return;
    }
    fleet_sync_rewatch(f, why);
}

void fleet_watch_start(struct fleet *f)
{
    json_t *cr = json_pack("{s:o, s:s, s:I, s:b}", "key", fleet_b64s(f->p.prefix), "range_end", "",
                           "start_revision", (json_int_t)(f->rev + 1), "progress_notify", 1);
    char *end = etcd_prefix_end_b64(f->p.prefix);
    json_object_set_new(cr, "range_end", json_string(end));
    free(end);
    pthread_mutex_lock(&f->lock); /* status reads it (fleet_view.c) */
    f->watch_url = etcd_endpoint(f->etcd);
    pthread_mutex_unlock(&f->lock);
    f->watch = etcd_watch_start(f->etcd, cr, fleet_on_watch_msg, fleet_on_watch_end, f);
    if (!f->watch)
        fleet_sync_failed(f, "watch", "cannot start the watch");
}

void fleet_sync_rewatch(struct fleet *f, const char *why)
{
    f->rewatch_at = 0;
    log_warn("event=fleet_watch_restart node=%s from=%s to=%s revision=%lld why=\"%s\"", f->p.node,
             f->watch_url ? f->watch_url : "", etcd_endpoint(f->etcd), (long long)f->rev, why);
    etcd_watch_cancel(f->watch);
    f->watch = NULL;
    pthread_mutex_lock(&f->lock);
    f->url = etcd_endpoint(f->etcd);
    f->watch_moves += f->watch_url != f->url;
    pthread_mutex_unlock(&f->lock);
    fleet_watch_start(f);
}
