/*
 * dnstap.c -- the dnstap writer: fstrm's I/O thread and the workers'
 * queues and rings (dnstap.h).
 *
 * Each worker packs its frames into a ring of bytes of its own. fstrm
 * hands every frame back (dnstap_ring_release, on the I/O thread) once it
 * has written or discarded it, and it does so in the order the frames
 * were queued on that queue (its queues are FIFO, its output queue is
 * flushed in order): so the ring is freed from its tail, and the one
 * shared word between the worker and the I/O thread is the ring's tail.
 */
#include "dnstap/dnstap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnstap/dnstap_int.h"

#define DNSTAP_RING_MIN (256u * 1024u) /* two 65535-octet messages and more */
#define DNSTAP_RING_PER_ENTRY 1024u
#define DNSTAP_HDR 8 /* before each frame: where it ends, as a ring offset */

struct dnstap_queue {
    struct dnstap *dt;
    struct fstrm_iothr_queue *ioq;
    uint8_t *ring;
    size_t cap;
    uint64_t head;            /* the worker's: where the next frame goes */
    _Atomic uint64_t tail;    /* the I/O thread's: everything before is free */
    _Atomic uint64_t queued;  /* written by the worker only */
    _Atomic uint64_t dropped; /* written by the worker only */
    _Atomic uint64_t no_reader;
} __attribute__((aligned(64)));

struct dnstap {
    struct fstrm_iothr *iothr;
    struct dnstap_queue *queues;
    unsigned n;
    /* Whether the sink is open (a reader connected, the file open):
     * written by the I/O thread, read by the workers. */
    _Atomic bool connected;
    char sink[4200]; /* "unix:PATH" or "file:PATH" */
};

/* fstrm's free_func: the frame at data is written or discarded. */
static void dnstap_ring_release(void *data, void *arg)
{
    struct dnstap_queue *q = arg;
    /* An atomic read: the worker's write of it is ordered before by
     * fstrm's queue, which ThreadSanitizer does not see (the library is
     * not instrumented). */
    uint64_t end = atomic_load_explicit((_Atomic uint64_t *)((uint8_t *)data - DNSTAP_HDR),
                                        memory_order_relaxed);
    atomic_store_explicit(&q->tail, end, memory_order_release);
}

static struct fstrm_iothr *dnstap_iothr(const struct dnstap_params *p, unsigned n,
                                        struct fstrm_writer **w)
{
    struct fstrm_iothr_options *io = fstrm_iothr_options_init();
    fstrm_iothr_options_set_num_input_queues(io, n);
    fstrm_iothr_options_set_input_queue_size(io, p->queue_size);
    fstrm_iothr_options_set_queue_model(io, FSTRM_IOTHR_QUEUE_MODEL_SPSC);
    /* fstrm wakes its thread (a futex call on the worker, a context
     * switch on the thread) when a queue has exactly this many free
     * places left, else after a second idle: at three quarters full, so
     * that a wake-up carries hundreds of frames and the last quarter
     * absorbs the thread's wake-up. Below the queue's size, or it would
     * never be reached. */
    unsigned notify = p->queue_size / 4;
    fstrm_iothr_options_set_queue_notify_threshold(io, notify);
    /* fstrm writes at most 64 frames per system call; let them gather
     * (dnstap frames of a few hundred octets: 8 KiB, the default, flushes
     * at about 40). */
    fstrm_iothr_options_set_buffer_hint(io, 16384);
    /* A reader that comes later is found within a second. */
    fstrm_iothr_options_set_reopen_interval(io, 1);
    struct fstrm_iothr *t = fstrm_iothr_init(io, w);
    fstrm_iothr_options_destroy(&io);
    return t;
}

