/*
 * admin_drills.c -- GET/POST /v1/drills, GET/DELETE /v1/drills/ID.
 *
 * A new drill is validated (drill_spec_parse), resolved against the live
 * policy set and evaluated as a what-if (drill_whatif: every policy record
 * now and with the targets lost) while the admin thread holds its serve
 * reader; then, with the reader left (a start publishes a loss view and
 * waits for the readers, drill.h), it is started in the drill core. The
 * safety rule is the overrides' one: a live or scoped drill that would
 * leave a record that is served now with no serving region is refused
 * (409 unsafe) unless "force" is true; a shadow drill changes nothing
 * served and is never refused by it. A drill whose abort_if is already
 * broken is refused (409 abort_if_violated), and so is a second live drill
 * on a region (409 conflict). Every change is on disk (the health
 * service's write) before the reply, which waits for it without blocking
 * the admin thread (admin_defer.c), as override changes do: drills
 * started or aborted while one write runs share the next.
 */
#include <stdio.h>
#include <string.h>

#include "admin/admin_int.h"
#include "health/shared_store.h"
#include "drill/drill.h"
#include "drill/drill_outcome.h"
#include "drill/drill_plan.h"
#include "drill/drill_whatif.h"

/* One drill event for GET /v1/events. */
static void admin_drill_event(struct admin *a, const char *action, json_t *d)
{
    event_ring_push(a->env.health->events, "drill",
                    json_pack("{s:s, s:O?, s:O?, s:O?, s:O?, s:O?}", "action", action, "drill",
                              json_object_get(d, "id"), "mode", json_object_get(d, "mode"),
                              "targets", json_object_get(d, "targets"), "result",
                              json_object_get(d, "result"), "end_reason",
                              json_object_get(d, "end_reason")));
}

static void admin_drill_started(void *arg, json_t *d)
{
    admin_drill_event(arg, "started", d);
}

/* The drill core's "ended" listener: one audit line and one event per end. */
static void admin_drill_ended(void *arg, json_t *d)
{
    admin_drill_event(arg, "ended", d);
    admin_audit_event(arg, json_pack("{s:s, s:O?, s:O?, s:O?, s:O?}", "event", "drill_end", "id",
                                     json_object_get(d, "id"), "mode", json_object_get(d, "mode"),
                                     "result", json_object_get(d, "result"), "end_reason",
                                     json_object_get(d, "end_reason")));
}

void admin_drills_listen(struct admin *a)
{
    struct drill_hooks h = {.started = admin_drill_started, .ended = admin_drill_ended, .arg = a};
    drill_core_add_hooks(a->env.drills, &h);
}

/* What a dry run answers: the what-if with every record, like the offline
 * `gtmd drill --json`, plus the abort_if verdict. Steals whatif. */
static json_t *admin_drill_dry_run(const struct drill_spec *s, const struct drill_targets *t,
                                   json_t *whatif, const struct drill_whatif_sum *sum, bool broken,
                                   const char *why)
{
    json_t *keys = json_array();
    for (size_t i = 0; i < t->n; i++)
        json_array_append_new(keys, json_string(t->keys[i]));
    json_object_set_new(whatif, "dry_run", json_true());
    json_object_set_new(whatif, "mode", json_string(drill_mode_names[s->mode]));
    json_object_set_new(whatif, "lost", keys);
    json_object_set_new(whatif, "health", json_string("the live state of this server"));
    json_object_set_new(whatif, "exit", json_integer(sum->unserved > 0 ? 3 : 0));
    json_object_set_new(whatif, "abort_if_broken", broken ? json_string(why) : json_false());
    return whatif;
}

/* Refuses with 409 code, message and an optional detail (stolen). */
static void admin_drill_refuse(struct admin_req *r, const char *code, const char *msg,
                               const char *key, json_t *detail)
{
    json_t *err = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    if (detail)
        json_object_set(json_object_get(err, "error"), key, detail);
    admin_audit(r, 409, detail);
    admin_reply_json(r, 409, err);
}

/* Admin thread: the store answered the drill's create. */
static void admin_drill_start_done(struct admin_store_call *c)
{
    struct admin *a = c->r.a;
    char why[300];
    snprintf(why, sizeof(why), "%s", c->err);
    json_t *j = c->st == SHARED_OK ? drill_core_get_json(a->env.drills, c->id) : NULL;
    if (!j) {
        if (c->st == SHARED_OK)
            snprintf(why, sizeof(why),
                     "drill %s was created in etcd but did not start here "
                     "(a live drill on the same region started meanwhile?)",
                     c->id);
        admin_fleet_reply_store_error(&c->r, c->st == SHARED_OK ? SHARED_UNAVAILABLE : c->st, why);
        return;
    }
    health_service_save(a->env.health_service);
    admin_audit(&c->r, 201, json_pack("{s:s}", "id", c->id));
    admin_reply_json(&c->r, 201, j);
}

