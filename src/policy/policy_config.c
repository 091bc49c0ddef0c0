/*
 * policy_config.c -- parses regions, checks, pools and records.
 */
#include "policy/policy_config.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/bigalloc.h"
#include "dns/dns.h"
#include "dns/name.h"
#include "policy/policy_config_int.h"
#include "policy/policy_latency.h"
#include "policy/policy_ramp.h"
#include "policy/policy_shed.h"

/* policy_config_int.h */
void *pc_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

enum { CT_ADDRESS, CT_HOST, CT_PORT, CT_N };
static const struct cfgschema_key pc_check_target_keys[CT_N] = {
    [CT_ADDRESS] = {"address", CFGSCHEMA_STRING, .what = "the address probed instead"},
    [CT_HOST] = {"host", CFGSCHEMA_STRING, .what = "the host name probed instead"},
    [CT_PORT] = {"port", CFGSCHEMA_INT, 1, 65535, 0, CFGSCHEMA_DEFAULT_VARIES, NULL,
                 "the port probed (the check's)"},
};
static const struct cfgschema pc_check_target_schema =
    CFGSCHEMA("$.pools[].endpoints[].check_target", pc_check_target_keys);

enum { EP_NAME, EP_ADDRESS, EP_CNAME, EP_REGION, EP_AZ, EP_WEIGHT, EP_CHECK_TARGET, EP_N };
static const struct cfgschema_key pc_endpoint_keys[EP_N] = {
    [EP_NAME] = {"name", CFGSCHEMA_STRING, .flags = CFGSCHEMA_REQUIRED,
                 .what = "its name in the pool, without '/'"},
    [EP_ADDRESS] = {"address", CFGSCHEMA_STRING, .what = "an IPv4 or IPv6 address it answers"},
    [EP_CNAME] = {"cname", CFGSCHEMA_STRING, .what = "or a CNAME target it answers"},
    [EP_REGION] = {"region", CFGSCHEMA_STRING, .flags = CFGSCHEMA_REQUIRED,
                   .what = "its region (in regions)"},
    [EP_AZ] = {"az", CFGSCHEMA_STRING, .what = "its availability zone"},
    [EP_WEIGHT] = {"weight", CFGSCHEMA_INT, 0, 1000000, 1, 0, NULL,
                   "its share of weighted answers"},
    [EP_CHECK_TARGET] = {"check_target", CFGSCHEMA_OBJECT, .sub = &pc_check_target_schema,
                         .what = "what is probed when not the answer itself"},
};
static const struct cfgschema pc_endpoint_schema =
    CFGSCHEMA("$.pools[].endpoints[]", pc_endpoint_keys);

enum { PL_CHECK, PL_ENDPOINTS, PL_MIN_HEALTHY, PL_N };
static const struct cfgschema_key pc_pool_keys[PL_N] = {
    [PL_CHECK] = {"check", CFGSCHEMA_STRING, .what = "how its endpoints are probed (in checks)"},
    [PL_ENDPOINTS] = {"endpoints", CFGSCHEMA_ARRAY, .flags = CFGSCHEMA_REQUIRED,
                      .sub = &pc_endpoint_schema, .what = "its endpoints"},
    [PL_MIN_HEALTHY] = {"min_healthy", CFGSCHEMA_INT, 1, 100000, 1, 0, NULL,
                        "endpoints up for an az or a region to be up"},
};
static const struct cfgschema pc_pool_schema = CFGSCHEMA("$.pools[]", pc_pool_keys);

static const struct cfgschema_key pc_record_keys[RK_N] = {
    [RK_POOL] = {"pool", CFGSCHEMA_STRING, .flags = CFGSCHEMA_REQUIRED,
                 .what = "the pool it answers from"},
    [RK_TTL] = {"ttl", CFGSCHEMA_INT, 0, 2147483647, 30, 0, NULL,
                "the answers' TTL (the longest, with ttl_min)"},
    [RK_TTL_MIN] = {"ttl_min", CFGSCHEMA_INT, 0, 2147483647, 0, CFGSCHEMA_DEFAULT_VARIES, NULL,
                    "health-aware TTL: shorter while the answer may change soon, not below "
                    "this (absent: ttl always)"},
    [RK_POLICY] = {"policy", CFGSCHEMA_STRING,
                   .what = "failover (the default), weighted, all, geo, nearest or latency"},
    [RK_REGIONS] = {"regions", CFGSCHEMA_ARRAY, .what = "its region order, or region set"},
    [RK_SELECT] = {"select", CFGSCHEMA_STRING,
                   .what = "all (the default), weighted or hashed: the endpoints answered"},
    [RK_ANSWERS] = {"answers", CFGSCHEMA_INT, 1, 16, 0, CFGSCHEMA_DEFAULT_VARIES, NULL,
                    "addresses per answer (8 for a set, else 1)"},
    [RK_GEO] = {"geo", CFGSCHEMA_OBJECT, .what = "a geo record's region orders by place"},
    [RK_ECS] = {"ecs", CFGSCHEMA_BOOL, .flags = CFGSCHEMA_DEFAULT_VARIES,
                .what = "whether it uses EDNS Client Subnet (the top-level ecs)"},
    [RK_SPILL] = {"spill", CFGSCHEMA_INT, 0, 64, 0, 0, NULL,
                  "regions after the first that share its answers"},
    [RK_WHEN_ALL_DOWN] = {"when_all_down", CFGSCHEMA_STRING,
                          .what = "all (the default), fallback or empty"},
    [RK_FALLBACK] = {"fallback", CFGSCHEMA_ARRAY,
                     .what = "addresses or names answered when all is down"},
    [RK_SHED_LOAD] = {"shed_load", CFGSCHEMA_OBJECT, .sub = &policy_shed_schema,
                      .what = "load shedding: the low and high watermarks of the endpoints' load"},
    [RK_FAILBACK] = {"failback", CFGSCHEMA_OBJECT, .sub = &policy_ramp_schema,
                     .what = "a recovered region's ramp back"},
    [RK_LATENCY] = {"latency", CFGSCHEMA_OBJECT, .sub = &policy_latency_schema,
                    .what = "a latency record's tolerance and vantage points"},
};
const struct cfgschema pc_record_schema = CFGSCHEMA("$.records[]", pc_record_keys);

