/*
 * dnstap_view.c -- what the workers log under one configuration.
 */
#include "dnstap/dnstap_view.h"

#include <stdlib.h>
#include <string.h>

#include "common/jsoncfg.h"

static char *dnstap_view_text(const char *own, bool set, const char *server, size_t *len)
{
    const char *t = set ? own : server;
    *len = t ? strlen(t) : 0;
    return t && *t ? jsoncfg_strdup(t) : NULL;
}

struct dnstap_view *dnstap_view_new(const struct dnstap_params *p, size_t n_listen,
                                    const char *identity, const char *version)
{
    if (!p->enabled)
        return NULL;
    struct dnstap_view *v = calloc(1, sizeof(*v));
    if (!v || !(v->what = calloc(n_listen + 1, sizeof(*v->what))))
        abort();
    v->n_listen = n_listen;
    /* Without a "listeners" map every listener logs as the section says;
     * with one, only those it names. */
    for (size_t i = 0; i <= n_listen; i++)
        v->what[i] = p->listeners && i < n_listen ? (struct dnstap_what){0, 1} : p->what;
    for (size_t i = 0; i < p->n_listeners; i++)
        if (p->listeners[i].listen < n_listen)
            v->what[p->listeners[i].listen] = p->listeners[i].what;
    v->identity = dnstap_view_text(p->identity, p->identity_set, identity, &v->identity_len);
    v->version = dnstap_view_text(p->version, p->version_set, version, &v->version_len);
    v->head_len =
        dnstap_encode_head(v->identity, v->identity_len, v->version, v->version_len, v->head);
    return v;
}

void dnstap_view_free(struct dnstap_view *v)
{
    if (!v)
        return;
    free(v->what);
    free(v->identity);
    free(v->version);
    free(v);
}
