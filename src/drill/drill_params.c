/*
 * drill_params.c -- the "drills" section of the configuration.
 */
#include "drill/drill_params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "policy/policy.h"

enum { DR_MAX_DURATION, DR_PRACTICE, DR_OUTCOME_RESOLVER, DR_N };
static const struct cfgschema_key drill_keys[DR_N] = {
    [DR_MAX_DURATION] = {"max_duration", CFGSCHEMA_SECONDS, 1, DRILL_MAX_MAX_DURATION,
                         DRILL_DEFAULT_MAX_DURATION, 0, NULL,
                         "the longest drill, and a scoped drill's duration when it gives none"},
    [DR_PRACTICE] = {"practice", CFGSCHEMA_ARRAY, .sub = &drill_practice_schema,
                     .what = "drills gtmd starts by itself"},
    [DR_OUTCOME_RESOLVER] = {"outcome_resolver", CFGSCHEMA_ARRAY,
                             .what = "the resolvers outcome checks ask (the system's)"},
};
const struct cfgschema drill_schema = CFGSCHEMA("$.drills", drill_keys);

/* "outcome_resolver": ["ADDRESS:PORT", ...] into a c-ares server list. */
static void drill_params_resolver(const struct jsoncfg *j, json_t *v, struct drill_params *out)
{
    const struct cfgschema *sc = &drill_schema;
    char csv[DRILL_MAX_RESOLVERS * 64] = "";
    size_t o = 0, i;
    json_t *e;
    if (!v)
        return;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > DRILL_MAX_RESOLVERS) {
        cfgschema_err(j, sc, DR_OUTCOME_RESOLVER, NULL,
                      "must be an array of 1 to %d addresses with a port, such as "
                      "[\"127.0.0.1:53\"]",
                      DRILL_MAX_RESOLVERS);
        return;
    }
    char at[64];
    cfgschema_key_path(at, sizeof(at), sc, DR_OUTCOME_RESOLVER, NULL);
    json_array_foreach(v, i, e)
    {
        struct sockaddr_storage ss;
        socklen_t len;
        const char *s = json_string_value(e);
        if (!s || strlen(s) > 60 || addr_parse(s, ADDR_PORT_REQUIRED, &ss, &len) != 0) {
            char p[96];
            snprintf(p, sizeof(p), "%s[%zu]", at, i);
            jsoncfg_err(j, p, "must be an address with a port (\"127.0.0.1:53\", \"[::1]:53\")");
            return;
        }
        o += (size_t)snprintf(csv + o, sizeof(csv) - o, "%s%s", i ? "," : "", s);
    }
    out->outcome_resolver = jsoncfg_strdup(csv);
}

static void drill_params_practice(const struct jsoncfg *j, json_t *v, struct drill_params *out)
{
    if (!v)
        return;
    if (!json_is_array(v) || json_array_size(v) > DRILL_MAX_PRACTICE) {
        cfgschema_err(j, &drill_schema, DR_PRACTICE, NULL,
                      "must be an array of at most %d practice drills", DRILL_MAX_PRACTICE);
        return;
    }
    out->practice = calloc(json_array_size(v) ? json_array_size(v) : 1, sizeof(*out->practice));
    if (!out->practice)
        abort();
    char at[64];
    cfgschema_key_path(at, sizeof(at), &drill_schema, DR_PRACTICE, NULL);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char path[96];
        snprintf(path, sizeof(path), "%s[%zu]", at, i);
        struct drill_practice *p = &out->practice[out->n_practice];
        if (!drill_practice_parse(j, e, path, out->max_duration, p))
            continue;
        bool dup = false;
        for (size_t k = 0; k < out->n_practice && !dup; k++)
            dup = strcmp(out->practice[k].spec.name, p->spec.name) == 0;
        if (dup) {
            char np[128];
            snprintf(np, sizeof(np), "%s.name", path);
            jsoncfg_err(j, np, "\"%s\" is the name of another practice drill", p->spec.name);
            drill_practice_free(p);
            continue;
        }
        out->n_practice++;
    }
}

