/*
 * admin_request.c -- parsing and validation of admin requests that needs no
 * live connection: the JSON body, the override fields and the explain
 * query string (see admin_request.h). The handlers in admin.c,
 * admin_overrides.c and admin_explain.c turn a non-zero result into an
 * error reply; the fuzz target calls these functions directly.
 */
#include "admin/admin_request.h"

#include <arpa/inet.h>
#include <event2/http.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsoncfg.h"
#include "dns/dns.h"
#include "dns/msg_build.h"
#include "dns/rrtype.h"
#include "policy/policy_dial.h"

/* Formats err and returns 400, so every failure path is one statement. */
static int admin_request_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int admin_request_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return 400;
}

/* Depth of a JSON value, to refuse deeply nested bodies. The recursion is
 * bounded by jansson's own parser limit (JSON_PARSER_MAX_DEPTH). */
static int admin_request_json_depth(json_t *v)
{
    int d = 0;
    size_t i;
    const char *k;
    json_t *e;
    if (json_is_object(v))
        json_object_foreach(v, k, e)
        {
            int x = admin_request_json_depth(e);
            d = x > d ? x : d;
        }
    else if (json_is_array(v))
        json_array_foreach(v, i, e)
        {
            int x = admin_request_json_depth(e);
            d = x > d ? x : d;
        }
    else
        return 0;
    return d + 1;
}

int admin_request_parse_body(const char *data, size_t len, json_t **out, const char **code,
                             char *err, size_t errlen)
{
    const char *unused;
    json_error_t jerr;
    if (!code)
        code = &unused;
    *out = NULL;
    *code = "bad_request";
    if (len == 0) {
        *out = json_object();
        return 0;
    }
    json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        *code = "bad_json";
        return admin_request_fail(err, errlen, "request body: %s (line %d, column %d)", jerr.text,
                                  jerr.line, jerr.column);
    }
    int st = 0;
    if (!json_is_object(v))
        st = admin_request_fail(err, errlen, "request body must be a JSON object");
    else if (admin_request_json_depth(v) > ADMIN_REQUEST_MAX_DEPTH)
        st = admin_request_fail(err, errlen, "request body nested deeper than %d",
                                ADMIN_REQUEST_MAX_DEPTH);
    if (st != 0)
        json_decref(v); /* nothing of a refused body reaches the caller */
    else
        *out = v;
    return st;
}

/* The keys of an override request. */
static const char *const admin_request_override_keys[] = {
    "target", "state", "reason", "expires_in", "dry_run", "force", "percent", "salt", NULL};

/* "percent" and "salt" of an override body (a traffic dial). */
static int admin_request_dial(json_t *body, const char *target, struct admin_override_req *out,
                              char *err, size_t errlen)
{
    json_t *pc = json_object_get(body, "percent"), *sa = json_object_get(body, "salt");
    out->share = OVERRIDE_FULL;
    out->salt = policy_dial_salt(target);
    if (pc) {
        const char *why = override_check_percent(pc, &out->share);
        if (why)
            return admin_request_fail(err, errlen, "%s", why);
        if (out->share < OVERRIDE_FULL && strncmp(target, "endpoint:", 9) == 0)
            return admin_request_fail(err, errlen, "\"percent\" applies to region and az targets");
    }
    if (sa) {
        if (!json_is_integer(sa) || json_integer_value(sa) < 0 ||
            json_integer_value(sa) > 4294967295LL)
            return admin_request_fail(err, errlen, "\"salt\" must be an integer from 0 to 2^32-1");
        if (!pc)
            return admin_request_fail(err, errlen, "\"salt\" goes with \"percent\"");
        out->salt = (uint32_t)json_integer_value(sa);
    }
    return 0;
}

