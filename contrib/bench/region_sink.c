/*
 * region_sink.c -- many loopback backends in one process for
 * fleet_scale.py: REGIONS x PER TCP listeners that accept every connection
 * and close it at once (a tcp check passes), whole regions killed and
 * revived on command.
 *
 *   cc -O2 -o region_sink region_sink.c
 *   region_sink PORT REGIONS PER
 *
 * Endpoint i (0 <= i < PER) of region r listens on 127.(10+r).(i/250).(1+i%250)
 * at PORT: one socket per address, one thread, epoll. Reads commands on
 * stdin, one a line, and answers each with one line on stdout:
 *   "down R"  closes region R's listeners (a probe's connect is refused)
 *   "up R"    listens again
 *   "down R I", "up R I": the same for endpoint I of region R alone
 *   "stats"   "accepts=A errors=E"
 * Prints "ready" once every socket listens. Ends at EOF on stdin (so it
 * stops with the script that started it). Needs PER x REGIONS descriptors
 * (raise the soft limit first: ulimit -n).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define SINK_REGIONS_MAX 16

struct sink {
    int ep;
    unsigned port, regions, per;
    int *fd; /* regions x per, -1 when down */
    unsigned long accepts, errors;
};

static int sink_listen(const struct sink *s, unsigned r, unsigned i)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    a.sin_addr.s_addr = htonl((127u << 24) | ((10u + r) << 16) | ((i / 250) << 8) | (1 + i % 250));
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 4096) != 0) {
        close(fd);
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
    return fd;
}

/* Endpoints [from, to) of region r up (listen) or down (close): the
 * number of sockets changed. */
static unsigned sink_range(struct sink *s, unsigned r, unsigned from, unsigned to, int up)
{
    unsigned n = 0;
    for (unsigned i = from; r < s->regions && i < s->per && i < to; i++) {
        int *fd = &s->fd[r * s->per + i];
        if (up && *fd < 0) {
            *fd = sink_listen(s, r, i);
            n += *fd >= 0;
        } else if (!up && *fd >= 0) {
            close(*fd); /* also leaves the epoll set */
            *fd = -1;
            n++;
        }
    }
    return n;
}

static unsigned sink_region(struct sink *s, unsigned r, int up)
{
    return sink_range(s, r, 0, s->per, up);
}

static void sink_command(struct sink *s, char *line)
{
    unsigned r, i;
    if (sscanf(line, "down %u %u", &r, &i) == 2)
        printf("down %u %u closed=%u\n", r, i, sink_range(s, r, i, i + 1, 0));
    else if (sscanf(line, "up %u %u", &r, &i) == 2)
        printf("up %u %u opened=%u\n", r, i, sink_range(s, r, i, i + 1, 1));
    else if (sscanf(line, "down %u", &r) == 1)
        printf("down %u closed=%u\n", r, sink_region(s, r, 0));
    else if (sscanf(line, "up %u", &r) == 1)
        printf("up %u opened=%u\n", r, sink_region(s, r, 1));
    else if (strncmp(line, "stats", 5) == 0)
        printf("accepts=%lu errors=%lu\n", s->accepts, s->errors);
    else
        printf("error unknown command\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct sink s = {0};
    if (argc != 4)
        return fprintf(stderr, "usage: region_sink PORT REGIONS PER\n"), 2;
    s.port = (unsigned)atoi(argv[1]);
    s.regions = (unsigned)atoi(argv[2]);
    s.per = (unsigned)atoi(argv[3]);
    if (!s.port || !s.regions || s.regions > SINK_REGIONS_MAX || !s.per || s.per > 62500)
        return fprintf(stderr, "region_sink: bad arguments\n"), 2;
    s.ep = epoll_create1(EPOLL_CLOEXEC);
    s.fd = malloc(sizeof(int) * s.regions * s.per);
    if (s.ep < 0 || !s.fd)
        return perror("region_sink"), 1;
    for (unsigned i = 0; i < s.regions * s.per; i++)
        s.fd[i] = -1;
    for (unsigned r = 0; r < s.regions; r++)
        if (sink_region(&s, r, 1) != s.per)
            return fprintf(stderr,
                           "region_sink: cannot listen on every address of region %u "
                           "(descriptors? ulimit -n)\n",
                           r),
                   1;
    struct epoll_event in = {.events = EPOLLIN, .data.fd = 0};
    epoll_ctl(s.ep, EPOLL_CTL_ADD, 0, &in);
    printf("ready\n");
    fflush(stdout);
    char buf[4096];
    size_t have = 0;
    for (;;) {
        struct epoll_event evs[256];
        int n = epoll_wait(s.ep, evs, 256, 1000);
        for (int k = 0; k < n; k++) {
            int fd = evs[k].data.fd;
            if (fd == 0) {
                ssize_t r = read(0, buf + have, sizeof(buf) - 1 - have);
                if (r <= 0)
                    return 0; /* the script that started it is gone */
                have += (size_t)r;
                buf[have] = '\0';
                char *nl;
                while ((nl = strchr(buf, '\n'))) {
                    *nl = '\0';
                    sink_command(&s, buf);
                    have -= (size_t)(nl + 1 - buf);
                    memmove(buf, nl + 1, have + 1);
                }
                if (have == sizeof(buf) - 1)
                    have = 0;
                continue;
            }
            for (int i = 0; i < 64; i++) {
                int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK);
                if (c < 0) {
                    if (errno != EAGAIN && errno != EWOULDBLOCK)
                        s.errors++;
                    break;
                }
                s.accepts++;
                close(c);
            }
        }
    }
}
