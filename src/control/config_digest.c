/*
 * config_digest.c -- a configuration's shared part digested as a sum of
 * its parts (config_digest.h).
 */
#include "control/config_digest.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/digest.h"
#include "common/jsondelta.h"
#include "common/jsonwalk.h"
#include "control/config_keys.h"

/* Parts: 'o' the mark of an object-valued key, 'm' one of its members,
 * 'v' any other top-level value. */
enum { CD_MARK = 'o', CD_MEMBER = 'm', CD_VALUE = 'v' };

static bool config_digest_local(const char *key)
{
    for (size_t i = 0; i < config_keys_count(); i++) {
        const struct cfgschema_key *k = config_key_at(i);
        if ((k->flags & CONFIG_KEY_NODE_LOCAL) && strcmp(k->name, key) == 0)
            return true;
    }
    return false;
}

/* Adds (sign 1) or takes out (-1) the part KEY NUL TAG NAME NUL DUMP. */
static void config_digest_part(uint64_t sum[4], int sign, const char *key, char tag,
                               const char *name, json_t *v)
{
    char *dump = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    size_t kl = strlen(key), nl = name ? strlen(name) : 0, dl = dump ? strlen(dump) : 0;
    char *buf = malloc(kl + nl + dl + 3);
    unsigned char md[32];
    if (!buf)
        abort();
    memcpy(buf, key, kl);
    buf[kl] = '\0';
    buf[kl + 1] = tag;
    if (nl)
        memcpy(buf + kl + 2, name, nl);
    buf[kl + 2 + nl] = '\0';
    if (dl)
        memcpy(buf + kl + 3 + nl, dump, dl);
    digest_sha256(buf, kl + nl + dl + 3, md);
    free(buf);
    free(dump);
    for (int i = 0; i < 4; i++) {
        uint64_t lane = 0;
        for (int b = 0; b < 8; b++)
            lane |= (uint64_t)md[i * 8 + b] << (8 * b);
        sum[i] += sign > 0 ? lane : (uint64_t)0 - lane;
    }
}

/* Every part of the top-level value v of key. */
static void config_digest_value(uint64_t sum[4], int sign, const char *key, json_t *v)
{
    if (!json_is_object(v)) {
        config_digest_part(sum, sign, key, CD_VALUE, NULL, v);
        return;
    }
    config_digest_part(sum, sign, key, CD_MARK, NULL, NULL);
    const char *name;
    json_t *m;
    json_object_foreach(v, name, m) config_digest_part(sum, sign, key, CD_MEMBER, name, m);
}

struct config_digest_walk {
    uint64_t *sum;
    const char *key; /* the top-level key whose members are walked */
};

static void config_digest_member(const char *name, json_t *in_a, json_t *in_b, void *arg)
{
    struct config_digest_walk *w = arg;
    if (in_a && in_b && json_equal(in_a, in_b))
        return;
    if (in_a)
        config_digest_part(w->sum, -1, w->key, CD_MEMBER, name, in_a);
    if (in_b)
        config_digest_part(w->sum, 1, w->key, CD_MEMBER, name, in_b);
}

static void config_digest_top(const char *key, json_t *in_a, json_t *in_b, void *arg)
{
    struct config_digest_walk *w = arg;
    if (config_digest_local(key))
        return;
    if (json_is_object(in_a) && json_is_object(in_b)) {
        struct config_digest_walk mw = {w->sum, key};
        jsonwalk_changed(in_a, in_b, config_digest_member, &mw);
        return;
    }
    if (in_a && in_b && json_equal(in_a, in_b))
        return;
    if (in_a)
        config_digest_value(w->sum, -1, key, in_a);
    if (in_b)
        config_digest_value(w->sum, 1, key, in_b);
}

/* The top-level walk of config_digest_update_delta: a key the delta says
 * it changed members of by name costs those names, one it leaves alone
 * nothing, any other the walk of config_digest_top. */
struct config_digest_some {
    struct config_digest_walk w;
    json_t *touched; /* KEY -> {NAME: ...} (jsondelta_touched) */
};

static void config_digest_top_some(const char *key, json_t *in_a, json_t *in_b, void *arg)
{
    struct config_digest_some *x = arg;
    json_t *names = json_object_get(x->touched, key), *v;
    if (!names || !json_is_object(in_a) || !json_is_object(in_b) || config_digest_local(key)) {
        config_digest_top(key, in_a, in_b, &x->w);
        return;
    }
    const char *name;
    struct config_digest_walk mw = {x->w.sum, key};
    json_object_foreach(names, name, v)
        config_digest_member(name, json_object_get(in_a, name), json_object_get(in_b, name), &mw);
}

void config_digest_update_delta(struct config_digest *d, json_t *root, json_t *delta)
{
    if (!d->root || !delta) {
        config_digest_update(d, root);
        return;
    }
    /* Every key that is an object on both sides may be described by name. */
    const char *keys[64], *k;
    size_t n = 0;
    json_t *v;
    json_object_foreach(root, k, v) if (n < 63 && json_is_object(v) &&
                                        json_is_object(json_object_get(d->root, k))) keys[n++] = k;
    keys[n] = NULL;
    struct config_digest_some x = {{d->sum, NULL}, jsondelta_touched(delta, keys)};
    jsonwalk_changed(d->root, root, config_digest_top_some, &x);
    json_decref(x.touched);
    json_decref(d->root);
    d->root = json_incref(root);
}

void config_digest_update(struct config_digest *d, json_t *root)
{
    struct config_digest_walk w = {d->sum, NULL};
    if (!d->root)
        memset(d->sum, 0, sizeof(d->sum));
    /* From nothing, every top-level key is new: the same walk. */
    jsonwalk_changed(d->root, root, config_digest_top, &w);
    json_decref(d->root);
    d->root = json_incref(root);
}

void config_digest_hex(const struct config_digest *d, char out[65])
{
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 8; b++)
            snprintf(out + 16 * i + 2 * b, 3, "%02x", (unsigned)((d->sum[i] >> (8 * b)) & 0xff));
}

void config_digest_free(struct config_digest *d)
{
    json_decref(d->root);
    d->root = NULL;
    memset(d->sum, 0, sizeof(d->sum));
}
