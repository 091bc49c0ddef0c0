/*
 * zone_kasp_timeline.c -- RFC 7583's key timeline (zone_kasp_timeline.h).
 */
#include "zone/zone_kasp_timeline.h"

#include <stdio.h>

void zone_kasp_intervals(const struct zone_kasp_timing *t, struct zone_kasp_intervals *out)
{
    out->ipub = (uint64_t)t->dprp + t->ttl_key + t->publish_safety;
    out->iret = (uint64_t)t->dsgn + t->dprp + t->ttl_sig + t->retire_safety;
    out->ipub_parent = (uint64_t)t->dprp_parent + t->ttl_ds;
    out->iret_ksk = (uint64_t)t->dreg + out->ipub_parent + t->retire_safety;
    out->min_zsk = out->ipub + out->iret;
    out->min_ksk = out->ipub + out->iret_ksk;
    struct zone_kasp_algorithm_roll r;
    zone_kasp_algorithm(t, 0, &r);
    out->algorithm_total = (uint64_t)r.old_sigs_gone;
}

const char *zone_kasp_event_name(enum zone_kasp_event e)
{
    static const char *const names[ZONE_KASP_EVENT_N] = {
        [ZONE_KASP_PUBLISHED] = "published",    [ZONE_KASP_READY] = "ready",
        [ZONE_KASP_SUBMITTED] = "ds_submitted", [ZONE_KASP_ACTIVE] = "active",
        [ZONE_KASP_RETIRED] = "retired",        [ZONE_KASP_REMOVED] = "removed",
    };
    return (unsigned)e < ZONE_KASP_EVENT_N ? names[e] : "?";
}

void zone_kasp_zsk(const struct zone_kasp_timing *t, int64_t tpub, uint64_t lifetime,
                   struct zone_kasp_key_times *out)
{
    struct zone_kasp_intervals iv;
    zone_kasp_intervals(t, &iv);
    out->t[ZONE_KASP_PUBLISHED] = tpub;
    out->t[ZONE_KASP_READY] = tpub + (int64_t)iv.ipub;
    out->t[ZONE_KASP_SUBMITTED] = -1;
    out->t[ZONE_KASP_ACTIVE] = out->t[ZONE_KASP_READY];
    out->t[ZONE_KASP_RETIRED] = lifetime ? out->t[ZONE_KASP_ACTIVE] + (int64_t)lifetime : -1;
    out->t[ZONE_KASP_REMOVED] = lifetime ? out->t[ZONE_KASP_RETIRED] + (int64_t)iv.iret : -1;
}

void zone_kasp_ksk(const struct zone_kasp_timing *t, int64_t tpub, uint64_t lifetime,
                   struct zone_kasp_key_times *out)
{
    struct zone_kasp_intervals iv;
    zone_kasp_intervals(t, &iv);
    out->t[ZONE_KASP_PUBLISHED] = tpub;
    out->t[ZONE_KASP_READY] = tpub + (int64_t)iv.ipub;
    out->t[ZONE_KASP_SUBMITTED] = out->t[ZONE_KASP_READY];
    out->t[ZONE_KASP_ACTIVE] = out->t[ZONE_KASP_SUBMITTED] + (int64_t)iv.iret_ksk;
    out->t[ZONE_KASP_RETIRED] = lifetime ? out->t[ZONE_KASP_ACTIVE] + (int64_t)lifetime : -1;
    out->t[ZONE_KASP_REMOVED] = out->t[ZONE_KASP_RETIRED];
}

void zone_kasp_algorithm(const struct zone_kasp_timing *t, int64_t t0,
                         struct zone_kasp_algorithm_roll *out)
{
    /* Each wait is for the previous step to reach every cache: RFC 6781
     * 4.1.4 (and RFC 4035 2.2: every algorithm in the DNSKEY RRset must
     * sign every RRset, so signatures come before keys and go after). */
    out->new_signatures = t0;
    out->new_keys = t0 + (int64_t)t->dsgn + t->dprp + t->ttl_sig + t->publish_safety;
    out->new_ready = out->new_keys + (int64_t)t->dprp + t->ttl_key + t->publish_safety;
    out->ds_submitted = out->new_ready;
    out->old_keys_gone =
        out->ds_submitted + (int64_t)t->dreg + t->dprp_parent + t->ttl_ds + t->retire_safety;
    out->old_sigs_gone = out->old_keys_gone + (int64_t)t->dprp + t->ttl_key + t->retire_safety;
}

bool zone_kasp_lifetime_ok(const struct zone_kasp_timing *t, uint64_t lifetime, bool ksk, char *why,
                           size_t len)
{
    struct zone_kasp_intervals iv;
    zone_kasp_intervals(t, &iv);
    uint64_t need = ksk ? iv.min_ksk : iv.min_zsk;
    if (lifetime == 0 || lifetime >= need)
        return true;
    /* Every term named, so the operator sees which one to shorten. */
    if (ksk)
        snprintf(why, len,
                 "%llu s is shorter than the pre-publication interval Ipub + the DS interval "
                 "IretK = %llu + %llu = %llu s (Ipub = Dprp %u + TTLkey %u + publish_safety %u; "
                 "IretK = Dreg %u + DprpP %u + TTLds %u + retire_safety %u): a KSK must live "
                 "until its successor is published, ready and its DS in every cache",
                 (unsigned long long)lifetime, (unsigned long long)iv.ipub,
                 (unsigned long long)iv.iret_ksk, (unsigned long long)need, t->dprp, t->ttl_key,
                 t->publish_safety, t->dreg, t->dprp_parent, t->ttl_ds, t->retire_safety);
    else
        snprintf(why, len,
                 "%llu s is shorter than the pre-publication interval Ipub + the retire interval "
                 "Iret = %llu + %llu = %llu s (Ipub = Dprp %u + TTLkey %u + publish_safety %u; "
                 "Iret = Dsgn %u + Dprp %u + TTLsig %u + retire_safety %u): a ZSK must live "
                 "until its successor is in every cache and its own signatures out of them",
                 (unsigned long long)lifetime, (unsigned long long)iv.ipub,
                 (unsigned long long)iv.iret, (unsigned long long)need, t->dprp, t->ttl_key,
                 t->publish_safety, t->dsgn, t->dprp, t->ttl_sig, t->retire_safety);
    return false;
}

bool zone_kasp_refresh_ok(const struct zone_kasp_timing *t, uint64_t refresh, char *why, size_t len)
{
    uint64_t need = (uint64_t)t->dprp + t->ttl_sig;
    if (refresh > need)
        return true;
    snprintf(why, len,
             "%llu s is not more than Dprp + TTLsig = %u + %u = %llu s: a signature refreshed "
             "this late could still be served from a cache after it expires",
             (unsigned long long)refresh, t->dprp, t->ttl_sig, (unsigned long long)need);
    return false;
}
