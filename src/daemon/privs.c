/*
 * privs.c -- running as an unprivileged user: the drop after binding, and
 * the checks that what gtmd writes later is writable by that user.
 */
#include "daemon/privs.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/log.h"
#include "admin/admin_config.h"
#include "control/config_keys.h"
#include "control/config_tables.h"
#include "fleet/fleet_params.h"
#include "health/health_params.h"
#include "net/tls_params.h"

/* After the drop: CAP_NET_RAW alone, permitted and effective (the rest
 * went with root; PR_SET_KEEPCAPS kept the permitted set across it). A
 * raw syscall: libcap is not a dependency for one call. */
static int privs_keep_net_raw(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof(d));
    d[CAP_TO_INDEX(CAP_NET_RAW)].permitted = CAP_TO_MASK(CAP_NET_RAW);
    d[CAP_TO_INDEX(CAP_NET_RAW)].effective = CAP_TO_MASK(CAP_NET_RAW);
    int rc = (int)syscall(SYS_capset, &h, d);
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    return rc;
}

int privs_drop(const struct config_user *u, bool keep_net_raw, bool quiet, char *err, size_t errlen)
{
    if (!u->user)
        return 0;
    uid_t euid = geteuid();
    if (euid != 0) {
        if (euid == u->uid && getuid() == u->uid && getegid() == u->gid)
            return 0; /* started as that user (systemd User=, setcap) */
        snprintf(err, errlen,
                 "cannot switch to user %s (uid %u): gtmd runs as uid %u, not root; start it "
                 "as root (it binds its sockets, then drops to %s) or as %s itself",
                 u->user, (unsigned)u->uid, (unsigned)euid, u->user, u->user);
        return -1;
    }
    /* Supplementary groups first (root's would stay otherwise), then the
     * group, then the user: after setresuid nothing can be changed. */
    if (keep_net_raw && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
        keep_net_raw = false;
    if (initgroups(u->user, u->gid) != 0 || setresgid(u->gid, u->gid, u->gid) != 0 ||
        setresuid(u->uid, u->uid, u->uid) != 0) {
        snprintf(err, errlen, "cannot drop privileges to user %s, group %s: %s", u->user, u->group,
                 strerror(errno));
        return -1;
    }
    if (keep_net_raw && privs_keep_net_raw() != 0) {
        snprintf(err, errlen, "cannot keep CAP_NET_RAW (for icmp checks) as user %s: %s", u->user,
                 strerror(errno));
        return -1;
    }
    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (getresuid(&r, &e, &s) != 0 || getresgid(&rg, &eg, &sg) != 0 || r != u->uid || e != u->uid ||
        s != u->uid || rg != u->gid || eg != u->gid || sg != u->gid) {
        snprintf(err, errlen, "dropping privileges to user %s left other ids (uid %u/%u/%u)",
                 u->user, (unsigned)r, (unsigned)e, (unsigned)s);
        return -1;
    }
    /* No way back: each of these must fail now. */
    if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || setegid(0) == 0) {
        snprintf(err, errlen, "after dropping to user %s, root could be had back", u->user);
        return -1;
    }
    int n = getgroups(0, NULL);
    if (!quiet)
        log_info("event=privileges user=%s uid=%u group=%s gid=%u groups=%d root=refused kept=%s",
                 u->user, (unsigned)u->uid, u->group, (unsigned)u->gid, n,
                 keep_net_raw ? "CAP_NET_RAW" : "none");
    return 0;
}

/* "user NAME (uid N)" for the effective user. */
static void privs_who(char *buf, size_t len)
{
    char pbuf[4096];
    struct passwd pw, *pwp = NULL;
    uid_t uid = geteuid();
    if (getpwuid_r(uid, &pw, pbuf, sizeof(pbuf), &pwp) == 0 && pwp)
        snprintf(buf, len, "user %s (uid %u)", pw.pw_name, (unsigned)uid);
    else
        snprintf(buf, len, "uid %u", (unsigned)uid);
}

