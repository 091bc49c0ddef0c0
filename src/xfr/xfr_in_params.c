/*
 * xfr_in_params.c -- the "primary" object of a zone entry.
 */
#include "xfr/xfr_in_params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"

enum { XI_ADDRESSES, XI_KEY, XI_IDLE_TIMEOUT, XI_TRANSFER_TIMEOUT, XI_N };
static const struct cfgschema_key xfr_in_keys[XI_N] = {
    [XI_ADDRESSES] = {"addresses", CFGSCHEMA_ARRAY, .flags = CFGSCHEMA_REQUIRED,
                      .what = "the primaries, addresses with ports"},
    [XI_KEY] = {"key", CFGSCHEMA_STRING, .what = "the TSIG key of tsig_keys transfers use"},
    [XI_IDLE_TIMEOUT] = {"idle_timeout", CFGSCHEMA_SECONDS, 0.2, 300, 5, 0, NULL,
                         "the longest wait for one answer or one message of a transfer"},
    [XI_TRANSFER_TIMEOUT] = {"transfer_timeout", CFGSCHEMA_SECONDS, 1, 86400, 300, 0, NULL,
                             "the longest a whole transfer may take"},
};
const struct cfgschema xfr_in_schema = CFGSCHEMA("$.zones[].primary", xfr_in_keys);

void xfr_in_params_parse(const struct jsoncfg *j, json_t *v, const char *path,
                         struct xfr_in_params *out)
{
    const struct cfgschema *s = &xfr_in_schema;
    char sub[160];
    memset(out, 0, sizeof(*out));
    if (!v || !cfgschema_object(j, s, v, path))
        return;
    json_t *a = cfgschema_value(s, XI_ADDRESSES, v);
    if (!a)
        return; /* said: required */
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > XFR_IN_MAX_PRIMARIES) {
        cfgschema_err(j, s, XI_ADDRESSES, path,
                      "must be an array of 1 to %d addresses with ports such as "
                      "\"192.0.2.1:53\"",
                      XFR_IN_MAX_PRIMARIES);
        return;
    }
    cfgschema_key_path(sub, sizeof(sub), s, XI_ADDRESSES, path);
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        char at[200];
        snprintf(at, sizeof(at), "%s[%zu]", sub, i);
        if (!json_is_string(e) || addr_parse(json_string_value(e), ADDR_PORT_REQUIRED,
                                             &out->addrs[out->n], &out->lens[out->n]) != 0)
            jsoncfg_err(j, at, "must be an address with a port such as \"192.0.2.1:53\"");
        else
            out->n++;
    }
    out->idle_ms = cfgschema_ms(j, s, XI_IDLE_TIMEOUT, v, path);
    out->transfer_ms = cfgschema_ms(j, s, XI_TRANSFER_TIMEOUT, v, path);
    const char *k = cfgschema_str(j, s, XI_KEY, v, path);
    if (k)
        out->key = jsoncfg_strdup(k);
}

void xfr_in_params_free(struct xfr_in_params *p)
{
    free(p->key);
    memset(p, 0, sizeof(*p));
}
