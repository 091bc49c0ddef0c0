/*
 * ctl_externaldns.c -- gtmctl externaldns: an ExternalDNS webhook provider
 * (its published protocol: GET / negotiates the domain filter, GET
 * /records lists, POST /adjustendpoints, POST /records applies changes,
 * GET /healthz) that keeps gtmd's configuration in step through the admin
 * API (/v1/config). It runs beside ExternalDNS, as the webhook sidecar
 * ExternalDNS expects, on a loopback address; gtmd is reached with the
 * operate token as every gtmctl command reaches it.
 *
 * The mapping (doc/automation.md, "Kubernetes: ExternalDNS"): an
 * ExternalDNS endpoint (dnsName, recordType A/AAAA/CNAME, targets,
 * setIdentifier) becomes endpoints of the pool "externaldns-DNSNAME",
 * one per target, in the region named by its setIdentifier ("default"
 * without one); the record DNSNAME. is a policy record on that pool (the
 * policy given with --policy, "all" by default; its TTL the endpoint's).
 * So clusters that each run ExternalDNS with their own set identifier feed
 * one gtmd record with a region per cluster, which gtmd's health checks
 * and policies then choose between. One batch of ExternalDNS changes is
 * one configuration version (POST /v1/config/changes).
 *
 * Ownership: only records on such pools are listed and changed. A change
 * that names a record gtmd has on another pool (a hand-made record), or a
 * pool "externaldns-NAME" another record uses, is refused for that name:
 * the rest of the batch is applied, the refusal is logged and answered
 * 500 (ExternalDNS logs it and plans again on its next run; a 4xx would
 * be a hard error, which stops ExternalDNS).
 *
 * Who may ask (ctl_externaldns_guard.h): the listener is on loopback
 * unless --allow-remote; with --secret-file every request must carry the
 * secret (the X-Gtmd-Webhook-Secret header, or the first path segment of
 * the URL, which is what stock ExternalDNS can send); the webhook
 * protocol's version 1 only (406, 415).
 *
 * Threads: one (the libevent loop); gtmd is asked with blocking calls.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include "ctl/ctl.h"
#include "ctl/ctl_externaldns_cache.h"
#include "ctl/ctl_externaldns_guard.h"

#define EDNS_MAX_DOMAINS 32
#define EDNS_SECRET_HEADER "X-Gtmd-Webhook-Secret"

struct edns {
    struct ctl *c;
    const char *domains[EDNS_MAX_DOMAINS]; /* without the final dot */
    size_t n_domains;
    const char *policy;
    char *secret;            /* owned; NULL: none */
    struct edns_cache cache; /* gtmd's configuration as last read or changed */
};

void ctl_externaldns_usage(FILE *f)
{
    fprintf(f, "ExternalDNS webhook provider (doc/automation.md):\n"
               "  externaldns [--listen HOST:PORT] --domain D [--domain D2 ...]\n"
               "              [--policy all|weighted] [--secret-file FILE] [--allow-remote]\n"
               "              (--listen: 127.0.0.1:8888 by default; loopback only unless\n"
               "              --allow-remote)\n");
}

static void edns_reply(struct evhttp_request *req, int status, json_t *body)
{
    struct evbuffer *b = evbuffer_new();
    if (body) {
        char *text = json_dumps(body, JSON_COMPACT);
        evbuffer_add(b, text, strlen(text));
        free(text);
        json_decref(body);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", EDNS_MEDIA);
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Vary", "Content-Type");
    evhttp_send_reply(req, status, status < 300 ? "OK" : "Error", b);
    evbuffer_free(b);
}

/* A plain-text error (406, 415, 401, the names refused), for ExternalDNS's
 * log and whoever reads it. */
static void edns_reply_text(struct evhttp_request *req, int status, const char *msg)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "%s\n", msg);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
    evhttp_add_header(h, "Vary", "Content-Type");
    evhttp_send_reply(req, status, "Error", b);
    evbuffer_free(b);
}

