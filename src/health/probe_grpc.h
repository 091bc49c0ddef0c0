/*
 * probe_grpc.h -- the parts of the grpc check that are not I/O: its keys,
 * the certificate-expiry keys of TLS checks (https, grpc with tls), and
 * the grpc.health.v1 messages, encoded and decoded by hand (two fields:
 * no protobuf library for them).
 *
 * Ownership: strings written into a struct probe_spec are malloc'd and
 * freed by probe_spec_free; everything else here writes into the
 * caller's buffers.
 */
#ifndef GTM_HEALTH_PROBE_GRPC_H
#define GTM_HEALTH_PROBE_GRPC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"
#include "health/probe.h"

/* The keys of grpc checks ("service", "tls") and of certificate expiry
 * ("cert_min_days", "cert_warn_days"), for `gtmd keys` and the parser. */
extern const struct cfgschema probe_grpc_schema, probe_cert_schema;

/* Whether key may appear in a check of type t: 1 yes, 0 it is one of the
 * keys above but not for t, -1 this file does not decide (not one of
 * them; "host" and "ca_file" are also a grpc check's). */
int probe_grpc_key(enum probe_type t, const char *key);

/* Reads a grpc check's "service" and "tls" of obj (the check at JSON path
 * 'path') into s; errors go to j at the key's path. */
void probe_spec_grpc(const struct jsoncfg *j, json_t *obj, const char *path, struct probe_spec *s);

/* Reads "cert_min_days" and "cert_warn_days" (https, and grpc with
 * "tls": true; a grpc check without it that has them, or "ca_file", is
 * refused). */
void probe_spec_cert(const struct jsoncfg *j, json_t *obj, const char *path, struct probe_spec *s);

/* The longest "service" (a gRPC service name is a few dozen octets). */
#define PROBE_GRPC_MAX_SERVICE 512
/* The most octets of reply message kept: a HealthCheckResponse is 2. */
#define PROBE_GRPC_MAX_REPLY 1024

/* Writes the gRPC message of a HealthCheckRequest {string service = 1}
 * (the 5-octet prefix: no compression, length) into out; returns its
 * length, or 0 when it does not fit in len. */
size_t probe_grpc_request(const char *service, uint8_t *out, size_t len);

/*
 * Reads the reply's message body (every DATA octet of the stream): one
 * uncompressed message of a HealthCheckResponse {ServingStatus status =
 * 1}. Returns 0 with *status set (0 when the field is absent, as proto3
 * reads it), or -1 with a reason in why ("grpc: ...").
 */
int probe_grpc_reply(const uint8_t *msg, size_t len, long *status, char *why, size_t whylen);

/* "UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN", else NULL. */
const char *probe_grpc_serving_name(long st);
/* The name of a grpc-status code ("OK", "NOT_FOUND", ...), else NULL. */
const char *probe_grpc_code_name(long code);

/* A grpc-message value as text for a reason: percent-decoded (RFC 3986
 * escapes, as gRPC sends them), control and non-ASCII octets as '?',
 * cut to fit out (always NUL-terminated, outlen > 0). */
void probe_grpc_message(const char *in, size_t len, char *out, size_t outlen);

#endif
