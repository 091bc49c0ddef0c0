/*
 * drill.h -- drills: rehearsing the loss of regions and azs (the drill
 * layer, DESIGN.md section 2; doc/drills.md).
 *
 * A drill loses its targets (region and az slots) in one of three modes:
 *
 *  - shadow: nothing served changes; its report holds the what-if of
 *    every policy record (drill_whatif.h);
 *  - scoped: the targets are lost for clients inside its canary networks
 *    only, through the loss view the DNS path reads (policy_loss.h);
 *  - live: the targets are lost for everyone, through the drill byte of
 *    their health slots (health_drill_set), until the drill ends.
 *
 * The drill core keeps the active drills and the last DRILL_HISTORY ended
 * ones. Every drill ends exactly once, with a result: passed (its duration
 * ran out), aborted (by hand, or by abort_if) or failed (an outcome check
 * failed). Listeners (drill_hooks) hear of every start, end and change:
 * the drill service (drill_service.h) re-arms its timers, re-judges
 * abort_if, runs outcome checks and measures the recovery; the admin API
 * writes audit lines.
 *
 * Practice drills (drill_practice.h) are the configuration's; the core
 * keeps, per practice name, when it last started, why it was last
 * skipped, when it starts next, and counters (drill_core_practice.c). The
 * drill thread decides and starts them.
 *
 * Locks. 'lock' guards the lists, ids and counters; readers (status,
 * explain, metrics, the state-file section) take only it. A change
 * (start, end) also holds 'publish_lock' from the change until its loss
 * view is published, so views go out in the order of the changes;
 * publishing waits for the serve core's readers, so a change must never
 * be made by a thread that holds a serve reader (leave it first). Hooks
 * run after both locks are released, under 'hook_lock', so that removing
 * a listener waits for a call in flight; a hook must not start or end a
 * drill itself. Lock order: publish_lock, lock, the health core's lock.
 *
 * Ownership: the daemon owns the core (drill_core_init / drill_core_free);
 * the core owns its drills, each drill its spec, targets and report.
 */
#ifndef GTM_DRILL_DRILL_H
#define GTM_DRILL_DRILL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drill/drill_params.h"
#include "drill/drill_plan.h"
#include "drill/drill_practice.h"
#include "drill/drill_spec.h"
#include "drill/drill_timeline.h"
#include "health/health.h"
#include "policy/policy_loss.h"

#define DRILL_HISTORY 100        /* ended drills kept (and persisted) */
#define DRILL_REPORT_RECORDS 100 /* records kept in a report's what-if */
#define DRILL_MAX_HOOKS 4

enum drill_result { DRILL_RUNNING = 0, DRILL_PASSED, DRILL_ABORTED, DRILL_FAILED, DRILL_RESULTS };
extern const char *const drill_result_names[DRILL_RESULTS]; /* "running", "passed", ... */

/* What one outcome check of a drill saw (drill_outcome.h). */
struct drill_outcome_state {
    uint64_t probes, failures;
    unsigned in_row;  /* failures in a row now */
    char last[160];   /* the last result: "ok", or why it failed */
    char address[64]; /* what the host resolved to last ("" before) */
};

/* What a drill found: the what-if at its start, what its outcome checks
 * saw, and the recovery timeline measured on the answers served. */
struct drill_report {
    json_t *whatif; /* drill_whatif(only_changed), at most DRILL_REPORT_RECORDS records */
    struct drill_outcome_state outcome[DRILL_MAX_OUTCOME]; /* [spec.n_outcome] */
    struct drill_timeline *timeline; /* NULL: nothing measured (shadow, no record affected) */
};

struct drill {
    struct drill *next;
    char id[32]; /* "drl-N" */
    struct drill_spec spec;
    char *keys[DRILL_MAX_TARGETS]; /* "region:R", "az:A" */
    const struct health_slot *slots[DRILL_MAX_TARGETS];
    size_t n_targets;
    char *covered[DRILL_MAX_TARGETS]; /* regions touched: one live drill per region */
    size_t n_covered;
    char *author;
    double started, ends, ended; /* wall clock; ended 0 while running */
    enum drill_result result;
    char *end_reason; /* NULL while running */
    struct drill_report report;
};