static bool privs_can(const char *path, int mode)
{
    return faccessat(AT_FDCWD, path, mode, AT_EACCESS) == 0;
}

static void privs_dirname(const char *path, char *dir, size_t len)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    snprintf(dir, len, "%s", dirname(tmp));
}

/* The last directory found writable, so that the copies of a catalog's
 * members, all in one directory, cost one check of it and not 100,000. */
struct privs_dir_memo {
    char dir[PATH_MAX];
};

/* Whether dir is writable (and searchable), from memo when it was the
 * last one found so (memo may be NULL). */
static bool privs_dir_writable(const char *dir, struct privs_dir_memo *memo)
{
    if (memo && strcmp(memo->dir, dir) == 0)
        return true;
    if (!privs_can(dir, W_OK | X_OK))
        return false;
    if (memo)
        snprintf(memo->dir, sizeof(memo->dir), "%s", dir);
    return true;
}

/* A file gtmd creates, appends to or replaces: when it exists it must be
 * writable (append) or its directory writable (replace, create). memo:
 * see privs_dir_memo, or NULL. */
static void privs_check_write_in(const struct config *c, struct errlist *errs, const char *key,
                                 const char *what, const char *path, bool replaced, const char *who,
                                 struct privs_dir_memo *memo)
{
    char dir[PATH_MAX];
    struct stat st;
    privs_dirname(path, dir, sizeof(dir));
    bool exists = lstat(path, &st) == 0;
    if ((replaced || !exists) && !privs_dir_writable(dir, memo)) {
        errlist_add(errs, "%s: %s: the directory %s of the %s is not writable by %s (%s): %s",
                    c->path, key, dir, what, who, strerror(errno),
                    replaced ? "gtmd could not save it" : "gtmd could not create it");
        return;
    }
    if (exists && !replaced && !privs_can(path, W_OK))
        errlist_add(errs, "%s: %s: the %s %s is not writable by %s (%s)", c->path, key, what, path,
                    who, strerror(errno));
    if (exists && replaced && !privs_can(path, R_OK))
        errlist_add(errs,
                    "%s: %s: the %s %s is not readable by %s (%s): what it holds would be lost at "
                    "the next start (chown it)",
                    c->path, key, what, path, who, strerror(errno));
    struct stat ds;
    if (exists && replaced && stat(dir, &ds) == 0 && (ds.st_mode & S_ISVTX) &&
        st.st_uid != geteuid() && ds.st_uid != geteuid())
        errlist_add(errs,
                    "%s: %s: the %s %s is owned by uid %u in the sticky directory %s: %s cannot "
                    "replace it (chown it)",
                    c->path, key, what, path, (unsigned)st.st_uid, dir, who);
}

static void privs_check_write(const struct config *c, struct errlist *errs, const char *key,
                              const char *what, const char *path, bool replaced, const char *who)
{
    privs_check_write_in(c, errs, key, what, path, replaced, who, NULL);
}

/* A file read after the start (consequence: what goes wrong if not). */
static void privs_check_read_why(const struct config *c, struct errlist *errs, const char *key,
                                 const char *what, const char *path, const char *who,
                                 const char *consequence)
{
    if (path && !privs_can(path, R_OK))
        errlist_add(errs, "%s: %s: the %s %s is not readable by %s (%s): %s", c->path, key, what,
                    path, who, strerror(errno), consequence);
}

/* A file a reload reads again. */
static void privs_check_read(const struct config *c, struct errlist *errs, const char *key,
                             const char *what, const char *path, const char *who)
{
    privs_check_read_why(c, errs, key, what, path, who, "every reload would fail");
}

