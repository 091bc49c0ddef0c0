/*
 * probe_spec.c -- one entry of the config's "checks" object, parsed into a
 * struct probe_spec. Every error names the file and the JSON path, e.g.
 * "FILE: $.checks.web.timeout: must be less than interval"; parsing goes
 * on after an error so 'gtmd check' can list them all.
 *
 * Ownership: out's strings and arrays are malloc'd and belong to the
 * caller (probe_spec_free). On failure out is freed and zeroed here, so
 * calling probe_spec_free on it again is harmless.
 */
#include "health/probe.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"
#include "dns/name.h"
#include "dns/rrtype.h"
#include "health/probe_grpc.h"
#include "health/probe_spec_more.h"

/* Longest body_contains; it must fit well inside what we read. */
#define PROBE_SPEC_MAX_NEEDLE 1024

struct probe_spec_ctx {
    struct jsoncfg j;
    const char *path; /* JSON path of the check object */
    json_t *obj;
    struct probe_spec *s;
};

/* A check's keys, by the types they apply to: "type" (every check, a
 * composite's too: policy_config_composite.c), then every probe's, then
 * http and https, https, dns. */
enum { PT_TYPE, PT_N };
static const struct cfgschema_key ps_type_keys[PT_N] = {
    [PT_TYPE] = {"type", CFGSCHEMA_STRING, .flags = CFGSCHEMA_REQUIRED,
                 .what = "tcp, http, https, dns, grpc, icmp, exec or composite"},
};
const struct cfgschema probe_type_schema = CFGSCHEMA("$.checks[]", ps_type_keys);

enum { PC_PORT, PC_INTERVAL, PC_FAST_INTERVAL, PC_TIMEOUT, PC_RISE, PC_FALL, PC_HALF_LIFE, PC_N };
static const struct cfgschema_key ps_common_keys[PC_N] = {
    [PC_PORT] = {"port", CFGSCHEMA_INT, 1, 65535, 0, CFGSCHEMA_DEFAULT_VARIES, NULL,
                 "the port probed (80, 443, 53; required for tcp and grpc)"},
    [PC_INTERVAL] = {"interval", CFGSCHEMA_SECONDS, 0.1, 3600, 1, 0, NULL,
                     "seconds between probes"},
    [PC_FAST_INTERVAL] = {"fast_interval", CFGSCHEMA_SECONDS, 0.1, 3600, 0,
                          CFGSCHEMA_DEFAULT_VARIES, NULL,
                          "seconds from a result to the next probe while a fall or rise is in "
                          "progress, at most interval (interval)"},
    [PC_TIMEOUT] = {"timeout", CFGSCHEMA_SECONDS, 0.001, 3600, 0, CFGSCHEMA_DEFAULT_VARIES, NULL,
                    "a probe's bound, less than interval (half of it, at most 2)"},
    [PC_RISE] = {"rise", CFGSCHEMA_INT, 1, 100, 2, 0, NULL, "passes in a row to be up"},
    [PC_FALL] = {"fall", CFGSCHEMA_INT, 1, 100, 2, 0, NULL, "failures in a row to be down"},
    [PC_HALF_LIFE] = {"latency_half_life", CFGSCHEMA_SECONDS, 0.1, 86400, 30, 0, NULL,
                      "seconds after which a round-trip sample weighs half (latency records)"},
};
static const struct cfgschema ps_common = CFGSCHEMA("$.checks[]", ps_common_keys);

enum { PH_METHOD, PH_PATH, PH_HOST, PH_HEADERS, PH_EXPECT_STATUS, PH_BODY_CONTAINS, PH_LOAD, PH_N };
static const struct cfgschema_key ps_http_keys[PH_N] = {
    [PH_METHOD] = {"method", CFGSCHEMA_STRING, .what = "GET (the default) or HEAD"},
    [PH_PATH] = {"path", CFGSCHEMA_STRING, .what = "the path asked for (\"/\")"},
    [PH_HOST] = {"host", CFGSCHEMA_STRING, .what = "the Host header (grpc: :authority) and SNI"},
    [PH_HEADERS] = {"headers", CFGSCHEMA_OBJECT, .what = "more request headers, name to value"},
    [PH_EXPECT_STATUS] = {"expect_status", CFGSCHEMA_ARRAY,
                          .what = "statuses that pass ([[200, 299]])"},
    [PH_BODY_CONTAINS] = {"body_contains", CFGSCHEMA_STRING, .what = "text the body must contain"},
    [PH_LOAD] = {"load", CFGSCHEMA_OBJECT,
                 .what = "where the reply says the endpoint's load: json_pointer or metric"},
};
static const struct cfgschema ps_http = CFGSCHEMA("$.checks[]", ps_http_keys);

