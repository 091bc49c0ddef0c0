/*
 * config_keys.c -- the top-level keys of the configuration (config_keys.h).
 */
#include "daemon/config_keys.h"

#include <string.h>

#include "admin/admin_config.h"
#include "drill/drill_params.h"
#include "fleet/fleet_params.h"
#include "guard/guard_config.h"
#include "webhook/webhook_params.h"
#include "net/xdp_params.h"

#define REQ CONFIG_KEY_REQUIRED
#define LOCAL CONFIG_KEY_NODE_LOCAL
#define RESTART CONFIG_KEY_RESTART
#define PART CONFIG_KEY_PART_RESTART

const struct config_key config_keys[] = {
    {"listen", "SERVER", REQ | LOCAL | RESTART, "addresses and ports served over UDP and TCP",
     NULL},
    {"workers", "SERVER", LOCAL | RESTART, "DNS worker threads", NULL},
    {"zones", "SERVER", REQ, "the zones served: files, primaries, DNSSEC, transfers", NULL},
    {"edns_udp_max", "SERVER", LOCAL, "the largest UDP reply", NULL},
    {"tcp", "SERVER", LOCAL, "TCP connection limits", NULL},
    {"xdp", "SERVER", LOCAL | RESTART, "the optional AF_XDP listener", &xdp_schema},
    {"user", "SERVER", RESTART, "the user gtmd runs as after binding", NULL},
    {"group", "SERVER", RESTART, "the group gtmd runs as after binding", NULL},
    {"identity", "SERVER", 0, "what id.server, hostname.bind and NSID say", NULL},
    {"version", "SERVER", 0, "what version.bind says", NULL},
    {"cookies", "SERVER", 0, "DNS Cookies", &cookie_schema},
    {"rrl", "SERVER", 0, "response rate limiting", &rrl_schema},
    {"tsig_keys", "SERVER", 0, "TSIG keys for transfers and NOTIFY", NULL},
    {"state_file", "STATE FILE", LOCAL, "where overrides, verdicts and drills are kept", NULL},
    {"state_max_age", "STATE FILE", LOCAL, "how old a state file may be at start", NULL},
    {"max_overrides", "STATE FILE", 0, "overrides in force at once", NULL},
    {"max_verdicts", "STATE FILE", 0, "external verdicts in force at once", NULL},
    {"geoip", "GEO", 0, "the MaxMind database", NULL},
    {"ecs", "GEO", 0, "EDNS Client Subnet for policy records", NULL},
    {"regions", "REGIONS", 0, "regions and their availability zones", NULL},
    {"checks", "CHECKS", 0, "how endpoints are probed", NULL},
    {"pools", "POOLS", 0, "named sets of endpoints", NULL},
    {"records", "RECORDS", 0, "names answered from a pool by a policy", NULL},
    {"admin", "ADMIN", LOCAL | PART, "the admin API, metrics and the console", &admin_schema},
    {"config_api", "CONFIG API", LOCAL | PART, "changes through the API, their versions", NULL},
    {"drills", "DRILLS", 0, "limits on drills, practice drills", &drill_schema},
    {"notify", "NOTIFY", 0, "outgoing notifications (webhooks)", &notify_schema},
    {"fleet", "FLEET", LOCAL | RESTART, "the prober fleet on etcd", &fleet_schema},
    {"probe_source", "FLEET", LOCAL | RESTART, "the addresses probes are sent from", NULL},
};
const size_t config_keys_n = sizeof(config_keys) / sizeof(config_keys[0]);

_Static_assert(sizeof(config_keys) / sizeof(config_keys[0]) <= CONFIG_KEYS_MAX,
               "raise CONFIG_KEYS_MAX");

void config_key_names(const char *out[CONFIG_KEYS_MAX + 1])
{
    for (size_t i = 0; i < config_keys_n; i++)
        out[i] = config_keys[i].name;
    out[config_keys_n] = NULL;
}

bool config_key_has(const char *name, unsigned flag)
{
    for (size_t i = 0; i < config_keys_n; i++)
        if (strcmp(config_keys[i].name, name) == 0)
            return (config_keys[i].flags & flag) != 0;
    return false;
}

static const char *config_key_restart(unsigned flags)
{
    return flags & RESTART ? "yes" : flags & PART ? "partly" : "no";
}

json_t *config_keys_json(void)
{
    json_t *a = json_array();
    for (size_t i = 0; i < config_keys_n; i++) {
        const struct config_key *k = &config_keys[i];
        json_array_append_new(a, json_pack("{s:s, s:s, s:b, s:b, s:s, s:s}", "name", k->name,
                                           "section", k->section, "required", (k->flags & REQ) != 0,
                                           "node_local", (k->flags & LOCAL) != 0, "restart",
                                           config_key_restart(k->flags), "what", k->what));
        if (k->schema)
            json_object_set_new(json_array_get(a, i), "keys", cfgschema_json(k->schema));
    }
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
    for (size_t i = 0; i < config_keys_n; i++) {
        const struct config_key *k = &config_keys[i];
        fprintf(out, ".TP\n.B %s\n%s; see\n.BR \"%s\" .\n", k->name, k->what, k->section);
        fprintf(out, "%s%s%s\n", k->flags & REQ ? "Required. " : "",
                k->flags & LOCAL ? "Node-local. " : "Shared by a fleet. ",
                k->flags & RESTART ? "Only a restart applies it."
                : k->flags & PART  ? "Some of its keys only on restart."
                                   : "A reload applies it.");
    }
}
