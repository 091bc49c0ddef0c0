/*
 * admin_overrides.c -- GET/POST /v1/overrides, GET/DELETE /v1/overrides/ID.
 *
 * A new override is first evaluated as a dry run over every policy record
 * (policy_eval with an overlay, nothing published): the records whose
 * answer would change are listed, and a change that would leave a record
 * that is served now with no serving region is refused (409) unless
 * "force" is true.
 */
#include <event2/http.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin_int.h"
#include "admin/admin_request.h"
#include "admin/admin_view.h"
#include "common/deadline.h"
#include "dns/dns.h"
#include "dns/rrtype.h"
#include "health/override.h"
#include "health/service.h"
#include "health/shared_store.h"
#include "policy/policy.h"
#include "policy/policy_eval.h"
#include "policy/policy_geo.h"

/* Finds the slot a target names in the live policy set; NULL if unknown. */
static const struct health_slot *ovr_target_slot(const struct gslb *g, const char *target)
{
    for (size_t i = 0; g && i < g->n_regions; i++)
        if (g->regions[i].slot && strcmp(g->regions[i].slot->key, target) == 0)
            return g->regions[i].slot;
    for (size_t i = 0; g && i < g->n_azs; i++)
        if (g->azs[i].slot && strcmp(g->azs[i].slot->key, target) == 0)
            return g->azs[i].slot;
    for (size_t i = 0; g && i < g->n_pools; i++)
        for (size_t k = 0; k < g->pools[i].n_eps; k++)
            if (g->pools[i].eps[k].slot && strcmp(g->pools[i].eps[k].slot->key, target) == 0)
                return g->pools[i].eps[k].slot;
    return NULL;
}

/* Evaluates r for type t with every candidate selected (deterministic),
 * along order when not NULL (one class of a geo or nearest record). */
static void ovr_eval(const struct gslb *g, const struct policy_record *r, uint16_t t,
                     const struct policy_overlay *ov, const struct policy_order *order,
                     struct policy_result *res)
{
    struct policy_client c = {.addr = NULL, .ecs = NULL, .overlay = ov};
    if (order)
        policy_eval_all_order(g, r, t, *order, &c, res);
    else
        policy_eval_all(g, r, t, &c, res);
}

static json_t *ovr_result_json(const struct gslb *g, const struct policy_result *res)
{
    json_t *eps = json_array();
    for (uint16_t i = 0; i < res->n; i++)
        json_array_append_new(eps, json_string(admin_view_answer(res->eps[i])));
    return json_pack(
        "{s:s, s:s?, s:o}", "outcome", policy_outcome_name(res->outcome), "serving_region",
        res->serving_region >= 0 ? g->regions[res->serving_region].name : NULL, "answers", eps);
}

/* Which clients a class of a geo or nearest record stands for. */
static void ovr_class_label(const struct gslb *g, const struct policy_record *r, uint32_t cls,
                            struct policy_order o, char *buf, size_t len)
{
    if (policy_uses_map(r))
        snprintf(buf, len, "%s",
                 cls >= policy_ext_of(r)->geo->n_keys
                     ? "unknown location"
                     : geo_map_class_key(policy_ext_of(r)->geo, cls)->text);
    else if (cls == GEO_NEAREST_NO_COORDS)
        snprintf(buf, len, "no coordinates");
    else
        snprintf(buf, len, "nearest to %s", o.n ? g->regions[o.regions[0]].name : "-");
}

/* Adds one change of record r, type tname (clients: NULL, or the class
 * label, merged into an equal change already listed for r). */
