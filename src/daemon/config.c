/*
 * config.c -- the JSON configuration file.
 */
#include "daemon/config.h"
#include "daemon/config_api.h"
#include "daemon/config_keys.h"

#include <jansson.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/jsoncfg.h"
#include "common/log.h"
#include "dns/name.h"
#include "dns/tsig_params.h"
#include "net/xdp_params.h"
#include "xfr/xfr_catalog.h"
#include "policy/policy.h"
#include "policy/policy_config.h"

struct cfg_ctx {
    struct config *c;
    struct jsoncfg j;
};

#define cfg_err(x, path, ...) jsoncfg_err(&(x)->j, path, __VA_ARGS__)

static void cfg_listen(struct cfg_ctx *x, json_t *v, bool fleet)
{
    /* An empty list is a prober-only node: a vantage point of a fleet. */
    if (!json_is_array(v) || (json_array_size(v) == 0 && !fleet)) {
        cfg_err(x, "$.listen",
                "must be a non-empty array of \"address:port\" strings (an empty array only "
                "with a \"fleet\": a prober-only node)");
        return;
    }
    x->c->listen = calloc(json_array_size(v) ? json_array_size(v) : 1, sizeof(*x->c->listen));
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char path[64];
        snprintf(path, sizeof(path), "$.listen[%zu]", i);
        struct config_listen *l = &x->c->listen[x->c->n_listen];
        if (!json_is_string(e)) {
            cfg_err(x, path, "must be a string like \"127.0.0.1:5353\" or \"[::1]:5353\"");
            continue;
        }
        if (addr_parse(json_string_value(e), ADDR_PORT_REQUIRED, &l->addr, &l->addr_len) != 0) {
            cfg_err(x, path, "bad address \"%s\" (want IPv4:port or [IPv6]:port)",
                    json_string_value(e));
            continue;
        }
        l->text = jsoncfg_strdup(json_string_value(e));
        x->c->n_listen++;
    }
}

/* "catalog": {"directory": "DIR"}: the zone is a catalog (RFC 9432) whose
 * members are secondary zones too, their copies in DIR. */
static void cfg_zone_catalog(struct cfg_ctx *x, json_t *v, const char *path, struct config_zone *z)
{
    static const char *const keys[] = {"directory", NULL};
    char sub[128];
    if (!v)
        return;
    snprintf(sub, sizeof(sub), "%s.catalog", path);
    if (!json_is_object(v) || !json_is_string(json_object_get(v, "directory"))) {
        cfg_err(x, sub, "must be an object such as {\"directory\": \"catalog-zones\"}");
        return;
    }
    jsoncfg_check_keys(&x->j, v, sub, keys);
    if (z->primary.n == 0)
        cfg_err(x, sub, "a catalog zone is a secondary zone: it needs \"primary\"");
    z->catalog_dir = jsoncfg_path(&x->j, json_string_value(json_object_get(v, "directory")));
}

static void cfg_zone(struct cfg_ctx *x, json_t *e, size_t i)
{
    static const char *const keys[] = {"origin",  "file",    "dnssec", "transfer",
                                       "primary", "catalog", NULL};
    char path[64];
    snprintf(path, sizeof(path), "$.zones[%zu]", i);
    if (!json_is_object(e)) {
        cfg_err(x, path, "must be an object {\"origin\": ..., \"file\": ...}");
        return;
    }
    jsoncfg_check_keys(&x->j, e, path, keys);
    json_t *o = json_object_get(e, "origin"), *f = json_object_get(e, "file");
    struct dns_name n;
    char sub[96];
    snprintf(sub, sizeof(sub), "%s.origin", path);
    if (!json_is_string(o) || !dns_name_from_str(json_string_value(o), &n)) {
        cfg_err(x, sub, "must be a domain name string such as \"example.com.\"");
        return;
    }
    snprintf(sub, sizeof(sub), "%s.file", path);
    if (!json_is_string(f) || json_string_length(f) == 0) {
        cfg_err(x, sub, "must be a zone file path");
        return;
    }
    struct config_zone *z = &x->c->zones[x->c->n_zones++];
    snprintf(sub, sizeof(sub), "%s.dnssec", path);
    zone_dnssec_params_parse(&x->j, json_object_get(e, "dnssec"), sub, &z->dnssec);
    snprintf(sub, sizeof(sub), "%s.transfer", path);
    zone_xfr_params_parse(&x->j, json_object_get(e, "transfer"), sub, &z->xfr);
    if (z->xfr.key && !tsig_keyring_by_id(&x->c->tsig, z->xfr.key))
        cfg_err(x, sub, "key \"%s\" is not in tsig_keys", z->xfr.key);
    snprintf(sub, sizeof(sub), "%s.primary", path);
    xfr_in_params_parse(&x->j, json_object_get(e, "primary"), sub, &z->primary);
    if (z->primary.key && !tsig_keyring_by_id(&x->c->tsig, z->primary.key))
        cfg_err(x, sub, "key \"%s\" is not in tsig_keys", z->primary.key);
    if (z->primary.n && z->dnssec.sign.n_keys)
        cfg_err(x, sub, "a secondary zone is served as its primary signs it: no \"dnssec\" keys");
    cfg_zone_catalog(x, json_object_get(e, "catalog"), path, z);
    char ob[1024];
    dns_name_to_str(n.wire, ob, sizeof(ob));
    z->origin = jsoncfg_strdup(ob);
    z->file = jsoncfg_path(&x->j, json_string_value(f));
    for (size_t k = 0; k + 1 < x->c->n_zones; k++)
        if (strcmp(x->c->zones[k].origin, z->origin) == 0)
            cfg_err(x, path, "zone %s is listed twice", z->origin);
}

