/*
 * config_journal.h -- the change journal's file (config_store.h): lines
 * appended and fdatasync'd, markers naming the file text that holds every
 * version up to one, the journal read back, and start-up's replay of it
 * over the configuration file.
 *
 * A line is one JSON object: {"v", "delta", "undo", "meta"} (a version) or
 * {"file": SHA256 of the file's text, "upto": V} (a marker). A line that
 * does not parse (a crash inside an append: never answered) is skipped.
 *
 * Threads: none of its own (config_store.c serialises its calls).
 * Ownership: strings and json_t returned are the caller's.
 */
#ifndef GTM_CONTROL_CONFIG_JOURNAL_H
#define GTM_CONTROL_CONFIG_JOURNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/digest.h"

/* DIR/.NAME.journal for the configuration file DIR/NAME. */
void config_journal_path(const char *path, char *out, size_t len);
/* The whole of path (NUL-terminated, *len its length), or NULL (errno). */
char *config_journal_slurp(const char *path, size_t *len);
/* The SHA-256 of path's text ("" when it cannot be read). */
void config_journal_digest_file(const char *path, char out[DIGEST_SHA256_HEX]);
/* j as one line (compact, a newline at the end), or NULL. */
char *config_journal_line(json_t *j);
/* The marker line of the file with digest d holding versions up to upto. */
char *config_journal_marker(const char *digest, uint64_t upto);
/* Appends text to the journal (*fd opened when -1) and fdatasyncs it; 0
 * or -1 (errno). */
int config_journal_append(int *fd, const char *journal, const char *text);
/* config_journal_append without the fdatasync: the caller syncs, e.g. a
 * dup of *fd outside the lock that serialises the appends. */
int config_journal_write(int *fd, const char *journal, const char *text);
/* Writes the len bytes at text to fd whole; 0 or -1 (errno). */
int config_journal_put(int fd, const char *text, size_t len);
/* The journal's lines that parse, in order, or NULL when there is no
 * journal; *torn: how many did not. */
json_t *config_journal_read(const char *journal, size_t *torn);
/* The newest marker naming the file with digest d: its "upto", or -1. */
int64_t config_journal_upto(json_t *lines, const char *d);
/* Start-up: the versions the file misses, replayed over it (see
 * config_store_recover). */
int config_journal_recover(const char *path);

#endif
