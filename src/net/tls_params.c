/*
 * tls_params.c -- the "tls" section of the configuration.
 */
#include "net/tls_params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"

#define RESTART CFGSCHEMA_RESTART
static const struct cfgschema_key tls_keys[TLS_K_N] = {
    [TLS_K_LISTEN] = {"listen", CFGSCHEMA_ARRAY, .flags = CFGSCHEMA_REQUIRED | RESTART,
                      .what = "addresses and ports served over DNS over TLS (853)"},
    [TLS_K_CERTIFICATE] = {"certificate", CFGSCHEMA_PATH, .flags = CFGSCHEMA_REQUIRED,
                           .what = "PEM certificate, optionally followed by its intermediates"},
    [TLS_K_KEY] = {"key", CFGSCHEMA_PATH, .flags = CFGSCHEMA_REQUIRED,
                   .what = "PEM private key of the certificate"},
    [TLS_K_CHAIN] = {"chain", CFGSCHEMA_PATH, .what = "PEM intermediate certificates"},
    [TLS_K_MIN_VERSION] = {"min_version", CFGSCHEMA_STRING,
                           .what = "\"1.2\" (the default) or \"1.3\""},
    [TLS_K_SESSION_TICKETS] = {"session_tickets", CFGSCHEMA_BOOL, 0, 1, 1, 0, NULL,
                               "resumption by session tickets"},
    [TLS_K_SESSION_CACHE] = {"session_cache", CFGSCHEMA_INT, 0, 1000000, 20480, 0, NULL,
                             "sessions kept for resumption by session ID (0: none)"},
};
const struct cfgschema tls_schema = CFGSCHEMA("$.tls", tls_keys);

static void tls_params_listen(const struct jsoncfg *j, json_t *v, struct tls_params *out)
{
    const struct cfgschema *s = &tls_schema;
    if (!v)
        return; /* required: said by cfgschema_object */
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > TLS_MAX_LISTEN) {
        cfgschema_err(j, s, TLS_K_LISTEN, NULL,
                      "must be a non-empty array of at most %d \"address:port\" strings",
                      TLS_MAX_LISTEN);
        return;
    }
    out->listen = calloc(json_array_size(v), sizeof(*out->listen));
    if (!out->listen)
        abort();
    char at[48];
    cfgschema_key_path(at, sizeof(at), s, TLS_K_LISTEN, NULL);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char path[64];
        struct tls_listen *l = &out->listen[out->n_listen];
        snprintf(path, sizeof(path), "%s[%zu]", at, i);
        if (!json_is_string(e) ||
            addr_parse(json_string_value(e), ADDR_PORT_REQUIRED, &l->addr, &l->addr_len) != 0) {
            jsoncfg_err(j, path, "must be a string like \"127.0.0.1:853\" or \"[::1]:853\"");
            continue;
        }
        l->text = jsoncfg_strdup(json_string_value(e));
        out->n_listen++;
    }
}

void tls_params_parse(const struct jsoncfg *j, json_t *v, struct tls_params *out)
{
    const struct cfgschema *s = &tls_schema;
    memset(out, 0, sizeof(*out));
    if (!v || !cfgschema_object(j, s, v, NULL))
        return;
    out->enabled = true;
    tls_params_listen(j, cfgschema_value(s, TLS_K_LISTEN, v), out);
    out->certificate = cfgschema_path(j, s, TLS_K_CERTIFICATE, v, NULL);
    out->key = cfgschema_path(j, s, TLS_K_KEY, v, NULL);
    out->chain = cfgschema_path(j, s, TLS_K_CHAIN, v, NULL);
    const char *mv = cfgschema_str(j, s, TLS_K_MIN_VERSION, v, NULL);
    if (mv && strcmp(mv, "1.3") == 0)
        out->tls13_only = true;
    else if (mv && strcmp(mv, "1.2") != 0)
        cfgschema_err(j, s, TLS_K_MIN_VERSION, NULL, "must be \"1.2\" or \"1.3\"");
    out->session_tickets = cfgschema_bool(j, s, TLS_K_SESSION_TICKETS, v, NULL);
    out->session_cache = (unsigned)cfgschema_int(j, s, TLS_K_SESSION_CACHE, v, NULL);
}

void tls_params_free(struct tls_params *p)
{
    for (size_t i = 0; i < p->n_listen; i++)
        free(p->listen[i].text);
    free(p->listen);
    free(p->certificate);
    free(p->key);
    free(p->chain);
    memset(p, 0, sizeof(*p));
}
