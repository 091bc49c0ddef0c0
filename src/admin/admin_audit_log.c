/*
 * admin_audit_log.c -- the audit log: one JSON line per mutating call,
 * written to the audit_log file and kept in the ring GET /v1/audit reads
 * (admin_audit.c).
 *
 * The file is opened at its first line and kept open (O_APPEND, one
 * write(2) per line, so lines stay whole whichever thread writes). A
 * reload that names another file makes the next line open that one;
 * admin_reopen_audit (the daemon's SIGUSR1) opens the same path again, so
 * that after logrotate renamed the file, later lines go to a new one
 * (contrib/gtmd.logrotate). The file is created mode 0600 by whatever user
 * gtmd runs as then (after a privilege drop: that user).
 *
 * A line is bounded (admin_int.h, ADMIN_AUDIT_*): a request body of up to
 * ADMIN_AUDIT_INLINE bytes is kept whole under "request"; a longer one
 * (a rejected 1 MiB POST) only by "request_bytes", "request_sha256" and a
 * "request_excerpt" of its first bytes, so that neither the file nor the
 * ring in memory grows with what clients send, while the digest still
 * proves which body it was.
 *
 * Secrets: the values of check headers (a probe's Authorization header)
 * are replaced by ADMIN_AUDIT_REDACTED in "request" and in the excerpt, in
 * the file and in the ring the read token pages through, as GET
 * /v1/config shows them to that token; "request_redacted" counts them and
 * "request_sha256" stays the digest of the body as received.
 *
 * Threads: the admin thread writes request lines, the drill thread drill
 * ends (admin_audit_event), the main thread reopens; a->lock guards the
 * path and the descriptor, and is held for each write.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin_int.h"
#include "admin/admin_request.h"
#include "common/digest.h"
#include "common/event_ring.h"
#include "common/log.h"
#include "health/shared_store.h"

static int admin_audit_open(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

/* Makes a->audit_fd the descriptor of a->audit_log (caller holds a->lock):
 * opens it when none is open or the path changed. */
static void admin_audit_ensure_locked(struct admin *a)
{
    if (a->audit_fd >= 0 && a->audit_fd_path && strcmp(a->audit_fd_path, a->audit_log) == 0)
        return;
    int fd = admin_audit_open(a->audit_log);
    if (fd < 0) {
        log_error("event=audit result=failed file=%s error=\"%s\"", a->audit_log, strerror(errno));
        return;
    }
    admin_audit_close(a);
    a->audit_fd = fd;
    a->audit_fd_path = strdup(a->audit_log);
}

/* Writes one JSON line (steals line; no audit log: only the ring). */
static void admin_audit_write(struct admin *a, json_t *line)
{
    /* The text only for a log file: every change through the API is a
     * line, and its dump was 3 % of the admin thread without one. */
    pthread_mutex_lock(&a->lock);
    char *text = line && a->audit_log ? json_dumps(line, JSON_COMPACT) : NULL;
    pthread_mutex_unlock(&a->lock);
    /* Wrapped: the ring's own "id" and "time" must not replace the line's. */
    event_ring_push(a->audit_ring, "audit", json_pack("{s:o}", "line", line));
    pthread_mutex_lock(&a->lock);
    if (a->audit_log && text) {
        admin_audit_ensure_locked(a);
        size_t len = strlen(text);
        text[len] = '\n'; /* one write per line keeps lines whole */
        if (a->audit_fd >= 0 && write(a->audit_fd, text, len + 1) != (ssize_t)(len + 1)) {
            log_error("event=audit result=failed file=%s error=\"%s\"", a->audit_log,
                      strerror(errno));
            /* Open it again at the next line (a file system that came back). */
            admin_audit_close(a);
        }
    }
    pthread_mutex_unlock(&a->lock);
    free(text);
}

void admin_audit_close(struct admin *a)
{
    if (a->audit_fd >= 0)
        close(a->audit_fd);
    a->audit_fd = -1;
    free(a->audit_fd_path);
    a->audit_fd_path = NULL;
}

int admin_reopen_audit(struct admin *a)
{
    if (!a)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&a->lock);
    if (a->audit_log) {
        int fd = admin_audit_open(a->audit_log);
        if (fd >= 0) {
            admin_audit_close(a);
            a->audit_fd = fd;
            a->audit_fd_path = strdup(a->audit_log);
            log_info("event=audit_reopen result=ok file=%s", a->audit_log);
        } else {
            log_error("event=audit_reopen result=failed file=%s error=\"%s\" note=\"lines go "
                      "on to the file open until now\"",
                      a->audit_log, strerror(errno));
            rc = -1;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

/* Replaces, in place, the value of every member of every "headers" object
 * in v (a check's probe headers may carry credentials: an Authorization
 * header) by ADMIN_AUDIT_REDACTED, at any depth: a PUT of a check holds
 * them at the top, a batch under changes[].value. Returns how many. The
 * body is at most 32 levels deep (admin_request_parse_body): the
 * recursion is bounded. */
static size_t admin_audit_redact(json_t *v)
{
    size_t n = 0, i;
    const char *k;
    json_t *x;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) n += admin_audit_redact(x);
        return n;
    }
    json_object_foreach(v, k, x)
    {
        if (strcmp(k, "headers") == 0 && json_is_object(x)) {
            const char *h;
            json_t *hv;
            json_object_foreach(x, h, hv)
            {
                json_object_set_new(x, h, json_string(ADMIN_AUDIT_REDACTED));
                n++;
            }
        } else {
            n += admin_audit_redact(x);
        }
    }
    return n;
}

