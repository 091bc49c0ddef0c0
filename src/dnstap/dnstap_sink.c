/*
 * dnstap_sink.c -- where fstrm's I/O thread writes: a reader's unix
 * socket or a file, as an fstrm_rdwr of our own (dnstap_int.h).
 *
 * fstrm's own unix writer blocks in write for as long as a reader that
 * stopped reading keeps its socket open: gtmd could then not stop (the
 * I/O thread is joined at stop) and the reader would get the frames of
 * minutes ago. Here a write or a read that makes no progress for
 * DNSTAP_SINK_TIMEOUT seconds fails: fstrm closes the connection and
 * tries again (reopen_interval). The sink also tells the workers whether
 * a reader is there (connected), so that while none is, they count their
 * messages as lost without packing them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "dnstap/dnstap_int.h"

#define DNSTAP_SINK_TIMEOUT 2 /* seconds */

struct dnstap_sink {
    char *path; /* owned */
    bool socket;
    int fd;
    bool opened;             /* the file was opened once: later opens append */
    _Atomic bool *connected; /* the writer's flag (struct dnstap) */
};

static fstrm_res dnstap_sink_open_socket(struct dnstap_sink *k)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct timeval tv = {DNSTAP_SINK_TIMEOUT, 0};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", k->path);
    k->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (k->fd < 0)
        return fstrm_res_failure;
    if (setsockopt(k->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
        setsockopt(k->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        connect(k->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
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
    if (k->socket) {
        if (dnstap_sink_open_socket(k) != fstrm_res_success)
            return fstrm_res_failure;
    } else {
        /* Truncated at start, as fstrm's file writer does; after a write
         * error (a full disk) fstrm opens it again: what it holds stays. */
        int how = k->opened ? O_APPEND : O_TRUNC;
        if ((k->fd = open(k->path, O_WRONLY | O_CREAT | O_CLOEXEC | how, 0640)) < 0)
            return fstrm_res_failure;
        k->opened = true;
    }
    atomic_store(k->connected, true);
    return fstrm_res_success;
}

static fstrm_res dnstap_sink_close(void *obj)
{
    struct dnstap_sink *k = obj;
    atomic_store(k->connected, false);
    if (k->fd < 0)
        return fstrm_res_failure;
    close(k->fd);
    k->fd = -1;
    return fstrm_res_success;
}

/* The socket's handshake (READY, ACCEPT, START): exactly count octets. */
static fstrm_res dnstap_sink_read(void *obj, void *data, size_t count)
{
    struct dnstap_sink *k = obj;
    uint8_t *p = data;
    while (k->fd >= 0 && count > 0) {
        ssize_t r = read(k->fd, p, count);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return fstrm_res_failure; /* closed, an error, or the timeout */
        p += r;
        count -= (size_t)r;
    }
    return count == 0 ? fstrm_res_success : fstrm_res_failure;
}

/* Everything of iov, or a failure (fstrm then closes and reopens). The
 * I/O thread has SIGPIPE blocked (fstrm does it). */
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
        if (w <= 0)
            return fstrm_res_failure; /* a reader gone, or one that stopped reading */
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

struct fstrm_writer *dnstap_sink_writer(const struct dnstap_params *p, _Atomic bool *connected)
{
    struct dnstap_sink *k = calloc(1, sizeof(*k));
    if (!k)
        abort();
    k->socket = p->socket != NULL;
    k->path = strdup(k->socket ? p->socket : p->file);
    if (!k->path)
        abort();
    k->fd = -1;
    k->connected = connected;
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
    return w;
}
