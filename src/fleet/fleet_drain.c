/*
 * fleet_drain.c -- an operator's drain of a node (gtmctl node drain,
 * anycast_drain.h) told to the fleet: the node record this node keeps in
 * etcd says "drained": true while it is drained, and every node's fleet
 * view (/v1/status fleet.nodes[].drained) shows it, so that an operator
 * looking at any node sees which nodes of the fleet are out. The drain
 * itself stays the node's own (it withdraws that node's route); nothing
 * here acts on another node's drain.
 *
 * The record's fields that say what the node does, written and read here
 * beside the drain: "publish" (a watcher writes false) and "drained"
 * (absent when not drained, so that the record of a node never drained
 * is what it was before, and a release that does not know the key reads
 * past it).
 */
#include <event2/event.h>

#include "fleet/fleet.h"
#include "fleet/fleet_int.h"

void fleet_set_drained(struct fleet *f, bool drained)
{
    pthread_mutex_lock(&f->lock);
    bool changed = f->drained != drained;
    f->drained = drained;
    if (changed)
        f->hash_pending = true; /* fleet_on_pending: the node record is due */
    pthread_mutex_unlock(&f->lock);
    if (changed)
        event_active(f->ev_pending, EV_TIMEOUT, 0);
}

void fleet_node_own_fields_locked(const struct fleet *f, json_t *v)
{
    json_object_set_new(v, "publish", json_boolean(f->p.publish));
    if (f->drained)
        json_object_set_new(v, "drained", json_true());
}

void fleet_node_read_fields_locked(struct fleet_node *n, json_t *v)
{
    n->publish = !json_is_false(json_object_get(v, "publish"));
    n->drained = json_is_true(json_object_get(v, "drained"));
}
