/*
 * anycast_drain.c -- the node's drain (anycast_drain.h).
 */
#include "anycast/anycast_drain.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void anycast_drain_init(struct anycast_drain *d)
{
    memset(d, 0, sizeof(*d));
    pthread_mutex_init(&d->lock, NULL);
}

void anycast_drain_destroy(struct anycast_drain *d)
{
    pthread_mutex_destroy(&d->lock);
}

bool anycast_drain_set(struct anycast_drain *d, bool on, const char *reason, const char *by)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&d->lock);
    bool change = d->drained != on;
    d->drained = on;
    snprintf(d->reason, sizeof(d->reason), "%s", on && reason ? reason : "");
    snprintf(d->by, sizeof(d->by), "%s", by ? by : "");
    if (change)
        d->since = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    pthread_mutex_unlock(&d->lock);
    if (d->changed)
        d->changed(d->changed_arg);
    return change;
}

bool anycast_drain_get(struct anycast_drain *d, char *reason, size_t len)
{
    pthread_mutex_lock(&d->lock);
    bool on = d->drained;
    if (on && len)
        snprintf(reason, len, "%s", d->reason);
    pthread_mutex_unlock(&d->lock);
    return on;
}

json_t *anycast_drain_json(struct anycast_drain *d)
{
    pthread_mutex_lock(&d->lock);
    json_t *j = json_pack("{s:b, s:s, s:s, s:f}", "drained", d->drained, "reason", d->reason, "by",
                          d->by, "since", d->since);
    pthread_mutex_unlock(&d->lock);
    return j;
}

json_t *anycast_drain_save(void *arg)
{
    return anycast_drain_json(arg);
}

void anycast_drain_restore(struct anycast_drain *d, json_t *saved)
{
    if (!json_is_object(saved) || !json_is_true(json_object_get(saved, "drained")))
        return;
    const char *reason = json_string_value(json_object_get(saved, "reason"));
    const char *by = json_string_value(json_object_get(saved, "by"));
    pthread_mutex_lock(&d->lock);
    d->drained = true;
    snprintf(d->reason, sizeof(d->reason), "%s", reason ? reason : "");
    snprintf(d->by, sizeof(d->by), "%s", by ? by : "");
    d->since = json_number_value(json_object_get(saved, "since"));
    pthread_mutex_unlock(&d->lock);
}
