/*
 * anycast_drain.h -- whether an operator drained this node (gtmctl node
 * drain, POST /v1/node/drain): who, why, since when. A drained node is
 * unfit to serve (anycast_fitness.h) and withdraws its anycast route.
 * Kept in the state file's "drain" section (persist.h) so that a restart
 * keeps the node drained.
 *
 * Threads: any (a mutex); the admin thread sets it, the anycast
 * controller and the state file's writer read it. Ownership: the struct
 * is its owner's (the server's); strings inside are the drain's.
 */
#ifndef GTM_ANYCAST_ANYCAST_DRAIN_H
#define GTM_ANYCAST_ANYCAST_DRAIN_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#define ANYCAST_DRAIN_REASON_MAX 256

struct anycast_drain {
    pthread_mutex_t lock;
    bool drained;
    char reason[ANYCAST_DRAIN_REASON_MAX];
    char by[64];                /* the admin token's name */
    double since;               /* wall clock, seconds */
    void (*changed)(void *arg); /* called after every change, outside the lock */
    void *changed_arg;
};

void anycast_drain_init(struct anycast_drain *d);
void anycast_drain_destroy(struct anycast_drain *d);
/* Drains (on) or undrains the node; false when it already was so. */
bool anycast_drain_set(struct anycast_drain *d, bool on, const char *reason, const char *by);
/* Whether drained; the reason into reason (len octets) when it is. */
bool anycast_drain_get(struct anycast_drain *d, char *reason, size_t len);
/* {"drained": bool, "reason", "by", "since"}: a new reference. */
json_t *anycast_drain_json(struct anycast_drain *d);
/* The state file's section (persist_section.save): arg is the drain. */
json_t *anycast_drain_save(void *arg);
/* Restores a saved section (NULL: nothing saved). */
void anycast_drain_restore(struct anycast_drain *d, json_t *saved);

#endif
