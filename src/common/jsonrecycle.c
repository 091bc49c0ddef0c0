/*
 * jsonrecycle.c -- resource objects of a replaced document reused for the
 * next copy (jsonrecycle.h).
 */
#include "common/jsonrecycle.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    r->have_objs = false;
}

void jsonrecycle_clear(struct jsonrecycle *r)
{
    jsonrecycle_drop_objs(r);
    json_decref(r->retired);
    json_decref(r->delta);
    r->retired = r->delta = NULL;
    r->next = NULL;
}

void jsonrecycle_retire(struct jsonrecycle *r, json_t *old, json_t *delta, const json_t *next)
{
    jsonrecycle_clear(r);
    if (old && (!delta || !next || old == next)) {
        json_decref(old);
        return;
    }
    r->retired = old;
    r->delta = old ? json_incref(delta) : NULL;
    r->next = old ? next : NULL;
}

void jsonrecycle_reclaim(struct jsonrecycle *r)
{
    json_t *old = r->retired;
    if (!old)
        return;
    /* Held elsewhere too (a reply being written, the writer's copy for its
     * dump, config_store.c): with keep_busy, left retired and tried again
     * when the document it leads to is copied (jsonrecycle_late): the
     * writer lets it go within milliseconds, and the next change, which
     * would otherwise copy 100,000 members, takes it then. Reading its
     * objects meanwhile is fine, changing them is not. */
    if (jsonrecycle_refs(old) != 1) {
        r->kept_busy++;
        if (!r->keep_busy) { /* its last holder frees it */
            r->retired = NULL;
            json_decref(old);
        }
        return;
    }
    r->retired = NULL;
    /* Only this reference reaches the document now, so nothing can take a
     * new one on an object whose count is one. */
    for (size_t i = 0; i < JSONRECYCLE_KINDS && r->kinds[i]; i++) {
        json_t *o = json_object_get(old, r->kinds[i]);
        if (json_is_object(o) && jsonrecycle_refs(o) == 1)
            r->objs[i] = json_incref(o);
    }
    r->have_objs = true;
    json_decref(old); /* its root and the values not kept */
}

void jsonrecycle_keep_copy(struct jsonrecycle *r, json_t *copy, const json_t *doc)
{
    /* An empty delta, not one found by comparing copy with doc: they hold
     * the same members by construction, and the comparison walked all of
     * them (1,000,000 records: 20-50 ms under the owner's lock). */
    json_t *none = json_object();
    if (!none)
        abort();
    jsonrecycle_retire(r, copy, none, doc);
    json_decref(none);
    jsonrecycle_reclaim(r);
}

/* Kind k's object o brought on by delta d in place; false when it
 * cannot be (the key put whole, or a member missing). */
static bool jsonrecycle_apply(json_t *o, const json_t *d, const char *k)
{
    json_t *part = json_object_get(json_object_get(d, "in"), k);
    char err[256];
    return !json_object_get(json_object_get(d, "put"), k) &&
           (!part || jsondelta_apply_members(o, part, err, sizeof(err)));
}

/* Kind i's kept object brought to v's members (v: that kind in the
 * document the delta leads to), or NULL when it cannot be: not kept, the
 * key set whole by the delta, or not as v after it (then dropped). */
