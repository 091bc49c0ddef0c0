/*
 * config_store.c -- see config_store.h: the versions committed, the writer
 * thread (group commit of the file, then the history's whole versions,
 * newest first) and the readers of versions not written yet.
 */
#include "control/config_store.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/deadline.h"
#include "common/jsondelta.h"
#include "common/jsonrecycle.h"
#include "common/log.h"
#include "control/config_history.h"
#include "control/config_journal.h"

/* A version committed whose file or history write may still be owed. The
 * chain of them is in commit order: the undo of each turns its document
 * into the one of the item before. Only the writer frees items. */
struct config_store_item {
    uint64_t v;
    json_t *undo, *meta;
    char *line;   /* its journal line */
    size_t len;   /* ... its length */
    double at;    /* when it was committed (deadline_mono) */
    bool in_hist; /* in the history directory, or given up (lock) */
    struct config_store_item *next;
};

struct config_store {
    char *path, *journal;
    pthread_t thread;
    pthread_mutex_t lock;                  /* everything below but hist_lock's */
    pthread_cond_t work;                   /* something to write, a flush, or stop */
    pthread_cond_t written;                /* the writer finished a step, or a listing */
    struct config_store_item *head, *tail; /* the chain */
    json_t *newest_doc;                    /* the newest committed version's document */
    uint64_t newest_v, file_v;             /* ... and the version the file holds */
    uint64_t failed_v;                     /* the newest version whose file write failed */
    struct config_api_stamp file_stamp;    /* the file as the store may replace it */
    struct config_api_stamp written_stamp; /* as the writer last left it (zero: kept an edit) */
    uint64_t written_v;
    char *hist_dir; /* NULL: none (changed only while nothing is owed) */
    unsigned keep;
    bool busy_file, busy_hist, stop;
    bool tidying;        /* config_store_tidy under way: a flush waits for it */
    uint64_t in_place_v; /* the version the writer dumps without a copy (0: none) */
    uint64_t let_gos;    /* dumps in place given up for a newer version */
    uint64_t cuts;       /* the journal's cuts (config_store_tidy's check) */
    int hurry;           /* flushes waiting: no rest */
    int jfd;             /* the journal, appending */
    char file_digest[DIGEST_SHA256_HEX];
    /* Monotonic seconds (deadline_mono). */
    double last_ms;            /* the CPU time the last step took (writer only) */
    double last_end;           /* when it ended (writer only) */
    double last_commit;        /* when the newest version was committed */
    double owed_since;         /* ... and the oldest the file does not hold yet */
    size_t owed_bytes;         /* the journal's lines of the versions the file lacks */
    off_t file_bytes;          /* the file's size, as written or found */
    pthread_mutex_t hist_lock; /* writes into the history directory */
    bool renice_failed;        /* the writer's detach runs at its own nice (writer only) */
    int nice_base;             /* the nice the writer started at (writer only) */
    bool listing;              /* the writer holds a version it will detach (or detaches) */
};

int config_store_recover(const char *path)
{
    return config_journal_recover(path);
}

static void config_store_item_free(struct config_store_item *it)
{
    json_decref(it->undo);
    json_decref(it->meta);
    free(it->line);
    free(it);
}

/* Whether version v is still among the newest keep. (lock) */
static bool config_store_in_window(const struct config_store *s, uint64_t v)
{
    return v + s->keep > s->newest_v;
}

/* An item the history still needs. (lock) */
static bool config_store_owed(const struct config_store *s, const struct config_store_item *it)
{
    return s->hist_dir && !it->in_hist && config_store_in_window(s, it->v);
}

static bool config_store_file_owed(const struct config_store *s)
{
    return s->file_v < s->newest_v && s->failed_v != s->newest_v;
}

static bool config_store_hist_owed(const struct config_store *s)
{
    for (const struct config_store_item *it = s->head; it; it = it->next)
        if (config_store_owed(s, it))
            return true;
    return false;
}

/* Takes the items nothing needs any more off the chain: in the file and
 * in the history (or out of its window). Returned as a list for the
 * caller to free (config_store_free_items), outside the lock. (lock) */
static struct config_store_item *config_store_prune(struct config_store *s)
{
    struct config_store_item *gone = NULL, **end = &gone;
    while (s->head && s->head->v <= s->file_v && !config_store_owed(s, s->head)) {
        struct config_store_item *it = s->head;
        s->head = it->next;
        if (!s->head)
            s->tail = NULL;
        it->next = NULL;
        *end = it;
        end = &it->next;
    }
    return gone;
}

static void config_store_free_items(struct config_store_item *it)
{
    while (it) {
        struct config_store_item *next = it->next;
        config_store_item_free(it);
        it = next;
    }
}

/* A new journal renamed over the old one: appends go to the new file. (lock) */
static void config_store_cut_done(struct config_store *s)
{
    s->cuts++;
    if (s->jfd >= 0) {
        close(s->jfd);
        s->jfd = -1;
    }
}

/* The journal rewritten as the marker of the file and the lines of the
 * chain (what the file or the history may still lack). (lock) */
