/*
 * fleet_int.h -- the fleet client's state, shared by fleet.c (thread,
 * tables, verdicts), fleet_sync.c (etcd: lease, read, watch, publish),
 * fleet_store.c (the shared store) and fleet_view.c (status, metrics).
 * Not for use outside src/fleet.
 *
 * Locking: the fleet thread is the only writer of everything below; it
 * writes the fields marked (L) under f->lock, which the admin thread takes
 * to read them. Fields without (L) are the fleet thread's alone. The
 * direct peer channel (fleet_peer.h) keeps the same rule: its evidence
 * is read through fleet_peer_evidence_locked with f->lock held.
 */
#ifndef GTM_FLEET_FLEET_INT_H
#define GTM_FLEET_FLEET_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

#include "common/deadline.h"
#include "common/digest.h"
#include "fleet/etcd.h"
#include "fleet/fleet.h"
#include "fleet/fleet_compat.h"
#include "fleet/fleet_decide_stamped.h"
#include "fleet/fleet_stamp.h"

#define FLEET_TXN_OPS 128 /* etcd's default --max-txn-ops */
#define FLEET_TICK_S 0.25
/* A put of the node record due for what changed on this node (each
 * configuration version it applies, its config hash) waits this long
 * after the last one began: one put per version was three etcd commits
 * per change in a 3-node fleet, each sent to every node's watch, the
 * largest part of etcd's and the fleet threads' work under a stream of
 * changes (issue #38). A node's config_version in the others' view lags
 * by at most this. */
#define FLEET_NODE_PUT_REST_S 0.2
/* Publishing transactions in flight at once: etcd commits concurrent
 * proposals with one disk sync, so a mass change is written several
 * times faster than one transaction after the other. */
#define FLEET_PUBLISH_INFLIGHT 8
/* What etcd may make this node remember, whatever it holds: node names
 * (a node index is a uint16_t: more would wrap onto another node, this
 * one included) and endpoints this node does not check itself (only
 * shown). Keys beyond are ignored. */
#define FLEET_NODES_MAX 1024
#define FLEET_NODE_NONE UINT16_MAX
#define FLEET_FOREIGN_EPS_MAX 65536
/* The heartbeat (fleet_beat.c): every FLEET_BEAT_S the node writes
 * PREFIX/beat/NODE, a linearizable write whose revision its own watch
 * must deliver. A watch that has not delivered an acknowledged revision
 * after FLEET_LAG_MAX_S is restarted (on the next URL), and a node whose
 * view is older than FLEET_BEAT_S + FLEET_LAG_MAX_S is not "synced". */
#define FLEET_BEAT_S 0.5
#define FLEET_LAG_MAX_S 1.0
/* A sync attempt with no reply at all after this long starts again on the
 * next URL (a cut link would otherwise hold it for n_urls x timeout). */
#define FLEET_RETRY_S 0.5
/* A sync attempt whose calls have not even connected after this long (a
 * tick) starts again on the next URL: a cut link answers nothing, and a
 * heal must be found within a tick or two (writes are accepted again
 * within 1 s of a heal). A connected but slow etcd gets FLEET_RETRY_S. */
#define FLEET_CONNECT_S 0.2
/* A member that stops answering (packets dropped, no reset: a cut link)
 * is left within FLEET_WATCH_PROBE_S + FLEET_CONNECT_S of its going quiet
 * (0.3 s, plus the loop's delays): a watch that receives nothing for
 * FLEET_WATCH_PROBE_S opens a connection to its member, and one not
 * connected after FLEET_CONNECT_S ends the watch, which resumes on the next
 * URL from the revision after the last one it delivered (fleet_sync.c).
 * Calls likewise move on when not connected after FLEET_CONNECT_S (etcd.h,
 * connect_s). 0.1 s (was 0.25 s) so that an override acknowledged just
 * after the cut is served within 0.5 s with room for the move and the
 * loop's delays on a loaded machine (issue #54: 0.51-0.56 s at 0.25 s).
 * It does not move a live but slow member: only the TCP handshake is
 * timed, which the member's kernel answers however busy etcd is. The
 * cost: a quiet watch probes its member about every 0.1 s plus a round
 * trip (one POST /v3/maintenance/status), and heartbeats (every
 * FLEET_BEAT_S from each node) keep most watches from being quiet. */
#define FLEET_WATCH_PROBE_S 0.1
/* Peers' clocks further from this node's than this flag a skew. */
#define FLEET_SKEW_MAX_S 2.0
#define FLEET_SKEW_BEATS 3
/* A peer whose heartbeat did not arrive for this long (an etcd election,
 * this node's watch behind, the peer cut off) is counted as agreeing with
 * this node's own probe on an endpoint whose own state changed after the
 * peer was last heard, less FLEET_SILENT_S (a heartbeat delivered late in
 * an election says nothing of the peer's reports, which wait for etcd as
 * well): its report predates what this node now sees, so failover takes
 * fall x interval, not an election. A disagreement known well before the
 * silence (a local network problem) stays outvoted. */
#define FLEET_SILENT_S 1.0
/* The same holds while this node's own view is not current (no heartbeat
 * of its own delivered back for FLEET_BLIND_S: an election, its watch or
 * link down): no peer's newer report could have reached it. And it holds
 * for FLEET_REJOIN_S after the peer is heard again or the view is current
 * again, for reports published before this node's own probe changed: a
 * peer publishes what it saw during the gap only once etcd takes writes,
 * and its stale report must not undo the failover meanwhile (a flap). */
#define FLEET_BLIND_S 0.75
#define FLEET_REJOIN_S 1.0
/* ... and until the peer has been heard FLEET_REJOIN_BEATS times since
 * (at most stale_after): on a loaded machine a peer's heartbeats come back
 * before the reports it wrote once etcd took writes again, which can take
 * seconds after a new leader; its report from before the gap then undid
 * a failover for a moment (test_fleet_loaded, the cut case, in CI: a node
 * flipped back to the dead region 1.1 s after its view was current
 * again, its peers' reports of the failure not yet in). Heartbeats are
 * delayed by what delays the reports, so counting them waits as long as
 * the load makes it. */
#define FLEET_REJOIN_BEATS 3
/* Whether a gap that ended since seconds ago still covers a peer heard
 * beats times since it ended: FLEET_REJOIN_S, then until
 * FLEET_REJOIN_BEATS heartbeats, never past stale_after (fleet_beat.c).
 * Pure: unit-tested. */
bool fleet_rejoin_covers(double since, unsigned beats, double stale_after);
/* But only during an etcd election (fleet_election.c): a gap without one
 * (a slow disk under etcd, a starved CPU on a peer or here) says nothing
 * of what the peers see, and their last reports count as they are. While
 * a gap is open, every FLEET_ELECT_EVERY_S this node asks each etcd URL
 * (the first FLEET_ELECT_URLS) for its status; a member without a leader,
 * a raft term above the highest seen, or a leader that no member answers
 * for while every other URL answered or could not even be connected to
 * (FLEET_CONNECT_S) shows an election, and so does a raft term that moved
 * in any reply's header. */
