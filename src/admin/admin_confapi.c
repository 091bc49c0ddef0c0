/*
 * admin_confapi.c -- the configuration's resources over the admin API:
 *
 *   GET    /v1/config                          every resource, and the version
 *   GET    /v1/config/KIND                     records, pools, checks or regions
 *   GET    /v1/config/KIND/NAME
 *   PUT    /v1/config/KIND/NAME                create or replace (body: the resource)
 *   DELETE /v1/config/KIND/NAME
 *   GET|PUT|DELETE /v1/config/pools/POOL/endpoints/NAME
 *   GET    /v1/config/history[/VERSION]
 *   POST   /v1/config/rollback                 {"version": N}
 *   POST   /v1/config/changes                  several changes as one version:
 *          {"changes": [{"op": "put"|"delete", "path": "KIND/NAME[/endpoints/EP]",
 *                        "value": {...}}], "change": TEXT}
 *
 * A change is made to a copy of the configuration document and handed to
 * the daemon (admin_config_ops: validated as `gtmd check` validates a file,
 * written, reloaded, kept as a version). Optimistic concurrency: If-Match
 * with a version (the ETag of the GETs) answers 412 when the configuration
 * moved on; ?dry_run=true validates and changes nothing. Reads need the
 * read token, changes the operate token; changes are audited. Only these
 * four kinds are ever sent back: the rest of the file (tokens' paths, TSIG
 * secrets, the cookie secret) stays out of the API.
 */
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "common/jsoncfg_intern.h"

const char *const admin_config_kinds[] = {"records", "pools", "checks", "regions", NULL};

/* A parsed /v1/config path. */
struct confapi_path {
    char kind[16];  /* "" for /v1/config itself */
    char name[256]; /* "" for the whole kind */
    char ep[256];   /* an endpoint of pool name, or "" */
};

static bool confapi_kind_ok(const char *k)
{
    for (const char *const *x = admin_config_kinds; *x; x++)
        if (strcmp(*x, k) == 0)
            return true;
    return false;
}

/* Splits p (after "/v1/config"); false when it is not a resource path. */
static bool confapi_parse_path(const char *p, struct confapi_path *out)
{
    memset(out, 0, sizeof(*out));
    if (!*p)
        return true;
    if (*p++ != '/')
        return false;
    const char *s1 = strchr(p, '/');
    size_t kl = s1 ? (size_t)(s1 - p) : strlen(p);
    if (kl == 0 || kl >= sizeof(out->kind))
        return false;
    memcpy(out->kind, p, kl);
    if (!confapi_kind_ok(out->kind))
        return false;
    if (!s1)
        return true;
    const char *name = s1 + 1;
    const char *eps = strcmp(out->kind, "pools") == 0 ? strstr(name, "/endpoints/") : NULL;
    size_t nl = eps ? (size_t)(eps - name) : strlen(name);
    if (nl == 0 || nl >= sizeof(out->name) || memchr(name, '/', nl))
        return false;
    memcpy(out->name, name, nl);
    if (!eps)
        return true;
    const char *ep = eps + 11;
    size_t el = strlen(ep);
    if (el == 0 || el >= sizeof(out->ep) || strchr(ep, '/'))
        return false;
    memcpy(out->ep, ep, el);
    return true;
}

/* The resources of doc (the four kinds, each {} when absent), shared with
 * doc, not copied: the reply is only dumped (a deep copy of 100,000
 * records was a third of a GET /v1/config). doc is a copy whose members
 * are never edited in place (config_api_document), or a version read from
 * the history that belongs to the caller. */
static json_t *confapi_resources(json_t *doc)
{
    json_t *o = json_object();
    for (const char *const *k = admin_config_kinds; *k; k++) {
        json_t *v = json_object_get(doc, *k);
        json_object_set_new(o, *k, v ? json_incref(v) : json_object());
    }
    return o;
}

