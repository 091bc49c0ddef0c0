/*
 * health_params.c -- the health settings of the configuration.
 */
#include "health/health_params.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/addr.h"
#include "health/health.h"

#define LOCAL CFGSCHEMA_NODE_LOCAL
static const struct cfgschema_key health_root_keys[HP_N] = {
    [HP_STATE_FILE] = {"state_file", CFGSCHEMA_PATH, .flags = LOCAL,
                       .what = "where overrides, verdicts and drills are kept",
                       .section = "STATE FILE"},
    [HP_STATE_MAX_AGE] = {"state_max_age", CFGSCHEMA_SECONDS, 0, 86400 * 30, 600, LOCAL, NULL,
                          "how old a state file may be at start", "STATE FILE"},
    [HP_MAX_OVERRIDES] = {"max_overrides", CFGSCHEMA_INT, 1, HEALTH_MAX_OVERRIDES_LIMIT,
                          HEALTH_MAX_OVERRIDES_DEFAULT, 0, NULL, "overrides in force at once",
                          "STATE FILE"},
    [HP_MAX_VERDICTS] = {"max_verdicts", CFGSCHEMA_INT, 1, HEALTH_MAX_OVERRIDES_LIMIT,
                         HEALTH_MAX_VERDICTS_DEFAULT, 0, NULL, "external verdicts in force at once",
                         "STATE FILE"},
    [HP_PROBE_SOURCE] = {"probe_source", CFGSCHEMA_ARRAY, .flags = LOCAL | CFGSCHEMA_RESTART,
                         .what = "the addresses probes are sent from", .section = "FLEET"},
    [HP_EXEC_MAX_RUNNING] = {"exec_max_running", CFGSCHEMA_INT, 1, PROBE_EXEC_MAX_LIMIT,
                             PROBE_EXEC_MAX_DEFAULT, LOCAL | CFGSCHEMA_RESTART, NULL,
                             "exec checks' programs running at once; the others wait", "CHECKS"},
};
const struct cfgschema health_root_schema = CFGSCHEMA("$", health_root_keys);

/* Checks that the state file can be written where it is: its directory
 * exists and is writable (a new file is created there and renamed over
 * the old one), and the file itself, if present, is a regular file. */
static void health_params_check_state_file(const struct jsoncfg *j, const char *path)
{
    char at[32];
    cfgschema_key_path(at, sizeof(at), &health_root_schema, HP_STATE_FILE, NULL);
    char dir[PATH_MAX];
    struct stat st;
    snprintf(dir, sizeof(dir), "%s", path);
    const char *d = dirname(dir);
    if (stat(d, &st) != 0)
        jsoncfg_err(j, at, "directory %s of the state file: %s", d, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        jsoncfg_err(j, at, "%s (the state file's directory) is not a directory", d);
    else if (access(d, W_OK | X_OK) != 0)
        jsoncfg_err(j, at, "directory %s of the state file is not writable: %s", d,
                    strerror(errno));
    else if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
        jsoncfg_err(j, at, "%s exists and is not a regular file%s", path,
                    S_ISLNK(st.st_mode) ? " (a symbolic link would be replaced by the file)" : "");
}

static void health_params_source(const struct jsoncfg *j, json_t *v, struct health_params *out)
{
    char at[32];
    cfgschema_key_path(at, sizeof(at), &health_root_schema, HP_PROBE_SOURCE, NULL);
    if (!v)
        return;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 2) {
        jsoncfg_err(j, at,
                    "must be an array of one or two addresses "
                    "(at most one IPv4 and one IPv6)");
        return;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char path[48];
        snprintf(path, sizeof(path), "%s[%zu]", at, i);
        struct sockaddr_storage ss;
        socklen_t len;
        const char *s = json_string_value(e);
        if (!s || addr_parse(s, ADDR_PORT_NONE, &ss, &len) != 0) {
            jsoncfg_err(j, path, "must be an IPv4 or IPv6 address without a port");
            continue;
        }
        struct probe_source *ps = &out->probe_source;
        bool v4 = ss.ss_family == AF_INET;
        if (v4 ? ps->has_v4 : ps->has_v6) {
            jsoncfg_err(j, path, "a second %s address (one per family)", v4 ? "IPv4" : "IPv6");
            continue;
        }
        if (v4) {
            ps->has_v4 = true;
            ps->v4 = ss;
            ps->v4_len = len;
        } else {
            ps->has_v6 = true;
            ps->v6 = ss;
            ps->v6_len = len;
        }
        out->probe_source_text[out->n_probe_source++] = jsoncfg_strdup(s);
    }
}

void health_params_parse(const struct jsoncfg *j, json_t *root, struct health_params *out)
{
    const struct cfgschema *s = &health_root_schema;
    out->state_file = cfgschema_path(j, s, HP_STATE_FILE, root, NULL);
    if (out->state_file)
        health_params_check_state_file(j, out->state_file);
    out->state_max_age = cfgschema_seconds(j, s, HP_STATE_MAX_AGE, root, NULL);
    out->max_overrides = (size_t)cfgschema_int(j, s, HP_MAX_OVERRIDES, root, NULL);
    out->max_verdicts = (size_t)cfgschema_int(j, s, HP_MAX_VERDICTS, root, NULL);
    health_params_source(j, cfgschema_value(s, HP_PROBE_SOURCE, root), out);
    out->exec_max_running = (unsigned)cfgschema_int(j, s, HP_EXEC_MAX_RUNNING, root, NULL);
}

void health_params_free(struct health_params *p)
{
    if (!p)
        return;
    free(p->state_file);
    p->state_file = NULL;
    for (size_t i = 0; i < p->n_probe_source; i++)
        free(p->probe_source_text[i]);
    p->n_probe_source = 0;
}
