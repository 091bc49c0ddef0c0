/*
 * anycast_tun.h -- the TUN device whose life is gtmd's: created and
 * brought up at start, before privileges are dropped (TUNSETIFF and
 * SIOCSIFFLAGS need CAP_NET_ADMIN), not persistent, so that the kernel
 * removes it when gtmd's descriptor closes, whatever ends gtmd (kill -9
 * included). BIRD's static route "via \"gtmd0\"" follows the device: it is
 * withdrawn the moment the device goes, with no keepalive to miss.
 */
#ifndef GTM_ANYCAST_ANYCAST_TUN_H
#define GTM_ANYCAST_ANYCAST_TUN_H

#include <stdbool.h>
#include <stddef.h>

/* Creates TUN device name and brings it up: its descriptor (the caller
 * keeps it open for the process's life, close-on-exec), or -1 with why in
 * err (err names the device). */
int anycast_tun_open(const char *name, char *err, size_t errlen);

/* Gives up CAP_NET_ADMIN for good once the device is made (from the
 * effective, permitted, inheritable and ambient sets, and the bounding
 * set where allowed): a gtmd started by systemd with
 * AmbientCapabilities=CAP_NET_ADMIN keeps it no longer than the start.
 * Not while the AF_XDP listener may still need it (keep true). Returns
 * whether the process holds it no more. */
bool anycast_tun_drop_admin(void);

#endif
