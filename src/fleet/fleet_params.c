/*
 * fleet_params.c -- the "fleet" section of the configuration.
 */
#include "fleet/fleet_params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool fleet_node_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= FLEET_NODE_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

bool fleet_params_set_node(struct fleet_params *p, const char *node)
{
    if (!fleet_node_name_ok(node) || !fleet_keys_own_is(&p->keys, node))
        return false;
    free(p->node);
    p->node = jsoncfg_strdup(node);
    return true;
}

static void fleet_params_urls(const struct jsoncfg *j, json_t *v, struct fleet_params *out)
{
    if (!json_is_array(v) || json_array_size(v) == 0) {
        jsoncfg_err(j, "$.fleet.etcd", "must be a non-empty array of etcd client URLs");
        return;
    }
    out->etcd.urls = calloc(json_array_size(v), sizeof(char *));
    if (!out->etcd.urls)
        abort();
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char path[64];
        snprintf(path, sizeof(path), "$.fleet.etcd[%zu]", i);
        const char *u = json_string_value(e);
        if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) ||
            strlen(u) < 10) {
            jsoncfg_err(j, path, "must be a URL like \"http://127.0.0.1:2379\" or \"https://...\"");
            continue;
        }
        out->etcd.urls[out->etcd.n_urls++] = jsoncfg_strdup(u);
    }
}

static void fleet_params_quorum(const struct jsoncfg *j, json_t *v, struct fleet_params *out)
{
    const char *s = json_string_value(v);
    out->quorum.kind = FLEET_QUORUM_MAJORITY;
    if (!v || (s && strcmp(s, "majority") == 0))
        return;
    if (s && strcmp(s, "all") == 0)
        out->quorum.kind = FLEET_QUORUM_ALL;
    else if (s && strcmp(s, "any") == 0)
        out->quorum.kind = FLEET_QUORUM_ANY;
    else if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 1000) {
        out->quorum.kind = FLEET_QUORUM_COUNT;
        out->quorum.count = (unsigned)json_integer_value(v);
    } else
        jsoncfg_err(j, "$.fleet.down_quorum",
                    "must be \"majority\", \"all\", \"any\" or a count from 1 to 1000");
}

static const char *const fleet_params_tls_paths[] = {"$.fleet.tls.ca_file", "$.fleet.tls.cert_file",
                                                     "$.fleet.tls.key_file"};

static void fleet_params_tls(const struct jsoncfg *j, json_t *v, struct fleet_params *out)
{
    static const char *const keys[] = {"ca_file", "cert_file", "key_file", NULL};
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(j, "$.fleet.tls", "must be an object with ca_file, cert_file, key_file");
        return;
    }
    jsoncfg_check_keys(j, v, "$.fleet.tls", keys);
    const char *ca = jsoncfg_str(j, v, "ca_file", fleet_params_tls_paths[0]);
    const char *cert = jsoncfg_str(j, v, "cert_file", fleet_params_tls_paths[1]);
    const char *key = jsoncfg_str(j, v, "key_file", fleet_params_tls_paths[2]);
    out->etcd.ca_file = ca ? jsoncfg_path(j, ca) : NULL;
    out->etcd.cert_file = cert ? jsoncfg_path(j, cert) : NULL;
    out->etcd.key_file = key ? jsoncfg_path(j, key) : NULL;
    if (key && !cert)
        jsoncfg_err(j, "$.fleet.tls.key_file", "needs cert_file");
    /* Every file given is checked, each under its own path: any of them
     * may be absent (a client certificate without a CA file is valid). */
    const char *const files[] = {out->etcd.ca_file, out->etcd.cert_file, out->etcd.key_file};
    for (size_t i = 0; i < 3; i++)
        if (files[i] && access(files[i], R_OK) != 0)
            jsoncfg_err(j, fleet_params_tls_paths[i], "cannot read %s", files[i]);
}

/* The password: the first line of password_file, trimmed. */
static void fleet_params_password(const struct jsoncfg *j, json_t *v, struct fleet_params *out)
{
    const char *user = jsoncfg_str(j, v, "username", "$.fleet.username");
    const char *pf = jsoncfg_str(j, v, "password_file", "$.fleet.password_file");
    if (!user && !pf)
        return;
    if (!user || !pf) {
        jsoncfg_err(j, user ? "$.fleet.password_file" : "$.fleet.username",
                    "username and password_file go together");
        return;
    }
    char *full = jsoncfg_path(j, pf), buf[512] = "";
    out->password_file = jsoncfg_strdup(full);
    FILE *f = fopen(full, "r");
    if (!f)
        jsoncfg_err(j, "$.fleet.password_file", "cannot read %s", full);
    else {
        if (!fgets(buf, sizeof(buf), f))
            buf[0] = '\0';
        fclose(f);
    }
    free(full);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (f && n == 0)
        jsoncfg_err(j, "$.fleet.password_file", "the password file is empty");
    out->etcd.username = jsoncfg_strdup(user);
    out->etcd.password = jsoncfg_strdup(buf);
}

