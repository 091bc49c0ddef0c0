/*
 * drill_practice.h -- practice drills: drills gtmd starts by itself on a
 * schedule (the "drills.practice" list of the configuration, gtmd.conf(5);
 * doc/drills.md).
 *
 * A practice names a drill (mode, regions, azs, duration, canary,
 * abort_if, outcome checks), how often it is due (interval, counted from
 * its last start, which the state file keeps), when it may run
 * (allowed_windows, UTC) and when never (blocked_dates, UTC days). This
 * file is the pure part: parsing those settings with JSON-path errors,
 * and when a practice may start next. Whether the live state lets it
 * start (nothing down, no override, no other drill, the fleet healthy) is
 * the drill thread's business (drill_service.c).
 *
 * A drill must fit in one window: it may start at t when some occurrence
 * of a window holds all of [t, t + duration], and none of the UTC days
 * that [t, t + duration] touches is blocked.
 *
 * Ownership: a practice owns its spec (drill_practice_free); the
 * functions below allocate nothing else.
 */
#ifndef GTM_DRILL_DRILL_PRACTICE_H
#define GTM_DRILL_DRILL_PRACTICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"
#include "drill/drill_spec.h"

#define DRILL_MAX_PRACTICE 32 /* practice drills in a configuration */
#define DRILL_MAX_WINDOWS 16  /* allowed_windows of one practice */
#define DRILL_MAX_BLOCKED 366 /* blocked_dates of one practice */
#define DRILL_PRACTICE_MIN_INTERVAL 1.0
#define DRILL_PRACTICE_MAX_INTERVAL (400.0 * 86400) /* a little over a year */
/* How far ahead the next allowed start is searched: past it, "never". */
#define DRILL_PRACTICE_HORIZON (800.0 * 86400)

/* A weekly window, "Tue 10:00-12:00" (UTC): the days it opens on and its
 * opening and length in minutes. An end at or before the start crosses
 * midnight into the next day ("Fri 22:00-02:00"). */
struct drill_window {
    uint8_t days;     /* bit d: opens on day d (0 Sunday .. 6 Saturday, as tm_wday) */
    uint16_t start;   /* minutes after 00:00 */
    uint16_t minutes; /* length, 1..1440 */
};

struct drill_practice {
    struct drill_spec spec; /* its name (spec.name), mode, targets, duration, ... */
    double interval;        /* seconds from one start to the next */
    struct drill_window windows[DRILL_MAX_WINDOWS];
    size_t n_windows;                   /* 0: any time */
    int32_t blocked[DRILL_MAX_BLOCKED]; /* UTC days since 1970-01-01 */
    size_t n_blocked;
};

/* "DAY HH:MM-HH:MM" where DAY is Mon..Sun, a range "Mon-Fri" (it may
 * wrap: "Sat-Mon") or "daily"; HH:MM from 00:00 to 23:59, the end also
 * 24:00. False with a reason in err. */
bool drill_window_parse(const char *text, struct drill_window *out, char *err, size_t errlen);
/* The window back as text (at least 32 octets): "Tue 10:00-12:00". */
void drill_window_format(const struct drill_window *w, char *buf, size_t len);

/* "YYYY-MM-DD" (1970..9999, a real date) into days since 1970-01-01. */
bool drill_date_parse(const char *text, int32_t *day, char *err, size_t errlen);
/* A day back as "YYYY-MM-DD" (at least 11 octets). */
void drill_date_format(int32_t day, char *buf, size_t len);

/* Parses one entry of "drills.practice" (v, at JSON path 'path') into
 * out: name, mode, regions, azs, duration, interval, allowed_windows,
 * blocked_dates, canary, outcome, abort_if and reason. Errors go to j
 * with their JSON path. max_duration caps the duration. Returns true when
 * valid; out then holds a spec to free (drill_practice_free). */
/* The keys of a practice drill (an entry of drills.practice). */
enum drill_practice_key {
    PR_NAME,
    PR_INTERVAL,
    PR_MODE,
    PR_REGIONS,
    PR_AZS,
    PR_DURATION,
    PR_CANARY,
    PR_OUTCOME,
    PR_ABORT_IF,
    PR_REASON,
    PR_ALLOWED_WINDOWS,
    PR_BLOCKED_DATES,
    PR_N
};
extern const struct cfgschema drill_practice_schema;

bool drill_practice_parse(const struct jsoncfg *j, json_t *v, const char *path, double max_duration,
                          struct drill_practice *out);
void drill_practice_free(struct drill_practice *p);
void drill_practice_copy(struct drill_practice *dst, const struct drill_practice *src);

/* Why p may not start at t by the calendar alone. */
enum drill_practice_block {
    DRILL_PRACTICE_OPEN = 0,       /* it may */
    DRILL_PRACTICE_OUTSIDE_WINDOW, /* no window holds [t, t + duration] */
    DRILL_PRACTICE_BLOCKED_DATE,   /* [t, t + duration] touches a blocked day */
};
enum drill_practice_block drill_practice_block_at(const struct drill_practice *p, double t);

/* The first moment >= from at which p may start by the calendar; -1 when
 * there is none within DRILL_PRACTICE_HORIZON. */
double drill_practice_next_allowed(const struct drill_practice *p, double from);

/* When p is due: its last start + interval, or now when it never ran
 * (last_start <= 0) or that moment has passed. */
double drill_practice_due(const struct drill_practice *p, double last_start, double now);

/* When p starts next if nothing else holds it back: the first moment the
 * calendar allows at or after its due time; -1 for never. */
double drill_practice_next_start(const struct drill_practice *p, double last_start, double now);

/* The practice's settings as the API shows them (a new object). */
json_t *drill_practice_json(const struct drill_practice *p);

#endif
