/*
 * fleet_decide_stamped.c -- the stamped fleet verdict of one endpoint from
 * explicit inputs (fleet_decide_stamped.h). Pure: no clock, no lock, no I/O,
 * no allocation.
 */
#include "fleet/fleet_decide_stamped.h"

/* "Ran within the last two intervals" is judged on doubles that a caller may
 * have derived from whole milliseconds (the simulator does): a microsecond
 * of slack keeps a probe that ran exactly two intervals ago counted
 * whatever the rounding, and changes nothing a real probe could notice. */
#define FLEET_STAMPED_RAN_SLACK_S 1e-6

/* A sample within this of the kept offset refreshes its age: the same clock,
 * heard again, keeps the estimate from expiring (fleet_decide_stamped.h). */
#define FLEET_STAMPED_OFFSET_NEAR_S 0.02

/* Whether the peer was heard directly within alive_s. */
static bool fleet_decide_stamped_reachable(const struct fleet_decide_stamped_in *in,
                                           const struct fleet_decide_stamped_peer *p)
{
    return p->heard > 0 && in->now - p->heard <= in->alive_s;
}

/* How peer p counts before the cut-off question is settled: *how gets the
 * count and reason, with FLEET_STAMPED_WHY_BEFORE_OTHERS standing for "up
 * from before, not heard" until the caller knows whether any peer is heard.
 * *current: news of it arrived within stale_after (liveness is the one thing
 * judged by arrival: a peer's clock that jumps back must not make it look
 * gone). */
static void fleet_decide_stamped_peer(const struct fleet_decide_stamped_in *in,
                                      const struct fleet_decide_stamped_peer *p,
                                      struct fleet_decide_stamped_how *how, bool *current)
{
    const struct fleet_decide_stamped_self *self = &in->self;
    uint8_t st = p->etcd.state;
    double as_of = p->etcd.as_of > 0 ? p->etcd.as_of : 0;
    if (p->direct.as_of > 0 && p->direct.as_of > as_of) {
        as_of = p->direct.as_of;
        st = p->direct.state;
    }
    bool fresh_own =
        self->ran > 0 && in->now - self->ran <= 2 * in->interval_s + FLEET_STAMPED_RAN_SLACK_S;
    *current = as_of > 0 && p->news_at > 0 && in->now - p->news_at <= in->stale_after;
    *how = (struct fleet_decide_stamped_how){.as_of = as_of};
    if (!*current) {
        how->count = fresh_own ? FLEET_STAMPED_AS_OWN : FLEET_STAMPED_UNDETERMINED;
        how->why = fresh_own ? FLEET_STAMPED_WHY_STALE_OWN : FLEET_STAMPED_WHY_STALE_OPEN;
    } else if (st == HEALTH_DOWN) {
        how->count = FLEET_STAMPED_AS_SENT;
        how->why = FLEET_STAMPED_WHY_DOWN;
    } else if (self->own == HEALTH_DOWN && as_of >= self->own_since + in->allow_s &&
               as_of < in->cut_end) {
        /* Evidence against P from before this node's cut ended: the peer's
         * news since is on its way (its datagrams, its reports, its next
         * heartbeat); until it comes, keep what is served. */
        how->count = FLEET_STAMPED_UNDETERMINED;
        how->why = FLEET_STAMPED_WHY_HEALED;
    } else if (self->own != HEALTH_DOWN || as_of >= self->own_since + in->allow_s) {
        how->count = FLEET_STAMPED_AS_SENT;
        how->why = self->own != HEALTH_DOWN ? FLEET_STAMPED_WHY_AGREES : FLEET_STAMPED_WHY_AFTER;
    } else {
        bool heard = fleet_decide_stamped_reachable(in, p);
        how->count = FLEET_STAMPED_UNDETERMINED;
        how->why = heard ? FLEET_STAMPED_WHY_BEFORE : FLEET_STAMPED_WHY_BEFORE_OTHERS;
    }
    /* The state counted; AS_OWN: this node's probe, up unless it says down. */
    if (how->count == FLEET_STAMPED_AS_SENT)
        how->state = st == HEALTH_DOWN ? HEALTH_DOWN : HEALTH_UP;
    else if (how->count == FLEET_STAMPED_AS_OWN)
        how->state = self->own == HEALTH_DOWN ? HEALTH_DOWN : HEALTH_UP;
    else
        how->state = HEALTH_UNKNOWN;
}

/* A peer not heard, up from before this node's probe moved: it cannot
 * outvote that probe when this node hears no peer at all (it is the one cut
 * off: its probe stands for them); while it hears others, a lost datagram or
 * a peer starved or gone is likelier than a death its peers all missed: it
 * waits (stale_after bounds it). Only reached when the probe says down.
 * An up as of after the probe moved (it showed the probe's down to be this
 * node's own fault) yields too once this node is cut off: that up says the
 * backend lived until as_of, nothing of it since, and a node that reaches
 * neither a peer nor etcd's quorum follows its own probe (doc/fleet.md,
 * "What a node cannot know": issue #54's 30-minute I1, a node cut from the
 * backend alone and then cut off with the leader as the backend died).
 * So does an up waiting for news from after the node's last cut ended
 * (FLEET_STAMPED_WHY_HEALED), should the node be cut off again. */
static void fleet_decide_stamped_settle(struct fleet_decide_stamped_how *h, uint8_t own,
                                        bool any_reachable)
{
    bool after_up = (h->why == FLEET_STAMPED_WHY_AFTER && h->state == HEALTH_UP) ||
                    h->why == FLEET_STAMPED_WHY_HEALED;
    if ((h->why != FLEET_STAMPED_WHY_BEFORE_OTHERS && !after_up) || any_reachable ||
        own != HEALTH_DOWN)
        return;
    h->count = FLEET_STAMPED_AS_OWN;
    h->why = FLEET_STAMPED_WHY_CUT_OFF;
    h->state = own == HEALTH_DOWN ? HEALTH_DOWN : HEALTH_UP;
}

