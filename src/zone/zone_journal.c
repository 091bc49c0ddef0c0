/*
 * zone_journal.c -- a zone's differences between serials (zone_journal.h).
 *
 * File format: "GTMJ1\n", then entries: from serial (4), to serial (4),
 * length (4), the records (wire, IXFR order), all big-endian. Written to a
 * temporary file and renamed: a crash leaves the old journal or the new.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r */
#endif
#include "zone/zone_journal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/dns.h"
#include "zone/zone.h"

#define JOURNAL_MAGIC "GTMJ1\n"
#define JOURNAL_MAGIC_LEN 6

/* Records of a zone: each a pointer to [u16 length][record wire]. */
struct journal_set {
    uint8_t *buf;
    size_t len, cap;
    size_t *offs;
    size_t n, ncap;
};

static void journal_grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q)
        abort();
    *p = q;
    *cap = n;
}

/* Appends the records of set (owner owner) to s. */
static void journal_add_rrset(struct journal_set *s, const uint8_t *owner, size_t owner_len,
                              const struct zone_rrset *set)
{
    size_t o = 0;
    for (uint16_t i = 0; i < set->count; i++) {
        uint16_t rdlen = dns_get16(set->rdata + o);
        size_t rlen = owner_len + 10 + rdlen;
        journal_grow((void **)&s->buf, &s->cap, s->len + 2 + rlen, 1);
        journal_grow((void **)&s->offs, &s->ncap, s->n + 1, sizeof(*s->offs));
        s->offs[s->n++] = s->len;
        uint8_t *p = s->buf + s->len;
        dns_put16(p, (uint16_t)rlen);
        memcpy(p + 2, owner, owner_len);
        p += 2 + owner_len;
        dns_put16(p, set->type);
        dns_put16(p + 2, DNS_CLASS_IN);
        dns_put32(p + 4, set->ttl);
        memcpy(p + 8, set->rdata + o, 2u + rdlen);
        s->len += 2 + rlen;
        o += 2u + rdlen;
    }
}

/* Every record of z's file but the apex SOA: each RRset of each name with
 * the RRSIGs covering it, and the NSEC3 chain. */
static void journal_collect(const struct zone *z, struct journal_set *s)
{
    for (uint32_t i = 0; i <= z->mask; i++) {
        const struct zone_node *n = z->table[i].node;
        for (uint16_t k = 0; n && k < n->n_rrsets; k++) {
            const struct zone_rrset *set = &n->rrsets[k];
            if (set->type == DNS_TYPE_RRSIG)
                continue;
            if (!(set->type == DNS_TYPE_SOA && n == z->apex))
                journal_add_rrset(s, n->name, n->name_len, set);
            if (set->sigs)
                journal_add_rrset(s, n->name, n->name_len, set->sigs);
        }
    }
    for (uint32_t i = 0; z->dnssec.kind == ZONE_DENIAL_NSEC3 && i < z->dnssec.n_chain; i++) {
        const struct zone_denial *d = &z->dnssec.chain[i];
        journal_add_rrset(s, d->owner, d->owner_len, d->rrset);
        if (d->rrset->sigs)
            journal_add_rrset(s, d->owner, d->owner_len, d->rrset->sigs);
    }
}

