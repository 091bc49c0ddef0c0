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

#include "policy/policy_config_int.h"

bool pc_check_is_composite(json_t *c)
{
    const char *t = json_string_value(json_object_get(c, "type"));
    return json_is_object(c) && t && strcmp(t, "composite") == 0;
}

/* Resolves "of" into pc->of; false after reporting what is wrong. */
static bool pc_composite_of(const struct jsoncfg *j, json_t *of, const char *path,
                            const struct gslb *g, struct policy_check *pc)
{
    char sub[PC_PATH + 32];
    snprintf(sub, sizeof(sub), "%s.of", path);
    if (!json_is_array(of) || json_array_size(of) == 0 || json_array_size(of) > COMPOSITE_MAX_OF) {
        jsoncfg_err(j, sub, "must be a list of 1 to %d check names", COMPOSITE_MAX_OF);
        return false;
    }
    pc->of = calloc(json_array_size(of), sizeof(*pc->of));
    if (!pc->of)
        abort();
    bool ok = true;
    for (size_t i = 0; i < json_array_size(of); i++) {
        snprintf(sub, sizeof(sub), "%s.of[%zu]", path, i);
        const char *name = json_string_value(json_array_get(of, i));
        size_t k = 0;
        while (name && k < g->n_checks && strcmp(g->checks[k].name, name) != 0)
            k++;
        if (!name)
            jsoncfg_err(j, sub, "must be a check name");
        else if (k == g->n_checks)
            jsoncfg_err(j, sub, "check \"%s\" is not defined in $.checks", name);
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
    static const char *const keys[] = {"type", "of", "mode", "n", NULL};
    char sub[PC_PATH + 32];
    jsoncfg_check_keys(j, c, path, keys);
    bool ok = pc_composite_of(j, json_object_get(c, "of"), path, g, pc);
    snprintf(sub, sizeof(sub), "%s.mode", path);
    const char *mode = jsoncfg_str(j, c, "mode", sub);
    if (!mode || strcmp(mode, "all") == 0)
        pc->comp.mode = COMPOSITE_ALL;
    else if (strcmp(mode, "any") == 0)
        pc->comp.mode = COMPOSITE_ANY;
    else if (strcmp(mode, "at_least") == 0)
        pc->comp.mode = COMPOSITE_AT_LEAST;
    else
        jsoncfg_err(j, sub, "must be \"all\", \"any\" or \"at_least\"");
    json_t *n = json_object_get(c, "n");
    snprintf(sub, sizeof(sub), "%s.n", path);
    if (pc->comp.mode != COMPOSITE_AT_LEAST) {
        if (n)
            jsoncfg_err(j, sub, "only for \"mode\": \"at_least\"");
        return;
    }
    if (!n) {
        jsoncfg_err(j, sub, "is required with \"mode\": \"at_least\"");
        return;
    }
    size_t of = ok ? pc->comp.n_of : json_array_size(json_object_get(c, "of"));
    if (!json_is_integer(n) || json_integer_value(n) < 1 || (size_t)json_integer_value(n) > of)
        jsoncfg_err(j, sub, "must be an integer from 1 to %zu (the number of checks in \"of\")",
                    of ? of : 1);
    else
        pc->comp.n = (unsigned)json_integer_value(n);
}
