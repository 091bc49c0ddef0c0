/*
 * secrets.c -- warnings about exposed secrets (secrets.h).
 */
#include "daemon/secrets.h"
#include "control/config_keys.h"
#include "control/config_tables.h"
#include "fleet/fleet_params.h"
#include "zone/zone_params.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Why the file at path exposes a secret ("" when it does not): readable
 * by others, or by a group other than run_gid. stat, not lstat: what is
 * read is what the link points to. A file that cannot be stat'ed is left
 * to the errors that reading it gives. */
static const char *secrets_mode_why(const char *path, gid_t run_gid, unsigned *mode)
{
    struct stat st;
    if (!path || stat(path, &st) != 0)
        return "";
    *mode = (unsigned)(st.st_mode & 07777);
    if (st.st_mode & S_IROTH)
        return "every user of the host can read it";
    if ((st.st_mode & S_IRGRP) && st.st_gid != run_gid)
        return "its group, which is not the group gtmd runs as, can read it";
    return "";
}

static void secrets_check_file(const struct config *c, struct errlist *warns, const char *key,
                               const char *what, const char *path, gid_t run_gid)
{
    unsigned mode = 0;
    const char *why = secrets_mode_why(path, run_gid, &mode);
    if (*why)
        errlist_add(warns,
                    "%s: %s: the %s %s has mode %04o: %s (chmod 600 %s, or 640 with the group gtmd "
                    "runs as)",
                    c->path, key, what, path, mode, why, path);
}

/* The etcd password: its file, and the URLs it is sent to. */
static void secrets_check_fleet(const struct config *c, struct errlist *warns, gid_t run_gid)
{
    const struct fleet_params *f = &c->fleet;
    if (f->enabled && !f->keys.enabled)
        errlist_add(warns,
                    "%s: %s: no \"members\": records in etcd are neither signed nor "
                    "checked, so anyone who can write the prefix can forge votes, overrides "
                    "and drills for every node (doc/fleet.md, \"Members and signatures\")",
                    c->path, config_key_path(CFG_K_FLEET).s);
    if (!f->enabled || !f->etcd.username)
        return;
    secrets_check_file(c, warns,
                       config_sub_path(CFG_K_FLEET, &fleet_schema, FLEET_K_PASSWORD_FILE).s,
                       "etcd password file", f->password_file, run_gid);
    for (size_t i = 0; i < f->etcd.n_urls; i++)
        if (strncasecmp(f->etcd.urls[i], "http://", 7) == 0)
            errlist_add(warns,
                        "%s: %s[%zu]: the etcd username and password are sent in clear "
                        "to %s (anyone on the path can read them and write the fleet's state): "
                        "use https://",
                        c->path, config_sub_path(CFG_K_FLEET, &fleet_schema, FLEET_K_ETCD).s, i,
                        f->etcd.urls[i]);
}

/* The private halves of the keys gtmd signs with (BASE.private). */
static void secrets_check_keys(const struct config *c, struct errlist *warns, gid_t run_gid)
{
    char at[32], entry[64], dnssec[96], keys[128], key[160], path[4096];
    cfgschema_key_path(at, sizeof(at), &config_schema, CFG_K_ZONES, NULL);
    for (size_t z = 0; z < c->n_zones; z++) {
        const struct zone_sign_params *s = &c->zones[z].dnssec.sign;
        snprintf(entry, sizeof(entry), "%s[%zu]", at, z);
        cfgschema_key_path(dnssec, sizeof(dnssec), &config_zone_schema, ZK_DNSSEC, entry);
        cfgschema_key_path(keys, sizeof(keys), &zone_dnssec_schema, DS_KEYS, dnssec);
        for (size_t k = 0; k < s->n_keys; k++) {
            snprintf(key, sizeof(key), "%s[%zu]", keys, k);
            snprintf(path, sizeof(path), "%s.private", s->keys[k]);
            secrets_check_file(c, warns, key, "DNSSEC private key", path, run_gid);
        }
    }
}

void secrets_check(const struct config *c, bool as_root, gid_t run_gid, struct errlist *warns)
{
    secrets_check_fleet(c, warns, run_gid);
    secrets_check_keys(c, warns, run_gid);
    if (c->tls.enabled) /* the DNS over TLS certificate's key */
        secrets_check_file(c, warns, config_sub_path(CFG_K_TLS, &tls_schema, TLS_K_KEY).s,
                           "TLS private key", c->tls.key, run_gid);
    /* One line that says what to set (issue #53): the key, with the user the
     * packages create, and the other way out (the unit's User=gtmd). */
    if (as_root && !c->run_as.user)
        errlist_add(warns,
                    "%s: %s: gtmd runs as root and keeps every privilege while it parses what "
                    "clients and backends send; set \"user\": \"gtmd\" (or another "
                    "unprivileged user) to drop to it once the sockets are bound, or start gtmd "
                    "as that user (systemd User=gtmd)",
                    c->path, config_key_path(CFG_K_USER).s);
}
