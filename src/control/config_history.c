/*
 * config_history.c -- the history directory of whole versions
 * (config_history.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* copy_file_range */
#endif
#include "control/config_history.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/fdio.h"
#include "common/jsoncfg.h"
#include "control/config_api.h"

void config_history_path(const char *dir, uint64_t v, const char *ext, char *out, size_t len)
{
    snprintf(out, len, "%s/%08llu%s", dir, (unsigned long long)v, ext);
}

uint64_t config_history_scan(const char *dir)
{
    uint64_t max = 0;
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char *end;
        unsigned long long v = strtoull(e->d_name, &end, 10);
        if (end != e->d_name && strcmp(end, ".json") == 0 && v > max)
            max = v;
    }
    if (d)
        closedir(d);
    return max;
}

/* A fleet's versions can have gaps (a node that was down kept fewer):
 * everything below the window goes, whatever its number. */
void config_history_prune(const char *dir, unsigned keep, uint64_t newest)
{
    if (newest <= keep)
        return;
    uint64_t below = newest - keep + 1;
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[4200];
    while (d && (e = readdir(d)) != NULL) {
        char *end;
        unsigned long long v = strtoull(e->d_name, &end, 10);
        if (end != e->d_name && (strcmp(end, ".json") == 0 || strcmp(end, ".meta.json") == 0) &&
            v < below) {
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
    }
    if (d)
        closedir(d);
}

/* An fsync of path's directory (a rename in it is durable then). */
static int config_history_sync_dir(const char *path)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
    if (fd >= 0)
        close(fd);
    return rc;
}

int config_history_write_text(const char *path, const char *text, size_t len, mode_t mode,
                              bool durable)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    bool ok = fd >= 0 && fdio_write_all(fd, text, len) == 0 && fchmod(fd, mode) == 0 &&
              (!durable || fsync(fd) == 0);
    int saved = errno;
    if (fd >= 0)
        close(fd);
    if (!ok || rename(tmp, path) != 0) {
        saved = ok ? errno : saved;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    if (durable && config_history_sync_dir(path) != 0)
        return -1;
    return 0;
}

char *config_history_dump_line(json_t *j, size_t flags, size_t *len)
{
    char *text = j ? json_dumps(j, flags) : NULL;
    size_t n = text ? strlen(text) : 0;
    char *out = text ? realloc(text, n + 2) : NULL;
    if (!out) {
        free(text);
        return NULL;
    }
    out[n] = '\n';
    out[n + 1] = '\0';
    if (len)
        *len = n + 1;
    return out;
}

char *config_history_text(json_t *doc, size_t *len)
{
    return config_history_dump_line(doc, JSON_INDENT(2), len);
}

/* Version v's meta in dir ("version" and "format" set in a copy, "time"
 * when it has none); 0 or -1 (errno). */
static int config_history_put_meta(const char *dir, uint64_t v, json_t *meta)
{
    char p[4200];
    json_t *m = json_copy(meta); /* meta may be another thread's too: not changed */
    json_object_set_new(m, "version", json_integer((json_int_t)v));
    json_object_set_new(m, "format", json_integer(CONFIG_HISTORY_FORMAT));
    if (!json_object_get(m, "time"))
        json_object_set_new(m, "time", json_real((double)time(NULL)));
    size_t mlen = 0;
    char *mtext = config_history_text(m, &mlen);
    json_decref(m);
    config_history_path(dir, v, ".meta.json", p, sizeof(p));
    int rc = mtext ? config_history_write_text(p, mtext, mlen, 0640, true) : -1;
    free(mtext);
    return rc;
}

int config_history_put(const char *dir, uint64_t v, const char *text, size_t len, json_t *meta)
{
    char p[4200];
    int rc = config_history_put_meta(dir, v, meta);
    config_history_path(dir, v, ".json", p, sizeof(p));
    if (rc == 0)
        rc = config_history_write_text(p, text, len, 0640, true);
    return rc;
}

