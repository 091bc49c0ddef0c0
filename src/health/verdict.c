/*
 * verdict.c -- external verdicts kept in the health core.
 */
#include "health/verdict.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "health/override.h"

static char *verdict_strdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

static void verdict_free(struct verdict *v)
{
    free(v->source);
    free(v->target);
    free(v->reason);
    free(v->author);
    free(v);
}

static bool verdict_has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

const char *verdict_check_source(const char *s)
{
    if (!s || !*s)
        return "\"source\" must be a non-empty string";
    if (strlen(s) > VERDICT_MAX_SOURCE)
        return "\"source\" must be at most 256 octets";
    if (verdict_has_control(s))
        return "\"source\" must not hold control characters";
    return NULL;
}

const char *verdict_check_reason(const char *r)
{
    if (!r)
        return "\"reason\" must be a string";
    if (strlen(r) > VERDICT_MAX_REASON)
        return "\"reason\" must be at most 1024 octets";
    return NULL;
}

const char *verdict_check_expires(double e)
{
    if (!isfinite(e) || e < 1 || e > VERDICT_MAX_EXPIRES)
        return "\"expires_in\" must be a number of seconds from 1 to 604800: every verdict "
               "expires";
    return NULL;
}

/* Recomputes target's external byte (caller holds c->lock). The slot is
 * created when absent (not in use), like an override's, so a verdict on
 * an endpoint a reload brings back applies to it. */
static void verdict_apply_locked(struct health_core *c, const char *target)
{
    uint8_t st = HEALTH_UNKNOWN;
    double load = NAN; /* the highest any source pushes */
    for (struct verdict *v = c->verdicts; v; v = v->next)
        if (strcmp(v->target, target) == 0) {
            if (v->load == v->load && !(load >= v->load))
                load = v->load;
            if (v->state == HEALTH_DOWN)
                st = HEALTH_DOWN;
            else if (st != HEALTH_DOWN)
                st = HEALTH_UP;
        }
    health_external_set_locked(c, target, (enum health_state)st);
    health_external_load_locked(c, target, load);
}

const char *verdict_check_load(json_t *v, const char *target)
{
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    if (!isfinite(d) || d < 0 || d > 1e15)
        return "\"load\" must be a number from 0 to 1e15";
    if (strncmp(target, "endpoint:", 9) != 0)
        return "\"load\" is an endpoint's: the target must be {\"endpoint\": \"POOL/NAME\"}";
    return NULL;
}

static json_t *verdict_json(const struct verdict *v)
{
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:f}", "id", v->id, "source", v->source,
                  "target", v->target, "state", health_state_name(v->state), "reason", v->reason,
                  "author", v->author, "created", v->created, "expires", v->expires);
    if (v->load == v->load)
        json_object_set_new(j, "load", json_real(v->load));
    return j;
}

static void verdict_told(struct health_core *c, const char *action, json_t *v)
{
    log_info("event=verdict_%s id=%s source=\"%s\" target=\"%s\" state=%s", action,
             json_string_value(json_object_get(v, "id")),
             json_string_value(json_object_get(v, "source")),
             json_string_value(json_object_get(v, "target")),
             json_string_value(json_object_get(v, "state")));
    json_object_set_new(v, "action", json_string(action));
    json_object_set_new(v, "verdict", json_incref(json_object_get(v, "id")));
    json_object_del(v, "id");
    event_ring_push(c->events, "verdict", v);
}

enum verdict_put_result verdict_put(struct health_core *c, const char *source, const char *target,
                                    enum health_state st, const char *reason, const char *author,
                                    double expires_in, double load, char id[32])
{
    double now = health_now();
    pthread_mutex_lock(&c->lock);
    struct verdict *v = c->verdicts;
    while (v && !(strcmp(v->source, source) == 0 && strcmp(v->target, target) == 0))
        v = v->next;
    enum verdict_put_result res = v ? VERDICT_REPLACED : VERDICT_ADDED;
    if (!v && c->n_verdicts >= c->max_verdicts) {
        pthread_mutex_unlock(&c->lock);
        id[0] = '\0';
        return VERDICT_FULL;
    }
    if (!v) {
        v = calloc(1, sizeof(*v));
        if (!v)
            abort();
        snprintf(v->id, sizeof(v->id), "vdt-%llu", (unsigned long long)c->next_verdict_id++);
        v->source = verdict_strdup(source);
        v->target = verdict_strdup(target);
        v->next = c->verdicts;
        c->verdicts = v;
        c->n_verdicts++;
    }
    free(v->reason);
    free(v->author);
    v->reason = verdict_strdup(reason);
    v->author = verdict_strdup(author);
    v->state = st;
    v->load = load;
    v->created = now;
    v->expires = now + expires_in;
    snprintf(id, 32, "%s", v->id);
    verdict_apply_locked(c, target);
    json_t *j = verdict_json(v);
    pthread_mutex_unlock(&c->lock);
    health_hooks_tell(c, HEALTH_HOOK_OVERRIDES);
    verdict_told(c, res == VERDICT_ADDED ? "added" : "replaced", j);
    return res;
}