/* Why a practice drill that is due did not start (drill_service.c). */
enum drill_skip {
    DRILL_SKIP_NONE = 0,
    DRILL_SKIP_OUTSIDE_WINDOW, /* due, but no allowed window holds it now */
    DRILL_SKIP_BLOCKED_DATE,   /* due, but today (or its end's day) is blocked */
    DRILL_SKIP_NEVER,          /* no allowed start within the horizon */
    DRILL_SKIP_DRILL_ACTIVE,   /* another drill is running */
    DRILL_SKIP_OVERRIDE,       /* an operator override is in force */
    DRILL_SKIP_REGION_DOWN,    /* a region of the drill's records is down */
    DRILL_SKIP_FLEET,          /* the fleet is degraded */
    DRILL_SKIP_ABORT_IF,       /* its abort_if is broken already */
    DRILL_SKIP_UNSAFE,         /* it would leave records unserved */
    DRILL_SKIP_CONFIG,         /* the live configuration lacks one of its names */
    DRILL_SKIPS
};
extern const char *const drill_skip_names[DRILL_SKIPS]; /* "outside_window", ... */

/* What the core keeps of one practice drill (by its name). */
struct drill_practice_state {
    double last_start; /* wall clock; 0: never (kept in the state file) */
    char last_id[32];  /* its drill (kept in the state file) */
    enum drill_skip skip;
    char skip_why[256];
    double skip_since;             /* when it was first skipped for that reason */
    double next_start;             /* -1: never; 0: not computed yet */
    uint64_t skips[DRILL_SKIPS];   /* since the process started */
    uint64_t ended[DRILL_RESULTS]; /* its drills' ends, by result */
};

struct drill_hooks {
    void (*started)(void *arg, json_t *drill); /* its JSON (borrowed for the call) */
    void (*ended)(void *arg, json_t *drill);   /* with its result and end_reason */
    void (*changed)(void *arg);                /* any start or end */
    void *arg;
};

struct drill_core {
    pthread_mutex_t lock, publish_lock, hook_lock;
    struct health_core *health;
    struct drill_params params;            /* a copy (owned) */
    struct drill_practice_state *practice; /* [params.n_practice] */
    struct drill *active;                  /* newest first */
    struct drill *history;                 /* ended, newest first, at most DRILL_HISTORY */
    size_t n_history;
    uint64_t next_id;
    uint64_t ended_by[DRILL_RESULTS]; /* ends since the process started */
    /* The serve core (NULL until attached): loss views are published
     * there (serve_publish_loss) and the workers' counters read there. */
    struct serve *serve;
    /* Why the fleet is degraded (set by the fleet client, which stands
     * above drills; "" while it is not): practice drills wait. Under lock. */
    char fleet_degraded[128];
    struct drill_hooks hooks[DRILL_MAX_HOOKS];
};

void drill_core_init(struct drill_core *c, struct health_core *health,
                     const struct drill_params *params);
/* Frees the drills. The drill bytes stay as they are (the health core is
 * freed next); call after every thread that uses the core has stopped. */
void drill_core_free(struct drill_core *c);
/* Copies params in; practice states follow their names (a practice
 * renamed starts afresh). */
void drill_core_set_params(struct drill_core *c, const struct drill_params *params);
double drill_core_max_duration(struct drill_core *c);
/* The outcome checks' resolver (a new string; NULL: the system's). */
char *drill_core_outcome_resolver(struct drill_core *c);

/* Attaches the serve core once it exists: the current loss view is
 * published at once (drills restored before it existed) and the recovery
 * timelines of restored drills go on counting from now. sv must outlive
 * the core's use (drill_core_free after serve_destroy is fine: nothing is
 * published on free). */
