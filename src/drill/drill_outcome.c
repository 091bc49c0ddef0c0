/*
 * drill_outcome.c -- outcome checks on the drill thread.
 */
#include "drill/drill_outcome.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "health/probe.h"

#define DRILL_OUTCOME_RUNNING 64 /* outcome checks running at once, at most */

struct drill_outcomes;

/* One outcome check of one active drill. */
struct drill_outcome_job {
    struct drill_outcomes *o;
    struct drill_outcome_ref ref;
    struct gslb *g;                /* one reference: spec lives in it; NULL: no such check */
    const struct probe_spec *spec; /* NULL: the check is gone from the configuration */
    struct event *timer;
    char address[64]; /* what the host resolved to last */
    bool in_flight;   /* a resolution or a probe runs: its callback frees a stopped job */
    bool stopped;     /* its drill ended: no more rounds */
    bool seen;        /* still wanted (drill_outcomes_sync) */
    struct drill_outcome_job *next;
};

struct drill_outcomes {
    const struct drill_service_env *env;
    struct event_base *base;
    struct prober *prober;
    struct drill_outcome_job *jobs;     /* one per outcome check of an active drill */
    struct drill_outcome_job *stopping; /* stopped with a callback still to come */
};

static void drill_outcome_unlink(struct drill_outcome_job **list, struct drill_outcome_job *j)
{
    while (*list && *list != j)
        list = &(*list)->next;
    if (*list)
        *list = j->next;
}

static void drill_outcome_job_free(struct drill_outcome_job *j)
{
    event_free(j->timer);
    if (j->g)
        gslb_unref(j->g);
    free(j);
}

/* Frees j now, or once its callback runs (kept on the stopping list so
 * that drill_outcomes_free finds it). */
static void drill_outcome_job_stop(struct drill_outcomes *o, struct drill_outcome_job *j)
{
    drill_outcome_unlink(&o->jobs, j);
    j->stopped = true;
    event_del(j->timer);
    if (!j->in_flight) {
        drill_outcome_job_free(j);
        return;
    }
    j->next = o->stopping;
    o->stopping = j;
}

/* The callback of a stopped job: it is freed now. */
static void drill_outcome_job_reap(struct drill_outcome_job *j)
{
    drill_outcome_unlink(&j->o->stopping, j);
    drill_outcome_job_free(j);
}

static void drill_outcome_arm(struct drill_outcome_job *j, double in)
{
    struct timeval tv = {(time_t)in, (suseconds_t)((in - floor(in)) * 1e6)};
    evtimer_add(j->timer, &tv);
}

/* One result: counted in the drill's report; the drill fails when the
 * check has failed `fall` times in a row. */
static void drill_outcome_result(struct drill_outcome_job *j, bool ok, const char *why)
{
    const struct drill_service_env *env = j->o->env;
    unsigned fall = j->spec ? j->spec->fall : 1;
    unsigned in_row =
        drill_core_outcome_note(env->drills, j->ref.id, j->ref.index, ok, why, j->address);
    if (ok || in_row < fall) {
        drill_outcome_arm(j, j->spec ? j->spec->interval_ms / 1000.0 : 1.0);
        return;
    }
    char reason[400];
    snprintf(reason, sizeof(reason), "outcome check %s on %s failed %u times in a row: %s%s%s%s",
             j->ref.check, j->ref.host, in_row, why, j->address[0] ? " (" : "", j->address,
             j->address[0] ? ")" : "");
    /* The drill thread holds no serve reader here: it may end a drill. */
    if (drill_core_end(env->drills, j->ref.id, DRILL_FAILED, reason) && env->health_service)
        health_service_save(env->health_service);
}

static void drill_outcome_on_probe(void *arg, const struct probe_result *r)
{
    struct drill_outcome_job *j = arg;
    j->in_flight = false;
    if (j->stopped) {
        drill_outcome_job_reap(j);
        return;
    }
    drill_outcome_result(j, r->ok, r->reason);
}

static void drill_outcome_on_resolved(void *arg, bool ok, const struct sockaddr_storage *addr,
                                      socklen_t len)
{
    struct drill_outcome_job *j = arg;
    char why[300];
    if (j->stopped) {
        j->in_flight = false;
        drill_outcome_job_reap(j);
        return;
    }
    if (!ok) {
        j->in_flight = false;
        j->address[0] = '\0';
        snprintf(why, sizeof(why), "cannot resolve %s", j->ref.host);
        drill_outcome_result(j, false, why);
        return;
    }
    struct sockaddr_storage a = *addr;
    if (a.ss_family == AF_INET) {
        struct sockaddr_in *in4 = (struct sockaddr_in *)&a;
        in4->sin_port = htons(j->spec->port);
        inet_ntop(AF_INET, &in4->sin_addr, j->address, sizeof(j->address));
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a;
        in6->sin6_port = htons(j->spec->port);
        inet_ntop(AF_INET6, &in6->sin6_addr, j->address, sizeof(j->address));
    }
    probe_run(j->o->prober, j->spec, &a, len, j->ref.host, drill_outcome_on_probe, j);
}

