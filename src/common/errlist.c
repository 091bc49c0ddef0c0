/*
 * errlist.c -- a list of load errors.
 */
#include "common/errlist.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* After this many messages further ones are counted into the last line, so
 * a hostile file cannot make us keep millions of strings. */
#define ERRLIST_MAX 200

void errlist_init(struct errlist *e)
{
    e->msgs = NULL;
    e->count = 0;
    e->cap = 0;
}

void errlist_add(struct errlist *e, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    if (e->count > ERRLIST_MAX)
        return;
    if (e->count == ERRLIST_MAX)
        snprintf(buf, sizeof(buf), "too many errors; stopping the list here");
    else {
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
    }
    if (e->count == e->cap) {
        size_t ncap = e->cap ? e->cap * 2 : 8;
        char **n = realloc(e->msgs, ncap * sizeof(*n));
        if (!n)
            abort();
        e->msgs = n;
        e->cap = ncap;
    }
    e->msgs[e->count] = strdup(buf);
    if (!e->msgs[e->count])
        abort();
    e->count++;
}

void errlist_free(struct errlist *e)
{
    for (size_t i = 0; i < e->count; i++)
        free(e->msgs[i]);
    free(e->msgs);
    errlist_init(e);
}
