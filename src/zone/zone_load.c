/*
 * zone_load.c -- reads an RFC 1035 master file with ldns into a zone.
 */
#include "zone/zone_load.h"

#include <errno.h>
#include <fcntl.h>
#include <ldns/ldns.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns.h"
#include "dns/name.h"
#include "zone/zone_build.h"
#include "zone/zone_sign.h"

#define ZONE_LOAD_MAX_INCLUDE_DEPTH 8
/* $INCLUDEs read per zone, in all: depth alone still lets a file that
 * includes itself k times make k^8 reads. 63 plus the main file is what
 * the builder's file table names in messages. */
#define ZONE_LOAD_MAX_INCLUDES 63

struct load_ctx {
    struct zone_builder b;
    ldns_rdf *zone_origin; /* the zone's apex, for the "outside the zone" check */
    ldns_buffer *buf;
    uint32_t default_ttl;
    unsigned n_includes; /* $INCLUDE files read so far */
    struct errlist *errs;
    const char *display; /* the zone file as named in messages */
    /* Signing at load: the records go to dz first (it owns them); recs
     * remembers where each came from, for the builder's messages. */
    ldns_dnssec_zone *dz;
    struct load_rec *recs;
    size_t n_recs, cap_recs;
};

struct load_rec {
    ldns_rr *rr; /* owned by load_ctx.dz */
    uint16_t file_idx;
    uint32_t line;
};

static void load_file(struct load_ctx *c, FILE *fp, const char *path, uint16_t file_idx,
                      ldns_rdf **origin, int depth);

/* Opens a zone or $INCLUDE file for reading. Only a regular file: a
 * directory never reaches end-of-file, a FIFO or a device such as /dev/zero
 * may block or never end, and any of them would hang a load (and a reload
 * holding the reload lock). NULL with errno set (EINVAL for the others). */
