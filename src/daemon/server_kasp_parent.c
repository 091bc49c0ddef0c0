/*
 * server_kasp_parent.c -- the key manager and the parent zone: during a
 * KSK rollover (zone_kasp_sched_parent_wanted), every parent.check_interval
 * each of the policy's parent.servers is asked for the zone's DS RRset
 * (UDP, no recursion, a 1 s deadline: xfr_fetch_exchange), and what they
 * hold for each KSK becomes the scheduler's struct zone_kasp_parent; with
 * parent.ds_push, a TSIG-signed RFC 2136 UPDATE to the parent's primary
 * adds the DS of the KSK the parent should have (zone_kasp_sched_parent_ksk)
 * while it is missing, and deletes the DS of an old KSK as soon as the new
 * one's DS is at every server (zone_kasp_sched_ds_unwanted; the old KSK
 * stays in the zone until its DS is gone) while one is still there,
 * retried with exponential backoff on a refusal or a time out
 * (check_interval doubled per failure, at most SERVER_KASP_PUSH_CAP_S).
 * Each try is logged, published as an event ("dnssec_ds_push") and
 * counted (gtmd_dnssec_ds_push_total); GET /v1/dnssec shows each zone's
 * "parent": what was seen, since when, and the push's tries.
 *
 * The parent zone (the zone section of the UPDATE) is the policy's
 * parent.zone, or else found as Knot finds it: the child's ancestors,
 * nearest first (zone_kasp_pname_up), are asked for their SOA at the
 * parent servers until one answers it with authority (AA) from its apex
 * (server_kasp_parent_find); found once per run and kept in the zone's
 * parent state, asked only with a ds_push (the name is the UPDATE's),
 * again a minute after a search that found none; until found, the name
 * less its first label is used, as the log's dnssec_parent_unknown line
 * says.
 *
 * The decisions run on the main thread under reload_lock (the key
 * manager's timer); the network does not: a step that wants the DS
 * checked or a push sent records it, and the next timer run (at once)
 * asks and sends before it takes the lock
 * (server_kasp_parent_fetch_take/_ask/_put), so the admin API and
 * reloads never wait on a parent (up to a second per server and name).
 *
 * Owns srv->kasp_parents (server_kasp_parent_free).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <ldns/ldns.h>

#include "common/addr.h"
#include "common/event_ring.h"
#include "common/log.h"
#include "daemon/server_int.h"
#include "dns/tsig_params.h"
#include "xfr/xfr_fetch.h"
#include "zone/zone_kasp.h"
#include "zone/zone_kasp_pname.h"
#include "zone/zone_kasp_sched.h"

#define SERVER_KASP_ASK_MS 1000     /* a parent server's answer: two UDP tries of 500 ms */
#define SERVER_KASP_PUSH_CAP_S 3600 /* the longest wait between two pushes */
#define SERVER_KASP_MAX_TRIES 10    /* the push tries status keeps */
#define SERVER_KASP_FIND_RETRY_S 60 /* a failed search for the parent zone, again after */

/* One server's answer to the DS query (server_kasp_parent_ask). */
struct server_kasp_got_one {
    char *server; /* owned */
    bool ok;
    char why[300];
    ldns_rr_list *ds; /* owned */
};

/* A DS push built under the lock, sent off it, and its outcome. */
struct server_kasp_push_job {
    bool wanted;                /* built, not sent yet */
    struct sockaddr_storage ss; /* the parent's primary */
    socklen_t sslen;
    struct tsig_key key; /* a copy (id NULL): the set may go meanwhile */
    bool has_key;
    uint8_t q[2048];
    size_t len;
    uint16_t tag;
    bool add;
    uint32_t check_interval; /* the backoff's base */
    int rcode;               /* the outcome: */
    char why[300];           /* "" on success */
};

/* One zone's answers, asked off the lock. */
struct server_kasp_got {
    char origin[256];
    bool asked;           /* the DS queries were wanted (else only the push) */
    bool find;            /* the parent's zone is to be found by asking (server_kasp_parent_find) */
    char parent[256];     /* found: its name, or "" */
    char parent_at[96];   /* the server that answered its SOA */
    char parent_why[300]; /* not found: why */
    int64_t at;           /* when the answers came (server_kasp_parent_fetch_put) */
    struct server_kasp_got_one v[ZONE_KASP_MAX_SERVERS];
    size_t n;
    struct server_kasp_push_job push; /* push.wanted: send it */
};

static void server_kasp_got_free(struct server_kasp_got *g)
{
    for (size_t i = 0; g && i < g->n; i++) {
        free(g->v[i].server);
        ldns_rr_list_deep_free(g->v[i].ds);
    }
    free(g);
}

