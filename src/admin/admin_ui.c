/*
 * admin_ui.c -- GET /ui/: the operator console (doc/console.md).
 *
 * The page, its stylesheet and its ES modules are compiled into the binary
 * (admin_ui_assets.h). They are served without a token: they hold no
 * data; every fact the page shows comes from the API with the bearer
 * token the operator signs in with. The headers make the page safe to
 * open next to other sites: a Content-Security-Policy that allows only
 * this origin's files (no inline script or style, no framing, no form
 * posts), no MIME sniffing, no Referer, and no caching beyond a
 * revalidation (the files change with the binary).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "admin/admin_ui_assets.h"

#define ADMIN_UI_CSP                                                                               \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "                 \
    "frame-ancestors 'none'"

static const struct admin_ui_asset *admin_ui_find(const char *name)
{
    for (const struct admin_ui_asset *f = admin_ui_assets; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

/* The headers of every /ui reply, errors included. */
static void admin_ui_headers(struct evkeyvalq *h)
{
    evhttp_add_header(h, "Content-Security-Policy", ADMIN_UI_CSP);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
    evhttp_add_header(h, "Cross-Origin-Resource-Policy", "same-origin");
}

bool admin_ui_path(const char *path)
{
    return strcmp(path, "/ui") == 0 || strncmp(path, "/ui/", 4) == 0;
}

void admin_handle_ui(struct admin_req *r)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    admin_ui_headers(h);
    if (strcmp(r->path, "/ui") == 0) {
        /* Relative module paths need the slash. */
        evhttp_add_header(h, "Location", "/ui/");
        admin_reply_error(r, 301, "moved", "the console is at /ui/");
        return;
    }
    const char *name = r->path + 4;
    const struct admin_ui_asset *f = admin_ui_find(*name ? name : "index.html");
    if (!f) {
        admin_reply_error(r, 404, "not_found", "no such console file: %s", r->path);
        return;
    }
    evhttp_add_header(h, "Content-Type", f->type);
    evhttp_add_header(h, "Cache-Control", "no-cache");
    struct evbuffer *b = evbuffer_new();
    if (!b)
        abort();
    evbuffer_add_reference(b, f->data, f->len, NULL, NULL);
    admin_conn_replied(r->a, r->req);
    bool was = r->a->replying;
    r->a->replying = true; /* what evhttp writes now is ours (admin_conn.c) */
    evhttp_send_reply(r->req, 200, "OK", b);
    r->a->replying = was;
    evbuffer_free(b);
}
