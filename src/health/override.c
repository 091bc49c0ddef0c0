/*
 * override.c -- operators' forced states.
 */
#include "health/override.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static char *override_strdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

static void override_free(struct override *o)
{
    free(o->target);
    free(o->reason);
    free(o->author);
    free(o);
}

void override_add(struct health_core *c, const char *target, enum health_state st,
                  const char *reason, const char *author, double expires, char id[32])
{
    struct override *o = calloc(1, sizeof(*o));
    if (!o)
        abort();
    o->target = override_strdup(target);
    o->state = st;
    o->reason = override_strdup(reason);
    o->author = override_strdup(author);
    o->created = health_now();
    o->expires = expires;
    pthread_mutex_lock(&c->lock);
    snprintf(o->id, sizeof(o->id), "ovr-%llu", (unsigned long long)c->next_override_id++);
    snprintf(id, 32, "%s", o->id);
    o->next = c->overrides;
    c->overrides = o;
    health_override_apply_locked(c, target);
    struct health_hook_set hooks;
    health_hooks_copy_locked(c, &hooks);
    pthread_mutex_unlock(&c->lock);
    health_hooks_overrides_changed(&hooks);
    /* o belongs to the list now: an expiry may free it at any moment. */
    char reason_q[1100];
    log_info("event=override_add id=%s target=%s state=%s author=%s reason=\"%s\"", id, target,
             health_state_name(st), author ? author : "",
             log_quote(reason ? reason : "", reason_q, sizeof(reason_q)));
}

/* Unlinks and frees every override for which pred(o, arg) holds; logs. */
static size_t override_remove_if(struct health_core *c,
                                 bool (*pred)(const struct override *, const void *),
                                 const void *arg, const char *why)
{
    size_t n = 0;
    pthread_mutex_lock(&c->lock);
    struct override **pp = &c->overrides;
    while (*pp) {
        struct override *o = *pp;
        if (!pred(o, arg)) {
            pp = &o->next;
            continue;
        }
        *pp = o->next;
        log_info("event=override_remove id=%s target=%s why=%s", o->id, o->target, why);
        char *target = o->target;
        o->target = NULL;
        override_free(o);
        health_override_apply_locked(c, target);
        free(target);
        n++;
    }
    struct health_hook_set hooks;
    health_hooks_copy_locked(c, &hooks);
    pthread_mutex_unlock(&c->lock);
    if (n)
        health_hooks_overrides_changed(&hooks);
    return n;
}

static bool override_has_id(const struct override *o, const void *id)
{
    return strcmp(o->id, id) == 0;
}

static bool override_expired(const struct override *o, const void *now)
{
    return o->expires > 0 && o->expires <= *(const double *)now;
}

bool override_remove(struct health_core *c, const char *id)
{
    return override_remove_if(c, override_has_id, id, "deleted") > 0;
}

size_t override_expire(struct health_core *c, double now)
{
    return override_remove_if(c, override_expired, &now, "expired");
}

double override_next_expiry(struct health_core *c, double now)
{
    bool any = false;
    double first = 0;
    pthread_mutex_lock(&c->lock);
    for (struct override *o = c->overrides; o; o = o->next)
        if (o->expires > 0 && (!any || o->expires < first)) {
            first = o->expires;
            any = true;
        }
    pthread_mutex_unlock(&c->lock);
    if (!any)
        return -1;
    /* One already due (or due within a millisecond) is due "now", never
     * in the past: the caller arms a timer with it. */
    return first - now < 0.001 ? 0.001 : first - now;
}

size_t override_count(struct health_core *c)
{
    size_t n = 0;
    pthread_mutex_lock(&c->lock);
    for (struct override *o = c->overrides; o; o = o->next)
        n++;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static json_t *override_json(const struct override *o)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:f}", "id", o->id, "target", o->target,
                          "state", health_state_name(o->state), "reason", o->reason, "author",
                          o->author, "created", o->created);
    json_object_set_new(j, "expires", o->expires > 0 ? json_real(o->expires) : json_null());
    return j;
}

json_t *override_list_json_locked(struct health_core *c)
{
    json_t *arr = json_array();
    for (struct override *o = c->overrides; o; o = o->next)
        json_array_append_new(arr, override_json(o));
    return arr;
}

json_t *override_list_json(struct health_core *c)
{
    pthread_mutex_lock(&c->lock);
    json_t *arr = override_list_json_locked(c);
    pthread_mutex_unlock(&c->lock);
    return arr;
}

json_t *override_get_json(struct health_core *c, const char *id)
{
    json_t *j = NULL;
    pthread_mutex_lock(&c->lock);
    for (struct override *o = c->overrides; o && !j; o = o->next)
        if (strcmp(o->id, id) == 0)
            j = override_json(o);
    pthread_mutex_unlock(&c->lock);
    return j;
}

json_t *override_for_target_json(struct health_core *c, const char *target)
{
    json_t *j = NULL;
    pthread_mutex_lock(&c->lock);
    for (struct override *o = c->overrides; o && !j; o = o->next)
        if (strcmp(o->target, target) == 0)
            j = override_json(o);
    pthread_mutex_unlock(&c->lock);
    return j;
}

size_t override_restore(struct health_core *c, json_t *arr, double now)
{
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        const char *target = json_string_value(json_object_get(e, "target"));
        const char *state = json_string_value(json_object_get(e, "state"));
        json_t *exp = json_object_get(e, "expires");
        double expires = json_is_number(exp) ? json_number_value(exp) : 0;
        if (!id || !target || !state || (expires > 0 && expires <= now))
            continue;
        struct override *o = calloc(1, sizeof(*o));
        if (!o)
            abort();
        snprintf(o->id, sizeof(o->id), "%s", id);
        o->target = override_strdup(target);
        o->state = strcmp(state, "up") == 0 ? HEALTH_UP : HEALTH_DOWN;
        o->reason = override_strdup(json_string_value(json_object_get(e, "reason")));
        o->author = override_strdup(json_string_value(json_object_get(e, "author")));
        o->created = json_number_value(json_object_get(e, "created"));
        o->expires = expires;
        unsigned long long num = strtoull(id + (strncmp(id, "ovr-", 4) == 0 ? 4 : 0), NULL, 10);
        pthread_mutex_lock(&c->lock);
        if (num >= c->next_override_id)
            c->next_override_id = num + 1;
        /* Restored in file order (newest first): append to keep it. */
        struct override **pp = &c->overrides;
        while (*pp)
            pp = &(*pp)->next;
        *pp = o;
        health_override_apply_locked(c, target);
        pthread_mutex_unlock(&c->lock);
        n++;
    }
    pthread_mutex_lock(&c->lock);
    struct health_hook_set hooks;
    health_hooks_copy_locked(c, &hooks);
    pthread_mutex_unlock(&c->lock);
    if (n)
        health_hooks_overrides_changed(&hooks);
    return n;
}

void override_free_all(struct health_core *c)
{
    while (c->overrides) {
        struct override *o = c->overrides;
        c->overrides = o->next;
        override_free(o);
    }
}
