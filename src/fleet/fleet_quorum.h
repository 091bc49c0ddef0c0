/*
 * fleet_quorum.h -- the fleet verdict of one endpoint from the observations
 * of the live vantage points (pure functions, unit-tested).
 *
 * An endpoint is down for the fleet when at least 'needed' of the N live
 * vantage points that report it (up or down) say down, with needed:
 *   majority  N / 2 + 1 (more than half)
 *   all       N
 *   any       1
 *   a count   min(count, N): a fleet that shrank below the count still
 *             fails over when every remaining vantage point agrees.
 * With no report at all there is no verdict (HEALTH_UNKNOWN): each node then
 * serves its own probe.
 */
#ifndef GTM_FLEET_FLEET_QUORUM_H
#define GTM_FLEET_FLEET_QUORUM_H

#include <stddef.h>

#include "health/health.h"

enum fleet_quorum_kind {
    FLEET_QUORUM_MAJORITY = 0,
    FLEET_QUORUM_ALL,
    FLEET_QUORUM_ANY,
    FLEET_QUORUM_COUNT
};

struct fleet_quorum {
    enum fleet_quorum_kind kind;
    unsigned count; /* FLEET_QUORUM_COUNT only, >= 1 */
};

/* Down reports needed among n reporting vantage points (0 when n is 0). */
unsigned fleet_quorum_needed(const struct fleet_quorum *q, unsigned n);

/* The verdict from the numbers of up and down reports. */
enum health_state fleet_quorum_verdict(const struct fleet_quorum *q, unsigned up, unsigned down);

/* "majority", "all", "any" or the count, for status. buf >= 16 bytes. */
const char *fleet_quorum_name(const struct fleet_quorum *q, char *buf, size_t len);

/*
 * The explanation of a verdict, e.g. "down: 2 of 3 vantage points (fra,
 * iad; sin says up)" or "up: 2 of 3 vantage points (iad, sin; fra says
 * down)". downs and ups are the node names of each side. Writes at most len
 * bytes (NUL included, cut with "..." when too long) and returns buf.
 */
char *fleet_quorum_explain(enum health_state verdict, const char *const *downs, size_t n_down,
                           const char *const *ups, size_t n_up, char *buf, size_t len);

#endif
