/*
 * jsoncfg.c -- helpers for reading the JSON config.
 */
#include "common/jsoncfg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fdio.h"
#include "common/jsoncfg_intern.h"
#include "common/jsonshare.h"

void jsoncfg_err(const struct jsoncfg *x, const char *path, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    errlist_add(x->errs, "%s: %s: %s", x->file, path, msg);
}

static bool jsoncfg_key_allowed(const char *key, const char *const *allowed)
{
    for (const char *const *a = allowed; *a; a++)
        if (strcmp(*a, key) == 0)
            return true;
    return false;
}

const char *jsoncfg_unknown_key(json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (!jsoncfg_key_allowed(key, allowed))
            return key;
    }
    return NULL;
}

void jsoncfg_check_keys(const struct jsoncfg *x, json_t *obj, const char *path,
                        const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (!jsoncfg_key_allowed(key, allowed))
            jsoncfg_err(x, path, "unknown key \"%s\"", key);
    }
}

long jsoncfg_int(const struct jsoncfg *x, json_t *obj, const char *key, const char *path, long lo,
                 long hi, long def)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return def;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        jsoncfg_err(x, path, "must be an integer from %ld to %ld", lo, hi);
        return def;
    }
    return (long)json_integer_value(v);
}

bool jsoncfg_bool(const struct jsoncfg *x, json_t *obj, const char *key, const char *path, bool def)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return def;
    if (!json_is_boolean(v)) {
        jsoncfg_err(x, path, "must be true or false");
        return def;
    }
    return json_is_true(v);
}

double jsoncfg_seconds(const struct jsoncfg *x, json_t *obj, const char *key, const char *path,
                       double lo, double hi, double def)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return def;
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi) {
        jsoncfg_err(x, path, "must be a number of seconds from %g to %g", lo, hi);
        return def;
    }
    return json_number_value(v);
}

unsigned jsoncfg_ms(const struct jsoncfg *x, json_t *obj, const char *key, const char *path,
                    double lo, double hi, double def)
{
    /* A range past what milliseconds in an unsigned hold is the caller's
     * mistake: a value there would wrap (49.7 days). */
    if (hi * 1000.0 + 0.5 >= (double)UINT_MAX || def * 1000.0 + 0.5 >= (double)UINT_MAX)
        abort();
    return (unsigned)(jsoncfg_seconds(x, obj, key, path, lo, hi, def) * 1000.0 + 0.5);
}

const char *jsoncfg_str(const struct jsoncfg *x, json_t *obj, const char *key, const char *path)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return NULL;
    if (!json_is_string(v)) {
        jsoncfg_err(x, path, "must be a string");
        return NULL;
    }
    return json_string_value(v);
}

char *jsoncfg_strdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

char *jsoncfg_path(const struct jsoncfg *x, const char *p)
{
    if (p[0] == '/')
        return jsoncfg_strdup(p);
    size_t n = strlen(x->dir) + strlen(p) + 2;
    char *r = malloc(n);
    if (!r)
        abort();
    snprintf(r, n, "%s/%s", x->dir, p);
    return r;
}

/* The file at path read whole (*len octets, a NUL after them); NULL when
 * it is missing, unreadable or not a plain file: json_load_file's then,
 * jansson's own way and words. */
static char *jsoncfg_read(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size + 1);
    if (!buf)
        abort();
    size_t off = fdio_read_full(fd, buf, size, NULL);
    close(fd);
    buf[off] = '\0';
    *len = off;
    return buf;
}

json_t *jsoncfg_load_file(const char *path, size_t flags, json_error_t *err)
{
    json_error_t local;
    if (!err)
        err = &local;
    size_t len = 0;
    char *buf = jsoncfg_read(path, &len);
    if (!buf)
        return json_load_file(path, flags, err);
    json_t *j = json_loadb(buf, len, flags, err);
    free(buf);
    /* Equal strings and integers made one value: a large configuration's
     * document is mostly the same few (policies, pools, regions, TTLs),
     * jsoncfg_intern.h. The holes the copies leave are taken by what the
     * configuration compiles to right after. */
    jsoncfg_intern(j);
    if (!j)
        snprintf(err->source, sizeof(err->source), "%s", path);
    return j;
}

json_t *jsoncfg_load_file_shared(const char *path, size_t flags, json_error_t *err,
                                 struct jsonshare *s, const char *const *kinds)
{
    json_error_t local;
    if (!err)
        err = &local;
    size_t len = 0;
    char *buf = jsoncfg_read(path, &len);
    json_t *j =
        buf ? jsonshare_load(s, buf, len, flags, kinds, err) : json_load_file(path, flags, err);
    if (!buf && json_is_object(j))
        jsonshare_members(s, j, kinds, NULL, true);
    free(buf);
    if (!j)
        snprintf(err->source, sizeof(err->source), "%s", path);
    return j;
}
