/*
 * policy_shed.c -- load shedding's watermarks and share factor (see
 * policy_shed.h).
 */
#include "policy/policy_shed.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/cfgschema.h"
#include "policy/policy.h"
#include "policy/policy_config_int.h"

enum { SHED_LOW, SHED_HIGH, SHED_N };
static const struct cfgschema_key policy_shed_keys[SHED_N] = {
    [SHED_LOW] = {"low", CFGSCHEMA_ANY, .flags = CFGSCHEMA_REQUIRED,
                  .what = "the load (a number >= 0) up to which an endpoint keeps its full share"},
    [SHED_HIGH] = {"high", CFGSCHEMA_ANY, .flags = CFGSCHEMA_REQUIRED,
                   .what = "the load above low from which it gets no new share"},
};
const struct cfgschema policy_shed_schema = CFGSCHEMA("$.records[].shed_load", policy_shed_keys);

/* A watermark: a finite number >= 0. */
static bool policy_shed_mark(const struct jsoncfg *j, json_t *o, size_t k, const char *path,
                             double *out)
{
    json_t *v = cfgschema_value(&policy_shed_schema, k, o);
    if (!v)
        return false; /* said: required */
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    if (!isfinite(d) || d < 0 || d > 1e15) {
        cfgschema_err(j, &policy_shed_schema, k, path, "must be a number from 0 to 1e15");
        return false;
    }
    *out = d;
    return true;
}

void policy_shed_parse(const struct jsoncfg *j, json_t *v, const char *path,
                       struct policy_record *rec, struct policy_record_ext *x)
{
    rec->shed = false;
    if (!v || !cfgschema_object(j, &policy_shed_schema, v, path))
        return;
    double lo, hi;
    bool ok = policy_shed_mark(j, v, SHED_LOW, path, &lo);
    ok = policy_shed_mark(j, v, SHED_HIGH, path, &hi) && ok;
    if (!ok)
        return;
    if (!(hi > lo)) {
        cfgschema_err(j, &policy_shed_schema, SHED_HIGH, path, "must be above low (%g)", lo);
        return;
    }
    rec->shed = true;
    x->shed_low = lo;
    x->shed_high = hi;
}

double policy_shed_factor(const struct policy_record *r, const struct policy_endpoint *e,
                          double *load)
{
    double l = e->slot ? health_slot_load(e->slot) : NAN;
    if (load)
        *load = l;
    if (!r->shed || l != l) /* the block is read only when shedding */
        return 1.0;
    const struct policy_record_ext *x = policy_ext_of(r);
    if (l <= x->shed_low)
        return 1.0;
    if (l >= x->shed_high)
        return 0.0;
    return (x->shed_high - l) / (x->shed_high - x->shed_low);
}

/* Why pool p reads no load figure, into buf; NULL when its check reads
 * one (an http or https check with "load", or an exec check). */
static const char *policy_shed_no_load(const struct gslb *g, const struct policy_pool *p, char *buf,
                                       size_t len)
{
    static const char *const types[] = {"tcp", "http", "https", "dns", "grpc", "icmp", "exec"};
    if (p->check < 0 || (size_t)p->check >= g->n_checks)
        return "it has no check";
    const struct policy_check *c = &g->checks[p->check];
    if (c->composite)
        snprintf(buf, len, "its check \"%s\" is composite: composite checks read no load", c->name);
    else if (c->spec.type == PROBE_EXEC)
        return NULL; /* its program may print a load= line (probe_exec.c) */
    else if (c->spec.type != PROBE_HTTP && c->spec.type != PROBE_HTTPS)
        snprintf(buf, len,
                 "its check \"%s\" is a %s check: only http and https checks (with "
                 "\"load\") and exec checks read one",
                 c->name, types[c->spec.type]);
    else if (c->spec.load.kind == PROBE_LOAD_NONE)
        snprintf(buf, len, "its check \"%s\" has no \"load\"", c->name);
    else
        return NULL;
    return buf;
}

size_t policy_shed_warn(const struct gslb *g, const char *cfgpath, struct errlist *warns)
{
    size_t n = 0;
    if (!g || (g->counted && g->n_shed == 0))
        return 0; /* the common case: no walk of 100,000 records for nothing */
    const struct policy_record *last = NULL;
    for (size_t i = 0; i < g->n_records; i++) {
        const struct policy_record *r = gslb_rec(g, i);
        char why[300];
        const char *no =
            r->shed ? policy_shed_no_load(g, &g->pools[r->pool], why, sizeof(why)) : NULL;
        /* A name's records of several types share their pool: said once. */
        if (!no || (last && last->pool == r->pool && strcmp(last->name_str, r->name_str) == 0))
            continue;
        char at[POLICY_PATH_LEN], key[POLICY_PATH_LEN + 16];
        cfgschema_key_path(key, sizeof(key), &pc_record_schema, RK_SHED_LOAD,
                           policy_record_path(r, at, sizeof(at)));
        errlist_add(warns,
                    "%s: %s: pool \"%s\" reads no load figure (%s): "
                    "nothing is shed unless an external verdict pushes a load",
                    cfgpath, key, g->pools[r->pool].name, no);
        last = r;
        n++;
    }
    return n;
}
