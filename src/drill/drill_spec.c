/*
 * drill_spec.c -- validating what a drill asks for.
 */
#include "drill/drill_spec.h"
#include "common/jsoncfg.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const drill_mode_names[DRILL_MODES] = {"shadow", "scoped", "live"};

static int drill_spec_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int drill_spec_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return 400;
}

static char *drill_spec_dup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

/* The keys of a drill request. */
static const char *const drill_spec_keys[] = {
    "name",     "regions", "azs",   "mode",    "reason",  "duration", "canary",
    "abort_if", "outcome", "force", "dry_run", "clients", NULL};

/* A region or az name: 1..DRILL_MAX_NAME bytes, no control character
 * (names reach the log and the audit line). */
static bool drill_spec_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > DRILL_MAX_NAME || strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* "regions" or "azs": an array of distinct names into names[]. */
static int drill_spec_names(json_t *v, const char *key, char **names, size_t *n, size_t room,
                            char *err, size_t errlen)
{
    if (!v)
        return 0;
    if (!json_is_array(v))
        return drill_spec_fail(err, errlen, "\"%s\" must be an array of names", key);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || !drill_spec_name_ok(json_string_value(e), json_string_length(e)))
            return drill_spec_fail(err, errlen, "\"%s\"[%zu] must be a name of 1 to %d bytes", key,
                                   i, DRILL_MAX_NAME);
        for (size_t k = 0; k < *n; k++)
            if (strcmp(names[k], json_string_value(e)) == 0)
                return drill_spec_fail(err, errlen, "\"%s\" names \"%s\" twice", key, names[k]);
        if (*n >= room)
            return drill_spec_fail(err, errlen, "a drill has at most %d regions and azs",
                                   DRILL_MAX_TARGETS);
        names[(*n)++] = drill_spec_dup(json_string_value(e));
    }
    return 0;
}

static int drill_spec_mode(json_t *v, enum drill_mode *out, char *err, size_t errlen)
{
    const char *m = json_string_value(v);
    for (int i = 0; m && i < DRILL_MODES; i++)
        if (strcmp(m, drill_mode_names[i]) == 0) {
            *out = (enum drill_mode)i;
            return 0;
        }
    return drill_spec_fail(err, errlen, "\"mode\" must be \"shadow\", \"scoped\" or \"live\"");
}

static int drill_spec_duration(json_t *v, double max, struct drill_spec *out, char *err,
                               size_t errlen)
{
    if (!v || json_is_null(v)) {
        if (out->mode == DRILL_LIVE && !out->dry_run)
            return drill_spec_fail(err, errlen, "a live drill needs \"duration\" (seconds)");
        out->duration = max > 0 ? max : 0;
        return 0;
    }
    double d = json_is_number(v) ? json_number_value(v) : -1;
    if (!(d > 0) || !isfinite(d))
        return drill_spec_fail(err, errlen, "\"duration\" must be a number of seconds > 0");
    if (max > 0 && d > max)
        return drill_spec_fail(err, errlen,
                               "\"duration\" %g is longer than drills.max_duration (%g s)", d, max);
    out->duration = d;
    return 0;
}

static int drill_spec_canary(json_t *v, struct drill_spec *out, char *err, size_t errlen)
{
    if (json_is_null(v))
        v = NULL; /* as drill_spec_json writes it for other modes */
    if (out->mode != DRILL_SCOPED) {
        if (v)
            return drill_spec_fail(err, errlen, "\"canary\" is only for a scoped drill");
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return drill_spec_fail(err, errlen,
                               "a scoped drill needs \"canary\": a non-empty array of networks");
    if (json_array_size(v) > DRILL_MAX_CANARY)
        return drill_spec_fail(err, errlen, "\"canary\" has at most %d networks", DRILL_MAX_CANARY);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char why[128];
        struct policy_net *n = &out->canary[out->n_canary];
        if (!json_is_string(e) || !policy_net_parse(json_string_value(e), n, why, sizeof(why)))
            return drill_spec_fail(err, errlen, "\"canary\"[%zu] %s", i,
                                   json_is_string(e) ? why : "must be a network string");
        if (n->len == 0)
            return drill_spec_fail(err, errlen,
                                   "\"canary\"[%zu] covers every client: use a live drill", i);
        out->n_canary++;
    }
    return 0;
}

