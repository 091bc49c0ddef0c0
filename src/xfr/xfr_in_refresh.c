/*
 * xfr_in_refresh.c -- one refresh of a secondary zone against its
 * primaries (xfr_in_int.h): the SOA serial, a transfer when it is newer
 * (or when the primary refuses the SOA query), every check of what came
 * (xfr_check.h), and the copy written only when all passed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <utime.h>

#include "common/log.h"
#include "xfr/xfr_check.h"
#include "xfr/xfr_fetch.h"
#include "xfr/xfr_in_int.h"
#include "xfr/xfr_store.h"

static double xfr_in_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void xfr_in_read_copy(struct xfr_in_zone *z)
{
    ldns_rr_list *list = xfr_store_read(z->file, z->origin, z->origin_len);
    const ldns_rr *soa = xfr_store_soa(list);
    struct stat st;
    z->have = soa != NULL;
    z->refresh = 3600, z->retry = 600, z->expire = 1209600;
    if (soa && ldns_rr_rd_count(soa) >= 7) {
        z->serial = xfr_soa_serial(soa);
        z->refresh = ldns_rdf2native_int32(ldns_rr_rdf(soa, 3));
        z->retry = ldns_rdf2native_int32(ldns_rr_rdf(soa, 4));
        z->expire = ldns_rdf2native_int32(ldns_rr_rdf(soa, 5));
    }
    z->refreshed = 0;
    if (z->have && stat(z->file, &st) == 0)
        z->refreshed = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9;
    ldns_rr_list_deep_free(list);
}

/*
 * The zone a transfer brought (got), checked (xfr_check.h) against our
 * copy (cur, may be NULL): NULL with *current when it says our copy is
 * current, else NULL with why and *bad (the transfer is refused; not bad:
 * IXFR differences that do not apply to our copy, which an AXFR mends).
 */
static ldns_rr_list *xfr_in_take(const struct xfr_in_zone *z, const ldns_rr_list *got,
                                 const ldns_rr_list *cur, bool *current, bool *bad, char *why,
                                 size_t whylen)
{
    *current = false;
    *bad = true;
    if (!xfr_check_records(got, z->origin, z->origin_len, why, whylen))
        return NULL;
    uint32_t serial = xfr_soa_serial(ldns_rr_list_rr(got, 0));
    if (z->have && serial == z->serial) {
        *current = true;
        return NULL;
    }
    if (z->have && xfr_serial_lt(serial, z->serial)) {
        snprintf(why, whylen, "the transfer brings serial %u, older than our copy's %u", serial,
                 z->serial);
        return NULL;
    }
    ldns_rr_list *zone = xfr_store_result(got, cur, current, why, whylen);
    if (*current) {
        *current = false; /* a lone SOA of another serial than ours */
        snprintf(why, whylen, "the transfer is a lone SOA of serial %u", serial);
        return NULL;
    }
    if (!zone) {
        *bad = false;
        return NULL;
    }
    if (!xfr_check_zone(zone, z->origin, z->origin_len, serial, why, whylen)) {
        ldns_rr_list_deep_free(zone);
        return NULL;
    }
    return zone;
}

/* Transfers the zone (IXFR from our copy, AXFR when that fails or we have
 * none), checks it and writes the copy: ADOPTED, CURRENT, or FAILED or
 * REFUSED with why. */
static enum xfr_in_outcome xfr_in_transfer(const struct xfr_in_zone *z,
                                           const struct xfr_server *srv, char *why, size_t whylen,
                                           const char **kind, size_t *records)
{
    ldns_rr_list *cur = z->have ? xfr_store_read(z->file, z->origin, z->origin_len) : NULL;
    const ldns_rr *soa = xfr_store_soa(cur);
    ldns_rr_list *zone = NULL;
    enum xfr_in_outcome out = XFR_IN_FAILED;
    for (int attempt = 0; attempt < 2 && !zone; attempt++) {
        const ldns_rr *from = attempt == 0 ? soa : NULL;
        if (attempt == 1 && !soa)
            break; /* the AXFR was the first attempt */
        *kind = from ? "ixfr" : "axfr";
        ldns_rr_list *got = NULL;
        enum xfr_fetch_fail fail = XFR_FETCH_UNREACHED;
        bool current = false, bad = false;
        bool came =
            xfr_fetch_transfer(srv, z->origin, z->origin_len, from, &got, &fail, why, whylen);
        if (came)
            zone = xfr_in_take(z, got, cur, &current, &bad, why, whylen);
        else
            bad = fail != XFR_FETCH_UNREACHED;
        ldns_rr_list_deep_free(got);
        out = current ? XFR_IN_CURRENT : bad ? XFR_IN_REFUSED : XFR_IN_FAILED;
        /* A primary that drips is not given a second transfer timeout. */
        if (current || (!came && fail == XFR_FETCH_SLOW))
            break;
    }
    if (zone) {
        int w = xfr_store_write(z->file, zone, z->origin_str, why, whylen);
        out = w == 0 ? XFR_IN_ADOPTED : w == XFR_STORE_UNLOADABLE ? XFR_IN_REFUSED : XFR_IN_FAILED;
        *records = ldns_rr_list_rr_count(zone);
    }
    ldns_rr_list_deep_free(zone);
    ldns_rr_list_deep_free(cur);
    return out;
}

