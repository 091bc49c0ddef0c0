/*
 * dnstap_view.h -- what the DNS workers log, as one configuration says
 * it: per listen address, queries and/or responses and the sampling
 * rate, and the identity and version every message carries. A served
 * set holds one (serve_set.h), so a reload changes them with the rest of
 * the set and a worker reads them without a lock.
 *
 * Ownership: dnstap_view_new returns a view the caller owns
 * (dnstap_view_free); it copies what it needs of the params.
 */
#ifndef GTM_DNSTAP_DNSTAP_VIEW_H
#define GTM_DNSTAP_DNSTAP_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "dnstap/dnstap_params.h"

#define DNSTAP_HEAD_MAX (2 * (2 + 255) + 2)

struct dnstap_view {
    /* [0, n_listen): the listen addresses in "listen" order; [n_listen]:
     * messages whose listener is not known (the AF_XDP listener's), which
     * follow the section's own settings. */
    struct dnstap_what *what;
    size_t n_listen;
    char *identity, *version; /* owned; NULL: left out */
    size_t identity_len, version_len;
    /* What every frame begins with: the Dnstap fields identity, version
     * and type, packed once (dnstap_encode_head). */
    uint8_t head[DNSTAP_HEAD_MAX];
    size_t head_len;
};

/* Packs a Dnstap with identity and version (NULL: none; at most 255
 * octets each) and type MESSAGE but no message into out
 * (DNSTAP_HEAD_MAX octets): its length (dnstap_msg.c). */
size_t dnstap_encode_head(const char *identity, size_t identity_len, const char *version,
                          size_t version_len, uint8_t *out);

/* The view of p (enabled) for n_listen listen addresses; identity and
 * version are the server's, used when p leaves them unset (NULL: left
 * out). NULL when p is not enabled. */
struct dnstap_view *dnstap_view_new(const struct dnstap_params *p, size_t n_listen,
                                    const char *identity, const char *version);
void dnstap_view_free(struct dnstap_view *v);

/* Whether the query a worker is about to answer on listener listen is
 * logged: the listener's settings when its turn in the sampling comes
 * (count: the worker's own counter), else NULL. The hot path's one
 * check; no lock, no write but the worker's counter. */
static inline const struct dnstap_what *dnstap_view_sample(const struct dnstap_view *v,
                                                           size_t listen, uint32_t *count)
{
    const struct dnstap_what *w = &v->what[listen < v->n_listen ? listen : v->n_listen];
    if (!w->what || ++*count < w->sample)
        return NULL;
    *count = 0;
    return w;
}

#endif
