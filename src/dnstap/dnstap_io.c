/*
 * dnstap_io.c -- the writer thread (dnstap_int.h): takes the frames the
 * workers published in their rings, writes them through fstrm's writer,
 * and frees them, in order.
 *
 * It wakes every DNSTAP_FLUSH_S while a reader is connected (so that a
 * frame reaches the reader within about that: fstrm's own thread waited
 * for a whole second without a frame, then a second more with it), when a
 * worker's queue fills up (dnstap_log), when the stop comes, and when the
 * reader's socket becomes readable: a reader sends nothing between its
 * ACCEPT and our STOP, so that is the reader closing it, seen at once
 * rather than at the next write.
 */
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/deadline.h"
#include "dnstap/dnstap_int.h"

/* The connection's or the file's end: STOP (and the reader's FINISH) in
 * at most DNSTAP_WRITE_S (the stop's deadline, when sooner). */
static void dnstap_io_close(struct dnstap *dt)
{
    if (!dt->opened)
        return;
    dt->opened = false;
    atomic_store(&dt->connected, false);
    dnstap_sink_deadline(dt->sink, DNSTAP_WRITE_S);
    fstrm_writer_close(dt->writer);
    dnstap_sink_reset(dt->sink);
}

/* Connects and does the handshake in at most DNSTAP_HANDSHAKE_S (or opens
 * the file): the workers queue from then on. */
static void dnstap_io_open(struct dnstap *dt)
{
    dnstap_sink_deadline(dt->sink, DNSTAP_HANDSHAKE_S);
    dnstap_sink_handshake(dt->sink, true);
    fstrm_res r = fstrm_writer_open(dt->writer);
    dnstap_sink_handshake(dt->sink, false);
    if (r != fstrm_res_success) {
        dnstap_sink_reset(dt->sink);
        return;
    }
    dt->opened = true;
    atomic_store(&dt->connected, true);
}

/* Writes n frames; a failure closes the connection (the thread connects
 * again later) and counts them as lost, as it does while none is open:
 * frames queued before the reader went away, or the file failed. */
static void dnstap_io_write(struct dnstap *dt, const struct iovec *iov, int n)
{
    if (n == 0)
        return;
    if (dt->opened) {
        dnstap_sink_deadline(dt->sink, DNSTAP_WRITE_S);
        if (fstrm_writer_writev(dt->writer, iov, n) == fstrm_res_success)
            return;
        dnstap_io_close(dt);
    }
    atomic_fetch_add_explicit(&dt->lost, (uint64_t)n, memory_order_relaxed);
}

/* Every frame q's worker published: written in batches, each batch freed
 * once written (or lost). */
static void dnstap_io_queue(struct dnstap *dt, struct dnstap_queue *q)
{
    uint64_t pub = atomic_load_explicit(&q->pub, memory_order_acquire);
    uint64_t at = atomic_load_explicit(&q->tail, memory_order_relaxed); /* ours */
    while (at < pub) {
        struct iovec iov[DNSTAP_BATCH];
        int n = 0;
        while (at < pub && n < DNSTAP_BATCH) {
            size_t pos = (size_t)(at % q->cap);
            uint64_t len;
            memcpy(&len, q->ring + pos, sizeof(len));
            if (len == DNSTAP_WRAP) {
                at += q->cap - pos;
                continue;
            }
            iov[n].iov_base = q->ring + pos + DNSTAP_HDR;
            iov[n++].iov_len = (size_t)len;
            at += dnstap_align(len);
        }
        dnstap_io_write(dt, iov, n);
        uint64_t done = atomic_load_explicit(&q->done, memory_order_relaxed);
        atomic_store_explicit(&q->tail, at, memory_order_release);
        atomic_store_explicit(&q->done, done + (uint64_t)n, memory_order_release);
    }
}

/* Sleeps until the next flush (or the next try to open), a full queue,
 * the stop, or the reader's socket readable (closed: the connection is
 * closed at once, so that the workers stop queueing). */
static void dnstap_io_wait(struct dnstap *dt, double reopen_at)
{
    int fd = dt->opened ? dnstap_sink_fd(dt->sink) : -1;
    double left = dt->opened ? DNSTAP_FLUSH_S : reopen_at - deadline_mono();
    if (left < 0)
        left = 0;
    struct pollfd p[3] = {{.fd = dt->wake_fd, .events = POLLIN},
                          {.fd = dt->stop_fd, .events = POLLIN},
                          {.fd = fd, .events = POLLIN | POLLRDHUP}};
    if (poll(p, 3, (int)(left * 1000)) <= 0)
        return;
    uint64_t v;
    if ((p[0].revents & POLLIN) && read(dt->wake_fd, &v, sizeof(v)) < 0)
        return; /* cannot be: it polled readable, and only this thread reads it */
    if (fd >= 0 && p[2].revents && dnstap_sink_gone(dt->sink))
        dnstap_io_close(dt);
}

static void *dnstap_io_main(void *arg)
{
    struct dnstap *dt = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE); /* a reader gone: EPIPE, not the signal */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    double reopen_at = 0;
    for (;;) {
        /* The workers stopped before the stop: the round after it sees
         * every frame they queued. */
        bool stop = atomic_load(&dt->stopping);
        if (!dt->opened && !stop && deadline_mono() >= reopen_at) {
            dnstap_io_open(dt);
            reopen_at = deadline_mono() + DNSTAP_REOPEN_S;
        }
        for (unsigned i = 0; i < dt->n; i++)
            dnstap_io_queue(dt, &dt->queues[i]);
        if (stop)
            break;
        dnstap_io_wait(dt, reopen_at);
    }
    dnstap_io_close(dt);
    return NULL;
}

int dnstap_io_start(struct dnstap *dt)
{
    if (pthread_create(&dt->thread, NULL, dnstap_io_main, dt) != 0)
        return -1;
    pthread_setname_np(dt->thread, "gtmd-dnstap"); /* top -H, perf, gdb */
    return 0;
}
