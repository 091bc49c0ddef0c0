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

#include "health/health.h"

/* Checks that the state file can be written where it is: its directory
 * exists and is writable (a new file is created there and renamed over
 * the old one), and the file itself, if present, is a regular file. */
static void health_params_check_state_file(const struct jsoncfg *j, const char *path)
{
    char dir[PATH_MAX];
    struct stat st;
    snprintf(dir, sizeof(dir), "%s", path);
    const char *d = dirname(dir);
    if (stat(d, &st) != 0)
        jsoncfg_err(j, "$.state_file", "directory %s of the state file: %s", d, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        jsoncfg_err(j, "$.state_file", "%s (the state file's directory) is not a directory", d);
    else if (access(d, W_OK | X_OK) != 0)
        jsoncfg_err(j, "$.state_file", "directory %s of the state file is not writable: %s", d,
                    strerror(errno));
    else if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
        jsoncfg_err(j, "$.state_file", "%s exists and is not a regular file%s", path,
                    S_ISLNK(st.st_mode) ? " (a symbolic link would be replaced by the file)" : "");
}

void health_params_parse(const struct jsoncfg *j, json_t *root, struct health_params *out)
{
    const char *sf = jsoncfg_str(j, root, "state_file", "$.state_file");
    out->state_file = sf ? jsoncfg_path(j, sf) : NULL;
    if (out->state_file)
        health_params_check_state_file(j, out->state_file);
    unsigned age = jsoncfg_ms(j, root, "state_max_age", "$.state_max_age", 0, 86400 * 30, 600);
    out->state_max_age = age / 1000.0;
    out->max_overrides = (size_t)jsoncfg_int(j, root, "max_overrides", "$.max_overrides", 1, 100000,
                                             HEALTH_MAX_OVERRIDES_DEFAULT);
}

void health_params_free(struct health_params *p)
{
    if (!p)
        return;
    free(p->state_file);
    p->state_file = NULL;
}
