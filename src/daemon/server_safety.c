/*
 * server_safety.c -- the safety rule for records the fleet adopts
 * (server_safety.h).
 */
#include "daemon/server_safety.h"

#include "admin/admin.h"

void server_safety_init(struct server_safety *s, const struct serve_set *boot)
{
    pthread_mutex_init(&s->lock, NULL);
    s->boot = boot;
    s->reader = NULL;
}

void server_safety_attach(struct server_safety *s, struct serve_reader *reader)
{
    pthread_mutex_lock(&s->lock);
    s->reader = reader;
    s->boot = NULL;
    pthread_mutex_unlock(&s->lock);
}

void server_safety_destroy(struct server_safety *s)
{
    pthread_mutex_destroy(&s->lock);
}

bool server_safety_unsafe(void *arg, const char *kind, json_t *record, char *why, size_t len)
{
    struct server_safety *s = arg;
    bool unsafe = false;
    pthread_mutex_lock(&s->lock);
    if (s->reader) {
        const struct serve_set *set = serve_enter(s->reader);
        unsafe = admin_record_unsafe(set, kind, record, why, len);
        serve_leave(s->reader);
    } else if (s->boot)
        unsafe = admin_record_unsafe(s->boot, kind, record, why, len);
    pthread_mutex_unlock(&s->lock);
    return unsafe;
}