static int journal_cmp_at(const uint8_t *a, const uint8_t *b)
{
    size_t la = dns_get16(a), lb = dns_get16(b);
    int c = memcmp(a + 2, b + 2, la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

/* qsort_r's comparison: offsets into the set's buffer (ctx). */
static int journal_cmp(const void *x, const void *y, void *ctx)
{
    const uint8_t *base = ctx;
    return journal_cmp_at(base + *(const size_t *)x, base + *(const size_t *)y);
}

static void journal_sort(struct journal_set *s)
{
    qsort_r(s->offs, s->n, sizeof(*s->offs), journal_cmp, s->buf);
}

static void journal_set_free(struct journal_set *s)
{
    free(s->buf);
    free(s->offs);
    memset(s, 0, sizeof(*s));
}

/* Appends one record ([u16 length][wire]) to out, without its length. */
static void journal_put(struct journal_set *out, const uint8_t *rec)
{
    size_t rlen = dns_get16(rec);
    journal_grow((void **)&out->buf, &out->cap, out->len + rlen, 1);
    memcpy(out->buf + out->len, rec + 2, rlen);
    out->len += rlen;
}

/* The IXFR records old SOA, deleted, new SOA, added for prev -> now. */
static void journal_diff(const struct zone *prev, const struct zone *now, struct journal_set *out)
{
    struct journal_set a = {0}, b = {0}, soa_a = {0}, soa_b = {0};
    journal_collect(prev, &a);
    journal_collect(now, &b);
    journal_add_rrset(&soa_a, prev->origin, prev->origin_len, prev->soa);
    journal_add_rrset(&soa_b, now->origin, now->origin_len, now->soa);
    journal_sort(&a);
    journal_sort(&b);
    journal_put(out, soa_a.buf);
    size_t i = 0, k = 0;
    while (i < a.n) { /* deleted: in prev, not in now */
        int c = k < b.n ? journal_cmp_at(a.buf + a.offs[i], b.buf + b.offs[k]) : -1;
        if (c < 0)
            journal_put(out, a.buf + a.offs[i++]);
        else if (c > 0)
            k++;
        else
            i++, k++;
    }
    journal_put(out, soa_b.buf);
    i = k = 0;
    while (k < b.n) { /* added: in now, not in prev */
        int c = i < a.n ? journal_cmp_at(a.buf + a.offs[i], b.buf + b.offs[k]) : 1;
        if (c > 0)
            journal_put(out, b.buf + b.offs[k++]);
        else if (c < 0)
            i++;
        else
            i++, k++;
    }
    journal_set_free(&a);
    journal_set_free(&b);
    journal_set_free(&soa_a);
    journal_set_free(&soa_b);
}

/* Reads the file into j (empty when missing); false when it is broken. */
static bool journal_read(const char *path, struct zone_journal *j, char *why, size_t whylen)
{
    memset(j, 0, sizeof(*j));
    FILE *fp = fopen(path, "rb");
    if (!fp && errno == ENOENT)
        return true; /* no journal yet */
    if (!fp) {
        snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
        return false;
    }
    uint8_t head[JOURNAL_MAGIC_LEN], eh[12];
    bool ok = fread(head, 1, sizeof(head), fp) == sizeof(head) &&
              memcmp(head, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN) == 0;
    size_t ecap = 0, wcap = 0;
    while (ok && fread(eh, 1, sizeof(eh), fp) == sizeof(eh)) {
        struct zone_journal_entry e = {dns_get32(eh), dns_get32(eh + 4), j->len, dns_get32(eh + 8)};
        ok = e.len > 0 && e.len <= (64u << 20) && (j->n == 0 || j->entries[j->n - 1].to == e.from);
        if (!ok)
            break;
        journal_grow((void **)&j->wire, &wcap, j->len + e.len, 1);
        journal_grow((void **)&j->entries, &ecap, j->n + 1, sizeof(*j->entries));
        ok = fread(j->wire + j->len, 1, e.len, fp) == e.len;
        j->len += e.len;
        j->entries[j->n++] = e;
    }
    ok = ok && !ferror(fp);
    fclose(fp);
    if (!ok) {
        snprintf(why, whylen, "%s is not a journal gtmd wrote (or was cut short): started anew",
                 path);
        zone_journal_free(j);
    }
    return ok;
}

/* Writes the newest entries of j that fit in max octets; j keeps them. */
static bool journal_write(const char *path, size_t max, struct zone_journal *j, char *why,
                          size_t whylen)
{
    size_t first = j->n, size = JOURNAL_MAGIC_LEN;
    while (first > 0 && size + 12 + j->entries[first - 1].len <= max)
        size += 12 + j->entries[--first].len;
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *fp = fopen(tmp, "wb");
    bool ok = fp && fwrite(JOURNAL_MAGIC, 1, JOURNAL_MAGIC_LEN, fp) == JOURNAL_MAGIC_LEN;
    for (size_t i = first; ok && i < j->n; i++) {
        uint8_t eh[12];
        dns_put32(eh, j->entries[i].from);
        dns_put32(eh + 4, j->entries[i].to);
        dns_put32(eh + 8, (uint32_t)j->entries[i].len);
        ok = fwrite(eh, 1, 12, fp) == 12 &&
             fwrite(j->wire + j->entries[i].off, 1, j->entries[i].len, fp) == j->entries[i].len;
    }
    ok = fp && fflush(fp) == 0 && fsync(fileno(fp)) == 0 && ok;
    if (fp)
        ok = fclose(fp) == 0 && ok;
    ok = ok && rename(tmp, path) == 0;
    if (!ok) {
        snprintf(why, whylen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return false;
    }
    if (first > 0) { /* drop the oldest from memory too */
        size_t off = j->entries[first].off;
        memmove(j->wire, j->wire + off, j->len - off);
        j->len -= off;
        for (size_t i = first; i < j->n; i++) {
            j->entries[i - first] = j->entries[i];
            j->entries[i - first].off -= off;
        }
        j->n -= first;
    }
    return true;
}

bool zone_journal_update(const char *path, size_t max, const struct zone *prev,
                         const struct zone *now, struct zone_journal *out, char *why, size_t whylen)
{
    bool ok = journal_read(path, out, why, whylen);
    if (!ok) {
        char ignored[8];
        journal_write(path, max, out, ignored, sizeof(ignored)); /* start anew, empty */
    }
    uint32_t last = out->n ? out->entries[out->n - 1].to : now->serial;
    bool fresh = prev && prev->serial != now->serial && prev->soa && now->soa;
    if (fresh && out->n && last != prev->serial)
        zone_journal_free(out); /* a gap we cannot fill: start anew */
    else if (!fresh && last != now->serial) {
        zone_journal_free(out); /* changed behind our back */
        ok = journal_write(path, max, out, why, whylen) && ok;
    }
    if (!fresh)
        return ok;
    struct journal_set d = {0};
    journal_diff(prev, now, &d);
    size_t ecap = out->n, wcap = out->len;
    journal_grow((void **)&out->entries, &ecap, out->n + 1, sizeof(*out->entries));
    journal_grow((void **)&out->wire, &wcap, out->len + d.len, 1);
    memcpy(out->wire + out->len, d.buf, d.len);
    out->entries[out->n++] =
        (struct zone_journal_entry){prev->serial, now->serial, out->len, d.len};
    out->len += d.len;
    journal_set_free(&d);
    return journal_write(path, max, out, why, whylen) && ok;
}

long zone_journal_find(const struct zone_journal *j, uint32_t serial)
{
    for (size_t i = 0; j && i < j->n; i++)
        if (j->entries[i].from == serial)
            return (long)i;
    return -1;
}

void zone_journal_free(struct zone_journal *j)
{
    free(j->wire);
    free(j->entries);
    memset(j, 0, sizeof(*j));
}