static json_t *jsonrecycle_take(struct jsonrecycle *r, size_t i, const json_t *v)
{
    json_t *o = r->objs[i];
    r->objs[i] = NULL;
    if (!o)
        return NULL;
    if (!jsonrecycle_apply(o, r->delta, r->kinds[i]) ||
        json_object_size(o) != json_object_size(v)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

bool jsonrecycle_advance(struct jsonrecycle *r, const json_t *from, json_t *delta,
                         const json_t *next)
{
    if (!r->have_objs || !from || r->next != from || !delta || !next || from == next)
        return false;
    for (size_t i = 0; i < JSONRECYCLE_KINDS && r->kinds[i]; i++) {
        json_t *o = r->objs[i];
        /* Changed in place only when this is its last reference (kept at
         * the reclaim as a last one, it stays so: a guard, not a case). */
        if (o && !(jsonrecycle_refs(o) == 1 && jsonrecycle_apply(o, r->delta, r->kinds[i]) &&
                   jsonrecycle_apply(o, delta, r->kinds[i]))) {
            json_decref(o);
            r->objs[i] = NULL;
        }
    }
    /* Both applied: nothing is left to bring them to next. */
    json_decref(r->delta);
    r->delta = json_object();
    r->next = next;
    return true;
}

/* The retired document that was busy at its reclaim, taken apart now if
 * nothing else holds it any more and doc is the document it leads to. */
static void jsonrecycle_late(struct jsonrecycle *r, const json_t *doc)
{
    if (r->have_objs || !r->retired || r->next != doc)
        return;
    /* Its holder is most likely the writer listing its members
     * (config_store.c), tens of milliseconds: this thread sleeps for it
     * rather than copy every member itself, up to wait_us and less than
     * the copy would take (JSONRECYCLE_NS_PER_MEMBER: no wait for a small
     * one); for another holder (r->soon says no) a moment only. */
    size_t members = 0;
    for (size_t i = 0; i < JSONRECYCLE_KINDS && r->kinds[i]; i++)
        members += json_object_size(json_object_get(doc, r->kinds[i]));
    double worth = (double)members * JSONRECYCLE_NS_PER_MEMBER / 1000.0;
    unsigned limit = worth < r->wait_us ? (unsigned)worth : r->wait_us;
    struct timespec nap = {0, JSONRECYCLE_NAP_US * 1000L};
    for (unsigned waited = 0;
         jsonrecycle_refs(r->retired) != 1 && waited + JSONRECYCLE_NAP_US <= limit;
         waited += JSONRECYCLE_NAP_US) {
        if (r->soon && limit > JSONRECYCLE_WAIT_OTHER_US && !r->soon(r->soon_ctx))
            limit = JSONRECYCLE_WAIT_OTHER_US; /* not the writer's listing */
        if (waited + JSONRECYCLE_NAP_US > limit)
            break;
        nanosleep(&nap, NULL);
        r->waited_us += JSONRECYCLE_NAP_US;
    }
    if (jsonrecycle_refs(r->retired) == 1) {
        r->late++;
        jsonrecycle_reclaim(r);
    }
}

json_t *jsonrecycle_copy(struct jsonrecycle *r, json_t *doc, const json_t *only)
{
    jsonrecycle_late(r, doc);
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

bool jsonrecycle_ready(struct jsonrecycle *r, const json_t *doc)
{
    jsonrecycle_late(r, doc);
    return r->have_objs && r->next == doc;
}

json_t *jsonrecycle_copy_fresh(const char *const *kinds, json_t *doc)
{
    json_t *out = json_copy(doc);
    for (size_t i = 0; out && i < JSONRECYCLE_KINDS && kinds[i]; i++) {
        json_t *v = json_object_get(out, kinds[i]);
        if (!json_is_object(v))
            continue;
        json_t *o = json_copy(v);
        if (!o) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, kinds[i], o);
    }
    return out;
}

/* The members of one object, listed: keys (their octets in keys, at key,
 * len long) and values (a reference each). Owned by the detach. */
struct jsonrecycle_member {
    size_t key, len;
    json_t *v;
};
struct jsonrecycle_list {
    struct jsonrecycle_member *m;
    size_t n;
    char *keys;
    size_t kn, kcap;
};

/* The members of o listed into l (values referenced); false when out of
 * memory (what was listed stays l's). */
static bool jsonrecycle_list(struct jsonrecycle_list *l, json_t *o)
{
    size_t n = json_object_size(o);
    l->m = malloc((n ? n : 1) * sizeof(*l->m));
    if (!l->m)
        return false;
    for (void *it = json_object_iter(o); it && l->n < n; it = json_object_iter_next(o, it)) {
        size_t len = json_object_iter_key_len(it);
        if (l->kn + len + 1 > l->kcap) {
            size_t cap = l->kcap ? l->kcap : 4096;
            while (cap < l->kn + len + 1)
                cap *= 2;
            char *k = realloc(l->keys, cap);
            if (!k)
                return false;
            l->keys = k;
            l->kcap = cap;
        }
        memcpy(l->keys + l->kn, json_object_iter_key(it), len);
        l->keys[l->kn + len] = '\0';
        l->m[l->n++] =
            (struct jsonrecycle_member){l->kn, len, json_incref(json_object_iter_value(it))};
        l->kn += len + 1;
    }
    return true;
}

/* l's references let go and its memory freed. */
static void jsonrecycle_unlist(struct jsonrecycle_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        json_decref(l->m[i].v);
    free(l->m);
    free(l->keys);
    *l = (struct jsonrecycle_list){0};
}

/* o (empty) filled from l, whose references it takes; l is emptied. */
static bool jsonrecycle_fill(json_t *o, struct jsonrecycle_list *l)
{
    bool ok = true;
    for (size_t i = 0; i < l->n; i++) {
        struct jsonrecycle_member *m = &l->m[i];
        /* Keys come from an object: no check needed (nor made by json_copy).
         * A failed set lets go of the value it was given. */
        if (ok)
            ok = json_object_setn_new_nocheck(o, l->keys + m->key, m->len, m->v) == 0;
        else
            json_decref(m->v);
    }
    l->n = 0;
    jsonrecycle_unlist(l);
    return ok;
}

/* The members of c's objects listed into lists (one per member of c, in
 * order; m is NULL for a member that is no object) and each such object
 * of c replaced by an empty one of its own; false when out of memory. */
static bool jsonrecycle_list_all(json_t *c, struct jsonrecycle_list *lists)
{
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(c, k, v)
    {
        if (json_is_object(v)) {
            if (!jsonrecycle_list(&lists[i], v))
                return false;
            /* The value of a key set again: the order and the iteration
             * are kept (the same pair). A failed set lets go of e. */
            json_t *e = json_object();
            if (!e || json_object_set_new(c, k, e) != 0)
                return false;
        }
        i++;
    }
    return true;
}

json_t *jsonrecycle_detach(json_t *doc, void (*gone)(void *arg), void *arg)
{
    json_t *c = doc ? json_copy(doc) : NULL; /* its root: members shared */
    size_t n = json_object_size(c);
    struct jsonrecycle_list *lists = c ? calloc(n ? n : 1, sizeof(*lists)) : NULL;
    /* Listed while doc is held, and the copy's root made to hold empty
     * objects of its own before doc goes: nothing of the copy may keep one
     * of doc's objects, which the owner changes in place once doc is its
     * alone (jsonrecycle_reclaim). */
    bool ok = lists && jsonrecycle_list_all(c, lists);
    if (!ok) {
        for (size_t i = 0; lists && i < n; i++)
            jsonrecycle_unlist(&lists[i]);
        free(lists);
        json_decref(c); /* before doc: it may still hold doc's objects */
        json_decref(doc);
        if (gone)
            gone(arg);
        return NULL;
    }
    json_decref(doc);
    if (gone)
        gone(arg);
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(c, k, v)
    {
        if (lists[i].m && !jsonrecycle_fill(v, &lists[i]))
            ok = false;
        i++;
    }
    free(lists);
    if (!ok) {
        json_decref(c);
        return NULL;
    }
    return c;
}
