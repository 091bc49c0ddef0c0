/*
 * zone_load.c -- reads an RFC 1035 master file with ldns into a zone.
 */
#include "zone/zone_load.h"

#include <errno.h>
#include <fcntl.h>
#include <ldns/ldns.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns.h"
#include "dns/name.h"
#include "zone/zone_build.h"
#include "zone/zone_fast.h"
#include "zone/zone_sign.h"
#include "zone/zone_split.h"

#define ZONE_LOAD_MAX_INCLUDE_DEPTH 8
/* $INCLUDEs read per zone, in all: depth alone still lets a file that
 * includes itself k times make k^8 reads. 63 plus the main file is what
 * the builder's file table names in messages. */
#define ZONE_LOAD_MAX_INCLUDES 63

struct load_ctx {
    struct zone_builder b;
    ldns_rdf *zone_origin;       /* the zone's apex, for messages and a bad $ORIGIN */
    struct dns_name origin_wire; /* the same in wire form, for the bailiwick check */
    ldns_buffer *buf;
    uint32_t default_ttl;
    unsigned n_includes; /* $INCLUDE files read so far */
    bool half;           /* one half of a file cut in two (load_parallel) */
    bool fast;           /* plain one-line records through zone_fast.h, not ldns */
    struct errlist *errs;
    const char *display; /* the zone file as named in messages */
    /* Signing at load: the records go to dz first (it owns them); recs
     * remembers where each came from, for the builder's messages. */
    ldns_dnssec_zone *dz;
    struct load_rec *recs;
    size_t n_recs, cap_recs;
    /* Policy names of a zone signed at load (zone_load_signed's extra). */
    const struct zone_extra *extra;
    size_t n_extra;
    ldns_rr_list *placeholders; /* the records standing for them (owned by dz) */
    ldns_key_list *policy_keys; /* kept for the zone when there are any */
};

struct load_rec {
    ldns_rr *rr; /* owned by load_ctx.dz */
    uint16_t file_idx;
    uint32_t line;
};