static void config_store_cut_journal(struct config_store *s)
{
    if (!s->file_digest[0])
        return;
    char tmp[4300], *marker = config_journal_marker(s->file_digest, s->file_v);
    snprintf(tmp, sizeof(tmp), "%s", s->journal);
    size_t cap = marker ? strlen(marker) + 1 : 0, n = 0;
    for (struct config_store_item *it = s->head; it; it = it->next)
        cap += it->len;
    char *text = marker ? malloc(cap) : NULL;
    if (text) {
        n = strlen(marker);
        memcpy(text, marker, n);
        for (struct config_store_item *it = s->head; it; n += it->len, it = it->next)
            memcpy(text + n, it->line, it->len);
    }
    int rc = text ? config_history_write_text(tmp, text, n, 0600, true) : -1;
    int saved = errno;
    free(marker);
    /* Appends reopen the journal by its path, whether the rename was made
     * or not (one made whose directory sync failed must not leave them
     * going to the file it replaced). */
    if (text)
        config_store_cut_done(s);
    free(text);
    if (rc != 0)
        log_warn("event=config_journal note=\"cannot cut the journal down: %s\"", strerror(saved));
}

/* The new journal's lines from `from` on, through `last` (NULL: to the
 * chain's end) into fd; false on a write error. */
static bool config_store_put_lines(int fd, const struct config_store_item *from,
                                   const struct config_store_item *last)
{
    for (const struct config_store_item *it = from; it; it = it == last ? NULL : it->next)
        if (config_journal_put(fd, it->line, it->len) != 0)
            return false;
    return true;
}

/* The writer's cut of the journal (config_store_cut_journal) with its long
 * parts outside the lock: the marker and the lines of the chain as it is
 * now written into a new file and synced, then, under the lock, the lines
 * committed meanwhile added and the file renamed over the journal. Under a
 * stream at 1,000,000 records the writer held the lock for its whole cut
 * (megabytes of owed lines, an fsync behind a 157 MB dump's writeback)
 * while the store thread waited in config_store_behind: a change 0.7 s
 * late (issue #55). Only the writer takes items off the chain and only
 * commits add them, at its tail: the items from the head to the tail seen
 * under the lock are read without it. A cut by another thread meanwhile
 * (config_store_set_history) or a failure: cut under the lock. (lock held
 * on entry and return) */
static void config_store_cut_outside(struct config_store *s)
{
    char tmp[4300], d0[DIGEST_SHA256_HEX];
    char *marker = config_journal_marker(s->file_digest, s->file_v);
    uint64_t gen = s->cuts, v0 = s->file_v;
    snprintf(d0, sizeof(d0), "%s", s->file_digest);
    struct config_store_item *first = s->head, *last = s->tail;
    pthread_mutex_unlock(&s->lock);
    double t0 = deadline_mono();
    snprintf(tmp, sizeof(tmp), "%s.cut", s->journal);
    int fd = marker ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    bool ok = fd >= 0 && config_journal_put(fd, marker, strlen(marker)) == 0 &&
              config_store_put_lines(fd, first, last) && fdatasync(fd) == 0;
    free(marker);
    double t1 = deadline_mono();
    pthread_mutex_lock(&s->lock);
    double t2 = deadline_mono();
    ok = ok && gen == s->cuts && v0 == s->file_v && strcmp(d0, s->file_digest) == 0;
    struct config_store_item *more = last ? last->next : s->head;
    ok = ok && config_store_put_lines(fd, more, NULL) && (!more || fdatasync(fd) == 0);
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    int rc = ok ? config_history_commit_tmp(tmp, s->journal, true) : -1;
    if (ok) /* renamed or not (a rename whose directory sync failed): reopened by path */
        config_store_cut_done(s);
    if (rc == 0) {
        log_msg(LOG_LEVEL_DEBUG, "event=config_journal what=cut ms=%.1f locked_ms=%.1f",
                (t1 - t0) * 1e3, (deadline_mono() - t2) * 1e3);
        return;
    }
    if (!ok && fd >= 0)
        unlink(tmp);
    config_store_cut_journal(s);
}

/* After a write of the file or of the history: the items nothing needs
 * freed and the journal cut down, both outside the lock. (lock held on
 * entry and return) */
static void config_store_tidy(struct config_store *s)
{
    s->tidying = true;
    struct config_store_item *gone = config_store_prune(s);
    if (gone) {
        pthread_mutex_unlock(&s->lock);
        config_store_free_items(gone);
        pthread_mutex_lock(&s->lock);
    }
    if (s->file_digest[0])
        config_store_cut_outside(s);
    s->tidying = false; /* the writer broadcasts `written` after its step */
}

/* The writer's detach let go of the version (config_store_let_go). */
static void config_store_listed(void *arg)
{
    struct config_store *s = arg;
    pthread_mutex_lock(&s->lock);
    s->listing = false;
    pthread_cond_broadcast(&s->written);
    pthread_mutex_unlock(&s->lock);
}

#define CONFIG_STORE_NICE 10 /* the writer's, above the process's, but to detach */

