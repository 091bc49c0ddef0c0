/*
 * webhook_format.c -- payloads of outgoing webhooks.
 */
#include "webhook/webhook_format.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *wf_s(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

int webhook_event_kind(json_t *ev)
{
    const char *t = wf_s(ev, "type");
    for (int k = 0; k < WEBHOOK_EV_KINDS; k++)
        if (strcmp(t, webhook_event_names[k]) == 0)
            return k;
    return -1;
}

/* The targets of a drill as "region:a az:b". */
static void wf_targets(json_t *ev, char *buf, size_t len)
{
    size_t i, off = 0;
    json_t *x;
    buf[0] = '\0';
    json_array_foreach(json_object_get(ev, "targets"), i, x)
    {
        const char *s = json_is_string(x) ? json_string_value(x) : wf_s(x, "target");
        int w = snprintf(buf + off, len - off, "%s%s", off ? " " : "", s);
        if (w < 0 || (size_t)w >= len - off)
            break;
        off += (size_t)w;
    }
}

void webhook_text(json_t *ev, const char *node, char *buf, size_t len)
{
    const char *t = wf_s(ev, "type");
    char tg[256];
    if (strcmp(t, "state") == 0)
        snprintf(buf, len, "gtmd %s: %s (pool %s) is %s (was %s)", node, wf_s(ev, "target"),
                 wf_s(ev, "pool"), wf_s(ev, "to"), wf_s(ev, "from"));
    else if (strcmp(t, "health") == 0)
        snprintf(buf, len, "gtmd %s: probe of %s %s -> %s: %s (%s)", node, wf_s(ev, "key"),
                 wf_s(ev, "from"), wf_s(ev, "to"), wf_s(ev, "why"), wf_s(ev, "detail"));
    else if (strcmp(t, "override") == 0)
        snprintf(buf, len, "gtmd %s: override %s %s: %s %s%s%s", node, wf_s(ev, "override"),
                 wf_s(ev, "action"), wf_s(ev, "target"), wf_s(ev, "state"),
                 *wf_s(ev, "reason") ? ": " : "", wf_s(ev, "reason"));
    else if (strcmp(t, "verdict") == 0)
        snprintf(buf, len, "gtmd %s: verdict %s %s: %s %s from %s%s%s", node, wf_s(ev, "verdict"),
                 wf_s(ev, "action"), wf_s(ev, "target"), wf_s(ev, "state"), wf_s(ev, "source"),
                 *wf_s(ev, "reason") ? ": " : "", wf_s(ev, "reason"));
    else if (strcmp(t, "drill") == 0) {
        wf_targets(ev, tg, sizeof(tg));
        snprintf(buf, len, "gtmd %s: drill %s %s (%s%s%s)%s%s", node, wf_s(ev, "drill"),
                 wf_s(ev, "action"), wf_s(ev, "mode"), *tg ? " " : "", tg,
                 *wf_s(ev, "result") ? ": " : "", wf_s(ev, "result"));
    } else {
        char *j = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(buf, len, "gtmd %s: %s event %s", node, t, j ? j : "");
        free(j);
    }
}

/* Whether ev opens (firing) or closes (resolved) a condition, and its
 * alert name and the key it is about. */
static bool wf_firing(json_t *ev, const char **name, const char **key)
{
    const char *t = wf_s(ev, "type"), *a = wf_s(ev, "action");
    *key = "";
    if (strcmp(t, "state") == 0 || strcmp(t, "health") == 0) {
        *name = t[0] == 's' ? "GtmdTargetDown" : "GtmdProbeDown";
        *key = t[0] == 's' ? wf_s(ev, "target") : wf_s(ev, "key");
        return strcmp(wf_s(ev, "to"), "down") == 0;
    }
    if (strcmp(t, "override") == 0) {
        *name = "GtmdOverride";
        *key = wf_s(ev, "override");
        return strcmp(a, "added") == 0;
    }
    if (strcmp(t, "verdict") == 0) {
        *name = "GtmdExternalVerdict";
        *key = wf_s(ev, "verdict");
        return strcmp(a, "removed") != 0 && strcmp(wf_s(ev, "state"), "down") == 0;
    }
    if (strcmp(t, "drill") == 0) {
        *name = "GtmdDrill";
        *key = wf_s(ev, "drill");
        return strcmp(a, "started") == 0 || strcmp(a, "progressing") == 0;
    }
    if (strcmp(t, "fleet") == 0) {
        *name = "GtmdFleet";
        *key = wf_s(ev, "node");
        return strcmp(a, "recovered") != 0;
    }
    *name = "GtmdReload";
    return strcmp(wf_s(ev, "result"), "ok") != 0;
}

/* FNV-1a 64 of the strings, as 16 hex digits: a stable fingerprint. */
static void wf_fingerprint(const char *a, const char *b, const char *c, char out[17])
{
    uint64_t h = 1469598103934665603ULL;
    const char *parts[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        for (const char *p = parts[i]; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static void wf_time(double t, char *buf, size_t len)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Alertmanager's webhook payload, version 4, with one alert. */
static json_t *wf_alertmanager(json_t *ev, const char *node, const char *text)
{
    const char *name, *key;
    bool firing = wf_firing(ev, &name, &key);
    char fp[17], at[32];
    wf_fingerprint(name, key, node, fp);
    wf_time(json_number_value(json_object_get(ev, "time")), at, sizeof(at));
    json_t *labels =
        json_pack("{s:s, s:s, s:s, s:s}", "alertname", name, "instance", node, "gtm_event",
                  wf_s(ev, "type"), "severity", firing ? "warning" : "info");
    if (*key)
        json_object_set_new(labels, "gtm_key", json_string(key));
    if (*wf_s(ev, "target"))
        json_object_set_new(labels, "gtm_target", json_string(wf_s(ev, "target")));
    if (*wf_s(ev, "pool"))
        json_object_set_new(labels, "gtm_pool", json_string(wf_s(ev, "pool")));
    char *detail = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *ann = json_pack("{s:s, s:s}", "summary", text, "description", detail ? detail : "");
    free(detail);
    const char *status = firing ? "firing" : "resolved";
    json_t *alert =
        json_pack("{s:s, s:O, s:O, s:s, s:s, s:s, s:s}", "status", status, "labels", labels,
                  "annotations", ann, "startsAt", at, "endsAt",
                  firing ? "0001-01-01T00:00:00Z" : at, "generatorURL", "", "fingerprint", fp);
    char group[300];
    snprintf(group, sizeof(group), "{}:{alertname=\"%s\", gtm_key=\"%s\"}", name, key);
    return json_pack("{s:s, s:s, s:i, s:s, s:s, s:{s:s}, s:o, s:o, s:s, s:[o]}", "version", "4",
                     "groupKey", group, "truncatedAlerts", 0, "status", status, "receiver", "gtmd",
                     "groupLabels", "alertname", name, "commonLabels", labels, "commonAnnotations",
                     ann, "externalURL", "", "alerts", alert);
}

json_t *webhook_payload(enum webhook_format f, json_t *ev, const char *node)
{
    char text[1024];
    if (f == WEBHOOK_JSON)
        return json_pack("{s:s, s:O}", "node", node, "event", ev);
    webhook_text(ev, node, text, sizeof(text));
    if (f == WEBHOOK_SLACK)
        return json_pack("{s:s}", "text", text);
    return wf_alertmanager(ev, node, text);
}
