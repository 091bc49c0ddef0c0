/*
 * geo_db.c -- opening a MaxMind DB and flattening it into a geo_trie plus
 * a deduplicated location table (see geo_db.h for why).
 */
#include "geo/geo_db.h"
#include "geo/geo_db_int.h"

#include <errno.h>
#include <math.h>
#include <maxminddb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/hash.h"

struct flat_ctx {
    MMDB_s *mmdb;
    struct geo_db *db;
    unsigned max_bits;
    geo_ref *memo;          /* per MMDB node: its flattened ref, GEO_REF_NONE until done */
    uint8_t *height;        /* per MMDB node: depth of its subtree */
    struct geo_u64map recs; /* data record (tree record value) -> location index */
    struct geo_intern intern;
    bool failed;
    char *err;
    size_t errlen;
};

static void flat_fail(struct flat_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void flat_fail(struct flat_ctx *c, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
}

void *geo_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

static void geo_u64map_grow(struct geo_u64map *m)
{
    struct geo_u64map o = *m;
    m->cap = o.cap ? o.cap * 2 : 1024;
    m->keys = geo_xcalloc(m->cap, sizeof(*m->keys));
    m->vals = geo_xcalloc(m->cap, sizeof(*m->vals));
    for (size_t i = 0; i < o.cap; i++) {
        if (!o.keys[i])
            continue;
        size_t j = hash_fmix64(o.keys[i]) & (m->cap - 1);
        while (m->keys[j])
            j = (j + 1) & (m->cap - 1);
        m->keys[j] = o.keys[i];
        m->vals[j] = o.vals[i];
    }
    free(o.keys);
    free(o.vals);
}

size_t geo_u64map_slot(struct geo_u64map *m, uint64_t key)
{
    if ((m->n + 1) * 2 > m->cap)
        geo_u64map_grow(m);
    size_t j = hash_fmix64(key + 1) & (m->cap - 1);
    while (m->keys[j] && m->keys[j] != key + 1)
        j = (j + 1) & (m->cap - 1);
    return j;
}

void geo_u64map_free(struct geo_u64map *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->n = 0;
}

static uint64_t loc_hash(const struct geo_location *l)
{
    const unsigned char *p = (const unsigned char *)l;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof(*l); i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return hash_fmix64(h);
}

static void loc_slots_grow(struct geo_db *db, struct geo_intern *it)
{
    free(it->slots);
    it->cap = it->cap ? it->cap * 2 : 1024;
    it->slots = malloc(it->cap * sizeof(*it->slots));
    if (!it->slots)
        abort();
    memset(it->slots, 0xff, it->cap * sizeof(*it->slots));
    for (uint32_t i = 0; i < db->n_locs; i++) {
        size_t j = loc_hash(&db->locs[i]) & (it->cap - 1);
        while (it->slots[j] != UINT32_MAX)
            j = (j + 1) & (it->cap - 1);
        it->slots[j] = i;
    }
}

uint32_t geo_intern_add(struct geo_db *db, struct geo_intern *it, const struct geo_location *l)
{
    if ((size_t)(db->n_locs + 1) * 2 > it->cap)
        loc_slots_grow(db, it);
    size_t j = loc_hash(l) & (it->cap - 1);
    while (it->slots[j] != UINT32_MAX) {
        if (memcmp(&db->locs[it->slots[j]], l, sizeof(*l)) == 0)
            return it->slots[j];
        j = (j + 1) & (it->cap - 1);
    }
    if (db->n_locs == it->locs_cap) {
        it->locs_cap = it->locs_cap ? it->locs_cap * 2 : 256;
        db->locs = realloc(db->locs, (size_t)it->locs_cap * sizeof(*db->locs));
        if (!db->locs)
            abort();
    }
    db->locs[db->n_locs] = *l;
    it->slots[j] = db->n_locs;
    return db->n_locs++;
}

/* One value at path; false when absent or of another shape (not an
 * error: the field is then treated as missing), failing the load only
 * when the data section itself is broken. */
static bool flat_value(struct flat_ctx *c, MMDB_entry_s *e, const char *const *path,
                       MMDB_entry_data_s *out)
{
    int st = MMDB_aget_value(e, out, path);
    if (st == MMDB_SUCCESS)
        return out->has_data;
    if (st != MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR && st != MMDB_INVALID_LOOKUP_PATH_ERROR)
        flat_fail(c, "corrupt data record at offset %u: %s", e->offset, MMDB_strerror(st));
    return false;
}

/* Copies a string of min..max characters from [A-Z] (and [0-9] when
 * digits) into dst; false when the value is anything else. */
static bool flat_code(struct flat_ctx *c, MMDB_entry_s *e, const char *const *path, char *dst,
                      size_t min, size_t max, bool digits)
{
    MMDB_entry_data_s d;
    if (!flat_value(c, e, path, &d) || d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size < min ||
        d.data_size > max)
        return false;
    for (size_t i = 0; i < d.data_size; i++) {
        char ch = d.utf8_string[i];
        if (!((ch >= 'A' && ch <= 'Z') || (digits && ch >= '0' && ch <= '9')))
            return false;
    }
    memcpy(dst, d.utf8_string, d.data_size);
    return true;
}

static bool flat_degrees(struct flat_ctx *c, MMDB_entry_s *e, const char *key, double lim,
                         double *out)
{
    const char *const path[] = {"location", key, NULL};
    MMDB_entry_data_s d;
    if (!flat_value(c, e, path, &d))
        return false;
    if (d.type == MMDB_DATA_TYPE_DOUBLE)
        *out = d.double_value;
    else if (d.type == MMDB_DATA_TYPE_FLOAT)
        *out = d.float_value;
    else
        return false;
    return isfinite(*out) && *out >= -lim && *out <= lim;
}

/* autonomous_system_number (GeoLite2-ASN, GeoIP2-ISP): an unsigned
 * integer of any width the format has, 1..4294967295 (0 is reserved). */
static bool flat_asn(struct flat_ctx *c, MMDB_entry_s *e, uint32_t *out)
{
    static const char *const path[] = {"autonomous_system_number", NULL};
    MMDB_entry_data_s d;
    if (!flat_value(c, e, path, &d))
        return false;
    uint64_t v;
    if (d.type == MMDB_DATA_TYPE_UINT16)
        v = d.uint16;
    else if (d.type == MMDB_DATA_TYPE_UINT32)
        v = d.uint32;
    else if (d.type == MMDB_DATA_TYPE_UINT64)
        v = d.uint64;
    else if (d.type == MMDB_DATA_TYPE_INT32 && d.int32 >= 0)
        v = (uint64_t)d.int32;
    else
        return false;
    if (v == 0 || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Decodes the used fields of one data record into l. */
static void flat_decode(struct flat_ctx *c, MMDB_entry_s *e, struct geo_location *l)
{
    static const char *const p_cont[] = {"continent", "code", NULL};
    static const char *const p_country[] = {"country", "iso_code", NULL};
    static const char *const p_sub[] = {"subdivisions", "0", "iso_code", NULL};
    memset(l, 0, sizeof(*l));
    if (flat_code(c, e, p_cont, l->continent, 2, 2, false))
        l->flags |= GEO_HAS_CONTINENT;
    if (flat_code(c, e, p_country, l->country, 2, 2, false))
        l->flags |= GEO_HAS_COUNTRY;
    /* A subdivision code means something only within its country. */
    if ((l->flags & GEO_HAS_COUNTRY) && flat_code(c, e, p_sub, l->subdivision, 1, 3, true))
        l->flags |= GEO_HAS_SUBDIVISION;
    double lat, lon;
    if (flat_degrees(c, e, "latitude", 90, &lat) && flat_degrees(c, e, "longitude", 180, &lon)) {
        l->lat = lat;
        l->lon = lon;
        l->flags |= GEO_HAS_COORDS;
    }
    if (flat_asn(c, e, &l->asn))
        l->flags |= GEO_HAS_ASN;
}

/* The location index of a data record, decoding it the first time. */
static uint32_t flat_data(struct flat_ctx *c, uint64_t rec, MMDB_entry_s entry)
{
    size_t j = geo_u64map_slot(&c->recs, rec);
    if (c->recs.keys[j])
        return c->recs.vals[j];
    struct geo_location l;
    flat_decode(c, &entry, &l);
    struct geo_db_stats *s = &c->db->stats;
    s->records++;
    for (unsigned b = 0; b < 5; b++)
        s->with_field[b] += (l.flags >> b) & 1u;
    uint32_t idx = l.flags ? geo_intern_add(c->db, &c->intern, &l) : GEO_LOC_UNKNOWN;
    c->recs.keys[j] = rec + 1;
    c->recs.vals[j] = idx;
    c->recs.n++;
    return idx;
}

static geo_ref flat_node(struct flat_ctx *c, uint32_t node, unsigned depth, uint8_t *h);

static geo_ref flat_record(struct flat_ctx *c, uint8_t type, uint64_t rec, MMDB_entry_s entry,
                           unsigned depth, uint8_t *h)
{
    *h = 0;
    switch (type) {
    case MMDB_RECORD_TYPE_SEARCH_NODE:
        return flat_node(c, (uint32_t)rec, depth, h);
    case MMDB_RECORD_TYPE_EMPTY:
        return geo_ref_leaf(GEO_LOC_UNKNOWN);
    case MMDB_RECORD_TYPE_DATA:
        return geo_ref_leaf(flat_data(c, rec, entry));
    default:
        flat_fail(c, "corrupt search tree: record %llu points outside the file",
                  (unsigned long long)rec);
        return geo_ref_leaf(GEO_LOC_UNKNOWN);
    }
}

/* Flattens the subtree of MMDB node `node` reached at `depth` bits. A
 * node reached again (an alias) is not walked twice; a cycle runs into the
 * depth limit. */
static geo_ref flat_node(struct flat_ctx *c, uint32_t node, unsigned depth, uint8_t *h)
{
    if (c->failed)
        return geo_ref_leaf(GEO_LOC_UNKNOWN);
    if (depth >= c->max_bits) {
        flat_fail(c, "corrupt search tree: deeper than %u bits", c->max_bits);
        return geo_ref_leaf(GEO_LOC_UNKNOWN);
    }
    if (c->memo[node] != GEO_REF_NONE) {
        c->db->stats.alias_hits++;
        if (depth + c->height[node] > c->max_bits)
            flat_fail(c, "corrupt search tree: node %u reached at depth %u", node, depth);
        *h = c->height[node];
        return c->memo[node];
    }
    MMDB_search_node_s sn;
    int st = MMDB_read_node(c->mmdb, node, &sn);
    if (st != MMDB_SUCCESS) {
        flat_fail(c, "cannot read search tree node %u: %s", node, MMDB_strerror(st));
        return geo_ref_leaf(GEO_LOC_UNKNOWN);
    }
    uint8_t hl, hr;
    geo_ref l =
        flat_record(c, sn.left_record_type, sn.left_record, sn.left_record_entry, depth + 1, &hl);
    geo_ref r = flat_record(c, sn.right_record_type, sn.right_record, sn.right_record_entry,
                            depth + 1, &hr);
    geo_ref out = geo_trie_node(&c->db->trie, l, r);
    *h = geo_ref_is_leaf(out) ? 0 : (uint8_t)(1 + (hl > hr ? hl : hr));
    c->memo[node] = out;
    c->height[node] = *h;
    return out;
}

static uint64_t flat_count_networks(const struct geo_trie *t, geo_ref r, uint8_t *seen)
{
    if (geo_ref_is_leaf(r))
        return geo_ref_value(r) != GEO_LOC_UNKNOWN;
    if (seen[r])
        return 0;
    seen[r] = 1;
    return flat_count_networks(t, t->nodes[r].child[0], seen) +
           flat_count_networks(t, t->nodes[r].child[1], seen);
}

struct sample_walk {
    struct geo_db *db;
    uint8_t *seen; /* per trie node: visited */
    unsigned family;
    uint8_t addr[16];
};

static void sample_add(struct sample_walk *w, uint32_t loc, uint8_t prefix)
{
    struct geo_db *db = w->db;
    if (loc == GEO_LOC_UNKNOWN || db->n_samples == GEO_DB_SAMPLES)
        return;
    for (size_t i = 0; i < db->n_samples; i++)
        if (db->samples[i].loc == loc)
            return;
    struct geo_db_sample *s = &db->samples[db->n_samples++];
    memcpy(s->addr, w->addr, sizeof(s->addr));
    s->family = w->family;
    s->prefix = prefix;
    s->loc = loc;
}

/* Depth-first, bit 0 first: the lowest network of each location found
 * first. Nodes reached again (the DAG's aliases) hold nothing new. */
static void sample_walk(struct sample_walk *w, geo_ref r, unsigned depth)
{
    if (geo_ref_is_leaf(r)) {
        sample_add(w, geo_ref_value(r), (uint8_t)depth);
        return;
    }
    if (w->seen[r] || w->db->n_samples == GEO_DB_SAMPLES)
        return;
    w->seen[r] = 1;
    for (unsigned bit = 0; bit < 2; bit++) {
        uint8_t mask = (uint8_t)(0x80u >> (depth % 8));
        w->addr[depth / 8] =
            (uint8_t)(bit ? w->addr[depth / 8] | mask : w->addr[depth / 8] & ~mask);
        sample_walk(w, w->db->trie.nodes[r].child[bit], depth + 1);
    }
    w->addr[depth / 8] &= (uint8_t) ~(0x80u >> (depth % 8));
}

static void geo_db_find_samples(struct geo_db *db)
{
    struct sample_walk w = {.db = db, .seen = geo_xcalloc(db->trie.n_nodes, 1)};
    w.family = GEO_FAMILY_IPV4;
    sample_walk(&w, db->trie.root4, 0);
    if (db->ip_version == 6) {
        memset(w.addr, 0, sizeof(w.addr));
        w.family = GEO_FAMILY_IPV6;
        sample_walk(&w, db->trie.root6, 0);
    }
    free(w.seen);
}

/* Walks the whole tree into db; false (with c->err set) on failure. */
static bool flat_tree(struct flat_ctx *c)
{
    struct geo_db *db = c->db;
    uint32_t n = c->mmdb->metadata.node_count;
    c->memo = malloc((n ? n : 1) * sizeof(*c->memo));
    c->height = geo_xcalloc(n, 1);
    if (!c->memo)
        abort();
    memset(c->memo, 0xff, (size_t)n * sizeof(*c->memo));
    struct geo_location none;
    memset(&none, 0, sizeof(none));
    geo_intern_add(db, &c->intern, &none); /* GEO_LOC_UNKNOWN */
    uint8_t h;
    geo_ref root = n ? flat_node(c, 0, 0, &h) : geo_ref_leaf(GEO_LOC_UNKNOWN);
    if (db->ip_version == 4) {
        db->trie.root4 = root;
    } else {
        db->trie.root6 = root;
        geo_ref r = root;
        for (unsigned d = 0; d < 96 && !geo_ref_is_leaf(r); d++)
            r = db->trie.nodes[r].child[0];
        db->trie.root4 = r;
    }
    free(c->memo);
    free(c->height);
    if (c->failed)
        return false;
    geo_db_finish(db);
    if (db->stats.records == 0)
        flat_fail(c, "the database holds no networks");
    else if (db->n_locs <= 1)
        flat_fail(c, "no record has any field gtmd uses (continent.code, country.iso_code, "
                     "subdivisions[0].iso_code, location.latitude/longitude, "
                     "autonomous_system_number)");
    return !c->failed;
}

void geo_db_finish(struct geo_db *db)
{
    uint8_t *seen = geo_xcalloc(db->trie.n_nodes, 1);
    /* root4 is inside root6 in an IPv6 tree (counted there), apart in an
     * IPv4 one (whose root6 is a leaf). */
    db->stats.networks = flat_count_networks(&db->trie, db->trie.root6, seen) +
                         flat_count_networks(&db->trie, db->trie.root4, seen);
    free(seen);
    db->n_samples = 0;
    geo_db_find_samples(db);
}

static double geo_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct geo_db *geo_db_open(const char *path, char *err, size_t errlen)
{
    double t0 = geo_now();
    MMDB_s mmdb;
    /* libmaxminddb opens whatever it is given: a FIFO would block the
     * loader (and a reload) forever, a directory or a device fails with a
     * vaguer message. */
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "cannot open: not a regular file");
        return NULL;
    }
    errno = 0;
    int st = MMDB_open(path, MMDB_MODE_MMAP, &mmdb);
    if (st != MMDB_SUCCESS) {
        /* libmaxminddb says only "Error opening the specified MaxMind DB
         * file"; errno still tells why. */
        int e = errno;
        if (st == MMDB_FILE_OPEN_ERROR && e)
            snprintf(err, errlen, "cannot open: %s", strerror(e));
        else
            snprintf(err, errlen, "cannot open: %s", MMDB_strerror(st));
        return NULL;
    }
    struct geo_db *db = geo_xcalloc(1, sizeof(*db));
    geo_trie_init(&db->trie, GEO_LOC_UNKNOWN);
    db->ip_version = mmdb.metadata.ip_version;
    db->build_epoch = mmdb.metadata.build_epoch;
    db->type = strdup(mmdb.metadata.database_type ? mmdb.metadata.database_type : "");
    db->path = strdup(path);
    if (!db->type || !db->path)
        abort();
    db->stats.mmdb_nodes = mmdb.metadata.node_count;
    struct flat_ctx c = {.mmdb = &mmdb, .db = db, .err = err, .errlen = errlen};
    c.max_bits = db->ip_version == 4 ? 32 : 128;
    bool ok = false;
    if (db->ip_version != 4 && db->ip_version != 6)
        flat_fail(&c, "ip_version %u in the metadata (must be 4 or 6)", db->ip_version);
    else
        ok = flat_tree(&c);
    geo_u64map_free(&c.recs);
    free(c.intern.slots);
    MMDB_close(&mmdb);
    if (!ok) {
        geo_db_free(db);
        return NULL;
    }
    geo_trie_shrink(&db->trie);
    db->locs = realloc(db->locs, (size_t)db->n_locs * sizeof(*db->locs));
    if (!db->locs)
        abort();
    db->stats.load_seconds = geo_now() - t0;
    return db;
}

void geo_db_free(struct geo_db *db)
{
    if (!db)
        return;
    geo_trie_free(&db->trie);
    free(db->locs);
    free(db->path);
    free(db->type);
    free(db->asn_path);
    free(db->asn_type);
    free(db);
}

size_t geo_db_bytes(const struct geo_db *db)
{
    return geo_trie_bytes(&db->trie) + (size_t)db->n_locs * sizeof(struct geo_location);
}
