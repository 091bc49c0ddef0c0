/*
 * serve_set.c -- what is served at one moment.
 */
#include "serve/serve_set.h"

#include <stdlib.h>

#include "common/bigalloc.h"
#include "dns/tsig_replay.h"

struct serve_set *serve_set_new(struct snapshot *zones, struct gslb *gslb, uint64_t generation,
                                const struct serve_limits *limits)
{
    struct serve_set *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    s->zones = zones;
    s->gslb = gslb;
    s->generation = generation;
    s->limits = *limits;
    return s;
}

void serve_set_free(struct serve_set *s)
{
    if (!s)
        return;
    /* The last holder of a shared array gives it back (acq_rel: it sees
     * the array as its maker wrote it). */
    if (!s->policy_rows_refs ||
        atomic_fetch_sub_explicit(s->policy_rows_refs, 1, memory_order_acq_rel) == 1) {
        bigalloc_table_give(s->policy_spare, (void *)s->policy_rows, s->policy_rows_len);
        free(s->policy_rows_refs);
    }
    free(s->policy_cols);
    policy_sigs_free(s->sigs); /* before the zones whose keys it borrows */
    serve_bind_free(&s->bind);
    snapshot_free(s->zones);
    policy_geo_unref(s->geo);
    gslb_unref(s->gslb);
    free(s->identity.identity);
    free(s->identity.version);
    rrl_params_free(s->rrl);
    free(s->rrl);
    rrl_table_unref(s->rrl_table);
    if (!s->tsig_moved)
        tsig_keyring_free(&s->tsig);
    tsig_replay_unref(s->tsig_replay);
    dnstap_view_free(s->dnstap);
    free(s);
}

void serve_set_take_tsig(struct serve_set *dst, struct serve_set *src)
{
    dst->tsig = src->tsig;
    src->tsig_moved = true;
}
