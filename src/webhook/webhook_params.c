/*
 * webhook_params.c -- parses the "notify" section.
 */
#include "webhook/webhook_params.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const webhook_event_names[WEBHOOK_EV_KINDS] = {"state",   "health", "override", "drill",
                                                           "verdict", "fleet",  "reload"};

const char *webhook_format_name(enum webhook_format f)
{
    return f == WEBHOOK_SLACK ? "slack" : f == WEBHOOK_ALERTMANAGER ? "alertmanager" : "json";
}

/* The first line of a token file, trimmed; the file must be a regular
 * file without group or other access. NULL after reporting at path. */
static char *webhook_read_token(const struct jsoncfg *j, const char *full, const char *path)
{
    char buf[1024];
    struct stat st;
    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) != 0) {
        jsoncfg_err(j, path, "cannot read token file %s: %s", full, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & (S_IRWXG | S_IRWXO))) {
        jsoncfg_err(j, path, "token file %s must be a regular file without group or other access",
                    full);
        close(fd);
        return NULL;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!buf[0]) {
        jsoncfg_err(j, path, "the token file %s is empty (the first line is the token)", full);
        return NULL;
    }
    return jsoncfg_strdup(buf);
}

static unsigned webhook_parse_events(const struct jsoncfg *j, json_t *ev, const char *path)
{
    if (!ev)
        return 1u << WEBHOOK_EV_STATE | 1u << WEBHOOK_EV_OVERRIDE | 1u << WEBHOOK_EV_DRILL |
               1u << WEBHOOK_EV_VERDICT;
    unsigned bits = 0;
    size_t i;
    json_t *x;
    if (!json_is_array(ev) || json_array_size(ev) == 0) {
        jsoncfg_err(j, path, "must be a non-empty list of event kinds");
        return 0;
    }
    json_array_foreach(ev, i, x)
    {
        const char *s = json_string_value(x);
        int k = 0;
        while (s && k < WEBHOOK_EV_KINDS && strcmp(s, webhook_event_names[k]) != 0)
            k++;
        if (!s || k == WEBHOOK_EV_KINDS) {
            char sub[128];
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            jsoncfg_err(j, sub,
                        "must be \"state\", \"health\", \"override\", \"drill\", \"verdict\", "
                        "\"fleet\" or \"reload\"");
            continue;
        }
        bits |= 1u << k;
    }
    return bits;
}

enum {
    WH_URL,
    WH_FORMAT,
    WH_EVENTS,
    WH_TOKEN_FILE,
    WH_CA_FILE,
    WH_TIMEOUT,
    WH_RETRIES,
    WH_BACKOFF,
    WH_MAX_BACKOFF,
    WH_N
};
static const struct cfgschema_key webhook_keys[WH_N] = {
    [WH_URL] = {"url", CFGSCHEMA_STRING, .flags = CFGSCHEMA_REQUIRED,
                .what = "where events are posted: http:// or https://"},
    [WH_FORMAT] = {"format", CFGSCHEMA_STRING,
                   .what = "\"json\" (the default), \"slack\" or \"alertmanager\""},
    [WH_EVENTS] = {"events", CFGSCHEMA_ARRAY, .what = "the kinds of events posted"},
    [WH_TOKEN_FILE] = {"token_file", CFGSCHEMA_PATH, .what = "a bearer token's file"},
    [WH_CA_FILE] = {"ca_file", CFGSCHEMA_PATH, .what = "the CAs to trust for https"},
    [WH_TIMEOUT] = {"timeout", CFGSCHEMA_SECONDS, 0.1, 120, 5, 0, NULL, "one attempt's bound"},
    [WH_RETRIES] = {"retries", CFGSCHEMA_INT, 0, 100, 5, 0, NULL, "attempts after the first"},
    [WH_BACKOFF] = {"backoff", CFGSCHEMA_SECONDS, 0.01, 3600, 1, 0, NULL,
                    "the pause before the first retry, doubled each time"},
    [WH_MAX_BACKOFF] = {"max_backoff", CFGSCHEMA_SECONDS, 0.01, 86400, 60, 0, NULL,
                        "the longest pause between retries"},
};
static const struct cfgschema webhook_schema = CFGSCHEMA("$.notify.webhooks[]", webhook_keys);