enum { RG_LOCATION, RG_N };
static const struct cfgschema_key pc_region_keys[RG_N] = {
    [RG_LOCATION] = {"location", CFGSCHEMA_ARRAY,
                     .what = "[latitude, longitude] in degrees (for nearest records)"},
};
static const struct cfgschema pc_region_schema = CFGSCHEMA("$.regions[]", pc_region_keys);

enum { PK_REGIONS, PK_CHECKS, PK_POOLS, PK_RECORDS, PK_ECS, PK_N };
static const struct cfgschema_key policy_root_keys[PK_N] = {
    [PK_REGIONS] = {"regions", CFGSCHEMA_MAP, .sub = &pc_region_schema,
                    .what = "regions and their availability zones", .section = "REGIONS"},
    [PK_CHECKS] = {"checks", CFGSCHEMA_MAP, .sub = &pc_check_schema,
                   .what = "how endpoints are probed", .section = "CHECKS"},
    [PK_POOLS] = {"pools", CFGSCHEMA_MAP, .sub = &pc_pool_schema, .what = "named sets of endpoints",
                  .section = "POOLS"},
    [PK_RECORDS] = {"records", CFGSCHEMA_MAP, .sub = &pc_record_schema,
                    .what = "names answered from a pool by a policy", .section = "RECORDS"},
    [PK_ECS] = {"ecs", CFGSCHEMA_BOOL, .def = 1, .what = "EDNS Client Subnet for policy records",
                .section = "GEO"},
};
const struct cfgschema policy_root_schema = CFGSCHEMA("$", policy_root_keys);

static void pc_regions(const struct jsoncfg *j, json_t *v, struct gslb *g)
{
    const struct cfgschema *s = &pc_region_schema;
    char at[32];
    cfgschema_key_path(at, sizeof(at), &policy_root_schema, PK_REGIONS, NULL);
    const char *name;
    json_t *r;
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(j, at, "must be an object of region name -> {\"location\": [lat, lon]}");
        return;
    }
    g->regions = pc_calloc(json_object_size(v), sizeof(*g->regions));
    json_object_foreach(v, name, r)
    {
        char path[PC_PATH];
        snprintf(path, sizeof(path), "%s.%s", at, name);
        struct policy_region *reg = &g->regions[g->n_regions++];
        reg->name = jsoncfg_strdup(name);
        if (!cfgschema_object(j, s, r, path))
            continue;
        json_t *loc = cfgschema_value(s, RG_LOCATION, r);
        if (!loc)
            continue;
        if (!json_is_array(loc) || json_array_size(loc) != 2 ||
            !json_is_number(json_array_get(loc, 0)) || !json_is_number(json_array_get(loc, 1)) ||
            fabs(json_number_value(json_array_get(loc, 0))) > 90 ||
            fabs(json_number_value(json_array_get(loc, 1))) > 180) {
            jsoncfg_err(j, path, "location must be [latitude, longitude] in degrees");
            continue;
        }
        reg->has_location = true;
        reg->lat = json_number_value(json_array_get(loc, 0));
        reg->lon = json_number_value(json_array_get(loc, 1));
    }
}

static void pc_checks(const struct jsoncfg *j, json_t *v, struct gslb *g)
{
    const char *name;
    json_t *c;
    if (!v)
        return;
    char at[32];
    cfgschema_key_path(at, sizeof(at), &policy_root_schema, PK_CHECKS, NULL);
    if (!json_is_object(v)) {
        jsoncfg_err(j, at, "must be an object of check name -> check");
        return;
    }
    g->checks = pc_calloc(json_object_size(v), sizeof(*g->checks));
    json_object_foreach(v, name, c)
    {
        char path[PC_PATH];
        snprintf(path, sizeof(path), "%s.%s", at, name);
        struct policy_check *pc = &g->checks[g->n_checks++];
        pc->name = jsoncfg_strdup(name);
        pc->composite = pc_check_is_composite(c);
        if (!pc->composite)
            probe_spec_parse(c, j->file, j->dir, path, &pc->spec, j->errs);
    }
    /* Composites name other checks: once every name is known. */
    size_t i = 0;
    json_object_foreach(v, name, c)
    {
        char path[PC_PATH];
        snprintf(path, sizeof(path), "%s.%s", at, name);
        if (g->checks[i].composite)
            pc_check_composite(j, c, path, g, &g->checks[i]);
        i++;
    }
}

