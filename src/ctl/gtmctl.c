/*
 * gtmctl.c -- command-line client of the gtmd admin API (gtmctl(8)).
 *
 * Exit status: 0 success, 1 the server refused or failed the request
 * (HTTP 4xx/5xx, message printed), 2 usage error, 3 the server could not
 * be reached (ctl.h; the drill commands are in ctl_drill.c).
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/ctl.h"
#include "ctl/ctl_http.h"

static void ctl_usage(FILE *f)
{
    fprintf(f, "usage: gtmctl [--server URL] [--token-file FILE] [--json] [--timeout S] COMMAND\n"
               "commands:\n"
               "  status                              servers, zones, regions, azs, endpoints\n"
               "  explain NAME [TYPE] [--client IP] [--ecs ADDR/LEN]\n"
               "                                      why NAME gets its answer\n"
               "  drain REGION --reason TEXT [--expires S] [--force] [--dry-run]\n"
               "                                      force a region down (an override)\n"
               "  undrain REGION [--force]            remove the region's overrides\n"
               "  node status                         this node's fitness to serve, its drain\n"
               "  node drain --reason TEXT            take this node out of anycast (unfit)\n"
               "  node undrain                        end the drain\n"
               "  override list\n"
               "  override add TARGET up|down --reason TEXT [--expires S] [--percent P]\n"
               "               [--salt N] [--force] [--dry-run]  (--percent: a traffic dial)\n"
               "                                      TARGET: region:R, az:A, endpoint:POOL/NAME\n"
               "  override rm ID [--force]            (--force: even if unsafe)\n"
               "  reload                              reload config, zones, geo database\n"
               "  drill plan|start|status|abort|list  rehearse losing regions or azs (below)\n"
               "  watch                               every state change as it happens (lines;\n"
               "                                      --json: one JSON object a line)\n"
               "  health                              is gtmd serving (no token needed)\n"
               "  metrics                             Prometheus metrics text\n"
               "environment: GTMCTL_SERVER (default http://127.0.0.1:8053, or unix:/path),\n"
               "             GTMCTL_TOKEN_FILE, GTMCTL_TOKEN\n");
    ctl_drill_usage(f);
    ctl_verdict_usage(f);
    ctl_dnssec_usage(f);
    ctl_config_usage(f);
    ctl_externaldns_usage(f);
}

static char *ctl_read_token(const char *path)
{
    char buf[512];
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "gtmctl: cannot read token file %s: %s\n", path, strerror(errno));
        exit(2);
    }
    if (!fgets(buf, sizeof(buf), f))
        buf[0] = '\0';
    int err = ferror(f) ? errno : 0;
    fclose(f);
    buf[strcspn(buf, "\r\n ")] = '\0';
    if (err || !buf[0]) {
        fprintf(stderr, "gtmctl: cannot read token file %s: %s\n", path,
                err ? strerror(err) : "its first line is empty");
        exit(2);
    }
    return strdup(buf);
}

json_t *ctl_call(struct ctl *c, const char *method, const char *path, json_t *body, int *rc)
{
    struct ctl_http_response r;
    char *b = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int e = ctl_http_request(c->server, method, path, c->token, b, c->timeout, &r);
    free(b);
    if (e != 0) {
        fprintf(stderr, "gtmctl: %s\n", r.error);
        *rc = 3;
        return NULL;
    }
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    if (!j)
        j = json_string(r.body);
    *rc = 0;
    if (r.status >= 400) {
        json_t *err = json_object_get(j, "error");
        const char *msg = json_string_value(json_object_get(err, "message"));
        fprintf(stderr, "gtmctl: %s %s: HTTP %d: %s\n", method, path, r.status,
                msg ? msg : (json_is_string(j) ? json_string_value(j) : "error"));
        size_t ei;
        json_t *ex;
        json_array_foreach(json_object_get(j, "errors"), ei, ex)
            fprintf(stderr, "  %s\n", json_string_value(ex));
        json_array_foreach(json_object_get(err, "errors"), ei, ex) /* /v1/config */
            fprintf(stderr, "  %s\n", json_string_value(ex));
        if (!msg && json_is_string(json_object_get(j, "result")))
            fprintf(stderr, "  result: %s\n", json_string_value(json_object_get(j, "result")));
        json_t *recs = json_object_get(err, "records");
        size_t i;
        json_t *x;
        json_array_foreach(recs, i, x) fprintf(stderr, "  would leave unserved: %s %s\n",
                                               json_string_value(json_object_get(x, "record")),
                                               json_string_value(json_object_get(x, "type")));
        *rc = 1;
    }
    ctl_http_free(&r);
    return j;
}

