/*
 * health_params.c -- the health settings of the configuration.
 */
#include "health/health_params.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health/health.h"

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

void health_core_set_params(struct health_core *c, const struct health_params *p)
{
    char *copy = p->state_file ? strdup(p->state_file) : NULL;
    if (p->state_file && !copy)
        abort();
    pthread_mutex_lock(&c->lock);
    free(c->params.state_file);
    c->params.state_file = copy;
    c->params.state_max_age = p->state_max_age;
    pthread_mutex_unlock(&c->lock);
}

bool health_core_state_file(struct health_core *c, char *buf, size_t len)
{
    pthread_mutex_lock(&c->lock);
    bool ok = c->params.state_file && (size_t)snprintf(buf, len, "%s", c->params.state_file) < len;
    pthread_mutex_unlock(&c->lock);
    return ok;
}
