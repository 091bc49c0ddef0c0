/*
 * config_journal.c -- the change journal's file (config_journal.h).
 */
#include "control/config_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fdio.h"
#include "common/jsondelta.h"
#include "common/log.h"
#include "control/config_history.h"

void config_journal_path(const char *path, char *out, size_t len)
{
    const char *slash = strrchr(path, '/');
    int dl = slash ? (int)(slash - path) : 1;
    snprintf(out, len, "%.*s/.%s.journal", dl, slash ? path : ".", slash ? slash + 1 : path);
}

char *config_journal_slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return NULL;
    char *buf = fstat(fd, &st) == 0 ? malloc((size_t)st.st_size + 1) : NULL;
    size_t n = buf ? fdio_read_full(fd, buf, (size_t)st.st_size, NULL) : 0;
    close(fd);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

void config_journal_digest_file(const char *path, char out[DIGEST_SHA256_HEX])
{
    size_t n = 0;
    char *text = config_journal_slurp(path, &n);
    if (text)
        digest_sha256_hex(text, n, out);
    else
        out[0] = '\0';
    free(text);
}

char *config_journal_line(json_t *j)
{
    return config_history_dump_line(j, JSON_COMPACT, NULL);
}

char *config_journal_marker(const char *digest, uint64_t upto)
{
    json_t *m = json_pack("{s:s, s:I}", "file", digest, "upto", (json_int_t)upto);
    char *line = config_journal_line(m);
    json_decref(m);
    return line;
}

int config_journal_put(int fd, const char *text, size_t len)
{
    return fdio_write_all(fd, text, len);
}

int config_journal_write(int *fd, const char *journal, const char *text)
{
    if (*fd < 0) {
        *fd = open(journal, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (*fd < 0)
            return -1;
    }
    return config_journal_put(*fd, text, strlen(text));
}

int config_journal_append(int *fd, const char *journal, const char *text)
{
    return config_journal_write(fd, journal, text) == 0 ? fdatasync(*fd) : -1;
}

json_t *config_journal_read(const char *journal, size_t *torn)
{
    size_t n = 0;
    char *text = config_journal_slurp(journal, &n);
    *torn = 0;
    if (!text)
        return NULL;
    json_t *lines = json_array();
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(l, 0, NULL);
        if (json_is_object(j))
            json_array_append_new(lines, j);
        else {
            json_decref(j);
            (*torn)++;
        }
    }
    free(text);
    return lines;
}

int64_t config_journal_upto(json_t *lines, const char *d)
{
    int64_t upto = -1;
    json_t *l;
    size_t i;
    json_array_foreach(lines, i, l)
    {
        const char *f = json_string_value(json_object_get(l, "file"));
        if (f && d[0] && strcmp(f, d) == 0)
            upto = (int64_t)json_integer_value(json_object_get(l, "upto"));
    }
    return upto;
}

/* The versions of lines newer than upto applied to doc (stolen), in
 * order: the new document (*n how many, *last the newest), or NULL when a
 * delta does not apply. */
static json_t *config_journal_replay(json_t *lines, int64_t upto, json_t *doc, size_t *n,
                                     uint64_t *last)
{
    json_t *l;
    size_t i;
    *n = 0;
    *last = (uint64_t)upto;
    json_array_foreach(lines, i, l)
    {
        uint64_t v = (uint64_t)json_integer_value(json_object_get(l, "v"));
        json_t *delta = json_object_get(l, "delta");
        if (!doc || !delta || v <= *last)
            continue;
        char why[256];
        json_t *next = jsondelta_apply(doc, delta, why, sizeof(why));
        if (!next)
            log_error("event=config_journal result=failed version=%llu why=\"%s\"",
                      (unsigned long long)v, why);
        json_decref(doc);
        doc = next;
        *last = v;
        (*n)++;
    }
    return doc;
}

/* Whether lines hold a version no marker says a file held: one a crash
 * kept out of the file. */
static bool config_journal_owed(json_t *lines)
{
    uint64_t marked = 0, newest = 0;
    json_t *l;
    size_t i;
    json_array_foreach(lines, i, l)
    {
        uint64_t v = (uint64_t)json_integer_value(json_object_get(l, "v"));
        uint64_t upto = (uint64_t)json_integer_value(json_object_get(l, "upto"));
        newest = v > newest ? v : newest;
        marked = json_object_get(l, "file") && upto > marked ? upto : marked;
    }
    return newest > marked;
}

/* A journal that names no version of the file (edited by hand after a
 * crash): set aside, never applied over it. */
static void config_journal_set_aside(const char *journal)
{
    char aside[4400];
    snprintf(aside, sizeof(aside), "%s.stale-%lld", journal, (long long)time(NULL));
    if (rename(journal, aside) == 0)
        log_error("event=config_journal result=set_aside journal=%s note=\"the configuration "
                  "file is not one the journal knows (edited by hand?): its changes are not "
                  "applied over it\"",
                  aside);
}

/* Writes doc as the file at path (its mode and owner kept: start-up may
 * run as root before it drops to run_as) and marks it in the journal as
 * holding versions up to last; 0 or -1. */
static int config_journal_write_file(const char *path, const char *journal, json_t *doc,
                                     uint64_t last)
{
    size_t len = 0;
    char *text = config_history_text(doc, &len), d[DIGEST_SHA256_HEX];
    struct stat st;
    bool have_st = stat(path, &st) == 0;
    mode_t mode = have_st ? st.st_mode & 07777 : 0640;
    int rc = text ? config_history_write_text(path, text, len, mode, true) : -1;
    if (rc == 0 && have_st && (st.st_uid != geteuid() || st.st_gid != getegid()) &&
        chown(path, st.st_uid, st.st_gid) != 0)
        log_warn("event=config_journal file=%s note=\"cannot give the file back to its "
                 "owner: %s\"",
                 path, strerror(errno));
    if (rc == 0) {
        digest_sha256_hex(text, len, d);
        char *marker = config_journal_marker(d, last), *line = NULL;
        /* On a line of its own after a torn last line (an empty line is
         * skipped). */
        if (marker && asprintf(&line, "\n%s", marker) < 0)
            line = NULL;
        int fd = -1;
        rc = line ? config_journal_append(&fd, journal, line) : -1;
        free(line);
        if (fd >= 0)
            close(fd);
        free(marker);
    }
    free(text);
    return rc;
}

int config_journal_recover(const char *path)
{
    char journal[4300], d[DIGEST_SHA256_HEX] = "";
    config_journal_path(path, journal, sizeof(journal));
    size_t torn = 0, len = 0, n = 0;
    json_t *lines = config_journal_read(journal, &torn);
    if (!lines)
        return 0;
    char *text = config_journal_slurp(path, &len);
    if (text)
        digest_sha256_hex(text, len, d);
    json_t *doc = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    free(text);
    int64_t upto = doc ? config_journal_upto(lines, d) : -1;
    if (doc && upto < 0 && config_journal_owed(lines))
        config_journal_set_aside(journal);
    uint64_t last = 0;
    json_t *out =
        upto >= 0 ? config_journal_replay(lines, upto, json_incref(doc), &n, &last) : NULL;
    json_decref(doc);
    json_decref(lines);
    int rc = out && n ? config_journal_write_file(path, journal, out, last) : 0;
    json_decref(out);
    if (rc != 0) {
        log_error("event=config_journal result=failed file=%s error=\"%s\"", path, strerror(errno));
        return -1;
    }
    if (n)
        log_warn("event=config_journal result=replayed file=%s versions=%zu upto=%llu torn=%zu",
                 path, n, (unsigned long long)last, torn);
    return 0;
}