const char *ctl_s(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "-";
}

static void ctl_print_endpoints(json_t *eps, const char *region, const char *az)
{
    size_t i;
    json_t *e;
    json_array_foreach(eps, i, e)
    {
        json_t *st = json_object_get(e, "state");
        printf("%-12s %-14s %-10s %-12s %-22s %-7s %-8s %-9s %s\n", region, az, ctl_s(e, "pool"),
               ctl_s(e, "name"), ctl_s(e, "answer"), ctl_s(st, "probe"), ctl_s(st, "override"),
               ctl_s(st, "effective"), ctl_s(e, "last_result"));
    }
}

/* "(drill drl-3 live: reason)" lines for the drills of a region or az. */
static void ctl_print_drills(json_t *state, const char *region, const char *az)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(state, "drills"), i, d)
        printf("%-12s %-14s (drill %s %s: %s)\n", region, az, ctl_s(d, "id"), ctl_s(d, "mode"),
               ctl_s(d, "reason"));
}

static void ctl_print_status(json_t *j)
{
    json_t *srv = json_object_get(j, "server");
    printf("gtmd %s  uptime %.0fs  generation %lld  workers %lld  overrides %lld  drills %lld\n",
           ctl_s(srv, "version"), json_number_value(json_object_get(srv, "uptime_s")),
           json_integer_value(json_object_get(srv, "config_generation")),
           json_integer_value(json_object_get(srv, "workers")),
           json_integer_value(json_object_get(srv, "active_overrides")),
           json_integer_value(json_object_get(srv, "active_drills")));
    size_t i, k;
    json_t *z, *r, *a;
    json_array_foreach(json_object_get(j, "zones"), i, z)
        printf("zone %-30s serial %-12lld records %lld\n", ctl_s(z, "origin"),
               json_integer_value(json_object_get(z, "serial")),
               json_integer_value(json_object_get(z, "records")));
    printf("\n%-12s %-14s %-10s %-12s %-22s %-7s %-8s %-9s %s\n", "REGION", "AZ", "POOL",
           "ENDPOINT", "ANSWER", "PROBE", "OVERRIDE", "EFFECTIVE", "LAST RESULT");
    json_array_foreach(json_object_get(j, "regions"), i, r)
    {
        const char *rn = ctl_s(r, "name");
        json_t *ro = json_object_get(json_object_get(r, "state"), "override");
        if (json_is_string(ro))
            printf("%-12s (region forced %s)\n", rn, json_string_value(ro));
        ctl_print_drills(json_object_get(r, "state"), rn, "-");
        json_array_foreach(json_object_get(r, "azs"), k, a)
        {
            json_t *ao = json_object_get(json_object_get(a, "state"), "override");
            if (json_is_string(ao))
                printf("%-12s %-14s (az forced %s)\n", rn, ctl_s(a, "name"), json_string_value(ao));
            ctl_print_drills(json_object_get(a, "state"), rn, ctl_s(a, "name"));
            ctl_print_endpoints(json_object_get(a, "endpoints"), rn, ctl_s(a, "name"));
        }
        ctl_print_endpoints(json_object_get(r, "endpoints"), rn, "-");
    }
}