/* A check's "headers" may carry a probe's credentials (an Authorization
 * header): their values are shown to the operate token only. */
static void confapi_redact(struct admin_req *r, json_t *doc)
{
    if (r->level >= ADMIN_OPERATE)
        return;
    const char *name;
    json_t *check;
    /* The document shares its members with the running one: edit a copy. */
    json_t *checks = json_object_get(doc, "checks");
    if (checks)
        json_object_set_new(doc, "checks", checks = json_deep_copy(checks));
    json_object_foreach(checks, name, check)
    {
        const char *h;
        json_t *v;
        json_t *headers = json_object_get(check, "headers");
        json_object_foreach(headers, h, v)
            json_object_set_new(headers, h, json_string("(redacted: the operate token sees it)"));
    }
}

static void confapi_etag(struct admin_req *r, uint64_t version)
{
    char tag[32];
    snprintf(tag, sizeof(tag), "\"%llu\"", (unsigned long long)version);
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "ETag", tag);
}

/* The endpoint named ep in pool (an object), and its index; NULL if none. */
static json_t *confapi_endpoint(json_t *pool, const char *ep, size_t *at)
{
    json_t *eps = json_object_get(pool, "endpoints"), *e;
    size_t i;
    json_array_foreach(eps, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && strcmp(n, ep) == 0) {
            *at = i;
            return e;
        }
    }
    return NULL;
}

/* The resource the path names in doc (borrowed), or NULL. */
static json_t *confapi_find(json_t *doc, const struct confapi_path *cp)
{
    json_t *kind = json_object_get(doc, cp->kind);
    json_t *v = kind ? json_object_get(kind, cp->name) : NULL;
    size_t at;
    return v && cp->ep[0] ? confapi_endpoint(v, cp->ep, &at) : v;
}

/* The configuration document and its version, only to read (its kinds'
 * objects are the running document's own); NULL once a 500 has been sent
 * (the file cannot be read). Changes are made on the store thread
 * (confapi_submit_edit). */
static json_t *confapi_doc(struct admin_req *r, uint64_t *version)
{
    const struct admin_config_ops *ops = r->a->env.config;
    char err[512];
    json_t *doc = ops->read(ops->api, version, err, sizeof(err));
    if (!doc)
        admin_reply_error(r, 500, "config_unreadable", "%s", err);
    return doc;
}

static void confapi_get(struct admin_req *r, const struct confapi_path *cp)
{
    uint64_t version = 0;
    /* Read only: confapi_redact replaces the root's "checks" and nothing
     * below it. */
    json_t *doc = confapi_doc(r, &version);
    if (!doc)
        return;
    confapi_redact(r, doc);
    json_t *out;
    if (!cp->kind[0])
        out = json_pack("{s:I, s:o}", "version", (json_int_t)version, "resources",
                        confapi_resources(doc));
    else if (!cp->name[0]) {
        json_t *k = json_object_get(doc, cp->kind);
        out = json_pack("{s:I, s:o}", "version", (json_int_t)version, cp->kind,
                        k ? json_incref(k) : json_object());
    } else {
        json_t *v = confapi_find(doc, cp);
        if (!v) {
            json_decref(doc);
            admin_reply_error(r, 404, "not_found", "no %s \"%s\"%s%s in the configuration",
                              cp->ep[0] ? "endpoint" : cp->kind, cp->ep[0] ? cp->ep : cp->name,
                              cp->ep[0] ? " in pool " : "", cp->ep[0] ? cp->name : "");
            return;
        }
        out = json_pack("{s:I, s:O}", "version", (json_int_t)version, "value", v);
    }
    json_decref(doc);
    confapi_etag(r, version);
    admin_reply_json(r, 200, out);
}

