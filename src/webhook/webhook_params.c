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

/* The file of key (a path relative to the config), read or resolved. */
static void webhook_file(const struct jsoncfg *j, json_t *h, const char *key, const char *path,
                         char **file, char **token)
{
    char sub[128];
    snprintf(sub, sizeof(sub), "%s.%s", path, key);
    const char *f = jsoncfg_str(j, h, key, sub);
    if (!f)
        return;
    *file = jsoncfg_path(j, f);
    if (token)
        *token = webhook_read_token(j, *file, sub);
    else if (access(*file, R_OK) != 0)
        jsoncfg_err(j, sub, "cannot read %s: %s", *file, strerror(errno));
}

static void webhook_parse_one(const struct jsoncfg *j, json_t *h, const char *path,
                              struct webhook_target *t)
{
    static const char *const keys[] = {"url",     "format",  "events",  "token_file",  "ca_file",
                                       "timeout", "retries", "backoff", "max_backoff", NULL};
    char sub[128];
    jsoncfg_check_keys(j, h, path, keys);
    snprintf(sub, sizeof(sub), "%s.url", path);
    const char *url = jsoncfg_str(j, h, "url", sub);
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
        strlen(url) > 2000)
        jsoncfg_err(j, sub, "must be an http:// or https:// URL");
    t->url = jsoncfg_strdup(url ? url : "");
    snprintf(sub, sizeof(sub), "%s.format", path);
    const char *f = jsoncfg_str(j, h, "format", sub);
    if (!f || strcmp(f, "json") == 0)
        t->format = WEBHOOK_JSON;
    else if (strcmp(f, "slack") == 0)
        t->format = WEBHOOK_SLACK;
    else if (strcmp(f, "alertmanager") == 0)
        t->format = WEBHOOK_ALERTMANAGER;
    else
        jsoncfg_err(j, sub, "must be \"json\", \"slack\" or \"alertmanager\"");
    snprintf(sub, sizeof(sub), "%s.events", path);
    t->events = webhook_parse_events(j, json_object_get(h, "events"), sub);
    webhook_file(j, h, "token_file", path, &t->token_file, &t->token);
    webhook_file(j, h, "ca_file", path, &t->ca_file, NULL);
    snprintf(sub, sizeof(sub), "%s.timeout", path);
    t->timeout = jsoncfg_ms(j, h, "timeout", sub, 0.1, 120, 5) / 1000.0;
    snprintf(sub, sizeof(sub), "%s.retries", path);
    t->retries = (unsigned)jsoncfg_int(j, h, "retries", sub, 0, 100, 5);
    snprintf(sub, sizeof(sub), "%s.backoff", path);
    t->backoff = jsoncfg_ms(j, h, "backoff", sub, 0.01, 3600, 1) / 1000.0;
    snprintf(sub, sizeof(sub), "%s.max_backoff", path);
    t->max_backoff = jsoncfg_ms(j, h, "max_backoff", sub, 0.01, 86400, 60) / 1000.0;
}

void webhook_params_parse(const struct jsoncfg *j, json_t *v, struct webhook_params *out)
{
    static const char *const keys[] = {"webhooks", "queue", NULL};
    memset(out, 0, sizeof(*out));
    out->queue = 1000;
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(j, "$.notify", "must be an object");
        return;
    }
    jsoncfg_check_keys(j, v, "$.notify", keys);
    out->queue = (size_t)jsoncfg_int(j, v, "queue", "$.notify.queue", 1, 100000, 1000);
    json_t *w = json_object_get(v, "webhooks");
    if (!json_is_array(w) || json_array_size(w) > WEBHOOK_MAX) {
        jsoncfg_err(j, "$.notify.webhooks", "must be a list of at most %d webhooks", WEBHOOK_MAX);
        return;
    }
    out->hooks = calloc(json_array_size(w) ? json_array_size(w) : 1, sizeof(*out->hooks));
    if (!out->hooks)
        abort();
    size_t i;
    json_t *h;
    json_array_foreach(w, i, h)
    {
        char path[64];
        snprintf(path, sizeof(path), "$.notify.webhooks[%zu]", i);
        if (!json_is_object(h)) {
            jsoncfg_err(j, path, "must be an object with \"url\"");
            continue;
        }
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
