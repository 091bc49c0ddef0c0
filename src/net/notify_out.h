/*
 * notify_out.h -- NOTIFY (RFC 1996) to the secondaries of zones whose
 * serial changed: sent from a thread of its own, each message retried with
 * a growing wait (1, 2, 4, 8, 8 s) until its target answers, then logged
 * (event=notify, one line per target).
 *
 * Ownership: notify_out_send takes the job and its zones (the thread frees
 * them); a zone's TSIG key is a copy, so a reload may free the keyring
 * that the job was made from.
 */
#ifndef GTM_NET_NOTIFY_OUT_H
#define GTM_NET_NOTIFY_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/tsig.h"

#define NOTIFY_OUT_TRIES 5

struct notify_zone {
    uint8_t origin[255];
    uint8_t origin_len;
    char origin_str[256];
    uint32_t serial;
    struct sockaddr_storage *targets; /* owned */
    socklen_t *target_lens;           /* owned */
    size_t n_targets;
    bool signed_;        /* key holds a copy of the zone's key */
    struct tsig_key key; /* its id is NULL: the copy owns nothing */
};

struct notify_job {
    struct notify_zone *zones; /* owned */
    size_t n;
    unsigned first_wait_ms; /* the wait before the first retry (1000) */
};

/* Sends the job's NOTIFY messages in the background and returns at once;
 * a job with no zone is freed here. */
void notify_out_send(struct notify_job *job);

/* The same, in the caller's thread: every target answered or ran out of
 * tries. Returns the number of targets that answered NOERROR. */
size_t notify_out_run(struct notify_job *job);

void notify_job_free(struct notify_job *job);

#endif
