/* Unit tests for src/anycast/anycast_fitness.h: each cause of unfitness
 * alone and together, the self-check threshold, and the hold time before
 * the route is announced again. */
#include <string.h>

#include "anycast/anycast_fitness.h"
#include "tap.h"

static bool has(const struct anycast_fitness *f, const char *prefix)
{
    for (size_t i = 0; i < f->n_why; i++)
        if (strncmp(f->why[i], prefix, strlen(prefix)) == 0)
            return true;
    return false;
}

static void causes(struct tap *t)
{
    struct anycast_fitness f;
    struct anycast_fitness_in in = {.self_check = true, .self_check_limit = 3};
    anycast_fitness_judge(&in, &f);
    TAP_CHECK(t, f.fit && f.n_why == 0, "nothing wrong: fit, no reason");
    in.zones_missing = 1;
    in.missing_zone = "example.com.";
    anycast_fitness_judge(&in, &f);
    TAP_CHECK(
        t, !f.fit && f.n_why == 1 && has(&f, "zone_not_loaded") && strstr(f.why[0], "example.com."),
        "a zone not loaded: unfit (%s)", f.why[0]);
    in = (struct anycast_fitness_in){.zones_expired = 2, .expired_zone = "b.test."};
    anycast_fitness_judge(&in, &f);
    TAP_CHECK(t, !f.fit && has(&f, "zone_expired") && strstr(f.why[0], "2 zone"),
              "an expired zone: unfit (%s)", f.why[0]);
    in = (struct anycast_fitness_in){.isolated_rcode = 5};
    anycast_fitness_judge(&in, &f);
    TAP_CHECK(t, !f.fit && has(&f, "isolated") && strstr(f.why[0], "REFUSED"),
              "isolated in refuse mode: unfit (%s)", f.why[0]);
    in = (struct anycast_fitness_in){.isolated_rcode = 2};
    anycast_fitness_judge(&in, &f);
    TAP_CHECK(t, !f.fit && strstr(f.why[0], "SERVFAIL"), "isolated in servfail mode: unfit");
    in = (struct anycast_fitness_in){.drained = true, .drain_reason = "kernel upgrade"};
    anycast_fitness_judge(&in, &f);
    TAP_CHECK(t, !f.fit && strcmp(f.why[0], "drained: kernel upgrade") == 0,
              "drained: unfit, with the reason (%s)", f.why[0]);
}

static void self_check(struct tap *t)
{
    struct anycast_fitness f;
    struct anycast_fitness_in in = {
        .self_check = true, .self_check_limit = 3, .self_check_fails = 2, .self_check_last = "x"};
    anycast_fitness_judge(&in, &f);
    TAP_CHECK(t, f.fit, "two failed rounds of three: still fit");
    in.self_check_fails = 3;
    anycast_fitness_judge(&in, &f);
    TAP_CHECK(t, !f.fit && has(&f, "self_check") && strstr(f.why[0], "(x)"),
              "three failed rounds: unfit (%s)", f.why[0]);
    in.self_check = false;
    anycast_fitness_judge(&in, &f);
    TAP_CHECK(t, f.fit, "no self-check configured: its failures do not count");
    in = (struct anycast_fitness_in){.self_check = true,
                                     .self_check_limit = 1,
                                     .self_check_fails = 1,
                                     .drained = true,
                                     .zones_missing = 1,
                                     .zones_expired = 1,
                                     .isolated_rcode = 5};
    anycast_fitness_judge(&in, &f);
    TAP_CHECK(t,
              !f.fit && f.n_why == 5 && has(&f, "zone_not_loaded") && has(&f, "zone_expired") &&
                  has(&f, "isolated") && has(&f, "drained") && has(&f, "self_check"),
              "every cause at once: five reasons (%zu)", f.n_why);
    char line[2048];
    anycast_fitness_why_line(&f, line, sizeof(line));
    TAP_CHECK(t, strstr(line, "; drained: (no reason given); ") != NULL,
              "one line, '; ' between (%s)", line);
    anycast_fitness_why_line(&f, line, 20);
    TAP_CHECK(t, strlen(line) == 19, "the line is cut at its buffer");
}

static void hold(struct tap *t)
{
    TAP_CHECK(t, !anycast_fitness_announce(false, 0, 100, 10), "unfit: never announced");
    TAP_CHECK(t, !anycast_fitness_announce(true, 95, 100, 10),
              "fit for 5 s of a 10 s hold: not yet");
    TAP_CHECK(t, anycast_fitness_announce(true, 90, 100, 10), "fit for the hold time: announced");
    TAP_CHECK(t, anycast_fitness_announce(true, 100, 100, 0), "no hold: announced at once");
}

int main(void)
{
    struct tap t = {0, 0};
    causes(&t);
    self_check(&t);
    hold(&t);
    return tap_done(&t);
}