/* With a fleet: the drill goes to etcd (on a lease of its duration) and
 * starts on every node, this one included, from the watch; a refusal of
 * the store is a 503 and nothing started. The reply is sent when the
 * store answers (admin_drill_start_done). Takes d. */
static void admin_drill_start_shared(struct admin_req *r, struct drill *d)
{
    struct admin *a = r->a;
    char why[300] = "";
    if (drill_core_conflicts(a->env.drills, d, why, sizeof(why))) {
        drill_free(d);
        admin_drill_refuse(r, "conflict", why, NULL, NULL);
        return;
    }
    d->started = health_now();
    d->ends = d->started + d->spec.duration;
    struct admin_store_call *c =
        admin_store_call_new(r, ADMIN_STORE_CREATE, "drills", admin_drill_start_done);
    c->record = drill_json(d);
    json_object_del(c->record, "id");
    shared_store_mark(c->record, admin_req_role(r), d->spec.force);
    c->ttl_s = d->spec.duration;
    c->attempts = 5; /* each on the view of the moment */
    drill_free(d);
    admin_store_submit(a, c);
}

/* Starts the drill planned from spec (admin thread, no reader held);
 * takes whatif and tl. */
static void admin_drill_start(struct admin_req *r, const struct drill_spec *spec,
                              const struct drill_targets *t, json_t *whatif,
                              struct drill_timeline *tl)
{
    struct admin *a = r->a;
    char id[32], why[256];
    struct drill *d = drill_new(spec, t, r->token_name, drill_report_whatif(whatif), tl);
    if (a->env.store) {
        admin_drill_start_shared(r, d);
        return;
    }
    if (drill_core_start(a->env.drills, d, health_now(), id, why, sizeof(why)) != DRILL_STARTED) {
        admin_drill_refuse(r, "conflict", why, NULL, NULL);
        return;
    }
    /* Answered (and audited) once the drill is on disk; the admin thread
     * serves other requests meanwhile. */
    json_t *j = drill_core_get_json(a->env.drills, id);
    if (!j) /* ended already (a drill thread's abort_if): it started all the same */
        j = json_pack("{s:s}", "id", id);
    admin_defer_reply(r, 201, j, json_pack("{s:s}", "id", id));
}

void admin_handle_drill_post(struct admin_req *r)
{
    struct admin *a = r->a;
    struct drill_spec spec;
    struct drill_targets t;
    struct drill_whatif_sum sum;
    char msg[512], why[256]; /* msg: the size of admin_reply_error's buffer */
    double max = drill_core_max_duration(a->env.drills);
    int st = drill_spec_parse(r->body, max, &spec, msg, sizeof(msg));
    if (st != 0) {
        admin_reply_error(r, st, "bad_request", "%s", msg);
        admin_audit(r, st, NULL);
        return;
    }
    const struct serve_set *s = serve_enter(a->reader);
    st = drill_resolve(s->gslb, &spec, &t, msg, sizeof(msg));
    if (st != 0) {
        serve_leave(a->reader);
        drill_spec_free(&spec);
        admin_reply_error(r, 404, "unknown_target", "%s", msg);
        admin_audit(r, 404, NULL);
        return;
    }
    st = drill_outcome_resolve(s->gslb, &spec, msg, sizeof(msg));
    if (st != 0) {
        serve_leave(a->reader);
        drill_targets_free(&t);
        drill_spec_free(&spec);
        admin_reply_error(r, st, "bad_request", "%s", msg);
        admin_audit(r, st, NULL);
        return;
    }
    struct policy_overlay ov = drill_targets_overlay(&t);
    json_t *whatif =
        drill_whatif_geo(s->gslb, s->geo, &ov, spec.clients, spec.n_clients, !spec.dry_run, &sum);
    bool broken = drill_abort_if_violated(s->gslb, &spec, why, sizeof(why));
    /* The records whose recovery the drill will measure. */
    struct drill_timeline *tl =
        spec.dry_run ? NULL : drill_timeline_new(s->gslb, &t, spec.mode, health_now());
    serve_leave(a->reader);
    if (spec.dry_run)
        admin_reply_json(r, 200, admin_drill_dry_run(&spec, &t, whatif, &sum, broken, why));
    else if (broken) {
        snprintf(msg, sizeof(msg), "abort_if is broken already (%s): the drill would end at once",
                 why);
        admin_drill_refuse(r, "abort_if_violated", msg, NULL, NULL);
        json_decref(whatif);
    } else if (spec.mode != DRILL_SHADOW && sum.newly_unserved > 0 && !spec.force) {
        admin_drill_refuse(r, "unsafe",
                           "the drill would leave policy records with no serving region; repeat "
                           "with \"force\": true to run it anyway",
                           "records", json_incref(json_object_get(whatif, "would_leave_unserved")));
        json_decref(whatif);
    } else {
        admin_drill_start(r, &spec, &t, whatif, tl);
        tl = NULL;
    }
    drill_timeline_free(tl);
    drill_targets_free(&t);
    drill_spec_free(&spec);
}