/* One zone's parent state. Owned by srv->kasp_parents. */
struct server_kasp_pzone {
    char origin[256];
    struct zone_kasp_parent view;
    int64_t next_check;
    json_t *servers;        /* the last check, one object per server; owned */
    char waiting[300];      /* "waiting for the DS of KSK T at the parent since S", or "" */
    unsigned push_failures; /* in a row */
    int64_t push_next;      /* no push before */
    json_t *tries;          /* the last pushes, newest last; owned */
    /* The DS queries, asked off reload_lock (server_kasp_parent_fetch):
     * the step wants them (fetch_wanted, of these servers) and the next
     * timer run asks before it takes the lock; got[] their answers. */
    bool fetch_wanted;
    char *want[ZONE_KASP_MAX_SERVERS]; /* owned copies of parent.servers */
    size_t n_want;
    struct server_kasp_got *got;      /* owned; NULL: none yet */
    struct server_kasp_push_job push; /* push.wanted: to be sent by the next run */
    bool find_parent;                 /* no parent.zone: find it with the next answers */
    char parent[256];                 /* the parent's zone found by asking; "": not yet */
    char parent_why[300];             /* why the last search found none; "": none failed */
    int64_t parent_retry;             /* no search before (one found none) */
    bool overdue;                     /* a DS alarm (parent.ds_wait_warn) is raised: */
    bool overdue_old;                 /* an old DS stays (else a new DS is missing) */
    uint16_t overdue_tag;             /* that KSK's */
    int64_t overdue_since;            /* since when (the new KSK's Trdy; the old DS unwanted) */
};

struct server_kasp_parents {
    struct server_kasp_pzone *v;
    size_t n;
};

static struct server_kasp_pzone *server_kasp_pzone(struct server *srv, const char *origin)
{
    struct server_kasp_parents *ps = srv->kasp_parents;
    if (!ps && !(ps = srv->kasp_parents = calloc(1, sizeof(*ps))))
        abort();
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->v[i].origin, origin) == 0)
            return &ps->v[i];
    struct server_kasp_pzone *v = realloc(ps->v, (ps->n + 1) * sizeof(*v));
    if (!v)
        abort();
    ps->v = v;
    struct server_kasp_pzone *z = &v[ps->n++];
    memset(z, 0, sizeof(*z));
    snprintf(z->origin, sizeof(z->origin), "%s", origin);
    z->tries = json_array();
    return z;
}

void server_kasp_parent_free(struct server *srv)
{
    struct server_kasp_parents *ps = srv->kasp_parents;
    if (!ps)
        return;
    for (size_t i = 0; i < ps->n; i++) {
        json_decref(ps->v[i].servers);
        json_decref(ps->v[i].tries);
        for (size_t s = 0; s < ps->v[i].n_want; s++)
            free(ps->v[i].want[s]);
        server_kasp_got_free(ps->v[i].got);
    }
    free(ps->v);
    free(ps);
    srv->kasp_parents = NULL;
}

/* The DNSKEY of key k in the store dir (its .key file); NULL when it
 * cannot be read. The caller frees it. */
static ldns_rr *server_kasp_parent_dnskey(const char *dir, const struct zone_kasp_key *k)
{
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s.key", dir, k->base);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    ldns_rr *rr = NULL;
    if (ldns_rr_new_frm_fp(&rr, f, NULL, NULL, NULL) != LDNS_STATUS_OK)
        rr = NULL;
    fclose(f);
    return rr;
}

/* "ADDR:PORT" into an xfr_server (key may be NULL). */
static bool server_kasp_parent_addr(const char *s, struct sockaddr_storage *ss,
                                    struct xfr_server *out, const struct tsig_key *key)
{
    socklen_t len;
    if (addr_parse(s, ADDR_PORT_REQUIRED, ss, &len) != 0)
        return false;
    *out = (struct xfr_server){.addr = ss, .len = len, .key = key, .idle_ms = SERVER_KASP_ASK_MS};
    return true;
}

/* The DS records of r's answer owned by origin (the caller frees the
 * list): a DS of another name says nothing of ours. */
static ldns_rr_list *server_kasp_parent_owned(const ldns_pkt *r, const char *origin)
{
    ldns_rr_list *all = ldns_pkt_rr_list_by_type(r, LDNS_RR_TYPE_DS, LDNS_SECTION_ANSWER);
    ldns_rr_list *out = ldns_rr_list_new();
    ldns_rdf *owner = ldns_dname_new_frm_str(origin);
    for (size_t i = 0; out && owner && all && i < ldns_rr_list_rr_count(all); i++) {
        const ldns_rr *rr = ldns_rr_list_rr(all, i);
        if (ldns_dname_compare(ldns_rr_owner(rr), owner) == 0)
            ldns_rr_list_push_rr(out, ldns_rr_clone(rr));
    }
    ldns_rdf_deep_free(owner);
    ldns_rr_list_deep_free(all);
    return out;
}

/* Asks server s for name's RRset of type: *r its reply (the caller frees
 * it) with rcode NOERROR or NXDOMAIN; false with why otherwise. */
