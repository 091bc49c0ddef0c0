/*
 * xdp_none.c -- the AF_XDP listener of a build without libxdp, libbpf or
 * clang's BPF target (configure says which): it never attaches, and the
 * caller serves UDP on sockets, saying why.
 */
#include <stdio.h>

#include "net/xdp.h"

struct xdp_listener *xdp_attach(const struct xdp_params *p, const struct net_listen *listen,
                                size_t n, char *err, size_t errlen)
{
    snprintf(err, errlen,
             "gtmd was built without AF_XDP support (configure found no libxdp-dev, "
             "libbpf-dev or clang)");
    return NULL;
}

size_t xdp_queue_count(const struct xdp_listener *x)
{
    return 0;
}

struct xdp_queue *xdp_queue_get(struct xdp_listener *x, size_t i)
{
    return NULL;
}

unsigned xdp_queue_id(const struct xdp_queue *q)
{
    return 0;
}

void xdp_detach(struct xdp_listener *x)
{
}

void xdp_serve(struct worker *w)
{
}
