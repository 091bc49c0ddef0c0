/*
 * persist.c -- the state file.
 */
#include "health/persist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fdio.h"
#include "common/log.h"
#include "health/override.h"
#include "health/verdict.h"

/* Largest state file read (1000 overrides of 1 KiB reasons are ~1.3 MB). */
#define PERSIST_MAX_FILE (64u * 1024 * 1024)
/* How far ahead of the clock a restored time may be (clock skew). */
#define PERSIST_CLOCK_SLACK 86400.0
/* Temporary files: STATE + this + 16 hex digits. */
#define PERSIST_TMP_TAG ".tmp-"

const char *persist_status_name(enum persist_status s)
{
    static const char *const names[] = {"missing", "ok", "stale", "corrupt", "newer"};
    return s <= PERSIST_CORRUPT ? names[s] : "?";
}

/* Everything the file holds, taken in one hold of the core's lock so that
 * states, overrides and the next id agree with each other. The endpoints'
 * states are only copied under the lock and made JSON after it: the
 * prober thread takes this lock for every probe result, and building
 * 10,000 JSON objects in it (longer still when the health thread is
 * preempted meanwhile, on a loaded machine) held probes back by seconds. */
struct persist_ep {
    char *key; /* owned (a slot may go once the lock is released) */
    uint8_t state;
    double since;
};

static json_t *persist_snapshot(struct health_core *c)
{
    pthread_mutex_lock(&c->lock);
    struct persist_ep *v = calloc(c->n_slots ? c->n_slots : 1, sizeof(*v));
    if (!v)
        abort();
    size_t n = 0;
    for (uint32_t i = 0; i < c->n_buckets; i++)
        for (struct health_slot *s = c->buckets[i]; s && n < c->n_slots; s = s->next_in_bucket) {
            if (!health_slot_in_use(c, s) || s->probe_state == HEALTH_UNKNOWN)
                continue;
            v[n].key = strdup(s->key);
            if (!v[n].key)
                abort();
            v[n].state = s->probe_state;
            v[n++].since = s->since;
        }
    json_t *ovr = override_list_json_locked(c);
    json_t *vdt = verdict_list_json_locked(c);
    /* next_override_id keeps ids unique across restarts even when the
     * newest override was deleted before the stop. */
    json_int_t next_id = (json_int_t)c->next_override_id;
    pthread_mutex_unlock(&c->lock);
    json_t *eps = json_object();
    for (size_t i = 0; i < n; i++) {
        json_object_set_new(eps, v[i].key,
                            json_pack("{s:s, s:f}", "state",
                                      health_state_name((enum health_state)v[i].state), "since",
                                      v[i].since));
        free(v[i].key);
    }
    free(v);
    return json_pack("{s:i, s:f, s:o, s:o, s:I, s:o}", "version", PERSIST_FORMAT, "saved_at",
                     health_now(), "endpoints", eps, "overrides", ovr, "next_override_id", next_id,
                     "verdicts", vdt);
}

/* Creates a new temporary file beside path, mkstemp-style: a random name,
 * O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600. Whatever someone planted at a name
 * (a symlink, a file) makes that attempt fail; it is never followed. */
static int persist_temp_open(const char *path, char *tmp, size_t len)
{
    for (int i = 0; i < 64; i++) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            r = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
                (uint64_t)i * 0x9e3779b97f4a7c15ULL;
        }
        if ((size_t)snprintf(tmp, len, "%s" PERSIST_TMP_TAG "%016llx", path,
                             (unsigned long long)r) >= len) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