static void ctl_print_overrides(json_t *arr)
{
    size_t i;
    json_t *o;
    printf("%-10s %-28s %-5s %-10s %-20s %s\n", "ID", "TARGET", "STATE", "AUTHOR", "EXPIRES",
           "REASON");
    json_array_foreach(arr, i, o)
    {
        json_t *ex = json_object_get(o, "expires"), *pc = json_object_get(o, "percent");
        char exp[32], st[32];
        /* A traffic dial shows its share: "down/30%". */
        if (json_is_number(pc))
            snprintf(st, sizeof(st), "%s/%g%%", ctl_s(o, "state"), json_number_value(pc));
        else
            snprintf(st, sizeof(st), "%s", ctl_s(o, "state"));
        printf("%-10s %-28s %-5s %-10s %-20s %s\n", ctl_s(o, "id"), ctl_s(o, "target"), st,
               ctl_s(o, "author"), json_is_number(ex) ? ctl_time(ex, exp, sizeof(exp)) : "never",
               ctl_s(o, "reason"));
    }
}

/* The geo part of explain: who the client is, where, what matched. */
static void ctl_print_geo(json_t *g)
{
    if (!json_is_object(g))
        return;
    json_t *cl = json_object_get(g, "client"), *loc = json_object_get(g, "location");
    printf("client %s", json_is_string(json_object_get(cl, "address")) ? ctl_s(cl, "address")
                                                                       : ctl_s(cl, "why_unknown"));
    if (json_is_integer(json_object_get(cl, "ecs_source_prefix")))
        printf(" (ECS /%lld)", json_integer_value(json_object_get(cl, "ecs_source_prefix")));
    if (json_is_true(json_object_get(cl, "ecs_ignored")))
        printf(" (ECS ignored: \"ecs\": false)");
    if (json_is_object(loc)) {
        printf(" in %s:", ctl_s(loc, "network"));
        const char *f[] = {"continent", "country", "subdivision"};
        for (int k = 0; k < 3; k++)
            if (json_is_string(json_object_get(loc, f[k])))
                printf(" %s %s", f[k], ctl_s(loc, f[k]));
        if (json_is_integer(json_object_get(loc, "asn")))
            printf(" AS%lld", json_integer_value(json_object_get(loc, "asn")));
        char lat[40], lon[40];
        if (json_is_number(json_object_get(loc, "latitude")))
            printf(
                " at %s, %s",
                ctl_real(json_number_value(json_object_get(loc, "latitude")), lat, sizeof(lat)),
                ctl_real(json_number_value(json_object_get(loc, "longitude")), lon, sizeof(lon)));
    } else
        printf(", location unknown");
    printf("\n");
    if (json_is_string(json_object_get(g, "key")))
        printf("geo    matched %s (%s)\n", ctl_s(g, "key"), ctl_s(g, "match"));
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(g, "distances"), i, d)
    {
        json_t *km = json_object_get(d, "km");
        if (json_is_number(km))
            printf("  %-12s %8.0f km\n", ctl_s(d, "region"), json_number_value(km));
        else
            printf("  %-12s no coordinates: configured order\n", ctl_s(d, "region"));
    }
    json_t *w = json_object_get(g, "widened_scope");
    if (strcmp(ctl_s(cl, "from"), "ecs") != 0) {
        printf("scope  none: %s\n", json_is_true(json_object_get(cl, "ecs_ignored"))
                                        ? "the record ignores ECS, /0 is returned"
                                        : "no ECS option in the query");
        return;
    }
    printf("scope  /%lld: class /%lld, ", json_integer_value(json_object_get(g, "scope")),
           json_integer_value(json_object_get(g, "class_scope")));
    if (json_is_integer(w))
        printf("widened for the current health /%lld\n", json_integer_value(w));
    else if (json_is_string(json_object_get(g, "why_not_widened")))
        printf("not widened: %s\n", ctl_s(g, "why_not_widened"));
    else /* a gtmd before why_not_widened */
        printf("not widened (health state changing, or no ECS)\n");
}

