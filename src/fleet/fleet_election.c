/*
 * fleet_election.c -- whether etcd is electing a leader, which alone lets
 * a peer's silence (or this node's own gap) count as agreement with this
 * node's probe (fleet.c, fleet_peer_unheard_locked).
 *
 * Why: while etcd elects a leader, nothing is written, so a backend that
 * dies meanwhile would be failed over only after the election (1-2 s with
 * etcd's defaults) plus the peers' publication; counting the silent peers
 * as agreeing fails it over in fall x interval. But a gap in the
 * heartbeats has other causes that say nothing of what the peers see: a
 * slow disk under etcd (fsync stalls of a second or more), a starved CPU
 * on a peer or here. There the peers' last reports stand, and a node that
 * alone lost its backends (its own network) moves no answer.
 *
 * How it is told: while a gap is open, every FLEET_ELECT_EVERY_S the node
 * asks each etcd URL for /v3/maintenance/status (answered from memory: no
 * disk, no quorum) on a client of that URL alone; a URL whose last call is
 * still out is not asked again until it ends (its timeout bounds it), and
 * the URLs' last states are judged together. An election is shown by
 *   - a member that answers with no leader (a candidate, or a follower of
 *     one);
 *   - a raft term above the highest this node has seen in any reply;
 *   - a leader named by the members that answer, that is none of them,
 *     while every other URL refused or reset the connection well before
 *     the call's timeout, or has not connected within FLEET_CONNECT_S: the
 *     leader is gone (killed, its host down), and the others will elect
 *     once their election timeout runs out. A URL that connects and then
 *     does not answer in time (a member stopped or starved, an fsync
 *     stall) shows nothing: it may be a slow leader.
 * and, at any time, by a reply (heartbeat, watch) whose header carries a
 * raft term above the highest seen.
 *
 * Threads: the fleet thread; f->elect.at and why under f->lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/deadline.h"
#include "common/log.h"
#include "fleet/fleet_int.h"

struct fleet_elect_call {
    struct fleet *f;
    size_t url;
};

/* An election shown: remembered, logged once per gap, verdicts recomputed. */
static void fleet_election_shown(struct fleet *f, const char *why)
{
    pthread_mutex_lock(&f->lock);
    f->elect.at = deadline_mono();
    snprintf(f->elect.why, sizeof(f->elect.why), "%s", why);
    pthread_mutex_unlock(&f->lock);
    if (!f->elect.logged)
        log_info("event=fleet_etcd_election node=%s why=\"%s\" note=\"%s\"", f->p.node, why,
                 f->p.decision == FLEET_DECISION_GAPS
                     ? "silent peers count as agreeing with this node's probe on endpoints "
                       "that changed meanwhile"
                     : "shown in status only: the stamped verdict judges each report by its "
                       "stamp and the direct channel");
    f->elect.logged = true;
    if (!f->degraded)
        fleet_recompute_probed(f);
}

/* A uint64 that etcd sends as a JSON string (member ids use all 64 bits:
 * etcd_json_int would clamp them to INT64_MAX, making every id alike). */
static uint64_t fleet_election_u64(json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
    const char *s = json_string_value(v);
    if (!s || *s < '0' || *s > '9')
        return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    return errno || *end ? 0 : (uint64_t)x;
}

void fleet_election_header(struct fleet *f, json_t *header)
{
    uint64_t t = fleet_election_u64(json_object_get(header, "raft_term"));
    if (t == 0 || t <= f->elect.term)
        return;
    uint64_t was = f->elect.term;
    f->elect.term = t;
    if (was > 0) {
        char why[128];
        snprintf(why, sizeof(why), "etcd's raft term moved from %" PRIu64 " to %" PRIu64, was, t);
        fleet_election_shown(f, why);
    }
}

bool fleet_election_judge(const struct fleet_elect *e, char *const *urls, char *why, size_t len)
{
    uint64_t leader = 0;
    bool others_gone = true;
    for (size_t i = 0; i < e->n; i++) {
        if (e->u[i].state == FLEET_ELECT_ANSWERED) {
            if (e->u[i].leader == 0) {
                snprintf(why, len, "etcd %s has no leader", urls[i]);
                return true;
            }
            if (e->term > 0 && e->u[i].term > e->term) {
                snprintf(why, len, "etcd %s is at raft term %" PRIu64 ", above %" PRIu64, urls[i],
                         e->u[i].term, e->term);
                return true;
            }
            leader = e->u[i].leader;
        } else if (e->u[i].state != FLEET_ELECT_GONE)
            others_gone = false;
    }
    if (leader == 0 || !others_gone)
        return false;
    for (size_t i = 0; i < e->n; i++)
        if (e->u[i].state == FLEET_ELECT_ANSWERED && e->u[i].member == leader)
            return false;
    snprintf(why, len, "etcd's leader %" PRIx64 " cannot be reached", leader);
    return true;
}