static void persist_fsync_dir(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

/* Writes data to path atomically: new temp file, fsync, rename, fsync dir.
 * errno is kept for the caller on failure. */
static int persist_write_atomic(const char *path, const char *data, size_t len)
{
    char tmp[PATH_MAX];
    int fd = persist_temp_open(path, tmp, sizeof(tmp));
    if (fd < 0)
        return -1;
    if (fdio_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    persist_fsync_dir(path);
    return 0;
}

/* The core's snapshot plus the sections (each save() called once, outside
 * the core's lock: a section owner takes its own lock) and the keys of
 * keep that the snapshot does not have (a bad file's other sections),
 * written atomically. */
static int persist_write(struct health_core *c, const char *path,
                         const struct persist_section *secs, size_t n, json_t *keep, char *err,
                         size_t errlen)
{
    json_t *root = persist_snapshot(c);
    for (size_t i = 0; i < n; i++) {
        json_t *v = secs[i].save(secs[i].arg);
        if (v)
            json_object_set_new(root, secs[i].name, v);
    }
    const char *k;
    json_t *v;
    json_object_foreach(keep, k, v)
    {
        if (!json_object_get(root, k))
            json_object_set(root, k, v);
    }
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(root);
    errno = ENOMEM;
    int rc = text ? persist_write_atomic(path, text, strlen(text)) : -1;
    const char *why = rc != 0 ? strerror(errno) : "";
    free(text);
    if (rc != 0)
        log_error("event=state_save result=failed file=%s error=\"%s\"", path, why);
    if (err && errlen)
        snprintf(err, errlen, "%s", why);
    return rc;
}

int persist_save(struct health_core *c, const char *path, char *err, size_t errlen)
{
    return persist_write(c, path, NULL, 0, NULL, err, errlen);
}

int persist_save_sections(struct health_core *c, const char *path,
                          const struct persist_section *secs, size_t n, char *err, size_t errlen)
{
    return persist_write(c, path, secs, n, NULL, err, errlen);
}

json_t *persist_load_section(const char *path, const char *name)
{
    json_t *root = json_load_file(path, 0, NULL);
    json_t *v = root ? json_incref(json_object_get(root, name)) : NULL;
    json_decref(root);
    return v;
}

int persist_count_overrides(const char *path, size_t *n)
{
    json_t *root = json_load_file(path, 0, NULL);
    json_t *arr = json_object_get(root, "overrides");
    int rc = json_is_array(arr) ? 0 : -1;
    *n = rc == 0 ? override_count_valid(arr, health_now()) : 0;
    json_decref(root);
    return rc;
}

/* Removes temporary files a killed gtmd left beside path (our own names
 * only; unlink never follows a symlink). */
static void persist_clean_temps(const char *path)
{
    char dir[PATH_MAX], base[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    snprintf(base, sizeof(base), "%s", path);
    const char *b = basename(base);
    size_t blen = strlen(b), tlen = strlen(PERSIST_TMP_TAG);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strncmp(n, b, blen) == 0 && strncmp(n + blen, PERSIST_TMP_TAG, tlen) == 0 &&
            strlen(n + blen + tlen) == 16 && strspn(n + blen + tlen, "0123456789abcdef") == 16)
            unlinkat(dirfd(d), n, 0);
    }
    closedir(d);
}

/* Reads the whole file into *out (NUL-terminated). 0 read, 1 missing, -1
 * unreadable (err says why). */
static int persist_read(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT)
        return 1;
    struct stat st;
    const char *why = NULL;
    if (fd < 0 || fstat(fd, &st) != 0)
        why = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if ((uint64_t)st.st_size > PERSIST_MAX_FILE)
        why = "larger than 64 MiB";
    char *buf = why ? NULL : malloc((size_t)st.st_size + 1);
    int rerr = 0;
    size_t got = buf ? fdio_read_full(fd, buf, (size_t)st.st_size, &rerr) : 0;
    if (buf && got < (size_t)st.st_size)
        why = rerr ? strerror(rerr) : "shorter than its size";
    if (fd >= 0)
        close(fd);
    if (why || !buf) {
        snprintf(err, errlen, "cannot read it: %s", why ? why : "out of memory");
        free(buf);
        return -1;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

/* Keeps the bad file as PATH.corrupt-TIMESTAMP[-N]: a hard link (the file
 * stays in place until the fresh one replaces it, so no crash can leave
 * no file at all), else a rename. Never overwrites anything. */
static int persist_keep_aside(const char *path, char *kept, size_t len)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    for (int i = 0; i < 100; i++) {
        if (i == 0)
            snprintf(kept, len, "%s.corrupt-%s", path, stamp);
        else
            snprintf(kept, len, "%s.corrupt-%s-%d", path, stamp, i);
        if (link(path, kept) == 0)
            return 0;
        if (errno == EEXIST)
            continue;
        /* No hard links here (or not allowed): move it instead, without
         * replacing anything (renameat2 RENAME_NOREPLACE semantics by hand:
         * the name was just found free). */
        if (access(kept, F_OK) != 0 && errno == ENOENT && rename(path, kept) == 0)
            return 0;
        return -1;
    }
    errno = EEXIST;
    return -1;
}

/* Restores the endpoint states of the slots in use (when fresh), checking
 * every entry; counts the rejected ones. */
static size_t persist_endpoints(struct health_core *c, json_t *eps, double now, bool fresh,
                                struct persist_result *res)
{
    size_t restored = 0;
    const char *key;
    json_t *e;
    json_object_foreach(eps, key, e)
    {
        const char *st = json_string_value(json_object_get(e, "state"));
        json_t *since = json_object_get(e, "since");
        double t = json_number_value(since);
        const char *why = NULL;
        if (!json_is_object(e) || json_object_size(e) != 2)
            why = "must be {\"state\": ..., \"since\": ...}";
        else if (!st || (strcmp(st, "up") != 0 && strcmp(st, "down") != 0))
            why = "\"state\" must be \"up\" or \"down\"";
        else if (!json_is_number(since) || !isfinite(t) || t <= 0 || t > now + PERSIST_CLOCK_SLACK)
            why = "\"since\" must be a time no later than now";
        else if (strncmp(key, "check:", 6) == 0
                     ? strlen(key) > 600
                     : strncmp(key, "endpoint:", 9) != 0 || override_check_target(key))
            why = "the key must be \"endpoint:POOL/NAME\" or \"check:POOL/NAME/CHECK\"";
        if (why) {
            char key_q[256], why_q[128];
            log_error("event=state_load endpoint_rejected key=\"%s\" why=\"%s\"",
                      log_quote(key, key_q, sizeof(key_q)), log_quote(why, why_q, sizeof(why_q)));
            res->rejected++;
            continue;
        }
        /* Slots never move or go away: found, then changed under the lock. */
        struct health_slot *s = fresh ? health_core_find(c, key) : NULL;
        pthread_mutex_lock(&c->lock);
        if (s && health_slot_in_use(c, s)) {
            health_restore(s, strcmp(st, "up") == 0 ? HEALTH_UP : HEALTH_DOWN, t);
            restored++;
        }
        pthread_mutex_unlock(&c->lock);
    }
    return restored;
}

/* The next id kept in the file: absent is fine (older files), anything
 * else must be a count that an id could follow. */
static void persist_next_id(struct health_core *c, json_t *root, struct persist_result *res)
{
    json_t *next = json_object_get(root, "next_override_id");
    if (!next)
        return;
    json_int_t v = json_integer_value(next);
    if (!json_is_integer(next) || v < 1 || (uint64_t)v > OVERRIDE_ID_MAX + 1) {
        log_error("event=state_load next_override_id_rejected why=\"must be an integer from 1 "
                  "to 2^52\"");
        res->rejected++;
        return;
    }
    override_raise_next_id(c, (uint64_t)v);
}

/* Restores what a parsed file holds. -1: refused (too many overrides). */
static int persist_apply(struct health_core *c, const char *path, json_t *root, double max_age,
                         struct persist_result *res)
{
    double now = health_now();
    persist_next_id(c, root, res);
    json_t *ovr = json_object_get(root, "overrides");
    struct override_restore_stats os = {0};
    if (ovr && !json_is_array(ovr)) {
        log_error("event=state_load overrides_rejected why=\"must be an array\"");
        res->rejected++;
    } else if (ovr && override_restore(c, ovr, now, &os) != 0) {
        snprintf(res->error, sizeof(res->error),
                 "state file %s holds %zu overrides, more than any gtmd keeps (%d): it was not "
                 "written by gtmd; remove overrides from the file",
                 path, os.wanted, HEALTH_MAX_OVERRIDES_LIMIT);
        return -1;
    }
    res->rejected += os.rejected;
    res->overrides = os.restored;
    res->over_max = os.over_max;
    if (os.restored)
        log_info("event=state_load overrides_restored=%zu", os.restored);
    if (os.over_max) {
        char note[256], note_q[300];
        override_cap_note(note, sizeof(note), os.restored, c->max_overrides);
        log_warn("event=state_load result=over_max_overrides overrides=%zu max_overrides=%zu "
                 "note=\"%s\"",
                 os.restored, c->max_overrides, log_quote(note, note_q, sizeof(note_q)));
    }
    /* External verdicts (verdict.h): restored whatever the file's age,
     * like overrides; each carries its own expiry. */
    json_t *vdt = json_object_get(root, "verdicts");
    if (vdt && !json_is_array(vdt)) {
        log_error("event=state_load verdicts_rejected why=\"must be an array\"");
        res->rejected++;
    } else if (vdt) {
        size_t bad = 0, n = verdict_restore(c, vdt, now, &bad);
        res->rejected += bad;
        if (n)
            log_info("event=state_load verdicts_restored=%zu", n);
    }
    json_t *saved = json_object_get(root, "saved_at");
    json_t *eps = json_object_get(root, "endpoints");
    double t = json_number_value(saved);
    res->age = json_is_number(saved) && isfinite(t) && t > 0 ? now - t : -1;
    /* Unknown (-1) or in the future: not trusted, as before. */
    bool fresh = res->age >= 0 && res->age <= max_age;
    if (eps && !json_is_object(eps)) {
        log_error("event=state_load endpoints_rejected why=\"must be an object\"");
        res->rejected++;
    } else if (eps)
        res->endpoints = persist_endpoints(c, eps, now, fresh, res);
    res->status = fresh && json_is_object(eps) ? PERSIST_OK : PERSIST_STALE;
    if (res->status == PERSIST_STALE)
        log_info("event=state_load result=stale file=%s age_s=%.0f max_age_s=%.0f", path, res->age,
                 max_age);
    else
        log_info("event=state_load result=ok file=%s age_s=%.1f restored=%zu", path, res->age,
                 res->endpoints);
    return 0;
}

/* A file of the next release's format: fields of its overrides this
 * release does not know are ignored (the next release adds only fields an
 * older reader may ignore). */
static void persist_ignore_unknown(json_t *root)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(root, "overrides"), i, e)
    {
        if (json_is_object(e))
            override_keep_known(e);
    }
}

