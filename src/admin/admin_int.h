/*
 * admin_int.h -- internals shared by the admin API handlers.
 * Not for use outside src/admin.
 */
#ifndef GTM_ADMIN_ADMIN_INT_H
#define GTM_ADMIN_ADMIN_INT_H

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>
#include <event2/util.h>
#include <pthread.h>
#include <sys/types.h>

#include "admin/admin.h"
#include "common/digest.h"
#include "admin/admin_config.h"
#include "admin/admin_request.h"
#include "health/shared_store.h"

enum admin_level { ADMIN_NONE = 0, ADMIN_READ, ADMIN_OPERATE };

/* The audit lines kept in memory for GET /v1/audit (the newest): at most
 * ADMIN_AUDIT_KEEP of them and ADMIN_AUDIT_MAX_BYTES of their text. A body
 * of up to ADMIN_AUDIT_INLINE bytes is kept whole in its line; a longer one
 * by its size, SHA-256 and an excerpt. A line's path is cut at
 * ADMIN_AUDIT_PATH_MAX bytes, and a line still longer than
 * ADMIN_AUDIT_LINE_MAX loses its result. One GET /v1/audit page holds at
 * most ADMIN_AUDIT_PAGE_BYTES of lines (at least one line). */
#define ADMIN_AUDIT_KEEP 1000
#define ADMIN_AUDIT_MAX_BYTES (4 * 1024 * 1024)
#define ADMIN_AUDIT_INLINE 2048
#define ADMIN_AUDIT_PATH_MAX 1024
#define ADMIN_AUDIT_LINE_MAX (64 * 1024)
#define ADMIN_AUDIT_PAGE_BYTES (512 * 1024)
/* What an audit line shows of a check header's value (admin_audit_log.c). */
#define ADMIN_AUDIT_REDACTED "(redacted: in request_sha256 only)"

/* A unix listener: its path and the identity of the socket file bound. */
struct admin_unix_sock {
    char *path;
    dev_t dev;
    ino_t ino;
};

struct admin {
    struct admin_env env;
    struct serve_reader *reader; /* this thread's slot in env.serve */
    pthread_t thread;
    struct event_base *base;
    struct evhttp *http;
    pthread_mutex_t lock; /* guards tokens, the audit path and its descriptor */
    char *read_token, *operate_token, *audit_log;
    /* GET /v1/dnssec's view (admin_set_dnssec): the daemon's, replaced
     * whole at start and each reload; owned, guarded by lock. */
    json_t *dnssec;
    int audit_fd; /* open on audit_fd_path; -1: opened at the next line */
    char *audit_fd_path;
    unsigned max_connections;
    unsigned operate_reserve; /* places only operate-level requests take */
    unsigned max_streams;     /* event streams per role */
    unsigned timeout_ms;
    size_t max_body;          /* admin.max_body: bytes; libevent answers 413 above */
    struct admin_conn *conns; /* admin_conn.c: every connection we track */
    unsigned n_slots;         /* connections counted against max_connections */
    unsigned n_shared;        /* of those, held by read or tokenless clients */
    /* For /metrics (admin thread only): requests answered 503 busy for want
     * of a place or of a stream, and places taken from idle connections,
     * by the displaced connection's rank (guest, reader, operator). */
    unsigned long long busy_places, busy_streams, displaced[3];
    unsigned n_pending; /* connections without a complete request yet */
    bool replying;      /* our handler is writing (admin_conn.c) */
    struct event *ev_sweep;
    struct event *ev_fixup;          /* rewrites libevent's own error replies */
    struct event *ev_saved;          /* a state-file write ended (admin_defer.c) */
    struct event *ev_stop;           /* admin_stop: answer what is owed, then leave */
    struct admin_deferred *deferred; /* replies waiting for a write, oldest first */
    struct admin_store *store_calls; /* calls to the shared store (admin_store.c) */
    unsigned n_deferred;
    bool stopping;
    struct event_ring *audit_ring; /* the newest audit lines (admin_audit.c) */
    struct admin_stream *streams;  /* GET /v1/events (admin_events.c) */
    unsigned n_streams;
    unsigned n_streams_read;            /* of those, opened with less than operate */
    struct event *ev_events;            /* the event ring got a push */
    struct event *ev_keepalive;         /* a comment on every stream */
    struct admin_unix_sock *unix_socks; /* bound unix listeners, removed at stop */
    size_t n_unix;
    uid_t owner; /* of the unix sockets; (uid_t)-1: as created */
    gid_t group;
    /* Accept back-off (admin_accept.c): evhttp's listeners, borrowed. */
    struct evconnlistener **listeners;
    size_t n_listeners;
    struct event *ev_resume;    /* ends a pause, then a quiet watch */
    unsigned accept_backoff_ms; /* 0: no burst of errors */
    bool accept_paused;         /* listeners out of the loop */
    double accept_paused_at;    /* wall clock: the burst's first error */
    double accept_resumed_at;   /* the last time the listeners came back */
    unsigned long long accept_errors;
    struct admin_am_params am; /* the Alertmanager receiver's (under lock) */
};