/* doc (a reference handed over) let go for a copy of the writer's own
 * (jsonrecycle_detach), listed at the changes' priority: a change waits
 * for it (jsonrecycle_late), and at nice 10 beside a stream it outwaited
 * its bound and copied 1,000,000 records itself (0.9 s, issue #55); at the
 * writer's nice without CAP_SYS_NICE. The caller set s->listing when it
 * took doc, under the lock, for config_store_let_go. (writer) */
static json_t *config_store_detach(struct config_store *s, json_t *doc)
{
    id_t tid = (id_t)syscall(SYS_gettid);
    bool up = !s->renice_failed && setpriority(PRIO_PROCESS, tid, s->nice_base) == 0;
    if (!up && !s->renice_failed) {
        s->renice_failed = true;
        log_info("event=config_write note=\"the writer cannot raise its priority for its copies "
                 "(%s): a change beside a large write may wait for one\"",
                 strerror(errno));
    }
    doc = jsonrecycle_detach(doc, config_store_listed, s);
    if (up)
        (void)setpriority(PRIO_PROCESS, tid, s->nice_base + CONFIG_STORE_NICE);
    return doc;
}

/* Writes version v into the history (and prunes it): doc dumped as it
 * goes, or, with src, the file src that holds its text copied; 0 or -1. */
static int config_store_put_hist(struct config_store *s, const char *dir, unsigned keep, uint64_t v,
                                 uint64_t newest, json_t *doc, const char *src, json_t *meta)
{
    pthread_mutex_lock(&s->hist_lock);
    int rc = src ? config_history_put_copy(dir, v, src, meta)
                 : config_history_put_doc(dir, v, doc, meta);
    if (rc != 0)
        log_error("event=config_history result=failed dir=%s version=%llu error=\"%s\"", dir,
                  (unsigned long long)v, strerror(errno));
    config_history_prune(dir, keep, newest > v ? newest : v);
    pthread_mutex_unlock(&s->hist_lock);
    return rc;
}

/* Milliseconds since t (monotonic seconds, deadline_mono). */
static double config_store_ms_since(double t)
{
    return (deadline_mono() - t) * 1e3;
}

/* A writer whose steps are long (a large document) waits for a pause in
 * the changes before it writes the file, and writes it anyway once the
 * file is late (config_store_late). Resting nine times a step was not
 * enough: a fleet of three at 100,000 records wrote a 15 MB document on
 * each node every 1.5 s, and the changes beside took 2-4 times as long
 * (contrib/bench/README.md, fifteenth session), nice 19 or not. Every
 * version is durable in the journal when committed; a flush, a reload and
 * a stop do not wait (hurry). (config_store_quiet) */
#define CONFIG_STORE_QUIET_FROM_MS 20.0 /* steps of this much CPU and more wait */
#define CONFIG_STORE_QUIET_MS 300.0     /* a pause: no version for this long */
#define CONFIG_STORE_LAG_MIN_MS 10000.0

/* The writer's rest after a step: its duration times this, at most the
 * bound (config_store_rest). */
#define CONFIG_STORE_REST_FACTOR 9.0
#define CONFIG_STORE_REST_MAX_MS 3000.0

/* Whether the file is late under a stream of changes with no pause, and
 * is written anyway: 10 s behind, or nine times the CPU its last write
 * took when that is longer, once the journal holds lines of an eighth of
 * the file's size for the versions it lacks; else once those lines are
 * half the file's size, or 10 min have passed.
 *
 * With 10 s alone a document of 1,000,000 records (157 MB, a dump of 3.5
 * s alone and 7 s beside the changes) was written again 3 s after each
 * write ended: the writer took 0.6 core of two under a stream, and the
 * changes beside its dumps 1.0 ms of CPU each instead of 0.4 (issue #55).
 * So a forced write comes at most once per eighth of a file of changes,
 * as a log-structured store compacts (Redis's AOF rewrite, an LSM's
 * level), and its cost per change is the size of the change; nine times
 * its CPU keeps it under a tenth of a core. The half bounds what the
 * versions owed hold in memory meanwhile (their undo, meta and line:
 * RSS grew 2-8 KB a version of some 5 changes at 1,000,000 records, up
 * to 2 MB a second at 1,260 changes a second, with the half alone), and
 * the journal replayed after a crash. At 1,000,000 records and 1,100
 * changes a second the writes came 29, 49 and 65 s apart, RSS 825-857
 * MB between them. (lock) */
#define CONFIG_STORE_LAG_LONG_MS 600000.0
static bool config_store_late(const struct config_store *s)
{
    double owed = config_store_ms_since(s->owed_since);
    double lag = CONFIG_STORE_REST_FACTOR * s->last_ms;
    double bytes = (double)s->owed_bytes, file = (double)s->file_bytes;
    if (owed >= CONFIG_STORE_LAG_LONG_MS || 2 * bytes >= file)
        return true;
    return owed >= (lag > CONFIG_STORE_LAG_MIN_MS ? lag : CONFIG_STORE_LAG_MIN_MS) &&
           8 * bytes >= file;
}

/* Whether the writer dumps the newest version as it is, without a copy,
 * giving it up when a newer one comes (config_store_write_file): a large
 * document (steps of CONFIG_STORE_QUIET_FROM_MS and more) written after a
 * pause, neither hurried nor late (config_store_late). (lock) */
