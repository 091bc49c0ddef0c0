/*
 * webhook_states.c -- effective state changes for the "state" event.
 */
#include "webhook/webhook_states.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct webhook_states {
    json_t *last; /* "KEY|POOL" -> "up" / "down" */
};

struct webhook_states *webhook_states_new(void)
{
    struct webhook_states *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    s->last = json_object();
    return s;
}

void webhook_states_free(struct webhook_states *s)
{
    if (!s)
        return;
    json_decref(s->last);
    free(s);
}

/* Records one target's state in now; emits when it differs from last. */
static void ws_note(struct webhook_states *s, json_t *now_map, const char *target, const char *pool,
                    bool up, double now, void (*emit)(void *, json_t *), void *arg)
{
    char key[700];
    snprintf(key, sizeof(key), "%s|%s", target, pool);
    const char *st = up ? "up" : "down";
    json_object_set_new(now_map, key, json_string(st));
    const char *was = json_string_value(json_object_get(s->last, key));
    if (was && strcmp(was, st) != 0)
        emit(arg, json_pack("{s:s, s:s, s:s, s:s, s:s, s:f}", "type", "state", "target", target,
                            "pool", pool, "from", was, "to", st, "time", now));
}

/* The regions and azs of pool p: each once, in index order. */
static void ws_pool(struct webhook_states *s, json_t *m, const struct gslb *g,
                    const struct policy_pool *p, double now, void (*emit)(void *, json_t *),
                    void *arg)
{
    char key[600];
    for (size_t k = 0; k < p->n_eps; k++) {
        const struct policy_endpoint *e = &p->eps[k];
        ws_note(s, m, e->key, p->name, gslb_endpoint_state(g, e, NULL) == HEALTH_UP, now, emit,
                arg);
    }
    for (size_t z = 0; z < g->n_azs; z++) {
        size_t k = 0;
        while (k < p->n_eps && p->eps[k].az != z)
            k++;
        if (k == p->n_eps)
            continue;
        snprintf(key, sizeof(key), "az:%s", g->azs[z].name);
        ws_note(s, m, key, p->name, gslb_az_up(g, p, (uint16_t)z, NULL), now, emit, arg);
    }
    for (size_t r = 0; r < g->n_regions; r++) {
        size_t k = 0;
        while (k < p->n_eps && p->eps[k].region != r)
            k++;
        if (k == p->n_eps)
            continue;
        snprintf(key, sizeof(key), "region:%s", g->regions[r].name);
        ws_note(s, m, key, p->name, gslb_region_up(g, p, (uint16_t)r, NULL, NULL, NULL), now, emit,
                arg);
    }
}

void webhook_states_update(struct webhook_states *s, const struct gslb *g, double now,
                           void (*emit)(void *arg, json_t *ev), void *arg)
{
    json_t *m = json_object();
    for (size_t i = 0; g && i < g->n_pools; i++)
        ws_pool(s, m, g, &g->pools[i], now, emit, arg);
    json_decref(s->last);
    s->last = m;
}