/* Address of a primary for the log. */
static void xfr_in_addr_str(const struct sockaddr_storage *a, char *buf, size_t len)
{
    const void *ip = a->ss_family == AF_INET
                         ? (const void *)&((const struct sockaddr_in *)a)->sin_addr
                         : (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr;
    unsigned port = ntohs(a->ss_family == AF_INET ? ((const struct sockaddr_in *)a)->sin_port
                                                  : ((const struct sockaddr_in6 *)a)->sin6_port);
    char ipstr[64] = "?";
    inet_ntop(a->ss_family, ip, ipstr, sizeof(ipstr));
    snprintf(buf, len, a->ss_family == AF_INET ? "%s:%u" : "[%s]:%u", ipstr, port);
}

/* The transfer from srv after its SOA query (serial when soa_ok), timed
 * and logged when adopted. */
static enum xfr_in_outcome xfr_in_from(struct xfr_in_zone *z, const struct xfr_server *srv,
                                       char *why, size_t whylen)
{
    const char *kind = "axfr";
    size_t records = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    enum xfr_in_outcome o = xfr_in_transfer(z, srv, why, whylen, &kind, &records);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (o == XFR_IN_REFUSED) {
        /* Say which primary sent it: the thread's line has the reason. */
        char a[80], w[600];
        xfr_in_addr_str(srv->addr, a, sizeof(a));
        snprintf(w, sizeof(w), "%s (%s from %s)", why, kind, a);
        snprintf(why, whylen, "%s", w);
    }
    if (o != XFR_IN_ADOPTED)
        return o;
    uint32_t old = z->serial;
    xfr_in_read_copy(z);
    log_info("event=xfr_in zone=%s kind=%s serial=%u from_serial=%u records=%zu ms=%.1f",
             z->origin_str, kind, z->serial, old, records,
             (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    return o;
}

enum xfr_in_outcome xfr_in_refresh(struct xfr_in_zone *z, const atomic_bool *stop, char *why,
                                   size_t whylen)
{
    enum xfr_in_outcome out = XFR_IN_FAILED;
    snprintf(why, whylen, "no primary answered");
    for (size_t i = 0; i < z->primary.n && !atomic_load(stop); i++) {
        struct xfr_server srv = {&z->primary.addrs[i],        z->primary.lens[i],
                                 z->has_key ? &z->key : NULL, z->primary.idle_ms,
                                 z->primary.transfer_ms,      stop};
        uint32_t serial;
        int rcode;
        char soa_why[512];
        bool soa = xfr_fetch_soa(&srv, z->origin, z->origin_len, &serial, &rcode, soa_why,
                                 sizeof(soa_why));
        /* A SOA query refused (Knot refuses it, unsigned, for a catalog it
         * generates while it serves the catalog's transfer), or answered
         * FORMERR or NOTIMP: the transfer says whether our copy is
         * current, as Knot and BIND secondaries do. No answer, NOTAUTH (a
         * key the transfer would not pass either) or SERVFAIL (no zone):
         * the next primary. */
        if (!soa && out != XFR_IN_REFUSED)
            snprintf(why, whylen, "%s", soa_why);
        if (!soa && rcode != 1 && rcode != 4 && rcode != 5)
            continue;
        if (soa && z->have && !xfr_serial_lt(z->serial, serial)) {
            out = XFR_IN_CURRENT;
            break;
        }
        enum xfr_in_outcome o = xfr_in_from(z, &srv, why, whylen);
        if (o == XFR_IN_CURRENT || o == XFR_IN_ADOPTED || o == XFR_IN_REFUSED ||
            out != XFR_IN_REFUSED)
            out = o;
        if (o == XFR_IN_CURRENT || o == XFR_IN_ADOPTED)
            break;
    }
    if (out == XFR_IN_CURRENT) {
        utime(z->file, NULL); /* the last successful refresh, for expiry */
        z->refreshed = xfr_in_wall();
    }
    return out;
}
