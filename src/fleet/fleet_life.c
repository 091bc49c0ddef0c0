/*
 * fleet_life.c -- every signed record bound to its life, so that a record
 * deleted or superseded is never applied again (doc/fleet.md, "Members and
 * signatures"; doc/security.md). A signature says who wrote a record; this
 * says that it is the record its key holds now, not one put back.
 *
 * Overrides and drills (records of format 2 and on, "format": N) are written
 * twice: the create transaction puts the record (signed, without "born"),
 * and once etcd has given its key a create revision R, the writer seals
 * it: a second put, on the condition that the key's create and mod
 * revisions are still R, of the record with "born": R, signed again. A
 * node applies an override or drill only when its signed "born" is the
 * create revision of the key it is read from. etcd never hands out a
 * revision twice, so a record deleted (or its key deleted and created
 * again, or an older value put over a newer one) can never be read at a
 * key whose create revision is its "born": put back, it is refused as a
 * replay, on a node that saw it go as on one that starts afterwards,
 * without tombstones or memory. A record without "born" is one whose
 * seal has not arrived yet: absent (not counted). A record without
 * "format" was written by a gtmd before format 2 and cannot be told from a
 * replay: refused (old_format); one of a format this release does not
 * read, as fleet_compat_check says.
 *
 * A member's node record is sealed the same way ("born": the create
 * revision of nodes/NODE, which lives as long as the member's lease): a
 * lease id can be granted again by any etcd client once it ended, and a
 * gone member's records put back on it are refused, its reports with them.
 *
 * Reports, node records, heartbeats and round-trip tables are rewritten
 * in place on the member's lease: each carries, signed, "n", a number that
 * grows with every record the member signs in its run. One of a lease
 * whose "n" is lower than the one applied here for that key is
 * superseded: refused (replay); the member's own node, seeing its report
 * (or table) put back, writes it again.
 *
 * All of it applies with "members" only: without signatures a writer of
 * the prefix writes what it likes, "born" included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/fleet_int.h"
#include "fleet/fleet_params.h"

enum fleet_verdict fleet_life_record(const struct fleet *f, const json_t *v, int64_t create_rev,
                                     bool *pending, char *why, size_t len)
{
    *pending = false;
    if (!f->p.keys.enabled)
        return FLEET_SIG_OK;
    enum fleet_verdict vd = fleet_compat_check(v, true, why, len);
    if (vd != FLEET_SIG_OK)
        return vd;
    json_t *born = json_object_get(v, FLEET_LIFE_BORN);
    if (!born) {
        *pending = true; /* created, not sealed yet */
        return FLEET_SIG_OK;
    }
    if (!json_is_integer(born) || json_integer_value(born) != create_rev) {
        snprintf(why, len,
                 "signed for the key created at revision %lld, read at a key created at %lld: "
                 "deleted or superseded, and put back",
                 json_is_integer(born) ? (long long)json_integer_value(born) : -1LL,
                 (long long)create_rev);
        return FLEET_REJ_REPLAY;
    }
    return FLEET_SIG_OK;
}

json_t *fleet_life_seal(struct fleet *f, const char *key, const json_t *record, int64_t rev)
{
    json_t *s = json_deep_copy(record);
    if (!s)
        abort();
    json_object_del(s, "sig");
    json_object_del(s, "signer");
    json_object_set_new(s, FLEET_LIFE_BORN, json_integer((json_int_t)rev));
    fleet_sign(&f->p.keys, key, s);
    return s;
}

void fleet_life_strip(json_t *v)
{
    json_object_del(v, FLEET_LIFE_FORMAT);
    json_object_del(v, FLEET_LIFE_BORN);
}

uint64_t fleet_life_n(const json_t *v)
{
    json_t *n = json_object_get(v, FLEET_LIFE_N);
    return json_is_integer(n) && json_integer_value(n) > 0 ? (uint64_t)json_integer_value(n) : 0;
}

bool fleet_life_own_replayed(const struct fleet *f, const json_t *v, bool bulk, uint64_t *seen_n)
{
    uint64_t n = f->p.keys.enabled ? fleet_life_n(v) : 0;
    bool replayed = n && !bulk && n < *seen_n;
    if (n > *seen_n)
        *seen_n = n;
    return replayed;
}

bool fleet_life_report_replayed(struct fleet *f, const struct fleet_ep *ep, uint16_t node,
                                const json_t *v, int64_t lease, int64_t mod_rev, bool *stale)
{
    *stale = false;
    if (!f->p.keys.enabled || !v)
        return false;
    uint64_t n = fleet_life_n(v);
    bool replayed = false;
    pthread_mutex_lock(&f->lock);
    const struct fleet_obs *o = ep->obs;
    while (o && o->node != node)
        o = o->next;
    if (o && o->lease == lease) {
        /* An event older than the one applied (a watch restarted from an
         * older revision) is stale, not a replay: a replay is a new put. */
        *stale = mod_rev <= o->mod_rev;
        replayed = !*stale && n < o->n;
    }
    pthread_mutex_unlock(&f->lock);
    return replayed;
}

void fleet_life_report_kept(struct fleet *f, struct fleet_ep *ep, uint16_t node, const json_t *v,
                            int64_t lease, int64_t mod_rev)
{
    pthread_mutex_lock(&f->lock);
    struct fleet_obs *o = ep->obs;
    while (o && o->node != node)
        o = o->next;
    if (o) {
        o->lease = lease;
        o->mod_rev = mod_rev;
        o->n = fleet_life_n(v);
    }
    pthread_mutex_unlock(&f->lock);
}

bool fleet_life_member_fresh(struct fleet *f, const char *key, const char *rest, const json_t *v,
                             int64_t lease, int64_t mod_rev, bool bulk)
{
    unsigned which = strncmp(rest, "nodes/", 6) == 0  ? FLEET_STAMP_NODE
                     : strncmp(rest, "beat/", 5) == 0 ? FLEET_STAMP_BEAT
                     : strncmp(rest, "rtt/", 4) == 0  ? FLEET_STAMP_RTT
                                                      : FLEET_STAMPS;
    const char *name = which == FLEET_STAMPS ? NULL : strchr(rest, '/') + 1;
    if (!f->p.keys.enabled || !name || !fleet_node_name_ok(name))
        return true;
    uint16_t idx = fleet_node_get(f, name);
    if (idx == FLEET_NODE_NONE || idx == f->self)
        return true;
    struct fleet_stamp *s = &f->nodes[idx].stamps[which];
    uint64_t n = fleet_life_n(v);
    if (s->lease == lease && mod_rev <= s->rev)
        return bulk; /* delivered again: applied already (a fresh read applies it anew) */
    if (s->lease == lease && n < s->n) {
        fleet_reject(f, key, FLEET_REJ_REPLAY, name,
                     "an older record of the member's lease than the one applied here");
        return false;
    }
    *s = (struct fleet_stamp){.lease = lease, .rev = mod_rev, .n = n};
    return true;
}

json_t *fleet_report_put_op(struct fleet *f, const char *key, json_t *v, uint64_t *pub_n,
                            size_t *bytes)
{
    fleet_compat_stamp(v, fleet_compat_write_format(f));
    *pub_n = fleet_sign_on_lease(f, key, v);
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (bytes)
        *bytes += strlen(text) * 4 / 3 + 4; /* base64 */
    json_t *op = json_pack("{s:{s:o, s:o, s:I}}", "request_put", "key", fleet_b64s(key), "value",
                           fleet_b64s(text), "lease", (json_int_t)f->lease);
    free(text);
    return op;
}
