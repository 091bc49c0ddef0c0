/*
 * drill_json.c -- JSON views of drills, and the state file's "drills"
 * section: save and restore.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "drill/drill.h"
#include "drill/drill_int.h"

#define DRILL_MAX_AUTHOR 64

static char *drill_json_dup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static json_t *drill_strings(char *const *s, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(s[i]));
    return a;
}

json_t *drill_json(const struct drill *d)
{
    json_t *j = json_pack("{s:s}", "id", d->id);
    json_t *spec = drill_spec_json(&d->spec);
    json_object_update(j, spec);
    json_decref(spec);
    json_object_set_new(j, "targets", drill_strings(d->keys, d->n_targets));
    json_object_set_new(j, "covers", drill_strings(d->covered, d->n_covered));
    json_object_set_new(j, "author", json_string(d->author));
    json_object_set_new(j, "started", json_real(d->started));
    json_object_set_new(j, "ends", json_real(d->ends));
    bool running = d->result == DRILL_RUNNING;
    json_object_set_new(j, "state", json_string(running ? "active" : "ended"));
    json_object_set_new(j, "result",
                        running ? json_null() : json_string(drill_result_names[d->result]));
    json_object_set_new(j, "ended", running ? json_null() : json_real(d->ended));
    json_object_set_new(j, "end_reason", d->end_reason ? json_string(d->end_reason) : json_null());
    json_t *oc = json_array();
    for (size_t i = 0; i < d->spec.n_outcome; i++) {
        const struct drill_outcome_state *o = &d->report.outcome[i];
        json_array_append_new(
            oc, json_pack("{s:s, s:s, s:I, s:I, s:i, s:s, s:s?}", "check", d->spec.outcome[i].check,
                          "host", d->spec.outcome[i].host, "probes", (json_int_t)o->probes,
                          "failures", (json_int_t)o->failures, "in_row", (int)o->in_row, "last",
                          o->probes ? o->last : "not probed yet", "address",
                          o->address[0] ? o->address : NULL));
    }
    json_object_set_new(
        j, "report",
        json_pack("{s:O?, s:o, s:o}", "whatif", d->report.whatif, "outcome", oc, "timeline",
                  d->report.timeline ? drill_timeline_json(d->report.timeline) : json_null()));
    return j;
}

/* The outcome checks' counters of a saved report (what is well formed). */
static void drill_restore_outcome(json_t *arr, struct drill *d)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (i >= d->spec.n_outcome)
            break;
        struct drill_outcome_state *o = &d->report.outcome[i];
        json_t *p = json_object_get(e, "probes"), *f = json_object_get(e, "failures");
        const char *last = json_string_value(json_object_get(e, "last"));
        const char *addr = json_string_value(json_object_get(e, "address"));
        if (!json_is_integer(p) || !json_is_integer(f) || json_integer_value(p) < 0 ||
            json_integer_value(f) < 0 || json_integer_value(f) > json_integer_value(p))
            continue;
        o->probes = (uint64_t)json_integer_value(p);
        o->failures = (uint64_t)json_integer_value(f);
        if (last && !strpbrk(last, "\n\r"))
            snprintf(o->last, sizeof(o->last), "%s", last);
        if (addr && !strpbrk(addr, "\n\r"))
            snprintf(o->address, sizeof(o->address), "%s", addr);
    }
}

static json_t *drill_list_locked(const struct drill *d)
{
    json_t *a = json_array();
    for (; d; d = d->next)
        json_array_append_new(a, drill_json(d));
    return a;
}

json_t *drill_core_list_json(struct drill_core *c)
{
    pthread_mutex_lock(&c->lock);
    json_t *j = json_pack("{s:o, s:o}", "active", drill_list_locked(c->active), "history",
                          drill_list_locked(c->history));
    pthread_mutex_unlock(&c->lock);
    json_object_set_new(j, "practice", drill_core_practice_json(c));
    return j;
}

