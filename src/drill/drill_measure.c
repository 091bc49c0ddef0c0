/*
 * drill_measure.c -- the drill thread times recoveries: counters' samples
 * and gtmd's own queries during the transitions.
 */
#include "drill/drill_measure.h"

#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/event_ring.h"
#include "dns/dns.h"
#include "dns/msg_build.h"
#include "dns/name.h"
#include "drill/drill_int.h"

#define DRILL_MEASURE_PENDING 1024 /* own queries awaiting their answer */

/* What an answer of one record is checked against. */
struct drill_mrec {
    struct dns_name qname;
    uint16_t qtype;
    struct drill_mdata {
        uint8_t len;
        uint8_t data[255]; /* an address, or a lowercase wire name (CNAME) */
    } * lost;
    size_t n_lost;
};

/* One transition of one drill being measured (parallel to its
 * timeline's records). */
struct drill_mplan {
    char id[32];
    enum drill_tl_phase phase; /* DRILL_TL_START or DRILL_TL_RESTORE */
    struct dns_ecs ecs;        /* present for a scoped drill: inside its canary */
    struct drill_mrec *recs;
    size_t n, next; /* next: where the round-robin of queries goes on */
    bool seen;      /* still in its transition (drill_measure_sync) */
    struct drill_mplan *next_plan;
};

struct drill_mpending {
    bool used;
    uint16_t qid;
    char id[32];
    size_t rec;
    enum drill_tl_phase phase;
};

struct drill_measure {
    const struct drill_service_env *env;
    struct event_base *base;
    int fd; /* UDP, connected to gtmd's own listen address; -1: no own queries */
    struct event *ev_read, *ev_tick;
    struct drill_mplan *plans;
    uint16_t qid;
    double last_hold; /* last sample of running drills */
    struct drill_mpending pending[DRILL_MEASURE_PENDING];
};

static void drill_mplan_free(struct drill_mplan *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->recs[i].lost);
    free(p->recs);
    free(p);
}

/* The drill of id, active or ended (caller holds c->lock). */
static struct drill *drill_measure_find_locked(struct drill_core *c, const char *id)
{
    for (struct drill *d = c->active; d; d = d->next)
        if (strcmp(d->id, id) == 0)
            return d;
    for (struct drill *d = c->history; d; d = d->next)
        if (strcmp(d->id, id) == 0)
            return d;
    return NULL;
}

static struct drill_mplan *drill_measure_plan(struct drill_measure *m, const char *id,
                                              enum drill_tl_phase phase)
{
    for (struct drill_mplan *p = m->plans; p; p = p->next_plan)
        if (p->phase == phase && strcmp(p->id, id) == 0)
            return p;
    return NULL;
}

/* Whether endpoint e of g lies in one of d's targets. */
static bool drill_measure_lost_ep(const struct gslb *g, const struct drill *d,
                                  const struct policy_endpoint *e)
{
    for (size_t i = 0; i < d->n_targets; i++)
        if (d->slots[i] && (d->slots[i] == g->regions[e->region].slot ||
                            (e->az != UINT16_MAX && d->slots[i] == g->azs[e->az].slot)))
            return true;
    return false;
}

/* The lost endpoints' data of the record (name, type) of g into r. */
static void drill_measure_lost(const struct gslb *g, const struct drill *d, const char *name,
                               struct drill_mrec *r)
{
    for (size_t i = 0; g && i < g->n_records; i++) {
        const struct policy_record *pr = gslb_rec(g, i);
        if (pr->rtype != r->qtype || strcmp(pr->name_str, name) != 0)
            continue;
        const struct policy_pool *p = &g->pools[pr->pool];
        r->lost = calloc(p->n_eps ? p->n_eps : 1, sizeof(*r->lost));
        if (!r->lost)
            abort();
        for (size_t k = 0; k < p->n_eps; k++) {
            const struct policy_endpoint *e = &p->eps[k];
            if (!drill_measure_lost_ep(g, d, e) || e->rtype != pr->rtype)
                continue;
            struct drill_mdata *x = &r->lost[r->n_lost++];
            x->len = (uint8_t)e->rdlen;
            memcpy(x->data, policy_endpoint_rdata(e), e->rdlen);
            if (e->rtype == DNS_TYPE_CNAME)
                dns_name_lower(x->data, x->len);
        }
        return;
    }
}

