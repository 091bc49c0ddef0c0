/*
 * ctl_drill.c -- gtmctl drill plan|start|status|abort|list (gtmctl(8),
 * doc/drills.md).
 *
 * plan is the offline what-if (`gtmd drill`) against the server's live
 * state: a POST /v1/drills dry run, printed like `gtmd drill`. The others
 * start, watch, abort and list drills.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/ctl.h"

#define CTL_DRILL_MAX 64 /* repeated options (regions, azs, canary, clients) */

struct ctl_drill_opts {
    const char *regions[CTL_DRILL_MAX], *azs[CTL_DRILL_MAX], *canary[CTL_DRILL_MAX];
    const char *clients[CTL_DRILL_MAX], *outcome[CTL_DRILL_MAX];
    int n_regions, n_azs, n_canary, n_clients, n_outcome;
    const char *mode, *reason, *name;
    double duration, min_share;
    long min_up;
    bool force;
    const char *pos[4];
    int npos;
};

void ctl_drill_usage(FILE *f)
{
    fprintf(f, "drills (doc/drills.md):\n"
               "  drill plan --region R|--az A ... [--client IP | --ecs NET]...\n"
               "                                      what losing them does, on the live state\n"
               "                                      (exit 4: some record would be unserved)\n"
               "  drill start --region R|--az A ... --mode shadow|scoped|live --reason TEXT\n"
               "              [--duration S] [--canary NET]... [--abort-min-up N]\n"
               "              [--abort-min-share X] [--outcome CHECK@HOST]... [--name NAME]\n"
               "              [--force]\n"
               "  drill status [ID]                   one drill, or the active ones\n"
               "  drill abort ID\n"
               "  drill list                          active drills and the last 100 ended\n");
}

static bool ctl_drill_push(const char **arr, int *n, const char *v)
{
    if (*n >= CTL_DRILL_MAX)
        return false;
    arr[(*n)++] = v;
    return true;
}

/* Parses the options after "drill SUBCOMMAND"; false on a usage error. */
static bool ctl_drill_args(struct ctl *c, int argc, char **argv, struct ctl_drill_opts *o)
{
    bool ok = true;
    for (int i = 0; i < argc && ok; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "--json") == 0)
            c->json = true;
        else if (strcmp(a, "--force") == 0)
            o->force = true;
        else if (a[0] == '-' && a[1] == '-' && !v)
            ok = false;
        else if (strcmp(a, "--region") == 0)
            ok = ctl_drill_push(o->regions, &o->n_regions, argv[++i]);
        else if (strcmp(a, "--az") == 0)
            ok = ctl_drill_push(o->azs, &o->n_azs, argv[++i]);
        else if (strcmp(a, "--canary") == 0)
            ok = ctl_drill_push(o->canary, &o->n_canary, argv[++i]);
        else if (strcmp(a, "--client") == 0 || strcmp(a, "--ecs") == 0)
            ok = ctl_drill_push(o->clients, &o->n_clients, argv[++i]);
        else if (strcmp(a, "--outcome") == 0)
            ok = strchr(v, '@') && ctl_drill_push(o->outcome, &o->n_outcome, argv[++i]);
        else if (strcmp(a, "--name") == 0)
            o->name = argv[++i];
        else if (strcmp(a, "--mode") == 0)
            o->mode = argv[++i];
        else if (strcmp(a, "--reason") == 0)
            o->reason = argv[++i];
        else if (strcmp(a, "--duration") == 0) {
            o->duration = strtod(argv[++i], &end);
            ok = end && !*end && o->duration > 0;
        } else if (strcmp(a, "--abort-min-up") == 0) {
            o->min_up = strtol(argv[++i], &end, 10);
            ok = end && !*end && o->min_up > 0;
        } else if (strcmp(a, "--abort-min-share") == 0) {
            o->min_share = strtod(argv[++i], &end);
            ok = end && !*end && o->min_share > 0;
        } else if (a[0] == '-' || o->npos >= 4)
            ok = false;
        else
            o->pos[o->npos++] = a;
    }
    return ok;
}

