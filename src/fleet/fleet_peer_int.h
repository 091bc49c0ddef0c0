/*
 * fleet_peer_int.h -- the direct channel's state, shared by fleet_peer.c
 * (socket, sending, views) and fleet_peer_rx.c (receiving). Not for use
 * outside those two files. Locking as in fleet_peer.h: the fleet thread
 * writes, the fields marked (L) under f->lock.
 */
#ifndef GTM_FLEET_FLEET_PEER_INT_H
#define GTM_FLEET_FLEET_PEER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>

#include "fleet/fleet_peer.h"
#include "fleet/fleet_peer_wire.h"

struct event;

/* What this node holds of one peer (indexed like f->nodes). */
struct fleet_peer_node {
    /* Where its node record says its channel is, and its run there (L). */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    bool has_addr;
    char addr_text[64];
    uint64_t announced_run;
    /* Sending to it: the highest of this node's change sequences it holds
     * with none missing (its acknowledgement, in this run), how far the
     * parts sent reach, and when the acknowledgement last moved. */
    uint64_t acked, sent_upto;
    double ack_moved;
    /* Receiving from it (L): its run, the highest sequence seen and which
     * of the FLEET_PEER_WINDOW below it were seen; gen moves at each new
     * run (its states of an older run no longer count). */
    uint64_t run, max_seq, window;
    unsigned gen;
    uint64_t have, hi; /* its changes held here with none missing; its latest hi */
    /* offset: the peer's estimate (fleet_node.beat_off) as of its last
     * datagram, which mapped current_as_of and its records' since. */
    double heard, current_as_of, offset;
    uint64_t accepted, drops[FLEET_PEER_DROPS]; /* (L) */
};

/* One peer's state of one endpoint, in the endpoint's list (L). */
struct fleet_peer_ep {
    uint16_t node;
    uint8_t state;
    unsigned gen;
    uint64_t cseq;
    double since; /* monotonic */
    struct fleet_peer_ep *next;
};

/* This node's own change of one endpoint, in the list ordered by cseq. */
struct fleet_peer_own {
    struct fleet_ep *ep; /* endpoints live as long as the fleet */
    uint8_t state;       /* FLEET_PEER_UP or FLEET_PEER_DOWN */
    int64_t as_of_us;    /* wall clock when its probe moved to it */
    uint64_t cseq;
    struct fleet_peer_own *prev, *next;
};

struct fleet_peer {
    int fd;
    struct event *ev_read, *ev_tick;
    char addr_text[64]; /* the bound address, announced */
    uint64_t run, seq, cseq;
    /* Own changes: one entry per endpoint ever sent, oldest change first
     * (owned: the entries, own_ix maps an endpoint to its entry). */
    struct fleet_peer_own *head, *tail;
    struct fleet_peer_own **own_ix; /* by fleet_ep->peer_ix - 1 */
    size_t n_own, cap_own;
    struct fleet_peer_node *nodes; /* (L) grown to f->n_nodes */
    size_t n_nodes;
    uint64_t drops[FLEET_PEER_DROPS]; /* of no known peer (L) */
    uint64_t sent, send_errors;       /* (L) */
    /* Scratch of one datagram being built or read (the fleet thread's;
     * its keys point into the endpoints or into the datagram read). */
    struct fleet_peer_msg msg;
};

/* Peer idx's entry, grown to it (fleet thread; takes f->lock to grow). */
struct fleet_peer_node *fleet_peer_node_at(struct fleet *f, uint16_t idx);
/* One datagram of len octets (its true length: over
 * FLEET_PEER_DGRAM_MAX only that much of it is in buf) from from, arrived
 * at now (monotonic): checked, counted, applied. Also the fuzz target's
 * entry (tests/fuzz/fuzz_peer.c). */
void fleet_peer_receive(struct fleet *f, const uint8_t *buf, size_t len,
                        const struct sockaddr_storage *from, double now);
/* The socket is readable (fleet_peer_rx.c). */
void fleet_peer_on_read(int fd, short what, void *arg);
/* Wall clock now, in microseconds. */
int64_t fleet_peer_wall_us(void);

#endif
