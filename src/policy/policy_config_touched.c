/*
 * policy_config_touched.c -- the records of a change that says which it
 * touched (policy_reuse.touched), built without walking the document.
 *
 * Why: with the running set at hand, pc_records walked the new document's
 * records beside the running one's, member by member, to find the few a
 * change replaced: at 100,000 records that walk (two jansson iterators,
 * a name hashed and compared per member, each a cache miss) was a third
 * of a change's reload. When the daemon knows what the change touched
 * (the delta it journals), every record of another name is the running
 * set's as it is: one pass over the running set's array, in order, copies
 * those (pc_reuse_copy) and keeps room for a touched name that keeps as
 * many records (compiled there, so no other record moves: issue #55); the
 * other touched names still in the document are then compiled after them.
 * The set's order is then the document's but for those, which nothing
 * depends on (a record's index keys only its own set's tables; a later
 * walk that finds it out of step looks records up by name).
 *
 * Checked once the others are taken, in the same pass that finds them:
 * the document must hold as many names as the running set's untouched ones
 * plus the touched ones it has, or the change is not what it says: what
 * was taken is given back (pc_touched_undo) and the walk does it.
 */
#include <stdlib.h>
#include <string.h>

#include "common/bigalloc.h"
#include "policy/policy_config_int.h"

/* The touched names by their key hash (open addressing; slot: 1 + the
 * name's index in names). at[i]: where name i's records were placed by
 * pc_touched_take (SIZE_MAX: not placed, compiled after the others).
 * moved: a record taken from the running set landed at another index
 * (a name removed, resized or named in again before it), so the running
 * set's table of names does not fit the new set. */
struct pc_tset {
    const char **names;
    uint32_t *hash;
    uint32_t *slot;
    size_t *at;
    uint32_t mask;
    size_t n;
    bool moved;
};

static bool pc_tset_init(struct pc_tset *t, json_t *touched)
{
    size_t n = json_object_size(touched);
    uint32_t size = 16;
    while (size < 4 * n + 1)
        size *= 2;
    t->names = calloc(n ? n : 1, sizeof(*t->names));
    t->hash = calloc(n ? n : 1, sizeof(*t->hash));
    t->slot = calloc(size, sizeof(*t->slot));
    t->at = malloc((n ? n : 1) * sizeof(*t->at));
    t->mask = size - 1;
    t->n = 0;
    t->moved = false;
    if (!t->names || !t->hash || !t->slot || !t->at)
        abort();
    const char *name;
    json_t *x;
    json_object_foreach(touched, name, x)
    {
        uint32_t h = pc_name_hash(name), k = h & t->mask;
        while (t->slot[k])
            k = (k + 1) & t->mask;
        t->names[t->n] = name;
        t->hash[t->n] = h;
        t->at[t->n] = SIZE_MAX;
        t->slot[k] = (uint32_t)++t->n;
    }
    return true;
}

/* The index of name in t's names, or SIZE_MAX when it is not touched. */
static size_t pc_tset_find(const struct pc_tset *t, uint32_t h, const char *name)
{
    for (uint32_t k = h & t->mask; t->slot[k]; k = (k + 1) & t->mask) {
        uint32_t i = t->slot[k] - 1;
        if (t->hash[i] == h && strcmp(t->names[i], name) == 0)
            return i;
    }
    return SIZE_MAX;
}

static void pc_tset_free(struct pc_tset *t)
{
    free(t->names);
    free(t->hash);
    free(t->slot);
    free(t->at);
}

/* Keeps room at g's end for the n records of touched name x, which the
 * document still holds with as many (v: the document's records): they
 * are compiled there once the change adds up (pc_records_touched), so
 * every record after them keeps its index. The slots are zeroed (own
 * nothing) until then, so pc_touched_undo may drop them. */
static bool pc_touched_place(struct pc_tset *t, size_t x, size_t n, json_t *v, struct gslb *g)
{
    json_t *m = json_object_get(v, t->names[x]);
    if (!m || pc_member_size(m) != n)
        return false;
    t->at[x] = g->n_records;
    for (size_t k = 0; k < n; k++) {
        memset(gslb_rec_w(g, g->n_records + k), 0, sizeof(struct policy_record));
        g->from[g->n_records + k] = GSLB_COMPILED;
    }
    g->n_records += n;
    return true;
}