/* The body of POST /v1/drills from the options. */
static json_t *ctl_drill_body(const struct ctl_drill_opts *o, bool dry_run)
{
    json_t *b = json_object(), *regions = json_array(), *azs = json_array();
    for (int i = 0; i < o->n_regions; i++)
        json_array_append_new(regions, json_string(o->regions[i]));
    for (int i = 0; i < o->n_azs; i++)
        json_array_append_new(azs, json_string(o->azs[i]));
    json_object_set_new(b, "regions", regions);
    json_object_set_new(b, "azs", azs);
    json_object_set_new(b, "mode", json_string(o->mode ? o->mode : "shadow"));
    if (o->reason)
        json_object_set_new(b, "reason", json_string(o->reason));
    if (o->duration > 0)
        json_object_set_new(b, "duration", json_real(o->duration));
    if (o->n_canary) {
        json_t *c = json_array();
        for (int i = 0; i < o->n_canary; i++)
            json_array_append_new(c, json_string(o->canary[i]));
        json_object_set_new(b, "canary", c);
    }
    if (o->min_up > 0 || o->min_share > 0) {
        json_t *ai = json_object();
        if (o->min_up > 0)
            json_object_set_new(ai, "min_up_endpoints", json_integer(o->min_up));
        if (o->min_share > 0)
            json_object_set_new(ai, "min_up_share", json_real(o->min_share));
        json_object_set_new(b, "abort_if", ai);
    }
    if (o->n_outcome) {
        json_t *oc = json_array();
        for (int i = 0; i < o->n_outcome; i++) {
            const char *at = strchr(o->outcome[i], '@');
            json_array_append_new(oc, json_pack("{s:s%, s:s}", "check", o->outcome[i],
                                                (size_t)(at - o->outcome[i]), "host", at + 1));
        }
        json_object_set_new(b, "outcome", oc);
    }
    if (o->name)
        json_object_set_new(b, "name", json_string(o->name));
    if (o->force)
        json_object_set_new(b, "force", json_true());
    if (dry_run) {
        json_t *cl = json_array();
        for (int i = 0; i < o->n_clients; i++)
            json_array_append_new(cl, json_string(o->clients[i]));
        json_object_set_new(b, "dry_run", json_true());
        json_object_set_new(b, "clients", cl);
    }
    return b;
}

/* "us: 192.0.2.1, 192.0.2.2 +3" from a what-if result and its capacity. */
static void ctl_drill_answer(json_t *rec, const char *which, char *buf, size_t len)
{
    json_t *r = json_object_get(rec, which), *a;
    const char *outcome = ctl_s(r, "outcome");
    size_t o = 0, i;
    if (strcmp(outcome, "served") == 0)
        json_array_foreach(json_object_get(rec, "capacity"), i, a)
        {
            if (json_number_value(json_object_get(a, which)) > 0)
                o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s", o ? "+" : "",
                                      ctl_s(a, "region"));
        }
    else
        o = (size_t)snprintf(buf, len, "%s", outcome);
    o += (size_t)snprintf(buf + o, o < len ? len - o : 0, ":");
    json_t *ans = json_object_get(r, "answers");
    json_array_foreach(ans, i, a)
    {
        if (i == 2) {
            snprintf(buf + o, o < len ? len - o : 0, " +%zu", json_array_size(ans) - 2);
            break;
        }
        o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s", i ? ", " : " ",
                              json_string_value(a));
    }
}

/* The records of a what-if as a table (plan, and a drill's report). */
static void ctl_drill_records(json_t *recs)
{
    size_t i;
    json_t *r;
    printf("%-28s %-5s %-18s %-38s %-38s %s\n", "RECORD", "TYPE", "CLIENT", "NOW", "WITH THE LOSS",
           "CHANGE");
    json_array_foreach(recs, i, r)
    {
        char now[256], after[256];
        ctl_drill_answer(r, "before", now, sizeof(now));
        ctl_drill_answer(r, "after", after, sizeof(after));
        bool served = strcmp(ctl_s(json_object_get(r, "after"), "outcome"), "served") == 0;
        printf("%-28s %-5s %-18s %-38s %-38s %s\n", ctl_s(r, "record"), ctl_s(r, "type"),
               ctl_s(r, "client"), now, after,
               !served                                       ? "UNSERVED"
               : json_is_true(json_object_get(r, "changed")) ? "moves"
                                                             : "same");
    }
}

static void ctl_drill_print_plan(json_t *j)
{
    size_t i;
    json_t *x;
    printf("plan: losing");
    json_array_foreach(json_object_get(j, "lost"), i, x)
        printf("%s %s", i ? "," : "", json_string_value(x));
    printf(" (%s, on the server's live state)\n\n", ctl_s(j, "mode"));
    ctl_drill_records(json_object_get(j, "records"));
    json_t *s = json_object_get(j, "summary");
    printf("\n%lld answers evaluated, %lld change, %lld would fall to when_all_down\n",
           json_integer_value(json_object_get(s, "evaluated")),
           json_integer_value(json_object_get(s, "changed")),
           json_integer_value(json_object_get(s, "unserved")));
    if (json_is_string(json_object_get(j, "abort_if_broken")))
        printf("abort_if is broken already: %s\n", ctl_s(j, "abort_if_broken"));
}

