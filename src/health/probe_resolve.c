/*
 * probe_resolve.c -- name to address for endpoints given by name, with
 * ares_getaddrinfo on one shared system-resolver channel (resolv.conf,
 * /etc/hosts) created on first use.
 *
 * c-ares may answer synchronously (address literals, /etc/hosts), so the
 * result is parked in the request and delivered from an active event:
 * done always runs from the loop, never inside probe_resolve().
 *
 * Ownership: the prober owns pending requests (p->resolves); each is freed
 * just before its done runs, or by prober_free without calling done.
 */
#include "health/probe_int.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_RESOLVE_TIMEOUT_MS 2000
#define PROBE_RESOLVE_TRIES 2

struct probe_resolve_req {
    struct prober *p;
    probe_resolve_cb done;
    void *arg;
    struct event *ev; /* made active once the answer is in */
    bool ok;
    struct sockaddr_storage addr;
    socklen_t len;
    struct probe_resolve_req *prev, *next;
};

static void probe_resolve_unlink(struct probe_resolve_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        r->p->resolves = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

static void probe_resolve_on_event(evutil_socket_t fd, short what, void *arg)
{
    struct probe_resolve_req *r = arg;
    probe_resolve_cb done = r->done;
    void *done_arg = r->arg;
    bool ok = r->ok;
    struct sockaddr_storage addr = r->addr;
    socklen_t len = r->len;

    probe_resolve_unlink(r);
    event_free(r->ev);
    free(r);
    done(done_arg, ok, &addr, len);
}

/* Keeps the first IPv4 or IPv6 address (c-ares' RFC 6724 order). */
static void probe_resolve_on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
    struct probe_resolve_req *r = arg;
    if (status == ARES_SUCCESS && ai) {
        for (struct ares_addrinfo_node *n = ai->nodes; n && !r->ok; n = n->ai_next) {
            if ((n->ai_family != AF_INET && n->ai_family != AF_INET6) ||
                (size_t)n->ai_addrlen > sizeof(r->addr))
                continue;
            memcpy(&r->addr, n->ai_addr, (size_t)n->ai_addrlen);
            r->len = (socklen_t)n->ai_addrlen;
            if (n->ai_family == AF_INET)
                ((struct sockaddr_in *)&r->addr)->sin_port = 0;
            else
                ((struct sockaddr_in6 *)&r->addr)->sin6_port = 0;
            r->ok = true;
        }
    }
    if (ai)
        ares_freeaddrinfo(ai);
    /* On ARES_EDESTRUCTION prober_free is running and frees r itself. */
    if (status != ARES_EDESTRUCTION)
        event_active(r->ev, EV_TIMEOUT, 0);
}

void prober_set_resolver(struct prober *p, const char *servers)
{
    if ((!servers && !p->resolver) || (servers && p->resolver && strcmp(servers, p->resolver) == 0))
        return;
    free(p->resolver);
    p->resolver = NULL;
    if (servers) {
        p->resolver = strdup(servers);
        if (!p->resolver)
            abort();
    }
    p->resolver_changed = true;
}

/* The channel for a new request (r, already linked): made on first use,
 * and again after prober_set_resolver once nothing else is pending on it
 * (destroying a channel cancels its queries). */
static struct probe_ares *probe_resolve_channel(struct prober *p, struct probe_resolve_req *r)
{
    if (p->sys && p->resolver_changed && p->resolves == r && !r->next) {
        probe_ares_free(p->sys);
        p->sys = NULL;
    }
    if (!p->sys) {
        struct ares_options o;
        int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
        memset(&o, 0, sizeof(o));
        o.timeout = PROBE_RESOLVE_TIMEOUT_MS;
        o.tries = PROBE_RESOLVE_TRIES;
        if (p->resolver) {
            o.lookups = (char *)"b"; /* DNS only: the path through DNS is what is tested */
            mask |= ARES_OPT_LOOKUPS;
        }
        p->sys = probe_ares_new(p, &o, mask);
        p->resolver_changed = false;
        if (p->sys && p->resolver &&
            ares_set_servers_ports_csv(probe_ares_channel(p->sys), p->resolver) != ARES_SUCCESS) {
            probe_ares_free(p->sys);
            p->sys = NULL;
        }
    }
    return p->sys;
}

int probe_resolve(struct prober *p, const char *host, probe_resolve_cb done, void *arg)
{
    struct probe_resolve_req *r = calloc(1, sizeof(*r));
    if (!r)
        abort();
    r->p = p;
    r->done = done;
    r->arg = arg;
    r->ev = event_new(p->base, -1, 0, probe_resolve_on_event, r);
    if (!r->ev)
        abort();
    r->next = p->resolves;
    if (p->resolves)
        p->resolves->prev = r;
    p->resolves = r;

    struct probe_ares *a = probe_resolve_channel(p, r);
    if (!a || !host) {
        event_active(r->ev, EV_TIMEOUT, 0);
        return -1;
    }
    struct ares_addrinfo_hints hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    ares_getaddrinfo(probe_ares_channel(a), host, NULL, &hints, probe_resolve_on_answer, r);
    probe_ares_kick(a);
    return 0;
}

void probe_resolve_prober_free(struct prober *p)
{
    probe_ares_free(p->sys);
    p->sys = NULL;
    free(p->resolver);
    p->resolver = NULL;
    while (p->resolves) {
        struct probe_resolve_req *r = p->resolves;
        p->resolves = r->next;
        event_free(r->ev);
        free(r);
    }
}
