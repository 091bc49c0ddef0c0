/*
 * policy_orders.c -- region lists shared by the records that have the same
 * one (policy_orders.h): common/intern.h's table, typed.
 */
#include "policy/policy_orders.h"

#include <stdlib.h>

#include "common/intern.h"

/* The one table of a server's lists (intern.h: its own lock). */
struct policy_orders {
    struct intern *lists;
};

struct policy_orders *policy_orders_new(void)
{
    struct policy_orders *t = malloc(sizeof(*t));
    if (!t)
        abort();
    t->lists = intern_new();
    return t;
}

void policy_orders_free(struct policy_orders *t)
{
    if (!t)
        return;
    intern_free(t->lists);
    free(t);
}

const uint16_t *policy_orders_intern(struct policy_orders *t, const uint16_t *items, size_t n)
{
    return intern_take(t ? t->lists : NULL, items, n * sizeof(*items));
}

void policy_orders_release(const uint16_t *list)
{
    intern_release(list);
}

size_t policy_orders_count(struct policy_orders *t)
{
    return intern_count(t->lists);
}

uint32_t policy_orders_refs(const uint16_t *list)
{
    return intern_refs(list);
}
