/* Unit tests for practice drills (src/drill/drill_practice.c): windows and
 * dates parsed and printed, the calendar (when a drill may start, when it
 * is due), the "drills" section's practice list with its JSON-path
 * errors, and the core's practice state across reloads and restarts. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errlist.h"
#include "common/jsoncfg.h"
#include "drill/drill.h"
#include "drill/drill_params.h"
#include "drill/drill_practice.h"
#include "policy/policy_config.h"
#include "tap.h"

/* Tuesday 2026-11-24 00:00 UTC, and a day and an hour in seconds. */
#define TUE 1795478400.0
#define DAY 86400.0
#define HOUR 3600.0

static void test_windows(struct tap *t)
{
    struct drill_window w;
    char err[256], buf[40];
    TAP_CHECK(t,
              drill_window_parse("Tue 10:00-12:00", &w, err, sizeof(err)) && w.days == 1u << 2 &&
                  w.start == 600 && w.minutes == 120,
              "\"Tue 10:00-12:00\": Tuesday, from 10:00 for 120 minutes");
    drill_window_format(&w, buf, sizeof(buf));
    TAP_CHECK(t, strcmp(buf, "Tue 10:00-12:00") == 0, "formats back (%s)", buf);
    TAP_CHECK(t,
              drill_window_parse("Mon-Fri 09:00-17:30", &w, err, sizeof(err)) && w.days == 0x3e &&
                  w.minutes == 510,
              "a range of days: Mon-Fri");
    drill_window_format(&w, buf, sizeof(buf));
    TAP_CHECK(t, strcmp(buf, "Mon-Fri 09:00-17:30") == 0, "formats back (%s)", buf);
    TAP_CHECK(t,
              drill_window_parse("Sat-Mon 00:00-24:00", &w, err, sizeof(err)) &&
                  w.days == ((1u << 6) | 1u | (1u << 1)) && w.minutes == 1440,
              "a range that wraps (Sat-Mon), a whole day to 24:00");
    drill_window_format(&w, buf, sizeof(buf));
    TAP_CHECK(t, strcmp(buf, "Sat-Mon 00:00-24:00") == 0, "formats back (%s)", buf);
    TAP_CHECK(t,
              drill_window_parse("Fri 22:00-02:00", &w, err, sizeof(err)) && w.start == 1320 &&
                  w.minutes == 240,
              "an end before the start crosses midnight: 240 minutes");
    drill_window_format(&w, buf, sizeof(buf));
    TAP_CHECK(t, strcmp(buf, "Fri 22:00-02:00") == 0, "formats back (%s)", buf);
    TAP_CHECK(t, drill_window_parse("daily 03:15-04:00", &w, err, sizeof(err)) && w.days == 0x7f,
              "daily");
    static const char *const bad[] = {
        "Tue 10:00",           "Tuesday 10:00-12:00", "Tue 25:00-26:00",  "Tue 10:00-10:00",
        "Tue 10:60-11:00",     "Tue 24:00-01:00",     "Tue10:00-12:00",   "tue 10:00-12:00",
        "Mon-Xyz 10:00-12:00", "Tue 1:00-2:00",       "Tue 10:00-12:00 ", "",
        "Tue 10:0a-12:00",     "Mon- 10:00-12:00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        TAP_CHECK(t, !drill_window_parse(bad[i], &w, err, sizeof(err)) && err[0],
                  "bad window \"%s\" refused (%s)", bad[i], err);
    }
}