/* Whether name (no final dot) is one of the domains or below one. */
static bool edns_in_domains(const struct edns *e, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < e->n_domains; i++) {
        size_t d = strlen(e->domains[i]);
        if (n == d && strcasecmp(name, e->domains[i]) == 0)
            return true;
        if (n > d && name[n - d - 1] == '.' && strcasecmp(name + n - d, e->domains[i]) == 0)
            return true;
    }
    return false;
}

static json_t *edns_body(struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    return json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, NULL);
}

/* The type an endpoint of gtmd's serves. */
static const char *edns_type_of(json_t *ep)
{
    if (json_object_get(ep, "cname"))
        return "CNAME";
    const char *a = json_string_value(json_object_get(ep, "address"));
    return a && strchr(a, ':') ? "AAAA" : "A";
}

/* GET /records: every record on an externaldns- pool, one ExternalDNS
 * endpoint per region and type. */
static json_t *edns_records(struct edns *e, json_t *res)
{
    json_t *out = json_array();
    const char *pname;
    json_t *pool;
    json_object_foreach(json_object_get(res, "pools"), pname, pool)
    {
        if (strncmp(pname, EDNS_POOL, strlen(EDNS_POOL)) != 0)
            continue;
        const char *dns_name = pname + strlen(EDNS_POOL);
        char key[300];
        snprintf(key, sizeof(key), "%s.", dns_name);
        json_t *rec = json_object_get(json_object_get(res, "records"), key);
        const char *rpool = json_string_value(json_object_get(rec, "pool"));
        if (!rpool || strcmp(rpool, pname) != 0)
            continue; /* the name is a record of another pool: not ours */
        json_t *ttl = json_object_get(rec, "ttl");
        json_t *groups = json_object(); /* "region\ntype" -> endpoint */
        size_t i;
        json_t *ep;
        json_array_foreach(json_object_get(pool, "endpoints"), i, ep)
        {
            const char *region = json_string_value(json_object_get(ep, "region"));
            const char *type = edns_type_of(ep);
            json_t *t = json_object_get(ep, json_object_get(ep, "cname") ? "cname" : "address");
            char g[300];
            snprintf(g, sizeof(g), "%s\n%s", region ? region : "", type);
            json_t *x = json_object_get(groups, g);
            if (!x) {
                const char *set = region && strcmp(region, "default") != 0 ? region : "";
                x = json_pack("{s:s, s:[], s:s, s:s, s:I}", "dnsName", dns_name, "targets",
                              "recordType", type, "setIdentifier", set, "recordTTL",
                              (json_int_t)(json_is_integer(ttl) ? json_integer_value(ttl) : 300));
                json_object_set_new(groups, g, x);
            }
            const char *tv = json_string_value(t);
            size_t tl = tv ? strlen(tv) : 0;
            /* A CNAME target is written with its final dot in gtmd. */
            json_array_append_new(
                json_object_get(x, "targets"),
                json_stringn(tv ? tv : "", tl && tv[tl - 1] == '.' ? tl - 1 : tl));
        }
        const char *k;
        json_t *x;
        json_object_foreach(groups, k, x) json_array_append(out, x);
        json_decref(groups);
    }
    return out;
}

/* The fields of one ExternalDNS endpoint, its name in lower case in
 * name (EDNS_NAME_MAX octets: "App.example.com" and "app.example.com" are
 * one name, and one pool); false when it is not one gtmd takes (another
 * type, outside the domains, too long). */
static bool edns_endpoint(const struct edns *e, json_t *ep, char *name, const char **type,
                          const char **region)
{
    const char *n = json_string_value(json_object_get(ep, "dnsName"));
    *type = json_string_value(json_object_get(ep, "recordType"));
    const char *set = json_string_value(json_object_get(ep, "setIdentifier"));
    *region = set && *set ? set : "default";
    if (!n || strlen(n) >= EDNS_NAME_MAX)
        return false;
    for (size_t i = 0; (name[i] = (char)tolower((unsigned char)n[i])) != '\0'; i++)
        ;
    return *type &&
           (strcmp(*type, "A") == 0 || strcmp(*type, "AAAA") == 0 || strcmp(*type, "CNAME") == 0) &&
           edns_in_domains(e, name);
}

