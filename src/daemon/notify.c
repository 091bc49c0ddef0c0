/*
 * notify.c -- the systemd notification protocol, by hand.
 */
#include "daemon/notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

void notify_close(struct notify *n)
{
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
}

void notify_open(struct notify *n)
{
    memset(n, 0, sizeof(*n));
    n->fd = -1;
    const char *e = getenv("NOTIFY_SOCKET");
    if (!e || !*e)
        return;
    size_t len = strlen(e);
    if ((e[0] != '/' && e[0] != '@') || len < 2 || len >= sizeof(n->addr.sun_path)) {
        char q[160];
        log_warn("event=notify result=ignored socket=\"%s\" note=\"NOTIFY_SOCKET is not an "
                 "absolute path or an @name\"",
                 log_quote(e, q, sizeof(q)));
        return;
    }
    n->addr.sun_family = AF_UNIX;
    memcpy(n->addr.sun_path, e, len);
    if (e[0] == '@')
        n->addr.sun_path[0] = '\0'; /* abstract namespace: no trailing NUL */
    n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (e[0] == '/'));
    /* Connected now, while gtmd may still be root: the socket's permission
     * is checked here, not at each send after the privileges are gone. */
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (n->fd < 0 || connect(n->fd, (const struct sockaddr *)&n->addr, n->addr_len) != 0) {
        char q[160];
        log_warn("event=notify result=failed socket=\"%s\" error=\"%s\"",
                 log_quote(e, q, sizeof(q)), strerror(errno));
        notify_close(n);
    }
}

int notify_send(struct notify *n, const char *fmt, ...)
{
    if (n->fd < 0)
        return -1;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (len < 0)
        return -1;
    if ((size_t)len >= sizeof(buf))
        len = (int)sizeof(buf) - 1; /* a STATUS line cut short */
    ssize_t rc = send(n->fd, buf, (size_t)len, MSG_NOSIGNAL);
    return rc == len ? 0 : -1;
}

unsigned long long notify_monotonic_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}
