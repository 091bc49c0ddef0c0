/*
 * anycast_bird.c -- BIRD 2's control socket (anycast_bird.h).
 */
#include "anycast/anycast_bird.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define ANYCAST_BIRD_BUF 4096

struct anycast_bird {
    struct event_base *base;
    char *path; /* owned */
    struct timeval timeout;
    anycast_bird_done_fn done;
    void *arg;
    int fd; /* -1: idle */
    struct event *ev;
    bool banner; /* the banner came: the command was sent */
    char cmd[256];
    char buf[ANYCAST_BIRD_BUF];
    size_t n;
};

static bool anycast_bird_code(const char *l, size_t n)
{
    return n >= 5 && l[0] >= '0' && l[0] <= '9' && l[1] >= '0' && l[1] <= '9' && l[2] >= '0' &&
           l[2] <= '9' && l[3] >= '0' && l[3] <= '9' && (l[4] == ' ' || l[4] == '-');
}

int anycast_bird_parse(const char *buf, size_t n, bool *ok, char *first, size_t len)
{
    size_t at = 0;
    *ok = true;
    if (len)
        first[0] = '\0';
    while (at < n) {
        const char *l = buf + at, *nl = memchr(l, '\n', n - at);
        if (!nl)
            return 0;
        size_t ln = (size_t)(nl - l);
        at += ln + 1;
        if (ln > 0 && l[0] == ' ')
            continue; /* continues the line before */
        if (!anycast_bird_code(l, ln))
            return -1;
        if (l[0] == '8' || l[0] == '9')
            *ok = false;
        if (len && !first[0] && (ln > 5 || l[4] == ' '))
            snprintf(first, len, "%.*s", (int)(ln - 5), l + 5);
        if (l[4] == ' ')
            return 1;
    }
    return 0;
}

static void anycast_bird_finish(struct anycast_bird *b, bool ok, const char *text)
{
    event_free(b->ev);
    close(b->fd);
    b->ev = NULL;
    b->fd = -1;
    b->done(b->arg, ok, text);
}

static void anycast_bird_on_read(evutil_socket_t fd, short what, void *arg)
{
    struct anycast_bird *b = arg;
    char err[300];
    if (what & EV_TIMEOUT) {
        snprintf(err, sizeof(err), "no reply from %s within the timeout", b->path);
        anycast_bird_finish(b, false, err);
        return;
    }
    ssize_t r = recv(fd, b->buf + b->n, sizeof(b->buf) - 1 - b->n, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        snprintf(err, sizeof(err), "%s closed the connection%s%s", b->path, r ? ": " : "",
                 r ? strerror(errno) : "");
        anycast_bird_finish(b, false, err);
        return;
    }
    b->n += (size_t)r;
    bool ok;
    char first[200];
    int rc = anycast_bird_parse(b->buf, b->n, &ok, first, sizeof(first));
    if (rc == 0 && b->n + 1 < sizeof(b->buf))
        return;
    if (rc <= 0) {
        snprintf(err, sizeof(err), "%s does not speak BIRD's control protocol", b->path);
        anycast_bird_finish(b, false, err);
    } else if (!b->banner) {
        /* The banner: now the command (a short write on a fresh unix socket
         * does not happen; a failed one ends the command). */
        b->banner = true;
        b->n = 0;
        size_t len = strlen(b->cmd);
        if (send(fd, b->cmd, len, MSG_NOSIGNAL) != (ssize_t)len) {
            snprintf(err, sizeof(err), "%s: %s", b->path, strerror(errno));
            anycast_bird_finish(b, false, err);
        }
    } else {
        anycast_bird_finish(b, ok, first);
    }
}

bool anycast_bird_send(struct anycast_bird *b, const char *cmd)
{
    if (b->fd >= 0)
        return false;
    snprintf(b->cmd, sizeof(b->cmd), "%s\n", cmd);
    b->banner = false;
    b->n = 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", b->path);
    b->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    /* A unix socket connects at once or not at all (EAGAIN: its backlog
     * is full, which is a failure like any other here). */
    if (b->fd < 0 || connect(b->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        char err[300];
        snprintf(err, sizeof(err), "cannot connect to %s: %s", b->path, strerror(errno));
        if (b->fd >= 0)
            close(b->fd);
        b->fd = -1;
        b->done(b->arg, false, err);
        return true;
    }
    b->ev = event_new(b->base, b->fd, EV_READ | EV_PERSIST, anycast_bird_on_read, b);
    if (!b->ev)
        abort();
    event_add(b->ev, &b->timeout);
    return true;
}

bool anycast_bird_busy(const struct anycast_bird *b)
{
    return b->fd >= 0;
}

struct anycast_bird *anycast_bird_new(struct event_base *base, const char *path, double timeout_s,
                                      anycast_bird_done_fn done, void *arg)
{
    struct anycast_bird *b = calloc(1, sizeof(*b));
    if (!b || !(b->path = strdup(path))) {
        free(b);
        return NULL;
    }
    b->base = base;
    b->done = done;
    b->arg = arg;
    b->fd = -1;
    b->timeout.tv_sec = (time_t)timeout_s;
    b->timeout.tv_usec = (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6);
    return b;
}

void anycast_bird_free(struct anycast_bird *b)
{
    if (!b)
        return;
    if (b->fd >= 0) {
        event_free(b->ev);
        close(b->fd);
    }
    free(b->path);
    free(b);
}
