/*
 * drill_timeline.h -- the recovery timeline of a drill, measured on the
 * answers gtmd really serves (doc/drills.md, "Reading the timeline").
 *
 * For every policy record whose answer the drill changes (the affected
 * records, at most DRILL_TIMELINE_RECORDS), a timeline keeps:
 *
 *  - when the first answer avoiding the lost targets was served, and when
 *    each record had one: the last of these, minus the start, is the
 *    DNS-layer RTO; the records' largest TTL is how long resolvers may
 *    still hand out old answers (RTO + TTL is what users see at worst);
 *  - how many answers came from a lost target after the start: those of
 *    a lost region (or, with when_all_down "all", of no serving region),
 *    by the workers' own counters -- all clients for a live drill, canary
 *    clients for a scoped one; 0 is the expected value;
 *  - the end, and the restore timed the same way: when each record first
 *    answered from the targets again.
 *
 * Two sources feed it. The workers' per-record, per-region counters
 * (serve_counters.h), read from the serve core (serve_policy_id,
 * serve_sum_id; the drill module stands above serve): baselines
 * are taken in the drill core right after the change is visible to every
 * worker (serve_sync), and the drill thread samples them every few
 * milliseconds during the transition. And gtmd's own queries: the drill
 * thread asks its own listener for every affected record (with an ECS
 * option inside the canary for a scoped drill) every few milliseconds
 * during the transition, bounded (drill_measure.h), and checks each
 * answer against the lost targets' addresses.
 *
 * Counters are by serving region: a target az has no column of its own,
 * so answers from a lost az are seen by gtmd's own queries only.
 *
 * Ownership: a timeline belongs to its drill's report (drill_timeline_free
 * with the drill); it owns its records and strings. Everything here is
 * called under the drill core's lock, except drill_timeline_new.
 */
#ifndef GTM_DRILL_DRILL_TIMELINE_H
#define GTM_DRILL_DRILL_TIMELINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drill/drill_plan.h"
#include "drill/drill_spec.h"
#include "policy/policy.h"
#include "serve/serve.h"

#define DRILL_TIMELINE_RECORDS 64 /* records measured per drill; the rest are counted */
#define DRILL_TIMELINE_WINDOW 2.0 /* seconds of transition measured after a start or an end */
#define DRILL_COUNTER_NONE SERVE_NO_ID
#define DRILL_TIMELINE_POINTS 240   /* points of the answers series */
#define DRILL_TIMELINE_POINT_S 0.05 /* their first spacing, doubled each time it fills */

/* One region's answers of a record (or answers with no serving region). */
struct drill_tl_column {
    char *region;      /* NULL: no serving region */
    bool lost;         /* answers counted here came from a lost target */
    uint32_t id;       /* DRILL_COUNTER_NONE until known */
    uint64_t base;     /* at the start, or when counting resumed after a restart */
    uint64_t end_base; /* at the end, before the targets came back */
};

struct drill_tl_record {
    char *name;
    uint16_t rtype;
    uint32_t ttl;
    struct drill_tl_column *cols;
    size_t n_cols;
    double avoided;        /* first answer avoiding the lost targets (0: none seen) */
    double restored;       /* first answer from them again after the end (0: none) */
    uint64_t lost_before;  /* lost answers counted before a restart */
    uint64_t lost;         /* lost answers since the last baseline */
    uint64_t answers;      /* answers counted since the start (this run of gtmd) */
    uint32_t self_queries; /* gtmd's own queries answered */
    uint32_t self_lost;    /* of them, answered from a lost target after the start */
};

/* The affected records' answers and lost answers summed, counted since
 * the start, at one sample. */
struct drill_tl_point {
    double t;
    uint64_t answers;
    uint64_t lost;
};

enum drill_tl_phase {
    DRILL_TL_START = 0, /* the transition after the start is measured */
    DRILL_TL_HOLD,      /* the drill runs: lost answers are counted */
    DRILL_TL_RESTORE,   /* the transition after the end is measured */
    DRILL_TL_DONE,
    DRILL_TL_PHASES
};

struct drill_timeline {
    enum drill_tl_phase phase;
    bool canary;       /* a scoped drill: its canary clients' counters */
    bool counted;      /* counter baselines were taken (the counters exist) */
    double started;    /* the drill's start */
    double ended;      /* its end (0 while it runs) */
    double window_end; /* the current transition window closes */
    uint32_t ttl;      /* the affected records' largest TTL */
    struct drill_tl_record *records;
    size_t n_records;
    size_t not_measured; /* affected records past DRILL_TIMELINE_RECORDS */
    /* The series of the samples from the start to the end, at least
     * point_step apart; when full every other point goes and the step
     * doubles, so it spans the whole drill evenly. This run of gtmd only:
     * not read back from the state file. NULL until the first sample. */
    struct drill_tl_point *points;
    size_t n_points;
    double point_step;
};

/* The timeline of a drill of mode that loses t, on policy set g, from
 * now: its affected records and their columns. NULL for a shadow drill
 * (nothing served changes) and when no record is affected. */
struct drill_timeline *drill_timeline_new(const struct gslb *g, const struct drill_targets *t,
                                          enum drill_mode mode, double now);
void drill_timeline_free(struct drill_timeline *tl);

/* Baselines after the start (or, with resume, after a restart: what was
 * counted goes to lost_before). sv NULL: nothing is counted. */
void drill_timeline_baseline(struct drill_timeline *tl, struct serve *sv, bool resume);
/* Samples the counters at now: records that answered outside the lost
 * columns have avoided them (start), lost columns add up (start, hold);
 * after the end, records that answered from a lost column are restored. */
void drill_timeline_sample(struct drill_timeline *tl, struct serve *sv, double now);
/* The end: a last sample, the restore baselines, the restore window. Call
 * with end_sample before the targets come back, then with !end_sample
 * once every worker sees them back. */
void drill_timeline_end(struct drill_timeline *tl, struct serve *sv, double now, bool end_sample);
/* One of gtmd's own queries for record i answered at now: avoiding the
 * lost targets (or not), or, after the end, from them again. */
void drill_timeline_seen(struct drill_timeline *tl, size_t i, bool from_lost, double now);
/* True when every record has avoided (start) or come back (restore). */
bool drill_timeline_settled(const struct drill_timeline *tl);

/* The JSON view (also the state file's form), and back. */
json_t *drill_timeline_json(const struct drill_timeline *tl);
struct drill_timeline *drill_timeline_from_json(json_t *j);

/* The DNS-layer RTO (seconds), or -1 while not every record avoided the
 * targets; the same for the restore. */
double drill_timeline_rto(const struct drill_timeline *tl);
double drill_timeline_restore_rto(const struct drill_timeline *tl);
/* Answers from a lost target after the start, all counted. */
uint64_t drill_timeline_lost(const struct drill_timeline *tl);

extern const char *const drill_tl_phase_names[DRILL_TL_PHASES];

#endif
