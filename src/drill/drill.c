/*
 * drill.c -- the drill core: start, end, expiry, the drill layer's bytes
 * and the loss view, listeners.
 */
#include "drill/drill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "drill/drill_int.h"

const char *const drill_result_names[DRILL_RESULTS] = {"running", "passed", "aborted", "failed"};

static char *drill_dup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

void drill_core_init(struct drill_core *c, struct health_core *health,
                     const struct drill_params *params)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->publish_lock, NULL);
    pthread_mutex_init(&c->hook_lock, NULL);
    c->health = health;
    c->next_id = 1;
    drill_core_set_params(c, params);
}

static void drill_free_list(struct drill *d)
{
    while (d) {
        struct drill *n = d->next;
        drill_free(d);
        d = n;
    }
}

void drill_core_free(struct drill_core *c)
{
    drill_free_list(c->active);
    drill_free_list(c->history);
    c->active = c->history = NULL;
    drill_params_free(&c->params);
    free(c->practice);
    c->practice = NULL;
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->publish_lock);
    pthread_mutex_destroy(&c->hook_lock);
}

void drill_core_set_params(struct drill_core *c, const struct drill_params *params)
{
    struct drill_params copy;
    drill_params_copy(&copy, params);
    struct drill_practice_state *st = calloc(copy.n_practice ? copy.n_practice : 1, sizeof(*st));
    if (!st)
        abort();
    pthread_mutex_lock(&c->lock);
    /* A practice keeps its state across reloads by name. */
    for (size_t i = 0; i < copy.n_practice; i++)
        for (size_t k = 0; k < c->params.n_practice; k++)
            if (strcmp(copy.practice[i].spec.name, c->params.practice[k].spec.name) == 0) {
                st[i] = c->practice[k];
                st[i].next_start = 0; /* its schedule may have changed */
            }
    drill_params_free(&c->params);
    free(c->practice);
    c->params = copy;
    c->practice = st;
    pthread_mutex_unlock(&c->lock);
}

double drill_core_max_duration(struct drill_core *c)
{
    pthread_mutex_lock(&c->lock);
    double d = c->params.max_duration;
    pthread_mutex_unlock(&c->lock);
    return d;
}

char *drill_core_outcome_resolver(struct drill_core *c)
{
    pthread_mutex_lock(&c->lock);
    char *r = c->params.outcome_resolver ? drill_dup(c->params.outcome_resolver) : NULL;
    pthread_mutex_unlock(&c->lock);
    return r;
}

json_t *drill_report_whatif(json_t *whatif)
{
    json_t *recs = json_object_get(whatif, "records");
    if (json_array_size(recs) > DRILL_REPORT_RECORDS) {
        while (json_array_size(recs) > DRILL_REPORT_RECORDS)
            json_array_remove(recs, json_array_size(recs) - 1);
        json_object_set_new(whatif, "records_truncated", json_true());
    }
    return whatif;
}

struct drill *drill_new(const struct drill_spec *spec, const struct drill_targets *t,
                        const char *author, json_t *whatif, struct drill_timeline *timeline)
{
    struct drill *d = calloc(1, sizeof(*d));
    if (!d)
        abort();
    drill_spec_copy(&d->spec, spec);
    d->spec.n_clients = 0; /* what-if clients belong to the request only */
    for (size_t i = 0; i < t->n; i++) {
        d->keys[i] = drill_dup(t->keys[i]);
        d->slots[i] = t->slots[i];
    }
    d->n_targets = t->n;
    for (size_t i = 0; i < t->n_covered; i++)
        d->covered[i] = drill_dup(t->covered[i]);
    d->n_covered = t->n_covered;
    d->author = drill_dup(author);
    d->report.whatif = whatif;
    d->report.timeline = timeline;
    return d;
}

void drill_free(struct drill *d)
{
    if (!d)
        return;
    drill_spec_free(&d->spec);
    for (size_t i = 0; i < d->n_targets; i++)
        free(d->keys[i]);
    for (size_t i = 0; i < d->n_covered; i++)
        free(d->covered[i]);
    free(d->author);
    free(d->end_reason);
    json_decref(d->report.whatif);
    drill_timeline_free(d->report.timeline);
    free(d);
}