/* ---- the writer's own dirty data kept to two windows --------------------- */

/* A dump of 157 MB (1,000,000 records) or its copy into the history left
 * that much dirty in the page cache at once; the kernel's writeback then
 * queued it on the device, and the store thread's fdatasync of the
 * journal, which every committed change waits for (config_journal_append),
 * waited behind it: 1.1-1.2 s, two or three times per write of the file
 * under a stream of changes (perf: folio_wait_writeback under fdatasync;
 * issue #55). So the writer starts the writeback of each window it has
 * written (sync_file_range SYNC_FILE_RANGE_WRITE) and waits for the one
 * before: at most two windows of its own are dirty or on the device at a
 * time, and a journal sync waits for a few milliseconds of them at most,
 * as RocksDB's bytes_per_sync and PostgreSQL's checkpoint_flush_after
 * pace their large writes. The fsync at the end then has little left. */
#define CONFIG_HISTORY_SYNC_EVERY (1u << 20)
struct config_history_pace {
    int fd;        /* -1: no pacing */
    off_t at;      /* octets written so far */
    off_t started; /* writeback started up to here */
    off_t waited;  /* ... and waited for up to here */
};

/* n more octets were written at the end of p's file. */
static void config_history_pace_wrote(struct config_history_pace *p, size_t n)
{
    p->at += (off_t)n;
    if (p->fd < 0 || p->at - p->started < (off_t)CONFIG_HISTORY_SYNC_EVERY)
        return;
    /* Failures are let be (a file system without it): this only paces; the
     * fsync at the end makes the file durable or fails the write. */
    (void)sync_file_range(p->fd, p->started, p->at - p->started, SYNC_FILE_RANGE_WRITE);
    if (p->started > p->waited)
        (void)sync_file_range(p->fd, p->waited, p->started - p->waited,
                              SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                  SYNC_FILE_RANGE_WAIT_AFTER);
    p->waited = p->started;
    p->started = p->at;
}

/* ---- a document dumped straight into a file ------------------------------ */

/* What the dump hands jansson's callback: the file, the digest made as it
 * goes (NULL: none asked), and a buffer so that a write(2) carries 64 KB
 * rather than each of jansson's pieces (a key, a comma). */
#define CONFIG_HISTORY_DUMP_BUF (64u * 1024)
struct config_history_sink {
    int fd;
    struct digest_sha256_run *digest;
    char *buf; /* CONFIG_HISTORY_DUMP_BUF octets, owned */
    size_t n;
    bool failed, stopped;
    const struct config_history_stop *until; /* NULL: to the end */
    struct config_history_pace pace;         /* fd: the sink's */
};

static int config_history_sink_flush(struct config_history_sink *k)
{
    /* Hashed a buffer at a time: jansson's pieces are a few octets each. */
    digest_sha256_add(k->digest, k->buf, k->n);
    if (!k->failed && fdio_write_all(k->fd, k->buf, k->n) != 0)
        k->failed = true;
    if (!k->failed)
        config_history_pace_wrote(&k->pace, k->n);
    k->n = 0;
    if (!k->failed && k->until && k->until->stop(k->until->arg))
        k->failed = k->stopped = true;
    return k->failed ? -1 : 0;
}

static int config_history_sink_put(const char *data, size_t len, void *arg)
{
    struct config_history_sink *k = arg;
    while (len && !k->failed) {
        size_t room = CONFIG_HISTORY_DUMP_BUF - k->n, m = len < room ? len : room;
        memcpy(k->buf + k->n, data, m);
        k->n += m;
        data += m;
        len -= m;
        if (k->n == CONFIG_HISTORY_DUMP_BUF)
            config_history_sink_flush(k);
    }
    return k->failed ? -1 : 0;
}

int config_history_dump_tmp(const char *path, json_t *doc, mode_t mode, bool durable,
                            char digest[DIGEST_SHA256_HEX], char *tmp, size_t tmp_len)
{
    return config_history_dump_tmp_until(path, doc, mode, durable, digest, tmp, tmp_len, NULL);
}