#define FLEET_ELECT_EVERY_S 0.5
#define FLEET_ELECT_URLS 8
/* A record refused as unsafe is checked again this often (a view that
 * differed from its author's for a moment delays it; fleet_adopt.c), at
 * most FLEET_RECHECK_MAX records a round. */
#define FLEET_RECHECK_S 1.0
/* The key layout this node writes (doc/fleet.md, "What is in etcd"): 2
 * puts a node's observations under reports/NODE/ (one range per node, so
 * that an etcd role can confine each node to its own keys); 1 (gtmd
 * before) put them at obs/ENDPOINT/NODE, which this node still reads. The
 * node record says which ("layout"; absent: 1). */
/* 3 (fleet_pools.c): a node's observations of a pool in one key,
 * reports/NODE/POOL, written at most once a tick; a node writes it only
 * while the fleet's write format is 3 (fleet_pools_layout, fleet_compat.h),
 * else the per-endpoint keys of layout 2. Both are always read. */
#define FLEET_LAYOUT 3
#define FLEET_LAYOUT_POOLS 3
#define FLEET_REPORTS "reports/"
/* A pool key's value and one publishing transaction stay well below
 * etcd's default request limit (1.5 MiB). */
#define FLEET_POOL_TXN_BYTES (1024 * 1024)
#define FLEET_RECHECK_MAX 16

struct event;
struct event_base;
struct drill_core;
struct fleet_decide_report;
struct fleet_peer;
struct fleet_peer_ep;

/* The lease, mod revision and signed "n" of the last node record,
 * heartbeat or round-trip table (fleet_rtt.c) of a member applied here
 * (fleet_life.c). */
struct fleet_stamp {
    int64_t lease, rev;
    uint64_t n;
};
enum { FLEET_STAMP_NODE, FLEET_STAMP_BEAT, FLEET_STAMP_RTT, FLEET_STAMPS };

/* What one etcd URL said to its last status call (fleet_election.c). */
enum fleet_elect_state {
    FLEET_ELECT_NONE = 0, /* not asked yet */
    FLEET_ELECT_ASKED,    /* no reply yet */
    FLEET_ELECT_ANSWERED, /* member, leader and term are set */
    /* Not connected after FLEET_CONNECT_S, or the call failed at the
     * transport well before its timeout (refused, reset): no member there. */
    FLEET_ELECT_GONE,
    FLEET_ELECT_SLOW /* timed out, or etcd answered an error: says nothing */
};

/* Whether etcd is electing a leader (fleet_election.c; fleet thread, but
 * at and why under f->lock). */
struct fleet_elect {
    /* One client per URL (owned; made on first use, freed by fleet_free):
     * a status call must not move to another URL. */
    struct etcd *probe[FLEET_ELECT_URLS];
    size_t n;
    double next; /* monotonic: when the URLs are asked again */
    bool logged; /* the current gap's election was logged */
    struct {     /* each URL has at most one call out, asked again once it ended */
        enum fleet_elect_state state;
        bool out; /* a call is out */
        double sent;
        uint64_t member, leader, term;
    } u[FLEET_ELECT_URLS];
    uint64_t term; /* the highest raft term seen in any reply (0: none yet) */
    double at;     /* (L) monotonic time an election was last shown (0: never) */
    char why[128]; /* (L) what showed it */
};

/* A vantage point seen in etcd (PREFIX/nodes/NAME). */
struct fleet_node {
    char name[FLEET_NODE_MAX + 1];
    bool live; /* its key exists (its lease is alive) */
    char version[32];
    char config_hash[24];
    double last_seen, started;
    json_t *vantage; /* array of strings, or NULL */
    /* Its clock minus this node's, from its last heartbeat as delivered
     * here (delivery time included: tens of ms). */
    double clock_offset;
    bool have_offset;
    /* Its heartbeats in a row whose clock was over FLEET_SKEW_MAX_S off: a
     * skew counts from FLEET_SKEW_BEATS on, since a watch restarted from
     * an older revision delivers heartbeats written seconds ago. (L) */
    uint8_t far_beats;
    /* Monotonic time its last heartbeat arrived here (0: never). silent:
     * none for FLEET_SILENT_S; its reports are then replaced by this
     * node's own probe (fleet_ep_verdict_locked). (L) */
    double heard;
    bool silent;
    /* After a silence: when it was heard again, and when it had been heard
     * last before (0: no silence yet); rejoining: back within
     * FLEET_REJOIN_S, or heard fewer than FLEET_REJOIN_BEATS times since
     * (fleet_beat.c); beats_back: heartbeats since back; beats_view: since
     * this node's own view was current again (blind_end); view_grace: this
     * node's blind grace still holds for this peer's reports. (L) */
    double back, quiet_from;
    bool rejoining, view_grace;
    unsigned beats_back, beats_view;
    int64_t lease; /* the lease of its node record (signed fleets: its reports' lease) */
    int layout;    /* the key layout it writes (FLEET_LAYOUT) (L) */
    /* The newest record format its node record announced (fleet_compat.h;
     * 0: none seen in this run). Kept when it goes: the fleet's write
     * format never moves up because an old node stopped for a moment. */
    int formats_hi;
    bool publish;            /* it publishes observations ("publish": false: a watcher) (L) */
    bool drained;            /* its record says "drained": true (fleet_drain.c) (L) */
    uint64_t config_version; /* the fleet configuration it serves (0: none) */
    struct fleet_stamp stamps[FLEET_STAMPS]; /* fleet thread only */
    /* Its last heartbeat's stamp (fleet_stamp.h; have false: none, an older
     * writer or one refused) and the "rrev" of its last report received
     * here (fleet_beat_report_stamp): the inputs of the stamped rule, shown
     * in status, not yet used by the verdict. (L) */
    struct fleet_stamp_beat beat_stamp;
    uint64_t rrev_held;
    /* The stamped rule's view of it (fleet_stamped.c): its clock's offset,
     * from the "t" of its heartbeats and the stamps of its datagrams
     * (fleet_peer_rx.c; the least delayed sample: a late delivery never
     * makes a stamp look newer; a step of its clock taken within
     * FLEET_PEER_STEP_S: fleet_decide_stamped_offset_sample), and when
     * news of its probe last arrived (a report, or a heartbeat that
     * vouched for a later as_of; monotonic, 0: never). (L) */
    struct fleet_decide_stamped_offset beat_off;
    double news_at;
    char config_error[160]; /* why not the newest */
};

/* Another node's report on one endpoint. */
struct fleet_obs {
    uint16_t node; /* index into f->nodes */
    uint8_t state; /* HEALTH_UP or HEALTH_DOWN */
    /* Read from the node's pool key (layout 3) rather than its endpoint
     * key: a deletion of one kind of key removes only its own kind's
     * reports, so a node moving between layouts never loses its vote. */
    bool pooled;
    double t; /* when that node published it */
    /* Its lease, mod revision and signed "n" (fleet_life.c): an older
     * report of the same lease put back is refused. */
    int64_t lease, mod_rev;
    uint64_t n;
    struct fleet_obs *next;
};

