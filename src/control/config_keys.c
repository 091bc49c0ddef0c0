/*
 * config_keys.c -- the configuration's root table (config_keys.h).
 */
#include "control/config_keys.h"

#include <string.h>

#include "admin/admin_config.h"
#include "control/config_api.h"
#include "control/config_tables.h"
#include "dns/tsig_params.h"
#include "anycast/anycast_params.h"
#include "dnstap/dnstap_params.h"
#include "drill/drill_params.h"
#include "fleet/fleet_params.h"
#include "geo/geo_params.h"
#include "guard/guard_config.h"
#include "health/health_params.h"
#include "net/tls_params.h"
#include "net/xdp_params.h"
#include "policy/policy_config.h"
#include "webhook/webhook_params.h"
#include "zone/zone_kasp.h"

#define REQ CFGSCHEMA_REQUIRED
#define LOCAL CFGSCHEMA_NODE_LOCAL
#define RESTART CFGSCHEMA_RESTART
#define PART CFGSCHEMA_PART_RESTART
#define OBJ CFGSCHEMA_OBJECT

static const struct cfgschema_key config_keys[CFG_K_N] = {
    [CFG_K_LISTEN] = {"listen", CFGSCHEMA_ARRAY, .flags = REQ | LOCAL | RESTART,
                      .what = "addresses and ports served over UDP and TCP", .section = "SERVER"},
    [CFG_K_WORKERS] = {"workers", CFGSCHEMA_INT, 0, 256, 0, LOCAL | RESTART, NULL,
                       "DNS worker threads (0: one per CPU)", "SERVER"},
    [CFG_K_PIN_WORKERS] = {"pin_workers", CFGSCHEMA_BOOL, .flags = LOCAL | RESTART,
                           .what = "pin each DNS worker thread to a CPU", .section = "SERVER"},
    [CFG_K_UDP_STEERING] = {"udp_steering", CFGSCHEMA_STRING, .flags = LOCAL | RESTART,
                            .what = "which UDP worker gets a query: \"cpu\" (the receiving "
                                    "CPU's, the default) or \"hash\" (the kernel's)",
                            .section = "SERVER"},
    [CFG_K_ZONES] = {"zones", CFGSCHEMA_ARRAY, .flags = REQ, .sub = &config_zone_schema,
                     .what = "the zones served: files, primaries, DNSSEC, transfers, updates",
                     .section = "SERVER"},
    [CFG_K_EDNS_UDP_MAX] = {"edns_udp_max", CFGSCHEMA_INT, 512, 4096, 1232, LOCAL, NULL,
                            "the largest UDP reply", "SERVER"},
    [CFG_K_TCP] = {"tcp", OBJ, .flags = LOCAL, .sub = &config_tcp_schema,
                   .what = "TCP connection limits", .section = "SERVER"},
    [CFG_K_XDP] = {"xdp", OBJ, .flags = LOCAL | RESTART, .sub = &xdp_schema,
                   .what = "the optional AF_XDP listener", .section = "SERVER"},
    [CFG_K_TLS] = {"tls", OBJ, .flags = LOCAL | PART, .sub = &tls_schema,
                   .what = "DNS over TLS: listeners, certificate, resumption",
                   .section = "DNS OVER TLS"},
    [CFG_K_USER] = {"user", CFGSCHEMA_STRING, .flags = RESTART,
                    .what = "the user gtmd runs as after binding", .section = "SERVER"},
    [CFG_K_GROUP] = {"group", CFGSCHEMA_STRING, .flags = RESTART,
                     .what = "the group gtmd runs as after binding", .section = "SERVER"},
    [CFG_K_IDENTITY] = {"identity", CFGSCHEMA_ANY,
                        .what = "what id.server, hostname.bind and NSID say", .section = "SERVER"},
    [CFG_K_VERSION] = {"version", CFGSCHEMA_ANY, .what = "what version.bind says",
                       .section = "SERVER"},
    [CFG_K_COOKIES] = {"cookies", CFGSCHEMA_ANY, .sub = &cookie_schema, .what = "DNS Cookies",
                       .section = "SERVER"},
    [CFG_K_RRL] = {"rrl", OBJ, .sub = &rrl_schema, .what = "response rate limiting",
                   .section = "SERVER"},
    [CFG_K_TSIG_KEYS] = {"tsig_keys", CFGSCHEMA_MAP, .sub = &tsig_key_schema,
                         .what = "TSIG keys for transfers and NOTIFY", .section = "SERVER"},
    [CFG_K_GEOIP] = {"geoip", OBJ, .sub = &geo_schema, .what = "the MaxMind database",
                     .section = "GEO"},
    [CFG_K_ADMIN] = {"admin", OBJ, .flags = LOCAL | PART, .sub = &admin_schema,
                     .what = "the admin API, metrics and the console", .section = "ADMIN"},
    [CFG_K_CONFIG_API] = {"config_api", OBJ, .flags = LOCAL | PART, .sub = &config_api_schema,
                          .what = "changes through the API, their versions",
                          .section = "CONFIG API"},
    [CFG_K_DRILLS] = {"drills", OBJ, .sub = &drill_schema,
                      .what = "limits on drills, practice drills", .section = "DRILLS"},
    [CFG_K_NOTIFY] = {"notify", OBJ, .sub = &notify_schema,
                      .what = "outgoing notifications (webhooks)", .section = "NOTIFY"},
    [CFG_K_FLEET] = {"fleet", OBJ, .flags = LOCAL | RESTART, .sub = &fleet_schema,
                     .what = "the prober fleet on etcd", .section = "FLEET"},
    [CFG_K_DNSTAP] = {"dnstap", OBJ, .flags = LOCAL | PART, .sub = &dnstap_schema,
                      .what = "the dnstap log of queries and responses", .section = "DNSTAP"},
    [CFG_K_ANYCAST] = {"anycast", OBJ, .flags = LOCAL | RESTART, .sub = &anycast_schema,
                       .what = "fitness to serve and the anycast route through BIRD 2",
                       .section = "ANYCAST"},
    [CFG_K_DNSSEC_POLICIES] = {"dnssec_policies", CFGSCHEMA_MAP, .sub = &zone_kasp_schema,
                               .what = "signing policies: algorithm, lifetimes, TTLs and delays, "
                                       "the parent; their RFC 7583 timeline",
                               .section = "DNSSEC POLICIES"},
};

