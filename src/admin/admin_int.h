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

enum admin_level { ADMIN_NONE = 0, ADMIN_READ, ADMIN_OPERATE };

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
    pthread_mutex_t lock; /* guards tokens and audit path (reloads) */
    char *read_token, *operate_token, *audit_log;
    unsigned max_connections;
    unsigned open_connections; /* tracked and within the cap */
    unsigned timeout_ms;
    struct admin_conn *conns; /* admin_conn.c */
    size_t n_conns, cap_conns;
    struct event *ev_sweep;
    struct admin_unix_sock *unix_socks; /* bound unix listeners, removed at stop */
    size_t n_unix;
};

/* A request being handled: who asks and what they may do. */
struct admin_req {
    struct admin *a;
    struct evhttp_request *req;
    enum admin_level level; /* granted by the token */
    const char *token_name; /* "read", "operate" or "none" */
    char client[128];
    const char *path;       /* decoded path, without the query string */
    struct evkeyvalq query; /* parsed query string */
    json_t *body;           /* parsed JSON body (POST), or NULL */
};

/* Sends a JSON body with status; steals 'body'. */
void admin_reply_json(struct admin_req *r, int status, json_t *body);
/* Sends {"error": {"code": code, "message": ...}} with status. */
void admin_reply_error(struct admin_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Appends one audit line for a mutating call. */
void admin_audit(struct admin_req *r, int status, json_t *result);

void admin_handle_status(struct admin_req *r);
void admin_handle_explain(struct admin_req *r);
void admin_handle_metrics(struct admin_req *r);
void admin_handle_overrides_list(struct admin_req *r);
void admin_handle_override_get(struct admin_req *r, const char *id);
void admin_handle_override_post(struct admin_req *r);
void admin_handle_override_delete(struct admin_req *r, const char *id);
void admin_handle_reload(struct admin_req *r);

/* Connection bookkeeping (admin_conn.c). */
struct bufferevent *admin_conn_new(struct event_base *base, void *arg);
/* Marks a request's connection active; false when it is over the cap. */
bool admin_conn_seen(struct admin *a, struct evhttp_request *req);
void admin_conn_sweep(evutil_socket_t fd, short what, void *arg);
void admin_conn_free_all(struct admin *a);

#endif
