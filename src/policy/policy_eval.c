/*
 * policy_eval.c -- computes the answer of a policy record for one query.
 */
#include "policy/policy_eval.h"

#include <math.h>
#include <netinet/in.h>
#include <string.h>

#include "dns/dns.h"
#include "policy/policy_dial.h"
#include "policy/policy_latency.h"
#include "policy/policy_ramp.h"
#include "policy/policy_shed.h"

#define EVAL_MAX_CAND 256 /* candidates considered per query */

struct eval_set {
    uint16_t n;
    const struct policy_endpoint *eps[EVAL_MAX_CAND];
};

/* Per-query context: overlay and a cache of az verdicts (each az is judged
 * once per query instead of once per endpoint). */
struct eval_ctx {
    const struct gslb *g;
    const struct policy_record *r;
    const struct policy_overlay *ov;
    struct policy_dial_client *dc; /* NULL: no client (dials and ramps do not apply) */
    struct policy_trace *trace;
    /* Health-aware TTL (r->health_ttl): the earliest time (health_mono_ms)
     * a consulted endpoint's probe verdict or a ramp may change the
     * answer; 0 = none known. */
    int64_t change_at;
    bool epoch_ok;                      /* the health state read is of one epoch, so far */
    uint64_t epoch;                     /* which (health_epoch_enter) */
    int8_t az_up[64];                   /* -1 unknown, 0 down, 1 up */
    int8_t region_up[64];               /* the same for regions (latency records) */
    const struct policy_lat_table *lat; /* latency records: the client's table */
};

static bool eval_az_up(struct eval_ctx *x, const struct policy_pool *p, uint16_t az)
{
    if (az >= sizeof(x->az_up))
        return gslb_az_up(x->g, p, az, x->ov);
    if (x->az_up[az] < 0)
        x->az_up[az] = gslb_az_up(x->g, p, az, x->ov) ? 1 : 0;
    return x->az_up[az] == 1;
}

static void eval_trace_region(struct eval_ctx *x, const struct policy_pool *p, uint16_t region,
                              uint16_t rtype, bool up, unsigned healthy, unsigned total)
{
    struct policy_trace *t = x->trace;
    if (!t || t->n_regions >= POLICY_TRACE_REGIONS)
        return;
    struct policy_trace_region *r = &t->regions[t->n_regions++];
    r->region = region;
    r->up = up;
    r->healthy = healthy;
    r->total = total;
    const struct health_slot *rs = x->g->regions[region].slot;
    r->forced = gslb_slot_override(rs, x->ov);
    r->drill = gslb_slot_drill(rs, x->ov);
    uint64_t d = rs ? health_slot_dial(rs) : 0;
    r->dial_share = d ? health_dial_share(d) : 0;
    r->dial_state = d ? health_dial_state(d) : HEALTH_UNKNOWN;
    r->dial_in = false;
    r->dial_bucket = 0;
    if (d && x->dc) {
        r->dial_bucket = policy_dial_bucket(x->dc, health_dial_salt(d));
        r->dial_in = r->dial_bucket < r->dial_share;
    }
    r->ramp_share = POLICY_DIAL_FULL;
    r->ramp_held = false;
    r->has_type = false;
    for (size_t i = 0; i < p->n_eps; i++)
        r->has_type = r->has_type || (p->eps[i].region == region && p->eps[i].rtype == rtype);
}

static void eval_change_at(struct eval_ctx *x, int64_t t)
{
    if (t && (!x->change_at || t < x->change_at))
        x->change_at = t;
}

/* A health-aware TTL's input: when the endpoints of region that this
 * query consulted may change state (off unless the record asks). */
static void eval_note_changes(struct eval_ctx *x, const struct policy_pool *p, uint16_t region)
{
    if (!x->r->health_ttl)
        return;
    for (size_t i = 0; i < p->n_eps; i++)
        if (p->eps[i].region == region)
            gslb_endpoint_state_at(x->g, &p->eps[i], x->ov, &x->change_at);
}

/* An up region during its failback ramp: true when the client is back
 * already (its bucket is in the ramp's share). */