struct fleet_ep {
    char *key;                   /* slot key "endpoint:POOL/NAME" */
    struct health_slot *slot;    /* this node's slot when it checks the endpoint */
    bool local;                  /* checked by this node's current config */
    uint8_t own;                 /* own probe state when last looked at */
    double own_since;            /* (L) monotonic: when own last changed (0: never seen) */
    uint8_t published;           /* own state as last written to etcd (UNKNOWN: none) */
    uint64_t pub_n;              /* the "n" of the own report last sent (fleet_life.c) */
    uint64_t seen_n;             /* the highest "n" of it the watch brought back */
    bool writing;                /* in a publishing transaction now */
    struct fleet_own_pool *pool; /* its pool among this node's (layout 3), NULL when not local */
    uint8_t pool_pub;            /* own state as this node's pool key in etcd lists it */
    uint32_t mark;               /* fleet_pools_seen's scratch */
    uint8_t verdict;             /* (L) */
    struct fleet_obs *obs;       /* (L) other nodes' reports */
    /* The direct channel (fleet_peer.h): peers' states heard directly
     * (L), and this endpoint's entry among this node's own changes
     * (index + 1; 0: none). */
    struct fleet_peer_ep *direct;
    uint32_t peer_ix;
    struct fleet_ep *next; /* hash chain */
};

/* A shared record of a kind (overrides, drills), as held in etcd. */
struct fleet_rec {
    char id[32];
    json_t *value; /* as in etcd, less "sig", "signer", "lease", "format" and "born" */
    int64_t mod_rev;
    bool deleting; /* an expiry delete was sent */
    /* Adoption (fleet_adopt.c): FLEET_SIG_OK when applied here, else why it
     * was refused; an unsafe one is checked again every FLEET_RECHECK_S. */
    enum fleet_verdict refused;
    bool own;        /* signed by this node (accepted by its API): only logged differently */
    char signer[64]; /* "" when unsigned */
    struct fleet_rec *next;
};

/* A member's pool key as last applied here (fleet_pools.c): which
 * endpoints it listed (their reports are in each endpoint's obs, pooled),
 * and its lease, mod revision and signed "n" (an older one of the same
 * lease put back is a replay). */
struct fleet_pool {
    uint16_t node;
    char *pool;
    struct fleet_ep **eps;
    size_t n;
    int64_t lease, mod_rev;
    uint64_t sig_n;
    struct fleet_pool *next; /* hash chain */
};

/* One pool of this node's own (fleet_pools.c): its local endpoints, and
 * whether etcd holds its key. */
struct fleet_own_pool {
    char *pool;
    struct fleet_ep **eps;
    size_t n;
    bool in_etcd;    /* the key exists (written or read back) */
    bool listed;     /* still a pool of the running configuration */
    bool purge;      /* its layout-2 keys (reports/NODE/POOL/) are still to be deleted */
    bool writing;    /* in a publishing transaction now */
    unsigned refs;   /* transactions that hold it (it is freed only without) */
    bool dirty;      /* written again whatever the states (a replay of it seen) */
    uint64_t pub_n;  /* the signed "n" of the value last sent */
    uint64_t seen_n; /* the highest "n" of it the watch brought back */
    struct fleet_own_pool *next;
};

struct fleet;

struct fleet_kind {
    const char *name;        /* "overrides", "drills" */
    const char *id_prefix;   /* "ovr", "drl" */
    const char *expires_key; /* the record's end time: "expires", "ends" */
    /* What the records do on this node (fleet thread): a record put
     * (checked by fleet_adopt first; FLEET_SIG_OK, or why it was refused
     * here, with why), a record deleted (old may be NULL), and after a
     * fresh read (recs hold every record). */
    enum fleet_verdict (*put)(struct fleet *f, const char *id, json_t *value, char *why,
                              size_t len);
    void (*del)(struct fleet *f, const char *id, json_t *old);
    void (*resync)(struct fleet *f, struct fleet_kind *k);
    struct fleet_rec *recs;
    int64_t seq_val, seq_mod; /* the id counter key PREFIX/seq/NAME (L) */
    bool reading;             /* a fresh read is being applied */
};

/* What the caller of a call run on the fleet thread waits for (store
 * jobs, configuration publishes). */
struct fleet_wait {
    enum shared_status result;
    char err[256];
    bool done, abandoned; /* abandoned: the caller stopped waiting; free it */
};

/* Ends w (caller holds f->lock, its job unlinked): result and message
 * (fmt may be NULL) set, done, every waiter woken. True when its caller
 * had stopped waiting: the job is then the fleet thread's to free. */
bool fleet_wait_end_locked(struct fleet *f, struct fleet_wait *w, enum shared_status st,
                           const char *fmt, va_list ap);
/* The caller's side (f->lock held, its job queued): wakes the fleet
 * thread and waits until w is done or the deadline (CLOCK_MONOTONIC
 * seconds) passes. */
void fleet_wait_locked(struct fleet *f, const struct fleet_wait *w, double deadline);

enum fleet_job_op { FLEET_JOB_CREATE, FLEET_JOB_REMOVE };

/* A store call from the admin thread, run on the fleet thread. */
struct fleet_job {
    enum fleet_job_op op;
    struct fleet_kind *kind;
    json_t *record; /* create: the record, id filled in here */
    json_t *sealed; /* create: the record sealed with its key's create revision (fleet_life.c) */
    double ttl_s;
    uint64_t view;
    char id[32];
    int64_t lease;
    bool retried;     /* remove: sent again after a lost reply (fleet_on_job_verify) */
    int64_t wait_rev; /* done once the watch applied this revision */
    double deadline;  /* monotonic: give up waiting for the watch */
    int phase;        /* 0 queued, 1 waiting for etcd, 2 waiting for the watch, 3 reading back
                         after a failed compare (fleet_job_verify), 4 waiting for a lease (no
                         write sent yet), 5 sealing the record created (fleet_life.c); (L) */
    struct fleet_wait w;
    struct fleet_job *next;
};