/* "+0.004 s" after base, or "-" when t is not a time. */
static const char *ctl_drill_rel(json_t *t, double base, char *buf, size_t len)
{
    if (!json_is_number(t) || base <= 0)
        return "-";
    snprintf(buf, len, "+%.3f s", json_number_value(t) - base);
    return buf;
}

/* A record of a timeline: its lost regions joined, or "-". */
static void ctl_drill_lost_regions(json_t *r, char *buf, size_t len)
{
    size_t i, o = 0;
    json_t *x;
    buf[0] = '\0';
    json_array_foreach(json_object_get(r, "lost_regions"), i, x) o += (size_t)snprintf(
        buf + o, o < len ? len - o : 0, "%s%s", i ? "," : "", json_string_value(x));
    if (!buf[0])
        snprintf(buf, len, "-");
}

/* The recovery timeline of a drill's report. */
static void ctl_drill_timeline(json_t *tl)
{
    char a[40], b[40], c[64];
    size_t i;
    json_t *r;
    double t0 = json_number_value(json_object_get(tl, "started"));
    double t1 = json_number_value(json_object_get(tl, "ended"));
    json_t *rto = json_object_get(tl, "rto"), *rs = json_object_get(tl, "restore");
    printf("  timeline  %s (measured on the answers served)\n", ctl_s(tl, "state"));
    printf("    started         %s\n", ctl_time(json_object_get(tl, "started"), a, 32));
    printf("    first avoiding  %s\n",
           ctl_drill_rel(json_object_get(tl, "first_avoiding"), t0, a, sizeof(a)));
    printf("    all avoiding    %s",
           ctl_drill_rel(json_object_get(tl, "all_avoiding"), t0, a, sizeof(a)));
    if (json_is_number(rto))
        printf("   RTO %.3f s + TTL %lld s = %.3f s for users", json_number_value(rto),
               json_integer_value(json_object_get(tl, "ttl")),
               json_number_value(json_object_get(tl, "rto_plus_ttl")));
    printf("\n    lost answers    %lld (%s, the workers' counters); own queries %lld, %lld from "
           "a lost target\n",
           json_integer_value(json_object_get(tl, "lost_answers")), ctl_s(tl, "lost_answers_of"),
           json_integer_value(json_object_get(tl, "self_queries")),
           json_integer_value(json_object_get(tl, "self_lost")));
    printf("    ended           %s\n",
           ctl_drill_rel(json_object_get(tl, "ended"), t0, a, sizeof(a)));
    if (json_is_number(json_object_get(tl, "ended")))
        printf("    restored        first %s, all %s after the end%s\n",
               ctl_drill_rel(json_object_get(rs, "first"), t1, a, sizeof(a)),
               ctl_drill_rel(json_object_get(rs, "all"), t1, b, sizeof(b)),
               json_is_number(json_object_get(rs, "rto")) ? "" : " (not every record yet)");
    printf("    %-28s %-5s %-6s %-16s %-10s %-6s %s\n", "RECORD", "TYPE", "TTL", "LOST", "AVOIDED",
           "LOST#", "RESTORED");
    json_array_foreach(json_object_get(tl, "records"), i, r)
    {
        ctl_drill_lost_regions(r, c, sizeof(c));
        printf("    %-28s %-5s %-6lld %-16s %-10s %-6lld %s\n", ctl_s(r, "record"),
               ctl_s(r, "type"), json_integer_value(json_object_get(r, "ttl")), c,
               ctl_drill_rel(json_object_get(r, "avoided"), t0, a, sizeof(a)),
               json_integer_value(json_object_get(r, "lost_answers")),
               ctl_drill_rel(json_object_get(r, "restored"), t1, b, sizeof(b)));
    }
}

