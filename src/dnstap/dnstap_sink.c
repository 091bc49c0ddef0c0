/*
 * dnstap_sink.c -- where the writer thread writes: a reader's unix
 * socket or a file, as an fstrm_rdwr of our own (dnstap_int.h).
 *
 * fstrm's own unix writer blocks in write for as long as a reader that
 * stopped reading keeps its socket open, and in read for as long as a
 * reader takes to send its ACCEPT: gtmd could then not stop (the thread
 * is joined at stop) and the reader would get the frames of minutes ago.
 * Here the socket does not block: every read and write waits (poll) at
 * most until the deadline the thread set for the whole operation (the
 * handshake, one batch), and at most until the stop's deadline once the
 * stop came (at once during a handshake). A failure makes fstrm close the
 * connection; the thread tries again a second later.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/deadline.h"
#include "dnstap/dnstap_int.h"

struct dnstap_sink {
    char *path; /* owned */
    bool socket;
    int fd;
    bool opened;       /* the file was opened once: later opens append */
    bool handshake;    /* the stop fails the I/O at once */
    double deadline;   /* deadline_mono(): the current operation gives up */
    struct dnstap *dt; /* its writer: connected, the stop */
};

void dnstap_sink_deadline(struct dnstap_sink *k, double seconds)
{
    k->deadline = deadline_mono() + seconds;
}

void dnstap_sink_handshake(struct dnstap_sink *k, bool handshake)
{
    k->handshake = handshake;
}

int dnstap_sink_fd(const struct dnstap_sink *k)
{
    return k->socket ? k->fd : -1;
}

/* Until the socket is ready for events: false at the deadline (the
 * stop's, when sooner; at once when the stop comes during a handshake). */
static bool dnstap_sink_wait(struct dnstap_sink *k, short events)
{
    for (;;) {
        bool stop = atomic_load(&k->dt->stopping);
        if (stop && k->handshake)
            return false;
        double by = k->deadline;
        if (stop && atomic_load(&k->dt->stop_by) < by)
            by = atomic_load(&k->dt->stop_by);
        double left = by - deadline_mono();
        if (left <= 0)
            return false;
        /* The stop's eventfd stays readable: watched until it came. */
        struct pollfd p[2] = {{.fd = k->fd, .events = events},
                              {.fd = stop ? -1 : k->dt->stop_fd, .events = POLLIN}};
        int r = poll(p, 2, (int)(left * 1000) + 1);
        if (r < 0 && errno != EINTR)
            return false;
        if (r > 0 && p[0].revents)
            return true;
    }
}

static fstrm_res dnstap_sink_open_socket(struct dnstap_sink *k)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", k->path);
    k->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (k->fd < 0)
        return fstrm_res_failure;
    /* A unix socket connects at once, or fails (EAGAIN: a reader that
     * does not accept, its backlog full): it never blocks. */
    if (connect(k->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(k->fd);
        k->fd = -1;
        return fstrm_res_failure;
    }
    return fstrm_res_success;
}

static fstrm_res dnstap_sink_open(void *obj)
{
    struct dnstap_sink *k = obj;
    if (k->fd >= 0)
        return fstrm_res_success;
    if (k->socket)
        return dnstap_sink_open_socket(k);
    /* Truncated at start, as fstrm's file writer does; after a write
     * error (a full disk) it is opened again: what it holds stays. */
    int how = k->opened ? O_APPEND : O_TRUNC;
    if ((k->fd = open(k->path, O_WRONLY | O_CREAT | O_CLOEXEC | how, 0640)) < 0)
        return fstrm_res_failure;
    k->opened = true;
    return fstrm_res_success;
}

void dnstap_sink_reset(struct dnstap_sink *k)
{
    atomic_store(&k->dt->connected, false);
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
}

static fstrm_res dnstap_sink_close(void *obj)
{
    struct dnstap_sink *k = obj;
    bool was = k->fd >= 0;
    dnstap_sink_reset(k);
    return was ? fstrm_res_success : fstrm_res_failure;
}