/* changes[KEY] of the body in any letter case ("Create", "create"). */
static json_t *edns_list(json_t *body, const char *key)
{
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) if (strcasecmp(k, key) == 0) return v;
    return NULL;
}

/* The working copy of the endpoints of name's pool (from gtmd's
 * configuration the first time); borrowed from work. */
static json_t *edns_pool_eps(json_t *res, json_t *work, const char *name)
{
    json_t *eps = json_object_get(work, name);
    if (eps)
        return eps;
    char pool[300];
    snprintf(pool, sizeof(pool), EDNS_POOL "%s", name);
    json_t *cur =
        json_object_get(json_object_get(json_object_get(res, "pools"), pool), "endpoints");
    eps = cur ? json_deep_copy(cur) : json_array();
    json_object_set_new(work, name, eps);
    return eps;
}

/* Removes (add false) or adds the targets of each endpoint of list; a
 * name that is not ExternalDNS's (edns_cache_foreign) goes to refused
 * (name -> why) instead. */
static void edns_edit(struct edns *e, json_t *work, json_t *ttls, json_t *regions, json_t *refused,
                      json_t *list, bool add)
{
    json_t *res = e->cache.res;
    size_t i;
    json_t *ep;
    json_array_foreach(list, i, ep)
    {
        char name[EDNS_NAME_MAX], why[2 * EDNS_NAME_MAX + 100];
        const char *type, *region;
        if (!edns_endpoint(e, ep, name, &type, &region) || json_object_get(refused, name))
            continue;
        if (edns_cache_foreign(&e->cache, name, why, sizeof(why))) {
            json_object_set_new(refused, name, json_string(why));
            continue;
        }
        json_t *eps = edns_pool_eps(res, work, name);
        if (!add) {
            for (size_t k = json_array_size(eps); k-- > 0;) {
                json_t *x = json_array_get(eps, k);
                const char *r = json_string_value(json_object_get(x, "region"));
                if (r && strcmp(r, region) == 0 && strcmp(edns_type_of(x), type) == 0)
                    json_array_remove(eps, k);
            }
            continue;
        }
        bool cname = strcmp(type, "CNAME") == 0;
        size_t k;
        json_t *t;
        json_array_foreach(json_object_get(ep, "targets"), k, t)
        {
            char target[300];
            snprintf(target, sizeof(target), "%s%s",
                     json_string_value(t) ? json_string_value(t) : "", cname ? "." : "");
            json_array_append_new(eps,
                                  json_pack("{s:s, s:s, s:s}", "name", "",
                                            cname ? "cname" : "address", target, "region", region));
        }
        json_t *ttl = json_object_get(ep, "recordTTL");
        if (json_is_integer(ttl) && json_integer_value(ttl) > 0)
            json_object_set(ttls, name, ttl);
        if (!json_object_get(json_object_get(res, "regions"), region))
            json_object_set_new(regions, region, json_object());
    }
}

/* Names the endpoints REGION-TYPE-N (unique in the pool, stable for the
 * same targets). */
static void edns_name_endpoints(json_t *eps)
{
    size_t i;
    json_t *ep;
    json_array_foreach(eps, i, ep)
    {
        const char *r = json_string_value(json_object_get(ep, "region"));
        const char *t = edns_type_of(ep);
        size_t n = 0;
        for (size_t k = 0; k < i && r; k++) {
            json_t *x = json_array_get(eps, k);
            const char *xr = json_string_value(json_object_get(x, "region"));
            n += xr && strcmp(xr, r) == 0 && strcmp(edns_type_of(x), t) == 0;
        }
        char name[300];
        snprintf(name, sizeof(name), "%s-%s-%zu", r ? r : "default", t, n + 1);
        json_object_set_new(ep, "name", json_string(name));
    }
}

/* The /v1/config/changes items that make gtmd's configuration what work
 * says, in an order that loads at each step's end: regions, pools,
 * records, then the records and pools that go. */