enum { PS_CA_FILE, PS_N };
static const struct cfgschema_key ps_https_keys[PS_N] = {
    [PS_CA_FILE] = {"ca_file", CFGSCHEMA_PATH, .what = "the CAs to trust instead of the system's"},
};
static const struct cfgschema ps_https = CFGSCHEMA("$.checks[]", ps_https_keys);

enum { PD_QUERY, PD_QUERY_TYPE, PD_EXPECT_RCODE, PD_EXPECT_ANSWER, PD_N };
static const struct cfgschema_key ps_dns_keys[PD_N] = {
    [PD_QUERY] = {"query", CFGSCHEMA_STRING, .what = "the name asked (required for dns)"},
    [PD_QUERY_TYPE] = {"query_type", CFGSCHEMA_ANY, .what = "the type asked (A)"},
    [PD_EXPECT_RCODE] = {"expect_rcode", CFGSCHEMA_ANY, .what = "the rcode that passes (NOERROR)"},
    [PD_EXPECT_ANSWER] = {"expect_answer", CFGSCHEMA_STRING,
                          .what = "data some record of the answer must have"},
};
static const struct cfgschema ps_dns = CFGSCHEMA("$.checks[]", ps_dns_keys);

static const struct cfgschema *const probe_check_more[] = {&ps_common,
                                                           &ps_http,
                                                           &ps_https,
                                                           &ps_dns,
                                                           &probe_grpc_schema,
                                                           &probe_cert_schema,
                                                           &probe_spec_icmp_schema,
                                                           &probe_spec_exec_schema,
                                                           NULL};
const struct cfgschema probe_check_schema =
    CFGSCHEMA_MORE("$.checks[]", ps_type_keys, probe_check_more);

static const char *const probe_spec_type_names[] = {"tcp",  "http", "https", "dns",
                                                    "grpc", "icmp", "exec"};

/* The name of key k of table t (for messages at its path). */
static const char *psk(const struct cfgschema *t, size_t k)
{
    return t->keys[k].name;
}

