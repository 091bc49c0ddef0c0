/*
 * anycast.c -- the fitness controller (anycast.h).
 */
#include "anycast/anycast.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anycast/anycast_bird.h"
#include "anycast/anycast_drain.h"
#include "anycast/anycast_fitness.h"
#include "anycast/anycast_selfcheck.h"
#include "common/log.h"
#include "dns/name.h"
#include "health/health.h"
#include "serve/serve.h"
#include "zone/snapshot.h"
#include "zone/zone.h"

#define ANYCAST_BIRD_TIMEOUT_S 2.0

struct anycast {
    struct anycast_params p; /* a copy; strings owned */
    struct serve_reader *reader;
    struct health_core *health;
    struct anycast_drain *drain;
    bool tun;
    pthread_t thread;
    struct event_base *base;
    struct event *tick, *poke, *stop, *stop_timeout;
    struct anycast_selfcheck *sc; /* NULL: no self-check */
    struct anycast_bird *bird;    /* NULL: no route control */

    pthread_mutex_t lock;       /* (L): what other threads read or write */
    struct dns_name *zones;     /* (L) configured zones, owned */
    char **zone_strs;           /* (L) the same, presentation form, owned */
    size_t n_zones;             /* (L) */
    struct anycast_fitness fit; /* (L) the last judgement */
    double since;               /* (L) wall clock of the last change of fit */
    double fit_since;           /* monotonic: fit since then */
    bool judged;                /* a first judgement was made */
    unsigned sc_fails;          /* (L) consecutive failed rounds */
    char sc_last[256];          /* (L) the last failure */
    uint64_t sc_failures;       /* (L) failed rounds in all */
    bool want;                  /* (L) the route should be announced */
    bool announced;             /* (L) BIRD confirmed the protocol enabled */
    int tried_want;             /* what the last command asked: 1 enable, 0 disable, -1 none */
    bool bird_ok;               /* (L) the last command was answered without error */
    char bird_reply[256];       /* (L) its reply, or why it failed */
    double next_send;           /* monotonic: when the desired state is sent again */
    double backoff;             /* after a failure: seconds, doubling */
    bool sending_disable;       /* the command under way disables */
    bool stopping;
    uint64_t withdrawals, bird_errors; /* (L) */
};

static double anycast_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double anycast_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct timeval anycast_tv(double s)
{
    struct timeval tv = {(time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6)};
    return tv;
}

/* ---- the inputs ---- */

/* Counts the configured zones not served, and the served ones expired;
 * the first of each (in the served set or the list) into the inputs. The
 * served set's strings live while the reader is in it: copied. */
static void anycast_zone_inputs(struct anycast *a, struct anycast_fitness_in *in, char *missing,
                                char *expired, size_t len)
{
    const struct serve_set *s = serve_enter(a->reader);
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < a->n_zones; i++) {
        const struct zone *z = snapshot_find_zone(s->zones, &a->zones[i], 6);
        if (!z || !dns_name_equal(z->origin, z->origin_len, a->zones[i].wire, a->zones[i].len)) {
            if (!in->zones_missing++)
                snprintf(missing, len, "%s", a->zone_strs[i]);
        }
    }
    pthread_mutex_unlock(&a->lock);
    for (size_t i = 0; i < s->zones->n_zones; i++)
        if (atomic_load(&s->zones->zones[i]->expired) && !in->zones_expired++)
            snprintf(expired, len, "%s", s->zones->zones[i]->origin_str);
    serve_leave(a->reader);
    in->missing_zone = in->zones_missing ? missing : NULL;
    in->expired_zone = in->zones_expired ? expired : NULL;
}

/* The origin of a served zone that is not expired, for the self-check
 * (into out), or NULL. */
static const char *anycast_check_zone(struct anycast *a, char *out, size_t len)
{
    const struct serve_set *s = serve_enter(a->reader);
    const char *found = NULL;
    for (size_t i = 0; i < s->zones->n_zones && !found; i++)
        if (!atomic_load(&s->zones->zones[i]->expired) && !s->zones->zones[i]->gen_digest) {
            snprintf(out, len, "%s", s->zones->zones[i]->origin_str);
            found = out;
        }
    serve_leave(a->reader);
    return found;
}

/* ---- BIRD ---- */

static void anycast_bird_send_want(struct anycast *a);