/* A plan for the transition d's timeline is in (caller holds c->lock). */
static struct drill_mplan *drill_measure_new_plan(const struct gslb *g, const struct drill *d)
{
    const struct drill_timeline *tl = d->report.timeline;
    struct drill_mplan *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    snprintf(p->id, sizeof(p->id), "%s", d->id);
    p->phase = tl->phase;
    if (d->spec.mode == DRILL_SCOPED && d->spec.n_canary > 0) {
        p->ecs.present = true;
        p->ecs.family = d->spec.canary[0].family;
        p->ecs.source_prefix = d->spec.canary[0].len;
        memcpy(p->ecs.addr, d->spec.canary[0].addr, sizeof(p->ecs.addr));
    }
    p->recs = calloc(tl->n_records ? tl->n_records : 1, sizeof(*p->recs));
    if (!p->recs)
        abort();
    p->n = tl->n_records;
    for (size_t i = 0; i < tl->n_records; i++) {
        struct drill_mrec *r = &p->recs[i];
        r->qtype = tl->records[i].rtype;
        if (!dns_name_from_str(tl->records[i].name, &r->qname))
            r->qname.len = 0;
        drill_measure_lost(g, d, tl->records[i].name, r);
    }
    return p;
}

/* ---- own queries ------------------------------------------------------ */

static void drill_measure_send(struct drill_measure *m, struct drill_mplan *p, size_t i)
{
    const struct drill_mrec *r = &p->recs[i];
    uint8_t buf[512];
    if (m->fd < 0 || r->qname.len == 0)
        return;
    struct dns_opt opt = {.payload = 1232, .ecs = p->ecs.present ? &p->ecs : NULL};
    struct dns_msg_query q = {.id = ++m->qid,
                              .flags = 0,
                              .qname = &r->qname,
                              .qtype = r->qtype,
                              .qclass = DNS_CLASS_IN,
                              .opt = p->ecs.present ? &opt : NULL};
    size_t len = dns_msg_build_query(&q, buf, sizeof(buf));
    if (len == 0 || send(m->fd, buf, len, MSG_DONTWAIT) != (ssize_t)len)
        return; /* a full socket buffer: the next tick asks again */
    struct drill_mpending *pe = &m->pending[q.id % DRILL_MEASURE_PENDING];
    pe->used = true;
    pe->qid = q.id;
    snprintf(pe->id, sizeof(pe->id), "%s", p->id);
    pe->rec = i;
    pe->phase = p->phase;
}

/* Whether rdata at pkt[pos..pos+rdlen) is one of r's lost data. */
static bool drill_measure_is_lost(const uint8_t *pkt, size_t len, size_t pos, uint16_t rdlen,
                                  uint16_t type, const struct drill_mrec *r)
{
    struct dns_name n;
    const uint8_t *data = pkt + pos;
    size_t dlen = rdlen;
    if (type == DNS_TYPE_CNAME) {
        size_t p = pos;
        if (!dns_name_parse(pkt, len, &p, &n, true))
            return false;
        data = n.wire;
        dlen = n.len;
    }
    for (size_t i = 0; i < r->n_lost; i++)
        if (r->lost[i].len == dlen && memcmp(r->lost[i].data, data, dlen) == 0)
            return true;
    return false;
}

/* Parses an answer to a query for r: false when it is no usable answer
 * (not NOERROR, malformed); *from_lost when an answer record of the
 * asked type carries a lost endpoint. */
static bool drill_measure_parse(const uint8_t *pkt, size_t len, const struct drill_mrec *r,
                                bool *from_lost)
{
    *from_lost = false;
    if (len < DNS_HEADER_SIZE || (pkt[3] & 0x0f) != DNS_RCODE_NOERROR || !(pkt[2] & 0x80))
        return false;
    unsigned qd = dns_get16(pkt + 4), an = dns_get16(pkt + 6);
    size_t pos = DNS_HEADER_SIZE;
    for (unsigned i = 0; i < qd; i++) {
        if (!dns_name_skip(pkt, len, &pos) || pos + 4 > len)
            return false;
        pos += 4;
    }
    for (unsigned i = 0; i < an; i++) {
        if (!dns_name_skip(pkt, len, &pos) || pos + 10 > len)
            return false;
        uint16_t type = dns_get16(pkt + pos), rdlen = dns_get16(pkt + pos + 8);
        pos += 10;
        if (pos + rdlen > len)
            return false;
        if (type == r->qtype && drill_measure_is_lost(pkt, len, pos, rdlen, type, r))
            *from_lost = true;
        pos += rdlen;
    }
    return true;
}

