/*
 * admin_alertmanager.c -- POST /v1/alertmanager: Prometheus Alertmanager's
 * webhook (payload version 4) as a source of external verdicts.
 *
 * Each alert names its target by labels (configurable; by default
 * gtm_endpoint = "POOL/NAME", gtm_az, gtm_region; the most specific one
 * present wins). A firing alert is a "down" verdict from the source
 * "alertmanager:FINGERPRINT" lasting "expires" seconds, renewed by every
 * notification Alertmanager sends again (repeat_interval must be shorter);
 * a resolved alert withdraws that source's verdicts. Alerts that name no
 * target, or one the configuration does not have, are counted in the
 * reply and otherwise ignored: a 4xx would make Alertmanager retry a
 * payload that cannot get better.
 *
 * Authentication: the section's own bearer token (Alertmanager's
 * http_config.authorization.credentials_file), which is good for this
 * path only, or the operate token. *
 * The safety rule (doc/security.md): a firing alert whose "down" verdict
 * would leave a served policy record with no serving region, on the live
 * set and state (the verdicts of the alerts before it in the payload
 * included), is not applied, whatever the token: it is listed under
 * "unsafe" in the reply (200: a retry could not do better; Alertmanager
 * sends the alert again while it fires, and it is checked again then),
 * audited and logged (event=verdict_refused why=unsafe). There is no
 * force here: only an override or POST /v1/verdicts with the operate token
 * can take the last region down.
 */
#include <event2/http.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "common/digest.h"
#include "common/log.h"
#include "health/override.h"
#include "health/verdict.h"

#define AM_DEFAULT_EXPIRES 300.0

enum { LABEL_ENDPOINT, LABEL_AZ, LABEL_REGION, LABEL_N };
static const struct cfgschema_key admin_am_label_keys[LABEL_N] = {
    [LABEL_ENDPOINT] = {"endpoint", CFGSCHEMA_STRING,
                        .what = "the label naming an endpoint, POOL/NAME (gtm_endpoint)"},
    [LABEL_AZ] = {"az", CFGSCHEMA_STRING, .what = "the label naming an az (gtm_az)"},
    [LABEL_REGION] = {"region", CFGSCHEMA_STRING, .what = "the label naming a region (gtm_region)"},
};
static const struct cfgschema admin_am_label_schema =
    CFGSCHEMA("$.admin.alertmanager.labels", admin_am_label_keys);

static const struct cfgschema_key admin_am_keys[ADMIN_AM_K_N] = {
    [ADMIN_AM_K_TOKEN_FILE] = {"token_file", CFGSCHEMA_PATH,
                               .what = "a file whose first line is this path's own token"},
    [ADMIN_AM_K_LABELS] = {"labels", CFGSCHEMA_OBJECT, .sub = &admin_am_label_schema,
                           .what = "which labels name the target"},
    [ADMIN_AM_K_EXPIRES] = {"expires", CFGSCHEMA_SECONDS, 10, VERDICT_MAX_EXPIRES,
                            AM_DEFAULT_EXPIRES, 0, NULL,
                            "how long a firing alert's verdict lasts unless sent again"},
};
const struct cfgschema admin_am_schema = CFGSCHEMA("$.admin.alertmanager", admin_am_keys);

void admin_am_params_parse(const struct jsoncfg *j, json_t *v, struct admin_am_params *out)
{
    const struct cfgschema *s = &admin_am_schema, *ls = &admin_am_label_schema;
    memset(out, 0, sizeof(*out));
    out->expires = AM_DEFAULT_EXPIRES;
    const char *names[LABEL_N] = {"gtm_endpoint", "gtm_az", "gtm_region"};
    if (v && cfgschema_object(j, s, v, NULL)) {
        out->token = admin_params_read_token(j, s, ADMIN_AM_K_TOKEN_FILE, v, &out->token_file);
        out->expires = cfgschema_seconds(j, s, ADMIN_AM_K_EXPIRES, v, NULL);
        json_t *l = cfgschema_value(s, ADMIN_AM_K_LABELS, v);
        if (l && !cfgschema_object(j, ls, l, NULL))
            l = NULL;
        for (size_t i = 0; l && i < LABEL_N; i++) {
            const char *name = cfgschema_str(j, ls, i, l, NULL);
            if (name && !*name) {
                char path[96];
                cfgschema_key_path(path, sizeof(path), ls, i, NULL);
                jsoncfg_err(j, path, "must be a label name");
            } else if (name)
                names[i] = name;
        }
    }
    out->label_endpoint = jsoncfg_strdup(names[LABEL_ENDPOINT]);
    out->label_az = jsoncfg_strdup(names[LABEL_AZ]);
    out->label_region = jsoncfg_strdup(names[LABEL_REGION]);
}

void admin_am_params_free(struct admin_am_params *p)
{
    free(p->token);
    free(p->token_file);
    free(p->label_endpoint);
    free(p->label_az);
    free(p->label_region);
    memset(p, 0, sizeof(*p));
}

/* The bearer token of the request equals the section's token. */
static bool am_token_ok(struct admin_req *r)
{
    const char *t = admin_bearer_token(r);
    if (!t)
        return false;
    pthread_mutex_lock(&r->a->lock);
    bool ok = digest_secret_eq(t, r->a->am.token);
    pthread_mutex_unlock(&r->a->lock);
    return ok;
}

/* What one payload did, for the reply and the audit line. */
struct am_tally {
    unsigned firing, resolved, withdrawn, ignored;
    json_t *unknown; /* targets not in the configuration */
    json_t *unsafe;  /* {"target", "records"}: refused by the safety rule */
};

