/*
 * admin_request.h -- the parts of admin request handling that need no live
 * evhttp connection: the JSON body, the POST /v1/overrides fields and the
 * /v1/explain query string. Pure functions (no I/O, no global state), so
 * unit tests and the fuzz target (tests/fuzz/fuzz_admin.c) run the very
 * code the admin thread runs.
 *
 * Each parser returns 0, or the HTTP status to reply with (400) and a
 * NUL-terminated message in err (truncated to errlen).
 */
#ifndef GTM_ADMIN_ADMIN_REQUEST_H
#define GTM_ADMIN_ADMIN_REQUEST_H

#include <sys/queue.h> /* before libevent's stand-in TAILQ macros */

#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/name.h"
#include "health/health.h"
#include "health/override.h"

/* Bodies nested deeper than this are refused (recursion and cost bound). */
#define ADMIN_REQUEST_MAX_DEPTH 32
/* Longest "reason" of an override, in bytes, and longest "expires_in", in
 * seconds (about a year): the override rules of health/override.h, which
 * the state file's restore applies too. */
#define ADMIN_REQUEST_MAX_REASON OVERRIDE_MAX_REASON
#define ADMIN_REQUEST_MAX_EXPIRES OVERRIDE_MAX_EXPIRES
/* Room for the explain query: header, 255-octet name, OPT with an IPv6
 * ECS option (12 + 255 + 4 + 11 + 8 + 16 = 306). */
#define ADMIN_EXPLAIN_WIRE_MAX 512
/* The ID of the explain query ("GT"). */
#define ADMIN_EXPLAIN_ID 0x4754

/*
 * Parses a request body as a JSON object (duplicate keys refused, depth at
 * most ADMIN_REQUEST_MAX_DEPTH); an empty body is an empty object. On 0,
 * *out is a new reference the caller owns; on error *out is NULL and *code
 * (when code is not NULL) is the reply's error code: "bad_json" for a
 * syntax error, "bad_request" otherwise.
 */
int admin_request_parse_body(const char *data, size_t len, json_t **out, const char **code,
                             char *err, size_t errlen);

/* The validated fields of a POST /v1/overrides body. */
struct admin_override_req {
    const char *target;      /* borrowed from the body: valid while it lives */
    enum health_state state; /* HEALTH_UP or HEALTH_DOWN */
    const char *reason;      /* borrowed, 1..ADMIN_REQUEST_MAX_REASON bytes */
    double expires_in;       /* seconds; 0 = never expires */
    bool dry_run, force;
    uint16_t share; /* "percent" in basis points; OVERRIDE_FULL (10000) when absent */
    uint32_t salt;  /* "salt", else the target's default (policy_dial_salt) */
};

/* Validates an override body (keys target, state, reason, expires_in,
 * dry_run, force, percent, salt; nothing else). body stays owned by the caller. */
int admin_request_parse_override(json_t *body, struct admin_override_req *out, char *err,
                                 size_t errlen);

/* The arguments of GET /v1/explain and the DNS query built from them. */
struct admin_explain_req {
    struct evkeyvalq query; /* owns the strings below */
    const char *name;       /* as given */
    const char *type;       /* as given, NULL when absent (A) */
    const char *client;     /* as given, NULL when absent (127.0.0.1) */
    const char *ecs;        /* as given, NULL when absent */
    struct dns_name qname;  /* lowercase wire form of name */
    uint16_t qtype;
    struct sockaddr_storage client_addr;
    uint8_t wire[ADMIN_EXPLAIN_WIRE_MAX]; /* the query: RD clear, EDNS 1232 */
    size_t wire_len;
};

/*
 * Parses a query string (name=&type=&client=&ecs=, percent-encoded;
 * query_string NULL = empty) into out and builds the query wire. On 0 the
 * caller must release out with admin_request_explain_free(); on error out
 * holds nothing (freeing it anyway is harmless). On 0, type, client and ecs
 * are plain ASCII (a mnemonic or TYPEnnn, an IP address, ADDRESS/PREFIX),
 * so the reply can echo them.
 */
int admin_request_parse_explain(const char *query_string, struct admin_explain_req *out, char *err,
                                size_t errlen);
void admin_request_explain_free(struct admin_explain_req *e);

/* Bytes of a request body the audit line quotes when it does not keep the
 * body itself, and the room their escaped form needs (each byte at most
 * "\xHH", plus the NUL). */
#define ADMIN_REQUEST_EXCERPT 256
#define ADMIN_REQUEST_EXCERPT_ROOM (ADMIN_REQUEST_EXCERPT * 4 + 1)

/* Writes the first ADMIN_REQUEST_EXCERPT bytes of data (len of them) to out
 * (ADMIN_REQUEST_EXCERPT_ROOM bytes) as valid UTF-8 text: control bytes
 * and DEL as "\xHH", a backslash as "\\", any byte outside well-formed
 * UTF-8 (a character cut at the end included) as '?'. So an excerpt can
 * neither break a log line nor hide what it quotes. */
void admin_request_excerpt(const char *data, size_t len, char *out);

/* Replaces every byte of s that is not part of well-formed UTF-8 with '?',
 * in place. Error messages quote what the client sent (a path, a key, a
 * type) and may be cut mid-character; jansson refuses such strings. */
void admin_request_utf8_fix(char *s);

/* {"error": {"code": code, "message": msg}}, a new reference (NULL only when
 * out of memory). msg is repaired in place with admin_request_utf8_fix(). */
json_t *admin_request_error_body(const char *code, char *msg);

#endif
