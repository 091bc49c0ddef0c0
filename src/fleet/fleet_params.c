/*
 * fleet_params.c -- the "fleet" section of the configuration.
 */
#include "fleet/fleet_params.h"

#include "common/digest.h"
#include "fleet/fleet_keyseal.h"
#include "fleet/fleet_peer.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static const struct cfgschema_key fleet_tls_keys[TLS_N] = {
    [TLS_CA_FILE] = {"ca_file", CFGSCHEMA_PATH, .what = "CA certificates that sign etcd's"},
    [TLS_CERT_FILE] = {"cert_file", CFGSCHEMA_PATH, .what = "this node's client certificate"},
    [TLS_KEY_FILE] = {"key_file", CFGSCHEMA_PATH, .what = "its private key (needs cert_file)"},
};
const struct cfgschema fleet_tls_schema = CFGSCHEMA("$.fleet.tls", fleet_tls_keys);

enum { ISO_AFTER, ISO_ACTION, ISO_N };
static const struct cfgschema_key fleet_isolation_keys[ISO_N] = {
    [ISO_AFTER] = {"after", CFGSCHEMA_SECONDS, 1, 86400, 0, CFGSCHEMA_DEFAULT_VARIES, NULL,
                   "how old the view of etcd may be before the node is isolated (stale_after)"},
    [ISO_ACTION] = {"action", CFGSCHEMA_STRING,
                    .what = "\"serve\", \"refuse\" or \"servfail\" once isolated"},
};
static const struct cfgschema fleet_isolation_schema =
    CFGSCHEMA("$.fleet.isolation", fleet_isolation_keys);

static const struct cfgschema_key fleet_keys[FLEET_K_N] = {
    [FLEET_K_ETCD] = {"etcd", CFGSCHEMA_ARRAY, .flags = CFGSCHEMA_REQUIRED,
                      .what = "etcd client URLs (http:// or https://)"},
    [FLEET_K_PREFIX] = {"prefix", CFGSCHEMA_STRING,
                        .what = "the key prefix, \"/gtmd/\" by default"},
    [FLEET_K_NODE] = {"node", CFGSCHEMA_STRING, .what = "this node's name (the host name)"},
    [FLEET_K_DOWN_QUORUM] = {"down_quorum", CFGSCHEMA_ANY,
                             .what = "\"majority\", \"all\", \"any\" or a count"},
    [FLEET_K_STALE_AFTER] = {"stale_after", CFGSCHEMA_SECONDS, 2, 3600, 10, 0, NULL,
                             "the lease TTL, and how old the view of etcd may become"},
    [FLEET_K_TLS] = {"tls", CFGSCHEMA_OBJECT, .sub = &fleet_tls_schema,
                     .what = "TLS files for https:// URLs"},
    [FLEET_K_USERNAME] = {"username", CFGSCHEMA_STRING, .what = "etcd user (with password_file)"},
    [FLEET_K_PASSWORD_FILE] = {"password_file", CFGSCHEMA_PATH,
                               .what = "a file whose first line is the etcd password"},
    [FLEET_K_TIMEOUT] = {"timeout", CFGSCHEMA_SECONDS, 0.1, 60, 2, 0, NULL,
                         "how long an etcd call may take"},
    [FLEET_K_ISOLATION] = {"isolation", CFGSCHEMA_OBJECT, .sub = &fleet_isolation_schema,
                           .what = "what the node answers once cut off from etcd"},
    [FLEET_K_KEY_FILE] = {"key_file", CFGSCHEMA_PATH,
                          .what = "this node's Ed25519 private key (with members)"},
    [FLEET_K_MEMBERS] = {"members", CFGSCHEMA_OBJECT,
                         .what = "the nodes whose signed records count, with their public keys"},
    [FLEET_K_LATENCY_INTERVAL] = {"latency_interval", CFGSCHEMA_SECONDS, 0.1, 3600, 5, 0, NULL,
                                  "at most one write of this node's round-trip table per this"},
    [FLEET_K_PUBLISH] = {"publish", CFGSCHEMA_BOOL, 0, 1, 1, 0, NULL,
                         "false: a watcher that neither probes nor publishes, and serves the "
                         "verdicts of the publishing nodes"},
    [FLEET_K_READ_PAGE] = {"read_page", CFGSCHEMA_INT, 10, 1000000, 1000, 0, NULL,
                           "keys per request of a fresh read of etcd"},
    [FLEET_K_PEER_LISTEN] = {"peer_listen", CFGSCHEMA_ANY, .flags = CFGSCHEMA_NODE_LOCAL,
                             .what = "the direct peer channel's \"IP:PORT\" (the admin API's "
                                     "address, any port), or false"},
    [FLEET_K_DECISION] = {"decision", CFGSCHEMA_STRING,
                          .what = "the rule of the live verdict: \"stamped\" (default) or "
                                  "\"gaps\" (the rule of the releases before)"},
    [FLEET_K_KEY_SECRET_FILE] = {"key_secret_file", CFGSCHEMA_PATH,
                                 .what = "the fleet's key-sharing secret (32 bytes, hex or "
                                         "base64): zones under a policy share one key set"},
    [FLEET_K_CONFIG_PART_KIB] = {"config_part_kib", CFGSCHEMA_INT, 16, 1024, 512, 0, NULL,
                                 "KiB of each part of a whole configuration document written to "
                                 "etcd (below etcd's --max-request-bytes with base64's third)"},
};
const struct cfgschema fleet_schema = CFGSCHEMA("$.fleet", fleet_keys);

