/*
 * shared_store.h -- where operator records (overrides, and drills once they
 * use it) live when several nodes share them: a pluggable store that the
 * admin API writes through instead of changing the local health core.
 *
 * Without a fleet there is no store (NULL) and the admin API adds and
 * removes overrides in the health core directly. With a fleet, the fleet
 * client (src/fleet/fleet_store.c) implements it on etcd: a record is
 * created in one transaction with an id from etcd (never reused), expires
 * through an etcd lease, and reaches the health core of every node,
 * this one included, through the watch; create and remove return once the
 * local node has applied the change.
 *
 * The kind names the collection ("overrides"; "drills" for the drill
 * module). Records are JSON objects in the collection's own format.
 *
 * Threads: every function blocks its caller (the admin API's store
 * thread) until the store answered or its deadline came (a CLOCK_MONOTONIC
 * time in seconds, common/deadline.h: deadline_mono); never call it from
 * the store's own thread. At the deadline a write answers what is known:
 * SHARED_UNAVAILABLE when nothing was sent to the store (nothing changed),
 * SHARED_OK when it is committed, SHARED_UNKNOWN when it was sent and no
 * answer came.
 *
 * Ownership: the store belongs to its implementer and outlives its users.
 */
#ifndef GTM_HEALTH_SHARED_STORE_H
#define GTM_HEALTH_SHARED_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Who made a shared record, carried inside it (signed with it in a fleet):
 * "role", the role of the token that made it ("operate", or "socket" for
 * the unix socket without tokens), and "force", whether its author forced
 * it past the safety rule. Every node re-checks the safety rule when it
 * adopts a record another node wrote, unless "force" is true
 * (src/fleet/fleet_adopt.c). The one place that writes them.
 */
#define SHARED_STORE_ROLE "role"
#define SHARED_STORE_FORCE "force"
static inline void shared_store_mark(json_t *record, const char *role, bool force)
{
    json_object_set_new(record, SHARED_STORE_ROLE, json_string(role));
    json_object_set_new(record, SHARED_STORE_FORCE, json_boolean(force));
}

enum shared_status {
    SHARED_OK = 0,
    SHARED_NOT_FOUND,   /* remove: no such id */
    SHARED_CONFLICT,    /* the shared records changed since 'view': decide again */
    SHARED_UNAVAILABLE, /* the store cannot be reached; nothing was changed */
    SHARED_UNKNOWN      /* no answer in time: the change may or may not have happened */
};

struct shared_store_ops {
    /* The version of the records of kind that this node has applied; a
     * decision taken on this state passes it to create, which fails with
     * SHARED_CONFLICT when another node changed the records meanwhile. */
    uint64_t (*view)(void *arg, const char *kind);
    /* Creates record (borrowed; "id" is set by the store) of kind, expiring
     * after ttl_s seconds (0: never). id gets the new id. */
    enum shared_status (*create)(void *arg, const char *kind, json_t *record, double ttl_s,
                                 uint64_t view, double deadline, char id[32], char *err,
                                 size_t errlen);
    enum shared_status (*remove)(void *arg, const char *kind, const char *id, double deadline,
                                 char *err, size_t errlen);
};

struct shared_store {
    const struct shared_store_ops *ops;
    void *arg;
    const char *node; /* this node's name, for the audit log */
};

#endif