static json_t *edns_changes(struct edns *e, json_t *res, json_t *work, json_t *ttls,
                            json_t *regions)
{
    json_t *ch = json_array(), *gone = json_array(), *v;
    const char *k;
    json_object_foreach(regions, k, v) json_array_append_new(
        ch, json_pack("{s:s, s:s+, s:{}}", "op", "put", "path", "regions/", k, "value"));
    json_object_foreach(work, k, v)
    {
        char pool[300], rec[300];
        snprintf(pool, sizeof(pool), EDNS_POOL "%s", k);
        snprintf(rec, sizeof(rec), "%s.", k);
        bool had = json_object_get(json_object_get(res, "pools"), pool) != NULL;
        if (json_array_size(v) == 0) {
            if (!had)
                continue;
            if (json_object_get(json_object_get(res, "records"), rec))
                json_array_append_new(
                    gone, json_pack("{s:s, s:s+}", "op", "delete", "path", "records/", rec));
            json_array_append_new(gone,
                                  json_pack("{s:s, s:s+}", "op", "delete", "path", "pools/", pool));
            continue;
        }
        edns_name_endpoints(v);
        json_t *ttl = json_object_get(ttls, k);
        json_array_append_new(ch, json_pack("{s:s, s:s+, s:{s:O}}", "op", "put", "path", "pools/",
                                            pool, "value", "endpoints", v));
        json_array_append_new(ch,
                              json_pack("{s:s, s:s+, s:{s:s, s:s, s:I}}", "op", "put", "path",
                                        "records/", rec, "value", "pool", pool, "policy", e->policy,
                                        "ttl", (json_int_t)(ttl ? json_integer_value(ttl) : 300)));
    }
    json_array_extend(ch, gone);
    json_decref(gone);
    return ch;
}

/* Logs each refused name and says them in msg. */
static void edns_refused(json_t *refused, char *msg, size_t len)
{
    const char *k;
    json_t *v;
    size_t at = (size_t)snprintf(msg, len, "refused, not applied:");
    json_object_foreach(refused, k, v)
    {
        fprintf(stderr, "gtmctl: externaldns: refused %s: %s\n", k, json_string_value(v));
        if (at < len)
            at += (size_t)snprintf(msg + at, len - at, " %s (%s);", k, json_string_value(v));
    }
}

/* Reads gtmd's configuration into the cache; false (and no cache) when
 * gtmd did not answer it. */
static bool edns_read(struct edns *e)
{
    int rc;
    json_t *cfg = ctl_call(e->c, "GET", "/v1/config", NULL, &rc);
    if (!cfg || rc != 0) {
        json_decref(cfg);
        edns_cache_drop(&e->cache);
        return false;
    }
    return edns_cache_take(&e->cache, cfg);
}

/* The /v1/config/changes items of body's plan against the cache; names
 * that are not ExternalDNS's go to refused. */
static json_t *edns_plan(struct edns *e, json_t *body, json_t *refused)
{
    json_t *work = json_object(), *ttls = json_object(), *regions = json_object();
    static const char *const lists[4] = {"Delete", "UpdateOld", "UpdateNew", "Create"};
    for (int i = 0; i < 4; i++)
        edns_edit(e, work, ttls, regions, refused, edns_list(body, lists[i]), i >= 2);
    json_t *ch = edns_changes(e, e->cache.res, work, ttls, regions);
    json_decref(work);
    json_decref(ttls);
    json_decref(regions);
    return ch;
}

/* Sends ch as one version made on the cache's (If-Match); on success the
 * cache becomes that version. 201: 0; 412 (someone else changed gtmd's
 * configuration since it was read): 1; anything else: -1. Either failure
 * drops the cache. */
static int edns_send(struct edns *e, json_t *ch)
{
    char path[64] = "/v1/config/changes";
    if (e->cache.version) /* 0: gtmd has kept no version yet (no If-Match to send) */
        snprintf(path, sizeof(path), "/v1/config/changes?if_match=%llu",
                 (unsigned long long)e->cache.version);
    json_t *req = json_pack("{s:O, s:s}", "changes", ch, "change", "externaldns");
    int rc;
    json_t *j = ctl_call(e->c, "POST", path, req, &rc);
    json_decref(req);
    json_t *v = json_object_get(j, "version");
    int out = -1;
    if (j && rc == 0 && json_is_integer(v) && json_integer_value(v) > 0) {
        edns_cache_apply(&e->cache, ch, (uint64_t)json_integer_value(v));
        out = 0;
    } else {
        const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
        out = code && strcmp(code, "version_mismatch") == 0 ? 1 : -1;
        edns_cache_drop(&e->cache);
    }
    json_decref(j);
    return out;
}

