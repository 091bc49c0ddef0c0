/*
 * drill_int.h -- internals of the drill core shared by drill.c,
 * drill_json.c (the state-file restore) and drill_measure.c (which walks
 * the core's lists under its lock to update timelines). Not for use
 * outside src/drill.
 */
#ifndef GTM_DRILL_DRILL_INT_H
#define GTM_DRILL_DRILL_INT_H

#include "drill/drill.h"

/* Sets the drill byte of each of d's targets from the live drills in the
 * active list (caller holds c->lock). */
void drill_apply_bytes_locked(struct drill_core *c, const struct drill *d);
/* Moves d (not linked anywhere) to the history as ended at when (caller
 * holds c->lock); counts the result. */
void drill_retire_locked(struct drill_core *c, struct drill *d, enum drill_result result,
                         const char *why, double when);
/* Appends d (ended) at the old end of the history, for the restore, which
 * reads the file's history newest first (caller holds c->lock). */
void drill_history_append_locked(struct drill_core *c, struct drill *d);

#endif
