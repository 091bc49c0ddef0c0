/*
 * fleet_peer_wire.h -- the datagrams of the direct channel between fleet
 * nodes (fleet_peer.c; doc/fleet.md, "The direct peer channel"): encoding
 * and parsing only, pure (no clock, no I/O, no lock), so the unit test and
 * the fuzz target drive exactly what the node runs.
 *
 * One datagram, all integers big-endian:
 *
 *   "GTP1"  flags(1: bit 0 signed)  from(1+n)  to(1+n)
 *   run(8) seq(8) stamp_us(8) hi(8) lo(8) upto(8) ack_run(8) ack_have(8)
 *   n(2) n x [key(1+n) state(1) as_of_us(8) cseq(8)]
 *   [sig(64): Ed25519 over everything before it, when signed]
 *
 * from/to: node names (1..63 of [A-Za-z0-9._-]); run: the sender's run
 * (a new one at each start, higher than the one before); seq: the
 * datagram's number in that run (replays are refused by it); stamp_us:
 * the sender's wall clock when it sent, in microseconds; hi: the highest
 * change sequence the sender holds; the records are every change of the
 * sender's with a sequence in (lo, upto] (lo < cseq <= upto), its latest
 * state of each endpoint: a receiver that holds every change up to lo
 * holds every one up to upto after it (an endpoint's change superseded
 * by a later one is no longer sent: its sequence is a gap);
 * ack_run/ack_have: the receiver's own run as the sender last heard it,
 * and the highest change sequence of it the sender holds with none
 * missing. A state is FLEET_PEER_UP or FLEET_PEER_DOWN.
 *
 * Ownership: a parsed message's keys and signature point into the
 * datagram, which must outlive it.
 */
#ifndef GTM_FLEET_FLEET_PEER_WIRE_H
#define GTM_FLEET_FLEET_PEER_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every datagram stays below this (a path MTU of 1280 less IPv6 and UDP
 * headers): with 10,000 endpoints a full state is sent in parts. */
#define FLEET_PEER_DGRAM_MAX 1200
#define FLEET_PEER_SIG_LEN 64
#define FLEET_PEER_NAME_MAX 63
#define FLEET_PEER_KEY_MAX 255
/* Records per datagram, at most (the smallest record is 19 octets). */
#define FLEET_PEER_RECS_MAX 64
#define FLEET_PEER_UP 1
#define FLEET_PEER_DOWN 2

struct fleet_peer_rec {
    const char *key; /* not NUL-terminated: key_len octets */
    size_t key_len;
    uint8_t state;    /* FLEET_PEER_UP or FLEET_PEER_DOWN */
    int64_t as_of_us; /* the sender's wall clock when its probe moved to state */
    uint64_t cseq;    /* the change's sequence in the sender's run */
};

struct fleet_peer_msg {
    char from[FLEET_PEER_NAME_MAX + 1], to[FLEET_PEER_NAME_MAX + 1];
    bool is_signed;
    uint64_t run, seq;
    int64_t stamp_us;
    uint64_t hi, lo, upto;
    uint64_t ack_run, ack_have;
    size_t n_recs;
    struct fleet_peer_rec recs[FLEET_PEER_RECS_MAX];
    /* Parsed: the signature, and how many octets before it it covers. */
    const uint8_t *sig;
    size_t signed_len;
};

enum fleet_peer_parse {
    FLEET_PEER_PARSE_OK = 0,
    FLEET_PEER_PARSE_TOO_BIG,  /* over FLEET_PEER_DGRAM_MAX */
    FLEET_PEER_PARSE_SHORT,    /* ends inside a field */
    FLEET_PEER_PARSE_MAGIC,    /* not "GTP1" */
    FLEET_PEER_PARSE_FLAGS,    /* a flag this version does not know */
    FLEET_PEER_PARSE_NAME,     /* a node name that is none */
    FLEET_PEER_PARSE_RANGE,    /* lo > upto, upto > hi, a record outside (lo, upto] */
    FLEET_PEER_PARSE_RECORD,   /* an empty key, an unknown state, too many records */
    FLEET_PEER_PARSE_TRAILING, /* octets after the last field */
    FLEET_PEER_PARSES
};

const char *fleet_peer_parse_name(enum fleet_peer_parse e);

/* Octets a header with these names takes, and a record with a key of
 * key_len (without the signature). */
size_t fleet_peer_header_size(const char *from, const char *to);
size_t fleet_peer_rec_size(size_t key_len);

/* Writes m (without its signature: the caller appends FLEET_PEER_SIG_LEN
 * octets when m->is_signed) into buf; the length, or 0 when it does not
 * fit cap or a field is out of its bounds. */
size_t fleet_peer_encode(const struct fleet_peer_msg *m, uint8_t *buf, size_t cap);

/* Reads a datagram of len octets into m; FLEET_PEER_PARSE_OK or why not
 * (m is then partly filled and must not be used). */
enum fleet_peer_parse fleet_peer_parse(const uint8_t *buf, size_t len, struct fleet_peer_msg *m);

#endif
