/*
 * notify.h -- the systemd notification protocol (sd_notify(3)), written
 * by hand: no libsystemd.
 *
 * When systemd starts gtmd as a Type=notify service, it sets
 * $NOTIFY_SOCKET to a unix datagram socket (a path, or an abstract name
 * written with a leading '@'); each notification is one datagram of
 * newline-separated VAR=VALUE lines: READY=1 once serving, RELOADING=1
 * with MONOTONIC_USEC=... when a reload begins and READY=1 when it ends,
 * STOPPING=1 at stop, STATUS=... for `systemctl status`. Without
 * $NOTIFY_SOCKET every call does nothing.
 *
 * Threads: notify_send may be called from any thread (one send each).
 * Ownership: the daemon owns struct notify (notify_open / notify_close).
 */
#ifndef GTM_DAEMON_NOTIFY_H
#define GTM_DAEMON_NOTIFY_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

struct notify {
    int fd; /* -1: not under a service manager */
    struct sockaddr_un addr;
    socklen_t addr_len;
};

/* Reads $NOTIFY_SOCKET and connects a datagram socket to it, before the
 * privileges are dropped (the socket's permission is checked then, not at
 * each send). A value that is not an absolute path or an '@' name, or a
 * socket that cannot be reached, is logged and ignored. */
void notify_open(struct notify *n);
void notify_close(struct notify *n);

/* Sends one notification: the formatted lines, "\n"-separated. Returns 0,
 * or -1 (not under a service manager, or the send failed). */
int notify_send(struct notify *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The "MONOTONIC_USEC=..." value systemd wants with RELOADING=1. */
unsigned long long notify_monotonic_usec(void);

#endif