static int drill_spec_abort_if(json_t *v, struct drill_abort_if *out, char *err, size_t errlen)
{
    out->min_up_endpoints = -1;
    out->min_up_share = -1;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v) || json_object_size(v) == 0)
        return drill_spec_fail(err, errlen,
                               "\"abort_if\" must be an object with "
                               "\"min_up_endpoints\" and/or \"min_up_share\"");
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        if (strcmp(k, "min_up_endpoints") == 0) {
            if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 1000000)
                return drill_spec_fail(err, errlen,
                                       "\"abort_if.min_up_endpoints\" must be an integer from 1");
            out->min_up_endpoints = (long)json_integer_value(x);
        } else if (strcmp(k, "min_up_share") == 0) {
            double s = json_is_number(x) ? json_number_value(x) : -1;
            if (!(s > 0 && s <= 1))
                return drill_spec_fail(err, errlen,
                                       "\"abort_if.min_up_share\" must be a number, 0 < x <= 1");
            out->min_up_share = s;
        } else
            return drill_spec_fail(err, errlen, "unknown key \"abort_if.%s\"", k);
    }
    return 0;
}

bool drill_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > DRILL_MAX_LABEL)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

bool drill_host_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0, label = 0;
    if (n == 0 || n > DRILL_MAX_HOST + 1 || (n == DRILL_MAX_HOST + 1 && s[n - 1] != '.'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0)
                return false; /* an empty label ("a..b", ".a", ".") */
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_') {
            if (++label > 63)
                return false;
        } else
            return false;
    }
    return true;
}

static int drill_spec_name(json_t *v, struct drill_spec *out, char *err, size_t errlen)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || !drill_name_ok(json_string_value(v)) ||
        strlen(json_string_value(v)) != json_string_length(v))
        return drill_spec_fail(err, errlen,
                               "\"name\" must be 1 to %d letters, digits, '.', '_' or '-'",
                               DRILL_MAX_LABEL);
    out->name = drill_spec_dup(json_string_value(v));
    return 0;
}

/* "outcome": [{"check": NAME, "host": HOST}, ...]. Whether the check
 * exists is for the caller to say (drill_outcome_resolve). */
static int drill_spec_outcome(json_t *v, struct drill_spec *out, char *err, size_t errlen)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) > DRILL_MAX_OUTCOME)
        return drill_spec_fail(err, errlen,
                               "\"outcome\" must be an array of at most %d {\"check\", \"host\"} "
                               "objects",
                               DRILL_MAX_OUTCOME);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        json_t *c = json_object_get(e, "check"), *h = json_object_get(e, "host");
        if (!json_is_object(e) || json_object_size(e) != 2 || !json_is_string(c) ||
            !json_is_string(h))
            return drill_spec_fail(err, errlen,
                                   "\"outcome\"[%zu] must be {\"check\": NAME, \"host\": NAME}", i);
        const char *cs = json_string_value(c), *hs = json_string_value(h);
        if (json_string_length(c) == 0 || json_string_length(c) > DRILL_MAX_NAME ||
            strlen(cs) != json_string_length(c) || strpbrk(cs, "\n\r\t"))
            return drill_spec_fail(err, errlen, "\"outcome\"[%zu].check must be a check's name", i);
        if (!drill_host_ok(hs) || strlen(hs) != json_string_length(h))
            return drill_spec_fail(err, errlen, "\"outcome\"[%zu].host must be a host name", i);
        out->outcome[i].check = drill_spec_dup(cs);
        out->outcome[i].host = drill_spec_dup(hs);
        out->n_outcome++;
    }
    return 0;
}

