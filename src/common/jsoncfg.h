/*
 * jsoncfg.h -- helpers for reading the JSON config with errors that name
 * the file and the JSON path ("FILE: $.pools.web.endpoints[2].weight: ...").
 * Shared by every module that parses a section of the config.
 */
#ifndef GTM_COMMON_JSONCFG_H
#define GTM_COMMON_JSONCFG_H

#include <jansson.h>
#include <stdbool.h>

#include "common/errlist.h"

struct jsoncfg {
    struct errlist *errs;
    const char *file; /* config file, for messages */
    const char *dir;  /* its directory, for relative paths */
};

void jsoncfg_err(const struct jsoncfg *x, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The first key of obj not in allowed (NULL-terminated), or NULL: for API
 * request bodies, which are refused at their first unknown key. The key
 * belongs to obj. */
const char *jsoncfg_unknown_key(json_t *obj, const char *const *allowed);

/* Reports every key of obj not in allowed (NULL-terminated). */
void jsoncfg_check_keys(const struct jsoncfg *x, json_t *obj, const char *path,
                        const char *const *allowed);

/* Integer in [lo, hi] at obj.key; def when absent; reports a bad value. */
long jsoncfg_int(const struct jsoncfg *x, json_t *obj, const char *key, const char *path, long lo,
                 long hi, long def);

/* A boolean at obj.key (def when absent); reports other types. */
bool jsoncfg_bool(const struct jsoncfg *x, json_t *obj, const char *key, const char *path,
                  bool def);

/* Number of seconds in [lo, hi] at obj.key (def when absent or bad;
 * reports a bad value). */
double jsoncfg_seconds(const struct jsoncfg *x, json_t *obj, const char *key, const char *path,
                       double lo, double hi, double def);
/* The same in milliseconds; hi and def must be under 2^32 ms (aborts
 * otherwise: a table's mistake, not the configuration's). */
unsigned jsoncfg_ms(const struct jsoncfg *x, json_t *obj, const char *key, const char *path,
                    double lo, double hi, double def);

/* String at obj.key (NULL when absent, reported when not a string). */
const char *jsoncfg_str(const struct jsoncfg *x, json_t *obj, const char *key, const char *path);

/* Path relative to the config's directory, resolved; caller frees. */
char *jsoncfg_path(const struct jsoncfg *x, const char *p);

/* json_load_file(path, flags, err), read in one go: jansson's own reads
 * the file a character at a time (getc, with its lock), which was most of
 * the time a 1.5 MB configuration took to load. Errors as jansson's
 * (line and text; err->text names a file that cannot be read). */
json_t *jsoncfg_load_file(const char *path, size_t flags, json_error_t *err);
/* The same, the resources under kinds (the configuration's records,
 * pools, checks and regions) made one value for equal ones as they are
 * read, with s's (jsonshare_load). */
struct jsonshare;
json_t *jsoncfg_load_file_shared(const char *path, size_t flags, json_error_t *err,
                                 struct jsonshare *s, const char *const *kinds);

/* strdup that aborts on out-of-memory. */
char *jsoncfg_strdup(const char *s);

#endif
