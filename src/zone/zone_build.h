/*
 * zone_build.h -- compiles parsed records into a struct zone.
 *
 * The loader (zone_load.c) feeds records one by one; zone_builder_finish()
 * groups them into nodes and RRsets, adds empty non-terminals, validates the
 * zone (SOA, CNAME rules, delegation glue) and precomputes additional-section
 * data. Errors go to the caller's errlist as "file:line: message".
 *
 * Ownership: the builder owns its temporary records; zone_builder_finish()
 * hands the finished zone to the caller (free with zone_free) or returns NULL,
 * and in both cases releases the temporaries. zone_builder_abort() releases
 * everything without building.
 */
#ifndef GTM_ZONE_ZONE_BUILD_H
#define GTM_ZONE_ZONE_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/errlist.h"
#include "zone/zone.h"

struct zone_rr_in {
    /* The owner's length and first 7 octets (build_rr_key): the sort
     * compares these first and the whole owner only on a tie. */
    uint64_t key;
    const uint8_t *owner; /* lowercase wire name (tmp arena) */
    const uint8_t *rdata; /* tmp arena */
    uint32_t ttl;
    uint32_t line;
    uint16_t rdlen;
    uint16_t type;
    uint16_t file_idx;
    uint8_t owner_len;
};

struct zone_builder {
    struct zone *z;
    struct arena tmp;
    struct zone_rr_in *rrs;
    size_t n, cap;
    const char *files[64]; /* main file and $INCLUDEd files (tmp arena) */
    uint16_t n_files;
    struct errlist *errs;
    const uint8_t **names; /* names that must exist without records (tmp) */
    uint16_t *name_flags;  /* ZONE_NODE_POLICY_* of each of names */
    size_t n_names, cap_names;
    /* NSEC3 records and the RRSIGs over them, taken out of rrs at finish:
     * they form the hashed chain, not nodes (RFC 5155 §7.2.8). */
    struct zone_rr_in *nsec3_rrs;
    size_t n_nsec3;
};

/* origin is a lowercase wire name; file is the display path of the zone. */
void zone_builder_init(struct zone_builder *b, const uint8_t *origin, size_t origin_len,
                       const char *origin_str, const char *file, struct errlist *errs);
/* Registers an included file for error messages; returns its index. */
uint16_t zone_builder_add_file(struct zone_builder *b, const char *path);
void zone_builder_add(struct zone_builder *b, const uint8_t *owner, size_t owner_len, uint16_t type,
                      uint32_t ttl, const uint8_t *rdata, size_t rdlen, uint16_t file_idx,
                      uint32_t line);
/* Appends the records another builder collected (a parsing thread's:
 * zeroed, arena_init'ed tmp, only zone_builder_add called) after b's own,
 * taking its records' memory; part is left empty. */
void zone_builder_adopt(struct zone_builder *b, struct zone_builder *part);
/* Makes name (lowercase wire, inside the zone) exist even with no records:
 * policy records are answered at such nodes. */
void zone_builder_add_name(struct zone_builder *b, const uint8_t *name, size_t len);
/* The same, and flags (ZONE_NODE_POLICY_*) are set on the node: types a
 * policy record answers there, which the zone's denial chain lists. */
void zone_builder_add_name_flags(struct zone_builder *b, const uint8_t *name, size_t len,
                                 uint16_t flags);
struct zone *zone_builder_finish(struct zone_builder *b);
void zone_builder_abort(struct zone_builder *b);

/* Offset of the single compressible or target name in RDATA for types whose
 * name matters to additional-section processing (NS, MX, SRV, CNAME, PTR);
 * -1 for other types. */
int zone_rdata_target_offset(uint16_t type);

#endif