/* The fleet's configuration as this node follows it (fleet_config.c). */
struct fleet_cfg_job;
struct fleet_cfg {
    fleet_config_fn on_config; /* NULL: not followed */
    void *arg;
    uint64_t head; /* the version PREFIX/config/head names (0: none) (L) */
    /* The newest version with a whole document (head's "full"; head
     * itself when head names none: every version was whole) (L). */
    uint64_t full;
    /* Head's "chain_bytes" (the versions after full, as written) and
     * "full_bytes" (full's document); sizes_known when head has both (a
     * head of the release before has neither) (L). */
    uint64_t chain_bytes, full_bytes;
    bool sizes_known;
    /* A delta did not fit the version this node has: the next fetch
     * starts at full (fleet_config_need_full) (L). */
    bool want_full;
    int64_t head_rev; /* its mod revision (0: absent) (L) */
    /* The highest version seen since start (this node's own at start): a
     * head that goes back (deleted, or an old one put back: a replay) is
     * not followed, and the next version is numbered on from it. */
    uint64_t seen;
    /* A fetch of head that failed (refused, pruned, an etcd error): not
     * tried again before retry_at unless head's revision moves. */
    int64_t failed_rev;
    double retry_at;
    int64_t floor_rev; /* head's revision when the peers' version raised it (reported) */
    uint64_t offered;  /* the newest version handed to on_config */
    /* offered is not yet applied or refused (no fleet_config_applied
     * since), from offer_at (CLOCK_MONOTONIC) (L) */
    bool offer_open;
    double offer_at;
    bool told_empty;       /* on_config heard that etcd holds none */
    double empty_again_at; /* and is told again from then (FLEET_CONFIG_EMPTY_AGAIN_S) */
    bool fetching;
    uint64_t applied;           /* the version this node serves (L) */
    char error[256];            /* why head is not applied here (L) */
    bool put_due;               /* the node record must say so (L) */
    struct fleet_cfg_job *jobs; /* (L) */
    /* Whole versions this node read from their parts, and whole versions
     * it built from their delta instead, without reading the parts
     * (/v1/status fleet.config_parts) (L). */
    uint64_t parts_read, parts_skipped;
    /* This node's own document's shared part while it serves no version
     * of the fleet (fleet_env.config_own; a reference, NULL: none), and
     * the digest of its compact text ("" until hashed): a whole version
     * with that digest is this document, taken as it is instead of read
     * (parts_own counts them). Let go once a version is applied (L). */
    json_t *own;
    char own_sha[DIGEST_SHA256_HEX];
    uint64_t parts_own;
};

enum fleet_conn { FLEET_CONN_DOWN = 0, FLEET_CONN_SYNCING, FLEET_CONN_SYNCED };

struct fleet {
    struct fleet_params p;
    struct fleet_compat compat; /* the fleet's write format (fleet_compat.c) (L) */
    /* Records refused by fleet_verify, by verdict, and the last one (L). */
    uint64_t rejected[FLEET_VERDICTS];
    char rejected_last_key[256];
    char rejected_last_signer[64];
    enum fleet_verdict rejected_last;
    struct health_core *health;
    struct health_service *health_service;
    fleet_unsafe_fn unsafe; /* the safety rule on adoption (NULL: not checked) */
    void *unsafe_arg;
    double next_recheck;
    char version[32];
    json_t *vantage; /* array of strings */
    struct shared_store store;
    pthread_t thread;
    struct event_base *base;
    /* Jobs of fleet_work.c still running (the fleet thread's). */
    struct fleet_work *work;
    struct etcd *etcd;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* jobs done, first sync */
    /* nodes (L) */
    struct fleet_node *nodes;
    size_t n_nodes, cap_nodes;
    uint16_t self;
    /* Scratch of fleet_ep_verdict_locked: one endpoint's reports as
     * fleet_decide reads them, their nodes, how each counted (owned, grown
     * there, freed by fleet_free). (L) */
    struct fleet_decide_report *dec_reports;
    uint16_t *dec_nodes;
    uint8_t *dec_how;
    size_t dec_cap;
    /* The same for the stamped rule (fleet_stamped.c): the peers' inputs,
     * how each counted, their nodes; n_nodes entries at most. (L) */
    struct fleet_decide_stamped_peer *st_peers;
    struct fleet_decide_stamped_how *st_how;
    uint16_t *st_nodes;
    double *st_heard; /* each peer last heard directly (before fleet_stamped's view of etcd) */
    struct fleet_decide_stamped_cut st_cut; /* when this node's last cut-off ended */
    size_t st_cap;
    /* endpoints (L for the table's shape) */
    struct fleet_ep **buckets;
    size_t n_buckets, n_eps;
    struct fleet_ep **local; /* this node's checked endpoints */
    size_t n_local;
    /* hand-over from the main thread (L) */
    char **pending_keys;
    struct health_slot **pending_slots;
    size_t n_pending;
    bool have_pending;
    bool hash_pending; /* only config_hash changed: the node record is due */
    bool drained;      /* an operator drained this node (fleet_set_drained) */
    char config_hash[24];
    /* The endpoint list last handed over, the main thread's alone (no
     * lock): the keys one after another, each with its NUL, and the
     * slots. A reload that leaves every checked endpoint as it was (a
     * change of records) hands over only its config hash: adopting
     * 10,000 endpoints again was a fifth of a fleet node's work per
     * change at 100,000 records (issue #38). Owned: sent_text, sent_slots. */
    char *sent_text;
    size_t sent_len, n_sent;
    struct health_slot **sent_slots;
    bool sent_any;
    /* connection (L) */
    enum fleet_conn conn;
    const char *url; /* the etcd URL in use, for the views (L) */
    bool stopping;   /* the lease is being revoked: start nothing new */
    bool degraded, ever_synced;
    /* blind: the view has not been current for FLEET_BLIND_S (after the
     * first sync); blind_from: the view was etcd's as of then; blind_end:
     * when it was current again (0: never blind); blind_grace: some
     * peer's view_grace still holds (fleet_beat.c). (L) */
    bool blind, blind_grace;
    double blind_from, blind_end;
    double last_ok; /* monotonic time of the last reply from etcd */
    /* Liveness (fleet_beat.c); monotonic times, (L). last_quorum: the last
     * reply to a linearizable call (every unary call gtmd makes is one).
     * fresh_at: this node's view was etcd's as of then (a heartbeat's
     * revision delivered by the watch, or a fresh read). lag_since: 0, or
     * since when the watch is behind a revision etcd acknowledged. */
    double last_quorum, fresh_at, lag_since;
    int64_t beat_rev;  /* revision of the last acknowledged heartbeat (L) */
    double beat_sent;  /* when that heartbeat was sent */
    double range_sent; /* when the fresh read being applied was sent */
    bool beat_inflight;
    /* When the oldest heartbeat (or watcher's read) not answered since
     * the last answer was sent (a failed one stays: it was not taken); 0:
     * none (fleet_stamped.c: one out longer than FLEET_STAMPED_OUT_S means
     * etcd is not taking this node's calls). (L) */
    double beat_out;
    /* When fleet_beat_check last sent a heartbeat because no peer was heard
     * directly (fleet_stamped.c): one per silence, so a node cut off does
     * not write every tick. (fleet thread) */
    double beat_check_at;
    double next_beat, sync_started;
    bool sync_answered;        /* the current sync attempt got a reply */
    const char *watch_url;     /* the URL the watch runs on (written under L) */
    const char *answered_url;  /* the URL of the last successful call */
    unsigned watch_resumes;    /* watch ends since its last message (fleet_sync.c) */
    unsigned long watch_moves; /* watches resumed on another URL (status) */
    /* Calls that failed without an answer while the session was kept
     * (fleet_session.h; status, (L)); kept_since: when the current run of
     * such failures began (0: the last call answered). */
    unsigned long calls_kept;
    double kept_since;
    double rewatch_at;   /* the watch is down with the session kept: started again then */
    double clock_offset; /* (L) this node's clock minus the fleet's; valid when skew_known */
    bool skew_known, skewed;
    bool isolated; /* (L) view older than isolation_after (fleet_beat.c) */
    double lost_since;
    int64_t lease, rev;
    uint64_t sign_n; /* the "n" of the last record this node signed (fleet_life.c) */
    /* The create revision of this node's record's key (0: not known yet),
     * signed into it as "born"; seals tried in this sync (fleet_life.c). */
    int64_t node_born;
    unsigned node_seals;
    unsigned sync_step, retry_n;
    struct etcd_watch *watch;
    unsigned publishing; /* publishing transactions in flight */
    /* fleet_batch_begin's depth, and whether a fleet byte changed in it */
    unsigned batch;
    bool batch_told;
    /* Layout 3: endpoint keys (layout 2) of this node's may still be in
     * etcd, or writes of them in flight; false once a scan found none to
     * delete, so that a publish does not walk every endpoint for nothing. */
    bool eps_keys_dirty;
    /* Layout 3 (fleet_pools.c): members' pool keys (hash), this node's
     * pools, the layout written now (0: not decided), and when the next
     * publishing round may start (one a tick). */
    struct fleet_pool **pools;
    size_t n_pool_buckets;
    struct fleet_own_pool *own_pools;
    int layout_out; /* (L) */
    double next_pool_round;
    uint32_t pool_mark;
    /* A fresh read in pages (fleet_sync.c): the kvs gathered so far, the
     * revision they are read at, and the pages read (L for pages). */
    json_t *read_kvs;
    int64_t read_rev;
    uint64_t read_pages;
    bool node_put_due;
    /* A put of the node record is in flight (a publish's or a sync's, of
     * this sync step or of one abandoned since): the next put of it waits
     * for its reply. Two in flight at once travel on connections of their
     * own and etcd may apply them out of order, and readers refuse the
     * older "n" on one lease as a replay (seen in rolling upgrades, when
     * the write format moves and the periodic put falls together, and
     * when a sync starts over on the same lease while the sequence it
     * abandoned still has a put on its way). node_put_lease: the lease
     * that put was on. */
    bool node_put_busy;
    int64_t node_put_lease;
    double node_put_at; /* monotonic start of the last put of it (FLEET_NODE_PUT_REST_S) */
    double next_keepalive, next_node_put, next_sync;
    struct fleet_kind kinds[2]; /* overrides, and drills when there is a drill core */
    size_t n_kinds;
    struct drill_core *drills; /* NULL: drills are not shared */
    char (*ended)[32];         /* drills this node ended: delete them in etcd (L) */
    size_t n_ended, cap_ended;
    struct fleet_job *jobs; /* (L) queued and parked */
    /* events */
    struct event *ev_tick, *ev_probe, *ev_jobs, *ev_pending, *ev_stop;
    struct event *ev_node_put; /* a put waiting for its rest (fleet_node_put_rested) */
    struct event *ev_decide;   /* the stamped rule's clock (fleet_stamped_tick) */
    struct fleet_cfg cfg;
    struct fleet_elect elect;
    struct fleet_peer *peer; /* the direct channel (fleet_peer.h); NULL when off */
    /* metrics (L) */
    double watch_lag;
    /* The stamps (fleet_stamp.h): the sequence of this node's last report
     * written and acknowledged (fleet thread), the stamp its last heartbeat
     * carried, and the peers' stamps refused, per reason (L). */
    uint64_t report_rrev, report_rrev_acked;
    struct fleet_stamp_beat own_stamp;
    uint64_t stamps_refused[FLEET_STAMP_WHYS];
    uint64_t degraded_total, resyncs, watch_events, writes, keys_written;
    /* Round-trip tables (fleet_rtt.c): the own generation of the table
     * last written (UINT64_MAX: write it again), no write before
     * rtt_next (monotonic), one in flight; tables written and read (L). */
    uint64_t rtt_own_gen;
    uint64_t rtt_pub_n; /* the signed "n" of the table last written (fleet_life.c) */
    double rtt_next;
    bool rtt_inflight;
    /* The running configuration has latency records: only then is this
     * node's table written (fleet_set_endpoints sets it, the fleet thread
     * reads it). Tables of others are read whatever it says. */
    _Atomic bool rtt_wanted;
    uint64_t rtt_writes, rtt_tables_read;
};

