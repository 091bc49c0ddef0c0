/*
 * secrets.h -- warnings about secrets the configuration exposes (issue
 * #24): an etcd password file, a DNSSEC private key or the DNS over TLS
 * key that other users of the host can read, an etcd password sent in clear over http://, and a
 * gtmd that keeps root because the configuration has no "user".
 *
 * These are warnings, not errors: each may be a deliberate choice (etcd on
 * a private link, a lab host), and refusing to start a DNS server over a
 * file mode would cost more than it saves. Token files, which grant the
 * admin API's roles, are refused instead (admin_config.c). `gtmd check`
 * prints them; the start logs them (event=secrets_warning), with the root
 * one (at the start only: gtmd check may be run by another user).
 *
 * Ownership: nothing is kept; messages go to the caller's errlist.
 */
#ifndef GTM_DAEMON_SECRETS_H
#define GTM_DAEMON_SECRETS_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/errlist.h"
#include "control/config.h"

/* Adds to warns, as "FILE: $.path: message", every secret of c that is
 * exposed. as_root: gtmd runs (or, for gtmd check, would run) as root;
 * then a configuration without "user" is warned of too. A file whose
 * group may read it is fine when that group is the one gtmd runs as
 * (run_gid): it is how a key owned by root reaches an unprivileged gtmd
 * (mode 0640, root:gtmd); others must never read it. */
void secrets_check(const struct config *c, bool as_root, gid_t run_gid, struct errlist *warns);

#endif