void drill_apply_bytes_locked(struct drill_core *c, const struct drill *d)
{
    for (size_t i = 0; i < d->n_targets; i++) {
        enum health_state st = HEALTH_UNKNOWN;
        for (const struct drill *o = c->active; o && st == HEALTH_UNKNOWN; o = o->next)
            for (size_t k = 0; o->spec.mode == DRILL_LIVE && k < o->n_targets; k++)
                if (strcmp(o->keys[k], d->keys[i]) == 0)
                    st = HEALTH_DOWN;
        health_drill_set(c->health, d->keys[i], st);
    }
}

/* The loss view of the active scoped drills, NULL when there is none
 * (caller holds c->lock). */
static struct policy_loss *drill_view_locked(struct drill_core *c)
{
    struct policy_loss *v = NULL;
    for (const struct drill *d = c->active; d; d = d->next) {
        if (d->spec.mode != DRILL_SCOPED)
            continue;
        const struct health_slot *slots[DRILL_MAX_TARGETS];
        size_t n = 0;
        for (size_t i = 0; i < d->n_targets; i++)
            if (d->slots[i])
                slots[n++] = d->slots[i];
        if (!v)
            v = policy_loss_new();
        policy_loss_add(v, d->id, d->spec.canary, d->spec.n_canary, slots, n);
    }
    return v;
}

/* Publishes v (caller holds publish_lock, not lock). */
static void drill_publish(struct drill_core *c, struct policy_loss *v)
{
    if (!c->serve) {
        policy_loss_free(v);
        return;
    }
    policy_loss_free(serve_publish_loss(c->serve, v));
}

void drill_core_attach(struct drill_core *c, struct serve *sv)
{
    pthread_mutex_lock(&c->publish_lock);
    pthread_mutex_lock(&c->lock);
    c->serve = sv;
    struct policy_loss *v = drill_view_locked(c);
    /* Drills restored from the state file count on from here. */
    for (struct drill *d = c->active; d; d = d->next)
        if (d->report.timeline)
            drill_timeline_baseline(d->report.timeline, sv, true);
    pthread_mutex_unlock(&c->lock);
    drill_publish(c, v);
    pthread_mutex_unlock(&c->publish_lock);
}

void drill_core_set_fleet_degraded(struct drill_core *c, const char *why)
{
    pthread_mutex_lock(&c->lock);
    snprintf(c->fleet_degraded, sizeof(c->fleet_degraded), "%s", why ? why : "");
    pthread_mutex_unlock(&c->lock);
}

bool drill_core_fleet_degraded(struct drill_core *c, char *buf, size_t len)
{
    pthread_mutex_lock(&c->lock);
    bool degraded = c->fleet_degraded[0] != 0;
    snprintf(buf, len, "%s", c->fleet_degraded);
    pthread_mutex_unlock(&c->lock);
    return degraded;
}

/* Once every worker sees the change (caller holds publish_lock, not
 * lock, so d stays where it is): the timeline's baselines (start), or its
 * restore baselines (end). */
static void drill_timeline_mark(struct drill_core *c, struct drill *d, bool start, double now)
{
    if (!d->report.timeline)
        return;
    if (c->serve)
        serve_sync(c->serve);
    pthread_mutex_lock(&c->lock);
    if (start)
        drill_timeline_baseline(d->report.timeline, c->serve, false);
    else
        drill_timeline_end(d->report.timeline, c->serve, now, false);
    pthread_mutex_unlock(&c->lock);
}

int drill_core_add_hooks(struct drill_core *c, const struct drill_hooks *h)
{
    int rc = -1;
    pthread_mutex_lock(&c->hook_lock);
    for (int i = 0; i < DRILL_MAX_HOOKS && rc < 0; i++)
        if (!c->hooks[i].arg) {
            c->hooks[i] = *h;
            rc = 0;
        }
    pthread_mutex_unlock(&c->hook_lock);
    return rc;
}

