/*
 * fleet_sim_int.h -- the simulator's state (fleet_sim.c only): the fault
 * schedule, etcd's log, each node's model, the event heap. One struct sim
 * per run, allocated and freed by fleet_sim_run.
 */
#ifndef GTM_TESTS_FLEET_SIM_INT_H
#define GTM_TESTS_FLEET_SIM_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "fleet/fleet_decide.h"
#include "fleet/fleet_decide_stamped.h"
#include "fleet/fleet_int.h"
#include "fleet_sim.h"

#define SIM_N_MAX 5
#define SIM_HEAP_MAX 4096
#define SIM_WRITES_MAX 2048
#define SIM_END_MS 9000
#define SIM_INTERVAL_MS 250
#define SIM_FALL 2
#define SIM_RISE 2
#define SIM_STALE_S 2.0 /* stale_after: the least the schema allows */
#define SIM_TIMEOUT_MS 2000
#define SIM_TICK_MS 250
#define SIM_EPOCH 1700000000.0
#define SIM_ETCD 255       /* the node of etcd's own events */
#define SIM_BOUND_MS 500   /* I1: after the quorum saw it */
#define SIM_REPORT_MS 1000 /* I2: a report is current this long after the probe moved */
/* The stamped rule's direct channel (fleet_sim_direct.c). */
#define SIM_DIRECT_MS 100 /* each node sends its peers a datagram this often */
#define SIM_DIRECT_MAX 2048
#define SIM_ALIVE_S 0.35 /* a peer heard directly this recently is reachable */
#define SIM_ALLOW_S 0.5  /* fall x interval: a peer's probe has seen a death by then */
#define SIM_OFFSET_KEEP_S 10.0
#define SIM_OFFSET_STEP_S 0.25 /* the product's FLEET_PEER_STEP_S */

struct sim_win {
    int64_t from, to; /* [from, to); empty when to <= from */
};

static inline bool sim_in(const struct sim_win *w, int64_t t)
{
    return t >= w->from && t < w->to;
}

/* W_OVR: an override write of a node (fleet_sim_ovr.c); W_OVR_PUT: a
 * value put at an override's key by a writer that is no node (no reply). */
enum sim_kind { W_BEAT, W_REPORT, W_NODE, W_LEASE_END, W_OVR, W_OVR_PUT };

struct sim_write {
    uint8_t writer, kind, state;
    double stamp; /* the writer's wall clock */
    uint64_t seq, term;
    int64_t rev, sent;
    int64_t ct;  /* when it committed (its revision is etcd's from then) */
    int32_t ovr; /* W_OVR, W_OVR_PUT: the override operation (fleet_sim_ovr.c) */
    uint32_t gen;
    /* A heartbeat of the stamped rule: the writer's probe as of as_of (its
     * wall clock), its last report's sequence, and whether its probe has
     * moved since that report (pending: the heartbeat asserts nothing). */
    double as_of;
    uint64_t rseq;
    bool pending;
};

/* One datagram of the direct channel: the sender's probe as of as_of[sender]
 * and, piggybacked (SWIM's dissemination), the latest it heard directly of
 * each other node's (as_of 0: nothing), so one lost datagram delays no news. */
struct sim_dgram {
    uint8_t sender, state[SIM_N_MAX];
    double sent;             /* the sender's wall clock */
    double as_of[SIM_N_MAX]; /* each in its own node's wall clock */
};

enum sim_type {
    EV_PROBE,
    EV_TICK,
    EV_ARRIVE,
    EV_DELIVER,
    EV_REPLY,
    EV_STATUS,
    EV_SYNCED,
    EV_PUBLISH,
    EV_BACKEND,
    EV_LEASES,
    EV_DSEND,
    EV_DRECV,
    EV_OVR /* the override client, checks and replays (fleet_sim_ovr.c) */
};

struct sim_ev {
    int64_t t;
    uint64_t seq;
    uint8_t type, node;
    int32_t w, arg;
};

/* The schedule of one run, drawn before it starts. */
struct sim_faults {
    struct sim_win elect, stall, starve, local, cut_up, cut_down;
    int starve_node, local_node, cut_node; /* -1: none */
    bool leader_cut;                       /* cut_node is cut off with etcd's leader */
    int64_t stepdown;                      /* when that leader steps down */
    int64_t rewatch;                       /* the watch resumes after cut_down, backlog at once */
    int64_t kill, revive;                  /* revive 0: never */
    int64_t jitter, pub_lag_max, sync_extra;
    int64_t direct_loss; /* % of the direct channel's datagrams lost */
    int64_t direct_tail; /* ms: cut_node's direct channel stays cut after cut_up/cut_down */
    int64_t cut_timeout; /* ms: a call sent through the cut fails after this (0: SIM_TIMEOUT_MS) */
};

enum { CONN_SYNCING = 1, CONN_SYNCED = 2 };

