/*
 * policy_sign.c -- signatures of policy answers, made off the query path
 * (policy_sign.h).
 */
#include "policy/policy_sign.h"

#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "dns/dns.h"
#include "dns/name.h"

/* ---- hashing and comparing answers ---- */

struct sign_item {
    const uint8_t *p; /* RDLENGTH RDATA */
    uint16_t len;     /* RDLENGTH */
};

static int sign_item_cmp(const struct sign_item *a, const struct sign_item *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->p + 2, b->p + 2, n);
    return c ? c : (int)a->len - (int)b->len;
}

/* Splits rdata into its records, sorted (canonical RDATA order); false
 * when it is malformed or has more than cap records. */
static bool sign_items(const uint8_t *rdata, size_t len, uint16_t count, struct sign_item *it,
                       size_t cap)
{
    size_t o = 0;
    if (count > cap)
        return false;
    for (uint16_t i = 0; i < count; i++) {
        if (o + 2 > len)
            return false;
        uint16_t l = dns_get16(rdata + o);
        if (o + 2 + l > len)
            return false;
        struct sign_item x = {rdata + o, l};
        uint16_t k = i;
        while (k > 0 && sign_item_cmp(&it[k - 1], &x) > 0) {
            it[k] = it[k - 1];
            k--;
        }
        it[k] = x;
        o += 2 + (size_t)l;
    }
    return o == len;
}

