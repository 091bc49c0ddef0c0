/*
 * Unit tests for src/control/config_digest.c: the digest a node reaches by
 * following a sequence of changes (each document made from the one before
 * as a change makes it: shared values, one record or pool replaced, added
 * or dropped, a top-level key set or dropped) is the digest of the same
 * document computed from nothing; the order of members and keys does not
 * matter (a document read again with its members reversed); node-local
 * keys (listen, admin) do not count; every shared change changes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsondelta.h"
#include "control/config_digest.h"
#include "tap.h"

static json_t *test_doc(int n)
{
    json_t *rec = json_object(), *pools = json_object();
    char k[40];
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof(k), "svc%04d.example.test.", i);
        json_object_set_new(rec, k,
                            json_pack("{s:s, s:s, s:i}", "pool", i % 2 ? "web" : "api", "policy",
                                      "failover", "ttl", 30));
    }
    json_object_set_new(pools, "web", json_pack("{s:[s]}", "endpoints", "192.0.2.1"));
    json_object_set_new(pools, "api", json_pack("{s:[s]}", "endpoints", "192.0.2.2"));
    return json_pack("{s:o, s:o, s:[s], s:{s:s}, s:i}", "records", rec, "pools", pools, "listen",
                     "127.0.0.1:53", "admin", "listen", "127.0.0.1:8080", "workers", 2);
}

static void test_hex_of(json_t *doc, char out[65])
{
    struct config_digest d = {0};
    config_digest_update(&d, doc);
    config_digest_hex(&d, out);
    config_digest_free(&d);
}

/* doc with its object members (and keys) in reverse order, all new objects. */
static json_t *test_reversed(json_t *doc)
{
    json_t *out = json_object();
    const char *keys[64];
    size_t n = 0;
    void *it;
    for (it = json_object_iter(doc); it && n < 64; it = json_object_iter_next(doc, it))
        keys[n++] = json_object_iter_key(it);
    while (n--) {
        json_t *v = json_object_get(doc, keys[n]);
        if (!json_is_object(v)) {
            json_object_set_new(out, keys[n], json_deep_copy(v));
            continue;
        }
        json_t *o = json_object();
        const char *names[4096];
        size_t k = 0;
        for (void *mi = json_object_iter(v); mi && k < 4096; mi = json_object_iter_next(v, mi))
            names[k++] = json_object_iter_key(mi);
        while (k--)
            json_object_set_new(o, names[k], json_deep_copy(json_object_get(v, names[k])));
        json_object_set_new(out, keys[n], o);
    }
    return out;
}

/* One change as the configuration API makes it: shallow copies of the
 * document and of the object it touches. */
static json_t *test_change(json_t *doc, unsigned *seed, int step)
{
    json_t *out = json_copy(doc);
    char k[40];
    unsigned op = rand_r(seed) % 6;
    const char *kind = op < 4 ? "records" : "pools";
    json_t *o = json_copy(json_object_get(doc, kind));
    snprintf(k, sizeof(k), "svc%04u.example.test.", rand_r(seed) % 60);
    if (op == 0 || op == 4)
        json_object_set_new(o, op == 0 ? k : "web",
                            json_pack("{s:s, s:i}", "pool", "web", "ttl", step));
    else if (op == 1)
        json_object_del(o, k);
    else if (op == 2)
        json_object_set_new(out, "workers", json_integer(step % 4));
    else if (op == 3)
        json_object_del(out, "workers");
    else
        json_object_set_new(o, "new", json_pack("{s:[]}", "endpoints"));
    json_object_set_new(out, kind, o);
    return out;
}

static void test_sequences(struct tap *t)
{
    unsigned seed = 38;
    int bad = 0, order_bad = 0, steps = 0, delta_bad = 0;
    for (int round = 0; round < 20; round++) {
        json_t *doc = test_doc(50);
        struct config_digest d = {0}, dd = {0};
        config_digest_update(&d, doc);
        config_digest_update_delta(&dd, doc, NULL);
        for (int step = 0; step < 30; step++, steps++) {
            json_t *next = test_change(doc, &seed, step);
            config_digest_update(&d, next);
            /* By the change's delta (config_api_known_delta's). */
            json_t *delta = jsondelta_diff(doc, next);
            config_digest_update_delta(&dd, next, delta);
            json_decref(delta);
            char inc[65], fresh[65], rev[65], by_delta[65];
            config_digest_hex(&d, inc);
            config_digest_hex(&dd, by_delta);
            test_hex_of(next, fresh);
            bad += strcmp(inc, fresh) != 0;
            delta_bad += strcmp(by_delta, fresh) != 0;
            if (step % 10 == 0) {
                json_t *r = test_reversed(next);
                test_hex_of(r, rev);
                order_bad += strcmp(rev, fresh) != 0;
                json_decref(r);
            }
            json_decref(doc);
            doc = next;
        }
        config_digest_free(&d);
        config_digest_free(&dd);
        json_decref(doc);
    }
    TAP_CHECK(t, bad == 0, "%d changes followed: each digest is the one from nothing (%d not)",
              steps, bad);
    TAP_CHECK(t, delta_bad == 0, "followed by their deltas: the same (%d not)", delta_bad);
    TAP_CHECK(t, order_bad == 0, "members and keys in another order: the same digest (%d not)",
              order_bad);
}

static void test_what_counts(struct tap *t)
{
    json_t *a = test_doc(20), *b = json_copy(a);
    char ha[65], hb[65];
    test_hex_of(a, ha);
    json_object_set_new(b, "listen", json_pack("[s]", "127.0.0.2:53"));
    json_object_set_new(b, "admin", json_pack("{s:s}", "listen", "127.0.0.2:8080"));
    test_hex_of(b, hb);
    TAP_CHECK(t, strcmp(ha, hb) == 0, "node-local keys (listen, admin) do not count");
    json_t *rec = json_copy(json_object_get(a, "records"));
    json_object_set_new(
        rec, "svc0003.example.test.",
        json_pack("{s:s, s:s, s:i}", "pool", "web", "policy", "failover", "ttl", 31));
    json_object_set_new(b, "records", rec);
    test_hex_of(b, hb);
    TAP_CHECK(t, strcmp(ha, hb) != 0, "one record's TTL changes it");
    json_t *c = json_copy(a);
    json_object_set_new(c, "records", json_object());
    json_t *e = json_copy(a);
    json_object_del(e, "records");
    char hc[65], he[65];
    test_hex_of(c, hc);
    test_hex_of(e, he);
    TAP_CHECK(t, strcmp(hc, he) != 0 && strcmp(hc, ha) != 0,
              "no records and an empty records object differ");
    json_t *s = json_copy(a);
    json_object_set_new(s, "records", json_string("svc0003.example.test."));
    char hs[65];
    test_hex_of(s, hs);
    TAP_CHECK(t, strcmp(hs, hc) != 0, "an object and a string differ");
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(e);
    json_decref(s);
}

int main(void)
{
    struct tap t = {0, 0};
    test_sequences(&t);
    test_what_counts(&t);
    return tap_done(&t);
}