static bool config_store_in_place(const struct config_store *s)
{
    return !s->stop && !s->hurry && s->last_ms >= CONFIG_STORE_QUIET_FROM_MS &&
           !config_store_late(s);
}

/* config_history_stop's question for a dump in place: has a newer
 * version been committed? */
static bool config_store_newer(void *arg)
{
    struct config_store *s = arg;
    pthread_mutex_lock(&s->lock);
    bool newer = s->newest_v != s->in_place_v;
    pthread_mutex_unlock(&s->lock);
    return newer;
}

/* A dump in place given up: the version is let go, and whoever waits for
 * that (config_store_let_go) is told. Takes doc's reference. (lock not
 * held; held on return) */
static void config_store_gave_up(struct config_store *s, json_t *doc, json_t *meta, char *dir)
{
    json_decref(doc);
    json_decref(meta);
    free(dir);
    pthread_mutex_lock(&s->lock);
    s->in_place_v = 0;
    s->busy_file = false;
    s->let_gos++;
    pthread_cond_broadcast(&s->written);
}

/* What a write of version v left (config_store_write_file): rc, the
 * file's rename, or edited, a hand edit kept; the digest and stamp of the
 * file written, errno of a failure in saved. (lock) */
static void config_store_wrote(struct config_store *s, uint64_t v, int rc, bool edited,
                               const char *digest, const struct config_api_stamp *stamp, int saved)
{
    if (edited) {
        log_warn("event=config_write result=kept_edit file=%s version=%llu note=\"the file was "
                 "edited by hand while changes were written behind: the edit is kept (a reload "
                 "serves it), the versions are in the history\"",
                 s->path, (unsigned long long)v);
        s->file_digest[0] = '\0'; /* the journal must not be replayed over the edit */
        s->written_stamp = (struct config_api_stamp){0};
    } else if (rc == 0) {
        snprintf(s->file_digest, sizeof(s->file_digest), "%s", digest);
        s->file_stamp = s->written_stamp = *stamp;
    }
    if (rc == 0 || edited) {
        s->file_v = s->written_v = v;
        /* Owed now: the versions committed meanwhile, since the first of
         * them (else the next write would be late at once). */
        s->owed_bytes = 0;
        for (struct config_store_item *it = s->head; it; it = it->next)
            if (it->v > v) {
                s->owed_since = s->owed_bytes ? s->owed_since : it->at;
                s->owed_bytes += it->len;
            }
        if (rc == 0)
            s->file_bytes = stamp->size;
    } else { /* the journal keeps every version: a flush or a restart writes it */
        s->failed_v = v;
        log_error("event=config_write result=failed file=%s error=\"%s\" note=\"the change "
                  "journal keeps the versions; the next change, a reload or a restart writes "
                  "it\"",
                  s->path, strerror(saved));
    }
    s->busy_file = false;
    s->in_place_v = 0;
}

/* The newest version written as the file and into the history (lock held
 * on entry and return; dropped while writing); false when a dump in place
 * was given up for a newer version. The file is replaced only when it is
 * the one the store expects: a hand edit meanwhile is kept. */
static bool config_store_write_file(struct config_store *s)
{
    uint64_t v = s->newest_v;
    json_t *doc = json_incref(s->newest_doc);
    struct config_store_item *it = s->tail && s->tail->v == v && !s->tail->in_hist ? s->tail : NULL;
    json_t *meta = it ? json_incref(it->meta) : NULL;
    char *dir = it && s->hist_dir ? strdup(s->hist_dir) : NULL;
    unsigned keep = s->keep;
    struct config_api_stamp expect = s->file_stamp;
    /* A copy (json_copy: 0.6 s at 1,000,000 records) held the version,
     * and a change after it lost that version's objects and copied them
     * on its own path: 0.5-1 s (issue #55). After a pause the version is
     * dumped as it is (nobody changes an installed version), and let go
     * within 64 KB of the dump once a newer one is committed; the file is
     * written after the next pause. A hurried or late write still copies,
     * so that it ends, holding the version for a listing only. */
    bool in_place = doc && config_store_in_place(s);
    struct config_history_stop until = {config_store_newer, s};
    s->in_place_v = in_place ? v : 0;
    s->listing = !in_place; /* config_store_detach below */
    s->busy_file = true;
    pthread_mutex_unlock(&s->lock);
    if (!in_place)
        doc = config_store_detach(s, doc);

    struct stat st;
    mode_t mode = stat(s->path, &st) == 0 ? st.st_mode & 07777 : 0640;
    /* Dumped straight into a temporary file beside the file, the digest
     * made as it goes, and the history copied from it: the text whole in
     * memory was 229 MB at 1,000,000 records on top of the copy, the
     * process's peak after a stream of changes (issue #55). A file that
     * cannot be written leaves the history its own dump. */
    char tmp[4300], digest[DIGEST_SHA256_HEX] = "";
    bool dumped = config_history_dump_tmp_until(s->path, doc, mode, true, digest, tmp, sizeof(tmp),
                                                in_place ? &until : NULL) == 0;
    int saved = errno;
    if (!dumped && saved == ECANCELED) {
        config_store_gave_up(s, doc, meta, dir);
        return false;
    }
    if (dir && (dumped || doc))
        config_store_put_hist(s, dir, keep, v, v, dumped ? NULL : doc, dumped ? tmp : NULL, meta);
    json_decref(doc);
    struct config_api_stamp now = config_api_stamp_of(s->path);
    bool edited = expect.ino && !config_api_stamp_same(&now, &expect);
    /* Announced in the journal first: a crash between finds the file by
     * either marker. */
    pthread_mutex_lock(&s->lock);
    char *marker = dumped && !edited ? config_journal_marker(digest, v) : NULL;
    int rc = marker ? config_journal_write(&s->jfd, s->journal, marker) : -1;
    /* Synced outside the lock, which every commit and the store thread's
     * config_store_behind take: behind a large dump's writeback a sync
     * can take a while. */
    int sfd = rc == 0 ? dup(s->jfd) : -1;
    pthread_mutex_unlock(&s->lock);
    free(marker);
    if (rc == 0)
        rc = sfd >= 0 && fdatasync(sfd) == 0 ? 0 : -1;
    if (sfd >= 0)
        close(sfd);
    if (rc == 0)
        rc = config_history_commit_tmp(tmp, s->path, true);
    else if (dumped)
        unlink(tmp); /* an edit kept, or the journal failed */
    if (dumped)
        saved = errno;
    struct config_api_stamp stamp = config_api_stamp_of(s->path);
    free(dir);
    json_decref(meta);

    pthread_mutex_lock(&s->lock);
    if (it)
        it->in_hist = true; /* written, or given up (logged) */
    config_store_wrote(s, v, rc, edited, digest, &stamp, saved);
    if (rc == 0 || edited)
        config_store_tidy(s);
    return true;
}