static void drill_measure_answer(struct drill_measure *m, const uint8_t *pkt, size_t len,
                                 double now)
{
    if (len < DNS_HEADER_SIZE)
        return;
    uint16_t qid = dns_get16(pkt);
    struct drill_mpending *pe = &m->pending[qid % DRILL_MEASURE_PENDING];
    if (!pe->used || pe->qid != qid)
        return;
    pe->used = false;
    const struct drill_mplan *p = drill_measure_plan(m, pe->id, pe->phase);
    bool from_lost;
    if (!p || pe->rec >= p->n || !drill_measure_parse(pkt, len, &p->recs[pe->rec], &from_lost))
        return;
    struct drill_core *c = m->env->drills;
    pthread_mutex_lock(&c->lock);
    struct drill *d = drill_measure_find_locked(c, pe->id);
    struct drill_timeline *tl = d ? d->report.timeline : NULL;
    /* An answer to a query of the start phase counts until the end. */
    if (tl &&
        (tl->phase == pe->phase || (pe->phase == DRILL_TL_START && tl->phase == DRILL_TL_HOLD)))
        drill_timeline_seen(tl, pe->rec, from_lost, now);
    pthread_mutex_unlock(&c->lock);
}

/* When the kernel received the datagram of msg (SO_TIMESTAMPNS), so that
 * a busy drill thread (a state-file write) does not delay the times
 * measured; now when it did not say. */
static double drill_measure_arrival(struct msghdr *msg)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof(ts));
            return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
        }
    return health_now();
}

static void drill_measure_on_read(evutil_socket_t fd, short what, void *arg)
{
    struct drill_measure *m = arg;
    uint8_t buf[4096];
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(struct timespec))];
    } ctl;
    (void)what;
    for (int i = 0; i < 256; i++) {
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl)};
        ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
        if (n < 0)
            break; /* EAGAIN, or an error the next query shows again */
        drill_measure_answer(m, buf, (size_t)n, drill_measure_arrival(&msg));
    }
}

/* ---- the ticks --------------------------------------------------------- */

/* Sends the next queries of plan p for the records not settled yet. */
static void drill_measure_ask(struct drill_measure *m, struct drill_mplan *p,
                              const struct drill_timeline *tl)
{
    size_t sent = 0;
    for (size_t k = 0; k < p->n && sent < DRILL_MEASURE_BURST; k++) {
        size_t i = (p->next + k) % p->n;
        const struct drill_tl_record *r = &tl->records[i];
        if ((tl->phase == DRILL_TL_RESTORE ? r->restored : r->avoided) != 0)
            continue;
        drill_measure_send(m, p, i);
        sent++;
        p->next = (i + 1) % p->n;
    }
}

/* A "progressing" drill event (GET /v1/events): a transition of the
 * drill's timeline is over (recovered, or restored), with its figures.
 * Caller holds c->lock; the ring has its own. */
static void drill_measure_progress(struct drill_core *c, const struct drill *d)
{
    json_t *tl = drill_timeline_json(d->report.timeline);
    json_t *restore = json_object_get(tl, "restore");
    event_ring_push(c->health->events, "drill",
                    json_pack("{s:s, s:s, s:s, s:O?, s:O?, s:O?, s:O?, s:O?}", "action",
                              "progressing", "drill", d->id, "mode", drill_mode_names[d->spec.mode],
                              "timeline", json_object_get(tl, "state"), "rto",
                              json_object_get(tl, "rto"), "rto_plus_ttl",
                              json_object_get(tl, "rto_plus_ttl"), "lost_answers",
                              json_object_get(tl, "lost_answers"), "restore_rto",
                              json_is_object(restore) ? json_object_get(restore, "rto") : NULL));
    json_decref(tl);
}

/* One drill's timeline at now (caller holds c->lock); sets *transition
 * while it is in one, *hold while it runs. */
static void drill_measure_one(struct drill_measure *m, struct drill *d, double now, bool hold_due,
                              bool *transition, bool *hold)
{
    struct drill_core *c = m->env->drills;
    struct drill_timeline *tl = d->report.timeline;
    if (!tl || tl->phase == DRILL_TL_DONE)
        return;
    if (tl->phase == DRILL_TL_HOLD) {
        *hold = true;
        if (hold_due)
            drill_timeline_sample(tl, c->serve, now);
        return;
    }
    drill_timeline_sample(tl, c->serve, now);
    if (drill_timeline_settled(tl) || now >= tl->window_end) {
        tl->phase = tl->phase == DRILL_TL_START ? DRILL_TL_HOLD : DRILL_TL_DONE;
        *hold = *hold || tl->phase == DRILL_TL_HOLD;
        drill_measure_progress(c, d);
        return;
    }
    *transition = true;
    struct drill_mplan *p = drill_measure_plan(m, d->id, tl->phase);
    if (p)
        drill_measure_ask(m, p, tl);
}

static void drill_measure_arm(struct drill_measure *m, bool transition, bool hold)
{
    double in = transition ? DRILL_MEASURE_TICK : hold ? DRILL_MEASURE_HOLD : -1;
    if (in < 0) {
        event_del(m->ev_tick);
        return;
    }
    struct timeval tv = {(time_t)in, (suseconds_t)((in - floor(in)) * 1e6)};
    evtimer_add(m->ev_tick, &tv);
}