void drill_core_remove_hooks(struct drill_core *c, void *arg)
{
    pthread_mutex_lock(&c->hook_lock);
    for (int i = 0; i < DRILL_MAX_HOOKS; i++)
        if (c->hooks[i].arg == arg)
            memset(&c->hooks[i], 0, sizeof(c->hooks[i]));
    pthread_mutex_unlock(&c->hook_lock);
}

/* Calls every listener: started or ended with j (may be NULL), then
 * changed. Holds hook_lock so that a removal waits for it. */
static void drill_notify(struct drill_core *c, bool start, json_t *j)
{
    pthread_mutex_lock(&c->hook_lock);
    for (int i = 0; i < DRILL_MAX_HOOKS; i++) {
        const struct drill_hooks *h = &c->hooks[i];
        if (j && start && h->started)
            h->started(h->arg, j);
        if (j && !start && h->ended)
            h->ended(h->arg, j);
        if (h->changed)
            h->changed(h->arg);
    }
    pthread_mutex_unlock(&c->hook_lock);
}

/* The other active live drill touching one of d's regions (caller holds
 * c->lock), or NULL. */
static const struct drill *drill_live_conflict_locked(struct drill_core *c, const struct drill *d,
                                                      const char **region)
{
    for (const struct drill *o = c->active; o; o = o->next) {
        if (o->spec.mode != DRILL_LIVE)
            continue;
        for (size_t i = 0; i < d->n_covered; i++)
            for (size_t k = 0; k < o->n_covered; k++)
                if (strcmp(d->covered[i], o->covered[k]) == 0) {
                    *region = d->covered[i];
                    return o;
                }
    }
    return NULL;
}

static void drill_log_start(const struct drill *d)
{
    char targets[1024] = "", reason_q[1100];
    size_t o = 0;
    for (size_t i = 0; i < d->n_targets && o < sizeof(targets); i++)
        o += (size_t)snprintf(targets + o, sizeof(targets) - o, "%s%s", i ? "," : "", d->keys[i]);
    log_info("event=drill_start id=%s mode=%s targets=%s duration=%.0f author=%s name=%s "
             "why=\"%s\"",
             d->id, drill_mode_names[d->spec.mode], targets, d->spec.duration, d->author,
             d->spec.name ? d->spec.name : "-",
             log_quote(d->spec.reason, reason_q, sizeof(reason_q)));
}

bool drill_core_conflicts(struct drill_core *c, const struct drill *d, char *why, size_t whylen)
{
    const char *region = NULL;
    pthread_mutex_lock(&c->lock);
    const struct drill *other =
        d->spec.mode == DRILL_LIVE ? drill_live_conflict_locked(c, d, &region) : NULL;
    if (other)
        snprintf(why, whylen, "live drill %s already covers region \"%s\"", other->id, region);
    pthread_mutex_unlock(&c->lock);
    return other != NULL;
}

/* Is id active or in the history? (caller holds c->lock) */
static bool drill_known_locked(struct drill_core *c, const char *id)
{
    for (const struct drill *d = c->active; d; d = d->next)
        if (strcmp(d->id, id) == 0)
            return true;
    for (const struct drill *d = c->history; d; d = d->next)
        if (strcmp(d->id, id) == 0)
            return true;
    return false;
}

