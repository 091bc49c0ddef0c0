/*
 * zone.c -- read access to a compiled zone.
 */
#include "zone/zone.h"

#include <stdlib.h>

const struct zone_rrset *zone_node_rrset(const struct zone_node *n, uint16_t type)
{
    /* Nodes hold few RRsets; a scan beats a search at this size. */
    for (uint16_t i = 0; i < n->n_rrsets; i++) {
        if (n->rrsets[i].type == type)
            return &n->rrsets[i];
        if (n->rrsets[i].type > type)
            break;
    }
    return NULL;
}

void zone_free(struct zone *z)
{
    if (!z)
        return;
    free(z->table);
    arena_free(&z->arena);
    free(z);
}