/* The member zones of catalog zone ci, as read from its copy: secondary
 * zones of the catalog's primaries, their copies in its directory. A zone
 * the file configures itself keeps its own entry. */
static void cfg_catalog_members(struct cfg_ctx *x, size_t ci)
{
    struct xfr_catalog_list l;
    char why[512];
    const struct config_zone *cat = &x->c->zones[ci];
    if (xfr_catalog_members(cat->file, cat->origin, &l, why, sizeof(why)) != 0) {
        if (why[0])
            log_warn("event=catalog zone=%s result=ignored why=\"%s\"", cat->origin, why);
        return;
    }
    for (size_t m = 0; m < l.n; m++) {
        bool known = false;
        for (size_t k = 0; k < x->c->n_zones && !known; k++)
            known = strcmp(x->c->zones[k].origin, l.origins[m]) == 0;
        if (known)
            continue;
        struct config_zone *zs = realloc(x->c->zones, (x->c->n_zones + 1) * sizeof(*zs));
        if (!zs)
            abort();
        x->c->zones = zs;
        cat = &x->c->zones[ci];
        struct config_zone *z = &zs[x->c->n_zones++];
        memset(z, 0, sizeof(*z));
        z->origin = jsoncfg_strdup(l.origins[m]);
        char file[4200];
        snprintf(file, sizeof(file), "%s/%szone", cat->catalog_dir, l.origins[m]);
        z->file = jsoncfg_strdup(file);
        z->primary = cat->primary;
        z->primary.key = cat->primary.key ? jsoncfg_strdup(cat->primary.key) : NULL;
        z->catalog_member = true;
    }
    log_info("event=catalog zone=%s members=%zu", cat->origin, l.n);
    xfr_catalog_free(&l);
}

static void cfg_zones(struct cfg_ctx *x, json_t *v)
{
    if (!json_is_array(v) || json_array_size(v) == 0) {
        cfg_err(x, "$.zones", "must be a non-empty array of zones");
        return;
    }
    x->c->zones = calloc(json_array_size(v), sizeof(*x->c->zones));
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) cfg_zone(x, e, i);
    size_t n = x->c->n_zones;
    for (i = 0; i < n; i++)
        if (x->c->zones[i].catalog_dir)
            cfg_catalog_members(x, i);
}

static void cfg_tcp(struct cfg_ctx *x, json_t *v)
{
    static const char *const keys[] = {"max_connections", "idle_timeout", "message_timeout", NULL};
    struct config_tcp *t = &x->c->tcp;
    t->max_connections = 512;
    t->idle_timeout_ms = 10000;
    t->message_timeout_ms = 500;
    if (!v)
        return;
    if (!json_is_object(v)) {
        cfg_err(x, "$.tcp", "must be an object");
        return;
    }
    jsoncfg_check_keys(&x->j, v, "$.tcp", keys);
    t->max_connections = (unsigned)jsoncfg_int(&x->j, v, "max_connections", "$.tcp.max_connections",
                                               1, 1000000, 512);
    t->idle_timeout_ms = jsoncfg_ms(&x->j, v, "idle_timeout", "$.tcp.idle_timeout", 0.1, 3600, 10);
    t->message_timeout_ms =
        jsoncfg_ms(&x->j, v, "message_timeout", "$.tcp.message_timeout", 0.1, 3600, 0.5);
}

/* identity or version: a string (at most 255 octets: one TXT string),
 * false or "" to hide it (NULL), or absent for def. */
static char *cfg_identity(struct cfg_ctx *x, json_t *root, const char *key, const char *def)
{
    json_t *v = json_object_get(root, key);
    char path[32];
    snprintf(path, sizeof(path), "$.%s", key);
    if (!v)
        return jsoncfg_strdup(def);
    if (json_is_false(v))
        return NULL;
    if (!json_is_string(v) || json_string_length(v) > 255 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        cfg_err(x, path, "must be a string of at most 255 octets, or false (or \"\") to hide it");
        return NULL;
    }
    return json_string_length(v) ? jsoncfg_strdup(json_string_value(v)) : NULL;
}

