/*
 * fleet_rtt.c -- round-trip times shared through etcd: this node's table
 * written to PREFIX/rtt/NODE, the others' read into the health core's
 * store (health/rtt.h) for latency records (policy_latency.h).
 *
 * One signed record per node, on its lease (it goes with the node):
 *   {"node": NAME, "t": WALL_TIME,
 *    "e": {"POOL/NAME": [AVERAGE_US, SAMPLES, AGE_MS], ...}}
 * every endpoint this node checks with an average. It is written when one
 * of the averages moved by more than the margin (health/rtt.h: 10 % and
 * 2 ms) since it was last noted, and then at most once per
 * fleet.latency_interval, whatever the number of endpoints: etcd's write
 * rate from it is at most (nodes / latency_interval) per second. After a
 * fresh read (a new lease, etcd lost and back) it is written again. Only
 * while the configuration has latency records (rtt_wanted): a fleet that
 * does not steer by latency writes nothing more than before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/deadline.h"
#include "common/log.h"
#include "fleet/fleet_int.h"

/* Entries read from one table at most. */
#define FLEET_RTT_ROWS_MAX (2 * FLEET_FOREIGN_EPS_MAX)

struct fleet_rtt_call {
    struct fleet *f;
    unsigned gen; /* f->sync_step when sent */
    uint64_t own_gen;
};

static void fleet_rtt_on_put(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_rtt_call *c = arg;
    struct fleet *f = c->f;
    (void)resp;
    if (c->gen == f->sync_step) {
        f->rtt_inflight = false;
        if (st == ETCD_OK) {
            f->rtt_own_gen = c->own_gen;
            pthread_mutex_lock(&f->lock);
            f->writes++;
            f->keys_written++;
            f->rtt_writes++;
            pthread_mutex_unlock(&f->lock);
        } else if (st != ETCD_ERR_CANCELLED)
            log_warn("event=fleet_latency_write result=failed error=\"%s\"", err ? err : "");
    }
    free(c);
}

/* This node's table as written: its checked endpoints with an average. */
static json_t *fleet_rtt_table(struct fleet *f, double now)
{
    struct health_slot **slots = calloc(f->n_local ? f->n_local : 1, sizeof(*slots));
    struct health_rtt_entry *e = calloc(f->n_local ? f->n_local : 1, sizeof(*e));
    if (!slots || !e)
        abort();
    for (size_t i = 0; i < f->n_local; i++)
        slots[i] = f->local[i]->slot;
    health_rtt_own(f->health, slots, f->n_local, e);
    json_t *rows = json_object();
    for (size_t i = 0; i < f->n_local; i++) {
        if (!e[i].samples)
            continue;
        const char *key = f->local[i]->key;
        const char *name = strncmp(key, "endpoint:", 9) == 0 ? key + 9 : key;
        double age_ms = (now - e[i].at) * 1000.0;
        json_object_set_new(rows, name,
                            json_pack("[I, I, I]", (json_int_t)e[i].ewma_us,
                                      (json_int_t)e[i].samples,
                                      (json_int_t)(age_ms > 0 ? age_ms + 0.5 : 0)));
    }
    free(slots);
    free(e);
    json_t *t = json_pack("{s:s, s:f, s:o}", "node", f->p.node, "t", now, "e", rows);
    fleet_compat_stamp(t, fleet_compat_write_format(f));
    return t;
}

void fleet_rtt_tick(struct fleet *f, double mono)
{
    if (f->conn != FLEET_CONN_SYNCED || !f->lease || f->stopping || f->rtt_inflight ||
        mono < f->rtt_next || !atomic_load(&f->rtt_wanted))
        return;
    uint64_t gen = atomic_load(&f->health->rtt.own_gen);
    if (gen == f->rtt_own_gen)
        return;
    f->rtt_next = mono + f->p.latency_interval;
    char *key = fleet_key(f, "rtt/", f->p.node, NULL);
    json_t *v = fleet_rtt_table(f, health_now());
    f->rtt_pub_n = fleet_sign_on_lease(f, key, v);
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!text)
        abort();
    json_t *body = json_pack("{s:o, s:o, s:I}", "key", fleet_b64s(key), "value", fleet_b64s(text),
                             "lease", (json_int_t)f->lease);
    free(key);
    free(text);
    struct fleet_rtt_call *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    *c = (struct fleet_rtt_call){.f = f, .gen = f->sync_step, .own_gen = gen};
    f->rtt_inflight = true;
    etcd_call(f->etcd, "/v3/kv/put", body, fleet_rtt_on_put, c);
}

void fleet_rtt_begin_read(struct fleet *f)
{
    health_rtt_clear(f->health);
    f->rtt_own_gen = UINT64_MAX; /* ours is written again, on the new lease */
    f->rtt_inflight = false;
}

/* One entry [AVERAGE_US, SAMPLES, AGE_MS] read into row; false when it is
 * not one. */
static bool fleet_rtt_row(const char *name, json_t *a, double t, struct health_rtt_row *row)
{
    if (!json_is_array(a) || json_array_size(a) != 3 || strlen(name) == 0 || strlen(name) > 590)
        return false;
    json_int_t v[3];
    for (size_t i = 0; i < 3; i++) {
        json_t *x = json_array_get(a, i);
        if (!json_is_integer(x) || json_integer_value(x) < 0 ||
            json_integer_value(x) > (json_int_t)UINT32_MAX)
            return false;
        v[i] = json_integer_value(x);
    }
    if (v[1] == 0)
        return false;
    size_t n = strlen(name) + 10;
    row->key = malloc(n);
    if (!row->key)
        abort();
    snprintf(row->key, n, "endpoint:%s", name);
    row->e.ewma_us = (uint32_t)v[0];
    row->e.samples = (uint32_t)v[1];
    row->e.at = t - (double)v[2] / 1000.0;
    return true;
}

void fleet_rtt_seen(struct fleet *f, const char *node, json_t *v)
{
    if (strcmp(node, f->p.node) == 0) {
        /* Ours went (its lease), or an older one of ours was put back
         * (fleet_life.c: its "n" is below the last we signed): write it
         * again. */
        if (!v || (f->p.keys.enabled && fleet_life_n(v) < f->rtt_pub_n))
            f->rtt_own_gen = UINT64_MAX;
        return;
    }
    json_t *rows = json_object_get(v, "e");
    if (!v || !json_is_object(rows)) {
        health_rtt_drop(f->health, node);
        return;
    }
    struct health_rtt_table *t = calloc(1, sizeof(*t));
    size_t cap =
        json_object_size(rows) < FLEET_RTT_ROWS_MAX ? json_object_size(rows) : FLEET_RTT_ROWS_MAX;
    if (!t || !(t->rows = calloc(cap ? cap : 1, sizeof(*t->rows))))
        abort();
    snprintf(t->node, sizeof(t->node), "%s", node);
    t->t = json_number_value(json_object_get(v, "t"));
    const char *name;
    json_t *a;
    json_object_foreach(rows, name, a)
    {
        if (t->n == cap)
            break; /* beyond what a node may make us keep */
        t->n += fleet_rtt_row(name, a, t->t, &t->rows[t->n]);
    }
    health_rtt_table_sort(t);
    health_rtt_put(f->health, t);
    pthread_mutex_lock(&f->lock);
    f->rtt_tables_read++;
    pthread_mutex_unlock(&f->lock);
}
