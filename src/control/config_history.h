/*
 * config_history.h -- the history directory of the configuration's
 * versions: NNNNNNNN.json, the whole document of version N, with
 * NNNNNNNN.meta.json beside ({"version", "time", "source", "author",
 * "change", "format"}). Every version kept is a whole document, as the
 * release before wrote and reads them (format 1, config_api.h): a
 * rollback to it finds every version it lists.
 *
 * Threads: none of its own; callers serialise writers (config_store.c).
 * Ownership: json_t returned is the caller's; arguments are borrowed.
 */
#ifndef GTM_CONTROL_CONFIG_HISTORY_H
#define GTM_CONTROL_CONFIG_HISTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/digest.h"

/* DIR/NNNNNNNN + ext (".json", ".meta.json"). */
void config_history_path(const char *dir, uint64_t v, const char *ext, char *out, size_t len);
/* The newest version with a document in dir (0: none). */
uint64_t config_history_scan(const char *dir);
/* Removes the versions older than the newest keep below newest. */
void config_history_prune(const char *dir, unsigned keep, uint64_t newest);
/* Writes len bytes of text to path through a temporary file, an fsync, a
 * rename and an fsync of the directory when durable; 0 or -1 (errno). */
int config_history_write_text(const char *path, const char *text, size_t len, mode_t mode,
                              bool durable);
/* Keeps version v in dir: meta ("version" and "format" set in a copy,
 * "time" when it has none), then text (the whole document as the file
 * holds it); 0 or -1 (errno). */
int config_history_put(const char *dir, uint64_t v, const char *text, size_t len, json_t *meta);
/* doc dumped as config_history_text makes it (the same bytes), straight
 * into a temporary file beside path (named in tmp, tmp_len octets; mode,
 * an fsync when durable), never whole in memory: the text was 229 MB at
 * 1,000,000 records, held beside the document while the file and the
 * history were written (issue #55). digest (NULL: none) gets the SHA-256
 * of the bytes as they go. 0, or -1 (errno) with nothing left behind.
 * config_history_commit_tmp then renames tmp to path (and syncs the
 * directory when durable); 0 or -1 (errno; tmp removed). */
int config_history_dump_tmp(const char *path, json_t *doc, mode_t mode, bool durable,
                            char digest[DIGEST_SHA256_HEX], char *tmp, size_t tmp_len);
/* A dump that may be given up: stop(arg) is asked after each 64 KB, and
 * when it says true the dump ends as a failed one (-1, errno ECANCELED,
 * nothing left behind). The writer dumps the newest version without
 * copying it so, and lets it go when a newer one comes (config_store.c). */
struct config_history_stop {
    bool (*stop)(void *arg);
    void *arg;
};
int config_history_dump_tmp_until(const char *path, json_t *doc, mode_t mode, bool durable,
                                  char digest[DIGEST_SHA256_HEX], char *tmp, size_t tmp_len,
                                  const struct config_history_stop *until);
int config_history_commit_tmp(const char *tmp, const char *path, bool durable);
/* As config_history_put, the document dumped into the history as it is
 * made (put_doc), or copied from the file src that holds its text
 * (put_copy: a file just dumped, config_history_dump_tmp). */
int config_history_put_doc(const char *dir, uint64_t v, json_t *doc, json_t *meta);
int config_history_put_copy(const char *dir, uint64_t v, const char *src, json_t *meta);
/* Version v's document (ext ".json") or meta (".meta.json"), or NULL. */
json_t *config_history_load(const char *dir, uint64_t v, const char *ext);
/* Whether version v's document in dir is the very text of the file at
 * path (the same file, or the same bytes): a restart finds the file as
 * the newest version without parsing that version again (85 MB of
 * jansson values at 100,000 records, issue #38). False when either cannot
 * be read: the caller compares the documents then. */
bool config_history_same_text(const char *dir, uint64_t v, const char *path);
/* The text a document is written as (indented as the API always wrote
 * the file, a newline at the end); NULL when out of memory. */
char *config_history_text(json_t *doc, size_t *len);
/* j dumped with jansson's flags and a newline at the end (*len, if not
 * NULL, gets its length); NULL when j is NULL or memory runs out. The
 * history's text and the journal's lines. */
char *config_history_dump_line(json_t *j, size_t flags, size_t *len);
/* Whether this release reads the history directory dir (its newest
 * version's format); 0, or -1 with err saying which version of which
 * format, and what to do. A missing or empty directory is readable. */
int config_history_readable(const char *dir, char *err, size_t len);

#endif