/* The target an alert's labels name (most specific first), or 0. */
static int am_target(struct admin *a, json_t *labels, char *key, size_t len)
{
    pthread_mutex_lock(&a->lock);
    const char *names[3] = {a->am.label_endpoint, a->am.label_az, a->am.label_region};
    const char *kinds[3] = {"endpoint", "az", "region"};
    int found = 0;
    for (int i = 0; i < 3 && !found; i++) {
        const char *v = names[i] ? json_string_value(json_object_get(labels, names[i])) : NULL;
        if (v && *v) {
            snprintf(key, len, "%s:%s", kinds[i], v);
            found = 1;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return found;
}

/* The reason of a firing alert's verdict: alertname and summary. */
static void am_reason(json_t *alert, char *buf, size_t len)
{
    const char *name =
        json_string_value(json_object_get(json_object_get(alert, "labels"), "alertname"));
    json_t *ann = json_object_get(alert, "annotations");
    const char *sum = json_string_value(json_object_get(ann, "summary"));
    if (!sum)
        sum = json_string_value(json_object_get(ann, "description"));
    snprintf(buf, len, "alert %s%s%s", name ? name : "(no alertname)", sum ? ": " : "",
             sum ? sum : "");
}

static void am_alert(struct admin_req *r, json_t *alert, struct am_tally *t)
{
    char key[OVERRIDE_MAX_TARGET + 16], src[VERDICT_MAX_SOURCE + 1], reason[VERDICT_MAX_REASON];
    const char *status = json_string_value(json_object_get(alert, "status"));
    const char *fp = json_string_value(json_object_get(alert, "fingerprint"));
    if (!json_is_object(alert) || !status || !fp || !*fp ||
        (strcmp(status, "firing") != 0 && strcmp(status, "resolved") != 0) ||
        !am_target(r->a, json_object_get(alert, "labels"), key, sizeof(key))) {
        t->ignored++;
        return;
    }
    snprintf(src, sizeof(src), "alertmanager:%.*s", VERDICT_MAX_SOURCE - 13, fp);
    if (strcmp(status, "resolved") == 0) {
        t->resolved++;
        t->withdrawn += (unsigned)verdict_withdraw_source(r->a->env.health, src, "resolved");
        return;
    }
    char msg[256], id[32];
    json_t *tj = json_string(key);
    int bad = admin_verdict_target_key(tj, key, sizeof(key), msg, sizeof(msg));
    json_decref(tj);
    if (bad || verdict_check_source(src) || !admin_verdict_target_known(r->a, key)) {
        json_array_append_new(t->unknown, json_string(key));
        return;
    }
    json_t *blocked = admin_verdict_unserved(r->a, key);
    if (json_array_size(blocked) > 0) {
        log_info("event=verdict_refused why=unsafe source=\"%s\" target=\"%s\" records=%zu "
                 "token=%s",
                 src, key, json_array_size(blocked), r->token_name);
        json_array_append_new(t->unsafe,
                              json_pack("{s:s, s:o}", "target", key, "records", blocked));
        return;
    }
    json_decref(blocked);
    am_reason(alert, reason, sizeof(reason));
    pthread_mutex_lock(&r->a->lock);
    double expires = r->a->am.expires > 0 ? r->a->am.expires : AM_DEFAULT_EXPIRES;
    pthread_mutex_unlock(&r->a->lock);
    if (verdict_put(r->a->env.health, src, key, HEALTH_DOWN, reason, "alertmanager", expires, NAN,
                    id) == VERDICT_FULL)
        json_array_append_new(
            t->unknown, json_pack("{s:s, s:s}", "target", key, "error", "max_verdicts reached"));
    else
        t->firing++;
}

void admin_handle_alertmanager(struct admin_req *r)
{
    if (evhttp_request_get_command(r->req) != EVHTTP_REQ_POST) {
        admin_reply_error(r, 405, "method_not_allowed", "only POST on /v1/alertmanager");
        return;
    }
    if (r->level < ADMIN_OPERATE && am_token_ok(r)) {
        r->authenticated = true;
        r->level = ADMIN_OPERATE;
        r->token_name = "alertmanager";
    }
    if (!admin_require(r, ADMIN_OPERATE) || !admin_parse_body(r))
        return;
    json_t *alerts = json_object_get(r->body, "alerts");
    const char *version = json_string_value(json_object_get(r->body, "version"));
    if (!json_is_array(alerts) || (version && strcmp(version, "4") != 0)) {
        admin_reply_error(r, 400, "bad_request",
                          "not an Alertmanager webhook payload (version \"4\" with \"alerts\")");
        admin_audit(r, 400, NULL);
        return;
    }
    struct am_tally t = {0, 0, 0, 0, json_array(), json_array()};
    size_t i;
    json_t *alert;
    json_array_foreach(alerts, i, alert)
    {
        if (i >= 1000) { /* Alertmanager sends a group at a time: far fewer */
            t.ignored += (unsigned)(json_array_size(alerts) - i);
            break;
        }
        am_alert(r, alert, &t);
    }
    json_t *res = json_pack("{s:i, s:i, s:i, s:i, s:o, s:o}", "firing", t.firing, "resolved",
                            t.resolved, "withdrawn", t.withdrawn, "ignored", t.ignored, "unknown",
                            t.unknown, "unsafe", t.unsafe);
    admin_defer_reply(r, 200, res, json_incref(res));
}