static void ovr_add_change(const struct gslb *g, const struct policy_record *r, const char *tname,
                           const char *clients, const struct policy_result *before,
                           const struct policy_result *after, json_t *changes, json_t *blocked)
{
    json_t *b = ovr_result_json(g, before), *a = ovr_result_json(g, after);
    size_t i;
    json_t *c;
    json_array_foreach(changes, i, c)
    {
        json_t *cl = json_object_get(c, "clients");
        if (!clients || !json_is_array(cl) ||
            strcmp(json_string_value(json_object_get(c, "record")), r->name_str) != 0 ||
            strcmp(json_string_value(json_object_get(c, "type")), tname) != 0 ||
            !json_equal(json_object_get(c, "before"), b) ||
            !json_equal(json_object_get(c, "after"), a))
            continue;
        bool seen = false;
        for (size_t k = 0; k < json_array_size(cl) && !seen; k++)
            seen = strcmp(json_string_value(json_array_get(cl, k)), clients) == 0;
        if (!seen)
            json_array_append_new(cl, json_string(clients));
        json_decref(a);
        json_decref(b);
        return;
    }
    json_t *e = json_pack("{s:s, s:s, s:o, s:o}", "record", r->name_str, "type", tname, "before", b,
                          "after", a);
    if (clients)
        json_object_set_new(e, "clients", json_pack("[s]", clients));
    json_array_append_new(changes, e);
    bool listed = false;
    json_array_foreach(blocked, i, c) listed =
        listed || (strcmp(json_string_value(json_object_get(c, "record")), r->name_str) == 0 &&
                   strcmp(json_string_value(json_object_get(c, "type")), tname) == 0);
    if (before->outcome == POLICY_SERVED && after->outcome != POLICY_SERVED && !listed)
        json_array_append_new(blocked,
                              json_pack("{s:s, s:s}", "record", r->name_str, "type", tname));
}

/* Compares r's answers for type t with and without ov, for every class of
 * a geo or nearest record (t: its compiled trie) or once for the others. */
static void ovr_record_changes(const struct gslb *g, const struct policy_record *r,
                               const struct policy_geo_trie *t, uint16_t type,
                               const struct policy_overlay *ov, json_t *changes, json_t *blocked)
{
    uint32_t n = t ? policy_geo_classes(t) : 1;
    for (uint32_t cls = 0; cls < n; cls++) {
        struct policy_order o = t ? policy_geo_order(r, t, cls) : (struct policy_order){0};
        struct policy_result before, after;
        ovr_eval(g, r, type, NULL, t ? &o : NULL, &before);
        if (before.n == 0 && before.outcome != POLICY_EMPTY)
            continue; /* the pool has no endpoint of this type */
        ovr_eval(g, r, type, ov, t ? &o : NULL, &after);
        if (policy_result_same(&before, &after))
            continue;
        char label[128];
        if (t)
            ovr_class_label(g, r, cls, o, label, sizeof(label));
        ovr_add_change(g, r, dns_type_name(type), t ? label : NULL, &before, &after, changes,
                       blocked);
    }
}

/* Lists the records whose answers change under ov (geo and nearest
 * records: per class, equal changes merged, with the clients they
 * concern); *blocked lists the ones served now that would be left with no
 * serving region for some clients. */
static json_t *ovr_changes(const struct serve_set *s, const struct policy_overlay *ov,
                           json_t *blocked)
{
    static const uint16_t types[3] = {DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_CNAME};
    const struct gslb *g = s->gslb;
    json_t *changes = json_array();
    for (size_t i = 0; g && i < g->n_records; i++) {
        const struct policy_record *r = gslb_rec(g, i);
        const struct policy_geo_trie *t = s->geo && i < s->geo->n_recs ? s->geo->recs[i].t : NULL;
        for (int k = 0; k < 3; k++)
            ovr_record_changes(g, r, t, types[k], ov, changes, blocked);
    }
    return changes;
}

/* A dial moves only its share of the clients of each change: says so in
 * each ("moved_percent"; a full override moves all of them). */
static void ovr_mark_share(json_t *changes, uint16_t share)
{
    size_t i;
    json_t *c;
    json_array_foreach(changes, i, c)
        json_object_set_new(c, "moved_percent", json_real(share / 100.0));
}

void admin_refuse_unsafe(struct admin_req *r, json_t *blocked, const char *what)
{
    char msg[200];
    snprintf(msg, sizeof(msg),
             "the %s would leave policy records with no serving region; repeat with "
             "\"force\": true to apply it anyway",
             what);
    json_t *err = json_pack("{s:{s:s, s:s, s:O}}", "error", "code", "unsafe", "message", msg,
                            "records", blocked);
    admin_audit(r, 409, json_incref(blocked));
    json_decref(blocked);
    admin_reply_json(r, 409, err);
}

