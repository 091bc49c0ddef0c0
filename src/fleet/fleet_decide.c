/*
 * fleet_decide.c -- the fleet verdict of one endpoint from explicit inputs
 * (fleet_decide.h). Pure: no clock, no lock, no I/O, no allocation.
 */
#include "fleet/fleet_decide.h"

#include "fleet/fleet_int.h"

/* Whether an election was shown at or after since (mono). */
static bool fleet_decide_election_since(const struct fleet_decide_self *self, double since)
{
    return self->elect_at > 0 && self->elect_at >= since;
}

double fleet_decide_own_wall(const struct fleet_decide_in *in)
{
    return in->now_wall - (in->now_mono - in->self.own_since);
}

/* Its publication time in this node's clock (the heartbeats' offset);
 * own_wall: when this node's probe changed, in its wall clock. A report
 * published after that always counts as it is. Before: it stands in when
 * since about then (FLEET_SILENT_S before the gap) either the peer has not
 * been heard, or this node's view has not been current, or one of those
 * gaps ended within its rejoin grace (the tick's flags); and etcd was seen
 * electing a leader since the gap began. A gap without an election (etcd's
 * disk slow, a CPU starved) leaves the peer's report as it is: a node that
 * alone lost its backends moves nothing. */
bool fleet_decide_stands_in(const struct fleet_decide_self *self,
                            const struct fleet_decide_report *r, double own_wall)
{
    double published = r->stamp - (r->have_offset ? r->offset : 0);
    if (r->stamp > 0 && published >= own_wall)
        return false; /* it spoke after this node's probe changed */
    double s = self->own_since;
    double peer_gap = (r->silent ? r->heard : r->quiet_from) - FLEET_SILENT_S;
    double own_gap = self->blind_from - FLEET_SILENT_S;
    if (r->silent && s > peer_gap && fleet_decide_election_since(self, peer_gap))
        return true;
    if (r->rejoining && s > peer_gap && s < r->back && fleet_decide_election_since(self, peer_gap))
        return true;
    if (!fleet_decide_election_since(self, own_gap))
        return false;
    if (self->blind && s > own_gap)
        return true;
    return r->view_grace && s > own_gap && s < self->blind_end;
}

void fleet_decide(const struct fleet_decide_in *in, struct fleet_decide_out *out, uint8_t *how)
{
    uint8_t own = in->self.own;
    bool probed = own == HEALTH_DOWN || own == HEALTH_UP;
    *out = (struct fleet_decide_out){.own_counted = probed};
    if (probed) {
        out->down += own == HEALTH_DOWN;
        out->up += own == HEALTH_UP;
    }
    double own_wall = probed ? fleet_decide_own_wall(in) : 0;
    for (size_t i = 0; i < in->n_reports; i++) {
        const struct fleet_decide_report *r = &in->reports[i];
        uint8_t st = r->state, flag = 0;
        if (probed && fleet_decide_stands_in(&in->self, r, own_wall)) {
            st = own; /* its report predates a gap: this node's probe stands in */
            flag = FLEET_DECIDE_AS_OWN;
            out->stood_in++;
        }
        bool down = st == HEALTH_DOWN;
        out->down += down;
        out->up += !down;
        if (how)
            how[i] = (uint8_t)((down ? HEALTH_DOWN : HEALTH_UP) | flag);
    }
    out->verdict = fleet_quorum_verdict(&in->quorum, out->up, out->down);
}