int config_history_dump_tmp_until(const char *path, json_t *doc, mode_t mode, bool durable,
                                  char digest[DIGEST_SHA256_HEX], char *tmp, size_t tmp_len,
                                  const struct config_history_stop *until)
{
    snprintf(tmp, tmp_len, "%s.tmp%ld", path, (long)getpid()); /* as write_text's */
    if (digest)
        digest[0] = '\0';
    struct config_history_sink k = {
        .fd = doc ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) : -1,
        .digest = digest ? digest_sha256_begin() : NULL,
        .buf = malloc(CONFIG_HISTORY_DUMP_BUF),
        .until = until,
    };
    k.pace.fd = k.fd;
    errno = doc ? errno : EINVAL;
    /* The bytes config_history_text makes: the same flags, then the newline. */
    bool ok = k.fd >= 0 && k.buf && (!digest || k.digest) &&
              json_dump_callback(doc, config_history_sink_put, &k, JSON_INDENT(2)) == 0 &&
              config_history_sink_put("\n", 1, &k) == 0 && config_history_sink_flush(&k) == 0 &&
              fchmod(k.fd, mode) == 0 && (!durable || fsync(k.fd) == 0);
    int saved = k.stopped ? ECANCELED : errno ? errno : EIO;
    if (digest)
        digest_sha256_end_hex(k.digest, digest); /* frees it */
    else
        digest_sha256_end_hex(k.digest, (char[DIGEST_SHA256_HEX]){0});
    free(k.buf);
    if (k.fd >= 0)
        close(k.fd);
    if (!ok) {
        if (k.fd >= 0)
            unlink(tmp);
        if (digest)
            digest[0] = '\0';
        errno = saved;
        return -1;
    }
    return 0;
}

int config_history_commit_tmp(const char *tmp, const char *path, bool durable)
{
    if (rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return durable ? config_history_sync_dir(path) : 0;
}

int config_history_put_doc(const char *dir, uint64_t v, json_t *doc, json_t *meta)
{
    char p[4200], tmp[4300];
    int rc = config_history_put_meta(dir, v, meta);
    config_history_path(dir, v, ".json", p, sizeof(p));
    if (rc == 0)
        rc = config_history_dump_tmp(p, doc, 0640, true, NULL, tmp, sizeof(tmp));
    return rc == 0 ? config_history_commit_tmp(tmp, p, true) : rc;
}

/* in's bytes to out by the kernel (copy_file_range: nothing passes
 * through this process's memory): 1 when copied, 0 when the kernel
 * cannot (ENOSYS, EXDEV, EINVAL, ...: what it copied already undone, in
 * and out rewound, for a copy by hand), -1 on another error (errno). */
static int config_history_copy_kernel(int in, int out)
{
    size_t done = 0;
    struct config_history_pace pace = {.fd = out};
    for (;;) { /* a window at a time, paced as a dump is */
        ssize_t n = copy_file_range(in, NULL, out, NULL, CONFIG_HISTORY_SYNC_EVERY, 0);
        if (n == 0)
            return 1;
        if (n > 0) {
            done += (size_t)n;
            config_history_pace_wrote(&pace, (size_t)n);
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EIO || errno == ENOSPC || errno == EDQUOT || errno == EBADF)
            return -1;
        if (done == 0) /* nothing copied (a pipe, another file system) */
            return 0;
        return lseek(in, 0, SEEK_SET) == 0 && ftruncate(out, 0) == 0 && lseek(out, 0, SEEK_SET) == 0
                   ? 0
                   : -1;
    }
}

/* in's bytes to out, read and written 64 KB at a time; 0 or -1 (errno). */
static int config_history_copy_by_hand(int in, int out)
{
    char *buf = malloc(CONFIG_HISTORY_DUMP_BUF);
    int rc = buf ? 0 : -1;
    struct config_history_sink k = {.fd = out, .buf = buf, .pace = {.fd = out}};
    while (rc == 0) {
        ssize_t n = read(in, buf, CONFIG_HISTORY_DUMP_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n == 0 ? 0 : -1;
            break;
        }
        k.n = (size_t)n;
        rc = config_history_sink_flush(&k);
    }
    free(buf);
    return rc;
}

/* src's bytes into path through a temporary file, an fsync, a rename and
 * an fsync of the directory; 0 or -1 (errno). */
static int config_history_copy(const char *src, const char *path)
{
    char tmp[4300];
    snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = in >= 0 ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640) : -1;
    int k = out >= 0 ? config_history_copy_kernel(in, out) : -1;
    bool ok = k == 1 || (k == 0 && config_history_copy_by_hand(in, out) == 0);
    ok = ok && fsync(out) == 0;
    int saved = errno ? errno : EIO;
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (!ok) {
        if (out >= 0)
            unlink(tmp);
        errno = saved;
        return -1;
    }
    return config_history_commit_tmp(tmp, path, true);
}

