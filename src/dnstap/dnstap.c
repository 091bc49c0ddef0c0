/*
 * dnstap.c -- the dnstap writer: the workers' rings and their writer
 * thread (dnstap.h, dnstap_int.h, dnstap_io.c).
 *
 * Each worker packs its frames into a ring of bytes of its own, each
 * after a header holding its length, and publishes them (pub). The
 * writer thread writes them in the order they were published and frees
 * them from the ring's tail; a frame that does not fit before the ring's
 * end goes to its start, after a DNSTAP_WRAP header.
 */
#include "dnstap/dnstap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/deadline.h"
#include "dnstap/dnstap_int.h"

#define DNSTAP_RING_MIN (256u * 1024u) /* two 65535-octet messages and more */
#define DNSTAP_RING_PER_ENTRY 1024u

static void dnstap_free(struct dnstap *dt)
{
    if (dt->writer)
        fstrm_writer_destroy(&dt->writer);
    if (dt->wake_fd >= 0)
        close(dt->wake_fd);
    if (dt->stop_fd >= 0)
        close(dt->stop_fd);
    for (unsigned i = 0; dt->queues && i < dt->n; i++)
        free(dt->queues[i].ring);
    free(dt->queues);
    free(dt);
}

static void dnstap_queues(struct dnstap *dt, const struct dnstap_params *p, unsigned n)
{
    dt->n = n;
    dt->queues = aligned_alloc(64, sizeof(*dt->queues) * n);
    if (!dt->queues)
        abort();
    memset(dt->queues, 0, sizeof(*dt->queues) * n);
    size_t cap = (size_t)p->queue_size * DNSTAP_RING_PER_ENTRY;
    for (unsigned i = 0; i < n; i++) {
        struct dnstap_queue *q = &dt->queues[i];
        q->dt = dt;
        q->cap = cap > DNSTAP_RING_MIN ? cap : DNSTAP_RING_MIN;
        q->ring = malloc(q->cap);
        if (!q->ring)
            abort();
    }
}

struct dnstap *dnstap_open(const struct dnstap_params *p, unsigned n_queues, char *err,
                           size_t errlen)
{
    struct dnstap *dt = calloc(1, sizeof(*dt));
    if (!dt)
        abort();
    snprintf(dt->name, sizeof(dt->name), "%s:%s", p->socket ? "unix" : "file",
             p->socket ? p->socket : p->file);
    /* A worker wakes the thread (one write to an eventfd) when its queue
     * holds three quarters of queue_size: a wake-up carries hundreds of
     * frames and the last quarter absorbs the thread's wake-up; else the
     * thread comes every DNSTAP_FLUSH_S. */
    dt->limit = p->queue_size;
    dt->notify = p->queue_size - p->queue_size / 4;
    dt->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    dt->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    dnstap_queues(dt, p, n_queues);
    dt->writer = dnstap_sink_writer(p, dt, &dt->sink);
    if (!dt->writer || dt->wake_fd < 0 || dt->stop_fd < 0) {
        snprintf(err, errlen, "dnstap: fstrm refuses a writer for %s", dt->name);
        dnstap_free(dt);
        return NULL;
    }
    if (dnstap_io_start(dt) != 0) {
        snprintf(err, errlen, "dnstap: cannot start the writer thread for %s", dt->name);
        dnstap_free(dt);
        return NULL;
    }
    return dt;
}

void dnstap_close(struct dnstap *dt)
{
    if (!dt)
        return;
    atomic_store(&dt->stop_by, deadline_mono() + DNSTAP_STOP_S);
    atomic_store(&dt->stopping, true);
    uint64_t one = 1;
    if (write(dt->stop_fd, &one, sizeof(one)) < 0)
        abort();                    /* an eventfd far from its maximum: cannot fail */
    pthread_join(dt->thread, NULL); /* it gives up at stop_by */
    dnstap_free(dt);
}

struct dnstap_queue *dnstap_queue_get(struct dnstap *dt, unsigned i)
{
    return dt && i < dt->n ? &dt->queues[i] : NULL;
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
    struct dnstap *dt = q->dt;
    if (!atomic_load_explicit(&dt->connected, memory_order_relaxed)) {
        dnstap_count(&q->no_reader); /* it would be lost: do not pack it */
        return;
    }
    uint64_t waiting = q->frames - atomic_load_explicit(&q->done, memory_order_acquire);
    size_t bound = dnstap_encode_bound(v, e), skip = 0;
    uint8_t *at = waiting < dt->limit ? dnstap_ring_reserve(q, bound, &skip) : NULL;
    size_t len = at ? dnstap_encode(v, e, at + DNSTAP_HDR, bound) : 0;
    if (!len) {
        dnstap_count(&q->dropped); /* the queue or the ring is full */
        return;
    }
    uint64_t hdr = len, wrap = DNSTAP_WRAP;
    if (skip) /* the thread skips to the ring's start */
        memcpy(q->ring + q->head % q->cap, &wrap, sizeof(wrap));
    memcpy(at, &hdr, sizeof(hdr));
    q->head += skip + dnstap_align(len);
    q->frames++;
    atomic_store_explicit(&q->pub, q->head, memory_order_release);
    dnstap_count(&q->queued);
    uint64_t one = 1;
    if (waiting + 1 == dt->notify && write(dt->wake_fd, &one, sizeof(one)) < 0)
        return; /* the eventfd is full of wake-ups already: the thread comes */
}

void dnstap_stats(const struct dnstap *dt, struct dnstap_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!dt)
        return;
    out->queues = dt->n;
    out->connected = atomic_load(&dt->connected);
    out->lost = atomic_load_explicit(&dt->lost, memory_order_relaxed);
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
    return json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I}", "sink", dt->name, "connected",
                     st.connected, "queues", (json_int_t)st.queues, "queued", (json_int_t)st.queued,
                     "dropped", (json_int_t)st.dropped, "no_reader", (json_int_t)st.no_reader,
                     "lost", (json_int_t)st.lost);
}
