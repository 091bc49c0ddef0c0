/*
 * webhook_format.h -- what a webhook receives for one event: plain JSON,
 * a Slack-style {"text": ...}, or an Alertmanager webhook payload
 * (version 4, one alert). Pure functions, shared with the unit test.
 *
 * An event is a JSON object as the event ring holds it ({"id", "time",
 * "type", ...}, doc/admin-api.md#get-v1events) or a "state" event of the
 * notifier ({"type": "state", "target": "region:NAME", "pool": P, "from",
 * "to", "time"}).
 *
 * Ownership: the returned JSON belongs to the caller.
 */
#ifndef GTM_WEBHOOK_WEBHOOK_FORMAT_H
#define GTM_WEBHOOK_WEBHOOK_FORMAT_H

#include <jansson.h>
#include <stddef.h>

#include "webhook/webhook_params.h"

/* One line for people: "gtmd ns1: region:us (pool web) down (was up)". */
void webhook_text(json_t *ev, const char *node, char *buf, size_t len);
/* The body posted for ev in format f; node names this gtmd. */
json_t *webhook_payload(enum webhook_format f, json_t *ev, const char *node);
/* The event kind of ev ("state", "health", ...), or -1 for one no webhook
 * takes. */
int webhook_event_kind(json_t *ev);

#endif
