/*
 * cfgschema.c -- the configuration's keys declared once (cfgschema.h).
 * The reads go through jsoncfg's, so every message keeps its words.
 */
#include "common/cfgschema.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const cfgschema_type_names[] = {
    [CFGSCHEMA_BOOL] = "boolean",  [CFGSCHEMA_INT] = "integer", [CFGSCHEMA_SECONDS] = "seconds",
    [CFGSCHEMA_STRING] = "string", [CFGSCHEMA_PATH] = "path",   [CFGSCHEMA_OBJECT] = "object",
    [CFGSCHEMA_ARRAY] = "array",   [CFGSCHEMA_MAP] = "map",     [CFGSCHEMA_ANY] = "any",
};

const char *cfgschema_type_name(enum cfgschema_type t)
{
    return (size_t)t < sizeof(cfgschema_type_names) / sizeof(cfgschema_type_names[0])
               ? cfgschema_type_names[t]
               : "?";
}

size_t cfgschema_count(const struct cfgschema *s)
{
    size_t n = s->n;
    for (const struct cfgschema *const *m = s->more; m && *m; m++)
        n += cfgschema_count(*m);
    return n;
}

const struct cfgschema_key *cfgschema_at(const struct cfgschema *s, size_t i)
{
    if (i < s->n)
        return &s->keys[i];
    i -= s->n;
    for (const struct cfgschema *const *m = s->more; m && *m; m++) {
        size_t n = cfgschema_count(*m);
        if (i < n)
            return cfgschema_at(*m, i);
        i -= n;
    }
    return NULL;
}

const struct cfgschema_key *cfgschema_find(const struct cfgschema *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->keys[i].name, name) == 0)
            return &s->keys[i];
    const struct cfgschema_key *k = NULL;
    for (const struct cfgschema *const *m = s->more; m && *m && !k; m++)
        k = cfgschema_find(*m, name);
    return k;
}

bool cfgschema_object(const struct jsoncfg *x, const struct cfgschema *s, json_t *obj,
                      const char *path)
{
    const char *at = path ? path : s->path;
    if (!json_is_object(obj)) {
        jsoncfg_err(x, at, "must be an object");
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (!cfgschema_find(s, key))
            jsoncfg_err(x, at, "unknown key \"%s\"", key);
    }
    for (size_t i = 0; i < cfgschema_count(s); i++) {
        const struct cfgschema_key *k = cfgschema_at(s, i);
        if ((k->flags & CFGSCHEMA_REQUIRED) && !json_object_get(obj, k->name)) {
            char p[512];
            snprintf(p, sizeof(p), "%s.%s", at, k->name);
            jsoncfg_err(x, p, "is required");
        }
    }
    return true;
}

json_t *cfgschema_value(const struct cfgschema *s, size_t k, json_t *obj)
{
    return k < s->n ? json_object_get(obj, s->keys[k].name) : NULL;
}

void cfgschema_key_path(char *out, size_t len, const struct cfgschema *s, size_t k,
                        const char *path)
{
    snprintf(out, len, "%s.%s", path ? path : s->path, k < s->n ? s->keys[k].name : "?");
}

void cfgschema_err(const struct jsoncfg *x, const struct cfgschema *s, size_t k, const char *path,
                   const char *fmt, ...)
{
    char p[512], msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cfgschema_key_path(p, sizeof(p), s, k, path);
    jsoncfg_err(x, p, "%s", msg);
}

long cfgschema_int(const struct jsoncfg *x, const struct cfgschema *s, size_t k, json_t *obj,
                   const char *path)
{
    char p[512];
    const struct cfgschema_key *key = &s->keys[k];
    cfgschema_key_path(p, sizeof(p), s, k, path);
    return jsoncfg_int(x, obj, key->name, p, (long)key->lo, (long)key->hi, (long)key->def);
}

unsigned cfgschema_ms(const struct jsoncfg *x, const struct cfgschema *s, size_t k, json_t *obj,
                      const char *path)
{
    char p[512];
    const struct cfgschema_key *key = &s->keys[k];
    cfgschema_key_path(p, sizeof(p), s, k, path);
    return jsoncfg_ms(x, obj, key->name, p, key->lo, key->hi, key->def);
}

double cfgschema_seconds(const struct jsoncfg *x, const struct cfgschema *s, size_t k, json_t *obj,
                         const char *path)
{
    char p[512];
    const struct cfgschema_key *key = &s->keys[k];
    cfgschema_key_path(p, sizeof(p), s, k, path);
    return jsoncfg_seconds(x, obj, key->name, p, key->lo, key->hi, key->def);
}

