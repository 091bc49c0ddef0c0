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
    if (r->policy == POLICY_GEO)
        snprintf(buf, len, "%s",
                 cls >= r->geo->n_keys ? "unknown location" : geo_map_class_key(r->geo, cls)->text);
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
        const struct policy_record *r = &g->records[i];
        const struct policy_geo_trie *t = s->geo && i < s->geo->n_recs ? s->geo->recs[i].t : NULL;
        for (int k = 0; k < 3; k++)
            ovr_record_changes(g, r, t, types[k], ov, changes, blocked);
    }
    return changes;
}

/* The 409 of the safety rule (and its audit line). Steals blocked. */
static void ovr_refuse_unsafe(struct admin_req *r, json_t *blocked, const char *what)
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
    admin_reply_error(r, 409, "too_many_overrides",
                      "gtmd already holds %zu overrides, the most max_overrides allows; delete "
                      "one first",
                      override_max(r->a->env.health));
    admin_audit(r, 409, NULL);
}

/* Creates the override in the fleet's shared store (etcd). Returns the
 * store's status; id gets the new id. */
static enum shared_status ovr_create_shared(struct admin_req *r, const struct admin_override_req *q,
                                            uint64_t view, char id[32], char *err, size_t errlen)
{
    const struct shared_store *st = r->a->env.store;
    double now = health_now();
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:f}", "target", q->target, "state",
                            health_state_name(q->state), "reason", q->reason, "author",
                            r->token_name, "created", now);
    json_object_set_new(rec, "expires",
                        q->expires_in > 0 ? json_real(now + q->expires_in) : json_null());
    enum shared_status rc = st->ops->create(
        st->arg, "overrides", rec, q->expires_in > 0 ? q->expires_in : 0, view, id, err, errlen);
    json_decref(rec);
    return rc;
}

/* Adds the override: in the fleet's store (etcd) when there is one, else
 * in the health core. 1 when added (id set), 0 when a shared store saw
 * another change since view (decide again), -1 when a reply was sent. */
static int ovr_apply(struct admin_req *r, const struct admin_override_req *req, uint64_t view,
                     bool last, char id[32])
{
    struct admin *a = r->a;
    const struct shared_store *store = a->env.store;
    if (!store) {
        double expires = req->expires_in > 0 ? health_now() + req->expires_in : 0;
        if (override_add(a->env.health, req->target, req->state, req->reason, r->token_name,
                         expires, id) == 0)
            return 1;
        ovr_refuse_full(r);
        return -1;
    }
    if (override_count(a->env.health) >= override_max(a->env.health)) {
        ovr_refuse_full(r);
        return -1;
    }
    char msg[300] = "";
    enum shared_status st = ovr_create_shared(r, req, view, id, msg, sizeof(msg));
    if (st == SHARED_OK)
        return 1;
    if (st == SHARED_CONFLICT && !last)
        return 0;
    admin_fleet_reply_store_error(
        r, st, st == SHARED_CONFLICT ? "the fleet's overrides kept changing; try again" : msg);
    return -1;
}

/* Decides once (dry run, 404, 409) and applies: 1 when a reply was sent,
 * 0 when a shared store saw another change meanwhile (decide again). */
static int ovr_post_once(struct admin_req *r, const struct admin_override_req *req, bool last)
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
        return 1;
    }
    struct policy_overlay ov = {.slot = slot, .state = req->state};
    json_t *blocked = json_array();
    json_t *changes = ovr_changes(s, &ov, blocked);
    serve_leave(a->reader);
    if (req->dry_run) {
        admin_reply_json(r, 200,
                         json_pack("{s:b, s:o, s:o}", "dry_run", 1, "changes", changes,
                                   "would_leave_unserved", blocked));
        return 1;
    }
    if (json_array_size(blocked) > 0 && !req->force) {
        json_decref(changes);
        ovr_refuse_unsafe(r, blocked, "override");
        return 1;
    }
    json_decref(blocked);
    char id[32];
    int rc = ovr_apply(r, req, view, last, id);
    if (rc <= 0) {
        json_decref(changes);
        return rc < 0;
    }
    json_t *o = override_get_json(a->env.health, id);
    if (!o) /* already expired (a tiny expires_in), or removed by another node meanwhile */
        o = json_pack("{s:s}", "id", id);
    json_object_set_new(o, "changes", changes);
    /* Answered (and audited) once the override is on disk; the admin
     * thread serves other requests meanwhile (admin_defer.c). */
    admin_defer_reply(r, 201, o, json_pack("{s:s}", "id", id));
    return 1;
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
     * again on the state that includes it. */
    for (int attempt = 0; attempt < 5; attempt++) {
        if (ovr_post_once(r, &req, attempt == 4))
            return;
        usleep(20000 * (attempt + 1)); /* let the watch deliver the other change */
    }
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
        ovr_refuse_unsafe(r, blocked, "deletion");
        return;
    }
    json_decref(blocked);
    const struct shared_store *store = a->env.store;
    bool removed;
    if (store) {
        char err[300] = "";
        enum shared_status st = store->ops->remove(store->arg, "overrides", id, err, sizeof(err));
        if (st != SHARED_OK && st != SHARED_NOT_FOUND) {
            admin_fleet_reply_store_error(r, st, err);
            return;
        }
        /* Not in etcd: a leftover here (from the state file) still goes. */
        removed = st == SHARED_OK || override_remove_why(a->env.health, id, "deleted");
    } else
        removed = override_remove(a->env.health, id);
    if (!removed) { /* expired meanwhile */
        admin_reply_error(r, 404, "not_found", "no override %s", id);
        admin_audit(r, 404, NULL);
        return;
    }
    admin_defer_reply(r, 200, json_pack("{s:s}", "deleted", id), json_pack("{s:s}", "deleted", id));
}
