/*
 * zone_journal.h -- the differences of a zone between serials (RFC 1995),
 * kept in a file across reloads and restarts so that gtmd answers an IXFR
 * with only what changed.
 *
 * At every load of a zone whose "transfer" names a journal: the file is
 * read; when the zone's serial moved since the previous load (a reload),
 * the difference between the two compiled zones is appended (the oldest
 * entries dropped to keep the file under its size limit). A journal whose
 * last serial is not the zone's (the file changed while gtmd was not
 * running, or a serial went back) is started anew: gtmd cannot tell what
 * changed then, and an IXFR from an older serial gets the whole zone.
 *
 * What is compared: every record of the zone file (SOA, glue, DNSSEC
 * records included), not the answers of policy names (those change with
 * health, not with serials: a secondary keeps the ones its last AXFR
 * brought).
 *
 * Memory: entries are kept as the records in IXFR order, wire format with
 * uncompressed owners: for each entry the old SOA, the records deleted,
 * the new SOA, the records added. Ownership: the journal owns its arrays
 * (zone_journal_free); a zone owns its journal (zone.h).
 */
#ifndef GTM_ZONE_ZONE_JOURNAL_H
#define GTM_ZONE_ZONE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zone;

#define ZONE_JOURNAL_MAX_DEFAULT (1024u * 1024u)

struct zone_journal_entry {
    uint32_t from, to; /* serials */
    size_t off, len;   /* its records in wire */
};

struct zone_journal {
    uint8_t *wire;
    size_t len;
    struct zone_journal_entry *entries; /* oldest first, each from the previous one's to */
    size_t n;
};

/*
 * Brings the journal at path up to date for the zone now (whose previous
 * load, with the same origin, is prev: NULL at start) and reads it into
 * *out. max: the file's size limit in octets. Returns false with the
 * reason in why when the file could not be read or written (out is then
 * empty: IXFR gets the whole zone).
 */
bool zone_journal_update(const char *path, size_t max, const struct zone *prev,
                         const struct zone *now, struct zone_journal *out, char *why,
                         size_t whylen);

/* The first entry of the chain from serial to the journal's end, or -1. */
long zone_journal_find(const struct zone_journal *j, uint32_t serial);

void zone_journal_free(struct zone_journal *j);

#endif