json_t *drill_core_get_json(struct drill_core *c, const char *id)
{
    json_t *j = NULL;
    pthread_mutex_lock(&c->lock);
    for (const struct drill *d = c->active; d && !j; d = d->next)
        if (strcmp(d->id, id) == 0)
            j = drill_json(d);
    for (const struct drill *d = c->history; d && !j; d = d->next)
        if (strcmp(d->id, id) == 0)
            j = drill_json(d);
    pthread_mutex_unlock(&c->lock);
    return j;
}

static bool drill_targets_key(const struct drill *d, const char *key)
{
    for (size_t i = 0; i < d->n_targets; i++)
        if (strcmp(d->keys[i], key) == 0)
            return true;
    return false;
}

static json_t *drill_short(const struct drill *d)
{
    return json_pack("{s:s, s:s, s:s, s:f}", "id", d->id, "mode", drill_mode_names[d->spec.mode],
                     "reason", d->spec.reason, "ends", d->ends);
}

json_t *drill_core_covering_json(struct drill_core *c, const char *key)
{
    json_t *a = json_array();
    pthread_mutex_lock(&c->lock);
    for (const struct drill *d = c->active; d; d = d->next)
        if (drill_targets_key(d, key))
            json_array_append_new(a, drill_short(d));
    pthread_mutex_unlock(&c->lock);
    return a;
}

static bool drill_canary_holds(const struct drill *d, const struct policy_loss_client *cl)
{
    for (size_t i = 0; cl && cl->len > 0 && i < d->spec.n_canary; i++)
        if (policy_net_holds(&d->spec.canary[i], cl->family, cl->addr, cl->len))
            return true;
    return false;
}

json_t *drill_core_deciding_json(struct drill_core *c, const char *key,
                                 const struct policy_loss_client *client)
{
    json_t *a = json_array();
    pthread_mutex_lock(&c->lock);
    for (const struct drill *d = c->active; d; d = d->next)
        if (drill_targets_key(d, key) &&
            (d->spec.mode == DRILL_LIVE ||
             (d->spec.mode == DRILL_SCOPED && drill_canary_holds(d, client))))
            json_array_append_new(a, drill_short(d));
    pthread_mutex_unlock(&c->lock);
    return a;
}

json_t *drill_core_save(void *core)
{
    struct drill_core *c = core;
    pthread_mutex_lock(&c->lock);
    json_t *j = json_pack("{s:I, s:o, s:o, s:o}", "next_id", (json_int_t)c->next_id, "active",
                          drill_list_locked(c->active), "history", drill_list_locked(c->history),
                          "practice", drill_core_practice_save_locked(c));
    pthread_mutex_unlock(&c->lock);
    return j;
}

/* ---- restore ---------------------------------------------------------- */

/* The number of a "drl-N" id, 0 when the id is malformed. */
static uint64_t drill_id_number(const char *id)
{
    if (!id || strncmp(id, "drl-", 4) != 0 || strlen(id) > 24)
        return 0;
    size_t n = strspn(id + 4, "0123456789");
    if (n == 0 || n > 18 || id[4 + n] != '\0')
        return 0;
    return strtoull(id + 4, NULL, 10);
}

static bool drill_time(json_t *v, double *out)
{
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0)
        return false;
    *out = json_number_value(v);
    return true;
}

/* covers: the regions a restored drill touches, checked like names. */
static bool drill_restore_covers(json_t *v, struct drill *d)
{
    size_t i;
    json_t *e;
    if (!json_is_array(v) || json_array_size(v) > DRILL_MAX_TARGETS)
        return false;
    json_array_foreach(v, i, e)
    {
        const char *s = json_string_value(e);
        if (!s || !s[0] || strlen(s) > DRILL_MAX_NAME || strpbrk(s, "\n\r\t"))
            return false;
        d->covered[d->n_covered++] = drill_json_dup(s);
    }
    return true;
}

