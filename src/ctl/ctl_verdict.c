/*
 * ctl_verdict.c -- gtmctl verdict list|add|rm (gtmctl(8), doc/health.md):
 * external verdicts through /v1/verdicts.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"

void ctl_verdict_usage(FILE *f)
{
    fprintf(f, "external verdicts (doc/health.md):\n"
               "  verdict list\n"
               "  verdict add TARGET up|down --source NAME --expires S [--reason TEXT] [--force]\n"
               "              [--load L]              TARGET: region:R, az:A, endpoint:POOL/NAME\n"
               "                                      (--force: even if unsafe; --load: an\n"
               "                                      endpoint's load figure, load shedding)\n"
               "  verdict rm ID\n");
}

/* " load 0.95" for a verdict that pushes a load figure (load shedding),
 * "" for one without. */
static const char *ctl_verdict_load_text(json_t *v, char *buf, size_t len)
{
    char num[40];
    json_t *l = json_object_get(v, "load");
    buf[0] = '\0';
    if (json_is_number(l))
        snprintf(buf, len, " load %s", ctl_real(json_number_value(l), num, sizeof(num)));
    return buf;
}

static void ctl_verdict_print(json_t *j)
{
    size_t i;
    json_t *v;
    char exp[40];
    json_t *arr = json_object_get(j, "verdicts");
    printf("%zu verdict(s), at most %lld\n", json_array_size(arr),
           json_integer_value(json_object_get(j, "max_verdicts")));
    json_array_foreach(arr, i, v)
    {
        char load[56]; /* after the state: "up load 0.95" */
        printf("  %-10s %-5s%s %-28s source %s until %s  %s\n", ctl_s(v, "id"), ctl_s(v, "state"),
               ctl_verdict_load_text(v, load, sizeof(load)), ctl_s(v, "target"), ctl_s(v, "source"),
               ctl_time(json_object_get(v, "expires"), exp, sizeof(exp)), ctl_s(v, "reason"));
    }
}

/* --load's argument: a finite number (the server says which are
 * allowed); false for text that is none ("0.9x", "", "inf"). */
static bool ctl_verdict_load(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return end != s && *end == '\0' && isfinite(*out);
}

static int ctl_verdict_add(struct ctl *c, char **argv, int argc)
{
    const char *source = NULL, *reason = "", *pos[2] = {NULL, NULL};
    double expires = 0, load = 0;
    int npos = 0;
    bool force = false, has_load = false, bad_load = false;
    for (int i = 0; i < argc; i++) {
        bool more = i + 1 < argc;
        if (strcmp(argv[i], "--force") == 0)
            force = true;
        else if (strcmp(argv[i], "--source") == 0 && more)
            source = argv[++i];
        else if (strcmp(argv[i], "--reason") == 0 && more)
            reason = argv[++i];
        else if (strcmp(argv[i], "--expires") == 0 && more)
            expires = atof(argv[++i]);
        else if (strcmp(argv[i], "--load") == 0 && more)
            bad_load = !(has_load = ctl_verdict_load(argv[++i], &load));
        else if (argv[i][0] != '-' && npos < 2)
            pos[npos++] = argv[i];
        else
            npos = 3;
    }
    if (bad_load) {
        fprintf(stderr, "gtmctl: verdict add: --load takes a number (the endpoint's load)\n");
        return CTL_USAGE;
    }
    if (npos != 2 || !source || expires <= 0 ||
        (strcmp(pos[1], "up") != 0 && strcmp(pos[1], "down") != 0)) {
        fprintf(stderr,
                "gtmctl: verdict add TARGET up|down --source NAME --expires S [--load L]\n");
        return CTL_USAGE;
    }
    int rc;
    json_t *body = json_pack("{s:s, s:s, s:s, s:f, s:s}", "source", source, "target", pos[0],
                             "state", pos[1], "expires_in", expires, "reason", reason);
    if (force)
        json_object_set_new(body, "force", json_true());
    if (has_load) /* checked by the server: 0 to 1e15, endpoint targets only */
        json_object_set_new(body, "load", json_real(load));
    json_t *j = ctl_call(c, "POST", "/v1/verdicts", body, &rc);
    json_decref(body);
    if (j && rc == 0) {
        if (c->json)
            ctl_output(c, j, NULL);
        else {
            char lt[56];
            printf("verdict %s: %s %s%s from %s%s\n", ctl_s(j, "id"), pos[0], pos[1],
                   ctl_verdict_load_text(j, lt, sizeof(lt)), source,
                   json_is_true(json_object_get(j, "replaced")) ? " (replaced)" : "");
        }
    }
    json_decref(j);
    return rc;
}

int ctl_verdict(struct ctl *c, int argc, char **argv)
{
    int rc;
    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        json_t *j = ctl_call(c, "GET", "/v1/verdicts", NULL, &rc);
        if (j && rc == 0)
            ctl_output(c, j, ctl_verdict_print);
        json_decref(j);
        return rc;
    }
    if (argc >= 2 && strcmp(argv[1], "add") == 0)
        return ctl_verdict_add(c, argv + 2, argc - 2);
    if (argc == 3 && strcmp(argv[1], "rm") == 0) {
        char path[300];
        snprintf(path, sizeof(path), "/v1/verdicts/%s", argv[2]);
        json_t *j = ctl_call(c, "DELETE", path, NULL, &rc);
        if (j && rc == 0 && !c->json)
            printf("verdict %s removed\n", argv[2]);
        else if (j && rc == 0)
            ctl_output(c, j, NULL);
        json_decref(j);
        return rc;
    }
    ctl_verdict_usage(stderr);
    return CTL_USAGE;
}
