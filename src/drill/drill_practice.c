/*
 * drill_practice.c -- practice drills: their settings and their calendar.
 */
#include "drill/drill_practice.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_S 86400.0
#define WEEK_S (7 * DAY_S)
/* 1970-01-01 was a Thursday: day 0 is weekday 4. */
#define EPOCH_WDAY 4

static const char *const drill_day_names[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

/* ---- windows -------------------------------------------------------- */

static int drill_day_index(const char *s, size_t len)
{
    for (int i = 0; i < 7; i++)
        if (len == 3 && strncmp(s, drill_day_names[i], 3) == 0)
            return i;
    return -1;
}

/* "HH:MM" at s into minutes; 24:00 only when end. */
static bool drill_hhmm(const char *s, bool end, unsigned *out)
{
    if (strlen(s) != 5 || s[2] != ':' || strspn(s, "0123456789:") != 5 || s[0] == ':' ||
        s[1] == ':' || s[3] == ':' || s[4] == ':')
        return false;
    unsigned h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
    unsigned m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && (m != 0 || !end)))
        return false;
    *out = h * 60 + m;
    return true;
}

/* The days part: "Tue", "Mon-Fri", "Sat-Mon" or "daily". */
static bool drill_window_days(const char *s, size_t len, uint8_t *days)
{
    if (len == 5 && strncmp(s, "daily", 5) == 0) {
        *days = 0x7f;
        return true;
    }
    int a = drill_day_index(s, len < 3 ? len : 3), b = a;
    if (len == 7 && s[3] == '-')
        b = drill_day_index(s + 4, 3);
    else if (len != 3)
        return false;
    if (a < 0 || b < 0)
        return false;
    *days = 0;
    for (int d = a;; d = (d + 1) % 7) {
        *days |= (uint8_t)(1u << d);
        if (d == b)
            break;
    }
    return true;
}

bool drill_window_parse(const char *text, struct drill_window *out, char *err, size_t errlen)
{
    const char *sp = text ? strchr(text, ' ') : NULL;
    char from[8], to[8];
    unsigned start, end;
    memset(out, 0, sizeof(*out));
    if (!sp || !drill_window_days(text, (size_t)(sp - text), &out->days)) {
        snprintf(err, errlen,
                 "must be \"DAY HH:MM-HH:MM\" (UTC) with DAY Mon..Sun, a range such as "
                 "\"Mon-Fri\", or \"daily\"");
        return false;
    }
    const char *dash = strchr(sp + 1, '-');
    if (!dash || dash - (sp + 1) != 5 || strlen(dash + 1) != 5) {
        snprintf(err, errlen, "must give the hours as HH:MM-HH:MM (UTC), such as 10:00-12:00");
        return false;
    }
    memcpy(from, sp + 1, 5);
    from[5] = '\0';
    snprintf(to, sizeof(to), "%s", dash + 1);
    if (!drill_hhmm(from, false, &start) || !drill_hhmm(to, true, &end)) {
        snprintf(err, errlen, "has a time that is not HH:MM from 00:00 to 24:00");
        return false;
    }
    if (end == start) {
        snprintf(err, errlen, "is empty (start and end are the same; a whole day is 00:00-24:00)");
        return false;
    }
    out->start = (uint16_t)start;
    /* An end at or before the start is on the next day. */
    out->minutes = (uint16_t)(end > start ? end - start : end + 1440 - start);
    return true;
}

void drill_window_format(const struct drill_window *w, char *buf, size_t len)
{
    char days[16] = "";
    int first = -1, last = -1, n = 0;
    for (int d = 0; d < 7; d++)
        n += (w->days >> d) & 1;
    /* A run of days, possibly wrapping: find where it begins. */
    for (int d = 0; d < 7 && first < 0; d++)
        if (((w->days >> d) & 1) && !((w->days >> ((d + 6) % 7)) & 1))
            first = d;
    if (n == 7)
        snprintf(days, sizeof(days), "daily");
    else if (first >= 0) {
        last = (first + n - 1) % 7;
        if (n == 1)
            snprintf(days, sizeof(days), "%s", drill_day_names[first]);
        else
            snprintf(days, sizeof(days), "%s-%s", drill_day_names[first], drill_day_names[last]);
    }
    unsigned end = (unsigned)(w->start + w->minutes) % 1440;
    if (w->start + w->minutes == 1440)
        end = 1440;
    snprintf(buf, len, "%s %02u:%02u-%02u:%02u", days, w->start / 60u, w->start % 60u, end / 60,
             end % 60);
}