void drill_core_attach(struct drill_core *c, struct serve *sv);

/* The fleet client says it is degraded (why, a short text) or recovered
 * (why NULL); practice drills do not start while it is degraded. */
void drill_core_set_fleet_degraded(struct drill_core *c, const char *why);
/* Whether the fleet is degraded, and why into buf. */
bool drill_core_fleet_degraded(struct drill_core *c, char *buf, size_t len);

int drill_core_add_hooks(struct drill_core *c, const struct drill_hooks *h);
/* Returns once no hook of arg runs any more. */
void drill_core_remove_hooks(struct drill_core *c, void *arg);

/* A what-if (drill_whatif, only the changed records) cut to the first
 * DRILL_REPORT_RECORDS records ("records_truncated": true), for a drill's
 * report; returns whatif. */
json_t *drill_report_whatif(json_t *whatif);

/* A new, not yet started drill: copies spec and t, takes whatif and
 * timeline (its report; either may be NULL). started and ends are set by
 * drill_core_start. */
struct drill *drill_new(const struct drill_spec *spec, const struct drill_targets *t,
                        const char *author, json_t *whatif, struct drill_timeline *timeline);
void drill_free(struct drill *d);

/* DRILL_INVALID: drill_core_adopt's saved form fails a field rule. */
enum drill_start_rc { DRILL_STARTED = 0, DRILL_CONFLICT, DRILL_KNOWN, DRILL_INVALID };

/*
 * Starts d (taken in any case) at now, for its spec's duration: a live
 * drill sets its targets' drill bytes, a scoped one publishes a new loss
 * view; once every worker sees the change (the counters' sync), its
 * timeline takes its baselines. With no id in d, a new id and times from
 * now (the API); with one, that id and d's own times (adopted from the
 * fleet: DRILL_KNOWN when it is known here already). A live drill is
 * refused (DRILL_CONFLICT, why names the other drill) when another live
 * drill touches one of its regions. On success id gets the new id.
 * Never call it while holding a serve reader.
 */
enum drill_start_rc drill_core_start(struct drill_core *c, struct drill *d, double now, char id[32],
                                     char *why, size_t whylen);

/* True (why set) when d, a live drill, touches a region that an active
 * live drill covers already: drill_core_start would refuse it. */
bool drill_core_conflicts(struct drill_core *c, const struct drill *d, char *why, size_t whylen);

/*
 * Starts a drill that another node of the fleet started (its saved form,
 * as drill_json gives it: id, spec, covers, started, ends), keeping its id
 * and times: DRILL_KNOWN when this node has it already (active or ended),
 * DRILL_CONFLICT as for drill_core_start, DRILL_INVALID when the saved
 * form fails a field rule (why says which), and nothing when its end time
 * has passed (DRILL_KNOWN). Never call it while holding a serve reader.
 */
enum drill_start_rc drill_core_adopt(struct drill_core *c, json_t *saved, double now, char *why,
                                     size_t whylen);

/* Ends the active drill id with result and why; false when no drill of
 * that id is active. Never call it while holding a serve reader. */
bool drill_core_end(struct drill_core *c, const char *id, enum drill_result result,
                    const char *why);
/* One outcome check of an active drill, for the drill thread. */
struct drill_outcome_ref {
    char id[32];
    size_t index;
    char check[DRILL_MAX_NAME + 1];
    char host[DRILL_MAX_HOST + 2];
};
/* The outcome checks of the active drills (at most max). */
size_t drill_core_outcome_list(struct drill_core *c, struct drill_outcome_ref *out, size_t max);
/* Counts one result of outcome check i of the active drill id (ok, or
 * why not; address: what its host resolved to, may be ""); returns the
 * failures in a row now (0 when id is not active any more). */
unsigned drill_core_outcome_note(struct drill_core *c, const char *id, size_t i, bool ok,
                                 const char *why, const char *address);