/* "user" and "group": looked up now, so that a name that does not exist
 * (or root, which would drop nothing) is a configuration error that
 * 'gtmd check' reports. */
static void cfg_user(struct cfg_ctx *x, json_t *root)
{
    const char *u = jsoncfg_str(&x->j, root, "user", "$.user");
    const char *g = jsoncfg_str(&x->j, root, "group", "$.group");
    struct config_user *r = &x->c->run_as;
    if (!u) {
        if (g)
            cfg_err(x, "$.group", "needs \"user\": the group gtmd switches to with it");
        return;
    }
    char buf[4096];
    struct passwd pw, *pwp = NULL;
    if (getpwnam_r(u, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp) {
        cfg_err(x, "$.user", "no such user \"%s\"", u);
        return;
    }
    if (pw.pw_uid == 0) {
        cfg_err(x, "$.user",
                "\"%s\" is root (uid 0): nothing would be dropped; leave \"user\" out to run "
                "as root, or name an unprivileged user",
                u);
        return;
    }
    r->uid = pw.pw_uid;
    r->gid = pw.pw_gid;
    const char *gname = g;
    char gbuf[4096];
    struct group gr, *grp = NULL;
    if (g && (getgrnam_r(g, &gr, gbuf, sizeof(gbuf), &grp) != 0 || !grp)) {
        cfg_err(x, "$.group", "no such group \"%s\"", g);
        return;
    }
    if (!g && getgrgid_r(pw.pw_gid, &gr, gbuf, sizeof(gbuf), &grp) == 0 && grp)
        gname = gr.gr_name;
    if (grp)
        r->gid = gr.gr_gid;
    if (r->gid == 0) {
        if (g)
            cfg_err(x, "$.group", "\"%s\" is gid 0: name an unprivileged group", g);
        else
            cfg_err(x, "$.user",
                    "the primary group of \"%s\" is gid 0: set \"group\" to an unprivileged "
                    "group",
                    u);
        return;
    }
    r->user = jsoncfg_strdup(u);
    if (gname)
        r->group = jsoncfg_strdup(gname);
    else {
        snprintf(gbuf, sizeof(gbuf), "%u", (unsigned)r->gid);
        r->group = jsoncfg_strdup(gbuf);
    }
}

static void cfg_root(struct cfg_ctx *x, json_t *root)
{
    const char *keys[CONFIG_KEYS_MAX + 1];
    config_key_names(keys);
    if (!json_is_object(root)) {
        cfg_err(x, "$", "the configuration must be a JSON object");
        return;
    }
    jsoncfg_check_keys(&x->j, root, "$", keys);
    fleet_params_parse(&x->j, json_object_get(root, "fleet"), &x->c->fleet);
    /* Before the zones: their "transfer" objects name these keys. */
    tsig_params_parse(&x->j, json_object_get(root, "tsig_keys"), &x->c->tsig);
    json_t *l = json_object_get(root, "listen");
    if (l)
        cfg_listen(x, l, x->c->fleet.enabled);
    else
        cfg_err(x, "$.listen", "is required");
    json_t *z = json_object_get(root, "zones");
    if (z)
        cfg_zones(x, z);
    else
        cfg_err(x, "$.zones", "is required");
    long w = jsoncfg_int(&x->j, root, "workers", "$.workers", 0, 256, 0);
    if (w == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        w = n > 0 ? n : 1;
    }
    x->c->workers = (unsigned)w;
    x->c->edns_udp_max =
        (uint16_t)jsoncfg_int(&x->j, root, "edns_udp_max", "$.edns_udp_max", 512, 4096, 1232);
    cfg_tcp(x, json_object_get(root, "tcp"));
    xdp_params_parse(&x->j, json_object_get(root, "xdp"), &x->c->xdp);
    cfg_user(x, root);
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
        snprintf(host, sizeof(host), "gtmd");
    /* In a fleet the node name tells which node answered (doc/fleet.md). */
    x->c->identity_default = !json_object_get(root, "identity");
    x->c->identity = cfg_identity(
        x, root, "identity", x->c->fleet.enabled && x->c->fleet.node ? x->c->fleet.node : host);
    x->c->version = cfg_identity(x, root, "version", "gtmd " GTM_VERSION);
    cookie_params_parse(&x->j, json_object_get(root, "cookies"), &x->c->cookies);
    x->c->rrl = rrl_params_parse(&x->j, json_object_get(root, "rrl"));
    admin_params_parse(&x->j, json_object_get(root, "admin"), &x->c->admin);
    health_params_parse(&x->j, root, &x->c->health);
    webhook_params_parse(&x->j, json_object_get(root, "notify"), &x->c->notify);
    config_api_params_parse(&x->j, json_object_get(root, "config_api"), &x->c->config_api);
    if (x->c->config_api.fleet && !x->c->fleet.enabled)
        jsoncfg_err(&x->j, "$.config_api.fleet",
                    "needs a \"fleet\" section: the configuration is shared through its etcd");
    geo_params_parse(&x->j, json_object_get(root, "geoip"), &x->c->geo);
    drill_params_parse(&x->j, json_object_get(root, "drills"), &x->c->drills);
    const char **origins = calloc(x->c->n_zones + 1, sizeof(*origins));
    if (!origins)
        abort();
    for (size_t i = 0; i < x->c->n_zones; i++)
        origins[i] = x->c->zones[i].origin;
    x->c->gslb = policy_config_parse(&x->j, root, origins, x->c->n_zones);
    free((void *)origins);
    /* Practice drills name regions, azs and checks of the same file. */
    drill_params_check(&x->j, &x->c->drills, x->c->gslb);
}

json_t *config_shared_part(json_t *root)
{
    json_t *copy = json_copy(root);
    for (size_t i = 0; i < config_keys_n; i++)
        if (config_keys[i].flags & CONFIG_KEY_NODE_LOCAL)
            json_object_del(copy, config_keys[i].name);
    return copy;
}

json_t *config_with_local(json_t *shared, json_t *local)
{
    json_t *out = config_shared_part(shared);
    for (size_t i = 0; i < config_keys_n; i++) {
        json_t *v = json_object_get(local, config_keys[i].name);
        if (v && (config_keys[i].flags & CONFIG_KEY_NODE_LOCAL))
            json_object_set(out, config_keys[i].name, v);
    }
    return out;
}

/* The hash of the part of the file every node of a fleet shares. */
static void cfg_shared_hash(json_t *root, char out[65])
{
    json_t *copy = config_shared_part(root);
    char *text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(copy);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!text || EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL) != 1)
        n = 0;
    free(text);
    for (unsigned i = 0; i < n && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[n ? 64 : 0] = '\0';
}