static void anycast_on_bird(void *arg, bool ok, const char *text)
{
    struct anycast *a = arg;
    double now = anycast_mono();
    pthread_mutex_lock(&a->lock);
    bool was_ok = a->bird_ok;
    a->bird_ok = ok;
    snprintf(a->bird_reply, sizeof(a->bird_reply), "%s", text ? text : "");
    if (ok)
        a->announced = !a->sending_disable;
    else
        a->bird_errors++;
    bool stale = a->sending_disable == a->want; /* want changed meanwhile */
    pthread_mutex_unlock(&a->lock);
    char q[600];
    if (a->stopping && (!ok || a->sending_disable)) {
        event_active(a->stop_timeout, EV_TIMEOUT, 0); /* withdrawn, or BIRD is not there */
        return;
    }
    if (!ok) {
        log_error("event=anycast_bird_error socket=%s protocol=%s command=%s error=\"%s\" "
                  "retry_s=%.0f",
                  a->p.bird_socket, a->p.protocol, a->sending_disable ? "disable" : "enable",
                  log_quote(text ? text : "", q, sizeof(q)), a->backoff);
        /* The next try after the backoff, or at the next judgement when
         * want changed meanwhile (anycast_judge compares tried_want). */
        a->next_send = now + a->backoff;
        a->backoff = a->backoff * 2 > a->p.reassert_s ? a->p.reassert_s : a->backoff * 2;
        return;
    }
    if (!was_ok)
        log_info("event=anycast_bird_ok socket=%s protocol=%s state=%s reply=\"%s\"",
                 a->p.bird_socket, a->p.protocol, a->sending_disable ? "withdrawn" : "announced",
                 log_quote(text ? text : "", q, sizeof(q)));
    a->backoff = 1;
    a->next_send = now + a->p.reassert_s;
    if (stale || a->stopping)
        anycast_bird_send_want(a);
}

static void anycast_bird_send_want(struct anycast *a)
{
    if (!a->bird || anycast_bird_busy(a->bird))
        return;
    pthread_mutex_lock(&a->lock);
    bool want = a->want && !a->stopping;
    pthread_mutex_unlock(&a->lock);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "%s %s", want ? "enable" : "disable", a->p.protocol);
    a->sending_disable = !want;
    a->tried_want = want;
    anycast_bird_send(a->bird, cmd);
}

/* ---- judging ---- */

/* Judges fitness now; logs a change; decides whether the route is wanted
 * and sends it to BIRD when that changed or is due again. */
static void anycast_judge(struct anycast *a)
{
    struct anycast_fitness_in in = {0};
    char missing[256], expired[256], reason[ANYCAST_DRAIN_REASON_MAX], last[256];
    anycast_zone_inputs(a, &in, missing, expired, sizeof(missing));
    in.isolated_rcode = health_policy_rcode(a->health);
    in.drained = anycast_drain_get(a->drain, reason, sizeof(reason));
    in.drain_reason = reason;
    in.self_check = a->sc != NULL;
    in.self_check_limit = a->p.check_failures;
    pthread_mutex_lock(&a->lock);
    in.self_check_fails = a->sc_fails;
    snprintf(last, sizeof(last), "%s", a->sc_last);
    pthread_mutex_unlock(&a->lock);
    in.self_check_last = last;
    struct anycast_fitness f;
    anycast_fitness_judge(&in, &f);
    double now = anycast_mono();
    pthread_mutex_lock(&a->lock);
    bool changed = !a->judged || f.fit != a->fit.fit;
    bool was_fit = a->fit.fit, first = !a->judged;
    a->fit = f;
    a->judged = true;
    if (changed) {
        a->since = anycast_wall();
        a->fit_since = now;
    }
    /* At start the hold applies too: a node that just started has not
     * shown that it holds. */
    bool want = anycast_fitness_announce(f.fit, a->fit_since, now, a->p.hold_s);
    bool want_changed = want != a->want;
    if (want_changed && a->want && a->bird)
        a->withdrawals++;
    a->want = want;
    pthread_mutex_unlock(&a->lock);
    if (changed) {
        char why[ANYCAST_WHY_MAX * ANYCAST_WHY_LEN], q[sizeof(why) + 64];
        anycast_fitness_why_line(&f, why, sizeof(why));
        log_info("event=fitness_change from=%s to=%s why=\"%s\"",
                 first     ? "unknown"
                 : was_fit ? "fit"
                           : "unfit",
                 f.fit ? "fit" : "unfit", log_quote(why, q, sizeof(q)));
    }
    /* Sent when it changed since the last try, and again when due (the
     * reassertion, or the retry after a failure's backoff). */
    if (a->bird && (a->tried_want != (int)want || now >= a->next_send))
        anycast_bird_send_want(a);
}