static void fleet_params_urls(const struct jsoncfg *j, json_t *v, struct fleet_params *out)
{
    char at[64];
    cfgschema_key_path(at, sizeof(at), &fleet_schema, FLEET_K_ETCD, NULL);
    if (!json_is_array(v) || json_array_size(v) == 0) {
        if (v)
            jsoncfg_err(j, at, "must be a non-empty array of etcd client URLs");
        return;
    }
    out->etcd.urls = calloc(json_array_size(v), sizeof(char *));
    if (!out->etcd.urls)
        abort();
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char path[96];
        snprintf(path, sizeof(path), "%s[%zu]", at, i);
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
    } else {
        char at[64];
        cfgschema_key_path(at, sizeof(at), &fleet_schema, FLEET_K_DOWN_QUORUM, NULL);
        jsoncfg_err(j, at, "must be \"majority\", \"all\", \"any\" or a count from 1 to 1000");
    }
}

static void fleet_params_tls(const struct jsoncfg *j, json_t *v, struct fleet_params *out)
{
    const struct cfgschema *s = &fleet_tls_schema;
    if (!v || !cfgschema_object(j, s, v, NULL))
        return;
    char *files[TLS_N];
    for (size_t i = 0; i < TLS_N; i++)
        files[i] = cfgschema_path(j, s, i, v, NULL);
    out->etcd.ca_file = files[TLS_CA_FILE];
    out->etcd.cert_file = files[TLS_CERT_FILE];
    out->etcd.key_file = files[TLS_KEY_FILE];
    char at[64];
    if (files[TLS_KEY_FILE] && !files[TLS_CERT_FILE]) {
        cfgschema_key_path(at, sizeof(at), s, TLS_KEY_FILE, NULL);
        jsoncfg_err(j, at, "needs cert_file");
    }
    /* Every file given is checked, each under its own path: any of them
     * may be absent (a client certificate without a CA file is valid). */
    for (size_t i = 0; i < TLS_N; i++)
        if (files[i] && access(files[i], R_OK) != 0) {
            cfgschema_key_path(at, sizeof(at), s, i, NULL);
            jsoncfg_err(j, at, "cannot read %s", files[i]);
        }
}

/* The password: the first line of password_file, trimmed. */
static void fleet_params_password(const struct jsoncfg *j, json_t *v, struct fleet_params *out)
{
    const struct cfgschema *s = &fleet_schema;
    const char *user = cfgschema_str(j, s, FLEET_K_USERNAME, v, NULL);
    char *full = cfgschema_path(j, s, FLEET_K_PASSWORD_FILE, v, NULL), buf[512] = "";
    char at[64];
    cfgschema_key_path(at, sizeof(at), s, FLEET_K_PASSWORD_FILE, NULL);
    if (!user && !full)
        return;
    if (!user || !full) {
        /* Named at the one that is missing. */
        cfgschema_key_path(at, sizeof(at), s, user ? FLEET_K_PASSWORD_FILE : FLEET_K_USERNAME,
                           NULL);
        jsoncfg_err(j, at, "username and password_file go together");
        free(full);
        return;
    }
    out->password_file = full;
    FILE *f = fopen(full, "r");
    if (!f)
        jsoncfg_err(j, at, "cannot read %s", full);
    else {
        if (!fgets(buf, sizeof(buf), f))
            buf[0] = '\0';
        fclose(f);
    }
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (f && n == 0)
        jsoncfg_err(j, at, "the password file is empty");
    out->etcd.username = jsoncfg_strdup(user);
    out->etcd.password = jsoncfg_strdup(buf);
}

