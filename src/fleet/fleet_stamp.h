/*
 * fleet_stamp.h -- the writer's stamps of the fleet's reports and
 * heartbeats (issue #54; doc/fleet.md "Decision model and simulator"):
 * building them into a record's value and reading them back, checked.
 *
 *   a report    {"s": STATE, "t": WHEN ITS PROBE RAN, "rrev": N, ...}
 *   a heartbeat {"t": WRITTEN, "as_of": A, "rrev": N, "pending": B, ...}
 *
 * "t" of a report is the writer's wall clock when the probe that gave the
 * state last ran (not when the report was written). "rrev" of a report is
 * its per-run sequence (1, 2, ... from the writer's start). A heartbeat's
 * as_of is the writer's wall clock its reports are all current to (the
 * earliest last run of its probes), rrev the sequence of its last
 * acknowledged report, pending whether a probe moved since (the heartbeat
 * then asserts nothing). A node that holds that writer's report rrev and
 * sees pending false knows its reports current as of as_of: the input of
 * the stamped rule (fleet_decide_stamped.h). Older nodes ignore the fields;
 * a heartbeat without them (an older writer) asserts nothing.
 *
 * Pure: no clock read, no lock, no I/O; jansson only. The caller owns every
 * json_t it passes.
 */
#ifndef GTM_FLEET_FLEET_STAMP_H
#define GTM_FLEET_FLEET_STAMP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Why a stamp was not taken (counted per reason; shown in status). */
enum fleet_stamp_why {
    FLEET_STAMP_OK = 0,
    FLEET_STAMP_ABSENT,  /* none of the fields: an older writer (not an error) */
    FLEET_STAMP_MISSING, /* some of them only */
    FLEET_STAMP_TYPE,    /* a field of the wrong JSON type */
    FLEET_STAMP_RANGE,   /* a number out of range (negative, huge, as_of after "t") */
    FLEET_STAMP_WHYS
};

/* A heartbeat's stamp; have false when none was taken. */
struct fleet_stamp_beat {
    bool have;
    double as_of;  /* the writer's wall clock, s */
    uint64_t rrev; /* its last acknowledged report's sequence (0: none yet) */
    bool pending;  /* its probe moved since that report */
};

/* The largest sequence taken: 2^53, what a JSON number holds exactly. */
#define FLEET_STAMP_RREV_MAX 9007199254740992ULL

/* as_of may be this far after the heartbeat's own "t" (clock resolution),
 * and at most FLEET_STAMP_AGE_MAX_S before it (a prober stopped longer says
 * nothing a stamp could use). */
#define FLEET_STAMP_AHEAD_S 1.0
#define FLEET_STAMP_AGE_MAX_S 86400.0

/* Adds as_of, rrev and pending to heartbeat v (b->have false: nothing). */
void fleet_stamp_beat_put(json_t *v, const struct fleet_stamp_beat *b);

/* Reads heartbeat v's stamp into *out (cleared unless FLEET_STAMP_OK). */
enum fleet_stamp_why fleet_stamp_beat_parse(const json_t *v, struct fleet_stamp_beat *out);

/* Adds report v's sequence "rrev". */
void fleet_stamp_report_put(json_t *v, uint64_t rrev);

/* Reads report v's "rrev" into *rrev (0 unless FLEET_STAMP_OK). */
enum fleet_stamp_why fleet_stamp_report_parse(const json_t *v, uint64_t *rrev);

/* The wall clock of a probe that ran at ran_ms (health_mono_ms), from the
 * monotonic and wall clocks read together now; 0 when it never ran. */
double fleet_stamp_probe_wall(int64_t ran_ms, int64_t now_ms, double now_wall);

/* "ok", "absent", "missing", "type", "range". */
const char *fleet_stamp_why_name(enum fleet_stamp_why why);

#endif
