/*
 * errlist.h -- a list of load errors, so 'gtmd check' can print them all.
 *
 * Ownership: the list owns its messages; errlist_free() releases them.
 */
#ifndef GTM_COMMON_ERRLIST_H
#define GTM_COMMON_ERRLIST_H

#include <stddef.h>

struct errlist {
    char **msgs;
    size_t count;
    size_t cap;
};

void errlist_init(struct errlist *e);
/* Appends one formatted message ("file:line: what" by convention). */
void errlist_add(struct errlist *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void errlist_free(struct errlist *e);

#endif
