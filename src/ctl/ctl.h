/*
 * ctl.h -- what the commands of gtmctl(8) share: the client state, one API
 * call with its error reporting, and output helpers.
 *
 * Exit statuses (every command): 0 success, 1 the server refused or failed
 * the request (HTTP 4xx/5xx, message printed), 2 usage error, 3 the server
 * could not be reached; `drill plan` also 4 (some record would fall to its
 * when_all_down).
 *
 * Ownership: JSON returned by ctl_call belongs to the caller.
 */
#ifndef GTM_CTL_CTL_H
#define GTM_CTL_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#define CTL_OK 0
#define CTL_REFUSED 1
#define CTL_USAGE 2
#define CTL_UNREACHABLE 3
#define CTL_UNSERVED 4

struct ctl {
    const char *server;
    char *token;
    bool json;
    double timeout;
};

/* Sends the request (body may be NULL); prints errors; returns the parsed
 * JSON body (or a string for non-JSON bodies), NULL when unreachable, and
 * sets *rc to the exit status. */
json_t *ctl_call(struct ctl *c, const char *method, const char *path, json_t *body, int *rc);
/* o[k] when it is a string, else "-". */
const char *ctl_s(json_t *o, const char *k);
/* Prints j as JSON (--json, or no human form), else with human(j). */
void ctl_output(struct ctl *c, json_t *j, void (*human)(json_t *));

/* A Unix time (a JSON number) as UTC "2026-11-22T09:46:44Z" in buf, or
 * "-" when v is not a number (ctl_fmt.c). */
const char *ctl_time(json_t *v, char *buf, size_t len);
/* v in the fewest significant digits that read back as v ("38.9"); whole
 * numbers without a fraction ("-77"). */
const char *ctl_real(double v, char *buf, size_t len);
/* json_dumps(j, flags), with every real number in its shortest form
 * (38.9, not 38.899999999999999); the caller frees it. */
char *ctl_json_dumps(json_t *j, size_t flags);

/* gtmctl drill plan|start|status|abort|list (ctl_drill.c); argv[0] is
 * "drill". */
int ctl_drill(struct ctl *c, int argc, char **argv);
void ctl_drill_usage(FILE *f);

/* gtmctl dnssec status (ctl_dnssec.c); argv[0] is "dnssec". */
int ctl_dnssec(struct ctl *c, int argc, char **argv);
void ctl_dnssec_usage(FILE *f);

/* gtmctl verdict list|add|rm (ctl_verdict.c); argv[0] is "verdict". */
int ctl_verdict(struct ctl *c, int argc, char **argv);
void ctl_verdict_usage(FILE *f);

/* gtmctl config get|put|rm|history|rollback (ctl_config.c); argv[0] is
 * "config". */
int ctl_config(struct ctl *c, int argc, char **argv);
void ctl_config_usage(FILE *f);

/* gtmctl externaldns --listen HOST:PORT --domain D... (ctl_externaldns.c):
 * an ExternalDNS webhook provider in front of gtmd's /v1/config; runs
 * until SIGTERM or SIGINT. argv[0] is "externaldns". */
int ctl_externaldns(struct ctl *c, int argc, char **argv);
void ctl_externaldns_usage(FILE *f);

/* gtmctl watch [--json] (ctl_watch.c): the event stream as lines until
 * interrupted; reconnects with Last-Event-ID when the stream ends. */
int ctl_watch(struct ctl *c);

#endif