/* Takes every run of the running set whose name is not touched into g,
 * in order (pc_reuse_copy), in the same pass that finds them: a run whose
 * pool changed is named in again instead, a touched one whose name keeps
 * as many records has its room kept (pc_touched_place). So a change that
 * replaces records, adding and removing none, leaves every other record
 * at its index in the running set (g->from[i] == i), which is what lets
 * the loader share the running set's tables (serve_bind_share). How many
 * names were taken. */
static size_t pc_touched_take(struct pc_reuse *r, struct pc_tset *t, struct gslb *g, json_t *v,
                              json_t *again)
{
    const struct gslb *old = r->g;
    size_t kept = 0;
    for (size_t i = 0; i < old->n_records;) {
        if (g->n_records != i)
            t->moved = true;
        const struct policy_record *o = gslb_rec(old, i);
        size_t n = gslb_key_run(old, i), x = pc_tset_find(t, o->key_hash, o->name_str);
        if (x != SIZE_MAX)
            pc_touched_place(t, x, n, v, g);
        else {
            if (pc_reuse_pools_ok(r, i, n)) {
                pc_reuse_copy(r, i, n, g);
                kept++;
            } else
                json_object_set_new(again, o->name_str, json_true());
        }
        i += n;
    }
    if (g->n_records != old->n_records)
        t->moved = true; /* the last run not taken where it was */
    return kept;
}

/* Undoes pc_touched_take's copies (the change does not add up): g as it
 * was before (the records taken own nothing: gslb.carried). */
static void pc_touched_undo(struct gslb *g)
{
    gslb_records_free(g);
    free(g->from);
    g->from = NULL;
    g->from_g = NULL;
    g->n_records = g->n_reused = 0;
    g->n_located = g->n_ramped = g->n_loose = g->n_latency = g->n_shed = 0;
}

static int pc_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Where each touched name's records are in the running set (at[i], in
 * the touched object's order, len[i] of them), when the change replaces each in its room:
 * the name is in the document with as many records as its run there,
 * and the document has the running set's names (n_keys) and pools. False:
 * a name added, removed or resized, a pool changed, or the running set
 * has no table of names. */
static bool pc_inplace_runs(struct pc_reuse *r, json_t *v, size_t *at, size_t *len)
{
    /* The running set's table is made here, on the reload thread, the
     * only one that reads or writes it (policy_keys.c). */
    struct gslb *old = (struct gslb *)(uintptr_t)r->g;
    /* The pools as they were (pool_ok is made only when they are not):
     * a pool that gains a type binds its untouched names anew, which
     * the loader must check (load_attach_carried). */
    if (!old->counted || !old->n_keys || json_object_size(v) != old->n_keys || r->pool_ok)
        return false;
    struct gslb_keys *keys = gslb_keys_of(old);
    const char *name;
    json_t *x;
    size_t i = 0;
    json_object_foreach(r->touched, name, x)
    {
        json_t *m = json_object_get(v, name);
        at[i] = keys && m ? gslb_keys_find(keys, old, name, pc_name_hash(name)) : SIZE_MAX;
        if (at[i] == SIZE_MAX || (len[i] = gslb_key_run(old, at[i])) != pc_member_size(m))
            return false;
        i++;
    }
    return true;
}

/* The change built in place (policy.h, gslb.inplace): g shares every
 * chunk of the running set, and each touched name is compiled in its
 * room, its slots zeroed first (they own nothing until compiled: a record
 * that does not compile leaves its slot empty, and the set is dropped).
 * A change costs its records and the chunks they are in, not a pass over
 * every record (issue #55). False: not such a change (g untouched). */