static void load_stream(struct load_ctx *c, FILE *fp, const char *path, uint16_t file_idx,
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
    if (!fp) {
        close(fd);
        return NULL;
    }
    /* A stream from fdopen does not know its offset, and glibc's ftell
     * then asks the kernel (lseek) every time: once per record in
     * load_file, 1M syscalls and 3 % of the 1M-record load (perf). One
     * seek here makes glibc track the offset itself. */
    if (fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        errno = EINVAL;
        return NULL;
    }
    /* Read by one thread only: getc without the lock (see load_half_text). */
    __fsetlocking(fp, FSETLOCKING_BYCALLER);
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
    /* On the wire form: ldns_dname_is_subdomain clones every label of
     * both names (malloc/free per label), 5 % of the 1M-record load. */
    if (!dns_name_is_sub(ldns_rdf_data(owner), ldns_rdf_size(owner), c->origin_wire.wire,
                         c->origin_wire.len)) {
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
    load_stream(c, inc, full, zone_builder_add_file(&c->b, full), &inc_origin, depth + 1);
    ldns_rdf_deep_free(inc_origin);
    fclose(inc);
}

/* The fast scanner's place in one file's text (zone_fast.h) and its copy
 * of the state ldns keeps between records. */
struct load_fast {
    const char *text; /* NULL: ldns reads every record */
    size_t len, pos;
    bool prev_stale; /* st.prev is newer than ldns's prev */
    struct zone_fast_state st;
    struct zone_fast_rr rr;
};

static void load_fast_sync(struct load_fast *f, const struct load_ctx *c, const ldns_rdf *origin,
                           const ldns_rdf *prev)
{
    f->st.origin_len = (uint8_t)ldns_rdf_size(origin);
    memcpy(f->st.origin, ldns_rdf_data(origin), f->st.origin_len);
    f->st.prev_len = prev ? (uint8_t)ldns_rdf_size(prev) : 0;
    if (prev)
        memcpy(f->st.prev, ldns_rdf_data(prev), f->st.prev_len);
    f->st.default_ttl = c->default_ttl;
}

/* Adds records with the fast scanner from f->pos on. True at the end of
 * the text; false at a line for ldns (f->pos at its start, *line its
 * number). A record outside the zone goes to ldns too, for its message. */
static bool load_fast_run(struct load_ctx *c, struct load_fast *f, uint16_t file_idx, int *line)
{
    while (f->pos < f->len) {
        const char *p = f->text + f->pos;
        const char *nl = memchr(p, '\n', f->len - f->pos);
        size_t n = nl ? (size_t)(nl - p) : f->len - f->pos;
        enum zone_fast_result r = zone_fast_parse(&f->st, p, n, &f->rr);
        if (r == ZONE_FAST_NO)
            return false;
        if (r == ZONE_FAST_RECORD) {
            if (!dns_name_is_sub(f->rr.owner, f->rr.owner_len, c->origin_wire.wire,
                                 c->origin_wire.len))
                return false;
            zone_builder_add(&c->b, f->rr.owner, f->rr.owner_len, f->rr.type, f->rr.ttl,
                             f->rr.rdata, f->rr.rdlen, file_idx, (uint32_t)*line);
            memcpy(f->st.prev, f->rr.owner, f->rr.owner_len);
            f->st.prev_len = f->rr.owner_len;
            f->prev_stale = true;
        }
        f->pos += n + (nl != NULL);
        *line += nl != NULL;
    }
    return true;
}

/* ldns reads the next record: from where the scanner stopped, with the
 * previous owner the scanner saw. */
static void load_fast_to_ldns(struct load_fast *f, FILE *fp, ldns_rdf **prev)
{
    if (fseek(fp, (long)f->pos, SEEK_SET) != 0)
        abort(); /* an in-memory stream inside its text */
    if (f->prev_stale) {
        if (*prev)
            ldns_rdf_deep_free(*prev);
        *prev = ldns_dname_new_frm_data(f->st.prev_len, f->st.prev);
        if (!*prev)
            abort();
        f->prev_stale = false;
    }
}

static void load_file(struct load_ctx *c, FILE *fp, const char *text, size_t len, const char *path,
                      uint16_t file_idx, ldns_rdf **origin, int depth, int line1)
{
    ldns_rdf *prev = NULL;
    int line = line1;
    struct load_fast *f = NULL;
    if (text && c->fast) {
        if (!(f = calloc(1, sizeof(*f))))
            abort();
        f->text = text;
        f->len = len;
        load_fast_sync(f, c, *origin, NULL);
    }
    for (;;) {
        if (f && f->text) {
            if (load_fast_run(c, f, file_idx, &line))
                break;
            load_fast_to_ldns(f, fp, &prev);
        }
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
        bool failed = false;
        if (s == LDNS_STATUS_OK) {
            load_add_rr(c, rr, path, file_idx, at);
            ldns_rr_free(rr);
        } else if (s == LDNS_STATUS_SYNTAX_INCLUDE && c->half) {
            /* zone_split saw none: give the file to the one-thread path */
            errlist_add(c->errs, "%s:%d: $INCLUDE in a half", path, at);
        } else if (s == LDNS_STATUS_SYNTAX_INCLUDE) {
            load_include(c, fp, start, path, at, *origin, depth);
        } else if (s != LDNS_STATUS_SYNTAX_EMPTY && s != LDNS_STATUS_SYNTAX_TTL &&
                   s != LDNS_STATUS_SYNTAX_ORIGIN) {
            if (feof(fp) && s == LDNS_STATUS_SYNTAX_ERR && start == ftell(fp))
                break;
            errlist_add(c->errs, "%s:%d: %s", path, at, ldns_get_errorstr_by_id(s));
            failed = true;
        }
        if (f && f->text) {
            /* After a syntax error ldns reads the rest: its messages about
             * the lines after stay exactly what they were. */
            f->text = failed ? NULL : f->text;
            f->pos = (size_t)ftell(fp);
            load_fast_sync(f, c, *origin, prev);
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
    free(f);
}

/* The rest of fp in memory (malloc'ed, *len octets, NUL-terminated), or
 * NULL with errno set. */
static char *load_slurp(FILE *fp, size_t *len)
{
    struct stat st;
    size_t cap = fstat(fileno(fp), &st) == 0 && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
    size_t n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, fp);
        n += got;
        if (got == 0) {
            if (ferror(fp))
                break;
            buf[n] = '\0';
            *len = n;
            return buf;
        }
    }
    int e = errno ? errno : EIO;
    free(buf);
    errno = e;
    return NULL;
}

/* Reads a whole file (fp, closed by the caller) into c: with the fast
 * scanner from its text in memory, ldns reading the rest through an
 * in-memory stream of the same text. */
static void load_stream(struct load_ctx *c, FILE *fp, const char *path, uint16_t file_idx,
                        ldns_rdf **origin, int depth)
{
    if (!c->fast) {
        load_file(c, fp, NULL, 0, path, file_idx, origin, depth, 1);
        return;
    }
    size_t len = 0;
    char *text = load_slurp(fp, &len);
    if (!text) {
        errlist_add(c->errs, "%s: read error: %s", path, strerror(errno));
        return;
    }
    /* fmemopen refuses an empty buffer; an empty file has no records. */
    FILE *m = len ? fmemopen(text, len, "r") : NULL;
    if (len && !m) {
        errlist_add(c->errs, "%s: fmemopen: %s", path, strerror(errno));
    } else if (m) {
        __fsetlocking(m, FSETLOCKING_BYCALLER); /* one reader, see load_half_text */
        load_file(c, m, text, len, path, file_idx, origin, depth, 1);
        fclose(m);
    }
    free(text);
}

static void load_emit_rrs(struct load_ctx *c, const ldns_dnssec_rrs *r)
{
    for (; r; r = r->next)
        load_emit(c, r->rr, 0, 0);
}

/* Hands the builder what signing added to c->dz: every RRSIG, the NSEC or
 * NSEC3 records and the NSEC3PARAM (the file's records and the DNSKEYs
 * went already). */
static bool load_is_placeholder(const struct load_ctx *c, const ldns_rr *rr)
{
    for (size_t i = 0; c->placeholders && i < ldns_rr_list_rr_count(c->placeholders); i++)
        if (ldns_rr_list_rr(c->placeholders, i) == rr)
            return true;
    return false;
}

static void load_emit_signing(struct load_ctx *c)
{
    ldns_rbnode_t *n;
    for (n = ldns_rbtree_first(c->dz->names); n != LDNS_RBTREE_NULL; n = ldns_rbtree_next(n)) {
        const ldns_dnssec_name *name = n->data;
        for (const ldns_dnssec_rrsets *s = name->rrsets; s; s = s->next) {
            if (s->type == LDNS_RR_TYPE_NSEC3PARAM)
                load_emit_rrs(c, s->rrs);
            if (s->rrs && load_is_placeholder(c, s->rrs->rr))
                continue; /* a policy name's stand-in: its answers are signed apart */
            load_emit_rrs(c, s->signatures);
        }
        if (name->nsec)
            load_emit(c, name->nsec, 0, 0);
        load_emit_rrs(c, name->nsec_signatures);
    }
}

/* Adds a stand-in record of type t at a policy name (signed at load), so
 * that the denial chain covers the name and lists t: not when the file
 * has data of that type or a CNAME there (the loader reports the clash). */
static void load_placeholder(struct load_ctx *c, const struct zone_extra *name, uint16_t t)
{
    ldns_rdf *owner = ldns_dname_new_frm_data((uint16_t)name->len, name->wire);
    if (!owner)
        abort();
    if (ldns_dnssec_zone_find_rrset(c->dz, owner, (ldns_rr_type)t) ||
        ldns_dnssec_zone_find_rrset(c->dz, owner, LDNS_RR_TYPE_CNAME)) {
        ldns_rdf_deep_free(owner);
        return;
    }
    ldns_rr *rr = ldns_rr_new_frm_type((ldns_rr_type)t);
    const char *rd = t == DNS_TYPE_A ? "0.0.0.0" : t == DNS_TYPE_AAAA ? "::" : NULL;
    ldns_rdf *f = NULL;
    if (rd)
        f = ldns_rdf_new_frm_str(t == DNS_TYPE_A ? LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA, rd);
    else
        f = ldns_rdf_clone(c->zone_origin);
    if (!rr || !f)
        abort();
    ldns_rr_set_owner(rr, owner);
    ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
    ldns_rr_set_ttl(rr, 0);
    ldns_rr_push_rdf(rr, f);
    ldns_rr *kept = load_dz_add(c, rr);
    ldns_rr_free(rr);
    if (kept)
        ldns_rr_list_push_rr(c->placeholders, kept);
}

static void load_placeholders(struct load_ctx *c)
{
    static const uint16_t types[] = {DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_CNAME};
    for (size_t i = 0; i < c->n_extra; i++)
        for (size_t k = 0; k < 3; k++)
            if (c->extra[i].flags & zone_policy_flag(types[k]))
                load_placeholder(c, &c->extra[i], types[k]);
}

/* Whether keys hold a ZSK (no SEP flag) of algorithm alg. */
static bool load_has_zsk(ldns_key_list *keys, ldns_signing_algorithm alg)
{
    for (size_t i = 0; i < ldns_key_list_key_count(keys); i++) {
        ldns_key *k = ldns_key_list_key(keys, i);
        if (ldns_key_algorithm(k) == alg && !(ldns_key_flags(k) & LDNS_KEY_SEP_KEY))
            return true;
    }
    return false;
}

/* The keys that sign policy answers: per algorithm, its ZSKs, or its
 * KSKs when it has no ZSK (as ldns signs the zone's other RRsets), so
 * that an answer carries an RRSIG of every algorithm that signs the zone
 * (RFC 6840 5.11: two algorithms during an algorithm rollover). */
static void load_keep_policy_keys(struct load_ctx *c, ldns_key_list *keys)
{
    for (size_t i = 0; i < ldns_key_list_key_count(keys); i++) {
        ldns_key *k = ldns_key_list_key(keys, i);
        if (ldns_key_flags(k) & LDNS_KEY_SEP_KEY)
            ldns_key_set_use(k, !load_has_zsk(keys, ldns_key_algorithm(k)));
    }
    c->policy_keys = keys;
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
    if (ok && !(c->placeholders = ldns_rr_list_new()))
        abort();
    if (ok)
        load_placeholders(c);
    ok = ok && zone_sign_run(c->dz, keys, sp, new_rrs, c->display, c->errs);
    for (size_t i = 0; ok && i < c->n_recs; i++)
        load_emit(c, c->recs[i].rr, c->recs[i].file_idx, c->recs[i].line);
    if (ok)
        load_emit_signing(c);
    if (ok && ldns_rr_list_rr_count(c->placeholders) > 0) {
        load_keep_policy_keys(c, keys);
        keys = NULL;
    }
    ldns_rr_list_free(c->placeholders); /* the records belong to c->dz */
    c->placeholders = NULL;
    ldns_rr_list_free(new_rrs);
    ldns_rr_list_deep_free(dnskeys);
    if (keys)
        ldns_key_list_free(keys);
    return ok;
}

/* Files from this size on are parsed on two threads. Parsing (ldns) is
 * 69 % of a one-thread load of the 1M-record zone (44 MB, perf); two halves
 * parse in about half the time on 2 cores (see doc/architecture.md for the
 * figures). Below a few MB a thread is not worth its start. */
#define ZONE_LOAD_PARALLEL_MIN ((off_t)4 << 20)

/* One half of a file cut by zone_split: its own records, arena and errors,
 * merged into the zone's builder only when both halves parsed cleanly. */
struct load_half {
    struct load_ctx c;
    struct errlist errs;
    const char *path;
    const char *text, *prefix; /* the half, and the directives before it */
    size_t len, prefix_len;
    int first_line;
};

static void load_half_init(struct load_half *h, const struct load_ctx *parent, const char *path,
                           const char *text, size_t len, const struct zone_split *sp)
{
    memset(h, 0, sizeof(*h));
    errlist_init(&h->errs);
    h->c.errs = &h->errs;
    h->c.half = true;
    h->c.fast = parent->fast;
    h->c.default_ttl = 3600;
    h->c.buf = ldns_buffer_new(4096);
    h->c.zone_origin = parent->zone_origin; /* shared, only read (cloned) */
    h->c.origin_wire = parent->origin_wire;
    h->c.display = parent->display;
    arena_init(&h->c.b.tmp);
    h->c.b.errs = &h->errs;
    h->path = path;
    h->text = text;
    h->len = len;
    h->prefix = sp ? sp->prefix : NULL;
    h->prefix_len = sp ? sp->prefix_len : 0;
    h->first_line = sp ? sp->line : 1;
}

static void load_half_free(struct load_half *h)
{
    free(h->c.b.rrs);
    arena_free(&h->c.b.tmp);
    ldns_buffer_free(h->c.buf);
    errlist_free(&h->errs);
}

/* Parses text[0, len) as the file from line first_line on. */
static void load_half_text(struct load_half *h, const char *text, size_t len, ldns_rdf **origin,
                           int first_line)
{
    FILE *fp = fmemopen((void *)text, len, "r");
    if (!fp) {
        errlist_add(&h->errs, "%s: fmemopen: %s", h->path, strerror(errno));
        return;
    }
    /* ldns reads with getc: once a second thread exists every getc takes
     * the stream's lock, 17 % of the two-thread load (perf). Each stream
     * is read by one thread only. */
    __fsetlocking(fp, FSETLOCKING_BYCALLER);
    load_file(&h->c, fp, text, len, h->path, 0, origin, 0, first_line);
    fclose(fp);
}

static void *load_half_run(void *arg)
{
    struct load_half *h = arg;
    ldns_rdf *origin = ldns_rdf_clone(h->c.zone_origin);
    /* The $ORIGIN and $TTL lines before the cut set the state the one-
     * thread parse would have there; they add no records. */
    if (h->prefix)
        load_half_text(h, h->prefix, h->prefix_len, &origin, 1);
    load_half_text(h, h->text, h->len, &origin, h->first_line);
    ldns_rdf_deep_free(origin);
    return NULL;
}

/* Parses fp (a whole zone file) on two threads into c->b when it is big
 * and can be cut in two. False, with nothing added, to parse it on one:
 * also when a half had any error (the one-thread parse then reports them
 * with their exact lines and context). */
static bool load_parallel(struct load_ctx *c, FILE *fp, const char *path)
{
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || st.st_size < ZONE_LOAD_PARALLEL_MIN)
        return false;
    size_t len = (size_t)st.st_size;
    char *buf = malloc(len);
    bool ok = false;
    struct zone_split sp;
    /* The whole file, and nothing more (it did not grow meanwhile). */
    if (buf && fread(buf, 1, len, fp) == len && fgetc(fp) == EOF &&
        zone_split_find(buf, len, len / 2, &sp)) {
        struct load_half h[2];
        pthread_t t;
        load_half_init(&h[0], c, path, buf, sp.at, NULL);
        load_half_init(&h[1], c, path, buf + sp.at, len - sp.at, &sp);
        bool threaded = pthread_create(&t, NULL, load_half_run, &h[1]) == 0;
        load_half_run(&h[0]);
        if (threaded)
            pthread_join(t, NULL);
        else
            load_half_run(&h[1]);
        ok = h[0].errs.count == 0 && h[1].errs.count == 0;
        if (ok) {
            zone_builder_adopt(&c->b, &h[0].c.b);
            zone_builder_adopt(&c->b, &h[1].c.b);
        }
        load_half_free(&h[0]);
        load_half_free(&h[1]);
        free(sp.prefix);
    }
    free(buf);
    rewind(fp);
    return ok;
}

