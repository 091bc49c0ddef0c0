/*
 * jsonrecycle.h -- the resource objects of a replaced document, kept to
 * become the next copy's, so that a version made from another by a change
 * of one record in 100,000 costs a step per record changed rather than a
 * copy and a free of a 100,000-member object (issue #38).
 *
 * A configuration version is made by copying the newest document's root
 * and its resource objects (records, pools, checks, regions), whose
 * members stay shared, and editing the copy (config_api.c; a fleet node
 * applies the version's delta to the copy, config_fleet.c). Once the next
 * version replaces the newest, the document it replaced is freed: its
 * resource objects (hash tables of every member) are freed a member at a
 * time, and the next change copies the new newest's again, a member at a
 * time. Both are walks of every resource.
 *
 * Here the replaced document is retired instead, with the delta that
 * turned it into its successor (jsondelta.h). Once nothing else holds it
 * (reference counts of one: a reader or the writer of config_store.c
 * that still does simply keeps it, and it is freed as before), its
 * resource objects are kept. The next copy of the successor then takes
 * them and applies the delta in place: they hold the successor's very
 * members again, as a copy would, and no other object was touched.
 *
 * A document is recognised by identity: the owner clears the recycler
 * whenever the document it copies from is replaced other than through
 * jsonrecycle_retire (a file read, a reload), so that a freed document's
 * address taken by another cannot pass for it.
 *
 * Threads: none of its own; the owner serialises every call (config_api's
 * lock). Reference counts are read atomically, as jansson changes them.
 * Ownership: the recycler owns what it keeps (jsonrecycle_clear frees
 * it); documents and deltas given are referenced, never changed; a copy
 * returned is the caller's.
 */
#ifndef GTM_COMMON_JSONRECYCLE_H
#define GTM_COMMON_JSONRECYCLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define JSONRECYCLE_KINDS 8
/* The nap between looks at a busy retired document (jsonrecycle.wait_us),
 * and the wait a member of the copy it spares is worth (a copy costs
 * 130-200 ns a member at 100,000). */
#define JSONRECYCLE_NAP_US 200
#define JSONRECYCLE_NS_PER_MEMBER 100
/* The wait for a holder that is not about to let go (jsonrecycle.soon). */
#define JSONRECYCLE_WAIT_OTHER_US 2000

struct jsonrecycle {
    const char *const *kinds; /* the resource keys copied (NULL-ended, at most 8); borrowed */
    /* Retired, not yet taken apart: the replaced document, the delta from
     * it to next, and next (borrowed, by identity). */
    json_t *retired, *delta;
    const json_t *next;
    /* Taken apart: the retired document's resource objects (NULL where
     * one was shared), the delta that brings them to `next`. */
    json_t *objs[JSONRECYCLE_KINDS];
    bool have_objs;
    /* Counts, for the owner's status and the tests. */
    unsigned long long reused, copied, kept_busy;
    unsigned long long late; /* busy at the reclaim, taken apart at the copy */
    /* A retired document still held elsewhere at its reclaim is kept for
     * the next copy (keep_busy), which waits up to wait_us for its other
     * holders to let it go; else it is let go at once. Not for a recycler
     * whose documents share their objects with another recycler's (a
     * fleet node's: config_fleet.c), which would then never get them. */
    bool keep_busy;
    unsigned wait_us;
    /* Whether the holder is one about to let go (the file writer listing
     * the members, config_store.c): asked while the copy waits; once it
     * says no, the copy waits at most JSONRECYCLE_WAIT_OTHER_US in all,
     * since another holder (a GET dumping the whole version, seconds at
     * 1,000,000 records) would only make every change behind it wait
     * wait_us for nothing. NULL: every holder is worth wait_us. Called
     * with the owner's serialisation held; must not block. */
    bool (*soon)(void *ctx);
    void *soon_ctx;
    unsigned long long waited_us; /* the copies' waits in all (naps slept) */
};

/* A recycler of the resource objects under kinds (zeroed first). */
void jsonrecycle_init(struct jsonrecycle *r, const char *const *kinds);
/* Drops everything kept (e.g. the document copied from was replaced
 * other than through jsonrecycle_retire). */
