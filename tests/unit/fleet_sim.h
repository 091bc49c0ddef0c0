/*
 * fleet_sim.h -- a deterministic simulator of a gtmd fleet (issue #54):
 * N nodes probing one backend, publishing reports and heartbeats through
 * a modelled etcd (and overrides made through them, fleet_sim_ovr.c), each deciding with the real
 * fleet_decide (src/fleet/fleet_decide.h), in virtual time, under one seeded fault schedule.
 * doc/fleet.md, "Decision model and simulator", says what is modelled and what is not.
 *
 * One seed is one run: fleet_sim_run(seed, cls, ...) is a pure function
 * of its arguments (no clock, no rand(), no global state), so a seed
 * replays exactly, trace included.
 */
#ifndef GTM_TESTS_FLEET_SIM_H
#define GTM_TESTS_FLEET_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The fault classes; a run has exactly one, besides the backend's death
 * (and, for some seeds, its return). */
enum fleet_sim_class {
    SIM_CLEAN = 0,    /* delays only */
    SIM_FSYNC,        /* etcd's commits stall 0.3-2.5 s around the kill */
    SIM_STARVE,       /* one node's events late by 0.2-2 s (CPU starved) */
    SIM_SKEW,         /* clocks off by up to an hour, one jumps (half: and back) */
    SIM_LOCAL_CUT,    /* one node alone loses its backend (I2) */
    SIM_NODE_CUT,     /* one node cut from etcd, both ways, no election */
    SIM_ONE_WAY,      /* one node cut from etcd one way */
    SIM_ELECTION,     /* etcd elects a leader (writes stop 1-2 s) at the kill */
    SIM_LEADER_CUT,   /* one node cut off with the etcd leader at the kill */
    SIM_ELECT_LOADED, /* an election, then reports written after heartbeats */
    SIM_LOCAL_ELECT,  /* a node loses its backend during an election (I2) */
    SIM_OVERRIDE,     /* overrides made and deleted during another class's fault (I3) */
    SIM_OVERRIDE_CUT, /* the node an override was made through is cut right after the ack */
    SIM_REPLAY,       /* nodes resync while overrides change; a deleted one is put back */
    SIM_LOCAL_LOAD,   /* a node alone loses its backend during an fsync stall (issue #39) */
    SIM_CUT_FROM,     /* a node cut from the backend alone, then cut off with the leader (#54) */
    SIM_CUT_HEAL,     /* the same, healed before the election ends, the backend back then */
    SIM_CLASSES
};

/* The decision rule a run drives. SIM_RULE_STAMPED: the peers' freshness
 * judged by their writers' stamps, with a direct peer channel beside etcd
 * (fleet_sim_direct.c; a prototype in the harness, not yet the product's).
 * SIM_RULE_STAMPED_ETCD: the same rule with etcd alone (a peer counts as
 * reachable while its heartbeats arrive within FLEET_SILENT_S): the data
 * that says whether the direct channel is needed. SIM_RULE_GAPS: the
 * product's fleet_decide (gaps, elections shown, rejoin grace), kept to
 * show what the simulator finds in it. */
enum fleet_sim_rule { SIM_RULE_STAMPED = 0, SIM_RULE_GAPS, SIM_RULE_STAMPED_ETCD, SIM_RULES };

/* I3 after I4: the older invariants keep their indices. */
enum { SIM_I1 = 0, SIM_I2, SIM_I4, SIM_I3, SIM_INVARIANTS };

/* A fix taken back in the modelled node, to show that the checker finds
 * the bug it fixed (doc/fleet.md, "Reverted fixes"):
 * SIM_REVERT_REPLAY: an override is applied without binding it to its
 * key's life (fleet_life_record is given the record's own "born" as the
 * key's create revision): issue #37, a deleted override put back returns.
 * SIM_REVERT_FALSE_FAILOVER: under the gaps rule, a peer's report stands
 * in for this node's probe across any gap, an etcd election shown or not
 * (the rule before issue #39's fix): a node that alone lost the backend
 * while etcd is slow moves answers.
 * SIM_REVERT_FLAP: under the gaps rule, no rejoin grace (no peer is
 * "rejoining", no view grace): once heartbeats are back, the peers' old
 * reports count before their new ones arrive (the CI flap of issue #39).
 * SIM_REVERT_HEAL: under the stamped rule, no cut_end: once etcd vouches
 * again after a cut-off, the peers' ups held from before the cut count
 * before their news since arrives (issue #54's 30-minute I4). */
enum fleet_sim_revert {
    SIM_REVERT_NONE = 0,
    SIM_REVERT_REPLAY,
    SIM_REVERT_FALSE_FAILOVER,
    SIM_REVERT_FLAP,
    SIM_REVERT_HEAL,
    SIM_REVERTS
};

struct fleet_sim_result {
    enum fleet_sim_class cls;
    unsigned nodes;
    unsigned violations[SIM_INVARIANTS];
    /* The slowest kill -> flip of a node, in ms (-1: no kill checked). */
    int64_t worst_flip_ms;
    char first[200]; /* the first violation, "" when none */
};

/* The name of a class ("clean", "leader_cut", ...); NULL past the end. */
const char *fleet_sim_class_name(enum fleet_sim_class cls);
/* The class a seed runs when none is forced: seed % SIM_CLASSES. */
enum fleet_sim_class fleet_sim_class_of(uint64_t seed);

/* The name of a rule ("stamped", "gaps"); NULL past the end. */
const char *fleet_sim_rule_name(enum fleet_sim_rule rule);

/* The name of a revert ("none", "replay", "false_failover", "flap"); NULL
 * past the end. */
const char *fleet_sim_revert_name(enum fleet_sim_revert rev);

/* Runs one seed under rule. trace: NULL, or a buffer of trace_len bytes that gets
 * the run's trace (events with virtual times, cut with "..." when full). */
void fleet_sim_run(uint64_t seed, enum fleet_sim_class cls, enum fleet_sim_rule rule,
                   struct fleet_sim_result *res, char *trace, size_t trace_len);
/* The same with a fix taken back (SIM_REVERT_NONE: fleet_sim_run). */
void fleet_sim_run_revert(uint64_t seed, enum fleet_sim_class cls, enum fleet_sim_rule rule,
                          enum fleet_sim_revert rev, struct fleet_sim_result *res, char *trace,
                          size_t trace_len);

/* Runs count seeds from from (each its own class, or cls when >= 0) and
 * prints, per class, the runs, the runs that violate each invariant, the
 * slowest kill -> flip and the first seed of each violation. */
int fleet_sim_survey(uint64_t from, uint64_t count, int cls, enum fleet_sim_rule rule,
                     enum fleet_sim_revert rev, FILE *out);

#endif
