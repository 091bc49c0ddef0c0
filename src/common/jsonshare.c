/*
 * jsonshare.c -- equal resources of the configuration made one value.
 */
#include "common/jsonshare.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Deeper values are left as they are: a resource is a few levels deep,
 * and the walks here recurse. */
#define JSONSHARE_DEPTH 32

static size_t jsonshare_refs(const json_t *v)
{
    return __atomic_load_n(&v->refcount, __ATOMIC_ACQUIRE);
}

static uint64_t jsonshare_mix(uint64_t h, uint64_t x)
{
    h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t jsonshare_bytes(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    return h;
}

/* A hash of v's content, objects' members in order. */
static uint64_t jsonshare_hash(json_t *v, int depth)
{
    uint64_t h = jsonshare_mix(1469598103934665603ull, (uint64_t)json_typeof(v));
    const char *key;
    json_t *m;
    size_t i;
    double d;
    switch (json_typeof(v)) {
    case JSON_STRING:
        return jsonshare_bytes(h, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return jsonshare_mix(h, (uint64_t)json_integer_value(v));
    case JSON_REAL:
        d = json_real_value(v);
        uint64_t bits;
        memcpy(&bits, &d, sizeof(bits));
        return jsonshare_mix(h, bits);
    case JSON_ARRAY:
        if (depth < JSONSHARE_DEPTH)
            json_array_foreach(v, i, m) h = jsonshare_mix(h, jsonshare_hash(m, depth + 1));
        return h;
    case JSON_OBJECT:
        if (depth < JSONSHARE_DEPTH)
            json_object_foreach(v, key, m)
            {
                h = jsonshare_mix(h, jsonshare_bytes(0, key, strlen(key)));
                h = jsonshare_mix(h, jsonshare_hash(m, depth + 1));
            }
        return h;
    default:
        return h;
    }
}

static bool jsonshare_same_objects(json_t *a, json_t *b, int depth);
static json_t *jsonshare_value_at(struct jsonshare *s, struct jsonshare *scal, json_t *v,
                                  bool mutate, int depth);

static bool jsonshare_same_at(json_t *a, json_t *b, int depth)
{
    if (a == b)
        return true;
    if (!a || !b || json_typeof(a) != json_typeof(b) || depth >= JSONSHARE_DEPTH)
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_INTEGER:
        return json_integer_value(a) == json_integer_value(b);
    case JSON_REAL: {
        double x = json_real_value(a), y = json_real_value(b);
        return memcmp(&x, &y, sizeof(x)) == 0;
    }
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!jsonshare_same_at(json_array_get(a, i), json_array_get(b, i), depth + 1))
                return false;
        return true;
    case JSON_OBJECT:
        return jsonshare_same_objects(a, b, depth);
    default:
        return true; /* true, false, null */
    }
}

/* Members in the same order, equal keys and values. */
static bool jsonshare_same_objects(json_t *a, json_t *b, int depth)
{
    if (json_object_size(a) != json_object_size(b))
        return false;
    void *ia = json_object_iter(a), *ib = json_object_iter(b);
    for (; ia && ib; ia = json_object_iter_next(a, ia), ib = json_object_iter_next(b, ib)) {
        if (strcmp(json_object_iter_key(ia), json_object_iter_key(ib)) != 0 ||
            !jsonshare_same_at(json_object_iter_value(ia), json_object_iter_value(ib), depth + 1))
            return false;
    }
    return !ia && !ib;
}

bool jsonshare_same(json_t *a, json_t *b)
{
    return jsonshare_same_at(a, b, 0);
}

void jsonshare_init(struct jsonshare *s)
{
    memset(s, 0, sizeof(*s));
    s->sweep_at = 1024;
}

void jsonshare_clear(struct jsonshare *s)
{
    for (size_t i = 0; s->slot && i <= s->mask; i++)
        json_decref(s->slot[i].v);
    free(s->slot);
    jsonshare_init(s);
}

/* Puts a held value in a table of at least one free slot. */
static void jsonshare_place(struct jsonshare_slot *slot, size_t mask, json_t *v, uint64_t h)
{
    size_t k = h & mask;
    while (slot[k].v)
        k = (k + 1) & mask;
    slot[k].v = v;
    slot[k].hash = h;
}

/* The table made size slots; with drop_unheld, without the values only
 * it holds (their references dropped). Returns how many were dropped. */
static size_t jsonshare_rebuild(struct jsonshare *s, size_t size, bool drop_unheld)
{
    struct jsonshare_slot *slot = calloc(size, sizeof(*slot));
    if (!slot)
        abort();
    size_t n = 0, dropped = 0;
    for (size_t i = 0; s->slot && i <= s->mask; i++) {
        json_t *v = s->slot[i].v;
        if (!v)
            continue;
        if (drop_unheld && jsonshare_refs(v) == 1) {
            json_decref(v);
            dropped++;
            continue;
        }
        jsonshare_place(slot, size - 1, v, s->slot[i].hash);
        n++;
    }
    free(s->slot);
    s->slot = slot;
    s->mask = size - 1;
    s->n = n;
    return dropped;
}