static void ovr_refuse_full(struct admin_req *r)
{
    /* There may be more than max_overrides: a reload may have lowered it. */
    size_t n = override_count(r->a->env.health), max = override_max(r->a->env.health);
    if (n <= max)
        admin_reply_error(r, 409, "too_many_overrides",
                          "gtmd already holds %zu overrides, the most max_overrides allows; "
                          "delete one first",
                          max);
    else
        admin_reply_error(r, 409, "too_many_overrides",
                          "gtmd holds %zu overrides, more than max_overrides (%zu, lowered by a "
                          "reload); delete %zu first",
                          n, max, n - max + 1);
    admin_audit(r, 409, NULL);
}

/* The 201 of a created override (answered once it is on disk). Steals
 * changes. */
static void ovr_reply_created(struct admin_req *r, const char *id, json_t *changes)
{
    json_t *o = override_get_json(r->a->env.health, id);
    if (!o) /* already expired (a tiny expires_in), or removed by another node meanwhile */
        o = json_pack("{s:s}", "id", id);
    json_object_set_new(o, "changes", changes);
    /* Answered (and audited) once the override is on disk; the admin
     * thread serves other requests meanwhile (admin_defer.c). */
    admin_defer_reply(r, 201, o, json_pack("{s:s}", "id", id));
}

/* A POST waiting for the shared store (admin_store.c). */
struct ovr_post_ctx {
    struct admin_override_req req; /* strings borrowed from the call's body */
    json_t *changes;
    int attempt;
    double deadline; /* the first attempt's: a retry does not extend it */
};

static void ovr_post_ctx_free(void *arg)
{
    struct ovr_post_ctx *x = arg;
    json_decref(x->changes);
    free(x);
}

static void ovr_post_once(struct admin_req *r, const struct admin_override_req *req, int attempt,
                          double deadline);

/* Admin thread: the store answered a create. A conflict (another node
 * changed the overrides since the decision) decides again on the new
 * state, up to five times. */
static void ovr_post_done(struct admin_store_call *c)
{
    struct ovr_post_ctx *x = c->ctx;
    if (c->st == SHARED_OK) {
        ovr_reply_created(&c->r, c->id, x->changes);
        x->changes = NULL;
    } else if (c->st == SHARED_CONFLICT && x->attempt < 4 && deadline_mono() < x->deadline)
        ovr_post_once(&c->r, &x->req, x->attempt + 1, x->deadline);
    else
        admin_fleet_reply_store_error(
            &c->r, c->st,
            c->st == SHARED_CONFLICT ? "the fleet's overrides kept changing; try again" : c->err);
    ovr_post_ctx_free(x);
}

/* Hands the override to the fleet's shared store (etcd); the reply is sent
 * by ovr_post_done. Steals changes. */
static void ovr_create_shared(struct admin_req *r, const struct admin_override_req *q,
                              uint64_t view, int attempt, double deadline, json_t *changes)
{
    double now = health_now();
    struct admin_store_call *c =
        admin_store_call_new(r, ADMIN_STORE_CREATE, "overrides", ovr_post_done);
    c->record = json_pack("{s:s, s:s, s:s, s:s, s:f}", "target", q->target, "state",
                          health_state_name(q->state), "reason", q->reason, "author", r->token_name,
                          "created", now);
    /* A dial's fields only when it is one: a full override stays a record
     * that every gtmd reads; one that does not know dials refuses these. */
    if (q->share < OVERRIDE_FULL) {
        json_object_set_new(c->record, "percent", json_real(q->share / 100.0));
        json_object_set_new(c->record, "salt", json_integer(q->salt));
    }
    json_object_set_new(c->record, "expires",
                        q->expires_in > 0 ? json_real(now + q->expires_in) : json_null());
    shared_store_mark(c->record, admin_req_role(r), q->force);
    c->ttl_s = q->expires_in > 0 ? q->expires_in : 0;
    c->view = view;
    c->attempts = 1;
    c->backoff = attempt;
    if (deadline > 0)
        c->deadline = deadline;
    struct ovr_post_ctx *x = calloc(1, sizeof(*x));
    if (!x)
        abort();
    *x = (struct ovr_post_ctx){
        .req = *q, .changes = changes, .attempt = attempt, .deadline = c->deadline};
    c->ctx = x;
    c->ctx_free = ovr_post_ctx_free;
    admin_store_submit(r->a, c);
}

/* Adds the override: in the fleet's store (etcd) when there is one (the
 * reply follows from there), else in the health core. Steals changes. */
