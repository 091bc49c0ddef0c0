/*
 * anycast_fitness.h -- whether this node is fit to serve, as a pure
 * function of what the controller (anycast.h) gathered: a node is unfit
 * when a configured zone is not served (it failed to load) or has expired
 * (a secondary past its SOA expire), when it answers policy names with
 * REFUSED or SERVFAIL because it is isolated from its fleet
 * (isolation.after), when an operator drained it, or when its own DNS
 * self-check failed that many times in a row. Backends play no part:
 * a pool that is down is answered around, not a reason to leave anycast.
 *
 * And when to announce: only once fitness has held for hold_s (no
 * flapping); unfitness withdraws at once.
 */
#ifndef GTM_ANYCAST_ANYCAST_FITNESS_H
#define GTM_ANYCAST_ANYCAST_FITNESS_H

#include <stdbool.h>
#include <stddef.h>

#define ANYCAST_WHY_MAX 5
#define ANYCAST_WHY_LEN 200

struct anycast_fitness_in {
    size_t zones_missing;     /* configured zones not served */
    const char *missing_zone; /* the first of them (borrowed), or NULL */
    size_t zones_expired;     /* served zones past their SOA expire */
    const char *expired_zone; /* the first of them (borrowed), or NULL */
    unsigned isolated_rcode;  /* 0, or the rcode (REFUSED 5, SERVFAIL 2) answered as isolated */
    bool drained;
    const char *drain_reason;    /* borrowed, may be NULL */
    bool self_check;             /* the self-check runs */
    unsigned self_check_fails;   /* consecutive failed rounds */
    unsigned self_check_limit;   /* that many make the node unfit */
    const char *self_check_last; /* the last failure, borrowed, may be NULL */
};

struct anycast_fitness {
    bool fit;
    size_t n_why;
    char why[ANYCAST_WHY_MAX][ANYCAST_WHY_LEN]; /* one line per reason, stable wording */
};

/* Judges in; every reason in out->why, in the order of the header. */
void anycast_fitness_judge(const struct anycast_fitness_in *in, struct anycast_fitness *out);

/* Whether the route should be announced now: fit, and fit since fit_since
 * (seconds, any clock) for at least hold_s by now. */
bool anycast_fitness_announce(bool fit, double fit_since, double now, double hold_s);

/* The reasons as one line ("a; b"), for logs: out of len octets. */
void anycast_fitness_why_line(const struct anycast_fitness *f, char *out, size_t len);

#endif