struct dnstap *dnstap_open(const struct dnstap_params *p, unsigned n_queues, char *err,
                           size_t errlen)
{
    struct dnstap *dt = calloc(1, sizeof(*dt));
    if (!dt)
        abort();
    struct fstrm_writer *w = dnstap_sink_writer(p, &dt->connected);
    if (!w) {
        snprintf(err, errlen, "dnstap: fstrm refuses a writer for %s",
                 p->socket ? p->socket : p->file);
        free(dt);
        return NULL;
    }
    snprintf(dt->sink, sizeof(dt->sink), "%s:%s", p->socket ? "unix" : "file",
             p->socket ? p->socket : p->file);
    dt->iothr = dnstap_iothr(p, n_queues, &w);
    if (!dt->iothr) {
        snprintf(err, errlen, "dnstap: cannot start the writer thread for %s", dt->sink);
        fstrm_writer_destroy(&w);
        free(dt);
        return NULL;
    }
    dt->n = n_queues;
    dt->queues = aligned_alloc(64, sizeof(*dt->queues) * n_queues);
    if (!dt->queues)
        abort();
    memset(dt->queues, 0, sizeof(*dt->queues) * n_queues);
    size_t cap = (size_t)p->queue_size * DNSTAP_RING_PER_ENTRY;
    for (unsigned i = 0; i < n_queues; i++) {
        struct dnstap_queue *q = &dt->queues[i];
        q->dt = dt;
        q->ioq = fstrm_iothr_get_input_queue_idx(dt->iothr, i);
        q->cap = cap > DNSTAP_RING_MIN ? cap : DNSTAP_RING_MIN;
        q->ring = malloc(q->cap);
        if (!q->ioq || !q->ring)
            abort();
    }
    return dt;
}

void dnstap_close(struct dnstap *dt)
{
    if (!dt)
        return;
    fstrm_iothr_destroy(&dt->iothr); /* releases every frame: the rings go after */
    for (unsigned i = 0; i < dt->n; i++)
        free(dt->queues[i].ring);
    free(dt->queues);
    free(dt);
}

struct dnstap_queue *dnstap_queue_get(struct dnstap *dt, unsigned i)
{
    return dt && i < dt->n ? &dt->queues[i] : NULL;
}

static size_t dnstap_align(size_t n)
{
    return (DNSTAP_HDR + n + 7) & ~(size_t)7;
}

/* Room for a frame of up to len octets (and its header) at the ring's
 * head: where the header goes, or NULL when the ring is full. Skips the
 * ring's end when the frame does not fit before it (*skip octets, freed
 * with the frame). */
static uint8_t *dnstap_ring_reserve(struct dnstap_queue *q, size_t len, size_t *skip)
{
    size_t need = dnstap_align(len), pos = (size_t)(q->head % q->cap);
    *skip = pos + need > q->cap ? q->cap - pos : 0;
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    if (need > q->cap || q->head + *skip + need - tail > q->cap)
        return NULL;
    return q->ring + (*skip ? 0 : pos);
}

static void dnstap_count(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

void dnstap_log(struct dnstap_queue *q, const struct dnstap_view *v, const struct dnstap_event *e)
{
    if (!atomic_load_explicit(&q->dt->connected, memory_order_relaxed)) {
        dnstap_count(&q->no_reader); /* fstrm would discard it: do not pack it */
        return;
    }
    size_t bound = dnstap_encode_bound(v, e), skip;
    uint8_t *at = dnstap_ring_reserve(q, bound, &skip);
    size_t len = at ? dnstap_encode(v, e, at + DNSTAP_HDR, bound) : 0;
    if (!len) {
        dnstap_count(&q->dropped);
        return;
    }
    /* The frame ends where its packed length does (the rest of the bound
     * stays free for the next one): the I/O thread frees up to there. */
    uint64_t end = q->head + skip + dnstap_align(len);
    atomic_store_explicit((_Atomic uint64_t *)(void *)at, end, memory_order_relaxed);
    if (fstrm_iothr_submit(q->dt->iothr, q->ioq, at + DNSTAP_HDR, len, dnstap_ring_release, q) !=
        fstrm_res_success) {
        dnstap_count(&q->dropped); /* the queue is full: the ring's head stays */
        return;
    }
    q->head = end;
    dnstap_count(&q->queued);
}

void dnstap_stats(const struct dnstap *dt, struct dnstap_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!dt)
        return;
    out->queues = dt->n;
    out->connected = atomic_load(&dt->connected);
    for (unsigned i = 0; i < dt->n; i++) {
        out->queued += atomic_load_explicit(&dt->queues[i].queued, memory_order_relaxed);
        out->dropped += atomic_load_explicit(&dt->queues[i].dropped, memory_order_relaxed);
        out->no_reader += atomic_load_explicit(&dt->queues[i].no_reader, memory_order_relaxed);
    }
}

json_t *dnstap_status_json(const struct dnstap *dt)
{
    if (!dt)
        return json_null();
    struct dnstap_stats st;
    dnstap_stats(dt, &st);
    return json_pack("{s:s, s:b, s:I, s:I, s:I, s:I}", "sink", dt->sink, "connected", st.connected,
                     "queues", (json_int_t)st.queues, "queued", (json_int_t)st.queued, "dropped",
                     (json_int_t)st.dropped, "no_reader", (json_int_t)st.no_reader);
}