struct zone *zone_load(const char *origin, const char *path, const char *display,
                       const struct dns_name *extra, size_t n_extra, struct errlist *errs)
{
    return zone_load_signed(origin, path, display, extra, NULL, n_extra, NULL, errs);
}

/* names[0..n) (flags[i] each, or none) as zone_extra (the caller frees;
 * NULL when n is 0), borrowing their wire forms. */
static struct zone_extra *zone_load_extra_of(const struct dns_name *names, const uint16_t *flags,
                                             size_t n)
{
    struct zone_extra *x = n ? calloc(n, sizeof(*x)) : NULL;
    if (n && !x)
        abort();
    for (size_t i = 0; i < n; i++)
        x[i] = (struct zone_extra){names[i].wire, flags ? flags[i] : 0, names[i].len};
    return x;
}

/* What zone_load_signed and zone_load_text share: fp (closed here) is
 * read from the start; path is where $INCLUDE is relative to (NULL: none,
 * and no two-thread parse); fast: the fast scanner in front of ldns. */
static struct zone *zone_load_fp(const char *origin, FILE *fp, const char *path,
                                 const char *display, const struct zone_extra *extra,
                                 size_t n_extra, const struct zone_sign_params *sp, bool fast,
                                 struct errlist *errs);

struct zone *zone_load_parser(const char *origin, const char *path, const char *display,
                              const struct dns_name *extra, size_t n_extra, bool fast,
                              struct errlist *errs)
{
    FILE *fp = load_open(path);
    if (!fp) {
        errlist_add(errs, "%s: cannot open zone file: %s", display, load_open_error(errno));
        return NULL;
    }
    struct zone_extra *x = zone_load_extra_of(extra, NULL, n_extra);
    struct zone *z = zone_load_fp(origin, fp, path, display, x, n_extra, NULL, fast, errs);
    free(x);
    return z;
}

