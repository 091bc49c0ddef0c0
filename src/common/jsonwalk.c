/*
 * jsonwalk.c -- members two JSON objects do not share (jsonwalk.h).
 *
 * Why the side-by-side walk is complete: a member of b is passed either
 * at the same step as the member of a with its name, or after a lookup
 * showed a lacks it; a member of a is passed at the same step as b's, or
 * after a lookup showed b lacks it. So once either walk ends, every member
 * the other has left is one only it holds. When both names at a step are
 * in the other object (a reordering), the rest is compared by lookups:
 * each remaining member of b against a, and the remaining members of a
 * that b lacks; none of them can have been passed before.
 */
#include "common/jsonwalk.h"

#include <stdbool.h>
#include <string.h>

struct jsonwalk {
    json_t *a, *b;
    jsonwalk_fn fn;
    void *arg;
    size_t calls;
};

static void jsonwalk_report(struct jsonwalk *w, const char *name, json_t *in_a, json_t *in_b)
{
    if (in_a == in_b)
        return;
    w->fn(name, in_a, in_b, w->arg);
    w->calls++;
}

/* The rest after a reordering: lookups from ia and ib on. */
static void jsonwalk_lookups(struct jsonwalk *w, void *ia, void *ib)
{
    for (; ib; ib = json_object_iter_next(w->b, ib)) {
        const char *k = json_object_iter_key(ib);
        jsonwalk_report(w, k, json_object_get(w->a, k), json_object_iter_value(ib));
    }
    for (; ia; ia = json_object_iter_next(w->a, ia)) {
        const char *k = json_object_iter_key(ia);
        if (!json_object_get(w->b, k))
            jsonwalk_report(w, k, json_object_iter_value(ia), NULL);
    }
}

size_t jsonwalk_changed(json_t *a, json_t *b, jsonwalk_fn fn, void *arg)
{
    struct jsonwalk w = {json_is_object(a) ? a : NULL, json_is_object(b) ? b : NULL, fn, arg, 0};
    if (w.a == w.b)
        return 0;
    void *ia = w.a ? json_object_iter(w.a) : NULL, *ib = w.b ? json_object_iter(w.b) : NULL;
    while (ia && ib) {
        const char *ka = json_object_iter_key(ia), *kb = json_object_iter_key(ib);
        json_t *va = json_object_iter_value(ia), *vb = json_object_iter_value(ib);
        if (ka == kb || strcmp(ka, kb) == 0) {
            jsonwalk_report(&w, kb, va, vb);
            ia = json_object_iter_next(w.a, ia);
            ib = json_object_iter_next(w.b, ib);
        } else if (!json_object_get(w.b, ka)) { /* dropped from b */
            jsonwalk_report(&w, ka, va, NULL);
            ia = json_object_iter_next(w.a, ia);
        } else if (!json_object_get(w.a, kb)) { /* new in b */
            jsonwalk_report(&w, kb, NULL, vb);
            ib = json_object_iter_next(w.b, ib);
        } else { /* both elsewhere in the other: the order differs */
            jsonwalk_lookups(&w, ia, ib);
            return w.calls;
        }
    }
    for (; ib; ib = json_object_iter_next(w.b, ib))
        jsonwalk_report(&w, json_object_iter_key(ib), NULL, json_object_iter_value(ib));
    for (; ia; ia = json_object_iter_next(w.a, ia))
        jsonwalk_report(&w, json_object_iter_key(ia), json_object_iter_value(ia), NULL);
    return w.calls;
}