/* After a drill change: a transition that began is looked at within a
 * tick; a pending timer is not pushed back (frequent changes must not
 * starve the samples). */
static void drill_measure_rearm(struct drill_measure *m, bool transition, bool hold)
{
    struct timeval at, now;
    if (!evtimer_pending(m->ev_tick, &at)) {
        drill_measure_arm(m, transition, hold);
        return;
    }
    event_base_gettimeofday_cached(m->base, &now);
    double left = (double)(at.tv_sec - now.tv_sec) + (double)(at.tv_usec - now.tv_usec) / 1e6;
    if (transition && left > DRILL_MEASURE_TICK)
        drill_measure_arm(m, true, hold);
}

static void drill_measure_on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct drill_measure *m = arg;
    struct drill_core *c = m->env->drills;
    bool transition = false, hold = false;
    (void)fd;
    (void)what;
    double now = health_now();
    /* A tick of the hold timer samples even when it fires a little early. */
    bool hold_due = now - m->last_hold >= DRILL_MEASURE_HOLD * 0.9;
    if (hold_due)
        m->last_hold = now;
    pthread_mutex_lock(&c->lock);
    struct drill *lists[2] = {c->active, c->history};
    for (int l = 0; l < 2; l++)
        for (struct drill *d = lists[l]; d; d = d->next)
            drill_measure_one(m, d, now, hold_due, &transition, &hold);
    pthread_mutex_unlock(&c->lock);
    drill_measure_arm(m, transition, hold);
}

/* ---- life cycle ------------------------------------------------------- */

struct drill_measure *drill_measure_new(struct event_base *base,
                                        const struct drill_service_env *env)
{
    struct drill_measure *m = calloc(1, sizeof(*m));
    if (!m)
        abort();
    m->env = env;
    m->base = base;
    m->fd = -1;
    m->qid = (uint16_t)(getpid() * 7919u);
    if (env->self_len > 0) {
        int one = 1;
        m->fd = socket(env->self_addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (m->fd >= 0)
            setsockopt(m->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
        if (m->fd >= 0 &&
            connect(m->fd, (const struct sockaddr *)&env->self_addr, env->self_len) != 0) {
            close(m->fd);
            m->fd = -1;
        }
    }
    m->ev_tick = evtimer_new(base, drill_measure_on_tick, m);
    if (!m->ev_tick)
        abort();
    if (m->fd >= 0) {
        m->ev_read = event_new(base, m->fd, EV_READ | EV_PERSIST, drill_measure_on_read, m);
        if (!m->ev_read || event_add(m->ev_read, NULL) != 0)
            abort();
    }
    return m;
}

void drill_measure_free(struct drill_measure *m)
{
    if (!m)
        return;
    while (m->plans) {
        struct drill_mplan *p = m->plans;
        m->plans = p->next_plan;
        drill_mplan_free(p);
    }
    if (m->ev_read)
        event_free(m->ev_read);
    event_free(m->ev_tick);
    if (m->fd >= 0)
        close(m->fd);
    free(m);
}

void drill_measure_sync(struct drill_measure *m, const struct gslb *g)
{
    struct drill_core *c = m->env->drills;
    bool transition = false, hold = false, fresh = false;
    for (struct drill_mplan *p = m->plans; p; p = p->next_plan)
        p->seen = false;
    pthread_mutex_lock(&c->lock);
    struct drill *lists[2] = {c->active, c->history};
    for (int l = 0; l < 2; l++)
        for (struct drill *d = lists[l]; d; d = d->next) {
            struct drill_timeline *tl = d->report.timeline;
            if (!tl || tl->phase == DRILL_TL_DONE)
                continue;
            hold = hold || tl->phase == DRILL_TL_HOLD;
            if (tl->phase == DRILL_TL_HOLD)
                continue;
            transition = true;
            struct drill_mplan *p = drill_measure_plan(m, d->id, tl->phase);
            if (!p) {
                p = drill_measure_new_plan(g, d);
                p->next_plan = m->plans;
                m->plans = p;
                fresh = true;
            }
            p->seen = true;
        }
    pthread_mutex_unlock(&c->lock);
    if (fresh)
        /* A transition began: the first look and queries at once (before
         * the state-file write the drill thread may do next). */
        drill_measure_on_tick(-1, 0, m);
    else
        drill_measure_rearm(m, transition, hold);
    /* Plans of transitions that are over go (their late answers with them). */
    struct drill_mplan **pp = &m->plans;
    while (*pp) {
        struct drill_mplan *p = *pp;
        if (p->seen) {
            pp = &p->next_plan;
            continue;
        }
        *pp = p->next_plan;
        drill_mplan_free(p);
    }
}
