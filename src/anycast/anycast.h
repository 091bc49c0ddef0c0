/*
 * anycast.h -- the fitness controller: a thread with its own event base
 * that judges, every self-check interval (1 s by default) and at once on
 * a drain, whether this node is fit to serve (anycast_fitness.h), runs
 * the DNS self-check (anycast_selfcheck.h) and, with an "anycast" section
 * (anycast_params.h), drives BIRD 2 (anycast_bird.h): the named protocol
 * is disabled the moment the node turns unfit and enabled once fitness
 * has held for hold_s; the desired state is sent again every reassert_s
 * (a BIRD restart is corrected) and after a failure with a backoff (1 s
 * doubling to reassert_s), each failure an event=anycast_bird_error line.
 * Every change of fitness is an event=fitness_change line.
 *
 * Without the section the thread still judges (zones, isolation, drain),
 * for /v1/status and /metrics, with no self-check and no route.
 *
 * Threads: anycast_start, anycast_set_zones and anycast_stop on the
 * daemon's threads; anycast_status_json and anycast_metrics on any
 * (a mutex). Ownership: the controller copies params and zone names; the
 * reader, health core and drain are borrowed and outlive it.
 */
#ifndef GTM_ANYCAST_ANYCAST_H
#define GTM_ANYCAST_ANYCAST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "anycast/anycast_params.h"

struct anycast;
struct anycast_drain;
struct health_core;
struct serve_reader;

struct anycast_env {
    const struct anycast_params *params; /* copied */
    struct serve_reader *reader;         /* its own reader of the served set */
    struct health_core *health;          /* the policy rcode of an isolated fleet node */
    struct anycast_drain *drain;
    const struct sockaddr_storage *listen; /* the self-check's addresses (copied) */
    size_t n_listen;
    bool tun; /* a TUN device is held (anycast_tun.h): said in the status */
};

/* Starts the thread; NULL when it cannot (logged). */
struct anycast *anycast_start(const struct anycast_env *env);
/* The configured zones (presentation form; copied): those not served
 * make the node unfit. */
void anycast_set_zones(struct anycast *a, char *const *origins, size_t n);
/* Judges again now (a drain changed). Any thread. */
void anycast_poke(void *a);
/* The "fitness" object of /v1/status: a new reference. */
json_t *anycast_status_json(struct anycast *a);

struct anycast_metrics {
    bool fit, announced, route_control, drained;
    uint64_t withdrawals, bird_errors, self_check_failures;
};
void anycast_metrics(struct anycast *a, struct anycast_metrics *m);

/* Disables the protocol (waits up to 1 s for BIRD), stops the thread and
 * frees a. NULL is fine. */
void anycast_stop(struct anycast *a);

#endif