static void fleet_election_judge_now(struct fleet *f)
{
    char why[128];
    if (fleet_election_judge(&f->elect, f->p.etcd.urls, why, sizeof(why)))
        fleet_election_shown(f, why);
}

static void fleet_election_on_reply(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_elect_call *c = arg;
    struct fleet *f = c->f;
    size_t i = c->url;
    free(c);
    (void)err;
    if (st == ETCD_ERR_CANCELLED)
        return; /* the fleet is being freed */
    struct fleet_elect *e = &f->elect;
    e->u[i].out = false;
    if (st == ETCD_OK) {
        json_t *h = json_object_get(resp, "header");
        json_t *term = json_object_get(resp, "raftTerm");
        e->u[i].state = FLEET_ELECT_ANSWERED;
        e->u[i].member = fleet_election_u64(json_object_get(h, "member_id"));
        e->u[i].leader = fleet_election_u64(json_object_get(resp, "leader"));
        e->u[i].term = fleet_election_u64(term ? term : json_object_get(resp, "raft_term"));
    } else if (e->u[i].state == FLEET_ELECT_ASKED) {
        /* A transport failure well before the call's timeout is a refused
         * or reset connection: no process behind the URL (killed, gone).
         * A member stopped or starved accepts and then times out. */
        double took = deadline_mono() - e->u[i].sent;
        bool early =
            st == ETCD_ERR_NET && took < 0.9 * (f->p.etcd.timeout_s > 0 ? f->p.etcd.timeout_s : 2);
        e->u[i].state = early ? FLEET_ELECT_GONE : FLEET_ELECT_SLOW;
    }
    fleet_election_judge_now(f);
    if (e->u[i].state == FLEET_ELECT_ANSWERED && e->u[i].term > e->term)
        e->term = e->u[i].term; /* the highest, once judged against */
}

/* A client for URL i alone (made once). */
static struct etcd *fleet_election_client(struct fleet *f, size_t i)
{
    if (f->elect.probe[i])
        return f->elect.probe[i];
    struct etcd_params p = f->p.etcd;
    p.urls = &f->p.etcd.urls[i];
    p.n_urls = 1;
    p.watch_idle_s = 0;
    /* Its calls stay on their URL until timeout_s: the check below reads
     * "not connected after FLEET_CONNECT_S" from the call in flight. */
    p.connect_s = 0;
    p.watch_probe_s = 0;
    char err[256];
    f->elect.probe[i] = etcd_new(f->base, &p, err, sizeof(err));
    return f->elect.probe[i];
}

/* Asks every URL that has no call out. */
static void fleet_election_ask(struct fleet *f, double now)
{
    struct fleet_elect *e = &f->elect;
    e->next = now + FLEET_ELECT_EVERY_S;
    e->n = f->p.etcd.n_urls < FLEET_ELECT_URLS ? f->p.etcd.n_urls : FLEET_ELECT_URLS;
    for (size_t i = 0; i < e->n; i++) {
        struct etcd *cl = e->u[i].out ? NULL : fleet_election_client(f, i);
        if (!cl)
            continue;
        struct fleet_elect_call *c = calloc(1, sizeof(*c));
        if (!c)
            abort();
        *c = (struct fleet_elect_call){.f = f, .url = i};
        e->u[i].state = FLEET_ELECT_ASKED;
        e->u[i].out = true;
        e->u[i].sent = now;
        etcd_call(cl, "/v3/maintenance/status", json_object(), fleet_election_on_reply, c);
    }
}

void fleet_election_tick(struct fleet *f, double now, bool gap)
{
    struct fleet_elect *e = &f->elect;
    if (!gap) {
        e->logged = false;
        return;
    }
    /* A URL not even connected after FLEET_CONNECT_S: a dead host or a
     * cut link, not a slow member. */
    bool marked = false;
    for (size_t i = 0; i < e->n; i++)
        if (e->u[i].out && e->u[i].state == FLEET_ELECT_ASKED &&
            now - e->u[i].sent >= FLEET_CONNECT_S && etcd_connecting(e->probe[i])) {
            e->u[i].state = FLEET_ELECT_GONE;
            marked = true;
        }
    if (marked)
        fleet_election_judge_now(f);
    if (now >= e->next && !f->stopping)
        fleet_election_ask(f, now);
}

bool fleet_election_since_locked(const struct fleet *f, double since)
{
    return f->elect.at > 0 && f->elect.at >= since;
}

void fleet_election_free(struct fleet *f)
{
    for (size_t i = 0; i < FLEET_ELECT_URLS; i++) {
        etcd_free(f->elect.probe[i]);
        f->elect.probe[i] = NULL;
    }
}
