/*
 * fleet_sim_survey.c -- the fleet simulator over many seeds (fleet_sim.h):
 * for test_fleet_sim --seeds and contrib/bench/fleet_sim_bench.
 */
#include <inttypes.h>

#include "fleet_sim.h"

int fleet_sim_survey(uint64_t from, uint64_t count, int cls, enum fleet_sim_rule rule,
                     enum fleet_sim_revert rev, FILE *out)
{
    unsigned long runs[SIM_CLASSES] = {0}, bad[SIM_CLASSES][SIM_INVARIANTS] = {{0}};
    int64_t worst[SIM_CLASSES];
    uint64_t first_bad[SIM_CLASSES][SIM_INVARIANTS] = {{0}};
    for (int c = 0; c < SIM_CLASSES; c++)
        worst[c] = -1;
    for (uint64_t seed = from; seed < from + count; seed++) {
        enum fleet_sim_class c = cls < 0 ? fleet_sim_class_of(seed) : (enum fleet_sim_class)cls;
        struct fleet_sim_result r;
        fleet_sim_run_revert(seed, c, rule, rev, &r, NULL, 0);
        runs[c]++;
        for (int i = 0; i < SIM_INVARIANTS; i++)
            if (r.violations[i] && !bad[c][i]++)
                first_bad[c][i] = seed;
        if (r.worst_flip_ms > worst[c])
            worst[c] = r.worst_flip_ms;
    }
    fprintf(out, "rule %s, fix taken back: %s\n", fleet_sim_rule_name(rule),
            fleet_sim_revert_name(rev));
    fprintf(out, "%-13s %8s %8s %8s %8s %8s %10s  %s\n", "class", "runs", "I1", "I2", "I3", "I4",
            "worst_ms", "first seeds (I1 I2 I3 I4)");
    for (int c = 0; c < SIM_CLASSES; c++)
        if (runs[c])
            fprintf(out,
                    "%-13s %8lu %8lu %8lu %8lu %8lu %10" PRId64 "  %" PRIu64 " %" PRIu64 " %" PRIu64
                    " %" PRIu64 "\n",
                    fleet_sim_class_name((enum fleet_sim_class)c), runs[c], bad[c][SIM_I1],
                    bad[c][SIM_I2], bad[c][SIM_I3], bad[c][SIM_I4], worst[c], first_bad[c][SIM_I1],
                    first_bad[c][SIM_I2], first_bad[c][SIM_I3], first_bad[c][SIM_I4]);
    return 0;
}
