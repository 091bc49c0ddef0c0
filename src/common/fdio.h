/*
 * fdio.h -- whole writes and reads on blocking descriptors: the loop that
 * goes on after a short count or EINTR, once, for every file the daemon
 * writes or reads whole (the configuration's journal and history, the
 * state file, the configuration file itself).
 *
 * Not for non-blocking sockets (EAGAIN is an error here): those loops
 * wait on their event base (net/, anycast/, dnstap/).
 *
 * Ownership: buffers stay the caller's; descriptors are neither opened
 * nor closed here.
 */
#ifndef GTM_COMMON_FDIO_H
#define GTM_COMMON_FDIO_H

#include <stddef.h>

/* All len octets of buf written to fd; 0, or -1 with errno (EIO when a
 * write wrote nothing). */
int fdio_write_all(int fd, const void *buf, size_t len);

/* Up to len octets read from fd into buf, until len, the end of the file
 * or an error; returns how many were read. *err (when err is not NULL): 0
 * at len or the end of the file, else the failed read's errno. */
size_t fdio_read_full(int fd, void *buf, size_t len, int *err);

#endif