static void test_dates(struct tap *t)
{
    int32_t d = -1;
    char err[256], buf[16];
    TAP_CHECK(t, drill_date_parse("2026-12-24", &d, err, sizeof(err)) && d == 20811,
              "2026-12-24 is day 20811 (%d)", d);
    drill_date_format(d, buf, sizeof(buf));
    TAP_CHECK(t, strcmp(buf, "2026-12-24") == 0, "formats back (%s)", buf);
    TAP_CHECK(t, drill_date_parse("2024-02-29", &d, err, sizeof(err)) && d == 19782,
              "a leap day (2024-02-29)");
    drill_date_format(d, buf, sizeof(buf));
    TAP_CHECK(t, strcmp(buf, "2024-02-29") == 0, "formats back (%s)", buf);
    TAP_CHECK(t, drill_date_parse("1970-01-01", &d, err, sizeof(err)) && d == 0, "day 0");
    drill_date_format(11016, buf, sizeof(buf));
    TAP_CHECK(t, strcmp(buf, "2000-02-29") == 0, "day 11016 is 2000-02-29 (%s)", buf);
    static const char *const bad[] = {"2026-02-29", "2100-02-29",  "1969-12-31", "2026-1-01",
                                      "2026-13-01", "2026-00-10",  "2026-04-31", "26-12-24",
                                      "2026/12/24", "2026-12-24x", "2026-12-2 "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        TAP_CHECK(t, !drill_date_parse(bad[i], &d, err, sizeof(err)) && err[0],
                  "bad date \"%s\" refused (%s)", bad[i], err);
    }
}

/* A practice with windows and blocked days given as text. */
static void practice(struct drill_practice *p, double duration, double interval,
                     const char *const *windows, const char *const *blocked)
{
    char err[256];
    memset(p, 0, sizeof(*p));
    p->spec.duration = duration;
    p->interval = interval;
    for (; windows && *windows; windows++)
        drill_window_parse(*windows, &p->windows[p->n_windows++], err, sizeof(err));
    for (; blocked && *blocked; blocked++)
        drill_date_parse(*blocked, &p->blocked[p->n_blocked++], err, sizeof(err));
}

