/*
 * drill_params.c -- the "drills" section of the configuration.
 */
#include "drill/drill_params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "policy/policy.h"

/* "outcome_resolver": ["ADDRESS:PORT", ...] into a c-ares server list. */
static void drill_params_resolver(const struct jsoncfg *j, json_t *v, struct drill_params *out)
{
    char csv[DRILL_MAX_RESOLVERS * 64] = "";
    size_t o = 0, i;
    json_t *e;
    if (!v)
        return;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > DRILL_MAX_RESOLVERS) {
        jsoncfg_err(j, "$.drills.outcome_resolver",
                    "must be an array of 1 to %d addresses with a port, such as "
                    "[\"127.0.0.1:53\"]",
                    DRILL_MAX_RESOLVERS);
        return;
    }
    json_array_foreach(v, i, e)
    {
        struct sockaddr_storage ss;
        socklen_t len;
        const char *s = json_string_value(e);
        if (!s || strlen(s) > 60 || addr_parse(s, ADDR_PORT_REQUIRED, &ss, &len) != 0) {
            char p[64];
            snprintf(p, sizeof(p), "$.drills.outcome_resolver[%zu]", i);
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
        jsoncfg_err(j, "$.drills.practice", "must be an array of at most %d practice drills",
                    DRILL_MAX_PRACTICE);
        return;
    }
    out->practice = calloc(json_array_size(v) ? json_array_size(v) : 1, sizeof(*out->practice));
    if (!out->practice)
        abort();
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char path[64];
        snprintf(path, sizeof(path), "$.drills.practice[%zu]", i);
        struct drill_practice *p = &out->practice[out->n_practice];
        if (!drill_practice_parse(j, e, path, out->max_duration, p))
            continue;
        bool dup = false;
        for (size_t k = 0; k < out->n_practice && !dup; k++)
            dup = strcmp(out->practice[k].spec.name, p->spec.name) == 0;
        if (dup) {
            snprintf(path, sizeof(path), "$.drills.practice[%zu].name", i);
            jsoncfg_err(j, path, "\"%s\" is the name of another practice drill", p->spec.name);
            drill_practice_free(p);
            continue;
        }
        out->n_practice++;
    }
}

void drill_params_parse(const struct jsoncfg *j, json_t *v, struct drill_params *out)
{
    static const char *const keys[] = {"max_duration", "practice", "outcome_resolver", NULL};
    memset(out, 0, sizeof(*out));
    out->max_duration = DRILL_DEFAULT_MAX_DURATION;
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(j, "$.drills", "must be an object such as {\"max_duration\": 3600}");
        return;
    }
    jsoncfg_check_keys(j, v, "$.drills", keys);
    unsigned ms = jsoncfg_ms(j, v, "max_duration", "$.drills.max_duration", 1,
                             DRILL_MAX_MAX_DURATION, DRILL_DEFAULT_MAX_DURATION);
    out->max_duration = ms / 1000.0;
    drill_params_resolver(j, json_object_get(v, "outcome_resolver"), out);
    drill_params_practice(j, json_object_get(v, "practice"), out);
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

void drill_params_check(const struct jsoncfg *j, const struct drill_params *p, const struct gslb *g)
{
    char path[96];
    for (size_t i = 0; g && i < p->n_practice; i++) {
        const struct drill_spec *s = &p->practice[i].spec;
        for (size_t k = 0; k < s->n_regions; k++)
            if (gslb_region_index(g, s->regions[k]) < 0) {
                snprintf(path, sizeof(path), "$.drills.practice[%zu].regions[%zu]", i, k);
                jsoncfg_err(j, path, "no region \"%s\" in the configuration", s->regions[k]);
            }
        for (size_t k = 0; k < s->n_azs; k++)
            if (!drill_params_has_az(g, s->azs[k])) {
                snprintf(path, sizeof(path), "$.drills.practice[%zu].azs[%zu]", i, k);
                jsoncfg_err(j, path, "no az \"%s\" in the configuration", s->azs[k]);
            }
        for (size_t k = 0; k < s->n_outcome; k++)
            if (!drill_params_has_check(g, s->outcome[k].check)) {
                snprintf(path, sizeof(path), "$.drills.practice[%zu].outcome[%zu].check", i, k);
                jsoncfg_err(j, path, "no check \"%s\" in \"checks\" that probes (not composite)",
                            s->outcome[k].check);
            }
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