void fleet_decide_stamped(const struct fleet_decide_stamped_in *in,
                          struct fleet_decide_stamped_out *out,
                          struct fleet_decide_stamped_how *how)
{
    uint8_t own = in->self.own;
    bool any_current = false, any_reachable = false;
    *out = (struct fleet_decide_stamped_out){0};
    for (size_t i = 0; i < in->n_peers; i++) {
        struct fleet_decide_stamped_how h;
        bool current;
        fleet_decide_stamped_peer(in, &in->peers[i], &h, &current);
        any_current |= current;
        any_reachable |= fleet_decide_stamped_reachable(in, &in->peers[i]);
        if (how)
            how[i] = h;
    }
    out->up = own == HEALTH_UP;
    out->down = own == HEALTH_DOWN;
    for (size_t i = 0; i < in->n_peers; i++) {
        struct fleet_decide_stamped_how h;
        if (how) {
            fleet_decide_stamped_settle(&how[i], own, any_reachable);
            h = how[i];
        } else {
            bool current;
            fleet_decide_stamped_peer(in, &in->peers[i], &h, &current);
            fleet_decide_stamped_settle(&h, own, any_reachable);
        }
        out->up += h.state == HEALTH_UP;
        out->down += h.state == HEALTH_DOWN;
        out->open += h.state == HEALTH_UNKNOWN;
    }
    out->alone = !any_current;
    out->cut_off = !any_reachable;
    enum health_state if_up = fleet_quorum_verdict(&in->quorum, out->up + out->open, out->down);
    enum health_state if_down = fleet_quorum_verdict(&in->quorum, out->up, out->down + out->open);
    out->verdict = if_up;
    if (if_up != if_down) {
        out->held = true; /* the undetermined peers decide: wait for them */
        out->serve = in->self.served;
    } else
        out->serve = if_up == HEALTH_UNKNOWN ? own : (uint8_t)if_up;
}

bool fleet_decide_stamped_cut_off(const struct fleet_decide_stamped_in *in)
{
    for (size_t i = 0; i < in->n_peers; i++)
        if (fleet_decide_stamped_reachable(in, &in->peers[i]))
            return false;
    return in->n_peers > 0;
}

void fleet_decide_stamped_cut_note(struct fleet_decide_stamped_cut *c, bool cut_off, double now)
{
    if (c->cut && !cut_off)
        c->end = now;
    c->cut = cut_off;
}

bool fleet_decide_stamped_vouched(const struct fleet_decide_stamped_session *s,
                                  const struct fleet_decide_stamped_reach *r)
{
    if (!s->synced)
        return false;
    double age = s->now - s->fresh_at, silent = s->now - s->heard_any;
    bool out_long = s->beat_out > 0 && s->now - s->beat_out > r->out_s;
    if (s->heard_any <= 0 || silent < r->check_s || silent > r->until_s)
        /* Not asking: the view's age (a heartbeat tick late on a loaded
         * machine is no cut). */
        return age <= r->blind_s || (age <= r->view_max_s && !out_long);
    if (out_long)
        return false; /* etcd does not take this node's writes now */
    if (s->fresh_at >= s->heard_any + r->check_s)
        return true;                             /* it took one sent while no peer was heard */
    return s->beat_out > 0 || age <= r->blind_s; /* the answer is pending: hold */
}

const char *fleet_decide_stamped_count_name(uint8_t count)
{
    static const char *const names[] = {"as_sent", "as_own", "undetermined"};
    return count < sizeof names / sizeof names[0] ? names[count] : "?";
}

const char *fleet_decide_stamped_why_name(uint8_t why)
{
    static const char *const names[] = {"down",        "agrees",     "after_move",
                                        "before_move", "waiting",    "cut_off",
                                        "stale_own",   "stale_open", "cut_healed"};
    return why < sizeof names / sizeof names[0] ? names[why] : "?";
}

/* Takes sample as the estimate, confirmed at now; no candidate step. */
static void fleet_decide_stamped_offset_take(struct fleet_decide_stamped_offset *o, double sample,
                                             double now)
{
    o->off = sample;
    o->at = now;
    o->have = true;
    o->step_from = 0;
    o->step_n = 0;
}

void fleet_decide_stamped_offset_sample(struct fleet_decide_stamped_offset *o, double sent,
                                        double now, double keep_s, double step_s)
{
    double sample = sent - now;
    if (!o->have || sample > o->off || now - o->at > keep_s) {
        fleet_decide_stamped_offset_take(o, sample, now);
        return;
    }
    if (sample >= o->off - FLEET_STAMPED_OFFSET_NEAR_S) { /* the same clock, heard again */
        o->at = now;
        o->step_from = 0;
        o->step_n = 0;
        return;
    }
    /* Below: a late delivery, or the peer's clock stepped back. */
    if (o->step_n == 0 || sample > o->step_off)
        o->step_off = sample;
    if (o->step_n++ == 0)
        o->step_from = now;
    if (o->step_n >= FLEET_STAMPED_STEP_SAMPLES && now - o->step_from >= step_s)
        fleet_decide_stamped_offset_take(o, o->step_off, now);
}

double fleet_decide_stamped_map(const struct fleet_decide_stamped_offset *o, double stamp)
{
    return o->have && stamp > 0 ? stamp - o->off : 0;
}