/* A request being handled: who asks and what they may do. */
struct admin_req {
    struct admin *a;
    struct evhttp_request *req;
    enum admin_level level; /* granted by the token */
    bool authenticated;     /* a configured token matched */
    const char *token_name; /* "read", "operate" or "none" */
    char client[128];
    const char *path;       /* decoded path, without the query string */
    struct evkeyvalq query; /* parsed query string */
    json_t *body;           /* parsed JSON body (POST), or NULL */
    /* What the audit line keeps of a POST body (admin_audit_log.c). */
    bool has_body;                                 /* a POST body was parsed */
    size_t body_len;                               /* its bytes as received */
    char body_sha256[DIGEST_SHA256_HEX];           /* their SHA-256, lowercase hex */
    char body_excerpt[ADMIN_REQUEST_EXCERPT_ROOM]; /* "" when the body is kept whole */
};

/* Sends a JSON body with status; steals 'body'. */
void admin_reply_json(struct admin_req *r, int status, json_t *body);
/* Sends {"error": {"code": code, "message": ...}} with status. */
void admin_reply_error(struct admin_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The audit log (admin_audit.c). */
void admin_audit_close(struct admin *a); /* at stop */
/* Notes what the audit line keeps of r's POST body (data, len bytes). */
void admin_audit_note_body(struct admin_req *r, const char *data, size_t len);
/* Appends one audit line for a mutating call. */
void admin_audit(struct admin_req *r, int status, json_t *result);
/* Appends one audit line for an event no request made (steals fields:
 * {"event": ..., ...}; "time" is added). Any thread. */
void admin_audit_event(struct admin *a, json_t *fields);

/* The checks admin_route makes (admin.c): the token's level (replies
 * 401/403 and returns false when too low), the POST body (replies 400). */
bool admin_require(struct admin_req *r, enum admin_level need);
/* The token of the request's "Authorization: Bearer T" header (the scheme
 * matched case-insensitively, RFC 9110 11.1), or NULL. Points into the
 * request's headers. */
const char *admin_bearer_token(struct admin_req *r);
bool admin_parse_body(struct admin_req *r);
/* /v1/verdicts[/ID] and /v1/alertmanager (admin_verdicts.c,
 * admin_alertmanager.c): true when the path was theirs (answered). */
bool admin_verdicts_route(struct admin_req *r);
/* /v1/node, /v1/node/drain and /v1/node/undrain (admin_node.c): true when
 * it answered r. */
bool admin_node_route(struct admin_req *r);
/* The fitness metrics (admin_node.c). */
void admin_node_metrics(struct admin *a, struct evbuffer *b);
/* /v1/config... (admin_confapi.c): true when it answered r. */
bool admin_confapi_route(struct admin_req *r);
/* The health-slot key of a verdict's "target" ({"endpoint": "POOL/NAME"},
 * {"az": N}, {"region": N} or "KIND:NAME"): 0, or 400 with msg. */
int admin_verdict_target_key(json_t *t, char *key, size_t len, char *msg, size_t msglen);
/* Whether key names a region, az or endpoint of the live set. */
bool admin_verdict_target_known(struct admin *a, const char *key);
void admin_handle_alertmanager(struct admin_req *r);
/* gtmd_verdicts_active and the webhooks' counters (admin_notify.c). */
void admin_notify_metrics(struct admin *a, struct evbuffer *b);

void admin_handle_status(struct admin_req *r);
void admin_handle_dnssec(struct admin_req *r);
/* POST /v1/dnssec/ZONE/rollover; rest: what follows "/v1/dnssec/". */
void admin_handle_dnssec_rollover(struct admin_req *r, const char *rest);
void admin_handle_explain(struct admin_req *r);
void admin_handle_metrics(struct admin_req *r);
void admin_handle_overrides_list(struct admin_req *r);
void admin_handle_override_get(struct admin_req *r, const char *id);
void admin_handle_override_post(struct admin_req *r);
/* The role a shared record carries for r (shared_store_mark): its token's,
 * or "socket" for the unix socket without tokens. */
const char *admin_req_role(const struct admin_req *r);
/* admin_record_unsafe for each kind. */
bool admin_override_unsafe(const struct serve_set *s, json_t *record, char *why, size_t len);
/* The safety rule's 409 "unsafe" for what ("override", "verdict", ...),
 * listing blocked (stolen), and its audit line. */
void admin_refuse_unsafe(struct admin_req *r, json_t *blocked, const char *what);
/* The served policy records (an array of {"record", "type"}; owned by the
 * caller, empty when none) that a "down" verdict on target would leave
 * with no serving region on the live set and state (admin_overrides.c). */
json_t *admin_verdict_unserved(struct admin *a, const char *target);
bool admin_drill_unsafe(const struct serve_set *s, json_t *record, char *why, size_t len);
void admin_handle_override_delete(struct admin_req *r, const char *id);
void admin_handle_reload(struct admin_req *r);
void admin_handle_drills_list(struct admin_req *r);
void admin_handle_drill_get(struct admin_req *r, const char *id);
void admin_handle_drill_post(struct admin_req *r);
void admin_handle_drill_delete(struct admin_req *r, const char *id);
/* GET /v1/events (admin_events.c): the ring's wake-up and keep-alive
 * timer are set up by admin_events_init (admin thread not running yet);
 * admin_events_free_all forgets every stream before evhttp is freed. */
void admin_handle_events(struct admin_req *r);
void admin_handle_audit(struct admin_req *r); /* GET /v1/audit (admin_audit.c) */
/* GET /v1/history?since=T&type=TYPE: the kept events as JSON (admin_events.c). */
void admin_handle_history(struct admin_req *r);
/* The console (admin_ui.c): true for /ui and every path under /ui/. */
bool admin_ui_path(const char *path);
void admin_handle_ui(struct admin_req *r); /* GET /ui/...: no token needed */
/* The console's safety headers (CSP, nosniff, no framing, no Referer).
 * admin.c adds them to every reply, before routing, so that the errors
 * written before a path is known (an unknown method, a %00, a busy
 * listener) carry them too. ADMIN_UI_RAW_HEADERS is the same set as raw
 * header lines, for the replies libevent writes itself (admin_conn.c). */
void admin_ui_headers(struct evkeyvalq *h);
extern const char ADMIN_UI_RAW_HEADERS[];
void admin_events_init(struct admin *a);
void admin_events_on_push(evutil_socket_t fd, short what, void *arg);
void admin_events_keepalive(evutil_socket_t fd, short what, void *arg);
void admin_events_free_all(struct admin *a);
/* The drill core's listener: an audit line for every drill end. */
void admin_drills_listen(struct admin *a);

/* The fleet (admin_fleet.c); no-ops or null without one. */
json_t *admin_fleet_status(struct admin *a);
/* Adds "fleet" (observations, verdict, explanation) to an endpoint view. */
void admin_fleet_endpoint(struct admin *a, json_t *ep, const char *key);
void admin_fleet_metrics(struct admin *a, struct evbuffer *b);
/* The reply (and audit line) of a shared-store write that did not succeed:
 * 504 outcome_unknown when etcd could not tell whether the change was
 * made (SHARED_UNKNOWN), else 503 etcd_unavailable (nothing was made). */
void admin_fleet_reply_store_error(struct admin_req *r, int store_status, const char *why);

/* Replies that wait for the state file (admin_defer.c): sends status and
 * reply (stolen), and the audit line with audit (stolen; NULL for none),
 * once the health thread has written everything changed so far. */
void admin_defer_reply(struct admin_req *r, int status, json_t *reply, json_t *audit);
void admin_defer_saved_cb(void *arg); /* health thread: wakes ev_saved */
void admin_defer_on_saved(evutil_socket_t fd, short what, void *arg);
void admin_defer_free_all(struct admin *a); /* at stop, unanswered */

/* ---- admin_store.c: shared-store calls off the admin thread ------------ */
/* RUN: c->run(c) on the store thread (a configuration change: it may wait
 * for etcd, and a reload takes a while). */
enum admin_store_op { ADMIN_STORE_CREATE, ADMIN_STORE_REMOVE, ADMIN_STORE_RUN };
struct admin_store_call {
    struct admin_store_call *next;
    struct admin_req r; /* a copy: no path, no query; r.body is our reference */
    void *conn;         /* admin_conn_hold handle */
    enum admin_store_op op;
    char kind[16];  /* "overrides", "drills" */
    json_t *record; /* create: owned */
    double ttl_s;
    uint64_t view;   /* create: the view the decision was taken on (0: read it) */
    int attempts;    /* create: tries on a conflict, re-reading the view (>= 1) */
    int backoff;     /* extra 20 ms pauses after a conflict (earlier attempts) */
    char id[32];     /* remove: the id; create: the new id */
    double deadline; /* CLOCK_MONOTONIC: answered by then (ADMIN_STORE_DEADLINE_S) */
    enum shared_status st;
    char err[300];
    /* Admin thread, with st and err set: sends the reply, frees ctx. */
    void (*done)(struct admin_store_call *c);
    void (*run)(struct admin_store_call *c); /* RUN: the call (store thread) */
    /* RUN, instead of run when not NULL: the calls with the same
     * run_group queued one after the other are made together (group
     * commit of configuration changes: admin_config_ops.edit), at most
     * ADMIN_STORE_GROUP_MAX, in order. */
    void (*run_group)(struct admin_store_call **calls, size_t n);
    void *ctx;
    void (*ctx_free)(void *ctx); /* for a call dropped at stop */
};
/* A store call is answered at most this long after the request arrived
 * (queued behind others included), well within a client's 5 s: with what
 * is known then (doc/admin-api.md, "Overrides in a fleet"). */
#define ADMIN_STORE_DEADLINE_S 3.0
#define ADMIN_STORE_GROUP_MAX 1024
/* How long the store thread is idle before it makes ready what the next
 * change would make (admin_config_ops.warm): longer than the pause between
 * the changes of a client that sends them back to back, which would
 * otherwise wait for it. */
#define ADMIN_STORE_WARM_IDLE_MS 200
/* The idle wait before the next look when the last warm asked to be asked
 * again (a fleet node, whose versions come from other nodes): a copy
 * wanted after a version (at 1,000,000 records, 0.3-1 s of work) is made
 * within a second of it. */
#define ADMIN_STORE_WARM_AGAIN_MS 1000
void admin_store_init(struct admin *a);
/* Drops calls not made yet, waits for the one being made, frees all. */
void admin_store_stop(struct admin *a);
/* A call for request r (copied; body referenced) that runs done when made. */
struct admin_store_call *admin_store_call_new(struct admin_req *r, enum admin_store_op op,
                                              const char *kind,
                                              void (*done)(struct admin_store_call *));
/* Queues c (holding its connection); the store thread makes the call. */
void admin_store_submit(struct admin *a, struct admin_store_call *c);

/* Accept back-off (admin_accept.c): watches a bound listener's accept
 * errors; admin_accept_free before the event base goes. */
struct evhttp_bound_socket;
void admin_accept_watch(struct admin *a, struct evhttp_bound_socket *b);
void admin_accept_free(struct admin *a);

/* Connection bookkeeping (admin_conn.c; the rules are at its top). */
struct bufferevent *admin_conn_new(struct event_base *base, void *arg);
/* Gives the request's connection a place under max_connections, by the
 * level its token granted (and whether a valid token came with it); false
 * when there is none (answer 503 busy and close). */
bool admin_conn_admit(struct admin *a, struct evhttp_request *req, enum admin_level level,
                      bool authenticated);
/* A reply went out on the request's connection (idle time starts). */
void admin_conn_replied(struct admin *a, struct evhttp_request *req);
/* The request will be answered later: its connection is not timed out or
 * given away until admin_conn_unhold(a, handle). */
void *admin_conn_hold(struct admin *a, struct evhttp_request *req);
void admin_conn_unhold(struct admin *a, void *handle);
void admin_conn_sweep(evutil_socket_t fd, short what, void *arg);
/* Rewrites the error replies libevent wrote on its own (event callback). */
void admin_conn_fixup(evutil_socket_t fd, short what, void *arg);
void admin_conn_free_all(struct admin *a);
/* Connections holding a place, by rank: [0] guests, [1] readers, [2]
 * operators (admin_conn.c's top comment). */
void admin_conn_counts(struct admin *a, unsigned held[3]);

#endif