/* Unlinks and frees every verdict for which pred holds; returns how many. */
static size_t verdict_remove_if(struct health_core *c,
                                bool (*pred)(const struct verdict *, const void *), const void *arg,
                                const char *why)
{
    size_t n = 0;
    json_t *gone = json_array();
    pthread_mutex_lock(&c->lock);
    struct verdict **pp = &c->verdicts;
    while (*pp) {
        struct verdict *v = *pp;
        if (!pred(v, arg)) {
            pp = &v->next;
            continue;
        }
        *pp = v->next;
        c->n_verdicts--;
        json_array_append_new(gone, verdict_json(v));
        verdict_apply_locked(c, v->target);
        verdict_free(v);
        n++;
    }
    pthread_mutex_unlock(&c->lock);
    if (n)
        health_hooks_tell(c, HEALTH_HOOK_OVERRIDES);
    size_t i;
    json_t *v;
    json_array_foreach(gone, i, v)
    {
        json_object_set_new(v, "why", json_string(why));
        verdict_told(c, "removed", json_incref(v));
    }
    json_decref(gone);
    return n;
}

static bool verdict_is_id(const struct verdict *v, const void *arg)
{
    return strcmp(v->id, arg) == 0;
}

static bool verdict_is_source(const struct verdict *v, const void *arg)
{
    return strcmp(v->source, arg) == 0;
}

static bool verdict_is_due(const struct verdict *v, const void *arg)
{
    return v->expires <= *(const double *)arg;
}

bool verdict_remove(struct health_core *c, const char *id, const char *why)
{
    return verdict_remove_if(c, verdict_is_id, id, why) > 0;
}

size_t verdict_withdraw_source(struct health_core *c, const char *source, const char *why)
{
    return verdict_remove_if(c, verdict_is_source, source, why);
}

size_t verdict_expire(struct health_core *c, double now)
{
    return verdict_remove_if(c, verdict_is_due, &now, "expired");
}

double verdict_next_expiry(struct health_core *c, double now)
{
    double best = -1;
    pthread_mutex_lock(&c->lock);
    for (struct verdict *v = c->verdicts; v; v = v->next)
        if (best < 0 || v->expires < best)
            best = v->expires;
    pthread_mutex_unlock(&c->lock);
    if (best < 0)
        return -1;
    return best - now < 0.001 ? 0.001 : best - now;
}

size_t verdict_count(struct health_core *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->n_verdicts;
    pthread_mutex_unlock(&c->lock);
    return n;
}

void verdict_set_max(struct health_core *c, size_t max)
{
    pthread_mutex_lock(&c->lock);
    c->max_verdicts = max;
    pthread_mutex_unlock(&c->lock);
}

size_t verdict_max(struct health_core *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->max_verdicts;
    pthread_mutex_unlock(&c->lock);
    return n;
}

json_t *verdict_list_json_locked(struct health_core *c)
{
    json_t *arr = json_array();
    for (struct verdict *v = c->verdicts; v; v = v->next)
        json_array_append_new(arr, verdict_json(v));
    return arr;
}

json_t *verdict_list_json(struct health_core *c)
{
    pthread_mutex_lock(&c->lock);
    json_t *arr = verdict_list_json_locked(c);
    pthread_mutex_unlock(&c->lock);
    return arr;
}

json_t *verdict_get_json(struct health_core *c, const char *id)
{
    json_t *j = NULL;
    pthread_mutex_lock(&c->lock);
    for (struct verdict *v = c->verdicts; v && !j; v = v->next)
        if (strcmp(v->id, id) == 0)
            j = verdict_json(v);
    pthread_mutex_unlock(&c->lock);
    return j;
}

json_t *verdict_for_target_json(struct health_core *c, const char *target)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&c->lock);
    for (struct verdict *v = c->verdicts; v; v = v->next)
        if (strcmp(v->target, target) == 0)
            json_array_append_new(arr, verdict_json(v));
    pthread_mutex_unlock(&c->lock);
    return arr;
}

