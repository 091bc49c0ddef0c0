/*
 * server_anycast.c -- the "anycast" module (server_modules.c's table):
 * the fitness controller (anycast.h) started once the first set is
 * served and the DNS workers listen, told of the configured zones at
 * every reload, stopped (the route withdrawn) before the workers.
 */
#include <stdlib.h>
#include <string.h>

#include "anycast/anycast.h"
#include "common/log.h"
#include "daemon/server_int.h"
#include "fleet/fleet.h"

/* Where gtmd asks itself: each listen address, a wildcard one through
 * loopback of its family. */
static struct sockaddr_storage *server_anycast_self(const struct config *c)
{
    struct sockaddr_storage *out = calloc(c->n_listen ? c->n_listen : 1, sizeof(*out));
    if (!out)
        abort();
    for (size_t i = 0; i < c->n_listen; i++) {
        out[i] = c->listen[i].addr;
        if (out[i].ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&out[i];
            if (a->sin_addr.s_addr == htonl(INADDR_ANY))
                a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        } else if (out[i].ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out[i];
            if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr))
                a->sin6_addr = in6addr_loopback;
        }
    }
    return out;
}

static void server_anycast_zones(struct server *srv, const struct config *c)
{
    char **origins = calloc(c->n_zones ? c->n_zones : 1, sizeof(*origins));
    if (!origins)
        abort();
    for (size_t i = 0; i < c->n_zones; i++)
        origins[i] = c->zones[i].origin; /* borrowed: copied by the controller */
    anycast_set_zones(srv->anycast, origins, c->n_zones);
    free(origins);
}

/* The drain changed (drain.changed, any thread): the controller judges
 * again now, and the fleet's node record says it (fleet_set_drained). */
static void server_anycast_drained(void *arg)
{
    struct server *srv = arg;
    anycast_poke(srv->anycast);
    if (srv->fleet)
        fleet_set_drained(srv->fleet, anycast_drain_get(&srv->drain, NULL, 0));
}

int server_anycast_start(struct server *srv, struct serve_set *set)
{
    (void)set;
    struct sockaddr_storage *self = server_anycast_self(srv->cfg);
    struct anycast_env env = {.params = &srv->cfg->anycast,
                              .reader = serve_reader_add(&srv->serve),
                              .health = &srv->health,
                              .drain = &srv->drain,
                              .listen = self,
                              .n_listen = srv->cfg->n_listen,
                              .tun = srv->anycast_tun >= 0};
    if (!env.reader)
        abort(); /* sized for it by the net module */
    srv->anycast = anycast_start(&env);
    free(self);
    if (!srv->anycast)
        return -1;
    server_anycast_zones(srv, srv->cfg);
    srv->drain.changed = server_anycast_drained;
    srv->drain.changed_arg = srv;
    if (srv->fleet) /* a drain restored from the state file */
        fleet_set_drained(srv->fleet, anycast_drain_get(&srv->drain, NULL, 0));
    return 0;
}

void server_anycast_apply(struct server *srv, const struct config *next,
                          const struct serve_set *set, bool same)
{
    (void)set;
    (void)same;
    if (srv->anycast)
        server_anycast_zones(srv, next);
}

void server_anycast_keep(struct config *next, struct config *running)
{
    struct anycast_params a = next->anycast;
    next->anycast = running->anycast;
    running->anycast = a;
}

void server_anycast_stop(struct server *srv)
{
    srv->drain.changed = NULL;
    anycast_stop(srv->anycast);
    srv->anycast = NULL;
}