/* POST /records: one batch of ExternalDNS's changes as one version of
 * gtmd's configuration; the HTTP status for ExternalDNS (204, or 500 and
 * it tries again: gtmd refused the batch, or some names were not
 * ExternalDNS's, said in msg, while the others were applied). Planned
 * against the cache (read first if there is none); when gtmd's
 * configuration moved on meanwhile (412) it is read and the plan made
 * again, once. */
static int ctl_externaldns_apply(struct edns *e, json_t *body, char *msg, size_t len)
{
    snprintf(msg, len, "gtmd did not take the change (see gtmctl's log)");
    int st = 500;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!e->cache.cfg && !edns_read(e))
            return 500;
        json_t *refused = json_object();
        json_t *ch = edns_plan(e, body, refused);
        int sent = json_array_size(ch) ? edns_send(e, ch) : 0;
        json_decref(ch);
        st = sent == 0 ? 204 : 500;
        if (st == 204 && json_object_size(refused)) {
            edns_refused(refused, msg, len);
            st = 500;
        }
        json_decref(refused);
        if (sent != 1)
            break;
        fprintf(stderr, "gtmctl: externaldns: gtmd's configuration changed since it was "
                        "read: reading it again\n");
    }
    return st;
}

/* The request's header name, or NULL. */
static const char *edns_header(struct evhttp_request *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

/* Whether the request has at most one Content-Length and one
 * Transfer-Encoding header (RFC 9112 6.3; libevent reads by the first, a
 * proxy in front may use another), as gtmd's admin API checks. */
static bool edns_framing_ok(struct evhttp_request *req)
{
    unsigned cl = 0, te = 0;
    const struct evkeyval *kv;
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next)
    {
        cl += strcasecmp(kv->key, "Content-Length") == 0;
        te += strcasecmp(kv->key, "Transfer-Encoding") == 0;
    }
    return cl <= 1 && te <= 1;
}

/* The route of the request once its secret is checked: the URI, or what
 * follows a first path segment that is the secret (stock ExternalDNS can
 * send no header: --webhook-provider-url=http://HOST:PORT/SECRET); NULL
 * when a secret is configured and neither the header nor the path has
 * it. */
static const char *edns_route(const struct edns *e, struct evhttp_request *req)
{
    const char *uri = evhttp_request_get_uri(req);
    if (!e->secret || edns_guard_secret_eq(edns_header(req, EDNS_SECRET_HEADER), e->secret))
        return uri;
    char seg[EDNS_SECRET_MAX + 1];
    size_t n = uri[0] == '/' ? strcspn(uri + 1, "/?") : 0;
    if (n == 0 || n > EDNS_SECRET_MAX)
        return NULL;
    memcpy(seg, uri + 1, n);
    seg[n] = '\0';
    if (!edns_guard_secret_eq(seg, e->secret))
        return NULL;
    return uri[1 + n] ? uri + 1 + n : "/";
}

/* 406 unless the Accept header allows version 1; 415 unless a body is
 * version 1 (ctl_externaldns_guard.h). False once answered. */
static bool edns_negotiated(struct evhttp_request *req, bool has_body, bool has_reply)
{
    if (has_body && !edns_guard_content_type(edns_header(req, "Content-Type"))) {
        edns_reply_text(req, 415,
                        "the body must be Content-Type: " EDNS_MEDIA
                        " (this provider speaks version 1 only)");
        return false;
    }
    if (has_reply && !edns_guard_accepts(edns_header(req, "Accept"))) {
        edns_reply_text(req, 406, "this provider answers " EDNS_MEDIA " only");
        return false;
    }
    return true;
}