static bool server_kasp_parent_query(const char *s, const char *name, ldns_rr_type type,
                                     ldns_pkt **r, char *why, size_t whylen)
{
    struct sockaddr_storage ss;
    struct xfr_server xs;
    ldns_rdf *owner = ldns_dname_new_frm_str(name);
    ldns_pkt *q = owner ? ldns_pkt_query_new(owner, type, LDNS_RR_CLASS_IN, 0) : NULL;
    uint8_t *wire = NULL, buf[4096], qb[1024];
    size_t len = 0, rlen = 0;
    int rcode = -1;
    bool ok = false;
    uint16_t id;
    *r = NULL;
    if (getrandom(&id, sizeof(id), 0) != sizeof(id))
        id = (uint16_t)time(NULL);
    if (q)
        ldns_pkt_set_id(q, id);
    if (!q || ldns_pkt2wire(&wire, q, &len) != LDNS_STATUS_OK || len > sizeof(qb) ||
        !server_kasp_parent_addr(s, &ss, &xs, NULL))
        snprintf(why, whylen, "cannot build the query");
    else {
        memcpy(qb, wire, len);
        ok = xfr_fetch_exchange(&xs, qb, len, sizeof(qb), buf, sizeof(buf), &rlen, &rcode, why,
                                whylen);
    }
    free(wire);
    ldns_pkt_free(q);
    if (ok && rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
        const ldns_lookup_table *rc = ldns_lookup_by_id(ldns_rcodes, rcode);
        snprintf(why, whylen, "answered rcode %s", rc ? rc->name : "?");
        ok = false;
    } else if (ok && ldns_wire2pkt(r, buf, rlen) != LDNS_STATUS_OK) {
        snprintf(why, whylen, "an answer that does not parse");
        *r = NULL;
        ok = false;
    }
    return ok;
}

/* Asks server s for origin's DS RRset: *ds the DS records of its answer
 * (the caller frees it); false with why when it did not answer one. */
static bool server_kasp_parent_ask(const char *s, const char *origin, ldns_rr_list **ds, char *why,
                                   size_t whylen)
{
    ldns_pkt *r = NULL;
    *ds = NULL;
    bool ok = server_kasp_parent_query(s, origin, LDNS_RR_TYPE_DS, &r, why, whylen);
    if (ok)
        *ds = server_kasp_parent_owned(r, origin);
    ldns_pkt_free(r);
    return ok;
}

/* Whether reply r says, with authority, that name is a zone's apex: AA
 * set and an SOA owned by name in its answer. */
static bool server_kasp_parent_is_apex(const ldns_pkt *r, const char *name)
{
    if (!ldns_pkt_aa(r) || ldns_pkt_get_rcode(r) != LDNS_RCODE_NOERROR)
        return false;
    ldns_rr_list *soa = ldns_pkt_rr_list_by_type(r, LDNS_RR_TYPE_SOA, LDNS_SECTION_ANSWER);
    ldns_rdf *owner = ldns_dname_new_frm_str(name);
    bool apex = false;
    for (size_t i = 0; soa && owner && i < ldns_rr_list_rr_count(soa); i++)
        apex |= ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(soa, i)), owner) == 0;
    ldns_rdf_deep_free(owner);
    ldns_rr_list_deep_free(soa);
    return apex;
}

/* Finds g's parent zone (off the lock): each ancestor of g->origin,
 * nearest first, asked for its SOA at each of g's servers in turn; the
 * first whose SOA a server answers with authority is the parent (an
 * ancestor inside the parent's zone gets NODATA or NXDOMAIN; one a
 * server does not answer is asked of the next). At most one round of
 * SERVER_KASP_ASK_MS per server and ancestor. */
static void server_kasp_parent_find(struct server_kasp_got *g)
{
    char why[300] = "no parent server to ask";
    for (const char *n = zone_kasp_pname_up(g->origin); n; n = zone_kasp_pname_up(n)) {
        bool answered = false;
        for (size_t s = 0; s < g->n && !answered; s++) {
            ldns_pkt *r = NULL;
            answered =
                server_kasp_parent_query(g->v[s].server, n, LDNS_RR_TYPE_SOA, &r, why, sizeof(why));
            bool apex = answered && server_kasp_parent_is_apex(r, n);
            ldns_pkt_free(r);
            if (apex) {
                snprintf(g->parent, sizeof(g->parent), "%s", n);
                snprintf(g->parent_at, sizeof(g->parent_at), "%s", g->v[s].server);
                return;
            }
            if (answered)
                snprintf(why, sizeof(why), "%s is no zone's apex at %s", n, g->v[s].server);
        }
        if (!answered)
            break; /* no server answered for n: none would for the next */
    }
    snprintf(g->parent_why, sizeof(g->parent_why),
             "no parent server answered the SOA of an ancestor of %s with authority (last: %s)",
             g->origin, why);
}

/* Whether list holds a DS for dnskey. */
static bool server_kasp_parent_has(const ldns_rr_list *list, const ldns_rr *dnskey)
{
    for (size_t i = 0; list && dnskey && i < ldns_rr_list_rr_count(list); i++)
        if (ldns_rr_compare_ds(ldns_rr_list_rr(list, i), dnskey))
            return true;
    return false;
}