void jsonshare_sweep(struct jsonshare *s)
{
    if (!s->slot)
        return;
    size_t size = 256;
    /* A value let go can leave its members held by the table alone: again
     * until nothing is dropped (a pass per level, a resource is shallow). */
    for (int pass = 0; pass < JSONSHARE_DEPTH && jsonshare_rebuild(s, s->mask + 1, true); pass++)
        ;
    while (size < 2 * (s->n + 1))
        size *= 2;
    if (size < s->mask + 1)
        jsonshare_rebuild(s, size, false);
    s->sweep_at = 2 * s->n > 1024 ? 2 * s->n : 1024;
}

/* The table's value equal to v (hash h), or NULL. */
static json_t *jsonshare_find(struct jsonshare *s, json_t *v, uint64_t h, int depth)
{
    if (!s->slot)
        return NULL;
    for (size_t k = h & s->mask; s->slot[k].v; k = (k + 1) & s->mask)
        if (s->slot[k].hash == h && jsonshare_same_at(s->slot[k].v, v, depth))
            return s->slot[k].v;
    return NULL;
}

static void jsonshare_add(struct jsonshare *s, json_t *v, uint64_t h)
{
    if (!s->slot || 2 * (s->n + 1) > s->mask + 1)
        jsonshare_rebuild(s, s->slot ? 2 * (s->mask + 1) : 256, false);
    jsonshare_place(s->slot, s->mask, json_incref(v), h);
    s->n++;
}

/* v's members each made (mine) or added as the table's values. */
static void jsonshare_children(struct jsonshare *s, struct jsonshare *scal, json_t *v, bool mine,
                               int depth)
{
    const char *key;
    json_t *m, *x;
    size_t i;
    json_object_foreach(v, key, m)
    {
        if ((x = jsonshare_value_at(s, scal, m, mine, depth + 1)) != m && mine) {
            json_object_set(v, key, x); /* the same key: replaced in place */
            s->shared++;
        }
    }
    json_array_foreach(v, i, m)
    {
        if ((x = jsonshare_value_at(s, scal, m, mine, depth + 1)) != m && mine) {
            json_array_set(v, i, x);
            s->shared++;
        }
    }
}

/* The table's value equal to v, v added when new; scal: a table of
 * strings, integers and reals to share as well (NULL: left as they are). */
static json_t *jsonshare_value_at(struct jsonshare *s, struct jsonshare *scal, json_t *v,
                                  bool mutate, int depth)
{
    bool box = json_is_object(v) || json_is_array(v);
    if (!box && !(scal && (json_is_string(v) || json_is_number(v))))
        return v; /* jansson's singletons, or scalars left alone */
    if (depth >= JSONSHARE_DEPTH)
        return v;
    struct jsonshare *t = box ? s : scal;
    uint64_t h = jsonshare_hash(v, depth);
    json_t *f = jsonshare_find(t, v, h, depth);
    if (f)
        return f;
    /* New to the table: its members first, so that a later value shares
     * them even where this one may not (held elsewhere). */
    if (box)
        jsonshare_children(s, scal, v, mutate && jsonshare_refs(v) == 1, depth);
    jsonshare_add(t, v, h);
    return v;
}

/* One member of obj (a resource object the caller may change). */
static size_t jsonshare_member(struct jsonshare *s, json_t *obj, const char *name, bool mutate)
{
    json_t *v = json_object_get(obj, name);
    if (!v)
        return 0;
    json_t *x = jsonshare_value_at(s, NULL, v, mutate, 1);
    if (x == v || !mutate)
        return 0;
    json_object_set(obj, name, x);
    s->shared++;
    return 1;
}

size_t jsonshare_members(struct jsonshare *s, json_t *doc, const char *const *kinds, json_t *only,
                         bool mutate)
{
    size_t n = 0;
    for (const char *const *k = kinds; doc && *k; k++) {
        json_t *obj = json_object_get(doc, *k), *names = only ? json_object_get(only, *k) : NULL,
               *x;
        /* An object another version holds too is not this caller's. */
        if (!json_is_object(obj) || jsonshare_refs(obj) != 1 || (only && !names))
            continue;
        const char *name;
        if (names) {
            json_object_foreach(names, name, x) n += jsonshare_member(s, obj, name, mutate);
        } else {
            json_object_foreach(obj, name, x) n += jsonshare_member(s, obj, name, mutate);
        }
    }
    if (s->n >= s->sweep_at)
        jsonshare_sweep(s);
    return n;
}

/* ---- loading a document, sharing as it is read ------------------------- */

struct jsonshare_scan {
    const char *buf;
    size_t len, pos, flags;
};

static void jsonshare_ws(struct jsonshare_scan *c)
{
    while (c->pos < c->len && (c->buf[c->pos] == ' ' || c->buf[c->pos] == '\t' ||
                               c->buf[c->pos] == '\n' || c->buf[c->pos] == '\r'))
        c->pos++;
}

static bool jsonshare_char(struct jsonshare_scan *c, char ch)
{
    jsonshare_ws(c);
    if (c->pos < c->len && c->buf[c->pos] == ch) {
        c->pos++;
        return true;
    }
    return false;
}