struct zone *zone_load_extra(const char *origin, const char *path, const char *display,
                             const struct zone_extra *extra, size_t n_extra,
                             const struct zone_sign_params *sp, struct errlist *errs)
{
    FILE *fp = load_open(path);
    if (!fp) {
        errlist_add(errs, "%s: cannot open zone file: %s", display, load_open_error(errno));
        return NULL;
    }
    return zone_load_fp(origin, fp, path, display, extra, n_extra, sp, true, errs);
}

struct zone *zone_load_signed(const char *origin, const char *path, const char *display,
                              const struct dns_name *extra, const uint16_t *extra_flags,
                              size_t n_extra, const struct zone_sign_params *sp,
                              struct errlist *errs)
{
    struct zone_extra *x = zone_load_extra_of(extra, extra_flags, n_extra);
    struct zone *z = zone_load_extra(origin, path, display, x, n_extra, sp, errs);
    free(x);
    return z;
}

struct zone *zone_load_text(const char *origin, const char *text, const char *display,
                            struct errlist *errs)
{
    FILE *fp = fmemopen((void *)text, strlen(text), "r");
    if (!fp)
        abort();
    return zone_load_fp(origin, fp, NULL, display, NULL, 0, NULL, true, errs);
}

static struct zone *zone_load_fp(const char *origin, FILE *fp, const char *path,
                                 const char *display, const struct zone_extra *extra,
                                 size_t n_extra, const struct zone_sign_params *sp, bool fast,
                                 struct errlist *errs)
{
    struct load_ctx c;
    struct dns_name oname;
    size_t errors_before = errs->count;

