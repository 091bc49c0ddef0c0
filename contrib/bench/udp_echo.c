/*
 * udp_echo.c -- the harness ceiling for contrib/bench.
 *
 * Sends every datagram back to its sender unchanged, reading and writing in
 * batches with recvmmsg/sendmmsg, single-threaded. It does no DNS work at
 * all, so the rate dnsperf reaches against it under a given CPU limit is the
 * most any DNS server can reach under that limit on this machine with this
 * client. (dnsperf matches replies by message ID only, so an echoed query
 * counts as a NOERROR answer.)
 *
 *   udp_echo PORT        UDP on 127.0.0.1:PORT
 *   udp_echo -t PORT     TCP on 127.0.0.1:PORT: echoes the byte stream of
 *                        every connection (epoll, non-blocking), which for
 *                        length-prefixed DNS messages is the same as echoing
 *                        each message
 *
 * ECHO_ADDR=a.b.c.d in the environment binds that IPv4 address instead of
 * 127.0.0.1 (xdp_bench.py, inside a network namespace). ECHO_REUSEPORT=1
 * sets SO_REUSEPORT, so that N processes share the port, one socket each
 * (cores_bench.py: the ceiling on N CPUs).
 *
 * Build: cc -O2 -o udp_echo udp_echo.c   (bench.py does it)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32
#define DGRAM_MAX 4096

static int bind_loopback(int type, int port)
{
    int fd = socket(AF_INET, type, 0);
    if (fd < 0) {
        perror("socket");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (getenv("ECHO_REUSEPORT"))
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const char *at = getenv("ECHO_ADDR");
    if (at && inet_pton(AF_INET, at, &a.sin_addr) != 1) {
        fprintf(stderr, "ECHO_ADDR: not an IPv4 address: %s\n", at);
        exit(2);
    }
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("bind");
        exit(1);
    }
    return fd;
}

static int serve_udp(int port)
{
    static unsigned char buf[BATCH][DGRAM_MAX];
    static struct sockaddr_storage addr[BATCH];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    int fd = bind_loopback(SOCK_DGRAM, port);

    for (;;) {
        memset(msgs, 0, sizeof(msgs));
        for (int i = 0; i < BATCH; i++) {
            iov[i].iov_base = buf[i];
            iov[i].iov_len = DGRAM_MAX;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &addr[i];
            msgs[i].msg_hdr.msg_namelen = sizeof(addr[i]);
        }
        /* Block for the first datagram, then take whatever else is queued. */
        int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("recvmmsg");
            return 1;
        }
        for (int i = 0; i < n; i++)
            iov[i].iov_len = msgs[i].msg_len;
        int sent = 0;
        while (sent < n) {
            int r = sendmmsg(fd, msgs + sent, (unsigned)(n - sent), 0);
            if (r > 0)
                sent += r;
            else if (r < 0 && errno == EINTR)
                continue;
            else
                sent++; /* drop this one, as the wire would */
        }
    }
}

struct conn {
    int fd;
    unsigned events; /* what epoll waits for now */
    size_t len, off; /* bytes pending in buf, of which off already sent */
    unsigned char buf[65536 + 2];
};

static void conn_want(int ep, struct conn *c, unsigned events)
{
    if (c->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
}

static void conn_close(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* Echoes what the connection has to read; returns -1 when it is done. */
static int conn_pump(int ep, struct conn *c)
{
    for (;;) {
        while (c->off < c->len) {
            ssize_t w = write(c->fd, c->buf + c->off, c->len - c->off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && errno == EAGAIN) {
                conn_want(ep, c, EPOLLOUT);
                return 0;
            }
            if (w <= 0)
                return -1;
            c->off += (size_t)w;
        }
        c->len = c->off = 0;
        ssize_t r = read(c->fd, c->buf, sizeof(c->buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN) {
            conn_want(ep, c, EPOLLIN);
            return 0;
        }
        if (r <= 0)
            return -1;
        c->len = (size_t)r;
        if ((size_t)r < sizeof(c->buf)) {
            /* A short read drained the socket: echo it and go back to epoll
             * without the read that would only say EAGAIN. */
            while (c->off < c->len) {
                ssize_t w = write(c->fd, c->buf + c->off, c->len - c->off);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w < 0 && errno == EAGAIN) {
                    conn_want(ep, c, EPOLLOUT);
                    return 0;
                }
                if (w <= 0)
                    return -1;
                c->off += (size_t)w;
            }
            c->len = c->off = 0;
            conn_want(ep, c, EPOLLIN);
            return 0;
        }
    }
}

static int serve_tcp(int port)
{
    int lfd = bind_loopback(SOCK_STREAM, port);
    if (listen(lfd, 1024) != 0) {
        perror("listen");
        return 1;
    }
    fcntl(lfd, F_SETFL, O_NONBLOCK);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    c = calloc(1, sizeof(*c));
                    if (!c) {
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    c->events = EPOLLIN;
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            if (conn_pump(ep, c) != 0)
                conn_close(ep, c);
        }
    }
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc == 3 && strcmp(argv[1], "-t") == 0)
        return serve_tcp(atoi(argv[2]));
    if (argc == 2)
        return serve_udp(atoi(argv[1]));
    fprintf(stderr, "usage: udp_echo PORT | udp_echo -t PORT\n");
    return 2;
}
