/*
 * zonefile.h -- zones for unit tests, written as master-file text into a
 * private temporary directory and loaded with zone_load(), the daemon's
 * own loader. Each file is removed right after loading; zonefile_done()
 * removes the directory.
 *
 * Ownership: a loaded zone belongs to the caller (snapshot_add_zone or
 * zone_free); the FILE from zonefile_open is closed by zonefile_load.
 */
#ifndef GTM_TESTS_ZONEFILE_H
#define GTM_TESTS_ZONEFILE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errlist.h"
#include "zone/zone_load.h"

struct zonefile {
    char dir[64];
    char path[128];
};

/* Creates the directory; exits the test when it cannot. */
static inline void zonefile_init(struct zonefile *zf)
{
    snprintf(zf->dir, sizeof(zf->dir), "/tmp/gtmd-zones-XXXXXX");
    if (!mkdtemp(zf->dir)) {
        perror("mkdtemp");
        exit(1);
    }
}

/* A new, empty zone file to fprintf() the master-file text into. */
static inline FILE *zonefile_open(struct zonefile *zf)
{
    snprintf(zf->path, sizeof(zf->path), "%s/zone", zf->dir);
    FILE *fp = fopen(zf->path, "w");
    if (!fp) {
        perror(zf->path);
        exit(1);
    }
    return fp;
}

/* Closes fp, loads it as origin and removes the file. Load errors are
 * printed as TAP comments; NULL when the zone did not load. */
static inline struct zone *zonefile_load(struct zonefile *zf, FILE *fp, const char *origin)
{
    struct errlist e;
    errlist_init(&e);
    fclose(fp);
    struct zone *z = zone_load(origin, zf->path, zf->path, NULL, 0, &e);
    for (size_t i = 0; i < e.count; i++)
        printf("# %s\n", e.msgs[i]);
    errlist_free(&e);
    unlink(zf->path);
    return z;
}

static inline void zonefile_done(struct zonefile *zf)
{
    rmdir(zf->dir);
}

#endif