/* Parses the file; NULL (and error set) when it is not a state file, or
 * one of a newer format (res->status PERSIST_NEWER). */
static json_t *persist_parse(const char *text, size_t len, struct persist_result *res)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(res->error, sizeof(res->error), "line %d, column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return NULL;
    }
    json_t *v = json_object_get(root, "version");
    if (!json_is_object(root))
        snprintf(res->error, sizeof(res->error), "not a JSON object");
    else if (v && (!json_is_integer(v) || json_integer_value(v) < 1))
        snprintf(res->error, sizeof(res->error), "\"version\" must be a format number from 1");
    else if (v && json_integer_value(v) > PERSIST_FORMAT_READ_MAX) {
        /* A newer gtmd's: not corrupt, and not to be replaced by an older
         * one's (what it holds would be lost). */
        res->status = PERSIST_NEWER;
        snprintf(res->error, sizeof(res->error),
                 "state file of format %lld: this gtmd reads formats 1 to %d (writes %d); a gtmd "
                 "more than one release newer wrote it, and downgrading past one release is not "
                 "supported: run that gtmd, or move the file aside to start without its state",
                 (long long)json_integer_value(v), PERSIST_FORMAT_READ_MAX, PERSIST_FORMAT);
    } else {
        if (v && json_integer_value(v) > PERSIST_FORMAT)
            persist_ignore_unknown(root);
        return root;
    }
    json_decref(root);
    return NULL;
}

