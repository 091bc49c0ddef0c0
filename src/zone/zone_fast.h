/*
 * zone_fast.h -- a scanner of our own for the common one-line master-file
 * records (A, AAAA, NS, CNAME, PTR, MX, TXT), in front of ldns.
 *
 * ldns tokenizes every record twice and allocates for every field: it was
 * 70 % of the CPU of loading a 1M-record zone (perf, contrib/bench/
 * load_bench.py). NSD and Knot scan master files with parsers of their own;
 * this one takes only the plainest lines and answers ZONE_FAST_NO for
 * everything else -- directives, parentheses, escapes, any other type or
 * class, class before TTL, a name or value it is not sure of -- and the
 * loader then gives that record to ldns, which parses it and reports any
 * error exactly as before (zone_load.c). A line it accepts gives exactly
 * the record ldns gives (tests/unit/test_zone_fast.c compares the two on a
 * corpus of tricky syntax; fuzz_zone compares whole zones loaded both ways).
 *
 * Ownership: everything is in caller-owned structures; no allocation.
 */
#ifndef GTM_ZONE_ZONE_FAST_H
#define GTM_ZONE_ZONE_FAST_H

#include <stddef.h>
#include <stdint.h>

/* Lines longer than this go to ldns (whose own limit is about 10 KB). */
#define ZONE_FAST_MAX_LINE 4096

/* What ldns's state would be at the line: the current $ORIGIN, the owner
 * of the previous record (prev_len 0: none yet) and the $TTL default. */
struct zone_fast_state {
    uint8_t origin[255];
    uint8_t prev[255];
    uint8_t origin_len;
    uint8_t prev_len;
    uint32_t default_ttl;
};

/* One record in wire form; owner as written (not lowercased), names in
 * RDATA uncompressed, as ldns_rr_rdata2buffer_wire writes them. */
struct zone_fast_rr {
    uint8_t owner[255];
    uint8_t owner_len;
    uint16_t type;
    uint32_t ttl;
    uint16_t rdlen;
    uint8_t rdata[ZONE_FAST_MAX_LINE];
};

enum zone_fast_result {
    ZONE_FAST_NO = 0,     /* not for this scanner: give the record to ldns */
    ZONE_FAST_RECORD = 1, /* out holds the line's record */
    ZONE_FAST_EMPTY = 2,  /* blank or comment only: no record */
};

/* Scans line[0, len), one line without its newline. */
enum zone_fast_result zone_fast_parse(const struct zone_fast_state *st, const char *line,
                                      size_t len, struct zone_fast_rr *out);

#endif