/* Parses "vdt-N" (N from 1 to OVERRIDE_ID_MAX, no leading zero). */
static bool verdict_id_parse(const char *id, uint64_t *n)
{
    if (strncmp(id, "vdt-", 4) != 0)
        return false;
    const char *d = id + 4;
    size_t len = strspn(d, "0123456789");
    if (len == 0 || len > 16 || d[len] != '\0' || d[0] == '0')
        return false;
    unsigned long long v = strtoull(d, NULL, 10);
    if (v > OVERRIDE_ID_MAX)
        return false;
    *n = v;
    return true;
}

/* What is wrong with one entry of the state file's array, or NULL. */
static const char *verdict_check_entry(json_t *e, double now)
{
    const char *id = json_string_value(json_object_get(e, "id"));
    const char *target = json_string_value(json_object_get(e, "target"));
    const char *state = json_string_value(json_object_get(e, "state"));
    double created = json_number_value(json_object_get(e, "created"));
    double expires = json_number_value(json_object_get(e, "expires"));
    uint64_t n;
    if (!id || !verdict_id_parse(id, &n))
        return "\"id\" must be \"vdt-N\"";
    if (verdict_check_source(json_string_value(json_object_get(e, "source"))))
        return verdict_check_source(json_string_value(json_object_get(e, "source")));
    if (!target || override_check_target(target))
        return "\"target\" must be \"endpoint:POOL/NAME\", \"az:NAME\" or \"region:NAME\"";
    if (!state || (strcmp(state, "up") != 0 && strcmp(state, "down") != 0))
        return "\"state\" must be \"up\" or \"down\"";
    if (verdict_check_reason(json_string_value(json_object_get(e, "reason"))))
        return "\"reason\" must be a string of at most 1024 octets";
    if (!json_is_string(json_object_get(e, "author")))
        return "\"author\" must be a string";
    if (json_object_get(e, "load") && verdict_check_load(json_object_get(e, "load"), target))
        return verdict_check_load(json_object_get(e, "load"), target);
    if (!isfinite(created) || created <= 0 || !isfinite(expires) || expires < created ||
        expires - created > VERDICT_MAX_EXPIRES + 1 || created > now + 86400)
        return "\"created\" and \"expires\" must be times, at most a week apart";
    return NULL;
}

size_t verdict_restore(struct health_core *c, json_t *arr, double now, size_t *rejected)
{
    size_t restored = 0, i;
    json_t *e;
    *rejected = 0;
    json_array_foreach(arr, i, e)
    {
        const char *why = json_is_object(e) ? verdict_check_entry(e, now) : "must be an object";
        if (why) {
            log_error("event=state_load verdict_rejected index=%zu why=\"%s\"", i, why);
            (*rejected)++;
            continue;
        }
        double expires = json_number_value(json_object_get(e, "expires"));
        if (expires <= now)
            continue;
        pthread_mutex_lock(&c->lock);
        if (c->n_verdicts >= c->max_verdicts) {
            pthread_mutex_unlock(&c->lock);
            continue;
        }
        struct verdict *v = calloc(1, sizeof(*v));
        if (!v)
            abort();
        snprintf(v->id, sizeof(v->id), "%s", json_string_value(json_object_get(e, "id")));
        v->source = verdict_strdup(json_string_value(json_object_get(e, "source")));
        v->target = verdict_strdup(json_string_value(json_object_get(e, "target")));
        v->reason = verdict_strdup(json_string_value(json_object_get(e, "reason")));
        v->author = verdict_strdup(json_string_value(json_object_get(e, "author")));
        v->state = strcmp(json_string_value(json_object_get(e, "state")), "up") == 0 ? HEALTH_UP
                                                                                     : HEALTH_DOWN;
        v->created = json_number_value(json_object_get(e, "created"));
        v->expires = expires;
        json_t *ld = json_object_get(e, "load");
        v->load = ld ? json_number_value(ld) : NAN;
        uint64_t n = 0;
        verdict_id_parse(v->id, &n);
        if (n >= c->next_verdict_id)
            c->next_verdict_id = n + 1;
        /* Kept in file order (newest first) by appending at the tail. */
        struct verdict **pp = &c->verdicts;
        while (*pp)
            pp = &(*pp)->next;
        *pp = v;
        c->n_verdicts++;
        verdict_apply_locked(c, v->target);
        pthread_mutex_unlock(&c->lock);
        restored++;
    }
    return restored;
}

void verdict_free_all(struct health_core *c)
{
    while (c->verdicts) {
        struct verdict *v = c->verdicts;
        c->verdicts = v->next;
        verdict_free(v);
    }
    c->n_verdicts = 0;
}