/* A bad file: kept aside, ids raised past anything it held, and a fresh
 * file written now (so a crash before the next save finds a good file). */
static int persist_quarantine(struct health_core *c, const char *path, json_t *root,
                              struct persist_result *res)
{
    override_floor_ids(c, health_now());
    char save_err[256];
    if (persist_keep_aside(path, res->kept_as, sizeof(res->kept_as)) != 0) {
        res->kept_as[0] = '\0';
        snprintf(res->error + strlen(res->error), sizeof(res->error) - strlen(res->error),
                 "%scannot keep it aside: %s", res->error[0] ? "; " : "", strerror(errno));
        return -1;
    }
    /* The other sections (drills, ...) are kept as they were: their owners
     * read them next and check them themselves. */
    if (persist_write(c, path, NULL, 0, root, save_err, sizeof(save_err)) != 0) {
        snprintf(res->error + strlen(res->error), sizeof(res->error) - strlen(res->error),
                 "%scannot write a fresh state file: %s", res->error[0] ? "; " : "", save_err);
        return -1;
    }
    uint64_t next = c->next_override_id; /* no other thread runs yet */
    char err_q[sizeof(res->error) + 16];
    log_error("event=state_load result=%s file=%s kept_as=%s rejected=%zu error=\"%s\" "
              "next_override_id=%llu",
              res->status == PERSIST_CORRUPT ? "corrupt" : "invalid_entries", path, res->kept_as,
              res->rejected, log_quote(res->error, err_q, sizeof(err_q)), (unsigned long long)next);
    return 0;
}

int persist_load(struct health_core *c, const char *path, double max_age, unsigned flags,
                 struct persist_result *res)
{
    bool readonly = flags & PERSIST_LOAD_READONLY;
    memset(res, 0, sizeof(*res));
    res->age = -1;
    if (!readonly)
        persist_clean_temps(path);
    char *text = NULL;
    size_t len = 0;
    int rd = persist_read(path, &text, &len, res->error, sizeof(res->error));
    if (rd == 1) {
        res->status = PERSIST_MISSING;
        return 0;
    }
    json_t *root = rd == 0 ? persist_parse(text, len, res) : NULL;
    free(text);
    int rc = 0;
    if (!root && res->status == PERSIST_NEWER)
        return -1; /* gtmd does not start: the file stays as it is */
    if (!root)
        res->status = PERSIST_CORRUPT;
    else
        rc = persist_apply(c, path, root, max_age, res);
    if (rc == 0 && (res->status == PERSIST_CORRUPT || res->rejected > 0)) {
        if (res->rejected > 0 && !res->error[0])
            snprintf(res->error, sizeof(res->error), "%zu entries failed validation",
                     res->rejected);
        if (!readonly)
            rc = persist_quarantine(c, path, root, res);
    }
    json_decref(root);
    return rc;
}
