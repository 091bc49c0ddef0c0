/*
 * policy_loss.c -- targets lost for some clients (scoped drills).
 */
#include "policy/policy_loss.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned policy_net_bits(uint8_t family)
{
    return family == 1 ? 32 : 128;
}

static bool policy_bit(const uint8_t *a, unsigned i)
{
    return (a[i / 8] >> (7 - i % 8)) & 1;
}

/* Leading bits a and b share, counting at most max. */
static unsigned policy_common_bits(const uint8_t *a, const uint8_t *b, unsigned max)
{
    unsigned i = 0;
    while (i + 8 <= max && a[i / 8] == b[i / 8])
        i += 8;
    while (i < max && policy_bit(a, i) == policy_bit(b, i))
        i++;
    return i;
}

bool policy_net_parse(const char *text, struct policy_net *out, char *err, size_t errlen)
{
    char addr[64];
    const char *slash = text ? strchr(text, '/') : NULL;
    memset(out, 0, sizeof(*out));
    if (!slash || slash == text || (size_t)(slash - text) >= sizeof(addr)) {
        snprintf(err, errlen, "must be a network ADDRESS/LEN");
        return false;
    }
    memcpy(addr, text, (size_t)(slash - text));
    addr[slash - text] = '\0';
    size_t digits = strspn(slash + 1, "0123456789");
    if (digits == 0 || digits > 3 || slash[1 + digits] != '\0') {
        snprintf(err, errlen, "must be a network ADDRESS/LEN");
        return false;
    }
    unsigned len = (unsigned)strtoul(slash + 1, NULL, 10);
    if (inet_pton(AF_INET, addr, out->addr) == 1)
        out->family = 1;
    else if (inet_pton(AF_INET6, addr, out->addr) == 1)
        out->family = 2;
    else {
        snprintf(err, errlen, "bad address in the network");
        return false;
    }
    if (len > policy_net_bits(out->family)) {
        snprintf(err, errlen, "prefix length longer than the address");
        return false;
    }
    for (unsigned i = len; i < policy_net_bits(out->family); i++)
        if (policy_bit(out->addr, i)) {
            snprintf(err, errlen, "has bits set past /%u", len);
            return false;
        }
    out->len = (uint8_t)len;
    return true;
}

void policy_net_format(const struct policy_net *n, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN];
    inet_ntop(n->family == 1 ? AF_INET : AF_INET6, n->addr, a, sizeof(a));
    snprintf(buf, len, "%s/%u", a, n->len);
}

bool policy_net_holds(const struct policy_net *n, uint8_t family, const uint8_t *addr, unsigned len)
{
    return family == n->family && len >= n->len &&
           policy_common_bits(addr, n->addr, n->len) == n->len;
}

struct policy_loss *policy_loss_new(void)
{
    struct policy_loss *v = calloc(1, sizeof(*v));
    if (!v)
        abort();
    return v;
}

void policy_loss_add(struct policy_loss *v, const char *tag, const struct policy_net *nets,
                     size_t n_nets, const struct health_slot *const *slots, size_t n_slots)
{
    struct policy_loss_group *g = realloc(v->groups, (v->n_groups + 1) * sizeof(*g));
    if (!g)
        abort();
    v->groups = g;
    g = &v->groups[v->n_groups++];
    g->tag = strdup(tag ? tag : "");
    g->nets = calloc(n_nets ? n_nets : 1, sizeof(*g->nets));
    g->slots = calloc(n_slots ? n_slots : 1, sizeof(*g->slots));
    if (!g->tag || !g->nets || !g->slots)
        abort();
    memcpy(g->nets, nets, n_nets * sizeof(*nets));
    memcpy((void *)g->slots, slots, n_slots * sizeof(*slots));
    g->n_nets = n_nets;
    g->n_slots = n_slots;
}

void policy_loss_free(struct policy_loss *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n_groups; i++) {
        free(v->groups[i].tag);
        free(v->groups[i].nets);
        free((void *)v->groups[i].slots);
    }
    free(v->groups);
    free(v);
}

void policy_loss_client_of(const struct sockaddr_storage *src, const struct dns_ecs *ecs,
                           struct policy_loss_client *out)
{
    memset(out, 0, sizeof(*out));
    if (ecs && ecs->present) {
        out->family = (uint8_t)ecs->family;
        out->len = ecs->source_prefix;
        memcpy(out->addr, ecs->addr, sizeof(out->addr));
    } else if (src && src->ss_family == AF_INET) {
        out->family = 1;
        out->len = 32;
        memcpy(out->addr, &((const struct sockaddr_in *)src)->sin_addr, 4);
    } else if (src && src->ss_family == AF_INET6) {
        out->family = 2;
        out->len = 128;
        memcpy(out->addr, &((const struct sockaddr_in6 *)src)->sin6_addr, 16);
    }
}

static void policy_loss_take(const struct policy_loss_group *g, struct policy_loss_match *out)
{
    if (out->n_tags < sizeof(out->tags) / sizeof(out->tags[0]))
        out->tags[out->n_tags++] = g->tag;
    for (size_t s = 0; s < g->n_slots; s++) {
        bool have = false;
        for (uint16_t k = 0; k < out->n_lost && !have; k++)
            have = out->lost[k] == g->slots[s];
        if (!have && out->n_lost < POLICY_LOSS_MAX)
            out->lost[out->n_lost++] = g->slots[s];
    }
}

void policy_loss_match(const struct policy_loss *v, const struct policy_loss_client *c,
                       struct policy_loss_match *out)
{
    out->n_lost = 0;
    out->n_tags = 0;
    out->scope_min = 0;
    /* Source prefix 0 (or no address): the client's location is unknown;
     * it is inside no canary and its answer is cached for everyone. */
    if (!v || c->family == 0 || c->len == 0)
        return;
    unsigned bits = policy_net_bits(c->family);
    for (size_t i = 0; i < v->n_groups; i++) {
        const struct policy_loss_group *g = &v->groups[i];
        bool inside = false;
        for (size_t k = 0; k < g->n_nets; k++) {
            const struct policy_net *n = &g->nets[k];
            if (n->family != c->family)
                continue;
            unsigned need;
            if (policy_net_holds(n, c->family, c->addr, c->len)) {
                inside = true;
                need = n->len;
            } else {
                /* One bit past what the client shares with n: the
                 * returned prefix then leaves n out. */
                unsigned common = policy_common_bits(c->addr, n->addr, n->len);
                need = common + 1 < bits ? common + 1 : bits;
            }
            if (need > out->scope_min)
                out->scope_min = (uint8_t)need;
        }
        if (inside)
            policy_loss_take(g, out);
    }
}