/* The zone files, as whoever gtmd runs as. */
static void privs_check_zones(const struct config *c, struct errlist *errs, const char *who)
{
    char at[32], entry[64], key[96];
    struct privs_dir_memo memo = {.dir = ""};
    cfgschema_key_path(at, sizeof(at), &config_schema, CFG_K_ZONES, NULL);
    for (size_t i = 0; i < c->n_zones; i++) {
        snprintf(entry, sizeof(entry), "%s[%zu]", at, i);
        cfgschema_key_path(key, sizeof(key), &config_zone_schema, ZK_FILE, entry);
        /* A secondary zone's copy may not exist yet; gtmd replaces it. A
         * generated catalog may have no file. */
        if (!c->zones[i].file)
            continue;
        if (c->zones[i].primary.n)
            privs_check_write_in(c, errs, key, "secondary zone's copy", c->zones[i].file, true, who,
                                 &memo);
        else if (c->zones[i].gen_catalog) /* load_catalog.h: written at each new serial */
            privs_check_write(c, errs, key, "generated catalog's copy", c->zones[i].file, true,
                              who);
        else if (c->zones[i].update.n) /* an update writes it anew (server_update.h) */
            privs_check_write(c, errs, key, "zone file that takes updates", c->zones[i].file, true,
                              who);
        else
            privs_check_read(c, errs, key, "zone file", c->zones[i].file, who);
    }
}

/* The fleet thread loads its TLS files after the drop, and every reload
 * reads the password file again. */
static void privs_check_fleet(const struct config *c, struct errlist *errs, const char *who)
{
    static const char *const what[TLS_N] = {"CA file", "certificate file", "key file"};
    const char *const files[TLS_N] = {c->fleet.etcd.ca_file, c->fleet.etcd.cert_file,
                                      c->fleet.etcd.key_file};
    const char *tls = "the fleet could not connect to etcd";
    char parent[64], key[96];
    snprintf(parent, sizeof(parent), "%s",
             config_sub_path(CFG_K_FLEET, &fleet_schema, FLEET_K_TLS).s);
    for (size_t k = 0; k < TLS_N; k++) {
        cfgschema_key_path(key, sizeof(key), &fleet_tls_schema, k, parent);
        privs_check_read_why(c, errs, key, what[k], files[k], who, tls);
    }
    snprintf(key, sizeof(key), "%s",
             config_sub_path(CFG_K_FLEET, &fleet_schema, FLEET_K_PASSWORD_FILE).s);
    privs_check_read(c, errs, key, "password file", c->fleet.password_file, who);
}

/* The DNS over TLS files are read at start before the drop, and by every
 * reload after it: unreadable then, a renewed certificate is not taken up
 * (the running one stays), so a warning, not an error. */
static void privs_check_tls(const struct config *c, struct errlist *warns, const char *who)
{
    static const size_t keys[] = {TLS_K_CERTIFICATE, TLS_K_CHAIN, TLS_K_KEY};
    const char *const files[] = {c->tls.certificate, c->tls.chain, c->tls.key};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
        if (files[k] && !privs_can(files[k], R_OK))
            errlist_add(warns,
                        "%s: %s: %s is not readable by %s (%s): a reload cannot load a renewed "
                        "certificate (the running one stays)",
                        c->path, config_sub_path(CFG_K_TLS, &tls_schema, keys[k]).s, files[k], who,
                        strerror(errno));
}

/* The dnstap file is created or truncated by the writer thread, as the
 * user gtmd runs as; a reader's socket is connected to by it (a reader
 * may create the socket later: a warning). */
static void privs_check_dnstap(const struct config *c, struct errlist *errs, struct errlist *warns,
                               const char *who)
{
    char key[96];
    const struct dnstap_params *d = &c->dnstap;
    if (d->file) {
        snprintf(key, sizeof(key), "%s",
                 config_sub_path(CFG_K_DNSTAP, &dnstap_schema, DNSTAP_K_FILE).s);
        privs_check_write(c, errs, key, "dnstap file", d->file, false, who);
    }
    if (d->socket && access(d->socket, F_OK) == 0 && !privs_can(d->socket, W_OK))
        errlist_add(warns,
                    "%s: %s: the socket %s is not writable by %s: no dnstap reader there "
                    "can be connected to",
                    c->path, config_sub_path(CFG_K_DNSTAP, &dnstap_schema, DNSTAP_K_SOCKET).s,
                    d->socket, who);
}

