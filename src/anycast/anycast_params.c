/*
 * anycast_params.c -- the "anycast" section of the configuration.
 */
#include "anycast/anycast_params.h"

#include <net/if.h>
#include <stdlib.h>
#include <string.h>

enum { SC_K_ENABLED, SC_K_INTERVAL, SC_K_TIMEOUT, SC_K_FAILURES, SC_K_N };

static const struct cfgschema_key anycast_check_keys[SC_K_N] = {
    [SC_K_ENABLED] = {"enabled", CFGSCHEMA_BOOL, .def = 1,
                      .what = "whether gtmd queries its own listen addresses"},
    [SC_K_INTERVAL] = {"interval_s", CFGSCHEMA_SECONDS, 0.2, 60, 1, 0, NULL,
                       "seconds between two rounds of queries"},
    [SC_K_TIMEOUT] = {"timeout_s", CFGSCHEMA_SECONDS, 0.05, 10, 0.5, 0, NULL,
                      "how long an answer may take"},
    [SC_K_FAILURES] = {"failures", CFGSCHEMA_INT, 1, 100, 3, 0, NULL,
                       "consecutive failed rounds that make the node unfit"},
};
static const struct cfgschema anycast_check_schema =
    CFGSCHEMA("$.anycast.self_check", anycast_check_keys);

static const struct cfgschema_key anycast_keys[ANYCAST_K_N] = {
    [ANYCAST_K_BIRD_SOCKET] = {"bird_socket", CFGSCHEMA_PATH, .flags = CFGSCHEMA_REQUIRED,
                               .what = "BIRD 2's control socket"},
    [ANYCAST_K_PROTOCOL] = {"protocol", CFGSCHEMA_STRING, .flags = CFGSCHEMA_REQUIRED,
                            .what = "the BIRD protocol enabled while the node is fit"},
    [ANYCAST_K_INTERFACE] = {"interface", CFGSCHEMA_STRING,
                             .what = "a TUN device gtmd holds for its life (BIRD's static "
                                     "route goes with it)"},
    [ANYCAST_K_HOLD] = {"hold_s", CFGSCHEMA_SECONDS, 0, 3600, 10, 0, NULL,
                        "how long fitness must hold before the route is announced again"},
    [ANYCAST_K_REASSERT] = {"reassert_s", CFGSCHEMA_SECONDS, 1, 3600, 10, 0, NULL,
                            "how often the desired state is sent to BIRD again"},
    [ANYCAST_K_SELF_CHECK] = {"self_check", CFGSCHEMA_OBJECT, .sub = &anycast_check_schema,
                              .what = "the DNS self-check of every listen address"},
};
const struct cfgschema anycast_schema = CFGSCHEMA("$.anycast", anycast_keys);

/* BIRD's protocol names: a letter, then letters, digits and '_' (its
 * lexer's SYM); anything else could end the command line early. */
static bool anycast_params_symbol(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '_' || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z')))
            return false;
    return true;
}

static void anycast_params_check(const struct jsoncfg *j, json_t *v, struct anycast_params *out)
{
    const struct cfgschema *s = &anycast_check_schema;
    char at[64];
    cfgschema_key_path(at, sizeof(at), &anycast_schema, ANYCAST_K_SELF_CHECK, NULL);
    out->self_check = true;
    out->check_interval_s = 1;
    out->check_timeout_s = 0.5;
    out->check_failures = 3;
    if (!v || !cfgschema_object(j, s, v, at))
        return;
    out->self_check = cfgschema_bool(j, s, SC_K_ENABLED, v, at);
    out->check_interval_s = cfgschema_seconds(j, s, SC_K_INTERVAL, v, at);
    out->check_timeout_s = cfgschema_seconds(j, s, SC_K_TIMEOUT, v, at);
    out->check_failures = (unsigned)cfgschema_int(j, s, SC_K_FAILURES, v, at);
    if (out->check_timeout_s >= out->check_interval_s)
        cfgschema_err(j, s, SC_K_TIMEOUT, at, "must be shorter than interval_s (%g)",
                      out->check_interval_s);
}

void anycast_params_parse(const struct jsoncfg *j, json_t *v, struct anycast_params *out)
{
    const struct cfgschema *s = &anycast_schema;
    memset(out, 0, sizeof(*out));
    if (!v || !cfgschema_object(j, s, v, NULL))
        return;
    out->enabled = true;
    out->bird_socket = cfgschema_path(j, s, ANYCAST_K_BIRD_SOCKET, v, NULL);
    if (out->bird_socket && strlen(out->bird_socket) >= 108)
        cfgschema_err(j, s, ANYCAST_K_BIRD_SOCKET, NULL,
                      "is too long for a unix socket (at most 107 characters)");
    const char *proto = cfgschema_str(j, s, ANYCAST_K_PROTOCOL, v, NULL);
    if (proto && !anycast_params_symbol(proto))
        cfgschema_err(j, s, ANYCAST_K_PROTOCOL, NULL,
                      "must be a BIRD protocol name (a letter, then letters, digits or '_')");
    else if (proto)
        out->protocol = jsoncfg_strdup(proto);
    const char *ifname = cfgschema_str(j, s, ANYCAST_K_INTERFACE, v, NULL);
    if (ifname &&
        (!ifname[0] || strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/') || strchr(ifname, ' ')))
        cfgschema_err(j, s, ANYCAST_K_INTERFACE, NULL,
                      "must name a network interface (at most %d characters)", IF_NAMESIZE - 1);
    else if (ifname)
        out->interface = jsoncfg_strdup(ifname);
    out->hold_s = cfgschema_seconds(j, s, ANYCAST_K_HOLD, v, NULL);
    out->reassert_s = cfgschema_seconds(j, s, ANYCAST_K_REASSERT, v, NULL);
    anycast_params_check(j, cfgschema_value(s, ANYCAST_K_SELF_CHECK, v), out);
}

void anycast_params_free(struct anycast_params *p)
{
    free(p->bird_socket);
    free(p->protocol);
    free(p->interface);
    p->bird_socket = p->protocol = p->interface = NULL;
}
