/*
 * admin_verdicts.c -- GET/POST /v1/verdicts, GET/DELETE /v1/verdicts/ID:
 * external verdicts (health/verdict.h) pushed by other systems.
 *
 * A verdict names its target as {"endpoint": "POOL/NAME"}, {"az": NAME}
 * or {"region": NAME} (or the key form "endpoint:POOL/NAME" as a string,
 * as overrides do); the target must exist in the live configuration, so
 * that a typo in a script does not go unnoticed. Every change is audited
 * and answered once the state file holds it (admin_defer.c).
 *
 * The safety rule (doc/security.md): a "down" verdict that would leave a
 * served policy record with no serving region, on the live set and state
 * (earlier verdicts included), is refused with 409 "unsafe", as an
 * override is, unless the body says "force": true. Only the operate token
 * (or the unix socket) reaches this path; the Alertmanager token's
 * verdicts (admin_alertmanager.c) can never be forced.
 */
#include <event2/http.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "admin/admin_int.h"
#include "common/log.h"
#include "health/override.h"
#include "health/verdict.h"
#include "policy/policy.h"
#include "serve/serve.h"

/* Whether key names a region, az or endpoint of the live set. */
bool admin_verdict_target_known(struct admin *a, const char *key)
{
    const struct serve_set *s = serve_enter(a->reader);
    const struct gslb *g = s->gslb;
    bool found = false;
    for (size_t i = 0; g && i < g->n_regions && !found; i++)
        found = strncmp(key, "region:", 7) == 0 && strcmp(g->regions[i].name, key + 7) == 0;
    for (size_t i = 0; g && i < g->n_azs && !found; i++)
        found = strncmp(key, "az:", 3) == 0 && strcmp(g->azs[i].name, key + 3) == 0;
    for (size_t i = 0; g && i < g->n_pools && !found; i++)
        for (size_t k = 0; k < g->pools[i].n_eps && !found; k++)
            found = strcmp(g->pools[i].eps[k].key, key) == 0;
    serve_leave(a->reader);
    return found;
}

int admin_verdict_target_key(json_t *t, char *key, size_t len, char *msg, size_t msglen)
{
    static const char *const kinds[] = {"endpoint", "az", "region"};
    if (json_is_string(t)) {
        snprintf(key, len, "%s", json_string_value(t));
    } else if (json_is_object(t) && json_object_size(t) == 1) {
        const char *kind = NULL;
        for (int i = 0; i < 3 && !kind; i++)
            if (json_is_string(json_object_get(t, kinds[i])))
                kind = kinds[i];
        if (!kind) {
            snprintf(msg, msglen,
                     "\"target\" must be {\"endpoint\": \"POOL/NAME\"}, "
                     "{\"az\": NAME} or {\"region\": NAME}");
            return 400;
        }
        snprintf(key, len, "%s:%s", kind, json_string_value(json_object_get(t, kind)));
    } else {
        snprintf(msg, msglen,
                 "\"target\" must be {\"endpoint\": \"POOL/NAME\"}, {\"az\": NAME} "
                 "or {\"region\": NAME}");
        return 400;
    }
    const char *why = override_check_target(key);
    if (why) {
        snprintf(msg, msglen, "\"target\": %s", why);
        return 400;
    }
    return 0;
}

/* The fields of a POST body; strings borrowed from it. */
struct verdict_req {
    const char *source, *reason;
    char target[OVERRIDE_MAX_TARGET + 16];
    enum health_state state;
    double expires_in;
    double load; /* NAN: none */
    bool force;
};

static int verdict_parse(json_t *b, struct verdict_req *v, char *msg, size_t len)
{
    static const char *const keys[] = {"source",     "target", "state", "reason",
                                       "expires_in", "force",  "load",  NULL};
    const char *bad = jsoncfg_unknown_key(b, keys);
    if (bad) {
        snprintf(msg, len, "unknown key \"%s\"", bad);
        return 400;
    }
    v->source = json_string_value(json_object_get(b, "source"));
    const char *why = verdict_check_source(v->source);
    json_t *t = json_object_get(b, "target");
    const char *state = json_string_value(json_object_get(b, "state"));
    json_t *reason = json_object_get(b, "reason");
    json_t *ex = json_object_get(b, "expires_in");
    json_t *force = json_object_get(b, "force");
    json_t *load = json_object_get(b, "load");
    v->reason = reason ? json_string_value(reason) : "";
    v->force = json_is_true(force);
    if (why)
        snprintf(msg, len, "%s", why);
    else if (!t)
        snprintf(msg, len, "\"target\" is required");
    else if (admin_verdict_target_key(t, v->target, sizeof(v->target), msg, len) != 0)
        return 400;
    else if (!state || (strcmp(state, "up") != 0 && strcmp(state, "down") != 0))
        snprintf(msg, len, "\"state\" must be \"up\" or \"down\"");
    else if (!ex)
        snprintf(msg, len, "\"expires_in\" is required: every verdict expires");
    else if (!json_is_number(ex) || verdict_check_expires(json_number_value(ex)))
        snprintf(msg, len, "%s", verdict_check_expires(-1));
    else if (!v->reason || verdict_check_reason(v->reason))
        snprintf(msg, len, "%s", verdict_check_reason(v->reason));
    else if (force && !json_is_boolean(force))
        snprintf(msg, len, "\"force\" must be true or false");
    else if (load && verdict_check_load(load, v->target))
        snprintf(msg, len, "%s", verdict_check_load(load, v->target));
    else {
        v->state = strcmp(state, "up") == 0 ? HEALTH_UP : HEALTH_DOWN;
        v->expires_in = json_number_value(ex);
        v->load = load ? json_number_value(load) : NAN;
        return 0;
    }
    return 400;
}

