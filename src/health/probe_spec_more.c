/*
 * probe_spec_more.c -- the keys of the icmp and exec checks (see
 * probe_spec_more.h); every error names its JSON path.
 */
#include "health/probe_spec_more.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROBE_SPEC_MAX_ARGS 64
#define PROBE_SPEC_MAX_GROUPS 256

enum { PI_COUNT, PI_ECHO_INTERVAL, PI_MAX_LOSS, PI_N };
static const struct cfgschema_key ps_icmp_keys[PI_N] = {
    [PI_COUNT] = {"count", CFGSCHEMA_INT, 1, PROBE_SPEC_ICMP_MAX_COUNT, 3, 0, NULL,
                  "icmp: echo requests a probe sends"},
    [PI_ECHO_INTERVAL] = {"echo_interval", CFGSCHEMA_SECONDS, 0.01, 10, 0.1, 0, NULL,
                          "icmp: seconds between a probe's echoes"},
    [PI_MAX_LOSS] = {"max_loss", CFGSCHEMA_ANY,
                     .what = "icmp: the fraction of echoes that may be lost (0.5): down "
                             "when more are"},
};
const struct cfgschema probe_spec_icmp_schema = CFGSCHEMA("$.checks[]", ps_icmp_keys);

enum { PE_COMMAND, PE_USER, PE_N };
static const struct cfgschema_key ps_exec_keys[PE_N] = {
    [PE_COMMAND] = {"command", CFGSCHEMA_ARRAY,
                    .what = "exec: the program (an absolute path) and its arguments "
                            "(required)"},
    [PE_USER] = {"user", CFGSCHEMA_STRING,
                 .what = "exec: the user the program runs as (the one gtmd runs as)"},
};
const struct cfgschema probe_spec_exec_schema = CFGSCHEMA("$.checks[]", ps_exec_keys);

bool probe_spec_more_key(const char *key, enum probe_type t, bool *known)
{
    bool icmp = cfgschema_find(&probe_spec_icmp_schema, key) != NULL;
    bool exec = cfgschema_find(&probe_spec_exec_schema, key) != NULL;
    *known = icmp || exec;
    return (icmp && t == PROBE_ICMP) || (exec && t == PROBE_EXEC);
}

void probe_spec_icmp_parse(const struct jsoncfg *j, json_t *obj, const char *path,
                           struct probe_spec *out)
{
    const struct cfgschema *s = &probe_spec_icmp_schema;
    size_t before = j->errs->count;
    out->icmp_count = (uint8_t)cfgschema_int(j, s, PI_COUNT, obj, path);
    out->icmp_echo_interval_ms = cfgschema_ms(j, s, PI_ECHO_INTERVAL, obj, path);
    out->icmp_max_loss = 0.5;
    json_t *v = cfgschema_value(s, PI_MAX_LOSS, obj);
    if (v && (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1))
        cfgschema_err(j, s, PI_MAX_LOSS, path,
                      "must be a number from 0 (no echo may be lost) to 1 (down only when "
                      "every echo is lost)");
    else if (v)
        out->icmp_max_loss = json_number_value(v);
    if (j->errs->count != before)
        return;
    /* The last echo must leave before the deadline and have some time for
     * its reply: what is not back at the timeout is lost. */
    uint64_t last = (uint64_t)(out->icmp_count - 1) * out->icmp_echo_interval_ms;
    if (last >= out->timeout_ms)
        cfgschema_err(j, s, PI_ECHO_INTERVAL, path,
                      "(count - 1) x echo_interval = %g s must be less than the timeout (%g s): "
                      "the last echo leaves then",
                      (double)last / 1000.0, out->timeout_ms / 1000.0);
}

/* command[0]: an absolute path to an executable regular file. */
static void probe_spec_exec_program(const struct jsoncfg *j, const char *at, const char *prog)
{
    struct stat st;
    if (prog[0] != '/')
        jsoncfg_err(j, at, "must be an absolute path to the program (no shell, no PATH search)");
    else if (stat(prog, &st) != 0)
        jsoncfg_err(j, at, "cannot use %s: %s", prog, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        jsoncfg_err(j, at, "%s is not a regular file", prog);
    else if (access(prog, X_OK) != 0)
        jsoncfg_err(j, at, "%s is not executable: %s", prog, strerror(errno));
}

static void probe_spec_exec_command(const struct jsoncfg *j, json_t *v, const char *at,
                                    struct probe_spec *out)
{
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > PROBE_SPEC_MAX_ARGS) {
        jsoncfg_err(j, at, "must be an array of 1 to %d strings: the program, then its arguments",
                    PROBE_SPEC_MAX_ARGS);
        return;
    }
    out->exec_argv = calloc(json_array_size(v) + 1, sizeof(char *));
    if (!out->exec_argv)
        abort();
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char ep[512];
        snprintf(ep, sizeof(ep), "%s[%zu]", at, i);
        const char *s = json_string_value(e);
        if (!s || json_string_length(e) != strlen(s) || (i == 0 && !s[0])) {
            jsoncfg_err(j, ep, "must be a string without NUL");
            continue;
        }
        if (i == 0)
            probe_spec_exec_program(j, ep, s);
        out->exec_argv[i] = jsoncfg_strdup(s);
    }
    if (!out->exec_argv[0]) /* a bad program: no argv at all */
        for (size_t k = 1; k <= json_array_size(v); k++) {
            free(out->exec_argv[k]);
            out->exec_argv[k] = NULL;
        }
}

/* "user": its uid, gid and groups, looked up now (the child cannot). */
static void probe_spec_exec_user(const struct jsoncfg *j, const char *name, const char *at,
                                 struct probe_spec *out)
{
    char buf[4096];
    struct passwd pw, *pwp = NULL;
    if (!name[0] || getpwnam_r(name, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp) {
        jsoncfg_err(j, at, "no such user \"%s\"", name);
        return;
    }
    gid_t groups[PROBE_SPEC_MAX_GROUPS];
    int n = PROBE_SPEC_MAX_GROUPS;
    if (getgrouplist(name, pw.pw_gid, groups, &n) < 0)
        n = 1, groups[0] = pw.pw_gid; /* more than we keep: the primary one only */
    out->exec_user = jsoncfg_strdup(name);
    out->exec_uid = pw.pw_uid;
    out->exec_gid = pw.pw_gid;
    out->exec_groups = calloc((size_t)n, sizeof(*out->exec_groups));
    if (!out->exec_groups)
        abort();
    for (int i = 0; i < n; i++)
        out->exec_groups[i] = groups[i];
    out->n_exec_groups = (size_t)n;
}

void probe_spec_exec_parse(const struct jsoncfg *j, json_t *obj, const char *path,
                           struct probe_spec *out)
{
    const struct cfgschema *s = &probe_spec_exec_schema;
    char at[512];
    cfgschema_key_path(at, sizeof(at), s, PE_COMMAND, path);
    json_t *v = cfgschema_value(s, PE_COMMAND, obj);
    if (!v)
        jsoncfg_err(j, at, "is required for type exec: [\"/path/to/program\", \"arg\", ...]");
    else
        probe_spec_exec_command(j, v, at, out);
    v = cfgschema_value(s, PE_USER, obj);
    cfgschema_key_path(at, sizeof(at), s, PE_USER, path);
    if (v && !json_is_string(v))
        jsoncfg_err(j, at, "must be a user name");
    else if (v)
        probe_spec_exec_user(j, json_string_value(v), at, out);
}
