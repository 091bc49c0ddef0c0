/*
 * test_webhook_format.c -- payloads of outgoing webhooks (webhook_format.h).
 */
#include <string.h>

#include "tap.h"
#include "webhook/webhook_format.h"

static const char *s(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static void test_state(struct tap *t)
{
    json_t *down =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:f}", "type", "state", "target", "region:us", "pool",
                  "web", "from", "up", "to", "down", "time", 1795345118.0);
    json_t *up = json_pack("{s:s, s:s, s:s, s:s, s:s, s:f}", "type", "state", "target", "region:us",
                           "pool", "web", "from", "down", "to", "up", "time", 1795345218.0);
    TAP_CHECK(t, webhook_event_kind(down) == WEBHOOK_EV_STATE, "state is its own kind");
    json_t *sl = webhook_payload(WEBHOOK_SLACK, down, "ns1");
    TAP_CHECK(t,
              json_object_size(sl) == 1 &&
                  strcmp(s(sl, "text"), "gtmd ns1: region:us (pool web) is down (was up)") == 0,
              "slack: one text line '%s'", s(sl, "text"));
    json_t *a = webhook_payload(WEBHOOK_ALERTMANAGER, down, "ns1");
    json_t *b = webhook_payload(WEBHOOK_ALERTMANAGER, up, "ns1");
    json_t *aa = json_array_get(json_object_get(a, "alerts"), 0);
    json_t *ba = json_array_get(json_object_get(b, "alerts"), 0);
    TAP_CHECK(t, strcmp(s(a, "version"), "4") == 0 && strcmp(s(a, "status"), "firing") == 0,
              "alertmanager: version 4, firing while down");
    TAP_CHECK(t,
              strcmp(s(b, "status"), "resolved") == 0 && strcmp(s(ba, "status"), "resolved") == 0,
              "resolved when back up");
    TAP_CHECK(t,
              strcmp(s(aa, "fingerprint"), s(ba, "fingerprint")) == 0 &&
                  strlen(s(aa, "fingerprint")) == 16,
              "the same fingerprint for firing and resolved");
    TAP_CHECK(t,
              strcmp(s(aa, "startsAt"), "2026-11-22T10:58:38Z") == 0 &&
                  strcmp(s(aa, "endsAt"), "0001-01-01T00:00:00Z") == 0,
              "times in RFC 3339 (%s), no end while firing", s(aa, "startsAt"));
    json_t *labels = json_object_get(aa, "labels");
    TAP_CHECK(t,
              strcmp(s(labels, "alertname"), "GtmdTargetDown") == 0 &&
                  strcmp(s(labels, "gtm_target"), "region:us") == 0 &&
                  strcmp(s(labels, "instance"), "ns1") == 0 &&
                  !json_object_get(labels, "gtm_region"),
              "labels name the target, not as a receiver's gtm_region");
    json_t *js = webhook_payload(WEBHOOK_JSON, down, "ns1");
    TAP_CHECK(t, json_equal(json_object_get(js, "event"), down), "json: the event as it is");
    json_decref(sl);
    json_decref(a);
    json_decref(b);
    json_decref(js);
    json_decref(down);
    json_decref(up);
}

static void test_others(struct tap *t)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f}", "type", "override", "action",
                          "added", "override", "ovr-3", "target", "az:a", "state", "down", "reason",
                          "CHG-1", "time", 1.0);
    char text[256];
    webhook_text(o, "n", text, sizeof(text));
    TAP_CHECK(t, strcmp(text, "gtmd n: override ovr-3 added: az:a down: CHG-1") == 0,
              "override line '%s'", text);
    json_t *p = webhook_payload(WEBHOOK_ALERTMANAGER, o, "n");
    TAP_CHECK(t, strcmp(s(p, "status"), "firing") == 0, "an override added fires");
    json_decref(p);
    json_object_set_new(o, "action", json_string("removed"));
    p = webhook_payload(WEBHOOK_ALERTMANAGER, o, "n");
    TAP_CHECK(t, strcmp(s(p, "status"), "resolved") == 0, "its removal resolves");
    json_decref(p);
    json_decref(o);
    json_t *x = json_pack("{s:s}", "type", "audit");
    TAP_CHECK(t, webhook_event_kind(x) == -1, "unknown types are no kind");
    json_decref(x);
}

int main(void)
{
    struct tap t = {0, 0};
    test_state(&t);
    test_others(&t);
    return tap_done(&t);
}