static void fleet_params_names(const struct jsoncfg *j, json_t *v, struct fleet_params *out)
{
    const struct cfgschema *s = &fleet_schema;
    char at[64];
    const char *prefix = cfgschema_str(j, s, FLEET_K_PREFIX, v, NULL);
    if (prefix && (prefix[0] != '/' || prefix[strlen(prefix) - 1] != '/' || strlen(prefix) > 200 ||
                   strchr(prefix, ' '))) {
        cfgschema_key_path(at, sizeof(at), s, FLEET_K_PREFIX, NULL);
        jsoncfg_err(j, at, "must start and end with \"/\" (like \"/gtmd/prod/\")");
    }
    out->prefix = jsoncfg_strdup(prefix ? prefix : "/gtmd/");
    const char *node = cfgschema_str(j, s, FLEET_K_NODE, v, NULL);
    char host[256] = "";
    if (!node) {
        if (gethostname(host, sizeof(host) - 1) != 0)
            snprintf(host, sizeof(host), "gtmd");
        host[strcspn(host, ".")] = '\0'; /* the short name */
        node = host;
    }
    if (!fleet_node_name_ok(node)) {
        cfgschema_key_path(at, sizeof(at), s, FLEET_K_NODE, NULL);
        jsoncfg_err(j, at, "\"%s\" is not a node name (1 to 63 of A-Z a-z 0-9 . _ -)", node);
    }
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
    const struct cfgschema *s = &fleet_isolation_schema;
    out->isolation_after = out->stale_after;
    out->isolation = FLEET_ISOLATION_SERVE;
    if (!v || !cfgschema_object(j, s, v, NULL))
        return;
    if (cfgschema_value(s, ISO_AFTER, v))
        out->isolation_after = cfgschema_seconds(j, s, ISO_AFTER, v, NULL);
    const char *a = cfgschema_str(j, s, ISO_ACTION, v, NULL);
    if (!a || strcmp(a, "serve") == 0)
        out->isolation = FLEET_ISOLATION_SERVE;
    else if (strcmp(a, "refuse") == 0)
        out->isolation = FLEET_ISOLATION_REFUSE;
    else if (strcmp(a, "servfail") == 0)
        out->isolation = FLEET_ISOLATION_SERVFAIL;
    else {
        char at[64];
        cfgschema_key_path(at, sizeof(at), s, ISO_ACTION, NULL);
        jsoncfg_err(j, at, "must be \"serve\", \"refuse\" or \"servfail\"");
    }
}

const char *fleet_decision_name(enum fleet_decision d)
{
    return d == FLEET_DECISION_GAPS ? "gaps" : "stamped";
}

/* "decision": "stamped" | "gaps". */
static void fleet_params_decision(const struct jsoncfg *j, json_t *v, struct fleet_params *out)
{
    const char *d = cfgschema_str(j, &fleet_schema, FLEET_K_DECISION, v, NULL);
    out->decision = FLEET_DECISION_STAMPED;
    if (!d || strcmp(d, "stamped") == 0)
        return;
    if (strcmp(d, "gaps") == 0) {
        out->decision = FLEET_DECISION_GAPS;
        return;
    }
    char at[64];
    cfgschema_key_path(at, sizeof(at), &fleet_schema, FLEET_K_DECISION, NULL);
    jsoncfg_err(j, at, "must be \"stamped\" or \"gaps\"");
}

/* "peer_listen": "IP:PORT" (port 0: any), or false. */
static void fleet_params_peer(const struct jsoncfg *j, json_t *v, struct fleet_params *out)
{
    if (!v)
        return;
    char at[64];
    cfgschema_key_path(at, sizeof(at), &fleet_schema, FLEET_K_PEER_LISTEN, NULL);
    if (json_is_false(v)) {
        out->peer_off = true;
        return;
    }
    const char *s = json_string_value(v);
    if (!s || !fleet_peer_listen_ok(s))
        jsoncfg_err(j, at,
                    "must be \"IP:PORT\" or \"[IPv6]:PORT\" (port 0: any) where peers reach "
                    "this node, or false");
    else if (fleet_peer_listen_wildcard(s))
        jsoncfg_err(j, at,
                    "\"%s\" is a wildcard: peers need the address to send to (it is announced "
                    "in etcd)",
                    s);
    else
        out->peer_listen = jsoncfg_strdup(s);
}