/* Ends every drill whose end time is <= now as passed; returns how many. */
size_t drill_core_expire(struct drill_core *c, double now);
/* Seconds until the first end (at least 0.001), -1 when nothing runs. */
double drill_core_next_end(struct drill_core *c, double now);

/* Active drills whose abort_if g's live state breaks: up to max ids and
 * reasons (why[i], 256 octets each). Holds only the core's lock, so it may
 * run while holding a serve reader; end them after leaving it. */
size_t drill_core_check_abort_if(struct drill_core *c, const struct gslb *g, char (*ids)[32],
                                 char (*why)[256], size_t max);

/* Active drills by mode. */
void drill_core_count_active(struct drill_core *c, size_t out[DRILL_MODES]);
/* Ended drills by result since the process started. */
void drill_core_count_ended(struct drill_core *c, uint64_t out[DRILL_RESULTS]);

/* ---- practice drills (drill_core_practice.c) ---- */

/* Copies practice i and its state into p (drill_practice_free it) and st;
 * false when there is no practice i. */
bool drill_core_practice_at(struct drill_core *c, size_t i, struct drill_practice *p,
                            struct drill_practice_state *st);
/* Practice name was due and did not start, for why (text in detail); it
 * starts next at next (-1: never known). True when this is a new skip --
 * the first of its due period, or another reason than the last -- which
 * the caller logs; only new skips are counted. */
bool drill_core_practice_skip(struct drill_core *c, const char *name, enum drill_skip why,
                              const char *detail, double now, double next);
/* Practice name starts next at next; clears its skip when it is not due
 * yet (not_due). */
void drill_core_practice_next(struct drill_core *c, const char *name, double next, bool not_due);
/* Active drills: how many, and the newest as "drl-3 (live)" in buf. */
size_t drill_core_active_describe(struct drill_core *c, char *buf, size_t len);
/* Whether a drill that practice name started is active. */
bool drill_core_practice_running(struct drill_core *c, const char *name);
/* Practice name started drill id at now. */
void drill_core_practice_started(struct drill_core *c, const char *name, const char *id,
                                 double now);
/* Every practice with its settings and state: [{"name", "mode", ...,
 * "interval", "allowed_windows", "blocked_dates", "last_start",
 * "last_id", "next_start", "running", "skip": {"reason", "why", "since"}
 * or null, "skips": {...}, "results": {...}}]. */
json_t *drill_core_practice_json(struct drill_core *c);
/* The state file's "practice" part ([{"name", "last_start", "last_id"}])
 * and its restore (by name; unknown names are dropped). */
json_t *drill_core_practice_save_locked(struct drill_core *c);
void drill_core_practice_restore(struct drill_core *c, json_t *arr);

/* JSON views (drill_json.c); new references for the caller. */
json_t *drill_json(const struct drill *d);
/* The spec of a drill's saved form (drill_json's fields), checked like an
 * API request: 0, or an HTTP status with err (out then holds nothing). */
int drill_spec_from_saved(json_t *saved, struct drill_spec *out, char *err, size_t errlen);
json_t *drill_core_list_json(struct drill_core *c); /* {"active", "history", "practice"} */
json_t *drill_core_get_json(struct drill_core *c, const char *id); /* NULL: unknown */
/* The active drills whose targets include key ("region:R", "az:A"), as
 * short objects {id, mode, reason, ends}; an empty array when none. */
json_t *drill_core_covering_json(struct drill_core *c, const char *key);
/* The active drills that change key's state for client: live drills
 * covering it, and scoped ones whose canary holds the client. */
json_t *drill_core_deciding_json(struct drill_core *c, const char *key,
                                 const struct policy_loss_client *client);

/* The state file's "drills" section (a persist_section save function,
 * arg = the core) and its restore at start-up: live and scoped drills
 * resume until their end time, or end as passed if it went by while gtmd
 * was stopped. Returns how many drills were restored as active. */
json_t *drill_core_save(void *core);
size_t drill_core_restore(struct drill_core *c, json_t *section, double now);

#endif