static void test_calendar(struct tap *t)
{
    static const char *const tue[] = {"Tue 10:00-12:00", NULL};
    static const char *const xmas[] = {"2026-12-22", NULL};
    struct drill_practice p;
    practice(&p, 1800, 7 * DAY, tue, xmas);
    double open = TUE + 10 * HOUR;
    TAP_CHECK(t, drill_practice_block_at(&p, open) == DRILL_PRACTICE_OPEN,
              "Tue 10:00: inside the window");
    TAP_CHECK(t, drill_practice_block_at(&p, open + 1.5 * HOUR) == DRILL_PRACTICE_OPEN,
              "Tue 11:30: the 30-minute drill still fits");
    TAP_CHECK(t,
              drill_practice_block_at(&p, open + 1.5 * HOUR + 1) == DRILL_PRACTICE_OUTSIDE_WINDOW,
              "Tue 11:30:01: it would end past 12:00");
    TAP_CHECK(t, drill_practice_block_at(&p, open - 1) == DRILL_PRACTICE_OUTSIDE_WINDOW,
              "Tue 09:59:59: outside");
    TAP_CHECK(t, drill_practice_block_at(&p, open + DAY) == DRILL_PRACTICE_OUTSIDE_WINDOW,
              "Wed 10:00: outside");
    TAP_CHECK(
        t, drill_practice_block_at(&p, TUE + 28 * DAY + 10 * HOUR) == DRILL_PRACTICE_BLOCKED_DATE,
        "Tue 2026-12-22 10:00: a blocked date");
    double n = drill_practice_next_allowed(&p, TUE - 12 * HOUR);
    TAP_CHECK(t, n == open, "from Mon 12:00 the next start is Tue 10:00 (%+.0f)", n - open);
    n = drill_practice_next_allowed(&p, open + 20 * 60);
    TAP_CHECK(t, n == open + 20 * 60, "inside the window: now (%+.0f)", n - open);
    n = drill_practice_next_allowed(&p, open + 1.75 * HOUR);
    TAP_CHECK(t, n == open + 7 * DAY, "too late to fit: next Tuesday (%+.0f)", n - open);
    n = drill_practice_next_allowed(&p, TUE + 22 * DAY);
    TAP_CHECK(t, n == open + 35 * DAY, "the blocked Tuesday is skipped: 2026-12-29 10:00 (%+.0f)",
              n - open);
    /* Due times: from the last start, or now. */
    TAP_CHECK(t, drill_practice_due(&p, 0, open) == open, "never ran: due now");
    TAP_CHECK(t, drill_practice_due(&p, open - 7 * DAY + 60, open) == open + 60,
              "ran a week ago plus a minute: due in a minute");
    TAP_CHECK(t, drill_practice_due(&p, open - 30 * DAY, open) == open,
              "a start missed (gtmd was down): due now");
    n = drill_practice_next_start(&p, open, open);
    TAP_CHECK(t, n == open + 7 * DAY, "started now: next week, same time (%+.0f)", n - open);
    n = drill_practice_next_start(&p, open - 7 * DAY + 60, open);
    TAP_CHECK(t, n == open + 60, "due inside the window: at its due time (%+.0f)", n - open);
    n = drill_practice_next_start(&p, open - 6 * DAY, open + 1.9 * HOUR);
    TAP_CHECK(t, n == open + 7 * DAY, "due on Wednesday: the next window (%+.0f)", n - open);
    /* A window across midnight, with its second day blocked. */
    static const char *const fri[] = {"Fri 22:00-02:00", NULL};
    static const char *const sat[] = {"2026-11-28", NULL};
    double fri22 = TUE + 3 * DAY + 22 * HOUR;
    practice(&p, 1800, 7 * DAY, fri, NULL);
    TAP_CHECK(t, drill_practice_block_at(&p, fri22 + 3 * HOUR) == DRILL_PRACTICE_OPEN,
              "Sat 01:00 is inside Fri 22:00-02:00");
    TAP_CHECK(t, drill_practice_block_at(&p, fri22 + 3.6 * HOUR) == DRILL_PRACTICE_OUTSIDE_WINDOW,
              "Sat 01:36 no longer fits");
    practice(&p, 1800, 7 * DAY, fri, sat);
    TAP_CHECK(t, drill_practice_block_at(&p, fri22 + 1.75 * HOUR) == DRILL_PRACTICE_BLOCKED_DATE,
              "Fri 23:45: the drill would run into the blocked Saturday");
    n = drill_practice_next_allowed(&p, fri22);
    TAP_CHECK(t, n == fri22, "Fri 22:00 itself is allowed (%+.0f)", n - fri22);
    n = drill_practice_next_allowed(&p, fri22 + 1.6 * HOUR);
    TAP_CHECK(t, n == fri22 + 7 * DAY, "past 23:30 on that Friday: the next Friday (%+.0f)",
              n - fri22);
    /* No windows: any time but the blocked days. */
    static const char *const two[] = {"2026-11-24", "2026-11-25", NULL};
    practice(&p, 60, 3600, NULL, two);
    n = drill_practice_next_allowed(&p, TUE + 5);
    TAP_CHECK(t, n == TUE + 2 * DAY, "no windows, two days blocked: Thu 00:00 (%+.0f)", n - TUE);
    n = drill_practice_next_allowed(&p, TUE - 30);
    TAP_CHECK(t, n == TUE + 2 * DAY, "a drill must not run into a blocked day (%+.0f)", n - TUE);
    n = drill_practice_next_allowed(&p, TUE - 60);
    TAP_CHECK(t, n == TUE - 60, "one that ends by midnight may start (%+.0f)", n - TUE);
}

static const char *CONF =
    "{\"regions\": {\"us\": {}, \"eu\": {}},"
    " \"checks\": {\"web\": {\"type\": \"tcp\", \"port\": 80}},"
    " \"pools\": {\"web\": {\"check\": \"web\", \"endpoints\": ["
    "   {\"name\": \"us1\", \"address\": \"192.0.2.1\", \"region\": \"us\", \"az\": \"us-1a\"},"
    "   {\"name\": \"eu1\", \"address\": \"192.0.2.3\", \"region\": \"eu\"}]}},"
    " \"records\": {\"fo.example.com.\": {\"pool\": \"web\", \"policy\": \"failover\", "
    "\"regions\": [\"us\", \"eu\"]}}}";

