/*
 * drill_practice_run.c -- the drill thread starts practice drills.
 */
#include "drill/drill_practice_run.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "drill/drill_whatif.h"
#include "health/override.h"

/* What a due practice found when it looked at the live state. */
struct drill_practice_try {
    enum drill_skip skip; /* DRILL_SKIP_NONE: go */
    char why[256];
    struct drill_targets t;
    json_t *whatif;                  /* the report of the drill to start */
    struct drill_timeline *timeline; /* and the records its recovery is measured on */
};

/* "2026-11-24T10:00:00Z", or "never". */
static const char *drill_practice_iso(double t, char *buf, size_t len)
{
    if (t <= 0)
        return "never";
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* The policy set's verdict on p: its names, the regions of its records,
 * abort_if, and whether it leaves a record unserved. Holds the drill
 * thread's serve reader for the evaluation only. */
static void drill_practice_judge(const struct drill_service_env *env,
                                 const struct drill_practice *p, struct drill_practice_try *tr)
{
    const struct policy_geo *geo;
    const struct gslb *g = drill_service_enter(env, &geo);
    struct drill_whatif_sum sum;
    if (drill_resolve(g, &p->spec, &tr->t, tr->why, sizeof(tr->why)) != 0) {
        tr->skip = DRILL_SKIP_CONFIG;
        serve_leave(env->reader);
        return;
    }
    if (drill_records_region_down(g, &tr->t, tr->why, sizeof(tr->why)))
        tr->skip = DRILL_SKIP_REGION_DOWN;
    else if (drill_abort_if_violated(g, &p->spec, tr->why, sizeof(tr->why)))
        tr->skip = DRILL_SKIP_ABORT_IF;
    if (tr->skip == DRILL_SKIP_NONE) {
        struct policy_overlay ov = drill_targets_overlay(&tr->t);
        tr->whatif = drill_whatif_geo(g, geo, &ov, NULL, 0, true, &sum);
        tr->timeline = drill_timeline_new(g, &tr->t, p->spec.mode, health_now());
        if (p->spec.mode != DRILL_SHADOW && sum.newly_unserved > 0) {
            tr->skip = DRILL_SKIP_UNSAFE;
            snprintf(tr->why, sizeof(tr->why),
                     "it would leave %zu policy records unserved (a practice never forces)",
                     sum.newly_unserved);
        }
    }
    serve_leave(env->reader);
}

/* Whether anything outside the policy set holds p back (why in tr). */
static bool drill_practice_held(const struct drill_service_env *env, struct drill_practice_try *tr)
{
    char buf[128];
    size_t n = drill_core_active_describe(env->drills, buf, sizeof(buf));
    if (n > 0) {
        tr->skip = DRILL_SKIP_DRILL_ACTIVE;
        snprintf(tr->why, sizeof(tr->why), "%zu drills running: %s", n, buf);
        return true;
    }
    n = override_count(env->health);
    if (n > 0) {
        json_t *l = override_list_json(env->health), *o = json_array_get(l, 0);
        tr->skip = DRILL_SKIP_OVERRIDE;
        snprintf(tr->why, sizeof(tr->why), "%zu overrides in force: %s on %s", n,
                 json_string_value(json_object_get(o, "id")),
                 json_string_value(json_object_get(o, "target")));
        json_decref(l);
        return true;
    }
    if (drill_core_fleet_degraded(env->drills, buf, sizeof(buf))) {
        tr->skip = DRILL_SKIP_FLEET;
        snprintf(tr->why, sizeof(tr->why), "the fleet is degraded: %s", buf);
        return true;
    }
    return false;
}

/* Records a skip of p (logged when new); returns the retry delay. */
static double drill_practice_skip(const struct drill_service_env *env,
                                  const struct drill_practice *p, enum drill_skip skip,
                                  const char *why, double now, double next)
{
    char t[32], q[300];
    if (drill_core_practice_skip(env->drills, p->spec.name, skip, why, now, next))
        log_info("event=drill_practice_skip name=%s skip=%s next=%s why=\"%s\"", p->spec.name,
                 drill_skip_names[skip], drill_practice_iso(next, t, sizeof(t)),
                 log_quote(why, q, sizeof(q)));
    return next > now ? next - now : -1;
}

/* Starts p now (judged fine); false when the core refused it. */
static bool drill_practice_start(const struct drill_service_env *env,
                                 const struct drill_practice *p, struct drill_practice_try *tr,
                                 double now)
{
    char id[32];
    struct drill *d =
        drill_new(&p->spec, &tr->t, "practice", drill_report_whatif(tr->whatif), tr->timeline);
    tr->whatif = NULL; /* the drill's now */
    tr->timeline = NULL;
    if (drill_core_start(env->drills, d, now, id, tr->why, sizeof(tr->why)) != DRILL_STARTED) {
        tr->skip = DRILL_SKIP_DRILL_ACTIVE;
        return false;
    }
    drill_core_practice_started(env->drills, p->spec.name, id, now);
    log_info("event=drill_practice_start name=%s id=%s mode=%s", p->spec.name, id,
             drill_mode_names[p->spec.mode]);
    return true;
}

/* One practice at now; returns seconds until it needs a look again. */
static double drill_practice_one(const struct drill_service_env *env,
                                 const struct drill_practice *p,
                                 const struct drill_practice_state *st, double now, bool *started)
{
    double retry = p->interval < DRILL_PRACTICE_RETRY ? p->interval : DRILL_PRACTICE_RETRY;
    double next = drill_practice_next_start(p, st->last_start, now);
    if (drill_core_practice_running(env->drills, p->spec.name)) {
        drill_core_practice_next(env->drills, p->spec.name, next, true);
        return next > now ? next - now : retry;
    }
    if (next < 0) {
        /* Looked at again daily: time moves the horizon. */
        drill_practice_skip(env, p, DRILL_SKIP_NEVER, "no allowed start within 800 days", now, -1);
        return 86400;
    }
    bool due = drill_practice_due(p, st->last_start, now) <= now;
    if (next > now) {
        enum drill_practice_block b = drill_practice_block_at(p, now);
        if (!due || b == DRILL_PRACTICE_OPEN) {
            drill_core_practice_next(env->drills, p->spec.name, next, true);
            return next - now;
        }
        return drill_practice_skip(
            env, p,
            b == DRILL_PRACTICE_BLOCKED_DATE ? DRILL_SKIP_BLOCKED_DATE : DRILL_SKIP_OUTSIDE_WINDOW,
            b == DRILL_PRACTICE_BLOCKED_DATE ? "due, but it would run on a blocked date"
                                             : "due, but outside its allowed windows",
            now, next);
    }
    struct drill_practice_try tr = {.skip = DRILL_SKIP_NONE};
    if (!drill_practice_held(env, &tr))
        drill_practice_judge(env, p, &tr);
    if (tr.skip == DRILL_SKIP_NONE && drill_practice_start(env, p, &tr, now))
        *started = true;
    json_decref(tr.whatif);
    drill_timeline_free(tr.timeline);
    drill_targets_free(&tr.t);
    if (*started && tr.skip == DRILL_SKIP_NONE)
        return drill_practice_next_start(p, now, now) - now;
    drill_practice_skip(env, p, tr.skip, tr.why, now, now + retry);
    return retry;
}

double drill_practice_run(const struct drill_service_env *env, double now, bool *started)
{
    double wake = -1, live = -1;
    struct drill_practice p;
    struct drill_practice_state st;
    *started = false;
    for (size_t i = 0; drill_core_practice_at(env->drills, i, &p, &st); i++) {
        bool s = false;
        double w = drill_practice_one(env, &p, &st, now, &s);
        *started = *started || s;
        /* A live practice about to start changes answers then: the
         * health-aware TTLs end before it (policy_answer.h). */
        double next = drill_practice_next_start(&p, st.last_start, now);
        if (p.spec.mode == DRILL_LIVE && !s && next > now && (live < 0 || next < live))
            live = next;
        drill_practice_free(&p);
        if (w > 0 && (wake < 0 || w < wake))
            wake = w;
    }
    if (env->health)
        health_core_set_planned(env->health,
                                live > 0 ? health_mono_ms() + (int64_t)((live - now) * 1000) : 0);
    return wake;
}
