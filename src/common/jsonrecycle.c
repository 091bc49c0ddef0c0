/*
 * jsonrecycle.c -- resource objects of a replaced document reused for the
 * next copy (jsonrecycle.h).
 */
#include "common/jsonrecycle.h"

#include <string.h>

#include "common/jsondelta.h"

/* jansson changes counts atomically (jansson.h): read them the same way. */
static size_t jsonrecycle_refs(const json_t *j)
{
    return __atomic_load_n(&j->refcount, __ATOMIC_ACQUIRE);
}

void jsonrecycle_init(struct jsonrecycle *r, const char *const *kinds)
{
    memset(r, 0, sizeof(*r));
    r->kinds = kinds;
}

static void jsonrecycle_drop_objs(struct jsonrecycle *r)
{
    for (size_t i = 0; i < JSONRECYCLE_KINDS; i++) {
        json_decref(r->objs[i]);
        r->objs[i] = NULL;
    }
    for (size_t i = 0; i < r->n_apply; i++)
        json_decref(r->apply[i]);
    r->n_apply = 0;
    r->have_objs = false;
}

/* Lets every retired document go (their last holders free them). */
static void jsonrecycle_drop_retired(struct jsonrecycle *r)
{
    for (size_t i = 0; i < r->n_retired; i++) {
        json_decref(r->retired[i]);
        json_decref(r->delta[i]);
        r->retired[i] = r->delta[i] = NULL;
    }
    r->n_retired = 0;
}

void jsonrecycle_clear(struct jsonrecycle *r)
{
    jsonrecycle_drop_objs(r);
    jsonrecycle_drop_retired(r);
    r->next = NULL;
}

void jsonrecycle_retire(struct jsonrecycle *r, json_t *old, json_t *delta, const json_t *next)
{
    jsonrecycle_drop_objs(r);
    /* Those kept must lead to old, or no delta brings them to next. */
    if (r->next != old)
        jsonrecycle_drop_retired(r);
    r->next = NULL;
    if (old && (!delta || !next || old == next)) {
        jsonrecycle_drop_retired(r);
        json_decref(old);
        return;
    }
    if (!old)
        return;
    if (r->n_retired == JSONRECYCLE_RETIRED) { /* the oldest goes */
        json_decref(r->retired[0]);
        json_decref(r->delta[0]);
        memmove(r->retired, r->retired + 1, (JSONRECYCLE_RETIRED - 1) * sizeof(*r->retired));
        memmove(r->delta, r->delta + 1, (JSONRECYCLE_RETIRED - 1) * sizeof(*r->delta));
        r->n_retired--;
    }
    r->retired[r->n_retired] = old;
    r->delta[r->n_retired++] = json_incref(delta);
    r->next = next;
}

void jsonrecycle_reclaim(struct jsonrecycle *r)
{
    size_t i = r->n_retired;
    /* Held elsewhere too (a reply being written, the writer's dump):
     * reading its objects meanwhile is fine, changing them is not. */
    while (i > 0 && jsonrecycle_refs(r->retired[i - 1]) != 1)
        i--;
    if (i == 0) {
        if (r->n_retired)
            r->kept_busy++;
        return; /* every one held: kept for the next call */
    }
    json_t *old = r->retired[i - 1];
    /* Only this reference reaches the document now, so nothing can take a
     * new one on an object whose count is one. */
    for (size_t k = 0; k < JSONRECYCLE_KINDS && r->kinds[k]; k++) {
        json_t *o = json_object_get(old, r->kinds[k]);
        if (json_is_object(o) && jsonrecycle_refs(o) == 1)
            r->objs[k] = json_incref(o);
    }
    for (size_t d = i - 1; d < r->n_retired; d++)
        r->apply[r->n_apply++] = json_incref(r->delta[d]);
    r->have_objs = true;
    jsonrecycle_drop_retired(r); /* old's root and the values not kept; the others go */
}

/* Kind i's kept object brought to v's members (v: that kind in the
 * document the deltas lead to), or NULL when it cannot be: not kept, the
 * key set whole by a delta, or not as v after them (then dropped). */
static json_t *jsonrecycle_take(struct jsonrecycle *r, size_t i, const json_t *v)
{
    json_t *o = r->objs[i];
    r->objs[i] = NULL;
    if (!o)
        return NULL;
    const char *k = r->kinds[i];
    char err[256];
    bool ok = true;
    for (size_t d = 0; ok && d < r->n_apply; d++) {
        json_t *part = json_object_get(json_object_get(r->apply[d], "in"), k);
        ok = !json_object_get(json_object_get(r->apply[d], "put"), k) &&
             (!part || jsondelta_apply_members(o, part, err, sizeof(err)));
    }
    if (!ok || json_object_size(o) != json_object_size(v)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *jsonrecycle_copy(struct jsonrecycle *r, json_t *doc, const json_t *only)
{
    json_t *out = json_copy(doc);
    bool mine = r->have_objs && r->next == doc;
    for (size_t i = 0; out && i < JSONRECYCLE_KINDS && r->kinds[i]; i++) {
        json_t *v = json_object_get(out, r->kinds[i]);
        if (!json_is_object(v) || (only && !json_object_get(only, r->kinds[i])))
            continue; /* shared with doc */
        json_t *o = mine ? jsonrecycle_take(r, i, v) : NULL;
        if (o)
            r->reused++;
        else {
            o = json_copy(v);
            r->copied++;
        }
        json_object_set_new(out, r->kinds[i], o);
    }
    jsonrecycle_drop_objs(r); /* used, or kept for a document copied no more */
    return out;
}

bool jsonrecycle_ready(const struct jsonrecycle *r, const json_t *doc)
{
    return r->have_objs && r->next == doc;
}