struct sim_node {
    int64_t skew, jump_at, jump, jump_end, link; /* ms; the jump holds in [jump_at, jump_end) */
    uint8_t own, acked, served;
    int run;
    double own_since;
    int64_t down_at, flip_at; /* the probe said down / served down, after the kill (-1) */
    int64_t up_at;            /* the probe last moved to up (0: never) */
    bool left;                /* served down while the backend is dead (I4) */
    int conn;
    uint32_t gen;
    bool beat_inflight, sync_out, poll_out, ever_synced, blind, degraded;
    int64_t next_beat, next_poll, beat_rev, rev, last_deliver;
    double beat_sent, fresh_at, blind_from, blind_end, elect_at;
    uint64_t term_seen, pub_seq;
    struct fleet_node peer[SIM_N_MAX]; /* the real struct, as fleet_beat.c keeps it */
    bool has_obs[SIM_N_MAX];
    uint8_t obs_state[SIM_N_MAX];
    double obs_stamp[SIM_N_MAX];
    uint64_t obs_seq[SIM_N_MAX];
    /* The stamped rule's inputs (fleet_sim_direct.c). */
    int64_t probe_at;                                  /* its probe last ran (0: never) */
    uint64_t rep_seq;                                  /* its last report's sequence */
    uint8_t rep_state;                                 /* and state */
    bool isolated;                                     /* no peer's state known current */
    double e_as_of[SIM_N_MAX];                         /* peer's wall: its reports current as of */
    uint8_t d_state[SIM_N_MAX];                        /* the peer's last datagram */
    double d_as_of[SIM_N_MAX];                         /* peer's wall */
    double d_heard[SIM_N_MAX];                         /* mono: it arrived (0: never) */
    double heard_new[SIM_N_MAX];                       /* mono: news of the peer's probe arrived */
    struct fleet_decide_stamped_offset off[SIM_N_MAX]; /* peer's wall minus n's mono */
    /* The cut node's etcd question (fleet_decide_stamped_vouched): the
     * oldest heartbeat not answered was sent (0: none; a failed one stays,
     * as fleet.beat_out), and the last check was sent. */
    double beat_out, beat_check_at;
    struct fleet_decide_stamped_cut cut; /* when its last cut-off ended (stamped rule) */
};

struct sim_ovr; /* fleet_sim_ovr.c's, allocated and freed there */

struct sim {
    uint64_t rng[4];
    unsigned n;
    enum fleet_sim_class cls;
    enum fleet_sim_class fault; /* the class whose fault is planned (cls, or another) */
    enum fleet_sim_rule rule;
    enum fleet_sim_revert revert;
    struct sim_ovr *ovr; /* NULL: no overrides in this run */
    struct sim_faults fx;
    struct sim_ev heap[SIM_HEAP_MAX];
    size_t nh;
    uint64_t seq;
    struct sim_write w[SIM_WRITES_MAX];
    size_t nw;
    struct sim_dgram dg[SIM_DIRECT_MAX];
    size_t ndg;
    int64_t now, etcd_rev, last_commit, last_keep[SIM_N_MAX];
    bool lease_live[SIM_N_MAX], alive, overflow;
    struct sim_node nd[SIM_N_MAX];
    struct fleet_quorum quorum;
    struct fleet_sim_result *res;
    char *trace;
    size_t tlen, toff;
};

/* Shared by fleet_sim.c and fleet_sim_direct.c. */
void sim_push(struct sim *s, int64_t t, uint8_t type, uint8_t node, int32_t w, int32_t arg);
int64_t sim_range(struct sim *s, int64_t lo, int64_t hi);
double sim_mono(const struct sim *s);
double sim_wall(const struct sim *s, unsigned n);
bool sim_cut_up(const struct sim *s, unsigned n, int64_t t);
bool sim_cut_down(const struct sim *s, unsigned n, int64_t t);
/* The same for the direct channel: the etcd cut, then direct_tail more. */
bool sim_direct_cut(const struct sim *s, unsigned n, int64_t t, bool up);
void sim_log(struct sim *s, int node, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void sim_violation(struct sim *s, int inv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* etcd: node n sends a write (its index, -1 when the tables are full);
 * write wi reaches the log at time t. */
int32_t sim_send(struct sim *s, unsigned n, uint8_t kind);
void sim_commit(struct sim *s, int32_t wi, int64_t t);
int32_t sim_write_new(struct sim *s, unsigned n, uint8_t kind);

/* The direct channel and the stamped rule (fleet_sim_direct.c). */
void sim_direct_start(struct sim *s);
void sim_direct_send(struct sim *s, unsigned n);
void sim_direct_recv(struct sim *s, unsigned n, int32_t di);
void sim_stamped_beat(struct sim *s, unsigned n, const struct sim_write *w);
void sim_stamped_report(struct sim *s, unsigned n, const struct sim_write *w);
void sim_stamped_offset(struct sim *s, unsigned n, unsigned j, double sent);
uint8_t sim_stamped_serve(struct sim *s, unsigned n);
/* No peer heard directly for FLEET_STAMPED_CHECK_S: a heartbeat ahead of
 * its schedule (fleet_stamped_check). */
void sim_stamped_check(struct sim *s, unsigned n);

/* Overrides (fleet_sim_ovr.c): the client's calls through the nodes,
 * their writes in etcd, each node's apply with the product's code, and I3.
 * sim_ovr_start allocates s->ovr for the classes that have overrides;
 * sim_ovr_free frees it. */
void sim_ovr_start(struct sim *s);
void sim_ovr_free(struct sim *s);
void sim_ovr_event(struct sim *s, int32_t w, int32_t arg);
void sim_ovr_committed(struct sim *s, int32_t wi);
void sim_ovr_reply(struct sim *s, unsigned n, int32_t wi, bool ok);
void sim_ovr_deliver(struct sim *s, unsigned n, int32_t wi);
void sim_ovr_read(struct sim *s, unsigned n);

#endif
