/*
 * fleet_compat.h -- record formats and the version-skew rule of a fleet
 * (doc/fleet.md, "Upgrading: version skew"): what lets a fleet be
 * upgraded one node at a time while it answers.
 *
 * Every record a node writes in etcd carries, or will carry once the
 * whole fleet reads it, "format": F. A release writes formats
 * FLEET_FORMAT_PREV (the release before's) and FLEET_FORMAT_CUR (its
 * own), and reads those and FLEET_FORMAT_READ_MAX (the next release's,
 * unknown fields ignored: a rolled-back node reads what the newer release
 * wrote). Its node record announces, in "formats": [oldest, newest], the
 * formats it writes and reads fully.
 *
 * The fleet's write format (the way etcd's cluster version works) is the
 * lowest newest format any member announced: a new node writes what the
 * oldest member reads until every member is upgraded. With "members" the
 * members are the configured ones, and one whose node record this node has
 * not seen in this run counts as the release before (a member that is
 * down while the others are upgraded holds the fleet back, rather than
 * meeting records it refuses when it comes back). Without "members" they
 * are the nodes whose node records this node has seen. An announcement is
 * remembered after its node goes, so the format never moves up because
 * the last old node stopped for a moment.
 *
 * While the write format is FLEET_FORMAT_PREV this release writes exactly
 * the records the release before accepts (that release refuses fields it
 * does not know in overrides, and a "format" other than 2): overrides,
 * drills and node records with "format": 2, reports, heartbeats, round-
 * trip tables and configuration records without "format", as it did; the
 * node record's "formats" is a field the release before reads past. The
 * signature covers the record as written, whatever fields it has.
 *
 * A record of a format beyond what this release reads (a newer release
 * two or more ahead: a downgrade past the rule) is refused (new_format),
 * counted and logged with both formats named; one of a format before the
 * release before is refused as old_format.
 *
 * Ownership: nothing here allocates except fleet_compat_view_locked (a new
 * reference for the caller). Thread use: fleet_compat_update runs on the
 * fleet thread and writes f->compat under f->lock; fleet_compat_write_format
 * reads it (fleet thread, or any thread holding f->lock).
 */
#ifndef GTM_FLEET_FLEET_COMPAT_H
#define GTM_FLEET_FLEET_COMPAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "fleet/fleet_sign.h"

/* The record's format field, and the node record's announcement. */
#define FLEET_FORMAT_KEY "format"
#define FLEET_FORMATS_KEY "formats"

/* Format 2: gtmd at commit 6de6f80 (tests/data/previous-release), which
 * reads only format 2 and refuses fields it does not know in overrides.
 * Format 3: this release: node records announce "formats", readers ignore
 * fields they do not know, and every record carries "format". */
#define FLEET_FORMAT_PREV 2
#define FLEET_FORMAT_CUR 3
/* The next release's records are read too, fields not known here ignored:
 * a release may add to format CUR+1 only fields whose absence a CUR reader
 * may ignore without a wrong answer (anything else takes a format beyond
 * this window, which is refused rather than misread). */
#define FLEET_FORMAT_READ_MAX (FLEET_FORMAT_CUR + 1)

struct fleet;

/* What this node knows of the fleet's formats (in struct fleet, (L)). */
struct fleet_compat {
    int write;          /* the format written now: FLEET_FORMAT_PREV..CUR */
    char held_by[64];   /* the member whose format it is, "" when CUR */
    bool skew;          /* a member announced less than FLEET_FORMAT_PREV */
    char skew_node[64]; /* which */
};

/* The newest format the node record v announces: "formats"[1]; for a node
 * record of the release before (no "formats"), its "format" (2), or by its
 * key layout ("layout" 2: 2; none: 1). */
int fleet_compat_announced(const json_t *v);

/*
 * The write format for members whose newest formats are newest[0..n-1] (0:
 * not known, counted as FLEET_FORMAT_PREV): the lowest of them and
 * FLEET_FORMAT_CUR, never below FLEET_FORMAT_PREV (this release writes
 * nothing older). *lowest gets the index of the member that sets it (n when
 * none does: every one announced CUR or more); *too_old whether any member
 * announced less than FLEET_FORMAT_PREV (skew beyond the rule: it refuses
 * what this node writes).
 */
int fleet_compat_format_of(const int *newest, size_t n, size_t *lowest, bool *too_old);

/* Recomputes f->compat from the members' node records seen (fleet thread;
 * takes f->lock). Returns true when the write format changed (logged as
 * event=fleet_format): the caller puts its node record again. */
bool fleet_compat_update(struct fleet *f);

/* The format to write records in now (fleet thread, or under f->lock).
 * Gate any new record, field or key layout on it: write it only when this
 * returns at least the format that introduced it. */
int fleet_compat_write_format(const struct fleet *f);

/* Adds "formats": [FLEET_FORMAT_PREV, FLEET_FORMAT_CUR] to this node's
 * node record rec. */
void fleet_compat_announce(json_t *rec);

/* Sets "format": w in rec, a record of a kind the release before wrote
 * without one (reports, heartbeats, round-trip tables, configuration
 * records), only when w > FLEET_FORMAT_PREV: at PREV such records are
 * written as that release wrote them. */
void fleet_compat_stamp(json_t *rec, int w);

/*
 * Whether record v's format can be read here: FLEET_SIG_OK, or
 * FLEET_REJ_OLD_FORMAT / FLEET_REJ_NEW_FORMAT with why (both formats
 * named). required: a record that must carry "format" (with "members":
 * node records, overrides and drills, whose format binds them to their
 * life); otherwise a record without one is the release before's.
 */
enum fleet_verdict fleet_compat_check(const json_t *v, bool required, char *why, size_t len);

/*
 * Removes from v, an override or drill of kind ("overrides", "drills") read
 * from etcd (signature checked), the fields this release does not know,
 * when v says it is of format FLEET_FORMAT_CUR or later: its writer follows
 * the rule that fields added within the window may be ignored. A record of
 * the release before (format 2, or none) is left whole: that release wrote
 * only fields this one knows, so an unknown field there is refused as
 * before ("unknown key": an override with a field such as "percent" must
 * never be applied in full by a node that does not know it). A drill's
 * unknown top-level fields were always ignored (its saved form is read
 * field by field).
 */
void fleet_compat_drop_unknown(const char *kind, json_t *v);

/* {"write_format", "writes": [oldest, newest], "reads_up_to", "held_by",
 * "skew"} for
 * /v1/status (caller holds f->lock): a new reference. */
json_t *fleet_compat_view_locked(const struct fleet *f);

#endif
