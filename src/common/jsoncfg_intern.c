/*
 * jsoncfg_intern.c -- equal scalars of a parsed document shared.
 */
#include "common/jsoncfg_intern.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Open addressing of the first value of each (type, content) met. */
struct jsoncfg_itab {
    json_t **slot;
    size_t mask, n;
};

static uint64_t jsoncfg_intern_hash(json_t *v)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)json_typeof(v);
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        for (size_t i = 0; i < n; i++)
            h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    } else {
        uint64_t x = (uint64_t)json_integer_value(v);
        for (int i = 0; i < 8; i++, x >>= 8)
            h = (h ^ (x & 0xff)) * 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static int jsoncfg_intern_same(json_t *a, json_t *b)
{
    if (json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_integer(a))
        return json_integer_value(a) == json_integer_value(b);
    return json_string_length(a) == json_string_length(b) &&
           memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
}

static void jsoncfg_intern_grow(struct jsoncfg_itab *t)
{
    size_t size = t->slot ? (t->mask + 1) * 2 : 256;
    json_t **s = calloc(size, sizeof(*s));
    if (!s)
        abort();
    for (size_t i = 0; t->slot && i <= t->mask; i++) {
        if (!t->slot[i])
            continue;
        size_t k = jsoncfg_intern_hash(t->slot[i]) & (size - 1);
        while (s[k])
            k = (k + 1) & (size - 1);
        s[k] = t->slot[i];
    }
    free(t->slot);
    t->slot = s;
    t->mask = size - 1;
}

/* The shared value equal to v (v itself when it is the first). */
static json_t *jsoncfg_intern_one(struct jsoncfg_itab *t, json_t *v)
{
    if (!t->slot || (t->n + 1) * 2 > t->mask + 1)
        jsoncfg_intern_grow(t);
    size_t k = jsoncfg_intern_hash(v) & t->mask;
    for (; t->slot[k]; k = (k + 1) & t->mask)
        if (jsoncfg_intern_same(t->slot[k], v))
            return t->slot[k];
    t->slot[k] = v;
    t->n++;
    return v;
}

static int jsoncfg_intern_scalar(json_t *v)
{
    return json_is_string(v) || json_is_integer(v);
}

/* Depth-first over containers; an explicit stack, so that a deep
 * document cannot overflow the thread's. replace false: only fills t
 * (doc is not written). */
static size_t jsoncfg_intern_walk(struct jsoncfg_itab *t, json_t *doc, int replace)
{
    size_t n = 0, depth = 0, cap = 64;
    json_t **stack = malloc(cap * sizeof(*stack));
    if (!stack)
        abort();
    stack[depth++] = doc;
    while (depth) {
        json_t *c = stack[--depth], *v;
        const char *key;
        size_t i;
        if (depth + json_object_size(c) + json_array_size(c) + 1 > cap) {
            cap = 2 * (depth + json_object_size(c) + json_array_size(c) + 1);
            stack = realloc(stack, cap * sizeof(*stack));
            if (!stack)
                abort();
        }
        json_object_foreach(c, key, v)
        {
            json_t *s = jsoncfg_intern_scalar(v) ? jsoncfg_intern_one(t, v) : v;
            if (s != v && replace) {
                json_object_set(c, key, s); /* same key: replaced in place */
                n++;
            } else if (json_is_object(v) || json_is_array(v)) {
                stack[depth++] = v;
            }
        }
        json_array_foreach(c, i, v)
        {
            json_t *s = jsoncfg_intern_scalar(v) ? jsoncfg_intern_one(t, v) : v;
            if (s != v && replace) {
                json_array_set(c, i, s);
                n++;
            } else if (json_is_object(v) || json_is_array(v)) {
                stack[depth++] = v;
            }
        }
    }
    free(stack);
    return n;
}

size_t jsoncfg_intern(json_t *doc)
{
    if (!doc || !(json_is_object(doc) || json_is_array(doc)))
        return 0;
    struct jsoncfg_itab t = {NULL, 0, 0};
    size_t n = jsoncfg_intern_walk(&t, doc, 1);
    free(t.slot);
    return n;
}

size_t jsoncfg_intern_like(json_t *value, json_t *like)
{
    if (!value || !like || !(json_is_object(value) || json_is_array(value)) ||
        !(json_is_object(like) || json_is_array(like)))
        return 0;
    struct jsoncfg_itab t = {NULL, 0, 0};
    jsoncfg_intern_walk(&t, like, 0);
    size_t n = jsoncfg_intern_walk(&t, value, 1);
    free(t.slot);
    return n;
}
