/*
 * probe_load.c -- the load figure of a check's reply (see probe_load.h).
 */
#include "health/probe_load.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_LOAD_MAX_WHAT 256

void probe_load_parse(const struct jsoncfg *j, json_t *v, const char *path, struct probe_load *l)
{
    memset(l, 0, sizeof(*l));
    if (!v)
        return;
    json_t *p = json_is_object(v) ? json_object_get(v, "json_pointer") : NULL;
    json_t *m = json_is_object(v) ? json_object_get(v, "metric") : NULL;
    if (!json_is_object(v) || json_object_size(v) != 1 || (!p && !m)) {
        jsoncfg_err(j, path, "must be {\"json_pointer\": \"/...\"} or {\"metric\": \"NAME\"}");
        return;
    }
    const char *s = json_string_value(p ? p : m);
    size_t n = s ? strlen(s) : 0;
    if (!s || n == 0 || n > PROBE_LOAD_MAX_WHAT || n != json_string_length(p ? p : m)) {
        jsoncfg_err(j, path, "%s must be a string of 1 to %d octets", p ? "json_pointer" : "metric",
                    PROBE_LOAD_MAX_WHAT);
        return;
    }
    if (p && s[0] != '/') {
        jsoncfg_err(j, path, "json_pointer \"%s\" must start with \"/\" (RFC 6901)", s);
        return;
    }
    for (size_t i = 0; m && i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':') ||
            (i == 0 && isdigit((unsigned char)s[i]))) {
            jsoncfg_err(j, path, "metric \"%s\" is not a Prometheus metric name", s);
            return;
        }
    l->kind = p ? PROBE_LOAD_JSON : PROBE_LOAD_METRIC;
    l->what = jsoncfg_strdup(s);
}

void probe_load_free(struct probe_load *l)
{
    free(l->what);
    memset(l, 0, sizeof(*l));
}

static double probe_load_ok(double v)
{
    return isfinite(v) && v >= 0 ? v : NAN;
}

/* One reference token of an RFC 6901 pointer into tok (~1 -> /, ~0 -> ~);
 * returns where the next one starts, or NULL when the pointer is bad. */
static const char *probe_load_token(const char *p, char *tok, size_t cap)
{
    size_t n = 0;
    for (p++; *p && *p != '/'; p++) {
        char c = *p;
        if (c == '~') {
            if (p[1] != '0' && p[1] != '1')
                return NULL;
            c = p[1] == '0' ? '~' : '/';
            p++;
        }
        if (n + 1 >= cap)
            return NULL;
        tok[n++] = c;
    }
    tok[n] = 0;
    return p;
}

static double probe_load_json(const char *ptr, const char *body, size_t len)
{
    json_t *root = json_loadb(body, len, JSON_DECODE_ANY, NULL);
    json_t *cur = root;
    char tok[PROBE_LOAD_MAX_WHAT + 1];
    for (const char *p = ptr; cur && *p;) {
        if (!(p = probe_load_token(p, tok, sizeof(tok)))) {
            cur = NULL;
            break;
        }
        if (json_is_object(cur))
            cur = json_object_get(cur, tok);
        else if (json_is_array(cur) && tok[0] && strspn(tok, "0123456789") == strlen(tok) &&
                 (tok[0] != '0' || !tok[1]))
            cur = json_array_get(cur, strtoul(tok, NULL, 10));
        else
            cur = NULL;
    }
    double v = cur && json_is_number(cur) ? probe_load_ok(json_number_value(cur)) : NAN;
    json_decref(root);
    return v;
}

/* The value of the first sample of metric name in a Prometheus text
 * exposition: "name value", "name{labels} value" (a timestamp may follow);
 * comment lines and other metrics are skipped. */
static double probe_load_metric(const char *name, const char *body, size_t len)
{
    size_t nl = strlen(name);
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        if ((size_t)(le - p) > nl && memcmp(p, name, nl) == 0 &&
            (p[nl] == ' ' || p[nl] == '{' || p[nl] == '\t')) {
            const char *q = p + nl;
            if (*q == '{') {
                const char *close = memchr(q, '}', (size_t)(le - q));
                if (!close)
                    return NAN;
                q = close + 1;
            }
            char num[64];
            size_t k = 0;
            while (q < le && (*q == ' ' || *q == '\t'))
                q++;
            while (q < le && k + 1 < sizeof(num) && *q != ' ' && *q != '\t' && *q != '\r')
                num[k++] = *q++;
            num[k] = 0;
            char *e;
            double v = k ? strtod(num, &e) : NAN;
            return k && *e == 0 ? probe_load_ok(v) : NAN;
        }
        p = le + 1;
    }
    return NAN;
}

double probe_load_read(const struct probe_load *l, const char *body, size_t len)
{
    if (l->kind == PROBE_LOAD_JSON)
        return probe_load_json(l->what, body, len);
    if (l->kind == PROBE_LOAD_METRIC)
        return probe_load_metric(l->what, body, len);
    return NAN;
}