/* One check of every parent server: the view's entries for keys' KSKs. */
static void server_kasp_parent_check(struct server *srv, struct server_kasp_pzone *pz,
                                     const struct config_zone *z, const struct zone_kasp_policy *p,
                                     const struct zone_kasp_keys *keys, int64_t now)
{
    ldns_rr *pub[ZONE_KASP_MAX_KEYS] = {0};
    size_t have[ZONE_KASP_MAX_KEYS] = {0}, answered = 0;
    for (size_t i = 0; i < keys->n; i++)
        if (keys->v[i].ksk)
            pub[i] = server_kasp_parent_dnskey(z->dnssec.key_directory, &keys->v[i]);
    json_decref(pz->servers);
    pz->servers = json_array();
    for (size_t s = 0; s < p->n_servers; s++) {
        const struct server_kasp_got_one *g = &pz->got->v[s];
        const ldns_rr_list *ds = g->ds;
        const char *why = g->why;
        bool ok = g->ok;
        json_t *tags = json_array();
        for (size_t i = 0; ok && i < keys->n; i++)
            if (pub[i] && server_kasp_parent_has(ds, pub[i])) {
                have[i]++;
                json_array_append_new(tags, json_integer(keys->v[i].tag));
            }
        answered += ok;
        atomic_fetch_add(ok ? &srv->kasp_parent_ok : &srv->kasp_parent_failed, 1);
        json_array_append_new(pz->servers,
                              json_pack("{s:s, s:b, s:o, s:s?}", "server", p->servers[s],
                                        "answered", ok, "ds_for", tags, "error", ok ? NULL : why));
        if (!ok)
            log_warn("event=dnssec_parent_check zone=%s server=%s error=\"%s\"", z->origin,
                     p->servers[s], why);
    }
    struct zone_kasp_parent old = pz->view;
    pz->view.n = 0;
    pz->view.n_servers = p->n_servers;
    for (size_t i = 0; i < keys->n; i++) {
        if (!keys->v[i].ksk)
            continue;
        const struct zone_kasp_parent_ds *was = zone_kasp_parent_find(&old, &keys->v[i]);
        struct zone_kasp_parent_ds *d = &pz->view.v[pz->view.n++];
        d->tag = keys->v[i].tag;
        d->algorithm = keys->v[i].algorithm;
        d->checked = now;
        bool all = answered == p->n_servers && have[i] == p->n_servers && p->n_servers > 0;
        bool none = answered == p->n_servers && have[i] == 0;
        d->seen_since = all ? (was && was->seen_since >= 0 ? was->seen_since : now) : -1;
        d->gone_since = none ? (was && was->gone_since >= 0 ? was->gone_since : now) : -1;
        ldns_rr_free(pub[i]);
    }
}

/* The UPDATE for the parent zone called parent: the DS (digest
 * p->ds_digest) of dnskey added (add) or deleted; its wire in out, its
 * length returned (0 on failure). */
static size_t server_kasp_parent_update(const char *parent, const struct zone_kasp_policy *p,
                                        const ldns_rr *dnskey, bool add, uint8_t *out, size_t cap)
{
    ldns_rdf *zone = ldns_dname_new_frm_str(parent);
    ldns_rr *ds = ldns_key_rr2ds(dnskey, p->ds_digest == 4 ? LDNS_SHA384 : LDNS_SHA256);
    ldns_pkt *u = ldns_pkt_new();
    ldns_rr *zq = ldns_rr_new();
    size_t len = 0;
    uint8_t *wire = NULL;
    uint16_t id;
    if (!zone || !ds || !u || !zq) {
        ldns_rdf_deep_free(zone);
        ldns_rr_free(ds);
        ldns_rr_free(zq);
        ldns_pkt_free(u);
        return 0;
    }
    if (getrandom(&id, sizeof(id), 0) != sizeof(id))
        id = (uint16_t)time(NULL);
    ldns_pkt_set_id(u, id);
    ldns_pkt_set_opcode(u, LDNS_PACKET_UPDATE);
    ldns_rr_set_owner(zq, zone); /* the zone section: the parent's SOA, class IN */
    ldns_rr_set_type(zq, LDNS_RR_TYPE_SOA);
    ldns_rr_set_class(zq, LDNS_RR_CLASS_IN);
    ldns_rr_set_question(zq, true);
    ldns_pkt_push_rr(u, LDNS_SECTION_QUESTION, zq);
    /* RFC 2136 2.5.1 adds an RR; 2.5.4 deletes it: class NONE, TTL 0. */
    ldns_rr_set_ttl(ds, add ? p->timing.ttl_ds : 0);
    ldns_rr_set_class(ds, add ? LDNS_RR_CLASS_IN : LDNS_RR_CLASS_NONE);
    ldns_pkt_push_rr(u, LDNS_SECTION_AUTHORITY, ds);
    if (ldns_pkt2wire(&wire, u, &len) != LDNS_STATUS_OK || len > cap)
        len = 0;
    else
        memcpy(out, wire, len);
    free(wire);
    ldns_pkt_free(u);
    return len;
}

