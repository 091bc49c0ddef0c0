/*
 * fuzz_probe.c -- libFuzzer target for what a backend sends to a health
 * check: the http/https reply judge and the dns reply judge
 * (src/health/probe_judge.h), the code probe_http.c and probe_dns.c run
 * on the octets they read.
 *
 * Input: the first byte picks one of the specs below (parsed by the real
 * probe_spec_parse). For http specs the second byte seeds how the reply is
 * cut into reads and the rest is the reply; for dns specs the rest is the
 * reply datagram. An empty input is an http reply closed before a byte.
 * Seeds: tests/fuzz/corpus/probe (tests/fuzz/make_corpus.py).
 *
 * Invariants (abort() on violation, so libFuzzer or the replay in 'make
 * check' reports it): a verdict is pending only while the connection is
 * open; a failure has a kind and a terminated, non-empty reason; the http
 * verdict does not depend on how the reply was cut into reads; the dns
 * verdict is the same when judged twice, and a pass needs a reply header
 * with QR set, opcode QUERY and the expected rcode.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "common/errlist.h"
#include "health/probe.h"
#include "health/probe_judge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks as written in a configuration; the first four are http(s). */
static const char *const fuzz_probe_specs[] = {
    "{\"type\": \"http\"}",
    "{\"type\": \"http\", \"expect_status\": [200, [300, 399]], \"body_contains\": \"OK\"}",
    "{\"type\": \"https\", \"expect_status\": [[100, 599]], \"body_contains\": "
    "\"\\\"status\\\": \\\"up\\\"\"}",
    "{\"type\": \"http\", \"path\": \"/health\", \"expect_status\": [503], \"body_contains\": "
    "\"x\"}",
    "{\"type\": \"dns\", \"query\": \"www.example.com.\"}",
    "{\"type\": \"dns\", \"query\": \"www.example.com.\", \"expect_answer\": \"192.0.2.1\"}",
    "{\"type\": \"dns\", \"query\": \"www.example.com.\", \"query_type\": \"TXT\", "
    "\"expect_answer\": \"hello world\"}",
    "{\"type\": \"dns\", \"query\": \"www.example.com.\", \"query_type\": \"AAAA\", "
    "\"expect_rcode\": \"NXDOMAIN\"}",
    "{\"type\": \"dns\", \"query\": \"www.example.com.\", \"query_type\": \"CNAME\", "
    "\"expect_answer\": \"target.example.net.\"}",
    "{\"type\": \"dns\", \"query\": \"www.example.com.\", \"query_type\": \"AAAA\", "
    "\"expect_answer\": \"2001:db8::1\"}",
};
#define FUZZ_PROBE_N_SPECS (sizeof(fuzz_probe_specs) / sizeof(fuzz_probe_specs[0]))
#define FUZZ_PROBE_N_HTTP 4

/* Parsed once; they live as long as the process (no state between runs). */
static struct probe_spec *fuzz_probe_spec(size_t i)
{
    static struct probe_spec specs[FUZZ_PROBE_N_SPECS];
    static bool parsed[FUZZ_PROBE_N_SPECS];
    if (!parsed[i]) {
        struct errlist e;
        errlist_init(&e);
        json_t *o = json_loads(fuzz_probe_specs[i], 0, NULL);
        FUZZ_CHECK(o != NULL);
        bool ok = probe_spec_parse(o, "fuzz.json", ".", "$.checks.c", &specs[i], &e);
        for (size_t k = 0; k < e.count; k++)
            fprintf(stderr, "fuzz_probe: %s\n", e.msgs[k]);
        FUZZ_CHECK(ok);
        json_decref(o);
        errlist_free(&e);
        FUZZ_CHECK((specs[i].type == PROBE_DNS) == (i >= FUZZ_PROBE_N_HTTP));
        parsed[i] = true;
    }
    return &specs[i];
}

static void fuzz_probe_check_judgement(const struct probe_judgement *j)
{
    if (j->verdict != PROBE_FAIL)
        return;
    FUZZ_CHECK((int)j->kind >= 0 && j->kind < HEALTH_FAIL_KINDS);
    FUZZ_CHECK(memchr(j->reason, '\0', sizeof(j->reason)) != NULL);
    FUZZ_CHECK(j->reason[0] != '\0');
}

/* The end of a reply of len octets, as probe_http_recv sees it. */
static enum probe_http_end fuzz_probe_http_end(size_t len)
{
    return len == PROBE_MAX_READ ? PROBE_HTTP_LIMIT : PROBE_HTTP_EOF;
}

/* Judges reply[0..n) read in one go, then closed (or at the limit). */
static void fuzz_probe_http_whole(const struct probe_spec *s, const uint8_t *reply, size_t n,
                                  struct probe_judgement *j)
{
    struct probe_http_reply r;
    memset(&r, 0, sizeof(r));
    if (n > 0 &&
        probe_http_judge_reply(s, &r, (const char *)reply, n, PROBE_HTTP_MORE, j) != PROBE_PENDING)
        return;
    probe_http_judge_reply(s, &r, (const char *)reply, n, fuzz_probe_http_end(n), j);
    FUZZ_CHECK(j->verdict != PROBE_PENDING);
}

