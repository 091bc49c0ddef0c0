/*
 * anycast_fitness.c -- the fitness to serve (anycast_fitness.h).
 */
#include "anycast/anycast_fitness.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void anycast_fitness_add(struct anycast_fitness *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void anycast_fitness_add(struct anycast_fitness *out, const char *fmt, ...)
{
    out->fit = false;
    if (out->n_why >= ANYCAST_WHY_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->why[out->n_why++], ANYCAST_WHY_LEN, fmt, ap);
    va_end(ap);
}

void anycast_fitness_judge(const struct anycast_fitness_in *in, struct anycast_fitness *out)
{
    memset(out, 0, sizeof(*out));
    out->fit = true;
    if (in->zones_missing)
        anycast_fitness_add(out, "zone_not_loaded: %zu configured zone(s) not served (%s)",
                            in->zones_missing, in->missing_zone ? in->missing_zone : "?");
    if (in->zones_expired)
        anycast_fitness_add(out, "zone_expired: %zu zone(s) past their SOA expire (%s)",
                            in->zones_expired, in->expired_zone ? in->expired_zone : "?");
    if (in->isolated_rcode)
        anycast_fitness_add(out,
                            "isolated: the fleet view is older than isolation.after, "
                            "policy names answered %s",
                            in->isolated_rcode == 5 ? "REFUSED" : "SERVFAIL");
    if (in->drained)
        anycast_fitness_add(out, "drained: %s",
                            in->drain_reason && in->drain_reason[0] ? in->drain_reason
                                                                    : "(no reason given)");
    if (in->self_check && in->self_check_limit && in->self_check_fails >= in->self_check_limit)
        anycast_fitness_add(out, "self_check: %u failed round(s) in a row (%s)",
                            in->self_check_fails,
                            in->self_check_last ? in->self_check_last : "no answer");
}

bool anycast_fitness_announce(bool fit, double fit_since, double now, double hold_s)
{
    return fit && now - fit_since >= hold_s;
}

void anycast_fitness_why_line(const struct anycast_fitness *f, char *out, size_t len)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < f->n_why && at < len; i++) {
        int n = snprintf(out + at, len - at, "%s%s", i ? "; " : "", f->why[i]);
        if (n < 0)
            break;
        at += (size_t)n;
    }
}
