/*
 * dnstap.h -- the dnstap writer (doc/dnstap.md): a writer thread of our
 * own writing Frame Streams (libfstrm's writer) to a reader's unix socket
 * or to a file, fed by one bounded ring per DNS worker.
 *
 * A worker logs a message with dnstap_log: the Dnstap protobuf is packed
 * (protobuf-c) straight into the worker's own ring of bytes and published
 * to the thread, which never blocks the worker: when the ring is full or
 * queue_size frames wait (a reader that is slow or stopped), the message
 * is dropped and counted, and the query is answered as always; while no
 * reader is connected, messages are counted and not even packed. The
 * thread writes what waits at least every 100 ms and frees it in order.
 * No lock, no allocation and no system call on the worker's path but one
 * eventfd write when its queue is three quarters full (dnstap_int.h).
 *
 * Bounds (dnstap_int.h): the reader's handshake 2 s in all, one write 2 s
 * (a reader that takes nothing is disconnected, and connected again a
 * second later), the stop 1 s; a reader that closes its socket is seen at
 * once (its socket polled).
 *
 * Threads: dnstap_open and dnstap_close on the main thread (close after
 * every worker stopped); dnstap_log on the worker owning the queue;
 * dnstap_stats and dnstap_status_json on any thread.
 *
 * Ownership: struct dnstap owns the thread, the queues and the rings;
 * dnstap_queue_get lends a queue until dnstap_close.
 */
#ifndef GTM_DNSTAP_DNSTAP_H
#define GTM_DNSTAP_DNSTAP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "dnstap/dnstap_params.h"
#include "dnstap/dnstap_view.h"

struct dnstap;
struct dnstap_queue;

/* Starts the I/O thread for p's socket or file with n_queues queues
 * (one per worker thread). NULL with a message in err when fstrm refuses
 * (the connection to the socket is tried by the thread, again every
 * second while there is no reader: no reader is not an error). */
struct dnstap *dnstap_open(const struct dnstap_params *p, unsigned n_queues, char *err,
                           size_t errlen);
/* Writes what is queued (as far as the reader takes it within 1 s, then
 * STOP and the reader's FINISH within that second too), stops the thread
 * and frees everything: never more than about a second. NULL is a no-op. */
void dnstap_close(struct dnstap *dt);

/* Queue i (< n_queues) for one worker, or NULL when dt is NULL. */
struct dnstap_queue *dnstap_queue_get(struct dnstap *dt, unsigned i);

/* One message to log. */
struct dnstap_event {
    bool response; /* AUTH_RESPONSE, else AUTH_QUERY */
    bool tcp;
    const struct sockaddr_storage *client; /* the query's source */
    const struct sockaddr_storage *local;  /* where it came to; NULL: unknown */
    const uint8_t *query;                  /* the query as received */
    size_t query_len;
    const uint8_t *reply; /* the response as sent (responses) */
    size_t reply_len;
    struct timespec qtime, rtime; /* CLOCK_REALTIME: received, answered */
};

/* Packs e (with v's identity and version) into q's ring and queues it; a
 * full queue or ring drops it, counted. On the worker owning q. */
void dnstap_log(struct dnstap_queue *q, const struct dnstap_view *v, const struct dnstap_event *e);

struct dnstap_stats {
    uint64_t queued;    /* frames handed to the writer thread */
    uint64_t dropped;   /* frames not logged: a full queue or ring (a slow or stopped reader) */
    uint64_t no_reader; /* frames not logged: no reader connected (or the file not open) */
    uint64_t lost;      /* frames queued, then not written: the reader went away (or the
                           file failed, or the stop's second ended) first */
    unsigned queues;
    bool connected; /* a reader is connected (the file is open) now */
};
/* Sums every queue's counters (zeros for NULL). */
void dnstap_stats(const struct dnstap *dt, struct dnstap_stats *out);
/* {"sink": "unix:PATH"|"file:PATH", "connected": B, "queues": N,
 * "queued": N, "dropped": N, "no_reader": N, "lost": N}, or JSON null for NULL. The
 * caller owns it. */
json_t *dnstap_status_json(const struct dnstap *dt);

/* The most octets dnstap_encode can write for e under v. */
size_t dnstap_encode_bound(const struct dnstap_view *v, const struct dnstap_event *e);
/* Encodes e as one Dnstap frame (type MESSAGE) into out[0, cap): its
 * length, or 0 when cap is below dnstap_encode_bound. Pure; the writer
 * and the tests use it. */
size_t dnstap_encode(const struct dnstap_view *v, const struct dnstap_event *e, uint8_t *out,
                     size_t cap);

#endif
