/*
 * policy_config_composite.c -- parses composite checks (composite.h).
 *
 * A composite names leaf checks only: a composite of composites is
 * refused, which also rules out every cycle (a composite naming itself is
 * told as such). Each child probes the endpoint on its own schedule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health/probe.h"
#include "policy/policy_config_int.h"

enum { CO_OF, CO_MODE, CO_N_AT_LEAST, CO_N };
static const struct cfgschema_key pc_composite_keys[CO_N] = {
    [CO_OF] = {"of", CFGSCHEMA_ARRAY, .flags = CFGSCHEMA_REQUIRED,
               .what = "a composite's checks (probing checks, by name)"},
    [CO_MODE] = {"mode", CFGSCHEMA_STRING, .what = "all (the default), any or at_least"},
    [CO_N_AT_LEAST] = {"n", CFGSCHEMA_INT, 1, COMPOSITE_MAX_OF, 0, CFGSCHEMA_DEFAULT_VARIES, NULL,
                       "how many of \"of\" must pass, with at_least"},
};
/* A composite check: "type" (health's table) and its own keys. */
static const struct cfgschema *const pc_composite_more[] = {&probe_type_schema, NULL};
static const struct cfgschema pc_composite_schema =
    CFGSCHEMA_MORE("$.checks[]", pc_composite_keys, pc_composite_more);
/* Every key a check may have, for the root's table (checks{}). */
static const struct cfgschema *const pc_check_more[] = {&probe_check_schema, NULL};
const struct cfgschema pc_check_schema =
    CFGSCHEMA_MORE("$.checks[]", pc_composite_keys, pc_check_more);

bool pc_check_is_composite(json_t *c)
{
    const char *t = json_string_value(cfgschema_value(&probe_type_schema, 0, c));
    return json_is_object(c) && t && strcmp(t, "composite") == 0;
}

/* Resolves "of" into pc->of; false after reporting what is wrong. */
static bool pc_composite_of(const struct jsoncfg *j, json_t *of, const char *path,
                            const struct gslb *g, struct policy_check *pc)
{
    char at[PC_PATH + 8], sub[PC_PATH + 32];
    cfgschema_key_path(at, sizeof(at), &pc_composite_schema, CO_OF, path);
    snprintf(sub, sizeof(sub), "%s", at);
    if (!of)
        return false; /* said: required */
    if (!json_is_array(of) || json_array_size(of) == 0 || json_array_size(of) > COMPOSITE_MAX_OF) {
        jsoncfg_err(j, sub, "must be a list of 1 to %d check names", COMPOSITE_MAX_OF);
        return false;
    }
    pc->of = calloc(json_array_size(of), sizeof(*pc->of));
    if (!pc->of)
        abort();
    bool ok = true;
    for (size_t i = 0; i < json_array_size(of); i++) {
        snprintf(sub, sizeof(sub), "%s[%zu]", at, i);
        const char *name = json_string_value(json_array_get(of, i));
        size_t k = 0;
        while (name && k < g->n_checks && strcmp(g->checks[k].name, name) != 0)
            k++;
        if (!name)
            jsoncfg_err(j, sub, "must be a check name");
        else if (k == g->n_checks)
            jsoncfg_err(j, sub, "check \"%s\" is not defined in checks", name);
        else if (&g->checks[k] == pc)
            jsoncfg_err(j, sub, "a composite check cannot name itself");
        else if (g->checks[k].composite)
            jsoncfg_err(j, sub,
                        "check \"%s\" is itself composite: a composite names probing checks "
                        "only (list its checks here instead)",
                        name);
        for (size_t x = 0; name && k < g->n_checks && x < pc->comp.n_of; x++)
            if (pc->of[x] == k) {
                jsoncfg_err(j, sub, "check \"%s\" is named twice", name);
                k = g->n_checks;
            }
        if (!name || k == g->n_checks || &g->checks[k] == pc || g->checks[k].composite) {
            ok = false;
            continue;
        }
        pc->of[pc->comp.n_of++] = (uint16_t)k;
    }
    return ok;
}

void pc_check_composite(const struct jsoncfg *j, json_t *c, const char *path, const struct gslb *g,
                        struct policy_check *pc)
{
    const struct cfgschema *s = &pc_composite_schema;
    cfgschema_object(j, s, c, path);
    json_t *of_v = cfgschema_value(s, CO_OF, c);
    bool ok = pc_composite_of(j, of_v, path, g, pc);
    const char *mode = cfgschema_str(j, s, CO_MODE, c, path);
    if (!mode || strcmp(mode, "all") == 0)
        pc->comp.mode = COMPOSITE_ALL;
    else if (strcmp(mode, "any") == 0)
        pc->comp.mode = COMPOSITE_ANY;
    else if (strcmp(mode, "at_least") == 0)
        pc->comp.mode = COMPOSITE_AT_LEAST;
    else
        cfgschema_err(j, s, CO_MODE, path, "must be \"all\", \"any\" or \"at_least\"");
    json_t *n = cfgschema_value(s, CO_N_AT_LEAST, c);
    if (pc->comp.mode != COMPOSITE_AT_LEAST) {
        if (n)
            cfgschema_err(j, s, CO_N_AT_LEAST, path, "only for \"mode\": \"at_least\"");
        return;
    }
    if (!n) {
        cfgschema_err(j, s, CO_N_AT_LEAST, path, "is required with \"mode\": \"at_least\"");
        return;
    }
    size_t of = ok ? pc->comp.n_of : json_array_size(of_v);
    if (!json_is_integer(n) || json_integer_value(n) < 1 || (size_t)json_integer_value(n) > of)
        cfgschema_err(j, s, CO_N_AT_LEAST, path,
                      "must be an integer from 1 to %zu (the number of checks in \"of\")",
                      of ? of : 1);
    else
        pc->comp.n = (unsigned)json_integer_value(n);
}