/* The latency part of explain: the vantage point and the table used. */
static void ctl_print_latency(json_t *l)
{
    if (!json_is_object(l))
        return;
    const char *v = ctl_s(l, "vantage");
    bool self = json_is_true(json_object_get(l, "this_node")) && strcmp(v, "this node") != 0;
    printf("latency vantage %s%s", v, self ? " (this node)" : "");
    if (json_is_string(json_object_get(l, "key")))
        printf(" for %s", ctl_s(l, "key"));
    printf(", tolerance %lld ms or %lld %%", json_integer_value(json_object_get(l, "tolerance_ms")),
           json_integer_value(json_object_get(l, "tolerance_pct")));
    if (json_is_number(json_object_get(l, "best_ms")))
        printf(": best %.2f ms, up to %.2f ms\n", json_number_value(json_object_get(l, "best_ms")),
               json_number_value(json_object_get(l, "limit_ms")));
    else
        printf(": no up endpoint with a known latency, the region order\n");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(l, "table"), i, r)
    {
        json_t *ms = json_object_get(r, "ewma_ms");
        printf("  %-12s %-10s ", ctl_s(r, "endpoint"), ctl_s(r, "region"));
        if (json_is_number(ms))
            printf("%9.2f ms %6lld samples %6.1f s ago", json_number_value(ms),
                   json_integer_value(json_object_get(r, "samples")),
                   json_number_value(json_object_get(r, "age_s")));
        else
            printf("%-36s", "  unknown");
        printf("  %-7s%s\n", ctl_s(r, "state"),
               json_is_true(json_object_get(r, "within")) ? " <- candidate" : "");
    }
}

/* "(ovr-3 by operate, until 2026-11-22T04:36:34Z: reason)" for an
 * override object; "" for anything else. */
static const char *ctl_override_note(json_t *o, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!json_is_object(o))
        return buf;
    char until[40] = "never expires", t[32];
    json_t *ex = json_object_get(o, "expires");
    if (json_is_number(ex))
        snprintf(until, sizeof(until), "until %s", ctl_time(ex, t, sizeof(t)));
    snprintf(buf, len, " (%s by %s, %s: %s)", ctl_s(o, "id"), ctl_s(o, "author"), until,
             ctl_s(o, "reason"));
    return buf;
}

/* Under a region of explain: its azs with an override, then the endpoints
 * of the region forced by an override of their own. */
static void ctl_print_explain_layers(json_t *region, json_t *eps)
{
    char note[1400];
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(region, "azs"), i, x)
    {
        json_t *o = json_object_get(x, "override");
        if (json_is_object(o))
            printf("     az %s forced %s%s\n", ctl_s(x, "name"), ctl_s(o, "state"),
                   ctl_override_note(o, note, sizeof(note)));
    }
    json_array_foreach(eps, i, x)
    {
        json_t *o = json_object_get(json_object_get(x, "state"), "forced_by");
        const char *t = ctl_s(o, "target");
        if (strcmp(ctl_s(x, "region"), ctl_s(region, "region")) == 0 && json_is_object(o) &&
            strncmp(t, "endpoint:", 9) == 0)
            printf("     endpoint %s/%s forced %s%s\n", ctl_s(x, "pool"), ctl_s(x, "name"),
                   ctl_s(o, "state"), ctl_override_note(o, note, sizeof(note)));
    }
}

