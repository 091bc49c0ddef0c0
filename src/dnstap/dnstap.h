/*
 * dnstap.h -- the dnstap writer (doc/dnstap.md): a Frame Streams I/O
 * thread (libfstrm's fstrm_iothr) writing to a reader's unix socket or to
 * a file, fed by one bounded queue per DNS worker.
 *
 * A worker logs a message with dnstap_log: the Dnstap protobuf is packed
 * (protobuf-c) straight into the worker's own ring of bytes and handed to
 * its fstrm queue, which never blocks: when the queue or the ring is
 * full (a reader that is slow or stopped), the message is dropped and
 * counted, and the query is answered as always; while no reader is
 * connected, messages are counted and not even packed. The I/O thread
 * hands each frame back once written; the ring's space is reused in that
 * order. A reader that takes nothing for 2 seconds is disconnected and
 * connected again (dnstap_sink.c). No lock, no allocation and no system
 * call on the worker's path (fstrm wakes its thread with a condition
 * signal every queue_notify_threshold frames).
 *
 * Threads: dnstap_open and dnstap_close on the main thread (close after
 * every worker stopped); dnstap_log on the worker owning the queue;
 * dnstap_stats and dnstap_status_json on any thread.
 *
 * Ownership: struct dnstap owns the I/O thread, the queues and the rings;
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
/* Writes what is queued (as far as the reader takes it), stops the
 * thread and frees everything. NULL is a no-op. */
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
    uint64_t queued;    /* frames handed to the I/O thread */
    uint64_t dropped;   /* frames not logged: a full queue or ring (a slow or stopped reader) */
    uint64_t no_reader; /* frames not logged: no reader connected (or the file not open) */
    unsigned queues;
    bool connected; /* a reader is connected (the file is open) now */
};
/* Sums every queue's counters (zeros for NULL). */
void dnstap_stats(const struct dnstap *dt, struct dnstap_stats *out);
/* {"sink": "unix:PATH"|"file:PATH", "connected": B, "queues": N,
 * "queued": N, "dropped": N, "no_reader": N}, or JSON null for NULL. The
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