struct config *config_load(const char *path, struct errlist *errs)
{
    json_error_t jerr;
    size_t before = errs->count;
    json_t *root = jsoncfg_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (jerr.line > 0)
            errlist_add(errs, "%s:%d: %s", path, jerr.line, jerr.text);
        else
            errlist_add(errs, "%s: %s", path, jerr.text);
        return NULL;
    }
    struct config *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->path = jsoncfg_strdup(path);
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    c->dir = jsoncfg_strdup(dirname(tmp));
    struct cfg_ctx x = {.c = c, .j = {.errs = errs, .file = path, .dir = c->dir}};
    cfg_root(&x, root);
    if (json_is_object(root) && c->fleet.enabled) /* only a fleet compares it */
        cfg_shared_hash(root, c->shared_hash);
    c->restart_part = json_object();
    for (size_t i = 0; i < config_keys_n; i++) {
        json_t *v = json_object_get(root, config_keys[i].name);
        if (v && (config_keys[i].flags & CONFIG_KEY_RESTART))
            json_object_set(c->restart_part, config_keys[i].name, v);
        else if (v && (config_keys[i].flags & CONFIG_KEY_PART_RESTART) && config_keys[i].schema)
            json_object_set_new(c->restart_part, config_keys[i].name,
                                cfgschema_restart_part(config_keys[i].schema, v));
    }
    json_decref(root);
    if (errs->count != before) {
        config_free(c);
        return NULL;
    }
    return c;
}

void config_free(struct config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_listen; i++)
        free(c->listen[i].text);
    for (size_t i = 0; i < c->n_zones; i++) {
        free(c->zones[i].origin);
        free(c->zones[i].file);
        zone_dnssec_params_free(&c->zones[i].dnssec);
        zone_xfr_params_free(&c->zones[i].xfr);
        xfr_in_params_free(&c->zones[i].primary);
        free(c->zones[i].catalog_dir);
    }
    tsig_keyring_free(&c->tsig);
    free(c->listen);
    free(c->zones);
    free(c->run_as.user);
    free(c->run_as.group);
    admin_params_free(&c->admin);
    free(c->identity);
    free(c->version);
    rrl_params_free(c->rrl);
    xdp_params_free(&c->xdp);
    free(c->rrl);
    health_params_free(&c->health);
    webhook_params_free(&c->notify);
    config_api_params_free(&c->config_api);
    json_decref(c->restart_part);
    geo_params_free(&c->geo);
    drill_params_free(&c->drills);
    fleet_params_free(&c->fleet);
    gslb_unref(c->gslb);
    free(c->path);
    free(c->dir);
    free(c);
}