/* Reports an error at the path of key (or of the check when key is NULL). */
static void probe_spec_err(struct probe_spec_ctx *x, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void probe_spec_err(struct probe_spec_ctx *x, const char *key, const char *fmt, ...)
{
    char msg[512], sub[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (key)
        snprintf(sub, sizeof(sub), "%s.%s", x->path, key);
    else
        snprintf(sub, sizeof(sub), "%s", x->path);
    jsoncfg_err(&x->j, sub, "%s", msg);
}

/* Keys of another type are "not allowed for type X"; others are unknown. */
static void probe_spec_keys(struct probe_spec_ctx *x, bool typed)
{
    const char *key;
    json_t *v;
    enum probe_type t = x->s->type;
    json_object_foreach(x->obj, key, v)
    {
        bool http = cfgschema_find(&ps_http, key) != NULL;
        bool https = cfgschema_find(&ps_https, key) != NULL;
        bool dns = cfgschema_find(&ps_dns, key) != NULL;
        int grpc = probe_grpc_key(t, key); /* grpc and certificate keys */
        if (cfgschema_find(&ps_common, key) || cfgschema_find(&probe_type_schema, key))
            continue;
        bool more, more_ok = probe_spec_more_key(key, t, &more);
        if (more) {
            if (typed && !more_ok)
                probe_spec_err(x, key, "not allowed for type %s", probe_spec_type_names[t]);
            continue;
        }
        if (!http && !https && !dns && grpc < 0) {
            probe_spec_err(x, NULL, "unknown key \"%s\"", key);
            continue;
        }
        if (!typed)
            continue;
        bool ok = (http && (t == PROBE_HTTP || t == PROBE_HTTPS)) || (https && t == PROBE_HTTPS) ||
                  (dns && t == PROBE_DNS) || grpc > 0;
        if (!ok)
            probe_spec_err(x, key, "not allowed for type %s", probe_spec_type_names[t]);
    }
}

static bool probe_spec_type(struct probe_spec_ctx *x)
{
    json_t *v = cfgschema_value(&probe_type_schema, PT_TYPE, x->obj);
    if (!v) {
        probe_spec_err(x, psk(&probe_type_schema, PT_TYPE),
                       "is required (tcp, http, https, dns, grpc, icmp or exec)");
        return false;
    }
    for (size_t i = 0; i < sizeof(probe_spec_type_names) / sizeof(probe_spec_type_names[0]); i++) {
        if (json_is_string(v) && strcmp(json_string_value(v), probe_spec_type_names[i]) == 0) {
            x->s->type = (enum probe_type)i;
            return true;
        }
    }
    probe_spec_err(x, psk(&probe_type_schema, PT_TYPE),
                   "must be \"tcp\", \"http\", \"https\", \"dns\", \"grpc\", \"icmp\" or \"exec\"");
    return false;
}

/* fast_interval: absent is interval (the schedule as without it); more
 * than interval would slow a fall down, so it is refused. It is counted
 * from a probe's result, not its start, so it may be shorter than timeout:
 * probes of an endpoint never overlap. */
static void probe_spec_fast_interval(struct probe_spec_ctx *x, bool interval_ok)
{
    const struct cfgschema *c = &ps_common;
    struct probe_spec *s = x->s;
    s->fast_interval_ms = s->interval_ms;
    if (!cfgschema_value(c, PC_FAST_INTERVAL, x->obj))
        return;
    size_t before = x->j.errs->count;
    uint32_t ms = cfgschema_ms(&x->j, c, PC_FAST_INTERVAL, x->obj, x->path);
    if (x->j.errs->count != before)
        return;
    if (interval_ok && ms > s->interval_ms)
        probe_spec_err(x, psk(c, PC_FAST_INTERVAL), "must not be more than interval (%g s)",
                       s->interval_ms / 1000.0);
    else
        s->fast_interval_ms = ms;
}

/* port, interval, fast_interval, timeout, rise, fall. */
static void probe_spec_timing(struct probe_spec_ctx *x)
{
    static const uint16_t def_port[] = {0, 80, 443, 53, 0, 0, 0}; /* by enum probe_type */
    const struct cfgschema *c = &ps_common;
    struct probe_spec *s = x->s;
    size_t before;

    s->port = def_port[s->type];
    if (cfgschema_value(c, PC_PORT, x->obj) && s->type == PROBE_ICMP)
        probe_spec_err(x, psk(c, PC_PORT), "is meaningless for type icmp (ICMP has no ports)");
    else if (cfgschema_value(c, PC_PORT, x->obj))
        s->port = (uint16_t)cfgschema_int(&x->j, c, PC_PORT, x->obj, x->path);
    else if (s->type == PROBE_TCP || s->type == PROBE_GRPC)
        probe_spec_err(x, psk(c, PC_PORT), "is required for type %s",
                       probe_spec_type_names[s->type]);

    before = x->j.errs->count;
    s->interval_ms = cfgschema_ms(&x->j, c, PC_INTERVAL, x->obj, x->path);
    bool interval_ok = x->j.errs->count == before;
    probe_spec_fast_interval(x, interval_ok);

    json_t *t = cfgschema_value(c, PC_TIMEOUT, x->obj);
    s->timeout_ms = s->interval_ms / 2 < 2000 ? s->interval_ms / 2 : 2000;
    if (t && (!json_is_number(t) || !(json_number_value(t) > 0))) {
        probe_spec_err(x, psk(c, PC_TIMEOUT), "must be a positive number of seconds");
    } else if (t) {
        double ms = json_number_value(t) * 1000.0 + 0.5;
        if (ms < 1)
            probe_spec_err(x, psk(c, PC_TIMEOUT), "must be at least 0.001 seconds");
        else if (interval_ok && ms >= s->interval_ms)
            probe_spec_err(x, psk(c, PC_TIMEOUT), "must be less than interval");
        else
            s->timeout_ms = (uint32_t)ms;
    }
    s->rise = (uint8_t)cfgschema_int(&x->j, c, PC_RISE, x->obj, x->path);
    s->fall = (uint8_t)cfgschema_int(&x->j, c, PC_FALL, x->obj, x->path);
    s->rtt_half_life_ms = cfgschema_ms(&x->j, c, PC_HALF_LIFE, x->obj, x->path);
}

/* A string at key whose octets are all printable ASCII (no space unless
 * allow_space); NULL when absent or bad (bad is reported). */
static const char *probe_spec_text(struct probe_spec_ctx *x, const struct cfgschema *t, size_t k,
                                   bool allow_space, const char *what)
{
    const char *key = psk(t, k);
    json_t *v = cfgschema_value(t, k, x->obj);
    if (!v)
        return NULL;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    bool ok = s && s[0] && json_string_length(v) == strlen(s);
    for (const char *c = s; ok && *c; c++)
        ok = (*c > ' ' && *c < 0x7f) || (allow_space && *c == ' ');
    if (!ok) {
        probe_spec_err(x, key, "must be %s", what);
        return NULL;
    }
    return s;
}

/* RFC 9110 token characters, for header names. */
static bool probe_spec_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s)))
            return false;
    return true;
}