void jsonrecycle_clear(struct jsonrecycle *r);

/* old (a reference handed over) was replaced by next, delta turning old
 * into next (jsondelta_diff's). What was kept before is dropped. */
void jsonrecycle_retire(struct jsonrecycle *r, json_t *old, json_t *delta, const json_t *next);

/* The document the kept objects lead to (from) was replaced by next,
 * delta turning from into next: the objects are brought to next now, so
 * that the next copy of next takes them (a fleet node, whose replaced
 * documents share their objects with its fleet base and are never free
 * to take apart, keeps the objects of a change it made through versions
 * other nodes made since). False, nothing changed, when no objects are
 * kept for from; the caller then retires from as before. Kinds the delta
 * puts whole are dropped. */
bool jsonrecycle_advance(struct jsonrecycle *r, const json_t *from, json_t *delta,
                         const json_t *next);

/* copy (a reference handed over), an unused copy of doc made off the
 * owner's lock (jsonrecycle_copy_fresh), kept for the next copy of doc,
 * which takes it whole: retired with an empty delta to doc and taken
 * apart at once. What was kept before is dropped. The idle copies made
 * ahead of a change (config_api_edit.c, config_fleet.c) are kept so. */
void jsonrecycle_keep_copy(struct jsonrecycle *r, json_t *copy, const json_t *doc);

/* Takes the retired document apart when nothing else holds it or its
 * resource objects; else lets it go (its last holder frees it), or with
 * keep_busy keeps it retired, to be taken apart by the copy of the
 * document it leads to if its other holders let it go by then. Called
 * once the caller dropped its own other references (after a change). */
void jsonrecycle_reclaim(struct jsonrecycle *r);

/* A copy of doc to edit: a new root sharing doc's values, with a new
 * object for each of the kinds that is an object in doc (only: those of
 * them that are keys of only; NULL: all), sharing its members. Taken from
 * what was reclaimed when doc is the document it leads to; else copied.
 * What was reclaimed and not taken is dropped. NULL when out of memory. */
json_t *jsonrecycle_copy(struct jsonrecycle *r, json_t *doc, const json_t *only);

/* Whether a copy of doc would be taken from what was reclaimed (a
 * retired document busy at its reclaim and free now is taken apart
 * first). */
bool jsonrecycle_ready(struct jsonrecycle *r, const json_t *doc);

/* A copy of doc with new objects for kinds (NULL-ended; their members
 * shared), made without a recycler: what jsonrecycle_copy makes when it
 * has nothing to take. Only reads doc, so any thread may make it while
 * the owner's lock is not held, as long as doc is not changed meanwhile
 * (a document installed never is: jsonrecycle.h). The caller's; NULL when
 * out of memory. */
json_t *jsonrecycle_copy_fresh(const char *const *kinds, json_t *doc);

/* doc (a reference handed over) let go for a copy of it whose objects one
 * level down are the copy's own (their members shared), which is returned
 * (the caller's; NULL when out of memory, doc let go all the same).
 *
 * Why not jsonrecycle_copy_fresh: a reader that copies a document it does
 * not own (the file writer of config_store.c) holds it for the copy, and
 * the owner's next copy but one finds it busy and copies every member
 * itself (jsonrecycle_late waits a few milliseconds only): at 1,000,000
 * records the writer's json_copy took 0.6-0.8 s, and the change that
 * found the document busy as long, every change queued behind it
 * (sustain_bench.py, issue #55). Here doc is held only while the members
 * of its objects are listed (their keys copied into one buffer, their
 * values referenced: no allocation a member), and the copy's objects are
 * built from the list after doc is let go. Any thread; doc must not be
 * changed meanwhile (an installed document never is). gone(arg), when
 * gone is not NULL, is called right after doc is let go (before the copy
 * is built): for whoever waits for that (config_store_let_go). */
json_t *jsonrecycle_detach(json_t *doc, void (*gone)(void *arg), void *arg);

#endif