static void fleet_params_names(const struct jsoncfg *j, json_t *v, struct fleet_params *out)
{
    const char *prefix = jsoncfg_str(j, v, "prefix", "$.fleet.prefix");
    if (prefix && (prefix[0] != '/' || prefix[strlen(prefix) - 1] != '/' || strlen(prefix) > 200 ||
                   strchr(prefix, ' ')))
        jsoncfg_err(j, "$.fleet.prefix", "must start and end with \"/\" (like \"/gtmd/prod/\")");
    out->prefix = jsoncfg_strdup(prefix ? prefix : "/gtmd/");
    const char *node = jsoncfg_str(j, v, "node", "$.fleet.node");
    char host[256] = "";
    if (!node) {
        if (gethostname(host, sizeof(host) - 1) != 0)
            snprintf(host, sizeof(host), "gtmd");
        host[strcspn(host, ".")] = '\0'; /* the short name */
        node = host;
    }
    if (!fleet_node_name_ok(node))
        jsoncfg_err(j, "$.fleet.node", "\"%s\" is not a node name (1 to 63 of A-Z a-z 0-9 . _ -)",
                    node);
    out->node = jsoncfg_strdup(node);
}

const char *fleet_isolation_name(enum fleet_isolation a)
{
    return a == FLEET_ISOLATION_REFUSE     ? "refuse"
           : a == FLEET_ISOLATION_SERVFAIL ? "servfail"
                                           : "serve";
}

/* "isolation": {"after": seconds, "action": "serve" | "refuse" | "servfail"} */
static void fleet_params_isolation(const struct jsoncfg *j, json_t *v, struct fleet_params *out)
{
    static const char *const keys[] = {"after", "action", NULL};
    out->isolation_after = out->stale_after;
    out->isolation = FLEET_ISOLATION_SERVE;
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(j, "$.fleet.isolation", "must be an object");
        return;
    }
    jsoncfg_check_keys(j, v, "$.fleet.isolation", keys);
    out->isolation_after =
        jsoncfg_ms(j, v, "after", "$.fleet.isolation.after", 1, 86400, out->stale_after) / 1e3;
    const char *a = jsoncfg_str(j, v, "action", "$.fleet.isolation.action");
    if (!a || strcmp(a, "serve") == 0)
        out->isolation = FLEET_ISOLATION_SERVE;
    else if (strcmp(a, "refuse") == 0)
        out->isolation = FLEET_ISOLATION_REFUSE;
    else if (strcmp(a, "servfail") == 0)
        out->isolation = FLEET_ISOLATION_SERVFAIL;
    else
        jsoncfg_err(j, "$.fleet.isolation.action", "must be \"serve\", \"refuse\" or \"servfail\"");
}

void fleet_params_parse(const struct jsoncfg *j, json_t *v, struct fleet_params *out)
{
    static const char *const keys[] = {
        "etcd",          "prefix",  "node",      "down_quorum", "stale_after", "tls", "username",
        "password_file", "timeout", "isolation", "key_file",    "members",     NULL};
    memset(out, 0, sizeof(*out));
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(j, "$.fleet", "must be an object");
        return;
    }
    out->enabled = true;
    jsoncfg_check_keys(j, v, "$.fleet", keys);
    fleet_params_urls(j, json_object_get(v, "etcd"), out);
    fleet_params_names(j, v, out);
    fleet_params_quorum(j, json_object_get(v, "down_quorum"), out);
    out->stale_after = jsoncfg_ms(j, v, "stale_after", "$.fleet.stale_after", 2, 3600, 10) / 1e3;
    out->etcd.timeout_s = jsoncfg_ms(j, v, "timeout", "$.fleet.timeout", 0.1, 60, 2) / 1e3;
    fleet_params_isolation(j, json_object_get(v, "isolation"), out);
    fleet_params_tls(j, json_object_get(v, "tls"), out);
    fleet_params_password(j, v, out);
    fleet_keys_parse(j, v, out->node, &out->keys);
}

static bool fleet_str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool fleet_params_same(const struct fleet_params *a, const struct fleet_params *b)
{
    if (a->enabled != b->enabled)
        return false;
    if (!a->enabled)
        return true;
    if (a->etcd.n_urls != b->etcd.n_urls)
        return false;
    for (size_t i = 0; i < a->etcd.n_urls; i++)
        if (strcmp(a->etcd.urls[i], b->etcd.urls[i]) != 0)
            return false;
    return fleet_str_eq(a->prefix, b->prefix) && fleet_str_eq(a->node, b->node) &&
           a->quorum.kind == b->quorum.kind && a->quorum.count == b->quorum.count &&
           a->stale_after == b->stale_after && a->etcd.timeout_s == b->etcd.timeout_s &&
           a->isolation_after == b->isolation_after && a->isolation == b->isolation &&
           fleet_str_eq(a->etcd.username, b->etcd.username) &&
           fleet_str_eq(a->etcd.password, b->etcd.password) &&
           fleet_str_eq(a->etcd.ca_file, b->etcd.ca_file) &&
           fleet_str_eq(a->etcd.cert_file, b->etcd.cert_file) &&
           fleet_str_eq(a->etcd.key_file, b->etcd.key_file);
}

void fleet_params_free(struct fleet_params *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->etcd.n_urls; i++)
        free(p->etcd.urls[i]);
    free(p->etcd.urls);
    free(p->etcd.username);
    free(p->etcd.password);
    free(p->etcd.ca_file);
    free(p->etcd.cert_file);
    free(p->etcd.key_file);
    free(p->password_file);
    free(p->prefix);
    free(p->node);
    fleet_keys_free(&p->keys);
    memset(p, 0, sizeof(*p));
}