/* Frees a fleet whose thread is not running (or never ran): etcd client,
 * events, base, tables, records, params. */
void fleet_free(struct fleet *f);
/* fleet_start's fleet without its tick, health hook or thread: the params
 * and env strings copied, the etcd client made (not called), the store
 * set up. NULL with a message in err. fleet_free frees it (after
 * fleet_store_stop). */
struct fleet *fleet_new(const struct fleet_params *p, const struct fleet_env *env, char *err,
                        size_t errlen);
/* Makes keys[0..n) (borrowed) the endpoints this node checks, each with
 * its health slot, and recomputes every verdict. Publishes nothing. */
void fleet_adopt_local(struct fleet *f, const char *const *keys, struct health_slot *const *slots,
                       size_t n);

/* ---- fleet.c: tables and verdicts (fleet thread) ---------------------- */
struct fleet_ep *fleet_ep_get(struct fleet *f, const char *key, bool create);
/* The index of node name, added if new; FLEET_NODE_NONE when
 * FLEET_NODES_MAX names are known already. */
uint16_t fleet_node_get(struct fleet *f, const char *name);
/* Sets or removes (state UNKNOWN) node's report on ep, then recomputes. */
void fleet_obs_set(struct fleet *f, struct fleet_ep *ep, uint16_t node, uint8_t state, double t);
/* Recomputes the verdict of one endpoint / all, and publishes fleet bytes. */
void fleet_recompute(struct fleet *f, struct fleet_ep *ep);
void fleet_recompute_all(struct fleet *f);
/* Recomputes the endpoints this node's own probe has a state for: the
 * only ones a gap (a silent peer, this node blind, an election shown)
 * can change, since a peer's report is replaced by the own probe's state
 * only there (fleet_peer_unheard_locked). A watcher has none. */
void fleet_recompute_probed(struct fleet *f);
/* A batch of verdict changes (nested calls allowed): the health core's
 * listeners are told once at the outermost end rather than per endpoint. */
void fleet_batch_begin(struct fleet *f);
void fleet_batch_end(struct fleet *f);
/* Drops every node and report (before a fresh read). Caller holds f->lock. */
void fleet_clear_locked(struct fleet *f);
/* Clears or sets the degraded state (logs, fleet bytes). */
void fleet_set_degraded(struct fleet *f, bool degraded);
/* This node's endpoints whose own probe disagrees with the verdict,
 * counted when asked (caller holds f->lock). */
