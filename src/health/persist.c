/*
 * persist.c -- the state file.
 */
#include "health/persist.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "health/override.h"

/* Everything the file holds, taken in one hold of the core's lock so that
 * states, overrides and the next id agree with each other. */
static json_t *persist_snapshot(struct health_core *c)
{
    json_t *eps = json_object();
    pthread_mutex_lock(&c->lock);
    for (uint32_t i = 0; i < c->n_buckets; i++)
        for (struct health_slot *s = c->buckets[i]; s; s = s->next_in_bucket) {
            if (!s->in_use || s->probe_state == HEALTH_UNKNOWN)
                continue;
            json_object_set_new(eps, s->key,
                                json_pack("{s:s, s:f}", "state",
                                          health_state_name((enum health_state)s->probe_state),
                                          "since", s->since));
        }
    json_t *ovr = override_list_json_locked(c);
    /* next_override_id keeps ids unique across restarts even when the
     * newest override was deleted before the stop. */
    json_int_t next_id = (json_int_t)c->next_override_id;
    pthread_mutex_unlock(&c->lock);
    return json_pack("{s:i, s:f, s:o, s:o, s:I}", "version", 1, "saved_at", health_now(),
                     "endpoints", eps, "overrides", ovr, "next_override_id", next_id);
}

/* Writes data to path atomically: tmp file, fsync, rename, fsync dir. */
static int persist_write_atomic(const char *path, const char *data)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t len = strlen(data), off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    snprintf(dir, sizeof(dir), "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int persist_save(struct health_core *c, const char *path)
{
    return persist_save_sections(c, path, NULL, 0);
}

int persist_save_sections(struct health_core *c, const char *path,
                          const struct persist_section *secs, size_t n)
{
    json_t *root = persist_snapshot(c);
    /* Outside the core's lock: a section owner takes its own lock. */
    for (size_t i = 0; i < n; i++) {
        json_t *v = secs[i].save(secs[i].arg);
        if (v)
            json_object_set_new(root, secs[i].name, v);
    }
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(root);
    int rc = text ? persist_write_atomic(path, text) : -1;
    free(text);
    if (rc != 0)
        log_error("event=state_save result=failed file=%s error=\"%s\"", path, strerror(errno));
    return rc;
}

json_t *persist_load_section(const char *path, const char *name)
{
    json_t *root = json_load_file(path, 0, NULL);
    json_t *v = root ? json_incref(json_object_get(root, name)) : NULL;
    json_decref(root);
    return v;
}

static enum health_state persist_state(const char *s)
{
    if (s && strcmp(s, "up") == 0)
        return HEALTH_UP;
    if (s && strcmp(s, "down") == 0)
        return HEALTH_DOWN;
    return HEALTH_UNKNOWN;
}

size_t persist_load(struct health_core *c, const char *path, double max_age)
{
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    size_t restored = 0;
    if (!root) {
        if (access(path, F_OK) == 0)
            log_warn("event=state_load result=ignored file=%s error=\"%d: %s\"", path, err.line,
                     err.text);
        return 0;
    }
    /* Overrides are operators' decisions: they apply whatever the age of
     * the file, until their own expiry. */
    json_t *next = json_object_get(root, "next_override_id");
    if (json_is_integer(next) && json_integer_value(next) > 0) {
        pthread_mutex_lock(&c->lock);
        if ((uint64_t)json_integer_value(next) > c->next_override_id)
            c->next_override_id = (uint64_t)json_integer_value(next);
        pthread_mutex_unlock(&c->lock);
    }
    json_t *ovr = json_object_get(root, "overrides");
    size_t n_ovr = json_is_array(ovr) ? override_restore(c, ovr, health_now()) : 0;
    if (n_ovr)
        log_info("event=state_load overrides_restored=%zu", n_ovr);
    json_t *saved = json_object_get(root, "saved_at");
    json_t *eps = json_object_get(root, "endpoints");
    double age = json_is_number(saved) ? health_now() - json_number_value(saved) : -1;
    if (!json_is_object(eps) || age < 0 || age > max_age) {
        log_info("event=state_load result=stale file=%s age_s=%.0f max_age_s=%.0f", path, age,
                 max_age);
        json_decref(root);
        return 0;
    }
    pthread_mutex_lock(&c->lock);
    for (uint32_t i = 0; i < c->n_buckets; i++)
        for (struct health_slot *s = c->buckets[i]; s; s = s->next_in_bucket) {
            json_t *e = json_object_get(eps, s->key);
            json_t *since = e ? json_object_get(e, "since") : NULL;
            enum health_state st = persist_state(json_string_value(json_object_get(e, "state")));
            if (!s->in_use || st == HEALTH_UNKNOWN)
                continue;
            health_restore(s, st, json_is_number(since) ? json_number_value(since) : health_now());
            restored++;
        }
    pthread_mutex_unlock(&c->lock);
    log_info("event=state_load result=ok file=%s age_s=%.1f restored=%zu", path, age, restored);
    json_decref(root);
    return restored;
}