static int pc_check_index(const struct gslb *g, const char *name)
{
    for (size_t i = 0; i < g->n_checks; i++)
        if (strcmp(g->checks[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int pc_az_index(const struct jsoncfg *j, struct gslb *g, const char *name, uint16_t region,
                       const char *path, size_t cap)
{
    for (size_t i = 0; i < g->n_azs; i++) {
        if (strcmp(g->azs[i].name, name) != 0)
            continue;
        if (g->azs[i].region != region)
            jsoncfg_err(j, path, "az \"%s\" already belongs to region \"%s\"", name,
                        g->regions[g->azs[i].region].name);
        return (int)i;
    }
    if (g->n_azs >= cap)
        return -1;
    g->azs[g->n_azs].name = jsoncfg_strdup(name);
    g->azs[g->n_azs].region = region;
    return (int)g->n_azs++;
}

/* Parses "address" or "cname" of an endpoint or fallback entry. */
static bool pc_answer(const struct jsoncfg *j, json_t *e, const char *path,
                      struct policy_endpoint *ep)
{
    const char *addr = cfgschema_str(j, &pc_endpoint_schema, EP_ADDRESS, e, path);
    const char *cname = cfgschema_str(j, &pc_endpoint_schema, EP_CNAME, e, path);
    if ((addr != NULL) == (cname != NULL)) {
        jsoncfg_err(j, path, "needs exactly one of \"address\" or \"cname\"");
        return false;
    }
    if (addr) {
        if (inet_pton(AF_INET, addr, ep->rd.addr) == 1) {
            ep->rtype = DNS_TYPE_A, ep->rdlen = 4;
            ep->address_str = jsoncfg_strdup(addr);
            return true;
        }
        if (inet_pton(AF_INET6, addr, ep->rd.addr) == 1) {
            ep->rtype = DNS_TYPE_AAAA, ep->rdlen = 16;
            ep->address_str = jsoncfg_strdup(addr);
            return true;
        }
        jsoncfg_err(j, path, "address \"%s\" is not an IPv4 or IPv6 address", addr);
        return false;
    }
    struct dns_name n;
    if (!dns_name_from_str(cname, &n) || n.count == 0) {
        jsoncfg_err(j, path, "cname \"%s\" is not a domain name", cname);
        return false;
    }
    ep->address_str = jsoncfg_strdup(cname);
    ep->rtype = DNS_TYPE_CNAME;
    ep->rdlen = n.len;
    ep->rd.cname = pc_calloc(1, n.len);
    memcpy(ep->rd.cname, n.wire, n.len);
    return true;
}

/* Parses an endpoint's optional "check_target": {"address"|"host", "port"}. */
static void pc_check_target(const struct jsoncfg *j, json_t *e, const char *path,
                            struct policy_endpoint *ep)
{
    const struct cfgschema *s = &pc_check_target_schema;
    char sub[PC_PATH];
    json_t *t = cfgschema_value(&pc_endpoint_schema, EP_CHECK_TARGET, e);
    cfgschema_key_path(sub, sizeof(sub), &pc_endpoint_schema, EP_CHECK_TARGET, path);
    if (!t) {
        if (ep->rtype == DNS_TYPE_CNAME) {
            /* A CNAME endpoint is probed at its target name by default. */
            char buf[1024];
            dns_name_to_str(ep->rd.cname, buf, sizeof(buf));
            ep->check_host = jsoncfg_strdup(buf);
        }
        return;
    }
    if (!cfgschema_object(j, s, t, sub))
        return;
    const char *a = cfgschema_str(j, s, CT_ADDRESS, t, sub);
    const char *h = cfgschema_str(j, s, CT_HOST, t, sub);
    if (cfgschema_value(s, CT_PORT, t))
        ep->check_port = (uint16_t)cfgschema_int(j, s, CT_PORT, t, sub);
    if (a && h)
        jsoncfg_err(j, sub, "give \"address\" or \"host\", not both");
    else if (a) {
        struct sockaddr_storage ss;
        socklen_t len = 0;
        if (addr_parse(a, ADDR_PORT_NONE, &ss, &len) != 0 || len > sizeof(ep->check_addr))
            jsoncfg_err(j, sub, "address \"%s\" is not an IP address", a);
        else {
            memcpy(&ep->check_addr, &ss, len);
            ep->check_len = len;
        }
    } else if (h) {
        /* A name to resolve (the prober sends it as Host and SNI too):
         * "" and "." named nothing and were probed as "cannot resolve". */
        struct dns_name n;
        if (!dns_name_from_str(h, &n) || n.count == 0)
            jsoncfg_err(j, sub, "host \"%s\" is not a host name", h);
        else
            ep->check_host = jsoncfg_strdup(h);
    }
}

static void pc_endpoint(const struct jsoncfg *j, json_t *e, const char *path, struct gslb *g,
                        struct policy_pool *pool, size_t az_cap)
{
    const struct cfgschema *s = &pc_endpoint_schema;
    struct policy_endpoint *ep = &pool->eps[pool->n_eps];
    if (!cfgschema_object(j, s, e, path))
        return;
    const char *name = cfgschema_str(j, s, EP_NAME, e, path);
    const char *region = cfgschema_str(j, s, EP_REGION, e, path);
    const char *az = cfgschema_str(j, s, EP_AZ, e, path);
    if (!name || !*name || strchr(name, '/')) {
        if (name)
            cfgschema_err(j, s, EP_NAME, path, "must be a name without '/'");
        return;
    }
    for (size_t i = 0; i < pool->n_eps; i++)
        if (strcmp(pool->eps[i].name, name) == 0)
            jsoncfg_err(j, path, "endpoint name \"%s\" is used twice in pool %s", name, pool->name);
    int r = region ? gslb_region_index(g, region) : -1;
    if (r < 0) {
        if (region)
            jsoncfg_err(j, path, "region \"%s\" is not defined in regions", region);
        return;
    }
    if (!pc_answer(j, e, path, ep))
        return;
    ep->weight = (uint32_t)cfgschema_int(j, s, EP_WEIGHT, e, path);
    ep->name = jsoncfg_strdup(name);
    size_t kl = strlen(pool->name) + strlen(name) + 11;
    ep->key = pc_calloc(kl, 1);
    snprintf(ep->key, kl, "endpoint:%s/%s", pool->name, name);
    ep->region = (uint16_t)r;
    ep->az = UINT16_MAX;
    if (az) {
        int ai = pc_az_index(j, g, az, (uint16_t)r, path, az_cap);
        ep->az = ai < 0 ? UINT16_MAX : (uint16_t)ai;
    }
    pc_check_target(j, e, path, ep);
    pool->n_eps++;
}

static void pc_pool(const struct jsoncfg *j, const char *name, json_t *p, struct gslb *g,
                    size_t az_cap)
{
    const struct cfgschema *s = &pc_pool_schema;
    char at[32], path[PC_PATH], sub[PC_PATH];
    cfgschema_key_path(at, sizeof(at), &policy_root_schema, PK_POOLS, NULL);
    snprintf(path, sizeof(path), "%s.%s", at, name);
    struct policy_pool *pool = &g->pools[g->n_pools++];
    pool->name = jsoncfg_strdup(name);
    pool->check = -1;
    pool->min_healthy = 1;
    if (!cfgschema_object(j, s, p, path))
        return;
    const char *check = cfgschema_str(j, s, PL_CHECK, p, path);
    if (check && (pool->check = pc_check_index(g, check)) < 0)
        cfgschema_err(j, s, PL_CHECK, path, "check \"%s\" is not defined in checks", check);
    pool->min_healthy = (unsigned)cfgschema_int(j, s, PL_MIN_HEALTHY, p, path);
    json_t *eps = cfgschema_value(s, PL_ENDPOINTS, p);
    cfgschema_key_path(sub, sizeof(sub), s, PL_ENDPOINTS, path);
    if (!eps)
        return; /* said: required */
    if (!json_is_array(eps) || json_array_size(eps) == 0) {
        jsoncfg_err(j, sub, "must be a non-empty array of endpoints");
        return;
    }
    pool->eps = pc_calloc(json_array_size(eps), sizeof(*pool->eps));
    size_t i;
    json_t *e;
    json_array_foreach(eps, i, e)
    {
        char epath[PC_PATH + 32];
        snprintf(epath, sizeof(epath), "%s[%zu]", sub, i);
        pc_endpoint(j, e, epath, g, pool, az_cap);
    }
    bool has_cname = false, has_addr = false;
    for (size_t k = 0; k < pool->n_eps; k++)
        *(pool->eps[k].rtype == DNS_TYPE_CNAME ? &has_cname : &has_addr) = true;
    if (has_cname && has_addr)
        jsoncfg_err(j, sub, "a pool holds either addresses or CNAME targets, not both");
}

static void pc_pools(const struct jsoncfg *j, json_t *v, struct gslb *g)
{
    const char *name;
    json_t *p;
    size_t total = 0;
    if (!v)
        return;
    if (!json_is_object(v)) {
        char at[32];
        cfgschema_key_path(at, sizeof(at), &policy_root_schema, PK_POOLS, NULL);
        jsoncfg_err(j, at, "must be an object of pool name -> pool");
        return;
    }
    json_object_foreach(v, name, p)
    {
        json_t *eps = json_is_object(p) ? cfgschema_value(&pc_pool_schema, PL_ENDPOINTS, p) : NULL;
        total += json_is_array(eps) ? json_array_size(eps) : 0;
    }
    g->pools = pc_calloc(json_object_size(v), sizeof(*g->pools));
    g->azs = pc_calloc(total, sizeof(*g->azs));
    json_object_foreach(v, name, p) pc_pool(j, name, p, g, total);
}
static int pc_enum(const struct jsoncfg *j, json_t *r, size_t key, const char *path,
                   const char *const *names, int def)
{
    const char *v = cfgschema_str(j, &pc_record_schema, key, r, path);
    if (!v)
        return def;
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], v) == 0)
            return i;
    char allowed[256] = "";
    for (int i = 0; names[i]; i++)
        snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), "%s%s",
                 i ? ", " : "", names[i]);
    cfgschema_err(j, &pc_record_schema, key, path, "\"%s\" is not one of: %s", v, allowed);
    return def;
}