static void ovr_apply(struct admin_req *r, const struct admin_override_req *req, uint64_t view,
                      int attempt, double deadline, json_t *changes)
{
    struct admin *a = r->a;
    char id[32];
    if (!a->env.store) {
        double expires = req->expires_in > 0 ? health_now() + req->expires_in : 0;
        if (override_add_dial(a->env.health, req->target, req->state, req->share, req->salt,
                              req->reason, r->token_name, expires, id) == 0)
            ovr_reply_created(r, id, changes);
        else {
            json_decref(changes);
            ovr_refuse_full(r);
        }
        return;
    }
    if (override_count(a->env.health) >= override_max(a->env.health)) {
        json_decref(changes);
        ovr_refuse_full(r);
        return;
    }
    ovr_create_shared(r, req, view, attempt, deadline, changes);
}

/* Decides (dry run, 404, 409) and applies; every path ends in a reply,
 * sent here or when the shared store answers. */
static void ovr_post_once(struct admin_req *r, const struct admin_override_req *req, int attempt,
                          double deadline)
{
    struct admin *a = r->a;
    const struct shared_store *store = a->env.store;
    uint64_t view = store ? store->ops->view(store->arg, "overrides") : 0;
    const struct serve_set *s = serve_enter(a->reader);
    const struct health_slot *slot = ovr_target_slot(s->gslb, req->target);
    if (!slot) {
        serve_leave(a->reader);
        admin_reply_error(r, 404, "unknown_target", "no region, az or endpoint \"%s\"",
                          req->target);
        admin_audit(r, 404, NULL);
        return;
    }
    /* A dial's changes are those of a full override, for its share of
     * the clients (none for 0 %). */
    struct policy_overlay ov = {.slot = slot, .state = req->state};
    json_t *blocked = json_array();
    json_t *changes = req->share > 0 ? ovr_changes(s, &ov, blocked) : json_array();
    serve_leave(a->reader);
    if (req->share < OVERRIDE_FULL)
        ovr_mark_share(changes, req->share);
    if (req->dry_run) {
        json_t *res = json_pack("{s:b, s:o, s:o}", "dry_run", 1, "changes", changes,
                                "would_leave_unserved", blocked);
        if (req->share < OVERRIDE_FULL)
            json_object_set_new(res, "dial",
                                json_pack("{s:f, s:I}", "percent", req->share / 100.0, "salt",
                                          (json_int_t)req->salt));
        admin_reply_json(r, 200, res);
        return;
    }
    if (json_array_size(blocked) > 0 && !req->force) {
        json_decref(changes);
        admin_refuse_unsafe(r, blocked, "override");
        return;
    }
    json_decref(blocked);
    ovr_apply(r, req, view, attempt, deadline, changes);
}

const char *admin_req_role(const struct admin_req *r)
{
    return strcmp(r->token_name, "none") == 0 ? "socket" : r->token_name;
}

json_t *admin_verdict_unserved(struct admin *a, const char *target)
{
    json_t *blocked = json_array();
    const struct serve_set *s = serve_enter(a->reader);
    const struct health_slot *slot = ovr_target_slot(s->gslb, target);
    if (slot) {
        /* The verdict's layer, not an override's: an operator's "up"
         * override on the target still outranks it in the what-if. */
        struct policy_overlay ov = {.state = HEALTH_UNKNOWN, .ext_down = slot};
        json_decref(ovr_changes(s, &ov, blocked));
    }
    serve_leave(a->reader);
    return blocked;
}

bool admin_override_unsafe(const struct serve_set *s, json_t *record, char *why, size_t len)
{
    const char *target = json_string_value(json_object_get(record, "target"));
    const char *state = json_string_value(json_object_get(record, "state"));
    const struct health_slot *slot = target && s ? ovr_target_slot(s->gslb, target) : NULL;
    if (!slot || !state)
        return false; /* a target this node does not serve changes nothing here */
    struct policy_overlay ov = {.slot = slot,
                                .state = strcmp(state, "up") == 0 ? HEALTH_UP : HEALTH_DOWN};
    json_t *blocked = json_array();
    json_decref(ovr_changes(s, &ov, blocked));
    bool unsafe = json_array_size(blocked) > 0;
    if (unsafe) {
        json_t *b0 = json_array_get(blocked, 0);
        snprintf(why, len,
                 "it would leave %zu served records with no serving region here (%s %s%s), and "
                 "it was not forced",
                 json_array_size(blocked), json_string_value(json_object_get(b0, "record")),
                 json_string_value(json_object_get(b0, "type")),
                 json_array_size(blocked) > 1 ? ", ..." : "");
    }
    json_decref(blocked);
    return unsafe;
}

