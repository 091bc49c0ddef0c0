/*
 * admin_dnssec.c -- POST /v1/dnssec/ZONE/rollover (operate token,
 * audited): an emergency rollover of a zone whose keys gtmd keeps
 * (doc/admin-api.md). The body is {"key": "zsk"|"ksk"|"algorithm",
 * "force": bool};
 * the daemon (admin_env.dnssec_rollover, server_kasp.c) decides and says
 * why it refuses a step that would break validation.
 */
#include <string.h>

#include "admin/admin_int.h"

#define ADMIN_ROLLOVER_SUFFIX "/rollover"

void admin_handle_dnssec_rollover(struct admin_req *r, const char *rest)
{
    struct admin *a = r->a;
    size_t n = strlen(rest), sl = strlen(ADMIN_ROLLOVER_SUFFIX);
    char zone[256];
    if (n <= sl || n - sl >= sizeof(zone) || strcmp(rest + n - sl, ADMIN_ROLLOVER_SUFFIX) != 0) {
        admin_reply_error(r, 404, "not_found", "no such endpoint: /v1/dnssec/%s", rest);
        return;
    }
    memcpy(zone, rest, n - sl);
    zone[n - sl] = '\0';
    json_t *key = json_object_get(r->body, "key"), *force = json_object_get(r->body, "force");
    const char *k = json_string_value(key);
    if (!json_is_object(r->body) || !k ||
        (strcmp(k, "zsk") != 0 && strcmp(k, "ksk") != 0 && strcmp(k, "algorithm") != 0) ||
        (force && !json_is_boolean(force))) {
        admin_reply_error(r, 400, "bad_request",
                          "the body must be {\"key\": \"zsk\", \"ksk\" or \"algorithm\", "
                          "\"force\": true or false}");
        admin_audit(r, 400, NULL);
        return;
    }
    if (!a->env.dnssec_rollover) {
        admin_reply_error(r, 404, "not_found", "no key manager runs here");
        admin_audit(r, 404, NULL);
        return;
    }
    int status = 500;
    json_t *res = a->env.dnssec_rollover(a->env.reload_arg, zone, k, json_is_true(force), &status);
    admin_audit(r, status, json_incref(res));
    admin_reply_json(r, status, res);
}