static uint64_t sign_mix(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t sign_hash_items(uint32_t record, uint16_t rtype, const struct sign_item *it,
                                uint16_t count)
{
    uint8_t head[6] = {(uint8_t)(record >> 24), (uint8_t)(record >> 16), (uint8_t)(record >> 8),
                       (uint8_t)record,         (uint8_t)(rtype >> 8),   (uint8_t)rtype};
    uint64_t h = sign_mix(0xcbf29ce484222325ULL, head, sizeof(head));
    for (uint16_t i = 0; i < count; i++)
        h = sign_mix(h, it[i].p, 2 + (size_t)it[i].len);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

uint64_t policy_sigs_hash(uint32_t record, uint16_t rtype, const uint8_t *rdata, size_t len,
                          uint16_t count)
{
    struct sign_item it[POLICY_MAX_ANSWERS];
    if (!sign_items(rdata, len, count, it, POLICY_MAX_ANSWERS))
        return 0;
    return sign_hash_items(record, rtype, it, count);
}

/* Whether entry e holds exactly the records of it[0..count). */
static bool sign_entry_is(const struct policy_sig_entry *e, uint32_t record, uint16_t rtype,
                          const struct sign_item *it, uint16_t count)
{
    if (e->record != record || e->rtype != rtype || e->count != count)
        return false;
    size_t o = 0;
    for (uint16_t i = 0; i < count; i++) {
        size_t l = 2 + (size_t)it[i].len;
        if (o + l > e->rdata_len || memcmp(e->rdata + o, it[i].p, l) != 0)
            return false;
        o += l;
    }
    return o == e->rdata_len;
}

static const struct policy_sig_entry *sign_table_find(const struct policy_sig_table *t, uint64_t h,
                                                      uint32_t record, uint16_t rtype,
                                                      const struct sign_item *it, uint16_t count)
{
    for (size_t i = h & (t->cap - 1), probes = 0; probes < t->cap;
         i = (i + 1) & (t->cap - 1), probes++) {
        const struct policy_sig_entry *e =
            atomic_load_explicit(&((struct policy_sig_table *)t)->slots[i], memory_order_acquire);
        if (!e)
            return NULL;
        if (e->hash == h && sign_entry_is(e, record, rtype, it, count))
            return e;
    }
    return NULL;
}

const struct policy_sig_entry *policy_sigs_find(const struct policy_sigs *s, uint32_t record,
                                                uint16_t rtype, const uint8_t *rdata, size_t len,
                                                uint16_t count)
{
    struct sign_item it[POLICY_MAX_ANSWERS];
    if (!s || !sign_items(rdata, len, count, it, POLICY_MAX_ANSWERS))
        return NULL;
    const struct policy_sig_table *t =
        atomic_load_explicit(&((struct policy_sigs *)s)->table, memory_order_acquire);
    return sign_table_find(t, sign_hash_items(record, rtype, it, count), record, rtype, it, count);
}

/* ---- tables ---- */

static struct policy_sig_table *sign_table_new(size_t limit, size_t n_records)
{
    struct policy_sig_table *t = calloc(1, sizeof(*t));
    size_t cap = 16;
    while (cap < limit + limit / 3 + 1)
        cap *= 2;
    if (!t)
        abort();
    t->cap = cap;
    t->limit = limit;
    t->slots = calloc(cap, sizeof(*t->slots));
    t->last = calloc(n_records ? n_records : 1, sizeof(*t->last));
    if (!t->slots || !t->last)
        abort();
    return t;
}

static void sign_table_free(struct policy_sig_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->cap; i++) {
        struct policy_sig_entry *e = atomic_load_explicit(&t->slots[i], memory_order_relaxed);
        if (!e)
            continue;
        free(e->rdata);
        free((void *)e->sigs.rdata);
        free(e);
    }
    free(t->slots);
    free(t->last);
    free(t);
}

void policy_sigs_retired_free(struct policy_sigs_retired *r)
{
    for (size_t i = 0; i < r->n; i++)
        sign_table_free(r->t[i]);
    r->n = 0;
}

struct policy_sigs *policy_sigs_new(const struct gslb *g, const struct snapshot *zones,
                                    size_t limit)
{
    if (!g || !g->n_records)
        return NULL;
    /* Most estates sign nothing at load: no name is looked up then (a
     * lookup per record was 4 ms of a change at 100,000 records). */
    bool keys = false;
    for (size_t i = 0; i < zones->n_zones && !keys; i++)
        keys = zones->zones[i]->policy_keys != NULL;
    if (!keys)
        return NULL;
    const struct zone **zs = calloc(g->n_records, sizeof(*zs));
    bool any = false;
    if (!zs)
        abort();
    for (size_t i = 0; i < g->n_records; i++) {
        const struct policy_record *r = gslb_rec(g, i);
        struct dns_name n;
        if (!dns_name_index(r->name, r->name_len, &n))
            continue;
        const struct zone *z = snapshot_find_zone(zones, &n, DNS_TYPE_A);
        if (z && z->policy_keys) {
            zs[i] = z;
            any = true;
        }
    }
    if (!any) {
        free(zs);
        return NULL;
    }
    struct policy_sigs *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    s->g = g;
    s->zones = zs;
    s->n_records = g->n_records;
    s->limit = limit ? limit : POLICY_SIGS_LIMIT_DEFAULT;
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->table, sign_table_new(s->limit, s->n_records));
    return s;
}

void policy_sigs_free(struct policy_sigs *s)
{
    if (!s)
        return;
    sign_table_free(atomic_load_explicit(&s->table, memory_order_relaxed));
    pthread_mutex_destroy(&s->lock);
    free(s->zones);
    free(s);
}

/* ---- signing ---- */

/* The ldns record of one endpoint's answer. */
static ldns_rr *sign_rr(const struct policy_record *r, uint16_t rtype,
                        const struct policy_endpoint *e)
{
    ldns_rr *rr = ldns_rr_new_frm_type((ldns_rr_type)rtype);
    ldns_rdf *owner = ldns_dname_new_frm_data(r->name_len, r->name);
    ldns_rdf_type ft = rtype == DNS_TYPE_A      ? LDNS_RDF_TYPE_A
                       : rtype == DNS_TYPE_AAAA ? LDNS_RDF_TYPE_AAAA
                                                : LDNS_RDF_TYPE_DNAME;
    ldns_rdf *f = ldns_rdf_new_frm_data(ft, e->rdlen, policy_endpoint_rdata(e));
    if (!rr || !owner || !f)
        abort();
    ldns_rr_set_owner(rr, owner);
    ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
    ldns_rr_set_ttl(rr, r->ttl);
    ldns_rr_push_rdf(rr, f);
    return rr;
}

