/*
 * zone_xfr_params.c -- the "transfer" object of a zone entry.
 */
#include "zone/zone_xfr_params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zone/zone_journal.h"

static void *zone_xfr_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

static void zone_xfr_allow(const struct jsoncfg *j, json_t *v, const char *path,
                           struct zone_xfr_params *out)
{
    if (!json_is_array(v) || json_array_size(v) > ZONE_XFR_MAX_ALLOW) {
        jsoncfg_err(j, path,
                    "must be an array of up to %d addresses or networks such as "
                    "\"192.0.2.53\" or \"2001:db8::/64\"",
                    ZONE_XFR_MAX_ALLOW);
        return;
    }
    out->allow = zone_xfr_calloc(json_array_size(v), sizeof(*out->allow));
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char sub[200];
        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        if (!json_is_string(e) || !addr_net_parse(json_string_value(e), &out->allow[out->n_allow]))
            jsoncfg_err(j, sub,
                        "must be an address or a network such as \"192.0.2.0/24\" "
                        "(no bits set past the prefix)");
        else
            out->n_allow++;
    }
}

static void zone_xfr_notify(const struct jsoncfg *j, json_t *v, const char *path,
                            struct zone_xfr_params *out)
{
    if (!json_is_array(v) || json_array_size(v) > ZONE_XFR_MAX_NOTIFY) {
        jsoncfg_err(j, path,
                    "must be an array of up to %d addresses with ports such as "
                    "\"192.0.2.53:53\" or \"[2001:db8::53]:53\"",
                    ZONE_XFR_MAX_NOTIFY);
        return;
    }
    out->notify = zone_xfr_calloc(json_array_size(v), sizeof(*out->notify));
    out->notify_len = zone_xfr_calloc(json_array_size(v), sizeof(*out->notify_len));
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char sub[200];
        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        size_t k = out->n_notify;
        if (!json_is_string(e) || addr_parse(json_string_value(e), ADDR_PORT_REQUIRED,
                                             &out->notify[k], &out->notify_len[k]) != 0)
            jsoncfg_err(j, sub, "must be an address with a port such as \"192.0.2.53:53\"");
        else
            out->n_notify++;
    }
}

enum { ZX_ALLOW, ZX_KEY, ZX_NOTIFY, ZX_JOURNAL, ZX_JOURNAL_MAX, ZX_N };
static const struct cfgschema_key zone_xfr_keys[ZX_N] = {
    [ZX_ALLOW] = {"allow", CFGSCHEMA_ARRAY, .what = "addresses or networks that may transfer it"},
    [ZX_KEY] = {"key", CFGSCHEMA_STRING, .what = "the TSIG key of tsig_keys transfers need"},
    [ZX_NOTIFY] = {"notify", CFGSCHEMA_ARRAY,
                   .what = "secondaries told of a new serial, addresses with ports"},
    [ZX_JOURNAL] = {"journal", CFGSCHEMA_PATH, .what = "the file its IXFR history is kept in"},
    /* A few entries at least; a journal is read whole at every load. */
    [ZX_JOURNAL_MAX] = {"journal_max", CFGSCHEMA_INT, 4096, 1L << 30, ZONE_JOURNAL_MAX_DEFAULT, 0,
                        NULL, "the journal's size in octets, the oldest dropped first"},
};
const struct cfgschema zone_xfr_schema = CFGSCHEMA("$.zones[].transfer", zone_xfr_keys);

void zone_xfr_params_parse(const struct jsoncfg *j, json_t *v, const char *path,
                           struct zone_xfr_params *out)
{
    const struct cfgschema *s = &zone_xfr_schema;
    char sub[160];
    memset(out, 0, sizeof(*out));
    if (!v || !cfgschema_object(j, s, v, path))
        return;
    json_t *a = cfgschema_value(s, ZX_ALLOW, v);
    if (a) {
        cfgschema_key_path(sub, sizeof(sub), s, ZX_ALLOW, path);
        zone_xfr_allow(j, a, sub, out);
    }
    json_t *n = cfgschema_value(s, ZX_NOTIFY, v);
    if (n) {
        cfgschema_key_path(sub, sizeof(sub), s, ZX_NOTIFY, path);
        zone_xfr_notify(j, n, sub, out);
    }
    const char *k = cfgschema_str(j, s, ZX_KEY, v, path);
    if (k)
        out->key = jsoncfg_strdup(k);
    out->journal = cfgschema_path(j, s, ZX_JOURNAL, v, path);
    out->journal_max = (size_t)cfgschema_int(j, s, ZX_JOURNAL_MAX, v, path);
}

void zone_xfr_params_free(struct zone_xfr_params *p)
{
    free(p->allow);
    free(p->notify);
    free(p->notify_len);
    free(p->key);
    free(p->journal);
    memset(p, 0, sizeof(*p));
}