/* One drill, readably. */
static void ctl_drill_print_one(json_t *d)
{
    char t1[32], t2[32];
    size_t i;
    json_t *x;
    printf("drill %s: %s, %s\n", ctl_s(d, "id"), ctl_s(d, "mode"), ctl_s(d, "state"));
    printf("  targets   ");
    json_array_foreach(json_object_get(d, "targets"), i, x)
        printf("%s%s", i ? ", " : "", json_string_value(x));
    printf("\n  reason    %s (by %s)\n", ctl_s(d, "reason"), ctl_s(d, "author"));
    if (json_is_string(json_object_get(d, "name")))
        printf("  name      %s\n", ctl_s(d, "name"));
    printf("  started   %s, ends %s\n", ctl_time(json_object_get(d, "started"), t1, 32),
           ctl_time(json_object_get(d, "ends"), t2, 32));
    if (json_is_array(json_object_get(d, "canary"))) {
        printf("  canary   ");
        json_array_foreach(json_object_get(d, "canary"), i, x) printf(" %s", json_string_value(x));
        printf("\n");
    }
    if (json_is_object(json_object_get(d, "abort_if"))) {
        char *ai = ctl_json_dumps(json_object_get(d, "abort_if"), JSON_COMPACT);
        printf("  abort_if  %s\n", ai ? ai : "?");
        free(ai);
    }
    json_array_foreach(json_object_get(json_object_get(d, "report"), "outcome"), i, x)
    {
        printf("  outcome   %s on %s: %lld probes, %lld failed, last: %s", ctl_s(x, "check"),
               ctl_s(x, "host"), json_integer_value(json_object_get(x, "probes")),
               json_integer_value(json_object_get(x, "failures")), ctl_s(x, "last"));
        if (json_is_string(json_object_get(x, "address")))
            printf(" (%s)", ctl_s(x, "address"));
        printf("\n");
    }
    if (json_is_object(json_object_get(json_object_get(d, "report"), "timeline")))
        ctl_drill_timeline(json_object_get(json_object_get(d, "report"), "timeline"));
    if (json_is_string(json_object_get(d, "result")))
        printf("  result    %s at %s: %s\n", ctl_s(d, "result"),
               ctl_time(json_object_get(d, "ended"), t1, 32), ctl_s(d, "end_reason"));
    json_t *w = json_object_get(json_object_get(d, "report"), "whatif");
    json_t *s = json_object_get(w, "summary");
    if (json_is_object(s)) {
        printf("  report    %lld answers change, %lld would fall to when_all_down\n\n",
               json_integer_value(json_object_get(s, "changed")),
               json_integer_value(json_object_get(s, "unserved")));
        ctl_drill_records(json_object_get(w, "records"));
    }
}

static void ctl_drill_row(json_t *d)
{
    char t[32], targets[256] = "";
    size_t i, o = 0;
    json_t *x;
    json_array_foreach(json_object_get(d, "targets"), i, x) o +=
        (size_t)snprintf(targets + o, o < sizeof(targets) ? sizeof(targets) - o : 0, "%s%s",
                         i ? "," : "", json_string_value(x));
    bool active = strcmp(ctl_s(d, "state"), "active") == 0;
    printf("%-9s %-7s %-26s %-8s %-21s %s\n", ctl_s(d, "id"), ctl_s(d, "mode"), targets,
           active ? "active" : ctl_s(d, "result"),
           ctl_time(json_object_get(d, active ? "ends" : "ended"), t, sizeof(t)),
           active ? ctl_s(d, "reason") : ctl_s(d, "end_reason"));
}

/* "7d", "2h", "90s": an interval readably. */
static void ctl_drill_span(double s, char *buf, size_t len)
{
    if (s >= 86400 && (long long)s % 86400 == 0)
        snprintf(buf, len, "%lldd", (long long)s / 86400);
    else if (s >= 3600 && (long long)s % 3600 == 0)
        snprintf(buf, len, "%lldh", (long long)s / 3600);
    else if (s >= 60 && (long long)s % 60 == 0)
        snprintf(buf, len, "%lldm", (long long)s / 60);
    else {
        char r[40];
        snprintf(buf, len, "%ss", ctl_real(s, r, sizeof(r)));
    }
}

/* One practice drill: its schedule, and what it does now. */
static void ctl_drill_practice_row(json_t *p)
{
    char targets[256] = "", every[32], next[32], last[32], state[400];
    size_t i, o = 0;
    json_t *x;
    json_array_foreach(json_object_get(p, "regions"), i, x) o +=
        (size_t)snprintf(targets + o, o < sizeof(targets) ? sizeof(targets) - o : 0, "%sregion:%s",
                         o ? "," : "", json_string_value(x));
    json_array_foreach(json_object_get(p, "azs"), i, x) o +=
        (size_t)snprintf(targets + o, o < sizeof(targets) ? sizeof(targets) - o : 0, "%saz:%s",
                         o ? "," : "", json_string_value(x));
    ctl_drill_span(json_number_value(json_object_get(p, "interval")), every, sizeof(every));
    json_t *skip = json_object_get(p, "skip");
    if (json_is_string(json_object_get(p, "running")))
        snprintf(state, sizeof(state), "running %s", ctl_s(p, "running"));
    else if (json_is_object(skip))
        snprintf(state, sizeof(state), "skipped (%s): %s", ctl_s(skip, "reason"),
                 ctl_s(skip, "why"));
    else
        snprintf(state, sizeof(state), "waiting");
    printf("%-16s %-7s %-20s %-6s %-21s %-21s %s\n", ctl_s(p, "name"), ctl_s(p, "mode"), targets,
           every, ctl_time(json_object_get(p, "next_start"), next, sizeof(next)),
           ctl_time(json_object_get(p, "last_start"), last, sizeof(last)), state);
}

