/*
 * admin_node.c -- this node's fitness to serve and its drain:
 * GET /v1/node, POST /v1/node/drain {"reason": "..."} and
 * POST /v1/node/undrain (operate token, audited like overrides); the
 * fitness metrics. A drain is kept in the state file (anycast_drain.h),
 * written at once.
 */
#include <string.h>

#include "admin/admin_int.h"
#include "anycast/anycast.h"
#include "anycast/anycast_drain.h"
#include "common/log.h"
#include "health/service.h"

static void admin_node_drain(struct admin_req *r, bool on)
{
    json_t *jr = r->body ? json_object_get(r->body, "reason") : NULL;
    const char *reason = json_string_value(jr);
    if (r->body && !json_is_object(r->body)) {
        admin_reply_error(r, 400, "bad_request", "the body must be a JSON object");
        admin_audit(r, 400, NULL);
        return;
    }
    if (on && (!reason || !reason[0] || strlen(reason) >= ANYCAST_DRAIN_REASON_MAX)) {
        admin_reply_error(r, 400, "bad_request",
                          "reason: a drain needs one, a string of 1 to %d characters",
                          ANYCAST_DRAIN_REASON_MAX - 1);
        admin_audit(r, 400, NULL);
        return;
    }
    bool changed = anycast_drain_set(r->a->env.drain, on, reason, r->token_name);
    char q[2 * ANYCAST_DRAIN_REASON_MAX];
    log_info("event=node_drain drained=%s changed=%s by=%s client=%s why=\"%s\"", on ? "yes" : "no",
             changed ? "yes" : "no", r->token_name, r->client,
             log_quote(on ? reason : "", q, sizeof(q)));
    /* A restart keeps it: the state file now, not at the next periodic
     * write. */
    if (r->a->env.health_service)
        health_service_save_async(r->a->env.health_service);
    json_t *result =
        json_pack("{s:b, s:o}", "changed", changed, "drain", anycast_drain_json(r->a->env.drain));
    admin_audit(r, 200, json_incref(result));
    admin_reply_json(r, 200, result);
}

bool admin_node_route(struct admin_req *r)
{
    const char *p = r->path;
    bool node = strcmp(p, "/v1/node") == 0, drain = strcmp(p, "/v1/node/drain") == 0,
         undrain = strcmp(p, "/v1/node/undrain") == 0;
    if (!node && !drain && !undrain)
        return false;
    enum evhttp_cmd_type m = evhttp_request_get_command(r->req);
    bool is_get = m == EVHTTP_REQ_GET;
    if ((node && !is_get) || (!node && m != EVHTTP_REQ_POST)) {
        admin_reply_error(r, 405, "method_not_allowed", "method not allowed on %s", p);
        return true;
    }
    if (!admin_require(r, is_get ? ADMIN_READ : ADMIN_OPERATE))
        return true;
    if (!is_get && !admin_parse_body(r))
        return true;
    if (node)
        admin_reply_json(r, 200,
                         json_pack("{s:o}", "fitness", anycast_status_json(r->a->env.anycast)));
    else
        admin_node_drain(r, drain);
    return true;
}

void admin_node_metrics(struct admin *a, struct evbuffer *b)
{
    struct anycast_metrics m;
    if (!a->env.anycast)
        return;
    anycast_metrics(a->env.anycast, &m);
    evbuffer_add_printf(
        b,
        "# HELP gtmd_fit 1 while this node is fit to serve (zones, isolation, drain, self-check).\n"
        "# TYPE gtmd_fit gauge\ngtmd_fit %d\n"
        "# HELP gtmd_drained 1 while an operator has drained this node.\n"
        "# TYPE gtmd_drained gauge\ngtmd_drained %d\n"
        "# HELP gtmd_anycast_announced 1 while BIRD confirmed the anycast protocol enabled.\n"
        "# TYPE gtmd_anycast_announced gauge\ngtmd_anycast_announced %d\n"
        "# HELP gtmd_anycast_withdrawals_total Times the route was withdrawn for unfitness.\n"
        "# TYPE gtmd_anycast_withdrawals_total counter\ngtmd_anycast_withdrawals_total %llu\n"
        "# HELP gtmd_anycast_bird_errors_total Commands to BIRD that failed.\n"
        "# TYPE gtmd_anycast_bird_errors_total counter\ngtmd_anycast_bird_errors_total %llu\n"
        "# HELP gtmd_self_check_failures_total Self-check rounds that failed.\n"
        "# TYPE gtmd_self_check_failures_total counter\ngtmd_self_check_failures_total %llu\n",
        m.fit, m.drained, m.announced, (unsigned long long)m.withdrawals,
        (unsigned long long)m.bird_errors, (unsigned long long)m.self_check_failures);
}
