/*
 * composite.c -- composite checks: judging children, moving the parent.
 */
#include "health/composite.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"

const char *health_composite_mode_name(enum health_composite_mode m)
{
    return m == COMPOSITE_ALL ? "all" : m == COMPOSITE_ANY ? "any" : "at_least";
}

enum health_state health_composite_judge(const struct health_composite *comp,
                                         const enum health_state *states, char *why, size_t len)
{
    struct health_composite_count k = {0, 0, 0};
    for (size_t i = 0; i < comp->n_of; i++) {
        if (states[i] == HEALTH_UP)
            k.up++;
        else if (states[i] == HEALTH_DOWN)
            k.down++;
        else
            k.unknown++;
    }
    unsigned total = (unsigned)comp->n_of;
    /* Every mode is "at least need of total up": all = total, any = 1. */
    unsigned need = comp->mode == COMPOSITE_ALL ? total : comp->mode == COMPOSITE_ANY ? 1 : comp->n;
    enum health_state v = HEALTH_UNKNOWN;
    if (k.up >= need)
        v = HEALTH_UP;
    else if (k.up + k.unknown < need)
        v = HEALTH_DOWN;
    if (why && len) {
        int w = snprintf(why, len, "%u of %u checks up, %s", k.up, total,
                         health_composite_mode_name(comp->mode));
        if (comp->mode == COMPOSITE_AT_LEAST && w > 0 && (size_t)w < len)
            w += snprintf(why + w, len - (size_t)w, " %u", comp->n);
        if (w > 0 && (size_t)w < len)
            snprintf(why + w, len - (size_t)w, " needed%s",
                     k.unknown ? (v == HEALTH_UNKNOWN ? ", waiting for unknown checks"
                                                      : " (some checks unknown)")
                               : "");
    }
    return v;
}

void health_composite_update(struct health_core *c, struct health_slot *parent,
                             const struct health_composite *comp, struct health_slot *const *kids)
{
    enum health_state st[COMPOSITE_MAX_OF];
    char why[HEALTH_REASON_LEN];
    size_t n = comp->n_of < COMPOSITE_MAX_OF ? comp->n_of : COMPOSITE_MAX_OF;
    struct health_composite cm = *comp;
    cm.n_of = n;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < n; i++)
        st[i] = (enum health_state)kids[i]->probe_state;
    enum health_state to = health_composite_judge(&cm, st, why, sizeof(why));
    enum health_state from = (enum health_state)parent->probe_state;
    /* The reason always says how the children stand, transition or not. */
    health_slot_set_reason_locked(c, parent, why);
    bool moved = to != HEALTH_UNKNOWN && to != from;
    if (moved) {
        parent->probe_state = (uint8_t)to;
        parent->since = health_now();
        health_write_begin(c);
        atomic_store_explicit(&parent->effective, (uint8_t)to, memory_order_release);
        health_write_end(c);
        c->transitions++;
    }
    pthread_mutex_unlock(&c->lock);
    if (!moved)
        return;
    char why_q[200];
    log_info("event=health_change endpoint=%s from=%s to=%s why=\"composite: %s\"", parent->key,
             health_state_name(from), health_state_name(to), log_quote(why, why_q, sizeof(why_q)));
    event_ring_push(c->events, "health",
                    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "key", parent->key, "layer",
                              "probe", "from", health_state_name(from), "to", health_state_name(to),
                              "why", "composite", "detail", why));
    health_hooks_tell(c, HEALTH_HOOK_STATE);
}