static int drill_spec_clients(json_t *v, struct drill_spec *out, char *err, size_t errlen)
{
    if (!v)
        return 0;
    if (!out->dry_run)
        return drill_spec_fail(err, errlen, "\"clients\" is only for a dry run");
    if (!json_is_array(v) || json_array_size(v) > DRILL_MAX_CLIENTS)
        return drill_spec_fail(err, errlen,
                               "\"clients\" must be an array of at most %d addresses or networks",
                               DRILL_MAX_CLIENTS);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char why[128];
        if (!json_is_string(e) ||
            !drill_client_parse(json_string_value(e), &out->clients[i], why, sizeof(why)))
            return drill_spec_fail(err, errlen, "\"clients\"[%zu] %s", i,
                                   json_is_string(e) ? why : "must be a string");
        out->n_clients++;
    }
    return 0;
}

/* The scalar fields: mode, reason, force, dry_run. */
static int drill_spec_scalars(json_t *body, struct drill_spec *out, char *err, size_t errlen)
{
    json_t *re = json_object_get(body, "reason");
    json_t *fo = json_object_get(body, "force"), *dr = json_object_get(body, "dry_run");
    if ((fo && !json_is_boolean(fo)) || (dr && !json_is_boolean(dr)))
        return drill_spec_fail(err, errlen, "\"dry_run\" and \"force\" must be booleans");
    out->force = fo && json_is_true(fo);
    out->dry_run = dr && json_is_true(dr);
    int st = drill_spec_mode(json_object_get(body, "mode"), &out->mode, err, errlen);
    if (st != 0)
        return st;
    /* A dry run (gtmctl drill plan) may go without a reason. */
    if (!re && out->dry_run) {
        out->reason = drill_spec_dup("dry run");
        return 0;
    }
    if (!json_is_string(re) || json_string_length(re) == 0 ||
        json_string_length(re) > DRILL_MAX_REASON)
        return drill_spec_fail(err, errlen, "\"reason\" must be a string of 1 to %d bytes",
                               DRILL_MAX_REASON);
    out->reason = drill_spec_dup(json_string_value(re));
    return 0;
}

int drill_spec_parse(json_t *body, double max_duration, struct drill_spec *out, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->abort_if.min_up_endpoints = -1;
    out->abort_if.min_up_share = -1;
    if (!json_is_object(body))
        return drill_spec_fail(err, errlen, "request body must be a JSON object");
    const char *unknown = jsoncfg_unknown_key(body, drill_spec_keys);
    int st = unknown ? drill_spec_fail(err, errlen, "unknown key \"%s\"", unknown) : 0;
    if (st == 0)
        st = drill_spec_scalars(body, out, err, errlen);
    if (st == 0)
        st = drill_spec_names(json_object_get(body, "regions"), "regions", out->regions,
                              &out->n_regions, DRILL_MAX_TARGETS, err, errlen);
    if (st == 0)
        st = drill_spec_names(json_object_get(body, "azs"), "azs", out->azs, &out->n_azs,
                              DRILL_MAX_TARGETS - out->n_regions, err, errlen);
    if (st == 0 && out->n_regions + out->n_azs == 0)
        st = drill_spec_fail(err, errlen,
                             "a drill needs \"regions\" and/or \"azs\": what is to be lost");
    if (st == 0)
        st = drill_spec_duration(json_object_get(body, "duration"), max_duration, out, err, errlen);
    if (st == 0)
        st = drill_spec_canary(json_object_get(body, "canary"), out, err, errlen);
    if (st == 0)
        st = drill_spec_abort_if(json_object_get(body, "abort_if"), &out->abort_if, err, errlen);
    if (st == 0)
        st = drill_spec_clients(json_object_get(body, "clients"), out, err, errlen);
    if (st == 0)
        st = drill_spec_name(json_object_get(body, "name"), out, err, errlen);
    if (st == 0)
        st = drill_spec_outcome(json_object_get(body, "outcome"), out, err, errlen);
    if (st != 0)
        drill_spec_free(out);
    return st;
}