/* Records one push: its log line, event, counter and place in status. */
static void server_kasp_parent_note(struct server *srv, struct server_kasp_pzone *pz,
                                    const char *what, uint16_t tag, int rcode, bool ok,
                                    const char *why, int64_t now)
{
    const char *rc = rcode >= 0 ? ldns_lookup_by_id(ldns_rcodes, rcode)
                                      ? ldns_lookup_by_id(ldns_rcodes, rcode)->name
                                      : "?"
                                : "none";
    if (ok)
        log_info("event=dnssec_ds_push zone=%s action=%s tag=%u rcode=%s result=ok", pz->origin,
                 what, tag, rc);
    else
        log_warn("event=dnssec_ds_push zone=%s action=%s tag=%u rcode=%s result=failed "
                 "failures=%u why=\"%s\"",
                 pz->origin, what, tag, rc, pz->push_failures, why);
    atomic_fetch_add(ok ? &srv->kasp_ds_push_ok : &srv->kasp_ds_push_failed, 1);
    json_t *t = json_pack("{s:s, s:s, s:i, s:s, s:b, s:s, s:I}", "zone", pz->origin, "action", what,
                          "tag", tag, "rcode", rc, "ok", ok, "why", why, "at", (json_int_t)now);
    event_ring_push(srv->health.events, "dnssec_ds_push", json_deep_copy(t));
    json_array_append_new(pz->tries, t);
    while (json_array_size(pz->tries) > SERVER_KASP_MAX_TRIES)
        json_array_remove(pz->tries, 0);
}

/* Whether the reply in buf parses whole: a NOERROR header in front of
 * garbage is no acknowledgement. */
static bool server_kasp_parent_parses(const uint8_t *buf, size_t len)
{
    ldns_pkt *r = NULL;
    bool ok = ldns_wire2pkt(&r, buf, len) == LDNS_STATUS_OK;
    ldns_pkt_free(r);
    return ok;
}

static void server_kasp_parent_push_done(struct server *srv, struct server_kasp_pzone *pz,
                                         const struct server_kasp_push_job *j, int64_t now);

/* One push of k's DS (add or delete) to the parent's primary: built here
 * (under reload_lock), sent by the next timer run off it
 * (server_kasp_parent_fetch_ask), its outcome taken by _fetch_put. */
static void server_kasp_parent_push(struct server *srv, struct server_kasp_pzone *pz,
                                    const struct config_zone *z, const struct zone_kasp_policy *p,
                                    const struct zone_kasp_key *k, bool add, int64_t now)
{
    /* The keys live in the served set (the loader moves them there); it
     * is not freed while reload_lock is held. */
    const struct serve_set *cur = atomic_load(&srv->serve.current);
    const struct tsig_key *key =
        p->ds_push_key && cur ? tsig_keyring_by_id(&cur->tsig, p->ds_push_key) : NULL;
    struct server_kasp_push_job *j = &pz->push;
    struct xfr_server xs = {0};
    memset(j, 0, sizeof(*j));
    j->tag = k->tag;
    j->add = add;
    j->check_interval = p->check_interval;
    j->rcode = -1;
    /* Not found (yet): the name less its first label, as before. */
    const char *parent = p->parent_zone                  ? p->parent_zone
                         : pz->parent[0]                 ? pz->parent
                         : zone_kasp_pname_up(z->origin) ? zone_kasp_pname_up(z->origin)
                                                         : ".";
    ldns_rr *pub = server_kasp_parent_dnskey(z->dnssec.key_directory, k);
    if (pub && server_kasp_parent_addr(p->ds_push_primary, &j->ss, &xs, key) &&
        (key || !p->ds_push_key))
        j->len = server_kasp_parent_update(parent, p, pub, add, j->q, sizeof(j->q));
    ldns_rr_free(pub);
    if (j->len) {
        j->sslen = xs.len;
        j->has_key = key != NULL;
        if (key)
            j->key = *key;
        j->key.id = NULL;
        j->wanted = true; /* sent by the next run, off reload_lock */
        return;
    }
    snprintf(j->why, sizeof(j->why), "cannot build the update (%s)",
             p->ds_push_key && !key ? "its TSIG key is not loaded" : "the key's .key file?");
    server_kasp_parent_push_done(srv, pz, j, now);
}

/* Sends job j (off the lock); its outcome in j->rcode and j->why. */
static void server_kasp_parent_push_send(struct server_kasp_push_job *j)
{
    struct xfr_server xs = {.addr = &j->ss,
                            .len = j->sslen,
                            .key = j->has_key ? &j->key : NULL,
                            .idle_ms = SERVER_KASP_ASK_MS};
    uint8_t buf[4096];
    size_t rlen = 0;
    j->why[0] = '\0';
    if (xfr_fetch_exchange(&xs, j->q, j->len, sizeof(j->q), buf, sizeof(buf), &rlen, &j->rcode,
                           j->why, sizeof(j->why)) &&
        j->rcode != LDNS_RCODE_NOERROR)
        snprintf(j->why, sizeof(j->why), "the parent's primary refused the update");
    else if (j->rcode == LDNS_RCODE_NOERROR && j->why[0] == '\0' &&
             !server_kasp_parent_parses(buf, rlen))
        snprintf(j->why, sizeof(j->why),
                 "the parent's primary answered a reply that does not parse");
}