/* If-Match: "N" or N (0: absent); -1 when it is not a version. */
static long long confapi_if_match(struct admin_req *r)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->req), "If-Match");
    if (!h) /* ?if_match=N for clients that cannot set a header (gtmctl) */
        h = evhttp_find_header(&r->query, "if_match");
    if (!h)
        return 0;
    char *end;
    const char *s = *h == '"' ? h + 1 : h;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || (*h == '"' && *end != '"') || v == 0)
        return -1;
    return (long long)v;
}

static bool confapi_dry_run(struct admin_req *r)
{
    const char *v = evhttp_find_header(&r->query, "dry_run");
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* A change on its way through the store thread: a document made here
 * (doc: a rollback, confapi_apply), or an edit the daemon makes on the
 * newest document there (confapi_submit_edit). */
struct confapi_call {
    json_t *doc; /* owned; NULL: an edit */
    uint64_t base, origin, if_version;
    bool dry;
    char *clients; /* owned; NULL: none */
    char change[700];
    int status;
    json_t *out; /* the daemon's reply (owned until sent) */
    /* An edit: of the resource cp (put: to body) or the batch's items. */
    struct admin_config_edit e;
    struct confapi_path cp;
    bool put;
    json_t *body; /* a reference; the resource, or the batch's "changes" */
};

static void confapi_call_free(void *arg)
{
    struct confapi_call *x = arg;
    json_decref(x->doc);
    json_decref(x->out);
    json_decref(x->body);
    free(x->clients);
    free(x);
}

/* Store thread: the daemon applies the change. */
static void confapi_call_run(struct admin_store_call *c)
{
    struct confapi_call *x = c->ctx;
    const struct admin_config_ops *ops = c->r.a->env.config;
    x->status = 500;
    if (!x->doc) { /* an edit that comes alone: a dry run, or with If-Match */
        struct admin_config_edit *e = &x->e;
        ops->edit(ops->api, &e, 1);
        x->status = x->e.status;
        x->out = x->e.out;
        return;
    }
    x->out = ops->apply(ops->api, x->doc, x->base, x->origin, NULL, x->if_version, c->r.token_name,
                        x->change, x->dry, x->clients, &x->status);
}

/* Store thread: edits that queued one after the other, served as one
 * version (admin_config_ops.edit). */
static void confapi_call_run_group(struct admin_store_call **calls, size_t n)
{
    const struct admin_config_ops *ops = calls[0]->r.a->env.config;
    struct admin_config_edit **e = calloc(n, sizeof(*e));
    if (!e)
        abort();
    for (size_t i = 0; i < n; i++)
        e[i] = &((struct confapi_call *)calls[i]->ctx)->e;
    ops->edit(ops->api, e, n);
    for (size_t i = 0; i < n; i++) { /* the change's text: confapi_call_done */
        struct confapi_call *x = calls[i]->ctx;
        x->status = x->e.status;
        x->out = x->e.out;
    }
    free(e);
}

/* Admin thread: replies and audits. */
static void confapi_call_done(struct admin_store_call *c)
{
    struct confapi_call *x = c->ctx;
    struct admin_req *r = &c->r;
    json_t *out = x->out;
    x->out = NULL;
    if (!x->doc) /* an edit: its text as the edit made it */
        snprintf(x->change, sizeof(x->change), "%s", x->e.change);
    if (x->status < 300)
        json_object_set_new(out, "change", json_string(x->change));
    json_t *v = json_object_get(out, "version");
    if (json_is_integer(v))
        confapi_etag(r, (uint64_t)json_integer_value(v));
    if (!x->dry)
        admin_audit(r, x->status, json_pack("{s:s, s:O?}", "change", x->change, "version", v));
    admin_reply_json(r, x->status, out);
    confapi_call_free(x);
}

/* A change's call with its If-Match, dry run and clients; NULL once a 400
 * has been sent. */
static struct confapi_call *confapi_call_new(struct admin_req *r)
{
    long long m = confapi_if_match(r);
    if (m < 0) {
        admin_audit(r, 400, NULL);
        admin_reply_error(r, 400, "bad_request", "If-Match must be a version (the ETag)");
        return NULL;
    }
    struct confapi_call *x = calloc(1, sizeof(*x));
    if (!x)
        abort();
    const char *clients = evhttp_find_header(&r->query, "clients");
    x->if_version = (uint64_t)m;
    x->dry = confapi_dry_run(r);
    x->clients = clients ? strdup(clients) : NULL;
    return x;
}

/* Queues call x of request r on the store thread (grouped with the
 * edits beside it when group); the reply and audit follow there. */
static void confapi_submit(struct admin_req *r, struct confapi_call *x, bool group)
{
    struct admin_store_call *c =
        admin_store_call_new(r, ADMIN_STORE_RUN, "config", confapi_call_done);
    c->run = confapi_call_run;
    if (group)
        c->run_group = confapi_call_run_group;
    c->ctx = x;
    c->ctx_free = confapi_call_free;
    admin_store_submit(r->a, c);
}

/* Hands doc (stolen), made from version base (the copy of document
 * origin), to the daemon on the store thread (a rollback). */
static void confapi_apply(struct admin_req *r, json_t *doc, uint64_t base, uint64_t origin,
                          const char *change)
{
    struct confapi_call *x = confapi_call_new(r);
    if (!x) {
        json_decref(doc);
        return;
    }
    x->doc = doc;
    x->base = base;
    x->origin = origin;
    snprintf(x->change, sizeof(x->change), "%s", change);
    confapi_submit(r, x, false);
}

/* Hands edit x (fn makes it; x->e.change may hold its text) to the daemon
 * on the store thread, grouped with the edits queued beside it unless it
 * is a dry run or has If-Match; the reply and audit follow there. */
static void confapi_submit_edit(struct admin_req *r, struct confapi_call *x,
                                int (*fn)(json_t *, json_t *, void *, char *, size_t, char *,
                                          size_t))
{
    x->e.fn = fn;
    x->e.arg = x;
    x->e.if_version = x->if_version;
    x->e.dry_run = x->dry;
    x->e.clients = x->clients;
    x->e.author = r->token_name;
    confapi_submit(r, x, !x->dry && !x->if_version);
}

/* Sets (value not NULL) or removes the resource cp names in doc; a message
 * in why (and false) when the path or body does not fit. */
static bool confapi_edit_with(json_t *doc, const struct confapi_path *cp, json_t *value, char *why,
                              size_t len)
{
    json_t *kind = json_object_get(doc, cp->kind);
    if (!kind && value) {
        kind = json_object();
        json_object_set_new(doc, cp->kind, kind);
    }
    if (!cp->ep[0]) {
        if (value)
            json_object_set(kind, cp->name, value);
        else if (json_object_del(kind, cp->name) != 0)
            return snprintf(why, len, "no %s \"%s\" in the configuration", cp->kind, cp->name),
                   false;
        return true;
    }
    json_t *pool = json_object_get(kind, cp->name);
    if (pool) /* shared with the running document (config_api_document): edit a copy */
        json_object_set_new(kind, cp->name, pool = json_deep_copy(pool));
    json_t *eps = json_object_get(pool, "endpoints");
    if (!json_is_array(eps))
        return snprintf(why, len, "no pool \"%s\" with endpoints in the configuration", cp->name),
               false;
    size_t at = 0;
    json_t *old = confapi_endpoint(pool, cp->ep, &at);
    if (!value && !old)
        return snprintf(why, len, "no endpoint \"%s\" in pool %s", cp->ep, cp->name), false;
    if (!value)
        json_array_remove(eps, at);
    else if (old)
        json_array_set(eps, at, value);
    else
        json_array_append(eps, value);
    return true;
}

/* What an edit replaced, put back when a later part of it fails (the
 * daemon's copy must then be as the edit found it): prior is KIND ->
 * {NAME: the value before, or null}, added the kinds the edit created. */
struct confapi_undo {
    json_t *prior, *added;
};

static void confapi_undo_note(struct confapi_undo *u, json_t *doc, const char *kind,
                              const char *name)
{
    json_t *k = json_object_get(doc, kind), *p = json_object_get(u->prior, kind);
    if (!k)
        json_object_set_new(u->added, kind, json_true());
    if (!p)
        json_object_set_new(u->prior, kind, p = json_object());
    if (!json_object_get(p, name)) {
        json_t *v = k ? json_object_get(k, name) : NULL;
        json_object_set(p, name, v ? v : json_null());
    }
}

/* Puts doc back as the edit found it; frees u either way (undo false). */
static void confapi_undo_end(struct confapi_undo *u, json_t *doc, bool undo)
{
    const char *kind, *name;
    json_t *names, *v;
    json_object_foreach(undo ? u->prior : NULL, kind, names)
    {
        json_t *k = json_object_get(doc, kind);
        json_object_foreach(k ? names : NULL, name, v)
        {
            if (json_is_null(v))
                json_object_del(k, name);
            else
                json_object_set(k, name, v);
        }
    }
    json_object_foreach(undo ? u->added : NULL, kind, v) json_object_del(doc, kind);
    json_decref(u->prior);
    json_decref(u->added);
}

/* Sets or removes (body NULL) the resource cp names in doc, noting it in
 * touched (confapi_touched_new) and what it was in u; false with why. */
static bool confapi_edit(json_t *doc, json_t *touched, struct confapi_undo *u,
                         const struct confapi_path *cp, json_t *body, char *why, size_t len)
{
    confapi_undo_note(u, doc, cp->kind, cp->name);
    json_t *names = json_object_get(touched, cp->kind);
    if (names)
        json_object_set_new(names, cp->name, json_true());
    /* A copy: doc goes to the store thread, the body stays the request's. */
    json_t *copy = body ? json_deep_copy(body) : NULL;
    /* Sharing the strings and integers it has in common with what it
     * replaces (the parse shared them: jsoncfg_intern.h), or a record's
     * first change would grow the document by what sharing saved. */
    jsoncfg_intern_like(copy, json_object_get(json_object_get(doc, cp->kind), cp->name));
    bool ok = confapi_edit_with(doc, cp, copy, why, len);
    json_decref(copy);
    return ok;
}

/* Store thread (admin_config_edit.fn): the PUT or DELETE of one resource. */
static int confapi_edit_resource(json_t *doc, json_t *touched, void *arg, char *change,
                                 size_t change_len, char *why, size_t why_len)
{
    struct confapi_call *x = arg;
    const struct confapi_path *cp = &x->cp;
    bool existed = confapi_find(doc, cp) != NULL;
    struct confapi_undo u = {json_object(), json_object()};
    bool ok = confapi_edit(doc, touched, &u, cp, x->put ? x->body : NULL, why, why_len);
    confapi_undo_end(&u, doc, !ok);
    if (!ok)
        return 404;
    snprintf(change, change_len, "%s %s %s%s%s",
             x->put ? (existed ? "replace" : "create") : "delete",
             cp->ep[0] ? "endpoint" : cp->kind, cp->name, cp->ep[0] ? "/" : "", cp->ep);
    return 0;
}

static void confapi_put_or_delete(struct admin_req *r, const struct confapi_path *cp, bool put)
{
    if (!cp->name[0]) {
        admin_reply_error(r, 405, "method_not_allowed",
                          "a change names one resource: /v1/config/KIND/NAME");
        return;
    }
    if (put && !json_is_object(r->body)) {
        admin_reply_error(r, 400, "bad_request", "the body must be the resource, a JSON object");
        return;
    }
    if (put && cp->ep[0]) {
        json_t *n = json_object_get(r->body, "name");
        if (n && !(json_is_string(n) && strcmp(json_string_value(n), cp->ep) == 0)) {
            admin_reply_error(r, 400, "bad_request", "\"name\" must be \"%s\", as in the path",
                              cp->ep);
            return;
        }
        json_object_set_new(r->body, "name", json_string(cp->ep));
    }
    struct confapi_call *x = confapi_call_new(r);
    if (!x)
        return;
    x->cp = *cp;
    x->put = put;
    x->body = put ? json_incref(r->body) : NULL;
    confapi_submit_edit(r, x, confapi_edit_resource);
}

static void confapi_history(struct admin_req *r, const char *rest)
{
    const struct admin_config_ops *ops = r->a->env.config;
    if (!*rest) {
        admin_reply_json(r, 200, json_pack("{s:o}", "versions", ops->history(ops->api)));
        return;
    }
    char *end;
    unsigned long long v = strtoull(rest + 1, &end, 10);
    json_t *doc = *rest == '/' && end != rest + 1 && !*end ? ops->version(ops->api, v) : NULL;
    if (!doc) {
        admin_reply_error(r, 404, "not_found", "no version %s kept", rest + 1);
        return;
    }
    confapi_redact(r, doc);
    admin_reply_json(
        r, 200,
        json_pack("{s:I, s:o}", "version", (json_int_t)v, "resources", confapi_resources(doc)));
    json_decref(doc);
}

/* POST /v1/config/rollback {"version": N}: version N's resources become the
 * configuration's again (as a new version; the rest of the file as now). */
static void confapi_rollback(struct admin_req *r)
{
    json_t *v = json_object_get(r->body, "version");
    if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_object_size(r->body) != 1) {
        admin_reply_error(r, 400, "bad_request", "the body must be {\"version\": N}");
        return;
    }
    const struct admin_config_ops *ops = r->a->env.config;
    json_t *old = ops->version(ops->api, (uint64_t)json_integer_value(v));
    uint64_t cur;
    char err[512];
    uint64_t origin = 0;
    json_t *doc = old ? ops->document(ops->api, &cur, &origin, err, sizeof(err)) : NULL;
    if (!doc) {
        json_decref(old);
        admin_audit(r, 404, NULL);
        admin_reply_error(r, 404, "not_found", "no version %lld kept", json_integer_value(v));
        return;
    }
    for (const char *const *k = admin_config_kinds; *k; k++) {
        json_t *x = json_object_get(old, *k);
        if (x)
            json_object_set(doc, *k, x);
        else
            json_object_del(doc, *k);
    }
    json_decref(old);
    char change[64];
    snprintf(change, sizeof(change), "rollback to version %lld", json_integer_value(v));
    confapi_apply(r, doc, cur, origin, change); /* every resource may change */
}