unsigned fleet_disagreements_locked(struct fleet *f);
/* The explanation and counts of an endpoint's verdict (caller holds lock). */
/* The stamped rule (fleet_stamped.c). fleet_stamped_verdict_locked: ep's
 * verdict, explained into why when not NULL (caller holds f->lock);
 * fleet_stamped_view_locked: how each peer counted and why, for status (a
 * new object, the caller's); fleet_stamped_decide_locked: the rule's
 * inputs and output, how each peer counted in f->st_how (f->st_nodes: its
 * node); fleet_stamped_start: its clock (0, or -1: no event); _free: its
 * clock and scratch; fleet_stamped_news: news of eps[0..n-1] arrived
 * directly (fleet thread, f->lock not held): their verdicts again. */
struct fleet_decide_stamped_in;
struct fleet_decide_stamped_out;
enum health_state fleet_stamped_verdict_locked(struct fleet *f, const struct fleet_ep *ep,
                                               char *why, size_t len);
json_t *fleet_stamped_view_locked(struct fleet *f, const struct fleet_ep *ep);
void fleet_stamped_decide_locked(struct fleet *f, const struct fleet_ep *ep,
                                 struct fleet_decide_stamped_in *in,
                                 struct fleet_decide_stamped_out *out);
int fleet_stamped_start(struct fleet *f);
void fleet_stamped_free(struct fleet *f);
void fleet_stamped_news(struct fleet *f, struct fleet_ep *const *eps, size_t n);
enum health_state fleet_ep_verdict_locked(struct fleet *f, const struct fleet_ep *ep, char *why,
                                          size_t len);
/* Whether peer n's report o on ep predates a gap that lets this node's own
 * probe stand in for it (fleet.c; own_wall: when this node's probe of ep
 * changed, in its wall clock; caller holds lock). */
bool fleet_peer_unheard_locked(const struct fleet *f, const struct fleet_node *n,
                               const struct fleet_obs *o, const struct fleet_ep *ep,
                               double own_wall);

/* ---- fleet_drain.c: the node record's own fields ---------------------- */
/* "publish" and "drained" into v, this node's record (caller holds f->lock). */
void fleet_node_own_fields_locked(const struct fleet *f, json_t *v);
/* The same fields of a peer's record v into n (caller holds f->lock). */
void fleet_node_read_fields_locked(struct fleet_node *n, json_t *v);

/* ---- fleet_sync.c: etcd (fleet thread) ------------------------------- */
void fleet_sync_start(struct fleet *f);
void fleet_sync_tick(struct fleet *f);
void fleet_publish(struct fleet *f);
void fleet_put_node(struct fleet *f);
/* Whether a put of the node record due now may go: FLEET_NODE_PUT_REST_S
 * since the last one began; if not, ev_node_put publishes it then. */
bool fleet_node_put_rested(struct fleet *f);

/* Whether the reply of a call sent in sync generation gen counts: false
 * when its sync was abandoned or the call failed (the sync then starts
 * over); true marks etcd as answering. */
bool fleet_sync_reply(struct fleet *f, unsigned gen, enum etcd_status st, const char *what,
                      const char *err);
/* Marks the connection as failed (after a failed call): resync soon. */
void fleet_sync_failed(struct fleet *f, const char *what, const char *err);
/* ---- fleet_keep.c: the kept session (fleet thread) ------------------- */
/* A call failed with st: the session is kept (the call's owner retries
 * later, on the member the client moved to) unless fleet_session_expired
 * says it is lost; then as fleet_sync_failed. */
void fleet_keep_call_failed(struct fleet *f, enum etcd_status st, const char *what,
                            const char *err);
/* A synced node without a quorum reply for stale_after: the session is
 * lost (its lease's TTL ran out), it syncs again. True when it did. */
bool fleet_keep_expire_silent(struct fleet *f, double now);
/* Every URL ended the watch in a row without a message: kept (the watch
 * starts again FLEET_RETRY_S later, fleet_beat.c) unless the session
 * expired (then a fresh read). */
void fleet_keep_watch_down(struct fleet *f, const char *why);
/* A put of a report v (stolen: stamped with the fleet's write format,
 * signed on the lease; *pub_n gets its "n") at key, on the node's lease,
 * as a transaction operation; *bytes (may be NULL) grows by its size. */
json_t *fleet_report_put_op(struct fleet *f, const char *key, json_t *v, uint64_t *pub_n,
                            size_t *bytes);
/* A string as etcd's JSON wants it: base64. */
json_t *fleet_b64s(const char *s);
/* Full key of a name under the prefix; caller frees. */
char *fleet_key(const struct fleet *f, const char *a, const char *b, const char *c);
void fleet_revoke_lease(struct fleet *f);
/* What a watch message's "result" (res, borrowed) changes here: its events
 * dispatched in order, then the revision. false when it stopped early
 * because a dispatch found this node's lease gone. Sends nothing to etcd;
 * also the fuzz target's entry (tests/fuzz/fuzz_fleet.c). */
bool fleet_sync_watch_events(struct fleet *f, json_t *res);
/* The fresh read's reply (resp, borrowed) replaces every node, report and
 * record (records are applied by fleet_store_resync after). Sends nothing. */
void fleet_sync_read_range(struct fleet *f, json_t *resp);

/* After a fresh read was applied: synced, the watch from the next
 * revision, then publishing, jobs and the configuration. */
void fleet_sync_after_range(struct fleet *f);

/* ---- fleet_read.c: the fresh read, in pages (fleet thread) ----------- */
/* Reads everything under the prefix but the configuration's versions in
 * pages of read_page keys at one revision, then applies it
 * (fleet_sync_read_range, fleet_sync_after_range). */
void fleet_read_start(struct fleet *f);

/* ---- fleet_watch.c: the watch (fleet thread) ------------------------- */
/* Starts the watch on the current URL from f->rev + 1. */
void fleet_watch_start(struct fleet *f);
/* Restarts the watch from the next revision on the current URL (why:
 * for the log). */
void fleet_sync_rewatch(struct fleet *f, const char *why);
/* A call answered (fleet_sync.c): a quorum answered (every call gtmd
 * makes is linearizable); marks the sync attempt answered. */
void fleet_sync_contact(struct fleet *f);

/* ---- fleet_beat.c: heartbeat, watch liveness, clock skew (fleet thread) */
/* Sends the heartbeat when due, restarts a dead or lagging watch, sets or
 * clears degraded from the view's age. */
void fleet_beat_tick(struct fleet *f, double now);
/* A heartbeat now, ahead of FLEET_BEAT_S, when none is out and the session
 * is synced: the stamped rule asks etcd whether it still takes this node's
 * writes once no peer is heard directly (fleet_stamped.c). */
void fleet_beat_check(struct fleet *f, double now);
/* After the watch advanced f->rev (caller holds f->lock). */
void fleet_beat_watch_advanced_locked(struct fleet *f);
/* A peer's heartbeat as the watch delivered it (value NULL: deleted). */
void fleet_beat_seen(struct fleet *f, const char *node, json_t *v);
/* Peer node's report v as the watch delivered it: its "rrev" is noted as
 * held (fleet_stamp.h), or counted as refused. A watch event's is taken as
 * it is (reports arrive in the order written; a writer that restarted
 * counts from 1 again), a bulk read's (key order) only when higher. */