static FILE *load_open(const char *path)
{
    /* O_NONBLOCK: opening a FIFO without a writer must not block. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return NULL;
    int rc = fstat(fd, &st);
    if (rc != 0 || !S_ISREG(st.st_mode)) {
        int e = rc != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        close(fd);
        errno = e;
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    FILE *fp = fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0 ? NULL : fdopen(fd, "r");
    if (!fp)
        close(fd);
    return fp;
}

/* The reason load_open failed, for messages. */
static const char *load_open_error(int e)
{
    return e == EINVAL ? "not a regular file" : strerror(e);
}

/* Hands one record to the builder (file_idx/line name its origin in
 * messages; 0/0 for records made by signing). */
static void load_emit(struct load_ctx *c, const ldns_rr *rr, uint16_t file_idx, uint32_t line)
{
    const ldns_rdf *owner = ldns_rr_owner(rr);
    ldns_buffer_clear(c->buf);
    if (ldns_rr_rdata2buffer_wire(c->buf, rr) != LDNS_STATUS_OK ||
        ldns_buffer_position(c->buf) > 65535) {
        errlist_add(c->errs, "%s: a record made by signing cannot be encoded", c->display);
        return;
    }
    zone_builder_add(&c->b, ldns_rdf_data(owner), ldns_rdf_size(owner),
                     (uint16_t)ldns_rr_get_type(rr), ldns_rr_ttl(rr), ldns_buffer_begin(c->buf),
                     ldns_buffer_position(c->buf), file_idx, line);
}

/* Adds a copy of rr to c->dz and returns it (owned by c->dz), or NULL
 * when an equal record is there already: ldns drops an equal record
 * without saying so (and without freeing it), so look first. */
static ldns_rr *load_dz_add(struct load_ctx *c, const ldns_rr *rr)
{
    ldns_dnssec_rrsets *set =
        ldns_dnssec_zone_find_rrset(c->dz, ldns_rr_owner(rr), ldns_rr_get_type(rr));
    for (ldns_dnssec_rrs *r = set ? set->rrs : NULL; r; r = r->next)
        if (ldns_rr_compare(r->rr, rr) == 0)
            return NULL;
    ldns_rr *copy = ldns_rr_clone(rr);
    if (!copy)
        abort();
    if (ldns_dnssec_zone_add_rr(c->dz, copy) != LDNS_STATUS_OK) {
        ldns_rr_free(copy);
        return NULL;
    }
    return copy;
}

/* A zone signed at load: keeps a copy of rr in c->dz for ldns to sign.
 * Signatures and denial records in the file would be stale or clash with
 * the ones gtmd makes: refused. */
static void load_keep_rr(struct load_ctx *c, const ldns_rr *rr, const char *path, uint16_t file_idx,
                         int line)
{
    ldns_rr_type t = ldns_rr_get_type(rr);
    if (t == LDNS_RR_TYPE_RRSIG || t == LDNS_RR_TYPE_NSEC || t == LDNS_RR_TYPE_NSEC3 ||
        t == LDNS_RR_TYPE_NSEC3PARAM) {
        errlist_add(c->errs,
                    "%s:%d: the zone is signed at load (\"dnssec\": {\"keys\": ...}): give gtmd "
                    "the unsigned file, without RRSIG, NSEC, NSEC3 or NSEC3PARAM records",
                    path, line);
        return;
    }
    if (c->n_recs == c->cap_recs) {
        c->cap_recs = c->cap_recs ? c->cap_recs * 2 : 256;
        c->recs = realloc(c->recs, c->cap_recs * sizeof(*c->recs));
        if (!c->recs)
            abort();
    }
    ldns_rr *copy = load_dz_add(c, rr);
    if (copy)
        c->recs[c->n_recs++] = (struct load_rec){copy, file_idx, (uint32_t)line};
}

/* Adds one parsed record after checking class, TTL and bailiwick. */
static void load_add_rr(struct load_ctx *c, ldns_rr *rr, const char *path, uint16_t file_idx,
                        int line)
{
    ldns_rdf *owner = ldns_rr_owner(rr);
    if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
        errlist_add(c->errs, "%s:%d: only class IN is served", path, line);
        return;
    }
    if (ldns_rr_ttl(rr) > 0x7fffffffu) {
        errlist_add(c->errs, "%s:%d: TTL %u is above 2147483647 (RFC 2181 §8)", path, line,
                    ldns_rr_ttl(rr));
        return;
    }
    if (ldns_dname_compare(owner, c->zone_origin) != 0 &&
        !ldns_dname_is_subdomain(owner, c->zone_origin)) {
        char *o = ldns_rdf2str(owner);
        char *z = ldns_rdf2str(c->zone_origin);
        errlist_add(c->errs, "%s:%d: %s is outside the zone %s", path, line, o ? o : "?",
                    z ? z : "?");
        free(o);
        free(z);
        return;
    }
    ldns_buffer_clear(c->buf);
    if (ldns_rr_rdata2buffer_wire(c->buf, rr) != LDNS_STATUS_OK ||
        ldns_buffer_position(c->buf) > 65535) {
        errlist_add(c->errs, "%s:%d: record data cannot be encoded", path, line);
        return;
    }
    if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_OPT) {
        errlist_add(c->errs, "%s:%d: OPT is not a zone record type", path, line);
        return;
    }
    if (c->dz)
        load_keep_rr(c, rr, path, file_idx, line);
    else
        load_emit(c, rr, file_idx, (uint32_t)line);
}

/* ldns reports $INCLUDE without its argument: re-read the directive's line
 * from where the failed read started and parse "file [origin]" ourselves. */
static bool load_include_args(FILE *fp, long start, char *file, size_t flen, char *org, size_t olen)
{
    char line[4096];
    long end = ftell(fp);
    if (start < 0 || fseek(fp, start, SEEK_SET) != 0)
        return false;
    bool found = false;
    while (ftell(fp) < end && fgets(line, sizeof(line), fp)) {
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "$INCLUDE", 8) != 0)
            continue;
        org[0] = '\0';
        file[0] = '\0';
        char fmt[64];
        snprintf(fmt, sizeof(fmt), "%%%zus %%%zus", flen - 1, olen - 1);
        found = sscanf(p + 8, fmt, file, org) >= 1;
        if (org[0] == ';')
            org[0] = '\0';
        break;
    }
    fseek(fp, end, SEEK_SET);
    return found;
}