bool admin_drill_unsafe(const struct serve_set *s, json_t *record, char *why, size_t len)
{
    struct drill_spec spec;
    struct drill_targets t;
    struct drill_whatif_sum sum;
    char err[256];
    if (!s || drill_spec_from_saved(record, &spec, err, sizeof(err)) != 0)
        return false; /* its field rules are drill_core_adopt's */
    bool unsafe = false;
    if (spec.mode != DRILL_SHADOW && drill_resolve(s->gslb, &spec, &t, err, sizeof(err)) == 0) {
        struct policy_overlay ov = drill_targets_overlay(&t);
        json_decref(
            drill_whatif_geo(s->gslb, s->geo, &ov, spec.clients, spec.n_clients, true, &sum));
        unsafe = sum.newly_unserved > 0;
        if (unsafe)
            snprintf(why, len,
                     "it would leave %zu policy records with no serving region here, and it "
                     "was not forced",
                     (size_t)sum.newly_unserved);
        drill_targets_free(&t);
    }
    drill_spec_free(&spec);
    return unsafe;
}

bool admin_record_unsafe(const struct serve_set *s, const char *kind, json_t *record, char *why,
                         size_t len)
{
    if (strcmp(kind, "overrides") == 0)
        return admin_override_unsafe(s, record, why, len);
    if (strcmp(kind, "drills") == 0)
        return admin_drill_unsafe(s, record, why, len);
    return false;
}

void admin_handle_drills_list(struct admin_req *r)
{
    admin_reply_json(r, 200, drill_core_list_json(r->a->env.drills));
}

void admin_handle_drill_get(struct admin_req *r, const char *id)
{
    json_t *j = drill_core_get_json(r->a->env.drills, id);
    if (!j) {
        admin_reply_error(r, 404, "not_found", "no drill %s", id);
        return;
    }
    admin_reply_json(r, 200, j);
}

/* Ends drill id here unless the store already ended it everywhere (st
 * SHARED_OK), and replies. */
static void admin_drill_delete_finish(struct admin_req *r, const char *id, enum shared_status st)
{
    struct admin *a = r->a;
    char why[300];
    snprintf(why, sizeof(why), "aborted through the API (%s token)", r->token_name);
    if (st != SHARED_OK && !drill_core_end(a->env.drills, id, DRILL_ABORTED, why)) {
        json_t *j = drill_core_get_json(a->env.drills, id);
        if (j) {
            admin_reply_error(r, 409, "not_active", "drill %s has ended already (%s)", id,
                              json_string_value(json_object_get(j, "result")));
            admin_audit(r, 409, NULL);
            json_decref(j);
            return;
        }
        admin_reply_error(r, 404, "not_found", "no drill %s", id);
        admin_audit(r, 404, NULL);
        return;
    }
    json_t *j = drill_core_get_json(a->env.drills, id);
    if (!j)
        j = json_pack("{s:s}", "aborted", id);
    admin_defer_reply(r, 200, j, json_pack("{s:s}", "aborted", id));
}

/* Admin thread: the store answered the drill's remove. */
static void admin_drill_delete_done(struct admin_store_call *c)
{
    if (c->st != SHARED_OK && c->st != SHARED_NOT_FOUND) {
        admin_fleet_reply_store_error(&c->r, c->st, c->err);
        return;
    }
    admin_drill_delete_finish(&c->r, c->id, c->st);
}

void admin_handle_drill_delete(struct admin_req *r, const char *id)
{
    /* With a fleet, deleting its key ends it on every node (this one from
     * the watch, before the store answers). */
    if (r->a->env.store && strlen(id) >= sizeof(((struct admin_store_call *)0)->id)) {
        admin_reply_error(r, 404, "not_found", "no drill %s", id);
        admin_audit(r, 404, NULL);
        return;
    }
    if (r->a->env.store) {
        struct admin_store_call *c =
            admin_store_call_new(r, ADMIN_STORE_REMOVE, "drills", admin_drill_delete_done);
        snprintf(c->id, sizeof(c->id), "%s", id);
        admin_store_submit(r->a, c);
        return;
    }
    admin_drill_delete_finish(r, id, SHARED_NOT_FOUND);
}