static void ctl_print_explain(json_t *j)
{
    json_t *p = json_object_get(j, "policy"), *rep = json_object_get(j, "reply");
    size_t i;
    json_t *x;
    printf("query  %s %s from %s\n", ctl_s(json_object_get(j, "query"), "name"),
           ctl_s(json_object_get(j, "query"), "type"),
           ctl_s(json_object_get(j, "query"), "client"));
    printf("zone   %s\n", ctl_s(j, "zone"));
    if (json_is_object(p)) {
        json_t *rec = json_object_get(p, "record");
        printf("policy %s over pool %s (select %s, %s)\n", ctl_s(rec, "policy"), ctl_s(rec, "pool"),
               ctl_s(json_object_get(p, "selection"), "select"), ctl_s(p, "region_order_source"));
        char note[1400];
        json_array_foreach(json_object_get(p, "regions"), i, x)
        {
            printf("  %d. %-12s %-5s %s%s%s\n", (int)i + 1, ctl_s(x, "region"), ctl_s(x, "state"),
                   ctl_s(x, "why"),
                   ctl_override_note(json_object_get(x, "override"), note, sizeof(note)),
                   json_is_true(json_object_get(x, "serving")) ? "  <- serving" : "");
            ctl_print_explain_layers(x, json_object_get(p, "endpoints"));
        }
        ctl_print_geo(json_object_get(p, "geo"));
        ctl_print_latency(json_object_get(p, "latency"));
        printf("outcome %s, ttl %lld, ecs scope /%lld\n", ctl_s(p, "outcome"),
               json_integer_value(json_object_get(p, "ttl")),
               json_integer_value(json_object_get(p, "ecs_scope")));
    } else
        printf("policy none (static zone data)\n");
    printf("reply  %s%s\n", ctl_s(rep, "rcode"),
           json_is_true(json_object_get(rep, "aa")) ? " aa" : "");
    json_array_foreach(json_object_get(rep, "answer"), i, x) printf("  %s\n", json_string_value(x));
    json_array_foreach(json_object_get(rep, "authority"), i, x)
        printf("  (authority) %s\n", json_string_value(x));
}

void ctl_output(struct ctl *c, json_t *j, void (*human)(json_t *))
{
    if (c->json || !human) {
        char *t = ctl_json_dumps(j, JSON_INDENT(2));
        printf("%s\n", t);
        free(t);
    } else
        human(j);
}

/* Options shared by override-making commands. */
struct ctl_ovr_opts {
    const char *reason;
    double expires;
    bool force, dry_run;
    const char *client, *ecs;
    const char *percent, *salt; /* a traffic dial: as given, checked by gtmd */
};

/* Parses --reason/--expires/--force/--dry-run/--client/--ecs from argv;
 * positional arguments are left in pos. Returns -1 on a usage error. */
static int ctl_parse_opts(int argc, char **argv, struct ctl_ovr_opts *o, char **pos, int *npos)
{
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        bool more = i + 1 < argc;
        if (strcmp(argv[i], "--reason") == 0 && more)
            o->reason = argv[++i];
        else if (strcmp(argv[i], "--expires") == 0 && more)
            o->expires = atof(argv[++i]);
        else if (strcmp(argv[i], "--client") == 0 && more)
            o->client = argv[++i];
        else if (strcmp(argv[i], "--ecs") == 0 && more)
            o->ecs = argv[++i];
        else if (strcmp(argv[i], "--percent") == 0 && more)
            o->percent = argv[++i];
        else if (strcmp(argv[i], "--salt") == 0 && more)
            o->salt = argv[++i];
        else if (strcmp(argv[i], "--force") == 0)
            o->force = true;
        else if (strcmp(argv[i], "--dry-run") == 0)
            o->dry_run = true;
        else if (argv[i][0] == '-' && argv[i][1] == '-')
            return -1;
        else
            pos[(*npos)++] = argv[i];
    }
    return 0;
}

/* --percent and --salt into an override body: numbers, whose range gtmd
 * checks (one rule, in one place). -1 on a malformed number. */
static int ctl_dial_opts(const struct ctl_ovr_opts *o, json_t *body)
{
    char *end;
    if (o->percent) {
        double p = strtod(o->percent, &end);
        if (end == o->percent || *end != '\0') {
            fprintf(stderr, "gtmctl: --percent must be a number from 0 to 100\n");
            return -1;
        }
        json_object_set_new(body, "percent", json_real(p));
    }
    if (o->salt) {
        long long v = strtoll(o->salt, &end, 10);
        if (end == o->salt || *end != '\0') {
            fprintf(stderr, "gtmctl: --salt must be an integer\n");
            return -1;
        }
        json_object_set_new(body, "salt", json_integer(v));
    }
    return 0;
}