int config_history_put_copy(const char *dir, uint64_t v, const char *src, json_t *meta)
{
    char p[4200];
    int rc = config_history_put_meta(dir, v, meta);
    config_history_path(dir, v, ".json", p, sizeof(p));
    return rc == 0 ? config_history_copy(src, p) : rc;
}

bool config_history_same_text(const char *dir, uint64_t v, const char *path)
{
    char p[4200];
    if (!dir || !path)
        return false;
    config_history_path(dir, v, ".json", p, sizeof(p));
    int a = open(p, O_RDONLY | O_CLOEXEC), b = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sa, sb;
    bool same = a >= 0 && b >= 0 && fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
                S_ISREG(sa.st_mode) && S_ISREG(sb.st_mode) && sa.st_size == sb.st_size;
    if (same && (sa.st_dev != sb.st_dev || sa.st_ino != sb.st_ino)) {
        static const size_t chunk = 65536;
        char *x = malloc(2 * chunk);
        if (!x)
            abort();
        for (off_t left = sa.st_size; same && left > 0;) {
            size_t want = (size_t)left < chunk ? (size_t)left : chunk;
            same = fdio_read_full(a, x, want, NULL) == want &&
                   fdio_read_full(b, x + chunk, want, NULL) == want &&
                   memcmp(x, x + chunk, want) == 0;
            left -= (off_t)want;
        }
        free(x);
    }
    if (a >= 0)
        close(a);
    if (b >= 0)
        close(b);
    return same;
}

json_t *config_history_load(const char *dir, uint64_t v, const char *ext)
{
    char p[4200];
    if (!dir)
        return NULL;
    config_history_path(dir, v, ext, p, sizeof(p));
    return jsoncfg_load_file(p, JSON_REJECT_DUPLICATES, NULL);
}

int config_history_readable(const char *dir, char *err, size_t len)
{
    uint64_t v = config_history_scan(dir);
    if (!v)
        return 0;
    char p[4200];
    snprintf(p, sizeof(p), "%s/%08llu.meta.json", dir, (unsigned long long)v);
    json_t *m = jsoncfg_load_file(p, JSON_REJECT_DUPLICATES, NULL);
    json_t *fmt = json_object_get(m, "format");
    long long f = json_is_integer(fmt) ? (long long)json_integer_value(fmt) : fmt ? -1 : 1;
    json_decref(m);
    if (f >= 1 && f <= CONFIG_HISTORY_FORMAT_READ_MAX)
        return 0;
    if (f < 1)
        snprintf(err, len, "%s: \"format\" is not a format number", p);
    else
        snprintf(err, len,
                 "%s: configuration history of format %lld; this gtmd reads formats 1 to %d "
                 "(writes %d): a gtmd more than one release newer wrote it, and downgrading past "
                 "one release is not supported: run that gtmd, or move the directory aside to "
                 "start without its history",
                 p, f, CONFIG_HISTORY_FORMAT_READ_MAX, CONFIG_HISTORY_FORMAT);
    return -1;
}