void drill_spec_free(struct drill_spec *s)
{
    for (size_t i = 0; i < s->n_regions; i++)
        free(s->regions[i]);
    for (size_t i = 0; i < s->n_azs; i++)
        free(s->azs[i]);
    free(s->reason);
    free(s->name);
    for (size_t i = 0; i < s->n_outcome; i++) {
        free(s->outcome[i].check);
        free(s->outcome[i].host);
    }
    s->n_regions = s->n_azs = s->n_outcome = 0;
    s->reason = s->name = NULL;
}

void drill_spec_copy(struct drill_spec *dst, const struct drill_spec *src)
{
    *dst = *src;
    for (size_t i = 0; i < src->n_regions; i++)
        dst->regions[i] = drill_spec_dup(src->regions[i]);
    for (size_t i = 0; i < src->n_azs; i++)
        dst->azs[i] = drill_spec_dup(src->azs[i]);
    dst->reason = drill_spec_dup(src->reason);
    dst->name = src->name ? drill_spec_dup(src->name) : NULL;
    for (size_t i = 0; i < src->n_outcome; i++) {
        dst->outcome[i].check = drill_spec_dup(src->outcome[i].check);
        dst->outcome[i].host = drill_spec_dup(src->outcome[i].host);
    }
}

json_t *drill_spec_json(const struct drill_spec *s)
{
    json_t *regions = json_array(), *azs = json_array(), *canary = json_array();
    for (size_t i = 0; i < s->n_regions; i++)
        json_array_append_new(regions, json_string(s->regions[i]));
    for (size_t i = 0; i < s->n_azs; i++)
        json_array_append_new(azs, json_string(s->azs[i]));
    for (size_t i = 0; i < s->n_canary; i++) {
        char buf[64];
        policy_net_format(&s->canary[i], buf, sizeof(buf));
        json_array_append_new(canary, json_string(buf));
    }
    json_t *j = json_pack("{s:s, s:o, s:o, s:s, s:f}", "mode", drill_mode_names[s->mode], "regions",
                          regions, "azs", azs, "reason", s->reason, "duration", s->duration);
    json_object_set_new(j, "canary", s->mode == DRILL_SCOPED ? canary : json_null());
    if (s->mode != DRILL_SCOPED)
        json_decref(canary);
    json_t *ai = json_object();
    if (s->abort_if.min_up_endpoints >= 0)
        json_object_set_new(ai, "min_up_endpoints", json_integer(s->abort_if.min_up_endpoints));
    if (s->abort_if.min_up_share >= 0)
        json_object_set_new(ai, "min_up_share", json_real(s->abort_if.min_up_share));
    json_object_set_new(j, "abort_if", json_object_size(ai) ? ai : json_null());
    if (!json_object_size(ai))
        json_decref(ai);
    json_object_set_new(j, "name", s->name ? json_string(s->name) : json_null());
    json_t *oc = json_array();
    for (size_t i = 0; i < s->n_outcome; i++)
        json_array_append_new(
            oc, json_pack("{s:s, s:s}", "check", s->outcome[i].check, "host", s->outcome[i].host));
    json_object_set_new(j, "outcome", oc);
    return j;
}

bool drill_client_parse(const char *text, struct drill_client *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!text || strlen(text) >= sizeof(out->text)) {
        snprintf(err, errlen, "must be an IP address or a network ADDRESS/LEN");
        return false;
    }
    snprintf(out->text, sizeof(out->text), "%s", text);
    if (strchr(text, '/')) {
        struct policy_net n;
        if (!policy_net_parse(text, &n, err, errlen))
            return false;
        out->ecs.present = true;
        out->ecs.family = n.family;
        out->ecs.source_prefix = n.len;
        memcpy(out->ecs.addr, n.addr, sizeof(out->ecs.addr));
        return true;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)&out->addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->addr;
    if (inet_pton(AF_INET, text, &a4->sin_addr) == 1)
        a4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, text, &a6->sin6_addr) == 1)
        a6->sin6_family = AF_INET6;
    else {
        snprintf(err, errlen, "must be an IP address or a network ADDRESS/LEN");
        return false;
    }
    out->has_addr = true;
    return true;
}