/* The RRSIGs of the answer as an RRSIG RRset (rdata malloc'ed); false
 * when ldns fails. */
static bool sign_make(const struct zone *z, const struct policy_record *r, uint16_t rtype,
                      const struct policy_endpoint *const *eps, uint16_t n, struct zone_rrset *out)
{
    ldns_rr_list *list = ldns_rr_list_new();
    if (!list)
        abort();
    for (uint16_t i = 0; i < n; i++)
        ldns_rr_list_push_rr(list, sign_rr(r, rtype, eps[i]));
    ldns_rr_list *sigs = ldns_sign_public(list, z->policy_keys);
    ldns_rr_list_deep_free(list);
    if (!sigs || ldns_rr_list_rr_count(sigs) == 0) {
        if (sigs)
            ldns_rr_list_deep_free(sigs);
        return false;
    }
    ldns_buffer *buf = ldns_buffer_new(1024);
    if (!buf)
        abort();
    size_t count = ldns_rr_list_rr_count(sigs);
    for (size_t i = 0; i < count; i++) {
        size_t at = ldns_buffer_position(buf);
        ldns_buffer_write_u16(buf, 0);
        if (ldns_rr_rdata2buffer_wire(buf, ldns_rr_list_rr(sigs, i)) != LDNS_STATUS_OK)
            abort();
        ldns_buffer_write_u16_at(buf, at, (uint16_t)(ldns_buffer_position(buf) - at - 2));
    }
    memset(out, 0, sizeof(*out));
    out->rdata_len = (uint32_t)ldns_buffer_position(buf);
    uint8_t *rd = malloc(out->rdata_len);
    if (!rd)
        abort();
    memcpy(rd, ldns_buffer_begin(buf), out->rdata_len);
    out->rdata = rd;
    out->ttl = r->ttl;
    out->type = DNS_TYPE_RRSIG;
    out->count = (uint16_t)count;
    ldns_buffer_free(buf);
    ldns_rr_list_deep_free(sigs);
    return true;
}

size_t policy_sigs_rdata(const struct policy_endpoint *const *eps, uint16_t n, uint8_t *buf)
{
    size_t o = 0;
    for (uint16_t i = 0; i < n; i++) {
        dns_put16(buf + o, eps[i]->rdlen);
        memcpy(buf + o + 2, policy_endpoint_rdata(eps[i]), eps[i]->rdlen);
        o += 2 + (size_t)eps[i]->rdlen;
    }
    return o;
}

/* Inserts a new entry in t (caller holds the lock and checked t->n). */
static void sign_table_insert(struct policy_sig_table *t, struct policy_sig_entry *e)
{
    size_t i = e->hash & (t->cap - 1);
    while (atomic_load_explicit(&t->slots[i], memory_order_relaxed))
        i = (i + 1) & (t->cap - 1);
    atomic_store_explicit(&t->slots[i], e, memory_order_release);
    t->n++;
}

enum sign_status { SIGN_HAVE = 0, SIGN_MADE, SIGN_FULL, SIGN_FAILED };

/* The entry of answer eps[0..n) of r in t, signed and inserted if new.
 * Caller holds the lock. */
static enum sign_status sign_one(struct policy_sigs *s, struct policy_sig_table *t,
                                 const struct policy_record *r, uint16_t rtype,
                                 const struct policy_endpoint *const *eps, uint16_t n,
                                 struct policy_sig_entry **found)
{
    uint8_t buf[POLICY_MAX_ANSWERS * 258];
    struct sign_item it[POLICY_MAX_ANSWERS];
    if (n == 0 || n > POLICY_MAX_ANSWERS)
        return SIGN_FAILED;
    size_t len = policy_sigs_rdata(eps, n, buf);
    if (!sign_items(buf, len, n, it, POLICY_MAX_ANSWERS))
        return SIGN_FAILED;
    uint64_t h = sign_hash_items(r->index, rtype, it, n);
    *found = (struct policy_sig_entry *)sign_table_find(t, h, r->index, rtype, it, n);
    if (*found)
        return SIGN_HAVE;
    if (t->n >= t->limit)
        return SIGN_FULL;
    struct policy_sig_entry *e = calloc(1, sizeof(*e));
    if (!e)
        abort();
    if (!sign_make(s->zones[r->index], r, rtype, eps, n, &e->sigs)) {
        free(e);
        return SIGN_FAILED;
    }
    e->hash = h;
    e->record = r->index;
    e->rtype = rtype;
    e->count = n;
    e->rdata = malloc(len);
    if (!e->rdata)
        abort();
    size_t o = 0;
    for (uint16_t i = 0; i < n; i++) { /* sorted */
        memcpy(e->rdata + o, it[i].p, 2 + (size_t)it[i].len);
        o += 2 + (size_t)it[i].len;
    }
    e->rdata_len = (uint32_t)o;
    sign_table_insert(t, e);
    atomic_fetch_add(&s->signatures, 1);
    *found = e;
    return SIGN_MADE;
}