/* Judges reply[0..n) arriving in reads whose sizes come from seed; each
 * read's view is an exactly sized copy, so ASan sees a look past it. */
static void fuzz_probe_http_cut(const struct probe_spec *s, const uint8_t *reply, size_t n,
                                uint8_t seed, struct probe_judgement *j)
{
    struct probe_http_reply r;
    memset(&r, 0, sizeof(r));
    size_t min = n / 256 + 1, len = 0;
    uint32_t x = seed * 2654435761u + 1;
    while (len < n) {
        x = x * 1103515245u + 12345u;
        size_t step = min + (x >> 16) % (1u + seed % 64);
        len = len + step > n ? n : len + step;
        char *view = malloc(len);
        FUZZ_CHECK(view != NULL);
        memcpy(view, reply, len);
        enum probe_verdict v = probe_http_judge_reply(s, &r, view, len, PROBE_HTTP_MORE, j);
        free(view);
        fuzz_probe_check_judgement(j);
        if (v != PROBE_PENDING)
            return;
    }
    char *view = malloc(n ? n : 1);
    FUZZ_CHECK(view != NULL);
    memcpy(view, reply, n);
    probe_http_judge_reply(s, &r, view, n, fuzz_probe_http_end(n), j);
    free(view);
    FUZZ_CHECK(j->verdict != PROBE_PENDING);
}

static void fuzz_probe_http(const struct probe_spec *s, const uint8_t *data, size_t size)
{
    uint8_t seed = size > 0 ? data[0] : 0;
    const uint8_t *reply = size > 0 ? data + 1 : data;
    size_t n = size > 0 ? size - 1 : 0;
    if (n > PROBE_MAX_READ)
        n = PROBE_MAX_READ; /* the probe reads no more */
    struct probe_judgement whole, cut;
    fuzz_probe_http_whole(s, reply, n, &whole);
    fuzz_probe_check_judgement(&whole);
    fuzz_probe_http_cut(s, reply, n, seed, &cut);
    fuzz_probe_check_judgement(&cut);
    FUZZ_CHECK(whole.verdict == cut.verdict);
    if (whole.verdict == PROBE_FAIL) {
        FUZZ_CHECK(whole.kind == cut.kind);
        FUZZ_CHECK(strcmp(whole.reason, cut.reason) == 0);
    }
    /* A pass needs an accepted "HTTP/1.x DDD" status line. */
    if (whole.verdict == PROBE_PASS) {
        FUZZ_CHECK(n >= 12 && memcmp(reply, "HTTP/1.", 7) == 0);
        int st = (reply[9] - '0') * 100 + (reply[10] - '0') * 10 + (reply[11] - '0');
        bool ok = s->n_status == 0 && st >= 200 && st <= 299;
        for (size_t i = 0; i < s->n_status; i++)
            ok = ok || (st >= s->status[i].lo && st <= s->status[i].hi);
        FUZZ_CHECK(ok);
        FUZZ_CHECK(!s->body_contains ||
                   memmem(reply, n, s->body_contains, strlen(s->body_contains)) != NULL);
    }
}

static void fuzz_probe_dns(const struct probe_spec *s, const uint8_t *data, size_t size)
{
    struct probe_judgement a, b;
    int alen = size > 65535 ? 65535 : (int)size; /* c-ares hands over at most a TCP message */
    probe_dns_judge_reply(s, data, alen, &a);
    fuzz_probe_check_judgement(&a);
    FUZZ_CHECK(a.verdict == PROBE_PASS || a.verdict == PROBE_FAIL);
    probe_dns_judge_reply(s, data, alen, &b);
    FUZZ_CHECK(a.verdict == b.verdict);
    if (a.verdict == PROBE_FAIL)
        FUZZ_CHECK(a.kind == b.kind && strcmp(a.reason, b.reason) == 0);
    else {
        FUZZ_CHECK(alen >= 12);
        FUZZ_CHECK((data[2] & 0x80) && ((data[2] >> 3) & 0x0f) == 0);
        FUZZ_CHECK((data[3] & 0x0f) == (s->dns_rcode & 0x0f));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t which = size > 0 ? data[0] % FUZZ_PROBE_N_SPECS : 0;
    const struct probe_spec *s = fuzz_probe_spec(which);
    const uint8_t *rest = size > 0 ? data + 1 : data;
    size_t n = size > 0 ? size - 1 : 0;
    if (which < FUZZ_PROBE_N_HTTP)
        fuzz_probe_http(s, rest, n);
    else
        fuzz_probe_dns(s, rest, n);
    return 0;
}