/* Header values: no CR, LF or other control characters but HTAB. */
static bool probe_spec_field_value(json_t *v)
{
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    if (json_string_length(v) != strlen(s))
        return false;
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return false;
    return true;
}

static void probe_spec_header(struct probe_spec_ctx *x, const char *name, json_t *v)
{
    static const char *const reserved[] = {"Host", "Connection", "Content-Length",
                                           "Transfer-Encoding"};
    char key[300];
    snprintf(key, sizeof(key), "%s.%s", psk(&ps_http, PH_HEADERS), name);
    if (!probe_spec_token(name)) {
        probe_spec_err(x, key, "header names must be tokens (no spaces, colons, CR or LF)");
        return;
    }
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (strcasecmp(name, reserved[i]) == 0) {
            probe_spec_err(x, key, "is set by the prober%s",
                           i == 0 ? "; use the check's \"host\"" : "");
            return;
        }
    }
    if (!probe_spec_field_value(v)) {
        probe_spec_err(x, key, "must be a string without CR, LF or control characters");
        return;
    }
    struct probe_spec *s = x->s;
    size_t n = strlen(name) + 2 + strlen(json_string_value(v)) + 1;
    char *line = malloc(n);
    if (!line)
        abort();
    snprintf(line, n, "%s: %s", name, json_string_value(v));
    s->headers[s->n_headers++] = line;
}

static void probe_spec_headers(struct probe_spec_ctx *x)
{
    json_t *h = cfgschema_value(&ps_http, PH_HEADERS, x->obj);
    const char *name;
    json_t *v;
    if (!h)
        return;
    if (!json_is_object(h)) {
        probe_spec_err(x, psk(&ps_http, PH_HEADERS),
                       "must be an object of header name to string value");
        return;
    }
    x->s->headers = calloc(json_object_size(h) + 1, sizeof(char *));
    if (!x->s->headers)
        abort();
    json_object_foreach(h, name, v) probe_spec_header(x, name, v);
}

static bool probe_spec_status_code(json_t *v, uint16_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 100 || json_integer_value(v) > 599)
        return false;
    *out = (uint16_t)json_integer_value(v);
    return true;
}

static void probe_spec_status(struct probe_spec_ctx *x)
{
    struct probe_spec *s = x->s;
    json_t *a = cfgschema_value(&ps_http, PH_EXPECT_STATUS, x->obj), *e;
    size_t i;
    if (!a) {
        s->status = malloc(sizeof(*s->status));
        if (!s->status)
            abort();
        s->status[0] = (struct probe_status_range){200, 299};
        s->n_status = 1;
        return;
    }
    if (!json_is_array(a) || json_array_size(a) == 0) {
        probe_spec_err(x, psk(&ps_http, PH_EXPECT_STATUS),
                       "must be a non-empty array like [200, [300, 399]]");
        return;
    }
    s->status = calloc(json_array_size(a), sizeof(*s->status));
    if (!s->status)
        abort();
    json_array_foreach(a, i, e)
    {
        struct probe_status_range r;
        bool ok = probe_spec_status_code(e, &r.lo);
        if (ok)
            r.hi = r.lo;
        else if (json_is_array(e) && json_array_size(e) == 2)
            ok = probe_spec_status_code(json_array_get(e, 0), &r.lo) &&
                 probe_spec_status_code(json_array_get(e, 1), &r.hi) && r.lo <= r.hi;
        if (!ok) {
            char key[64];
            snprintf(key, sizeof(key), "%s[%zu]", psk(&ps_http, PH_EXPECT_STATUS), i);
            probe_spec_err(x, key, "must be a status 100..599 or a range [lo, hi] of them");
            continue;
        }
        s->status[s->n_status++] = r;
    }
}

static char *probe_spec_dup(const char *s)
{
    return s ? jsoncfg_strdup(s) : NULL;
}