enum drill_start_rc drill_core_start(struct drill_core *c, struct drill *d, double now, char id[32],
                                     char *why, size_t whylen)
{
    const char *region = NULL;
    bool given = d->id[0] != '\0'; /* adopted from the fleet: id and times kept */
    pthread_mutex_lock(&c->publish_lock);
    pthread_mutex_lock(&c->lock);
    if (given && drill_known_locked(c, d->id)) {
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_unlock(&c->publish_lock);
        drill_free(d);
        return DRILL_KNOWN;
    }
    const struct drill *other =
        d->spec.mode == DRILL_LIVE ? drill_live_conflict_locked(c, d, &region) : NULL;
    if (other) {
        snprintf(why, whylen, "live drill %s already covers region \"%s\"", other->id, region);
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_unlock(&c->publish_lock);
        drill_free(d);
        return DRILL_CONFLICT;
    }
    if (!given) {
        snprintf(d->id, sizeof(d->id), "drl-%llu", (unsigned long long)c->next_id++);
        d->started = now;
        d->ends = now + d->spec.duration;
    } else {
        unsigned long long num = strtoull(d->id + 4, NULL, 10);
        if (num >= c->next_id)
            c->next_id = num + 1;
    }
    snprintf(id, 32, "%s", d->id);
    if (d->report.timeline) {
        d->report.timeline->started = d->started;
        d->report.timeline->window_end = d->started + DRILL_TIMELINE_WINDOW;
    }
    d->next = c->active;
    c->active = d;
    enum drill_mode mode = d->spec.mode;
    if (mode == DRILL_LIVE)
        drill_apply_bytes_locked(c, d);
    struct policy_loss *v = mode == DRILL_SCOPED ? drill_view_locked(c) : NULL;
    json_t *j = drill_json(d);
    drill_log_start(d);
    pthread_mutex_unlock(&c->lock);
    /* From here on only j and mode are used: d belongs to the lists, and
     * stays in them while publish_lock is held (ends take it). */
    if (mode == DRILL_SCOPED)
        drill_publish(c, v);
    drill_timeline_mark(c, d, true, now);
    pthread_mutex_unlock(&c->publish_lock);
    drill_notify(c, true, j);
    json_decref(j);
    return DRILL_STARTED;
}

void drill_retire_locked(struct drill_core *c, struct drill *d, enum drill_result result,
                         const char *why, double when)
{
    d->result = result;
    d->ended = when;
    free(d->end_reason);
    d->end_reason = drill_dup(why);
    c->ended_by[result]++;
    for (size_t i = 0; d->spec.name && i < c->params.n_practice; i++)
        if (strcmp(c->params.practice[i].spec.name, d->spec.name) == 0)
            c->practice[i].ended[result]++;
    d->next = c->history;
    c->history = d;
    if (++c->n_history > DRILL_HISTORY) {
        struct drill **pp = &c->history;
        for (size_t i = 0; i < DRILL_HISTORY; i++)
            pp = &(*pp)->next;
        drill_free_list(*pp);
        *pp = NULL;
        c->n_history = DRILL_HISTORY;
    }
}

void drill_history_append_locked(struct drill_core *c, struct drill *d)
{
    if (c->n_history >= DRILL_HISTORY) {
        drill_free(d);
        return;
    }
    struct drill **pp = &c->history;
    while (*pp)
        pp = &(*pp)->next;
    d->next = NULL;
    *pp = d;
    c->n_history++;
}

bool drill_core_end(struct drill_core *c, const char *id, enum drill_result result, const char *why)
{
    pthread_mutex_lock(&c->publish_lock);
    pthread_mutex_lock(&c->lock);
    struct drill **pp = &c->active;
    while (*pp && strcmp((*pp)->id, id) != 0)
        pp = &(*pp)->next;
    struct drill *d = *pp;
    if (!d) {
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_unlock(&c->publish_lock);
        return false;
    }
    *pp = d->next;
    enum drill_mode mode = d->spec.mode;
    double now = health_now();
    /* The last count of lost answers, before the targets come back. */
    if (d->report.timeline)
        drill_timeline_end(d->report.timeline, c->serve, now, true);
    if (mode == DRILL_LIVE)
        drill_apply_bytes_locked(c, d);
    struct policy_loss *v = mode == DRILL_SCOPED ? drill_view_locked(c) : NULL;
    drill_retire_locked(c, d, result, why, now);
    json_t *j = drill_json(d);
    char why_q[600];
    log_info("event=drill_end id=%s mode=%s result=%s why=\"%s\"", id, drill_mode_names[mode],
             drill_result_names[result], log_quote(why, why_q, sizeof(why_q)));
    pthread_mutex_unlock(&c->lock);
    if (mode == DRILL_SCOPED)
        drill_publish(c, v);
    drill_timeline_mark(c, d, false, now);
    pthread_mutex_unlock(&c->publish_lock);
    drill_notify(c, false, j);
    json_decref(j);
    return true;
}