static void pc_fallback(const struct jsoncfg *j, json_t *r, const char *path,
                        const struct policy_record *rec, struct policy_record_ext *x)
{
    json_t *fb = cfgschema_value(&pc_record_schema, RK_FALLBACK, r);
    char sub[PC_PATH];
    cfgschema_key_path(sub, sizeof(sub), &pc_record_schema, RK_FALLBACK, path);
    if (rec->when_all_down != DOWN_FALLBACK) {
        if (fb)
            jsoncfg_err(j, sub, "only used with \"when_all_down\": \"fallback\"");
        return;
    }
    if (!json_is_array(fb) || json_array_size(fb) == 0) {
        jsoncfg_err(j, sub, "must be a non-empty array of addresses or names");
        return;
    }
    x->fallback = pc_calloc(json_array_size(fb), sizeof(*x->fallback));
    size_t i;
    json_t *e;
    json_array_foreach(fb, i, e)
    {
        char epath[PC_PATH];
        snprintf(epath, sizeof(epath), "%s[%zu]", sub, i);
        json_t *obj = json_is_string(e) ? json_object() : NULL;
        if (obj) {
            /* A string is an address, or a name when it is not one. */
            struct in6_addr tmp;
            const char *s = json_string_value(e);
            bool is_addr = inet_pton(AF_INET, s, &tmp) == 1 || inet_pton(AF_INET6, s, &tmp) == 1;
            json_object_set_new(obj, is_addr ? "address" : "cname", json_string(s));
        }
        if (!obj || !pc_answer(j, obj, epath, &x->fallback[x->n_fallback]))
            jsoncfg_err(j, epath, "must be an IP address or a domain name string");
        else
            x->n_fallback++;
        json_decref(obj);
    }
}

static bool pc_in_zones(const struct dns_name *n, const char *const *origins, size_t n_origins)
{
    for (size_t i = 0; i < n_origins; i++) {
        struct dns_name o;
        if (dns_name_from_str(origins[i], &o) && dns_name_is_sub(n->wire, n->len, o.wire, o.len))
            return true;
    }
    return false;
}

struct pc_defaults {
    bool ecs; /* $.ecs */
};

