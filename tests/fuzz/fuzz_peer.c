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
 * signed is what a verifier reads).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "fleet/fleet_peer_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fleet_peer_msg m;
    enum fleet_peer_parse e = fleet_peer_parse(data, size, &m);
    FUZZ_CHECK((unsigned)e < FLEET_PEER_PARSES);
    FUZZ_CHECK(strcmp(fleet_peer_parse_name(e), "?") != 0);
    if (e != FLEET_PEER_PARSE_OK)
        return 0;
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
    return 0;
}