static int ctl_override_add(struct ctl *c, const char *target, const char *state,
                            const struct ctl_ovr_opts *o)
{
    int rc;
    if (!o->reason) {
        fprintf(stderr, "gtmctl: --reason is required\n");
        return 2;
    }
    json_t *body = json_pack("{s:s, s:s, s:s, s:b, s:b}", "target", target, "state", state,
                             "reason", o->reason, "force", o->force, "dry_run", o->dry_run);
    if (o->expires > 0)
        json_object_set_new(body, "expires_in", json_real(o->expires));
    if (ctl_dial_opts(o, body) != 0) {
        json_decref(body);
        return 2;
    }
    json_t *j = ctl_call(c, "POST", "/v1/overrides", body, &rc);
    json_decref(body);
    if (j && rc == 0) {
        if (c->json)
            ctl_output(c, j, NULL);
        else if (o->dry_run) {
            size_t i;
            json_t *x;
            printf("dry run: %zu answer(s) would change\n",
                   json_array_size(json_object_get(j, "changes")));
            json_array_foreach(json_object_get(j, "changes"), i, x)
            {
                printf("  %s %s: %s -> %s", ctl_s(x, "record"), ctl_s(x, "type"),
                       ctl_s(json_object_get(x, "before"), "serving_region"),
                       ctl_s(json_object_get(x, "after"), "serving_region"));
                if (json_is_number(json_object_get(x, "moved_percent")))
                    printf(" (%g %% of its clients)",
                           json_number_value(json_object_get(x, "moved_percent")));
                printf("\n");
            }
        } else if (json_is_number(json_object_get(j, "percent")))
            printf("override %s: %s forced %s for %g %% of clients (salt %lld)\n", ctl_s(j, "id"),
                   target, state, json_number_value(json_object_get(j, "percent")),
                   json_integer_value(json_object_get(j, "salt")));
        else
            printf("override %s: %s forced %s\n", ctl_s(j, "id"), target, state);
    }
    json_decref(j);
    return rc;
}

/* undrain: delete every override whose target is region:NAME (force: even
 * when the safety rule refuses a deletion). */
static int ctl_undrain(struct ctl *c, const char *region, bool force)
{
    int rc;
    char target[512], path[600];
    snprintf(target, sizeof(target), "region:%s", region);
    json_t *j = ctl_call(c, "GET", "/v1/overrides", NULL, &rc);
    size_t i, removed = 0;
    json_t *o;
    int list_rc = rc;
    json_array_foreach(json_object_get(j, "overrides"), i, o)
    {
        if (list_rc != 0 || strcmp(ctl_s(o, "target"), target) != 0)
            continue;
        int one;
        snprintf(path, sizeof(path), "/v1/overrides/%s%s", ctl_s(o, "id"),
                 force ? "?force=true" : "");
        json_decref(ctl_call(c, "DELETE", path, NULL, &one));
        /* Go on with the others; report the first failure. */
        removed += one == 0;
        if (one != 0 && rc == 0)
            rc = one;
    }
    json_decref(j);
    if (rc == 0 && !c->json)
        printf("%s: %zu override(s) removed\n", target, removed);
    else if (rc == 0)
        printf("{\"removed\": %zu}\n", removed);
    return rc;
}

static int ctl_simple(struct ctl *c, const char *method, const char *path, void (*human)(json_t *))
{
    int rc;
    json_t *j = ctl_call(c, method, path, NULL, &rc);
    if (j && rc == 0) {
        if (json_is_string(j))
            fputs(json_string_value(j), stdout);
        else
            ctl_output(c, j, human);
    }
    json_decref(j);
    return rc;
}