static void edns_adjust(struct edns *e, struct evhttp_request *req)
{
    json_t *in = edns_body(req), *out = json_array(), *ep;
    size_t i;
    char n[EDNS_NAME_MAX];
    const char *t, *r;
    json_array_foreach(in, i, ep) if (edns_endpoint(e, ep, n, &t, &r)) json_array_append(out, ep);
    json_decref(in);
    edns_reply(req, 200, out);
}

static void edns_on_request(struct evhttp_request *req, void *arg)
{
    struct edns *e = arg;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    bool get = m == EVHTTP_REQ_GET, post = m == EVHTTP_REQ_POST;
    /* The liveness probe says nothing and the kubelet sends no secret. */
    bool health = get && strcmp(evhttp_request_get_uri(req), "/healthz") == 0;
    const char *uri = health ? "/healthz" : edns_route(e, req);
    if (!edns_framing_ok(req)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        edns_reply_text(req, 400, "more than one Content-Length or Transfer-Encoding header");
    } else if (!uri) {
        fprintf(stderr, "gtmctl: externaldns: refused a request without the secret\n");
        edns_reply_text(req, 401, "the webhook's secret is required (" EDNS_SECRET_HEADER ")");
    } else if (get && strcmp(uri, "/healthz") == 0) {
        edns_reply(req, 200, NULL);
    } else if (get && strcmp(uri, "/") == 0) {
        if (!edns_negotiated(req, false, true))
            return;
        json_t *f = json_array();
        for (size_t i = 0; i < e->n_domains; i++)
            json_array_append_new(f, json_string(e->domains[i]));
        /* "filters" as the protocol's OpenAPI has it, "include" as
         * ExternalDNS's DomainFilter reads it. */
        edns_reply(req, 200, json_pack("{s:O, s:o}", "filters", f, "include", f));
    } else if (get && strcmp(uri, "/records") == 0) {
        if (!edns_negotiated(req, false, true))
            return;
        /* ExternalDNS asks before each plan: the read is kept for the
         * POST /records that follows (ctl_externaldns_cache.h). */
        if (edns_read(e))
            edns_reply(req, 200, edns_records(e, e->cache.res));
        else
            edns_reply(req, 500, NULL);
    } else if (post && strcmp(uri, "/adjustendpoints") == 0) {
        if (edns_negotiated(req, true, true))
            edns_adjust(e, req);
    } else if (post && strcmp(uri, "/records") == 0) {
        if (!edns_negotiated(req, true, false))
            return;
        json_t *in = edns_body(req);
        char msg[2048] = "";
        int st = in ? ctl_externaldns_apply(e, in, msg, sizeof(msg)) : 400;
        json_decref(in);
        if (st == 204)
            edns_reply(req, st, NULL);
        else
            edns_reply_text(req, st, st == 400 ? "the body is not JSON" : msg);
    } else
        edns_reply(req, 404, NULL);
}

static void edns_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

/* The shared secret: the first line of path, which only its owner may
 * read (as gtmd's token files); NULL with a message on stderr. */
static char *edns_read_secret(const char *path)
{
    struct stat st;
    FILE *f = fopen(path, "r");
    if (!f || fstat(fileno(f), &st) != 0 || (st.st_mode & 077) != 0) {
        fprintf(stderr, "gtmctl: externaldns: --secret-file %s: %s\n", path,
                f ? "group and others must have no access (chmod 600)" : "cannot be read");
        if (f)
            fclose(f);
        return NULL;
    }
    char line[EDNS_SECRET_MAX + 2] = "";
    if (!fgets(line, sizeof(line), f))
        line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (strlen(line) < 16 || strchr(line, '/') || strchr(line, '?')) {
        fprintf(stderr,
                "gtmctl: externaldns: --secret-file %s: the secret must be 16 to %d "
                "characters, without '/' or '?'\n",
                path, EDNS_SECRET_MAX);
        return NULL;
    }
    return strdup(line);
}

/* Parses argv into e (the listen address into *listen); CTL_USAGE on a
 * bad one, CTL_OK. */
