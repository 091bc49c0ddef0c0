/*
 * tsig_replay.c -- the MACs of signed transfer requests seen within their
 * window (tsig_replay.h).
 */
#include "dns/tsig_replay.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct tsig_replay_entry {
    uint8_t key_name[255];
    uint8_t key_name_len;
    uint8_t mac[TSIG_MAX_MAC];
    uint16_t mac_len;
    uint64_t until; /* 0: empty */
};

struct tsig_replay {
    pthread_mutex_t lock;
    atomic_uint refs;
    size_t next; /* the ring's next slot */
    struct tsig_replay_entry e[TSIG_REPLAY_CAP];
};

struct tsig_replay *tsig_replay_new(void)
{
    struct tsig_replay *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    pthread_mutex_init(&r->lock, NULL);
    atomic_init(&r->refs, 1);
    return r;
}

struct tsig_replay *tsig_replay_reuse(struct tsig_replay *r)
{
    if (!r)
        return tsig_replay_new();
    atomic_fetch_add(&r->refs, 1);
    return r;
}

void tsig_replay_unref(struct tsig_replay *r)
{
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* The same key by name (a reload makes new key structs) and the same MAC. */
static bool tsig_replay_match(const struct tsig_replay_entry *e, const struct tsig_ctx *ctx)
{
    const struct tsig_key *k = ctx->key;
    return e->mac_len == ctx->mac_len && e->key_name_len == k->name_len &&
           memcmp(e->mac, ctx->mac, ctx->mac_len) == 0 &&
           memcmp(e->key_name, k->name, k->name_len) == 0;
}

bool tsig_replay_seen(struct tsig_replay *r, const struct tsig_ctx *ctx, uint64_t now,
                      uint64_t window)
{
    if (!r || !ctx->key || ctx->mac_len == 0)
        return false;
    pthread_mutex_lock(&r->lock);
    bool seen = false;
    for (size_t i = 0; i < TSIG_REPLAY_CAP && !seen; i++)
        seen = r->e[i].until >= now && tsig_replay_match(&r->e[i], ctx);
    if (!seen) {
        struct tsig_replay_entry *e = &r->e[r->next];
        r->next = (r->next + 1) % TSIG_REPLAY_CAP;
        memcpy(e->key_name, ctx->key->name, ctx->key->name_len);
        e->key_name_len = ctx->key->name_len;
        memcpy(e->mac, ctx->mac, ctx->mac_len);
        e->mac_len = ctx->mac_len;
        e->until = ctx->time_signed + window;
    }
    pthread_mutex_unlock(&r->lock);
    return seen;
}
