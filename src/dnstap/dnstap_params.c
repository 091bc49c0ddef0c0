/*
 * dnstap_params.c -- the "dnstap" section of the configuration.
 */
#include "dnstap/dnstap_params.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "common/addr.h"

#define RESTART CFGSCHEMA_RESTART
#define VARIES CFGSCHEMA_DEFAULT_VARIES

static const struct cfgschema_key dnstap_listener_keys[DNSTAP_L_N] = {
    [DNSTAP_L_QUERIES] = {"queries", CFGSCHEMA_BOOL, .def = 1, .flags = VARIES,
                          .what = "log its queries (AUTH_QUERY); default the section's"},
    [DNSTAP_L_RESPONSES] = {"responses", CFGSCHEMA_BOOL, .def = 1, .flags = VARIES,
                            .what = "log its responses (AUTH_RESPONSE); default the section's"},
    [DNSTAP_L_SAMPLE] = {"sample", CFGSCHEMA_INT, 1, DNSTAP_SAMPLE_MAX, 1, VARIES, NULL,
                         "log one query in this many, with its response; default the section's"},
};
const struct cfgschema dnstap_listener_schema =
    CFGSCHEMA("$.dnstap.listeners[]", dnstap_listener_keys);

static const struct cfgschema_key dnstap_keys[DNSTAP_K_N] = {
    [DNSTAP_K_SOCKET] = {"socket", CFGSCHEMA_PATH, .flags = RESTART,
                         .what = "the unix socket of a dnstap reader (or \"file\")"},
    [DNSTAP_K_FILE] = {"file", CFGSCHEMA_PATH, .flags = RESTART,
                       .what = "a file to write the log to (or \"socket\")"},
    [DNSTAP_K_QUERIES] = {"queries", CFGSCHEMA_BOOL, .def = 1,
                          .what = "log queries (AUTH_QUERY messages)"},
    [DNSTAP_K_RESPONSES] = {"responses", CFGSCHEMA_BOOL, .def = 1,
                            .what = "log responses (AUTH_RESPONSE messages)"},
    [DNSTAP_K_SAMPLE] = {"sample", CFGSCHEMA_INT, 1, DNSTAP_SAMPLE_MAX, 1, 0, NULL,
                         "log one query in this many (per worker), with its response"},
    [DNSTAP_K_IDENTITY] = {"identity", CFGSCHEMA_STRING, .flags = VARIES,
                           .what = "the identity field; default the server's identity"},
    [DNSTAP_K_VERSION] = {"version", CFGSCHEMA_STRING, .flags = VARIES,
                          .what = "the version field; default the server's version"},
    [DNSTAP_K_LISTENERS] = {"listeners", CFGSCHEMA_MAP, .sub = &dnstap_listener_schema,
                            .what = "listen addresses that log, each with its own settings "
                                    "(absent: all, as above)"},
    [DNSTAP_K_QUEUE_SIZE] = {"queue_size", CFGSCHEMA_INT, 16, 16384, DNSTAP_QUEUE_DEFAULT, RESTART,
                             NULL, "messages waiting per worker at most, a power of two"},
};
const struct cfgschema dnstap_schema = CFGSCHEMA("$.dnstap", dnstap_keys);

/* identity or version: at most 255 octets; "" hides the field. */
static char *dnstap_params_text(const struct jsoncfg *j, json_t *v, size_t k, bool *set)
{
    const char *t = cfgschema_str(j, &dnstap_schema, k, v, NULL);
    json_t *e = cfgschema_value(&dnstap_schema, k, v);
    *set = e != NULL;
    if (!t)
        return NULL;
    if (json_string_length(e) > 255 || strlen(t) != json_string_length(e)) {
        cfgschema_err(j, &dnstap_schema, k, NULL,
                      "must be at most 255 octets (\"\" leaves it out)");
        return NULL;
    }
    return t[0] ? jsoncfg_strdup(t) : NULL;
}

/* A listener's "queries" or "responses" (key k): bit when on; the
 * section's own when absent. */
static unsigned dnstap_params_flag(const struct jsoncfg *j, json_t *v, const char *path, size_t k,
                                   unsigned bit, const struct dnstap_params *p)
{
    if (!cfgschema_value(&dnstap_listener_schema, k, v))
        return p->what.what & bit;
    return cfgschema_bool(j, &dnstap_listener_schema, k, v, path) ? bit : 0;
}