static void load_include(struct load_ctx *c, FILE *fp, long start, const char *path, int line,
                         ldns_rdf *origin, int depth)
{
    char file[PATH_MAX], org[1024], full[PATH_MAX * 2];
    if (!load_include_args(fp, start, file, sizeof(file), org, sizeof(org))) {
        errlist_add(c->errs, "%s:%d: $INCLUDE needs a file name", path, line);
        return;
    }
    if (depth >= ZONE_LOAD_MAX_INCLUDE_DEPTH) {
        errlist_add(c->errs, "%s:%d: $INCLUDE nested more than %d deep", path, line,
                    ZONE_LOAD_MAX_INCLUDE_DEPTH);
        return;
    }
    if (c->n_includes >= ZONE_LOAD_MAX_INCLUDES) {
        errlist_add(c->errs, "%s:%d: more than %d $INCLUDE files in one zone", path, line,
                    ZONE_LOAD_MAX_INCLUDES);
        return;
    }
    c->n_includes++;
    if (file[0] == '/')
        snprintf(full, sizeof(full), "%s", file);
    else {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", path);
        snprintf(full, sizeof(full), "%s/%s", dirname(dir), file);
    }
    FILE *inc = load_open(full);
    if (!inc) {
        errlist_add(c->errs, "%s:%d: $INCLUDE %s: %s", path, line, full, load_open_error(errno));
        return;
    }
    /* The included file starts at the given origin (or ours) and cannot
     * change the including file's origin (RFC 1035 §5.1). */
    ldns_rdf *inc_origin = NULL;
    if (org[0] && ldns_str2rdf_dname(&inc_origin, org) != LDNS_STATUS_OK) {
        errlist_add(c->errs, "%s:%d: $INCLUDE origin %s is not a valid name", path, line, org);
        fclose(inc);
        return;
    }
    if (!inc_origin)
        inc_origin = ldns_rdf_clone(origin);
    load_file(c, inc, full, zone_builder_add_file(&c->b, full), &inc_origin, depth + 1);
    ldns_rdf_deep_free(inc_origin);
    fclose(inc);
}

static void load_file(struct load_ctx *c, FILE *fp, const char *path, uint16_t file_idx,
                      ldns_rdf **origin, int depth)
{
    ldns_rdf *prev = NULL;
    int line = 1;
    for (;;) {
        long start = ftell(fp);
        int first_line = line;
        ldns_rr *rr = NULL;
        ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp, &c->default_ttl, origin, &prev, &line);
        /* ldns counts the newline that ends a record: report its last line. */
        int at = line > first_line ? line - 1 : line;
        /* A $ORIGIN ldns cannot parse leaves no origin at all (the error is
         * reported below); go on from the zone's apex rather than handing a
         * NULL origin to ldns or to $INCLUDE. */
        if (!*origin)
            *origin = ldns_rdf_clone(c->zone_origin);
        if (s == LDNS_STATUS_OK) {
            load_add_rr(c, rr, path, file_idx, at);
            ldns_rr_free(rr);
        } else if (s == LDNS_STATUS_SYNTAX_INCLUDE) {
            load_include(c, fp, start, path, at, *origin, depth);
        } else if (s != LDNS_STATUS_SYNTAX_EMPTY && s != LDNS_STATUS_SYNTAX_TTL &&
                   s != LDNS_STATUS_SYNTAX_ORIGIN) {
            if (feof(fp) && s == LDNS_STATUS_SYNTAX_ERR && start == ftell(fp))
                break;
            errlist_add(c->errs, "%s:%d: %s", path, at, ldns_get_errorstr_by_id(s));
        }
        if (feof(fp))
            break;
        if (ferror(fp)) { /* never reaches EOF: stop instead of spinning */
            errlist_add(c->errs, "%s:%d: read error: %s", path, at, strerror(errno));
            break;
        }
    }
    if (prev)
        ldns_rdf_deep_free(prev);
}

static void load_emit_rrs(struct load_ctx *c, const ldns_dnssec_rrs *r)
{
    for (; r; r = r->next)
        load_emit(c, r->rr, 0, 0);
}

/* Hands the builder what signing added to c->dz: every RRSIG, the NSEC or
 * NSEC3 records and the NSEC3PARAM (the file's records and the DNSKEYs
 * went already). */
