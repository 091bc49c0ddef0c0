/*
 * accept_backoff.h -- what to do when accept(2) fails for want of
 * descriptors or memory: pause instead of spinning.
 *
 * A listening socket stays readable while connections wait, so an event
 * loop that calls accept again at once after EMFILE spins at 100% CPU.
 * Both of gtmd's accept loops (the DNS TCP workers, net/tcp.c, and the
 * admin listeners, admin/admin_accept.c) take their listeners out of the
 * loop for ACCEPT_BACKOFF_MIN_MS, doubling up to ACCEPT_BACKOFF_MAX_MS
 * while the errors go on, and log once per burst.
 *
 * Ownership: none (pure functions).
 */
#ifndef GTM_COMMON_ACCEPT_BACKOFF_H
#define GTM_COMMON_ACCEPT_BACKOFF_H

#include <errno.h>
#include <stdbool.h>

#define ACCEPT_BACKOFF_MIN_MS 100u
#define ACCEPT_BACKOFF_MAX_MS 1000u

/* True for the errors that pause accepting: the process or the system is
 * out of descriptors (EMFILE, ENFILE) or memory (ENOBUFS, ENOMEM). */
static inline bool accept_backoff_error(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/* The pause after one more such error: MIN for the first of a burst
 * (current 0), then doubling up to MAX. */
static inline unsigned accept_backoff_next(unsigned current_ms)
{
    if (current_ms == 0)
        return ACCEPT_BACKOFF_MIN_MS;
    return current_ms >= ACCEPT_BACKOFF_MAX_MS / 2 ? ACCEPT_BACKOFF_MAX_MS : current_ms * 2;
}

#endif
