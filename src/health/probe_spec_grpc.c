/*
 * probe_spec_grpc.c -- the keys of grpc checks and the certificate-expiry
 * keys of TLS checks (probe_grpc.h), read beside probe_spec.c's.
 *
 * A grpc check also takes http's "host" (the :authority and SNI) and
 * https's "ca_file"; probe_spec.c reads those. Every error names its
 * JSON path, e.g. "FILE: $.checks.g.cert_warn_days: must be more than
 * cert_min_days (10)".
 */
#include "health/probe_grpc.h"

#include <string.h>

enum { PG_SERVICE, PG_TLS, PG_N };
static const struct cfgschema_key pg_keys[PG_N] = {
    [PG_SERVICE] = {"service", CFGSCHEMA_STRING,
                    .what = "grpc: the service whose health is asked (\"\": the server's)"},
    [PG_TLS] = {"tls", CFGSCHEMA_BOOL, 0, 0, 0, 0, NULL,
                "grpc: over TLS (ALPN h2) instead of cleartext HTTP/2"},
};
const struct cfgschema probe_grpc_schema = CFGSCHEMA("$.checks[]", pg_keys);

enum { PK_MIN_DAYS, PK_WARN_DAYS, PK_N };
static const struct cfgschema_key pk_keys[PK_N] = {
    [PK_MIN_DAYS] = {"cert_min_days", CFGSCHEMA_INT, 0, 3650, 0, CFGSCHEMA_DEFAULT_VARIES, NULL,
                     "TLS checks: fail when fewer days remain on the certificate (none)"},
    [PK_WARN_DAYS] = {"cert_warn_days", CFGSCHEMA_INT, 0, 3650, 0, CFGSCHEMA_DEFAULT_VARIES, NULL,
                      "TLS checks: warn when fewer days remain on the certificate (none)"},
};
const struct cfgschema probe_cert_schema = CFGSCHEMA("$.checks[]", pk_keys);

int probe_grpc_key(enum probe_type t, const char *key)
{
    if (cfgschema_find(&probe_grpc_schema, key))
        return t == PROBE_GRPC;
    if (cfgschema_find(&probe_cert_schema, key))
        return t == PROBE_GRPC || t == PROBE_HTTPS;
    if (t == PROBE_GRPC && (strcmp(key, "host") == 0 || strcmp(key, "ca_file") == 0))
        return 1;
    return -1;
}

void probe_spec_grpc(const struct jsoncfg *j, json_t *obj, const char *path, struct probe_spec *s)
{
    const struct cfgschema *t = &probe_grpc_schema;
    s->grpc_tls = cfgschema_bool(j, t, PG_TLS, obj, path);
    json_t *v = cfgschema_value(t, PG_SERVICE, obj);
    if (!v)
        return;
    const char *name = json_is_string(v) ? json_string_value(v) : NULL;
    bool ok = name && json_string_length(v) == strlen(name) &&
              json_string_length(v) <= PROBE_GRPC_MAX_SERVICE;
    for (const char *c = name; ok && *c; c++)
        ok = *c > ' ' && *c < 0x7f;
    if (!ok) {
        cfgschema_err(j, t, PG_SERVICE, path,
                      "must be a service name of printable ASCII without spaces, at most %d "
                      "octets, such as \"grpc.health.v1.Health\"",
                      PROBE_GRPC_MAX_SERVICE);
        return;
    }
    s->grpc_service = name[0] ? jsoncfg_strdup(name) : NULL;
}

void probe_spec_cert(const struct jsoncfg *j, json_t *obj, const char *path, struct probe_spec *s)
{
    const struct cfgschema *t = &probe_cert_schema;
    if (s->type == PROBE_GRPC && !s->grpc_tls) {
        /* Cleartext has no certificate: say so rather than ignore them. */
        for (size_t k = 0; k < PK_N; k++)
            if (cfgschema_value(t, k, obj))
                cfgschema_err(j, t, k, path, "needs \"tls\": true");
        return;
    }
    size_t before = j->errs->count;
    if (cfgschema_value(t, PK_MIN_DAYS, obj)) {
        s->cert_min_days = (uint16_t)cfgschema_int(j, t, PK_MIN_DAYS, obj, path);
        s->cert_min_set = j->errs->count == before;
    }
    before = j->errs->count;
    if (cfgschema_value(t, PK_WARN_DAYS, obj)) {
        s->cert_warn_days = (uint16_t)cfgschema_int(j, t, PK_WARN_DAYS, obj, path);
        s->cert_warn_set = j->errs->count == before;
    }
    /* A warning at or below the failure would never be seen: the
     * endpoint is down by then. */
    if (s->cert_min_set && s->cert_warn_set && s->cert_warn_days <= s->cert_min_days)
        cfgschema_err(j, t, PK_WARN_DAYS, path, "must be more than cert_min_days (%u)",
                      (unsigned)s->cert_min_days);
}