static bool eval_ramp(struct eval_ctx *x, uint16_t region)
{
    int64_t now = policy_ramp_now_ms(), start;
    uint16_t share = policy_ramp_share(x->g, x->r, region, now, &start);
    if (share >= POLICY_DIAL_FULL)
        return true;
    uint16_t b = policy_dial_bucket(x->dc, x->g->ramp->salt[region]);
    /* The share grows linearly: a client held back is back when it
     * reaches its bucket, and its answer changes then. */
    if (b >= share && x->r->health_ttl)
        eval_change_at(x, start + (int64_t)policy_ext_of(x->r)->ramp_ms * b / POLICY_DIAL_FULL + 1);
    struct policy_trace *t = x->trace;
    if (t && t->n_regions > 0 && t->regions[t->n_regions - 1].region == region) {
        struct policy_trace_region *tr = &t->regions[t->n_regions - 1];
        tr->ramp_share = share;
        tr->ramp_bucket = b;
        tr->ramp_held = b >= share;
        tr->ramp_elapsed_s = (double)(now - start) / 1000.0;
        tr->ramp_s = policy_ext_of(x->r)->ramp_ms / 1000.0;
        tr->up = b < share;
    }
    return b < share;
}

static bool eval_region_up(struct eval_ctx *x, const struct policy_pool *p, uint16_t region)
{
    if (region >= sizeof(x->region_up))
        return gslb_region_up(x->g, p, region, x->ov, NULL, NULL);
    if (x->region_up[region] < 0) {
        x->region_up[region] = gslb_region_up(x->g, p, region, x->ov, NULL, NULL) ? 1 : 0;
        eval_note_changes(x, p, region); /* a health-aware TTL's input */
    }
    return x->region_up[region] == 1;
}

/* A latency record's candidates: from the fastest healthy endpoint of the
 * client's table, every healthy one within the tolerance of it. False
 * when none has a known latency (the caller goes along the regions). */
static bool eval_latency(struct eval_ctx *x, const struct policy_record *r, uint16_t rtype,
                         struct eval_set *s, struct policy_result *out)
{
    const struct policy_lat_table *t = x->lat;
    const struct policy_pool *p = &x->g->pools[r->pool];
    uint32_t best = UINT32_MAX;
    uint64_t limit = 0;
    for (uint32_t i = 0; t && i < t->n_known && s->n < EVAL_MAX_CAND; i++) {
        const struct policy_lat_row *row = &t->rows[i];
        const struct policy_endpoint *e = row->ep;
        if (best != UINT32_MAX && row->ewma_us > limit)
            break;
        if (e->rtype != rtype)
            continue;
        /* Never for being fast: only what is up, in an up az and region.
         * With a health-aware TTL, every row read may change the answer
         * when its state changes (a faster one coming back included). */
        enum health_state st = x->r->health_ttl
                                   ? gslb_endpoint_state_at(x->g, e, x->ov, &x->change_at)
                                   : gslb_endpoint_state(x->g, e, x->ov);
        if (st != HEALTH_UP || (e->az != UINT16_MAX && !eval_az_up(x, p, e->az)) ||
            !eval_region_up(x, p, e->region))
            continue;
        if (best == UINT32_MAX) {
            best = row->ewma_us;
            limit = policy_latency_limit(policy_ext_of(r)->latency, best);
        }
        s->eps[s->n++] = e;
    }
    if (x->trace) {
        x->trace->latency.best_us = best;
        x->trace->latency.limit_us = limit;
        x->trace->latency.fell_back = s->n == 0;
    }
    if (s->n == 0)
        return false;
    out->serving_region = s->eps[0]->region;
    return true;
}

/* Adds the endpoints of region of type rtype to s: the healthy ones of an
 * up region, or all of them when any_state (fail open). */