void admin_audit_note_body(struct admin_req *r, const char *data, size_t len)
{
    r->has_body = true;
    r->body_len = len;
    /* The digest is of the bytes received, secrets included: whoever holds
     * the body can prove it is the one audited; the line never shows it. */
    digest_sha256_hex(data, len, r->body_sha256);
    r->body_excerpt[0] = '\0';
    if (len > ADMIN_AUDIT_INLINE)
        admin_request_excerpt(data, len, r->body_excerpt);
}

/* The request URI, valid UTF-8 (it may hold any byte; an invalid one would
 * make json_pack fail and the line be lost) and cut at
 * ADMIN_AUDIT_PATH_MAX bytes. Caller frees. */
static char *admin_audit_uri(struct admin_req *r, bool *cut)
{
    const char *u = evhttp_request_get_uri(r->req);
    size_t n = strlen(u);
    *cut = n > ADMIN_AUDIT_PATH_MAX;
    char *uri = strndup(u, *cut ? ADMIN_AUDIT_PATH_MAX : n);
    if (uri)
        admin_request_utf8_fix(uri);
    return uri;
}

/* Adds what the line keeps of the body, redacted (admin_audit_redact):
 * the body itself when small, else an excerpt of its first bytes (when a
 * value was redacted, of the redacted body re-encoded: the raw bytes may
 * hold the secret); its size and the digest of the bytes received either
 * way. */
static void admin_audit_body(struct admin_req *r, json_t *line)
{
    json_t *red = r->body ? json_deep_copy(r->body) : NULL;
    size_t n = admin_audit_redact(red);
    bool whole = !r->has_body || r->body_len <= ADMIN_AUDIT_INLINE;
    json_object_set(line, "request", whole && red ? red : json_null());
    if (r->has_body) {
        json_object_set_new(line, "request_bytes", json_integer((json_int_t)r->body_len));
        json_object_set_new(line, "request_sha256", json_string(r->body_sha256));
        if (n)
            json_object_set_new(line, "request_redacted", json_integer((json_int_t)n));
    }
    if (r->has_body && !whole) {
        char excerpt[ADMIN_REQUEST_EXCERPT_ROOM] = "";
        char *text = n ? json_dumps(red, JSON_COMPACT) : NULL;
        if (text)
            admin_request_excerpt(text, strlen(text), excerpt);
        free(text);
        json_object_set_new(line, "request_excerpt", json_string(n ? excerpt : r->body_excerpt));
    }
    json_decref(red);
}

/* A line whose result makes it longer than ADMIN_AUDIT_LINE_MAX keeps
 * only the result's size. */
static void admin_audit_bound(json_t *line)
{
    json_t *res = json_object_get(line, "result");
    size_t n = res ? json_dumpb(line, NULL, 0, JSON_COMPACT) : 0;
    if (n <= ADMIN_AUDIT_LINE_MAX)
        return;
    size_t rn = json_dumpb(res, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    json_object_set_new(line, "result",
                        json_pack("{s:b, s:I}", "truncated", 1, "bytes", (json_int_t)rn));
}

void admin_audit(struct admin_req *r, int status, json_t *result)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(r->req);
    const char *method = m == EVHTTP_REQ_POST ? "POST" : m == EVHTTP_REQ_PUT ? "PUT" : "DELETE";
    bool cut = false;
    char *uri = admin_audit_uri(r, &cut);
    /* "request" is filled in its place by admin_audit_body. */
    json_t *line = json_pack("{s:f, s:s, s:s, s:s, s:s?, s:n, s:i, s:o?}", "time", health_now(),
                             "token", r->token_name, "client", r->client, "method", method, "path",
                             uri, "request", "status", status, "result", result);
    free(uri);
    if (line) {
        admin_audit_body(r, line);
        if (cut)
            json_object_set_new(line, "path_truncated", json_true());
        admin_audit_bound(line);
    }
    /* In a fleet: which node took the call. */
    if (line && r->a->env.store && r->a->env.store->node)
        json_object_set_new(line, "node", json_string(r->a->env.store->node));
    admin_audit_write(r->a, line);
}

void admin_audit_event(struct admin *a, json_t *fields)
{
    json_t *line = json_pack("{s:f}", "time", health_now());
    json_object_update(line, fields);
    json_decref(fields);
    admin_audit_write(a, line);
}