static void load_emit_signing(struct load_ctx *c)
{
    ldns_rbnode_t *n;
    for (n = ldns_rbtree_first(c->dz->names); n != LDNS_RBTREE_NULL; n = ldns_rbtree_next(n)) {
        const ldns_dnssec_name *name = n->data;
        for (const ldns_dnssec_rrsets *s = name->rrsets; s; s = s->next) {
            if (s->type == LDNS_RR_TYPE_NSEC3PARAM)
                load_emit_rrs(c, s->rrs);
            load_emit_rrs(c, s->signatures);
        }
        if (name->nsec)
            load_emit(c, name->nsec, 0, 0);
        load_emit_rrs(c, name->nsec_signatures);
    }
}

/* Signs the records kept in c->dz with the keys of sp and hands the
 * records of the file, the DNSKEYs and everything signing made to the
 * builder. false (with messages) when keys or signing fail. */
static bool load_sign(struct load_ctx *c, const struct zone_sign_params *sp)
{
    ldns_rr_list *dnskeys = ldns_rr_list_new();
    ldns_rr_list *new_rrs = ldns_rr_list_new();
    if (!dnskeys || !new_rrs)
        abort();
    ldns_key_list *keys =
        zone_sign_keys_load(sp, c->zone_origin, (uint32_t)time(NULL), dnskeys, c->errs);
    bool ok = keys != NULL;
    if (ok && !c->dz->soa) {
        errlist_add(c->errs, "%s: the zone has no SOA record at its apex", c->display);
        ok = false;
    }
    for (size_t i = 0; ok && i < ldns_rr_list_rr_count(dnskeys); i++) {
        ldns_rr *k = load_dz_add(c, ldns_rr_list_rr(dnskeys, i));
        if (k) /* NULL: the file has it already */
            load_emit(c, k, 0, 0);
    }
    ok = ok && zone_sign_run(c->dz, keys, sp, new_rrs, c->display, c->errs);
    for (size_t i = 0; ok && i < c->n_recs; i++)
        load_emit(c, c->recs[i].rr, c->recs[i].file_idx, c->recs[i].line);
    if (ok)
        load_emit_signing(c);
    ldns_rr_list_free(new_rrs); /* the records belong to c->dz */
    ldns_rr_list_deep_free(dnskeys);
    if (keys)
        ldns_key_list_free(keys);
    return ok;
}

struct zone *zone_load(const char *origin, const char *path, const char *display,
                       const struct dns_name *extra, size_t n_extra, struct errlist *errs)
{
    return zone_load_signed(origin, path, display, extra, n_extra, NULL, errs);
}

struct zone *zone_load_signed(const char *origin, const char *path, const char *display,
                              const struct dns_name *extra, size_t n_extra,
                              const struct zone_sign_params *sp, struct errlist *errs)
{
    struct load_ctx c;
    struct dns_name oname;
    size_t errors_before = errs->count;

    ldns_rdf *cur_origin = NULL;
    if (!dns_name_from_str(origin, &oname) ||
        ldns_str2rdf_dname(&cur_origin, origin) != LDNS_STATUS_OK || !cur_origin) {
        errlist_add(errs, "%s: zone origin %s is not a valid name", display, origin);
        return NULL;
    }
    FILE *fp = load_open(path);
    if (!fp) {
        errlist_add(errs, "%s: cannot open zone file: %s", display, load_open_error(errno));
        ldns_rdf_deep_free(cur_origin);
        return NULL;
    }
    memset(&c, 0, sizeof(c));
    c.errs = errs;
    c.display = display;
    c.default_ttl = 3600;
    c.buf = ldns_buffer_new(4096);
    c.zone_origin = ldns_rdf_clone(cur_origin);
    if (sp && sp->n_keys && !(c.dz = ldns_dnssec_zone_new()))
        abort();
    zone_builder_init(&c.b, oname.wire, oname.len, origin, display, errs);
    for (size_t i = 0; i < n_extra; i++)
        zone_builder_add_name(&c.b, extra[i].wire, extra[i].len);
    load_file(&c, fp, path, 0, &cur_origin, 0);
    fclose(fp);
    if (c.dz && errs->count == errors_before)
        load_sign(&c, sp);
    if (c.dz)
        ldns_dnssec_zone_deep_free(c.dz);
    free(c.recs);
    ldns_rdf_deep_free(cur_origin);
    ldns_rdf_deep_free(c.zone_origin);
    ldns_buffer_free(c.buf);
    if (errs->count != errors_before) {
        zone_builder_abort(&c.b);
        return NULL;
    }
    return zone_builder_finish(&c.b);
}