static void drill_outcome_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct drill_outcome_job *j = arg;
    (void)fd;
    (void)what;
    if (j->stopped || j->in_flight)
        return;
    if (!j->spec) {
        char why[200];
        snprintf(why, sizeof(why), "no check \"%s\" in the configuration any more", j->ref.check);
        drill_outcome_result(j, false, why);
        return;
    }
    j->in_flight = true;
    probe_resolve(j->o->prober, j->ref.host, drill_outcome_on_resolved, j);
}

struct drill_outcomes *drill_outcomes_new(struct event_base *base,
                                          const struct drill_service_env *env)
{
    struct drill_outcomes *o = calloc(1, sizeof(*o));
    if (!o)
        abort();
    o->env = env;
    o->base = base;
    o->prober = prober_new(base);
    if (!o->prober) {
        free(o);
        return NULL;
    }
    return o;
}

void drill_outcomes_free(struct drill_outcomes *o)
{
    if (!o)
        return;
    /* Drops probes and resolutions in flight without their callbacks. */
    prober_free(o->prober);
    struct drill_outcome_job *lists[2] = {o->jobs, o->stopping};
    for (int i = 0; i < 2; i++)
        while (lists[i]) {
            struct drill_outcome_job *j = lists[i];
            lists[i] = j->next;
            drill_outcome_job_free(j);
        }
    free(o);
}

static struct drill_outcome_job *drill_outcome_find(struct drill_outcomes *o,
                                                    const struct drill_outcome_ref *r)
{
    for (struct drill_outcome_job *j = o->jobs; j; j = j->next)
        if (j->ref.index == r->index && strcmp(j->ref.id, r->id) == 0)
            return j;
    return NULL;
}

/* A new check for r, its first round at once. */
static void drill_outcome_start(struct drill_outcomes *o, const struct drill_outcome_ref *r,
                                const struct gslb *g)
{
    struct drill_outcome_job *j = calloc(1, sizeof(*j));
    if (!j)
        abort();
    j->o = o;
    j->ref = *r;
    j->seen = true;
    for (size_t k = 0; g && k < g->n_checks && !j->spec; k++)
        if (strcmp(g->checks[k].name, r->check) == 0 && !g->checks[k].composite) {
            /* The caller holds g; our reference keeps it past that. */
            j->g = (struct gslb *)g;
            gslb_ref(j->g);
            j->spec = &g->checks[k].spec;
        }
    j->timer = evtimer_new(o->base, drill_outcome_on_timer, j);
    if (!j->timer)
        abort();
    j->next = o->jobs;
    o->jobs = j;
    drill_outcome_arm(j, 0);
}

size_t drill_outcomes_sync(struct drill_outcomes *o, const struct gslb *g)
{
    struct drill_outcome_ref refs[DRILL_OUTCOME_RUNNING];
    char *resolver = drill_core_outcome_resolver(o->env->drills);
    prober_set_resolver(o->prober, resolver);
    free(resolver);
    size_t n = drill_core_outcome_list(o->env->drills, refs, DRILL_OUTCOME_RUNNING);
    for (struct drill_outcome_job *j = o->jobs; j; j = j->next)
        j->seen = false;
    for (size_t i = 0; i < n; i++) {
        struct drill_outcome_job *j = drill_outcome_find(o, &refs[i]);
        if (j)
            j->seen = true;
        else
            drill_outcome_start(o, &refs[i], g);
    }
    struct drill_outcome_job *j = o->jobs;
    while (j) {
        struct drill_outcome_job *next = j->next;
        if (!j->seen)
            drill_outcome_job_stop(o, j);
        j = next;
    }
    return n;
}

int drill_outcome_resolve(const struct gslb *g, const struct drill_spec *s, char *err,
                          size_t errlen)
{
    for (size_t i = 0; i < s->n_outcome; i++) {
        bool found = false;
        for (size_t k = 0; g && k < g->n_checks && !found; k++)
            found = strcmp(g->checks[k].name, s->outcome[i].check) == 0 &&
                    !g->checks[k].composite; /* an outcome check probes one target */
        if (!found) {
            snprintf(err, errlen,
                     "\"outcome\"[%zu].check: no check \"%s\" in the configuration that probes (a "
                     "composite check cannot be an outcome check)",
                     i, s->outcome[i].check);
            return 400;
        }
    }
    return 0;
}