/* The outcome of push j: the backoff, its log line, event and count. */
static void server_kasp_parent_push_done(struct server *srv, struct server_kasp_pzone *pz,
                                         const struct server_kasp_push_job *j, int64_t now)
{
    bool ok = j->len && j->rcode == LDNS_RCODE_NOERROR && j->why[0] == '\0';
    uint32_t ci = j->check_interval;
    pz->push.wanted = false;
    if (ok) {
        pz->push_failures = 0;
        pz->push_next = now + ci;
    } else {
        /* check_interval, doubled per failure in a row, capped. */
        unsigned sh = pz->push_failures < 16 ? pz->push_failures : 16;
        int64_t wait = (int64_t)ci << sh;
        pz->push_failures++;
        pz->push_next = now + (wait < SERVER_KASP_PUSH_CAP_S ? wait : SERVER_KASP_PUSH_CAP_S);
    }
    server_kasp_parent_note(srv, pz, j->add ? "add" : "delete", j->tag, j->rcode, ok, j->why, now);
}

/* The push due at now, if any: the wanted KSK's DS while it is not at
 * every server, else an unwanted DS (an old KSK's once the new DS is at
 * every server, a given-up KSK's) while one server has it. */
static void server_kasp_parent_pushes(struct server *srv, struct server_kasp_pzone *pz,
                                      const struct config_zone *z, const struct zone_kasp_policy *p,
                                      const struct zone_kasp_keys *keys, int64_t now)
{
    if (!p->ds_push_primary || now < pz->push_next || pz->push.wanted)
        return;
    int want = zone_kasp_sched_parent_ksk(keys, now);
    const struct zone_kasp_parent_ds *d =
        want >= 0 ? zone_kasp_parent_find(&pz->view, &keys->v[want]) : NULL;
    if (want >= 0 && d && d->seen_since < 0) {
        server_kasp_parent_push(srv, pz, z, p, &keys->v[want], true, now);
        return;
    }
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        d = zone_kasp_parent_find(&pz->view, k);
        if (zone_kasp_sched_ds_unwanted(k, now) && d && d->gone_since < 0) {
            server_kasp_parent_push(srv, pz, z, p, k, false, now);
            return;
        }
    }
}

/* What a DS alarm says (status "ds_overdue.what", the log's what=). */
static const char *server_kasp_parent_alarm_what(bool old)
{
    return old ? "old DS still at parent" : "new DS not at parent";
}

/* Sets or clears the DS alarm (policy parent.ds_wait_warn, Knot's
 * KSK-submission warning): a KSK ready and waiting for its DS that long,
 * or an old KSK whose DS is still at a parent server that long after its
 * delete was due (it stays in the zone meanwhile), is logged and
 * published as an event once per KSK, shown in status ("ds_overdue") and
 * counted in the gauge gtmd_dnssec_ds_overdue_zones while it lasts. */
static void server_kasp_parent_alarm(struct server *srv, struct server_kasp_pzone *pz,
                                     const struct zone_kasp_policy *p,
                                     const struct zone_kasp_keys *keys, int64_t now)
{
    int64_t since = -1;
    int k = p ? zone_kasp_sched_ds_overdue(keys, now, p->ds_wait_warn, &since) : -1;
    bool old = false;
    if (k < 0 && p) {
        k = zone_kasp_sched_ds_stale(keys, now, p->ds_wait_warn, &since);
        old = k >= 0;
    }
    if (k < 0) {
        if (pz->overdue)
            atomic_fetch_sub(&srv->kasp_ds_overdue, 1);
        pz->overdue = false;
        return;
    }
    if (pz->overdue && pz->overdue_tag == keys->v[k].tag && pz->overdue_old == old)
        return;
    if (!pz->overdue)
        atomic_fetch_add(&srv->kasp_ds_overdue, 1);
    pz->overdue = true;
    pz->overdue_old = old;
    pz->overdue_tag = keys->v[k].tag;
    pz->overdue_since = since;
    const char *what = server_kasp_parent_alarm_what(old);
    log_warn("event=dnssec_ds_overdue zone=%s tag=%u what=\"%s\" waiting_since=%lld waited=%lld "
             "bound=%u",
             pz->origin, keys->v[k].tag, what, (long long)since, (long long)(now - since),
             p->ds_wait_warn);
    event_ring_push(srv->health.events, "dnssec_ds_overdue",
                    json_pack("{s:s, s:i, s:s, s:I, s:I, s:i}", "zone", pz->origin, "tag",
                              keys->v[k].tag, "what", what, "waiting_since", (json_int_t)since,
                              "waited_s", (json_int_t)(now - since), "bound_s",
                              (int)p->ds_wait_warn));
}

/* The line status shows while a successor KSK waits for its DS, or an
 * old KSK for its DS to leave the parent. */
static void server_kasp_parent_waiting(struct server_kasp_pzone *pz,
                                       const struct zone_kasp_keys *keys, int64_t now)
{
    pz->waiting[0] = '\0';
    int64_t since;
    int o = zone_kasp_sched_ds_leaving(keys, now, &since);
    if (o >= 0) {
        snprintf(pz->waiting, sizeof(pz->waiting),
                 "waiting since %lld for the old DS of KSK %u to leave every one of %zu parent "
                 "servers (delete pushed with ds_push); KSK %u stays in the zone until then",
                 (long long)since, keys->v[o].tag, pz->view.n_servers, keys->v[o].tag);
        return;
    }
    int s = zone_kasp_sched_ksk_successor(keys, now);
    if (s < 0 || keys->v[s].t[ZONE_KASP_T_ACTIVE] >= 0 || keys->v[s].t[ZONE_KASP_T_READY] > now)
        return;
    snprintf(pz->waiting, sizeof(pz->waiting),
             "waiting for DS at parent since %lld: the DS of KSK %u, at every one of %zu parent "
             "servers",
             (long long)keys->v[s].t[ZONE_KASP_T_READY], keys->v[s].tag, pz->view.n_servers);
    const struct zone_kasp_parent_ds *d = zone_kasp_parent_find(&pz->view, &keys->v[s]);
    if (d && d->seen_since >= 0)
        snprintf(pz->waiting, sizeof(pz->waiting),
                 "the DS of KSK %u is at every parent server since %lld", keys->v[s].tag,
                 (long long)d->seen_since);
}

