/*
 * Unit tests for src/dns/tsig_replay.c: a MAC is seen once within its
 * window, forgotten after it, told apart by key name and by MAC, shared
 * by references, and the ring stays bounded.
 */
#include <string.h>

#include "dns/tsig_replay.h"
#include "tap.h"

static void ctx_of(struct tsig_ctx *c, const struct tsig_key *k, uint8_t fill, uint64_t when)
{
    memset(c, 0, sizeof(*c));
    c->key = k;
    c->mac_len = 32;
    memset(c->mac, fill, c->mac_len);
    c->time_signed = when;
}

int main(void)
{
    struct tap t = {0, 0};
    struct tsig_key k1 = {.name = {3, 'o', 'n', 'e', 0}, .name_len = 5};
    struct tsig_key k2 = {.name = {3, 't', 'w', 'o', 0}, .name_len = 5};
    struct tsig_replay *r = tsig_replay_new();
    struct tsig_ctx c;
    ctx_of(&c, &k1, 0xaa, 1000);
    TAP_CHECK(&t, !tsig_replay_seen(r, &c, 1000, 300), "first sight");
    TAP_CHECK(&t, tsig_replay_seen(r, &c, 1100, 300), "the same MAC again: seen");
    TAP_CHECK(&t, !tsig_replay_seen(r, &c, 1301, 300), "after its window: forgotten");
    struct tsig_ctx other;
    ctx_of(&other, &k2, 0xaa, 1000);
    TAP_CHECK(&t, !tsig_replay_seen(r, &other, 1000, 300), "the same MAC of another key");
    ctx_of(&other, &k1, 0xab, 1000);
    TAP_CHECK(&t, !tsig_replay_seen(r, &other, 1000, 300), "another MAC of the same key");
    struct tsig_key k1copy = k1; /* a reload makes new key structs */
    ctx_of(&other, &k1copy, 0xab, 1000);
    TAP_CHECK(&t, tsig_replay_seen(r, &other, 1010, 300), "the same key name after a reload");
    struct tsig_replay *r2 = tsig_replay_reuse(r);
    TAP_CHECK(&t, r2 == r && tsig_replay_seen(r2, &other, 1020, 300), "shared by a reference");
    tsig_replay_unref(r2);
    for (unsigned i = 0; i < TSIG_REPLAY_CAP + 10; i++) {
        ctx_of(&other, &k2, 0, 2000);
        memcpy(other.mac, &i, sizeof(i));
        tsig_replay_seen(r, &other, 2000, 300);
    }
    ctx_of(&other, &k2, 0, 2000);
    unsigned last = TSIG_REPLAY_CAP + 9, first = 0;
    memcpy(other.mac, &last, sizeof(last));
    TAP_CHECK(&t, tsig_replay_seen(r, &other, 2001, 300), "the newest of a full ring is kept");
    memcpy(other.mac, &first, sizeof(first));
    TAP_CHECK(&t, !tsig_replay_seen(r, &other, 2001, 300), "the oldest was overwritten (bounded)");
    TAP_CHECK(&t, !tsig_replay_seen(NULL, &c, 1000, 300), "no cache: never seen");
    c.key = NULL;
    TAP_CHECK(&t, !tsig_replay_seen(r, &c, 1000, 300), "an unsigned request: never seen");
    tsig_replay_unref(r);
    return tap_done(&t);
}
