/*
 * zone_split.h -- finds where a master file can be cut in two so that both
 * halves parse on their own (the loader parses them on two threads).
 *
 * The cut is at the start of a line that begins with an owner name (so the
 * second half needs no previous owner), outside parentheses and quotes.
 * The second half still needs the $ORIGIN and $TTL state at the cut: the
 * directive lines before it are collected, in order, into a prefix that the
 * second half's parser reads first. A file with $INCLUDE is not cut.
 *
 * Ownership: zone_split_find fills out->prefix with a malloc'ed string the
 * caller frees (also when it returns false it leaves out->prefix NULL).
 */
#ifndef GTM_ZONE_ZONE_SPLIT_H
#define GTM_ZONE_ZONE_SPLIT_H

#include <stdbool.h>
#include <stddef.h>

struct zone_split {
    size_t at;    /* offset of the second half's first byte */
    int line;     /* its line number (1-based) */
    char *prefix; /* "$ORIGIN ...\n$TTL ...\n" lines before the cut, in order */
    size_t prefix_len;
};

/* Looks for a cut at or after offset from in buf[0, len). False when there
 * is none (no such line, a $INCLUDE, unbalanced parentheses before it). */
bool zone_split_find(const char *buf, size_t len, size_t from, struct zone_split *out);

#endif