static void config_store_rest(struct config_store *s);

/* The versions the history still needs, newest first, each as the whole
 * document rebuilt backwards from the newest (lock held on entry and
 * return; dropped while writing), with a rest after each. Stops when a
 * newer version comes (the file first). */
static void config_store_write_hist(struct config_store *s)
{
    size_t n = 0;
    for (struct config_store_item *it = s->head; it; it = it->next)
        n++;
    struct config_store_item **desc = calloc(n ? n : 1, sizeof(*desc));
    if (!desc)
        return;
    size_t k = n;
    for (struct config_store_item *it = s->head; it; it = it->next)
        desc[--k] = it;
    uint64_t newest = s->newest_v;
    json_t *doc = json_incref(s->newest_doc);
    bool own = false; /* doc is the writer's detached copy */
    char *dir = s->hist_dir ? strdup(s->hist_dir) : NULL;
    unsigned keep = s->keep;
    s->busy_hist = true;
    /* desc[0] is the newest (the tail): its document is doc. */
    for (size_t i = 0; i < n && doc && dir && s->newest_v == newest && !s->busy_file; i++) {
        struct config_store_item *it = desc[i];
        bool owed = config_store_owed(s, it);
        double c0 = deadline_thread_cpu_ms();
        if (!own && ((owed && i == 0) || i + 1 < n))
            s->listing = true; /* config_store_detach below */
        pthread_mutex_unlock(&s->lock);
        if (owed && i == 0) {
            doc = config_store_detach(s, doc);
            own = true;
        }
        if (owed)
            config_store_put_hist(s, dir, keep, it->v, newest, doc, NULL, it->meta);
        json_t *prev = NULL;
        char why[256] = "";
        if (i + 1 < n) {
            /* The document of the item before: this one's undone, in place
             * on the writer's own copy (its objects one level down are its
             * own, as jsondelta_apply_in needs). jsondelta_apply copied the
             * records object at each step: two copies at its peak, a step
             * per record, for each version written (issue #55). */
            if (!own) {
                doc = config_store_detach(s, doc);
                own = true;
            }
            prev = doc && jsondelta_apply_in(doc, it->undo, why, sizeof(why)) ? doc : NULL;
        }
        if (i + 1 < n && !prev)
            log_error("event=config_history result=failed version=%llu why=\"cannot rebuild "
                      "the version before: %s\"",
                      (unsigned long long)it->v, why);
        if (prev != doc)
            json_decref(doc); /* the last, or one the undo did not fit (partly changed) */
        doc = prev;
        pthread_mutex_lock(&s->lock);
        if (owed)
            it->in_hist = true;
        if (!prev) /* the older ones cannot be rebuilt: given up */
            for (size_t j = i + 1; j < n; j++)
                desc[j]->in_hist = true;
        if (owed) { /* a rest after each (config_store_rest) */
            s->last_ms = deadline_thread_cpu_ms() - c0;
            s->last_end = deadline_mono();
            pthread_cond_broadcast(&s->written);
            config_store_rest(s);
        }
    }
    json_decref(doc);
    free(dir);
    free(desc);
    s->busy_hist = false;
    config_store_tidy(s);
}

/* After a step, the writer rests nine times the CPU time it took (at
 * most three seconds) before the next: under a stream of changes it takes
 * at most a tenth of a core. At 100,000 records a write is a 130 ms dump
 * of the whole document; resting only as long as it took (half of the
 * time) slowed the changes beside it on two cores: reload to served p99
 * 90-120 ms against 52-72 (contrib/bench/README.md, eighth session).
 * Every version is durable in the journal meanwhile, and a small file's
 * rest is a few milliseconds. A flush or a stop ends the rest. (lock) */
