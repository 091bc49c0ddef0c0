/*
 * load_secondary.c -- secondary zones at load (load_secondary.h).
 */
#include "daemon/load_secondary.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "dns/dns.h"

bool load_secondary_pending(const struct config_zone *cz)
{
    return cz->primary.n > 0 && access(cz->file, F_OK) != 0;
}

bool load_secondary_expired(const struct config_zone *cz, const struct zone *z)
{
    struct stat st;
    struct timespec now;
    if (cz->primary.n == 0 || stat(cz->file, &st) != 0)
        return false;
    uint16_t rdlen = dns_get16(z->soa->rdata);
    if (rdlen < 22)
        return false;
    uint32_t expire = dns_get32(z->soa->rdata + 2 + rdlen - 8);
    clock_gettime(CLOCK_REALTIME, &now);
    /* The secondary thread's test (xfr_in.c), to the nanosecond: the
     * reload it asks for finds the zone expired too. */
    double refreshed = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9;
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9 >= refreshed + (double)expire;
}

void load_secondary_warn(struct errlist *warns, const char *fmt, ...)
{
    char msg[1024], q[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (warns)
        errlist_add(warns, "%s", msg);
    else
        log_warn("event=zone_warning note=\"%s\"", log_quote(msg, q, sizeof(q)));
}

void load_secondary_broken(const struct config *cfg, const struct config_zone *cz,
                           const struct errlist *why, struct errlist *warns)
{
    const char *first = why->count ? why->msgs[0] : "it does not load";
    char q[1100];
    if (!cfg->set_aside_broken) {
        load_secondary_warn(warns,
                            "%s: secondary zone %s: its copy does not load (%s); gtmd sets it "
                            "aside at start or reload and transfers the zone anew",
                            cfg->path, cz->origin, first);
        return;
    }
    char aside[4400], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(aside, sizeof(aside), "%s.broken-%s", cz->file, stamp);
    for (int k = 2; k < 100 && access(aside, F_OK) == 0; k++) /* twice in one second */
        snprintf(aside, sizeof(aside), "%s.broken-%s-%d", cz->file, stamp, k);
    if (rename(cz->file, aside) != 0) {
        /* Not served either way; the transfer's atomic write replaces it. */
        log_error("event=zone_copy_broken zone=%s file=%s result=not_moved error=\"%s\" "
                  "why=\"%s\"",
                  cz->origin, cz->file, strerror(errno), log_quote(first, q, sizeof(q)));
        return;
    }
    log_error("event=zone_copy_broken zone=%s file=%s moved_to=%s why=\"%s\" note=\"the zone is "
              "transferred anew from its primary; the copy set aside is kept for a look\"",
              cz->origin, cz->file, aside, log_quote(first, q, sizeof(q)));
}