/* One item of POST /v1/config/changes applied to doc; false with why. */
static bool confapi_batch_item(json_t *doc, json_t *touched, struct confapi_undo *u, json_t *it,
                               size_t i, char *why, size_t len)
{
    const char *op = json_string_value(json_object_get(it, "op"));
    const char *path = json_string_value(json_object_get(it, "path"));
    json_t *value = json_object_get(it, "value");
    char full[600];
    struct confapi_path cp;
    bool put = op && strcmp(op, "put") == 0;
    if (!json_is_object(it) || !op || (!put && strcmp(op, "delete") != 0) || !path)
        return snprintf(why, len,
                        "$.changes[%zu]: must be {\"op\": \"put\"|\"delete\", "
                        "\"path\": \"KIND/NAME\", \"value\": {...}}",
                        i),
               false;
    snprintf(full, sizeof(full), "/%s", path);
    if (!confapi_parse_path(full, &cp) || !cp.name[0])
        return snprintf(why, len,
                        "$.changes[%zu].path: not KIND/NAME or pools/POOL/endpoints/NAME "
                        "(KIND: records, pools, checks, regions)",
                        i),
               false;
    if (put != json_is_object(value))
        return snprintf(why, len, "$.changes[%zu].value: %s", i,
                        put ? "a put needs the resource, a JSON object" : "a delete takes none"),
               false;
    if (put && cp.ep[0])
        json_object_set_new(value, "name", json_string(cp.ep));
    char msg[400];
    if (!confapi_edit(doc, touched, u, &cp, put ? value : NULL, msg, sizeof(msg)))
        return snprintf(why, len, "$.changes[%zu]: %s", i, msg), false;
    return true;
}