static void verdict_post(struct admin_req *r)
{
    struct verdict_req v;
    char msg[512], id[32];
    int st = verdict_parse(r->body, &v, msg, sizeof(msg));
    if (st == 0 && !admin_verdict_target_known(r->a, v.target)) {
        st = 404;
        snprintf(msg, sizeof(msg), "no %s in the configuration", v.target);
    }
    if (st != 0) {
        admin_reply_error(r, st, st == 404 ? "unknown_target" : "bad_request", "%s", msg);
        admin_audit(r, st, NULL);
        return;
    }
    if (v.state == HEALTH_DOWN) {
        json_t *blocked = admin_verdict_unserved(r->a, v.target);
        if (json_array_size(blocked) > 0 && !v.force) {
            log_info("event=verdict_refused why=unsafe source=\"%s\" target=\"%s\" "
                     "records=%zu token=%s",
                     v.source, v.target, json_array_size(blocked), r->token_name);
            admin_refuse_unsafe(r, blocked, "verdict");
            return;
        }
        if (json_array_size(blocked) > 0)
            log_info("event=verdict_forced source=\"%s\" target=\"%s\" records=%zu token=%s",
                     v.source, v.target, json_array_size(blocked), r->token_name);
        json_decref(blocked);
    }
    enum verdict_put_result res = verdict_put(r->a->env.health, v.source, v.target, v.state,
                                              v.reason, r->token_name, v.expires_in, v.load, id);
    if (res == VERDICT_FULL) {
        admin_reply_error(r, 429, "too_many_verdicts",
                          "the server holds max_verdicts (%zu) verdicts already",
                          verdict_max(r->a->env.health));
        admin_audit(r, 429, NULL);
        return;
    }
    json_t *j = verdict_get_json(r->a->env.health, id);
    if (!j) /* expired or deleted meanwhile: say what was made */
        j = json_pack("{s:s}", "id", id);
    json_object_set_new(j, "replaced", json_boolean(res == VERDICT_REPLACED));
    admin_defer_reply(r, res == VERDICT_ADDED ? 201 : 200, j,
                      json_pack("{s:s, s:b}", "id", id, "replaced", res == VERDICT_REPLACED));
}

static void verdict_delete(struct admin_req *r, const char *id)
{
    if (!verdict_remove(r->a->env.health, id, "deleted")) {
        admin_reply_error(r, 404, "not_found", "no verdict %s", id);
        admin_audit(r, 404, NULL);
        return;
    }
    admin_defer_reply(r, 200, json_pack("{s:s}", "deleted", id), json_pack("{s:s}", "deleted", id));
}

bool admin_verdicts_route(struct admin_req *r)
{
    const char *p = r->path;
    bool list = strcmp(p, "/v1/verdicts") == 0, one = strncmp(p, "/v1/verdicts/", 13) == 0;
    if (strcmp(p, "/v1/alertmanager") == 0) {
        admin_handle_alertmanager(r);
        return true;
    }
    if (!list && !one)
        return false;
    enum evhttp_cmd_type m = evhttp_request_get_command(r->req);
    bool is_get = m == EVHTTP_REQ_GET;
    if (!admin_require(r, is_get ? ADMIN_READ : ADMIN_OPERATE))
        return true;
    if (m == EVHTTP_REQ_POST && !admin_parse_body(r))
        return true;
    if (is_get && list) {
        admin_reply_json(r, 200,
                         json_pack("{s:o, s:I}", "verdicts", verdict_list_json(r->a->env.health),
                                   "max_verdicts", (json_int_t)verdict_max(r->a->env.health)));
    } else if (is_get) {
        json_t *j = verdict_get_json(r->a->env.health, p + 13);
        if (j)
            admin_reply_json(r, 200, j);
        else
            admin_reply_error(r, 404, "not_found", "no verdict %s", p + 13);
    } else if (m == EVHTTP_REQ_POST && list)
        verdict_post(r);
    else if (m == EVHTTP_REQ_DELETE && one)
        verdict_delete(r, p + 13);
    else
        admin_reply_error(r, 405, "method_not_allowed", "method not allowed on %s", p);
    return true;
}
