/*
 * xfr_in_params.c -- the "primary" object of a zone entry.
 */
#include "xfr/xfr_in_params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"

void xfr_in_params_parse(const struct jsoncfg *j, json_t *v, const char *path,
                         struct xfr_in_params *out)
{
    static const char *const keys[] = {"addresses", "key", NULL};
    char sub[160];
    memset(out, 0, sizeof(*out));
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(j, path, "must be an object such as {\"addresses\": [\"192.0.2.1:53\"]}");
        return;
    }
    jsoncfg_check_keys(j, v, path, keys);
    snprintf(sub, sizeof(sub), "%s.addresses", path);
    json_t *a = json_object_get(v, "addresses");
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > XFR_IN_MAX_PRIMARIES) {
        jsoncfg_err(j, sub,
                    "must be an array of 1 to %d addresses with ports such as "
                    "\"192.0.2.1:53\"",
                    XFR_IN_MAX_PRIMARIES);
        return;
    }
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
    snprintf(sub, sizeof(sub), "%s.key", path);
    const char *k = jsoncfg_str(j, v, "key", sub);
    if (k)
        out->key = jsoncfg_strdup(k);
}

void xfr_in_params_free(struct xfr_in_params *p)
{
    free(p->key);
    memset(p, 0, sizeof(*p));
}