static void eval_collect(struct eval_ctx *x, const struct policy_pool *p, uint16_t region,
                         uint16_t rtype, bool any_state, struct eval_set *s)
{
    if (!any_state) {
        unsigned healthy = 0, total = 0;
        bool up = gslb_region_up(x->g, p, region, x->ov, &healthy, &total);
        eval_trace_region(x, p, region, rtype, up, healthy, total);
        eval_note_changes(x, p, region);
        /* A pointer test for a record without a ramp (policy_ext_of). */
        if (up && x->g->ramp && x->dc && policy_ext_of(x->r)->ramp_ms)
            up = eval_ramp(x, region);
        if (!up)
            return;
    }
    for (size_t i = 0; i < p->n_eps && s->n < EVAL_MAX_CAND; i++) {
        const struct policy_endpoint *e = &p->eps[i];
        if (e->rtype != rtype || e->region != region)
            continue;
        if (any_state || (gslb_endpoint_state(x->g, e, x->ov) == HEALTH_UP &&
                          (e->az == UINT16_MAX || eval_az_up(x, p, e->az))))
            s->eps[s->n++] = e;
    }
}

static void eval_collect_regions(struct eval_ctx *x, const struct policy_record *r,
                                 struct policy_order ord, uint16_t rtype, bool any_state,
                                 struct eval_set *s)
{
    const struct policy_pool *p = &x->g->pools[r->pool];
    for (size_t k = 0; k < ord.n; k++)
        eval_collect(x, p, ord.regions[k], rtype, any_state, s);
}

/* The weight of candidate i: its configured weight, times its load
 * shedding factor in 1/1024ths when fac is given. */
static uint64_t eval_weight(const struct eval_set *s, const uint16_t *fac, uint16_t i)
{
    uint64_t w = s->eps[i]->weight;
    return fac ? w * fac[i] : w;
}

/* Picks up to 'want' endpoints from s, distinct, with probability
 * proportional to weight (weight 0 only when no positive weight is left);
 * fac: load shedding's factors (NULL: none). */
static void eval_pick_weighted(struct eval_set *s, uint16_t *fac, unsigned want, uint64_t *rng,
                               struct policy_result *out)
{
    while (out->n < want && s->n > 0) {
        uint64_t total = 0;
        for (uint16_t i = 0; i < s->n; i++)
            total += eval_weight(s, fac, i);
        uint16_t pick = 0;
        if (total == 0)
            pick = (uint16_t)(policy_rng_next(rng) % s->n);
        else {
            uint64_t x = policy_rng_next(rng) % total;
            while (x >= eval_weight(s, fac, pick)) {
                x -= eval_weight(s, fac, pick);
                pick++;
            }
        }
        out->eps[out->n++] = s->eps[pick];
        s->eps[pick] = s->eps[--s->n];
        if (fac)
            fac[pick] = fac[s->n];
    }
}

/* Load shedding (policy_shed.h): each candidate's factor in 1/1024ths
 * into fac; false (nothing shed) without shed_load or when every
 * candidate is at 0. */
static bool eval_shed_factors(const struct policy_record *r, const struct eval_set *s,
                              uint16_t *fac)
{
    if (!r->shed)
        return false;
    bool any = false;
    for (uint16_t i = 0; i < s->n; i++) {
        fac[i] = (uint16_t)lround(policy_shed_factor(r, s->eps[i], NULL) * 1024);
        any = any || fac[i] > 0;
    }
    return any;
}

/* For all and hashed: keeps each candidate with its factor's probability,
 * and always the one with the highest factor. */
static void eval_shed_keep(struct eval_set *s, const uint16_t *fac, uint64_t *rng)
{
    uint16_t best = 0, n = 0;
    for (uint16_t i = 1; i < s->n; i++)
        if (fac[i] > fac[best])
            best = i;
    const struct policy_endpoint *keep_best = s->eps[best];
    bool kept_best = false;
    for (uint16_t i = 0; i < s->n; i++)
        if (fac[i] >= 1024 || (policy_rng_next(rng) & 1023) < fac[i]) {
            kept_best = kept_best || i == best;
            s->eps[n++] = s->eps[i];
        }
    if (!kept_best)
        s->eps[n++] = keep_best;
    s->n = n;
}