/* ---- dates ---------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int32_t drill_days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int32_t)doe - 719468;
}

static bool drill_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool drill_date_parse(const char *text, int32_t *day, char *err, size_t errlen)
{
    static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y;
    unsigned m, d;
    char tail;
    if (!text || strlen(text) != 10 || text[4] != '-' || text[7] != '-' ||
        strspn(text, "0123456789-") != 10 ||
        sscanf(text, "%4d-%2u-%2u%c", &y, &m, &d, &tail) != 3) {
        snprintf(err, errlen, "must be a date \"YYYY-MM-DD\" (UTC)");
        return false;
    }
    if (y < 1970 || m < 1 || m > 12 || d < 1 ||
        d > mdays[m - 1] + (m == 2 && drill_leap(y) ? 1u : 0u)) {
        snprintf(err, errlen, "is not a date from 1970-01-01 on");
        return false;
    }
    *day = drill_days_from_civil(y, m, d);
    return true;
}

void drill_date_format(int32_t day, char *buf, size_t len)
{
    /* civil_from_days, the inverse of the above. */
    int32_t z = day + 719468;
    int32_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int y = (int)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    snprintf(buf, len, "%04d-%02u-%02u", y + (m <= 2), m, d);
}

/* ---- the calendar --------------------------------------------------- */

/* Seconds since Sunday 00:00 UTC of the week that holds t. */
static double drill_week_offset(double t)
{
    double s = fmod(t + EPOCH_WDAY * DAY_S, WEEK_S);
    return s < 0 ? s + WEEK_S : s;
}

/* The occurrence of window w opening on weekday d that holds t, as its
 * opening time; false when t is outside it. */
static bool drill_occurrence(const struct drill_window *w, int d, double t, double *open)
{
    double at = d * DAY_S + w->start * 60.0;
    double delta = fmod(drill_week_offset(t) - at, WEEK_S);
    if (delta < 0)
        delta += WEEK_S;
    if (delta >= w->minutes * 60.0)
        return false;
    *open = t - delta;
    return true;
}

static bool drill_in_window(const struct drill_practice *p, double t)
{
    if (p->n_windows == 0)
        return true;
    for (size_t i = 0; i < p->n_windows; i++)
        for (int d = 0; d < 7; d++) {
            double open;
            if (((p->windows[i].days >> d) & 1) && drill_occurrence(&p->windows[i], d, t, &open) &&
                t + p->spec.duration <= open + p->windows[i].minutes * 60.0)
                return true;
        }
    return false;
}

/* The first window opening strictly after t. */
static double drill_next_opening(const struct drill_practice *p, double t)
{
    double best = -1, off = drill_week_offset(t);
    for (size_t i = 0; i < p->n_windows; i++)
        for (int d = 0; d < 7; d++) {
            if (!((p->windows[i].days >> d) & 1))
                continue;
            double wait = fmod(d * DAY_S + p->windows[i].start * 60.0 - off, WEEK_S);
            if (wait <= 0)
                wait += WEEK_S;
            if (best < 0 || t + wait < best)
                best = t + wait;
        }
    return best;
}

/* The first blocked day that [t, t + duration] touches, or -1. */
static int64_t drill_blocked_day(const struct drill_practice *p, double t)
{
    /* A drill that ends at 00:00 does not touch the day that begins. */
    int64_t first = (int64_t)floor(t / DAY_S);
    int64_t last = (int64_t)ceil((t + p->spec.duration) / DAY_S) - 1;
    if (last < first)
        last = first;
    for (int64_t day = first; day <= last; day++)
        for (size_t i = 0; i < p->n_blocked; i++)
            if (p->blocked[i] == day)
                return day;
    return -1;
}

enum drill_practice_block drill_practice_block_at(const struct drill_practice *p, double t)
{
    if (drill_blocked_day(p, t) >= 0)
        return DRILL_PRACTICE_BLOCKED_DATE;
    if (!drill_in_window(p, t))
        return DRILL_PRACTICE_OUTSIDE_WINDOW;
    return DRILL_PRACTICE_OPEN;
}

double drill_practice_next_allowed(const struct drill_practice *p, double from)
{
    double t = from;
    /* Each step moves t to a later window opening or past a blocked day,
     * so this ends; the bound is only a guard. */
    for (int step = 0; step < 100000 && t - from <= DRILL_PRACTICE_HORIZON; step++) {
        int64_t b = drill_blocked_day(p, t);
        if (b >= 0) {
            /* The drill may start at the end of the blocked day at the
             * earliest (it must not touch it). */
            t = (double)(b + 1) * DAY_S;
            continue;
        }
        if (!drill_in_window(p, t)) {
            t = drill_next_opening(p, t);
            if (t < 0)
                return -1;
            continue;
        }
        return t;
    }
    return -1;
}

double drill_practice_due(const struct drill_practice *p, double last_start, double now)
{
    if (last_start <= 0)
        return now;
    double due = last_start + p->interval;
    return due < now ? now : due;
}