size_t drill_core_outcome_list(struct drill_core *c, struct drill_outcome_ref *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&c->lock);
    for (const struct drill *d = c->active; d; d = d->next)
        for (size_t i = 0; i < d->spec.n_outcome && n < max; i++, n++) {
            snprintf(out[n].id, sizeof(out[n].id), "%s", d->id);
            out[n].index = i;
            snprintf(out[n].check, sizeof(out[n].check), "%s", d->spec.outcome[i].check);
            snprintf(out[n].host, sizeof(out[n].host), "%s", d->spec.outcome[i].host);
        }
    pthread_mutex_unlock(&c->lock);
    return n;
}

unsigned drill_core_outcome_note(struct drill_core *c, const char *id, size_t i, bool ok,
                                 const char *why, const char *address)
{
    unsigned in_row = 0;
    pthread_mutex_lock(&c->lock);
    for (struct drill *d = c->active; d; d = d->next) {
        if (strcmp(d->id, id) != 0 || i >= d->spec.n_outcome)
            continue;
        struct drill_outcome_state *o = &d->report.outcome[i];
        o->probes++;
        o->failures += !ok;
        o->in_row = ok ? 0 : o->in_row + 1;
        snprintf(o->last, sizeof(o->last), "%s", ok ? "ok" : why);
        if (address && address[0])
            snprintf(o->address, sizeof(o->address), "%s", address);
        in_row = o->in_row;
    }
    pthread_mutex_unlock(&c->lock);
    return in_row;
}

size_t drill_core_expire(struct drill_core *c, double now)
{
    char ids[16][32];
    size_t n = 0, ended = 0;
    do {
        n = 0;
        pthread_mutex_lock(&c->lock);
        for (const struct drill *d = c->active; d && n < 16; d = d->next)
            if (d->ends <= now)
                snprintf(ids[n++], sizeof(ids[0]), "%s", d->id);
        pthread_mutex_unlock(&c->lock);
        for (size_t i = 0; i < n; i++)
            ended += drill_core_end(c, ids[i], DRILL_PASSED, "duration reached");
    } while (n == 16);
    return ended;
}

double drill_core_next_end(struct drill_core *c, double now)
{
    double first = -1;
    pthread_mutex_lock(&c->lock);
    for (const struct drill *d = c->active; d; d = d->next)
        if (first < 0 || d->ends < first)
            first = d->ends;
    pthread_mutex_unlock(&c->lock);
    if (first < 0)
        return -1;
    return first - now < 0.001 ? 0.001 : first - now;
}

size_t drill_core_check_abort_if(struct drill_core *c, const struct gslb *g, char (*ids)[32],
                                 char (*why)[256], size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&c->lock);
    for (const struct drill *d = c->active; d && n < max; d = d->next) {
        char w[200];
        if (!drill_abort_if_violated(g, &d->spec, w, sizeof(w)))
            continue;
        snprintf(ids[n], 32, "%s", d->id);
        snprintf(why[n], 256, "abort_if: %s", w);
        n++;
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}

void drill_core_count_active(struct drill_core *c, size_t out[DRILL_MODES])
{
    memset(out, 0, DRILL_MODES * sizeof(*out));
    pthread_mutex_lock(&c->lock);
    for (const struct drill *d = c->active; d; d = d->next)
        out[d->spec.mode]++;
    pthread_mutex_unlock(&c->lock);
}

void drill_core_count_ended(struct drill_core *c, uint64_t out[DRILL_RESULTS])
{
    pthread_mutex_lock(&c->lock);
    memcpy(out, c->ended_by, DRILL_RESULTS * sizeof(*out));
    pthread_mutex_unlock(&c->lock);
}