static uint64_t eval_hash(const uint8_t *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* The client key for stickiness: its /24 (IPv4) or /56 (IPv6), from ECS
 * when present (and the record uses it): the key of dials too
 * (policy_dial_client_key). Sets the ECS scope to the prefix the answer
 * depends on: the key keeps no bit the client did not send, so a shorter
 * source prefix is the scope (0 when a resolver sends /0 to keep its
 * clients private: one answer for all of them, RFC 7871 7.2.1). */
static uint64_t eval_client_key(const struct policy_client *c, bool use_ecs,
                                struct policy_result *out)
{
    uint8_t key[8], scope;
    bool from_ecs;
    policy_dial_client_key(c->addr, c->ecs, use_ecs, key, &scope, &from_ecs);
    if (from_ecs)
        out->ecs_scope = scope;
    return eval_hash(key, sizeof(key), 0xcbf29ce484222325ULL);
}

/* Weighted rendezvous hashing: each client keeps its endpoints while they
 * stay up, and only the clients of a failed endpoint move. */
static void eval_pick_hashed(struct eval_set *s, unsigned want, const struct policy_client *c,
                             bool use_ecs, struct policy_result *out)
{
    uint64_t ck = eval_client_key(c, use_ecs, out);
    double score[EVAL_MAX_CAND];
    for (uint16_t i = 0; i < s->n; i++) {
        const char *k = s->eps[i]->key;
        uint64_t h = eval_hash((const uint8_t *)k, strlen(k), ck);
        double u = ((double)(h >> 11) + 0.5) / 9007199254740992.0; /* (0,1) */
        double w = s->eps[i]->weight ? (double)s->eps[i]->weight : 1e-9;
        score[i] = -w / log(u);
    }
    while (out->n < want && s->n > 0) {
        uint16_t best = 0;
        for (uint16_t i = 1; i < s->n; i++)
            if (score[i] > score[best])
                best = i;
        out->eps[out->n++] = s->eps[best];
        s->eps[best] = s->eps[--s->n];
        score[best] = score[s->n];
    }
}

static void eval_select(const struct policy_record *r, enum policy_select sel, struct eval_set *s,
                        const struct policy_client *c, struct policy_result *out)
{
    unsigned want = r->answers < POLICY_MAX_ANSWERS ? r->answers : POLICY_MAX_ANSWERS;
    uint16_t fac[EVAL_MAX_CAND];
    bool shed = !c->deterministic && eval_shed_factors(r, s, fac);
    if (sel == SELECT_WEIGHTED) {
        eval_pick_weighted(s, shed ? fac : NULL, want, c->rng, out);
        return;
    }
    if (shed)
        eval_shed_keep(s, fac, c->rng);
    if (sel == SELECT_HASHED) {
        eval_pick_hashed(s, want, c, r->use_ecs, out);
        return;
    }
    /* all: every candidate up to 'answers', from a random offset, so the
     * order (and a cut list) rotates like a multivalue answer should. */
    uint16_t start = s->n > 1 ? (uint16_t)(policy_rng_next(c->rng) % s->n) : 0;
    for (uint16_t i = 0; i < s->n && out->n < want; i++)
        out->eps[out->n++] = s->eps[(start + i) % s->n];
}

/* failover, geo, nearest: along the order, the first region that is up
 * serves; with spill, the next 'spill' regions that are up share the
 * failed region's traffic. */
static void eval_failover(struct eval_ctx *x, const struct policy_record *r,
                          struct policy_order ord, uint16_t rtype, struct eval_set *s,
                          struct policy_result *out)
{
    const struct policy_pool *p = &x->g->pools[r->pool];
    for (size_t k = 0; k < ord.n; k++) {
        uint16_t before = s->n;
        eval_collect(x, p, ord.regions[k], rtype, false, s);
        if (s->n == before)
            continue;
        if (out->serving_region < 0)
            out->serving_region = ord.regions[k];
        else
            out->n_spill++;
        /* The primary serves alone; after it, 'spill' regions share. */
        if (k == 0 || r->spill == 0 || out->n_spill + 1 >= r->spill)
            return;
    }
}

static bool eval_ordered(const struct policy_record *r)
{
    return r->policy == POLICY_FAILOVER || r->policy == POLICY_GEO || r->policy == POLICY_NEAREST ||
           r->policy == POLICY_LATENCY;
}

/* Where a geo or nearest record's client is, and so its region order. */
struct eval_geo {
    bool used;
    struct policy_geo_client client;
    uint32_t cls;
    uint8_t class_scope;
    const struct policy_geo_view *view; /* of the type asked */
    bool marked;                        /* the view's marks for x->epoch were used */
    uint8_t wide_scope;                 /* the scope they gave */
};

static struct policy_order eval_geo_order(const struct eval_ctx *x, const struct policy_record *r,
                                          uint16_t rtype, const struct policy_client *c,
                                          struct eval_geo *eg, struct policy_result *out)
{
    const struct policy_geo_trie *t =
        c->geo && r->index < c->geo->n_recs ? c->geo->recs[r->index].t : NULL;
    eg->used = true;
    policy_geo_client(r, c->addr, c->ecs, &eg->client);
    eg->view = policy_geo_view_of(c->geo, r, rtype);
    const uint8_t *marks = x->epoch_ok ? policy_geo_view_marks(eg->view, x->epoch) : NULL;
    eg->marked = marks != NULL;
    eg->cls = policy_geo_lookup(r, t, &eg->client, marks, &eg->class_scope, &eg->wide_scope);
    out->geo_kind = (uint8_t)policy_geo_kind_of(r, eg->cls);
    struct policy_order ord = policy_geo_order(r, t, eg->cls);
    if (c->trace) {
        struct policy_trace_geo *tg = &c->trace->geo;
        tg->used = true;
        tg->client = eg->client;
        tg->cls = eg->cls;
        tg->class_scope = eg->class_scope;
        tg->order = ord;
    }
    return ord;
}

/* A latency record: the client's class in its vantage map (with one:
 * placed as a geo record's client, the class's scope exact) and its
 * table; the order stays the record's regions. */
static struct policy_order eval_latency_table(struct eval_ctx *x, const struct policy_record *r,
                                              uint16_t rtype, const struct policy_client *c,
                                              struct eval_geo *eg, struct policy_result *out)
{
    struct policy_order ord = {r->regions, (uint16_t)r->n_regions};
    uint32_t cls = 0;
    if (policy_ext_of(r)->geo) {
        ord = eval_geo_order(x, r, rtype, c, eg, out);
        cls = eg->cls;
    }
    x->lat = policy_latency_table(c->geo, r, cls);
    if (c->trace) {
        c->trace->latency.used = true;
        c->trace->latency.cls = cls;
        c->trace->latency.tab = x->lat;
    }
    return ord;
}

/*
 * The ECS scope of the answer: the longest prefix it depends on. Hashed
 * selection depends on the client's /24 or /56 (hashed_scope); a geo or
 * nearest record located by the ECS address on the prefix of its class.
 * Everything else is the same for every client: 0. This is the one place
 * where scopes are decided; a layer that answers some clients differently
 * narrows them here.
 */
static uint8_t eval_scope(const struct eval_ctx *x, const struct policy_client *c,
                          const struct eval_geo *eg, uint8_t hashed_scope)
{
    uint8_t scope = hashed_scope;
    /* A dial or a ramp decided on the client's key: the answer depends on
     * it, and the widened scopes (built without dials) do not hold. */
    bool dialed = x->dc && x->dc->used;
    if (dialed && x->dc->scope > scope)
        scope = x->dc->scope;
    if (!eg->used || !eg->client.from_ecs || !eg->client.known)
        return scope;
    if (dialed)
        return eg->class_scope > scope ? eg->class_scope : scope;
    /* Health-aware: the widest prefix with the same answer in the state
     * this query read, when the view was built for that very state (and
     * was not swapped while the walk used it). */
    uint8_t geo = eg->class_scope;
    if (eg->marked && policy_geo_view_current(eg->view, x->epoch) &&
        health_epoch_valid(x->g->health, x->epoch)) {
        geo = eg->wide_scope;
        if (c->trace) {
            c->trace->geo.widened = true;
            c->trace->geo.widened_scope = geo;
        }
    }
    return geo > scope ? geo : scope;
}

/* Picks the candidates: the serving region(s) along ord, or what
 * when_all_down says. Returns false when nothing is left to select
 * (fallback and empty are final). */
static bool eval_candidates(struct eval_ctx *x, const struct policy_record *r, uint16_t rtype,
                            struct policy_order ord, struct eval_set *s, enum policy_select *sel,
                            struct policy_result *out)
{
    if (r->policy == POLICY_LATENCY && eval_latency(x, r, rtype, s, out))
        return true;
    if (eval_ordered(r)) {
        eval_failover(x, r, ord, rtype, s, out);
        if (out->n_spill > 0 && *sel == SELECT_ALL)
            *sel = SELECT_WEIGHTED; /* spill spreads by weight */
    } else {
        eval_collect_regions(x, r, ord, rtype, false, s);
        if (r->policy == POLICY_WEIGHTED && *sel == SELECT_ALL)
            *sel = SELECT_WEIGHTED;
        for (uint16_t i = 0; i < s->n && out->serving_region < 0; i++)
            out->serving_region = s->eps[i]->region;
    }
    if (s->n > 0)
        return true;
    switch (r->when_all_down) {
    case DOWN_EMPTY:
        out->outcome = POLICY_EMPTY;
        return false;
    case DOWN_FALLBACK: {
        const struct policy_record_ext *fx = policy_ext_of(r);
        out->outcome = POLICY_FALLBACK;
        for (size_t i = 0; i < fx->n_fallback && out->n < POLICY_MAX_ANSWERS; i++)
            if (fx->fallback[i].rtype == rtype)
                out->eps[out->n++] = &fx->fallback[i];
        return false;
    }
    case DOWN_ALL:
        out->outcome = POLICY_FAIL_OPEN;
        eval_collect_regions(x, r, ord, rtype, true, s);
        break;
    }
    return true;
}

/* The evaluation: along `given` when not NULL, else along the order the
 * record's policy picks for the client. */
static void eval_run(const struct gslb *g, const struct policy_record *r, uint16_t rtype,
                     const struct policy_client *c, const struct policy_order *given,
                     struct policy_result *out)
{
    struct eval_set s;
    struct eval_ctx x = {.g = g, .r = r, .ov = c->overlay, .trace = c->trace};
    struct eval_geo eg = {.used = false};
    /* Dials and ramps apply to a client (the DNS path, explain); dry runs
     * and what-ifs name none and see the state outside every dial. */
    struct policy_dial_client dc = {.addr = c->addr, .ecs = c->ecs, .use_ecs = r->use_ecs};
    struct policy_overlay lov;
    if (c->addr || (c->ecs && c->ecs->present)) {
        x.dc = &dc;
        /* The overlay that carries the client to the slots' dials, only
         * while some slot has one: without, the state functions keep
         * their short path (no overlay on the DNS path). */
        if (g->health && atomic_load_explicit(&g->health->n_dials, memory_order_relaxed)) {
            lov = c->overlay ? *c->overlay : (struct policy_overlay){.state = HEALTH_UNKNOWN};
            lov.client = &dc;
            x.ov = &lov;
        }
    }
    enum policy_select sel = r->select;
    memset(x.az_up, -1, sizeof(x.az_up));
    memset(x.region_up, -1, sizeof(x.region_up));
    s.n = 0;
    out->n = 0;
    out->outcome = POLICY_SERVED;
    out->serving_region = -1;
    out->n_spill = 0;
    out->ecs_scope = 0;
    out->geo_kind = POLICY_GEO_NONE;
    out->change_at_ms = 0;
    struct policy_order ord = {r->regions, (uint16_t)r->n_regions};
    if (given)
        ord = *given;
    else if (r->policy == POLICY_GEO || r->policy == POLICY_NEAREST) {
        /* Before any health byte is read; never with an overlay (a dry
         * run's state is no epoch). */
        x.epoch_ok = g->health && !c->overlay && health_epoch_enter(g->health, &x.epoch);
        ord = eval_geo_order(&x, r, rtype, c, &eg, out);
    } else if (r->policy == POLICY_LATENCY)
        ord = eval_latency_table(&x, r, rtype, c, &eg, out);
    if (eval_candidates(&x, r, rtype, ord, &s, &sel, out)) {
        if (c->trace) {
            c->trace->n_candidates = s.n;
            c->trace->select_used = sel;
        }
        eval_select(r, sel, &s, c, out);
    }
    out->ecs_scope = eval_scope(&x, c, &eg, out->ecs_scope);
    int64_t planned = r->health_ttl && g->health ? health_core_planned(g->health) : 0;
    if (planned > health_mono_ms())
        eval_change_at(&x, planned);
    out->change_at_ms = x.change_at;
}

void policy_eval(const struct gslb *g, const struct policy_record *r, uint16_t rtype,
                 const struct policy_client *c, struct policy_result *out)
{
    eval_run(g, r, rtype, c, NULL, out);
}

void policy_eval_order(const struct gslb *g, const struct policy_record *r, uint16_t rtype,
                       struct policy_order order, const struct policy_client *c,
                       struct policy_result *out)
{
    eval_run(g, r, rtype, c, &order, out);
    out->ecs_scope = 0;
}

size_t policy_eval_outcome(const struct gslb *g, const struct policy_record *r, uint16_t rtype,
                           struct policy_order order, uint16_t *key, size_t cap)
{
    struct eval_set s;
    struct eval_ctx x = {.g = g, .r = r};
    struct policy_result out = {.outcome = POLICY_SERVED, .serving_region = -1};
    enum policy_select sel = r->select;
    memset(x.az_up, -1, sizeof(x.az_up));
    memset(x.region_up, -1, sizeof(x.region_up));
    s.n = 0;
    eval_candidates(&x, r, rtype, order, &s, &sel, &out);
    size_t n = 0;
    key[n++] = (uint16_t)out.outcome;
    if (out.outcome == POLICY_FAIL_OPEN) {
        for (uint16_t i = 0; i < order.n && n < cap; i++)
            key[n++] = order.regions[i];
        return n;
    }
    for (uint16_t i = 0; out.outcome == POLICY_SERVED && i < s.n; i++) {
        uint16_t reg = s.eps[i]->region;
        bool seen = false;
        for (size_t k = 1; k < n && !seen; k++)
            seen = key[k] == reg;
        if (!seen && n < cap)
            key[n++] = reg;
    }
    return n;
}

void policy_eval_all(const struct gslb *g, const struct policy_record *r, uint16_t rtype,
                     const struct policy_client *c, struct policy_result *out)
{
    struct policy_record all = *r;
    uint64_t rng = 1; /* select all starts at rng % n: always the same */
    struct policy_client det = *c;
    det.rng = &rng;
    det.trace = NULL;
    det.deterministic = true;
    all.select = SELECT_ALL;
    all.answers = POLICY_MAX_ANSWERS;
    policy_eval(g, &all, rtype, &det, out);
}

void policy_eval_all_order(const struct gslb *g, const struct policy_record *r, uint16_t rtype,
                           struct policy_order order, const struct policy_client *c,
                           struct policy_result *out)
{
    struct policy_record all = *r;
    uint64_t rng = 1;
    struct policy_client det = *c;
    det.rng = &rng;
    det.trace = NULL;
    det.deterministic = true;
    all.select = SELECT_ALL;
    all.answers = POLICY_MAX_ANSWERS;
    policy_eval_order(g, &all, rtype, order, &det, out);
}

bool policy_result_same(const struct policy_result *a, const struct policy_result *b)
{
    if (a->outcome != b->outcome || a->serving_region != b->serving_region || a->n != b->n)
        return false;
    for (uint16_t i = 0; i < a->n; i++) {
        bool found = false;
        for (uint16_t k = 0; k < b->n && !found; k++)
            found = a->eps[i] == b->eps[k];
        if (!found)
            return false;
    }
    return true;
}

const char *policy_outcome_name(enum policy_outcome o)
{
    static const char *const names[] = {"served", "fail_open", "fallback", "empty"};
    return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "?";
}