void fleet_beat_report_stamp(struct fleet *f, uint16_t node, const json_t *v, bool bulk);
/* A heartbeat of peer n arrived at now (monotonic): back after a silence,
 * it is rejoining from that moment on (caller holds lock). */
void fleet_node_heard_locked(struct fleet_node *n, double now);
/* The view's age and the watch's lag now, in seconds (caller holds lock). */
double fleet_beat_view_age_locked(const struct fleet *f, double now);
double fleet_beat_lag_locked(const struct fleet *f, double now);
/* "synced", "lagging", "syncing" or "down" (caller holds lock). */
const char *fleet_beat_conn_name_locked(const struct fleet *f, double now);

/* ---- fleet_election.c: whether etcd is electing a leader (fleet thread) */
/* While gap (a peer silent, or this node's view not current) is open:
 * every FLEET_ELECT_EVERY_S asks each URL without a call out for its
 * status; marks the URLs not connected after FLEET_CONNECT_S, and judges. */
void fleet_election_tick(struct fleet *f, double now, bool gap);
/* A reply's "header" (borrowed, may be NULL): a raft term above the
 * highest seen shows an election. */
void fleet_election_header(struct fleet *f, json_t *header);
/* What the URLs' last states in e show: true, with why, when an election
 * (urls: the etcd URLs, for why). Pure: unit-tested. */
bool fleet_election_judge(const struct fleet_elect *e, char *const *urls, char *why, size_t len);
/* Whether an election was shown after since (monotonic; caller holds
 * f->lock). */
bool fleet_election_since_locked(const struct fleet *f, double since);
/* Frees the status clients. */
void fleet_election_free(struct fleet *f);

/* ---- fleet_store.c: shared records (fleet thread) --------------------- */
/* Sets up the kinds (drills too when drills is not NULL: a drill listener
 * is added); -1 when the drill core has no listener place left. */
int fleet_store_init(struct fleet *f, struct drill_core *drills);
/* Removes the drill listener (before the fleet thread stops). */
void fleet_store_stop(struct fleet *f);
/* Before a fresh read: forgets every record (the read brings them back). */
void fleet_store_begin_read(struct fleet *f);
void fleet_store_free(struct fleet *f);
/* A record of kind put or deleted (value NULL) in etcd; signer: who signed
 * it ("" unsigned), own: accepted by this node's API. */
void fleet_store_apply(struct fleet *f, struct fleet_kind *k, const char *id, json_t *value,
                       int64_t mod_rev, const char *signer, bool own);
/* After a fresh read: makes the health core match the kind's records. */
void fleet_store_resync(struct fleet *f, struct fleet_kind *k);
void fleet_store_seq(struct fleet *f, struct fleet_kind *k, const char *value, int64_t mod_rev);
struct fleet_kind *fleet_store_kind(struct fleet *f, const char *name);
/* Runs queued jobs, completes the ones the watch caught up with. */
void fleet_store_run_jobs(struct fleet *f);
/* Deletes from etcd the drills this node ended (expiry is etcd's: leases). */
void fleet_store_expire(struct fleet *f);
/* Fails every job (stop). */
void fleet_store_fail_all(struct fleet *f, const char *why);

/* ---- fleet_adopt.c: the rules a record passes before it is applied ---- */
/* Checks record r of kind k (its value as in etcd) and, when it passes,
 * applies it (k->put). A refusal is reported (fleet_reject) and kept in
 * r->refused. Not during a fresh read (fleet_store_resync does it). */
void fleet_adopt(struct fleet *f, struct fleet_kind *k, struct fleet_rec *r);
/* Checks the unsafe records of every kind again (tick; at most
 * FLEET_RECHECK_MAX each FLEET_RECHECK_S). */
void fleet_adopt_recheck(struct fleet *f, double now);
/* Counts, reports and logs (once per key and reason) a refused record. */
void fleet_reject(struct fleet *f, const char *key, enum fleet_verdict vd, const char *signer,
                  const char *detail);

/* ---- fleet_pools.c: one key per node and pool (layout 3) -------------- */
/* The layout this node writes now: FLEET_LAYOUT_POOLS while the fleet's
 * write format (fleet_compat_write_format) is FLEET_FORMAT_CUR, else 2
 * (a member of the release before is, or may be, in the fleet). */
int fleet_pools_layout(const struct fleet *f);
/* Builds this node's pools from f->local (after fleet_adopt_local). */
void fleet_pools_adopt_local(struct fleet *f);
/* Publishes this node's pool keys that etcd does not hold as they are
 * now: at most one round of transactions a tick. */
void fleet_pools_publish(struct fleet *f);
/* Whether a pool key of this node is not yet as it should be (dirty or
 * being written): the old layout's keys are deleted only after. */
bool fleet_pools_pending(const struct fleet *f);
/* Whether the layout written changed (a node came, went or announced
 * another layout): every key of the new layout is written again, the
 * old ones deleted. Call before publishing. */
void fleet_pools_check_layout(struct fleet *f);
/* A pool key reports/NODE/POOL put (v: checked, stripped of its
 * signature) or deleted (v NULL); bulk: in a fresh read (no recompute). */
void fleet_pools_seen(struct fleet *f, const char *node, const char *pool, json_t *v, int64_t lease,
                      int64_t mod_rev, const char *key, bool bulk);
/* Before a fresh read: forgets every member's pool key. */
void fleet_pools_begin_read(struct fleet *f);
void fleet_pools_free(struct fleet *f);
/* Sets (state UP/DOWN) or removes (UNKNOWN) node's report on ep from the
 * given kind of key (pooled or not); true when the verdict may have
 * changed. Caller holds f->lock. */
bool fleet_obs_put_locked(struct fleet *f, struct fleet_ep *ep, uint16_t node, uint8_t state,
                          double t, bool pooled);

/* ---- fleet_rtt.c: round-trip tables (fleet thread) -------------------- */
/* Writes this node's table when it moved and the interval allows. */
void fleet_rtt_tick(struct fleet *f, double mono);
/* Before a fresh read: every other node's table is read again. */
void fleet_rtt_begin_read(struct fleet *f);
/* PREFIX/rtt/NODE put (v, checked) or deleted (v NULL). */
void fleet_rtt_seen(struct fleet *f, const char *node, json_t *v);

/* ---- fleet_config.c: the fleet's configuration ---------------------- */
/* PREFIX/config/head (key) put (v, checked; signed by signer) or deleted
 * (v NULL) at mod_rev. A head older than one seen is a replay: counted. */
void fleet_config_head_seen(struct fleet *f, json_t *v, int64_t mod_rev, const char *key,
                            const char *signer);
/* Before a fresh read: head is read again. */
void fleet_config_begin_read(struct fleet *f);
/* Fetches and hands over versions not applied yet (after a read, a head
 * change, each tick); runs queued publishes, ends the ones the watch
 * caught up with; puts the node record when the applied version moved. */
