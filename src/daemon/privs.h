/*
 * privs.h -- running as an unprivileged user (gtmd.conf(5) "user",
 * "group"; gtmd(8) PRIVILEGES).
 *
 * Started as root with a "user", gtmd binds every socket first (port 53
 * needs root or CAP_NET_BIND_SERVICE), then drops to that user for good
 * (privs_drop: supplementary groups, group, user; it checks that root
 * cannot be had back), before any thread starts or any file is written.
 * Everything it writes later (the state file and its directory, the audit
 * log) and reads again at a reload (the configuration, zone and token
 * files) must then be usable by that user: privs_check_access checks it,
 * as whoever runs, at every start; `gtmd check` runs the same check as the
 * configured user (privs_check_as, in a child process that drops first).
 *
 * Ownership: nothing is kept; messages go to the caller's errlists.
 */
#ifndef GTM_DAEMON_PRIVS_H
#define GTM_DAEMON_PRIVS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/errlist.h"
#include "control/config.h"

/* Drops to u (no-op without u->user; without root, only when already
 * running as that user). Logs event=privileges unless quiet. 0, or -1
 * with a message in err. Call while the process has one thread: the
 * capability kept with keep_net_raw (CAP_NET_RAW, for the raw sockets of
 * icmp checks where ping sockets are not allowed: doc/security.md) is
 * the calling thread's, and the threads started after inherit it. */
int privs_drop(const struct config_user *u, bool keep_net_raw, bool quiet, char *err,
               size_t errlen);

/* Checks, as the current effective user, that c's state file, audit log
 * and unix socket directories can be written and that the files a reload
 * reads can be read. Errors (gtmd would lose state, or every reload would
 * fail) go to errs, as "FILE: $.path: message"; warnings (a unix socket
 * that cannot be removed at stop) to warns. */
void privs_check_access(const struct config *c, struct errlist *errs, struct errlist *warns);

/* privs_check_access as c's user: in a child process that drops first
 * when running as root; directly when already that user; otherwise a
 * warning that it cannot be checked. */
void privs_check_as(const struct config *c, struct errlist *errs, struct errlist *warns);

/* Logs what a reload from running to next cannot apply because of the
 * privileges gtmd has: another user or group (user_same false: the
 * module table's answer, from the restart-only parts with the ids the
 * user database gives), and new listen addresses on privileged ports
 * (listen addresses change only on restart anyway). */
void privs_reload_notes(const struct config *running, const struct config *next, bool user_same);

#endif