bool policy_sigs_add(struct policy_sigs *s, const struct policy_record *r, uint16_t rtype,
                     const struct policy_endpoint *const *eps, uint16_t n)
{
    if (!policy_sigs_covers(s, r->index))
        return false;
    struct policy_sig_entry *e = NULL;
    pthread_mutex_lock(&s->lock);
    struct policy_sig_table *t = atomic_load_explicit(&s->table, memory_order_relaxed);
    enum sign_status st = sign_one(s, t, r, rtype, eps, n, &e);
    pthread_mutex_unlock(&s->lock);
    return st == SIGN_HAVE || st == SIGN_MADE;
}

void policy_sigs_stats(struct policy_sigs *s, struct policy_sigs_stats *out)
{
    pthread_mutex_lock(&s->lock);
    out->entries = atomic_load_explicit(&s->table, memory_order_relaxed)->n;
    pthread_mutex_unlock(&s->lock);
    out->signatures = atomic_load(&s->signatures);
    out->unsigned_answers = atomic_load(&s->unsigned_answers);
    out->requests_dropped = atomic_load(&s->requests_dropped);
}

/* ---- requests from the workers ---- */

void policy_sigs_set_wake(struct policy_sigs *s, struct health_service *signer)
{
    if (s)
        s->signer = signer;
}

void policy_sigs_request(struct policy_sigs *s, const struct policy_record *r, uint16_t rtype,
                         const struct policy_endpoint *const *eps, uint16_t n)
{
    if (!s || n == 0 || n > POLICY_MAX_ANSWERS)
        return;
    uint32_t i =
        atomic_fetch_add_explicit(&s->request_next, 1, memory_order_relaxed) % POLICY_SIGS_REQUESTS;
    struct policy_sig_request *q = &s->requests[i];
    uint32_t free_state = 0;
    if (!atomic_compare_exchange_strong_explicit(&q->state, &free_state, 1, memory_order_acquire,
                                                 memory_order_relaxed)) {
        atomic_fetch_add_explicit(&s->requests_dropped, 1, memory_order_relaxed);
        return;
    }
    q->record = r->index;
    q->rtype = rtype;
    q->n = n;
    memcpy(q->eps, eps, n * sizeof(eps[0]));
    /* Sequentially consistent with the signer's clearing of wake_pending
     * and its scan: a request either is seen by a scan under way or wakes
     * the signer again. */
    atomic_store(&q->state, 2);
    if (s->signer && !atomic_exchange(&s->wake_pending, true))
        health_service_kick(s->signer);
}

/* Signs what the workers asked for (caller holds the lock). */
static void sign_requests(struct policy_sigs *s, struct policy_sig_table *t, size_t *made,
                          bool *full)
{
    atomic_store(&s->wake_pending, false);
    for (size_t i = 0; i < POLICY_SIGS_REQUESTS; i++) {
        struct policy_sig_request *q = &s->requests[i];
        if (atomic_load(&q->state) != 2)
            continue;
        struct policy_sig_entry *e;
        if (!*full && q->record < s->n_records && s->zones[q->record]) {
            enum sign_status st =
                sign_one(s, t, gslb_rec(s->g, q->record), q->rtype, q->eps, q->n, &e);
            *made += st == SIGN_MADE;
            *full = *full || st == SIGN_FULL;
        }
        atomic_store_explicit(&q->state, 0, memory_order_release);
    }
}

