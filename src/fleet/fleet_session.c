/*
 * fleet_session.c -- the etcd session's bookkeeping as pure functions
 * (fleet_session.h): the watch's resume revision, and when the session is
 * lost.
 */
#include "fleet/fleet_session.h"

#include "fleet/etcd.h"

int64_t fleet_session_watch_rev(int64_t rev, json_t *res)
{
    if (!json_is_object(res) || json_is_true(json_object_get(res, "canceled")))
        return rev;
    json_t *events = json_object_get(res, "events");
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        int64_t r = etcd_json_int(json_object_get(json_object_get(ev, "kv"), "mod_revision"), 0);
        if (r > rev)
            rev = r;
    }
    if (json_array_size(events) > 0 || json_is_true(json_object_get(res, "created")))
        return rev;
    /* A progress notification: everything up to its header is delivered. */
    int64_t h = etcd_json_int(json_object_get(json_object_get(res, "header"), "revision"), 0);
    return h > rev ? h : rev;
}

bool fleet_session_expired(const struct fleet_session_in *in)
{
    if (in->cause != FLEET_SESSION_NO_REPLY || !in->synced)
        return true;
    return in->now - in->last_quorum >= in->stale_after;
}

const char *fleet_session_cause_name(enum fleet_session_cause c)
{
    switch (c) {
    case FLEET_SESSION_NO_REPLY:
        return "no reply";
    case FLEET_SESSION_ERROR_ANSWER:
        return "error answer";
    case FLEET_SESSION_LEASE_LOST:
        return "lease lost";
    case FLEET_SESSION_COMPACTED:
        return "compacted";
    }
    return "unknown";
}