void fleet_config_run(struct fleet *f);
/* Fails every publish (stop); frees what is left. */
void fleet_config_fail_all(struct fleet *f, const char *why);
/* The node record's "config_version" and "config_error" (caller holds
 * the lock). */
void fleet_config_node_fields_locked(struct fleet *f, json_t *rec);

/* ---- fleet_work.c: work too long for the fleet thread ----------------- */
/* run(arg) runs on a thread of its own; then done(arg, false) on the fleet
 * thread. A job still running when the fleet is freed is waited for and
 * its done told cancelled (true): it frees arg and starts nothing. Called
 * on the fleet thread. */
typedef void (*fleet_work_fn)(void *arg);
typedef void (*fleet_work_done_fn)(void *arg, bool cancelled);
void fleet_work_start(struct fleet *f, fleet_work_fn run, fleet_work_done_fn done, void *arg);
/* Waits for every job still running and tells its done (fleet_free, once
 * the fleet thread has stopped). */
void fleet_work_free_all(struct fleet *f);

/* ---- fleet_config_parts.c: whole documents in parts ------------------ */
#define FLEET_CONFIG_PARTS "config/v/p/"
/* A document whose compact text is longer is written in slices of this
 * ("config_part_kib": this by default). */
#define FLEET_CONFIG_PART_MAX (512u * 1024)
/* Parts read in one range call: 4 MiB, some 5.6 MB of base64, well within
 * the reply bound (ETCD_REPLY_MAX) and a call's time on a loaded etcd. */
#define FLEET_CONFIG_PARTS_PAGE 8u
typedef void (*fleet_parts_fn)(void *arg, bool ok, const char *err);
/* record is version v's whole record ("doc"; borrowed, changed here): a
 * document longer than a part ("config_part_kib") is put in parts and "doc" is
 * replaced by "parts"; then done, on the fleet thread (the text is made
 * off it: fleet_work.c). *bytes gets the document's length as compact
 * JSON before done is called (not when the fleet is freed first). */
void fleet_config_parts_put(struct fleet *f, json_t *record, uint64_t v, size_t *bytes,
                            fleet_parts_fn done, void *arg);
/* Every record of records (borrowed, changed here) with "parts" gets its
 * "doc", read from etcd and checked against the digest (off the fleet
 * thread, with the parse); then done. */
void fleet_config_parts_get(struct fleet *f, json_t *records, fleet_parts_fn done, void *arg);
/* Deletes record's parts from etcd, if it has any (its compare failed). */
void fleet_config_parts_drop(struct fleet *f, json_t *record);
/* parts is what version v may name: its own number's slices. */
bool fleet_config_parts_ok(json_t *parts, uint64_t v);

/* ---- fleet_life.c: each record bound to its life ----------------------- */
/* Overrides and drills carry "format" (fleet_compat.h: the fleet's write
 * format when they were made) and, once sealed, "born": the create
 * revision of their key. */
#define FLEET_LIFE_FORMAT FLEET_FORMAT_KEY
#define FLEET_LIFE_BORN "born"
#define FLEET_LIFE_N "n"
/* Whether override or drill v (signature checked) may apply, read at a key
 * created at create_rev: FLEET_SIG_OK (with *pending when it is not
 * sealed yet: absent, not refused), FLEET_REJ_REPLAY, or
 * FLEET_REJ_OLD_FORMAT / FLEET_REJ_NEW_FORMAT (fleet_compat_check) with why.
 * Always FLEET_SIG_OK without "members". */
enum fleet_verdict fleet_life_record(const struct fleet *f, const json_t *v, int64_t create_rev,
                                     bool *pending, char *why, size_t len);
/* record (a create's signed record, borrowed) sealed for key with "born":
 * rev and signed again: a new reference. */
json_t *fleet_life_seal(struct fleet *f, const char *key, const json_t *record, int64_t rev);
/* Removes "format" and "born" (checked) before v is applied. */
void fleet_life_strip(json_t *v);
/* v's signed "n" (0: none). */
uint64_t fleet_life_n(const json_t *v);
/* Whether v, a report of this node's own that the watch brought back
 * (bulk: a fresh read, never refused: a failed write has a number etcd
 * never held), is an older one put back: its "n" below one the watch
 * already brought back (*seen_n, kept here). Not below the last one sent:
 * the echo of a write can come after the next one was sent (its reply
 * comes first), which is no replay. */
bool fleet_life_own_replayed(const struct fleet *f, const json_t *v, bool bulk, uint64_t *seen_n);
/* Whether member node's report v on ep, put at mod_rev on lease, is older
 * than the one held here for that lease (a replay); *stale: an event older
 * than the one applied (a watch restarted from an older revision), to be
 * ignored. */
bool fleet_life_report_replayed(struct fleet *f, const struct fleet_ep *ep, uint16_t node,
                                const json_t *v, int64_t lease, int64_t mod_rev, bool *stale);
/* Whether a member's node record or heartbeat v (signature and lease
 * checked), read at key (PREFIX + rest) on lease at mod_rev, is not older
 * than the one applied here: false when it is a replay (counted and
 * logged) or, outside a fresh read (bulk), an event delivered again. */
bool fleet_life_member_fresh(struct fleet *f, const char *key, const char *rest, const json_t *v,
                             int64_t lease, int64_t mod_rev, bool bulk);
/* Records lease, mod_rev and v's "n" with node's report on ep (after
 * fleet_obs_set). */
void fleet_life_report_kept(struct fleet *f, struct fleet_ep *ep, uint16_t node, const json_t *v,
                            int64_t lease, int64_t mod_rev);

/* Whether no put of the node record is in flight (node_put_busy). */
static inline bool fleet_node_put_free(const struct fleet *f)
{
    return !f->node_put_busy;
}

/* Marks a put of the node record on the lease in flight; true. */
static inline bool fleet_node_put_take(struct fleet *f)
{
    f->node_put_busy = true;
    f->node_put_lease = f->lease;
    f->node_put_at = deadline_mono();
    return true;
}

/* The reply to a call that carried the node record (node_put), of any
 * step, came: a put of it due meanwhile goes with the next publish. */
static inline void fleet_node_put_release(struct fleet *f, bool node_put)
{
    if (node_put)
        f->node_put_busy = false;
}

/* Signs v, a report of this node published at key on its lease: with
 * "members" the lease (fleet_sync.c checks it on reading) and the next
 * "n" of this run (fleet_life.c) go into the signed record. Returns n. */
static inline uint64_t fleet_sign_on_lease(struct fleet *f, const char *key, json_t *v)
{
    uint64_t n = 0;
    if (f->p.keys.enabled) {
        json_object_set_new(v, "lease", json_integer((json_int_t)f->lease));
        n = ++f->sign_n;
        json_object_set_new(v, FLEET_LIFE_N, json_integer((json_int_t)n));
    }
    fleet_sign(&f->p.keys, key, v);
    return n;
}

#endif
