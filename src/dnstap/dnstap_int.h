/*
 * dnstap_int.h -- what the files of src/dnstap share (not for use
 * outside the module): the writer (struct dnstap), the workers' queues,
 * the writer thread (dnstap_io.c) and the sink it writes through
 * (dnstap_sink.c).
 *
 * A worker packs each frame into a ring of bytes of its own and publishes
 * it (pub); the writer thread takes the frames from the ring's tail up to
 * pub, writes them through fstrm's writer (framing, the Frame Streams
 * handshake) to the sink, and frees them (tail, done). The only words the
 * two threads share are pub, tail and done, each written by one side.
 *
 * Ownership: struct dnstap owns the thread, the queues, the rings, the
 * eventfds and the fstrm_writer, which owns the sink.
 */
#ifndef GTM_DNSTAP_DNSTAP_INT_H
#define GTM_DNSTAP_DNSTAP_INT_H

#include <fstrm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dnstap/dnstap_params.h"

#define DNSTAP_CONTENT_TYPE "protobuf:dnstap.Dnstap"

/* The bounds of the writer thread (doc/dnstap.md, "Off the answer path"),
 * in seconds. */
#define DNSTAP_FLUSH_S 0.1     /* a queued frame waits at most this long for the thread */
#define DNSTAP_HANDSHAKE_S 2.0 /* connect, READY, ACCEPT and START, all together */
#define DNSTAP_WRITE_S 2.0     /* one write of a batch (or of STOP and its FINISH) */
#define DNSTAP_STOP_S 1.0      /* the stop: what is queued, written, then STOP/FINISH */
#define DNSTAP_REOPEN_S 1.0    /* a reader, or the file, is tried again after this */
#define DNSTAP_BATCH 64        /* frames per write (fstrm's writev takes 64 at once) */

#define DNSTAP_HDR 8           /* before each frame in a ring: its length, or DNSTAP_WRAP */
#define DNSTAP_WRAP UINT64_MAX /* the frame is at the ring's start: skip to it */

/* The ring octets a frame of n octets takes: its header and itself,
 * rounded up to 8 (the worker reserves them, the writer thread frees
 * them). */
static inline size_t dnstap_align(uint64_t n)
{
    return (DNSTAP_HDR + (size_t)n + 7) & ~(size_t)7;
}

struct dnstap_queue {
    struct dnstap *dt;
    uint8_t *ring;
    size_t cap;
    uint64_t head;           /* the worker's: where the next frame goes */
    uint64_t frames;         /* the worker's: frames published */
    _Atomic uint64_t pub;    /* the worker's: every frame before it is whole */
    _Atomic uint64_t tail;   /* the thread's: everything before is free */
    _Atomic uint64_t done;   /* the thread's: frames taken and freed */
    _Atomic uint64_t queued; /* written by the worker only */
    _Atomic uint64_t dropped;
    _Atomic uint64_t no_reader;
} __attribute__((aligned(64)));

struct dnstap_sink;

struct dnstap {
    struct fstrm_writer *writer; /* owns sink */
    struct dnstap_sink *sink;
    struct dnstap_queue *queues;
    unsigned n;
    unsigned limit;  /* frames waiting in one queue at most (queue_size) */
    unsigned notify; /* a worker wakes the thread when this many wait */
    int wake_fd;     /* eventfd: a queue is filling up */
    int stop_fd;     /* eventfd: readable from the stop on (never read) */
    pthread_t thread;
    bool opened;            /* the thread's: the writer is open */
    _Atomic bool stopping;  /* set once, by dnstap_close */
    _Atomic double stop_by; /* deadline_mono() the stop gives up at */
    /* Whether the sink is open (a reader connected after its handshake,
     * the file open): written by the thread, read by the workers. */
    _Atomic bool connected;
    _Atomic uint64_t lost; /* the thread's: queued, never written */
    char name[4200];       /* "unix:PATH" or "file:PATH" */
};

/* A Frame Streams writer to p's socket (bidirectional, as dnstap readers
 * expect) or file, its sink in *sink; NULL when fstrm refuses. The sink's
 * reads and writes give up at the deadline dnstap_sink_deadline set, or
 * at dt's stop's, when sooner (during a handshake, at the stop). */
struct fstrm_writer *dnstap_sink_writer(const struct dnstap_params *p, struct dnstap *dt,
                                        struct dnstap_sink **sink);
/* The reads and writes from now on give up seconds from now. */
void dnstap_sink_deadline(struct dnstap_sink *k, double seconds);
/* While handshake is true, the stop fails the sink's reads and writes
 * at once (nothing was written yet that the stop should wait for). */
void dnstap_sink_handshake(struct dnstap_sink *k, bool handshake);
/* The reader's socket to watch while idle, or -1 (a file, or closed). */
int dnstap_sink_fd(const struct dnstap_sink *k);
/* After the socket polled readable: whether the reader closed it (or it
 * failed); anything it sent is read and ignored. */
bool dnstap_sink_gone(struct dnstap_sink *k);
/* Closes the socket or file, if open (fstrm's close does it too, but not
 * after a handshake that failed at the content type). */
void dnstap_sink_reset(struct dnstap_sink *k);

/* Starts dt's writer thread: 0, or -1 when it cannot. */
int dnstap_io_start(struct dnstap *dt);

#endif