    ldns_rdf *cur_origin = NULL;
    if (!dns_name_from_str(origin, &oname) ||
        ldns_str2rdf_dname(&cur_origin, origin) != LDNS_STATUS_OK || !cur_origin) {
        errlist_add(errs, "%s: zone origin %s is not a valid name", display, origin);
        fclose(fp);
        return NULL;
    }
    memset(&c, 0, sizeof(c));
    c.errs = errs;
    c.display = display;
    c.default_ttl = 3600;
    c.buf = ldns_buffer_new(4096);
    c.zone_origin = ldns_rdf_clone(cur_origin);
    c.origin_wire = oname;
    if (sp && sp->n_keys && !(c.dz = ldns_dnssec_zone_new()))
        abort();
    /* Records kept for signing are ldns records (c.dz): ldns reads them. */
    c.fast = fast && !c.dz;
    zone_builder_init(&c.b, oname.wire, oname.len, origin, display, errs);
    if (c.dz) {
        c.extra = extra;
        c.n_extra = n_extra;
    }
    /* The flags mark policy names in every zone: a query finds their
     * bindings by them (serve/serve_bind.h); a signed zone's chain lists
     * the types. */
    for (size_t i = 0; i < n_extra; i++)
        zone_builder_add_name_flags(&c.b, extra[i].wire, extra[i].len, extra[i].flags);
    /* Records kept for signing (c.dz) are parsed on one thread. */
    bool parallel = !c.dz && path && load_parallel(&c, fp, path);
    if (!parallel)
        load_stream(&c, fp, path ? path : display, 0, &cur_origin, 0);
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
        if (c.policy_keys)
            ldns_key_list_free(c.policy_keys);
        return NULL;
    }
    struct zone *z = zone_builder_finish(&c.b);
    if (z)
        z->policy_keys = c.policy_keys;
    else if (c.policy_keys)
        ldns_key_list_free(c.policy_keys);
    return z;
}
