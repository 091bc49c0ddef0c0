/*
 * health_params.c -- the health settings of the configuration.
 */
#include "health/health_params.h"

#include <stdlib.h>

void health_params_parse(const struct jsoncfg *j, json_t *root, struct health_params *out)
{
    const char *sf = jsoncfg_str(j, root, "state_file", "$.state_file");
    out->state_file = sf ? jsoncfg_path(j, sf) : NULL;
    unsigned age = jsoncfg_ms(j, root, "state_max_age", "$.state_max_age", 0, 86400 * 30, 600);
    out->state_max_age = age / 1000.0;
}

void health_params_free(struct health_params *p)
{
    if (!p)
        return;
    free(p->state_file);
    p->state_file = NULL;
}