static void probe_spec_ca_file(struct probe_spec_ctx *x)
{
    json_t *v = cfgschema_value(&ps_https, PS_CA_FILE, x->obj);
    if (!v)
        return;
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) != strlen(json_string_value(v))) {
        probe_spec_err(x, psk(&ps_https, PS_CA_FILE), "must be a file name");
        return;
    }
    char *p = jsoncfg_path(&x->j, json_string_value(v));
    if (access(p, R_OK) != 0) {
        probe_spec_err(x, psk(&ps_https, PS_CA_FILE), "cannot read %s: %s", p, strerror(errno));
        free(p);
        return;
    }
    x->s->ca_file = p;
}

static void probe_spec_http(struct probe_spec_ctx *x)
{
    struct probe_spec *s = x->s;
    json_t *m = cfgschema_value(&ps_http, PH_METHOD, x->obj);
    const char *method = "GET";
    if (m && (!json_is_string(m) || (strcmp(json_string_value(m), "GET") != 0 &&
                                     strcmp(json_string_value(m), "HEAD") != 0)))
        probe_spec_err(x, psk(&ps_http, PH_METHOD), "must be \"GET\" or \"HEAD\"");
    else if (m)
        method = json_string_value(m);
    s->method = jsoncfg_strdup(method);

    const char *path = probe_spec_text(x, &ps_http, PH_PATH, false,
                                       "a string starting with \"/\" without spaces or "
                                       "control characters");
    if (path && path[0] != '/') {
        probe_spec_err(x, psk(&ps_http, PH_PATH), "must start with \"/\"");
        path = NULL;
    }
    s->path = jsoncfg_strdup(path ? path : "/");
    s->host =
        probe_spec_dup(probe_spec_text(x, &ps_http, PH_HOST, false, "a host name without spaces"));
    if (s->host && strlen(s->host) > 253)
        probe_spec_err(x, psk(&ps_http, PH_HOST), "is longer than 253 characters");
    probe_spec_headers(x);
    probe_spec_status(x);

    json_t *b = cfgschema_value(&ps_http, PH_BODY_CONTAINS, x->obj);
    if (b && (!json_is_string(b) || json_string_length(b) == 0 ||
              json_string_length(b) > PROBE_SPEC_MAX_NEEDLE ||
              json_string_length(b) != strlen(json_string_value(b))))
        probe_spec_err(x, psk(&ps_http, PH_BODY_CONTAINS),
                       "must be a non-empty string of at most %d octets", PROBE_SPEC_MAX_NEEDLE);
    else if (b && strcmp(method, "HEAD") == 0)
        probe_spec_err(x, psk(&ps_http, PH_BODY_CONTAINS),
                       "cannot be used with method HEAD (no body)");
    else if (b)
        s->body_contains = jsoncfg_strdup(json_string_value(b));
    json_t *ld = cfgschema_value(&ps_http, PH_LOAD, x->obj);
    char lp[512];
    snprintf(lp, sizeof(lp), "%s.%s", x->path, psk(&ps_http, PH_LOAD));
    if (ld && strcmp(method, "HEAD") == 0)
        probe_spec_err(x, psk(&ps_http, PH_LOAD), "cannot be used with method HEAD (no body)");
    else
        probe_load_parse(&x->j, ld, lp, &s->load);
    if (s->type == PROBE_HTTPS)
        probe_spec_ca_file(x);
}

/* query_type: one of the mnemonics gtmd.conf(5) lists, or any type as a
 * number 1..65535. */
static bool probe_spec_qtype(json_t *v, int *out)
{
    static const uint16_t named[] = {DNS_TYPE_A,  DNS_TYPE_NS,  DNS_TYPE_CNAME, DNS_TYPE_SOA,
                                     DNS_TYPE_MX, DNS_TYPE_TXT, DNS_TYPE_AAAA};
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < 1 || n > 65535)
            return false;
        *out = (int)n;
        return true;
    }
    uint16_t t = json_is_string(v) ? dns_type_from_name(json_string_value(v)) : 0;
    for (size_t i = 0; t && i < sizeof(named) / sizeof(named[0]); i++)
        if (named[i] == t) {
            *out = t;
            return true;
        }
    return false;
}

/* expect_rcode: an rcode mnemonic or a number, either within the 4-bit
 * header field (0..15) that the reply is judged by. */