/* Whether pz holds fresh answers of p's servers, in order (a reload may
 * have changed them since they were asked; answers left from a rollover
 * that ended are not this one's). */
static bool server_kasp_parent_got_ok(const struct server_kasp_pzone *pz,
                                      const struct zone_kasp_policy *p, int64_t now)
{
    if (!pz->got || pz->got->n != p->n_servers || now - pz->got->at > 2)
        return false;
    for (size_t s = 0; s < p->n_servers; s++)
        if (strcmp(pz->got->v[s].server, p->servers[s]) != 0)
            return false;
    return true;
}

/* Asks the next timer run for p's servers' answers. */
static void server_kasp_parent_want(struct server_kasp_pzone *pz, const struct zone_kasp_policy *p,
                                    int64_t now)
{
    for (size_t s = 0; s < pz->n_want; s++)
        free(pz->want[s]);
    pz->n_want = 0;
    for (size_t s = 0; s < p->n_servers && s < ZONE_KASP_MAX_SERVERS; s++)
        if ((pz->want[pz->n_want] = strdup(p->servers[s])))
            pz->n_want++;
    pz->fetch_wanted = true;
    pz->find_parent =
        p->ds_push_primary && !p->parent_zone && !pz->parent[0] && now >= pz->parent_retry;
}

struct server_kasp_fetch {
    struct server_kasp_got **v; /* one per zone that wants answers; owned */
    size_t n;
};

struct server_kasp_fetch *server_kasp_parent_fetch_take(struct server *srv)
{
    struct server_kasp_parents *ps = srv->kasp_parents;
    struct server_kasp_fetch *f = calloc(1, sizeof(*f));
    if (!f || (ps && ps->n && !(f->v = calloc(ps->n, sizeof(*f->v)))))
        abort();
    for (size_t i = 0; ps && i < ps->n; i++) {
        struct server_kasp_pzone *pz = &ps->v[i];
        if (!pz->fetch_wanted && !pz->push.wanted)
            continue;
        struct server_kasp_got *g = calloc(1, sizeof(*g));
        if (!g)
            abort();
        snprintf(g->origin, sizeof(g->origin), "%s", pz->origin);
        g->asked = pz->fetch_wanted;
        g->find = pz->fetch_wanted && pz->find_parent;
        for (size_t s = 0; pz->fetch_wanted && s < pz->n_want; s++)
            g->v[g->n++].server = pz->want[s]; /* moved */
        pz->n_want = 0;
        pz->fetch_wanted = false;
        g->push = pz->push; /* pz->push.wanted stays: no second push meanwhile */
        f->v[f->n++] = g;
    }
    return f;
}

void server_kasp_parent_fetch_ask(struct server_kasp_fetch *f)
{
    for (size_t i = 0; f && i < f->n; i++)
        for (size_t s = 0; s < f->v[i]->n; s++) {
            struct server_kasp_got_one *o = &f->v[i]->v[s];
            o->ok =
                server_kasp_parent_ask(o->server, f->v[i]->origin, &o->ds, o->why, sizeof(o->why));
        }
    for (size_t i = 0; f && i < f->n; i++) {
        /* Only when a server answered the DS query: one that did not would
         * not answer the SOA either, and the check waits on the search. */
        struct server_kasp_got *g = f->v[i];
        bool answered = false;
        for (size_t s = 0; s < g->n; s++)
            answered |= g->v[s].ok;
        g->find = g->find && answered;
        if (g->find)
            server_kasp_parent_find(g);
    }
    for (size_t i = 0; f && i < f->n; i++)
        if (f->v[i]->push.wanted)
            server_kasp_parent_push_send(&f->v[i]->push);
}

/* What g's search for the parent zone found, into pz (logged once). */
static void server_kasp_parent_found(struct server_kasp_pzone *pz, const struct server_kasp_got *g,
                                     int64_t now)
{
    if (!g->find)
        return;
    if (g->parent[0] && !pz->parent[0])
        log_info("event=dnssec_parent_found zone=%s parent=%s server=%s", pz->origin, g->parent,
                 g->parent_at);
    else if (!g->parent[0] && strcmp(pz->parent_why, g->parent_why) != 0)
        log_warn("event=dnssec_parent_unknown zone=%s retry_s=%d why=\"%s\"", pz->origin,
                 SERVER_KASP_FIND_RETRY_S, g->parent_why);
    if (!g->parent[0])
        pz->parent_retry = now + SERVER_KASP_FIND_RETRY_S;
    snprintf(pz->parent, sizeof(pz->parent), "%s", g->parent);
    snprintf(pz->parent_why, sizeof(pz->parent_why), "%s", g->parent_why);
}