bool cfgschema_bool(const struct jsoncfg *x, const struct cfgschema *s, size_t k, json_t *obj,
                    const char *path)
{
    char p[512];
    const struct cfgschema_key *key = &s->keys[k];
    cfgschema_key_path(p, sizeof(p), s, k, path);
    return jsoncfg_bool(x, obj, key->name, p, key->def != 0);
}

const char *cfgschema_str(const struct jsoncfg *x, const struct cfgschema *s, size_t k, json_t *obj,
                          const char *path)
{
    char p[512];
    cfgschema_key_path(p, sizeof(p), s, k, path);
    return jsoncfg_str(x, obj, s->keys[k].name, p);
}

char *cfgschema_path(const struct jsoncfg *x, const struct cfgschema *s, size_t k, json_t *obj,
                     const char *path)
{
    const char *v = cfgschema_str(x, s, k, obj, path);
    return v ? jsoncfg_path(x, v) : NULL;
}

json_t *cfgschema_canonical(const struct cfgschema_key *k, json_t *v)
{
    bool num = k->type == CFGSCHEMA_INT || k->type == CFGSCHEMA_SECONDS;
    if (!v) {
        if (k->flags & CFGSCHEMA_DEFAULT_VARIES)
            return NULL;
        return num                         ? json_real(k->def)
               : k->type == CFGSCHEMA_BOOL ? json_boolean(k->def != 0)
                                           : NULL;
    }
    if (num && json_is_number(v))
        return json_real(json_number_value(v)); /* 5 and 5.0 alike */
    if ((k->type == CFGSCHEMA_ANY || k->type == CFGSCHEMA_ARRAY) && json_is_string(v))
        return json_pack("[O]", v); /* "a" and ["a"] alike */
    if (k->type == CFGSCHEMA_OBJECT && k->sub && json_is_object(v)) {
        json_t *o = json_object();
        for (size_t i = 0; i < cfgschema_count(k->sub); i++) {
            const struct cfgschema_key *sk = cfgschema_at(k->sub, i);
            json_t *c = cfgschema_canonical(sk, json_object_get(v, sk->name));
            if (c)
                json_object_set_new(o, sk->name, c);
        }
        return o;
    }
    return json_incref(v);
}

json_t *cfgschema_restart_part(const struct cfgschema *s, json_t *v)
{
    json_t *out = json_object();
    for (size_t i = 0; json_is_object(v) && i < cfgschema_count(s); i++) {
        const struct cfgschema_key *k = cfgschema_at(s, i);
        json_t *kv = json_object_get(v, k->name);
        if (k->flags & CFGSCHEMA_RESTART) {
            json_t *c = cfgschema_canonical(k, kv);
            if (c)
                json_object_set_new(out, k->name, c);
        } else if (kv && k->type == CFGSCHEMA_OBJECT && k->sub) {
            json_t *part = cfgschema_restart_part(k->sub, kv);
            if (json_object_size(part))
                json_object_set(out, k->name, part);
            json_decref(part);
        }
    }
    return out;
}

json_t *cfgschema_json(const struct cfgschema *s)
{
    json_t *a = json_array();
    for (size_t i = 0; s && i < cfgschema_count(s); i++) {
        const struct cfgschema_key *k = cfgschema_at(s, i);
        json_t *j = json_pack("{s:s, s:s, s:b, s:b, s:b, s:s}", "name", k->name, "type",
                              cfgschema_type_name(k->type), "required",
                              (k->flags & CFGSCHEMA_REQUIRED) != 0, "node_local",
                              (k->flags & CFGSCHEMA_NODE_LOCAL) != 0, "restart",
                              (k->flags & CFGSCHEMA_RESTART) != 0, "what", k->what ? k->what : "");
        /* A required key has no default; one whose default varies says so
         * in "what"; a number without a range (0 to 0) is checked by its
         * module's own rules (a practice drill's duration: the API's). */
        bool def = !(k->flags & (CFGSCHEMA_DEFAULT_VARIES | CFGSCHEMA_REQUIRED));
        if (k->type == CFGSCHEMA_INT || k->type == CFGSCHEMA_SECONDS) {
            if (k->lo != 0 || k->hi != 0) {
                json_object_set_new(j, "min", json_real(k->lo));
                json_object_set_new(j, "max", json_real(k->hi));
            }
            if (def)
                json_object_set_new(j, "default", json_real(k->def));
        } else if (k->type == CFGSCHEMA_BOOL && def)
            json_object_set_new(j, "default", json_boolean(k->def != 0));
        if (k->sub)
            json_object_set_new(j, "keys", cfgschema_json(k->sub));
        if (k->section)
            json_object_set_new(j, "section", json_string(k->section));
        if (k->flags & CFGSCHEMA_PART_RESTART)
            json_object_set_new(j, "restart", json_string("partly"));
        json_array_append_new(a, j);
    }
    return a;
}