/* Parses a "drills" section and checks it against CONF's policy set;
 * returns the errors joined by newlines (caller frees). */
static char *parse_drills(const char *section, struct drill_params *out)
{
    struct errlist errs;
    errlist_init(&errs);
    struct jsoncfg j = {.errs = &errs, .file = "gtmd.json", .dir = "."};
    json_t *v = json_loads(section, 0, NULL);
    json_t *root = json_loads(CONF, 0, NULL);
    const char *origins[] = {"example.com."};
    struct gslb *g = policy_config_parse(&j, root, origins, 1);
    drill_params_parse(&j, v, out);
    drill_params_check(&j, out, g);
    size_t len = 1;
    for (size_t i = 0; i < errs.count; i++)
        len += strlen(errs.msgs[i]) + 1;
    char *all = calloc(1, len);
    for (size_t i = 0; i < errs.count; i++)
        strcat(strcat(all, errs.msgs[i]), "\n");
    errlist_free(&errs);
    json_decref(v);
    json_decref(root);
    gslb_unref(g);
    return all;
}

static bool has(const char *errs, const char *needle)
{
    return strstr(errs, needle) != NULL;
}

static void test_config(struct tap *t)
{
    struct drill_params p;
    char *e = parse_drills(
        "{\"max_duration\": 7200, \"outcome_resolver\": [\"127.0.0.1:5353\", \"[::1]:53\"],"
        " \"practice\": [{\"name\": \"weekly-us\", \"regions\": [\"us\"], \"mode\": \"live\","
        " \"duration\": 1800, \"interval\": 604800, \"allowed_windows\": [\"Tue 10:00-12:00\", "
        "\"Thu 10:00-12:00\"], \"blocked_dates\": [\"2026-12-24\"], \"outcome\": [{\"check\": "
        "\"web\", \"host\": \"fo.example.com\"}], \"abort_if\": {\"min_up_endpoints\": 1}},"
        " {\"name\": \"canary-az\", \"azs\": [\"us-1a\"], \"mode\": \"scoped\", \"canary\": "
        "[\"10.1.0.0/16\"], \"interval\": 86400, \"reason\": \"daily canary\"}]}",
        &p);
    TAP_CHECK(t, e[0] == '\0', "a full practice section parses (%s)", e);
    free(e);
    TAP_CHECK(t,
              p.n_practice == 2 && p.max_duration == 7200 &&
                  strcmp(p.outcome_resolver, "127.0.0.1:5353,[::1]:53") == 0,
              "two practice drills, the resolver as a c-ares server list");
    const struct drill_practice *w = &p.practice[0], *c = &p.practice[1];
    TAP_CHECK(t,
              strcmp(w->spec.name, "weekly-us") == 0 && w->spec.mode == DRILL_LIVE &&
                  w->spec.duration == 1800 && w->interval == 604800 && w->n_windows == 2 &&
                  w->n_blocked == 1 && w->blocked[0] == 20811 && w->spec.n_outcome == 1 &&
                  strcmp(w->spec.outcome[0].host, "fo.example.com") == 0 &&
                  w->spec.abort_if.min_up_endpoints == 1 &&
                  strcmp(w->spec.reason, "practice drill weekly-us") == 0,
              "the weekly live drill: its settings, a default reason");
    TAP_CHECK(t,
              c->spec.mode == DRILL_SCOPED && c->spec.duration == 7200 && c->n_windows == 0 &&
                  strcmp(c->spec.reason, "daily canary") == 0 && c->spec.n_canary == 1,
              "the scoped one: duration defaults to max_duration, its own reason");
    json_t *j = drill_practice_json(w);
    json_t *wins = json_pack("[s, s]", "Tue 10:00-12:00", "Thu 10:00-12:00");
    json_t *dates = json_pack("[s]", "2026-12-24");
    TAP_CHECK(t,
              json_equal(json_object_get(j, "allowed_windows"), wins) &&
                  json_equal(json_object_get(j, "blocked_dates"), dates),
              "its JSON has the windows and dates as written");
    json_decref(wins);
    json_decref(dates);
    json_decref(j);
    struct drill_params copy;
    drill_params_copy(&copy, &p);
    drill_params_free(&p);
    TAP_CHECK(t,
              copy.n_practice == 2 && strcmp(copy.practice[1].spec.name, "canary-az") == 0 &&
                  strcmp(copy.outcome_resolver, "127.0.0.1:5353,[::1]:53") == 0,
              "a copy outlives the original");
    drill_params_free(&copy);
    /* Intervals past 2^32 ms (49.7 days) are read whole: a yearly drill
     * once wrapped to 17 days, and 4294968 s to 0.7 s (dropped unsaid). */
    e = parse_drills("{\"practice\": [{\"name\": \"yearly\", \"regions\": [\"us\"], "
                     "\"mode\": \"shadow\", \"interval\": 31536000}, {\"name\": \"odd\", "
                     "\"regions\": [\"us\"], \"mode\": \"shadow\", \"interval\": 4294968}]}",
                     &p);
    TAP_CHECK(t,
              e[0] == '\0' && p.n_practice == 2 && p.practice[0].interval == 31536000 &&
                  p.practice[1].interval == 4294968,
              "a yearly interval and one just past 2^32 ms kept as written (%s)", e);
    free(e);
    drill_params_free(&p);

    static const struct {
        const char *section, *needle;
    } bad[] = {
        {"{\"practice\": {}}", "$.drills.practice: must be an array"},
        {"{\"practice\": [5]}", "$.drills.practice[0]: must be an object"},
        {"{\"practice\": [{\"regions\": [\"us\"], \"mode\": \"shadow\", \"interval\": 60}]}",
         "$.drills.practice[0].name: is required"},
        {"{\"practice\": [{\"name\": \"a b\", \"regions\": [\"us\"], \"mode\": \"shadow\", "
         "\"interval\": 60}]}",
         "$.drills.practice[0].name: must be 1 to 64 letters"},
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], \"mode\": \"shadow\"}]}",
         "$.drills.practice[0].interval: is required"},
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], \"mode\": \"shadow\", "
         "\"interval\": 0.5}]}",
         "$.drills.practice[0].interval: must be a number of seconds from 1 to"},
        /* Past the 400-day bound (it wrapped to a small valid value once). */
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], \"mode\": \"shadow\", "
         "\"interval\": 34560001}]}",
         "$.drills.practice[0].interval: must be a number of seconds from 1 to 3.456e+07"},
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], \"mode\": \"shadow\", "
         "\"interval\": \"weekly\"}]}",
         "$.drills.practice[0].interval: must be a number of seconds"},
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], \"mode\": \"live\", "
         "\"interval\": 60}]}",
         "$.drills.practice[0]: a live drill needs \"duration\""},
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], \"mode\": \"sometimes\", "
         "\"interval\": 60}]}",
         "$.drills.practice[0]: \"mode\" must be"},
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], \"mode\": \"live\", "
         "\"duration\": 60, \"interval\": 60}]}",
         "$.drills.practice[0].duration: 60 s is not shorter than the interval"},
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], \"mode\": \"live\", "
         "\"duration\": 10, \"interval\": 60, \"allowed_windows\": [\"Tue 10:00-11:00\", "
         "\"Wed 10:00\"]}]}",
         "$.drills.practice[0].allowed_windows[1]: must give the hours as HH:MM-HH:MM"},
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], \"mode\": \"live\", "
         "\"duration\": 10, \"interval\": 60, \"allowed_windows\": []}]}",
         "$.drills.practice[0].allowed_windows: must be an array of 1 to 16"},
        {"{\"max_duration\": 86400, \"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], "
         "\"mode\": \"live\", \"duration\": 7200, \"interval\": 86400, \"allowed_windows\": [\"Tue "
         "10:00-11:00\"]}]}",
         "$.drills.practice[0].allowed_windows[0]: is shorter than the drill (duration 7200 s)"},
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], \"mode\": \"live\", "
         "\"duration\": 10, \"interval\": 60, \"blocked_dates\": [\"2026-12-24\", "
         "\"2026-02-30\"]}]}",
         "$.drills.practice[0].blocked_dates[1]: is not a date"},
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], \"mode\": \"live\", "
         "\"duration\": 10, \"interval\": 60, \"blocked_dates\": \"2026-12-24\"}]}",
         "$.drills.practice[0].blocked_dates: must be an array"},
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], \"mode\": \"live\", "
         "\"duration\": 10, \"interval\": 60, \"force\": true}]}",
         "$.drills.practice[0]: unknown key \"force\""},
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], \"mode\": \"shadow\", "
         "\"interval\": 60, \"duration\": 5},"
         " {\"name\": \"x\", \"regions\": [\"eu\"], \"mode\": \"shadow\", \"interval\": 60, "
         "\"duration\": 5}]}",
         "$.drills.practice[1].name: \"x\" is the name of another practice drill"},
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\", \"mars\"], \"mode\": "
         "\"shadow\", \"interval\": 60, \"duration\": 5}]}",
         "$.drills.practice[0].regions[1]: no region \"mars\""},
        {"{\"practice\": [{\"name\": \"x\", \"azs\": [\"us-9z\"], \"mode\": \"shadow\", "
         "\"interval\": 60, \"duration\": 5}]}",
         "$.drills.practice[0].azs[0]: no az \"us-9z\""},
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], \"mode\": \"shadow\", "
         "\"interval\": 60, \"duration\": 5, \"outcome\": [{\"check\": \"ping\", \"host\": "
         "\"a.example\"}]}]}",
         "$.drills.practice[0].outcome[0].check: no check \"ping\""},
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], \"mode\": \"shadow\", "
         "\"interval\": 60, \"duration\": 5, \"outcome\": [{\"check\": \"web\", \"host\": "
         "\"a..example\"}]}]}",
         "$.drills.practice[0]: \"outcome\"[0].host must be a host name"},
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], \"mode\": \"shadow\", "
         "\"interval\": 60, \"duration\": 5, \"outcome\": [{\"check\": \"web\"}]}]}",
         "$.drills.practice[0]: \"outcome\"[0] must be {\"check\": NAME, \"host\": NAME}"},
        {"{\"practice\": [{\"name\": \"x\", \"regions\": [\"us\"], \"mode\": \"live\", "
         "\"duration\": 9000, \"interval\": 90000}]}",
         "longer than drills.max_duration"},
        {"{\"outcome_resolver\": [\"127.0.0.1\"]}",
         "$.drills.outcome_resolver[0]: must be an address with a port"},
        {"{\"outcome_resolver\": \"127.0.0.1:53\"}", "$.drills.outcome_resolver: must be an array"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        e = parse_drills(bad[i].section, &p);
        TAP_CHECK(t, has(e, bad[i].needle), "bad section %zu: \"%s\" (%s)", i, bad[i].needle, e);
        drill_params_free(&p);
        free(e);
    }
}

