/*
 * probe_judge.h -- the verdict on what a backend sent, without a socket:
 * the http/https probe's reply judge (probe_http.c) and the dns probe's
 * reply judge (probe_dns.c). The probes call these on the octets they
 * read; the fuzz target (tests/fuzz/fuzz_probe.c) calls them directly.
 *
 * Both are pure: no I/O, no clock, no global state. Ownership: the caller
 * owns the spec, the octets and the verdict; nothing is kept.
 */
#ifndef GTM_HEALTH_PROBE_JUDGE_H
#define GTM_HEALTH_PROBE_JUDGE_H

#include <stdbool.h>
#include <stddef.h>

#include "health/probe.h"

/* A verdict: pending (http only: more octets may decide), pass or fail.
 * reason is what probe_result.reason gets on a failure. */
enum probe_verdict { PROBE_PENDING, PROBE_PASS, PROBE_FAIL };
struct probe_judgement {
    enum probe_verdict verdict;
    double load;                   /* PROBE_PASS: the reply's load figure (probe_load.h); NAN */
    enum health_fail_kind kind;    /* PROBE_FAIL only */
    char reason[PROBE_REASON_LEN]; /* PROBE_FAIL only */
};

/* Sets *j to a failure of kind with the reason fmt...; returns PROBE_FAIL.
 * The judges' one way to fail (probe.c). */
enum probe_verdict probe_judge_fail(struct probe_judgement *j, enum health_fail_kind kind,
                                    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Whether more octets may come after those judged. */
enum probe_http_end {
    PROBE_HTTP_MORE,  /* the connection is open */
    PROBE_HTTP_EOF,   /* the peer closed it */
    PROBE_HTTP_LIMIT, /* PROBE_MAX_READ octets were read: no more are */
};

/* Where the http judge is in a reply; zero it before the first octet. */
struct probe_http_reply {
    int status;       /* 0 until the status line is parsed */
    size_t hdr_scan;  /* where the search for the header's end resumes */
    size_t body;      /* offset of the body; 0 until the header ended */
    size_t searched;  /* buf[body..searched) holds no match */
    bool body_passed; /* status and body_contains passed: reading on for the load */
};

/* Judges buf[0..len), the reply so far (it only grows between calls, and
 * len <= PROBE_MAX_READ), against spec's expect_status and body_contains;
 * with spec->load, a passing reply is read to its end (or the read limit)
 * and its load figure is in j->load.
 * Returns the verdict, also stored in *j; PROBE_PENDING only for
 * PROBE_HTTP_MORE. After PROBE_PASS or PROBE_FAIL, r is not to be used. */
enum probe_verdict probe_http_judge_reply(const struct probe_spec *spec, struct probe_http_reply *r,
                                          const char *buf, size_t len, enum probe_http_end end,
                                          struct probe_judgement *j);

/* Judges one DNS reply (abuf[0..alen), as c-ares hands it over: ID and
 * question already matched) against spec's dns_rcode and dns_expect.
 * Returns PROBE_PASS or PROBE_FAIL, also stored in *j. */
enum probe_verdict probe_dns_judge_reply(const struct probe_spec *spec, const unsigned char *abuf,
                                         int alen, struct probe_judgement *j);

#endif