void privs_check_access(const struct config *c, struct errlist *errs, struct errlist *warns)
{
    char who[256], key[96], dir[PATH_MAX];
    privs_who(who, sizeof(who));
    if (c->health.state_file) {
        cfgschema_key_path(key, sizeof(key), &health_root_schema, HP_STATE_FILE, NULL);
        privs_check_write(c, errs, key, "state file", c->health.state_file, true, who);
    }
    if (c->admin.audit_log) {
        snprintf(key, sizeof(key), "%s",
                 config_sub_path(CFG_K_ADMIN, &admin_schema, ADMIN_K_AUDIT_LOG).s);
        privs_check_write(c, errs, key, "audit log", c->admin.audit_log, false, who);
        privs_dirname(c->admin.audit_log, dir, sizeof(dir));
        if (access(c->admin.audit_log, F_OK) == 0 && !privs_can(dir, W_OK | X_OK))
            errlist_add(warns,
                        "%s: %s: the directory %s is not writable by %s: after a rotation, "
                        "SIGUSR1 cannot create a new audit log (lines go on to the renamed one)",
                        c->path, key, dir, who);
    }
    privs_check_dnstap(c, errs, warns, who);
    if (!privs_can(c->path, R_OK))
        errlist_add(errs,
                    "%s: the configuration is not readable by %s (%s): every reload would fail",
                    c->path, who, strerror(errno));
    privs_check_zones(c, errs, who);
    snprintf(key, sizeof(key), "%s",
             config_sub_path(CFG_K_ADMIN, &admin_schema, ADMIN_K_READ_TOKEN_FILE).s);
    privs_check_read(c, errs, key, "token file", c->admin.read_token_file, who);
    snprintf(key, sizeof(key), "%s",
             config_sub_path(CFG_K_ADMIN, &admin_schema, ADMIN_K_OPERATE_TOKEN_FILE).s);
    privs_check_read(c, errs, key, "token file", c->admin.operate_token_file, who);
    if (c->fleet.enabled)
        privs_check_fleet(c, errs, who);
    if (c->tls.enabled)
        privs_check_tls(c, warns, who);
    for (size_t i = 0; i < c->admin.n_listen; i++) {
        const char *l = c->admin.listen[i];
        if (strncmp(l, "unix:", 5) != 0)
            continue;
        privs_dirname(l + 5, dir, sizeof(dir));
        if (!privs_can(dir, W_OK | X_OK))
            errlist_add(warns,
                        "%s: %s[%zu]: the directory %s is not writable by %s: the "
                        "socket %s stays at stop (the next start removes it as stale)",
                        c->path, config_sub_path(CFG_K_ADMIN, &admin_schema, ADMIN_K_LISTEN).s, i,
                        dir, who, l + 5);
    }
}

/* Child of privs_check_as: drops, checks, and writes each message to fd
 * as a kind octet ('E' or 'W') and the text, NUL-terminated. */
static void privs_check_child(const struct config *c, int fd)
{
    struct errlist errs, warns;
    char err[512];
    errlist_init(&errs);
    errlist_init(&warns);
    if (privs_drop(&c->run_as, false, true, err, sizeof(err)) != 0)
        errlist_add(&errs, "%s: %s: %s", c->path, config_key_path(CFG_K_USER).s, err);
    else
        privs_check_access(c, &errs, &warns);
    for (int k = 0; k < 2; k++) {
        const struct errlist *l = k ? &warns : &errs;
        for (size_t i = 0; i < l->count; i++) {
            char kind = k ? 'W' : 'E';
            if (write(fd, &kind, 1) != 1 || write(fd, l->msgs[i], strlen(l->msgs[i]) + 1) < 0)
                _exit(1);
        }
    }
    _exit(0);
}

