/*
 * drill_cmd.c -- `gtmd drill`: the offline what-if.
 */
#include "daemon/drill_cmd.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errlist.h"
#include "control/config.h"
#include "daemon/load.h"
#include "drill/drill.h"
#include "drill/drill_plan.h"
#include "drill/drill_whatif.h"
#include "health/override.h"
#include "health/persist.h"

struct drill_cmd {
    const char *config, *state;
    bool json;
    struct drill_spec spec; /* regions and azs (names borrowed from argv) */
    struct drill_client clients[DRILL_MAX_CLIENTS];
    size_t n_clients;
};

static void drill_cmd_usage(FILE *f)
{
    fprintf(f, "usage: gtmd drill -c FILE --region R [--region R2 ...] [--az A ...]\n"
               "                  [--client IP | --ecs NET]... [--state FILE] [--json]\n"
               "  prints every policy record's answer now and with those regions/azs lost;\n"
               "  exit 0: every record still served, 3: some record falls to when_all_down,\n"
               "  1: error\n");
}

/* One --client IP or --ecs NET. */
static bool drill_cmd_client(struct drill_cmd *c, const char *opt, const char *v)
{
    char err[128];
    bool ecs = strcmp(opt, "--ecs") == 0;
    if (c->n_clients >= DRILL_MAX_CLIENTS) {
        fprintf(stderr, "gtmd drill: at most %d clients\n", DRILL_MAX_CLIENTS);
        return false;
    }
    if ((strchr(v, '/') != NULL) != ecs) {
        fprintf(stderr, "gtmd drill: %s %s: %s\n", opt, v,
                ecs ? "must be a network ADDRESS/LEN" : "must be an IP address");
        return false;
    }
    if (!drill_client_parse(v, &c->clients[c->n_clients], err, sizeof(err))) {
        fprintf(stderr, "gtmd drill: %s %s: %s\n", opt, v, err);
        return false;
    }
    c->n_clients++;
    return true;
}

static bool drill_cmd_target(struct drill_cmd *c, const char *opt, char *v)
{
    if (c->spec.n_regions + c->spec.n_azs >= DRILL_MAX_TARGETS) {
        fprintf(stderr, "gtmd drill: at most %d regions and azs\n", DRILL_MAX_TARGETS);
        return false;
    }
    if (strcmp(opt, "--region") == 0)
        c->spec.regions[c->spec.n_regions++] = v;
    else
        c->spec.azs[c->spec.n_azs++] = v;
    return true;
}

/* Parses argv (after "drill"); false on a usage error (reported). */
static bool drill_cmd_args(struct drill_cmd *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (strcmp(a, "--json") == 0)
            c->json = true;
        else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && more)
            c->config = argv[++i];
        else if (strcmp(a, "--state") == 0 && more)
            c->state = argv[++i];
        else if ((strcmp(a, "--region") == 0 || strcmp(a, "--az") == 0) && more) {
            if (!drill_cmd_target(c, a, argv[++i]))
                return false;
        } else if ((strcmp(a, "--client") == 0 || strcmp(a, "--ecs") == 0) && more) {
            if (!drill_cmd_client(c, a, argv[++i]))
                return false;
        } else {
            fprintf(stderr, "gtmd drill: unexpected argument '%s'\n", a);
            return false;
        }
    }
    if (!c->config || c->spec.n_regions + c->spec.n_azs == 0) {
        fprintf(stderr, "gtmd drill: -c FILE and at least one --region or --az are needed\n");
        return false;
    }
    return true;
}

/* Every endpoint up (no --state). */
static void drill_cmd_all_up(struct health_core *core, const struct gslb *g)
{
    pthread_mutex_lock(&core->lock);
    for (size_t i = 0; g && i < g->n_pools; i++)
        for (size_t k = 0; k < g->pools[i].n_eps; k++)
            if (g->pools[i].eps[k].slot)
                health_restore(g->pools[i].eps[k].slot, HEALTH_UP, health_now());
    pthread_mutex_unlock(&core->lock);
}

