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

void zone_xfr_params_parse(const struct jsoncfg *j, json_t *v, const char *path,
                           struct zone_xfr_params *out)
{
    static const char *const keys[] = {"allow", "key", "notify", "journal", "journal_max", NULL};
    char sub[160];
    memset(out, 0, sizeof(*out));
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(j, path,
                    "must be an object such as {\"allow\": [\"192.0.2.53\"], "
                    "\"notify\": [\"192.0.2.53:53\"]}");
        return;
    }
    jsoncfg_check_keys(j, v, path, keys);
    json_t *a = json_object_get(v, "allow");
    if (a) {
        snprintf(sub, sizeof(sub), "%s.allow", path);
        zone_xfr_allow(j, a, sub, out);
    }
    json_t *n = json_object_get(v, "notify");
    if (n) {
        snprintf(sub, sizeof(sub), "%s.notify", path);
        zone_xfr_notify(j, n, sub, out);
    }
    snprintf(sub, sizeof(sub), "%s.key", path);
    const char *k = jsoncfg_str(j, v, "key", sub);
    if (k)
        out->key = jsoncfg_strdup(k);
    snprintf(sub, sizeof(sub), "%s.journal", path);
    const char *jf = jsoncfg_str(j, v, "journal", sub);
    if (jf)
        out->journal = jsoncfg_path(j, jf);
    snprintf(sub, sizeof(sub), "%s.journal_max", path);
    /* A few entries at least; a journal is read whole at every load. */
    out->journal_max =
        (size_t)jsoncfg_int(j, v, "journal_max", sub, 4096, 1L << 30, ZONE_JOURNAL_MAX_DEFAULT);
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
