/*
 * fleet_peer.h -- the direct channel between fleet nodes (doc/fleet.md,
 * "The direct peer channel"): besides etcd, each node sends each peer a
 * UDP datagram every FLEET_PEER_TICK_S with its probe's changes the peer
 * has not acknowledged and its acknowledgement of the peer's, so that a
 * node learns what its reachable peers' probes see within a few hundred
 * milliseconds whatever etcd is doing, and knows when it hears none of
 * them. It does not decide: it keeps the evidence (each peer's latest
 * state per endpoint with its writer's stamp read in this node's
 * monotonic clock, when the peer was last heard, its clock offset) for
 * the decision to read through fleet_peer_evidence_locked.
 *
 *   fleet_peer.c     state, timers, the socket, sending, views
 *   fleet_peer_rx.c  receiving: checks (size, form, sender, signature or
 *                    address, replay), acknowledgements, evidence
 *   fleet_peer_wire.c  the datagram's form (pure)
 *
 * Security: with "members" every datagram is signed with the node's
 * Ed25519 key (fleet_sign.h) and a datagram counts only when its sender
 * is a member and the signature verifies; without, a datagram counts only
 * from the address the sender's node record in etcd announces. Either
 * way, a datagram names its receiver (one sent to another node does not
 * count here), its sender's run (a run older than the one held is
 * refused) and a sequence number in that run (one seen before, or older
 * than the last FLEET_PEER_WINDOW, is refused): replays are dropped and
 * counted.
 *
 * Threads and locking: everything here runs on the fleet thread, which is
 * the only writer; the fields the views and the decision read are
 * written under f->lock (fleet_int.h's rule), and the functions ending
 * in _locked want it held.
 *
 * Ownership: struct fleet owns its struct fleet_peer (fleet_peer_free),
 * and each endpoint its list of peers' states (fleet_peer_ep_free).
 */
#ifndef GTM_FLEET_FLEET_PEER_H
#define GTM_FLEET_FLEET_PEER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct fleet;
struct fleet_ep;

/* A datagram to each peer this often; at most FLEET_PEER_BURST to one
 * peer in a tick while a full state is sent in parts (10,000 endpoints:
 * about 400 parts, 1.3 s). */
#define FLEET_PEER_TICK_S 0.1
#define FLEET_PEER_BURST 32
/* Changes sent but not acknowledged after this long are sent again. */
#define FLEET_PEER_RESEND_S 0.3
/* Sequence numbers of a run below the highest seen by more than this
 * are refused as replays (a datagram reordered that far is lost). */
#define FLEET_PEER_WINDOW 64
/* A peer's clock offset: one estimate per peer (fleet_node.beat_off), fed
 * by both channels, its datagrams and its etcd heartbeats
 * (fleet_decide_stamped_offset_sample): the least delayed sample; a step
 * back of its clock is taken once every sample for FLEET_PEER_STEP_S (at
 * least 3 of them) stayed below the estimate: 0.2-0.3 s over the direct
 * channel (a datagram every FLEET_PEER_TICK_S), 1 s over etcd alone (a
 * heartbeat every 0.5 s). FLEET_PEER_OFFSET_S is the estimate's
 * last-resort age. */
#define FLEET_PEER_OFFSET_S 10.0
#define FLEET_PEER_STEP_S 0.25

/* Why a datagram was dropped (/v1/status fleet.peer.drops, /metrics). */
enum fleet_peer_drop {
    FLEET_PEER_DROP_TOO_BIG,   /* over FLEET_PEER_DGRAM_MAX */
    FLEET_PEER_DROP_MALFORMED, /* fleet_peer_parse refused it */
    FLEET_PEER_DROP_NOT_FOR_ME,
    FLEET_PEER_DROP_UNKNOWN_SENDER, /* no live node of that name announces a channel */
    FLEET_PEER_DROP_WRONG_ADDRESS,  /* unsigned fleet: not from its announced address */
    FLEET_PEER_DROP_UNSIGNED,       /* signed fleet: no signature */
    FLEET_PEER_DROP_BAD_SIGNATURE,
    FLEET_PEER_DROP_REPLAY, /* a sequence seen before or too old, or an older run */
    FLEET_PEER_DROPS
};
const char *fleet_peer_drop_name(enum fleet_peer_drop d);

/* What this node knows of peer node's probe of one endpoint through the
 * channel; every time is this node's monotonic clock (deadline_mono),
 * 0 when unknown. */
struct fleet_peer_evidence {
    double heard;  /* its last datagram accepted here */
    double offset; /* its wall clock minus this node's monotonic one (valid when heard) */
    /* Every state it holds was known here as of this moment of its own
     * (its stamp through the offset): it had sent every change up to
     * then and this node held them all. */
    double current_as_of;
    uint8_t state; /* HEALTH_UP, HEALTH_DOWN, or HEALTH_UNKNOWN: it sent none */
    double since;  /* when its probe moved to state (its as_of through the offset) */
};

/* Whether s is where the channel may listen: "IP:PORT" or "[IPv6]:PORT",
 * port 0 (any) to 65535; and whether that address is a wildcard (0.0.0.0,
 * ::), which peers could not send to. */
bool fleet_peer_listen_ok(const char *s);
bool fleet_peer_listen_wildcard(const char *s);
/* Opens the socket and starts the timer when the channel is on (after
 * fleet_new; listen: "IP:PORT", port 0 picks one): 0, or -1 with err. */
int fleet_peer_open(struct fleet *f, const char *listen, char *err, size_t errlen);
/* Closes the socket and frees the state, the peers' states held in the
 * endpoints included (fleet_free; a test reopens the channel after). */
void fleet_peer_free(struct fleet *f);
/* Frees ep's peers' states (fleet_free, for each endpoint). */
void fleet_peer_ep_free(struct fleet_ep *ep);
/* This node's node record gains "peer": {"addr", "run"} (caller holds
 * f->lock; nothing when the channel is off). */
void fleet_peer_node_fields_locked(const struct fleet *f, json_t *rec);
/* Peer idx's node record v (NULL: gone) says where its channel is. */
void fleet_peer_node_seen(struct fleet *f, uint16_t idx, json_t *v);
/* The evidence of peer node on ep; false when the channel is off or it
 * never was heard (caller holds f->lock). */
bool fleet_peer_evidence_locked(const struct fleet *f, const struct fleet_ep *ep, uint16_t node,
                                struct fleet_peer_evidence *out);
/* Whether this node's channel is on and peer node's record announces one
 * (the stamped rule judges a peer without it on etcd alone; caller holds
 * f->lock). */
bool fleet_peer_channel_locked(const struct fleet *f, uint16_t node);
/* When any live peer with the channel was last heard directly (this
 * node's monotonic clock); 0 when none ever was or the channel is off
 * (caller holds f->lock). */
double fleet_peer_heard_any_locked(const struct fleet *f);
/* /v1/status fleet.peer: the channel's address, its drops by reason,
 * and each peer's address, heard_ago, offset and drops (caller holds
 * f->lock; null when off). */
json_t *fleet_peer_view_locked(const struct fleet *f, double now);
/* Drops by reason, over every peer and unknown senders (caller holds
 * f->lock); false when the channel is off. */
bool fleet_peer_drops_locked(const struct fleet *f, uint64_t out[FLEET_PEER_DROPS],
                             uint64_t *accepted, uint64_t *sent);

#endif