static const struct cfgschema *const config_more[] = {&health_root_schema, &policy_root_schema,
                                                      NULL};
const struct cfgschema config_schema = CFGSCHEMA_MORE("$", config_keys, config_more);

size_t config_keys_count(void)
{
    return cfgschema_count(&config_schema);
}

const struct cfgschema_key *config_key_at(size_t i)
{
    return cfgschema_at(&config_schema, i);
}

struct config_path config_key_path(size_t k)
{
    struct config_path p;
    cfgschema_key_path(p.s, sizeof(p.s), &config_schema, k, NULL);
    return p;
}

struct config_path config_sub_path(size_t k, const struct cfgschema *s, size_t sk)
{
    struct config_path parent = config_key_path(k), p;
    cfgschema_key_path(p.s, sizeof(p.s), s, sk, parent.s);
    return p;
}

bool config_key_has(const char *name, unsigned flag)
{
    const struct cfgschema_key *k = cfgschema_find(&config_schema, name);
    return k && (k->flags & flag) != 0;
}

static const char *config_key_restart(unsigned flags)
{
    return flags & RESTART ? "yes" : flags & PART ? "partly" : "no";
}

json_t *config_keys_json(void)
{
    /* The schema's own view, with a top-level key's restart said as
     * "yes", "partly" or "no". */
    json_t *a = cfgschema_json(&config_schema);
    for (size_t i = 0; i < config_keys_count(); i++)
        json_object_set_new(json_array_get(a, i), "restart",
                            json_string(config_key_restart(config_key_at(i)->flags)));
    return a;
}

void config_keys_man(FILE *out)
{
    fprintf(out, ".SH TOP-LEVEL KEYS\n"
                 "Generated from the table in gtmd (\\fBgtmd keys --man\\fR).\n"
                 "Each key: what it is, where it is described, and whether it is\n"
                 "required, each node's own in a fleet (not shared through\n"
                 "\\fBconfig_api.fleet\\fR, not in \\fBconfig_mismatch\\fR), and applied\n"
                 "only on restart.\n");
    for (size_t i = 0; i < config_keys_count(); i++) {
        const struct cfgschema_key *k = config_key_at(i);
        fprintf(out, ".TP\n.B %s\n%s; see\n.BR \"%s\" .\n", k->name, k->what, k->section);
        fprintf(out, "%s%s%s\n", k->flags & REQ ? "Required. " : "",
                k->flags & LOCAL ? "Node-local. " : "Shared by a fleet. ",
                k->flags & RESTART ? "Only a restart applies it."
                : k->flags & PART  ? "Some of its keys only on restart."
                                   : "A reload applies it.");
    }
}
