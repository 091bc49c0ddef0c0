/*
 * xfr_store.c -- a secondary zone's local copy (xfr_store.h).
 */
#include "xfr/xfr_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xfr/xfr_check.h"
#include "xfr/xfr_fetch.h"

bool xfr_serial_lt(uint32_t a, uint32_t b)
{
    return a != b && (uint32_t)(b - a) < 0x80000000u;
}

ldns_rr_list *xfr_store_read(const char *path, const uint8_t *origin, size_t origin_len)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return NULL;
    ldns_rdf *o = ldns_dname_new_frm_data((uint16_t)origin_len, origin);
    ldns_zone *z = NULL;
    int line = 0;
    ldns_status st = ldns_zone_new_frm_fp_l(&z, fp, o, 3600, LDNS_RR_CLASS_IN, &line);
    fclose(fp);
    ldns_rdf_deep_free(o);
    if (st != LDNS_STATUS_OK || !z || !ldns_zone_soa(z)) {
        if (z)
            ldns_zone_deep_free(z);
        return NULL;
    }
    ldns_rr_list *list = ldns_rr_list_new();
    ldns_rr_list_push_rr(list, ldns_rr_clone(ldns_zone_soa(z)));
    ldns_rr_list *rrs = ldns_zone_rrs(z);
    for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++)
        ldns_rr_list_push_rr(list, ldns_rr_clone(ldns_rr_list_rr(rrs, i)));
    ldns_zone_deep_free(z);
    return list;
}

const ldns_rr *xfr_store_soa(const ldns_rr_list *list)
{
    for (size_t i = 0; list && i < ldns_rr_list_rr_count(list); i++)
        if (ldns_rr_get_type(ldns_rr_list_rr(list, i)) == LDNS_RR_TYPE_SOA)
            return ldns_rr_list_rr(list, i);
    return NULL;
}

/* Removes one record equal to rr (TTL aside) from list; false when none. */
static bool xfr_store_remove(ldns_rr_list *list, const ldns_rr *rr)
{
    size_t n = ldns_rr_list_rr_count(list);
    for (size_t i = 0; i < n; i++) {
        ldns_rr *x = ldns_rr_list_rr(list, i);
        if (ldns_rr_compare(x, rr) != 0)
            continue;
        ldns_rr *last = ldns_rr_list_pop_rr(list);
        if (last != x)
            ldns_rr_list_set_rr(list, last, i);
        ldns_rr_free(x);
        return true;
    }
    return false;
}

/* Applies the difference sequences of an IXFR reply (got[1 .. n-1)) to a
 * copy of cur; NULL with why when they do not apply. */
static ldns_rr_list *xfr_store_apply(const ldns_rr_list *got, const ldns_rr_list *cur, char *why,
                                     size_t whylen)
{
    size_t n = ldns_rr_list_rr_count(got);
    const ldns_rr *cur_soa = xfr_store_soa(cur);
    if (!cur_soa || xfr_soa_serial(ldns_rr_list_rr(got, 1)) != xfr_soa_serial(cur_soa)) {
        snprintf(why, whylen, "the differences start from another serial than our copy's");
        return NULL;
    }
    ldns_rr_list *out = ldns_rr_list_clone(cur);
    bool adding = true; /* a SOA switches between deleting and adding */
    for (size_t i = 1; out && i + 1 < n; i++) {
        const ldns_rr *rr = ldns_rr_list_rr(got, i);
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA)
            adding = !adding;
        if (adding) {
            ldns_rr_list_push_rr(out, ldns_rr_clone(rr));
        } else if (!xfr_store_remove(out, rr)) {
            char *t = ldns_rr2str(rr);
            snprintf(why, whylen, "a record to delete is not in our copy: %s", t ? t : "?");
            free(t);
            ldns_rr_list_deep_free(out);
            out = NULL;
        }
    }
    return out;
}

ldns_rr_list *xfr_store_result(const ldns_rr_list *got, const ldns_rr_list *cur, bool *current,
                               char *why, size_t whylen)
{
    size_t n = ldns_rr_list_rr_count(got);
    *current = false;
    if (n == 0 || ldns_rr_get_type(ldns_rr_list_rr(got, 0)) != LDNS_RR_TYPE_SOA) {
        snprintf(why, whylen, "the transfer does not begin with a SOA");
        return NULL;
    }
    if (n == 1) {
        *current = true;
        return NULL;
    }
    uint32_t serial = xfr_soa_serial(ldns_rr_list_rr(got, 0));
    const ldns_rr *second = ldns_rr_list_rr(got, 1);
    if (ldns_rr_get_type(second) == LDNS_RR_TYPE_SOA && xfr_soa_serial(second) != serial)
        return xfr_store_apply(got, cur, why, whylen);
    /* AXFR form: everything but the closing SOA. */
    ldns_rr_list *out = ldns_rr_list_new();
    for (size_t i = 0; i + 1 < n; i++)
        ldns_rr_list_push_rr(out, ldns_rr_clone(ldns_rr_list_rr(got, i)));
    return out;
}

int xfr_store_write(const char *path, const ldns_rr_list *list, const char *origin, char *why,
                    size_t whylen)
{
    char tmp[4200], dir[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        (void)mkdir(dir, 0750); /* a catalog's directory of member copies, made once */
    }
    int fd = mkstemp(tmp);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!fp) {
        snprintf(why, whylen, "cannot write %s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return XFR_STORE_UNWRITTEN;
    }
    fprintf(fp, "; gtmd's copy of a secondary zone, written after a transfer\n");
    const ldns_rr *soa = xfr_store_soa(list);
    if (soa)
        ldns_rr_print(fp, soa);
    for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++)
        if (ldns_rr_list_rr(list, i) != soa)
            ldns_rr_print(fp, ldns_rr_list_rr(list, i));
    bool ok = fflush(fp) == 0 && fsync(fd) == 0;
    ok = fclose(fp) == 0 && ok;
    int rc = 0;
    if (!ok) {
        snprintf(why, whylen, "cannot write %s: %s", path, strerror(errno));
        rc = XFR_STORE_UNWRITTEN;
    } else if (origin && !xfr_check_loads(tmp, path, origin, why, whylen)) {
        rc = XFR_STORE_UNLOADABLE;
    } else if (rename(tmp, path) != 0) {
        snprintf(why, whylen, "cannot write %s: %s", path, strerror(errno));
        rc = XFR_STORE_UNWRITTEN;
    }
    if (rc != 0)
        unlink(tmp);
    return rc;
}
