/*
 * anycast_params.h -- the "anycast" section of the configuration
 * (gtmd.conf(5), doc/going-live.md "Anycast with BIRD"): the BIRD 2
 * control socket and the protocol gtmd enables while it is fit to serve,
 * the hold time before it announces again, the optional TUN device whose
 * life is gtmd's, and the DNS self-check.
 *
 *   "anycast": {"bird_socket": "/run/bird/bird.ctl",
 *               "protocol": "gtmd_anycast", "interface": "gtmd0",
 *               "hold_s": 10, "reassert_s": 10,
 *               "self_check": {"interval_s": 1, "timeout_s": 0.5,
 *                              "failures": 3}}
 *
 * Absent: fitness is still computed and shown (/v1/status), but no route
 * is driven and no self-check runs. The whole section is applied only on
 * restart.
 *
 * Ownership: struct anycast_params owns its strings (anycast_params_free
 * releases them, not the struct).
 */
#ifndef GTM_ANYCAST_ANYCAST_PARAMS_H
#define GTM_ANYCAST_ANYCAST_PARAMS_H

#include <jansson.h>
#include <stdbool.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"

struct anycast_params {
    bool enabled;      /* the section is present */
    char *bird_socket; /* resolved path of BIRD's control socket (owned) */
    char *protocol;    /* the BIRD protocol enabled while fit (owned) */
    char *interface;   /* the TUN device to create, or NULL (owned) */
    double hold_s;     /* fitness held this long before announcing again */
    double reassert_s; /* the desired state sent again this often */
    bool self_check;   /* the DNS self-check runs (default true) */
    double check_interval_s, check_timeout_s;
    unsigned check_failures; /* consecutive failed rounds that make gtmd unfit */
};

enum anycast_key {
    ANYCAST_K_BIRD_SOCKET,
    ANYCAST_K_PROTOCOL,
    ANYCAST_K_INTERFACE,
    ANYCAST_K_HOLD,
    ANYCAST_K_REASSERT,
    ANYCAST_K_SELF_CHECK,
    ANYCAST_K_N
};
extern const struct cfgschema anycast_schema;

/* Parses v (NULL: absent, enabled false) into out; errors go to j with
 * their JSON path ("$.anycast.hold_s"). */
void anycast_params_parse(const struct jsoncfg *j, json_t *v, struct anycast_params *out);
void anycast_params_free(struct anycast_params *p);

#endif