/* The core keeps a practice's state by name across reloads and restarts. */
static void test_state(struct tap *t)
{
    struct drill_params p;
    struct health_core hc;
    struct drill_core dc, dc2;
    char *e = parse_drills("{\"practice\": [{\"name\": \"a\", \"regions\": [\"us\"], \"mode\": "
                           "\"shadow\", \"interval\": 60, \"duration\": 5},"
                           " {\"name\": \"b\", \"regions\": [\"eu\"], \"mode\": \"shadow\", "
                           "\"interval\": 120, \"duration\": 5}]}",
                           &p);
    free(e);
    health_core_init(&hc);
    drill_core_init(&dc, &hc, &p);
    drill_core_practice_started(&dc, "b", "drl-7", TUE);
    TAP_CHECK(t, drill_core_practice_skip(&dc, "a", DRILL_SKIP_OVERRIDE, "ovr-1", TUE, TUE + 60),
              "a first skip is new");
    TAP_CHECK(t, !drill_core_practice_skip(&dc, "a", DRILL_SKIP_OVERRIDE, "ovr-1", TUE + 1, -1),
              "the same reason again is not");
    TAP_CHECK(t, drill_core_practice_skip(&dc, "a", DRILL_SKIP_REGION_DOWN, "eu", TUE + 2, -1),
              "another reason is");
    struct drill_practice q;
    struct drill_practice_state st;
    TAP_CHECK(t,
              drill_core_practice_at(&dc, 1, &q, &st) && st.last_start == TUE &&
                  strcmp(st.last_id, "drl-7") == 0 && st.next_start == TUE + 120,
              "b: last start, its drill, next start one interval on");
    drill_practice_free(&q);
    TAP_CHECK(t,
              drill_core_practice_at(&dc, 0, &q, &st) && st.skip == DRILL_SKIP_REGION_DOWN &&
                  st.skips[DRILL_SKIP_OVERRIDE] == 1 && st.skips[DRILL_SKIP_REGION_DOWN] == 1,
              "a: skipped for region_down now, each new skip counted once");
    drill_practice_free(&q);
    TAP_CHECK(t, !drill_core_practice_at(&dc, 2, &q, &st), "no practice 2");
    json_t *list = drill_core_practice_json(&dc);
    json_t *a = json_array_get(list, 0);
    TAP_CHECK(t,
              json_array_size(list) == 2 &&
                  strcmp(json_string_value(json_object_get(json_object_get(a, "skip"), "reason")),
                         "region_down") == 0 &&
                  json_is_null(json_object_get(a, "last_start")),
              "the JSON view: a's skip, no start yet");
    json_decref(list);
    /* A reload that drops a and renames nothing else keeps b's state. */
    struct drill_params only_b;
    drill_params_copy(&only_b, &p);
    drill_practice_free(&only_b.practice[0]);
    only_b.practice[0] = only_b.practice[1];
    only_b.n_practice = 1;
    drill_core_set_params(&dc, &only_b);
    TAP_CHECK(t,
              drill_core_practice_at(&dc, 0, &q, &st) && strcmp(q.spec.name, "b") == 0 &&
                  st.last_start == TUE,
              "a reload keeps b's last start by name");
    drill_practice_free(&q);
    drill_params_free(&only_b);
    /* The state file keeps the last start: a restart does not reset it. */
    json_t *saved = drill_core_save(&dc);
    drill_core_init(&dc2, &hc, &p);
    drill_core_restore(&dc2, saved, TUE + 10);
    TAP_CHECK(t,
              drill_core_practice_at(&dc2, 1, &q, &st) && st.last_start == TUE &&
                  strcmp(st.last_id, "drl-7") == 0,
              "after a restart b's last start comes back from the state file");
    drill_practice_free(&q);
    TAP_CHECK(t, drill_core_practice_at(&dc2, 0, &q, &st) && st.last_start == 0, "a never ran");
    drill_practice_free(&q);
    json_decref(saved);
    drill_core_free(&dc2);
    drill_core_free(&dc);
    drill_params_free(&p);
    health_core_free(&hc);
}

int main(void)
{
    struct tap t = {0, 0};
    test_windows(&t);
    test_dates(&t);
    test_calendar(&t);
    test_config(&t);
    test_state(&t);
    return tap_done(&t);
}
