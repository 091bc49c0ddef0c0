/*
 * fuzz_peer.c -- libFuzzer target for the datagrams of the direct channel
 * between fleet nodes (src/fleet/fleet_peer_wire.c): any octets a socket
 * can deliver.
 *
 * Input: one datagram. Seeds: tests/fuzz/corpus/peer
 * (tests/fuzz/make_corpus_peer.py).
 *
 * Invariants (abort() on violation): a parse ends with a named reason;
 * a message parsed ok stays within its bounds (records inside (lo, upto],
 * keys inside the datagram), and encoding it again gives exactly the
 * octets its signature covers (one encoding per message: what a signer
 * signed is what a verifier reads). Then the datagram is received twice
 * by a real struct fleet ("ns2", over a health core, whose peer "ns1"
 * announces 127.0.0.1:5356, where it comes from) through
 * fleet_peer_receive: each delivery is either accepted or dropped with
 * one reason, a second delivery of one accepted is a replay, and what is
 * held of the peer stays within its bounds.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "common/errlist.h"
#include "common/event_ring.h"
#include "common/jsoncfg.h"
#include "fleet/fleet_int.h"
#include "fleet/fleet_peer.h"
#include "fleet/fleet_peer_int.h"
#include "fleet/fleet_peer_wire.h"
#include "health/health.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_peer_keys[] = {"endpoint:web/www0", "endpoint:web/www1",
                                             "endpoint:web/www2"};

/* Node ns2's fleet with its channel open, and ns1 a live peer announcing
 * 127.0.0.1:5356; *ns1 gets ns1's index. */
static struct fleet *fuzz_peer_fleet(struct health_core *hc, uint16_t *ns1)
{
    struct errlist e;
    errlist_init(&e);
    struct jsoncfg j = {.errs = &e, .file = "fuzz.json", .dir = "."};
    json_t *v = json_loads("{\"etcd\": [\"http://127.0.0.1:1\"], \"node\": \"ns2\"}", 0, NULL);
    struct fleet_params p;
    fleet_params_parse(&j, v, &p);
    json_decref(v);
    FUZZ_CHECK(e.count == 0);
    errlist_free(&e);
    struct fleet_env env = {.health = hc, .version = "fuzz"};
    char err[256];
    struct fleet *f = fleet_new(&p, &env, err, sizeof(err));
    fleet_params_free(&p);
    FUZZ_CHECK(f != NULL);
    struct health_slot *slots[3];
    for (int i = 0; i < 3; i++)
        slots[i] = health_core_slot(hc, fuzz_peer_keys[i]);
    fleet_adopt_local(f, fuzz_peer_keys, slots, 3);
    if (fleet_peer_open(f, "127.0.0.1:0", err, sizeof(err)) != 0)
        fprintf(stderr, "fuzz_peer: %s\n", err);
    FUZZ_CHECK(f->peer != NULL);
    *ns1 = fleet_node_get(f, "ns1");
    f->nodes[*ns1].live = true;
    json_t *rec = json_pack("{s:{s:s, s:i}}", "peer", "addr", "127.0.0.1:5356", "run", 1);
    fleet_peer_node_seen(f, *ns1, rec);
    json_decref(rec);
    return f;
}

/* Datagrams counted at f: accepted and dropped, every reason. */
static uint64_t fuzz_peer_counted(const struct fleet *f)
{
    uint64_t drops[FLEET_PEER_DROPS], accepted = 0, sent = 0, n = 0;
    FUZZ_CHECK(fleet_peer_drops_locked(f, drops, &accepted, &sent));
    for (int d = 0; d < FLEET_PEER_DROPS; d++)
        n += drops[d];
    return n + accepted;
}

static void fuzz_peer_receive(const uint8_t *data, size_t size)
{
    struct health_core hc;
    health_core_init(&hc);
    hc.events = event_ring_new(16);
    FUZZ_CHECK(hc.events != NULL);
    uint16_t ns1;
    struct fleet *f = fuzz_peer_fleet(&hc, &ns1);
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(5356)};
    from.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, &from, sizeof(from));
    fleet_peer_receive(f, data, size, &ss, 100.0);
    FUZZ_CHECK(fuzz_peer_counted(f) == 1);
    uint64_t accepted = f->peer->nodes[ns1].accepted;
    fleet_peer_receive(f, data, size, &ss, 100.05);
    FUZZ_CHECK(fuzz_peer_counted(f) == 2);
    const struct fleet_peer_node *n = &f->peer->nodes[ns1];
    if (accepted == 1) /* the same datagram again: its sequence was seen */
        FUZZ_CHECK(n->accepted == 1 && n->drops[FLEET_PEER_DROP_REPLAY] == 1);
    FUZZ_CHECK(n->have <= n->hi);
    for (int i = 0; i < 3; i++) {
        struct fleet_peer_evidence ev;
        struct fleet_ep *ep = fleet_ep_get(f, fuzz_peer_keys[i], false);
        FUZZ_CHECK(ep != NULL);
        bool heard = fleet_peer_evidence_locked(f, ep, ns1, &ev);
        FUZZ_CHECK(heard == (n->accepted > 0));
        FUZZ_CHECK(ev.state == HEALTH_UNKNOWN || ev.state == HEALTH_UP || ev.state == HEALTH_DOWN);
    }
    FUZZ_CHECK(f->n_eps <= f->n_local + FLEET_FOREIGN_EPS_MAX);
    fleet_store_stop(f);
    fleet_free(f);
    health_core_free(&hc);
    event_ring_free(hc.events);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fleet_peer_msg m;
    enum fleet_peer_parse e = fleet_peer_parse(data, size, &m);
    FUZZ_CHECK((unsigned)e < FLEET_PEER_PARSES);
    FUZZ_CHECK(strcmp(fleet_peer_parse_name(e), "?") != 0);
    if (e != FLEET_PEER_PARSE_OK) {
        fuzz_peer_receive(data, size); /* dropped, and counted */
        return 0;
    }
    FUZZ_CHECK(size <= FLEET_PEER_DGRAM_MAX && m.lo <= m.upto && m.upto <= m.hi);
    FUZZ_CHECK(m.n_recs <= FLEET_PEER_RECS_MAX);
    for (size_t i = 0; i < m.n_recs; i++) {
        const struct fleet_peer_rec *r = &m.recs[i];
        FUZZ_CHECK(r->cseq > m.lo && r->cseq <= m.upto && r->key_len > 0);
        FUZZ_CHECK((const uint8_t *)r->key >= data &&
                   (const uint8_t *)r->key + r->key_len <= data + size);
    }
    FUZZ_CHECK(m.signed_len + (m.is_signed ? FLEET_PEER_SIG_LEN : 0) == size);
    uint8_t again[FLEET_PEER_DGRAM_MAX];
    size_t n = fleet_peer_encode(&m, again, sizeof(again));
    FUZZ_CHECK(n == m.signed_len && memcmp(again, data, n) == 0);
    fuzz_peer_receive(data, size);
    return 0;
}
