/*
 * policy_conf_check.h -- for the policy unit tests (test_policy_eval,
 * test_policy_latency): parses a policy configuration and says whether
 * one of its errors mentions a text (each error is printed as a TAP
 * comment).
 */
#ifndef GTM_TESTS_POLICY_CONF_CHECK_H
#define GTM_TESTS_POLICY_CONF_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/errlist.h"
#include "common/jsoncfg.h"
#include "policy/policy_config.h"

/* Parses json (zones: example.com.) into e (each error printed as a TAP
 * comment); the set, NULL when json is not JSON. Caller owns both. */
static inline struct gslb *policy_conf_load(const char *json, struct errlist *e)
{
    struct jsoncfg j = {.errs = e, .file = "test.json", .dir = "."};
    json_t *root = json_loads(json, 0, NULL);
    const char *origins[] = {"example.com."};
    struct gslb *g = root ? policy_config_parse(&j, root, origins, 1) : NULL;
    json_decref(root);
    for (size_t i = 0; i < e->count; i++)
        printf("# %s\n", e->msgs[i]);
    return g;
}

/* The policy set of json, or NULL when it does not parse or reports an
 * error. The caller owns the set (gslb_unref). */
static inline struct gslb *policy_conf_parse(const char *json)
{
    struct errlist e;
    errlist_init(&e);
    struct gslb *g = policy_conf_load(json, &e);
    if (e.count) {
        gslb_unref(g);
        g = NULL;
    }
    errlist_free(&e);
    return g;
}

/* True when parsing json reports an error that contains want. */
static inline bool policy_conf_error(const char *json, const char *want)
{
    struct errlist e;
    errlist_init(&e);
    struct gslb *g = policy_conf_load(json, &e);
    bool found = false;
    for (size_t i = 0; i < e.count; i++)
        found = found || strstr(e.msgs[i], want) != NULL;
    gslb_unref(g);
    errlist_free(&e);
    return found;
}

#endif