enum { NT_WEBHOOKS, NT_QUEUE, NT_N };
static const struct cfgschema_key notify_keys[NT_N] = {
    [NT_WEBHOOKS] = {"webhooks", CFGSCHEMA_ARRAY, .flags = CFGSCHEMA_REQUIRED,
                     .sub = &webhook_schema, .what = "where events are posted"},
    [NT_QUEUE] = {"queue", CFGSCHEMA_INT, 1, 100000, 1000, 0, NULL,
                  "events waiting at most; older ones are dropped"},
};
const struct cfgschema notify_schema = CFGSCHEMA("$.notify", notify_keys);

/* The file of key k (a path relative to the config), read or resolved. */
static void webhook_file(const struct jsoncfg *j, json_t *h, size_t k, const char *path,
                         char **file, char **token)
{
    char sub[160];
    cfgschema_key_path(sub, sizeof(sub), &webhook_schema, k, path);
    *file = cfgschema_path(j, &webhook_schema, k, h, path);
    if (!*file)
        return;
    if (token)
        *token = webhook_read_token(j, *file, sub);
    else if (access(*file, R_OK) != 0)
        jsoncfg_err(j, sub, "cannot read %s: %s", *file, strerror(errno));
}

/* One webhook, h an object (its keys checked). */
static void webhook_parse_one(const struct jsoncfg *j, json_t *h, const char *path,
                              struct webhook_target *t)
{
    const struct cfgschema *s = &webhook_schema;
    char sub[160];
    const char *url = cfgschema_str(j, s, WH_URL, h, path);
    if (url && ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
                strlen(url) > 2000))
        cfgschema_err(j, s, WH_URL, path, "must be an http:// or https:// URL");
    t->url = jsoncfg_strdup(url ? url : "");
    const char *f = cfgschema_str(j, s, WH_FORMAT, h, path);
    if (!f || strcmp(f, "json") == 0)
        t->format = WEBHOOK_JSON;
    else if (strcmp(f, "slack") == 0)
        t->format = WEBHOOK_SLACK;
    else if (strcmp(f, "alertmanager") == 0)
        t->format = WEBHOOK_ALERTMANAGER;
    else
        cfgschema_err(j, s, WH_FORMAT, path, "must be \"json\", \"slack\" or \"alertmanager\"");
    cfgschema_key_path(sub, sizeof(sub), s, WH_EVENTS, path);
    t->events = webhook_parse_events(j, cfgschema_value(s, WH_EVENTS, h), sub);
    webhook_file(j, h, WH_TOKEN_FILE, path, &t->token_file, &t->token);
    webhook_file(j, h, WH_CA_FILE, path, &t->ca_file, NULL);
    t->timeout = cfgschema_seconds(j, s, WH_TIMEOUT, h, path);
    t->retries = (unsigned)cfgschema_int(j, s, WH_RETRIES, h, path);
    t->backoff = cfgschema_seconds(j, s, WH_BACKOFF, h, path);
    t->max_backoff = cfgschema_seconds(j, s, WH_MAX_BACKOFF, h, path);
}

void webhook_params_parse(const struct jsoncfg *j, json_t *v, struct webhook_params *out)
{
    const struct cfgschema *s = &notify_schema;
    memset(out, 0, sizeof(*out));
    out->queue = (size_t)s->keys[NT_QUEUE].def;
    if (!v || !cfgschema_object(j, s, v, NULL))
        return;
    out->queue = (size_t)cfgschema_int(j, s, NT_QUEUE, v, NULL);
    json_t *w = cfgschema_value(s, NT_WEBHOOKS, v);
    if (!w)
        return;
    if (!json_is_array(w) || json_array_size(w) > WEBHOOK_MAX) {
        cfgschema_err(j, s, NT_WEBHOOKS, NULL, "must be a list of at most %d webhooks",
                      WEBHOOK_MAX);
        return;
    }
    out->hooks = calloc(json_array_size(w) ? json_array_size(w) : 1, sizeof(*out->hooks));
    if (!out->hooks)
        abort();
    char at[64];
    cfgschema_key_path(at, sizeof(at), s, NT_WEBHOOKS, NULL);
    size_t i;
    json_t *h;
    json_array_foreach(w, i, h)
    {
        char path[96];
        snprintf(path, sizeof(path), "%s[%zu]", at, i);
        if (cfgschema_object(j, &webhook_schema, h, path))
            webhook_parse_one(j, h, path, &out->hooks[out->n_hooks++]);
    }
}

void webhook_params_free(struct webhook_params *p)
{
    for (size_t i = 0; i < p->n_hooks; i++) {
        free(p->hooks[i].url);
        free(p->hooks[i].token);
        free(p->hooks[i].token_file);
        free(p->hooks[i].ca_file);
    }
    free(p->hooks);
    memset(p, 0, sizeof(*p));
}