static void ctl_print_overrides_obj(json_t *j)
{
    ctl_print_overrides(json_object_get(j, "overrides"));
}

static void ctl_print_reload(json_t *j)
{
    printf("reload %s, generation %lld\n", ctl_s(j, "result"),
           json_integer_value(json_object_get(j, "generation")));
}

static void ctl_print_node(json_t *j)
{
    json_t *f = json_object_get(j, "fitness");
    if (!f)
        f = j;
    json_t *d = json_object_get(f, "drain");
    if (json_object_get(f, "fit"))
        printf("fit: %s\n", json_is_true(json_object_get(f, "fit")) ? "yes" : "no");
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(f, "why"), i, w) printf("  why: %s\n", json_string_value(w));
    if (json_object_get(f, "announced"))
        printf("announced: %s\n", json_is_true(json_object_get(f, "announced")) ? "yes" : "no");
    printf("drained: %s", json_is_true(json_object_get(d, "drained")) ? "yes" : "no");
    if (json_is_true(json_object_get(d, "drained")))
        printf(" (%s, by %s)", ctl_s(d, "reason"), ctl_s(d, "by"));
    printf("\n");
}

/* node status | drain --reason TEXT | undrain: this node's fitness and
 * drain (/v1/node). */
static int ctl_node(struct ctl *c, const char *what, const struct ctl_ovr_opts *o)
{
    if (strcmp(what, "status") == 0)
        return ctl_simple(c, "GET", "/v1/node", ctl_print_node);
    bool on = strcmp(what, "drain") == 0;
    if (!on && strcmp(what, "undrain") != 0) {
        fprintf(stderr, "gtmctl: node status|drain|undrain\n");
        return 2;
    }
    if (on && !o->reason) {
        fprintf(stderr, "gtmctl: --reason is required\n");
        return 2;
    }
    int rc;
    json_t *body = on ? json_pack("{s:s}", "reason", o->reason) : json_object();
    json_t *j = ctl_call(c, "POST", on ? "/v1/node/drain" : "/v1/node/undrain", body, &rc);
    json_decref(body);
    if (j && rc == 0)
        ctl_output(c, j, ctl_print_node);
    json_decref(j);
    return rc;
}

static int ctl_explain(struct ctl *c, char **pos, int npos, const struct ctl_ovr_opts *o)
{
    char path[2048];
    int n = snprintf(path, sizeof(path), "/v1/explain?name=%s&type=%s", pos[0],
                     npos > 1 ? pos[1] : "A");
    if (o->client)
        n += snprintf(path + n, sizeof(path) - (size_t)n, "&client=%s", o->client);
    if (o->ecs)
        snprintf(path + n, sizeof(path) - (size_t)n, "&ecs=%s", o->ecs);
    return ctl_simple(c, "GET", path, ctl_print_explain);
}

static int ctl_dispatch(struct ctl *c, const char *cmd, char **pos, int npos,
                        const struct ctl_ovr_opts *o)
{
    char target[512], path[600];
    if (strcmp(cmd, "status") == 0 && npos == 0)
        return ctl_simple(c, "GET", "/v1/status", ctl_print_status);
    if (strcmp(cmd, "health") == 0 && npos == 0)
        return ctl_simple(c, "GET", "/v1/health", NULL);
    if (strcmp(cmd, "metrics") == 0 && npos == 0)
        return ctl_simple(c, "GET", "/metrics", NULL);
    if (strcmp(cmd, "reload") == 0 && npos == 0)
        return ctl_simple(c, "POST", "/v1/reload", ctl_print_reload);
    if (strcmp(cmd, "explain") == 0 && (npos == 1 || npos == 2))
        return ctl_explain(c, pos, npos, o);
    if (strcmp(cmd, "drain") == 0 && npos == 1) {
        snprintf(target, sizeof(target), "region:%s", pos[0]);
        return ctl_override_add(c, target, "down", o);
    }
    if (strcmp(cmd, "undrain") == 0 && npos == 1)
        return ctl_undrain(c, pos[0], o->force);
    if (strcmp(cmd, "node") == 0 && npos == 1)
        return ctl_node(c, pos[0], o);
    if (strcmp(cmd, "override") == 0 && npos == 1 && strcmp(pos[0], "list") == 0)
        return ctl_simple(c, "GET", "/v1/overrides", ctl_print_overrides_obj);
    if (strcmp(cmd, "override") == 0 && npos == 3 && strcmp(pos[0], "add") == 0 &&
        (strcmp(pos[2], "up") == 0 || strcmp(pos[2], "down") == 0))
        return ctl_override_add(c, pos[1], pos[2], o);
    if (strcmp(cmd, "override") == 0 && npos == 2 && strcmp(pos[0], "rm") == 0) {
        snprintf(path, sizeof(path), "/v1/overrides/%s%s", pos[1], o->force ? "?force=true" : "");
        return ctl_simple(c, "DELETE", path, NULL);
    }
    fprintf(stderr, "gtmctl: bad command or arguments\n");
    ctl_usage(stderr);
    return 2;
}