static void config_store_rest(struct config_store *s)
{
    double rest = CONFIG_STORE_REST_FACTOR * s->last_ms;
    double ms = (rest < CONFIG_STORE_REST_MAX_MS ? rest : CONFIG_STORE_REST_MAX_MS) -
                config_store_ms_since(s->last_end);
    if (ms <= 0)
        return;
    struct timespec until = deadline_after(ms / 1e3);
    while (!s->stop && !s->hurry && pthread_cond_timedwait(&s->work, &s->lock, &until) != ETIMEDOUT)
        ;
}

static void config_store_quiet(struct config_store *s)
{
    while (!s->stop && !s->hurry && s->last_ms >= CONFIG_STORE_QUIET_FROM_MS &&
           config_store_file_owed(s) && !config_store_late(s)) {
        /* at most a pause's wait: lateness is looked at again after it */
        double ms = CONFIG_STORE_QUIET_MS - config_store_ms_since(s->last_commit);
        if (ms <= 0)
            return;
        struct timespec until = deadline_after(ms / 1e3);
        pthread_cond_timedwait(&s->work, &s->lock, &until);
    }
}

static void *config_store_run(void *arg)
{
    struct config_store *s = arg;
    /* Below the threads that serve and change (Linux nices a thread by its
     * id): the writer's whole-document dumps must not slow the next
     * change; the journal holds what it has not written yet. */
    id_t tid = (id_t)syscall(SYS_gettid);
    int base = (errno = 0, getpriority(PRIO_PROCESS, tid)); /* -1 is a nice too */
    s->nice_base = errno ? 0 : base;
    if (setpriority(PRIO_PROCESS, tid, s->nice_base + CONFIG_STORE_NICE) != 0)
        log_warn("event=config_write note=\"cannot lower the writer's priority: %s\"",
                 strerror(errno));
    pthread_mutex_lock(&s->lock);
    bool wrote = false;
    for (;;) {
        if (wrote && !s->stop && !config_store_file_owed(s) && !config_store_hist_owed(s)) {
            /* Caught up after a stream: the dumps and the versions rebuilt
             * for the history were freed after the dropper's last trim
             * (load_behind.c); give them back too. */
            wrote = false;
            pthread_mutex_unlock(&s->lock);
            malloc_trim(0);
            pthread_mutex_lock(&s->lock);
            continue;
        }
        while (!s->stop && !config_store_file_owed(s) && !config_store_hist_owed(s))
            pthread_cond_wait(&s->work, &s->lock);
        config_store_rest(s);
        config_store_quiet(s);
        bool file = config_store_file_owed(s);
        if (!file && !config_store_hist_owed(s)) {
            if (s->stop)
                break;
            continue;
        }
        double t0 = deadline_mono(), c0 = deadline_thread_cpu_ms();
        /* every version committed meanwhile: one write */
        bool done = file ? config_store_write_file(s) : (config_store_write_hist(s), true);
        wrote = true;
        double ms = config_store_ms_since(t0);
        if (!done) { /* given up for a newer version: the step's cost stays the last whole one's */
            log_msg(LOG_LEVEL_DEBUG, "event=config_write what=file result=let_go ms=%.1f", ms);
            continue;
        }
        if (file) { /* the history's steps rest inside */
            s->last_ms = deadline_thread_cpu_ms() - c0;
            s->last_end = deadline_mono();
        }
        log_msg(LOG_LEVEL_DEBUG, "event=config_write what=%s version=%llu ms=%.1f",
                file ? "file" : "history", (unsigned long long)s->file_v, ms);
        pthread_cond_broadcast(&s->written);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* What the writer's first step will cost, until one is measured: the
 * file's size at CONFIG_STORE_BYTES_PER_MS. With nothing measured the
 * first write began right after the first change was committed, and its
 * copy of that document (then a json_copy: 0.3-0.6 s at 1,000,000
 * records) held it while the change after next wanted to take it apart
 * for its own copy (config_api.c, jsonrecycle.h), which then copied
 * every record on its path instead: the slowest change after a start
 * (issue #55). A large file's first write now waits for a pause as any
 * later one does (config_store_quiet); a small one's does not. The rate
 * is the slower one measured: a dump of 24 MB took 130 ms, one of 157 MB
 * (1,000,000 records) 3.4 s; guessed at the faster, the first write's lag
 * (config_store_late) was 10 s and it came inside a stream. */
#define CONFIG_STORE_BYTES_PER_MS 50000.0
static double config_store_guess_ms(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (double)st.st_size / CONFIG_STORE_BYTES_PER_MS : 0.0;
}

struct config_store *config_store_new(const char *path)
{
    struct config_store *s = calloc(1, sizeof(*s));
    char j[4300];
    if (!s)
        return NULL;
    config_journal_path(path, j, sizeof(j));
    s->path = strdup(path);
    s->journal = strdup(j);
    s->jfd = -1;
    s->keep = 2;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->hist_lock, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->written, NULL);
    config_journal_digest_file(path, s->file_digest);
    s->file_stamp = config_api_stamp_of(path);
    s->file_bytes = s->file_stamp.size;
    s->last_ms = config_store_guess_ms(path);
    if (pthread_create(&s->thread, NULL, config_store_run, s) != 0) {
        log_error("event=config_write result=failed error=\"cannot start the writer thread\"");
        pthread_mutex_destroy(&s->lock);
        pthread_mutex_destroy(&s->hist_lock);
        pthread_cond_destroy(&s->work);
        pthread_cond_destroy(&s->written);
        free(s->path);
        free(s->journal);
        free(s);
        return NULL;
    }
    pthread_setname_np(s->thread, "gtmd-writer"); /* top -H, perf, gdb */
    return s;
}

void config_store_free(struct config_store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    while (s->head) {
        struct config_store_item *it = s->head;
        s->head = it->next;
        config_store_item_free(it);
    }
    if (s->jfd >= 0)
        close(s->jfd);
    json_decref(s->newest_doc);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->hist_lock);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->written);
    free(s->hist_dir);
    free(s->path);
    free(s->journal);
    free(s);
}