/* "key_secret_file": 32 bytes as hex or base64, in a file that group and
 * others cannot read (it opens every private key the fleet shares). */
static void fleet_params_key_secret(const struct jsoncfg *j, json_t *v, struct fleet_params *out)
{
    const struct cfgschema *s = &fleet_schema;
    char *full = cfgschema_path(j, s, FLEET_K_KEY_SECRET_FILE, v, NULL), buf[256] = "", err[160];
    if (!full)
        return;
    char at[64];
    cfgschema_key_path(at, sizeof(at), s, FLEET_K_KEY_SECRET_FILE, NULL);
    out->key_secret_file = full;
    struct stat st;
    FILE *f = fopen(full, "r");
    if (!f) {
        jsoncfg_err(j, at, "cannot read %s", full);
        return;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    bool open_to_others = fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0;
    fclose(f);
    if (open_to_others)
        jsoncfg_err(j, at, "%s may be read by group or others: chmod 600 it", full);
    else if (!fleet_keyseal_parse_secret(buf, out->key_secret, err, sizeof(err)))
        jsoncfg_err(j, at, "%s %s", full, err);
    else
        out->has_key_secret = true;
    OPENSSL_cleanse(buf, sizeof(buf));
}

void fleet_params_parse(const struct jsoncfg *j, json_t *v, struct fleet_params *out)
{
    const struct cfgschema *s = &fleet_schema;
    memset(out, 0, sizeof(*out));
    if (!v || !cfgschema_object(j, s, v, NULL))
        return;
    out->enabled = true;
    fleet_params_urls(j, cfgschema_value(s, FLEET_K_ETCD, v), out);
    fleet_params_names(j, v, out);
    fleet_params_quorum(j, cfgschema_value(s, FLEET_K_DOWN_QUORUM, v), out);
    out->stale_after = cfgschema_seconds(j, s, FLEET_K_STALE_AFTER, v, NULL);
    out->etcd.timeout_s = cfgschema_seconds(j, s, FLEET_K_TIMEOUT, v, NULL);
    out->latency_interval = cfgschema_seconds(j, s, FLEET_K_LATENCY_INTERVAL, v, NULL);
    out->publish = cfgschema_bool(j, s, FLEET_K_PUBLISH, v, NULL);
    out->read_page = (unsigned)cfgschema_int(j, s, FLEET_K_READ_PAGE, v, NULL);
    out->config_part_kib = (unsigned)cfgschema_int(j, s, FLEET_K_CONFIG_PART_KIB, v, NULL);
    fleet_params_isolation(j, cfgschema_value(s, FLEET_K_ISOLATION, v), out);
    fleet_params_tls(j, cfgschema_value(s, FLEET_K_TLS, v), out);
    fleet_params_password(j, v, out);
    fleet_keys_parse(j, v, out->node, &out->keys);
    fleet_params_peer(j, cfgschema_value(s, FLEET_K_PEER_LISTEN, v), out);
    fleet_params_decision(j, v, out);
    fleet_params_key_secret(j, v, out);
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
    free(p->peer_listen);
    free(p->key_secret_file);
    OPENSSL_cleanse(p->key_secret, sizeof(p->key_secret));
    fleet_keys_free(&p->keys);
    memset(p, 0, sizeof(*p));
}

void fleet_params_restart_inputs(const struct fleet_params *p, json_t *part)
{
    if (!p->enabled || !json_is_object(part))
        return;
    json_object_set_new(part, fleet_schema.keys[FLEET_K_NODE].name, json_string(p->node));
    if (p->has_key_secret) {
        /* The secret's id (fleet_keyseal_kid), not the secret: a new
         * secret needs a restart, like a new password. */
        char kid[FLEET_KEYSEAL_KID];
        fleet_keyseal_kid(p->key_secret, kid);
        json_object_set_new(part, fleet_schema.keys[FLEET_K_KEY_SECRET_FILE].name,
                            json_string(kid));
    }
    if (!p->etcd.password)
        return;
    /* A digest: the part is compared, never shown, but need not hold the
     * secret itself. */
    char hex[DIGEST_SHA256_HEX];
    digest_sha256_hex(p->etcd.password, strlen(p->etcd.password), hex);
    json_object_set_new(part, fleet_schema.keys[FLEET_K_PASSWORD_FILE].name, json_string(hex));
}