/* Store thread (admin_config_edit.fn): a batch's items, in order, all or
 * none. */
static int confapi_edit_batch(json_t *doc, json_t *touched, void *arg, char *change,
                              size_t change_len, char *why, size_t why_len)
{
    struct confapi_call *x = arg;
    struct confapi_undo u = {json_object(), json_object()};
    size_t i;
    json_t *it;
    bool ok = true;
    (void)change; /* the request's text, or the count: set when it came */
    (void)change_len;
    json_array_foreach(x->body, i, it) if (ok && !confapi_batch_item(doc, touched, &u, it, i, why,
                                                                     why_len)) ok = false;
    confapi_undo_end(&u, doc, !ok);
    return ok ? 0 : 400;
}

/* POST /v1/config/changes: every item applied in order to one copy of the
 * configuration, then validated and applied as one version (or, with
 * dry_run, the what-if of them all). */
static void confapi_batch(struct admin_req *r)
{
    json_t *items = json_object_get(r->body, "changes");
    json_t *text = json_object_get(r->body, "change");
    if (!json_is_array(items) || json_array_size(items) == 0 || (text && !json_is_string(text))) {
        admin_reply_error(r, 400, "bad_request",
                          "the body must be {\"changes\": [...], \"change\": TEXT}");
        return;
    }
    struct confapi_call *x = confapi_call_new(r);
    if (!x)
        return;
    x->body = json_incref(items);
    if (text)
        snprintf(x->e.change, sizeof(x->e.change), "%s", json_string_value(text));
    else
        snprintf(x->e.change, sizeof(x->e.change), "%zu changes", json_array_size(items));
    confapi_submit_edit(r, x, confapi_edit_batch);
}