/* ---- what a record can answer ---- */

struct sign_run {
    struct policy_sigs *s;
    struct policy_sig_table *t;
    size_t made;
    bool full;
};

static void sign_note(struct sign_run *x, enum sign_status st)
{
    if (st == SIGN_MADE)
        x->made++;
    else if (st == SIGN_FULL)
        x->full = true;
}

/* Every combination of `want` of the n candidates c (n <= 16). */
static void sign_combos(struct sign_run *x, const struct policy_record *r, uint16_t rtype,
                        const struct policy_endpoint *const *c, uint16_t n, uint16_t want)
{
    const struct policy_endpoint *pick[POLICY_MAX_ANSWERS];
    uint16_t idx[POLICY_MAX_ANSWERS];
    struct policy_sig_entry *e;
    for (uint16_t i = 0; i < want; i++)
        idx[i] = i;
    for (;;) {
        for (uint16_t i = 0; i < want; i++)
            pick[i] = c[idx[i]];
        sign_note(x, sign_one(x->s, x->t, r, rtype, pick, want, &e));
        int k = want - 1;
        while (k >= 0 && idx[k] == n - want + k)
            k--;
        if (k < 0 || x->full)
            return;
        idx[k]++;
        for (uint16_t i = (uint16_t)k + 1; i < want; i++)
            idx[i] = idx[i - 1] + 1;
    }
}

static uint64_t sign_binomial(unsigned n, unsigned k)
{
    uint64_t v = 1;
    for (unsigned i = 1; i <= k; i++)
        v = v * (n - k + i) / i;
    return v;
}

/* Every answer of r for rtype along ord in the current state. Returns the
 * "all candidates" entry (NULL if none). */
static struct policy_sig_entry *sign_order(struct sign_run *x, const struct policy_record *r,
                                           uint16_t rtype, struct policy_order ord)
{
    struct policy_client none = {0};
    struct policy_result all;
    struct policy_sig_entry *e = NULL, *head = NULL;
    policy_eval_all_order(x->s->g, r, rtype, ord, &none, &all);
    uint16_t n = all.n;
    if (n == 0)
        return NULL;
    if (rtype == DNS_TYPE_CNAME) {
        /* One CNAME per name: whichever candidate is selected first, the
         * fallback list's first included. */
        for (uint16_t i = 0; i < n && !x->full; i++) {
            sign_note(x, sign_one(x->s, x->t, r, rtype, &all.eps[i], 1, &e));
            head = head ? head : e;
        }
        return head;
    }
    sign_note(x, sign_one(x->s, x->t, r, rtype, all.eps, n, &head));
    if (all.outcome == POLICY_FALLBACK)
        return head; /* the fallback list is answered whole */
    enum policy_select sel = r->select;
    if (sel == SELECT_ALL && (r->policy == POLICY_WEIGHTED || all.n_spill > 0))
        sel = SELECT_WEIGHTED; /* as policy_eval's candidates step decides */
    uint16_t want = r->answers < POLICY_MAX_ANSWERS ? (uint16_t)r->answers : POLICY_MAX_ANSWERS;
    if (want == 0 || want >= n)
        return head;
    if (want == 1) {
        for (uint16_t i = 0; i < n && !x->full; i++)
            sign_note(x, sign_one(x->s, x->t, r, rtype, &all.eps[i], 1, &e));
    } else if (sel == SELECT_ALL) {
        /* a window of `want` from a rotating start */
        const struct policy_endpoint *w[POLICY_MAX_ANSWERS];
        for (uint16_t start = 0; start < n && !x->full; start++) {
            for (uint16_t i = 0; i < want; i++)
                w[i] = all.eps[(start + i) % n];
            sign_note(x, sign_one(x->s, x->t, r, rtype, w, want, &e));
        }
    } else if (sign_binomial(n, want) <= POLICY_SIGN_MAX_COMBOS)
        sign_combos(x, r, rtype, all.eps, n, want);
    return head ? head : e;
}

