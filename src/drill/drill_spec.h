/*
 * drill_spec.h -- what a drill asks for: the validated body of
 * POST /v1/drills (doc/admin-api.md), also the form a drill is kept in
 * the state file and read back from.
 *
 * drill_spec_parse is a pure function (no I/O, no global state): the admin
 * thread, the state-file restore and the unit tests run the same checks.
 * Names of regions and azs are only checked for form here; whether the
 * live configuration has them is drill_resolve's business (drill_plan.h).
 *
 * Ownership: a spec owns its strings (drill_spec_free); drill_spec_copy
 * makes an independent copy.
 */
#ifndef GTM_DRILL_DRILL_SPEC_H
#define GTM_DRILL_DRILL_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "dns/packet.h"
#include "policy/policy_loss.h"

#define DRILL_MAX_TARGETS 32 /* regions + azs of one drill */
#define DRILL_MAX_CANARY 32  /* canary networks of a scoped drill */
#define DRILL_MAX_CLIENTS 64 /* what-if clients of a dry run */
#define DRILL_MAX_REASON 1024
#define DRILL_MAX_NAME 128  /* a region or az name */
#define DRILL_MAX_LABEL 64  /* a drill's name: 1..64 of [A-Za-z0-9._-] */
#define DRILL_MAX_OUTCOME 8 /* outcome checks of one drill */
#define DRILL_MAX_HOST 253  /* an outcome check's host name */

enum drill_mode { DRILL_SHADOW = 0, DRILL_SCOPED, DRILL_LIVE, DRILL_MODES };
extern const char *const drill_mode_names[DRILL_MODES];

/* abort_if: a floor on the endpoints outside the drill (drill_plan.h). */
struct drill_abort_if {
    long min_up_endpoints; /* -1: not set */
    double min_up_share;   /* -1: not set; else 0 < share <= 1 */
};

/* A client for a what-if: a source address, or an ECS network. */
struct drill_client {
    char text[64]; /* as given */
    struct sockaddr_storage addr;
    bool has_addr;
    struct dns_ecs ecs; /* present when given as NET/LEN */
};

/* An outcome check: the named check of the configuration, run against
 * the address host resolves to through DNS (drill_outcome.h). */
struct drill_outcome {
    char *check;
    char *host;
};

struct drill_spec {
    enum drill_mode mode;
    char *name; /* a practice drill's name, or the one given; NULL: none */
    char *regions[DRILL_MAX_TARGETS];
    size_t n_regions;
    char *azs[DRILL_MAX_TARGETS];
    size_t n_azs;
    char *reason;
    double duration; /* seconds (the default filled in) */
    struct policy_net canary[DRILL_MAX_CANARY];
    size_t n_canary;
    struct drill_abort_if abort_if;
    struct drill_outcome outcome[DRILL_MAX_OUTCOME]; /* judge the drill while it runs */
    size_t n_outcome;
    bool force, dry_run;
    struct drill_client clients[DRILL_MAX_CLIENTS]; /* dry runs only */
    size_t n_clients;
};

/*
 * Validates a POST /v1/drills body (keys name, regions, azs, mode, reason,
 * duration, canary, abort_if, outcome, force, dry_run, clients; nothing
 * else) into
 * out. max_duration caps "duration" and is the default of shadow and scoped
 * drills; 0 means no cap (a restored drill). Returns 0, or 400 with a
 * message in err; out holds nothing to free after an error.
 */
int drill_spec_parse(json_t *body, double max_duration, struct drill_spec *out, char *err,
                     size_t errlen);
void drill_spec_free(struct drill_spec *s);
void drill_spec_copy(struct drill_spec *dst, const struct drill_spec *src);

/* The spec as the API shows it and the state file keeps it: name, mode,
 * regions, azs, reason, duration, canary, abort_if, outcome (a new
 * object). */
json_t *drill_spec_json(const struct drill_spec *s);

/* "IP" (a source address) or "NET/LEN" (an ECS network); false with a
 * reason in err. */
bool drill_client_parse(const char *text, struct drill_client *out, char *err, size_t errlen);

/* A drill's name: 1..DRILL_MAX_LABEL octets of letters, digits, '.', '_'
 * and '-'. */
bool drill_name_ok(const char *s);
/* A host name for an outcome check: labels of letters, digits, '-' and
 * '_' separated by dots, 1..DRILL_MAX_HOST octets, a final dot allowed. */
bool drill_host_ok(const char *s);

#endif