/* Health from a running server's state file: endpoint states whatever
 * its age, its overrides and its live drills. Returns a description of
 * it (caller frees), NULL when the file cannot be read (reported). */
static char *drill_cmd_state(struct health_core *core, struct drill_core *drills,
                             const struct gslb *g, const char *path)
{
    json_t *root = json_load_file(path, 0, NULL);
    if (!json_is_object(root)) {
        fprintf(stderr, "gtmd drill: cannot read the state file %s\n", path);
        json_decref(root);
        return NULL;
    }
    double saved = json_number_value(json_object_get(root, "saved_at"));
    json_decref(root);
    /* Read-only: the running server is the file's only writer; a bad
     * file is reported by it, and any count of overrides is shown. */
    struct persist_result res;
    override_set_max(core, SIZE_MAX);
    persist_load(core, path, INFINITY, PERSIST_LOAD_READONLY, &res);
    size_t restored = res.endpoints;
    json_t *sec = persist_load_section(path, "drills");
    size_t live = drill_core_restore(drills, sec, health_now());
    json_decref(sec);
    size_t unknown = 0;
    for (size_t i = 0; g && i < g->n_pools; i++)
        for (size_t k = 0; g->pools[i].check >= 0 && k < g->pools[i].n_eps; k++)
            unknown += health_slot_probe(g->pools[i].eps[k].slot) == HEALTH_UNKNOWN;
    char *text = NULL;
    if (asprintf(&text,
                 "state file %s, saved %.0f s ago: %zu endpoint states, %zu overrides, %zu "
                 "drills active%s",
                 path, health_now() - saved, restored, override_count(core), live,
                 unknown ? " (endpoints missing from it count as down)" : "") < 0)
        abort();
    return text;
}

/* "us: 192.0.2.1, 192.0.2.2" (the regions carrying weight, from the
 * capacity view), or "fail_open: ..."; at most 2 answers shown. */