/* The value at the scan's position, read by jansson (its checks, its
 * flags), the position moved past it; NULL when it is not one. */
static json_t *jsonshare_next(struct jsonshare_scan *c)
{
    json_error_t e;
    jsonshare_ws(c);
    json_t *v = json_loadb(c->buf + c->pos, c->len - c->pos,
                           c->flags | JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &e);
    if (v)
        c->pos += (size_t)e.position;
    return v;
}

/* A member's key and the ':' after it; NULL when not there, or when it
 * holds a NUL (jansson's own parse decides then). */
static json_t *jsonshare_key(struct jsonshare_scan *c)
{
    json_t *k = jsonshare_next(c);
    if (!json_is_string(k) || strlen(json_string_value(k)) != json_string_length(k) ||
        !jsonshare_char(c, ':')) {
        json_decref(k);
        return NULL;
    }
    return k;
}

/* obj's member k set to v (its reference taken); false on a duplicate key
 * the flags refuse. */
static bool jsonshare_put(struct jsonshare_scan *c, json_t *obj, json_t *k, json_t *v)
{
    const char *key = json_string_value(k);
    bool ok = !(c->flags & JSON_REJECT_DUPLICATES) || !json_object_get(obj, key);
    if (ok)
        json_object_set_nocheck(obj, key, v); /* a repeated key: the last value, as jansson */
    json_decref(v);
    json_decref(k);
    return ok;
}

/* The members of an object from the scan (its '{' read); NULL when the
 * text is not such an object. With kinds (the root): the objects under
 * those keys are read the same way without kinds, each of their members a
 * resource made to share (jsonshare_value_at); other members are read as
 * they are. */
static json_t *jsonshare_members_of(struct jsonshare_scan *c, struct jsonshare *s,
                                    struct jsonshare *scal, const char *const *kinds)
{
    json_t *obj = json_object();
    if (!obj)
        abort();
    if (jsonshare_char(c, '}'))
        return obj;
    do {
        json_t *k = jsonshare_key(c), *v = NULL;
        bool kind = false;
        for (const char *const *x = kinds; k && x && *x && !kind; x++)
            kind = strcmp(*x, json_string_value(k)) == 0;
        jsonshare_ws(c);
        if (kind && c->pos < c->len && c->buf[c->pos] == '{') {
            c->pos++;
            v = jsonshare_members_of(c, s, scal, NULL);
        } else if (k && (v = jsonshare_next(c)) && !kinds) {
            /* A resource: held once, made to share, or an equal one. */
            json_t *x = jsonshare_value_at(s, scal, v, true, 1);
            if (x != v) {
                json_decref(v);
                v = json_incref(x);
                s->shared++;
            }
        }
        if (!k || !v || !jsonshare_put(c, obj, k, v)) {
            if (k && !v)
                json_decref(k);
            json_decref(obj);
            return NULL;
        }
    } while (jsonshare_char(c, ','));
    if (jsonshare_char(c, '}'))
        return obj;
    json_decref(obj);
    return NULL;
}

/* Whether buf nests arrays and objects deeper than jansson parses a whole
 * text (JSON_PARSER_MAX_DEPTH): each member read alone starts at depth 0,
 * and would pass where the whole text fails. Strings skipped; a text
 * whose brackets are wrong is jansson's to refuse anyway. */
static bool jsonshare_too_deep(const char *buf, size_t len)
{
    size_t depth = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = buf[i];
        if (ch == '"') {
            for (i++; i < len && buf[i] != '"'; i++)
                i += buf[i] == '\\';
        } else if (ch == '[' || ch == '{') {
            if (++depth > JSON_PARSER_MAX_DEPTH - 2)
                return true;
        } else if ((ch == ']' || ch == '}') && depth > 0)
            depth--;
    }
    return false;
}

json_t *jsonshare_load(struct jsonshare *s, const char *buf, size_t len, size_t flags,
                       const char *const *kinds, json_error_t *err)
{
    struct jsonshare_scan c = {buf, len, 0, flags & ~(size_t)JSON_DISABLE_EOF_CHECK};
    if (jsonshare_too_deep(buf, len))
        c.len = 0; /* jansson's whole parse below */
    struct jsonshare scal;
    jsonshare_init(&scal);
    json_t *doc = jsonshare_char(&c, '{') ? jsonshare_members_of(&c, s, &scal, kinds) : NULL;
    jsonshare_clear(&scal); /* the values shared are held by doc */
    jsonshare_ws(&c);
    if (doc && c.pos == c.len) {
        if (s->n >= s->sweep_at)
            jsonshare_sweep(s);
        return doc;
    }
    json_decref(doc);
    /* What the scan did not take (a syntax error, a duplicate key, a root
     * that is not an object) is jansson's to parse: its errors, its lines
     * and columns, as before; a document it takes is shared in place. */
    doc = json_loadb(buf, len, flags, err);
    if (json_is_object(doc))
        jsonshare_members(s, doc, kinds, NULL, true);
    return doc;
}
