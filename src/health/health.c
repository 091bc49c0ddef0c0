/*
 * health.c -- the health core: slots, rise/fall damping, transitions.
 */
#include "health/health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/log.h"
#include "dns/name.h"

void health_core_init(struct health_core *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->n_buckets = 1024;
    c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
    if (!c->buckets)
        abort();
}

void health_core_free(struct health_core *c)
{
    for (uint32_t i = 0; i < c->n_buckets; i++) {
        struct health_slot *s = c->buckets[i];
        while (s) {
            struct health_slot *n = s->next_in_bucket;
            free(s->key);
            free(s);
            s = n;
        }
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
}

struct health_slot *health_core_slot(struct health_core *c, const char *key)
{
    uint32_t h = dns_name_hash((const uint8_t *)key, strlen(key)) % c->n_buckets;
    pthread_mutex_lock(&c->lock);
    struct health_slot *s = c->buckets[h];
    while (s && strcmp(s->key, key) != 0)
        s = s->next_in_bucket;
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s)
            abort();
        s->key = strdup(key);
        s->since = health_now();
        snprintf(s->reason, sizeof(s->reason), "not probed yet");
        s->next_in_bucket = c->buckets[h];
        c->buckets[h] = s;
        c->n_slots++;
    }
    s->in_use = true;
    pthread_mutex_unlock(&c->lock);
    return s;
}

void health_core_begin_mapping(struct health_core *c)
{
    pthread_mutex_lock(&c->lock);
    for (uint32_t i = 0; i < c->n_buckets; i++)
        for (struct health_slot *s = c->buckets[i]; s; s = s->next_in_bucket)
            s->in_use = false;
    pthread_mutex_unlock(&c->lock);
}

double health_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

const char *health_state_name(enum health_state s)
{
    switch (s) {
    case HEALTH_UP:
        return "up";
    case HEALTH_DOWN:
        return "down";
    default:
        return "unknown";
    }
}

static void health_transition(struct health_core *c, struct health_slot *s, uint8_t to,
                              const char *why)
{
    uint8_t from = s->probe_state;
    s->probe_state = to;
    s->since = health_now();
    atomic_store_explicit(&s->effective, to, memory_order_release);
    c->transitions++;
    log_info("event=health_change endpoint=%s from=%s to=%s why=\"%s\" detail=\"%s\"", s->key,
             health_state_name(from), health_state_name(to), why, s->reason);
    if (c->on_change)
        c->on_change(c->on_change_arg);
}

void health_report(struct health_core *c, struct health_slot *s, bool ok, uint32_t latency_us,
                   const char *reason, unsigned rise, unsigned fall)
{
    pthread_mutex_lock(&c->lock);
    s->probes++;
    s->last_latency_us = latency_us;
    snprintf(s->reason, sizeof(s->reason), "%s", reason);
    if (ok) {
        s->ok_run = s->ok_run < UINT16_MAX ? s->ok_run + 1 : s->ok_run;
        s->fail_run = 0;
    } else {
        s->failures++;
        s->fail_run = s->fail_run < UINT16_MAX ? s->fail_run + 1 : s->fail_run;
        s->ok_run = 0;
    }
    pthread_mutex_unlock(&c->lock);
    if (s->probe_state == HEALTH_UNKNOWN)
        health_transition(c, s, ok ? HEALTH_UP : HEALTH_DOWN, "first probe result");
    else if (s->probe_state == HEALTH_UP && !ok && s->fail_run >= fall)
        health_transition(c, s, HEALTH_DOWN, "fall threshold reached");
    else if (s->probe_state == HEALTH_DOWN && ok && s->ok_run >= rise)
        health_transition(c, s, HEALTH_UP, "rise threshold reached");
}

void health_restore(struct health_slot *s, enum health_state st, double since)
{
    s->probe_state = (uint8_t)st;
    s->since = since;
    snprintf(s->reason, sizeof(s->reason), "restored from state file");
    atomic_store_explicit(&s->effective, (uint8_t)st, memory_order_release);
}
