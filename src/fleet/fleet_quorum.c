/*
 * fleet_quorum.c -- the quorum rule and its explanation.
 */
#include "fleet/fleet_quorum.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

unsigned fleet_quorum_needed(const struct fleet_quorum *q, unsigned n)
{
    if (n == 0)
        return 0;
    switch (q->kind) {
    case FLEET_QUORUM_ALL:
        return n;
    case FLEET_QUORUM_ANY:
        return 1;
    case FLEET_QUORUM_COUNT:
        return q->count < n ? (q->count ? q->count : 1) : n;
    default:
        return n / 2 + 1;
    }
}

enum health_state fleet_quorum_verdict(const struct fleet_quorum *q, unsigned up, unsigned down)
{
    unsigned n = up + down;
    if (n == 0)
        return HEALTH_UNKNOWN;
    return down >= fleet_quorum_needed(q, n) ? HEALTH_DOWN : HEALTH_UP;
}

const char *fleet_quorum_name(const struct fleet_quorum *q, char *buf, size_t len)
{
    switch (q->kind) {
    case FLEET_QUORUM_ALL:
        return "all";
    case FLEET_QUORUM_ANY:
        return "any";
    case FLEET_QUORUM_COUNT:
        snprintf(buf, len, "%u", q->count);
        return buf;
    default:
        return "majority";
    }
}

/* Appends to buf at *off (bounded); marks truncation with "...". */
static void fleet_quorum_put(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fleet_quorum_put(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
    if (*off >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *off, len - *off, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= len - *off) {
        *off = len;
        if (len >= 4)
            memcpy(buf + len - 4, "...", 4);
        return;
    }
    *off += (size_t)n;
}

static void fleet_quorum_names(char *buf, size_t len, size_t *off, const char *const *names,
                               size_t n)
{
    for (size_t i = 0; i < n; i++)
        fleet_quorum_put(buf, len, off, "%s%s", i ? ", " : "", names[i]);
}

char *fleet_quorum_explain(enum health_state verdict, const char *const *downs, size_t n_down,
                           const char *const *ups, size_t n_up, char *buf, size_t len)
{
    size_t off = 0;
    if (len == 0)
        return buf;
    buf[0] = '\0';
    if (verdict == HEALTH_UNKNOWN || n_down + n_up == 0) {
        fleet_quorum_put(buf, len, &off, "no verdict: no vantage point reports it");
        return buf;
    }
    bool down = verdict == HEALTH_DOWN;
    const char *const *same = down ? downs : ups, *const *other = down ? ups : downs;
    size_t n_same = down ? n_down : n_up, n_other = down ? n_up : n_down;
    fleet_quorum_put(buf, len, &off, "%s: %zu of %zu vantage point%s (", down ? "down" : "up",
                     n_same, n_down + n_up, n_down + n_up == 1 ? "" : "s");
    fleet_quorum_names(buf, len, &off, same, n_same);
    if (n_other) {
        fleet_quorum_put(buf, len, &off, "; ");
        fleet_quorum_names(buf, len, &off, other, n_other);
        fleet_quorum_put(buf, len, &off, " %s %s", n_other == 1 ? "says" : "say",
                         down ? "up" : "down");
    }
    fleet_quorum_put(buf, len, &off, ")");
    return buf;
}