/* The spec, targets and times of one saved drill; NULL (why in err) when
 * anything is malformed: every field is checked like an API request. */
int drill_spec_from_saved(json_t *j, struct drill_spec *out, char *err, size_t errlen)
{
    static const char *const spec_keys[] = {"mode",   "regions",  "azs",     "reason", "duration",
                                            "canary", "abort_if", "outcome", "name",   NULL};
    if (!json_is_object(j)) {
        snprintf(err, errlen, "not an object");
        return 400;
    }
    json_t *so = json_object();
    for (int i = 0; spec_keys[i]; i++)
        if (json_object_get(j, spec_keys[i]))
            json_object_set(so, spec_keys[i], json_object_get(j, spec_keys[i]));
    int st = drill_spec_parse(so, 0, out, err, errlen);
    json_decref(so);
    return st;
}

static struct drill *drill_from_json(struct drill_core *c, json_t *j, char *err, size_t errlen)
{
    const char *id = json_string_value(json_object_get(j, "id"));
    if (!json_is_object(j) || drill_id_number(id) == 0) {
        snprintf(err, errlen, "bad id");
        return NULL;
    }
    struct drill_spec spec;
    if (drill_spec_from_saved(j, &spec, err, errlen) != 0)
        return NULL;
    struct drill_targets t = {.n = 0};
    for (size_t i = 0; i < spec.n_regions + spec.n_azs; i++) {
        bool region = i < spec.n_regions;
        const char *name = region ? spec.regions[i] : spec.azs[i - spec.n_regions];
        char key[DRILL_MAX_NAME + 16];
        snprintf(key, sizeof(key), "%s:%s", region ? "region" : "az", name);
        t.keys[t.n] = drill_json_dup(key);
        /* A target the config no longer has: its live byte is still set
         * (health_drill_set makes the slot); a scoped drill skips it. */
        t.slots[t.n++] = health_core_find(c->health, key);
    }
    const char *author = json_string_value(json_object_get(j, "author"));
    json_t *wi = json_object_get(json_object_get(j, "report"), "whatif");
    struct drill *d = drill_new(
        &spec, &t,
        author && strlen(author) <= DRILL_MAX_AUTHOR && !strpbrk(author, "\n\r") ? author
                                                                                 : "unknown",
        json_is_object(wi) ? json_incref(wi) : NULL,
        drill_timeline_from_json(json_object_get(json_object_get(j, "report"), "timeline")));
    drill_targets_free(&t);
    drill_spec_free(&spec);
    snprintf(d->id, sizeof(d->id), "%s", id);
    drill_restore_outcome(json_object_get(json_object_get(j, "report"), "outcome"), d);
    json_t *cov = json_object_get(j, "covers");
    bool ok = drill_time(json_object_get(j, "started"), &d->started) &&
              drill_time(json_object_get(j, "ends"), &d->ends) && d->ends >= d->started;
    if (ok && !drill_restore_covers(cov, d))
        ok = false;
    if (!ok) {
        snprintf(err, errlen, "bad started, ends or covers");
        drill_free(d);
        return NULL;
    }
    return d;
}

/* The result, end time and reason of a saved ended drill. */
static bool drill_restore_end(json_t *j, struct drill *d)
{
    const char *r = json_string_value(json_object_get(j, "result"));
    const char *why = json_string_value(json_object_get(j, "end_reason"));
    for (int i = DRILL_PASSED; r && i < DRILL_RESULTS; i++)
        if (strcmp(r, drill_result_names[i]) == 0)
            d->result = (enum drill_result)i;
    if (d->result == DRILL_RUNNING || !drill_time(json_object_get(j, "ended"), &d->ended) || !why ||
        strlen(why) > 1024)
        return false;
    d->end_reason = drill_json_dup(why);
    return true;
}

