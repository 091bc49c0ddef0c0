/*
 * fleet_compat.c -- record formats and the fleet's write format: the
 * version-skew rule of rolling upgrades (fleet_compat.h; doc/fleet.md,
 * "Upgrading: version skew").
 */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "fleet/fleet_compat.h"
#include "fleet/fleet_int.h"
#include "health/override.h"
#include "health/shared_store.h"

int fleet_compat_announced(const json_t *v)
{
    json_t *fs = json_object_get(v, FLEET_FORMATS_KEY);
    json_t *hi = json_array_get(fs, 1);
    if (json_is_integer(hi) && json_integer_value(hi) > 0 && json_integer_value(hi) < 1000)
        return (int)json_integer_value(hi);
    json_t *fmt = json_object_get(v, FLEET_FORMAT_KEY);
    if (json_is_integer(fmt) && json_integer_value(fmt) > 0 && json_integer_value(fmt) < 1000)
        return (int)json_integer_value(fmt);
    json_t *lay = json_object_get(v, "layout");
    return json_is_integer(lay) && json_integer_value(lay) >= 2 ? FLEET_FORMAT_PREV : 1;
}

int fleet_compat_format_of(const int *newest, size_t n, size_t *lowest, bool *too_old)
{
    int w = FLEET_FORMAT_CUR;
    *lowest = n;
    *too_old = false;
    for (size_t i = 0; i < n; i++) {
        int m = newest[i] > 0 ? newest[i] : FLEET_FORMAT_PREV;
        *too_old |= m < FLEET_FORMAT_PREV;
        if (m < w) {
            w = m;
            *lowest = i;
        }
    }
    return w < FLEET_FORMAT_PREV ? FLEET_FORMAT_PREV : w;
}

/* The members counted, with their newest formats (0: not seen), into
 * names/newest (at most cap); returns how many. Fleet thread. */
static size_t fleet_compat_members(const struct fleet *f, const char **names, int *newest,
                                   size_t cap)
{
    size_t n = 0;
    if (f->p.keys.enabled) {
        for (size_t i = 0; i < f->p.keys.n && n < cap; i++) {
            const char *name = f->p.keys.members[i].name;
            if (strcmp(name, f->p.node) == 0)
                continue;
            int fmt = 0;
            for (size_t j = 0; j < f->n_nodes; j++)
                if (strcmp(f->nodes[j].name, name) == 0)
                    fmt = f->nodes[j].formats_hi;
            names[n] = name;
            newest[n++] = fmt;
        }
        return n;
    }
    for (size_t j = 0; j < f->n_nodes && n < cap; j++) {
        if (j == f->self || f->nodes[j].formats_hi == 0)
            continue; /* unsigned: the nodes seen are all there is to go by */
        names[n] = f->nodes[j].name;
        newest[n++] = f->nodes[j].formats_hi;
    }
    return n;
}

bool fleet_compat_update(struct fleet *f)
{
    /* Zeroed: the compiler cannot tell that only the first n are read. */
    const char *names[FLEET_NODES_MAX] = {0};
    int newest[FLEET_NODES_MAX] = {0};
    size_t n = fleet_compat_members(f, names, newest, FLEET_NODES_MAX);
    size_t lowest;
    bool too_old;
    int w = fleet_compat_format_of(newest, n, &lowest, &too_old);
    const char *skew_node = "";
    for (size_t i = 0; i < n && too_old && !skew_node[0]; i++)
        if (newest[i] > 0 && newest[i] < FLEET_FORMAT_PREV)
            skew_node = names[i];
    pthread_mutex_lock(&f->lock);
    int was = f->compat.write;
    bool was_skew = f->compat.skew;
    f->compat.write = w;
    snprintf(f->compat.held_by, sizeof(f->compat.held_by), "%s", lowest < n ? names[lowest] : "");
    f->compat.skew = too_old;
    snprintf(f->compat.skew_node, sizeof(f->compat.skew_node), "%s", skew_node);
    pthread_mutex_unlock(&f->lock);
    if (too_old && !was_skew)
        log_warn("event=fleet_skew node=%s member=%s oldest_read=%d note=\"a member older than "
                 "the release before this one is live: it refuses what this node writes; "
                 "upgrade it (doc/fleet.md, Upgrading: version skew)\"",
                 f->p.node, skew_node, FLEET_FORMAT_PREV);
    if (w == was)
        return false;
    log_info("event=fleet_format node=%s from=%d to=%d held_by=%s", f->p.node, was, w,
             lowest < n ? names[lowest] : "");
    return true;
}

