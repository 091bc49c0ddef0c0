/*
 * fleet_read.c -- the fresh read of everything under the prefix (at start
 * and after any loss of etcd), in pages.
 *
 * One request for a whole prefix grows with the fleet (a node of a big
 * fleet would ask for hundreds of MB at once, every node at once after an
 * etcd outage). So the read asks for at most read_page keys at a time,
 * each page starting right after the last key of the one before (key +
 * "\0"), and every page after the first at the first page's revision: the
 * pages are one snapshot (a compaction of that revision meanwhile fails
 * the read, which starts over). The configuration's versions (config/v/)
 * are left out: fetched when needed (fleet_config.c). The pages are
 * gathered and applied as one reply (fleet_sync_read_range).
 *
 * Fleet thread only (read_pages under f->lock).
 */
#include <stdlib.h>
#include <string.h>

#include "fleet/fleet_int.h"

struct fleet_page {
    struct fleet *f;
    unsigned gen; /* f->sync_step when sent: a reply of an older sync is ignored */
    int part;     /* 0: prefix .. config/v/, 1: config/v0 .. the prefix's end */
};

static void fleet_read_page(struct fleet *f, int part, json_t *from);

/* The key right after the last of kvs (key + "\0", base64); NULL when the
 * last key is not base64. */
static json_t *fleet_read_next(json_t *kvs)
{
    size_t len;
    const char *kb =
        json_string_value(json_object_get(json_array_get(kvs, json_array_size(kvs) - 1), "key"));
    char *last = kb ? etcd_unb64(kb, &len) : NULL;
    if (!last)
        return NULL;
    char *next = malloc(len + 1);
    if (!next)
        abort();
    memcpy(next, last, len);
    next[len] = '\0';
    char *b = etcd_b64(next, len + 1);
    json_t *j = json_string(b);
    free(last);
    free(next);
    free(b);
    return j;
}

static void fleet_read_on_page(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_page *c = arg;
    struct fleet *f = c->f;
    int part = c->part;
    unsigned gen = c->gen;
    free(c);
    if (gen != f->sync_step || st == ETCD_ERR_CANCELLED ||
        !fleet_sync_reply(f, gen, st, "range", err))
        return;
    if (!f->read_rev)
        f->read_rev =
            etcd_json_int(json_object_get(json_object_get(resp, "header"), "revision"), 0);
    json_t *kvs = json_object_get(resp, "kvs");
    json_array_extend(f->read_kvs, kvs);
    pthread_mutex_lock(&f->lock);
    f->read_pages++;
    pthread_mutex_unlock(&f->lock);
    if (json_is_true(json_object_get(resp, "more")) && json_array_size(kvs) > 0) {
        json_t *next = fleet_read_next(kvs);
        if (!next)
            fleet_sync_failed(f, "range", "a page's last key is not base64");
        else
            fleet_read_page(f, part, next);
        return;
    }
    if (part == 0) { /* past the configuration's versions */
        char *after = fleet_key(f, "config/v0", NULL, NULL);
        fleet_read_page(f, 1, fleet_b64s(after));
        free(after);
        return;
    }
    json_t *one = json_pack("{s:{s:I}, s:o}", "header", "revision", (json_int_t)f->read_rev, "kvs",
                            f->read_kvs);
    f->read_kvs = NULL;
    fleet_sync_read_range(f, one);
    json_decref(one);
    fleet_sync_after_range(f);
}

/* Asks for part's keys from key from (base64, taken): at most read_page of
 * them, at the read's revision once the first page set it. */
static void fleet_read_page(struct fleet *f, int part, json_t *from)
{
    char *end = etcd_prefix_end_b64(f->p.prefix);
    char *skip = fleet_key(f, "config/v/", NULL, NULL);
    json_t *b = json_pack("{s:o, s:o, s:I}", "key", from, "range_end",
                          part == 0 ? fleet_b64s(skip) : json_string(end), "limit",
                          (json_int_t)f->p.read_page);
    free(end);
    free(skip);
    if (f->read_rev)
        json_object_set_new(b, "revision", json_integer((json_int_t)f->read_rev));
    struct fleet_page *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    *c = (struct fleet_page){.f = f, .gen = f->sync_step, .part = part};
    etcd_call(f->etcd, "/v3/kv/range", b, fleet_read_on_page, c);
}

void fleet_read_start(struct fleet *f)
{
    json_decref(f->read_kvs);
    f->read_kvs = json_array();
    f->read_rev = 0;
    f->range_sent = deadline_mono();
    fleet_read_page(f, 0, fleet_b64s(f->p.prefix));
}
