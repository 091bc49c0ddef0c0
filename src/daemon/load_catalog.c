/*
 * load_catalog.c -- the catalog zone gtmd generates (xfr_catalog_gen.h)
 * as a zone of a set, and the copy of it kept across restarts when its
 * zone entry has a "file" (load_catalog.h).
 */
#include "daemon/load_catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "xfr/xfr_catalog.h"
#include "xfr/xfr_catalog_gen.h"
#include "zone/zone.h"
#include "zone/zone_load.h"

/* The digest and serial of the version on disk at cz->file; false when
 * there is none (first start) or it cannot be read as a catalog (said). */
static bool load_catalog_on_disk(const struct config_zone *cz, uint64_t *digest, uint32_t *serial)
{
    struct xfr_catalog_list l;
    char why[600];
    if (xfr_catalog_members(cz->file, cz->origin, &l, why, sizeof(why)) != 0) {
        if (why[0])
            log_warn("event=catalog zone=%s result=copy_ignored why=\"%s: its serial starts "
                     "from the clock\"",
                     cz->origin, why);
        return false;
    }
    *digest = xfr_catalog_digest(l.origins, l.n);
    *serial = l.serial;
    xfr_catalog_free(&l);
    return true;
}

struct zone *load_catalog_make(const struct config_zone *cz, const struct zone *old,
                               struct errlist *errs)
{
    bool had = old != NULL;
    uint64_t prev_digest = old ? old->gen_digest : 0;
    uint32_t prev_serial = old ? old->serial : 0;
    if (!had && cz->file)
        had = load_catalog_on_disk(cz, &prev_digest, &prev_serial);
    uint64_t digest = xfr_catalog_digest(cz->gen_members, cz->n_gen_members);
    uint32_t serial =
        xfr_catalog_serial(had, prev_digest, prev_serial, digest, (uint32_t)time(NULL));
    char *text = xfr_catalog_text(cz->origin, cz->gen_members, cz->n_gen_members, serial);
    char display[1100];
    snprintf(display, sizeof(display), "(catalog %s, generated)", cz->origin);
    struct zone *z = zone_load_text(cz->origin, text, display, errs);
    free(text);
    if (z)
        z->gen_digest = digest;
    return z;
}

struct zone *load_catalog_previous(const struct config_zone *cz)
{
    if (!cz->gen_catalog || !cz->file || access(cz->file, F_OK) != 0)
        return NULL;
    struct errlist errs;
    errlist_init(&errs);
    struct zone *z = zone_load(cz->origin, cz->file, cz->file, NULL, 0, &errs);
    errlist_free(&errs); /* load_catalog_on_disk said why already */
    return z;
}

/* Writes text to path through a temporary file renamed over it: a crash
 * leaves the old version or the new one. 0, or -1 with errno. */
static int load_catalog_write(const char *path, const char *text)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!fp) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        errno = e;
        return -1;
    }
    bool ok =
        fputs("; the catalog gtmd generated, kept for its serial across restarts\n", fp) >= 0 &&
        fputs(text, fp) >= 0 && fflush(fp) == 0 && fsync(fd) == 0;
    int e = errno;
    ok = fclose(fp) == 0 && ok;
    if (ok && rename(tmp, path) == 0)
        return 0;
    e = errno ? errno : e;
    unlink(tmp);
    errno = e;
    return -1;
}

void load_catalog_keep(const struct config_zone *cz, const struct zone *old, const struct zone *now)
{
    if (!cz->gen_catalog || !cz->file || !now || (old && old->serial == now->serial))
        return; /* the same version as the last one written */
    char *text = xfr_catalog_text(cz->origin, cz->gen_members, cz->n_gen_members, now->serial);
    if (load_catalog_write(cz->file, text) != 0)
        log_warn("event=catalog zone=%s result=copy_failed why=\"cannot write %s: %s: a restart "
                 "starts its serial from the clock\"",
                 cz->origin, cz->file, strerror(errno));
    free(text);
}