int admin_request_parse_override(json_t *body, struct admin_override_req *out, char *err,
                                 size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(body))
        return admin_request_fail(err, errlen, "request body must be a JSON object");
    const char *unknown = jsoncfg_unknown_key(body, admin_request_override_keys);
    if (unknown)
        return admin_request_fail(err, errlen, "unknown key \"%s\"", unknown);
    json_t *t = json_object_get(body, "target"), *s = json_object_get(body, "state");
    json_t *re = json_object_get(body, "reason"), *ex = json_object_get(body, "expires_in");
    json_t *dr = json_object_get(body, "dry_run"), *fo = json_object_get(body, "force");
    const char *sv = json_string_value(s);
    if (!json_is_string(t))
        return admin_request_fail(err, errlen,
                                  "\"target\" must be a string like "
                                  "\"region:us-east\", \"az:us-east-1a\" or "
                                  "\"endpoint:POOL/NAME\"");
    if (!sv || (strcmp(sv, "up") != 0 && strcmp(sv, "down") != 0))
        return admin_request_fail(err, errlen, "\"state\" must be \"up\" or \"down\"");
    if (!json_is_string(re) || json_string_length(re) == 0)
        return admin_request_fail(err, errlen, "\"reason\" must be a non-empty string");
    if (json_string_length(re) > ADMIN_REQUEST_MAX_REASON)
        return admin_request_fail(err, errlen, "\"reason\" must be at most %d octets (got %zu)",
                                  ADMIN_REQUEST_MAX_REASON, json_string_length(re));
    if (ex && !json_is_null(ex) &&
        (!json_is_number(ex) || json_number_value(ex) <= 0 ||
         json_number_value(ex) > ADMIN_REQUEST_MAX_EXPIRES))
        return admin_request_fail(
            err, errlen, "\"expires_in\" must be a number of seconds (0 < s <= 3.2e7) or null");
    if ((dr && !json_is_boolean(dr)) || (fo && !json_is_boolean(fo)))
        return admin_request_fail(err, errlen, "\"dry_run\" and \"force\" must be booleans");
    out->target = json_string_value(t);
    out->state = strcmp(sv, "up") == 0 ? HEALTH_UP : HEALTH_DOWN;
    out->reason = json_string_value(re);
    out->expires_in = ex && json_is_number(ex) ? json_number_value(ex) : 0;
    out->dry_run = dr && json_is_true(dr);
    out->force = fo && json_is_true(fo);
    return admin_request_dial(body, out->target, out, err, errlen);
}

/* Checks name, type and client (in that order, so the first bad one is
 * reported) and fills qname, qtype and client_addr. */
static int admin_request_explain_args(struct admin_explain_req *e, char *err, size_t errlen)
{
    if (!e->name || !dns_name_from_str(e->name, &e->qname))
        return admin_request_fail(err, errlen, "\"name\" must be a domain name");
    e->qtype = DNS_TYPE_A;
    if (e->type) {
        e->qtype = dns_type_from_text(e->type);
        if (e->qtype == 0)
            return admin_request_fail(err, errlen, "unknown type \"%s\"", e->type);
    }
    memset(&e->client_addr, 0, sizeof(e->client_addr));
    const char *c = e->client ? e->client : "127.0.0.1";
    struct sockaddr_in *a4 = (struct sockaddr_in *)&e->client_addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&e->client_addr;
    if (inet_pton(AF_INET, c, &a4->sin_addr) == 1)
        a4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, c, &a6->sin6_addr) == 1)
        a6->sin6_family = AF_INET6;
    else
        return admin_request_fail(err, errlen, "\"client\" must be an IP address");
    return 0;
}

/* Splits "ADDRESS/PREFIX" (1 to 3 decimal digits, nothing after them: the
 * value is echoed in the reply); false when malformed. */
static bool admin_request_split_ecs(const char *ecs, char *addr, size_t addrlen, unsigned *prefix)
{
    const char *slash = strchr(ecs, '/');
    if (!slash || slash == ecs || (size_t)(slash - ecs) >= addrlen)
        return false;
    memcpy(addr, ecs, (size_t)(slash - ecs));
    addr[slash - ecs] = '\0';
    size_t n = strspn(slash + 1, "0123456789");
    if (n == 0 || n > 3 || slash[1 + n] != '\0')
        return false;
    *prefix = (unsigned)strtoul(slash + 1, NULL, 10);
    return true;
}

