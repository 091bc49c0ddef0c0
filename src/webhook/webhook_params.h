/*
 * webhook_params.h -- the "notify" section: outgoing webhooks
 * (gtmd.conf(5), doc/health.md#outgoing-notifications).
 *
 * {"notify": {"queue": 1000, "webhooks": [{"url": "https://...", "format":
 * "alertmanager"|"slack"|"json", "events": ["state", ...], "token_file":
 * F, "ca_file": F, "timeout": 5, "retries": 5, "backoff": 1,
 * "max_backoff": 60}]}}
 *
 * Ownership: struct webhook_params owns its strings (webhook_params_free).
 */
#ifndef GTM_WEBHOOK_WEBHOOK_PARAMS_H
#define GTM_WEBHOOK_WEBHOOK_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"

/* Kinds of event a webhook can ask for (bits of webhook_target.events). */
enum webhook_event {
    WEBHOOK_EV_STATE = 0, /* effective state of an endpoint, az or region changed */
    WEBHOOK_EV_HEALTH,    /* a probe-layer transition (the raw "health" event) */
    WEBHOOK_EV_OVERRIDE,
    WEBHOOK_EV_DRILL,
    WEBHOOK_EV_VERDICT,
    WEBHOOK_EV_FLEET,
    WEBHOOK_EV_RELOAD,
    WEBHOOK_EV_KINDS
};
extern const char *const webhook_event_names[WEBHOOK_EV_KINDS];

enum webhook_format { WEBHOOK_JSON = 0, WEBHOOK_SLACK, WEBHOOK_ALERTMANAGER };

#define WEBHOOK_MAX 16 /* webhooks at most */

struct webhook_target {
    char *url; /* http:// or https:// */
    enum webhook_format format;
    unsigned events;    /* bits (1u << enum webhook_event) */
    char *token;        /* "Authorization: Bearer" value; NULL: none */
    char *token_file;   /* resolved path */
    char *ca_file;      /* https: verify against it; NULL: the system's CAs */
    double timeout;     /* seconds for one attempt (default 5) */
    unsigned retries;   /* attempts after the first (default 5) */
    double backoff;     /* first pause before a retry, doubled each time (default 1) */
    double max_backoff; /* cap of the pause (default 60) */
};

struct webhook_params {
    struct webhook_target *hooks;
    size_t n_hooks;
    size_t queue; /* deliveries waiting per webhook at most (default 1000) */
};

/* Parses the section v (NULL: none) into out; errors with their JSON path
 * ("$.notify.webhooks[0].url"). Token files follow the admin token rules
 * (mode 0600-like, at least 16 characters). */
/* The keys of the "notify" section. */
extern const struct cfgschema notify_schema;

void webhook_params_parse(const struct jsoncfg *j, json_t *v, struct webhook_params *out);
void webhook_params_free(struct webhook_params *p);
const char *webhook_format_name(enum webhook_format f);

#endif
