/*
 * drill_core_practice.c -- what the drill core keeps of practice drills:
 * last start, skips, next start, counters; their JSON view and their part
 * of the state file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill/drill.h"

const char *const drill_skip_names[DRILL_SKIPS] = {
    "none",        "outside_window", "blocked_date", "never",  "drill_active", "override",
    "region_down", "fleet_degraded", "abort_if",     "unsafe", "config"};

/* The index of practice name (caller holds c->lock), or -1. */
static long drill_practice_find_locked(struct drill_core *c, const char *name)
{
    for (size_t i = 0; name && i < c->params.n_practice; i++)
        if (strcmp(c->params.practice[i].spec.name, name) == 0)
            return (long)i;
    return -1;
}

bool drill_core_practice_at(struct drill_core *c, size_t i, struct drill_practice *p,
                            struct drill_practice_state *st)
{
    bool ok = false;
    pthread_mutex_lock(&c->lock);
    if (i < c->params.n_practice) {
        drill_practice_copy(p, &c->params.practice[i]);
        *st = c->practice[i];
        ok = true;
    }
    pthread_mutex_unlock(&c->lock);
    return ok;
}

bool drill_core_practice_skip(struct drill_core *c, const char *name, enum drill_skip why,
                              const char *detail, double now, double next)
{
    bool fresh = false;
    pthread_mutex_lock(&c->lock);
    long i = drill_practice_find_locked(c, name);
    if (i >= 0) {
        struct drill_practice_state *st = &c->practice[i];
        fresh = st->skip != why;
        if (fresh) {
            st->skip = why;
            st->skip_since = now;
            st->skips[why]++;
        }
        snprintf(st->skip_why, sizeof(st->skip_why), "%s", detail);
        st->next_start = next;
    }
    pthread_mutex_unlock(&c->lock);
    return fresh;
}

void drill_core_practice_next(struct drill_core *c, const char *name, double next, bool not_due)
{
    pthread_mutex_lock(&c->lock);
    long i = drill_practice_find_locked(c, name);
    if (i >= 0) {
        c->practice[i].next_start = next;
        if (not_due)
            c->practice[i].skip = DRILL_SKIP_NONE;
    }
    pthread_mutex_unlock(&c->lock);
}

void drill_core_practice_started(struct drill_core *c, const char *name, const char *id, double now)
{
    pthread_mutex_lock(&c->lock);
    long i = drill_practice_find_locked(c, name);
    if (i >= 0) {
        struct drill_practice_state *st = &c->practice[i];
        st->last_start = now;
        snprintf(st->last_id, sizeof(st->last_id), "%s", id);
        st->skip = DRILL_SKIP_NONE;
        st->skip_why[0] = '\0';
        st->next_start = drill_practice_next_start(&c->params.practice[i], now, now);
    }
    pthread_mutex_unlock(&c->lock);
}

/* The id of the active drill of practice name (caller holds c->lock). */
static const char *drill_practice_running_locked(struct drill_core *c, const char *name)
{
    for (const struct drill *d = c->active; d; d = d->next)
        if (d->spec.name && strcmp(d->spec.name, name) == 0 && strcmp(d->author, "practice") == 0)
            return d->id;
    return NULL;
}

size_t drill_core_active_describe(struct drill_core *c, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    pthread_mutex_lock(&c->lock);
    for (const struct drill *d = c->active; d; d = d->next, n++)
        if (n == 0)
            snprintf(buf, len, "%s (%s)", d->id, drill_mode_names[d->spec.mode]);
    pthread_mutex_unlock(&c->lock);
    return n;
}

bool drill_core_practice_running(struct drill_core *c, const char *name)
{
    pthread_mutex_lock(&c->lock);
    bool r = drill_practice_running_locked(c, name) != NULL;
    pthread_mutex_unlock(&c->lock);
    return r;
}

static json_t *drill_practice_time(double t)
{
    return t > 0 ? json_real(t) : json_null();
}

static json_t *drill_practice_one_locked(struct drill_core *c, size_t i)
{
    const struct drill_practice_state *st = &c->practice[i];
    json_t *j = drill_practice_json(&c->params.practice[i]);
    const char *running = drill_practice_running_locked(c, c->params.practice[i].spec.name);
    json_object_set_new(j, "last_start", drill_practice_time(st->last_start));
    json_object_set_new(j, "last_id", st->last_id[0] ? json_string(st->last_id) : json_null());
    json_object_set_new(j, "next_start",
                        st->next_start > 0 ? json_real(st->next_start) : json_null());
    json_object_set_new(j, "running", running ? json_string(running) : json_null());
    json_object_set_new(j, "skip",
                        st->skip == DRILL_SKIP_NONE
                            ? json_null()
                            : json_pack("{s:s, s:s, s:f}", "reason", drill_skip_names[st->skip],
                                        "why", st->skip_why, "since", st->skip_since));
    json_t *skips = json_object(), *res = json_object();
    for (int k = 1; k < DRILL_SKIPS; k++)
        json_object_set_new(skips, drill_skip_names[k], json_integer((json_int_t)st->skips[k]));
    for (int k = DRILL_PASSED; k < DRILL_RESULTS; k++)
        json_object_set_new(res, drill_result_names[k], json_integer((json_int_t)st->ended[k]));
    json_object_set_new(j, "skips", skips);
    json_object_set_new(j, "results", res);
    return j;
}

json_t *drill_core_practice_json(struct drill_core *c)
{
    json_t *a = json_array();
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->params.n_practice; i++)
        json_array_append_new(a, drill_practice_one_locked(c, i));
    pthread_mutex_unlock(&c->lock);
    return a;
}

json_t *drill_core_practice_save_locked(struct drill_core *c)
{
    json_t *a = json_array();
    for (size_t i = 0; i < c->params.n_practice; i++) {
        const struct drill_practice_state *st = &c->practice[i];
        json_array_append_new(
            a, json_pack("{s:s, s:o, s:o}", "name", c->params.practice[i].spec.name, "last_start",
                         drill_practice_time(st->last_start), "last_id",
                         st->last_id[0] ? json_string(st->last_id) : json_null()));
    }
    return a;
}

void drill_core_practice_restore(struct drill_core *c, json_t *arr)
{
    size_t i;
    json_t *e;
    if (!json_is_array(arr))
        return;
    pthread_mutex_lock(&c->lock);
    json_array_foreach(arr, i, e)
    {
        long k = drill_practice_find_locked(c, json_string_value(json_object_get(e, "name")));
        json_t *ls = json_object_get(e, "last_start");
        const char *id = json_string_value(json_object_get(e, "last_id"));
        if (k < 0 || !json_is_number(ls) || !isfinite(json_number_value(ls)) ||
            json_number_value(ls) < 0)
            continue;
        c->practice[k].last_start = json_number_value(ls);
        if (id && strlen(id) < sizeof(c->practice[k].last_id))
            snprintf(c->practice[k].last_id, sizeof(c->practice[k].last_id), "%s", id);
    }
    pthread_mutex_unlock(&c->lock);
}