static bool pc_records_inplace(const struct jsoncfg *j, json_t *v, struct gslb *g,
                               const char *const *origins, size_t n_origins,
                               const struct pc_defaults *def, struct pc_reuse *r, const char *path)
{
    const struct gslb *old = r->g;
    size_t n_t = json_object_size(r->touched), total = 0, i = 0;
    size_t *at = malloc((n_t ? n_t : 1) * sizeof(*at)),
           *len = malloc((n_t ? n_t : 1) * sizeof(*len));
    if (!at || !len)
        abort();
    if (!pc_inplace_runs(r, v, at, len)) {
        free(at);
        free(len);
        return false;
    }
    gslb_records_share_all(g, old);
    g->n_located = old->n_located;
    g->n_ramped = old->n_ramped;
    g->n_loose = old->n_loose;
    g->n_latency = old->n_latency;
    g->n_shed = old->n_shed;
    g->from_g = old;
    g->inplace = true;
    g->keys = gslb_keys_ref(old->keys);
    g->n_keys = old->n_keys;
    const char *name;
    json_t *x;
    for (i = 0; i < n_t; i++)
        total += len[i];
    g->redone = malloc((total ? total : 1) * sizeof(*g->redone));
    if (!g->redone)
        abort();
    i = 0;
    json_object_foreach(r->touched, name, x)
    {
        size_t end = g->n_records;
        for (size_t k = at[i]; k < at[i] + len[i]; k++) {
            gslb_uncount_record(g, gslb_rec(old, k));
            memset(gslb_rec_w(g, k), 0, sizeof(struct policy_record));
            g->redone[g->n_redone++] = (uint32_t)k;
        }
        g->n_records = at[i++];
        pc_compile_member(j, path, name, json_object_get(v, name), g, origins, n_origins, def);
        g->n_records = end;
    }
    qsort(g->redone, g->n_redone, sizeof(*g->redone), pc_u32_cmp);
    g->n_reused = g->n_records - g->n_redone;
    free(at);
    free(len);
    return true;
}

bool pc_records_touched(const struct jsoncfg *j, json_t *v, struct gslb *g,
                        const char *const *origins, size_t n_origins, const struct pc_defaults *def,
                        struct pc_reuse *r, const char *at)
{
    const struct gslb *old = r->g;
    /* A large change: the walk is as quick, and compiles the same. */
    if (json_object_size(r->touched) > old->n_records / 8 + 64)
        return false;
    if (pc_records_inplace(j, v, g, origins, n_origins, def, r, at))
        return true;
    struct pc_tset t;
    pc_tset_init(&t, r->touched);
    /* Room for every record of the running set and the touched names'
     * new ones: a name whose pool changed (again) is not touched, so its
     * value is the running one and its records are among the old. */
    size_t present = 0, total = old->n_records;
    json_t *rv, *again = json_object();
    if (!again)
        abort();
    for (size_t i = 0; i < t.n; i++)
        if ((rv = json_object_get(v, t.names[i]))) {
            present++;
            total += pc_member_size(rv);
        }
    gslb_records_init(g, total);
    g->from = calloc(total ? total : 1, sizeof(*g->from));
    if (!g->from)
        abort();
    g->from_g = old;
    size_t kept = pc_touched_take(r, &t, g, v, again);
    bool fits = json_object_size(v) == kept + present + json_object_size(again);
    if (!fits)
        pc_touched_undo(g);
    /* The first record of each name added after the others, for the
     * table of names (pc_keys_added). */
    uint32_t *firsts = malloc((t.n ? t.n : 1) * sizeof(*firsts));
    size_t n_firsts = 0;
    if (!firsts)
        abort();
    for (size_t i = 0; fits && i < t.n; i++) {
        if (!(rv = json_object_get(v, t.names[i])))
            continue;
        size_t end = g->n_records;
        if (t.at[i] != SIZE_MAX)
            g->n_records = t.at[i]; /* compiled into its room, then back to the end */
        pc_compile_member(j, at, t.names[i], rv, g, origins, n_origins, def);
        if (t.at[i] != SIZE_MAX)
            g->n_records = end;
        else if (g->n_records > end && end < UINT32_MAX)
            firsts[n_firsts++] = (uint32_t)end;
    }
    const char *name;
    json_object_foreach(again, name, rv)
    {
        json_t *m = fits ? json_object_get(v, name) : NULL;
        if (m)
            pc_compile_member(j, at, name, m, g, origins, n_origins, def);
    }
    /* Names only added: every other name is at its running index, so the
     * running set's table of names, copied with the new names in it, is
     * this set's (policy_keys.c), and the next change in place does not
     * walk a million records to make one (issue #55). */
    if (fits && !t.moved && json_object_size(again) == 0 && !g->keys)
        g->keys = gslb_keys_grown(old->keys, g, firsts, n_firsts);
    free(firsts);
    json_decref(again);
    pc_tset_free(&t);
    if (fits)
        g->n_keys = json_object_size(v);
    return fits;
}