static void anycast_on_check(void *arg, bool ok, const char *why)
{
    struct anycast *a = arg;
    pthread_mutex_lock(&a->lock);
    unsigned before = a->sc_fails;
    a->sc_fails = ok ? 0 : a->sc_fails + 1;
    if (!ok) {
        a->sc_failures++;
        snprintf(a->sc_last, sizeof(a->sc_last), "%s", why ? why : "");
    }
    unsigned after = a->sc_fails;
    pthread_mutex_unlock(&a->lock);
    char q[600];
    if (!ok && before == 0)
        log_warn("event=self_check result=failed why=\"%s\"",
                 log_quote(why ? why : "", q, sizeof(q)));
    else if (ok && before)
        log_info("event=self_check result=ok after_failures=%u", before);
    /* The round that crosses the threshold (or clears it) acts at once. */
    if ((before < a->p.check_failures) != (after < a->p.check_failures))
        anycast_judge(a);
}

static void anycast_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct anycast *a = arg;
    anycast_judge(a);
    if (a->sc) {
        char origin[300];
        anycast_selfcheck_round(a->sc, anycast_check_zone(a, origin, sizeof(origin)));
    }
}

static void anycast_on_poke(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    anycast_judge(arg);
}

void anycast_poke(void *arg)
{
    struct anycast *a = arg;
    if (a)
        event_active(a->poke, EV_TIMEOUT, 0);
}

/* ---- the thread ---- */

static void anycast_on_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(((struct anycast *)arg)->base);
}

/* A clean stop withdraws first: the protocol disabled (up to 1 s), then
 * the loop ends (and the daemon closes the TUN device). */
static void anycast_on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct anycast *a = arg;
    a->stopping = true;
    event_del(a->tick);
    struct timeval tv = anycast_tv(1.0);
    event_add(a->stop_timeout, &tv);
    if (!a->bird)
        event_active(a->stop_timeout, EV_TIMEOUT, 0);
    else if (!anycast_bird_busy(a->bird))
        anycast_bird_send_want(a);
    /* else: the command under way ends, then anycast_on_bird sends the
     * disable (want is false while stopping) or the timeout ends it. */
}

static void *anycast_main(void *arg)
{
    struct anycast *a = arg;
    event_base_dispatch(a->base);
    return NULL;
}

/* ---- start and stop ---- */

static void anycast_copy_params(struct anycast_params *to, const struct anycast_params *from)
{
    *to = *from;
    to->bird_socket = from->bird_socket ? strdup(from->bird_socket) : NULL;
    to->protocol = from->protocol ? strdup(from->protocol) : NULL;
    to->interface = from->interface ? strdup(from->interface) : NULL;
    if (!from->enabled) {
        to->check_interval_s = 1;
        to->check_failures = 3;
    }
}

static void anycast_free(struct anycast *a)
{
    anycast_selfcheck_free(a->sc);
    anycast_bird_free(a->bird);
    struct event *evs[] = {a->tick, a->poke, a->stop, a->stop_timeout};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i])
            event_free(evs[i]);
    if (a->base)
        event_base_free(a->base);
    for (size_t i = 0; i < a->n_zones; i++)
        free(a->zone_strs[i]);
    free(a->zone_strs);
    free(a->zones);
    anycast_params_free(&a->p);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