int fleet_compat_write_format(const struct fleet *f)
{
    return f->compat.write ? f->compat.write : FLEET_FORMAT_PREV;
}

void fleet_compat_announce(json_t *rec)
{
    json_object_set_new(rec, FLEET_FORMATS_KEY,
                        json_pack("[i, i]", FLEET_FORMAT_PREV, FLEET_FORMAT_CUR));
}

void fleet_compat_stamp(json_t *rec, int w)
{
    if (w > FLEET_FORMAT_PREV)
        json_object_set_new(rec, FLEET_FORMAT_KEY, json_integer(w));
}

enum fleet_verdict fleet_compat_check(const json_t *v, bool required, char *why, size_t len)
{
    json_t *fmt = json_object_get(v, FLEET_FORMAT_KEY);
    if (!fmt) {
        if (!required)
            return FLEET_SIG_OK; /* the release before wrote it without one */
        snprintf(why, len,
                 "a record of a gtmd before format %d: nothing binds it to its life, so it cannot "
                 "be told from a replay",
                 FLEET_FORMAT_PREV);
        return FLEET_REJ_OLD_FORMAT;
    }
    if (!json_is_integer(fmt)) {
        snprintf(why, len, "record format is not a number (this gtmd reads formats %d to %d)",
                 FLEET_FORMAT_PREV, FLEET_FORMAT_READ_MAX);
        return FLEET_REJ_OLD_FORMAT;
    }
    json_int_t f = json_integer_value(fmt);
    if (f > FLEET_FORMAT_READ_MAX) {
        snprintf(why, len,
                 "record format %lld is newer than this gtmd reads (formats %d to %d, writes "
                 "up to %d): written by a gtmd more than one release newer; downgrading past one "
                 "release is not supported: run the newer gtmd on this node",
                 (long long)f, FLEET_FORMAT_PREV, FLEET_FORMAT_READ_MAX, FLEET_FORMAT_CUR);
        return FLEET_REJ_NEW_FORMAT;
    }
    if (f < FLEET_FORMAT_PREV) {
        snprintf(why, len, "record format %lld is older than this gtmd reads (formats %d to %d)",
                 (long long)f, FLEET_FORMAT_PREV, FLEET_FORMAT_READ_MAX);
        return FLEET_REJ_OLD_FORMAT;
    }
    return FLEET_SIG_OK;
}

void fleet_compat_drop_unknown(const char *kind, json_t *v)
{
    json_t *fmt = json_object_get(v, FLEET_FORMAT_KEY);
    if (strcmp(kind, "overrides") != 0 || !json_is_integer(fmt) ||
        json_integer_value(fmt) < FLEET_FORMAT_CUR)
        return;
    /* What the fleet adds to an override (fleet_store.c, fleet_life.c),
     * kept for the adoption and life checks that strip them. */
    static const char *const fleet_keys[] = {SHARED_STORE_ROLE, SHARED_STORE_FORCE,
                                             FLEET_FORMAT_KEY, FLEET_LIFE_BORN, NULL};
    json_t *keep = json_object();
    for (size_t i = 0; fleet_keys[i]; i++)
        if (json_object_get(v, fleet_keys[i]))
            json_object_set(keep, fleet_keys[i], json_object_get(v, fleet_keys[i]));
    override_keep_known(v);
    json_object_update(v, keep);
    json_decref(keep);
}

json_t *fleet_compat_view_locked(const struct fleet *f)
{
    return json_pack("{s:i, s:[i, i], s:i, s:s?, s:s?}", "write_format",
                     fleet_compat_write_format(f), "writes", FLEET_FORMAT_PREV, FLEET_FORMAT_CUR,
                     "reads_up_to", FLEET_FORMAT_READ_MAX, "held_by",
                     f->compat.held_by[0] ? f->compat.held_by : NULL, "skew",
                     f->compat.skew ? f->compat.skew_node : NULL);
}