/* The record's name, in one of the zones; false (said) when it is not. */
static bool pc_record_name(const struct jsoncfg *j, const char *name, const char *path,
                           const char *const *origins, size_t n_origins, struct dns_name *n)
{
    if (!dns_name_from_str(name, n) || n->count == 0 || (n->wire[0] == 1 && n->wire[1] == '*')) {
        jsoncfg_err(j, path, "\"%s\" is not a domain name (wildcards are not policy names)", name);
        return false;
    }
    if (!pc_in_zones(n, origins, n_origins)) {
        jsoncfg_err(j, path, "%s is outside every zone in zones", name);
        return false;
    }
    return true;
}

/* ecs, spill, fallback, failback, shedding and the answers' type, once
 * the region order is known (the rarely used parts into x). */
static void pc_record_rest(const struct jsoncfg *j, json_t *r, const char *path,
                           const struct gslb *g, struct policy_record *rec,
                           const struct pc_defaults *def, struct policy_record_ext *x)
{
    const struct cfgschema *s = &pc_record_schema;
    rec->use_ecs = cfgschema_value(s, RK_ECS, r) ? cfgschema_bool(j, s, RK_ECS, r, path) : def->ecs;
    rec->spill = (uint8_t)cfgschema_int(j, s, RK_SPILL, r, path); /* 0-64: the schema */
    bool ordered = rec->policy == POLICY_FAILOVER || rec->policy == POLICY_GEO ||
                   rec->policy == POLICY_NEAREST;
    size_t longest = pc_record_longest_order(rec, x);
    if (rec->spill && !ordered)
        cfgschema_err(j, s, RK_SPILL, path,
                      "spill applies to failover, geo and nearest records only");
    if (rec->spill && rec->spill >= longest && longest)
        cfgschema_err(j, s, RK_SPILL, path, "spill must be less than the number of regions (%zu)",
                      longest);
    pc_fallback(j, r, path, rec, x);
    char sub[PC_PATH + 16];
    cfgschema_key_path(sub, sizeof(sub), s, RK_FAILBACK, path);
    policy_ramp_parse(j, cfgschema_value(s, RK_FAILBACK, r), sub, x);
    cfgschema_key_path(sub, sizeof(sub), s, RK_SHED_LOAD, path);
    policy_shed_parse(j, cfgschema_value(s, RK_SHED_LOAD, r), sub, rec, x);
    rec->rtype = g->pools[rec->pool].n_eps ? g->pools[rec->pool].eps[0].rtype : DNS_TYPE_A;
    if (rec->rtype == DNS_TYPE_AAAA)
        rec->rtype = DNS_TYPE_A; /* an address pool serves A and/or AAAA */
    for (size_t k = 0; k < x->n_fallback; k++)
        if ((x->fallback[k].rtype == DNS_TYPE_CNAME) != (rec->rtype == DNS_TYPE_CNAME))
            jsoncfg_err(j, path, "fallback answers must be of the pool's kind (address or cname)");
}

/* x in a block of its own when rec uses any of it, else NULL (x's parts
 * are the block's, or none). */
static const struct policy_record_ext *pc_record_ext(const struct policy_record *rec,
                                                     const struct policy_record_ext *x)
{
    if (!rec->shed && !x->ramp_ms && !x->fallback && !x->latency && !x->geo && !x->geo_orders)
        return NULL;
    struct policy_record_ext *b = malloc(sizeof(*b));
    if (!b)
        abort();
    *b = *x;
    return b;
}

/* name as text followed by its wire form n in one block (owned by the
 * caller through the returned pointer); *wire points at the wire form. */
static char *pc_record_names(const char *name, const struct dns_name *n, const uint8_t **wire)
{
    size_t tl = strlen(name) + 1;
    char *b = malloc(tl + n->len);
    if (!b)
        abort();
    memcpy(b, name, tl);
    memcpy(b + tl, n->wire, n->len);
    *wire = (const uint8_t *)b + tl;
    return b;
}

/* Whether key is a lowercase absolute name without escapes: the one key
 * of its name (dns_name_from_str lowercases, takes escapes and a name
 * without its final dot), so that records of different keys never share
 * a name (policy_record.loose_key). */