void privs_check_as(const struct config *c, struct errlist *errs, struct errlist *warns)
{
    const struct config_user *u = &c->run_as;
    if (!u->user || geteuid() == u->uid) {
        privs_check_access(c, errs, warns);
        return;
    }
    if (geteuid() != 0) {
        errlist_add(warns,
                    "%s: %s: files were not checked as user %s: this check runs as uid %u "
                    "(run it as root or as %s)",
                    c->path, config_key_path(CFG_K_USER).s, u->user, (unsigned)geteuid(), u->user);
        return;
    }
    int p[2];
    if (pipe(p) != 0) {
        errlist_add(errs, "%s: %s: cannot check files as user %s: %s", c->path,
                    config_key_path(CFG_K_USER).s, u->user, strerror(errno));
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        privs_check_child(c, p[1]);
    }
    close(p[1]);
    char buf[8192];
    size_t have = 0;
    ssize_t n;
    while (pid > 0 && (n = read(p[0], buf + have, sizeof(buf) - 1 - have)) > 0) {
        have += (size_t)n;
        char *end;
        while (have > 0 && (end = memchr(buf, '\0', have))) {
            errlist_add(buf[0] == 'W' ? warns : errs, "%s", buf + 1);
            size_t used = (size_t)(end - buf) + 1;
            memmove(buf, end + 1, have - used);
            have -= used;
        }
        if (have == sizeof(buf) - 1)
            have = 0; /* an over-long message: dropped */
    }
    close(p[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        errlist_add(errs, "%s: %s: cannot check files as user %s", c->path,
                    config_key_path(CFG_K_USER).s, u->user);
}

/* The first port an unprivileged process may bind (net.ipv4's sysctl,
 * which also applies to IPv6). */
static unsigned privs_unprivileged_port(void)
{
    unsigned port = 1024;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r");
    if (f) {
        if (fscanf(f, "%u", &port) != 1)
            port = 1024;
        fclose(f);
    }
    return port;
}

static unsigned privs_port(const char *text)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (strncmp(text, "unix:", 5) == 0 || addr_parse(text, ADDR_PORT_REQUIRED, &ss, &len) != 0)
        return 65536;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

static void privs_note_port(const char *text, const char *what, unsigned first)
{
    if (privs_port(text) >= first)
        return;
    char who[256];
    privs_who(who, sizeof(who));
    log_warn("event=reload note=\"%s %s is on a privileged port and gtmd runs as %s: binding it "
             "needs a restart as root (or with CAP_NET_BIND_SERVICE)\"",
             what, text, who);
}

void privs_reload_notes(const struct config *running, const struct config *next, bool user_same)
{
    const char *a = running->run_as.user;
    if (!user_same)
        log_warn("event=reload note=\"user and group change only on restart; gtmd goes on as "
                 "user %s\"",
                 a ? a : "it was started as");
    if (geteuid() == 0)
        return;
    unsigned first = privs_unprivileged_port();
    for (size_t i = 0; i < next->n_listen; i++) {
        bool bound = false;
        for (size_t k = 0; k < running->n_listen && !bound; k++)
            bound = strcmp(running->listen[k].text, next->listen[i].text) == 0;
        if (!bound)
            privs_note_port(next->listen[i].text, "listen address", first);
    }
    for (size_t i = 0; i < next->admin.n_listen; i++) {
        bool bound = false;
        for (size_t k = 0; k < running->admin.n_listen && !bound; k++)
            bound = strcmp(running->admin.listen[k], next->admin.listen[i]) == 0;
        if (!bound)
            privs_note_port(next->admin.listen[i], "admin listener", first);
    }
}
