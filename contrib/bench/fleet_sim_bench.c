/*
 * fleet_sim_bench.c -- the fleet simulator (tests/unit/fleet_sim.h) over
 * many seeds: violations of I1, I2, I3 and I4 per fault class, the slowest
 * kill -> flip, and the first seed of each violation (replay it with
 * tests/unit/test_fleet_sim --seed N). doc/fleet.md, "Decision model and
 * simulator".
 *
 *   make contrib/bench/fleet_sim_bench
 *   contrib/bench/fleet_sim_bench [SEEDS [FROM [CLASS|all [RULE [REVERT]]]]]
 *   (default 1000000 1 all stamped none)
 *
 * RULE: stamped (the rule the simulator proves) or gaps (the product's
 * fleet_decide today, to show what the simulator finds in it). REVERT:
 * none, or a fix taken back (replay, false_failover, flap, heal: fleet_sim.h).
 * The product's override code logs every override it applies on stderr:
 * stderr goes to /dev/null while the seeds run.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tests/unit/fleet_sim.h"

int main(int argc, char **argv)
{
    unsigned long long seeds = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    unsigned long long from = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    int cls = -1;
    enum fleet_sim_rule rule = SIM_RULE_STAMPED;
    if (argc > 4) {
        while (rule < SIM_RULES && strcmp(argv[4], fleet_sim_rule_name(rule)) != 0)
            rule++;
        if (rule == SIM_RULES) {
            fprintf(stderr, "fleet_sim_bench: unknown rule \"%s\"\n", argv[4]);
            return 2;
        }
    }
    if (argc > 3 && strcmp(argv[3], "all") != 0) {
        for (int c = 0; c < SIM_CLASSES && cls < 0; c++)
            if (strcmp(argv[3], fleet_sim_class_name((enum fleet_sim_class)c)) == 0)
                cls = c;
        if (cls < 0) {
            fprintf(stderr, "fleet_sim_bench: unknown class \"%s\"\n", argv[3]);
            return 2;
        }
    }
    enum fleet_sim_revert rev = SIM_REVERT_NONE;
    if (argc > 5) {
        while (rev < SIM_REVERTS && strcmp(argv[5], fleet_sim_revert_name(rev)) != 0)
            rev++;
        if (rev == SIM_REVERTS) {
            fprintf(stderr, "fleet_sim_bench: unknown revert \"%s\"\n", argv[5]);
            return 2;
        }
    }
    printf("fleet_sim_bench: %llu seeds from %llu\n", seeds, from);
    fflush(stdout);
    int nul = open("/dev/null", O_WRONLY);
    if (nul >= 0) {
        dup2(nul, 2);
        close(nul);
    }
    return fleet_sim_survey(from, seeds, cls, rule, rev, stdout);
}