void admin_handle_override_post(struct admin_req *r)
{
    struct admin_override_req req; /* strings borrowed from r->body */
    char msg[512];                 /* the size of admin_reply_error's buffer */
    int st = admin_request_parse_override(r->body, &req, msg, sizeof(msg));
    if (st != 0) {
        admin_reply_error(r, st, "bad_request", "%s", msg);
        admin_audit(r, st, NULL);
        return;
    }
    /* With a fleet, another node may add an override between our decision
     * and the write: the write then fails and the safety rule is evaluated
     * again on the state that includes it (ovr_post_done). */
    ovr_post_once(r, &req, 0, 0);
}

void admin_handle_overrides_list(struct admin_req *r)
{
    admin_reply_json(r, 200, json_pack("{s:o}", "overrides", override_list_json(r->a->env.health)));
}

void admin_handle_override_get(struct admin_req *r, const char *id)
{
    json_t *o = override_get_json(r->a->env.health, id);
    if (!o) {
        admin_reply_error(r, 404, "not_found", "no override %s", id);
        return;
    }
    admin_reply_json(r, 200, o);
}

/* "force" in a DELETE's query string: absent, "true" or "false". */
static int ovr_delete_force(struct admin_req *r, bool *force)
{
    const char *f = evhttp_find_header(&r->query, "force");
    *force = f && strcmp(f, "true") == 0;
    if (f && !*force && strcmp(f, "false") != 0) {
        admin_reply_error(r, 400, "bad_request", "\"force\" must be true or false");
        admin_audit(r, 400, NULL);
        return -1;
    }
    return 0;
}

/* The reply to a DELETE once the override is gone from etcd and/or here:
 * removed tells whether there was one to remove. */
static void ovr_reply_deleted(struct admin_req *r, const char *id, bool removed)
{
    if (!removed) { /* expired meanwhile */
        admin_reply_error(r, 404, "not_found", "no override %s", id);
        admin_audit(r, 404, NULL);
        return;
    }
    admin_defer_reply(r, 200, json_pack("{s:s}", "deleted", id), json_pack("{s:s}", "deleted", id));
}

/* Admin thread: the store answered a remove. */
static void ovr_delete_done(struct admin_store_call *c)
{
    if (c->st != SHARED_OK && c->st != SHARED_NOT_FOUND) {
        admin_fleet_reply_store_error(&c->r, c->st, c->err);
        return;
    }
    /* Not in etcd: a leftover here (from the state file) still goes. */
    ovr_reply_deleted(&c->r, c->id,
                      c->st == SHARED_OK ||
                          override_remove_why(c->r.a->env.health, c->id, "deleted"));
}

void admin_handle_override_delete(struct admin_req *r, const char *id)
{
    struct admin *a = r->a;
    bool force = false;
    if (ovr_delete_force(r, &force) != 0)
        return;
    char target[OVERRIDE_MAX_TARGET + 1];
    enum health_state after;
    if (!override_state_without(a->env.health, id, target, sizeof(target), &after)) {
        admin_reply_error(r, 404, "not_found", "no override %s", id);
        admin_audit(r, 404, NULL);
        return;
    }
    /* The safety rule applies to deletions too: removing an "up" override
     * can leave a record with nothing to serve. */
    const struct serve_set *s = serve_enter(a->reader);
    const struct health_slot *slot = ovr_target_slot(s->gslb, target);
    json_t *blocked = json_array();
    if (slot) {
        struct policy_overlay ov = {.slot = slot, .state = after};
        json_decref(ovr_changes(s, &ov, blocked));
    }
    serve_leave(a->reader);
    if (json_array_size(blocked) > 0 && !force) {
        admin_refuse_unsafe(r, blocked, "deletion");
        return;
    }
    json_decref(blocked);
    if (a->env.store) {
        struct admin_store_call *c =
            admin_store_call_new(r, ADMIN_STORE_REMOVE, "overrides", ovr_delete_done);
        snprintf(c->id, sizeof(c->id), "%s", id);
        admin_store_submit(a, c);
        return;
    }
    ovr_reply_deleted(r, id, override_remove(a->env.health, id));
}