static void drill_restore_history(struct drill_core *c, json_t *arr)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        char err[300];
        struct drill *d = drill_from_json(c, e, err, sizeof(err));
        if (d && d->report.timeline)
            d->report.timeline->phase = DRILL_TL_DONE; /* a transition is not measured twice */
        if (d && !drill_restore_end(e, d)) {
            snprintf(err, sizeof(err), "bad result, ended or end_reason");
            drill_free(d);
            d = NULL;
        }
        if (!d) {
            char q[400];
            log_warn("event=drill_restore result=ignored section=history index=%zu error=\"%s\"", i,
                     log_quote(err, q, sizeof(q)));
            continue;
        }
        uint64_t num = drill_id_number(d->id);
        pthread_mutex_lock(&c->lock);
        if (num >= c->next_id)
            c->next_id = num + 1;
        drill_history_append_locked(c, d);
        pthread_mutex_unlock(&c->lock);
    }
}

/* One active drill of the file: resumed, or ended if its time is past. */
static bool drill_restore_active(struct drill_core *c, json_t *e, size_t i, double now)
{
    char err[300];
    struct drill *d = drill_from_json(c, e, err, sizeof(err));
    if (!d) {
        char q[400];
        log_warn("event=drill_restore result=ignored section=active index=%zu error=\"%s\"", i,
                 log_quote(err, q, sizeof(q)));
        return false;
    }
    uint64_t num = drill_id_number(d->id);
    bool resumed = d->ends > now;
    struct drill_timeline *tl = d->report.timeline;
    if (tl && resumed && tl->phase != DRILL_TL_HOLD)
        tl->phase = DRILL_TL_HOLD; /* the start was measured before the restart */
    else if (tl && !resumed) {
        tl->ended = d->ends;
        tl->phase = DRILL_TL_DONE; /* it ended while gtmd was stopped */
    }
    pthread_mutex_lock(&c->lock);
    if (num >= c->next_id)
        c->next_id = num + 1;
    if (resumed) {
        d->next = c->active;
        c->active = d;
        if (d->spec.mode == DRILL_LIVE)
            drill_apply_bytes_locked(c, d);
    } else
        drill_retire_locked(c, d, DRILL_PASSED, "duration reached while gtmd was stopped", d->ends);
    log_info("event=drill_restore id=%s mode=%s result=%s ends=%.3f", d->id,
             drill_mode_names[d->spec.mode], resumed ? "resumed" : "passed", d->ends);
    pthread_mutex_unlock(&c->lock);
    return resumed;
}

enum drill_start_rc drill_core_adopt(struct drill_core *c, json_t *saved, double now, char *why,
                                     size_t whylen)
{
    struct drill *d = drill_from_json(c, saved, why, whylen);
    if (!d)
        return DRILL_INVALID;
    if (d->ends <= now) {
        drill_free(d);
        return DRILL_KNOWN;
    }
    char id[32];
    return drill_core_start(c, d, now, id, why, whylen);
}

size_t drill_core_restore(struct drill_core *c, json_t *section, double now)
{
    if (!json_is_object(section))
        return 0;
    json_t *next = json_object_get(section, "next_id");
    pthread_mutex_lock(&c->lock);
    if (json_is_integer(next) && json_integer_value(next) > 0 &&
        json_integer_value(next) < (json_int_t)1 << 60 &&
        (uint64_t)json_integer_value(next) > c->next_id)
        c->next_id = (uint64_t)json_integer_value(next);
    pthread_mutex_unlock(&c->lock);
    drill_core_practice_restore(c, json_object_get(section, "practice"));
    json_t *hist = json_object_get(section, "history");
    if (json_is_array(hist))
        drill_restore_history(c, hist);
    /* The file lists active drills newest first; restoring from the
     * oldest keeps that order (each goes to the head of its list). */
    json_t *act = json_object_get(section, "active");
    size_t resumed = 0;
    for (size_t i = json_is_array(act) ? json_array_size(act) : 0; i > 0; i--)
        resumed += drill_restore_active(c, json_array_get(act, i - 1), i - 1, now);
    return resumed;
}
