/*
 * fuzz_admin.c -- libFuzzer target for the admin API request parsers
 * (src/admin/admin_request.c): the JSON body, the override fields and the
 * explain query string, i.e. everything a client controls before a handler
 * touches live state.
 *
 * Input: the first byte selects the parser, the rest is its input.
 *   'E'        explain query string (NUL-terminated copy; a NUL ends it
 *              early, as it would end the URI)
 *   'U'        an error message: admin_request_utf8_fix() against jansson
 *   'X'        a request body's audit excerpt (admin_request_excerpt)
 *   otherwise  request body, then the override and drill rules on it when it
 *              parses
 * An empty input is an empty body. Seeds: tests/fuzz/corpus/admin
 * (tests/fuzz/make_corpus.py).
 *
 * Every invariant the handlers rely on is checked with abort(), so a
 * violation is a crash libFuzzer (or the replay in 'make check') reports.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "admin/admin_request.h"
#include "dns/dns.h"
#include "drill/drill_spec.h"
#include "dns/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The handlers' message buffer (admin_reply_error's msg[512]). */
#define FUZZ_ERRLEN 512

/* A message must always make an error reply, even when admin_reply_error's
 * buffer (or a shorter one) cuts it in the middle of a character. */
static void fuzz_admin_reply(const char *msg, size_t cut)
{
    char buf[FUZZ_ERRLEN];
    snprintf(buf, cut < sizeof(buf) ? cut : sizeof(buf), "%s", msg);
    json_t *j = admin_request_error_body("bad_request", buf);
    FUZZ_CHECK(j != NULL);
    char *text = json_dumps(j, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    free(text);
    json_decref(j);
}

/* An error result: status 400 and a non-empty, terminated message. */
static void fuzz_admin_check_error(int st, const char *err, size_t errlen)
{
    FUZZ_CHECK(st == 400);
    FUZZ_CHECK(err[0] != '\0');
    FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
    fuzz_admin_reply(err, FUZZ_ERRLEN);
    fuzz_admin_reply(err, 14 + strlen(err) % 7); /* cuts inside a quoted value */
}

/* Independent depth count (the parser's own is what is under test). */
static int fuzz_admin_depth(json_t *v)
{
    int d = 0;
    size_t i;
    const char *k;
    json_t *e;
    if (json_is_object(v)) {
        json_object_foreach(v, k, e)
        {
            int x = fuzz_admin_depth(e);
            d = x > d ? x : d;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, e)
        {
            int x = fuzz_admin_depth(e);
            d = x > d ? x : d;
        }
    } else
        return 0;
    return d + 1;
}

static void fuzz_admin_override(json_t *body)
{
    struct admin_override_req o;
    char err[FUZZ_ERRLEN] = "";
    int st = admin_request_parse_override(body, &o, err, sizeof(err));
    if (st != 0) {
        fuzz_admin_check_error(st, err, sizeof(err));
        return;
    }
    /* Everything the POST handler reads must be present and in range. */
    FUZZ_CHECK(o.target != NULL);
    FUZZ_CHECK(o.state == HEALTH_UP || o.state == HEALTH_DOWN);
    FUZZ_CHECK(o.reason != NULL);
    size_t rl = strlen(o.reason);
    FUZZ_CHECK(rl >= 1 && rl <= ADMIN_REQUEST_MAX_REASON);
    FUZZ_CHECK(o.expires_in >= 0 && o.expires_in <= ADMIN_REQUEST_MAX_EXPIRES);
    FUZZ_CHECK(json_object_size(body) <= 6);
}

/* What the drill handler and the state-file restore rely on, and that a
 * valid spec's JSON (as saved) reads back the same. */
static void fuzz_admin_drill(json_t *body)
{
    struct drill_spec s, back;
    char err[FUZZ_ERRLEN] = "";
    int st = drill_spec_parse(body, 3600, &s, err, sizeof(err));
    if (st != 0) {
        fuzz_admin_check_error(st, err, sizeof(err));
        return;
    }
    FUZZ_CHECK(s.mode < DRILL_MODES && s.reason && strlen(s.reason) >= 1);
    FUZZ_CHECK(s.n_regions + s.n_azs >= 1 && s.n_regions + s.n_azs <= DRILL_MAX_TARGETS);
    FUZZ_CHECK(s.duration > 0 && s.duration <= 3600);
    FUZZ_CHECK((s.mode == DRILL_SCOPED) == (s.n_canary > 0));
    FUZZ_CHECK(s.n_clients == 0 || s.dry_run);
    FUZZ_CHECK(s.n_outcome <= DRILL_MAX_OUTCOME);
    for (size_t i = 0; i < s.n_outcome; i++)
        FUZZ_CHECK(s.outcome[i].check && s.outcome[i].host && drill_host_ok(s.outcome[i].host));
    FUZZ_CHECK(!s.name || drill_name_ok(s.name));
    json_t *saved = drill_spec_json(&s);
    FUZZ_CHECK(saved != NULL);
    char *text = json_dumps(saved, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    free(text);
    FUZZ_CHECK(drill_spec_parse(saved, 0, &back, err, sizeof(err)) == 0);
    FUZZ_CHECK(back.mode == s.mode && back.n_regions == s.n_regions && back.n_azs == s.n_azs &&
               back.n_canary == s.n_canary && back.duration == s.duration &&
               strcmp(back.reason, s.reason) == 0 && back.n_outcome == s.n_outcome &&
               (!s.name) == (!back.name) && (!s.name || strcmp(s.name, back.name) == 0));
    drill_spec_free(&back);
    json_decref(saved);
    drill_spec_free(&s);
}

static void fuzz_admin_body(const uint8_t *data, size_t size)
{
    json_t *body = json_null(); /* a static singleton: the parser must reset it */
    const char *code = NULL;
    char err[FUZZ_ERRLEN] = "";
    int st = admin_request_parse_body((const char *)data, size, &body, &code, err, sizeof(err));
    if (st != 0) {
        fuzz_admin_check_error(st, err, sizeof(err));
        FUZZ_CHECK(body == NULL);
        FUZZ_CHECK(code && (strcmp(code, "bad_json") == 0 || strcmp(code, "bad_request") == 0));
        return;
    }
    FUZZ_CHECK(body != NULL && json_is_object(body));
    FUZZ_CHECK(fuzz_admin_depth(body) <= ADMIN_REQUEST_MAX_DEPTH);
    FUZZ_CHECK(size > 0 || json_object_size(body) == 0);
    /* The audit log writes the body back out: it must serialise. */
    char *text = json_dumps(body, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    free(text);
    fuzz_admin_override(body);
    fuzz_admin_drill(body);
    json_decref(body);
}

/* The explain handler echoes type/client/ecs in its JSON reply. */
static void fuzz_admin_echo(const struct admin_explain_req *e)
{
    json_t *q = json_pack("{s:s, s:s, s:s?}", "type", e->type ? e->type : "A", "client",
                          e->client ? e->client : "127.0.0.1", "ecs", e->ecs);
    FUZZ_CHECK(q != NULL);
    json_decref(q);
}

/* The built query must be one the DNS workers accept as asked. */
static void fuzz_admin_wire(const struct admin_explain_req *e)
{
    struct dns_query q;
    FUZZ_CHECK(e->wire_len > DNS_HEADER_SIZE && e->wire_len <= sizeof(e->wire));
    FUZZ_CHECK(dns_query_parse(e->wire, e->wire_len, &q) == DNS_PARSE_OK);
    FUZZ_CHECK(q.qtype == e->qtype && q.qclass == DNS_CLASS_IN);
    FUZZ_CHECK(dns_name_equal(q.qname.wire, q.qname.len, e->qname.wire, e->qname.len));
    FUZZ_CHECK(q.edns && q.edns_udp_size == 1232 && !q.edns_do);
    FUZZ_CHECK(!(q.flags & DNS_FLAG_RD));
    FUZZ_CHECK(q.ecs.present == (e->ecs != NULL));
    FUZZ_CHECK(e->client_addr.ss_family == AF_INET || e->client_addr.ss_family == AF_INET6);
    FUZZ_CHECK(e->name != NULL);
}

static void fuzz_admin_explain(const uint8_t *data, size_t size)
{
    char *qs = malloc(size + 1); /* exact size, so ASan sees overreads */
    if (!qs)
        abort();
    memcpy(qs, data, size);
    qs[size] = '\0';
    struct admin_explain_req e;
    char err[FUZZ_ERRLEN] = "";
    int st = admin_request_parse_explain(qs, &e, err, sizeof(err));
    if (st != 0) {
        fuzz_admin_check_error(st, err, sizeof(err));
        FUZZ_CHECK(TAILQ_EMPTY(&e.query));
    } else {
        fuzz_admin_wire(&e);
        fuzz_admin_echo(&e);
    }
    admin_request_explain_free(&e);
    FUZZ_CHECK(TAILQ_EMPTY(&e.query));
    free(qs);
}

/* The repair yields what jansson accepts and leaves valid text alone. */
static void fuzz_admin_utf8(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    size_t len = strlen(s);
    json_t *before = json_stringn(s, len); /* NULL when not valid UTF-8 */
    admin_request_utf8_fix(s);
    FUZZ_CHECK(strlen(s) == len);
    json_t *after = json_stringn(s, len);
    FUZZ_CHECK(after != NULL);
    FUZZ_CHECK(!before || strcmp(json_string_value(before), s) == 0);
    json_decref(before);
    json_decref(after);
    free(s);
}

/* The audit excerpt of any body: valid UTF-8 (jansson takes it), no
 * control byte or DEL left, within its room, and the same as the body's
 * first bytes when they hold no byte to escape or repair. */
static void fuzz_admin_excerpt(const uint8_t *data, size_t size)
{
    char out[ADMIN_REQUEST_EXCERPT_ROOM];
    memset(out, 'Z', sizeof(out));
    admin_request_excerpt((const char *)data, size, out);
    size_t len = strnlen(out, sizeof(out));
    FUZZ_CHECK(len < sizeof(out));
    json_t *j = json_stringn(out, len);
    FUZZ_CHECK(j != NULL);
    json_decref(j);
    bool plain = true;
    size_t n = size < ADMIN_REQUEST_EXCERPT ? size : ADMIN_REQUEST_EXCERPT;
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
    for (size_t i = 0; i < n; i++)
        plain = plain && data[i] >= 0x20 && data[i] < 0x7f && data[i] != '\\';
    FUZZ_CHECK(!plain || (len == n && memcmp(out, data, n) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == 'X')
        fuzz_admin_excerpt(data + 1, size - 1);
    else if (size > 0 && data[0] == 'E')
        fuzz_admin_explain(data + 1, size - 1);
    else if (size > 0 && data[0] == 'U')
        fuzz_admin_utf8(data + 1, size - 1);
    else
        fuzz_admin_body(size > 0 ? data + 1 : data, size > 0 ? size - 1 : 0);
    return 0;
}
