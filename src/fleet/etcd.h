/*
 * etcd.h -- a small etcd v3 client over etcd's JSON gateway (HTTP/1.1 +
 * JSON, /v3/...), on libevent's HTTP client and jansson.
 *
 * Why the gateway and not gRPC: gtmd already links libevent (with its
 * OpenSSL bufferevents) and jansson; Debian packages no maintained C gRPC
 * client for etcd, and gRPC's C core would add a large dependency for a
 * dozen calls. The gateway ships inside every etcd 3.x server (doc/fleet.md).
 *
 * What it does:
 *  - unary calls (put, range, deleterange, txn, lease grant/keepalive/
 *    revoke, auth): etcd_call() posts a JSON body to a path and calls back
 *    with the parsed reply. Every request has its own connection, freed on
 *    completion (no state carried between calls, which keeps TLS simple);
 *  - watch as a streaming response: etcd_watch_start() posts a
 *    create_request and hands each message to a callback as it arrives
 *    (etcd_stream.h splits the chunks);
 *  - several endpoints: a call that fails at the transport, times out or
 *    gets "unavailable" from etcd moves the client to the next URL and is
 *    retried there, each URL once per call; with connect_s, a member that
 *    drops packets is found by an unanswered TCP handshake within
 *    connect_s, by a call or by a quiet watch's probe (below);
 *  - TLS for https:// URLs (bufferevent_openssl; a CA file, optional client
 *    certificate; the host name of the URL is verified);
 *  - user/password: /v3/auth/authenticate gives a token that goes in the
 *    Authorization header; a call refused for its token authenticates again
 *    and is retried once.
 * Keys and values travel base64-encoded (etcd_b64, etcd_unb64). 64-bit
 * numbers arrive as JSON strings (etcd_json_int).
 *
 * Threads: everything runs on the event base given to etcd_new, and every
 * function must be called on that base's thread.
 *
 * Ownership: etcd_new copies the params; etcd_free cancels every pending
 * call (their callbacks are not called) and watch.
 */
#ifndef GTM_FLEET_ETCD_H
#define GTM_FLEET_ETCD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

struct etcd_params {
    char **urls; /* "http://127.0.0.1:2379" or "https://..."; at least one */
    size_t n_urls;
    char *username; /* NULL: no authentication */
    char *password;
    char *ca_file;              /* https: verify the server against it (NULL: system store) */
    char *cert_file, *key_file; /* https: optional client certificate */
    double timeout_s;           /* per unary call (connect + reply) */
    /* A watch that receives nothing for this long ends (on_end): a stream
     * from a member cut off from its peers stays open and silent. 0: a day
     * (for a caller that checks liveness by other means). */
    double watch_idle_s;
    /* A member that drops packets (a cut link, a dead host) answers no
     * connection at all. When > 0, a call whose connection has not completed
     * its TCP handshake after connect_s is abandoned there (nothing was sent:
     * safe to send elsewhere) and sent to the next URL, and a watch that
     * receives nothing for watch_probe_s opens a connection to its member:
     * one not connected within connect_s ends the watch ("the member did not
     * accept a connection"). The handshake is the kernel's, not etcd's, so a
     * slow etcd or a loaded machine does not trip it. 0: neither check (a
     * call waits timeout_s, a watch watch_idle_s). */
    double connect_s;
    double watch_probe_s;
};

/* Result of a unary call. */
enum etcd_status {
    ETCD_OK = 0,       /* HTTP 200 with a JSON object */
    ETCD_ERR_NET,      /* every endpoint failed at the transport or timed out */
    ETCD_ERR_SERVER,   /* etcd answered with an error (message in err) */
    ETCD_ERR_AUTH,     /* authentication failed */
    ETCD_ERR_CANCELLED /* the client is being freed */
};

/* resp is the reply (borrowed; NULL unless ETCD_OK), err a short message. */
typedef void (*etcd_cb)(void *arg, enum etcd_status st, json_t *resp, const char *err);

struct etcd;
struct etcd_watch;

/* NULL with a message when the params are unusable (bad URL, TLS setup). */
struct etcd *etcd_new(struct event_base *base, const struct etcd_params *p, char *err,
                      size_t errlen);
void etcd_free(struct etcd *e);

/* Posts body (stolen) to path ("/v3/kv/put", ...). cb runs later, from the
 * loop, exactly once (unless the client is freed first). */
void etcd_call(struct etcd *e, const char *path, json_t *body, etcd_cb cb, void *arg);

/* The URL calls go to now; etcd_failover moves to the next one. */
const char *etcd_endpoint(const struct etcd *e);
void etcd_failover(struct etcd *e);
/* True when the newest call in flight has a connection that has not
 * completed its TCP handshake: the URL does not answer at all (a cut link,
 * a dead host), as opposed to a slow etcd. */
bool etcd_connecting(const struct etcd *e);

/* The URL a watch runs on (the endpoint when it started). */
const char *etcd_watch_endpoint(const struct etcd_watch *w);

/* A watch on the current endpoint: create_request is the inner object of
 * {"create_request": ...} (stolen). on_msg gets each "result" object;
 * on_end is called once when the stream ends for any reason (not after
 * etcd_watch_cancel); the watch pointer is invalid after on_end returns.
 * NULL when the request cannot even be set up. */
typedef void (*etcd_watch_msg_cb)(void *arg, json_t *result);
typedef void (*etcd_watch_end_cb)(void *arg, const char *why);
struct etcd_watch *etcd_watch_start(struct etcd *e, json_t *create_request,
                                    etcd_watch_msg_cb on_msg, etcd_watch_end_cb on_end, void *arg);
/* Stops a watch; no callback of it runs afterwards. NULL is a no-op. */
void etcd_watch_cancel(struct etcd_watch *w);

/* ---- helpers ---------------------------------------------------------- */

/* Base64 of len bytes; caller frees. */
char *etcd_b64(const void *data, size_t len);
/* Decodes base64 into a NUL-terminated buffer (caller frees); *len gets
 * its length. NULL when s is not base64. */
char *etcd_unb64(const char *s, size_t *len);
/* An int64 sent as a JSON string ("123") or number; def when absent. */
int64_t etcd_json_int(json_t *v, int64_t def);
/* The key range for a prefix: range_end is prefix with its last byte + 1
 * (base64, caller frees). */
char *etcd_prefix_end_b64(const char *prefix);

#endif
