/*
 * xdp_params.h -- the "xdp" section of the configuration (gtmd.conf(5)),
 * parsed by the net module: the AF_XDP listener's interface, queues and
 * attach mode.
 *
 *   "xdp": {"interface": "eth0", "queues": [0, 1], "mode": "native",
 *           "frames": 4096}
 *
 * Absent: no XDP, UDP is answered on sockets only. The section is parsed
 * the same with or without AF_XDP support in the binary (a build without
 * it logs at start that UDP stays on sockets), so a file checks the same
 * everywhere.
 *
 * Ownership: the struct is the caller's; xdp_params_free releases its
 * strings and arrays (not the struct).
 */
#ifndef GTM_NET_XDP_PARAMS_H
#define GTM_NET_XDP_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/errlist.h"
#include "common/cfgschema.h"
#include "common/jsoncfg.h"

#define XDP_MAX_QUEUES 64 /* entries of the program's socket map */
#define XDP_DEFAULT_FRAMES 4096

struct xdp_params {
    bool enabled;     /* the section is present */
    char *interface;  /* owned */
    unsigned *queues; /* owned; the receive queues to serve */
    size_t n_queues;
    bool generic;    /* "mode": "generic" (SKB mode); default "native" (driver) */
    unsigned frames; /* UMEM frames per queue (4096 octets each), a power of two */
};

/* The keys of the "xdp" section. */
enum xdp_key { XDP_K_INTERFACE, XDP_K_QUEUES, XDP_K_MODE, XDP_K_FRAMES, XDP_K_N };
extern const struct cfgschema xdp_schema;

/* Parses v (NULL: absent, enabled false) into out; errors go to j with
 * their JSON path ("$.xdp.queues[1]"). */
void xdp_params_parse(const struct jsoncfg *j, json_t *v, struct xdp_params *out);
void xdp_params_free(struct xdp_params *p);

/* Whether this binary was built with AF_XDP support (libxdp, libbpf and
 * clang's BPF target found by configure). */
bool xdp_supported(void);

/* For 'gtmd check': what the section needs of this host (capabilities,
 * locked memory, the interface's driver mode and MTU), or why it will fall
 * back to sockets, added to warns as "FILE: $.xdp...: ...". */
void xdp_check(const char *file, const struct xdp_params *p, struct errlist *warns);

#endif
