/*
 * cfgschema.h -- the configuration's keys declared once, per module.
 *
 * Each module that parses a section of the configuration declares that
 * section's keys in a table (struct cfgschema): name, type, range,
 * default, whether it is required, node-local in a fleet, or applied only
 * on restart, a nested table for an object (or an array of objects), and
 * one line of what it is. The module then reads every value through the
 * table (cfgschema_int and friends, by index): the key's name, its range,
 * its default and the JSON path of its errors come from the table, and
 * cfgschema_object reports every key the table does not have. `gtmd keys
 * --all` prints the tables (cfgschema_json), and
 * tests/integration/test_schema.py checks gtmd.conf(5) against them.
 *
 * Declare a table with designated initializers indexed by an enum, so the
 * index a getter is given and the entry cannot drift apart:
 *
 *     enum { X_TIMEOUT, X_N };
 *     static const struct cfgschema_key x_keys[X_N] = {
 *         [X_TIMEOUT] = {"timeout", CFGSCHEMA_SECONDS, 0.1, 60, 2, 0, NULL, "..."}};
 *     const struct cfgschema x_schema = CFGSCHEMA("$.x", x_keys);
 *
 * Ownership: tables are static and read only; values returned are
 * borrowed from the JSON object they were read from.
 */
#ifndef GTM_COMMON_CFGSCHEMA_H
#define GTM_COMMON_CFGSCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/jsoncfg.h"

enum cfgschema_type {
    CFGSCHEMA_BOOL,
    CFGSCHEMA_INT,     /* an integer in [lo, hi] */
    CFGSCHEMA_SECONDS, /* a number of seconds in [lo, hi] */
    CFGSCHEMA_STRING,
    CFGSCHEMA_PATH,   /* a string naming a file, relative to the configuration's directory */
    CFGSCHEMA_OBJECT, /* with the keys of sub (NULL: the module's own form) */
    CFGSCHEMA_ARRAY,  /* of objects with the keys of sub, or of what the module reads */
    CFGSCHEMA_MAP,    /* an object of named entries, each an object with the keys of sub */
    CFGSCHEMA_ANY,    /* more than one form (a string or a number...): the module's */
};

enum cfgschema_flag {
    CFGSCHEMA_REQUIRED = 1,
    CFGSCHEMA_NODE_LOCAL = 2, /* each node of a fleet keeps its own */
    CFGSCHEMA_RESTART = 4,    /* a reload keeps the running value */
    /* The default is not a constant (another key's value, the host name):
     * the module reads the key only when present; "what" says it. */
    CFGSCHEMA_DEFAULT_VARIES = 8,
    /* Some of its keys only on restart (those flagged CFGSCHEMA_RESTART in
     * its sub table). */
    CFGSCHEMA_PART_RESTART = 16,
};

struct cfgschema;

struct cfgschema_key {
    const char *name;
    enum cfgschema_type type;
    double lo, hi; /* INT and SECONDS */
    double def;    /* INT, SECONDS and BOOL (0 or 1): the value when absent */
    unsigned flags;
    const struct cfgschema *sub; /* OBJECT, ARRAY of objects */
    const char *what;            /* one line */
    const char *section;         /* top-level keys: gtmd.conf(5)'s section that describes it */
};

struct cfgschema {
    const char *path; /* where its objects sit, for errors: "$.fleet", "$.notify.webhooks[]" */
    const struct cfgschema_key *keys;
    size_t n;
    /* Tables of other modules whose keys sit in the same objects (the
     * root: each module declares the top-level keys it reads); NULL-
     * terminated, or NULL. */
    const struct cfgschema *const *more;
};

#define CFGSCHEMA(path, keys)                                                                      \
    {                                                                                              \
        path, keys, sizeof(keys) / sizeof((keys)[0]), NULL                                         \
    }
#define CFGSCHEMA_MORE(path, keys, more)                                                           \
    {                                                                                              \
        path, keys, sizeof(keys) / sizeof((keys)[0]), more                                         \
    }

/* Every key of s and of the tables it takes in (more), in order: the
 * number of them, and the i-th (NULL past the end). */
size_t cfgschema_count(const struct cfgschema *s);
const struct cfgschema_key *cfgschema_at(const struct cfgschema *s, size_t i);
/* The key called name among them, or NULL. */
const struct cfgschema_key *cfgschema_find(const struct cfgschema *s, const char *name);

/* Checks that obj is an object and reports each key of it s does not
 * have ("unknown key") and each required key it lacks; path is obj's
 * (NULL: s->path). False when obj is not an object. */
bool cfgschema_object(const struct jsoncfg *x, const struct cfgschema *s, json_t *obj,
                      const char *path);

/* The value of key k of obj (borrowed; NULL when absent). */
json_t *cfgschema_value(const struct cfgschema *s, size_t k, json_t *obj);

/* The path of key k of an object at path (NULL: s->path), for errors. */
void cfgschema_key_path(char *out, size_t len, const struct cfgschema *s, size_t k,
                        const char *path);

/* An error at key k of the object at path (NULL: s->path). */
void cfgschema_err(const struct jsoncfg *x, const struct cfgschema *s, size_t k, const char *path,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Typed reads of key k of obj: the default when absent; a value of the
 * wrong type or out of range is reported (at the key's path) and gives
 * the default. */
long cfgschema_int(const struct jsoncfg *x, const struct cfgschema *s, size_t k, json_t *obj,
                   const char *path);
/* SECONDS, in milliseconds. */
unsigned cfgschema_ms(const struct jsoncfg *x, const struct cfgschema *s, size_t k, json_t *obj,
                      const char *path);
/* SECONDS, as seconds. */
double cfgschema_seconds(const struct jsoncfg *x, const struct cfgschema *s, size_t k, json_t *obj,
                         const char *path);
bool cfgschema_bool(const struct jsoncfg *x, const struct cfgschema *s, size_t k, json_t *obj,
                    const char *path);
/* STRING or PATH as given (NULL when absent or not a string). */
const char *cfgschema_str(const struct jsoncfg *x, const struct cfgschema *s, size_t k, json_t *obj,
                          const char *path);
/* PATH resolved against the configuration's directory (NULL when absent;
 * the caller frees it). */
char *cfgschema_path(const struct jsoncfg *x, const struct cfgschema *s, size_t k, json_t *obj,
                     const char *path);

/* The form of v, key k's value (NULL: absent), that a reload compares: a
 * new reference to what runs, so that writing a default out, 5 as 5.0 or
 * "a" as ["a"] changes nothing. An absent key with a constant default
 * gives that default; an object with a table, every key of it so; NULL
 * for an absent key without a constant default. */
json_t *cfgschema_canonical(const struct cfgschema_key *k, json_t *v);

/* What of v (an object of s) only a restart applies: a new object with
 * the canonical values of the keys flagged CFGSCHEMA_RESTART (their
 * defaults when absent), and of the objects that hold such keys, their
 * part; the caller owns it. Two configurations need a restart for s when
 * their parts differ. */
json_t *cfgschema_restart_part(const struct cfgschema *s, json_t *v);

/* The table and its nested tables as JSON: [{"name", "type", "min",
 * "max", "default", "required", "node_local", "restart", "what",
 * "keys": [...]}] (only what applies). The caller owns it. */
json_t *cfgschema_json(const struct cfgschema *s);

/* The type's name ("seconds", "integer", ...). */
const char *cfgschema_type_name(enum cfgschema_type t);

#endif