/* Fills ecs from "ADDRESS/PREFIX"; 400 with a message when malformed. */
static int admin_request_ecs(const char *text, struct dns_ecs *ecs, char *err, size_t errlen)
{
    char addr[64];
    unsigned prefix = 0;
    if (!admin_request_split_ecs(text, addr, sizeof(addr), &prefix))
        return admin_request_fail(err, errlen, "ecs must be ADDRESS/PREFIX");
    memset(ecs, 0, sizeof(*ecs));
    ecs->family = strchr(addr, ':') ? 2 : 1;
    if (inet_pton(ecs->family == 1 ? AF_INET : AF_INET6, addr, ecs->addr) != 1 ||
        prefix > (ecs->family == 1 ? 32u : 128u))
        return admin_request_fail(err, errlen, "ecs: bad address or prefix");
    ecs->present = true;
    ecs->source_prefix = (uint8_t)prefix;
    return 0;
}

/* Builds the query into e->wire as a resolver without a cache would send
 * it: RD clear, EDNS with our default payload (1232), ECS when given. */
static int admin_request_build_query(struct admin_explain_req *e, char *err, size_t errlen)
{
    struct dns_ecs ecs;
    if (e->ecs) {
        int st = admin_request_ecs(e->ecs, &ecs, err, errlen);
        if (st != 0)
            return st;
    }
    struct dns_opt opt = {.payload = DNS_EDNS_DEFAULT_MAX, .ecs = e->ecs ? &ecs : NULL};
    struct dns_msg_query q = {.id = ADMIN_EXPLAIN_ID,
                              .flags = 0,
                              .qname = &e->qname,
                              .qtype = e->qtype,
                              .qclass = DNS_CLASS_IN,
                              .opt = &opt};
    e->wire_len = dns_msg_build_query(&q, e->wire, sizeof(e->wire));
    if (e->wire_len == 0) /* cannot happen: the wire holds the largest query */
        return admin_request_fail(err, errlen, "cannot build the query");
    return 0;
}

int admin_request_parse_explain(const char *query_string, struct admin_explain_req *out, char *err,
                                size_t errlen)
{
    memset(out, 0, sizeof(*out));
    TAILQ_INIT(&out->query);
    int st = 0;
    if (query_string && evhttp_parse_query_str(query_string, &out->query) != 0)
        st = admin_request_fail(err, errlen, "malformed request URI");
    if (st == 0) {
        out->name = evhttp_find_header(&out->query, "name");
        out->type = evhttp_find_header(&out->query, "type");
        out->client = evhttp_find_header(&out->query, "client");
        out->ecs = evhttp_find_header(&out->query, "ecs");
        st = admin_request_explain_args(out, err, errlen);
    }
    if (st == 0)
        st = admin_request_build_query(out, err, errlen);
    if (st != 0)
        admin_request_explain_free(out); /* an error leaves nothing to free */
    return st;
}

void admin_request_explain_free(struct admin_explain_req *e)
{
    evhttp_clear_headers(&e->query);
    e->name = e->type = e->client = e->ecs = NULL;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, at most U+10FFFF), 0 when none starts there. */
static size_t admin_request_utf8_len(const unsigned char *s)
{
    unsigned c = s[0], cp, min;
    size_t n;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        n = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        n = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
        n = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void admin_request_utf8_fix(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        size_t n = admin_request_utf8_len(p);
        if (n == 0)
            *p++ = '?';
        else
            p += n;
    }
}

void admin_request_excerpt(const char *data, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = len < ADMIN_REQUEST_EXCERPT ? len : ADMIN_REQUEST_EXCERPT, o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c < 0x20 || c == 0x7f) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else if (c == '\\') {
            out[o++] = '\\';
            out[o++] = '\\';
        } else
            out[o++] = (char)c;
    }
    out[o] = '\0';
    admin_request_utf8_fix(out); /* a NUL was escaped: the whole text is seen */
}

json_t *admin_request_error_body(const char *code, char *msg)
{
    admin_request_utf8_fix(msg);
    return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}