static void ctl_drill_print_list(json_t *j)
{
    size_t i;
    json_t *d;
    printf("%-9s %-7s %-26s %-8s %-21s %s\n", "ID", "MODE", "TARGETS", "RESULT",
           "ENDS / ENDED (UTC)", "REASON / WHY IT ENDED");
    json_array_foreach(json_object_get(j, "active"), i, d) ctl_drill_row(d);
    json_array_foreach(json_object_get(j, "history"), i, d) ctl_drill_row(d);
    if (json_array_size(json_object_get(j, "practice")) == 0)
        return;
    printf("\n%-16s %-7s %-20s %-6s %-21s %-21s %s\n", "PRACTICE", "MODE", "TARGETS", "EVERY",
           "NEXT START (UTC)", "LAST START (UTC)", "NOW");
    json_array_foreach(json_object_get(j, "practice"), i, d) ctl_drill_practice_row(d);
}

static void ctl_drill_print_active(json_t *j)
{
    size_t i;
    json_t *d;
    if (json_array_size(json_object_get(j, "active")) == 0)
        printf("no drill is running\n");
    json_array_foreach(json_object_get(j, "active"), i, d) ctl_drill_print_one(d);
}

static void ctl_drill_print_started(json_t *d)
{
    char t[32];
    printf("drill %s started: %s until %s\n", ctl_s(d, "id"), ctl_s(d, "mode"),
           ctl_time(json_object_get(d, "ends"), t, sizeof(t)));
    ctl_drill_print_one(d);
}

/* Sends one call and prints its answer; rc as ctl_call. */
static int ctl_drill_call(struct ctl *c, const char *method, const char *path, json_t *body,
                          void (*human)(json_t *))
{
    int rc;
    json_t *j = ctl_call(c, method, path, body, &rc);
    if (j && rc == CTL_OK)
        ctl_output(c, j, human);
    if (rc == CTL_OK && human == ctl_drill_print_plan &&
        json_integer_value(json_object_get(j, "exit")) != 0)
        rc = CTL_UNSERVED;
    json_decref(j);
    json_decref(body);
    return rc;
}

int ctl_drill(struct ctl *c, int argc, char **argv)
{
    struct ctl_drill_opts o;
    char path[600];
    memset(&o, 0, sizeof(o));
    const char *sub = argc > 1 ? argv[1] : "";
    bool ok = argc > 1 && ctl_drill_args(c, argc - 2, argv + 2, &o);
    bool targets = o.n_regions + o.n_azs > 0;
    if (ok && strcmp(sub, "plan") == 0 && targets && o.npos == 0)
        return ctl_drill_call(c, "POST", "/v1/drills", ctl_drill_body(&o, true),
                              ctl_drill_print_plan);
    if (ok && strcmp(sub, "start") == 0 && targets && o.mode && o.reason && o.npos == 0 &&
        o.n_clients == 0)
        return ctl_drill_call(c, "POST", "/v1/drills", ctl_drill_body(&o, false),
                              ctl_drill_print_started);
    if (ok && strcmp(sub, "status") == 0 && o.npos == 1) {
        snprintf(path, sizeof(path), "/v1/drills/%s", o.pos[0]);
        return ctl_drill_call(c, "GET", path, NULL, ctl_drill_print_one);
    }
    if (ok && strcmp(sub, "status") == 0 && o.npos == 0)
        return ctl_drill_call(c, "GET", "/v1/drills", NULL, ctl_drill_print_active);
    if (ok && strcmp(sub, "abort") == 0 && o.npos == 1) {
        snprintf(path, sizeof(path), "/v1/drills/%s", o.pos[0]);
        return ctl_drill_call(c, "DELETE", path, NULL, ctl_drill_print_one);
    }
    if (ok && strcmp(sub, "list") == 0 && o.npos == 0)
        return ctl_drill_call(c, "GET", "/v1/drills", NULL, ctl_drill_print_list);
    fprintf(stderr, "gtmctl: bad drill command or arguments\n");
    ctl_drill_usage(stderr);
    return CTL_USAGE;
}