struct anycast *anycast_start(const struct anycast_env *env)
{
    struct anycast *a = calloc(1, sizeof(*a));
    if (!a)
        abort();
    pthread_mutex_init(&a->lock, NULL);
    anycast_copy_params(&a->p, env->params);
    a->reader = env->reader;
    a->health = env->health;
    a->drain = env->drain;
    a->tun = env->tun;
    a->backoff = 1;
    a->tried_want = -1;
    a->base = event_base_new();
    if (!a->base)
        abort();
    a->tick = event_new(a->base, -1, EV_PERSIST, anycast_on_tick, a);
    a->poke = event_new(a->base, -1, 0, anycast_on_poke, a);
    a->stop = event_new(a->base, -1, 0, anycast_on_stop, a);
    a->stop_timeout = event_new(a->base, -1, 0, anycast_on_stop_timeout, a);
    if (!a->tick || !a->poke || !a->stop || !a->stop_timeout)
        abort();
    if (a->p.enabled && a->p.self_check && env->n_listen)
        a->sc = anycast_selfcheck_new(a->base, env->listen, env->n_listen, a->p.check_timeout_s,
                                      anycast_on_check, a);
    if (a->p.enabled)
        a->bird =
            anycast_bird_new(a->base, a->p.bird_socket, ANYCAST_BIRD_TIMEOUT_S, anycast_on_bird, a);
    struct timeval tv = anycast_tv(a->p.check_interval_s);
    event_add(a->tick, &tv);
    event_active(a->tick, EV_TIMEOUT, 0); /* judged before the first interval */
    if (pthread_create(&a->thread, NULL, anycast_main, a) != 0) {
        log_error("event=start result=failed module=anycast");
        anycast_free(a);
        return NULL;
    }
    if (a->p.enabled)
        log_info("event=anycast_start socket=%s protocol=%s interface=%s hold_s=%g self_check=%s",
                 a->p.bird_socket, a->p.protocol, a->p.interface ? a->p.interface : "-",
                 a->p.hold_s, a->sc ? "on" : "off");
    return a;
}

void anycast_set_zones(struct anycast *a, char *const *origins, size_t n)
{
    struct dns_name *names = calloc(n ? n : 1, sizeof(*names));
    char **strs = calloc(n ? n : 1, sizeof(*strs));
    if (!names || !strs)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (dns_name_from_str(origins[i], &names[k]) && (strs[k] = strdup(origins[i])))
            k++;
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < a->n_zones; i++)
        free(a->zone_strs[i]);
    free(a->zone_strs);
    free(a->zones);
    a->zones = names;
    a->zone_strs = strs;
    a->n_zones = k;
    pthread_mutex_unlock(&a->lock);
    event_active(a->poke, EV_TIMEOUT, 0);
}

void anycast_stop(struct anycast *a)
{
    if (!a)
        return;
    event_active(a->stop, EV_TIMEOUT, 0);
    pthread_join(a->thread, NULL);
    if (a->p.enabled)
        log_info("event=anycast_stop protocol=%s announced=%s", a->p.protocol,
                 a->announced ? "yes" : "no");
    anycast_free(a);
}

/* ---- what it shows ---- */

json_t *anycast_status_json(struct anycast *a)
{
    if (!a)
        return json_null();
    json_t *why = json_array();
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < a->fit.n_why; i++)
        json_array_append_new(why, json_string(a->fit.why[i]));
    json_t *rc = json_null();
    if (a->p.enabled)
        rc = json_pack("{s:s, s:s, s:s?, s:f, s:s, s:b, s:s, s:I}", "bird_socket", a->p.bird_socket,
                       "protocol", a->p.protocol, "interface", a->tun ? a->p.interface : NULL,
                       "hold_s", a->p.hold_s, "desired", a->want ? "announce" : "withdraw", "ok",
                       a->bird_ok, "last_reply", a->bird_reply, "errors",
                       (json_int_t)a->bird_errors);
    json_t *sc =
        a->sc ? json_pack("{s:f, s:f, s:i, s:i, s:s, s:I}", "interval_s", a->p.check_interval_s,
                          "timeout_s", a->p.check_timeout_s, "failures_in_a_row", (int)a->sc_fails,
                          "failures", (int)a->p.check_failures, "last_failure", a->sc_last,
                          "failed_rounds", (json_int_t)a->sc_failures)
              : json_null();
    json_t *j = json_pack("{s:b, s:o, s:f, s:b, s:I, s:o, s:o}", "fit", a->fit.fit, "why", why,
                          "since", a->since, "announced", a->announced, "withdrawals",
                          (json_int_t)a->withdrawals, "self_check", sc, "route_control", rc);
    pthread_mutex_unlock(&a->lock);
    json_object_set_new(j, "drain", anycast_drain_json(a->drain));
    return j;
}

void anycast_metrics(struct anycast *a, struct anycast_metrics *m)
{
    memset(m, 0, sizeof(*m));
    if (!a)
        return;
    m->drained = anycast_drain_get(a->drain, NULL, 0);
    pthread_mutex_lock(&a->lock);
    m->fit = a->fit.fit;
    m->announced = a->announced;
    m->route_control = a->p.enabled;
    m->withdrawals = a->withdrawals;
    m->bird_errors = a->bird_errors;
    m->self_check_failures = a->sc_failures;
    pthread_mutex_unlock(&a->lock);
}