/* A latency record: any up endpoint can be the fastest from some vantage
 * point, so each alone is signed (the default single answer); larger sets
 * within a tolerance are signed on request (policy_sigs_request). */
static void sign_latency_singles(struct sign_run *x, const struct policy_record *r, uint16_t rtype)
{
    const struct policy_pool *p = &x->s->g->pools[r->pool];
    struct policy_sig_entry *e;
    for (size_t i = 0; i < p->n_eps && !x->full; i++) {
        const struct policy_endpoint *ep = &p->eps[i];
        if (ep->rtype == rtype && gslb_endpoint_state(x->s->g, ep, NULL) == HEALTH_UP)
            sign_note(x, sign_one(x->s, x->t, r, rtype, &ep, 1, &e));
    }
}

/* Every order r can use: its own, or each class of a geo or nearest
 * record (a latency record: its own, and each endpoint alone). */
static void sign_record(struct sign_run *x, const struct policy_record *r,
                        const struct policy_geo *geo)
{
    uint16_t rtype = r->rtype;
    struct policy_order own = {r->regions, (uint16_t)r->n_regions};
    struct policy_sig_entry *head = NULL;
    const struct policy_record_ext *rx = policy_ext_of(r);
    if (r->policy == POLICY_GEO && rx->geo_orders && rx->geo) {
        for (uint32_t c = 0; c <= rx->geo->n_keys && !x->full; c++) {
            struct policy_sig_entry *e = sign_order(x, r, rtype, rx->geo_orders[c]);
            if (c == geo_map_unknown_class(rx->geo) || !head)
                head = e ? e : head;
        }
    } else if (r->policy == POLICY_NEAREST) {
        const struct policy_geo_trie *t =
            geo && r->index < geo->n_recs ? geo->recs[r->index].t : NULL;
        head = sign_order(x, r, rtype, own); /* clients without coordinates */
        for (uint32_t c = 0; c < policy_geo_classes(t) && !x->full; c++)
            sign_order(x, r, rtype, policy_geo_order(r, t, c));
    } else {
        head = sign_order(x, r, rtype, own);
        if (r->policy == POLICY_LATENCY)
            sign_latency_singles(x, r, rtype);
    }
    if (head)
        atomic_store_explicit(&x->t->last[r->index], head, memory_order_release);
}

static void sign_all(struct sign_run *x, const struct policy_geo *geo)
{
    for (size_t i = 0; i < x->s->n_records && !x->full; i++)
        if (x->s->zones[i])
            sign_record(x, gslb_rec(x->s->g, i), geo);
}

size_t policy_sigs_update(struct policy_sigs *s, const struct policy_geo *geo,
                          struct policy_sigs_retired *retired)
{
    if (!s)
        return 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_mutex_lock(&s->lock);
    struct sign_run x = {.s = s, .t = atomic_load_explicit(&s->table, memory_order_relaxed)};
    sign_all(&x, geo);
    sign_requests(s, x.t, &x.made, &x.full);
    bool replaced = false;
    if (x.full) {
        /* The table holds answers of past states: start a new one with
         * the current state's, and let the old one go once unread. */
        struct policy_sig_table *old = x.t;
        x.t = sign_table_new(s->limit, s->n_records);
        x.full = false;
        sign_all(&x, geo);
        atomic_store_explicit(&s->table, x.t, memory_order_release);
        retired->t[retired->n++] = old;
        replaced = true;
        if (x.full && !s->full_logged) {
            s->full_logged = true;
            log_warn("event=policy_sign note=\"the answers of one state need more than %zu "
                     "signatures: some policy answers fall back to the signed answer of all "
                     "candidates\"",
                     s->limit);
        }
    }
    /* Read under the lock: another writer (policy_sigs_add) may insert
     * into the table as soon as it is released. */
    size_t entries = x.t->n;
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(&s->updates, 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (x.made || replaced)
        log_info("event=policy_sign signed=%zu entries=%zu new_table=%s ms=%.2f", x.made, entries,
                 replaced ? "yes" : "no",
                 (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    return x.made;
}