void server_kasp_parent_fetch_put(struct server *srv, struct server_kasp_fetch *f)
{
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; f && i < f->n; i++) {
        struct server_kasp_got *g = f->v[i];
        struct server_kasp_pzone *pz = server_kasp_pzone(srv, g->origin);
        if (g->push.wanted)
            server_kasp_parent_push_done(srv, pz, &g->push, now);
        server_kasp_parent_found(pz, g, now);
        if (!g->asked) {
            server_kasp_got_free(g);
            continue;
        }
        g->at = now;
        server_kasp_got_free(pz->got);
        pz->got = g;
    }
    if (f)
        free(f->v);
    free(f);
}

int64_t server_kasp_parent_step(struct server *srv, const struct config_zone *z,
                                const struct zone_kasp_policy *p, const struct zone_kasp_keys *keys,
                                int64_t now, const struct zone_kasp_parent **view)
{
    struct server_kasp_pzone *pz = server_kasp_pzone(srv, z->origin);
    *view = &pz->view;
    pz->view.n_servers = p->n_servers;
    if (!zone_kasp_sched_parent_wanted(keys, now) || p->n_servers == 0) {
        pz->waiting[0] = '\0';
        server_kasp_parent_alarm(srv, pz, NULL, keys, now);
        return -1;
    }
    bool asked = false;
    if (now >= pz->next_check && server_kasp_parent_got_ok(pz, p, now)) {
        server_kasp_parent_check(srv, pz, z, p, keys, now);
        server_kasp_got_free(pz->got);
        pz->got = NULL;
        pz->next_check = now + p->check_interval;
        server_kasp_parent_pushes(srv, pz, z, p, keys, now);
    } else if (now >= pz->next_check) {
        server_kasp_parent_want(pz, p, now);
        asked = true;
    }
    server_kasp_parent_waiting(pz, keys, now);
    server_kasp_parent_alarm(srv, pz, p, keys, now);
    int64_t wake = asked || pz->push.wanted ? now : pz->next_check;
    if (p->ds_push_primary && pz->push_next > now && pz->push_next < wake)
        wake = pz->push_next;
    return wake;
}

int64_t server_kasp_parent_after(struct server *srv, const struct config_zone *z,
                                 const struct zone_kasp_policy *p,
                                 const struct zone_kasp_keys *keys, int64_t now)
{
    struct server_kasp_pzone *pz = server_kasp_pzone(srv, z->origin);
    if (p->n_servers == 0 || pz->view.n == 0 || !zone_kasp_sched_parent_wanted(keys, now))
        return -1; /* never checked (the first check pushes what is due), or nothing to watch */
    /* The view is the last check's (at most check_interval old): a
     * delete of a DS that has gone meanwhile is a no-op at the parent
     * (RFC 2136 2.5.4). */
    server_kasp_parent_pushes(srv, pz, z, p, keys, now);
    server_kasp_parent_waiting(pz, keys, now);
    return pz->push.wanted ? now : -1;
}

void server_kasp_parent_decorate(struct server *srv, json_t *view)
{
    struct server_kasp_parents *ps = srv->kasp_parents;
    size_t i;
    json_t *z;
    json_array_foreach(json_object_get(view, "zones"), i, z)
    {
        const char *o = json_string_value(json_object_get(z, "zone"));
        for (size_t k = 0; ps && o && k < ps->n; k++) {
            struct server_kasp_pzone *pz = &ps->v[k];
            if (strcmp(pz->origin, o) != 0)
                continue;
            json_t *ds = json_array();
            for (size_t d = 0; d < pz->view.n; d++) {
                const struct zone_kasp_parent_ds *e = &pz->view.v[d];
                json_array_append_new(
                    ds, json_pack("{s:i, s:i, s:b, s:I, s:I, s:I}", "tag", e->tag, "algorithm",
                                  e->algorithm, "at_every_server", e->seen_since >= 0, "seen_since",
                                  (json_int_t)e->seen_since, "gone_since",
                                  (json_int_t)e->gone_since, "checked", (json_int_t)e->checked));
            }
            json_t *od = pz->overdue
                             ? json_pack("{s:i, s:I, s:s}", "tag", pz->overdue_tag, "waiting_since",
                                         (json_int_t)pz->overdue_since, "what",
                                         server_kasp_parent_alarm_what(pz->overdue_old))
                             : json_null();
            json_object_set_new(
                z, "parent",
                json_pack("{s:s?, s:s?, s:o, s:o, s:O?, s:I, s:{s:I, s:I, s:O}}", "waiting",
                          pz->waiting[0] ? pz->waiting : NULL, "zone_found",
                          pz->parent[0] ? pz->parent : NULL, "ds_overdue", od, "ds", ds, "servers",
                          pz->servers, "next_check", (json_int_t)pz->next_check, "ds_push",
                          "failures_in_row", (json_int_t)pz->push_failures, "next_try",
                          (json_int_t)pz->push_next, "tries", pz->tries));
        }
    }
}