int main(int argc, char **argv)
{
    struct ctl c = {.server = getenv("GTMCTL_SERVER"), .timeout = 10};
    const char *token_file = getenv("GTMCTL_TOKEN_FILE");
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        bool more = i + 1 < argc;
        if (strcmp(argv[i], "--server") == 0 && more)
            c.server = argv[++i];
        else if (strcmp(argv[i], "--token-file") == 0 && more)
            token_file = argv[++i];
        else if (strcmp(argv[i], "--timeout") == 0 && more)
            c.timeout = atof(argv[++i]);
        else if (strcmp(argv[i], "--json") == 0)
            c.json = true;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            ctl_usage(stdout);
            return 0;
        } else {
            ctl_usage(stderr);
            return 2;
        }
    }
    if (i >= argc || c.timeout <= 0) {
        ctl_usage(stderr);
        return 2;
    }
    if (!c.server)
        c.server = "http://127.0.0.1:8053";
    if (token_file)
        c.token = ctl_read_token(token_file);
    else if (getenv("GTMCTL_TOKEN"))
        c.token = strdup(getenv("GTMCTL_TOKEN"));
    if (strcmp(argv[i], "drill") == 0) {
        int rc = ctl_drill(&c, argc - i, argv + i);
        free(c.token);
        return rc;
    }
    if (strcmp(argv[i], "externaldns") == 0) {
        int rc = ctl_externaldns(&c, argc - i, argv + i);
        free(c.token);
        return rc;
    }
    if (strcmp(argv[i], "dnssec") == 0) {
        int rc = ctl_dnssec(&c, argc - i, argv + i);
        free(c.token);
        return rc;
    }
    if (strcmp(argv[i], "verdict") == 0 || strcmp(argv[i], "config") == 0) {
        int rc = strcmp(argv[i], "verdict") == 0 ? ctl_verdict(&c, argc - i, argv + i)
                                                 : ctl_config(&c, argc - i, argv + i);
        free(c.token);
        return rc;
    }
    if (strcmp(argv[i], "watch") == 0) {
        bool ok = true;
        for (int k = i + 1; k < argc; k++) {
            if (strcmp(argv[k], "--json") == 0)
                c.json = true;
            else
                ok = false;
        }
        int rc = ok ? ctl_watch(&c) : (ctl_usage(stderr), 2);
        free(c.token);
        return rc;
    }
    struct ctl_ovr_opts o = {0};
    char **pos = calloc((size_t)argc, sizeof(*pos));
    int npos = 0, rc;
    if (ctl_parse_opts(argc - i - 1, argv + i + 1, &o, pos, &npos) != 0) {
        ctl_usage(stderr);
        rc = 2;
    } else
        rc = ctl_dispatch(&c, argv[i], pos, npos, &o);
    free(pos);
    free(c.token);
    return rc;
}