double drill_practice_next_start(const struct drill_practice *p, double last_start, double now)
{
    return drill_practice_next_allowed(p, drill_practice_due(p, last_start, now));
}

/* ---- settings -------------------------------------------------------- */

void drill_practice_free(struct drill_practice *p)
{
    drill_spec_free(&p->spec);
    memset(p, 0, sizeof(*p));
}

void drill_practice_copy(struct drill_practice *dst, const struct drill_practice *src)
{
    *dst = *src;
    drill_spec_copy(&dst->spec, &src->spec);
}

#define PR_SPEC_FIRST PR_MODE /* PR_MODE .. PR_REASON: the drill itself, as the API takes it */
#define PR_SPEC_END PR_ALLOWED_WINDOWS
static const struct cfgschema_key drill_practice_keys[PR_N] = {
    [PR_NAME] = {"name", CFGSCHEMA_STRING, .flags = CFGSCHEMA_REQUIRED,
                 .what = "its name: 1 to 64 letters, digits, '.', '_' or '-'"},
    [PR_INTERVAL] = {"interval", CFGSCHEMA_SECONDS, DRILL_PRACTICE_MIN_INTERVAL,
                     DRILL_PRACTICE_MAX_INTERVAL, 0, CFGSCHEMA_REQUIRED, NULL,
                     "seconds from one start to the next"},
    [PR_MODE] = {"mode", CFGSCHEMA_STRING, .what = "shadow, scoped or live, as POST /v1/drills"},
    [PR_REGIONS] = {"regions", CFGSCHEMA_ARRAY, .what = "regions it loses"},
    [PR_AZS] = {"azs", CFGSCHEMA_ARRAY, .what = "azs it loses"},
    [PR_DURATION] = {"duration", CFGSCHEMA_SECONDS, .flags = CFGSCHEMA_DEFAULT_VARIES,
                     .what = "how long it runs: 1 s to max_duration, which is its default"},
    [PR_CANARY] = {"canary", CFGSCHEMA_ARRAY, .what = "a scoped drill's client subnets"},
    [PR_OUTCOME] = {"outcome", CFGSCHEMA_ARRAY, .what = "outcome checks it must pass"},
    [PR_ABORT_IF] = {"abort_if", CFGSCHEMA_OBJECT, .what = "when it ends early"},
    [PR_REASON] = {"reason", CFGSCHEMA_STRING, .what = "its reason (\"practice drill NAME\")"},
    [PR_ALLOWED_WINDOWS] = {"allowed_windows", CFGSCHEMA_ARRAY,
                            .what = "weekly windows it may start in (UTC)"},
    [PR_BLOCKED_DATES] = {"blocked_dates", CFGSCHEMA_ARRAY, .what = "dates it never starts on"},
};
const struct cfgschema drill_practice_schema =
    CFGSCHEMA("$.drills.practice[]", drill_practice_keys);

/* allowed_windows at obj; false after reporting an error. */
static bool drill_practice_windows(const struct jsoncfg *j, json_t *v, const char *path,
                                   struct drill_practice *out)
{
    char at[256], p[288], err[200];
    if (!v)
        return true;
    cfgschema_key_path(at, sizeof(at), &drill_practice_schema, PR_ALLOWED_WINDOWS, path);
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > DRILL_MAX_WINDOWS) {
        jsoncfg_err(j, at, "must be an array of 1 to %d windows such as \"Tue 10:00-12:00\" (UTC)",
                    DRILL_MAX_WINDOWS);
        return false;
    }
    bool ok = true;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        snprintf(p, sizeof(p), "%s[%zu]", at, i);
        if (!json_is_string(e) ||
            !drill_window_parse(json_string_value(e), &out->windows[out->n_windows], err,
                                sizeof(err))) {
            jsoncfg_err(j, p, "%s", json_is_string(e) ? err : "must be a string");
            ok = false;
            continue;
        }
        out->n_windows++;
    }
    return ok;
}

/* blocked_dates at obj; false after reporting an error. */
static bool drill_practice_dates(const struct jsoncfg *j, json_t *v, const char *path,
                                 struct drill_practice *out)
{
    char at[256], p[288], err[200];
    if (!v)
        return true;
    cfgschema_key_path(at, sizeof(at), &drill_practice_schema, PR_BLOCKED_DATES, path);
    if (!json_is_array(v) || json_array_size(v) > DRILL_MAX_BLOCKED) {
        jsoncfg_err(j, at, "must be an array of at most %d dates \"YYYY-MM-DD\" (UTC)",
                    DRILL_MAX_BLOCKED);
        return false;
    }
    bool ok = true;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        snprintf(p, sizeof(p), "%s[%zu]", at, i);
        if (!json_is_string(e) ||
            !drill_date_parse(json_string_value(e), &out->blocked[out->n_blocked], err,
                              sizeof(err))) {
            jsoncfg_err(j, p, "%s", json_is_string(e) ? err : "must be a string");
            ok = false;
            continue;
        }
        out->n_blocked++;
    }
    return ok;
}