static bool probe_spec_rcode(json_t *v, int *out)
{
    json_int_t n = -1;
    if (json_is_integer(v))
        n = json_integer_value(v);
    else if (json_is_string(v))
        n = dns_rcode_from_name(json_string_value(v));
    if (n < 0 || n > 15)
        return false;
    *out = (int)n;
    return true;
}

static void probe_spec_dns_codes(struct probe_spec_ctx *x)
{
    struct probe_spec *s = x->s;
    json_t *v = cfgschema_value(&ps_dns, PD_QUERY_TYPE, x->obj);
    int n = DNS_TYPE_A;
    if (v && !probe_spec_qtype(v, &n))
        probe_spec_err(x, psk(&ps_dns, PD_QUERY_TYPE),
                       "must be one of A, AAAA, TXT, SOA, NS, CNAME, MX or a number 1..65535");
    s->dns_type = (uint16_t)n;
    n = DNS_RCODE_NOERROR;
    v = cfgschema_value(&ps_dns, PD_EXPECT_RCODE, x->obj);
    if (v && !probe_spec_rcode(v, &n))
        probe_spec_err(x, psk(&ps_dns, PD_EXPECT_RCODE),
                       "must be an rcode name such as \"NOERROR\" or \"NXDOMAIN\", or 0..15");
    s->dns_rcode = n;
}

static void probe_spec_dns(struct probe_spec_ctx *x)
{
    struct probe_spec *s = x->s;
    json_t *q = cfgschema_value(&ps_dns, PD_QUERY, x->obj);
    struct dns_name n;
    if (!q)
        probe_spec_err(x, psk(&ps_dns, PD_QUERY), "is required for type dns");
    else if (!json_is_string(q) || !dns_name_from_str(json_string_value(q), &n))
        probe_spec_err(x, psk(&ps_dns, PD_QUERY),
                       "must be a domain name such as \"www.example.com.\"");
    else {
        char buf[1024];
        dns_name_to_str(n.wire, buf, sizeof(buf));
        s->dns_name = jsoncfg_strdup(buf);
    }
    probe_spec_dns_codes(x);
    const char *a = probe_spec_text(x, &ps_dns, PD_EXPECT_ANSWER, true,
                                    "a non-empty rdata string such as \"192.0.2.1\"");
    s->dns_expect = probe_spec_dup(a);
}

/* grpc: http's "host" (:authority, SNI) and, with "tls", https's
 * "ca_file"; its own keys in probe_spec_grpc.c. */
static void probe_spec_grpc_check(struct probe_spec_ctx *x)
{
    struct probe_spec *s = x->s;
    probe_spec_grpc(&x->j, x->obj, x->path, s);
    s->host =
        probe_spec_dup(probe_spec_text(x, &ps_http, PH_HOST, false, "a host name without spaces"));
    if (s->host && strlen(s->host) > 253)
        probe_spec_err(x, psk(&ps_http, PH_HOST), "is longer than 253 characters");
    if (s->grpc_tls)
        probe_spec_ca_file(x);
    else if (cfgschema_value(&ps_https, PS_CA_FILE, x->obj))
        probe_spec_err(x, psk(&ps_https, PS_CA_FILE), "needs \"tls\": true");
}

bool probe_spec_parse(json_t *obj, const char *file, const char *dir, const char *path,
                      struct probe_spec *out, struct errlist *errs)
{
    struct probe_spec_ctx x = {
        .j = {.errs = errs, .file = file, .dir = dir}, .path = path, .obj = obj, .s = out};
    size_t before = errs->count;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(obj)) {
        probe_spec_err(&x, NULL, "must be an object with at least \"type\"");
        return false;
    }
    bool typed = probe_spec_type(&x);
    probe_spec_keys(&x, typed);
    if (typed) {
        probe_spec_timing(&x);
        if (out->type == PROBE_HTTP || out->type == PROBE_HTTPS)
            probe_spec_http(&x);
        else if (out->type == PROBE_DNS)
            probe_spec_dns(&x);
        else if (out->type == PROBE_GRPC)
            probe_spec_grpc_check(&x);
        else if (out->type == PROBE_ICMP)
            probe_spec_icmp_parse(&x.j, obj, path, out);
        else if (out->type == PROBE_EXEC)
            probe_spec_exec_parse(&x.j, obj, path, out);
        if (out->type == PROBE_HTTPS || out->type == PROBE_GRPC)
            probe_spec_cert(&x.j, obj, path, out);
    }
    if (errs->count != before) {
        probe_spec_free(out);
        return false;
    }
    return true;
}