bool admin_confapi_route(struct admin_req *r)
{
    const char *p = r->path;
    if (strncmp(p, "/v1/config", 10) != 0 || (p[10] && p[10] != '/'))
        return false;
    enum evhttp_cmd_type m = evhttp_request_get_command(r->req);
    bool get = m == EVHTTP_REQ_GET;
    bool history = strncmp(p + 10, "/history", 8) == 0 && (!p[18] || p[18] == '/');
    bool rollback = strcmp(p + 10, "/rollback") == 0;
    bool batch = strcmp(p + 10, "/changes") == 0;
    bool resource = !history && !rollback && !batch;
    struct confapi_path cp;
    if (resource && !confapi_parse_path(p + 10, &cp)) {
        admin_reply_error(r, 404, "not_found", "no such endpoint: %s", p);
        return true;
    }
    if (!r->a->env.config) {
        admin_reply_error(r, 404, "not_found", "no configuration API in this process");
        return true;
    }
    if (!admin_require(r, get ? ADMIN_READ : ADMIN_OPERATE))
        return true;
    if ((m == EVHTTP_REQ_PUT || m == EVHTTP_REQ_POST) && !admin_parse_body(r))
        return true;
    if (history && get)
        confapi_history(r, p + 18);
    else if (rollback && m == EVHTTP_REQ_POST)
        confapi_rollback(r);
    else if (batch && m == EVHTTP_REQ_POST)
        confapi_batch(r);
    else if (resource && get)
        confapi_get(r, &cp);
    else if (resource && (m == EVHTTP_REQ_PUT || m == EVHTTP_REQ_DELETE))
        confapi_put_or_delete(r, &cp, m == EVHTTP_REQ_PUT);
    else
        admin_reply_error(r, 405, "method_not_allowed", "method not allowed on %s", p);
    return true;
}