static int edns_args(struct edns *e, int argc, char **argv, const char **listen, bool *remote,
                     const char **secret_file)
{
    for (int i = 1; i < argc; i++) {
        bool more = i + 1 < argc;
        if (strcmp(argv[i], "--listen") == 0 && more)
            *listen = argv[++i];
        else if (strcmp(argv[i], "--domain") == 0 && more && e->n_domains < EDNS_MAX_DOMAINS) {
            char *d = argv[++i];
            size_t l = strlen(d);
            if (l && d[l - 1] == '.')
                d[l - 1] = '\0'; /* ExternalDNS names have no final dot */
            e->domains[e->n_domains++] = d;
        } else if (strcmp(argv[i], "--policy") == 0 && more)
            e->policy = argv[++i];
        else if (strcmp(argv[i], "--secret-file") == 0 && more)
            *secret_file = argv[++i];
        else if (strcmp(argv[i], "--allow-remote") == 0)
            *remote = true;
        else
            return CTL_USAGE;
    }
    const char *colon = *listen ? strrchr(*listen, ':') : NULL;
    if (!colon || e->n_domains == 0 || atoi(colon + 1) <= 0 ||
        (strcmp(e->policy, "all") != 0 && strcmp(e->policy, "weighted") != 0))
        return CTL_USAGE;
    return CTL_OK;
}

static int edns_serve(struct edns *e, const char *listen, const char *host, int port)
{
    struct event_base *base = event_base_new();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    if (!http || evhttp_bind_socket(http, host, (ev_uint16_t)port) != 0) {
        fprintf(stderr, "gtmctl: externaldns: cannot listen on %s\n", listen);
        if (http)
            evhttp_free(http);
        if (base)
            event_base_free(base);
        return CTL_UNREACHABLE;
    }
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_max_body_size(http, 16 * 1024 * 1024);
    evhttp_set_gencb(http, edns_on_request, e);
    struct event *sigs[2] = {evsignal_new(base, SIGTERM, edns_on_signal, base),
                             evsignal_new(base, SIGINT, edns_on_signal, base)};
    for (int i = 0; i < 2; i++)
        event_add(sigs[i], NULL);
    fprintf(stderr, "gtmctl: externaldns: listening on %s for %zu domain(s), gtmd at %s%s\n",
            listen, e->n_domains, e->c->server, e->secret ? ", secret required" : "");
    event_base_dispatch(base);
    for (int i = 0; i < 2; i++)
        event_free(sigs[i]);
    evhttp_free(http);
    event_base_free(base);
    return CTL_OK;
}

int ctl_externaldns(struct ctl *c, int argc, char **argv)
{
    struct edns e = {.c = c, .policy = "all"};
    /* ExternalDNS's default --webhook-provider-url is http://localhost:8888. */
    const char *listen = "127.0.0.1:8888", *secret_file = NULL;
    bool remote = false;
    if (edns_args(&e, argc, argv, &listen, &remote, &secret_file) != CTL_OK) {
        ctl_externaldns_usage(stderr);
        return CTL_USAGE;
    }
    const char *colon = strrchr(listen, ':');
    char host[256];
    snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
    if (!edns_guard_loopback(host) && !remote) {
        /* Anyone who reaches the port could change gtmd's records with the
         * operate token this process holds. */
        fprintf(stderr,
                "gtmctl: externaldns: --listen %s is not a loopback address; run beside "
                "ExternalDNS on 127.0.0.1, or add --allow-remote (with --secret-file)\n",
                listen);
        return CTL_USAGE;
    }
    if (secret_file && !(e.secret = edns_read_secret(secret_file)))
        return CTL_USAGE;
    if (!edns_guard_loopback(host) && !e.secret)
        fprintf(stderr,
                "gtmctl: externaldns: warning: listening on %s with no --secret-file: "
                "whoever reaches it can change gtmd's ExternalDNS records\n",
                listen);
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') { /* [::1]:8888 */
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    int rc = edns_serve(&e, listen, host, atoi(colon + 1));
    edns_cache_drop(&e.cache);
    free(e.secret);
    return rc;
}