bool dnstap_sink_gone(struct dnstap_sink *k)
{
    uint8_t buf[512];
    if (k->fd < 0)
        return true;
    ssize_t r = recv(k->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (r == 0)
        return true; /* the reader closed its end */
    return r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

/* The socket's handshake (ACCEPT) and FINISH: exactly count octets. */
static fstrm_res dnstap_sink_read(void *obj, void *data, size_t count)
{
    struct dnstap_sink *k = obj;
    uint8_t *p = data;
    while (k->fd >= 0 && count > 0) {
        ssize_t r = read(k->fd, p, count);
        if (r > 0) {
            p += r;
            count -= (size_t)r;
        } else if (r == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
            return fstrm_res_failure; /* closed, or an error */
        } else if (errno != EINTR && !dnstap_sink_wait(k, POLLIN)) {
            return fstrm_res_failure; /* the deadline */
        }
    }
    return count == 0 ? fstrm_res_success : fstrm_res_failure;
}

/* Everything of iov, or a failure (fstrm then closes). The thread has
 * SIGPIPE blocked (dnstap_io.c). */
static fstrm_res dnstap_sink_write(void *obj, const struct iovec *iov, int iovcnt)
{
    struct dnstap_sink *k = obj;
    struct iovec v[256]; /* fstrm writes at most 128 at once (FSTRM__WRITER_IOVEC_SIZE) */
    if (k->fd < 0 || iovcnt <= 0 || (size_t)iovcnt > sizeof(v) / sizeof(v[0]))
        return fstrm_res_failure;
    memcpy(v, iov, sizeof(*iov) * (size_t)iovcnt);
    struct iovec *cur = v;
    while (iovcnt > 0) {
        ssize_t w = writev(k->fd, cur, iovcnt);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!dnstap_sink_wait(k, POLLOUT))
                return fstrm_res_failure; /* a reader that stopped reading */
            continue;
        }
        if (w <= 0)
            return fstrm_res_failure; /* a reader gone, a full disk */
        while (iovcnt > 0 && (size_t)w >= cur->iov_len) {
            w -= (ssize_t)cur->iov_len;
            cur++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            cur->iov_base = (uint8_t *)cur->iov_base + w;
            cur->iov_len -= (size_t)w;
        }
    }
    return fstrm_res_success;
}

static fstrm_res dnstap_sink_destroy(void *obj)
{
    struct dnstap_sink *k = obj;
    if (k->fd >= 0)
        close(k->fd);
    free(k->path);
    free(k);
    return fstrm_res_success;
}

struct fstrm_writer *dnstap_sink_writer(const struct dnstap_params *p, struct dnstap *dt,
                                        struct dnstap_sink **sink)
{
    struct dnstap_sink *k = calloc(1, sizeof(*k));
    if (!k)
        abort();
    k->socket = p->socket != NULL;
    k->path = strdup(k->socket ? p->socket : p->file);
    if (!k->path)
        abort();
    k->fd = -1;
    k->dt = dt;
    struct fstrm_rdwr *rw = fstrm_rdwr_init(k);
    fstrm_rdwr_set_destroy(rw, dnstap_sink_destroy);
    fstrm_rdwr_set_open(rw, dnstap_sink_open);
    fstrm_rdwr_set_close(rw, dnstap_sink_close);
    fstrm_rdwr_set_write(rw, dnstap_sink_write);
    if (k->socket) /* a read function makes fstrm do the bidirectional handshake */
        fstrm_rdwr_set_read(rw, dnstap_sink_read);
    struct fstrm_writer_options *wo = fstrm_writer_options_init();
    fstrm_writer_options_add_content_type(wo, DNSTAP_CONTENT_TYPE, strlen(DNSTAP_CONTENT_TYPE));
    struct fstrm_writer *w = fstrm_writer_init(wo, &rw);
    fstrm_writer_options_destroy(&wo);
    if (!w && rw)
        fstrm_rdwr_destroy(&rw);
    *sink = w ? k : NULL;
    return w;
}