/* One "listeners" entry (path: its own) over the section's defaults. */
static void dnstap_params_listener(const struct jsoncfg *j, const char *address, json_t *v,
                                   const char *path, struct dnstap_params *p,
                                   struct dnstap_listener *l)
{
    const struct cfgschema *s = &dnstap_listener_schema;
    l->address = jsoncfg_strdup(address);
    l->what = p->what;
    if (addr_parse(address, ADDR_PORT_REQUIRED, &l->addr, &l->addr_len) != 0)
        jsoncfg_err(j, path, "\"%s\" is not an address and port of \"listen\"", address);
    if (!cfgschema_object(j, s, v, path))
        return;
    l->what.what =
        (uint8_t)(dnstap_params_flag(j, v, path, DNSTAP_L_QUERIES, DNSTAP_QUERIES, p) |
                  dnstap_params_flag(j, v, path, DNSTAP_L_RESPONSES, DNSTAP_RESPONSES, p));
    if (cfgschema_value(s, DNSTAP_L_SAMPLE, v))
        l->what.sample = (uint32_t)cfgschema_int(j, s, DNSTAP_L_SAMPLE, v, path);
}

static void dnstap_params_listeners(const struct jsoncfg *j, json_t *v, struct dnstap_params *p)
{
    char at[64];
    cfgschema_key_path(at, sizeof(at), &dnstap_schema, DNSTAP_K_LISTENERS, NULL);
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(j, at, "must be an object of listen addresses");
        return;
    }
    p->listeners = calloc(json_object_size(v) ? json_object_size(v) : 1, sizeof(*p->listeners));
    if (!p->listeners)
        abort();
    const char *address;
    json_t *e;
    json_object_foreach(v, address, e)
    {
        char path[192];
        snprintf(path, sizeof(path), "%s[\"%.64s\"]", at, address);
        dnstap_params_listener(j, address, e, path, p, &p->listeners[p->n_listeners++]);
    }
}

void dnstap_params_parse(const struct jsoncfg *j, json_t *v, struct dnstap_params *out)
{
    const struct cfgschema *s = &dnstap_schema;
    memset(out, 0, sizeof(*out));
    if (!v || !cfgschema_object(j, s, v, NULL))
        return;
    out->enabled = true;
    out->socket = cfgschema_path(j, s, DNSTAP_K_SOCKET, v, NULL);
    out->file = cfgschema_path(j, s, DNSTAP_K_FILE, v, NULL);
    if (out->socket && strlen(out->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        cfgschema_err(j, s, DNSTAP_K_SOCKET, NULL, "the path is longer than a unix socket's (%zu)",
                      sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
    if (!out->socket == !out->file)
        jsoncfg_err(j, s->path, "needs one of \"socket\" (a reader's unix socket) and \"file\"");
    out->what.what =
        (uint8_t)((cfgschema_bool(j, s, DNSTAP_K_QUERIES, v, NULL) ? DNSTAP_QUERIES : 0) |
                  (cfgschema_bool(j, s, DNSTAP_K_RESPONSES, v, NULL) ? DNSTAP_RESPONSES : 0));
    out->what.sample = (uint32_t)cfgschema_int(j, s, DNSTAP_K_SAMPLE, v, NULL);
    out->identity = dnstap_params_text(j, v, DNSTAP_K_IDENTITY, &out->identity_set);
    out->version = dnstap_params_text(j, v, DNSTAP_K_VERSION, &out->version_set);
    long q = cfgschema_int(j, s, DNSTAP_K_QUEUE_SIZE, v, NULL);
    if (q & (q - 1))
        cfgschema_err(j, s, DNSTAP_K_QUEUE_SIZE, NULL, "must be a power of two (16 .. 16384)");
    out->queue_size = (unsigned)q;
    dnstap_params_listeners(j, cfgschema_value(s, DNSTAP_K_LISTENERS, v), out);
}

void dnstap_params_bind(const struct jsoncfg *j, struct dnstap_params *p,
                        const struct sockaddr_storage *const *listen, size_t n)
{
    char at[64];
    cfgschema_key_path(at, sizeof(at), &dnstap_schema, DNSTAP_K_LISTENERS, NULL);
    for (size_t i = 0; i < p->n_listeners; i++) {
        struct dnstap_listener *l = &p->listeners[i];
        if (!l->addr_len)
            continue; /* not an address: said already */
        l->listen = n;
        for (size_t k = 0; k < n && l->listen == n; k++)
            if (addr_same(&l->addr, listen[k]))
                l->listen = k;
        for (size_t k = 0; k < i && l->listen < n; k++)
            if (p->listeners[k].addr_len && p->listeners[k].listen == l->listen)
                jsoncfg_err(j, at, "\"%s\" and \"%s\" are the same listen address",
                            p->listeners[k].address, l->address);
        if (l->listen == n) {
            char path[192];
            snprintf(path, sizeof(path), "%s[\"%.64s\"]", at, l->address);
            jsoncfg_err(j, path, "\"%s\" is not one of the \"listen\" addresses", l->address);
        }
    }
}

void dnstap_params_free(struct dnstap_params *p)
{
    free(p->socket);
    free(p->file);
    free(p->identity);
    free(p->version);
    for (size_t i = 0; i < p->n_listeners; i++)
        free(p->listeners[i].address);
    free(p->listeners);
    memset(p, 0, sizeof(*p));
}