int config_store_commit(struct config_store *s, uint64_t v, json_t *doc, json_t *delta,
                        json_t *undo, json_t *meta, const struct config_api_stamp *file_was,
                        char *why, size_t len)
{
    json_t *j = json_pack("{s:I, s:O, s:O, s:O}", "v", (json_int_t)v, "delta", delta, "undo", undo,
                          "meta", meta);
    char *line = config_journal_line(j);
    json_decref(j);
    struct config_store_item *it = line ? calloc(1, sizeof(*it)) : NULL;
    if (!it) {
        free(line);
        snprintf(why, len, "out of memory");
        return -1;
    }
    *it = (struct config_store_item){.v = v,
                                     .undo = json_incref(undo),
                                     .meta = json_incref(meta),
                                     .line = line,
                                     .len = strlen(line)};
    pthread_mutex_lock(&s->lock);
    if (config_journal_append(&s->jfd, s->journal, line) != 0) {
        snprintf(why, len, "%s: %s", s->journal, strerror(errno));
        pthread_mutex_unlock(&s->lock);
        config_store_item_free(it);
        return -1;
    }
    /* Nothing owed to the file: the document v follows is the file as the
     * API read it, which the writer may replace. Only if file_was is the
     * file now: the API's stamp can be older than the writer's last write
     * (it finished between the API's look and this commit), and taking it
     * made the writer's next write see a hand edit that nobody made (the
     * file kept at an old version, versions missing from the history). */
    struct config_api_stamp now = config_api_stamp_of(s->path);
    if (s->file_v == s->newest_v && !s->busy_file && config_api_stamp_same(file_was, &now))
        s->file_stamp = *file_was;
    if (s->tail)
        s->tail->next = it;
    else
        s->head = it;
    s->tail = it;
    s->last_commit = it->at = deadline_mono();
    if (!config_store_file_owed(s)) {
        s->owed_since = s->last_commit;
        s->owed_bytes = 0;
    }
    s->owed_bytes += it->len;
    json_decref(s->newest_doc);
    s->newest_doc = json_incref(doc);
    s->newest_v = v;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

uint64_t config_store_let_gos(struct config_store *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t n = s->let_gos;
    pthread_mutex_unlock(&s->lock);
    return n;
}

bool config_store_let_go(struct config_store *s, double ms)
{
    pthread_mutex_lock(&s->lock);
    struct timespec until = deadline_after(ms / 1e3);
    bool held;
    while ((held = (s->in_place_v && s->in_place_v != s->newest_v) || s->listing) &&
           pthread_cond_timedwait(&s->written, &s->lock, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&s->lock);
    return held;
}

void config_store_flush(struct config_store *s, bool all)
{
    pthread_mutex_lock(&s->lock);
    s->hurry++;
    s->failed_v = 0; /* a write that failed is tried again */
    pthread_cond_signal(&s->work);
    while (config_store_file_owed(s) || s->busy_file || s->tidying ||
           (all && (config_store_hist_owed(s) || s->busy_hist)))
        pthread_cond_wait(&s->written, &s->lock);
    s->hurry--;
    pthread_mutex_unlock(&s->lock);
}

bool config_store_behind(struct config_store *s, struct config_api_stamp *stamp, uint64_t *v)
{
    pthread_mutex_lock(&s->lock);
    bool behind = s->file_v < s->newest_v || s->busy_file;
    *stamp = s->written_stamp;
    *v = s->written_v;
    pthread_mutex_unlock(&s->lock);
    return behind;
}

int config_store_record(struct config_store *s, uint64_t v, json_t *doc, json_t *meta)
{
    config_store_flush(s, true);
    pthread_mutex_lock(&s->lock);
    char *dir = s->hist_dir ? strdup(s->hist_dir) : NULL;
    unsigned keep = s->keep;
    uint64_t newest = s->newest_v;
    pthread_mutex_unlock(&s->lock);
    int rc = dir && doc ? config_store_put_hist(s, dir, keep, v, newest, doc, NULL, meta) : -1;
    free(dir);
    return rc;
}

/* The meta as the history would give it back. */
static json_t *config_store_meta_copy(json_t *meta)
{
    json_t *m = json_deep_copy(meta);
    json_object_set_new(m, "format", json_integer(CONFIG_HISTORY_FORMAT));
    return m;
}

json_t *config_store_load(struct config_store *s, uint64_t v, const char *ext)
{
    if (!s)
        return NULL;
    pthread_mutex_lock(&s->lock);
    /* The newest (a fleet node asks for its meta at every version) is the
     * tail: the chain may hold minutes of versions (config_store_late). */
    struct config_store_item *at = s->tail && s->tail->v == v && !s->tail->in_hist ? s->tail : NULL;
    for (struct config_store_item *it = s->head; it && !at; it = it->next)
        if (it->v == v && !it->in_hist)
            at = it;
    if (!at) {
        char *dir = s->hist_dir ? strdup(s->hist_dir) : NULL;
        pthread_mutex_unlock(&s->lock);
        json_t *out = config_history_load(dir, v, ext);
        free(dir);
        return out;
    }
    if (strcmp(ext, ".json") != 0) {
        json_t *m = config_store_meta_copy(at->meta);
        pthread_mutex_unlock(&s->lock);
        return m;
    }
    /* The undos of the versions after v, newest first, from the newest
     * document (the items stay: only the writer frees them, and it keeps
     * every one it has not written). */
    json_t *undos = json_array();
    for (struct config_store_item *it = at->next; it; it = it->next)
        json_array_insert(undos, 0, it->undo);
    json_t *doc = json_incref(s->newest_doc), *u;
    pthread_mutex_unlock(&s->lock);
    size_t i;
    json_array_foreach(undos, i, u)
    {
        char why[256];
        json_t *prev = doc ? jsondelta_apply(doc, u, why, sizeof(why)) : NULL;
        json_decref(doc);
        doc = prev;
    }
    json_decref(undos);
    return doc;
}

/* The journal's versions (lines, in order) that dir lacks, written into
 * it: rebuilt backwards from the file, which holds every version up to
 * upto (the newest marker naming it). Only a contiguous run of lines
 * ending at upto can be rebuilt so. */
static size_t config_store_adopt(struct config_store *s, json_t *lines, const char *dir,
                                 unsigned keep, uint64_t upto)
{
    json_t *vers = json_array(), *l;
    size_t i, n = 0;
    json_array_foreach(lines, i, l)
    {
        uint64_t v = (uint64_t)json_integer_value(json_object_get(l, "v"));
        if (v && v <= upto && json_object_get(l, "undo"))
            json_array_append(vers, l);
    }
    size_t len = 0, k = json_array_size(vers);
    char *text = config_journal_slurp(s->path, &len);
    json_t *doc = k ? json_loads(text ? text : "", JSON_REJECT_DUPLICATES, NULL) : NULL;
    free(text);
    uint64_t want = upto, newest = upto;
    while (doc && k-- > 0) {
        l = json_array_get(vers, k);
        uint64_t v = (uint64_t)json_integer_value(json_object_get(l, "v"));
        if (v != want || v + keep <= newest)
            break; /* not the version the document is, or out of the window */
        char p[4200], why[256];
        config_history_path(dir, v, ".json", p, sizeof(p));
        if (access(p, F_OK) != 0 && config_store_put_hist(s, dir, keep, v, newest, doc, NULL,
                                                          json_object_get(l, "meta")) == 0)
            n++;
        json_t *prev = jsondelta_apply(doc, json_object_get(l, "undo"), why, sizeof(why));
        json_decref(doc);
        doc = prev;
        want = v - 1;
    }
    json_decref(doc);
    json_decref(vers);
    return n;
}

uint64_t config_store_set_history(struct config_store *s, const char *dir, unsigned keep)
{
    if (!s)
        return 0;
    config_store_flush(s, true);
    size_t torn = 0;
    json_t *lines = config_journal_read(s->journal, &torn);
    char d[DIGEST_SHA256_HEX];
    config_journal_digest_file(s->path, d);
    int64_t upto = lines ? config_journal_upto(lines, d) : -1;
    size_t n = dir && upto > 0 ? config_store_adopt(s, lines, dir, keep, (uint64_t)upto) : 0;
    if (n)
        log_warn("event=config_journal history_recorded=%zu upto=%lld", n, (long long)upto);
    json_decref(lines);
    pthread_mutex_lock(&s->lock);
    free(s->hist_dir);
    s->hist_dir = dir ? strdup(dir) : NULL;
    s->keep = keep;
    /* Nothing is owed (flushed above): the file is where the journal
     * starts again, at the version it names. */
    snprintf(s->file_digest, sizeof(s->file_digest), "%s", d);
    s->file_stamp = config_api_stamp_of(s->path);
    if (upto > 0 && (uint64_t)upto > s->file_v)
        s->file_v = s->newest_v = (uint64_t)upto;
    if (dir && d[0])
        config_store_cut_journal(s);
    pthread_mutex_unlock(&s->lock);
    return dir ? config_history_scan(dir) : 0;
}