void drill_params_parse(const struct jsoncfg *j, json_t *v, struct drill_params *out)
{
    const struct cfgschema *s = &drill_schema;
    memset(out, 0, sizeof(*out));
    out->max_duration = DRILL_DEFAULT_MAX_DURATION;
    if (!v || !cfgschema_object(j, s, v, NULL))
        return;
    out->max_duration = cfgschema_seconds(j, s, DR_MAX_DURATION, v, NULL);
    drill_params_resolver(j, cfgschema_value(s, DR_OUTCOME_RESOLVER, v), out);
    drill_params_practice(j, cfgschema_value(s, DR_PRACTICE, v), out);
}

static bool drill_params_has_az(const struct gslb *g, const char *name)
{
    for (size_t i = 0; i < g->n_azs; i++)
        if (strcmp(g->azs[i].name, name) == 0)
            return true;
    return false;
}

static bool drill_params_has_check(const struct gslb *g, const char *name)
{
    for (size_t i = 0; i < g->n_checks; i++)
        if (strcmp(g->checks[i].name, name) == 0)
            return !g->checks[i].composite; /* an outcome check probes one target */
    return false;
}

/* An error at element k of key key of practice drill entry (a path). */
static void drill_params_elem_err(const struct jsoncfg *j, const char *entry, size_t key, size_t k,
                                  const char *sub, const char *msg, const char *name)
{
    char at[160], path[200];
    cfgschema_key_path(at, sizeof(at), &drill_practice_schema, key, entry);
    snprintf(path, sizeof(path), "%s[%zu]%s", at, k, sub);
    jsoncfg_err(j, path, msg, name);
}

void drill_params_check(const struct jsoncfg *j, const struct drill_params *p, const struct gslb *g)
{
    char at[64], entry[96];
    cfgschema_key_path(at, sizeof(at), &drill_schema, DR_PRACTICE, NULL);
    for (size_t i = 0; g && i < p->n_practice; i++) {
        const struct drill_spec *s = &p->practice[i].spec;
        snprintf(entry, sizeof(entry), "%s[%zu]", at, i);
        for (size_t k = 0; k < s->n_regions; k++)
            if (gslb_region_index(g, s->regions[k]) < 0)
                drill_params_elem_err(j, entry, PR_REGIONS, k, "",
                                      "no region \"%s\" in the configuration", s->regions[k]);
        for (size_t k = 0; k < s->n_azs; k++)
            if (!drill_params_has_az(g, s->azs[k]))
                drill_params_elem_err(j, entry, PR_AZS, k, "", "no az \"%s\" in the configuration",
                                      s->azs[k]);
        for (size_t k = 0; k < s->n_outcome; k++)
            if (!drill_params_has_check(g, s->outcome[k].check))
                drill_params_elem_err(j, entry, PR_OUTCOME, k, ".check",
                                      "no check \"%s\" in \"checks\" that probes (not composite)",
                                      s->outcome[k].check);
    }
}

void drill_params_free(struct drill_params *p)
{
    for (size_t i = 0; i < p->n_practice; i++)
        drill_practice_free(&p->practice[i]);
    free(p->practice);
    free(p->outcome_resolver);
    p->practice = NULL;
    p->n_practice = 0;
    p->outcome_resolver = NULL;
}

void drill_params_copy(struct drill_params *dst, const struct drill_params *src)
{
    *dst = *src;
    dst->practice = calloc(src->n_practice ? src->n_practice : 1, sizeof(*dst->practice));
    if (!dst->practice)
        abort();
    for (size_t i = 0; i < src->n_practice; i++)
        drill_practice_copy(&dst->practice[i], &src->practice[i]);
    dst->outcome_resolver = src->outcome_resolver ? jsoncfg_strdup(src->outcome_resolver) : NULL;
}