static bool pc_key_plain(const char *key)
{
    size_t n = strlen(key);
    if (n < 2 || key[n - 1] != '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (key[i] == '\\' || (key[i] >= 'A' && key[i] <= 'Z'))
            return false;
    return true;
}

static void pc_record(const struct jsoncfg *j, const char *name, json_t *r, const char *path,
                      uint32_t elem, struct gslb *g, const char *const *origins, size_t n_origins,
                      const struct pc_defaults *def)
{
    static const char *const policies[] = {"failover", "weighted", "all", "geo",
                                           "nearest",  "latency",  NULL};
    static const char *const selects[] = {"all", "weighted", "hashed", NULL};
    static const char *const downs[] = {"all", "fallback", "empty", NULL};
    const struct cfgschema *s = &pc_record_schema;
    struct dns_name n;
    if (!cfgschema_object(j, s, r, path) || !pc_record_name(j, name, path, origins, n_origins, &n))
        return;
    const char *pool = cfgschema_str(j, s, RK_POOL, r, path);
    int pi = pool ? gslb_pool_index(g, pool) : -1;
    if (pi < 0) {
        if (pool)
            cfgschema_err(j, s, RK_POOL, path, "pool \"%s\" is not defined in pools", pool);
        return;
    }
    struct policy_record *rec = gslb_rec_w(g, g->n_records);
    memset(rec, 0, sizeof(*rec)); /* a chunk is not zeroed (gslb_rec_w) */
    rec->index = (uint32_t)g->n_records++;
    rec->elem = elem;
    rec->name_str = pc_record_names(name, &n, &rec->name);
    rec->loose_key = !pc_key_plain(name);
    rec->name_len = n.len;
    rec->key_hash = policy_name_hash(name, strlen(name));
    rec->name_hash = policy_name_hash(n.wire, n.len);
    rec->pool = (uint32_t)pi;
    rec->ttl = (uint32_t)cfgschema_int(j, s, RK_TTL, r, path);
    if (cfgschema_value(s, RK_TTL_MIN, r)) {
        rec->health_ttl = true;
        rec->ttl_min = (uint32_t)cfgschema_int(j, s, RK_TTL_MIN, r, path);
        if (rec->ttl_min > rec->ttl)
            cfgschema_err(j, s, RK_TTL_MIN, path, "%u is above \"ttl\" (%u), the longest TTL",
                          rec->ttl_min, rec->ttl);
    }
    rec->policy = (enum policy_kind)pc_enum(j, r, RK_POLICY, path, policies, POLICY_FAILOVER);
    rec->select = (enum policy_select)pc_enum(j, r, RK_SELECT, path, selects, SELECT_ALL);
    rec->when_all_down = (enum policy_down)pc_enum(j, r, RK_WHEN_ALL_DOWN, path, downs, DOWN_ALL);
    /* One answer unless the record returns a set (select all on a failover
     * or all policy); a weighted policy picks one by default, as Route 53. */
    bool set = rec->select == SELECT_ALL && rec->policy != POLICY_WEIGHTED &&
               rec->policy != POLICY_LATENCY; /* latency: one of the fastest */
    rec->answers = set ? 8 : 1;
    if (cfgschema_value(s, RK_ANSWERS, r))
        rec->answers = (uint8_t)cfgschema_int(j, s, RK_ANSWERS, r, path); /* 1-16 */
    struct policy_record_ext x = {0};
    pc_record_order(j, r, path, g, rec, &x);
    pc_record_rest(j, r, path, g, rec, def, &x);
    rec->ext = pc_record_ext(rec, &x);
    gslb_count_record(g, rec);
}

_Static_assert(POLICY_PATH_LEN >= PC_PATH + 16,
               "policy_record_path's room holds an element's path");

const char *policy_record_path(const struct policy_record *r, char *buf, size_t len)
{
    /* As pc_compile_member made it, to the octet (truncation included). */
    char at[32], path[PC_PATH];
    cfgschema_key_path(at, sizeof(at), &policy_root_schema, PK_RECORDS, NULL);
    snprintf(path, sizeof(path), "%s[\"%s\"]", at, r->name_str);
    if (r->elem == 0)
        snprintf(buf, len, "%s", path);
    else
        snprintf(buf, len, "%s[%u]", path, r->elem - 1);
    return buf;
}

uint32_t pc_name_hash(const char *s)
{
    return policy_name_hash(s, strlen(s));
}

/* policy_config_int.h */
bool pc_same_ordered(json_t *a, json_t *b)
{
    if (a == b)
        return true;
    if (!a || !b || !json_is_object(a) || !json_is_object(b) ||
        json_object_size(a) != json_object_size(b))
        return a && b && !json_is_object(a) && json_equal(a, b);
    void *ia = json_object_iter(a), *ib = json_object_iter(b);
    for (; ia && ib; ia = json_object_iter_next(a, ia), ib = json_object_iter_next(b, ib)) {
        json_t *va = json_object_iter_value(ia), *vb = json_object_iter_value(ib);
        if (strcmp(json_object_iter_key(ia), json_object_iter_key(ib)) != 0 ||
            !(va == vb || json_equal(va, vb)))
            return false;
    }
    return !ia && !ib;
}

/* The type a record of pool p serves (pc_record) and whether p has an
 * endpoint in each region (seen[], n_regions of them, cleared first):
 * all a record's compiled form takes from its pool besides its index. */
static uint16_t pc_pool_shape(const struct policy_pool *p, bool *seen, size_t n_regions)
{
    memset(seen, 0, n_regions * sizeof(*seen));
    for (size_t k = 0; k < p->n_eps; k++)
        if (p->eps[k].region < n_regions)
            seen[p->eps[k].region] = true;
    uint16_t t = p->n_eps ? p->eps[0].rtype : DNS_TYPE_A;
    return t == DNS_TYPE_AAAA ? DNS_TYPE_A : t;
}

/* The pools of g (new) against those of r->g, when the names are the same
 * in the same order (so are the indexes records hold): pool_ok[i] when
 * pool i gives its records the same type and the same regions (an
 * endpoint's address or weight changed, one added in a region the pool
 * had: a rollout). False when the names differ: nothing is taken. */
static bool pc_reuse_pools(struct pc_reuse *r, json_t *was, json_t *now, const struct gslb *g)
{
    const struct gslb *o = r->g;
    if (!json_is_object(was) || !json_is_object(now) || o->n_pools != g->n_pools ||
        json_object_size(was) != json_object_size(now) || g->n_pools != json_object_size(now))
        return false;
    void *ia = json_object_iter(was), *ib = json_object_iter(now);
    for (; ia && ib; ia = json_object_iter_next(was, ia), ib = json_object_iter_next(now, ib))
        if (strcmp(json_object_iter_key(ia), json_object_iter_key(ib)) != 0)
            return false;
    size_t nr = g->n_regions ? g->n_regions : 1;
    bool *a = pc_calloc(nr, sizeof(*a)), *b = pc_calloc(nr, sizeof(*b));
    r->pool_ok = pc_calloc(g->n_pools ? g->n_pools : 1, 1);
    for (size_t i = 0; i < g->n_pools; i++)
        r->pool_ok[i] = strcmp(o->pools[i].name, g->pools[i].name) == 0 &&
                        pc_pool_shape(&o->pools[i], a, g->n_regions) ==
                            pc_pool_shape(&g->pools[i], b, g->n_regions) &&
                        memcmp(a, b, g->n_regions * sizeof(*a)) == 0;
    free(a);
    free(b);
    return true;
}

/* Sets r up from reuse (r zeroed): nothing to take unless root's zones,
 * regions and default ecs are the running document's and its pools are
 * too, or have the same names in the same order (pc_reuse_pools). g: the
 * new set, its pools parsed. */
static void pc_reuse_init(struct pc_reuse *r, json_t *root, const struct policy_reuse *reuse,
                          const struct gslb *g)
{
    static const char *const deps[] = {"zones", "regions", "ecs", NULL};
    static const unsigned same[] = {0, POLICY_SAME_REGIONS, 0};
    if (!reuse || !reuse->g || !reuse->root || !json_is_object(root))
        return;
    for (size_t k = 0; deps[k]; k++)
        if (!(reuse->same & same[k]) &&
            !pc_same_ordered(json_object_get(reuse->root, deps[k]), json_object_get(root, deps[k])))
            return;
    r->g = reuse->g;
    json_t *was = json_object_get(reuse->root, "pools"), *now = json_object_get(root, "pools");
    if (!(reuse->same & POLICY_SAME_POOLS) && !pc_same_ordered(was, now) &&
        !pc_reuse_pools(r, was, now, g)) {
        r->g = NULL;
        return;
    }
    r->records = json_object_get(reuse->root, "records");
}

/* The running set's records by name (built once, when the walk of
 * pc_records loses step). */
static void pc_reuse_index(struct pc_reuse *r)
{
    const struct gslb *g = r->g;
    uint32_t size = 16;
    while (size < 2 * g->n_records + 1)
        size *= 2;
    r->first = pc_calloc(size, sizeof(*r->first));
    r->mask = size - 1;
    for (size_t i = 0; i < g->n_records; i++) {
        if (i > 0 && strcmp(gslb_rec(g, i - 1)->name_str, gslb_rec(g, i)->name_str) == 0)
            continue; /* the records of a name are consecutive */
        uint32_t k = pc_name_hash(gslb_rec(g, i)->name_str) & r->mask;
        while (r->first[k])
            k = (k + 1) & r->mask;
        r->first[k] = (uint32_t)i + 1;
    }
}

/* Takes the n records of old (from index at of r->g) as records of g,
 * sharing their parts, and notes where they came from. A record that
 * keeps its index is not copied: g shares the running set's chunk
 * (gslb_rec_share) until a write of that chunk copies it. */
void pc_reuse_copy(struct pc_reuse *r, size_t at, size_t n, struct gslb *g)
{
    for (size_t x = 0; x < n; x++) {
        /* Its parts stay the running set's until this set is published
         * (gslb_published): nothing of the running set is written here. */
        const struct policy_record *old = gslb_rec(r->g, at + x);
        if (at + x == g->n_records && gslb_rec_share(g, r->g, at + x))
            gslb_count_record(g, old);
        else {
            struct policy_record *rec = gslb_rec_w(g, g->n_records);
            *rec = *old;
            rec->index = (uint32_t)g->n_records;
            gslb_count_record(g, rec);
        }
        g->from[g->n_records++] = (uint32_t)(at + x);
        g->n_reused++;
    }
}

/* Whether the n records of r->g from index at are all named name (hash:
 * its key_hash); by the hash alone when fast (the walk of pc_records,
 * which reads the records' names only when they differ). */
static bool pc_reuse_named(const struct pc_reuse *r, size_t at, size_t n, const char *name,
                           uint32_t hash, bool fast)
{
    if (at + n > r->g->n_records)
        return false;
    for (size_t x = 0; x < n; x++) {
        const struct policy_record *o = gslb_rec(r->g, at + x);
        if (o->key_hash != hash || (!fast && strcmp(o->name_str, name) != 0))
            return false;
    }
    return true;
}

/* Whether the n records of r->g from index at are of pools that compile
 * as they did. */
bool pc_reuse_pools_ok(const struct pc_reuse *r, size_t at, size_t n)
{
    for (size_t x = 0; r->pool_ok && x < n; x++)
        if (!r->pool_ok[gslb_rec(r->g, at + x)->pool])
            return false;
    return true;
}

/* Takes the compiled records of name (value v, the very object of the
 * running document) from the running set, found by name; false when
 * they must be compiled. */
static bool pc_reuse_take(struct pc_reuse *r, const char *name, json_t *v, struct gslb *g)
{
    if (!r->g || json_object_get(r->records, name) != v)
        return false;
    if (!r->first)
        pc_reuse_index(r);
    size_t n = json_is_array(v) ? json_array_size(v) : 1, at = SIZE_MAX;
    for (uint32_t k = pc_name_hash(name) & r->mask; r->first[k] && at == SIZE_MAX;
         k = (k + 1) & r->mask)
        if (strcmp(gslb_rec(r->g, r->first[k] - 1)->name_str, name) == 0)
            at = r->first[k] - 1;
    if (at == SIZE_MAX || !pc_reuse_named(r, at, n, name, pc_name_hash(name), false) ||
        !pc_reuse_pools_ok(r, at, n) ||
        (at + n < r->g->n_records && strcmp(gslb_rec(r->g, at + n)->name_str, name) == 0))
        return false;
    pc_reuse_copy(r, at, n, g);
    return true;
}

/* The running document's members are walked beside the new ones (ia, at
 * the running set's record pos): a change through the API keeps the
 * order and the untouched members' values (config_api.c), so an
 * untouched member costs a name and a pointer compared, not a lookup. */
struct pc_walk {
    void *ia;
    size_t pos;
    bool lost; /* out of step: the rest is found by name (pc_reuse_take) */
};

size_t pc_member_size(json_t *v)
{
    return json_is_array(v) ? json_array_size(v) : 1;
}

/* Takes member name (value v) from the running set by walking; false
 * when it is not the running one's (compiled, or found by name). */
static bool pc_walk_take(struct pc_reuse *r, struct pc_walk *w, json_t *records, const char *name,
                         json_t *v, struct gslb *g)
{
    while (!w->lost && w->ia) {
        const char *ka = json_object_iter_key(w->ia);
        json_t *va = json_object_iter_value(w->ia);
        size_t n = pc_member_size(va);
        if (strcmp(ka, name) == 0) {
            /* The running set was built from this document, member by
             * member in its order; the hash guards that. */
            bool same = va == v && pc_reuse_named(r, w->pos, n, name, pc_name_hash(name), true);
            w->lost = va == v && !same; /* the set is not the document's */
            same = same && pc_reuse_pools_ok(r, w->pos, n);
            if (same)
                pc_reuse_copy(r, w->pos, n, g);
            w->pos += n;
            w->ia = json_object_iter_next(r->records, w->ia);
            return same;
        }
        if (json_object_get(records, ka)) {
            w->lost = json_object_get(r->records, name) != NULL; /* reordered */
            return false;                                        /* name was added */
        }
        w->pos += n; /* ka was removed */
        w->ia = json_object_iter_next(r->records, w->ia);
    }
    return false;
}

static void pc_records(const struct jsoncfg *j, json_t *v, struct gslb *g,
                       const char *const *origins, size_t n_origins, const struct pc_defaults *def,
                       struct pc_reuse *reuse)
{
    const char *name;
    json_t *r;
    size_t total = 0;
    if (!v)
        return;
    char at[32];
    cfgschema_key_path(at, sizeof(at), &policy_root_schema, PK_RECORDS, NULL);
    if (!json_is_object(v)) {
        jsoncfg_err(j, at, "must be an object of name -> record (or array of records)");
        return;
    }
    /* A change that says which records it touched: the others are taken
     * without walking the document (policy_config_touched.c). */
    if (reuse->g && reuse->touched &&
        pc_records_touched(j, v, g, origins, n_origins, def, reuse, at))
        return;
    json_object_foreach(v, name, r) total += pc_member_size(r);
    /* Every slot used is written whole: copied (pc_reuse_copy) or zeroed
     * and then compiled (pc_record). */
    if (reuse->g)
        gslb_records_init(g, total);
    else
        gslb_records_init_block(g, total);
    struct pc_walk w = {reuse->g ? json_object_iter(reuse->records) : NULL, 0, false};
    if (reuse->g) {
        g->from = pc_calloc(total ? total : 1, sizeof(*g->from));
        g->from_g = reuse->g;
    }
    json_object_foreach(v, name, r)
    {
        if (reuse->g && (pc_walk_take(reuse, &w, v, name, r, g) ||
                         (w.lost && pc_reuse_take(reuse, name, r, g))))
            continue;
        pc_compile_member(j, at, name, r, g, origins, n_origins, def);
    }
    g->n_keys = json_object_size(v);
}

void pc_compile_member(const struct jsoncfg *j, const char *at, const char *name, json_t *r,
                       struct gslb *g, const char *const *origins, size_t n_origins,
                       const struct pc_defaults *def)
{
    size_t n0 = g->n_records;
    char path[PC_PATH];
    snprintf(path, sizeof(path), "%s[\"%s\"]", at, name);
    if (!json_is_array(r))
        pc_record(j, name, r, path, 0, g, origins, n_origins, def);
    else {
        size_t i;
        json_t *e;
        json_array_foreach(r, i, e)
        {
            char epath[PC_PATH + 16];
            snprintf(epath, sizeof(epath), "%s[%zu]", path, i);
            pc_record(j, name, e, epath, (uint32_t)i + 1, g, origins, n_origins, def);
        }
    }
    for (size_t k = n0; g->from && k < g->n_records; k++)
        g->from[k] = GSLB_COMPILED;
}

struct gslb *policy_config_parse(const struct jsoncfg *j, json_t *root, const char *const *origins,
                                 size_t n_origins)
{
    return policy_config_parse_reuse(j, root, origins, n_origins, NULL);
}

struct gslb *policy_config_parse_reuse(const struct jsoncfg *j, json_t *root,
                                       const char *const *origins, size_t n_origins,
                                       const struct policy_reuse *reuse)
{
    const struct cfgschema *s = &policy_root_schema;
    struct gslb *g = pc_calloc(1, sizeof(*g));
    atomic_init(&g->refs, 1);
    g->spare = reuse ? reuse->spare : NULL;
    g->orders = reuse ? reuse->orders : NULL;
    g->chunks_live = reuse ? reuse->chunks_live : NULL;
    pc_regions(j, cfgschema_value(s, PK_REGIONS, root), g);
    pc_checks(j, cfgschema_value(s, PK_CHECKS, root), g);
    if (!pc_pools_take(root, reuse, g))
        pc_pools(j, cfgschema_value(s, PK_POOLS, root), g);
    struct pc_defaults def = {.ecs = cfgschema_bool(j, s, PK_ECS, root, NULL)};
    struct pc_reuse ru = {0};
    pc_reuse_init(&ru, root, reuse, g);
    ru.touched = reuse && json_is_object(reuse->touched) ? reuse->touched : NULL;
    pc_records(j, cfgschema_value(s, PK_RECORDS, root), g, origins, n_origins, &def, &ru);
    free(ru.first);
    free(ru.pool_ok);
    g->counted = true;
    policy_bind_names(j, g);
    policy_ramp_init(g);
    /* A set compiled whole (a start, a reload of the file) gets its table
     * of names now, so that the first change in place after it does not
     * make one (30-40 ms at a million names); one that took records from
     * the running set gets it when a change first needs it. */
    if (!g->inplace && g->n_reused == 0 && gslb_bound_by_key(g))
        gslb_keys_of(g);
    return g;
}