/* name and interval; false after reporting an error. */
static bool drill_practice_head(const struct jsoncfg *j, json_t *v, const char *path,
                                struct drill_practice *out, const char **name)
{
    const struct cfgschema *s = &drill_practice_schema;
    bool ok = true;
    json_t *n = cfgschema_value(s, PR_NAME, v), *iv = cfgschema_value(s, PR_INTERVAL, v);
    *name = json_string_value(n);
    if (n && (!*name || !drill_name_ok(*name) || strlen(*name) != json_string_length(n))) {
        cfgschema_err(j, s, PR_NAME, path, "must be 1 to %d letters, digits, '.', '_' or '-'",
                      DRILL_MAX_LABEL);
        ok = false;
    }
    ok = ok && n;
    out->interval = iv ? cfgschema_seconds(j, s, PR_INTERVAL, v, path) : -1;
    double lo = s->keys[PR_INTERVAL].lo, hi = s->keys[PR_INTERVAL].hi;
    return ok && out->interval >= lo && out->interval <= hi;
}

/* The drill itself, through the API's own checks (drill_spec_parse). */
static bool drill_practice_spec(const struct jsoncfg *j, json_t *v, const char *path,
                                const char *name, double max_duration, struct drill_practice *out)
{
    const struct cfgschema *s = &drill_practice_schema;
    char err[512], reason[128];
    json_t *body = json_object();
    for (size_t k = PR_SPEC_FIRST; k < PR_SPEC_END; k++)
        if (cfgschema_value(s, k, v))
            json_object_set(body, s->keys[k].name, cfgschema_value(s, k, v));
    json_object_set_new(body, "name", json_string(name));
    snprintf(reason, sizeof(reason), "practice drill %s", name);
    if (!cfgschema_value(s, PR_REASON, v))
        json_object_set_new(body, "reason", json_string(reason));
    int st = drill_spec_parse(body, max_duration, &out->spec, err, sizeof(err));
    json_decref(body);
    if (st != 0) {
        jsoncfg_err(j, path, "%s", err);
        return false;
    }
    return true;
}

bool drill_practice_parse(const struct jsoncfg *j, json_t *v, const char *path, double max_duration,
                          struct drill_practice *out)
{
    const struct cfgschema *s = &drill_practice_schema;
    const char *name = NULL;
    memset(out, 0, sizeof(*out));
    if (!cfgschema_object(j, s, v, path))
        return false;
    bool ok = drill_practice_head(j, v, path, out, &name);
    ok = drill_practice_windows(j, cfgschema_value(s, PR_ALLOWED_WINDOWS, v), path, out) && ok;
    ok = drill_practice_dates(j, cfgschema_value(s, PR_BLOCKED_DATES, v), path, out) && ok;
    if (!ok || !drill_practice_spec(j, v, path, name, max_duration, out)) {
        drill_practice_free(out);
        return false;
    }
    if (out->spec.duration >= out->interval) {
        cfgschema_err(j, s, PR_DURATION, path, "%g s is not shorter than the interval (%g s)",
                      out->spec.duration, out->interval);
        ok = false;
    }
    char at[256], p[288];
    cfgschema_key_path(at, sizeof(at), s, PR_ALLOWED_WINDOWS, path);
    for (size_t i = 0; i < out->n_windows; i++)
        if (out->windows[i].minutes * 60.0 < out->spec.duration) {
            snprintf(p, sizeof(p), "%s[%zu]", at, i);
            jsoncfg_err(j, p,
                        "is shorter than the drill (duration %g s): a drill must fit in "
                        "one window",
                        out->spec.duration);
            ok = false;
        }
    if (!ok)
        drill_practice_free(out);
    return ok;
}

json_t *drill_practice_json(const struct drill_practice *p)
{
    json_t *j = drill_spec_json(&p->spec), *w = json_array(), *b = json_array();
    for (size_t i = 0; i < p->n_windows; i++) {
        char buf[40];
        drill_window_format(&p->windows[i], buf, sizeof(buf));
        json_array_append_new(w, json_string(buf));
    }
    for (size_t i = 0; i < p->n_blocked; i++) {
        char buf[16];
        drill_date_format(p->blocked[i], buf, sizeof(buf));
        json_array_append_new(b, json_string(buf));
    }
    json_object_set_new(j, "interval", json_real(p->interval));
    json_object_set_new(j, "allowed_windows", w);
    json_object_set_new(j, "blocked_dates", b);
    return j;
}
