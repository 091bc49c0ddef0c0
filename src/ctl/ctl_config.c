/*
 * ctl_config.c -- gtmctl config get|put|rm|history|rollback (gtmctl(8),
 * doc/automation.md): the configuration's resources through /v1/config.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"

void ctl_config_usage(FILE *f)
{
    fprintf(f, "the configuration's resources (doc/automation.md):\n"
               "  config get [KIND [NAME]]              KIND: records, pools, checks, regions\n"
               "  config put KIND NAME FILE|- [--dry-run] [--if-match VERSION]\n"
               "  config rm KIND NAME [--dry-run] [--if-match VERSION]\n"
               "  config changes FILE|- [--dry-run] [--if-match VERSION]\n"
               "                                      {\"changes\": [{\"op\", \"path\", "
               "\"value\"}]}: one version\n"
               "                                      an endpoint: pools POOL/endpoints/NAME\n"
               "  config history [VERSION]\n"
               "  config rollback VERSION [--dry-run] [--if-match VERSION]\n");
}

/* The options after the positional words: --dry-run, --if-match N. */
struct ctl_config_opts {
    bool dry_run;
    const char *if_match;
    const char *pos[4];
    int npos;
};

static bool ctl_config_opts(int argc, char **argv, struct ctl_config_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0)
            o->dry_run = true;
        else if (strcmp(argv[i], "--if-match") == 0 && i + 1 < argc)
            o->if_match = argv[++i];
        else if ((argv[i][0] != '-' || strcmp(argv[i], "-") == 0) && o->npos < 4)
            o->pos[o->npos++] = argv[i];
        else
            return false;
    }
    return true;
}

static void ctl_config_path(char *out, size_t len, const char *kind, const char *name,
                            const struct ctl_config_opts *o)
{
    snprintf(out, len, "/v1/config%s%s%s%s%s%s%s%s", kind ? "/" : "", kind ? kind : "",
             name ? "/" : "", name ? name : "", o->dry_run || o->if_match ? "?" : "",
             o->dry_run ? "dry_run=true" : "", o->dry_run && o->if_match ? "&" : "",
             o->if_match ? "if_match=" : "");
    if (o->if_match) {
        size_t l = strlen(out);
        snprintf(out + l, len - l, "%s", o->if_match);
    }
}

static void ctl_config_print_change(json_t *j)
{
    if (json_is_true(json_object_get(j, "unchanged")))
        printf("unchanged (version %lld): the configuration already says so\n",
               json_integer_value(json_object_get(j, "version")));
    else if (json_is_true(json_object_get(j, "dry_run")))
        printf("dry run: valid (version %lld); nothing changed\n",
               json_integer_value(json_object_get(j, "version")));
    else
        printf("version %lld: %s\n", json_integer_value(json_object_get(j, "version")),
               ctl_s(j, "change"));
}

static void ctl_config_print_history(json_t *j)
{
    size_t i;
    json_t *v;
    char t[40];
    json_array_foreach(json_object_get(j, "versions"), i, v)
        printf("  %6lld  %s  %-5s %-8s %s\n", json_integer_value(json_object_get(v, "version")),
               ctl_time(json_object_get(v, "time"), t, sizeof(t)), ctl_s(v, "source"),
               ctl_s(v, "author"), ctl_s(v, "change"));
}

/* Sends method to path with body (may be NULL); prints the reply. */
static int ctl_config_call(struct ctl *c, const char *method, const char *path, json_t *body,
                           void (*human)(json_t *))
{
    int rc;
    json_t *j = ctl_call(c, method, path, body, &rc);
    if (j && rc == 0)
        ctl_output(c, j, human);
    json_decref(j);
    return rc;
}

/* config put KIND NAME FILE (pos 0..2), or config changes FILE (pos 0). */
static int ctl_config_put(struct ctl *c, const struct ctl_config_opts *o)
{
    json_error_t e;
    bool batch = o->npos == 1;
    const char *file = o->pos[batch ? 0 : 2];
    json_t *body = strcmp(file, "-") == 0 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &e)
                                          : json_load_file(file, JSON_REJECT_DUPLICATES, &e);
    if (!body) {
        fprintf(stderr, "gtmctl: %s:%d: %s\n", file, e.line, e.text);
        return CTL_USAGE;
    }
    char path[1200];
    ctl_config_path(path, sizeof(path), batch ? "changes" : o->pos[0], batch ? NULL : o->pos[1], o);
    int rc = ctl_config_call(c, batch ? "POST" : "PUT", path, body, ctl_config_print_change);
    json_decref(body);
    return rc;
}

int ctl_config(struct ctl *c, int argc, char **argv)
{
    struct ctl_config_opts o;
    const char *sub = argc >= 2 ? argv[1] : "";
    if (argc < 2 || !ctl_config_opts(argc - 2, argv + 2, &o)) {
        ctl_config_usage(stderr);
        return CTL_USAGE;
    }
    char path[1200];
    if (strcmp(sub, "get") == 0 && o.npos <= 2) {
        ctl_config_path(path, sizeof(path), o.pos[0], o.npos > 1 ? o.pos[1] : NULL, &o);
        return ctl_config_call(c, "GET", path, NULL, NULL);
    }
    if ((strcmp(sub, "put") == 0 && o.npos == 3) || (strcmp(sub, "changes") == 0 && o.npos == 1))
        return ctl_config_put(c, &o);
    if (strcmp(sub, "rm") == 0 && o.npos == 2) {
        ctl_config_path(path, sizeof(path), o.pos[0], o.pos[1], &o);
        return ctl_config_call(c, "DELETE", path, NULL, ctl_config_print_change);
    }
    if (strcmp(sub, "history") == 0 && o.npos <= 1) {
        snprintf(path, sizeof(path), "/v1/config/history%s%s", o.npos ? "/" : "",
                 o.npos ? o.pos[0] : "");
        return ctl_config_call(c, "GET", path, NULL, o.npos ? NULL : ctl_config_print_history);
    }
    if (strcmp(sub, "rollback") == 0 && o.npos == 1 && atoll(o.pos[0]) > 0) {
        struct ctl_config_opts q = {.if_match = o.if_match, .dry_run = o.dry_run};
        ctl_config_path(path, sizeof(path), "rollback", NULL, &q);
        json_t *body = json_pack("{s:I}", "version", (json_int_t)atoll(o.pos[0]));
        int rc = ctl_config_call(c, "POST", path, body, ctl_config_print_change);
        json_decref(body);
        return rc;
    }
    ctl_config_usage(stderr);
    return CTL_USAGE;
}