static void drill_cmd_answer(json_t *rec, const char *which, char *buf, size_t len)
{
    json_t *r = json_object_get(rec, which);
    const char *outcome = json_string_value(json_object_get(r, "outcome"));
    size_t o = 0, i;
    json_t *a;
    if (strcmp(outcome, "served") == 0)
        json_array_foreach(json_object_get(rec, "capacity"), i, a)
        {
            if (json_number_value(json_object_get(a, which)) > 0)
                o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s", o ? "+" : "",
                                      json_string_value(json_object_get(a, "region")));
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

static void drill_cmd_capacity(json_t *recs)
{
    size_t i, k;
    json_t *r, *c;
    bool any = false;
    json_array_foreach(recs, i, r)
    {
        if (!json_is_true(json_object_get(r, "changed")) ||
            json_array_size(json_object_get(r, "capacity")) == 0)
            continue;
        if (!any)
            printf("\ncapacity (each region's share of the record's weight, now -> with the "
                   "loss):\n");
        any = true;
        const char *cl = json_string_value(json_object_get(r, "client"));
        printf("  %s %s%s%s:", json_string_value(json_object_get(r, "record")),
               json_string_value(json_object_get(r, "type")), cl ? " for " : "", cl ? cl : "");
        json_array_foreach(json_object_get(r, "capacity"), k, c) printf(
            "%s %s %.0f%% -> %.0f%%", k ? "," : "", json_string_value(json_object_get(c, "region")),
            100 * json_number_value(json_object_get(c, "before")),
            100 * json_number_value(json_object_get(c, "after")));
        printf("\n");
    }
}

static void drill_cmd_table(json_t *w, const char *lost, const char *health)
{
    printf("gtmd drill: losing %s\nhealth: %s\n\n", lost, health);
    printf("%-28s %-5s %-18s %-38s %-38s %s\n", "RECORD", "TYPE", "CLIENT", "NOW", "WITH THE LOSS",
           "CHANGE");
    size_t i;
    json_t *r;
    json_t *recs = json_object_get(w, "records");
    json_array_foreach(recs, i, r)
    {
        char now[256], after[256];
        json_t *a = json_object_get(r, "after");
        drill_cmd_answer(r, "before", now, sizeof(now));
        drill_cmd_answer(r, "after", after, sizeof(after));
        bool served = strcmp(json_string_value(json_object_get(a, "outcome")), "served") == 0;
        const char *cl = json_string_value(json_object_get(r, "client"));
        printf("%-28s %-5s %-18s %-38s %-38s %s\n", json_string_value(json_object_get(r, "record")),
               json_string_value(json_object_get(r, "type")), cl ? cl : "-", now, after,
               !served                                       ? "UNSERVED"
               : json_is_true(json_object_get(r, "changed")) ? "moves"
                                                             : "same");
    }
    drill_cmd_capacity(recs);
    json_t *s = json_object_get(w, "summary");
    printf("\n%lld answers evaluated, %lld change, %lld would fall to when_all_down\n",
           json_integer_value(json_object_get(s, "evaluated")),
           json_integer_value(json_object_get(s, "changed")),
           json_integer_value(json_object_get(s, "unserved")));
}

/* Resolves the targets, runs the what-if and prints it; the exit status. */
static int drill_cmd_run(struct drill_cmd *c, const struct gslb *g, const struct policy_geo *geo,
                         const char *health)
{
    struct drill_targets t;
    char err[256], lost[2048] = "";
    if (drill_resolve(g, &c->spec, &t, err, sizeof(err)) != 0) {
        fprintf(stderr, "gtmd drill: %s: %s\n", c->config, err);
        return DRILL_CMD_ERROR;
    }
    for (size_t i = 0, o = 0; i < t.n && o < sizeof(lost); i++)
        o += (size_t)snprintf(lost + o, sizeof(lost) - o, "%s%s", i ? ", " : "", t.keys[i]);
    struct policy_overlay ov = drill_targets_overlay(&t);
    struct drill_whatif_sum sum;
    /* Clients as given; without any, one evaluation without a client (geo
     * and nearest records: one per class of their clients). */
    json_t *w = drill_whatif_geo(g, geo, &ov, c->clients, c->n_clients, false, &sum);
    int rc = sum.unserved > 0 ? DRILL_CMD_UNSERVED : DRILL_CMD_OK;
    if (c->json) {
        json_t *keys = json_array();
        for (size_t i = 0; i < t.n; i++)
            json_array_append_new(keys, json_string(t.keys[i]));
        json_object_set_new(w, "lost", keys);
        json_object_set_new(w, "health", json_string(health));
        json_object_set_new(w, "exit", json_integer(rc));
        char *text = json_dumps(w, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        printf("%s\n", text);
        free(text);
    } else
        drill_cmd_table(w, lost, health);
    json_decref(w);
    drill_targets_free(&t);
    return rc;
}

int drill_cmd_main(int argc, char **argv)
{
    struct drill_cmd c;
    memset(&c, 0, sizeof(c));
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        drill_cmd_usage(stdout);
        return DRILL_CMD_OK;
    }
    if (!drill_cmd_args(&c, argc, argv)) {
        drill_cmd_usage(stderr);
        return DRILL_CMD_ERROR;
    }
    struct errlist errs;
    struct health_core core;
    struct drill_core drills;
    errlist_init(&errs);
    health_core_init(&core);
    struct config *cfg = config_load(c.config, &errs);
    struct serve_set *set = cfg ? load_set(cfg, 1, &core, NULL, &errs) : NULL;
    int rc = DRILL_CMD_ERROR;
    for (size_t i = 0; i < errs.count; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    if (set) {
        drill_core_init(&drills, &core, &cfg->drills);
        char *health = NULL;
        if (!c.state)
            drill_cmd_all_up(&core, set->gslb);
        else
            health = drill_cmd_state(&core, &drills, set->gslb, c.state);
        if (!c.state || health)
            rc = drill_cmd_run(&c, set->gslb, set->geo,
                               health ? health : "every endpoint up (no --state)");
        free(health);
        drill_core_free(&drills);
    }
    serve_set_free(set);
    config_free(cfg);
    errlist_free(&errs);
    health_core_free(&core);
    return rc;
}
