/*
 * config.c -- the JSON configuration file.
 */
#include "control/config.h"
#include "control/config_api.h"
#include "control/config_keys.h"
#include "control/config_tables.h"

#include <jansson.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/addr.h"
#include "admin/admin.h"
#include "common/jsoncfg.h"
#include "common/jsonshare.h"
#include "common/log.h"
#include "dns/name.h"
#include "dns/tsig_params.h"
#include "net/xdp_params.h"
#include "policy/policy.h"
#include "policy/policy_config.h"

struct cfg_ctx {
    struct config *c;
    struct jsoncfg j;
    const struct policy_reuse *reuse; /* NULL: every record compiled */
};

#define cfg_err(x, path, ...) jsoncfg_err(&(x)->j, path, __VA_ARGS__)

static void cfg_listen(struct cfg_ctx *x, json_t *v, bool fleet)
{
    char at[32];
    cfgschema_key_path(at, sizeof(at), &config_schema, CFG_K_LISTEN, NULL);
    /* An empty list is a prober-only node: a vantage point of a fleet. */
    if (!json_is_array(v) || (json_array_size(v) == 0 && !fleet)) {
        cfg_err(x, at,
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
        snprintf(path, sizeof(path), "%s[%zu]", at, i);
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

enum { TCP_MAX_CONNECTIONS, TCP_IDLE_TIMEOUT, TCP_MESSAGE_TIMEOUT, TCP_N };
static const struct cfgschema_key config_tcp_keys[TCP_N] = {
    [TCP_MAX_CONNECTIONS] = {"max_connections", CFGSCHEMA_INT, 1, 1000000, 512, 0, NULL,
                             "open connections across all workers"},
    [TCP_IDLE_TIMEOUT] = {"idle_timeout", CFGSCHEMA_SECONDS, 0.1, 3600, 10, 0, NULL,
                          "how long a connection may wait for its next query"},
    [TCP_MESSAGE_TIMEOUT] = {"message_timeout", CFGSCHEMA_SECONDS, 0.1, 3600, 0.5, 0, NULL,
                             "how long one message may take to arrive or leave"},
};
const struct cfgschema config_tcp_schema = CFGSCHEMA("$.tcp", config_tcp_keys);

static void cfg_tcp(struct cfg_ctx *x, json_t *v)
{
    const struct cfgschema *s = &config_tcp_schema;
    struct config_tcp *t = &x->c->tcp;
    if (v && !cfgschema_object(&x->j, s, v, NULL))
        v = NULL; /* said; the defaults (a read of no object gives them) */
    t->max_connections = (unsigned)cfgschema_int(&x->j, s, TCP_MAX_CONNECTIONS, v, NULL);
    t->idle_timeout_ms = cfgschema_ms(&x->j, s, TCP_IDLE_TIMEOUT, v, NULL);
    t->message_timeout_ms = cfgschema_ms(&x->j, s, TCP_MESSAGE_TIMEOUT, v, NULL);
}

/* The "dnstap" section, its listeners bound to the listen addresses. */
static void cfg_dnstap(struct cfg_ctx *x, json_t *v)
{
    struct config *c = x->c;
    dnstap_params_parse(&x->j, v, &c->dnstap);
    const struct sockaddr_storage **addrs = calloc(c->n_listen + 1, sizeof(*addrs));
    if (!addrs)
        abort();
    for (size_t i = 0; i < c->n_listen; i++)
        addrs[i] = &c->listen[i].addr;
    dnstap_params_bind(&x->j, &c->dnstap, addrs, c->n_listen);
    free(addrs);
}

/* identity or version: a string (at most 255 octets: one TXT string),
 * false or "" to hide it (NULL), or absent for def. */
static char *cfg_identity(struct cfg_ctx *x, json_t *root, size_t key, const char *def)
{
    json_t *v = cfgschema_value(&config_schema, key, root);
    char path[32];
    cfgschema_key_path(path, sizeof(path), &config_schema, key, NULL);
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

/* "pin_workers" and "udp_steering" (net/spread.h): a wrong type or an
 * unknown steering is an error at its key's path. */
static void cfg_workers_spread(struct cfg_ctx *x, json_t *root)
{
    const struct cfgschema *s = &config_schema;
    x->c->pin_workers = cfgschema_bool(&x->j, s, CFG_K_PIN_WORKERS, root, NULL);
    json_t *v = cfgschema_value(s, CFG_K_UDP_STEERING, root);
    const char *m = cfgschema_str(&x->j, s, CFG_K_UDP_STEERING, root, NULL);
    x->c->udp_hash = m && strcmp(m, "hash") == 0;
    if (v && m && !x->c->udp_hash && strcmp(m, "cpu") != 0)
        cfgschema_err(&x->j, s, CFG_K_UDP_STEERING, NULL, "must be \"cpu\" or \"hash\", not \"%s\"",
                      m);
}

/* "user" and "group": looked up now, so that a name that does not exist
 * (or root, which would drop nothing) is a configuration error that
 * 'gtmd check' reports. */
static void cfg_user(struct cfg_ctx *x, json_t *root)
{
    const struct cfgschema *s = &config_schema;
    char at_u[16], at_g[16];
    cfgschema_key_path(at_u, sizeof(at_u), s, CFG_K_USER, NULL);
    cfgschema_key_path(at_g, sizeof(at_g), s, CFG_K_GROUP, NULL);
    const char *u = cfgschema_str(&x->j, s, CFG_K_USER, root, NULL);
    const char *g = cfgschema_str(&x->j, s, CFG_K_GROUP, root, NULL);
    struct config_user *r = &x->c->run_as;
    if (!u) {
        if (g)
            cfg_err(x, at_g, "needs \"user\": the group gtmd switches to with it");
        return;
    }
    char buf[4096];
    struct passwd pw, *pwp = NULL;
    if (getpwnam_r(u, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp) {
        cfg_err(x, at_u, "no such user \"%s\"", u);
        return;
    }
    if (pw.pw_uid == 0) {
        cfg_err(x, at_u,
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
        cfg_err(x, at_g, "no such group \"%s\"", g);
        return;
    }
    if (!g && getgrgid_r(pw.pw_gid, &gr, gbuf, sizeof(gbuf), &grp) == 0 && grp)
        gname = gr.gr_name;
    if (grp)
        r->gid = gr.gr_gid;
    if (r->gid == 0) {
        if (g)
            cfg_err(x, at_g, "\"%s\" is gid 0: name an unprivileged group", g);
        else
            cfg_err(x, at_u,
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

/* The module sections of the root (after the daemon's own keys). */
static void cfg_sections(struct cfg_ctx *x, json_t *root)
{
    const struct cfgschema *s = &config_schema;
    struct config *c = x->c;
    cookie_params_parse(&x->j, cfgschema_value(s, CFG_K_COOKIES, root), &c->cookies);
    c->rrl = rrl_params_parse(&x->j, cfgschema_value(s, CFG_K_RRL, root));
    admin_params_parse(&x->j, cfgschema_value(s, CFG_K_ADMIN, root), &c->admin);
    health_params_parse(&x->j, root, &c->health);
    webhook_params_parse(&x->j, cfgschema_value(s, CFG_K_NOTIFY, root), &c->notify);
    config_api_params_parse(&x->j, cfgschema_value(s, CFG_K_CONFIG_API, root), &c->config_api);
    if (c->config_api.fleet && !c->fleet.enabled)
        cfgschema_err(&x->j, &config_api_schema, CA_FLEET, NULL,
                      "needs a \"fleet\" section: the configuration is shared through its etcd");
    config_zones_check_updates(&x->j, c);
    geo_params_parse(&x->j, cfgschema_value(s, CFG_K_GEOIP, root), &c->geo);
    drill_params_parse(&x->j, cfgschema_value(s, CFG_K_DRILLS, root), &c->drills);
    const char **origins = calloc(c->n_zones + 1, sizeof(*origins));
    if (!origins)
        abort();
    for (size_t i = 0; i < c->n_zones; i++)
        origins[i] = c->zones[i].origin;
    c->gslb = policy_config_parse_reuse(&x->j, root, origins, c->n_zones, x->reuse);
    free((void *)origins);
    /* Practice drills name regions, azs and checks of the same file. */
    drill_params_check(&x->j, &c->drills, c->gslb);
}

/* "dnssec_policies", their DS push keys checked against tsig_keys. */
static void cfg_kasp(struct cfg_ctx *x, json_t *root)
{
    char at[32];
    cfgschema_key_path(at, sizeof(at), &config_schema, CFG_K_DNSSEC_POLICIES, NULL);
    zone_kasp_parse(&x->j, cfgschema_value(&config_schema, CFG_K_DNSSEC_POLICIES, root), at,
                    &x->c->kasp);
    for (size_t i = 0; i < x->c->kasp.n; i++) {
        const struct zone_kasp_policy *p = &x->c->kasp.v[i];
        if (p->ds_push_key && !tsig_keyring_by_id(&x->c->tsig, p->ds_push_key))
            cfg_err(x, p->path, "parent.ds_push: key \"%s\" is not in tsig_keys", p->ds_push_key);
    }
}

/* A fleet whose nodes make keys (a policy with a key_directory) must
 * share them: each node making its own would serve signatures the others'
 * DNSKEY RRsets do not hold (doc/dnssec.md, "Fleet keys"). */
static void cfg_fleet_keys(struct cfg_ctx *x)
{
    const struct config *c = x->c;
    if (!c->fleet.enabled || c->fleet.key_secret_file)
        return;
    for (size_t i = 0; i < c->n_zones; i++) {
        const struct config_zone *z = &c->zones[i];
        if (!z->dnssec.policy || !z->dnssec.key_directory)
            continue;
        char at[64];
        cfgschema_key_path(at, sizeof(at), &fleet_schema, FLEET_K_KEY_SECRET_FILE, NULL);
        cfg_err(x, at,
                "required: the keys of %s are made by gtmd (a policy with a key_directory) and "
                "a fleet's nodes must sign with one key set; give every member the same secret "
                "(openssl rand -hex 32), doc/dnssec.md \"Fleet keys\"",
                z->origin);
        return;
    }
}

static void cfg_root(struct cfg_ctx *x, json_t *root)
{
    const struct cfgschema *s = &config_schema;
    if (!json_is_object(root)) {
        cfg_err(x, "$", "the configuration must be a JSON object");
        return;
    }
    cfgschema_object(&x->j, s, root, NULL);
    fleet_params_parse(&x->j, cfgschema_value(s, CFG_K_FLEET, root), &x->c->fleet);
    /* Before the zones: their "transfer" objects name these keys. */
    char at[32];
    cfgschema_key_path(at, sizeof(at), s, CFG_K_TSIG_KEYS, NULL);
    tsig_params_parse(&x->j, cfgschema_value(s, CFG_K_TSIG_KEYS, root), at, &x->c->tsig);
    cfg_kasp(x, root); /* before the zones too: they name the policies */
    json_t *l = cfgschema_value(s, CFG_K_LISTEN, root);
    if (l)
        cfg_listen(x, l, x->c->fleet.enabled);
    json_t *z = cfgschema_value(s, CFG_K_ZONES, root);
    if (z)
        config_zones_parse(&x->j, z, json_object_get(root, "records"), x->c);
    cfg_fleet_keys(x);
    long w = cfgschema_int(&x->j, s, CFG_K_WORKERS, root, NULL);
    if (w == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        w = n > 0 ? n : 1;
    }
    x->c->workers = (unsigned)w;
    cfg_workers_spread(x, root);
    x->c->edns_udp_max = (uint16_t)cfgschema_int(&x->j, s, CFG_K_EDNS_UDP_MAX, root, NULL);
    cfg_tcp(x, cfgschema_value(s, CFG_K_TCP, root));
    xdp_params_parse(&x->j, cfgschema_value(s, CFG_K_XDP, root), &x->c->xdp);
    tls_params_parse(&x->j, cfgschema_value(s, CFG_K_TLS, root), &x->c->tls);
    if (x->c->tls.enabled && l && json_is_array(l) && json_array_size(l) == 0)
        cfg_err(x, config_key_path(CFG_K_TLS).s,
                "needs DNS workers: a prober-only node (\"listen\": []) serves no TLS");
    cfg_dnstap(x, cfgschema_value(s, CFG_K_DNSTAP, root));
    anycast_params_parse(&x->j, cfgschema_value(s, CFG_K_ANYCAST, root), &x->c->anycast);
    cfg_user(x, root);
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
        snprintf(host, sizeof(host), "gtmd");
    /* In a fleet the node name tells which node answered (doc/fleet.md). */
    x->c->identity_default = !cfgschema_value(s, CFG_K_IDENTITY, root);
    x->c->identity = cfg_identity(
        x, root, CFG_K_IDENTITY, x->c->fleet.enabled && x->c->fleet.node ? x->c->fleet.node : host);
    x->c->version = cfg_identity(x, root, CFG_K_VERSION, "gtmd " GTM_VERSION);
    cfg_sections(x, root);
}

json_t *config_shared_part(json_t *root)
{
    json_t *copy = json_copy(root);
    for (size_t i = 0; i < config_keys_count(); i++)
        if (config_key_at(i)->flags & CONFIG_KEY_NODE_LOCAL)
            json_object_del(copy, config_key_at(i)->name);
    return copy;
}

json_t *config_with_local(json_t *shared, json_t *local)
{
    json_t *out = config_shared_part(shared);
    for (size_t i = 0; i < config_keys_count(); i++) {
        const struct cfgschema_key *k = config_key_at(i);
        json_t *v = json_object_get(local, k->name);
        if (v && (k->flags & CONFIG_KEY_NODE_LOCAL))
            json_object_set(out, k->name, v);
    }
    return out;
}

void config_restart_inputs(struct config *c)
{
    fleet_params_restart_inputs(&c->fleet,
                                json_object_get(c->restart_part, config_key_at(CFG_K_FLEET)->name));
    if (c->run_as.user) /* the ids it names now, which the user database may change */
        json_object_set_new(c->restart_part, config_key_at(CFG_K_USER)->name,
                            json_pack("{s:s, s:I, s:I}", "name", c->run_as.user, "uid",
                                      (json_int_t)c->run_as.uid, "gid", (json_int_t)c->run_as.gid));
}

struct config *config_load(const char *path, struct errlist *errs)
{
    return config_load_reuse(path, NULL, errs);
}

struct config *config_load_reuse(const char *path, const struct policy_reuse *reuse,
                                 struct errlist *errs)
{
    json_error_t jerr;
    /* Equal records, pools, checks and regions one value each, made so as
     * they are read (jsonshare.h): a configuration's records repeat
     * themselves (issue #38). */
    struct jsonshare share;
    jsonshare_init(&share);
    json_t *root =
        jsoncfg_load_file_shared(path, JSON_REJECT_DUPLICATES, &jerr, &share, admin_config_kinds);
    jsonshare_clear(&share); /* the values shared are held by root */
    if (!root) {
        if (jerr.line > 0)
            errlist_add(errs, "%s:%d: %s", path, jerr.line, jerr.text);
        else
            errlist_add(errs, "%s: %s", path, jerr.text);
        return NULL;
    }
    struct config *c = config_load_doc_reuse(path, root, reuse, errs);
    json_decref(root);
    return c;
}

struct config *config_load_doc(const char *path, json_t *root, struct errlist *errs)
{
    return config_load_doc_reuse(path, root, NULL, errs);
}

struct config *config_load_doc_reuse(const char *path, json_t *root,
                                     const struct policy_reuse *reuse, struct errlist *errs)
{
    size_t before = errs->count;
    struct config *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->path = jsoncfg_strdup(path);
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    c->dir = jsoncfg_strdup(dirname(tmp));
    struct cfg_ctx x = {.c = c, .j = {.errs = errs, .file = path, .dir = c->dir}, .reuse = reuse};
    cfg_root(&x, root);
    c->restart_part = cfgschema_restart_part(&config_schema, root);
    c->root = json_incref(root);
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
        zone_update_params_free(&c->zones[i].update);
        xfr_in_params_free(&c->zones[i].primary);
        free(c->zones[i].catalog_dir);
        for (size_t m = 0; m < c->zones[i].n_gen_members; m++)
            free(c->zones[i].gen_members[m]);
        free(c->zones[i].gen_members);
    }
    tsig_keyring_free(&c->tsig);
    zone_kasp_free(&c->kasp);
    free(c->listen);
    free(c->zones);
    free(c->run_as.user);
    free(c->run_as.group);
    admin_params_free(&c->admin);
    free(c->identity);
    free(c->version);
    rrl_params_free(c->rrl);
    xdp_params_free(&c->xdp);
    tls_params_free(&c->tls);
    dnstap_params_free(&c->dnstap);
    anycast_params_free(&c->anycast);
    free(c->rrl);
    health_params_free(&c->health);
    webhook_params_free(&c->notify);
    config_api_params_free(&c->config_api);
    json_decref(c->restart_part);
    json_decref(c->root);
    geo_params_free(&c->geo);
    drill_params_free(&c->drills);
    fleet_params_free(&c->fleet);
    gslb_unref(c->gslb);
    free(c->path);
    free(c->dir);
    free(c);
}
